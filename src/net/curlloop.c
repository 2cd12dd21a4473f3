#include "curlloop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "util.h"

struct curlloop {
        loop_t *loop;
        CURLM *multi;
        loop_timer_t *timer;        /* curl's timeout */
};

static void process_done(curlloop_t *cl) {
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(cl->multi, &left))) {
                if (msg->msg != CURLMSG_DONE)
                        continue;
                curlloop_transfer_t *t = NULL;
                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &t);
                CURLcode rc = msg->data.result;
                curl_multi_remove_handle(cl->multi, msg->easy_handle);
                t->active = false;
                t->done(t, rc);
        }
}

static void on_io(loop_io_t *io, int fd, uint32_t events, void *userdata) {
        curlloop_t *cl = userdata;
        int flags = (events & EPOLLIN ? CURL_CSELECT_IN : 0) | (events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                    (events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
        int running;
        if (curl_multi_socket_action(cl->multi, fd, flags, &running) != CURLM_OK)
                loop_timer_arm(cl->timer, mono_usec() + 10 * USEC_PER_MSEC);
        process_done(cl);
}

static void on_timer(loop_timer_t *t, void *userdata) {
        curlloop_t *cl = userdata;
        int running;
        if (curl_multi_socket_action(cl->multi, CURL_SOCKET_TIMEOUT, 0, &running) != CURLM_OK)
                loop_timer_arm(cl->timer, mono_usec() + 10 * USEC_PER_MSEC); /* e.g. out of memory: retry */
        process_done(cl);
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp) {
        curlloop_t *cl = userp;
        loop_io_t *io = socketp;
        if (what == CURL_POLL_REMOVE) {
                /* curl closes s after this: forget it first. */
                loop_io_remove(io);
                curl_multi_assign(cl->multi, s, NULL);
                return 0;
        }
        uint32_t events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
        if (io)
                return loop_io_set_events(io, events) < 0 ? -1 : 0;
        if (loop_io_add(cl->loop, s, events, on_io, cl, "curl", &io) < 0)
                return -1;
        curl_multi_assign(cl->multi, s, io);
        return 0;
}

static int on_timer_change(CURLM *multi, long timeout_ms, void *userp) {
        curlloop_t *cl = userp;
        if (timeout_ms < 0)
                loop_timer_disarm(cl->timer);
        else
                loop_timer_arm(cl->timer, mono_usec() + (uint64_t) timeout_ms * USEC_PER_MSEC);
        return 0;
}

int curlloop_new(loop_t *loop, curlloop_t **ret) {
        static bool curl_ready;
        if (!curl_ready) {
                if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                        return -ENOMEM;
                curl_ready = true;
        }
        curlloop_t *cl = calloc(1, sizeof *cl);
        if (!cl)
                return -ENOMEM;
        cl->loop = loop;
        int r = loop_timer_new(loop, on_timer, cl, "curl-timeout", &cl->timer);
        if (r < 0) {
                free(cl);
                return r;
        }
        cl->multi = curl_multi_init();
        if (!cl->multi) {
                loop_timer_free(cl->timer);
                free(cl);
                return -ENOMEM;
        }
        curl_multi_setopt(cl->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
        curl_multi_setopt(cl->multi, CURLMOPT_SOCKETDATA, cl);
        curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION, on_timer_change);
        curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl);
        *ret = cl;
        return 0;
}

void curlloop_free(curlloop_t *cl) {
        if (!cl)
                return;
        curl_multi_cleanup(cl->multi);
        loop_timer_free(cl->timer);
        free(cl);
}

int curlloop_add(curlloop_t *cl, curlloop_transfer_t *t) {
        curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
        if (curl_multi_add_handle(cl->multi, t->easy) != CURLM_OK)
                return -ENOMEM;
        t->active = true;
        return 0;
}

void curlloop_remove(curlloop_t *cl, curlloop_transfer_t *t) {
        if (!t->active)
                return;
        curl_multi_remove_handle(cl->multi, t->easy);
        t->active = false;
}
