#include "httpd.h"

#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <gnutls/gnutls.h>
#include <zlib.h>

#include "sockaddr.h"

/* Connections at once, and from one client address. Past the total,
 * libmicrohttpd stops accepting (new clients wait in the listen backlog);
 * past the per-address cap it accepts and closes at once. One client (a pod
 * holding idle connections) so fills at most HTTPD_MAX_CONNECTIONS_PER_IP
 * slots and the kubelet's probes and Prometheus, which come from other
 * addresses, are still served. 32 per address covers 16 concurrent /probe
 * scrapes from one Prometheus beside /metrics, /healthz and a browser; 384 in
 * all (12 addresses' worth) leaves 640 of a 1024-fd RLIMIT_NOFILE to probes
 * and the daemon's own sockets (max_in_flight defaults to 256). */
#define HTTPD_MAX_CONNECTIONS 384u
#define HTTPD_MAX_CONNECTIONS_PER_IP 32u
/* Seconds without traffic before libmicrohttpd closes a connection: the
 * HEAD timeout until the line and headers of its first request are all in
 * (a client that connects and says nothing holds a slot 2 s), the
 * CONNECTION timeout from then on, through the answer and while kept alive
 * for the next request. Both count silence, not age: a client trickling its
 * head a byte at a time keeps its slot, within the per-address cap. */
#define HTTPD_HEAD_TIMEOUT_SEC 2u
#define HTTPD_CONNECTION_TIMEOUT_SEC 10u
/* A request line and its headers longer than this are refused (431). */
#define HTTPD_MAX_REQUEST_HEAD_BYTES (32u * 1024u)
/* libmicrohttpd's memory per connection: holds the request head (it refuses
 * heads that do not fit, above HTTPD_MAX_REQUEST_HEAD_BYTES on_request()
 * refuses them) and, once answering, the piece of a response being sent. 32
 * KiB would do for requests but sends a streamed /metrics in ~16 KiB pieces,
 * a loop iteration each; 128 KiB sends 64 KiB at a time. Pages are touched
 * only as used. */
#define HTTPD_CONNECTION_MEMORY_BYTES (128u * 1024u)
#define HTTPD_GZIP_MIN_BYTES 512u
/* A streamed body: plain bytes asked of fill() at a time, and MHD's block. */
#define HTTPD_STREAM_FILL_BYTES (64u * 1024u)
#define HTTPD_STREAM_BLOCK_BYTES (64u * 1024u)
/* bcrypt checks of unknown passwords per second: each costs milliseconds of
 * the loop, so guessing cannot stall probing. */
#define HTTPD_AUTH_CHECKS_PER_SEC 10u

typedef struct route {
        char *path;
        httpd_handler_cb cb;
        void *userdata;
} route_t;

struct httpd_deferred {
        httpd_t *httpd;
        struct MHD_Connection *connection;
        bool finished;             /* response stored; connection resumed */
        bool gzip_ok;
        httpd_response_t resp;
        httpd_deferred_t *prev, *next;
};

/* A password that passed bcrypt once, so scrapes do not pay it again. */
typedef struct auth_cache_entry {
        char *user;
        char *password;
} auth_cache_entry_t;

struct httpd {
        loop_t *loop;
        const webconfig_t *wc;      /* TLS and basic auth, or NULL */
        auth_cache_entry_t *auth_cache; /* one per configured user at most */
        size_t n_auth_cache;
        uint64_t auth_window_start; /* mono µs of the current rate-limit second */
        unsigned auth_checks;       /* bcrypt checks in that second */
        httpd_deferred_t *deferred; /* suspended connections */
        struct MHD_Daemon *daemon;
        int listen_fd;
        loop_io_t *io;
        loop_timer_t *timer;
        route_t *routes;
        size_t n_routes;
        uint16_t port;
};

struct httpd_request {
        httpd_t *httpd;
        struct MHD_Connection *connection;
        const char *path;
        const char *method;
        httpd_deferred_t **deferred; /* set when the handler defers */
};

static void deferred_unlink(httpd_deferred_t *d) {
        httpd_t *h = d->httpd;
        if (d->prev)
                d->prev->next = d->next;
        else if (h->deferred == d)
                h->deferred = d->next;
        if (d->next)
                d->next->prev = d->prev;
        d->prev = d->next = NULL;
}

static void stream_release(httpd_stream_t *st) {
        if (st->fill && st->done)
                st->done(st->state);
        *st = (httpd_stream_t) { 0 };
}

static void deferred_free(httpd_deferred_t *d) {
        deferred_unlink(d);
        sb_free(&d->resp.body);
        stream_release(&d->resp.stream);
        free(d);
}

httpd_deferred_t *httpd_request_defer(const httpd_request_t *req) {
        httpd_deferred_t *d = calloc(1, sizeof *d);
        if (!d)
                return NULL;
        d->httpd = req->httpd;
        d->connection = req->connection;
        sb_init(&d->resp.body, 0);
        d->next = req->httpd->deferred;
        if (d->next)
                d->next->prev = d;
        req->httpd->deferred = d;
        *req->deferred = d;
        return d;
}

const char *httpd_request_query(const httpd_request_t *req, const char *key) {
        return MHD_lookup_connection_value(req->connection, MHD_GET_ARGUMENT_KIND, key);
}

const char *httpd_request_header(const httpd_request_t *req, const char *name) {
        return MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, name);
}

/* True when Accept-Encoding lists gzip without q=0. */
static bool accepts_gzip(const char *accept) {
        if (!accept)
                return false;
        for (const char *p = accept; (p = strcasestr(p, "gzip")); p += 4) {
                bool start = p == accept || p[-1] == ' ' || p[-1] == ',';
                const char *end = p + 4;
                if (!start || (*end && *end != ',' && *end != ';' && *end != ' '))
                        continue;
                const char *q = end;
                while (*q == ' ')
                        q++;
                if (*q == ';') {
                        q++;
                        while (*q == ' ')
                                q++;
                        if (strncmp(q, "q=0", 3) == 0 && (q[3] == '\0' || q[3] == ',' ||
                                                         (q[3] == '.' && strspn(q + 4, "0") == strcspn(q + 4, ","))))
                                return false;
                }
                return true;
        }
        return false;
}

/* A gzip deflate stream at level 1: scrapes are frequent and their text
 * repetitive, the fastest level already shrinks them ~20x. */
static bool gzip_init(z_stream *zs) {
        *zs = (z_stream) { 0 };
        return deflateInit2(zs, 1, Z_DEFLATED, 15 + 16 /* gzip wrapper */, 8, Z_DEFAULT_STRATEGY) == Z_OK;
}

/* gzip-compresses `in`; returns a malloc'd buffer or NULL. */
static char *gzip_compress(const char *in, size_t len, size_t *ret_len) {
        z_stream zs;
        if (!gzip_init(&zs))
                return NULL;
        size_t bound = deflateBound(&zs, (uLong) len);
        char *out = malloc(bound);
        if (!out) {
                deflateEnd(&zs);
                return NULL;
        }
        zs.next_in = (Bytef *) (uintptr_t) in;
        zs.avail_in = (uInt) len;
        zs.next_out = (Bytef *) out;
        zs.avail_out = (uInt) bound;
        int rc = deflate(&zs, Z_FINISH);
        size_t produced = zs.total_out;
        deflateEnd(&zs);
        if (rc != Z_STREAM_END) {
                free(out);
                return NULL;
        }
        *ret_len = produced;
        return out;
}

/* ---- streamed bodies ---- */

typedef struct body_stream {
        httpd_stream_t src;
        bool gzip;                 /* deflating into `pending` */
        z_stream zs;               /* when gzip */
        strbuf_t plain;            /* one fill() of plain text, when gzip */
        strbuf_t pending;          /* bytes for MHD (plain or compressed) */
        size_t pending_off;        /* of those, already handed to MHD */
        bool src_done;             /* fill() said the end */
} body_stream_t;

/* Compresses `in` (Z_FINISH at the end) onto bs->pending. */
static int stream_deflate(body_stream_t *bs, const char *in, size_t len, bool last) {
        bs->zs.next_in = (Bytef *) (uintptr_t) in;
        bs->zs.avail_in = (uInt) len;
        int flush = last ? Z_FINISH : Z_NO_FLUSH;
        for (;;) {
                const size_t room = 32u * 1024u;
                if (sb_reserve(&bs->pending, room) < 0)
                        return -ENOMEM;
                bs->zs.next_out = (Bytef *) bs->pending.data + bs->pending.len;
                bs->zs.avail_out = (uInt) room;
                int rc = deflate(&bs->zs, flush);
                bs->pending.len += room - bs->zs.avail_out;
                bs->pending.data[bs->pending.len] = '\0';
                if (rc == Z_STREAM_ERROR)
                        return -EIO;
                if (last ? rc == Z_STREAM_END : bs->zs.avail_in == 0 && bs->zs.avail_out != 0)
                        return 0;
        }
}

/* Refills bs->pending once; -errno when the source or memory failed. */
static int stream_produce(body_stream_t *bs) {
        sb_reset(&bs->pending);
        bs->pending_off = 0;
        strbuf_t *into = bs->gzip ? &bs->plain : &bs->pending;
        sb_reset(into);
        int r = bs->src.fill(bs->src.state, into, HTTPD_STREAM_FILL_BYTES);
        if (r < 0)
                return r;
        if (into->oom)
                return -ENOMEM;
        bs->src_done = r == 0;
        if (bs->gzip)
                return stream_deflate(bs, bs->plain.data ? bs->plain.data : "", bs->plain.len, bs->src_done);
        return 0;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
        body_stream_t *bs = cls;
        while (bs->pending_off == bs->pending.len && !bs->src_done)
                if (stream_produce(bs) < 0)
                        return MHD_CONTENT_READER_END_WITH_ERROR;
        size_t n = bs->pending.len - bs->pending_off;
        if (n == 0)
                return MHD_CONTENT_READER_END_OF_STREAM;
        if (n > max)
                n = max;
        memcpy(buf, bs->pending.data + bs->pending_off, n);
        bs->pending_off += n;
        return (ssize_t) n;
}

static void stream_free(void *cls) {
        body_stream_t *bs = cls;
        if (bs->gzip)
                deflateEnd(&bs->zs);
        sb_free(&bs->plain);
        sb_free(&bs->pending);
        stream_release(&bs->src);
        free(bs);
}

/* An MHD response reading from `st`, which it takes: its done() runs when
 * MHD lets go of the response, or here on failure. *ret_gzip says whether
 * the body is gzipped (asked for with `gzip`, and deflate could start). */
static struct MHD_Response *stream_response(httpd_stream_t *st, bool gzip, bool *ret_gzip) {
        body_stream_t *bs = calloc(1, sizeof *bs);
        if (!bs) {
                stream_release(st);
                return NULL;
        }
        bs->src = *st;
        *st = (httpd_stream_t) { 0 };
        sb_init(&bs->plain, 0);
        sb_init(&bs->pending, 0);
        bs->gzip = gzip && gzip_init(&bs->zs);
        *ret_gzip = bs->gzip;
        struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, HTTPD_STREAM_BLOCK_BYTES,
                                                                   stream_read, bs, stream_free);
        if (!r)
                stream_free(bs);
        return r;
}

/* An MHD response holding resp->body (taken), gzipped when `gzip_ok` and
 * worth it. */
static struct MHD_Response *buffer_response(httpd_response_t *resp, bool gzip_ok, bool *ret_gzip) {
        size_t len = resp->body.len;
        char *body = sb_steal(&resp->body, NULL);
        *ret_gzip = false;
        if (gzip_ok && body && len >= HTTPD_GZIP_MIN_BYTES) {
                size_t zlen;
                char *z = gzip_compress(body, len, &zlen);
                if (z) {
                        free(body);
                        body = z;
                        len = zlen;
                        *ret_gzip = true;
                }
        }
        struct MHD_Response *r = body ? MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE)
                                      : MHD_create_response_from_buffer(0, (void *) "", MHD_RESPMEM_PERSISTENT);
        if (!r)
                free(body);
        return r;
}

static enum MHD_Result queue(struct MHD_Connection *c, httpd_response_t *resp, bool gzip_ok) {
        bool gzipped = false;
        struct MHD_Response *r;
        if (resp->stream.fill) {
                sb_free(&resp->body);
                r = stream_response(&resp->stream, gzip_ok, &gzipped);
        } else
                r = buffer_response(resp, gzip_ok, &gzipped);
        if (!r)
                return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        if (gzip_ok)
                MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
        if (gzipped)
                MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
        for (size_t i = 0; i < resp->n_headers && i < HTTPD_MAX_EXTRA_HEADERS; i++)
                MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value);
        if (resp->status == MHD_HTTP_METHOD_NOT_ALLOWED)
                MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        enum MHD_Result ret = MHD_queue_response(c, resp->status, r);
        MHD_destroy_response(r);
        return ret;
}

static bool const_time_equal(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        unsigned char diff = la != lb;
        for (size_t i = 0; i < la && i < lb; i++)
                diff |= (unsigned char) (a[i] ^ b[i]);
        return diff == 0;
}

static bool password_ok(httpd_t *h, const char *user, const char *password) {
        for (size_t i = 0; i < h->n_auth_cache; i++)
                if (strcmp(h->auth_cache[i].user, user) == 0 && const_time_equal(h->auth_cache[i].password, password))
                        return true;
        uint64_t now = mono_usec();
        if (now - h->auth_window_start >= USEC_PER_SEC) {
                h->auth_window_start = now;
                h->auth_checks = 0;
        }
        if (h->auth_checks++ >= HTTPD_AUTH_CHECKS_PER_SEC)
                return false;
        if (!webconfig_check_password(h->wc, user, password))
                return false;
        /* Remember it (replacing this user's previous password). */
        size_t i;
        for (i = 0; i < h->n_auth_cache; i++)
                if (strcmp(h->auth_cache[i].user, user) == 0)
                        break;
        if (i == h->n_auth_cache) {
                auth_cache_entry_t *c = realloc(h->auth_cache, (h->n_auth_cache + 1) * sizeof *c);
                if (!c)
                        return true;
                h->auth_cache = c;
                c[i] = (auth_cache_entry_t) { .user = strdup(user) };
                if (!c[i].user)
                        return true;
                h->n_auth_cache++;
        }
        char *copy = strdup(password);
        if (copy) {
                if (h->auth_cache[i].password) {
                        explicit_bzero(h->auth_cache[i].password, strlen(h->auth_cache[i].password));
                        free(h->auth_cache[i].password);
                }
                h->auth_cache[i].password = copy;
        }
        return true;
}

/* Client certificate and basic auth. Returns true to go on; otherwise fills
 * `resp` (403) or queues the 401 challenge itself (*ret_queued). */
static bool authorize(httpd_t *h, struct MHD_Connection *c, httpd_response_t *resp, enum MHD_Result *ret_queued) {
        const webconfig_t *wc = h->wc;
        if (!wc)
                return true;
        if (wc->client_auth != WEB_CLIENT_AUTH_NONE) {
                const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
                gnutls_session_t session = ci ? (gnutls_session_t) ci->tls_session : NULL;
                unsigned n = 0;
                const gnutls_datum_t *certs = session ? gnutls_certificate_get_peers(session, &n) : NULL;
                if (!certs || n == 0) {
                        if (wc->client_auth == WEB_CLIENT_AUTH_REQUIRE) {
                                resp->status = MHD_HTTP_FORBIDDEN;
                                sb_puts(&resp->body, "client certificate required\n");
                                return false;
                        }
                } else {
                        unsigned status = 0;
                        if (gnutls_certificate_verify_peers2(session, &status) < 0 || status != 0) {
                                resp->status = MHD_HTTP_FORBIDDEN;
                                sb_puts(&resp->body, "client certificate not trusted\n");
                                return false;
                        }
                }
        }
        if (wc->n_users == 0)
                return true;
        char *password = NULL;
        char *user = MHD_basic_auth_get_username_password(c, &password);
        bool ok = user && password && password_ok(h, user, password);
        if (password) {
                explicit_bzero(password, strlen(password));
                MHD_free(password);
        }
        MHD_free(user);
        if (ok)
                return true;
        static const char body[] = "unauthorized\n";
        struct MHD_Response *r = MHD_create_response_from_buffer(sizeof body - 1, (void *) body, MHD_RESPMEM_PERSISTENT);
        if (!r) {
                *ret_queued = MHD_NO;
                return false;
        }
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
        *ret_queued = MHD_queue_basic_auth_fail_response(c, "netcanary", r);
        MHD_destroy_response(r);
        return false;
}

static enum MHD_Result add_pair_bytes(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
        size_t *total = cls;
        *total += (key ? strlen(key) : 0) + (value ? strlen(value) : 0) + 4; /* ": " or "=&", CRLF */
        return MHD_YES;
}

/* About the size of the request line and headers as sent (the query string
 * is counted from its parsed arguments). */
static size_t request_head_bytes(struct MHD_Connection *c, const char *url, const char *method) {
        size_t total = strlen(url) + strlen(method) + 16; /* spaces, "HTTP/1.1", CRLF */
        (void) MHD_get_connection_values(c, MHD_HEADER_KIND, add_pair_bytes, &total);
        (void) MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_pair_bytes, &total);
        return total;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        httpd_t *h = cls;
        httpd_response_t resp = { .status = MHD_HTTP_OK, .content_type = "text/plain; charset=utf-8" };
        sb_init(&resp.body, 0);

        if (*con_cls && *con_cls != h) {
                /* A deferred answer, resumed: queue it. */
                httpd_deferred_t *d = *con_cls;
                *con_cls = NULL;
                enum MHD_Result ret = queue(c, &d->resp, d->gzip_ok);
                deferred_free(d);
                return ret;
        }

        /* First call for a request: only the headers are in. Queuing now would
         * be an "early response", after which libmicrohttpd closes the
         * connection (no keep-alive, every scrape a new TCP connection): fine
         * for a head too large to serve. */
        if (!*con_cls && request_head_bytes(c, url, method) > HTTPD_MAX_REQUEST_HEAD_BYTES) {
                resp.status = MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE;
                sb_puts(&resp.body, "request line and headers exceed 32 KiB\n");
                return queue(c, &resp, false);
        }
        if (!*con_cls) {
                /* A whole request head is in: from here on the connection
                 * gets the longer timeout (the daemon's default is the short
                 * one for heads). */
                (void) MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT,
                                                 (unsigned) HTTPD_CONNECTION_TIMEOUT_SEC);
                *con_cls = h;
                sb_free(&resp.body);
                return MHD_YES;
        }
        /* A request body is never used: swallow it, answer once it is read. */
        if (*upload_data_size > 0) {
                *upload_data_size = 0;
                *con_cls = h;
                return MHD_YES;
        }
        enum MHD_Result queued = MHD_YES;
        if (!authorize(h, c, &resp, &queued)) {
                if (resp.status != MHD_HTTP_OK)
                        return queue(c, &resp, false); /* 403 */
                sb_free(&resp.body);
                return queued;                         /* the 401 challenge, queued by authorize() */
        }
        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
                resp.status = MHD_HTTP_METHOD_NOT_ALLOWED;
                sb_puts(&resp.body, "method not allowed: only GET and HEAD\n");
                return queue(c, &resp, false);
        }
        const route_t *route = NULL;
        for (size_t i = 0; i < h->n_routes; i++)
                if (strcmp(h->routes[i].path, url) == 0)
                        route = &h->routes[i];
        if (!route) {
                resp.status = MHD_HTTP_NOT_FOUND;
                sb_puts(&resp.body, "not found\n");
                return queue(c, &resp, false);
        }
        httpd_deferred_t *deferred = NULL;
        httpd_request_t req = { .httpd = h, .connection = c, .path = url, .method = method, .deferred = &deferred };
        route->cb(&req, &resp, route->userdata);
        if (deferred) {
                sb_free(&resp.body);
                deferred->gzip_ok = accepts_gzip(httpd_request_header(&req, MHD_HTTP_HEADER_ACCEPT_ENCODING));
                *con_cls = deferred;
                MHD_suspend_connection(c);
                return MHD_YES;
        }
        if (resp.body.oom) {
                sb_free(&resp.body);
                resp.status = MHD_HTTP_SERVICE_UNAVAILABLE;
                resp.content_type = "text/plain; charset=utf-8";
                sb_puts(&resp.body, "out of memory\n");
        }
        return queue(c, &resp, accepts_gzip(httpd_request_header(&req, MHD_HTTP_HEADER_ACCEPT_ENCODING)));
}

static void update_timer(httpd_t *h);

void httpd_deferred_finish(httpd_deferred_t *d, httpd_response_t *resp) {
        if (!d || d->finished) {
                sb_free(&resp->body);
                stream_release(&resp->stream);
                return;
        }
        if (!d->connection) {
                /* The connection went away meanwhile. */
                sb_free(&resp->body);
                stream_release(&resp->stream);
                deferred_free(d);
                return;
        }
        sb_free(&d->resp.body);
        stream_release(&d->resp.stream);
        d->resp = *resp;
        sb_init(&resp->body, 0);
        resp->stream = (httpd_stream_t) { 0 };
        d->finished = true;
        MHD_resume_connection(d->connection);
        /* MHD picks the connection up on its next run. */
        loop_timer_arm(d->httpd->timer, mono_usec());
}

/* A connection ended: drop a deferral that never got to answer. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
        httpd_t *h = cls;
        if (*con_cls && *con_cls != h) {
                httpd_deferred_t *d = *con_cls;
                if (d->finished)
                        deferred_free(d);
                else {
                        /* Still owned by its handler; it will finish into nothing. */
                        d->connection = NULL;
                }
                *con_cls = NULL;
        }
}

static void update_timer(httpd_t *h) {
        MHD_UNSIGNED_LONG_LONG ms;
        /* At most 1 s without MHD_run(): after accept() failed with EMFILE,
         * libmicrohttpd takes its listening socket out of its epoll set and
         * puts it back only from inside MHD_run(), which nothing would call
         * once its connections are gone. */
        uint64_t wait = USEC_PER_SEC;
        if (MHD_get_timeout(h->daemon, &ms) == MHD_YES && (uint64_t) ms * USEC_PER_MSEC < wait)
                wait = (uint64_t) ms * USEC_PER_MSEC;
        loop_timer_arm(h->timer, mono_usec() + wait);
}

static unsigned n_connections(httpd_t *h) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        return info ? info->num_connections : 0;
}

/* One MHD_run(). At HTTPD_MAX_CONNECTIONS libmicrohttpd takes its listening
 * socket out of its epoll set and puts it back only at the start of a later
 * run: when this run freed slots, the next loop iteration runs it again, so
 * clients waiting in the backlog are accepted now rather than when the
 * timer (up to 1 s away) fires. */
static void run_mhd(httpd_t *h) {
        bool full = n_connections(h) >= HTTPD_MAX_CONNECTIONS;
        MHD_run(h->daemon);
        if (full && n_connections(h) < HTTPD_MAX_CONNECTIONS)
                loop_timer_arm(h->timer, mono_usec());
        else
                update_timer(h);
}

static void on_mhd_io(loop_io_t *io, int fd, uint32_t events, void *userdata) {
        run_mhd(userdata);
}

static void on_mhd_timer(loop_timer_t *t, void *userdata) {
        run_mhd(userdata);
}

int httpd_new(loop_t *loop, const char *listen_addr, httpd_t **ret) {
        return httpd_new_secure(loop, listen_addr, NULL, ret);
}

int httpd_new_secure(loop_t *loop, const char *listen_addr, const webconfig_t *wc, httpd_t **ret) {
        struct sockaddr_storage ss;
        socklen_t len;
        if (sockaddr_parse_listen(listen_addr, &ss, &len) < 0)
                return -EINVAL;
        httpd_t *h = calloc(1, sizeof *h);
        if (!h)
                return -ENOMEM;
        h->loop = loop;
        h->wc = wc;
        h->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int r;
        if (h->listen_fd < 0) {
                r = -errno;
                goto fail;
        }
        int one = 1, zero = 0;
        (void) setsockopt(h->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ss.ss_family == AF_INET6)
                (void) setsockopt(h->listen_fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        if (bind(h->listen_fd, (struct sockaddr *) &ss, len) < 0 || listen(h->listen_fd, 128) < 0) {
                r = -errno;
                goto fail;
        }
        struct sockaddr_storage bound;
        socklen_t bound_len = sizeof bound;
        if (getsockname(h->listen_fd, (struct sockaddr *) &bound, &bound_len) == 0)
                h->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *) &bound)->sin6_port
                                                            : ((struct sockaddr_in *) &bound)->sin_port);

        /* TLS options go through the array form so they can be left out. */
        struct MHD_OptionItem tls_options[4] = { { MHD_OPTION_END, 0, NULL } };
        size_t n_tls = 0;
        unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
        if (wc && wc->cert_pem) {
                flags |= MHD_USE_TLS;
                tls_options[n_tls++] = (struct MHD_OptionItem) { MHD_OPTION_HTTPS_MEM_KEY, 0, wc->key_pem };
                tls_options[n_tls++] = (struct MHD_OptionItem) { MHD_OPTION_HTTPS_MEM_CERT, 0, wc->cert_pem };
                if (wc->client_ca_pem)
                        tls_options[n_tls++] = (struct MHD_OptionItem) { MHD_OPTION_HTTPS_MEM_TRUST, 0,
                                                                         wc->client_ca_pem };
                tls_options[n_tls] = (struct MHD_OptionItem) { MHD_OPTION_END, 0, NULL };
        }
        h->daemon = MHD_start_daemon(flags, 0, NULL, NULL,
                                     on_request, h,
                                     MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                                     MHD_OPTION_LISTEN_SOCKET, (MHD_socket) h->listen_fd,
                                     MHD_OPTION_CONNECTION_LIMIT, (unsigned) HTTPD_MAX_CONNECTIONS,
                                     MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned) HTTPD_MAX_CONNECTIONS_PER_IP,
                                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) HTTPD_HEAD_TIMEOUT_SEC,
                                     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) HTTPD_CONNECTION_MEMORY_BYTES,
                                     MHD_OPTION_ARRAY, tls_options,
                                     MHD_OPTION_END);
        if (!h->daemon) {
                /* With our own listening socket, a refusal is the TLS material. */
                r = wc && wc->cert_pem ? -EINVAL : -EIO;
                goto fail;
        }
        h->listen_fd = -1; /* MHD owns and closes it from here on */
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info) {
                r = -EIO;
                goto fail;
        }
        r = loop_timer_new(loop, on_mhd_timer, h, "httpd-timeout", &h->timer);
        if (r < 0)
                goto fail;
        r = loop_io_add(loop, info->epoll_fd, EPOLLIN, on_mhd_io, h, "httpd", &h->io);
        if (r < 0)
                goto fail;
        *ret = h;
        return 0;
fail:
        httpd_free(h);
        return r;
}

void httpd_free(httpd_t *h) {
        if (!h)
                return;
        /* MHD requires suspended connections to be resumed before it stops. */
        for (httpd_deferred_t *d = h->deferred; d; d = d->next)
                if (!d->finished && d->connection) {
                        httpd_response_t resp = { .status = 503, .content_type = "text/plain; charset=utf-8" };
                        sb_init(&resp.body, 0);
                        sb_puts(&resp.body, "shutting down\n");
                        httpd_deferred_finish(d, &resp);
                }
        loop_io_remove(h->io);
        loop_timer_free(h->timer);
        h->timer = NULL;
        if (h->daemon)
                MHD_stop_daemon(h->daemon);
        while (h->deferred)
                deferred_free(h->deferred);
        if (h->listen_fd >= 0)
                close(h->listen_fd);
        for (size_t i = 0; i < h->n_routes; i++)
                free(h->routes[i].path);
        free(h->routes);
        for (size_t i = 0; i < h->n_auth_cache; i++) {
                free(h->auth_cache[i].user);
                if (h->auth_cache[i].password) {
                        explicit_bzero(h->auth_cache[i].password, strlen(h->auth_cache[i].password));
                        free(h->auth_cache[i].password);
                }
        }
        free(h->auth_cache);
        free(h);
}

int httpd_route(httpd_t *h, const char *path, httpd_handler_cb cb, void *userdata) {
        route_t *routes = realloc(h->routes, (h->n_routes + 1) * sizeof *routes);
        if (!routes)
                return -ENOMEM;
        h->routes = routes;
        char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        routes[h->n_routes++] = (route_t) { .path = p, .cb = cb, .userdata = userdata };
        return 0;
}

uint16_t httpd_port(const httpd_t *h) {
        return h->port;
}
