/* The responder other agents probe: accepts TCP connections (and closes them
 * at once) and echoes well-formed UDP echo datagrams, on one port, IPv4 and
 * IPv6 (dual-stack when the kernel has IPv6, IPv4 only otherwise). */
#pragma once

#include <stdint.h>

#include "loop.h"

typedef struct responder responder_t;

/* Binds TCP and UDP on `port` of every address; -errno on failure (the
 * caller names the port in its log). */
int responder_new(loop_t *loop, uint16_t port, responder_t **ret);
void responder_free(responder_t *r);
uint64_t responder_tcp_accepted(const responder_t *r);
uint64_t responder_udp_echoed(const responder_t *r);
