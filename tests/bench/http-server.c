/* http-server: the smallest useful HTTP/1.1 server, for the HTTP latency
 * benchmark (tests/bench/http-latency.sh). One thread, one epoll loop,
 * non-blocking sockets: every request (whatever its method and path) gets the
 * same 200 answer with a 3-byte body, written with one send(). The
 * connection stays open until the client closes it (so TIME_WAIT is the
 * client's), and more requests on it are answered too.
 *
 *   http-server ADDR PORT [READY-FILE [LIFETIME-SECONDS]]
 *
 * ADDR is an IPv4 or IPv6 literal. READY-FILE is created once listening.
 * The process exits by itself after LIFETIME-SECONDS (default 600) so a
 * benchmark that dies never leaves it behind. Exit 1 on setup errors. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "benchnet.h"

#define MAX_EVENTS 64
#define REQ_MAX 8192

static const char response[] = "HTTP/1.1 200 OK\r\n"
                               "Content-Type: text/plain\r\n"
                               "Content-Length: 3\r\n"
                               "\r\n"
                               "ok\n";

/* One client connection: bytes of the request read so far. */
typedef struct conn {
        int fd;
        size_t len;
        char buf[REQ_MAX];
} conn_t;

static void conn_close(int ep, conn_t *c) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        free(c);
}

/* Reads what is there; answers every complete request. false: close it. */
static bool conn_read(conn_t *c) {
        for (;;) {
                ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
                if (n == 0)
                        return false;
                if (n < 0)
                        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
                c->len += (size_t) n;
                char *end;
                while (c->len >= 4 && (end = memmem(c->buf, c->len, "\r\n\r\n", 4))) {
                        /* The answer fits any loopback send buffer: one send(). */
                        if (send(c->fd, response, sizeof response - 1, MSG_NOSIGNAL) != (ssize_t) (sizeof response - 1))
                                return false;
                        size_t used = (size_t) (end + 4 - c->buf);
                        memmove(c->buf, c->buf + used, c->len - used);
                        c->len -= used;
                }
                if (c->len == sizeof c->buf)
                        return false; /* a request this big is not ours */
        }
}

int main(int argc, char **argv) {
        if (argc < 3 || argc > 5) {
                fprintf(stderr, "usage: http-server ADDR PORT [READY-FILE [LIFETIME-SECONDS]]\n");
                return 2;
        }
        alarm(argc > 4 ? (unsigned) atoi(argv[4]) : 600u);
        int lfd = bench_bind("http-server", argv[1], argv[2], SOCK_STREAM, 512);
        if (lfd < 0)
                return 1;
        int ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
        if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
                perror("http-server: epoll");
                return 1;
        }
        if (argc > 3) {
                FILE *f = fopen(argv[3], "w");
                if (!f) {
                        perror(argv[3]);
                        return 1;
                }
                fclose(f);
        }
        struct epoll_event events[MAX_EVENTS];
        for (;;) {
                int n = epoll_wait(ep, events, MAX_EVENTS, -1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        perror("http-server: epoll_wait");
                        return 1;
                }
                for (int i = 0; i < n; i++) {
                        conn_t *c = events[i].data.ptr;
                        if (!c) {
                                int fd;
                                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                                        int one = 1;
                                        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                                        conn_t *nc = malloc(sizeof *nc);
                                        struct epoll_event cev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = nc };
                                        if (!nc || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev) < 0) {
                                                free(nc);
                                                close(fd);
                                                continue;
                                        }
                                        nc->fd = fd;
                                        nc->len = 0;
                                }
                                continue;
                        }
                        if (!conn_read(c) || (events[i].events & (EPOLLERR | EPOLLHUP)))
                                conn_close(ep, c);
                }
        }
}
