#include "responder.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe.h"
#include "util.h"

struct responder {
        loop_t *loop;
        int tcp_fd, udp_fd;
        loop_io_t *tcp_io, *udp_io;
        int family;                 /* AF_INET6 (dual-stack) or AF_INET */
        uint64_t tcp_accepted;
        uint64_t udp_echoed;
};

static int bind_socket(int family, int type, uint16_t port) {
        int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        int one = 1, zero = 0;
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_storage ss = { 0 };
        socklen_t len;
        if (family == AF_INET6) {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;
                (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
                /* IPv4-mapped datagrams get IPV6_PKTINFO too, and the kernel
                 * accepts it back for them. */
                if (type == SOCK_DGRAM)
                        (void) setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
                in6->sin6_family = AF_INET6;
                in6->sin6_addr = in6addr_any;
                in6->sin6_port = htons(port);
                len = sizeof *in6;
        } else {
                struct sockaddr_in *in = (struct sockaddr_in *) &ss;
                if (type == SOCK_DGRAM)
                        (void) setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
                in->sin_family = AF_INET;
                in->sin_addr.s_addr = htonl(INADDR_ANY);
                in->sin_port = htons(port);
                len = sizeof *in;
        }
        if (bind(fd, (struct sockaddr *) &ss, len) < 0 || (type == SOCK_STREAM && listen(fd, 1024) < 0)) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static void on_tcp(loop_io_t *io, int fd, uint32_t events, void *userdata) {
        responder_t *r = userdata;
        /* Bounded per wake-up so a connection storm cannot starve the loop. */
        for (int i = 0; i < 256; i++) {
                int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (c < 0)
                        return; /* EAGAIN, or EMFILE: the backlog waits for fds */
                r->tcp_accepted++;
                /* Accepting proves reachability; close with a reset (no TIME_WAIT). */
                struct linger lg = { .l_onoff = 1, .l_linger = 0 };
                (void) setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
                close(c);
        }
}

/* Echoes from the address the datagram was sent to (pods may have several). */
static void on_udp(loop_io_t *io, int fd, uint32_t events, void *userdata) {
        responder_t *r = userdata;
        for (int i = 0; i < 256; i++) {
                uint8_t buf[UDP_ECHO_LEN + 1];
                struct sockaddr_storage peer;
                union {
                        struct cmsghdr align;
                        char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo))];
                } control;
                struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
                struct msghdr msg = {
                        .msg_name = &peer, .msg_namelen = sizeof peer,
                        .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = control.buf, .msg_controllen = sizeof control.buf,
                };
                ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
                if (n < 0)
                        return;
                uint8_t nonce[UDP_ECHO_NONCE_LEN];
                /* Only well-formed echo datagrams, same size back: no amplification. */
                if (msg.msg_flags & MSG_TRUNC || udp_echo_parse(buf, (size_t) n, nonce) < 0)
                        continue;
                /* Reply with the same pktinfo as source; clear the interface index
                 * so the kernel routes the reply. */
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
                                struct in6_pktinfo pi;
                                memcpy(&pi, CMSG_DATA(c), sizeof pi);
                                pi.ipi6_ifindex = 0;
                                memcpy(CMSG_DATA(c), &pi, sizeof pi);
                        } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
                                struct in_pktinfo pi;
                                memcpy(&pi, CMSG_DATA(c), sizeof pi);
                                pi.ipi_ifindex = 0;
                                pi.ipi_spec_dst = pi.ipi_addr;
                                memcpy(CMSG_DATA(c), &pi, sizeof pi);
                        }
                }
                iov.iov_len = (size_t) n;
                msg.msg_flags = 0;
                if (sendmsg(fd, &msg, MSG_DONTWAIT) == n)
                        r->udp_echoed++;
        }
}

int responder_new(loop_t *loop, uint16_t port, responder_t **ret) {
        responder_t *r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;
        *r = (responder_t) { .loop = loop, .tcp_fd = -1, .udp_fd = -1, .family = AF_INET6 };
        int err;
        r->tcp_fd = bind_socket(AF_INET6, SOCK_STREAM, port);
        if (r->tcp_fd == -EAFNOSUPPORT || r->tcp_fd == -EADDRNOTAVAIL) {
                r->family = AF_INET; /* no IPv6 in this kernel or namespace */
                r->tcp_fd = bind_socket(AF_INET, SOCK_STREAM, port);
        }
        if (r->tcp_fd < 0) {
                err = r->tcp_fd;
                goto fail;
        }
        r->udp_fd = bind_socket(r->family, SOCK_DGRAM, port);
        if (r->udp_fd < 0) {
                err = r->udp_fd;
                goto fail;
        }
        err = loop_io_add(loop, r->tcp_fd, EPOLLIN, on_tcp, r, "responder-tcp", &r->tcp_io);
        if (err < 0)
                goto fail;
        err = loop_io_add(loop, r->udp_fd, EPOLLIN, on_udp, r, "responder-udp", &r->udp_io);
        if (err < 0)
                goto fail;
        *ret = r;
        return 0;
fail:
        responder_free(r);
        return err;
}

void responder_free(responder_t *r) {
        if (!r)
                return;
        loop_io_remove(r->tcp_io);
        loop_io_remove(r->udp_io);
        if (r->tcp_fd >= 0)
                close(r->tcp_fd);
        if (r->udp_fd >= 0)
                close(r->udp_fd);
        free(r);
}

uint64_t responder_tcp_accepted(const responder_t *r) {
        return r->tcp_accepted;
}

uint64_t responder_udp_echoed(const responder_t *r) {
        return r->udp_echoed;
}
