/* What the benchmark's small C helpers (bench-target, bench-load, http-server,
 * http-get, tcp-connect, dns-rtt) share: a monotonic clock in nanoseconds and
 * numeric address handling. Errors are printed prefixed with the program's
 * name (`prog`). */
#pragma once

#include <netdb.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_nsec(void);
/* Sleeps until bench_now_nsec() reaches `t` (interrupted sleeps resume). */
void bench_sleep_until(uint64_t t);
/* The numeric ADDR and PORT (no name lookup) for sockets of `type`
 * (SOCK_STREAM, SOCK_DGRAM); NULL after printing why not. Free with
 * freeaddrinfo(). */
struct addrinfo *bench_resolve(const char *prog, const char *addr, const char *port, int type);
/* A non-blocking socket of `type` bound to ADDR:PORT (SO_REUSEADDR), listening
 * with `backlog` when a stream socket; -1 after printing why not. */
int bench_bind(const char *prog, const char *addr, const char *port, int type, int backlog);
