/* A Kubernetes API client driven by the daemon's loop: libcurl through
 * curlloop (multi-socket, no thread), json-c for the bodies, names resolved
 * through the resolver (c-ares) when the server is not an IP literal.
 *
 * It knows one thing: keep a local copy of a collection in sync, the way
 * client-go's reflector does. k8s_watch_start() lists the collection (in pages
 * of `limit`, following `continue`), then watches it from the list's
 * resourceVersion as a streaming response, one JSON event per line. It tracks
 * the resourceVersion (bookmarks move it), resumes the watch from there after
 * a disconnect or the server's timeout, lists again on 410 Gone, and retries
 * failures with exponential backoff and jitter. Nothing ever blocks; nothing is
 * logged (the caller logs, with k8s_watch_last_error()).
 *
 * What counts as an error (k8s_watch_errors()): a request that failed (no
 * connection, TLS, timeout, HTTP status other than 200 after the one 401
 * retry, a stream cut short), a bad response or event, a cap hit, and a watch
 * the server ended within 1 s without any event. Not errors: the server
 * ending a watch after timeoutSeconds (resumed at once), 410 Gone (relisted;
 * see k8s_watch_relists()), a 401 cured by re-reading the token.
 *
 * Callback contract (k8s_event_t):
 *  - ADDED / MODIFIED / DELETED per object, whether they come from a watch
 *    event or from a (re)list: a list is diffed against the objects held so
 *    far, so an object that disappeared across a relist gets its DELETED, a
 *    changed one its MODIFIED (by metadata.resourceVersion), a new one its
 *    ADDED. A consumer that applies the events in order always holds exactly
 *    k8s_watch_objects().
 *  - SYNCED (object NULL) after every completed list, the first one included:
 *    from then on the consumer's set equals the server's at the list's
 *    resourceVersion. k8s_watch_synced() stays true once the first list is in.
 *  - The object passed is borrowed: valid during the callback (take a
 *    json_object_get() reference to keep it).
 *  - k8s_watch_free() may be called from the callback (no further callback for
 *    that watch), also for another watch of the same client; not from inside
 *    a libcurl callback of another module sharing the curlloop_t (its done
 *    callbacks are fine). Freeing the client from a callback is not allowed.
 *  - No callback ever runs inside a k8s_* call. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "curlloop.h"
#include "loop.h"
#include "resolver.h"

struct json_object;

#define K8S_SERVICEACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
/* Bounds the token and the config file this module reads. */
#define K8S_MAX_TOKEN_BYTES (64 * 1024)
#define K8S_MAX_CONFIG_BYTES (64 * 1024)

/* Where the API server is and how to authenticate to it. */
typedef struct k8s_config {
        char *server;      /* "https://HOST:PORT" (IPv6 in brackets), no trailing '/' */
        char *ca_file;     /* PEM bundle that verifies the server; NULL: system CAs */
        char *token_file;  /* bearer token, re-read when it changes; NULL: no token */
} k8s_config_t;

/* In a pod: KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT, and the token
 * and ca.crt of K8S_SERVICEACCOUNT_DIR. -ENXIO when the variables are not set
 * (not in a cluster), -ENOMEM. The files are only read when a request is made. */
int k8s_config_in_cluster(k8s_config_t *ret);
/* The same with every input given (tests): NULL or "" host = -ENXIO, NULL port
 * = 443, a port outside 1-65535 = -EINVAL. */
int k8s_config_in_cluster_from(const char *host, const char *port, const char *serviceaccount_dir,
                               k8s_config_t *ret);
/* Outside a cluster (the --kubeconfig-style option): a JSON file
 *   { "server": "https://127.0.0.1:6443", "ca_file": "...", "token_file": "..." }
 * with "server" required and https, the others optional; relative paths are
 * relative to the file's directory; unknown keys are errors. Every problem is
 * added to `errs` as "PATH: key: message"; returns 0, -EINVAL with errs, or -ENOMEM. */
int k8s_config_load(const char *path, k8s_config_t *ret, config_errors_t *errs);
/* Frees the strings (accepts a zeroed or half-filled struct). */
void k8s_config_done(k8s_config_t *cfg);

typedef struct k8s_client k8s_client_t;
typedef struct k8s_watch k8s_watch_t;

/* The client copies `cfg`. `resolver` may be NULL when the server's host is an
 * IP literal (always so in a cluster); otherwise it is required (-EINVAL).
 * loop, curl and resolver must outlive the client. */
int k8s_client_new(loop_t *loop, curlloop_t *curl, resolver_t *resolver, const k8s_config_t *cfg,
                   k8s_client_t **ret);
/* Frees the client and every watch still running on it (outside callbacks only). */
void k8s_client_free(k8s_client_t *c);

typedef enum k8s_event {
        K8S_EVENT_ADDED,
        K8S_EVENT_MODIFIED,
        K8S_EVENT_DELETED,
        K8S_EVENT_SYNCED,   /* a list completed; object is NULL */
        _K8S_EVENT_MAX,
} k8s_event_t;

/* "ADDED", "MODIFIED", "DELETED", "SYNCED". */
const char *k8s_event_name(k8s_event_t ev);

typedef void (*k8s_watch_cb)(k8s_watch_t *w, k8s_event_t ev, struct json_object *object, void *userdata);

/* Defaults of k8s_watch_options_t (every 0 field takes these). */
#define K8S_DEFAULT_PAGE_SIZE 500
#define K8S_DEFAULT_MAX_OBJECTS 10000
#define K8S_DEFAULT_MAX_EVENT_BYTES (4u * 1024 * 1024)
#define K8S_DEFAULT_MAX_PAGE_BYTES (64u * 1024 * 1024)
#define K8S_DEFAULT_WATCH_TIMEOUT_SEC 300
#define K8S_DEFAULT_REQUEST_TIMEOUT_USEC (30 * 1000000ULL)
#define K8S_DEFAULT_BACKOFF_MIN_USEC (200 * 1000ULL)
#define K8S_DEFAULT_BACKOFF_MAX_USEC (30 * 1000000ULL)

typedef struct k8s_watch_options {
        const char *label_selector;   /* "k=v,k2=v2" or NULL; copied */
        unsigned page_size;           /* list ?limit= */
        size_t max_objects;           /* cap on objects held; more is an error (-E2BIG) */
        size_t max_event_bytes;       /* cap on one watch event line */
        size_t max_page_bytes;        /* cap on one list page's body */
        unsigned watch_timeout_sec;   /* ?timeoutSeconds= of a watch; the stream is
                                         also cut client-side 30 s after that */
        uint64_t request_timeout_usec;/* one list page, and connecting for a watch */
        uint64_t backoff_min_usec;    /* first retry delay; doubles per failure ... */
        uint64_t backoff_max_usec;    /* ... up to this; each delay ±20% jitter */
} k8s_watch_options_t;

/* Starts keeping `path` (a collection: "/api/v1/namespaces",
 * "/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices", ...) in
 * sync; the first request is made from the loop, never inside this call.
 * `label_selector` may be NULL. -EINVAL for a path not starting with '/'. */
int k8s_watch_start(k8s_client_t *c, const char *path, const char *label_selector, k8s_watch_cb cb,
                    void *userdata, k8s_watch_t **ret);
/* Same with options (NULL = all defaults). */
int k8s_watch_start_with(k8s_client_t *c, const char *path, const k8s_watch_options_t *opts,
                         k8s_watch_cb cb, void *userdata, k8s_watch_t **ret);
/* Stops and frees; accepts NULL; allowed inside the watch's own callback. */
void k8s_watch_free(k8s_watch_t *w);

/* The objects held, as a json object: key "namespace/name" (cluster-scoped:
 * "name") -> the object. Borrowed, read-only; valid until the next event or
 * k8s_watch_free(). Suits the k8s_objects.h collection arguments. */
struct json_object *k8s_watch_objects(const k8s_watch_t *w);
size_t k8s_watch_count(const k8s_watch_t *w);
/* The first list has completed (stays true across relists). */
bool k8s_watch_synced(const k8s_watch_t *w);
/* Failed requests, bad events, caps hit: the
 * netcanary_kubernetes_watch_errors_total{resource} counter. */
uint64_t k8s_watch_errors(const k8s_watch_t *w);
/* The backoff delay chosen after the last failure (0 before any): for a
 * "retrying in ..." log line. */
uint64_t k8s_watch_retry_delay_usec(const k8s_watch_t *w);
/* Lists made after the first one (410 Gone, or a list that failed). */
uint64_t k8s_watch_relists(const k8s_watch_t *w);
/* The last error as one line ("GET /api/v1/namespaces: HTTP 403: ..."), or
 * NULL when none happened yet; valid until the next event. */
const char *k8s_watch_last_error(const k8s_watch_t *w);
/* -errno of the last error (0 = none): -EACCES (401/403), -ENOENT (404),
 * -E2BIG (a cap), -EPROTO (bad response), -ETIMEDOUT, -ECONNREFUSED, -EIO ... */
int k8s_watch_last_errno(const k8s_watch_t *w);
/* The resourceVersion the watch resumes from ("" before the first list). */
const char *k8s_watch_resource_version(const k8s_watch_t *w);
