/* /probe?target=NAME: one probe of a configured target now, answered in
 * blackbox_exporter's metric names. Never an open proxy: only names from the
 * config are probed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent-internal.h"

static void adhoc_unlink(row_state_t *rs) {
        agent_t *a = rs->agent;
        adhoc_state_t *st = rs->adhoc_state;
        if (st->prev)
                st->prev->adhoc_state->next = st->next;
        else if (a->adhoc == rs)
                a->adhoc = st->next;
        if (st->next)
                st->next->adhoc_state->prev = st->prev;
        a->n_adhoc--;
}

static void put_gauge(strbuf_t *out, const char *name, const char *help, const char *labels, double v) {
        sb_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s%s ", name, help, name, name, labels ? labels : "");
        sb_put_double(out, v);
        sb_putc(out, '\n');
}

/* The answer of a finished one-off probe. probe_success is 1 when every
 * address answered as the target requires (outcome connected): what
 * blackbox_exporter means by it, independent of any expectation. */
void adhoc_finish(row_state_t *rs) {
        agent_t *a = rs->agent;
        const target_t *t = rs->row->target;
        httpd_response_t resp = { .status = 200, .content_type = "text/plain; version=0.0.4; charset=utf-8" };
        strbuf_t *out = &resp.body;
        sb_init(out, 0);
        bool success = rs->n_round > 0;
        size_t outcomes[_OUTCOME_MAX] = { 0 };
        for (size_t i = 0; i < rs->n_round; i++) {
                outcomes[rs->round[i].outcome]++;
                if (rs->round[i].outcome != OUTCOME_CONNECTED)
                        success = false;
        }
        int family = rs->n_round > 0 ? rs->round[0].addr.ss_family : 0;
        put_gauge(out, "probe_success", "Displays whether or not the probe was a success", NULL, success);
        put_gauge(out, "probe_duration_seconds", "Returns how long the probe took to complete in seconds", NULL,
                  (double) (mono_usec() - rs->adhoc_state->start) / 1e6);
        double lookup = t->proto == PROTO_DNS ? (double) rs->adhoc_state->dns.duration_usec / 1e6
                                              : (double) rs->resolve_usec / 1e6;
        put_gauge(out, "probe_dns_lookup_time_seconds", "Returns the time taken for probe dns lookup in seconds", NULL,
                  lookup);
        put_gauge(out, "probe_ip_protocol", "Specifies whether probe ip protocol is IP4 or IP6", NULL,
                  family == AF_INET ? 4 : family == AF_INET6 ? 6 : 0);
        if (t->proto == PROTO_HTTP) {
                const http_probe_result_t *h = &rs->adhoc_state->http;
                put_gauge(out, "probe_http_status_code", "Response HTTP status code", NULL, (double) h->status);
                sb_puts(out, "# HELP probe_http_duration_seconds Duration of http request by phase, summed over all "
                             "redirects\n# TYPE probe_http_duration_seconds gauge\n");
                for (http_phase_t ph = 0; ph < _HTTP_PHASE_MAX; ph++) {
                        sb_printf(out, "probe_http_duration_seconds{phase=\"%s\"} ", http_phase_name(ph));
                        sb_put_double(out, (double) h->phase_usec[ph] / 1e6);
                        sb_putc(out, '\n');
                }
                put_gauge(out, "probe_http_ssl", "Indicates if SSL was used for the final redirect", NULL, h->tls);
                put_gauge(out, "probe_http_redirects", "The number of redirects", NULL, h->redirects);
                put_gauge(out, "probe_http_content_length", "Length of http content response (bytes read, capped)",
                          NULL, (double) h->body_bytes);
                put_gauge(out, "probe_failed_due_to_regex", "Indicates if probe failed due to regex", NULL,
                          h->regex_failed);
        } else if (t->proto == PROTO_DNS) {
                put_gauge(out, "probe_dns_query_succeeded", "Displays whether or not the query was executed successfully",
                          NULL, success);
        }
        sb_puts(out, "# HELP probe_netcanary_addresses Addresses probed, by netcanary outcome\n"
                     "# TYPE probe_netcanary_addresses gauge\n");
        for (outcome_t o = 0; o < _OUTCOME_MAX; o++)
                sb_printf(out, "probe_netcanary_addresses{outcome=\"%s\"} %zu\n", outcome_name(o), outcomes[o]);

        httpd_deferred_finish(rs->adhoc_state->deferred, &resp);
        sb_free(&resp.body);
        adhoc_unlink(rs);
        /* Nothing touches rs after the round finishes: its callers return at once. */
        row_state_free(rs);
        (void) a;
}

/* Ends every /probe in flight with 503 (reload swaps the config they point into; shutdown). */
void adhoc_cancel_all(agent_t *a, const char *why) {
        while (a->adhoc) {
                row_state_t *rs = a->adhoc;
                row_round_abandon(rs);
                httpd_response_t resp = { .status = 503, .content_type = "text/plain; charset=utf-8" };
                sb_init(&resp.body, 0);
                sb_printf(&resp.body, "probe abandoned: %s\n", why);
                httpd_deferred_finish(rs->adhoc_state->deferred, &resp);
                sb_free(&resp.body);
                adhoc_unlink(rs);
                row_state_free(rs);
        }
}

void adhoc_handle_probe(const httpd_request_t *req, httpd_response_t *resp, void *userdata) {
        agent_t *a = userdata;
        const char *name = httpd_request_query(req, "target");
        if (!name || !*name) {
                resp->status = 400;
                sb_puts(&resp->body, "missing ?target=NAME: the name of a target in the config\n");
                return;
        }
        const target_t *t = NULL;
        for (size_t i = 0; i < a->cfg->n_targets && !t; i++)
                if (strcmp(a->cfg->targets[i].name, name) == 0)
                        t = &a->cfg->targets[i];
        if (!t) {
                /* Never an open proxy: only names from the config are probed. */
                resp->status = 400;
                sb_puts(&resp->body, "unknown target ");
                sb_put_json_string(&resp->body, strlen(name) > CONFIG_MAX_NAME_LEN ? "(too long)" : name);
                sb_puts(&resp->body, ": /probe only probes targets named in the config\n");
                return;
        }
        if (a->n_adhoc >= ADHOC_MAX_IN_FLIGHT) {
                resp->status = 503;
                sb_printf(&resp->body, "too many /probe requests in flight (%u)\n", ADHOC_MAX_IN_FLIGHT);
                return;
        }
        /* Prometheus says how long it waits; answer before that. */
        uint64_t timeout = a->cfg->default_timeout_usec;
        const char *scrape = httpd_request_header(req, "X-Prometheus-Scrape-Timeout-Seconds");
        if (scrape) {
                double secs = strtod(scrape, NULL);
                if (secs > 0.6 && (secs - 0.5) * 1e6 < (double) timeout)
                        timeout = (uint64_t) ((secs - 0.5) * 1e6);
        }
        adhoc_state_t *st = calloc(1, sizeof *st);
        row_state_t *rs = NULL;
        int r = st ? 0 : -ENOMEM;
        if (st) {
                st->row = (row_t) { .index = SIZE_MAX, .from = a->identity, .to = t->name, .target = t,
                                    .expect = EXPECT_ALLOW, .interval_usec = timeout, .timeout_usec = timeout,
                                    .confirm = 1 };
                r = row_state_new(a, &st->row, &rs);
        }
        if (r < 0 || !(st->deferred = httpd_request_defer(req))) {
                row_state_free(rs);
                free(st);
                resp->status = 503;
                sb_printf(&resp->body, "cannot probe now: %s\n", strerror(r < 0 ? -r : ENOMEM));
                return;
        }
        rs->adhoc = true;
        rs->adhoc_state = st;
        st->start = mono_usec();
        st->next = a->adhoc;
        if (a->adhoc)
                a->adhoc->adhoc_state->prev = rs;
        a->adhoc = rs;
        a->n_adhoc++;
        row_round_start(rs);
}

