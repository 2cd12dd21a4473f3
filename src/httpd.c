#include "httpd.h"

#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <zlib.h>

#include "resolver.h"

#define HTTPD_MAX_CONNECTIONS 64u
#define HTTPD_CONNECTION_TIMEOUT_SEC 10u
#define HTTPD_REQUEST_MEMORY_BYTES (32u * 1024u) /* caps request line + headers */
#define HTTPD_GZIP_MIN_BYTES 512u

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

struct httpd {
        loop_t *loop;
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

static void deferred_free(httpd_deferred_t *d) {
        deferred_unlink(d);
        sb_free(&d->resp.body);
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

/* gzip-compresses `in`; returns a malloc'd buffer or NULL. */
static char *gzip_compress(const char *in, size_t len, size_t *ret_len) {
        z_stream zs = { 0 };
        if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
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

static enum MHD_Result queue(struct MHD_Connection *c, httpd_response_t *resp, bool gzip_ok) {
        size_t len = resp->body.len;
        char *body = sb_steal(&resp->body, NULL);
        bool gzipped = false;
        if (gzip_ok && body && len >= HTTPD_GZIP_MIN_BYTES) {
                size_t zlen;
                char *z = gzip_compress(body, len, &zlen);
                if (z) {
                        free(body);
                        body = z;
                        len = zlen;
                        gzipped = true;
                }
        }
        struct MHD_Response *r = body ? MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE)
                                      : MHD_create_response_from_buffer(0, (void *) "", MHD_RESPMEM_PERSISTENT);
        if (!r) {
                free(body);
                return MHD_NO;
        }
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

        /* A request body is never used: swallow it, answer once it is read. */
        if (*upload_data_size > 0) {
                *upload_data_size = 0;
                *con_cls = h;
                return MHD_YES;
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
                return;
        }
        if (!d->connection) {
                /* The connection went away meanwhile. */
                sb_free(&resp->body);
                deferred_free(d);
                return;
        }
        sb_free(&d->resp.body);
        d->resp = *resp;
        sb_init(&resp->body, 0);
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
        if (MHD_get_timeout(h->daemon, &ms) == MHD_YES)
                loop_timer_arm(h->timer, mono_usec() + (uint64_t) ms * USEC_PER_MSEC);
        else
                loop_timer_disarm(h->timer);
}

static void on_mhd_io(loop_io_t *io, int fd, uint32_t events, void *userdata) {
        httpd_t *h = userdata;
        MHD_run(h->daemon);
        update_timer(h);
}

static void on_mhd_timer(loop_timer_t *t, void *userdata) {
        httpd_t *h = userdata;
        MHD_run(h->daemon);
        update_timer(h);
}

int httpd_new(loop_t *loop, const char *listen_addr, httpd_t **ret) {
        struct sockaddr_storage ss;
        socklen_t len;
        if (sockaddr_parse_listen(listen_addr, &ss, &len) < 0)
                return -EINVAL;
        httpd_t *h = calloc(1, sizeof *h);
        if (!h)
                return -ENOMEM;
        h->loop = loop;
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

        h->daemon = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL,
                                     on_request, h,
                                     MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                                     MHD_OPTION_LISTEN_SOCKET, (MHD_socket) h->listen_fd,
                                     MHD_OPTION_CONNECTION_LIMIT, (unsigned) HTTPD_MAX_CONNECTIONS,
                                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) HTTPD_CONNECTION_TIMEOUT_SEC,
                                     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) HTTPD_REQUEST_MEMORY_BYTES,
                                     MHD_OPTION_END);
        if (!h->daemon) {
                r = -EIO;
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
