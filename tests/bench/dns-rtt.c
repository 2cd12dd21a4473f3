/* dns-rtt: the bare UDP round trip of one DNS query, for the DNS latency
 * benchmark (tests/bench/dns-latency.sh).
 *
 *   dns-rtt SERVER-IP PORT NAME [COUNT [GAP-USEC]]
 *
 * Sends the same A query (no EDNS, RD set: the bytes c-ares sends for
 * netcanary's probe) COUNT times over one connected UDP socket, one at a time,
 * GAP-USEC apart, and times each from just before send() to just after the
 * matching recv() on CLOCK_MONOTONIC. Prints one round trip per line in
 * microseconds (fractional), then on stderr a summary line. A query without an
 * answer within 1 s counts as lost and is not printed. Exit 0 if at least one
 * answer came back, 1 otherwise, 2 on usage errors. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "benchnet.h"

/* Nanoseconds on the monotonic clock. */
/* Writes the query for NAME (type A, class IN) into buf; its length, or -1. */
static int build_query(const char *name, uint16_t id, unsigned char *buf, size_t size) {
        size_t len = 12;
        if (size < 12 + 256 + 5)
                return -1;
        memset(buf, 0, 12);
        buf[0] = (unsigned char) (id >> 8);
        buf[1] = (unsigned char) id;
        buf[2] = 0x01; /* RD */
        buf[5] = 1;    /* QDCOUNT */
        const char *p = name;
        while (*p) {
                const char *dot = strchr(p, '.');
                size_t l = dot ? (size_t) (dot - p) : strlen(p);
                if (l == 0 || l > 63 || len + l + 1 > 12 + 255)
                        return -1;
                buf[len++] = (unsigned char) l;
                memcpy(buf + len, p, l);
                len += l;
                p += l;
                if (*p == '.')
                        p++;
        }
        buf[len++] = 0;
        buf[len++] = 0;
        buf[len++] = 1; /* A */
        buf[len++] = 0;
        buf[len++] = 1; /* IN */
        return (int) len;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
        if (argc < 4) {
                fprintf(stderr, "usage: %s SERVER-IP PORT NAME [COUNT [GAP-USEC]]\n", argv[0]);
                return 2;
        }
        const char *ip = argv[1];
        long port = strtol(argv[2], NULL, 10);
        const char *name = argv[3];
        long count = argc > 4 ? strtol(argv[4], NULL, 10) : 1000;
        long gap = argc > 5 ? strtol(argv[5], NULL, 10) : 1000;
        if (port < 1 || port > 65535 || count < 1 || count > 10000000 || gap < 0) {
                fprintf(stderr, "dns-rtt: bad PORT, COUNT or GAP-USEC\n");
                return 2;
        }

        struct sockaddr_storage ss = { 0 };
        socklen_t slen;
        struct sockaddr_in *in = (struct sockaddr_in *) &ss;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;
        if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
                in->sin_family = AF_INET;
                in->sin_port = htons((uint16_t) port);
                slen = sizeof *in;
        } else if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t) port);
                slen = sizeof *in6;
        } else {
                fprintf(stderr, "dns-rtt: %s is not an IP address\n", ip);
                return 2;
        }
        int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &ss, slen) < 0) {
                perror("dns-rtt: socket/connect");
                return 1;
        }
        struct timeval tv = { .tv_sec = 1 };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

        double *rtt = calloc((size_t) count, sizeof *rtt);
        if (!rtt) {
                fprintf(stderr, "dns-rtt: out of memory\n");
                return 1;
        }
        long got = 0, lost = 0;
        unsigned char q[512], a[4096];
        for (long i = 0; i < count; i++) {
                uint16_t id = (uint16_t) (i * 7919 + 1);
                int qlen = build_query(name, id, q, sizeof q);
                if (qlen < 0) {
                        fprintf(stderr, "dns-rtt: invalid name %s\n", name);
                        return 2;
                }
                uint64_t t0 = bench_now_nsec();
                if (send(fd, q, (size_t) qlen, 0) != qlen) {
                        perror("dns-rtt: send");
                        return 1;
                }
                for (;;) {
                        ssize_t n = recv(fd, a, sizeof a, 0);
                        if (n < 0) {
                                if (errno == EINTR)
                                        continue;
                                lost++; /* timeout or ICMP error */
                                break;
                        }
                        if (n >= 12 && a[0] == q[0] && a[1] == q[1]) {
                                rtt[got++] = (double) (bench_now_nsec() - t0) / 1e3;
                                break;
                        }
                        /* a late answer to an earlier query: keep waiting */
                }
                if (gap > 0)
                        usleep((useconds_t) gap);
        }
        close(fd);
        for (long i = 0; i < got; i++)
                printf("%.3f\n", rtt[i]);
        if (got > 0) {
                qsort(rtt, (size_t) got, sizeof *rtt, cmp_double);
                fprintf(stderr, "dns-rtt: %ld answers, %ld lost, median %.1f us, p90 %.1f us, min %.1f us\n", got,
                        lost, rtt[got / 2], rtt[(got * 9) / 10], rtt[0]);
        } else
                fprintf(stderr, "dns-rtt: no answers (%ld lost)\n", lost);
        free(rtt);
        return got > 0 ? 0 : 1;
}
