/* The scheduler: runs jobs at their interval, each at a deterministic phase
 * inside the interval (so 1,000 rows do not fire together), with a cap on jobs
 * running at once. Due jobs beyond the cap wait in FIFO order; how late each
 * job starts is handed to its callback (netcanary_scheduler_lag_seconds).
 *
 * Slots are aligned to the scheduler's epoch: the k-th run of a job is due at
 * epoch + phase + k * interval, so a config reload that keeps a row keeps its
 * phase, and a job that falls a whole interval behind skips to its next slot
 * instead of bursting. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"

typedef struct sched sched_t;
typedef struct sched_job sched_job_t;

/* The job has started; it must call sched_job_done() exactly once when its
 * work finishes (also later, from another callback). `lag_usec` is how late
 * it started against its slot. */
typedef void (*sched_run_cb)(sched_job_t *job, uint64_t lag_usec, void *userdata);

int sched_new(loop_t *loop, unsigned max_in_flight, sched_t **ret);
/* Cancels every job. */
void sched_free(sched_t *s);
void sched_set_max_in_flight(sched_t *s, unsigned max_in_flight);

/* Adds a job; its first run is the next slot of `phase_usec` (< interval)
 * from now, or immediately when `run_now` is set. `name` is copied. */
int sched_add(sched_t *s, uint64_t interval_usec, uint64_t phase_usec, bool run_now, sched_run_cb cb,
              void *userdata, const char *name, sched_job_t **ret);
/* Brings a job's first run forward to within `within_usec` from now (at the
 * job's phase modulo that window), so a new row reports quickly without all
 * rows firing together; later runs keep their slots. No-op once it ran. */
void sched_job_first_within(sched_job_t *job, uint64_t within_usec);
/* Marks the running job finished, freeing its slot. */
void sched_job_done(sched_job_t *job);
/* Removes the job; a running job's callback must not call sched_job_done()
 * afterwards. Accepts NULL. */
void sched_cancel(sched_job_t *job);
bool sched_job_running(const sched_job_t *job);

unsigned sched_in_flight(const sched_t *s);
unsigned sched_queued(const sched_t *s);
/* Runs skipped because the previous run of the same job had not finished. */
uint64_t sched_skipped(const sched_t *s);

/* Deterministic phase for `key` in [0, interval_usec). */
uint64_t sched_phase(const char *key, uint64_t interval_usec);
