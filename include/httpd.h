/* The embedded HTTP server: libmicrohttpd in external-epoll mode, driven by
 * the daemon's loop (no thread of its own). Routes are exact paths; only GET
 * and HEAD are served. Responses larger than a few hundred bytes are gzipped
 * when the client accepts gzip. */
#pragma once

#include <stdint.h>
#include <sys/socket.h>

#include "loop.h"
#include "util.h"
#include "webconfig.h"

typedef struct httpd httpd_t;
typedef struct httpd_request httpd_request_t;

#define HTTPD_MAX_EXTRA_HEADERS 4u

typedef struct httpd_header {
        const char *name;          /* static strings */
        const char *value;
} httpd_header_t;

/* A body produced while the client reads it, instead of `body`: a large
 * /metrics is sent without being built whole first, so the loop never stops
 * for all of it (and no buffer of its size exists). fill() appends `want`
 * bytes or more to `out` and returns 1 while there is more, 0 at the end
 * (having appended the last bytes, if any), -errno to cut the body short
 * (the client sees it incomplete). It runs on the loop as the socket drains.
 * done() runs exactly once, whether the body was sent whole, cut short or
 * never asked for (HEAD, a client gone). Sent with chunked encoding (no
 * Content-Length), gzipped on the fly when the client accepts gzip. */
typedef struct httpd_stream {
        int (*fill)(void *state, strbuf_t *out, size_t want);
        void (*done)(void *state);
        void *state;
} httpd_stream_t;

typedef struct httpd_response {
        unsigned status;           /* HTTP status code */
        const char *content_type;  /* static string */
        strbuf_t body;             /* filled by the handler */
        httpd_stream_t stream;     /* or this, when stream.fill is set (body stays empty) */
        httpd_header_t headers[HTTPD_MAX_EXTRA_HEADERS]; /* extra headers (e.g. Content-Security-Policy) */
        size_t n_headers;
} httpd_response_t;

/* Fills `resp` (status defaults to 200, body starts empty). */
typedef void (*httpd_handler_cb)(const httpd_request_t *req, httpd_response_t *resp, void *userdata);

/* Listens on "ADDR:PORT" ("0.0.0.0:9890", "[::]:9890", ":9890" = all
 * addresses; port 0 picks a free one). -EINVAL on a malformed address,
 * -errno from bind/listen. */
int httpd_new(loop_t *loop, const char *listen_addr, httpd_t **ret);
/* As httpd_new(), with TLS and/or basic auth from `wc` (may be NULL). `wc`
 * must outlive the server. -EINVAL when MHD refuses the TLS material. */
int httpd_new_secure(loop_t *loop, const char *listen_addr, const webconfig_t *wc, httpd_t **ret);
void httpd_free(httpd_t *h);
int httpd_route(httpd_t *h, const char *path, httpd_handler_cb cb, void *userdata);
uint16_t httpd_port(const httpd_t *h);

/* Answering later: a handler that cannot answer at once (it starts a probe)
 * calls httpd_request_defer(), leaves `resp` alone, and later hands the
 * response to httpd_deferred_finish(). The connection is suspended meanwhile.
 * httpd_free() answers every unfinished deferral with 503. */
typedef struct httpd_deferred httpd_deferred_t;

httpd_deferred_t *httpd_request_defer(const httpd_request_t *req);
/* Takes resp->body (or resp->stream). The deferral is freed once the response is queued. */
void httpd_deferred_finish(httpd_deferred_t *d, httpd_response_t *resp);

/* A query parameter of the request, or NULL. */
const char *httpd_request_query(const httpd_request_t *req, const char *key);
const char *httpd_request_header(const httpd_request_t *req, const char *name);
