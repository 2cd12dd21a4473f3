#include "resolver.h"

#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "aresloop.h"
#include "util.h"

struct resolver {
        loop_t *loop;
        aresloop_t *al;            /* the channel for names, driven by the loop */
};

struct resolve_req {
        resolver_t *resolver;
        uint16_t port;
        size_t max_addrs;
        resolve_cb cb;
        void *userdata;
        bool in_ares;               /* c-ares still owns a callback for this request */
        bool cancelled;
        loop_timer_t *deliver;      /* delivers the stored result on the next iteration */
        int status;
        struct sockaddr_storage *addrs;
        size_t n_addrs;
};

/* ---- c-ares driven by the loop ---- */

int resolver_new(loop_t *loop, resolver_t **ret) {
        resolver_t *r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;
        r->loop = loop;
        struct ares_options opts = {
                .timeout = 1000, /* ms per try; the probe's own deadline bounds the total */
                .tries = 2,
        };
        int err = aresloop_new(loop, &opts, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES, &r->al);
        if (err < 0) {
                free(r);
                return err;
        }
        *ret = r;
        return 0;
}

static void req_free(resolve_req_t *req) {
        loop_timer_free(req->deliver);
        free(req->addrs);
        free(req);
}

void resolver_free(resolver_t *r) {
        if (!r)
                return;
        aresloop_free(r->al); /* runs pending callbacks with ARES_EDESTRUCTION */
        free(r);
}

static void on_deliver(loop_timer_t *t, void *userdata) {
        resolve_req_t *req = userdata;
        resolve_cb cb = req->cb;
        void *ud = req->userdata;
        int status = req->status;
        struct sockaddr_storage *addrs = req->addrs;
        size_t n = req->n_addrs;
        req->addrs = NULL;
        req_free(req);
        cb(status, addrs, n, ud);
        free(addrs);
}

static void deliver_later(resolve_req_t *req) {
        loop_timer_arm(req->deliver, mono_usec());
}

static void on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *res) {
        resolve_req_t *req = arg;
        (void) timeouts;
        req->in_ares = false;
        if (req->cancelled || status == ARES_EDESTRUCTION) {
                if (res)
                        ares_freeaddrinfo(res);
                req_free(req);
                return;
        }
        req->status = aresloop_status_errno(status);
        if (status == ARES_SUCCESS && res) {
                size_t n = 0;
                for (struct ares_addrinfo_node *node = res->nodes; node; node = node->ai_next)
                        n++;
                if (n > req->max_addrs)
                        n = req->max_addrs;
                req->addrs = n ? calloc(n, sizeof *req->addrs) : NULL;
                if (n && !req->addrs)
                        req->status = -ENOMEM;
                for (struct ares_addrinfo_node *node = res->nodes; node && req->addrs && req->n_addrs < n;
                     node = node->ai_next) {
                        if (node->ai_family != AF_INET && node->ai_family != AF_INET6)
                                continue;
                        struct sockaddr_storage *ss = &req->addrs[req->n_addrs++];
                        memcpy(ss, node->ai_addr, (size_t) node->ai_addrlen);
                        if (ss->ss_family == AF_INET)
                                ((struct sockaddr_in *) ss)->sin_port = htons(req->port);
                        else
                                ((struct sockaddr_in6 *) ss)->sin6_port = htons(req->port);
                }
                if (req->status == 0 && req->n_addrs == 0)
                        req->status = -ENOENT;
        } else if (req->status == 0)
                req->status = -ENOENT;
        if (res)
                ares_freeaddrinfo(res);
        deliver_later(req);
}

int resolver_lookup(resolver_t *r, const char *host, uint16_t port, size_t max_addrs, resolve_cb cb,
                    void *userdata, resolve_req_t **ret) {
        resolve_req_t *req = calloc(1, sizeof *req);
        if (!req)
                return -ENOMEM;
        *req = (resolve_req_t) { .resolver = r, .port = port, .max_addrs = max_addrs ? max_addrs : 1,
                                 .cb = cb, .userdata = userdata };
        int err = loop_timer_new(r->loop, on_deliver, req, "resolve-deliver", &req->deliver);
        if (err < 0) {
                free(req);
                return err;
        }
        struct sockaddr_storage ss;
        socklen_t len;
        if (sockaddr_from_literal(host, port, &ss, &len) == 0) {
                req->addrs = malloc(sizeof ss);
                if (!req->addrs) {
                        req_free(req);
                        return -ENOMEM;
                }
                req->addrs[0] = ss;
                req->n_addrs = 1;
                deliver_later(req);
                *ret = req;
                return 0;
        }
        struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
        req->in_ares = true;
        *ret = req;
        /* May call on_addrinfo synchronously; it only stores and defers. */
        ares_getaddrinfo(aresloop_channel(r->al), host, NULL, &hints, on_addrinfo, req);
        aresloop_update(r->al);
        return 0;
}

void resolver_cancel(resolve_req_t *req) {
        if (!req)
                return;
        if (req->in_ares) {
                /* c-ares will still call back; on_addrinfo frees it then. */
                req->cancelled = true;
                return;
        }
        req_free(req);
}

void resolv_conf_done(resolv_conf_t *rc) {
        for (size_t i = 0; i < rc->n_search; i++)
                free(rc->search[i]);
        free(rc->search);
        free(rc->servers);
        *rc = (resolv_conf_t) { 0 };
}

int resolv_conf_read(resolv_conf_t *ret) {
        static bool library_ready;
        if (!library_ready) {
                if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
                        return -ENOMEM;
                library_ready = true;
        }
        ares_channel ch;
        struct ares_options opts;
        int optmask = 0;
        resolv_conf_t rc = { 0 };
        struct ares_addr_port_node *servers = NULL;
        int r = 0;
        if (ares_init(&ch) != ARES_SUCCESS)
                return -ENOMEM;
        if (ares_save_options(ch, &opts, &optmask) != ARES_SUCCESS) {
                ares_destroy_options(&opts); /* what it saved before failing */
                ares_destroy(ch);
                return -ENOMEM;
        }
        rc.ndots = (unsigned) opts.ndots;
        if (opts.ndomains > 0 && !(rc.search = calloc((size_t) opts.ndomains, sizeof *rc.search)))
                r = -ENOMEM;
        for (int i = 0; r == 0 && i < opts.ndomains; i++)
                if (!(rc.search[rc.n_search++] = strdup(opts.domains[i])))
                        r = -ENOMEM;
        if (r == 0 && ares_get_servers_ports(ch, &servers) != ARES_SUCCESS)
                r = -ENOMEM;
        size_t n = 0;
        for (struct ares_addr_port_node *s = servers; s; s = s->next)
                n++;
        if (r == 0 && n > 0 && !(rc.servers = calloc(n, sizeof *rc.servers)))
                r = -ENOMEM;
        for (struct ares_addr_port_node *s = servers; r == 0 && s; s = s->next) {
                struct sockaddr_storage *ss = &rc.servers[rc.n_servers];
                memset(ss, 0, sizeof *ss);
                uint16_t port = s->udp_port ? (uint16_t) s->udp_port : 53;
                if (s->family == AF_INET) {
                        struct sockaddr_in *in = (struct sockaddr_in *) ss;
                        in->sin_family = AF_INET;
                        in->sin_addr = s->addr.addr4;
                        in->sin_port = htons(port);
                } else if (s->family == AF_INET6) {
                        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ss;
                        in6->sin6_family = AF_INET6;
                        memcpy(&in6->sin6_addr, &s->addr.addr6, sizeof in6->sin6_addr);
                        in6->sin6_port = htons(port);
                } else
                        continue;
                rc.n_servers++;
        }
        ares_free_data(servers);
        ares_destroy_options(&opts);
        ares_destroy(ch);
        if (r < 0) {
                resolv_conf_done(&rc);
                return r;
        }
        *ret = rc;
        return 0;
}
