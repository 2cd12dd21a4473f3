/* HTTP probes over libcurl's multi-socket interface, driven by the loop
 * (CURLMOPT_SOCKETFUNCTION / CURLMOPT_TIMERFUNCTION): no thread per probe,
 * no blocking call. Names are resolved through the daemon's c-ares resolver
 * and handed to curl with CURLOPT_CONNECT_TO, so curl itself never resolves;
 * redirects (when followed) are resolved the same way, hop by hop.
 *
 * Same contract as the socket probes: the callback runs exactly once, never
 * inside the start call, unless the probe is cancelled first. */
#pragma once

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "loop.h"
#include "resolver.h"
#include "results.h"

#define HTTP_MAX_REDIRECTS 5u

typedef enum http_phase {
        HTTP_PHASE_RESOLVE,
        HTTP_PHASE_CONNECT,
        HTTP_PHASE_TLS,
        HTTP_PHASE_PROCESSING,
        HTTP_PHASE_TRANSFER,
        _HTTP_PHASE_MAX,
} http_phase_t;

const char *http_phase_name(http_phase_t p);

typedef struct http_prober http_prober_t;
typedef struct http_probe http_probe_t;

/* A target's request, prepared once per plan: parsed URL, compiled regex,
 * header list. */
typedef struct http_request http_request_t;

int http_request_new(const http_spec_t *spec, http_request_t **ret);
void http_request_free(http_request_t *req);
/* The URL's host (no brackets) and port, for resolving the first hop. */
const char *http_request_host(const http_request_t *req);
uint16_t http_request_port(const http_request_t *req);

/* What the TLS handshake of a hop showed (blackbox_exporter's probe_ssl_* and
 * probe_tls_version_info), collected only when asked: it costs a parse of
 * every peer certificate. */
typedef struct http_tls_info {
        bool valid;             /* a TLS session was read */
        const char *version;    /* "TLS 1.2", "TLS 1.3", ...; "unknown" */
        int64_t earliest_expiry; /* unix seconds: the earliest NotAfter of the certificates the peer sent; 0 if none */
        int64_t chain_expiry;   /* unix seconds: the earliest NotAfter of the verified chain (peer certificates
                                 * up to the trust anchor, the anchor included); 0 when not verified */
} http_tls_info_t;

typedef enum http_probe_flags {
        HTTP_PROBE_TLS_INFO = 1 << 0, /* fill result.tls_info (one-off probes; rows do not pay for it) */
} http_probe_flags_t;

typedef struct http_probe_result {
        outcome_t outcome;      /* connected: answered as required; bad_response: answered otherwise
                                 * (status, body, TLS, cut short, too slow after connecting);
                                 * refused / unreachable / timeout before a connection; dns_error
                                 * for a redirect target that did not resolve; local_error */
        uint64_t duration_usec; /* of the whole exchange, redirects included, resolution excluded */
        int error;              /* errno behind refused/unreachable/local_error */
        long status;            /* of the last response; 0 if none */
        bool tls;               /* the last hop was https */
        unsigned redirects;     /* followed */
        uint64_t body_bytes;    /* read from the last response (capped) */
        bool regex_failed;      /* body_regex did not match */
        int64_t content_length; /* the last response's Content-Length header; -1 when absent (chunked, close) */
        unsigned http_version;  /* of the last response: 10 (HTTP/1.0), 11, 20, 30; 0 if none */
        uint64_t phase_usec[_HTTP_PHASE_MAX]; /* of the last hop; resolve is the caller's first lookup plus redirects' */
        char detail[256];       /* why bad_response/local_error (TLS errors name the reason); "" otherwise */
        http_tls_info_t tls_info; /* of the last hop, with HTTP_PROBE_TLS_INFO only */
} http_probe_result_t;

typedef void (*http_probe_done_cb)(const http_probe_result_t *result, void *userdata);

int http_prober_new(loop_t *loop, resolver_t *resolver, http_prober_t **ret);
/* Cancels every probe still running (their callbacks do not run). */
void http_prober_free(http_prober_t *c);

/* Probes `req` by connecting to `addr` (the URL host resolved by the caller,
 * `resolve_usec` is how long that took). `flags`: http_probe_flags_t. `req`
 * must outlive the probe. */
int probe_http_start(http_prober_t *c, const http_request_t *req, const struct sockaddr *addr, uint64_t resolve_usec,
                     uint64_t deadline_usec, unsigned flags, http_probe_done_cb cb, void *userdata,
                     http_probe_t **ret);
void probe_http_cancel(http_probe_t *p);
