/* Probes: one start function per protocol, a completion callback, no metrics.
 *
 * Contract for every probe: the callback runs exactly once (never inside the
 * start call) unless the probe is cancelled first; the probe frees itself
 * after the callback. The probe enforces its own deadline. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "loop.h"
#include "results.h"

typedef struct probe probe_t;

typedef struct probe_result {
        outcome_t outcome;
        uint64_t duration_usec; /* from the first packet sent to the answer (or the deadline) */
        int error;              /* errno behind a refused/unreachable/local_error, for logs; else 0 */
} probe_result_t;

typedef void (*probe_done_cb)(const probe_result_t *result, void *userdata);

/* TCP: non-blocking connect(); connected, refused (RST), unreachable (ICMP),
 * timeout, or local_error (socket could not be made). The connection is
 * closed at once with a reset so no TIME_WAIT piles up. */
int probe_tcp_start(loop_t *loop, const struct sockaddr *addr, uint64_t deadline_usec, probe_done_cb cb,
                    void *userdata, probe_t **ret);
/* UDP: one datagram with a random nonce to a netcanary responder; connected
 * when the same nonce is echoed, refused on ICMP port unreachable,
 * unreachable on other ICMP errors, bad_response when only other datagrams
 * came back before the deadline, else timeout. */
int probe_udp_start(loop_t *loop, const struct sockaddr *addr, uint64_t deadline_usec, probe_done_cb cb,
                    void *userdata, probe_t **ret);
/* Accepts NULL. The callback will not run. */
void probe_cancel(probe_t *p);

/* Whether this build can probe `p` (http arrives with the HTTP issue). */
bool probe_supported(proto_t p);

/* The UDP echo datagram: 8 bytes of magic then a 16-byte nonce. */
#define UDP_ECHO_MAGIC "NCANARY1"
#define UDP_ECHO_MAGIC_LEN 8u
#define UDP_ECHO_NONCE_LEN 16u
#define UDP_ECHO_LEN (UDP_ECHO_MAGIC_LEN + UDP_ECHO_NONCE_LEN)

void udp_echo_build(uint8_t out[UDP_ECHO_LEN], const uint8_t nonce[UDP_ECHO_NONCE_LEN]);
/* 0 and the nonce when `buf` is exactly a well-formed echo datagram, else -EBADMSG. */
int udp_echo_parse(const uint8_t *buf, size_t len, uint8_t ret_nonce[UDP_ECHO_NONCE_LEN]);
