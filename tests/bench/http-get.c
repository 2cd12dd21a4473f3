/* http-get: the bare cost of one HTTP GET on a fresh TCP connection, the
 * baseline of the HTTP latency benchmark (tests/bench/http-latency.sh).
 *
 *   http-get ADDR PORT PATH [COUNT [GAP-USEC]]
 *
 * COUNT times (default 100), GAP-USEC apart (default 50000): socket(),
 * blocking connect(), send() of the request curl sends for a netcanary probe
 * (GET, Host, User-Agent, Accept), recv() until the headers and
 * Content-Length bytes of body are in, timed on CLOCK_MONOTONIC from just
 * before socket() to just after the last byte; then close() with SO_LINGER 0
 * (a reset, as netcanary's probes end), outside the timing. Prints one
 * duration per line in microseconds (fractional), then a summary on stderr.
 * A request that fails or takes over 1 s is counted as failed, not printed.
 * Exit 0 if at least one request succeeded, 1 otherwise, 2 on usage errors. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "benchnet.h"

#define RESP_MAX 65536

/* Nanoseconds on the monotonic clock. */
/* Length of a complete response in buf (headers + Content-Length body), 0 if
 * more is needed, -1 if it cannot be parsed. */
static long complete_length(const char *buf, size_t len) {
        const char *end = memmem(buf, len, "\r\n\r\n", 4);
        if (!end)
                return 0;
        size_t head = (size_t) (end + 4 - buf);
        long body = -1;
        for (const char *p = buf; p < end;) {
                const char *eol = memmem(p, (size_t) (end + 2 - p), "\r\n", 2);
                if (!eol)
                        break;
                if ((size_t) (eol - p) > 15 && strncasecmp(p, "Content-Length:", 15) == 0)
                        body = strtol(p + 15, NULL, 10);
                p = eol + 2;
        }
        if (body < 0)
                return -1;
        return len >= head + (size_t) body ? (long) (head + (size_t) body) : 0;
}

/* One GET; its duration in ns, or 0 on failure. */
static uint64_t one_get(const struct addrinfo *ai, const char *req, size_t req_len) {
        static char buf[RESP_MAX];
        struct timeval tv = { .tv_sec = 1 };
        uint64_t t0 = bench_now_nsec();
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return 0;
        uint64_t took = 0;
        int one = 1;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
            send(fd, req, req_len, MSG_NOSIGNAL) != (ssize_t) req_len)
                goto done;
        size_t len = 0;
        for (;;) {
                ssize_t n = recv(fd, buf + len, sizeof buf - len, 0);
                if (n <= 0)
                        goto done;
                len += (size_t) n;
                long c = complete_length(buf, len);
                if (c < 0)
                        goto done;
                if (c > 0)
                        break;
                if (len == sizeof buf)
                        goto done;
        }
        took = bench_now_nsec() - t0;
        if (took > 1000000000u)
                took = 0;
done:;
        struct linger lg = { .l_onoff = 1, .l_linger = 0 };
        (void) setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(fd);
        return took;
}

int main(int argc, char **argv) {
        if (argc < 4 || argc > 6) {
                fprintf(stderr, "usage: http-get ADDR PORT PATH [COUNT [GAP-USEC]]\n");
                return 2;
        }
        long count = argc > 4 ? strtol(argv[4], NULL, 10) : 100;
        long gap = argc > 5 ? strtol(argv[5], NULL, 10) : 50000;
        if (count < 1 || gap < 0) {
                fprintf(stderr, "http-get: COUNT must be >= 1 and GAP-USEC >= 0\n");
                return 2;
        }
        struct addrinfo *ai = bench_resolve("http-get", argv[1], argv[2], SOCK_STREAM);
        if (!ai)
                return 2;
        bool v6 = ai->ai_family == AF_INET6;
        char req[1024];
        int req_len = snprintf(req, sizeof req,
                               "GET %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: netcanary/0.1.0\r\n"
                               "Accept: */*\r\n\r\n",
                               argv[3], v6 ? "[" : "", argv[1], v6 ? "]" : "", argv[2]);
        if (req_len < 0 || (size_t) req_len >= sizeof req) {
                fprintf(stderr, "http-get: PATH too long\n");
                freeaddrinfo(ai);
                return 2;
        }
        long ok = 0, failed = 0;
        for (long i = 0; i < count; i++) {
                if (i > 0 && gap > 0) {
                        struct timespec ts = { .tv_sec = gap / 1000000, .tv_nsec = (gap % 1000000) * 1000 };
                        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                                ;
                }
                uint64_t ns = one_get(ai, req, (size_t) req_len);
                if (ns == 0) {
                        failed++;
                        continue;
                }
                ok++;
                printf("%.3f\n", (double) ns / 1000.0);
        }
        freeaddrinfo(ai);
        fprintf(stderr, "http-get: %ld ok, %ld failed\n", ok, failed);
        return ok > 0 ? 0 : 1;
}
