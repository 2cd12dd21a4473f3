#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe-internal.h"
#include "sockaddr.h"
#include "util.h"

void udp_echo_build(uint8_t out[UDP_ECHO_LEN], const uint8_t nonce[UDP_ECHO_NONCE_LEN]) {
        memcpy(out, UDP_ECHO_MAGIC, UDP_ECHO_MAGIC_LEN);
        memcpy(out + UDP_ECHO_MAGIC_LEN, nonce, UDP_ECHO_NONCE_LEN);
}

int udp_echo_parse(const uint8_t *buf, size_t len, uint8_t ret_nonce[UDP_ECHO_NONCE_LEN]) {
        if (!buf || len != UDP_ECHO_LEN || memcmp(buf, UDP_ECHO_MAGIC, UDP_ECHO_MAGIC_LEN) != 0)
                return -EBADMSG;
        memcpy(ret_nonce, buf + UDP_ECHO_MAGIC_LEN, UDP_ECHO_NONCE_LEN);
        return 0;
}

static void udp_on_deadline(probe_t *p) {
        if (p->saw_other_reply)
                probe_finish(p, OUTCOME_BAD_RESPONSE, 0);
        else
                probe_finish(p, OUTCOME_TIMEOUT, ETIMEDOUT);
}

static void udp_on_io(loop_io_t *io, int fd, uint32_t events, void *userdata) {
        probe_t *p = userdata;
        /* Bounded: at most a few datagrams per wake-up, the rest next time. */
        for (int i = 0; i < 16; i++) {
                uint8_t buf[512];
                ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return;
                        /* A connected UDP socket reports ICMP errors here. */
                        int err = errno;
                        probe_finish(p, probe_outcome_from_errno(err), err);
                        return;
                }
                uint8_t nonce[UDP_ECHO_NONCE_LEN];
                if (udp_echo_parse(buf, (size_t) n, nonce) == 0 && memcmp(nonce, p->nonce, sizeof nonce) == 0) {
                        probe_finish(p, OUTCOME_CONNECTED, 0);
                        return;
                }
                p->saw_other_reply = true;
        }
}

int probe_udp_start(loop_t *loop, const struct sockaddr *addr, uint64_t deadline_usec, probe_done_cb cb,
                    void *userdata, probe_t **ret) {
        probe_t *p;
        int r = probe_alloc(loop, deadline_usec, cb, userdata, udp_on_deadline, &p);
        if (r < 0)
                return r;
        *ret = p;
        /* connect() so that only the target's datagrams and ICMP errors reach us. */
        if (probe_open_connected(p, addr, SOCK_DGRAM) < 0)
                return 0;
        r = loop_io_add(loop, p->fd, EPOLLIN, udp_on_io, p, "probe-udp", &p->io);
        if (r < 0) {
                probe_finish_later(p, OUTCOME_LOCAL_ERROR, -r);
                return 0;
        }
        for (size_t i = 0; i < UDP_ECHO_NONCE_LEN; i += 8) {
                uint64_t x = rand_u64();
                memcpy(p->nonce + i, &x, 8);
        }
        uint8_t datagram[UDP_ECHO_LEN];
        udp_echo_build(datagram, p->nonce);
        p->start_usec = mono_usec();
        if (send(p->fd, datagram, sizeof datagram, 0) < 0) {
                int err = errno;
                probe_finish_later(p, probe_outcome_from_send_errno(err), err);
        }
        return 0;
}
