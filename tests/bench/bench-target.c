/* bench-target: the TCP and UDP targets of the benchmark suite
 * (tests/bench/bench.sh). One thread, one epoll loop, on one port:
 *   TCP: accepts every connection and closes it at once (what netcanary's
 *        responder does; the prober's reset leaves no TIME_WAIT anywhere);
 *   UDP: echoes every datagram back to its sender (netcanary's UDP echo).
 *
 *   bench-target ADDR PORT [READY-FILE [LIFETIME-SECONDS]]
 *
 * ADDR is an IPv4 or IPv6 literal. READY-FILE is created once both sockets
 * are bound. The process exits by itself after LIFETIME-SECONDS (default 600)
 * so a benchmark that dies never leaves it behind. On SIGTERM or at the end it
 * prints the number of connections accepted and datagrams echoed on stderr.
 * Exit 1 on setup errors, 2 on usage errors. */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "benchnet.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
        (void) sig;
        stop = 1;
}

int main(int argc, char **argv) {
        if (argc < 3 || argc > 5) {
                fprintf(stderr, "usage: bench-target ADDR PORT [READY-FILE [LIFETIME-SECONDS]]\n");
                return 2;
        }
        struct sigaction sa = { .sa_handler = on_signal };
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGALRM, &sa, NULL);
        alarm(argc > 4 ? (unsigned) atoi(argv[4]) : 600u);
        int tfd = bench_bind("bench-target", argv[1], argv[2], SOCK_STREAM, 4096);
        int ufd = bench_bind("bench-target", argv[1], argv[2], SOCK_DGRAM, 0);
        if (tfd < 0 || ufd < 0)
                return 1;
        int ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = { .events = EPOLLIN, .data.fd = tfd };
        struct epoll_event uev = { .events = EPOLLIN, .data.fd = ufd };
        if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, ufd, &uev) < 0) {
                perror("bench-target: epoll");
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
        uint64_t accepted = 0, echoed = 0;
        struct epoll_event events[8];
        while (!stop) {
                int n = epoll_wait(ep, events, 8, -1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        perror("bench-target: epoll_wait");
                        return 1;
                }
                for (int i = 0; i < n; i++) {
                        if (events[i].data.fd == tfd) {
                                int fd;
                                while ((fd = accept4(tfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
                                        close(fd);
                                        accepted++;
                                }
                                continue;
                        }
                        for (int k = 0; k < 64; k++) {
                                unsigned char buf[2048];
                                struct sockaddr_storage peer;
                                socklen_t plen = sizeof peer;
                                ssize_t r = recvfrom(ufd, buf, sizeof buf, 0, (struct sockaddr *) &peer, &plen);
                                if (r < 0)
                                        break;
                                if (sendto(ufd, buf, (size_t) r, 0, (struct sockaddr *) &peer, plen) == r)
                                        echoed++;
                        }
                }
        }
        fprintf(stderr, "bench-target: %llu connections accepted, %llu datagrams echoed\n",
                (unsigned long long) accepted, (unsigned long long) echoed);
        return 0;
}
