#include "k8s.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build-config.h"
#include "k8s_objects.h"
#include "util.h"

/* Bytes of an error response body kept for its Status message. */
#define ERROR_BODY_BYTES (64u * 1024)
/* Characters of a server-sent message kept in last_error. */
#define ERROR_MESSAGE_CHARS 300
/* Nesting json-c accepts in API responses (its default is 32). */
#define JSON_DEPTH 64
/* A watch ending sooner than this without any event is treated as a failure
 * (backoff), so a server that closes at once cannot make us spin. */
#define SHORT_WATCH_USEC (1 * USEC_PER_SEC)
/* Addresses of the server's name handed to curl. */
#define MAX_SERVER_ADDRS 4

struct k8s_client {
        loop_t *loop;
        curlloop_t *curl;
        resolver_t *resolver;
        char *server;                /* "https://host:port[/prefix]", no trailing '/' */
        char *host;                  /* without brackets */
        uint16_t port;
        bool host_is_literal;        /* no resolution needed */
        char *ca_file;               /* NULL: system CAs */
        char *token_file;            /* NULL: no Authorization */
        char *token;                 /* NULL until read */
        struct stat token_st;        /* of the token file when it was read */
        unsigned in_write_cb;        /* depth of curl write callbacks running */
        loop_timer_t *reaper;        /* frees watches released inside callbacks */
        k8s_watch_t *watches;        /* every watch, released ones included */
};

typedef enum request_kind {
        REQUEST_NONE,
        REQUEST_LIST,
        REQUEST_WATCH,
} request_kind_t;

struct k8s_watch {
        k8s_client_t *client;
        char *path;
        char *label_selector;        /* NULL: none */
        k8s_watch_options_t opts;    /* defaults filled in */
        k8s_watch_cb cb;
        void *userdata;

        struct json_object *objects; /* key -> object: what the consumer holds */
        struct json_object *listing; /* objects of the list in progress, or NULL */
        char *continue_token;        /* next page of the list in progress, or NULL */
        char *rv;                    /* resourceVersion to watch from; "" before a list */
        bool synced;                 /* a list completed once */
        bool want_list;              /* the next request lists (first page) */
        uint64_t lists_started;

        /* the request in flight */
        request_kind_t kind;
        curlloop_transfer_t t;      /* t.easy reused across requests */
        struct curl_slist *headers;
        struct curl_slist *resolve_list;
        resolve_req_t *resolve;
        char *url;
        long status;                 /* HTTP status, 0 before the first body byte */
        strbuf_t body;               /* list page, or an error response */
        strbuf_t line;               /* partial watch event line */
        json_tokener *tok;
        int abort_err;               /* why the write callback stopped the transfer */
        char *abort_msg;
        bool relist_requested;       /* a watch ERROR event with code 410 */
        bool retried_401;            /* the token was re-read after a 401 for this request */
        bool got_event;              /* this watch request delivered an event */
        uint64_t started_usec;
        char errbuf[CURL_ERROR_SIZE];

        loop_timer_t *timer;         /* starts the next request */
        unsigned failures;           /* consecutive; sets the backoff */
        uint64_t errors, relists;
        uint64_t retry_delay_usec;   /* the last backoff delay chosen */
        char *last_error;
        int last_errno;

        unsigned dispatching;        /* inside the consumer's callback */
        bool released;               /* k8s_watch_free() was called; reaped later */
        k8s_watch_t *prev, *next;
};

static const char *const event_names[_K8S_EVENT_MAX] = {
        [K8S_EVENT_ADDED] = "ADDED",
        [K8S_EVENT_MODIFIED] = "MODIFIED",
        [K8S_EVENT_DELETED] = "DELETED",
        [K8S_EVENT_SYNCED] = "SYNCED",
};

const char *k8s_event_name(k8s_event_t ev) {
        return ev >= 0 && ev < _K8S_EVENT_MAX ? event_names[ev] : "UNKNOWN";
}

/* ---- small helpers ---- */

static struct json_object *jget(struct json_object *o, const char *key) {
        struct json_object *v;
        if (!o || !json_object_is_type(o, json_type_object))
                return NULL;
        return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *jget_str(struct json_object *o, const char *key) {
        struct json_object *v = jget(o, key);
        return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* Parses exactly [data, data+len) as one JSON value (whitespace around it is
 * fine). NULL on any error. */
static struct json_object *parse_json(json_tokener *tok, const char *data, size_t len) {
        if (len > INT_MAX)
                return NULL;
        json_tokener_reset(tok);
        struct json_object *o = json_tokener_parse_ex(tok, data, (int) len);
        if (!o || json_tokener_get_error(tok) != json_tokener_success) {
                json_object_put(o);
                return NULL;
        }
        for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
                if (!isspace((unsigned char) data[i])) {
                        json_object_put(o);
                        return NULL;
                }
        return o;
}

static void sb_put_urlencoded(strbuf_t *sb, const char *s) {
        static const char hex[] = "0123456789ABCDEF";
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~')
                        sb_putc(sb, (char) *p);
                else {
                        char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
                        sb_append(sb, e, sizeof e);
                }
        }
}

/* ---- configuration ---- */

void k8s_config_done(k8s_config_t *cfg) {
        if (!cfg)
                return;
        free(cfg->server);
        free(cfg->ca_file);
        free(cfg->token_file);
        *cfg = (k8s_config_t) { 0 };
}

static char *path_join(const char *dir, const char *file) {
        char *p = NULL;
        if (asprintf(&p, "%s/%s", dir, file) < 0)
                return NULL;
        return p;
}

int k8s_config_in_cluster_from(const char *host, const char *port, const char *sa_dir, k8s_config_t *ret) {
        if (!host || !*host)
                return -ENXIO;
        if (!port || !*port)
                port = "443";
        char *end;
        errno = 0;
        long p = strtol(port, &end, 10);
        if (errno || *end || p < 1 || p > 65535)
                return -EINVAL;
        k8s_config_t cfg = { 0 };
        bool v6 = strchr(host, ':') != NULL;
        if (asprintf(&cfg.server, "https://%s%s%s:%ld", v6 ? "[" : "", host, v6 ? "]" : "", p) < 0) {
                cfg.server = NULL;
                return -ENOMEM;
        }
        cfg.ca_file = path_join(sa_dir, "ca.crt");
        cfg.token_file = path_join(sa_dir, "token");
        if (!cfg.ca_file || !cfg.token_file) {
                k8s_config_done(&cfg);
                return -ENOMEM;
        }
        *ret = cfg;
        return 0;
}

int k8s_config_in_cluster(k8s_config_t *ret) {
        return k8s_config_in_cluster_from(getenv("KUBERNETES_SERVICE_HOST"), getenv("KUBERNETES_SERVICE_PORT"),
                                          K8S_SERVICEACCOUNT_DIR, ret);
}

/* Splits "https://host[:port][/prefix]" into host (no brackets) and port.
 * -EINVAL when it is not such a URL. */
static int parse_server(const char *server, char **ret_host, uint16_t *ret_port) {
        CURLU *u = curl_url();
        char *scheme = NULL, *host = NULL, *port = NULL, *query = NULL, *user = NULL;
        int r = -EINVAL;
        if (!u)
                return -ENOMEM;
        if (curl_url_set(u, CURLUPART_URL, server, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || strcmp(scheme, "https") != 0 ||
            curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
                goto done;
        if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
            curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
                goto done;
        long p = strtol(port, NULL, 10);
        if (p < 1 || p > 65535 || !*host)
                goto done;
        size_t hl = strlen(host);
        char *h = hl >= 2 && host[0] == '[' ? strndup(host + 1, hl - 2) : strdup(host);
        if (!h) {
                r = -ENOMEM;
                goto done;
        }
        /* curl keeps an IPv6 zone id as "%25"; our resolution has no use for it. */
        *ret_host = h;
        *ret_port = (uint16_t) p;
        r = 0;
done:
        curl_free(scheme);
        curl_free(host);
        curl_free(port);
        curl_free(query);
        curl_free(user);
        curl_url_cleanup(u);
        return r;
}

static char *dup_relative(const char *base_dir, const char *p) {
        if (p[0] == '/' || !base_dir)
                return strdup(p);
        return path_join(base_dir, p);
}

int k8s_config_load(const char *path, k8s_config_t *ret, config_errors_t *errs) {
        char *text = NULL, *dir = NULL;
        size_t len = 0;
        struct json_object *root = NULL;
        k8s_config_t cfg = { 0 };
        size_t n_errs = errs->n + errs->n_dropped;
        int r = read_file_bounded(path, K8S_MAX_CONFIG_BYTES, &text, &len, NULL);
        if (r < 0 && r != -ENOMEM) {
                if (r == -EFBIG)
                        config_errors_add(errs, "%s: larger than %u bytes", path, (unsigned) K8S_MAX_CONFIG_BYTES);
                else
                        config_errors_add(errs, "%s: %s", path, strerror(-r));
                r = 0;  /* -EINVAL below, with the message */
                goto done;
        }
        if (r < 0)
                goto done;
        json_tokener *tok = json_tokener_new();
        if (!tok) {
                r = -ENOMEM;
                goto done;
        }
        root = parse_json(tok, text, len);
        json_tokener_free(tok);
        if (!root || !json_object_is_type(root, json_type_object)) {
                config_errors_add(errs, "%s: not a JSON object", path);
                goto done;
        }
        const char *slash = strrchr(path, '/');
        dir = slash ? strndup(path, slash == path ? 1 : (size_t) (slash - path)) : strdup(".");
        if (!dir) {
                r = -ENOMEM;
                goto done;
        }
        json_object_object_foreach(root, key, val) {
                char **dst = NULL;
                if (strcmp(key, "server") == 0)
                        dst = &cfg.server;
                else if (strcmp(key, "ca_file") == 0)
                        dst = &cfg.ca_file;
                else if (strcmp(key, "token_file") == 0)
                        dst = &cfg.token_file;
                else {
                        config_errors_add(errs, "%s: %s: unknown key", path, key);
                        continue;
                }
                if (!json_object_is_type(val, json_type_string) || json_object_get_string_len(val) == 0) {
                        config_errors_add(errs, "%s: %s: must be a non-empty string", path, key);
                        continue;
                }
                const char *s = json_object_get_string(val);
                *dst = dst == &cfg.server ? strdup(s) : dup_relative(dir, s);
                if (!*dst) {
                        r = -ENOMEM;
                        goto done;
                }
        }
        if (!cfg.server)
                config_errors_add(errs, "%s: server: missing", path);
        else {
                size_t sl = strlen(cfg.server);
                while (sl > 0 && cfg.server[sl - 1] == '/')
                        cfg.server[--sl] = '\0';
                char *host = NULL;
                uint16_t port;
                r = parse_server(cfg.server, &host, &port);
                free(host);
                if (r == -ENOMEM)
                        goto done;
                if (r < 0)
                        config_errors_add(errs, "%s: server: \"%s\" is not an https://HOST[:PORT] URL", path,
                                          cfg.server);
                r = 0;
        }
done:
        if (r >= 0 && errs->n + errs->n_dropped > n_errs)
                r = -EINVAL;
        if (r >= 0)
                *ret = cfg;
        else
                k8s_config_done(&cfg);
        json_object_put(root);
        free(text);
        free(dir);
        return r;
}

/* ---- the client ---- */

static void watch_destroy(k8s_watch_t *w);

static void on_reap(loop_timer_t *t, void *userdata) {
        k8s_client_t *c = userdata;
        k8s_watch_t *w = c->watches;
        while (w) {
                k8s_watch_t *next = w->next;
                if (w->released && w->dispatching == 0)
                        watch_destroy(w);
                w = next;
        }
}

int k8s_client_new(loop_t *loop, curlloop_t *curl, resolver_t *resolver, const k8s_config_t *cfg,
                   k8s_client_t **ret) {
        if (!cfg || !cfg->server)
                return -EINVAL;
        k8s_client_t *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->loop = loop;
        c->curl = curl;
        c->resolver = resolver;
        int r = -ENOMEM;
        c->server = strdup(cfg->server);
        if (!c->server)
                goto fail;
        size_t sl = strlen(c->server);
        while (sl > 0 && c->server[sl - 1] == '/')
                c->server[--sl] = '\0';
        r = parse_server(c->server, &c->host, &c->port);
        if (r < 0)
                goto fail;
        unsigned char buf[sizeof(struct in6_addr)];
        c->host_is_literal = inet_pton(AF_INET, c->host, buf) == 1 || inet_pton(AF_INET6, c->host, buf) == 1;
        r = -EINVAL;
        if (!c->host_is_literal && !resolver)
                goto fail;
        r = -ENOMEM;
        if (cfg->ca_file && !(c->ca_file = strdup(cfg->ca_file)))
                goto fail;
        if (cfg->token_file && !(c->token_file = strdup(cfg->token_file)))
                goto fail;
        r = loop_timer_new(loop, on_reap, c, "k8s-reap", &c->reaper);
        if (r < 0)
                goto fail;
        *ret = c;
        return 0;
fail:
        k8s_client_free(c);
        return r;
}

void k8s_client_free(k8s_client_t *c) {
        if (!c)
                return;
        while (c->watches)
                watch_destroy(c->watches);
        loop_timer_free(c->reaper);
        free(c->server);
        free(c->host);
        free(c->ca_file);
        free(c->token_file);
        free(c->token);
        free(c);
}

static bool same_file_state(const struct stat *a, const struct stat *b) {
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
               a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Makes c->token current: re-reads the token file when its inode, size or
 * mtime changed since the last read (a projected token is rotated by an
 * atomic symlink swap), or always with `force`. */
static int client_refresh_token(k8s_client_t *c, bool force) {
        if (!c->token_file)
                return 0;
        struct stat st;
        if (stat(c->token_file, &st) < 0)
                return -errno;
        if (!force && c->token && same_file_state(&st, &c->token_st))
                return 0;
        char *text = NULL;
        size_t len = 0;
        int r = read_file_bounded(c->token_file, K8S_MAX_TOKEN_BYTES, &text, &len, &st);
        if (r < 0)
                return r;
        size_t b = 0;
        while (b < len && isspace((unsigned char) text[b]))
                b++;
        while (len > b && isspace((unsigned char) text[len - 1]))
                len--;
        if (len == b) {
                free(text);
                return -ENODATA;
        }
        for (size_t i = b; i < len; i++)
                if ((unsigned char) text[i] < 0x21 || (unsigned char) text[i] > 0x7e) {
                        /* a header line cannot carry it */
                        free(text);
                        return -EBADMSG;
                }
        memmove(text, text + b, len - b);
        text[len - b] = '\0';
        free(c->token);
        c->token = text;
        c->token_st = st;
        return 0;
}

/* ---- the watch: errors and scheduling ---- */

static void clear_request_state(k8s_watch_t *w) {
        resolver_cancel(w->resolve);
        w->resolve = NULL;
        if (w->t.active)
                curlloop_remove(w->client->curl, &w->t);
        curl_slist_free_all(w->headers);
        w->headers = NULL;
        curl_slist_free_all(w->resolve_list);
        w->resolve_list = NULL;
        free(w->url);
        w->url = NULL;
        free(w->abort_msg);
        w->abort_msg = NULL;
        w->abort_err = 0;
        w->relist_requested = false;
        w->kind = REQUEST_NONE;
        sb_free(&w->body);
        sb_free(&w->line);
}

static void drop_listing(k8s_watch_t *w) {
        json_object_put(w->listing);
        w->listing = NULL;
        free(w->continue_token);
        w->continue_token = NULL;
}

/* Exponential backoff with ±20% jitter for the n-th consecutive failure (n >= 1). */
static uint64_t backoff_usec(const k8s_watch_t *w, unsigned n) {
        uint64_t d = w->opts.backoff_min_usec;
        for (unsigned i = 1; i < n && d < w->opts.backoff_max_usec; i++)
                d *= 2;
        if (d > w->opts.backoff_max_usec)
                d = w->opts.backoff_max_usec;
        uint64_t span = d / 5;
        return d - span + (span ? rand_u64() % (2 * span + 1) : 0);
}

static void schedule(k8s_watch_t *w, uint64_t delay_usec) {
        loop_timer_arm(w->timer, mono_usec() + delay_usec);
}

/* A failed request: counted, remembered, retried after the backoff. A list in
 * progress is dropped (the retry lists from the first page). */
static void fail(k8s_watch_t *w, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(k8s_watch_t *w, int err, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *msg = vasprintf_or_null(fmt, ap);
        va_end(ap);
        if (msg) {
                free(w->last_error);
                w->last_error = msg;
        }
        w->last_errno = err;
        w->errors++;
        w->failures++;
        w->retried_401 = false;
        if (w->kind == REQUEST_LIST || w->listing) {
                drop_listing(w);
                w->want_list = true;
        }
        clear_request_state(w);
        w->retry_delay_usec = backoff_usec(w, w->failures);
        schedule(w, w->retry_delay_usec);
}

/* Calls the consumer; -ECANCELED when it released the watch meanwhile. */
static int emit(k8s_watch_t *w, k8s_event_t ev, struct json_object *obj) {
        w->dispatching++;
        w->cb(w, ev, obj, w->userdata);
        w->dispatching--;
        return w->released ? -ECANCELED : 0;
}

static const char *request_name(const k8s_watch_t *w) {
        return w->kind == REQUEST_WATCH ? "watch" : "list";
}

static int status_errno(long status) {
        switch (status) {
        case 401:
        case 403:
                return -EACCES;
        case 404:
                return -ENOENT;
        case 410:
                return -ESTALE;
        case 429:
                return -EBUSY;
        default:
                return status >= 500 ? -EIO : -EPROTO;
        }
}

static int curl_errno(CURLcode rc) {
        switch (rc) {
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_COULDNT_CONNECT:
                return -ECONNREFUSED;
        case CURLE_COULDNT_RESOLVE_HOST:
                return -EHOSTUNREACH;
        case CURLE_PARTIAL_FILE:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_HTTP2_STREAM:
        case CURLE_HTTP2:
                return -ECONNRESET;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
                return -EPROTO;
        default:
                return -EIO;
        }
}

/* Fails the request with the HTTP status and the message of the Status
 * object the API server sends with it. */
static void fail_status(k8s_watch_t *w) {
        const char *message = NULL;
        struct json_object *st = NULL;
        if (w->body.len > 0 && w->tok)
                st = parse_json(w->tok, w->body.data, w->body.len);
        message = jget_str(st, "message");
        fail(w, status_errno(w->status), "%s %s: HTTP %ld%s%.*s", request_name(w), w->path, w->status,
             message ? ": " : "", ERROR_MESSAGE_CHARS, message ? message : "");
        json_object_put(st);
}

/* ---- the watch: applying objects ---- */

static int apply_object(k8s_watch_t *w, const char *type, struct json_object *obj);

/* Ends a list: the held objects become the listed ones; the consumer gets the
 * difference and SYNCED. */
static int finish_list(k8s_watch_t *w, const char *rv) {
        char *nrv = strdup(rv);
        if (!nrv)
                return -ENOMEM;
        free(w->rv);
        w->rv = nrv;
        struct json_object *old = w->objects;
        w->objects = w->listing;
        w->listing = NULL;
        free(w->continue_token);
        w->continue_token = NULL;
        w->want_list = false;
        w->failures = 0;
        int r = 0;
        json_object_object_foreach(old, okey, oval) {
                if (!jget(w->objects, okey) && (r = emit(w, K8S_EVENT_DELETED, oval)) < 0)
                        goto done;
        }
        json_object_object_foreach(w->objects, nkey, nval) {
                struct json_object *prev = jget(old, nkey);
                if (!prev)
                        r = emit(w, K8S_EVENT_ADDED, nval);
                else {
                        const char *a = k8s_object_resource_version(prev), *b = k8s_object_resource_version(nval);
                        if (!a || !b || strcmp(a, b) != 0)
                                r = emit(w, K8S_EVENT_MODIFIED, nval);
                }
                if (r < 0)
                        goto done;
        }
        w->synced = true;
        r = emit(w, K8S_EVENT_SYNCED, NULL);
done:
        json_object_put(old);
        return r;
}

/* One watch event's object (ADDED, MODIFIED, DELETED). Returns -E2BIG past
 * max_objects, -EPROTO for an object without a name, -ECANCELED when the
 * consumer released the watch. */
static int apply_object(k8s_watch_t *w, const char *type, struct json_object *obj) {
        char *key = NULL;
        int r = k8s_object_key(obj, &key);
        if (r < 0)
                return r == -ENOMEM ? r : -EPROTO;
        struct json_object *prev = jget(w->objects, key);
        const char *rv = k8s_object_resource_version(obj);
        char *nrv = NULL;
        if (rv && !(nrv = strdup(rv))) {
                free(key);
                return -ENOMEM;
        }
        if (!prev && strcmp(type, "DELETED") != 0 &&
            (size_t) json_object_object_length(w->objects) >= w->opts.max_objects) {
                /* Not applied, and the resume point stays before it. */
                free(nrv);
                free(key);
                return -E2BIG;
        }
        if (nrv) {
                free(w->rv);
                w->rv = nrv;
        }
        if (strcmp(type, "DELETED") == 0) {
                if (prev) {
                        json_object_object_del(w->objects, key);
                        r = emit(w, K8S_EVENT_DELETED, obj);
                }
        } else if (json_object_object_add(w->objects, key, json_object_get(obj)) < 0) {
                json_object_put(obj);
                r = -ENOMEM;
        } else
                r = emit(w, prev ? K8S_EVENT_MODIFIED : K8S_EVENT_ADDED, obj);
        free(key);
        return r;
}

/* Stops the transfer from inside the write callback; on_done sees why. */
static void abort_with(k8s_watch_t *w, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void abort_with(k8s_watch_t *w, int err, const char *fmt, ...) {
        if (w->abort_err)
                return;
        w->abort_err = err;
        va_list ap;
        va_start(ap, fmt);
        w->abort_msg = vasprintf_or_null(fmt, ap);
        va_end(ap);
}

/* One line of a watch stream. Returns < 0 to stop the stream (abort_err or
 * relist_requested set, or the watch released). */
static int handle_event_line(k8s_watch_t *w, const char *data, size_t len) {
        size_t i = 0;
        while (i < len && isspace((unsigned char) data[i]))
                i++;
        if (i == len)
                return 0;
        struct json_object *ev = parse_json(w->tok, data, len);
        const char *type = jget_str(ev, "type");
        struct json_object *obj = jget(ev, "object");
        int r = 0;
        if (!type || !obj || !json_object_is_type(obj, json_type_object)) {
                abort_with(w, -EPROTO, "watch %s: malformed event (%zu bytes)", w->path, len);
                r = -EPROTO;
        } else if (strcmp(type, "BOOKMARK") == 0) {
                const char *rv = k8s_object_resource_version(obj);
                char *nrv = rv ? strdup(rv) : NULL;
                if (nrv) {
                        free(w->rv);
                        w->rv = nrv;
                }
                w->got_event = true;
                w->failures = 0;
        } else if (strcmp(type, "ERROR") == 0) {
                struct json_object *code = jget(obj, "code");
                long c = code && json_object_is_type(code, json_type_int) ? (long) json_object_get_int64(code) : 0;
                const char *message = jget_str(obj, "message");
                if (c == 410)
                        w->relist_requested = true;
                else
                        abort_with(w, c ? status_errno(c) : -EPROTO, "watch %s: ERROR event %ld: %.*s", w->path,
                                   c, ERROR_MESSAGE_CHARS, message ? message : "");
                r = -ESTALE;
        } else if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0 || strcmp(type, "DELETED") == 0) {
                w->got_event = true;
                w->failures = 0;
                r = apply_object(w, type, obj);
                if (r == -E2BIG) {
                        /* Resuming would replay the same event: list again
                         * instead, which succeeds once the collection shrank. */
                        abort_with(w, r, "watch %s: more than %zu objects", w->path, w->opts.max_objects);
                        w->want_list = true;
                }
                else if (r == -EPROTO)
                        abort_with(w, r, "watch %s: %s event for an object without metadata.name", w->path, type);
                else if (r == -ENOMEM)
                        abort_with(w, r, "watch %s: out of memory", w->path);
        } else {
                abort_with(w, -EPROTO, "watch %s: unknown event type \"%.40s\"", w->path, type);
                r = -EPROTO;
        }
        json_object_put(ev);
        return r;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
        k8s_watch_t *w = userdata;
        size_t total = size * nmemb;
        if (w->released)
                return 0;
        if (w->status == 0) {
                long status = 0;
                curl_easy_getinfo(w->t.easy, CURLINFO_RESPONSE_CODE, &status);
                w->status = status;
        }
        if (w->status != 200 || w->kind == REQUEST_LIST) {
                if (w->status != 200) {
                        /* An error body: keep its beginning for the message. */
                        size_t room = w->body.len < ERROR_BODY_BYTES ? ERROR_BODY_BYTES - w->body.len : 0;
                        sb_append(&w->body, ptr, total < room ? total : room);
                        return total;
                }
                sb_append(&w->body, ptr, total);
                if (w->body.oom) {
                        abort_with(w, w->body.len + total > w->opts.max_page_bytes ? -E2BIG : -ENOMEM,
                                   "list %s: page larger than %zu bytes", w->path, w->opts.max_page_bytes);
                        return 0;
                }
                return total;
        }

        /* A watch stream: one event per line. */
        k8s_client_t *c = w->client;
        int r = 0;
        c->in_write_cb++;
        const char *p = ptr;
        size_t left = total;
        while (left > 0 && r >= 0) {
                const char *nl = memchr(p, '\n', left);
                size_t piece = nl ? (size_t) (nl - p) : left;
                if (w->line.len + piece > w->opts.max_event_bytes) {
                        abort_with(w, -E2BIG, "watch %s: event larger than %zu bytes", w->path,
                                   w->opts.max_event_bytes);
                        r = -E2BIG;
                        break;
                }
                if (!nl) {
                        sb_append(&w->line, p, piece);
                        if (w->line.oom) {
                                abort_with(w, -ENOMEM, "watch %s: out of memory", w->path);
                                r = -ENOMEM;
                        }
                        break;
                }
                if (w->line.len == 0)
                        r = handle_event_line(w, p, piece);
                else {
                        sb_append(&w->line, p, piece);
                        if (w->line.oom) {
                                abort_with(w, -ENOMEM, "watch %s: out of memory", w->path);
                                r = -ENOMEM;
                                break;
                        }
                        r = handle_event_line(w, w->line.data, w->line.len);
                        sb_reset(&w->line);
                }
                p = nl + 1;
                left -= piece + 1;
        }
        c->in_write_cb--;
        return r < 0 ? 0 : total;
}

/* ---- the watch: requests ---- */

static void request_start(k8s_watch_t *w);

static void on_timer(loop_timer_t *t, void *userdata) {
        k8s_watch_t *w = userdata;
        if (!w->released)
                request_start(w);
}

static void on_list_done(k8s_watch_t *w) {
        struct json_object *list = parse_json(w->tok, w->body.data ? w->body.data : "", w->body.len);
        struct json_object *items = jget(list, "items");
        struct json_object *meta = jget(list, "metadata");
        const char *rv = jget_str(meta, "resourceVersion");
        const char *cont = jget_str(meta, "continue");
        const char *list_kind = jget_str(list, "kind");
        const char *api_version = jget_str(list, "apiVersion");
        char *item_kind = NULL;
        if (!list || !json_object_is_type(items, json_type_array) || !rv) {
                fail(w, -EPROTO, "list %s: not a List with items and metadata.resourceVersion", w->path);
                goto done;
        }
        /* List items carry no kind/apiVersion; give them the ones watch events carry. */
        if (list_kind) {
                size_t kl = strlen(list_kind);
                if (kl > 4 && strcmp(list_kind + kl - 4, "List") == 0)
                        item_kind = strndup(list_kind, kl - 4);
        }
        if (!w->listing && !(w->listing = json_object_new_object())) {
                fail(w, -ENOMEM, "list %s: out of memory", w->path);
                goto done;
        }
        size_t n = json_object_array_length(items);
        for (size_t i = 0; i < n; i++) {
                struct json_object *obj = json_object_array_get_idx(items, i);
                char *key = NULL;
                int r = json_object_is_type(obj, json_type_object) ? k8s_object_key(obj, &key) : -EINVAL;
                if (r == -ENOMEM) {
                        fail(w, r, "list %s: out of memory", w->path);
                        goto done;
                }
                if (r < 0)
                        continue; /* nameless: nothing could refer to it */
                if (!jget(w->listing, key) &&
                    (size_t) json_object_object_length(w->listing) >= w->opts.max_objects) {
                        free(key);
                        fail(w, -E2BIG, "list %s: more than %zu objects", w->path, w->opts.max_objects);
                        goto done;
                }
                if (item_kind && !jget(obj, "kind"))
                        json_object_object_add(obj, "kind", json_object_new_string(item_kind));
                if (api_version && !jget(obj, "apiVersion"))
                        json_object_object_add(obj, "apiVersion", json_object_new_string(api_version));
                r = json_object_object_add(w->listing, key, json_object_get(obj));
                free(key);
                if (r < 0) {
                        json_object_put(obj);
                        fail(w, -ENOMEM, "list %s: out of memory", w->path);
                        goto done;
                }
        }
        if (cont && *cont) {
                char *nc = strdup(cont);
                if (!nc) {
                        fail(w, -ENOMEM, "list %s: out of memory", w->path);
                        goto done;
                }
                free(w->continue_token);
                w->continue_token = nc;
                clear_request_state(w);
                request_start(w);
                goto done;
        }
        clear_request_state(w);
        int r = finish_list(w, rv);
        if (r == -ECANCELED)
                goto done;
        if (r < 0) {
                fail(w, r, "list %s: out of memory", w->path);
                goto done;
        }
        request_start(w);
done:
        free(item_kind);
        json_object_put(list);
}

static void on_watch_end(k8s_watch_t *w) {
        /* A last event without its newline. */
        if (w->line.len > 0) {
                int r = handle_event_line(w, w->line.data, w->line.len);
                sb_reset(&w->line);
                if (r == -ECANCELED || w->released)
                        return;
        }
        if (w->abort_err) {
                fail(w, w->abort_err, "%s", w->abort_msg ? w->abort_msg : "watch: error");
                return;
        }
        bool relist = w->relist_requested, got_event = w->got_event;
        uint64_t lasted = mono_usec() - w->started_usec;
        clear_request_state(w);
        if (relist) {
                w->want_list = true;
                if (got_event)
                        schedule(w, 0);
                else
                        schedule(w, backoff_usec(w, ++w->failures));
                return;
        }
        if (!got_event && lasted < SHORT_WATCH_USEC) {
                fail(w, -ECONNRESET, "watch %s: closed after %" PRIu64 " ms without events", w->path,
                     (uint64_t) (lasted / USEC_PER_MSEC));
                return;
        }
        request_start(w);
}

static void on_done(curlloop_transfer_t *t, CURLcode rc) {
        k8s_watch_t *w = t->userdata;
        if (w->released)
                return;
        if (w->status == 0) {
                long status = 0;
                curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
                w->status = status;
        }
        bool aborted = rc == CURLE_WRITE_ERROR && (w->abort_err || w->relist_requested);
        if (w->status != 401)
                w->retried_401 = false;
        if (w->kind == REQUEST_WATCH && w->status == 200 && (rc == CURLE_OK || aborted)) {
                on_watch_end(w);
                return;
        }
        if (aborted && w->abort_err) {
                fail(w, w->abort_err, "%s", w->abort_msg ? w->abort_msg : "error");
                return;
        }
        if (rc != CURLE_OK) {
                const char *why = w->errbuf[0] ? w->errbuf : curl_easy_strerror(rc);
                fail(w, curl_errno(rc), "%s %s: %s", request_name(w), w->path, why);
                return;
        }
        if (w->status == 401 && !w->retried_401 && w->client->token_file) {
                /* The token may have rotated under an unchanged mtime: read it again, once. */
                int r = client_refresh_token(w->client, true);
                if (r < 0) {
                        fail(w, r, "token file %s: %s", w->client->token_file, strerror(-r));
                        return;
                }
                clear_request_state(w);
                w->retried_401 = true;
                request_start(w);
                return;
        }
        if (w->kind == REQUEST_WATCH && w->status == 410) {
                clear_request_state(w);
                w->want_list = true;
                schedule(w, backoff_usec(w, ++w->failures));
                return;
        }
        if (w->status != 200) {
                fail_status(w);
                return;
        }
        on_list_done(w);
}

/* Configures the easy handle for the prepared URL and hands it to curl. */
static void transfer_start(k8s_watch_t *w) {
        k8s_client_t *c = w->client;
        if (!w->t.easy) {
                w->t.easy = curl_easy_init();
                if (!w->t.easy) {
                        fail(w, -ENOMEM, "%s %s: out of memory", request_name(w), w->path);
                        return;
                }
        } else
                curl_easy_reset(w->t.easy);
        CURL *e = w->t.easy;
        struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
        w->headers = h;
        if (h && c->token) {
                char *auth = NULL;
                if (asprintf(&auth, "Authorization: Bearer %s", c->token) < 0)
                        auth = NULL;
                h = auth ? curl_slist_append(w->headers, auth) : NULL;
                free(auth);
                if (h)
                        w->headers = h;
        }
        if (!h) {
                fail(w, -ENOMEM, "%s %s: out of memory", request_name(w), w->path);
                return;
        }
        w->errbuf[0] = '\0';
        curl_easy_setopt(e, CURLOPT_URL, w->url);
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, w->headers);
        curl_easy_setopt(e, CURLOPT_USERAGENT, "netcanary/" NETCANARY_VERSION);
        curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, w->errbuf);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, w);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
        if (c->ca_file)
                curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
        curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
        curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
        long timeout_ms = (long) (w->opts.request_timeout_usec / USEC_PER_MSEC);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
        if (w->kind == REQUEST_WATCH)
                timeout_ms = ((long) w->opts.watch_timeout_sec + 30) * 1000L;
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
        if (w->resolve_list)
                curl_easy_setopt(e, CURLOPT_RESOLVE, w->resolve_list);
        w->t.done = on_done;
        w->t.userdata = w;
        w->status = 0;
        w->got_event = false;
        w->started_usec = mono_usec();
        sb_init(&w->body, w->kind == REQUEST_LIST ? w->opts.max_page_bytes : 0);
        sb_init(&w->line, 0);
        int r = curlloop_add(c->curl, &w->t);
        if (r < 0)
                fail(w, r, "%s %s: cannot start the transfer", request_name(w), w->path);
}

static void on_resolved(int status, const struct sockaddr_storage *addrs, size_t n, void *userdata) {
        k8s_watch_t *w = userdata;
        k8s_client_t *c = w->client;
        w->resolve = NULL;
        if (w->released)
                return;
        if (status < 0) {
                fail(w, status, "%s %s: resolving %s: %s", request_name(w), w->path, c->host, strerror(-status));
                return;
        }
        strbuf_t sb;
        sb_init(&sb, 0);
        sb_printf(&sb, "%s:%u:", c->host, (unsigned) c->port);
        for (size_t i = 0; i < n; i++) {
                char buf[INET6_ADDRSTRLEN];
                const struct sockaddr *sa = (const struct sockaddr *) &addrs[i];
                const void *bytes = sa->sa_family == AF_INET6
                                            ? (const void *) &((const struct sockaddr_in6 *) sa)->sin6_addr
                                            : (const void *) &((const struct sockaddr_in *) sa)->sin_addr;
                if (!inet_ntop(sa->sa_family, bytes, buf, sizeof buf))
                        continue;
                sb_printf(&sb, "%s%s%s%s", i ? "," : "", sa->sa_family == AF_INET6 ? "[" : "", buf,
                          sa->sa_family == AF_INET6 ? "]" : "");
        }
        struct curl_slist *l = sb.oom ? NULL : curl_slist_append(NULL, sb.data);
        sb_free(&sb);
        if (!l) {
                fail(w, -ENOMEM, "%s %s: out of memory", request_name(w), w->path);
                return;
        }
        w->resolve_list = l;
        transfer_start(w);
}

/* Starts the next request: a list page when a list is due or in progress,
 * otherwise a watch from w->rv. Never calls the consumer. */
static void request_start(k8s_watch_t *w) {
        k8s_client_t *c = w->client;
        loop_timer_disarm(w->timer);
        clear_request_state(w);
        bool list = w->want_list || w->continue_token;
        w->kind = list ? REQUEST_LIST : REQUEST_WATCH;
        if (list && !w->continue_token) {
                drop_listing(w);
                if (w->lists_started++ > 0 && !w->retried_401)
                        w->relists++;
        }

        strbuf_t sb;
        sb_init(&sb, 0);
        sb_puts(&sb, c->server);
        sb_puts(&sb, w->path);
        sb_putc(&sb, '?');
        if (w->label_selector) {
                sb_puts(&sb, "labelSelector=");
                sb_put_urlencoded(&sb, w->label_selector);
                sb_putc(&sb, '&');
        }
        if (list) {
                sb_printf(&sb, "limit=%u", w->opts.page_size);
                if (w->continue_token) {
                        sb_puts(&sb, "&continue=");
                        sb_put_urlencoded(&sb, w->continue_token);
                }
        } else {
                sb_puts(&sb, "watch=1&allowWatchBookmarks=true&resourceVersion=");
                sb_put_urlencoded(&sb, w->rv);
                sb_printf(&sb, "&timeoutSeconds=%u", w->opts.watch_timeout_sec);
        }
        if (sb.oom) {
                sb_free(&sb);
                fail(w, -ENOMEM, "%s %s: out of memory", request_name(w), w->path);
                return;
        }
        w->url = sb_steal(&sb, NULL);

        int r = client_refresh_token(c, false);
        if (r < 0) {
                fail(w, r, "token file %s: %s", c->token_file, strerror(-r));
                return;
        }
        if (c->host_is_literal) {
                transfer_start(w);
                return;
        }
        r = resolver_lookup(c->resolver, c->host, c->port, MAX_SERVER_ADDRS, on_resolved, w, &w->resolve);
        if (r < 0)
                fail(w, r, "%s %s: resolving %s: %s", request_name(w), w->path, c->host, strerror(-r));
}

/* ---- the watch: public ---- */

int k8s_watch_start(k8s_client_t *c, const char *path, const char *label_selector, k8s_watch_cb cb,
                    void *userdata, k8s_watch_t **ret) {
        k8s_watch_options_t opts = { .label_selector = label_selector };
        return k8s_watch_start_with(c, path, &opts, cb, userdata, ret);
}

int k8s_watch_start_with(k8s_client_t *c, const char *path, const k8s_watch_options_t *opts,
                         k8s_watch_cb cb, void *userdata, k8s_watch_t **ret) {
        if (!c || !path || path[0] != '/' || strchr(path, '?') || !cb)
                return -EINVAL;
        k8s_watch_t *w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->client = c;
        w->cb = cb;
        w->userdata = userdata;
        if (opts)
                w->opts = *opts;
        k8s_watch_options_t *o = &w->opts;
        o->label_selector = NULL;
        if (!o->page_size)
                o->page_size = K8S_DEFAULT_PAGE_SIZE;
        if (!o->max_objects)
                o->max_objects = K8S_DEFAULT_MAX_OBJECTS;
        if (!o->max_event_bytes)
                o->max_event_bytes = K8S_DEFAULT_MAX_EVENT_BYTES;
        if (!o->max_page_bytes)
                o->max_page_bytes = K8S_DEFAULT_MAX_PAGE_BYTES;
        if (!o->watch_timeout_sec)
                o->watch_timeout_sec = K8S_DEFAULT_WATCH_TIMEOUT_SEC;
        if (!o->request_timeout_usec)
                o->request_timeout_usec = K8S_DEFAULT_REQUEST_TIMEOUT_USEC;
        if (!o->backoff_min_usec)
                o->backoff_min_usec = K8S_DEFAULT_BACKOFF_MIN_USEC;
        if (!o->backoff_max_usec)
                o->backoff_max_usec = K8S_DEFAULT_BACKOFF_MAX_USEC;
        if (o->backoff_max_usec < o->backoff_min_usec)
                o->backoff_max_usec = o->backoff_min_usec;
        w->want_list = true;

        /* Linked first, so watch_destroy() can take any half-built watch. */
        w->next = c->watches;
        if (c->watches)
                c->watches->prev = w;
        c->watches = w;

        int r = -ENOMEM;
        w->path = strdup(path);
        w->rv = strdup("");
        w->objects = json_object_new_object();
        w->tok = json_tokener_new_ex(JSON_DEPTH);
        if (!w->path || !w->rv || !w->objects || !w->tok)
                goto fail;
        if (opts && opts->label_selector && !(w->label_selector = strdup(opts->label_selector)))
                goto fail;
        r = loop_timer_new(c->loop, on_timer, w, "k8s-watch", &w->timer);
        if (r < 0)
                goto fail;
        schedule(w, 0);
        *ret = w;
        return 0;
fail:
        watch_destroy(w);
        return r;
}

static void watch_destroy(k8s_watch_t *w) {
        k8s_client_t *c = w->client;
        clear_request_state(w);
        if (w->t.easy)
                curl_easy_cleanup(w->t.easy);
        loop_timer_free(w->timer);
        drop_listing(w);
        json_object_put(w->objects);
        if (w->tok)
                json_tokener_free(w->tok);
        free(w->path);
        free(w->label_selector);
        free(w->rv);
        free(w->last_error);
        if (w->prev)
                w->prev->next = w->next;
        else
                c->watches = w->next;
        if (w->next)
                w->next->prev = w->prev;
        free(w);
}

void k8s_watch_free(k8s_watch_t *w) {
        if (!w || w->released)
                return;
        k8s_client_t *c = w->client;
        if (w->dispatching || c->in_write_cb) {
                /* Inside a callback: curl may not be touched from here, and the
                 * caller's frames still use the watch. */
                w->released = true;
                loop_timer_disarm(w->timer);
                loop_timer_arm(c->reaper, mono_usec());
                return;
        }
        watch_destroy(w);
}

struct json_object *k8s_watch_objects(const k8s_watch_t *w) {
        return w->objects;
}

size_t k8s_watch_count(const k8s_watch_t *w) {
        return (size_t) json_object_object_length(w->objects);
}

bool k8s_watch_synced(const k8s_watch_t *w) {
        return w->synced;
}

uint64_t k8s_watch_errors(const k8s_watch_t *w) {
        return w->errors;
}

uint64_t k8s_watch_retry_delay_usec(const k8s_watch_t *w) {
        return w->retry_delay_usec;
}

uint64_t k8s_watch_relists(const k8s_watch_t *w) {
        return w->relists;
}

const char *k8s_watch_last_error(const k8s_watch_t *w) {
        return w->last_error;
}

int k8s_watch_last_errno(const k8s_watch_t *w) {
        return w->last_errno;
}

const char *k8s_watch_resource_version(const k8s_watch_t *w) {
        return w->rv;
}
