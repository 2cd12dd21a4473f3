/* Unit tests for loop.c's timers: near timers are waited for with
 * epoll_pwait2's timeout, far ones with the timerfd, and a timer moved
 * between the two ranges while the loop waits. The properties checked are
 * order and "never before its deadline"; how late a timer fires is a
 * benchmark figure (scheduler lag), not asserted here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "loop.h"
#include "util.h"

#define MS USEC_PER_MSEC

typedef struct fired {
        loop_timer_t *timer;
        uint64_t deadline;      /* as armed last */
        uint64_t at;            /* when the callback ran; 0 = not yet */
        unsigned order;         /* 1-based position among the firings */
} fired_t;

static unsigned n_fired;

static void on_timer(loop_timer_t *t, void *userdata) {
        fired_t *f = userdata;
        f->at = mono_usec();
        f->order = ++n_fired;
}

static void arm(fired_t *f, uint64_t deadline) {
        f->deadline = deadline;
        loop_timer_arm(f->timer, deadline);
}

/* Runs the loop until `n` timers fired in all, at most 5 s. */
static void run_until(loop_t *loop, unsigned n) {
        uint64_t start = mono_usec();
        while (n_fired < n && mono_usec() - start < 5 * USEC_PER_SEC)
                assert_true(loop_run_once(loop, UINT64_MAX) >= 0);
        assert_int_equal(n_fired, n);
}

/* Deadlines on both sides of the 50 ms near/far bound fire in deadline
 * order, none before its deadline. */
static void test_near_and_far_timers_in_order(void **state) {
        loop_t *loop = NULL;
        assert_int_equal(loop_new(&loop), 0);
        static const uint64_t offsets_ms[] = { 120, 5, 60, 1, 0, 49, 51, 200 };
        fired_t f[8] = { 0 };
        n_fired = 0;
        uint64_t now = mono_usec();
        for (size_t i = 0; i < 8; i++) {
                assert_int_equal(loop_timer_new(loop, on_timer, &f[i], "test", &f[i].timer), 0);
                arm(&f[i], now + offsets_ms[i] * MS);
        }
        run_until(loop, 8);
        for (size_t i = 0; i < 8; i++) {
                assert_true(f[i].at >= f[i].deadline);
                for (size_t j = 0; j < 8; j++)
                        if (f[j].deadline < f[i].deadline)
                                assert_true(f[j].order < f[i].order);
        }
        for (size_t i = 0; i < 8; i++)
                loop_timer_free(f[i].timer);
        loop_free(loop);
}

/* While the loop waits on the timerfd for a far timer, a near timer moves it
 * earlier (and another later, out of the near range): the moved timers fire
 * at their new deadlines, not at the old ones. */
static void mover_cb(loop_timer_t *t, void *userdata) {
        fired_t *const *targets = userdata;
        uint64_t now = mono_usec();
        arm(targets[0], now + 20 * MS);  /* far -> near */
        arm(targets[1], now + 150 * MS); /* near -> far */
        ++n_fired;
}

static void test_rearm_across_the_bound(void **state) {
        loop_t *loop = NULL;
        assert_int_equal(loop_new(&loop), 0);
        n_fired = 0;
        fired_t far = { 0 }, near = { 0 };
        fired_t *targets[2] = { &far, &near };
        loop_timer_t *mover = NULL;
        assert_int_equal(loop_timer_new(loop, on_timer, &far, "far", &far.timer), 0);
        assert_int_equal(loop_timer_new(loop, on_timer, &near, "near", &near.timer), 0);
        assert_int_equal(loop_timer_new(loop, mover_cb, targets, "mover", &mover), 0);
        uint64_t now = mono_usec();
        arm(&far, now + 2 * USEC_PER_SEC);
        arm(&near, now + 30 * MS);
        loop_timer_arm(mover, now + 10 * MS);
        run_until(loop, 3);
        assert_true(far.at >= far.deadline);
        assert_true(near.at >= near.deadline);
        assert_true(far.order < near.order);
        /* The far timer's old deadline (2 s) did not hold it back. */
        assert_true(far.at < now + 2 * USEC_PER_SEC);
        loop_timer_free(far.timer);
        loop_timer_free(near.timer);
        loop_timer_free(mover);
        loop_free(loop);
}

/* A far timer disarmed while armed on the timerfd, and a bounded wait: the
 * loop returns from the wait and nothing fires. */
static void test_disarmed_far_timer_does_not_fire(void **state) {
        loop_t *loop = NULL;
        assert_int_equal(loop_new(&loop), 0);
        n_fired = 0;
        fired_t f = { 0 };
        assert_int_equal(loop_timer_new(loop, on_timer, &f, "far", &f.timer), 0);
        arm(&f, mono_usec() + 80 * MS);
        assert_true(loop_run_once(loop, 1 * MS) >= 0); /* the timerfd is armed now */
        loop_timer_disarm(f.timer);
        uint64_t start = mono_usec();
        while (mono_usec() - start < 150 * MS)
                assert_true(loop_run_once(loop, 20 * MS) >= 0);
        assert_int_equal(n_fired, 0);
        assert_int_equal(f.at, 0);
        loop_timer_free(f.timer);
        loop_free(loop);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_near_and_far_timers_in_order),
                cmocka_unit_test(test_rearm_across_the_bound),
                cmocka_unit_test(test_disarmed_far_timer_does_not_fire),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
