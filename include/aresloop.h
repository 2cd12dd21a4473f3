/* A c-ares channel driven by the daemon's loop: its sockets are watched
 * through ARES_OPT_SOCK_STATE_CB and its timeouts through one loop timer. No
 * thread, no blocking call. Used by the resolver (one channel for names) and
 * by DNS probes (one channel per DNS server, so each is measured alone). */
#pragma once

#include <ares.h>

#include "loop.h"

typedef struct aresloop aresloop_t;

/* `opts`/`optmask` as for ares_init_options(); the socket-state callback is
 * added here and must not be in `optmask`. */
int aresloop_new(loop_t *loop, struct ares_options *opts, int optmask, aresloop_t **ret);
/* Destroys the channel: pending callbacks run with ARES_EDESTRUCTION. */
void aresloop_free(aresloop_t *al);
ares_channel aresloop_channel(aresloop_t *al);
/* Re-arms the timer after queries were added or cancelled outside the loop's callbacks. */
void aresloop_update(aresloop_t *al);
/* Maps an ares status to -errno (0 for ARES_SUCCESS). */
int aresloop_status_errno(int status);
