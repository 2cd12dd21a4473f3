#include "probe_dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockaddr.h"
#include "util.h"

static const char *const rcode_names[16] = {
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
        "NXRRSET", "NOTAUTH", "NOTZONE", "RCODE11", "RCODE12", "RCODE13", "RCODE14", "RCODE15",
};

static const struct {
        const char *name;
        uint16_t type;
} dns_types[] = {
        { "A", ns_t_a }, { "AAAA", ns_t_aaaa }, { "SRV", ns_t_srv }, { "CNAME", ns_t_cname }, { "TXT", ns_t_txt },
        { "PTR", ns_t_ptr }, { "MX", ns_t_mx }, { "NS", ns_t_ns }, { "SOA", ns_t_soa },
};

int dns_type_from_name(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(dns_types); i++)
                if (strcmp(dns_types[i].name, name) == 0)
                        return dns_types[i].type;
        return -EINVAL;
}

const char *dns_rcode_name(int rcode) {
        return rcode >= 0 && rcode < 16 ? rcode_names[rcode] : "RCODE?";
}

int dns_rcode_from_name(const char *name) {
        for (int i = 0; i < 16; i++)
                if (strcmp(rcode_names[i], name) == 0)
                        return i;
        return -EINVAL;
}

struct dns_probe {
        loop_t *loop;
        aresloop_t *channel;
        const dns_query_t *q;
        dns_probe_done_cb cb;
        void *userdata;
        loop_timer_t *timer;        /* the deadline, or "deliver now" once `done` */
        char *names[DNS_MAX_QUERIES]; /* the names to try, in order */
        size_t n_names;
        size_t next_name;
        uint64_t start_usec;        /* first query */
        uint64_t query_start_usec;  /* current query */
        bool in_flight;             /* c-ares holds a callback for us */
        bool done;                  /* result is final, waiting for delivery */
        bool cancelling;            /* ares_cancel() issued by us */
        dns_probe_result_t result;
};

int dns_server_channel_new(loop_t *loop, const struct sockaddr *server, uint64_t timeout_usec, aresloop_t **ret) {
        struct ares_options opts = {
                /* One server, one try, its answer whatever the rcode: what is measured is this server. */
                .flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES | ARES_FLAG_STAYOPEN,
                .timeout = (int) ((timeout_usec + 999) / 1000),
                .tries = 1,
        };
        aresloop_t *al;
        int r = aresloop_new(loop, &opts, ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES, &al);
        if (r < 0)
                return r;
        struct ares_addr_port_node node = { 0 };
        if (server->sa_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) server;
                node.family = AF_INET;
                node.addr.addr4 = in->sin_addr;
                node.udp_port = node.tcp_port = ntohs(in->sin_port);
        } else {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) server;
                node.family = AF_INET6;
                memcpy(&node.addr.addr6, &in6->sin6_addr, sizeof in6->sin6_addr);
                node.udp_port = node.tcp_port = ntohs(in6->sin6_port);
        }
        int status = ares_set_servers_ports(aresloop_channel(al), &node);
        if (status != ARES_SUCCESS) {
                aresloop_free(al);
                return aresloop_status_errno(status) ? aresloop_status_errno(status) : -EIO;
        }
        *ret = al;
        return 0;
}

/* The names a libc resolver would try for `q`, in order (resolv.conf(5)). */
static int build_names(dns_probe_t *p) {
        const dns_query_t *q = p->q;
        size_t len = strlen(q->name);
        bool absolute = len > 0 && q->name[len - 1] == '.';
        if (strcmp(q->name, ".") == 0) {
                p->names[p->n_names++] = strdup("");
                return p->names[0] ? 0 : -ENOMEM;
        }
        char *bare = strndup(q->name, absolute ? len - 1 : len);
        if (!bare)
                return -ENOMEM;
        if (!q->via_search || absolute) {
                p->names[p->n_names++] = bare;
                return 0;
        }
        unsigned dots = 0;
        for (const char *c = bare; *c; c++)
                dots += *c == '.';
        bool as_is_first = dots >= q->ndots;
        if (as_is_first)
                p->names[p->n_names++] = bare;
        for (size_t i = 0; i < q->n_search && p->n_names < DNS_MAX_QUERIES - (as_is_first ? 0 : 1); i++) {
                char *n = NULL;
                if (asprintf(&n, "%s.%s", bare, q->search[i]) < 0) {
                        if (!as_is_first)
                                free(bare);
                        return -ENOMEM;
                }
                p->names[p->n_names++] = n;
        }
        if (!as_is_first)
                p->names[p->n_names++] = bare;
        return 0;
}

static void probe_free(dns_probe_t *p) {
        for (size_t i = 0; i < p->n_names; i++)
                free(p->names[i]);
        loop_timer_free(p->timer);
        free(p);
}

void probe_dns_cancel(dns_probe_t *p) {
        if (!p)
                return;
        if (p->in_flight) {
                aresloop_t *channel = p->channel;
                p->cancelling = true;
                p->cb = NULL;
                /* The callback runs now with ARES_ECANCELLED and frees the probe:
                 * p must not be touched after ares_cancel(). */
                ares_cancel(aresloop_channel(channel));
                aresloop_update(channel);
                return;
        }
        probe_free(p);
}

/* Marks the result final and delivers it on the next loop iteration. */
static void finish(dns_probe_t *p, outcome_t outcome, int error) {
        uint64_t now = mono_usec();
        p->result.outcome = outcome;
        p->result.error = error;
        p->result.duration_usec = now > p->start_usec ? now - p->start_usec : 0;
        p->done = true;
        loop_timer_arm(p->timer, now);
}

static void record_response(dns_probe_t *p, const char *label) {
        if (p->result.n_queries >= DNS_MAX_QUERIES)
                return;
        uint64_t now = mono_usec();
        p->result.response_usec[p->result.n_queries] = now > p->query_start_usec ? now - p->query_start_usec : 0;
        p->result.responses[p->result.n_queries++] = label;
}

/* Whether the answer holds `want`. Sized from the header's answer count:
 * a headless Service can list hundreds of pods. */
static bool answer_has(const unsigned char *abuf, int alen, const struct sockaddr_storage *want) {
        int capacity = alen >= NS_HFIXEDSZ ? ((int) abuf[6] << 8 | abuf[7]) : 0;
        if (capacity <= 0)
                return false;
        bool found = false;
        if (want->ss_family == AF_INET) {
                struct ares_addrttl *addrs = calloc((size_t) capacity, sizeof *addrs);
                int n = capacity;
                const struct in_addr *w = &((const struct sockaddr_in *) want)->sin_addr;
                if (addrs && ares_parse_a_reply(abuf, alen, NULL, addrs, &n) == ARES_SUCCESS)
                        for (int i = 0; i < n && !found; i++)
                                found = memcmp(&addrs[i].ipaddr, w, sizeof *w) == 0;
                free(addrs);
        } else if (want->ss_family == AF_INET6) {
                struct ares_addr6ttl *addrs = calloc((size_t) capacity, sizeof *addrs);
                int n = capacity;
                const struct in6_addr *w = &((const struct sockaddr_in6 *) want)->sin6_addr;
                if (addrs && ares_parse_aaaa_reply(abuf, alen, NULL, addrs, &n) == ARES_SUCCESS)
                        for (int i = 0; i < n && !found; i++)
                                found = memcmp(&addrs[i].ip6addr, w, sizeof *w) == 0;
                free(addrs);
        }
        return found;
}

/* Judges the final answer against the expectations. */
static void judge(dns_probe_t *p, const unsigned char *abuf, int alen) {
        const dns_query_t *q = p->q;
        int rcode = p->result.rcode;
        if (rcode != q->expect_rcode) {
                snprintf(p->result.detail, sizeof p->result.detail, "rcode %s, expected %s", dns_rcode_name(rcode),
                         dns_rcode_name(q->expect_rcode));
                finish(p, OUTCOME_BAD_RESPONSE, 0);
                return;
        }
        for (size_t i = 0; i < q->n_expect; i++)
                if (!answer_has(abuf, alen, &q->expect[i])) {
                        const struct sockaddr_storage *w = &q->expect[i];
                        char addr[INET6_ADDRSTRLEN] = "?";
                        inet_ntop(w->ss_family,
                                  w->ss_family == AF_INET ? (const void *) &((const struct sockaddr_in *) w)->sin_addr
                                                          : (const void *) &((const struct sockaddr_in6 *) w)->sin6_addr,
                                  addr, sizeof addr);
                        snprintf(p->result.detail, sizeof p->result.detail, "answer lacks expected address %s", addr);
                        finish(p, OUTCOME_BAD_RESPONSE, 0);
                        return;
                }
        finish(p, OUTCOME_CONNECTED, 0);
}

static int send_next(dns_probe_t *p);

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen) {
        dns_probe_t *p = arg;
        p->in_flight = false;
        if (!p->cb) {
                /* Cancelled by the owner. */
                probe_free(p);
                return;
        }
        if (status == ARES_EDESTRUCTION) {
                finish(p, OUTCOME_LOCAL_ERROR, ECANCELED);
                return;
        }
        /* Cancelled by our own deadline, or c-ares' per-query timeout. */
        if (p->cancelling || status == ARES_ETIMEOUT || status == ARES_ECANCELLED) {
                record_response(p, "timeout");
                finish(p, OUTCOME_TIMEOUT, ETIMEDOUT);
                return;
        }
        if (status == ARES_ECONNREFUSED) {
                record_response(p, "connection_refused");
                finish(p, OUTCOME_REFUSED, ECONNREFUSED);
                return;
        }
        if (status != ARES_SUCCESS || !abuf || alen < NS_HFIXEDSZ) {
                record_response(p, "error");
                finish(p, OUTCOME_LOCAL_ERROR, -aresloop_status_errno(status));
                return;
        }
        int rcode = abuf[3] & 0x0f;
        unsigned answers = ((unsigned) abuf[6] << 8) | abuf[7];
        p->result.rcode = rcode;
        p->result.answer_rrs = answers;
        p->result.authority_rrs = ((unsigned) abuf[8] << 8) | abuf[9];
        p->result.additional_rrs = ((unsigned) abuf[10] << 8) | abuf[11];
        record_response(p, dns_rcode_name(rcode));
        /* The search walk goes on after NXDOMAIN or an empty answer, like libc. */
        bool next = p->next_name < p->n_names && (rcode == ns_r_nxdomain || (rcode == ns_r_noerror && answers == 0));
        if (next && send_next(p) == 0)
                return;
        judge(p, abuf, alen);
}

static int send_next(dns_probe_t *p) {
        unsigned char *qbuf = NULL;
        int qlen = 0;
        const char *name = p->names[p->next_name++];
        int status = ares_create_query(name, ns_c_in, p->q->type, 0, 1, &qbuf, &qlen, 0);
        if (status != ARES_SUCCESS)
                return aresloop_status_errno(status) ? aresloop_status_errno(status) : -EINVAL;
        p->query_start_usec = mono_usec();
        p->in_flight = true;
        ares_send(aresloop_channel(p->channel), qbuf, qlen, on_answer, p);
        ares_free_string(qbuf);
        aresloop_update(p->channel);
        return 0;
}

static void on_timer(loop_timer_t *t, void *userdata) {
        dns_probe_t *p = userdata;
        if (!p->done) {
                /* Deadline: cancel the query; on_answer turns that into a timeout. */
                p->cancelling = true;
                ares_cancel(aresloop_channel(p->channel));
                aresloop_update(p->channel);
                if (!p->done) /* no callback came (none in flight) */
                        finish(p, OUTCOME_TIMEOUT, ETIMEDOUT);
                return;
        }
        dns_probe_result_t result = p->result;
        dns_probe_done_cb cb = p->cb;
        void *ud = p->userdata;
        probe_free(p);
        if (cb)
                cb(&result, ud);
}

int probe_dns_start(loop_t *loop, aresloop_t *channel, const dns_query_t *q, uint64_t deadline_usec,
                    dns_probe_done_cb cb, void *userdata, dns_probe_t **ret) {
        dns_probe_t *p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        *p = (dns_probe_t) { .loop = loop, .channel = channel, .q = q, .cb = cb, .userdata = userdata };
        p->result.rcode = DNS_RCODE_NONE;
        int r = loop_timer_new(loop, on_timer, p, "dns-probe", &p->timer);
        if (r < 0) {
                free(p);
                return r;
        }
        r = build_names(p);
        if (r < 0) {
                probe_free(p);
                return r;
        }
        loop_timer_arm(p->timer, deadline_usec);
        *ret = p;
        p->start_usec = mono_usec();
        r = send_next(p);
        if (r < 0)
                finish(p, OUTCOME_LOCAL_ERROR, -r);
        return 0;
}
