#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe-internal.h"
#include "sockaddr.h"
#include "util.h"

static void on_probe_timer(loop_timer_t *t, void *userdata);

int probe_alloc(loop_t *loop, uint64_t deadline_usec, probe_done_cb cb, void *userdata,
                void (*on_deadline)(probe_t *p), probe_t **ret) {
        probe_t *p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        *p = (probe_t) { .loop = loop, .fd = -1, .cb = cb, .userdata = userdata, .on_deadline = on_deadline };
        int r = loop_timer_new(loop, on_probe_timer, p, "probe-deadline", &p->timer);
        if (r < 0) {
                free(p);
                return r;
        }
        loop_timer_arm(p->timer, deadline_usec);
        *ret = p;
        return 0;
}

static void probe_close(probe_t *p) {
        loop_io_remove(p->io);
        p->io = NULL;
        if (p->fd >= 0) {
                close(p->fd);
                p->fd = -1;
        }
}

void probe_cancel(probe_t *p) {
        if (!p)
                return;
        probe_close(p);
        loop_timer_free(p->timer);
        free(p);
}

void probe_finish(probe_t *p, outcome_t outcome, int error) {
        uint64_t now = mono_usec();
        probe_result_t result = {
                .outcome = outcome,
                .duration_usec = now > p->start_usec ? now - p->start_usec : 0,
                .error = error,
        };
        probe_done_cb cb = p->cb;
        void *ud = p->userdata;
        probe_cancel(p);
        cb(&result, ud);
}

static void on_probe_timer(loop_timer_t *t, void *userdata) {
        probe_t *p = userdata;
        if (!p->has_pending) {
                p->on_deadline(p);
                return;
        }
        probe_result_t result = p->pending;
        probe_done_cb cb = p->cb;
        void *ud = p->userdata;
        probe_cancel(p);
        cb(&result, ud);
}

void probe_finish_later(probe_t *p, outcome_t outcome, int error) {
        uint64_t now = mono_usec();
        probe_close(p);
        p->pending = (probe_result_t) {
                .outcome = outcome,
                .duration_usec = now > p->start_usec ? now - p->start_usec : 0,
                .error = error,
        };
        p->has_pending = true;
        /* The deadline timer delivers it on the next iteration. */
        loop_timer_arm(p->timer, now);
}

outcome_t probe_outcome_from_errno(int err) {
        switch (err) {
        case ECONNREFUSED:
                return OUTCOME_REFUSED;
        case EHOSTUNREACH:
        case ENETUNREACH:
        case EHOSTDOWN:
        case ENETDOWN:
        case EACCES:   /* ICMP admin prohibited on some kernels, or a local firewall reject */
        case EPERM:
        case ENONET:
        case EPROTO:
                return OUTCOME_UNREACHABLE;
        case ETIMEDOUT:
                return OUTCOME_TIMEOUT;
        default:
                return OUTCOME_LOCAL_ERROR;
        }
}

outcome_t probe_outcome_from_send_errno(int err) {
        if (err == EADDRNOTAVAIL || err == ENOBUFS || err == EAGAIN)
                return OUTCOME_LOCAL_ERROR;
        return probe_outcome_from_errno(err);
}

int probe_open_connected(probe_t *p, const struct sockaddr *addr, int type) {
        p->start_usec = mono_usec();
        p->fd = socket(addr->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC,
                       type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP);
        if (p->fd < 0) {
                int err = errno;
                probe_finish_later(p, OUTCOME_LOCAL_ERROR, err);
                return -err;
        }
        p->start_usec = mono_usec();
        if (connect(p->fd, addr, sockaddr_len(addr)) == 0)
                return 0;
        int err = errno;
        if (err == EINPROGRESS)
                return -EINPROGRESS;
        probe_finish_later(p, probe_outcome_from_send_errno(err), err);
        return -err;
}

bool probe_supported(proto_t p) {
        return p >= 0 && p < _PROTO_MAX;
}
