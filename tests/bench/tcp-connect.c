/* tcp-connect: the bare cost of a TCP connect() on loopback, the baseline of
 * the TCP latency figure of the benchmark suite (tests/bench/bench.sh).
 *
 *   tcp-connect ADDR PORT [COUNT [GAP-USEC]]
 *
 * COUNT times (default 100), GAP-USEC apart (default 20000): socket(), then
 * a blocking connect() timed on CLOCK_MONOTONIC from just before connect() to
 * just after it returns (netcanary's probe clock also starts after socket(),
 * just before its non-blocking connect(), and stops when the loop sees the
 * socket writable), then close() with SO_LINGER 0 (a reset, as netcanary's
 * probes end: no TIME_WAIT), outside the timing. Prints one duration per line
 * in microseconds (fractional), then a summary on stderr. A connect that
 * fails or takes over 1 s is counted as failed, not printed.
 * Exit 0 if at least one connect succeeded, 1 otherwise, 2 on usage errors. */
#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "benchnet.h"

int main(int argc, char **argv) {
        if (argc < 3 || argc > 5) {
                fprintf(stderr, "usage: tcp-connect ADDR PORT [COUNT [GAP-USEC]]\n");
                return 2;
        }
        long count = argc > 3 ? strtol(argv[3], NULL, 10) : 100;
        long gap = argc > 4 ? strtol(argv[4], NULL, 10) : 20000;
        if (count < 1 || count > 10000000 || gap < 0 || gap > 10000000) {
                fprintf(stderr, "tcp-connect: COUNT 1..10^7, GAP-USEC 0..10^7\n");
                return 2;
        }
        struct addrinfo *ai = bench_resolve("tcp-connect", argv[1], argv[2], SOCK_STREAM);
        if (!ai)
                return 2;
        long ok = 0, failed = 0;
        uint64_t next = bench_now_nsec();
        for (long i = 0; i < count; i++) {
                bench_sleep_until(next);
                next += (uint64_t) gap * 1000u;
                int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0) {
                        failed++;
                        continue;
                }
                struct timeval tv = { .tv_sec = 1 };
                (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
                uint64_t t0 = bench_now_nsec();
                int c = connect(fd, ai->ai_addr, ai->ai_addrlen);
                uint64_t t1 = bench_now_nsec();
                struct linger lg = { .l_onoff = 1, .l_linger = 0 };
                (void) setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
                close(fd);
                if (c < 0 || t1 - t0 > 1000000000u) {
                        failed++;
                        continue;
                }
                printf("%.3f\n", (double) (t1 - t0) / 1000.0);
                ok++;
        }
        freeaddrinfo(ai);
        fflush(stdout);
        fprintf(stderr, "tcp-connect: %ld connected, %ld failed\n", ok, failed);
        return ok > 0 ? 0 : 1;
}
