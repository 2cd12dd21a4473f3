/* Shared state of the socket probes (tcp, udp); not a public header. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "probe.h"

struct probe {
        loop_t *loop;
        int fd;                     /* -1 when closed */
        loop_io_t *io;
        loop_timer_t *timer;        /* the deadline, or "deliver now" for immediate results */
        void (*on_deadline)(probe_t *p);
        probe_done_cb cb;
        void *userdata;
        uint64_t start_usec;        /* when the first packet left */
        probe_result_t pending;     /* result to deliver from the timer, when immediate */
        bool has_pending;
        /* udp */
        uint8_t nonce[UDP_ECHO_NONCE_LEN];
        bool saw_other_reply;
};

/* Allocates a probe with its deadline timer armed; `on_deadline` runs at the deadline. */
int probe_alloc(loop_t *loop, uint64_t deadline_usec, probe_done_cb cb, void *userdata,
                void (*on_deadline)(probe_t *p), probe_t **ret);
/* Closes the socket, delivers `result` and frees the probe. */
void probe_finish(probe_t *p, outcome_t outcome, int error);
/* Delivers `outcome` on the next loop iteration (never inside the start call). */
void probe_finish_later(probe_t *p, outcome_t outcome, int error);
/* Opens p->fd (non-blocking, close-on-exec, SOCK_STREAM or SOCK_DGRAM) and
 * connects it to `addr`, with p->start_usec set just before connect().
 * Returns 0 when connected at once, -EINPROGRESS while a TCP handshake is
 * under way, or -errno after it scheduled the probe's end (local_error when no
 * socket could be made or for want of local ports or buffers, else what the
 * errno means): the caller then returns 0 from its start function. */
int probe_open_connected(probe_t *p, const struct sockaddr *addr, int type);
/* The outcome of a failed connect() or send(): out of ports or buffers is our
 * problem (local_error), not the network's; else probe_outcome_from_errno(). */
outcome_t probe_outcome_from_send_errno(int err);
/* Maps a socket errno to an outcome: ECONNREFUSED -> refused; ICMP errors -> unreachable; else local_error. */
outcome_t probe_outcome_from_errno(int err);
