/* bench-load: a paced HTTP/1.1 GET load generator, for the benchmark suite
 * (tests/bench/bench.sh): it drives blackbox_exporter's /probe endpoint (or
 * netcanary's) at a fixed rate, so that both sides do the same number of
 * probes per second.
 *
 *   bench-load ADDR PORT PATH RATE COUNT [CONNS [MATCH]]
 *
 * Sends COUNT requests "GET PATH" at RATE per second (open loop: request i is
 * due at start + i/RATE; requests that find every connection busy go out as
 * soon as one is free), over CONNS (default 4) keep-alive connections, each
 * carrying one request at a time. An answer counts as "ok" when its status
 * is 200 and its body contains MATCH (default "probe_success 1"); chunked and
 * Content-Length bodies are understood. A connection the server closes is
 * reopened. Gives up COUNT/RATE + 30 s after the start.
 *
 * Prints one line on stdout:
 *   sent=N ok=N bad=N errors=N elapsed=S rate=R p50_us=X p99_us=Y
 * (p50/p99: request latency). Exit 0 when every request was ok, 1 otherwise,
 * 2 on usage errors. */
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
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "benchnet.h"

#define BUF_MAX (1u << 20)
#define MAX_CONNS 64

typedef struct conn {
        int fd;
        bool busy;
        uint64_t sent_at;
        size_t len;            /* bytes in buf */
        char *buf;
} conn_t;

static struct addrinfo *target;
static const char *path, *host, *match;
static char request[2048];
static size_t request_len;
static long ok, bad, errors;
static uint64_t *lat;
static long n_lat;

static int conn_open(int ep, conn_t *c) {
        c->fd = socket(target->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
                return -1;
        int one = 1;
        (void) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(c->fd, target->ai_addr, target->ai_addrlen) < 0) {
                close(c->fd);
                c->fd = -1;
                return -1;
        }
        struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
                close(c->fd);
                c->fd = -1;
                return -1;
        }
        c->busy = false;
        c->len = 0;
        return 0;
}

static void conn_reset(int ep, conn_t *c) {
        if (c->fd >= 0) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
        }
        c->fd = -1;
        c->busy = false;
        c->len = 0;
}

/* Decodes a chunked body in place; its length, 0 when incomplete, -1 on error.
 * *used: bytes of buf the body took (through the last chunk's trailer). */
static long dechunk(char *body, size_t len, size_t *used, char *out, size_t out_size) {
        size_t pos = 0, n = 0;
        for (;;) {
                char *eol = memmem(body + pos, len - pos, "\r\n", 2);
                if (!eol)
                        return 0;
                char *end;
                unsigned long sz = strtoul(body + pos, &end, 16);
                if (end == body + pos)
                        return -1;
                pos = (size_t) (eol - body) + 2;
                if (sz == 0) {
                        /* trailers: up to an empty line */
                        char *fin = memmem(body + pos, len - pos, "\r\n", 2);
                        while (fin && fin != body + pos) {
                                pos = (size_t) (fin - body) + 2;
                                fin = memmem(body + pos, len - pos, "\r\n", 2);
                        }
                        if (!fin)
                                return 0;
                        *used = pos + 2;
                        return (long) n;
                }
                if (pos + sz + 2 > len)
                        return 0;
                if (n + sz >= out_size)
                        return -1;
                memcpy(out + n, body + pos, sz);
                n += sz;
                out[n] = 0;
                pos += sz + 2;
        }
}

/* One complete answer at the start of c->buf? 1 yes (consumed), 0 need more, -1 broken. */
static int conn_answer(conn_t *c, char *scratch) {
        char *hend = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (!hend)
                return c->len >= BUF_MAX - 1 ? -1 : 0;
        size_t hlen = (size_t) (hend - c->buf) + 4;
        int status = 0;
        if (sscanf(c->buf, "HTTP/1.%*d %d", &status) != 1)
                return -1;
        long clen = -1;
        bool chunked = false;
        for (char *l = memmem(c->buf, hlen, "\r\n", 2); l && l + 2 < c->buf + hlen; l = memmem(l + 2, hlen - (size_t) (l + 2 - c->buf), "\r\n", 2)) {
                char *h = l + 2;
                if (strncasecmp(h, "Content-Length:", 15) == 0)
                        clen = strtol(h + 15, NULL, 10);
                else if (strncasecmp(h, "Transfer-Encoding:", 18) == 0 && strstr(h, "chunked") &&
                         strstr(h, "chunked") < hend)
                        chunked = true;
        }
        size_t used;
        long blen;
        if (chunked) {
                blen = dechunk(c->buf + hlen, c->len - hlen, &used, scratch, BUF_MAX);
                if (blen <= 0)
                        return blen == 0 ? 0 : -1;
        } else {
                if (clen < 0)
                        return -1;
                if (c->len - hlen < (size_t) clen)
                        return 0;
                memcpy(scratch, c->buf + hlen, (size_t) clen);
                scratch[clen] = 0;
                blen = clen;
                used = (size_t) clen;
        }
        if (status == 200 && (!*match || memmem(scratch, (size_t) blen, match, strlen(match))))
                ok++;
        else
                bad++;
        size_t total = hlen + used;
        memmove(c->buf, c->buf + total, c->len - total);
        c->len -= total;
        return 1;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
        if (argc < 6 || argc > 8) {
                fprintf(stderr, "usage: bench-load ADDR PORT PATH RATE COUNT [CONNS [MATCH]]\n");
                return 2;
        }
        host = argv[1];
        path = argv[3];
        double rate = strtod(argv[4], NULL);
        long count = strtol(argv[5], NULL, 10);
        int nconns = argc > 6 ? atoi(argv[6]) : 4;
        match = argc > 7 ? argv[7] : "probe_success 1";
        if (!(rate > 0 && rate <= 1e6) || count < 1 || count > 100000000 || nconns < 1 || nconns > MAX_CONNS) {
                fprintf(stderr, "bench-load: RATE in (0, 10^6], COUNT >= 1, CONNS 1..%d\n", MAX_CONNS);
                return 2;
        }
        if (!(target = bench_resolve("bench-load", argv[1], argv[2], SOCK_STREAM)))
                return 2;
        int hn = snprintf(request, sizeof request,
                          "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: netcanary-bench-load\r\nAccept: */*\r\n\r\n",
                          path, strchr(host, ':') ? "[::1]" : host, argv[2]);
        if (hn < 0 || (size_t) hn >= sizeof request) {
                fprintf(stderr, "bench-load: PATH too long\n");
                return 2;
        }
        request_len = (size_t) hn;
        lat = calloc((size_t) count, sizeof *lat);
        char *scratch = malloc(BUF_MAX + 1);
        int ep = epoll_create1(EPOLL_CLOEXEC);
        conn_t conns[MAX_CONNS];
        if (!lat || !scratch || ep < 0) {
                perror("bench-load");
                return 1;
        }
        for (int i = 0; i < nconns; i++) {
                conns[i] = (conn_t) { .fd = -1, .buf = malloc(BUF_MAX) };
                if (!conns[i].buf || conn_open(ep, &conns[i]) < 0) {
                        fprintf(stderr, "bench-load: connect to %s port %s: %s\n", argv[1], argv[2], strerror(errno));
                        return 1;
                }
        }
        uint64_t start = bench_now_nsec();
        uint64_t give_up = start + (uint64_t) ((double) count / rate * 1e9) + 30000000000ull;
        long sent = 0, done = 0;
        while (done < count) {
                uint64_t now = bench_now_nsec();
                if (now > give_up)
                        break;
                /* Send whatever is due on free connections. */
                while (sent < count) {
                        uint64_t due = start + (uint64_t) ((double) sent / rate * 1e9);
                        if (due > now)
                                break;
                        conn_t *c = NULL;
                        for (int i = 0; i < nconns; i++) {
                                if (conns[i].fd < 0 && conn_open(ep, &conns[i]) < 0)
                                        continue;
                                if (!conns[i].busy) {
                                        c = &conns[i];
                                        break;
                                }
                        }
                        if (!c)
                                break;
                        if (send(c->fd, request, request_len, MSG_NOSIGNAL) != (ssize_t) request_len) {
                                conn_reset(ep, c);
                                errors++;
                                done++;
                                sent++;
                                continue;
                        }
                        c->busy = true;
                        c->sent_at = now;
                        sent++;
                }
                int timeout_ms = 100;
                if (sent < count) {
                        uint64_t due = start + (uint64_t) ((double) sent / rate * 1e9);
                        now = bench_now_nsec();
                        timeout_ms = due > now ? (int) ((due - now + 999999) / 1000000) : 0;
                        if (timeout_ms > 100)
                                timeout_ms = 100;
                }
                struct epoll_event evs[MAX_CONNS];
                int n = epoll_wait(ep, evs, MAX_CONNS, timeout_ms);
                if (n < 0 && errno != EINTR) {
                        perror("bench-load: epoll_wait");
                        return 1;
                }
                for (int i = 0; i < n; i++) {
                        conn_t *c = evs[i].data.ptr;
                        bool closed = false;
                        for (;;) {
                                if (c->len >= BUF_MAX - 1)
                                        break;
                                ssize_t got = recv(c->fd, c->buf + c->len, BUF_MAX - 1 - c->len, MSG_DONTWAIT);
                                if (got > 0) {
                                        c->len += (size_t) got;
                                        continue;
                                }
                                if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
                                        closed = true;
                                break;
                        }
                        int a = c->busy ? conn_answer(c, scratch) : 0;
                        if (a == 1) {
                                uint64_t t = bench_now_nsec();
                                lat[n_lat++] = t - c->sent_at;
                                c->busy = false;
                                done++;
                        }
                        if (a < 0 || closed) {
                                if (c->busy) {
                                        errors++;
                                        done++;
                                }
                                conn_reset(ep, c);
                        }
                }
        }
        double elapsed = (double) (bench_now_nsec() - start) / 1e9;
        errors += count - done;
        qsort(lat, (size_t) n_lat, sizeof *lat, cmp_u64);
        double p50 = n_lat ? (double) lat[n_lat / 2] / 1e3 : 0, p99 = n_lat ? (double) lat[(n_lat * 99) / 100] / 1e3 : 0;
        printf("sent=%ld ok=%ld bad=%ld errors=%ld elapsed=%.3f rate=%.1f p50_us=%.0f p99_us=%.0f\n", sent, ok, bad,
               errors, elapsed, (double) done / elapsed, p50, p99);
        return ok == count ? 0 : 1;
}
