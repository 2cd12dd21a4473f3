/* Socket addresses: parsing and formatting, pure (no I/O, no allocation). */
#include "sockaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

socklen_t sockaddr_len(const struct sockaddr *sa) {
        return sa->sa_family == AF_INET6 ? (socklen_t) sizeof(struct sockaddr_in6)
                                         : (socklen_t) sizeof(struct sockaddr_in);
}

int sockaddr_from_literal(const char *host, uint16_t port, struct sockaddr_storage *ret, socklen_t *ret_len) {
        char buf[INET6_ADDRSTRLEN + 2];
        size_t n = strlen(host);
        if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
                if (n - 2 >= sizeof buf)
                        return -EINVAL;
                memcpy(buf, host + 1, n - 2);
                buf[n - 2] = '\0';
                host = buf;
        }
        memset(ret, 0, sizeof *ret);
        struct sockaddr_in *in = (struct sockaddr_in *) ret;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ret;
        if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
                in->sin_family = AF_INET;
                in->sin_port = htons(port);
                *ret_len = sizeof *in;
                return 0;
        }
        if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons(port);
                *ret_len = sizeof *in6;
                return 0;
        }
        return -EINVAL;
}

void sockaddr_format(const struct sockaddr *sa, char *buf, size_t size) {
        char ip[INET6_ADDRSTRLEN];
        if (sa->sa_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) sa;
                inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
                snprintf(buf, size, "%s:%u", ip, ntohs(in->sin_port));
        } else if (sa->sa_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;
                inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
                snprintf(buf, size, "[%s]:%u", ip, ntohs(in6->sin6_port));
        } else
                snprintf(buf, size, "<family %d>", sa->sa_family);
}

/* Splits "HOST:PORT" / "[V6]:PORT"; *ret_port is NULL when there is no port. */
static int split_host_port(const char *s, char *host, size_t host_size, const char **ret_port) {
        const char *port = NULL;
        size_t host_len;
        if (s[0] == '[') {
                const char *close = strchr(s, ']');
                if (!close)
                        return -EINVAL;
                host_len = (size_t) (close - s - 1);
                s++;
                if (close[1] == ':')
                        port = close + 2;
                else if (close[1] != '\0')
                        return -EINVAL;
        } else {
                const char *colon = strrchr(s, ':');
                /* More than one colon without brackets: a bare IPv6 address. */
                if (colon && strchr(s, ':') == colon) {
                        host_len = (size_t) (colon - s);
                        port = colon + 1;
                } else
                        host_len = strlen(s);
        }
        if (host_len >= host_size)
                return -EINVAL;
        memcpy(host, s, host_len);
        host[host_len] = '\0';
        *ret_port = port;
        return 0;
}

static int parse_port(const char *s, bool allow_zero, uint16_t *ret) {
        if (!s || !*s || strlen(s) > 5)
                return -EINVAL;
        unsigned v = 0;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                v = v * 10 + (unsigned) (*p - '0');
        }
        if (v > 65535 || (v == 0 && !allow_zero))
                return -EINVAL;
        *ret = (uint16_t) v;
        return 0;
}

int sockaddr_parse_listen(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len) {
        char host[INET6_ADDRSTRLEN + 1];
        const char *port_str;
        uint16_t port;
        if (!s || split_host_port(s, host, sizeof host, &port_str) < 0 || parse_port(port_str, true, &port) < 0)
                return -EINVAL;
        if (host[0] == '\0') {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ret;
                memset(ret, 0, sizeof *ret);
                in6->sin6_family = AF_INET6;
                in6->sin6_addr = in6addr_any;
                in6->sin6_port = htons(port);
                *ret_len = sizeof *in6;
                return 0;
        }
        return sockaddr_from_literal(host, port, ret, ret_len);
}

int sockaddr_parse_ip_port(const char *s, uint16_t default_port, struct sockaddr_storage *ret, socklen_t *ret_len) {
        char host[INET6_ADDRSTRLEN + 1];
        const char *port_str;
        uint16_t port = default_port;
        if (!s || split_host_port(s, host, sizeof host, &port_str) < 0)
                return -EINVAL;
        if (port_str && parse_port(port_str, false, &port) < 0)
                return -EINVAL;
        return sockaddr_from_literal(host, port, ret, ret_len);
}
