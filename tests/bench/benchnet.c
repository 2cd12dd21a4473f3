#include "benchnet.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

uint64_t bench_now_nsec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

void bench_sleep_until(uint64_t t) {
        struct timespec ts = { .tv_sec = (time_t) (t / 1000000000u), .tv_nsec = (long) (t % 1000000000u) };
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                ;
}

static struct addrinfo *resolve(const char *prog, const char *addr, const char *port, int type, int flags) {
        struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = type,
                                  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | flags };
        struct addrinfo *ai = NULL;
        int r = getaddrinfo(addr, port, &hints, &ai);
        if (r != 0) {
                fprintf(stderr, "%s: %s port %s: %s\n", prog, addr, port, gai_strerror(r));
                return NULL;
        }
        return ai;
}

struct addrinfo *bench_resolve(const char *prog, const char *addr, const char *port, int type) {
        return resolve(prog, addr, port, type, 0);
}

int bench_bind(const char *prog, const char *addr, const char *port, int type, int backlog) {
        struct addrinfo *ai = resolve(prog, addr, port, type, AI_PASSIVE);
        if (!ai)
                return -1;
        int fd = socket(ai->ai_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
            bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || (type == SOCK_STREAM && listen(fd, backlog) < 0)) {
                fprintf(stderr, "%s: %s %s port %s: %s\n", prog, type == SOCK_STREAM ? "tcp" : "udp", addr, port,
                        strerror(errno));
                if (fd >= 0)
                        close(fd);
                fd = -1;
        }
        freeaddrinfo(ai);
        return fd;
}
