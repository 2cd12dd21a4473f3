/* The only place that turns probe outcomes into verdicts, mismatches and
 * "verified" (contract §1). Pure logic, no I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"

typedef enum outcome {
        OUTCOME_CONNECTED,
        OUTCOME_REFUSED,
        OUTCOME_TIMEOUT,
        OUTCOME_UNREACHABLE,
        OUTCOME_DNS_ERROR,
        OUTCOME_BAD_RESPONSE,
        OUTCOME_LOCAL_ERROR,
        _OUTCOME_MAX,
} outcome_t;

typedef enum verdict {
        VERDICT_ALLOWED,
        VERDICT_DENIED,
        VERDICT_INCONCLUSIVE,
        _VERDICT_MAX,
        VERDICT_UNKNOWN = -1, /* nothing observed yet */
} verdict_t;

typedef enum mismatch {
        MISMATCH_NONE,
        MISMATCH_UNEXPECTED_ALLOW,
        MISMATCH_UNEXPECTED_DENY,
        _MISMATCH_MAX,
} mismatch_t;

const char *outcome_name(outcome_t o);
const char *verdict_name(verdict_t v);       /* "unknown" for VERDICT_UNKNOWN */
const char *mismatch_name(mismatch_t m);     /* "none" for MISMATCH_NONE */

/* contract §1: connected/bad_response -> allowed; timeout/unreachable/refused ->
 * denied (refused -> allowed when the target says "refused_means": "allowed");
 * dns_error/local_error -> inconclusive. */
verdict_t verdict_from_outcome(outcome_t o, bool refused_means_allowed);

/* One verdict for a round over several addresses: one address that breaks the
 * expectation decides (allowed for a deny row, denied for an allow row); else
 * any inconclusive address makes the round inconclusive; else the agreeing
 * verdict. n == 0 is inconclusive. */
verdict_t verdict_combine(expect_t expect, const verdict_t *per_address, size_t n);

/* unexpected_allow for expect deny + allowed; unexpected_deny for expect allow
 * + denied; none otherwise (inconclusive is never a mismatch and never met). */
mismatch_t mismatch_of(expect_t expect, verdict_t v);
bool expectation_met(expect_t expect, verdict_t v);

/* `confirm` hysteresis: the confirmed verdict flips only after `confirm`
 * consecutive rounds agree on a new verdict. The first verdict ever observed
 * is taken at once (there is nothing to protect yet). */
typedef struct confirm_state {
        verdict_t confirmed; /* what the gauges show */
        verdict_t candidate; /* the differing verdict being counted */
        unsigned streak;     /* consecutive rounds that saw `candidate` */
} confirm_state_t;

void confirm_init(confirm_state_t *s);
/* Feeds one round's verdict; returns true when `confirmed` changed. */
bool confirm_feed(confirm_state_t *s, verdict_t observed, unsigned confirm);

/* Positive-control evidence inside one agent: the last time an allow row's
 * probe reached an address and port. A deny row is verified while every
 * address it probed has evidence no older than its window. */
typedef struct evidence evidence_t;

int evidence_new(evidence_t **ret);
void evidence_free(evidence_t *ev);
/* Records that `addr` (port included) was reached at `now_usec`. */
int evidence_record(evidence_t *ev, const struct sockaddr *addr, uint64_t now_usec);
/* True when `addr` was reached within [now_usec - window_usec, now_usec]. */
bool evidence_fresh(const evidence_t *ev, const struct sockaddr *addr, uint64_t now_usec, uint64_t window_usec);
size_t evidence_count(const evidence_t *ev);
/* Forgets entries older than `older_than_usec` (bounded memory). */
void evidence_expire(evidence_t *ev, uint64_t older_than_usec);
