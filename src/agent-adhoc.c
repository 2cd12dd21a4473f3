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

/* The answer of one /probe, as a throw-away registry rendered by metrics.c:
 * the same escaping, number formatting and HELP/TYPE lines as /metrics. */
typedef struct answer {
        metrics_t *m;
        int error;                     /* the first failure; the answer is then a 503 */
} answer_t;

/* A gauge family with at most one label (`label` NULL: none). NULL on failure. */
static metric_family_t *family(answer_t *an, const char *name, const char *help, const char *label) {
        metric_family_t *f = NULL;
        int r = an->error ? an->error
                          : metrics_family_add(an->m, name, help, METRIC_GAUGE, label ? &label : NULL, label ? 1 : 0,
                                               NULL, 0, false, &f);
        if (r < 0 && !an->error)
                an->error = r;
        return r < 0 ? NULL : f;
}

static void series(answer_t *an, metric_family_t *f, const char *label_value, double v) {
        metric_t *s;
        if (!f)
                return;
        int r = metric_family_series(f, label_value ? &label_value : NULL, &s);
        if (r < 0) {
                if (!an->error)
                        an->error = r;
                return;
        }
        metric_set(s, v);
}

static void gauge(answer_t *an, const char *name, const char *help, double v) {
        series(an, family(an, name, help, NULL), NULL, v);
}

/* blackbox_exporter's probe_ip_addr_hash: FNV-1a (32 bits) of the address
 * bytes as Go holds them (4 for IPv4, 16 for IPv6). */
static double ip_addr_hash(const struct sockaddr_storage *ss) {
        const uint8_t *b;
        size_t n;
        if (ss->ss_family == AF_INET) {
                b = (const uint8_t *) &((const struct sockaddr_in *) ss)->sin_addr;
                n = 4;
        } else if (ss->ss_family == AF_INET6) {
                b = (const uint8_t *) &((const struct sockaddr_in6 *) ss)->sin6_addr;
                n = 16;
        } else
                return 0;
        uint32_t h = 2166136261u;
        for (size_t i = 0; i < n; i++)
                h = (h ^ b[i]) * 16777619u;
        return (double) h;
}

static void answer_http(answer_t *an, const http_probe_result_t *h) {
        gauge(an, "probe_http_status_code", "Response HTTP status code", (double) h->status);
        metric_family_t *f = family(an, "probe_http_duration_seconds",
                                    "Duration of http request by phase, summed over all redirects", "phase");
        for (http_phase_t ph = 0; ph < _HTTP_PHASE_MAX; ph++)
                series(an, f, http_phase_name(ph), (double) h->phase_usec[ph] / 1e6);
        gauge(an, "probe_http_ssl", "Indicates if SSL was used for the final redirect", h->tls);
        gauge(an, "probe_http_redirects", "The number of redirects", h->redirects);
        gauge(an, "probe_http_version", "Returns the version of HTTP of the probe response",
              (double) h->http_version / 10.0);
        gauge(an, "probe_http_content_length", "Length of http content response (the Content-Length header; -1 "
              "when absent)", (double) h->content_length);
        gauge(an, "probe_http_uncompressed_body_length", "Length of uncompressed response body (bytes read, "
              "capped at max_body_bytes)", (double) h->body_bytes);
        gauge(an, "probe_failed_due_to_regex", "Indicates if probe failed due to regex", h->regex_failed);
        const http_tls_info_t *ti = &h->tls_info;
        if (!h->tls || !ti->valid)
                return;
        gauge(an, "probe_ssl_earliest_cert_expiry", "Returns earliest SSL cert expiry in unixtime",
              (double) ti->earliest_expiry);
        if (ti->chain_expiry > 0)
                gauge(an, "probe_ssl_last_chain_expiry_timestamp_seconds",
                      "Returns last SSL chain expiry in timestamp seconds", (double) ti->chain_expiry);
        series(an, family(an, "probe_tls_version_info", "Contains the TLS version used", "version"), ti->version, 1);
}

static void answer_dns(answer_t *an, const dns_probe_result_t *d) {
        bool answered = d->rcode != DNS_RCODE_NONE;
        /* The servers are addresses: nothing is resolved before the query. */
        metric_family_t *f = family(an, "probe_dns_duration_seconds", "Duration of DNS request by phase", "phase");
        series(an, f, "resolve", 0);
        series(an, f, "connect", 0);
        series(an, f, "request", (double) d->duration_usec / 1e6);
        gauge(an, "probe_dns_query_succeeded", "Displays whether or not the query was executed successfully",
              answered);
        gauge(an, "probe_dns_answer_rrs", "Returns number of entries in the answer resource record list",
              d->answer_rrs);
        gauge(an, "probe_dns_authority_rrs", "Returns number of entries in the authority resource record list",
              d->authority_rrs);
        gauge(an, "probe_dns_additional_rrs", "Returns number of entries in the additional resource record list",
              d->additional_rrs);
}

/* The answer of a finished one-off probe. probe_success is 1 when every
 * address answered as the target requires (outcome connected): what
 * blackbox_exporter means by it, independent of any expectation. */
void adhoc_finish(row_state_t *rs) {
        const target_t *t = rs->row->target;
        adhoc_state_t *st = rs->adhoc_state;
        httpd_response_t resp = { .status = 200, .content_type = "text/plain; version=0.0.4; charset=utf-8" };
        sb_init(&resp.body, 0);
        answer_t an = { 0 };
        an.error = metrics_new(&an.m);
        bool success = rs->n_round > 0;
        size_t outcomes[_OUTCOME_MAX] = { 0 };
        for (size_t i = 0; i < rs->n_round; i++) {
                outcomes[rs->round[i].outcome]++;
                if (rs->round[i].outcome != OUTCOME_CONNECTED)
                        success = false;
        }
        const struct sockaddr_storage *addr = rs->n_round > 0 ? &rs->round[0].addr : NULL;
        int af = addr ? addr->ss_family : 0;
        gauge(&an, "probe_success", "Displays whether or not the probe was a success", success);
        gauge(&an, "probe_duration_seconds", "Returns how long the probe took to complete in seconds",
              (double) (mono_usec() - st->start) / 1e6);
        /* The lookup of the target's address: a dns target's servers are addresses already. */
        gauge(&an, "probe_dns_lookup_time_seconds", "Returns the time taken for probe dns lookup in seconds",
              t->proto == PROTO_DNS ? 0 : (double) rs->resolve_usec / 1e6);
        gauge(&an, "probe_ip_protocol", "Specifies whether probe ip protocol is IP4 or IP6",
              af == AF_INET ? 4 : af == AF_INET6 ? 6 : 0);
        gauge(&an, "probe_ip_addr_hash", "Specifies the hash of IP address. It's useful to detect if the IP address "
              "changes.", addr ? ip_addr_hash(addr) : 0);
        if (t->proto == PROTO_HTTP)
                answer_http(&an, &st->http);
        else if (t->proto == PROTO_DNS)
                answer_dns(&an, &st->dns);
        metric_family_t *f = family(&an, "probe_netcanary_addresses", "Addresses probed, by netcanary outcome",
                                    "outcome");
        for (outcome_t o = 0; o < _OUTCOME_MAX; o++)
                series(&an, f, outcome_name(o), (double) outcomes[o]);
        if (!an.error)
                an.error = metrics_render(an.m, &resp.body);
        if (an.error || resp.body.oom) {
                sb_reset(&resp.body);
                resp.status = 503;
                resp.content_type = "text/plain; charset=utf-8";
                sb_printf(&resp.body, "cannot answer: %s\n", strerror(an.error ? -an.error : ENOMEM));
        }
        metrics_free(an.m);
        httpd_deferred_finish(st->deferred, &resp);
        sb_free(&resp.body);
        adhoc_unlink(rs);
        /* Nothing touches rs after the round finishes: its callers return at once. */
        row_state_free(rs);
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

/* blackbox_exporter's `module` parameter: names the prober by its prefix,
 * as blackbox's own configs do (http_2xx, http_post_2xx, tcp_connect,
 * dns_udp, ...): the part before the first '_', or the whole name, must be
 * "http", "tcp", "udp" or "dns". The target's own config says how it is
 * probed; the module only has to agree with its protocol. An absent or empty
 * module is the target's protocol. Returns the protocol, or -EINVAL. */
static int module_proto(const char *module) {
        size_t n = strcspn(module, "_");
        for (proto_t p = 0; p < _PROTO_MAX; p++)
                if (strlen(proto_name(p)) == n && strncmp(module, proto_name(p), n) == 0)
                        return (int) p;
        return -EINVAL;
}

/* A name from the request, for an error message: quoted, never too long. */
static void put_name(strbuf_t *out, const char *name) {
        sb_put_json_string(out, strlen(name) > CONFIG_MAX_NAME_LEN ? "(too long)" : name);
}

void adhoc_handle_probe(const httpd_request_t *req, httpd_response_t *resp, void *userdata) {
        agent_t *a = userdata;
        const char *module = httpd_request_query(req, "module");
        int mproto = module && *module ? module_proto(module) : -1;
        if (mproto == -EINVAL) {
                /* As blackbox_exporter answers a module it does not know. */
                resp->status = 400;
                sb_puts(&resp->body, "Unknown module ");
                put_name(&resp->body, module);
                sb_puts(&resp->body, ": /probe knows module names starting with http, tcp, udp or dns (http_2xx, "
                                     "tcp_connect, dns_udp, ...), matching the target's protocol\n");
                return;
        }
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
                put_name(&resp->body, name);
                sb_puts(&resp->body, ": /probe only probes targets named in the config\n");
                return;
        }
        if (mproto >= 0 && mproto != (int) t->proto) {
                resp->status = 400;
                sb_puts(&resp->body, "Unknown module ");
                put_name(&resp->body, module);
                sb_printf(&resp->body, " for target %s: it is a %s target\n", t->name, proto_name(t->proto));
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

