#include "aresloop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "util.h"

typedef struct aresloop_socket {
        ares_socket_t fd;
        loop_io_t *io;
} aresloop_socket_t;

struct aresloop {
        loop_t *loop;
        ares_channel channel;
        loop_timer_t *timer;          /* c-ares' own timeouts */
        aresloop_socket_t *sockets;  /* the few sockets c-ares has open */
        size_t n_sockets;
};

int aresloop_status_errno(int status) {
        switch (status) {
        case ARES_SUCCESS: return 0;
        case ARES_ENODATA:
        case ARES_ENOTFOUND:
        case ARES_ENONAME: return -ENOENT;
        case ARES_ETIMEOUT: return -ETIMEDOUT;
        case ARES_ECONNREFUSED: return -ECONNREFUSED;
        case ARES_ENOMEM: return -ENOMEM;
        case ARES_ECANCELLED:
        case ARES_EDESTRUCTION: return -ECANCELED;
        default: return -EIO;
        }
}

void aresloop_update(aresloop_t *al) {
        struct timeval tv, *next = ares_timeout(al->channel, NULL, &tv);
        if (!next) {
                loop_timer_disarm(al->timer);
                return;
        }
        loop_timer_arm(al->timer, mono_usec() + (uint64_t) next->tv_sec * USEC_PER_SEC + (uint64_t) next->tv_usec);
}

static void on_io(loop_io_t *io, int fd, uint32_t events, void *userdata) {
        aresloop_t *al = userdata;
        ares_socket_t rfd = events & (EPOLLIN | EPOLLERR | EPOLLHUP) ? fd : ARES_SOCKET_BAD;
        ares_socket_t wfd = events & EPOLLOUT ? fd : ARES_SOCKET_BAD;
        ares_process_fd(al->channel, rfd, wfd);
        aresloop_update(al);
}

static void on_timer(loop_timer_t *t, void *userdata) {
        aresloop_t *al = userdata;
        ares_process_fd(al->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
        aresloop_update(al);
}

static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable) {
        aresloop_t *al = data;
        size_t i;
        for (i = 0; i < al->n_sockets; i++)
                if (al->sockets[i].fd == fd)
                        break;
        uint32_t events = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);
        if (!readable && !writable) {
                /* c-ares is about to close fd: forget it first. */
                if (i < al->n_sockets) {
                        loop_io_remove(al->sockets[i].io);
                        al->sockets[i] = al->sockets[--al->n_sockets];
                }
                return;
        }
        if (i < al->n_sockets) {
                (void) loop_io_set_events(al->sockets[i].io, events);
                return;
        }
        aresloop_socket_t *s = realloc(al->sockets, (al->n_sockets + 1) * sizeof *s);
        if (!s)
                return; /* the query times out; nothing else can be done here */
        al->sockets = s;
        loop_io_t *io;
        if (loop_io_add(al->loop, fd, events, on_io, al, "c-ares", &io) < 0)
                return;
        al->sockets[al->n_sockets++] = (aresloop_socket_t) { .fd = fd, .io = io };
}

int aresloop_new(loop_t *loop, struct ares_options *opts, int optmask, aresloop_t **ret) {
        static bool library_ready;
        if (!library_ready) {
                if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
                        return -ENOMEM;
                library_ready = true;
        }
        aresloop_t *al = calloc(1, sizeof *al);
        if (!al)
                return -ENOMEM;
        al->loop = loop;
        int r = loop_timer_new(loop, on_timer, al, "c-ares-timeout", &al->timer);
        if (r < 0) {
                free(al);
                return r;
        }
        opts->sock_state_cb = on_sock_state;
        opts->sock_state_cb_data = al;
        int status = ares_init_options(&al->channel, opts, optmask | ARES_OPT_SOCK_STATE_CB);
        if (status != ARES_SUCCESS) {
                loop_timer_free(al->timer);
                free(al);
                return status == ARES_ENOMEM ? -ENOMEM : -EIO;
        }
        *ret = al;
        return 0;
}

void aresloop_free(aresloop_t *al) {
        if (!al)
                return;
        ares_destroy(al->channel); /* pending callbacks see ARES_EDESTRUCTION; sockets report closed */
        for (size_t i = 0; i < al->n_sockets; i++)
                loop_io_remove(al->sockets[i].io);
        free(al->sockets);
        loop_timer_free(al->timer);
        free(al);
}

ares_channel aresloop_channel(aresloop_t *al) {
        return al->channel;
}
