/* The daemon's single event loop: epoll for fds, timers in a min-heap on
 * CLOCK_MONOTONIC microseconds (the next one waited for with epoll_pwait2's
 * timeout when it is near, with one timerfd otherwise), signalfd for signals.
 *
 * Invariants:
 *  - Nothing registered with the loop may block.
 *  - loop_io_remove() must be called before close(fd); the watcher's memory is
 *    released at the end of the current iteration, so it is safe from callbacks.
 *  - A timer fires once and is then disarmed; its owner re-arms or frees it.
 *    Freeing a timer (also from its own callback) is always safe. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct loop loop_t;
typedef struct loop_io loop_io_t;
typedef struct loop_timer loop_timer_t;

/* `events` are EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP bits as returned by epoll. */
typedef void (*loop_io_cb)(loop_io_t *io, int fd, uint32_t events, void *userdata);
typedef void (*loop_timer_cb)(loop_timer_t *timer, void *userdata);
typedef void (*loop_signal_cb)(loop_t *loop, int signo, void *userdata);

int loop_new(loop_t **ret);
void loop_free(loop_t *loop);

/* Watches `fd` for `events` (EPOLLIN, EPOLLOUT). `name` is kept for debug logs
 * and must outlive the watcher (use string literals). */
int loop_io_add(loop_t *loop, int fd, uint32_t events, loop_io_cb cb, void *userdata, const char *name,
                loop_io_t **ret);
int loop_io_set_events(loop_io_t *io, uint32_t events);
/* Stops watching; accepts NULL. Call before closing the fd. */
void loop_io_remove(loop_io_t *io);

/* A disarmed timer; arm it with loop_timer_arm(). */
int loop_timer_new(loop_t *loop, loop_timer_cb cb, void *userdata, const char *name, loop_timer_t **ret);
/* Fires at `deadline_usec` on the mono_usec() clock (re-arming moves it). */
void loop_timer_arm(loop_timer_t *timer, uint64_t deadline_usec);
void loop_timer_disarm(loop_timer_t *timer);
bool loop_timer_armed(const loop_timer_t *timer);
/* Disarms and frees; accepts NULL. */
void loop_timer_free(loop_timer_t *timer);

/* Routes `signo` through signalfd to `cb`; the signal is blocked for the thread. */
int loop_signal_add(loop_t *loop, int signo, loop_signal_cb cb, void *userdata);

/* Runs until loop_quit() (at once if it was already called); returns 0, or
 * -errno if epoll itself fails. */
int loop_run(loop_t *loop);
void loop_quit(loop_t *loop);
/* Runs one iteration, waiting at most `max_wait_usec` (0 = poll). For tests. */
int loop_run_once(loop_t *loop, uint64_t max_wait_usec);

/* Number of armed timers and of fd watchers; for tests and debug. */
unsigned loop_timer_count(const loop_t *loop);
unsigned loop_io_count(const loop_t *loop);
