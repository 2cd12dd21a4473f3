/* DNS probes: one query (or one search-list walk) to one DNS server, through
 * a c-ares channel that talks to that server alone, driven by the loop.
 * UDP first; c-ares retries over TCP when the answer is truncated.
 *
 * Same contract as the socket probes: the callback runs exactly once, never
 * inside the start call, unless the probe is cancelled first. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "aresloop.h"
#include "results.h"

#define DNS_MAX_QUERIES 8u         /* queries one search-list lookup may send */
#define DNS_RCODE_NONE (-1)

typedef struct dns_probe dns_probe_t;

typedef struct dns_query {
        const char *name;                       /* as configured; a trailing dot makes it absolute */
        uint16_t type;                          /* ns_t_a, ... */
        int expect_rcode;                       /* 0 = NOERROR */
        const struct sockaddr_storage *expect;  /* addresses that must be in the answer (A/AAAA) */
        size_t n_expect;
        bool via_search;                        /* walk the search list as a pod's libc would */
        char *const *search;                    /* search domains */
        size_t n_search;
        unsigned ndots;
} dns_query_t;

typedef struct dns_probe_result {
        outcome_t outcome;      /* connected: answered as expected; bad_response: answered otherwise;
                                 * timeout; refused (ICMP port unreachable); local_error */
        uint64_t duration_usec; /* first query sent to the final answer */
        int error;              /* errno behind refused/local_error */
        int rcode;              /* of the final answer, or DNS_RCODE_NONE */
        unsigned answer_rrs;    /* the final answer's record counts (header ANCOUNT, NSCOUNT, ARCOUNT) */
        unsigned authority_rrs;
        unsigned additional_rrs;
        const char *responses[DNS_MAX_QUERIES]; /* per query: rcode name, "timeout", "connection_refused", "error" */
        uint64_t response_usec[DNS_MAX_QUERIES];/* per query round trip */
        size_t n_queries;
        char detail[160];       /* why the answer is a bad_response; "" otherwise */
} dns_probe_result_t;

typedef void (*dns_probe_done_cb)(const dns_probe_result_t *result, void *userdata);

/* A channel to exactly one server ("ip:port" parsed into `server`), with the
 * probe timeout per query. */
int dns_server_channel_new(loop_t *loop, const struct sockaddr *server, uint64_t timeout_usec, aresloop_t **ret);

/* `q` (and what it points to) must outlive the probe. One probe per channel at a time. */
int probe_dns_start(loop_t *loop, aresloop_t *channel, const dns_query_t *q, uint64_t deadline_usec,
                    dns_probe_done_cb cb, void *userdata, dns_probe_t **ret);
void probe_dns_cancel(dns_probe_t *p);

/* "A" -> ns_t_a etc.; -EINVAL for unknown names. */
int dns_type_from_name(const char *name);
/* "NOERROR", "NXDOMAIN", ...; "RCODE12" style for others (rcode is 4 bits). */
const char *dns_rcode_name(int rcode);
int dns_rcode_from_name(const char *name);
