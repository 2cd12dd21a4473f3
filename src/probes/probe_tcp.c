#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe-internal.h"
#include "sockaddr.h"
#include "util.h"

static void tcp_on_deadline(probe_t *p) {
        probe_finish(p, OUTCOME_TIMEOUT, ETIMEDOUT);
}

static void tcp_on_io(loop_io_t *io, int fd, uint32_t events, void *userdata) {
        probe_t *p = userdata;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                err = errno;
        /* A reset after the handshake (a responder that accepts and closes at
         * once) still proves the connection was made: RST to a SYN is
         * ECONNREFUSED, not ECONNRESET. */
        if (err == ECONNRESET || err == EPIPE)
                err = 0;
        else if (err == 0 && (events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLOUT))
                err = ECONNREFUSED;
        if (err == 0) {
                /* Close with a reset: no FIN handshake, no TIME_WAIT on either side. */
                struct linger lg = { .l_onoff = 1, .l_linger = 0 };
                (void) setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
                probe_finish(p, OUTCOME_CONNECTED, 0);
                return;
        }
        probe_finish(p, probe_outcome_from_errno(err), err);
}

int probe_tcp_start(loop_t *loop, const struct sockaddr *addr, uint64_t deadline_usec, probe_done_cb cb,
                    void *userdata, probe_t **ret) {
        probe_t *p;
        int r = probe_alloc(loop, deadline_usec, cb, userdata, tcp_on_deadline, &p);
        if (r < 0)
                return r;
        *ret = p;
        /* The SYN retransmission budget is the probe's deadline, not the kernel's. */
        r = probe_open_connected(p, addr, SOCK_STREAM);
        if (r == 0) {
                struct linger lg = { .l_onoff = 1, .l_linger = 0 };
                (void) setsockopt(p->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
                probe_finish_later(p, OUTCOME_CONNECTED, 0);
                return 0;
        }
        if (r != -EINPROGRESS)
                return 0;
        r = loop_io_add(loop, p->fd, EPOLLOUT, tcp_on_io, p, "probe-tcp", &p->io);
        if (r < 0)
                probe_finish_later(p, OUTCOME_LOCAL_ERROR, -r);
        return 0;
}
