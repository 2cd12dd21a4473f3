/* The agent's HTTP endpoints: /metrics, /healthz, /readyz, /api/v1/matrix;
 * /probe is agent-adhoc.c, the status page's routes come from webui.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent-internal.h"
#include "build-config.h"
#include "log.h"
#include "webui.h"

/* ---- HTTP endpoints ---- */

bool agent_ready(const agent_t *a, size_t *ret_waiting) {
        size_t waiting = 0;
        for (size_t i = 0; i < a->n_rows; i++)
                if (a->rows[i]->supported && a->rows[i]->rounds == 0)
                        waiting++;
        size_t watches;
        bool synced = agent_k8s_synced(a, &watches);
        if (ret_waiting)
                *ret_waiting = waiting + watches;
        return a->cfg && waiting == 0 && synced;
}

/* A scrape streamed through a metrics cursor: the loop renders
 * HTTPD_STREAM_FILL_BYTES at a time as the client reads, so probes go on
 * being timed between pieces even for 10,000 rows. */
typedef struct metrics_stream {
        metrics_cursor_t *cursor;
        uint64_t start_usec;
        uint64_t render_usec;      /* spent in the cursor, of the whole scrape's time */
        uint64_t bytes;            /* plain text rendered */
} metrics_stream_t;

static int metrics_stream_fill(void *state, strbuf_t *out, size_t want) {
        metrics_stream_t *ms = state;
        size_t before = out->len;
        uint64_t start = mono_usec();
        int r = metrics_cursor_render(ms->cursor, out, want);
        ms->render_usec += mono_usec() - start;
        ms->bytes += out->len - before;
        return r;
}

static void metrics_stream_done(void *state) {
        metrics_stream_t *ms = state;
        if (log_enabled(LOG_DEBUG)) {
                char usec[24], render_usec[24], bytes[24];
                snprintf(usec, sizeof usec, "%llu", (unsigned long long) (mono_usec() - ms->start_usec));
                snprintf(render_usec, sizeof render_usec, "%llu", (unsigned long long) ms->render_usec);
                snprintf(bytes, sizeof bytes, "%llu", (unsigned long long) ms->bytes);
                log_event(LOG_DEBUG, "metrics sent", "usec", usec, "render_usec", render_usec, "bytes", bytes, NULL);
        }
        metrics_cursor_free(ms->cursor);
        free(ms);
}

static void handle_metrics(const httpd_request_t *req, httpd_response_t *resp, void *userdata) {
        agent_t *a = userdata;
        metric_set(a->m_in_flight, a->probes_in_flight);
        resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
        metrics_stream_t *ms = calloc(1, sizeof *ms);
        if (!ms || metrics_cursor_new(a->metrics, &ms->cursor) < 0) {
                free(ms);
                resp->body.oom = true; /* answered 503 */
                return;
        }
        ms->start_usec = mono_usec();
        resp->stream = (httpd_stream_t) { metrics_stream_fill, metrics_stream_done, ms };
}

static void handle_healthz(const httpd_request_t *req, httpd_response_t *resp, void *userdata) {
        sb_puts(&resp->body, "ok\n");
}

static void handle_readyz(const httpd_request_t *req, httpd_response_t *resp, void *userdata) {
        agent_t *a = userdata;
        size_t waiting;
        if (agent_ready(a, &waiting)) {
                sb_puts(&resp->body, "ready\n");
                return;
        }
        resp->status = 503;
        size_t watches = 0;
        (void) agent_k8s_synced(a, &watches);
        sb_printf(&resp->body, "not ready: %zu of %zu rows have not finished their first round, %zu Kubernetes "
                  "watches not synced\n", waiting - watches, a->n_rows, watches);
}

static void handle_matrix(const httpd_request_t *req, httpd_response_t *resp, void *userdata) {
        resp->content_type = "application/json";
        agent_matrix_json(userdata, &resp->body);
}

void agent_install_routes(agent_t *a, httpd_t *h) {
        /* Route registration only allocates; on failure the endpoint answers 404. */
        (void) httpd_route(h, "/metrics", handle_metrics, a);
        (void) httpd_route(h, "/healthz", handle_healthz, a);
        (void) httpd_route(h, "/readyz", handle_readyz, a);
        (void) httpd_route(h, "/api/v1/matrix", handle_matrix, a);
        (void) httpd_route(h, "/probe", adhoc_handle_probe, a);
        (void) webui_install(h); /* "/" and the status page's assets; last: the last matching route wins */
}

