#include "agent-internal.h"

#include <ares.h>
#include <curl/curl.h>
#include <errno.h>
#include <malloc.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <unistd.h>

#include "build-config.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "probe.h"
#include "probe_dns.h"
#include "probe_http.h"
#include "procmetrics.h"
#include "resolver.h"
#include "responder.h"
#include "results.h"
#include "sched.h"

/* DNS lookups: 100 µs to 5 s. */
static const double dns_buckets[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                      0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5 };
static const double lag_buckets[] = { 0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1 };

/* ---- metrics ---- */

static int register_families(agent_t *a, const config_t *cfg) {
        static const char *const l_probe[] = { "from", "to", "protocol", "outcome" };
        static const char *const l_row[] = { "from", "to", "protocol" };
        static const char *const l_verdict[] = { "from", "to", "protocol", "expect", "verdict" };
        static const char *const l_expect[] = { "from", "to", "protocol", "expect" };
        static const char *const l_mismatch[] = { "from", "to", "protocol", "mismatch" };
        static const char *const l_addresses[] = { "from", "to", "protocol", "verdict" };
        static const char *const l_build[] = { "version", "cares", "curl", "microhttpd" };
        metrics_t *m = a->metrics;
        metric_family_t *f;
        int r;
#define FAMILY(ret, name, help, type, labels, n_labels, buckets, n_buckets, sweep)                             \
        do {                                                                                                  \
                r = metrics_family_add(m, name, help, type, labels, n_labels, buckets, n_buckets, sweep, ret); \
                if (r < 0)                                                                                    \
                        return r;                                                                             \
        } while (0)
        FAMILY(&a->f_probes, "netcanary_probes_total", "Probes finished, by outcome.", METRIC_COUNTER, l_probe, ELEMENTSOF(l_probe),
               NULL, 0, true);
        FAMILY(&a->f_duration, "netcanary_probe_duration_seconds",
               "Time from the first packet to the answer (or the deadline), per probed address.",
               METRIC_HISTOGRAM, l_row, ELEMENTSOF(l_row), cfg->buckets, cfg->n_buckets, true);
        FAMILY(&a->f_verdict, "netcanary_verdict",
               "Confirmed verdict of the row as a state set: 1 for the current verdict.", METRIC_GAUGE, l_verdict, ELEMENTSOF(l_verdict),
               NULL, 0, true);
        FAMILY(&a->f_met, "netcanary_expectation_met",
               "1 when the confirmed verdict is what the row expects (inconclusive is never met).", METRIC_GAUGE,
               l_expect, ELEMENTSOF(l_expect), NULL, 0, true);
        FAMILY(&a->f_verified, "netcanary_expectation_verified",
               "1 when met and, for deny rows, an allow row of this agent reached the same address and port "
               "recently (local positive control).", METRIC_GAUGE, l_expect, ELEMENTSOF(l_expect), NULL, 0, true);
        FAMILY(&a->f_mismatches, "netcanary_mismatches_total",
               "Rounds whose verdict broke the expectation, confirmed or not.", METRIC_COUNTER, l_mismatch, ELEMENTSOF(l_mismatch), NULL,
               0, true);
        FAMILY(&a->f_last_probe, "netcanary_last_probe_timestamp_seconds",
               "Unix time the row's last round finished.", METRIC_GAUGE, l_row, ELEMENTSOF(l_row), NULL, 0, true);
        FAMILY(&a->f_addresses, "netcanary_target_addresses",
               "Addresses probed in the row's last round, by verdict.", METRIC_GAUGE, l_addresses, ELEMENTSOF(l_addresses), NULL, 0, true);

        static const char *const l_dns[] = { "server", "name", "type" };
        static const char *const l_dns_rcode[] = { "server", "name", "type", "rcode" };
        static const char *const l_name[] = { "name" };
        FAMILY(&a->f_dns_lookup, "netcanary_dns_lookup_duration_seconds",
               "Round trip of answered DNS queries, per server (timeouts are counted in "
               "netcanary_dns_responses_total only).", METRIC_HISTOGRAM, l_dns, ELEMENTSOF(l_dns), dns_buckets,
               ELEMENTSOF(dns_buckets), true);
        FAMILY(&a->f_dns_responses, "netcanary_dns_responses_total",
               "DNS queries by result: the rcode of the answer, or timeout / connection_refused / error.",
               METRIC_COUNTER, l_dns_rcode, ELEMENTSOF(l_dns_rcode), NULL, 0, true);
        FAMILY(&a->f_dns_search, "netcanary_dns_search_queries",
               "Queries the last search-list lookup of the name took (resolv.conf search and ndots).", METRIC_GAUGE,
               l_name, ELEMENTSOF(l_name), NULL, 0, true);

        static const char *const l_phase[] = { "from", "to", "phase" };
        FAMILY(&a->f_http_phase, "netcanary_http_phase_duration_seconds",
               "Phases of the row's last HTTP probe: resolve, connect, tls, processing (request sent to first "
               "byte), transfer.", METRIC_GAUGE, l_phase, ELEMENTSOF(l_phase), NULL, 0, true);

        if ((r = agent_k8s_register_families(a)) < 0)
                return r;

        FAMILY(&f, "netcanary_scheduler_lag_seconds", "How late probe rounds start against their slot.",
               METRIC_HISTOGRAM, NULL, 0, lag_buckets, ELEMENTSOF(lag_buckets), false);
        if ((r = metric_family_series(f, NULL, &a->m_lag)) < 0)
                return r;
        FAMILY(&f, "netcanary_probes_in_flight", "Probes (sockets or lookups) running now.", METRIC_GAUGE,
               NULL, 0, NULL, 0, false);
        if ((r = metric_family_series(f, NULL, &a->m_in_flight)) < 0)
                return r;
        FAMILY(&f, "netcanary_config_last_reload_successful", "1 when the last config (re)load succeeded.",
               METRIC_GAUGE, NULL, 0, NULL, 0, false);
        if ((r = metric_family_series(f, NULL, &a->m_reload_ok)) < 0)
                return r;
        FAMILY(&f, "netcanary_config_last_reload_success_timestamp_seconds",
               "Unix time of the last successful config (re)load.", METRIC_GAUGE, NULL, 0, NULL, 0, false);
        if ((r = metric_family_series(f, NULL, &a->m_reload_ts)) < 0)
                return r;
        FAMILY(&f, "netcanary_build_info", "Build and library versions; always 1.", METRIC_GAUGE, l_build, ELEMENTSOF(l_build), NULL,
               0, false);
        char mhd_version[32];
        snprintf(mhd_version, sizeof mhd_version, "%s", MHD_get_version());
        const char *build[] = { NETCANARY_VERSION, ares_version(NULL), curl_version_info(CURLVERSION_NOW)->version,
                                mhd_version };
        metric_t *info;
        if ((r = metric_family_series(f, build, &info)) < 0)
                return r;
        metric_set(info, 1);
#undef FAMILY
        return procmetrics_register(m);
}

/* The per-rcode counters a DNS server may have (rcode names and transport results). */
static const char *const dns_response_labels[] = { "NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED", "FORMERR", "NOTIMP",
                                                   "timeout", "connection_refused", "error" };

_Static_assert(ELEMENTSOF(dns_response_labels) == ELEMENTSOF(((dns_server_t *) 0)->m_responses),
               "one cached counter per response label");

/* The server's counter for `label`: cached for the usual labels, so a probe
 * does not build a label key per query; rare rcodes are looked up. */
static metric_t *dns_server_response_counter(agent_t *a, row_state_t *rs, dns_server_t *srv, const char *label) {
        size_t k = 0;
        while (k < ELEMENTSOF(dns_response_labels) && strcmp(dns_response_labels[k], label) != 0)
                k++;
        if (k < ELEMENTSOF(dns_response_labels) && srv->m_responses[k])
                return srv->m_responses[k];
        metric_t *c;
        const char *labels[] = { srv->label, rs->row->target->dns.name, rs->row->target->dns.type, label };
        if (metric_family_series(a->f_dns_responses, labels, &c) < 0)
                return NULL;
        if (k < ELEMENTSOF(dns_response_labels))
                srv->m_responses[k] = c;
        return c;
}

/* Creates (or finds, across reloads: counters continue) one DNS server's series. */
static int dns_server_bind_metrics(agent_t *a, row_state_t *rs, dns_server_t *srv) {
        const dns_spec_t *spec = &rs->row->target->dns;
        const char *labels[] = { srv->label, spec->name, spec->type };
        int r = metric_family_series(a->f_dns_lookup, labels, &srv->m_lookup);
        if (r < 0)
                return r;
        for (size_t k = 0; k < ELEMENTSOF(dns_response_labels); k++) {
                const char *rl[] = { srv->label, spec->name, spec->type, dns_response_labels[k] };
                if (metric_family_find(a->f_dns_responses, rl, &srv->m_responses[k]) < 0)
                        srv->m_responses[k] = NULL;
        }
        return 0;
}

/* Drops a server's series (a CoreDNS replica that went away: the `server`
 * label's cardinality follows the replica count). */
static void dns_server_drop_metrics(dns_server_t *srv) {
        metric_remove(srv->m_lookup);
        srv->m_lookup = NULL;
        for (size_t k = 0; k < ELEMENTSOF(dns_response_labels); k++) {
                metric_remove(srv->m_responses[k]);
                srv->m_responses[k] = NULL;
        }
}

/* Creates (or finds, across reloads) the series of one row. */
static int row_bind_metrics(agent_t *a, row_state_t *rs) {
        const row_t *row = rs->row;
        const char *proto = proto_name(row->target->proto);
        const char *expect = expect_name(row->expect);
        const char *base[] = { a->identity, row->to, proto };
        int r;
        for (outcome_t o = 0; o < _OUTCOME_MAX; o++) {
                /* Keep series that already exist (counter continuity); the rest
                 * are created when the outcome first occurs. */
                const char *labels[] = { a->identity, row->to, proto, outcome_name(o) };
                if (metric_family_find(a->f_probes, labels, &rs->m_probes[o]) < 0)
                        rs->m_probes[o] = NULL;
        }
        rs->m_duration = NULL;
        if (a->cfg->per_row_histograms && (r = metric_family_series(a->f_duration, base, &rs->m_duration)) < 0)
                return r;
        for (verdict_t v = 0; v < _VERDICT_MAX; v++) {
                const char *labels[] = { a->identity, row->to, proto, expect, verdict_name(v) };
                if ((r = metric_family_series(a->f_verdict, labels, &rs->m_verdict[v])) < 0)
                        return r;
                const char *alabels[] = { a->identity, row->to, proto, verdict_name(v) };
                if ((r = metric_family_series(a->f_addresses, alabels, &rs->m_addresses[v])) < 0)
                        return r;
        }
        const char *elabels[] = { a->identity, row->to, proto, expect };
        if ((r = metric_family_series(a->f_met, elabels, &rs->m_met)) < 0 ||
            (r = metric_family_series(a->f_verified, elabels, &rs->m_verified)) < 0 ||
            (r = metric_family_series(a->f_last_probe, base, &rs->m_last_probe)) < 0)
                return r;
        for (mismatch_t mm = MISMATCH_UNEXPECTED_ALLOW; mm < _MISMATCH_MAX; mm++) {
                const char *labels[] = { a->identity, row->to, proto, mismatch_name(mm) };
                if ((r = metric_family_series(a->f_mismatches, labels, &rs->m_mismatch[mm])) < 0)
                        return r;
        }
        for (size_t i = 0; i < rs->n_dns_servers; i++)
                if ((r = dns_server_bind_metrics(a, rs, &rs->dns_servers[i])) < 0)
                        return r;
        memset(rs->m_http_phase, 0, sizeof rs->m_http_phase);
        for (http_phase_t ph = 0; row->target->proto == PROTO_HTTP && ph < _HTTP_PHASE_MAX; ph++) {
                const char *labels[] = { a->identity, row->to, http_phase_name(ph) };
                if ((r = metric_family_series(a->f_http_phase, labels, &rs->m_http_phase[ph])) < 0)
                        return r;
        }
        rs->m_search_queries = NULL;
        if (row->target->proto == PROTO_DNS && row->target->dns.via_search) {
                const char *labels[] = { row->target->dns.name };
                if ((r = metric_family_series(a->f_dns_search, labels, &rs->m_search_queries)) < 0)
                        return r;
        }
        return 0;
}

/* Outcome counters are created when an outcome first occurs, so a row costs
 * series only for what it has seen. */
static metric_t *row_probe_counter(agent_t *a, row_state_t *rs, outcome_t o) {
        if (!rs->m_probes[o]) {
                const char *labels[] = { a->identity, rs->row->to, proto_name(rs->row->target->proto),
                                         outcome_name(o) };
                if (metric_family_series(a->f_probes, labels, &rs->m_probes[o]) < 0)
                        return NULL;
        }
        return rs->m_probes[o];
}

static void row_publish(agent_t *a, row_state_t *rs) {
        const row_t *row = rs->row;
        verdict_t v = rs->confirm.confirmed;
        for (verdict_t i = 0; i < _VERDICT_MAX; i++)
                metric_set(rs->m_verdict[i], v == i ? 1 : 0);
        metric_set(rs->m_met, expectation_met(row->expect, v) ? 1 : 0);
        metric_set(rs->m_verified, rs->verified ? 1 : 0);
}

/* ---- one round of one row ---- */

void row_round_abandon(row_state_t *rs) {
        agent_t *a = rs->agent;
        resolver_cancel(rs->resolve);
        rs->resolve = NULL;
        if (rs->resolve_timer)
                loop_timer_disarm(rs->resolve_timer);
        for (size_t i = 0; rs->slots && i < rs->n_round; i++) {
                if (rs->slots[i].probe) {
                        probe_cancel(rs->slots[i].probe);
                        rs->slots[i].probe = NULL;
                        a->probes_in_flight--;
                }
                if (rs->slots[i].dns_probe) {
                        probe_dns_cancel(rs->slots[i].dns_probe);
                        rs->slots[i].dns_probe = NULL;
                        a->probes_in_flight--;
                }
                if (rs->slots[i].http_probe) {
                        probe_http_cancel(rs->slots[i].http_probe);
                        rs->slots[i].http_probe = NULL;
                        a->probes_in_flight--;
                }
        }
        free(rs->round);
        free(rs->slots);
        rs->round = NULL;
        rs->slots = NULL;
        rs->n_round = rs->round_pending = 0;
}

static void log_verdict_change(agent_t *a, row_state_t *rs, verdict_t old) {
        const row_t *row = rs->row;
        verdict_t v = rs->confirm.confirmed;
        mismatch_t mm = mismatch_of(row->expect, v);
        /* The address that decided the verdict, with its own outcome. */
        char addr[80] = "";
        const char *outcome = "";
        for (size_t i = 0; i < rs->n_last; i++)
                if (rs->last[i].verdict == v || i + 1 == rs->n_last) {
                        if (rs->last[i].addr.ss_family)
                                sockaddr_format((struct sockaddr *) &rs->last[i].addr, addr, sizeof addr);
                        outcome = outcome_name(rs->last[i].outcome);
                        break;
                }
        log_event(mm == MISMATCH_UNEXPECTED_ALLOW ? LOG_ERROR : mm != MISMATCH_NONE ? LOG_WARN : LOG_INFO,
                  "verdict changed", "from", a->identity, "to", row->to, "protocol", proto_name(row->target->proto),
                  "expect", expect_name(row->expect), "verdict", verdict_name(v), "previous", verdict_name(old),
                  "mismatch", mismatch_name(mm), "outcome", outcome, "address", addr, NULL);
}

static void row_round_finish(row_state_t *rs) {
        if (rs->adhoc) {
                adhoc_finish(rs);
                return;
        }
        agent_t *a = rs->agent;
        const row_t *row = rs->row;
        uint64_t now = mono_usec(), now_wall = wall_usec();
        size_t count[_VERDICT_MAX] = { 0 };
        verdict_t verdicts[CONFIG_MAX_ADDRESSES];
        size_t n = rs->n_round;

        for (size_t i = 0; i < n; i++) {
                addr_result_t *res = &rs->round[i];
                res->verdict = verdict_from_outcome(res->outcome, row->target->refused_means_allowed);
                verdicts[i] = res->verdict;
                count[res->verdict]++;
                metric_t *c = row_probe_counter(a, rs, res->outcome);
                if (c)
                        metric_inc(c);
                if (rs->m_duration && res->outcome != OUTCOME_DNS_ERROR && res->outcome != OUTCOME_LOCAL_ERROR)
                        metric_observe(rs->m_duration, (double) res->duration_usec / 1e6);
                if (row->expect == EXPECT_ALLOW && res->verdict == VERDICT_ALLOWED && res->addr.ss_family)
                        (void) evidence_record(a->evidence, (struct sockaddr *) &res->addr, now);
        }
        rs->observed = verdict_combine(row->expect, verdicts, n);
        mismatch_t mm = mismatch_of(row->expect, rs->observed);
        if (mm != MISMATCH_NONE) {
                rs->mismatch_count[mm]++;
                metric_inc(rs->m_mismatch[mm]);
        }
        /* Keep this round as the last one. */
        free(rs->last);
        rs->last = rs->round;
        rs->n_last = n;
        rs->round = NULL;
        free(rs->slots);
        rs->slots = NULL;
        rs->n_round = 0;

        verdict_t old = rs->confirm.confirmed;
        if (confirm_feed(&rs->confirm, rs->observed, row->confirm)) {
                rs->last_change_wall = now_wall;
                if (old != VERDICT_UNKNOWN || mismatch_of(row->expect, rs->confirm.confirmed) != MISMATCH_NONE)
                        log_verdict_change(a, rs, old);
        }

        bool met = expectation_met(row->expect, rs->confirm.confirmed);
        rs->verified = met && rs->observed == rs->confirm.confirmed;
        if (rs->verified && row->expect == EXPECT_DENY) {
                uint64_t longest = row->interval_usec > a->max_allow_interval ? row->interval_usec
                                                                               : a->max_allow_interval;
                uint64_t window = EVIDENCE_WINDOW_INTERVALS * longest;
                for (size_t i = 0; i < rs->n_last && rs->verified; i++)
                        if (!rs->last[i].addr.ss_family ||
                            !evidence_fresh(a->evidence, (struct sockaddr *) &rs->last[i].addr, now, window))
                                rs->verified = false;
        }
        for (verdict_t v = 0; v < _VERDICT_MAX; v++)
                metric_set(rs->m_addresses[v], (double) count[v]);
        metric_set(rs->m_last_probe, (double) now_wall / 1e6);
        rs->last_probe_wall = now_wall;
        rs->rounds++;
        row_publish(a, rs);

        sched_job_done(rs->job);
        if (a->once && rs->rounds == 1 && a->once_remaining > 0 && --a->once_remaining == 0)
                loop_quit(a->loop);
}

/* Stores one address's result of the round; the slot's probe is over. */
static row_state_t *slot_record(probe_slot_t *slot, outcome_t outcome, uint64_t duration_usec, int error) {
        row_state_t *rs = slot->row;
        addr_result_t *res = &rs->round[slot->index];
        slot->probe = NULL;
        slot->dns_probe = NULL;
        slot->http_probe = NULL;
        rs->agent->probes_in_flight--;
        res->outcome = outcome;
        res->duration_usec = duration_usec;
        res->error = error;
        return rs;
}

/* One address fewer to wait for; the last one finishes the round. */
static void slot_done(row_state_t *rs) {
        if (--rs->round_pending == 0)
                row_round_finish(rs);
}

static void on_probe_done(const probe_result_t *result, void *userdata) {
        slot_done(slot_record(userdata, result->outcome, result->duration_usec, result->error));
}

static void on_http_probe_done(const http_probe_result_t *result, void *userdata) {
        row_state_t *rs = slot_record(userdata, result->outcome, result->duration_usec, result->error);
        agent_t *a = rs->agent;
        if (rs->adhoc) {
                rs->adhoc_state->http = *result;
                slot_done(rs);
                return;
        }
        for (http_phase_t ph = 0; ph < _HTTP_PHASE_MAX; ph++)
                if (rs->m_http_phase[ph])
                        metric_set(rs->m_http_phase[ph], (double) result->phase_usec[ph] / 1e6);
        /* Connection-level outcomes speak for themselves; answers that were not
         * as required (status, body, TLS) say why, once per change of reason. */
        const char *detail = result->outcome == OUTCOME_BAD_RESPONSE || result->outcome == OUTCOME_LOCAL_ERROR
                                     ? result->detail
                                     : "";
        if (*detail && (!rs->last_http_detail || strcmp(rs->last_http_detail, detail) != 0)) {
                char status[16];
                snprintf(status, sizeof status, "%ld", result->status);
                log_event(LOG_WARN, "http probe failed", "from", a->identity, "to", rs->row->to, "outcome",
                          outcome_name(result->outcome), "status", status, "reason", detail, NULL);
        }
        free(rs->last_http_detail);
        rs->last_http_detail = *detail ? strdup(detail) : NULL;
        slot_done(rs);
}

/* Finishes the round with one result that has no address (the name did not
 * resolve, or no memory to probe). */
static void row_round_single(row_state_t *rs, outcome_t outcome, int error) {
        rs->round = calloc(1, sizeof *rs->round);
        rs->n_round = rs->round ? 1 : 0;
        if (rs->round) {
                rs->round[0].outcome = outcome;
                rs->round[0].error = error;
        }
        row_round_finish(rs);
}

static void on_dns_probe_done(const dns_probe_result_t *result, void *userdata) {
        probe_slot_t *slot = userdata;
        dns_server_t *srv = &slot->row->dns_servers[slot->index];
        row_state_t *rs = slot_record(slot, result->outcome, result->duration_usec, result->error);
        agent_t *a = rs->agent;
        if (rs->adhoc) {
                /* The slowest server is what a blackbox-style scrape reports. */
                if (result->duration_usec >= rs->adhoc_state->dns.duration_usec)
                        rs->adhoc_state->dns = *result;
                slot_done(rs);
                return;
        }
        for (size_t i = 0; i < result->n_queries; i++) {
                metric_t *c = dns_server_response_counter(a, rs, srv, result->responses[i]);
                if (c)
                        metric_inc(c);
        }
        if (result->rcode != DNS_RCODE_NONE)
                metric_observe(srv->m_lookup, (double) result->duration_usec / 1e6);
        if (rs->m_search_queries)
                metric_set(rs->m_search_queries, (double) result->n_queries);
        if (result->outcome == OUTCOME_BAD_RESPONSE && log_enabled(LOG_DEBUG))
                log_event(LOG_DEBUG, "dns answer not as expected", "to", rs->row->to, "server", srv->label, "detail",
                          result->detail, NULL);
        slot_done(rs);
}

/* Starts one probe per address (for dns rows: per server, each through its
 * own channel); the round finishes when the last one answers. */
static void row_round_probe(row_state_t *rs, const struct sockaddr_storage *addrs, size_t n) {
        agent_t *a = rs->agent;
        rs->round = calloc(n, sizeof *rs->round);
        rs->slots = calloc(n, sizeof *rs->slots);
        if (!rs->round || !rs->slots) {
                free(rs->round);
                free(rs->slots);
                rs->round = NULL;
                rs->slots = NULL;
                row_round_single(rs, OUTCOME_LOCAL_ERROR, ENOMEM);
                return;
        }
        rs->n_round = n;
        rs->round_pending = n;
        for (size_t i = 0; i < n; i++) {
                rs->round[i].addr = addrs[i];
                rs->slots[i] = (probe_slot_t) { .row = rs, .index = i };
        }
        for (size_t i = 0; i < n; i++) {
                const struct sockaddr *sa = (const struct sockaddr *) &addrs[i];
                int r;
                switch (rs->row->target->proto) {
                case PROTO_UDP:
                        r = probe_udp_start(a->loop, sa, rs->round_deadline, on_probe_done, &rs->slots[i],
                                            &rs->slots[i].probe);
                        break;
                case PROTO_HTTP:
                        r = probe_http_start(a->http, rs->http_req, sa, rs->resolve_usec, rs->round_deadline,
                                             rs->adhoc ? HTTP_PROBE_TLS_INFO : 0,
                                             on_http_probe_done, &rs->slots[i], &rs->slots[i].http_probe);
                        break;
                case PROTO_DNS:
                        r = probe_dns_start(a->loop, rs->dns_servers[i].channel, &rs->dns_query, rs->round_deadline,
                                            on_dns_probe_done, &rs->slots[i], &rs->slots[i].dns_probe);
                        break;
                default:
                        r = probe_tcp_start(a->loop, sa, rs->round_deadline, on_probe_done, &rs->slots[i],
                                            &rs->slots[i].probe);
                }
                if (r < 0) {
                        rs->round[i].outcome = OUTCOME_LOCAL_ERROR;
                        rs->round[i].error = -r;
                        rs->round_pending--;
                        continue;
                }
                a->probes_in_flight++;
        }
        if (rs->round_pending == 0)
                row_round_finish(rs);
}

static void on_resolved(int status, const struct sockaddr_storage *addrs, size_t n, void *userdata) {
        row_state_t *rs = userdata;
        rs->resolve = NULL;
        rs->agent->probes_in_flight--;
        loop_timer_disarm(rs->resolve_timer);
        rs->resolve_usec = mono_usec() - rs->resolve_start;
        if (status < 0) {
                if (log_enabled(LOG_DEBUG))
                        log_event(LOG_DEBUG, "name did not resolve", "to", rs->row->to, "host",
                                  rs->row->target->net.host, "error", strerror(-status), NULL);
                row_round_single(rs, OUTCOME_DNS_ERROR, -status);
                return;
        }
        row_round_probe(rs, addrs, n);
}

static void on_resolve_deadline(loop_timer_t *t, void *userdata) {
        row_state_t *rs = userdata;
        resolver_cancel(rs->resolve);
        rs->resolve = NULL;
        rs->agent->probes_in_flight--;
        row_round_single(rs, OUTCOME_DNS_ERROR, ETIMEDOUT);
}

/* Starts one round: resolve if needed, then one probe per address. */
void row_round_start(row_state_t *rs) {
        agent_t *a = rs->agent;
        const row_t *row = rs->row;
        rs->round_deadline = mono_usec() + row->timeout_usec;
        if (rs->service_watch) {
                /* A Service's ready endpoints as of now: probe each (a dns row
                 * measures each as a server; servers that changed are applied
                 * here, between rounds). */
                struct sockaddr_storage eps[CONFIG_MAX_ADDRESSES];
                size_t n;
                int r = agent_k8s_endpoints(rs, eps, &n);
                if (r < 0 || n == 0) {
                        /* Not synced yet, or no ready endpoint: nothing resolved. */
                        row_round_single(rs, OUTCOME_DNS_ERROR, r < 0 ? -r : ENOENT);
                        return;
                }
                if (row->target->proto == PROTO_DNS) {
                        bool same = n == rs->n_dns_servers &&
                                    memcmp(eps, rs->dns_addrs, n * sizeof *eps) == 0;
                        if (!same && (r = row_set_dns_servers(rs, eps, n, !rs->adhoc)) < 0) {
                                row_round_single(rs, OUTCOME_LOCAL_ERROR, -r);
                                return;
                        }
                        row_round_probe(rs, rs->dns_addrs, rs->n_dns_servers);
                } else
                        row_round_probe(rs, eps, n);
                return;
        }
        if (row->target->proto == PROTO_DNS) {
                if (rs->n_dns_servers == 0) {
                        row_round_single(rs, OUTCOME_LOCAL_ERROR, ENOENT); /* resolv.conf lists no server */
                        return;
                }
                row_round_probe(rs, rs->dns_addrs, rs->n_dns_servers);
                return;
        }
        rs->resolve_usec = 0;
        if (rs->has_static_addr) {
                row_round_probe(rs, &rs->static_addr, 1);
                return;
        }
        if (!rs->resolve_timer &&
            loop_timer_new(a->loop, on_resolve_deadline, rs, "resolve-deadline", &rs->resolve_timer) < 0) {
                row_round_single(rs, OUTCOME_LOCAL_ERROR, ENOMEM);
                return;
        }
        bool http = row->target->proto == PROTO_HTTP;
        size_t max = !http && row->target->net.each_address ? CONFIG_MAX_ADDRESSES : 1;
        rs->resolve_start = mono_usec();
        int r = resolver_lookup(a->resolver, http ? http_request_host(rs->http_req) : row->target->net.host,
                                http ? http_request_port(rs->http_req) : row->target->net.port, max, on_resolved, rs,
                                &rs->resolve);
        if (r < 0) {
                row_round_single(rs, OUTCOME_LOCAL_ERROR, -r);
                return;
        }
        a->probes_in_flight++;
        loop_timer_arm(rs->resolve_timer, rs->round_deadline);
}

static void on_row_due(sched_job_t *job, uint64_t lag_usec, void *userdata) {
        row_state_t *rs = userdata;
        metric_observe(rs->agent->m_lag, (double) lag_usec / 1e6);
        row_round_start(rs);
}

/* ---- the plan ---- */

static void dns_servers_free(row_state_t *rs) {
        for (size_t i = 0; i < rs->n_dns_servers; i++)
                aresloop_free(rs->dns_servers[i].channel);
        free(rs->dns_servers);
        free(rs->dns_addrs);
        rs->dns_servers = NULL;
        rs->dns_addrs = NULL;
        rs->n_dns_servers = 0;
}

void row_state_free(row_state_t *rs) {
        if (!rs)
                return;
        row_round_abandon(rs);
        sched_cancel(rs->job);
        loop_timer_free(rs->resolve_timer);
        dns_servers_free(rs);
        free(rs->dns_expect);
        http_request_free(rs->http_req);
        free(rs->last_http_detail);
        free(rs->adhoc_state);
        free(rs->last);
        free(rs->key);
        free(rs);
}

static char *row_key(const row_t *row) {
        char *key = NULL;
        if (asprintf(&key, "%s|%s|%s", row->to, proto_name(row->target->proto), expect_name(row->expect)) < 0)
                return NULL;
        return key;
}

/* Servers, channels and the query of a dns row. */
/* Replaces the row's DNS servers (each with its own channel). With
 * `metrics`, series of servers that stay are kept, those of new servers made
 * and those of gone servers dropped (Service endpoints changing between
 * rounds); otherwise row_bind_metrics() binds them later. No round may be in
 * progress. On failure the row has no servers. */
int row_set_dns_servers(row_state_t *rs, const struct sockaddr_storage *addrs, size_t n, bool metrics) {
        agent_t *a = rs->agent;
        if (n > CONFIG_MAX_ADDRESSES)
                n = CONFIG_MAX_ADDRESSES;
        dns_server_t *servers = calloc(n ? n : 1, sizeof *servers);
        struct sockaddr_storage *copy = calloc(n ? n : 1, sizeof *copy);
        int r = servers && copy ? 0 : -ENOMEM;
        size_t made = 0;
        for (; r == 0 && made < n; made++) {
                dns_server_t *srv = &servers[made];
                srv->addr = copy[made] = addrs[made];
                sockaddr_format((struct sockaddr *) &srv->addr, srv->label, sizeof srv->label);
                r = dns_server_channel_new(a->loop, (struct sockaddr *) &srv->addr, rs->row->timeout_usec,
                                           &srv->channel);
                if (r == 0 && metrics)
                        r = dns_server_bind_metrics(a, rs, srv);
                if (r < 0)
                        break;
        }
        if (metrics)
                for (size_t i = 0; i < rs->n_dns_servers; i++) {
                        bool stays = false;
                        for (size_t j = 0; j < made && !stays; j++)
                                stays = strcmp(rs->dns_servers[i].label, servers[j].label) == 0;
                        if (!stays)
                                dns_server_drop_metrics(&rs->dns_servers[i]);
                }
        dns_servers_free(rs);
        if (r < 0) {
                for (size_t i = 0; i < made && servers; i++)
                        aresloop_free(servers[i].channel);
                free(servers);
                free(copy);
                return r;
        }
        rs->dns_servers = servers;
        rs->dns_addrs = copy;
        rs->n_dns_servers = n;
        return 0;
}

static int row_setup_dns(agent_t *a, row_state_t *rs) {
        const dns_spec_t *spec = &rs->row->target->dns;
        rs->service_watch = agent_k8s_service_watch(a, rs->row->target);
        rs->dns_expect = calloc(spec->n_expect_addresses ? spec->n_expect_addresses : 1, sizeof *rs->dns_expect);
        if (!rs->dns_expect)
                return -ENOMEM;
        /* "kubernetes" servers come from the Service's endpoints, round by round. */
        if (strcmp(spec->servers_mode, "list") == 0) {
                struct sockaddr_storage addrs[CONFIG_MAX_ADDRESSES];
                size_t n = spec->n_servers < CONFIG_MAX_ADDRESSES ? spec->n_servers : CONFIG_MAX_ADDRESSES;
                for (size_t i = 0; i < n; i++) {
                        socklen_t len;
                        if (sockaddr_parse_ip_port(spec->servers[i], 53, &addrs[i], &len) < 0)
                                return -EINVAL; /* validated by the config parser */
                }
                int r = row_set_dns_servers(rs, addrs, n, false);
                if (r < 0)
                        return r;
        } else if (strcmp(spec->servers_mode, "resolv.conf") == 0) {
                int r = row_set_dns_servers(rs, a->resolv.servers, a->resolv.n_servers, false);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < spec->n_expect_addresses; i++) {
                socklen_t len;
                if (sockaddr_from_literal(spec->expect_addresses[i], 0, &rs->dns_expect[i], &len) < 0)
                        return -EINVAL;
        }
        int type = dns_type_from_name(spec->type);
        int rcode = spec->expect_rcode ? dns_rcode_from_name(spec->expect_rcode) : 0;
        if (type < 0 || rcode < 0)
                return -EINVAL;
        rs->dns_query = (dns_query_t) {
                .name = spec->name,
                .type = (uint16_t) type,
                .expect_rcode = rcode,
                .expect = rs->dns_expect,
                .n_expect = spec->n_expect_addresses,
                .via_search = spec->via_search,
                .search = a->resolv.search,
                .n_search = a->resolv.n_search,
                .ndots = a->resolv.ndots,
        };
        return 0;
}

/* Builds row states for `cfg`, carrying results over from `old` rows with the
 * same key. Does not schedule. */
/* A row's state with what probing it needs prepared (servers, channels,
 * request, literal address); no metrics, not scheduled. */
int row_state_new(agent_t *a, const row_t *row, row_state_t **ret) {
        row_state_t *rs = calloc(1, sizeof *rs);
        if (!rs)
                return -ENOMEM;
        rs->agent = a;
        rs->row = row;
        rs->observed = VERDICT_UNKNOWN;
        confirm_init(&rs->confirm);
        rs->supported = probe_supported(row->target->proto);
        int r = -ENOMEM;
        if (!(rs->key = row_key(row)))
                goto fail;
        socklen_t len;
        switch (row->target->proto) {
        case PROTO_DNS:
                if ((r = row_setup_dns(a, rs)) < 0)
                        goto fail;
                break;
        case PROTO_HTTP:
                /* libcurl (and its TLS library) is set up only once an http row exists. */
                if (!a->http && (r = http_prober_new(a->loop, a->resolver, &a->http)) < 0)
                        goto fail;
                if ((r = http_request_new(&row->target->http, &rs->http_req)) < 0)
                        goto fail;
                rs->has_static_addr = sockaddr_from_literal(http_request_host(rs->http_req),
                                                            http_request_port(rs->http_req), &rs->static_addr,
                                                            &len) == 0;
                break;
        default:
                rs->service_watch = agent_k8s_service_watch(a, row->target);
                rs->has_static_addr = row->target->net.host &&
                                      sockaddr_from_literal(row->target->net.host, row->target->net.port,
                                                            &rs->static_addr, &len) == 0;
        }
        *ret = rs;
        return 0;
fail:
        row_state_free(rs);
        return r;
}

static int row_state_key_cmp(const void *a, const void *b) {
        return strcmp((*(row_state_t *const *) a)->key, (*(row_state_t *const *) b)->key);
}

/* Carries what was observed over from the row with the same key. */
static void row_state_carry(row_state_t *rs, const row_state_t *o) {
        rs->observed = o->observed;
        rs->confirm = o->confirm;
        rs->verified = o->verified;
        rs->rounds = o->rounds;
        memcpy(rs->mismatch_count, o->mismatch_count, sizeof rs->mismatch_count);
        rs->last_probe_wall = o->last_probe_wall;
        rs->last_change_wall = o->last_change_wall;
        if (o->n_last > 0 && (rs->last = malloc(o->n_last * sizeof *rs->last))) {
                memcpy(rs->last, o->last, o->n_last * sizeof *rs->last);
                rs->n_last = o->n_last;
        }
        /* DNS servers from a Service: keep them, so their series survive the
         * reload's sweep (row_bind_metrics finds them) and counters continue. */
        if (rs->service_watch && rs->row->target->proto == PROTO_DNS && o->n_dns_servers > 0)
                (void) row_set_dns_servers(rs, o->dns_addrs, o->n_dns_servers, false);
}

/* Builds row states for `cfg`, carrying results over from `old` rows with the
 * same key. Does not schedule. */
static int plan_build(agent_t *a, const config_t *cfg, const char *identity, row_state_t ***ret_rows,
                      size_t *ret_n, row_state_t **old, size_t n_old) {
        const row_t **plan = NULL;
        int n = config_plan(cfg, identity, &plan);
        if (n < 0)
                return n;
        row_state_t **rows = calloc((size_t) n + 1, sizeof *rows);
        /* Old rows sorted by key: carrying over is a lookup, not a scan (10,000 rows reload). */
        row_state_t **sorted = calloc(n_old + 1, sizeof *sorted);
        int r = 0;
        if (!rows || !sorted) {
                r = -ENOMEM;
                goto fail;
        }
        if (n_old > 0)
                memcpy(sorted, old, n_old * sizeof *sorted);
        qsort(sorted, n_old, sizeof *sorted, row_state_key_cmp);
        for (int i = 0; i < n; i++) {
                if ((r = row_state_new(a, plan[i], &rows[i])) < 0)
                        goto fail;
                row_state_t **hit = bsearch(&rows[i], sorted, n_old, sizeof *sorted, row_state_key_cmp);
                if (hit)
                        row_state_carry(rows[i], *hit);
        }
        free(sorted);
        free(plan);
        *ret_rows = rows;
        *ret_n = (size_t) n;
        return 0;
fail:
        for (int i = 0; rows && i < n; i++)
                row_state_free(rows[i]);
        free(rows);
        free(sorted);
        free(plan);
        return r;
}

static int plan_bind_and_schedule(agent_t *a) {
        a->max_allow_interval = 0;
        for (size_t i = 0; i < a->n_rows; i++) {
                const row_t *row = a->rows[i]->row;
                if (row->expect == EXPECT_ALLOW && a->rows[i]->supported && row->interval_usec > a->max_allow_interval)
                        a->max_allow_interval = row->interval_usec;
        }
        a->once_remaining = 0;
        for (size_t i = 0; i < a->n_rows; i++) {
                row_state_t *rs = a->rows[i];
                if (!rs->supported)
                        continue;
                int r = row_bind_metrics(a, rs);
                if (r < 0)
                        return r;
                if (rs->rounds > 0)
                        row_publish(a, rs);
                char name[CONFIG_MAX_NAME_LEN * 2 + 8];
                snprintf(name, sizeof name, "%s->%s", a->identity, rs->row->to);
                r = sched_add(a->sched, rs->row->interval_usec, sched_phase(rs->key, rs->row->interval_usec),
                              a->once, on_row_due, rs, name, &rs->job);
                if (r < 0)
                        return r;
                if (rs->rounds == 0)
                        sched_job_first_within(rs->job, FIRST_ROUND_WITHIN_USEC);
                a->once_remaining++;
        }
        return 0;
}

static void rows_free(row_state_t **rows, size_t n) {
        for (size_t i = 0; rows && i < n; i++)
                row_state_free(rows[i]);
        free(rows);
}

/* ---- config (re)load ---- */

static void set_reload_state(agent_t *a, bool ok, const char *error) {
        a->last_reload_ok = ok;
        metric_set(a->m_reload_ok, ok ? 1 : 0);
        free(a->last_reload_error);
        a->last_reload_error = error ? strdup(error) : NULL;
        if (ok) {
                a->last_reload_success_wall = wall_usec();
                metric_set(a->m_reload_ts, (double) a->last_reload_success_wall / 1e6);
        }
}

static const char *effective_listen(const agent_t *a, const config_t *cfg) {
        return a->cli_listen ? a->cli_listen : cfg->listen;
}

/* Binds what `cfg` needs that differs from what runs now; nothing changes on failure. */
static int rebind(agent_t *a, const config_t *cfg, httpd_t **ret_httpd, responder_t **ret_responder,
                  config_errors_t *errs) {
        *ret_httpd = NULL;
        *ret_responder = NULL;
        const char *listen = effective_listen(a, cfg);
        if (!a->once && (!a->listen || strcmp(listen, a->listen) != 0)) {
                /* The new address is bound next to the old one, then the old goes. */
                int r = httpd_new_secure(a->loop, listen, a->webconfig, ret_httpd);
                if (r < 0) {
                        config_errors_add(errs, "agent.listen: cannot listen on %s: %s", listen, strerror(-r));
                        return r;
                }
        }
        if (cfg->responder_port != a->responder_port && cfg->responder_port != 0) {
                int r = responder_new(a->loop, cfg->responder_port, ret_responder);
                if (r < 0 && !(a->once && r == -EADDRINUSE)) {
                        config_errors_add(errs, "agent.responder.port: cannot bind TCP and UDP port %u: %s",
                                          cfg->responder_port, strerror(-r));
                        httpd_free(*ret_httpd);
                        *ret_httpd = NULL;
                        return r;
                }
        }
        return 0;
}


/* Applies a parsed config: new plan, new binds, metrics swept. Takes `cfg`
 * on success; on failure leaves the running state untouched. */
static int apply_config(agent_t *a, config_t *cfg, config_errors_t *errs) {
        const char *identity = config_effective_identity(cfg, a->cli_identity);
        if (!config_name_valid(identity)) {
                config_errors_add(errs, "identity \"%s\" is not a valid name (1-253 letters, digits, '.', '_', '-')",
                                  identity);
                return -EINVAL;
        }
        char *new_identity = strdup(identity);
        if (!new_identity)
                return -ENOMEM;
        /* resolv.conf as of this (re)load: dns rows with "servers": "resolv.conf" and via_search use it. */
        resolv_conf_t resolv;
        int rr = resolv_conf_read(&resolv);
        if (rr < 0) {
                free(new_identity);
                config_errors_add(errs, "cannot read the resolver configuration (/etc/resolv.conf): %s",
                                  strerror(-rr));
                return rr;
        }
        resolv_conf_t old_resolv = a->resolv;
        a->resolv = resolv;
        httpd_t *new_httpd = NULL;
        responder_t *new_responder = NULL;
        row_state_t **rows = NULL;
        size_t n_rows = 0;
        int r = rebind(a, cfg, &new_httpd, &new_responder, errs);
        if (r < 0)
                goto undo;
        r = agent_k8s_prepare(a, cfg, errs);
        if (r < 0)
                goto undo;
        /* Results carry over only when the identity (the `from` label) stays. */
        bool same_identity = a->identity && strcmp(a->identity, new_identity) == 0;
        r = plan_build(a, cfg, new_identity, &rows, &n_rows, same_identity ? a->rows : NULL,
                       same_identity ? a->n_rows : 0);
        if (r < 0) {
                config_errors_add(errs, "cannot build the plan: %s", strerror(-r));
                goto undo;
        }

        /* Point of no return: swap everything in. Old rows point into the old
         * resolv snapshot (search list), so it goes after them. */
        adhoc_cancel_all(a, "the config was reloaded");
        rows_free(a->rows, a->n_rows);
        resolv_conf_done(&old_resolv);
        a->rows = rows;
        a->n_rows = n_rows;
        free(a->identity);
        a->identity = new_identity;
        config_t *old_cfg = a->cfg;
        a->cfg = cfg;
        agent_k8s_prune(a);
        if (new_httpd) {
                httpd_free(a->httpd);
                a->httpd = new_httpd;
                agent_install_routes(a, a->httpd);
                free(a->listen);
                a->listen = strdup(effective_listen(a, cfg));
                char port[8];
                snprintf(port, sizeof port, "%u", httpd_port(a->httpd));
                log_event(LOG_INFO, "listening", "address", a->listen ? a->listen : "", "port", port, NULL);
        }
        if (new_responder || cfg->responder_port == 0) {
                responder_free(a->responder);
                a->responder = new_responder;
        }
        a->responder_port = cfg->responder_port;
        sched_set_max_in_flight(a->sched, cfg->max_in_flight);

        metrics_generation_begin(a->metrics);
        r = metric_family_set_buckets(a->f_duration, cfg->buckets, cfg->n_buckets);
        if (r >= 0)
                r = plan_bind_and_schedule(a);
        metrics_generation_sweep(a->metrics);
        config_free(old_cfg);
        /* Parsing left megabytes of freed JSON tree behind: give them back. */
        malloc_trim(0);
        if (r < 0)
                log_event(LOG_ERROR, "cannot schedule every row", "error", strerror(-r), NULL);
        return 0;
undo:
        /* Nothing was swapped in: the running state stays as it was. */
        httpd_free(new_httpd);
        responder_free(new_responder);
        free(new_identity);
        resolv_conf_done(&a->resolv);
        a->resolv = old_resolv;
        return r;
}

/* Applies a changed web config: the server restarts on the same address with
 * the new TLS material and users; if that fails the old one comes back. */
static void reload_webconfig(agent_t *a, const char *why) {
        if (!a->web_config_path || a->once)
                return;
        config_errors_t errs;
        config_errors_init(&errs);
        webconfig_t *wc = NULL;
        if (webconfig_load(a->web_config_path, &wc, &errs) < 0) {
                char *joined = config_errors_join(&errs);
                log_event(LOG_ERROR, "web config reload rejected", "path", a->web_config_path, "trigger", why,
                          "error", joined ? joined : "", NULL);
                free(joined);
                config_errors_free(&errs);
                return;
        }
        config_errors_free(&errs);
        if (a->webconfig && wc->content_hash == a->webconfig->content_hash) {
                webconfig_free(wc);
                return;
        }
        /* Same port: the old server must let go of it first. */
        httpd_free(a->httpd);
        a->httpd = NULL;
        httpd_t *h;
        int r = httpd_new_secure(a->loop, a->listen, wc, &h);
        if (r < 0) {
                log_event(LOG_ERROR, "web config reload rejected", "path", a->web_config_path, "trigger", why,
                          "error", r == -EINVAL ? "TLS certificate or key refused" : strerror(-r), NULL);
                webconfig_free(wc);
                if (httpd_new_secure(a->loop, a->listen, a->webconfig, &a->httpd) < 0)
                        log_event(LOG_ERROR, "cannot listen again with the previous web config", "address",
                                  a->listen, NULL);
                else
                        agent_install_routes(a, a->httpd);
                return;
        }
        webconfig_free(a->webconfig);
        a->webconfig = wc;
        a->httpd = h;
        agent_install_routes(a, a->httpd);
        log_event(LOG_INFO, "web config reloaded", "path", a->web_config_path, "trigger", why, "tls",
                  wc->cert_pem ? "on" : "off", NULL);
}

int agent_reload(agent_t *a, const char *why) {
        reload_webconfig(a, why);
        if (!a->config_path) {
                log_event(LOG_INFO, "no config file to reload: running the embedded default", "trigger", why, NULL);
                return 0;
        }
        config_errors_t errs;
        config_errors_init(&errs);
        config_t *cfg = NULL;
        struct stat st;
        if (stat(a->config_path, &st) < 0)
                memset(&st, 0, sizeof st);
        int r = config_load_file(a->config_path, &cfg, &errs);
        if (r >= 0)
                a->config_stat = st;
        if (r >= 0 && cfg->content_hash == a->cfg->content_hash) {
                /* Same bytes as the running config (an event for another file in
                 * the directory, a touch, or a bad file put back): nothing to
                 * apply, but a SIGHUP or a recovery is a successful reload. */
                config_free(cfg);
                config_errors_free(&errs);
                if (!a->last_reload_ok || strcmp(why, "SIGHUP") == 0) {
                        log_event(LOG_INFO, "config unchanged", "path", a->config_path, "trigger", why, NULL);
                        set_reload_state(a, true, NULL);
                }
                return 0;
        }
        if (r >= 0) {
                r = apply_config(a, cfg, &errs);
                if (r < 0)
                        config_free(cfg); /* not taken */
        }
        if (r < 0) {
                char *joined = config_errors_join(&errs);
                log_event(LOG_ERROR, "config reload rejected", "path", a->config_path, "trigger", why, "error",
                          joined ? joined : strerror(-r), "keeping", a->cfg->source, NULL);
                set_reload_state(a, false, joined ? joined : strerror(-r));
                free(joined);
                config_errors_free(&errs);
                return r;
        }
        char rows[32];
        snprintf(rows, sizeof rows, "%zu", a->n_rows);
        log_event(LOG_INFO, "config reloaded", "path", a->config_path, "trigger", why, "identity", a->identity,
                  "rows", rows, NULL);
        set_reload_state(a, true, NULL);
        config_errors_free(&errs);
        return 0;
}

static bool same_file_state(const struct stat *x, const struct stat *y) {
        return x->st_dev == y->st_dev && x->st_ino == y->st_ino && x->st_size == y->st_size &&
               x->st_mtim.tv_sec == y->st_mtim.tv_sec && x->st_mtim.tv_nsec == y->st_mtim.tv_nsec;
}

/* A change somewhere in the watched directories. The web config is small and
 * always re-checked; the matrix (up to megabytes) only when stat() says the
 * file behind the path changed (a ConfigMap swap changes the inode). */
static void on_reload_timer(loop_timer_t *t, void *userdata) {
        agent_t *a = userdata;
        struct stat st;
        if (a->config_path && stat(a->config_path, &st) == 0 && a->last_reload_ok &&
            same_file_state(&st, &a->config_stat)) {
                reload_webconfig(a, "file change");
                return;
        }
        agent_reload(a, "file change");
}

static void on_inotify(loop_io_t *io, int fd, uint32_t events, void *userdata) {
        agent_t *a = userdata;
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        bool any = false;
        for (;;) {
                ssize_t n = read(fd, buf, sizeof buf);
                if (n <= 0)
                        break;
                any = true;
        }
        /* Debounce: a ConfigMap swap is several events; reload once they settle. */
        if (any)
                loop_timer_arm(a->reload_timer, mono_usec() + RELOAD_DEBOUNCE_USEC);
}

/* Watches the directory of `path` (config or web config): editors and
 * kubelet replace files (rename, symlink swap) rather than write them in place. */
static int watch_dir_of(agent_t *a, const char *path) {
        char *dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (!slash)
                strcpy(dir, ".");
        else if (slash == dir)
                slash[1] = '\0';
        else
                *slash = '\0';
        int r = 0;
        if (a->inotify_fd < 0) {
                a->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
                if (a->inotify_fd < 0)
                        r = -errno;
                if (r == 0)
                        r = loop_timer_new(a->loop, on_reload_timer, a, "config-reload", &a->reload_timer);
                if (r == 0)
                        r = loop_io_add(a->loop, a->inotify_fd, EPOLLIN, on_inotify, a, "config-watch",
                                        &a->inotify_io);
        }
        if (r == 0 && inotify_add_watch(a->inotify_fd, dir,
                                        IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_ATTRIB) < 0)
                r = -errno;
        if (r < 0)
                log_event(LOG_WARN, "cannot watch the config directory; reload with SIGHUP", "dir", dir, "error",
                          strerror(-r), NULL);
        free(dir);
        return r;
}

static void on_evidence_gc(loop_timer_t *t, void *userdata) {
        agent_t *a = userdata;
        uint64_t now = mono_usec();
        uint64_t keep = EVIDENCE_WINDOW_INTERVALS * (a->max_allow_interval ? a->max_allow_interval : USEC_PER_SEC) * 2;
        if (now > keep)
                evidence_expire(a->evidence, now - keep);
        loop_timer_arm(t, now + EVIDENCE_GC_USEC);
}

/* ---- lifetime ---- */

const char *agent_identity(const agent_t *a) {
        return a->identity;
}

uint16_t agent_http_port(const agent_t *a) {
        return a->httpd ? httpd_port(a->httpd) : 0;
}

void agent_free(agent_t *a) {
        if (!a)
                return;
        adhoc_cancel_all(a, "shutting down");
        rows_free(a->rows, a->n_rows);
        agent_k8s_free(a);
        loop_io_remove(a->inotify_io);
        if (a->inotify_fd >= 0)
                close(a->inotify_fd);
        loop_timer_free(a->reload_timer);
        loop_timer_free(a->evidence_timer);
        httpd_free(a->httpd);
        responder_free(a->responder);
        http_prober_free(a->http);
        resolver_free(a->resolver);
        if (a->sched)
                sched_free(a->sched);
        evidence_free(a->evidence);
        metrics_free(a->metrics);
        config_free(a->cfg);
        resolv_conf_done(&a->resolv);
        free(a->identity);
        free(a->listen);
        free(a->config_path);
        free(a->cli_identity);
        free(a->cli_listen);
        free(a->last_reload_error);
        webconfig_free(a->webconfig);
        free(a->web_config_path);
        free(a->kubeconfig_path);
        free(a);
}

int agent_new(loop_t *loop, const agent_options_t *opts, config_t *cfg, agent_t **ret) {
        agent_t *a = calloc(1, sizeof *a);
        if (!a) {
                config_free(cfg);
                return -ENOMEM;
        }
        a->loop = loop;
        a->inotify_fd = -1;
        a->once = opts->once;
        int r = -ENOMEM;
        if ((opts->config_path && !(a->config_path = strdup(opts->config_path))) ||
            (opts->identity && !(a->cli_identity = strdup(opts->identity))) ||
            (opts->listen && !(a->cli_listen = strdup(opts->listen))) ||
            (opts->web_config && !(a->web_config_path = strdup(opts->web_config))) ||
            (opts->kubeconfig && !(a->kubeconfig_path = strdup(opts->kubeconfig))))
                goto fail;
        if (a->web_config_path && !a->once) {
                config_errors_t werrs;
                config_errors_init(&werrs);
                r = webconfig_load(a->web_config_path, &a->webconfig, &werrs);
                if (r < 0) {
                        char *joined = config_errors_join(&werrs);
                        log_event(LOG_ERROR, "cannot start: bad web config", "path", a->web_config_path, "error",
                                  joined ? joined : strerror(-r), NULL);
                        free(joined);
                        config_errors_free(&werrs);
                        goto fail;
                }
                config_errors_free(&werrs);
        }
        if ((r = metrics_new(&a->metrics)) < 0 || (r = register_families(a, cfg)) < 0 ||
            (r = evidence_new(&a->evidence)) < 0 || (r = resolver_new(loop, &a->resolver)) < 0 ||
            (r = sched_new(loop, cfg->max_in_flight, &a->sched)) < 0)
                goto fail;

        config_errors_t errs;
        config_errors_init(&errs);
        r = apply_config(a, cfg, &errs);
        if (r < 0) {
                char *joined = config_errors_join(&errs);
                log_event(LOG_ERROR, "cannot start", "error", joined ? joined : strerror(-r), NULL);
                free(joined);
                config_errors_free(&errs);
                goto fail;
        }
        cfg = NULL; /* owned by the agent now */
        config_errors_free(&errs);
        set_reload_state(a, true, NULL);

        if (!a->once) {
                if ((r = loop_timer_new(loop, on_evidence_gc, a, "evidence-gc", &a->evidence_timer)) < 0)
                        goto fail;
                loop_timer_arm(a->evidence_timer, mono_usec() + EVIDENCE_GC_USEC);
                if (a->config_path) {
                        if (stat(a->config_path, &a->config_stat) < 0)
                                memset(&a->config_stat, 0, sizeof a->config_stat);
                        (void) watch_dir_of(a, a->config_path);
                }
                if (a->web_config_path)
                        (void) watch_dir_of(a, a->web_config_path);
        } else if (a->once_remaining == 0)
                loop_quit(loop);

        char rows[32];
        snprintf(rows, sizeof rows, "%zu", a->n_rows);
        log_event(a->once ? LOG_DEBUG : LOG_INFO, "config loaded", "source", a->cfg->source, "identity",
                  a->identity, "rows", rows, NULL);
        for (size_t i = 0; i < a->n_rows; i++) {
                if (a->rows[i]->supported)
                        continue;
                char row[32];
                snprintf(row, sizeof row, "matrix[%zu]", a->rows[i]->row->index);
                log_event(LOG_WARN, "row not probed: protocol not supported by this build yet", "row", row, "to",
                          a->rows[i]->row->to, "protocol", proto_name(a->rows[i]->row->target->proto), NULL);
        }
        *ret = a;
        return 0;
fail:
        config_free(cfg);
        agent_free(a);
        return r;
}
