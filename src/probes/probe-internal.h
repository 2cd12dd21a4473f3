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
/* Maps a socket errno to an outcome: ECONNREFUSED -> refused; ICMP errors -> unreachable; else local_error. */
outcome_t probe_outcome_from_errno(int err);
