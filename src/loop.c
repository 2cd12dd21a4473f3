#include "loop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define LOOP_MAX_EVENTS 64

/* What an epoll event's data.ptr points to; the first field of every watcher. */
typedef enum watcher_kind {
        WATCHER_IO,
        WATCHER_TIMERFD,
        WATCHER_SIGNALFD,
} watcher_kind_t;

struct loop_io {
        watcher_kind_t kind;    /* WATCHER_IO */
        loop_t *loop;
        int fd;
        uint32_t events;
        loop_io_cb cb;
        void *userdata;
        const char *name;
        bool dead;              /* removed; freed at the end of the iteration */
        struct loop_io *next_dead;
};

struct loop_timer {
        loop_t *loop;
        uint64_t deadline;      /* mono_usec() */
        size_t heap_index;      /* position in loop->heap, or SIZE_MAX when disarmed */
        loop_timer_cb cb;
        void *userdata;
        const char *name;
};

typedef struct signal_handler {
        int signo;
        loop_signal_cb cb;
        void *userdata;
} signal_handler_t;

struct loop {
        int epoll_fd;
        int timer_fd;
        int signal_fd;
        watcher_kind_t timerfd_tag;   /* data.ptr target for the timerfd */
        watcher_kind_t signalfd_tag;  /* data.ptr target for the signalfd */
        uint64_t timerfd_deadline;    /* what timer_fd is armed for; 0 = disarmed */
        bool no_pwait2;               /* epoll_pwait2 unavailable (kernel, seccomp): timerfd only */
        loop_timer_t **heap;          /* min-heap on deadline */
        size_t heap_len, heap_alloc;
        sigset_t signals;
        signal_handler_t *handlers;
        size_t n_handlers;
        size_t n_timers;              /* timers allocated; heap_alloc >= n_timers always */
        loop_io_t *dead_ios;
        unsigned n_ios;
        bool quit;
};

int loop_new(loop_t **ret) {
        loop_t *l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        l->timer_fd = l->signal_fd = -1;
        l->timerfd_tag = WATCHER_TIMERFD;
        l->signalfd_tag = WATCHER_SIGNALFD;
        sigemptyset(&l->signals);
        int r;
        l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (l->epoll_fd < 0)
                goto fail;
        l->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (l->timer_fd < 0)
                goto fail;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &l->timerfd_tag };
        if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, l->timer_fd, &ev) < 0)
                goto fail;
        *ret = l;
        return 0;
fail:
        r = -errno;
        loop_free(l);
        return r;
}

static void free_dead_ios(loop_t *l) {
        while (l->dead_ios) {
                loop_io_t *io = l->dead_ios;
                l->dead_ios = io->next_dead;
                free(io);
        }
}

void loop_free(loop_t *l) {
        if (!l)
                return;
        free_dead_ios(l);
        for (size_t i = 0; i < l->heap_len; i++)
                l->heap[i]->heap_index = SIZE_MAX;
        free(l->heap);
        free(l->handlers);
        if (l->signal_fd >= 0) {
                close(l->signal_fd);
                sigprocmask(SIG_UNBLOCK, &l->signals, NULL);
        }
        if (l->timer_fd >= 0)
                close(l->timer_fd);
        if (l->epoll_fd >= 0)
                close(l->epoll_fd);
        free(l);
}

int loop_io_add(loop_t *l, int fd, uint32_t events, loop_io_cb cb, void *userdata, const char *name,
                loop_io_t **ret) {
        loop_io_t *io = calloc(1, sizeof *io);
        if (!io)
                return -ENOMEM;
        *io = (loop_io_t) {
                .kind = WATCHER_IO, .loop = l, .fd = fd, .events = events,
                .cb = cb, .userdata = userdata, .name = name,
        };
        struct epoll_event ev = { .events = events, .data.ptr = io };
        if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                int r = -errno;
                free(io);
                return r;
        }
        l->n_ios++;
        *ret = io;
        return 0;
}

int loop_io_set_events(loop_io_t *io, uint32_t events) {
        if (io->events == events)
                return 0;
        struct epoll_event ev = { .events = events, .data.ptr = io };
        if (epoll_ctl(io->loop->epoll_fd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
                return -errno;
        io->events = events;
        return 0;
}

void loop_io_remove(loop_io_t *io) {
        if (!io || io->dead)
                return;
        loop_t *l = io->loop;
        /* The fd may already be closed by a careless caller; ignore errors. */
        (void) epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, io->fd, NULL);
        io->dead = true;
        io->next_dead = l->dead_ios;
        l->dead_ios = io;
        l->n_ios--;
}

/* ---- timers: binary min-heap ---- */

static void heap_swap(loop_t *l, size_t a, size_t b) {
        loop_timer_t *t = l->heap[a];
        l->heap[a] = l->heap[b];
        l->heap[b] = t;
        l->heap[a]->heap_index = a;
        l->heap[b]->heap_index = b;
}

static void heap_up(loop_t *l, size_t i) {
        while (i > 0) {
                size_t parent = (i - 1) / 2;
                if (l->heap[parent]->deadline <= l->heap[i]->deadline)
                        break;
                heap_swap(l, i, parent);
                i = parent;
        }
}

static void heap_down(loop_t *l, size_t i) {
        for (;;) {
                size_t left = 2 * i + 1, right = left + 1, min = i;
                if (left < l->heap_len && l->heap[left]->deadline < l->heap[min]->deadline)
                        min = left;
                if (right < l->heap_len && l->heap[right]->deadline < l->heap[min]->deadline)
                        min = right;
                if (min == i)
                        break;
                heap_swap(l, i, min);
                i = min;
        }
}

static void heap_remove(loop_t *l, loop_timer_t *t) {
        size_t i = t->heap_index;
        t->heap_index = SIZE_MAX;
        l->heap_len--;
        if (i == l->heap_len)
                return;
        l->heap[i] = l->heap[l->heap_len];
        l->heap[i]->heap_index = i;
        heap_down(l, i);
        heap_up(l, i);
}

int loop_timer_new(loop_t *l, loop_timer_cb cb, void *userdata, const char *name, loop_timer_t **ret) {
        loop_timer_t *t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        *t = (loop_timer_t) { .loop = l, .heap_index = SIZE_MAX, .cb = cb, .userdata = userdata, .name = name };
        /* Reserve the heap slot now so arming never fails. */
        if (l->heap_alloc < l->n_timers + 1) {
                size_t alloc = l->heap_alloc ? l->heap_alloc * 2 : 64;
                loop_timer_t **h = realloc(l->heap, alloc * sizeof *h);
                if (!h) {
                        free(t);
                        return -ENOMEM;
                }
                l->heap = h;
                l->heap_alloc = alloc;
        }
        l->n_timers++;
        *ret = t;
        return 0;
}

void loop_timer_arm(loop_timer_t *t, uint64_t deadline) {
        loop_t *l = t->loop;
        if (t->heap_index != SIZE_MAX) {
                uint64_t old = t->deadline;
                t->deadline = deadline;
                if (deadline < old)
                        heap_up(l, t->heap_index);
                else
                        heap_down(l, t->heap_index);
                return;
        }
        t->deadline = deadline;
        t->heap_index = l->heap_len;
        l->heap[l->heap_len++] = t;
        heap_up(l, t->heap_index);
}

void loop_timer_disarm(loop_timer_t *t) {
        if (t && t->heap_index != SIZE_MAX)
                heap_remove(t->loop, t);
}

bool loop_timer_armed(const loop_timer_t *t) {
        return t->heap_index != SIZE_MAX;
}

void loop_timer_free(loop_timer_t *t) {
        if (!t)
                return;
        loop_timer_disarm(t);
        t->loop->n_timers--;
        free(t);
}

static void rearm_timerfd(loop_t *l) {
        uint64_t want = l->heap_len > 0 ? l->heap[0]->deadline : 0;
        if (want == l->timerfd_deadline)
                return;
        struct itimerspec its = { 0 };
        if (want > 0) {
                /* A zero it_value would disarm: deadlines are >= 1 µs. */
                its.it_value.tv_sec = (time_t) (want / USEC_PER_SEC);
                its.it_value.tv_nsec = (long) (want % USEC_PER_SEC) * 1000L;
                if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
                        its.it_value.tv_nsec = 1;
        }
        if (timerfd_settime(l->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
                l->timerfd_deadline = want;
}

static void run_timers(loop_t *l) {
        uint64_t now = mono_usec();
        /* Bounded: timers re-armed for "now" by their callbacks run next iteration. */
        size_t budget = l->heap_len;
        while (l->heap_len > 0 && budget-- > 0 && l->heap[0]->deadline <= now) {
                loop_timer_t *t = l->heap[0];
                heap_remove(l, t);
                t->cb(t, t->userdata);
        }
}

/* ---- signals ---- */

static void handle_signals(loop_t *l) {
        struct signalfd_siginfo si;
        while (read(l->signal_fd, &si, sizeof si) == (ssize_t) sizeof si)
                for (size_t i = 0; i < l->n_handlers; i++)
                        if (l->handlers[i].signo == (int) si.ssi_signo)
                                l->handlers[i].cb(l, (int) si.ssi_signo, l->handlers[i].userdata);
}

int loop_signal_add(loop_t *l, int signo, loop_signal_cb cb, void *userdata) {
        signal_handler_t *h = realloc(l->handlers, (l->n_handlers + 1) * sizeof *h);
        if (!h)
                return -ENOMEM;
        l->handlers = h;
        sigaddset(&l->signals, signo);
        if (sigprocmask(SIG_BLOCK, &l->signals, NULL) < 0)
                return -errno;
        int fd = signalfd(l->signal_fd, &l->signals, SFD_NONBLOCK | SFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (l->signal_fd < 0) {
                struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &l->signalfd_tag };
                if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                        int r = -errno;
                        close(fd);
                        return r;
                }
                l->signal_fd = fd;
        }
        h[l->n_handlers++] = (signal_handler_t) { .signo = signo, .cb = cb, .userdata = userdata };
        return 0;
}

/* ---- running ---- */

/* The next timer closer than this is waited for with epoll_pwait2()'s own
 * timeout: no timerfd_settime() before and no read() of the timerfd after the
 * wait (at 500 HTTP probes/s, one in seven of all system calls). Its slack is
 * the larger of 0.1 % of the wait and the thread's timer slack (50 µs), so
 * this bound keeps it at 50 µs; farther timers use the timerfd, which has
 * none, and whose re-arming is rare there. Microseconds. */
#define LOOP_SHORT_WAIT_USEC (50 * USEC_PER_MSEC)

/* epoll_wait() for at most `max_wait_usec` and until the next timer is due. */
static int wait_events(loop_t *l, struct epoll_event *events, uint64_t max_wait_usec) {
        if (!l->no_pwait2 && l->heap_len > 0) {
                uint64_t now = mono_usec(), next = l->heap[0]->deadline;
                uint64_t wait = next > now ? next - now : 0;
                if (wait < LOOP_SHORT_WAIT_USEC) {
                        if (wait > max_wait_usec)
                                wait = max_wait_usec;
                        struct timespec ts = { .tv_sec = (time_t) (wait / USEC_PER_SEC),
                                               .tv_nsec = (long) (wait % USEC_PER_SEC) * 1000L };
                        int n = epoll_pwait2(l->epoll_fd, events, LOOP_MAX_EVENTS, &ts, NULL);
                        /* ENOSYS: a kernel before 5.11; EPERM: a seccomp profile that
                         * predates the call (container runtimes' defaults did). */
                        if (n >= 0 || (errno != ENOSYS && errno != EPERM))
                                return n;
                        l->no_pwait2 = true;
                }
        }
        /* A timerfd armed earlier for a timer since disarmed or moved may
         * still wake the loop once: harmless, run_timers() finds nothing due. */
        rearm_timerfd(l);
        int timeout_ms = (int) ((max_wait_usec + 999) / 1000);
        if (max_wait_usec == UINT64_MAX || max_wait_usec / 1000 > INT32_MAX)
                timeout_ms = -1;
        return epoll_wait(l->epoll_fd, events, LOOP_MAX_EVENTS, timeout_ms);
}

int loop_run_once(loop_t *l, uint64_t max_wait_usec) {
        struct epoll_event events[LOOP_MAX_EVENTS];
        int n = wait_events(l, events, max_wait_usec);
        if (n < 0) {
                if (errno == EINTR)
                        return 0;
                return -errno;
        }
        bool timers_due = false;
        for (int i = 0; i < n; i++) {
                watcher_kind_t *kind = events[i].data.ptr;
                if (*kind == WATCHER_TIMERFD) {
                        uint64_t expirations;
                        (void) !read(l->timer_fd, &expirations, sizeof expirations);
                        l->timerfd_deadline = 0;
                        timers_due = true;
                } else if (*kind == WATCHER_SIGNALFD) {
                        handle_signals(l);
                } else {
                        loop_io_t *io = (loop_io_t *) kind;
                        if (!io->dead)
                                io->cb(io, io->fd, events[i].events, io->userdata);
                }
        }
        /* Timers are also checked without a timerfd wake-up: an fd event may
         * have been handled right at a deadline. */
        (void) timers_due;
        run_timers(l);
        free_dead_ios(l);
        return 0;
}

int loop_run(loop_t *l) {
        while (!l->quit) {
                int r = loop_run_once(l, UINT64_MAX);
                if (r < 0)
                        return r;
        }
        return 0;
}

void loop_quit(loop_t *l) {
        l->quit = true;
}

unsigned loop_timer_count(const loop_t *l) {
        return (unsigned) l->heap_len;
}

unsigned loop_io_count(const loop_t *l) {
        return l->n_ios;
}
