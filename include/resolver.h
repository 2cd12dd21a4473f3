/* Asynchronous name resolution through c-ares, driven by the loop (socket
 * state callback + one timer). Never blocks; getaddrinfo() is never called. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "loop.h"
#include "sockaddr.h"

typedef struct resolver resolver_t;
typedef struct resolve_req resolve_req_t;

/* status: 0 with n >= 1 addresses (port already set), or -errno:
 * -ENOENT (name does not exist / no address), -ETIMEDOUT, -ECONNREFUSED
 * (server refused), -EIO (server failure or bad answer), -ENOMEM.
 * `addrs` is only valid during the callback. */
typedef void (*resolve_cb)(int status, const struct sockaddr_storage *addrs, size_t n, void *userdata);

int resolver_new(loop_t *loop, resolver_t **ret);
void resolver_free(resolver_t *r);

/* Resolves `host` (a literal address answers at once, through the loop; the
 * callback never runs inside this call) to at most `max_addrs` addresses,
 * IPv4 and IPv6, with `port` set in each. */
int resolver_lookup(resolver_t *r, const char *host, uint16_t port, size_t max_addrs, resolve_cb cb,
                    void *userdata, resolve_req_t **ret);
/* The callback will not run; accepts NULL. */
void resolver_cancel(resolve_req_t *req);

/* What a pod's libc would use, read from /etc/resolv.conf (through c-ares,
 * which also honours LOCALDOMAIN and RES_OPTIONS). */
typedef struct resolv_conf {
        struct sockaddr_storage *servers; /* nameservers with their port */
        size_t n_servers;
        char **search;                    /* search domains */
        size_t n_search;
        unsigned ndots;
} resolv_conf_t;

int resolv_conf_read(resolv_conf_t *ret);
void resolv_conf_done(resolv_conf_t *rc);
