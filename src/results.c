#include "results.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *const outcome_names[_OUTCOME_MAX] = {
        [OUTCOME_CONNECTED] = "connected",
        [OUTCOME_REFUSED] = "refused",
        [OUTCOME_TIMEOUT] = "timeout",
        [OUTCOME_UNREACHABLE] = "unreachable",
        [OUTCOME_DNS_ERROR] = "dns_error",
        [OUTCOME_BAD_RESPONSE] = "bad_response",
        [OUTCOME_LOCAL_ERROR] = "local_error",
};

static const char *const verdict_names[_VERDICT_MAX] = {
        [VERDICT_ALLOWED] = "allowed",
        [VERDICT_DENIED] = "denied",
        [VERDICT_INCONCLUSIVE] = "inconclusive",
};

static const char *const mismatch_names[_MISMATCH_MAX] = {
        [MISMATCH_NONE] = "none",
        [MISMATCH_UNEXPECTED_ALLOW] = "unexpected_allow",
        [MISMATCH_UNEXPECTED_DENY] = "unexpected_deny",
};

const char *outcome_name(outcome_t o) {
        return o >= 0 && o < _OUTCOME_MAX ? outcome_names[o] : "unknown";
}

const char *verdict_name(verdict_t v) {
        return v >= 0 && v < _VERDICT_MAX ? verdict_names[v] : "unknown";
}

const char *mismatch_name(mismatch_t m) {
        return m >= 0 && m < _MISMATCH_MAX ? mismatch_names[m] : "unknown";
}

verdict_t verdict_from_outcome(outcome_t o, bool refused_means_allowed) {
        switch (o) {
        case OUTCOME_CONNECTED:
        case OUTCOME_BAD_RESPONSE:
                return VERDICT_ALLOWED;
        case OUTCOME_REFUSED:
                return refused_means_allowed ? VERDICT_ALLOWED : VERDICT_DENIED;
        case OUTCOME_TIMEOUT:
        case OUTCOME_UNREACHABLE:
                return VERDICT_DENIED;
        case OUTCOME_DNS_ERROR:
        case OUTCOME_LOCAL_ERROR:
        default:
                return VERDICT_INCONCLUSIVE;
        }
}

verdict_t verdict_combine(expect_t expect, const verdict_t *per_address, size_t n) {
        verdict_t breaking = expect == EXPECT_DENY ? VERDICT_ALLOWED : VERDICT_DENIED;
        bool inconclusive = n == 0;
        for (size_t i = 0; i < n; i++) {
                if (per_address[i] == breaking)
                        return breaking;
                if (per_address[i] != VERDICT_ALLOWED && per_address[i] != VERDICT_DENIED)
                        inconclusive = true;
        }
        if (inconclusive)
                return VERDICT_INCONCLUSIVE;
        /* No address broke the expectation and all were decisive: they agree. */
        return expect == EXPECT_DENY ? VERDICT_DENIED : VERDICT_ALLOWED;
}

mismatch_t mismatch_of(expect_t expect, verdict_t v) {
        if (expect == EXPECT_DENY && v == VERDICT_ALLOWED)
                return MISMATCH_UNEXPECTED_ALLOW;
        if (expect == EXPECT_ALLOW && v == VERDICT_DENIED)
                return MISMATCH_UNEXPECTED_DENY;
        return MISMATCH_NONE;
}

bool expectation_met(expect_t expect, verdict_t v) {
        return (expect == EXPECT_ALLOW && v == VERDICT_ALLOWED) || (expect == EXPECT_DENY && v == VERDICT_DENIED);
}

void confirm_init(confirm_state_t *s) {
        *s = (confirm_state_t) { .confirmed = VERDICT_UNKNOWN, .candidate = VERDICT_UNKNOWN };
}

bool confirm_feed(confirm_state_t *s, verdict_t observed, unsigned confirm) {
        if (s->confirmed == VERDICT_UNKNOWN || confirm <= 1) {
                bool changed = s->confirmed != observed;
                s->confirmed = observed;
                s->candidate = VERDICT_UNKNOWN;
                s->streak = 0;
                return changed;
        }
        if (observed == s->confirmed) {
                s->candidate = VERDICT_UNKNOWN;
                s->streak = 0;
                return false;
        }
        if (observed == s->candidate)
                s->streak++;
        else {
                s->candidate = observed;
                s->streak = 1;
        }
        if (s->streak < confirm)
                return false;
        s->confirmed = observed;
        s->candidate = VERDICT_UNKNOWN;
        s->streak = 0;
        return true;
}

/* ---- evidence: open-addressing hash of (family, address, port) -> last seen ---- */

typedef struct evidence_entry {
        uint8_t key[19];   /* family byte, port (2), address (16); all zero = empty */
        bool used;
        uint64_t seen_usec;
} evidence_entry_t;

struct evidence {
        evidence_entry_t *slots;
        size_t n_slots;    /* power of two */
        size_t n_used;
};

static bool evidence_key(const struct sockaddr *sa, uint8_t key[19]) {
        memset(key, 0, 19);
        if (sa->sa_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) sa;
                key[0] = 4;
                memcpy(key + 1, &in->sin_port, 2);
                memcpy(key + 3, &in->sin_addr, 4);
                return true;
        }
        if (sa->sa_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;
                key[0] = 6;
                memcpy(key + 1, &in6->sin6_port, 2);
                memcpy(key + 3, &in6->sin6_addr, 16);
                return true;
        }
        return false;
}

int evidence_new(evidence_t **ret) {
        evidence_t *ev = calloc(1, sizeof *ev);
        if (!ev)
                return -ENOMEM;
        ev->n_slots = 64;
        ev->slots = calloc(ev->n_slots, sizeof *ev->slots);
        if (!ev->slots) {
                free(ev);
                return -ENOMEM;
        }
        *ret = ev;
        return 0;
}

void evidence_free(evidence_t *ev) {
        if (!ev)
                return;
        free(ev->slots);
        free(ev);
}

static evidence_entry_t *evidence_slot(const evidence_t *ev, const uint8_t key[19]) {
        size_t mask = ev->n_slots - 1;
        size_t i = (size_t) hash_fnv1a(key, 19, 0) & mask;
        for (;;) {
                evidence_entry_t *e = &ev->slots[i];
                if (!e->used || memcmp(e->key, key, 19) == 0)
                        return e;
                i = (i + 1) & mask;
        }
}

static int evidence_grow(evidence_t *ev) {
        evidence_t bigger = { .n_slots = ev->n_slots * 2 };
        bigger.slots = calloc(bigger.n_slots, sizeof *bigger.slots);
        if (!bigger.slots)
                return -ENOMEM;
        for (size_t i = 0; i < ev->n_slots; i++)
                if (ev->slots[i].used) {
                        *evidence_slot(&bigger, ev->slots[i].key) = ev->slots[i];
                        bigger.n_used++;
                }
        free(ev->slots);
        *ev = bigger;
        return 0;
}

int evidence_record(evidence_t *ev, const struct sockaddr *addr, uint64_t now_usec) {
        uint8_t key[19];
        if (!evidence_key(addr, key))
                return -EAFNOSUPPORT;
        if ((ev->n_used + 1) * 4 > ev->n_slots * 3) {
                int r = evidence_grow(ev);
                if (r < 0)
                        return r;
        }
        evidence_entry_t *e = evidence_slot(ev, key);
        if (!e->used) {
                memcpy(e->key, key, 19);
                e->used = true;
                ev->n_used++;
        }
        if (now_usec > e->seen_usec)
                e->seen_usec = now_usec;
        return 0;
}

bool evidence_fresh(const evidence_t *ev, const struct sockaddr *addr, uint64_t now_usec, uint64_t window_usec) {
        uint8_t key[19];
        if (!evidence_key(addr, key))
                return false;
        const evidence_entry_t *e = evidence_slot(ev, key);
        return e->used && e->seen_usec <= now_usec && now_usec - e->seen_usec <= window_usec;
}

size_t evidence_count(const evidence_t *ev) {
        return ev->n_used;
}

void evidence_expire(evidence_t *ev, uint64_t older_than_usec) {
        /* Rebuild without the stale entries (linear probing forbids plain deletes). */
        evidence_t fresh = { .n_slots = ev->n_slots };
        fresh.slots = calloc(fresh.n_slots, sizeof *fresh.slots);
        if (!fresh.slots)
                return; /* keep everything; retried on the next expiry */
        for (size_t i = 0; i < ev->n_slots; i++)
                if (ev->slots[i].used && ev->slots[i].seen_usec >= older_than_usec) {
                        *evidence_slot(&fresh, ev->slots[i].key) = ev->slots[i];
                        fresh.n_used++;
                }
        free(ev->slots);
        *ev = fresh;
}
