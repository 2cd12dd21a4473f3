/* Unit tests for sched.c: deterministic phases that spread jobs, and the
 * scheduler on a real loop (runs, the in-flight cap, FIFO queue, cancel).
 * Loop-driven tests are bounded by iteration counts and a ~2 s safety cap;
 * they assert counts, never durations. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loop.h"
#include "sched.h"
#include "util.h"

#define MS USEC_PER_MSEC
#define SEC USEC_PER_SEC

/* ---- phases ---- */

static void test_phase_deterministic_in_range(void **state)
{
        static const uint64_t intervals[] = { 1, 2, 7, 1000, 15 * SEC, 3600 * SEC, UINT64_MAX };
        char key[64];
        for (size_t j = 0; j < ELEMENTSOF(intervals); j++)
                for (int i = 0; i < 500; i++) {
                        snprintf(key, sizeof(key), "customer-%d->target-%d", i, i * 7);
                        uint64_t p = sched_phase(key, intervals[j]);
                        assert_true(p < intervals[j]);
                        assert_true(p == sched_phase(key, intervals[j]));
                }
        assert_true(sched_phase("anything", 1) == 0);
        assert_true(sched_phase("", 15 * SEC) < 15 * SEC);

        /* Different keys get different phases (not one constant). */
        uint64_t p0 = sched_phase("row-0", 15 * SEC);
        int differ = 0;
        for (int i = 1; i < 50; i++) {
                snprintf(key, sizeof(key), "row-%d", i);
                differ += sched_phase(key, 15 * SEC) != p0;
        }
        assert_true(differ >= 45);
}

static void test_phase_spread(void **state)
{
        enum { N = 1000, BUCKETS = 15 };
        const uint64_t interval = 15 * SEC;
        unsigned count[BUCKETS] = { 0 };
        char key[32];

        for (int i = 0; i < N; i++) {
                snprintf(key, sizeof(key), "row-%d", i);
                uint64_t p = sched_phase(key, interval);
                assert_true(p < interval);
                count[p / SEC]++;
        }
        /* Mean 66.7 per 1-second bucket. A constant phase puts 1000 in one
         * bucket, a phase that only uses the low bits of a poor hash a few
         * hundred; a decent hash stays well under 3x the mean. */
        const double mean = (double) N / BUCKETS;
        unsigned max = 0, empty = 0;
        for (int b = 0; b < BUCKETS; b++) {
                if (count[b] > max)
                        max = count[b];
                empty += count[b] == 0;
        }
        if (max > 3 * mean)
                fail_msg("a 1-second bucket holds %u of %d phases (mean %.1f)", max, N, mean);
        assert_int_equal(empty, 0);

        /* Spread also at a finer grain: 100 ms buckets (mean 6.7). */
        unsigned fine[150] = { 0 };
        for (int i = 0; i < N; i++) {
                snprintf(key, sizeof(key), "row-%d", i);
                fine[sched_phase(key, interval) / (100 * MS)]++;
        }
        unsigned fmax = 0, fempty = 0;
        for (int b = 0; b < 150; b++) {
                if (fine[b] > fmax)
                        fmax = fine[b];
                fempty += fine[b] == 0;
        }
        assert_true(fmax <= 30);
        assert_true(fempty <= 30);
}

/* ---- loop-driven ---- */

typedef struct job_ctx {
        int id;
        unsigned runs;
        bool auto_done;    /* call sched_job_done() from the callback */
        sched_job_t *job;  /* from sched_add */
        sched_job_t *seen; /* the handle the callback received */
        int *order;        /* shared log of run order */
        size_t *n_order;
} job_ctx_t;

static void job_cb(sched_job_t *job, uint64_t lag_usec, void *userdata)
{
        job_ctx_t *c = userdata;
        c->runs++;
        c->seen = job;
        assert_true(sched_job_running(job));
        if (c->order)
                c->order[(*c->n_order)++ % 64] = c->id;
        if (c->auto_done)
                sched_job_done(job);
}

/* Runs loop iterations until `cond(arg)` holds, at most ~2 s in total. */
typedef bool (*cond_fn)(void *arg);

static bool spin(loop_t *loop, cond_fn cond, void *arg, unsigned max_iterations)
{
        uint64_t stop = mono_usec() + 2 * SEC;
        for (unsigned i = 0; i < max_iterations && mono_usec() < stop; i++) {
                if (cond(arg))
                        return true;
                assert_true(loop_run_once(loop, 10 * MS) >= 0);
        }
        return cond(arg);
}

static job_ctx_t *g_jobs;
static size_t g_n_jobs;

static bool all_ran_three_times(void *arg)
{
        for (size_t i = 0; i < g_n_jobs; i++)
                if (g_jobs[i].runs < 3)
                        return false;
        return true;
}

static void test_jobs_run_repeatedly(void **state)
{
        loop_t *loop = NULL;
        sched_t *s = NULL;
        job_ctx_t jobs[3];

        assert_int_equal(loop_new(&loop), 0);
        assert_int_equal(sched_new(loop, 16, &s), 0);
        memset(jobs, 0, sizeof(jobs));
        for (int i = 0; i < 3; i++) {
                char name[16];
                jobs[i].id = i;
                jobs[i].auto_done = true;
                snprintf(name, sizeof(name), "job-%d", i);
                assert_int_equal(sched_add(s, 50 * MS, sched_phase(name, 50 * MS), i == 0, job_cb, &jobs[i], name,
                                           &jobs[i].job),
                                 0);
                assert_non_null(jobs[i].job);
        }
        g_jobs = jobs;
        g_n_jobs = 3;
        assert_true(spin(loop, all_ran_three_times, NULL, 400));
        for (int i = 0; i < 3; i++) {
                assert_ptr_equal(jobs[i].seen, jobs[i].job);
                assert_false(sched_job_running(jobs[i].job));
        }
        assert_int_equal(sched_in_flight(s), 0);
        assert_int_equal(sched_skipped(s), 0);

        /* A cancelled job never runs again; the others go on. */
        unsigned before = jobs[1].runs;
        sched_cancel(jobs[1].job);
        jobs[0].runs = jobs[2].runs = 0;
        jobs[1].runs = before;
        g_jobs = &jobs[0];
        g_n_jobs = 1;
        assert_true(spin(loop, all_ran_three_times, NULL, 400));
        assert_int_equal(jobs[1].runs, before);

        sched_cancel(jobs[0].job);
        sched_cancel(jobs[2].job);
        assert_int_equal(loop_timer_count(loop), 0);
        sched_free(s);
        loop_free(loop);
}

typedef struct cap_state {
        sched_t *s;
        job_ctx_t *jobs;
        size_t n;
} cap_state_t;

static unsigned total_runs(const cap_state_t *cs)
{
        unsigned t = 0;
        for (size_t i = 0; i < cs->n; i++)
                t += cs->jobs[i].runs;
        return t;
}

static bool one_running_two_queued(void *arg)
{
        cap_state_t *cs = arg;
        return total_runs(cs) >= 1 && sched_queued(cs->s) >= 2;
}

static bool two_runs(void *arg)
{
        return total_runs(arg) >= 2;
}

static bool never(void *arg)
{
        return false;
}

static void test_max_in_flight_queue_and_cancel(void **state)
{
        loop_t *loop = NULL;
        sched_t *s = NULL;
        job_ctx_t jobs[3];
        int order[64];
        size_t n_order = 0;

        assert_int_equal(loop_new(&loop), 0);
        assert_int_equal(sched_new(loop, 1, &s), 0);
        memset(jobs, 0, sizeof(jobs));
        for (int i = 0; i < 3; i++) {
                jobs[i].id = i;
                jobs[i].order = order;
                jobs[i].n_order = &n_order;
                /* A long interval: only the run_now slot happens in this test. */
                assert_int_equal(sched_add(s, 3600 * SEC, 0, true, job_cb, &jobs[i], "capped", &jobs[i].job), 0);
        }
        cap_state_t cs = { .s = s, .jobs = jobs, .n = 3 };

        assert_true(spin(loop, one_running_two_queued, &cs, 100));
        assert_int_equal(total_runs(&cs), 1);
        assert_int_equal(sched_in_flight(s), 1);
        assert_int_equal(sched_queued(s), 2);
        int first = order[0];
        assert_int_equal(jobs[first].runs, 1);
        assert_true(sched_job_running(jobs[first].job));

        /* Still capped after more iterations: nobody else starts. */
        spin(loop, never, NULL, 5);
        assert_int_equal(total_runs(&cs), 1);
        assert_int_equal(sched_queued(s), 2);

        /* Cancel one queued job (the last added that is not running). */
        int cancelled = first == 2 ? 1 : 2;
        int remaining = 3 - first - cancelled;
        sched_cancel(jobs[cancelled].job);
        assert_int_equal(sched_queued(s), 1);
        assert_int_equal(sched_in_flight(s), 1);

        /* Finishing the running job frees the slot for the remaining one. */
        sched_job_done(jobs[first].job);
        assert_false(sched_job_running(jobs[first].job));
        assert_true(spin(loop, two_runs, &cs, 100));
        assert_int_equal(jobs[remaining].runs, 1);
        assert_int_equal(jobs[cancelled].runs, 0);
        assert_int_equal(order[1], remaining);
        assert_int_equal(sched_in_flight(s), 1);
        assert_int_equal(sched_queued(s), 0);

        sched_job_done(jobs[remaining].job);
        spin(loop, never, NULL, 5);
        assert_int_equal(sched_in_flight(s), 0);
        assert_int_equal(jobs[cancelled].runs, 0);
        assert_int_equal(total_runs(&cs), 2);

        sched_cancel(jobs[first].job);
        sched_cancel(jobs[remaining].job);
        sched_free(s);
        loop_free(loop);
}

static void test_free_cancels_jobs(void **state)
{
        loop_t *loop = NULL;
        sched_t *s = NULL;
        job_ctx_t jobs[2];

        assert_int_equal(loop_new(&loop), 0);
        assert_int_equal(sched_new(loop, 1, &s), 0);
        memset(jobs, 0, sizeof(jobs));
        /* One running (never done), one queued behind it... */
        for (int i = 0; i < 2; i++)
                assert_int_equal(sched_add(s, 20 * MS, 0, true, job_cb, &jobs[i], "free", &jobs[i].job), 0);
        cap_state_t cs = { .s = s, .jobs = jobs, .n = 2 };
        uint64_t stop = mono_usec() + 2 * SEC;
        while (total_runs(&cs) < 1 && mono_usec() < stop)
                assert_true(loop_run_once(loop, 5 * MS) >= 0);
        assert_int_equal(total_runs(&cs), 1);
        assert_true(loop_timer_count(loop) > 0);

        /* ...and sched_free() ("Cancels every job") must leave no timer in the
         * loop that could fire into the freed scheduler. */
        sched_free(s);
        assert_int_equal(loop_timer_count(loop), 0);
        spin(loop, never, NULL, 5);
        assert_int_equal(total_runs(&cs), 1);
        loop_free(loop);
}

static bool queued_is(sched_t *s, unsigned n)
{
        return sched_queued(s) == n;
}

static void test_fifo_order(void **state)
{
        loop_t *loop = NULL;
        sched_t *s = NULL;
        job_ctx_t jobs[4];
        int order[64];
        size_t n_order = 0;

        assert_int_equal(loop_new(&loop), 0);
        assert_int_equal(sched_new(loop, 1, &s), 0);
        memset(jobs, 0, sizeof(jobs));
        cap_state_t cs = { .s = s, .jobs = jobs, .n = 4 };

        /* Job 0 takes the only slot; jobs 1, 2, 3 become due one after the
         * other (each added only once the previous one is queued). */
        for (int i = 0; i < 4; i++) {
                jobs[i].id = i;
                jobs[i].order = order;
                jobs[i].n_order = &n_order;
                assert_int_equal(sched_add(s, 3600 * SEC, 0, true, job_cb, &jobs[i], "fifo", &jobs[i].job), 0);
                uint64_t stop = mono_usec() + 2 * SEC;
                while (!(total_runs(&cs) == 1 && queued_is(s, (unsigned) i)) && mono_usec() < stop)
                        assert_true(loop_run_once(loop, 5 * MS) >= 0);
                assert_int_equal(total_runs(&cs), 1);
                assert_int_equal(sched_queued(s), i);
        }
        assert_int_equal(order[0], 0);

        /* Each finish lets exactly the next queued job start, oldest first. */
        for (unsigned k = 2; k <= 4; k++) {
                sched_job_done(jobs[order[k - 2]].job);
                uint64_t stop = mono_usec() + 2 * SEC;
                while (total_runs(&cs) < k && mono_usec() < stop)
                        assert_true(loop_run_once(loop, 5 * MS) >= 0);
                assert_int_equal(total_runs(&cs), k);
                assert_int_equal(sched_in_flight(s), 1);
                assert_int_equal(sched_queued(s), 4 - k);
        }
        assert_int_equal(n_order, 4);
        for (int i = 0; i < 4; i++)
                if (order[i] != i)
                        fail_msg("run order %d,%d,%d,%d, want 0,1,2,3 (FIFO)", order[0], order[1], order[2], order[3]);
        sched_job_done(jobs[3].job);
        spin(loop, never, NULL, 3);
        assert_int_equal(sched_in_flight(s), 0);
        assert_int_equal(sched_queued(s), 0);
        for (int i = 0; i < 4; i++)
                sched_cancel(jobs[i].job);
        sched_free(s);
        loop_free(loop);
}

static bool all_three_running(void *arg)
{
        cap_state_t *cs = arg;
        return sched_in_flight(cs->s) == 3;
}

static void test_raise_max_in_flight_starts_queued(void **state)
{
        loop_t *loop = NULL;
        sched_t *s = NULL;
        job_ctx_t jobs[3];

        assert_int_equal(loop_new(&loop), 0);
        assert_int_equal(sched_new(loop, 1, &s), 0);
        memset(jobs, 0, sizeof(jobs));
        for (int i = 0; i < 3; i++) {
                jobs[i].id = i;
                assert_int_equal(sched_add(s, 3600 * SEC, 0, true, job_cb, &jobs[i], "raise", &jobs[i].job), 0);
        }
        cap_state_t cs = { .s = s, .jobs = jobs, .n = 3 };
        assert_true(spin(loop, one_running_two_queued, &cs, 100));
        assert_int_equal(sched_in_flight(s), 1);

        /* A reload that raises the cap lets the waiting jobs start without
         * waiting for the running one to finish. */
        sched_set_max_in_flight(s, 3);
        assert_true(spin(loop, all_three_running, &cs, 20));
        assert_int_equal(sched_queued(s), 0);
        assert_int_equal(total_runs(&cs), 3);

        for (int i = 0; i < 3; i++)
                sched_cancel(jobs[i].job);
        sched_free(s);
        loop_free(loop);
}

static bool skipped_some(void *arg)
{
        return sched_skipped(arg) > 0;
}

static void test_skip_when_previous_run_unfinished(void **state)
{
        loop_t *loop = NULL;
        sched_t *s = NULL;
        job_ctx_t job;

        assert_int_equal(loop_new(&loop), 0);
        assert_int_equal(sched_new(loop, 16, &s), 0);
        memset(&job, 0, sizeof(job));
        /* Never calls sched_job_done(): later slots find it still running. */
        assert_int_equal(sched_add(s, 20 * MS, 0, true, job_cb, &job, "stuck", &job.job), 0);
        assert_true(spin(loop, skipped_some, s, 200));
        assert_int_equal(job.runs, 1);
        assert_true(sched_job_running(job.job));
        assert_int_equal(sched_in_flight(s), 1);

        /* Once it finishes, it runs again at a later slot. */
        sched_job_done(job.job);
        uint64_t stop = mono_usec() + 2 * SEC;
        while (job.runs < 2 && mono_usec() < stop)
                assert_true(loop_run_once(loop, 10 * MS) >= 0);
        assert_int_equal(job.runs, 2);

        sched_cancel(job.job);
        sched_free(s);
        loop_free(loop);
}

static void cancel_self_cb(sched_job_t *job, uint64_t lag_usec, void *userdata)
{
        unsigned *runs = userdata;
        (*runs)++;
        sched_cancel(job);
}

static void test_cancel_from_callback(void **state)
{
        loop_t *loop = NULL;
        sched_t *s = NULL;
        sched_job_t *job = NULL;
        unsigned runs = 0;

        assert_int_equal(loop_new(&loop), 0);
        assert_int_equal(sched_new(loop, 4, &s), 0);
        assert_int_equal(sched_add(s, 10 * MS, 0, true, cancel_self_cb, &runs, "self-cancel", &job), 0);
        spin(loop, never, NULL, 20);
        assert_int_equal(runs, 1);
        /* A cancelled running job releases its slot. */
        assert_int_equal(sched_in_flight(s), 0);
        sched_free(s);
        loop_free(loop);
        sched_cancel(NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_phase_deterministic_in_range),
                cmocka_unit_test(test_phase_spread),
                cmocka_unit_test(test_jobs_run_repeatedly),
                cmocka_unit_test(test_free_cancels_jobs),
                cmocka_unit_test(test_max_in_flight_queue_and_cancel),
                cmocka_unit_test(test_fifo_order),
                cmocka_unit_test(test_raise_max_in_flight_starts_queued),
                cmocka_unit_test(test_skip_when_previous_run_unfinished),
                cmocka_unit_test(test_cancel_from_callback),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
