#include "sched.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef enum job_state {
        JOB_IDLE,
        JOB_QUEUED,
        JOB_RUNNING,
} job_state_t;

struct sched_job {
        sched_t *sched;
        char *name;
        uint64_t interval;         /* µs */
        uint64_t phase;            /* µs into each interval, relative to the epoch */
        uint64_t next_due;         /* mono µs of the next slot */
        uint64_t queued_due;       /* the slot a queued run belongs to */
        loop_timer_t *timer;
        job_state_t state;
        sched_run_cb cb;
        void *userdata;
        sched_job_t *queue_next;   /* FIFO of jobs waiting for a slot */
        sched_job_t *prev, *next;  /* every job of the scheduler */
};

struct sched {
        loop_t *loop;
        uint64_t epoch;            /* mono µs all slots are aligned to */
        unsigned max_in_flight;
        unsigned in_flight;
        unsigned queued;
        uint64_t skipped;
        sched_job_t *queue_head, *queue_tail;
        sched_job_t *jobs;         /* all jobs, for sched_free() */
        bool draining;
};

int sched_new(loop_t *loop, unsigned max_in_flight, sched_t **ret) {
        sched_t *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->loop = loop;
        s->epoch = mono_usec();
        s->max_in_flight = max_in_flight ? max_in_flight : 1;
        *ret = s;
        return 0;
}

static void drain(sched_t *s);

void sched_free(sched_t *s) {
        if (!s)
                return;
        s->draining = true; /* nothing starts while jobs go */
        while (s->jobs)
                sched_cancel(s->jobs);
        free(s);
}

void sched_set_max_in_flight(sched_t *s, unsigned max_in_flight) {
        s->max_in_flight = max_in_flight ? max_in_flight : 1;
        drain(s);
}

uint64_t sched_phase(const char *key, uint64_t interval_usec) {
        if (interval_usec == 0)
                return 0;
        /* Mix the FNV result so that keys differing only at the end spread well. */
        uint64_t h = hash_fnv1a(key, strlen(key), 0);
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33;
        return h % interval_usec;
}

/* The first slot of `job` at or after `t`. */
static uint64_t slot_at_or_after(const sched_t *s, const sched_job_t *job, uint64_t t) {
        uint64_t first = s->epoch + job->phase;
        if (t <= first)
                return first;
        uint64_t k = (t - first + job->interval - 1) / job->interval;
        return first + k * job->interval;
}

static void job_start(sched_job_t *job, uint64_t due) {
        sched_t *s = job->sched;
        job->state = JOB_RUNNING;
        s->in_flight++;
        uint64_t now = mono_usec();
        job->cb(job, now > due ? now - due : 0, job->userdata);
}

static sched_job_t *queue_pop(sched_t *s) {
        sched_job_t *job = s->queue_head;
        if (!job)
                return NULL;
        s->queue_head = job->queue_next;
        if (!s->queue_head)
                s->queue_tail = NULL;
        job->queue_next = NULL;
        s->queued--;
        return job;
}

static void queue_unlink(sched_t *s, sched_job_t *job) {
        sched_job_t **pp = &s->queue_head, *prev = NULL;
        while (*pp && *pp != job) {
                prev = *pp;
                pp = &(*pp)->queue_next;
        }
        if (!*pp)
                return;
        *pp = job->queue_next;
        if (s->queue_tail == job)
                s->queue_tail = prev;
        job->queue_next = NULL;
        s->queued--;
}

static void drain(sched_t *s) {
        if (s->draining)
                return; /* the outer drain loop picks up the freed slot */
        s->draining = true;
        while (s->in_flight < s->max_in_flight) {
                sched_job_t *job = queue_pop(s);
                if (!job)
                        break;
                job_start(job, job->queued_due);
        }
        s->draining = false;
}

static void on_job_timer(loop_timer_t *t, void *userdata) {
        sched_job_t *job = userdata;
        sched_t *s = job->sched;
        uint64_t due = job->next_due;
        uint64_t now = mono_usec();
        /* Next slot: the one after this, or if we fell a whole interval behind,
         * the next one in the future (no burst of catch-up runs). */
        uint64_t next = slot_at_or_after(s, job, due + 1);
        if (next <= now)
                next = slot_at_or_after(s, job, now + 1);
        job->next_due = next;
        loop_timer_arm(t, next);

        if (job->state != JOB_IDLE) {
                s->skipped++;
                return;
        }
        if (s->in_flight < s->max_in_flight && !s->queue_head) {
                job_start(job, due);
                return;
        }
        job->state = JOB_QUEUED;
        job->queued_due = due;
        if (s->queue_tail)
                s->queue_tail->queue_next = job;
        else
                s->queue_head = job;
        s->queue_tail = job;
        s->queued++;
        drain(s);
}

int sched_add(sched_t *s, uint64_t interval_usec, uint64_t phase_usec, bool run_now, sched_run_cb cb,
              void *userdata, const char *name, sched_job_t **ret) {
        if (interval_usec == 0)
                return -EINVAL;
        sched_job_t *job = calloc(1, sizeof *job);
        if (!job)
                return -ENOMEM;
        *job = (sched_job_t) {
                .sched = s, .interval = interval_usec, .phase = phase_usec % interval_usec,
                .cb = cb, .userdata = userdata,
        };
        job->name = strdup(name ? name : "job");
        int r = job->name ? loop_timer_new(s->loop, on_job_timer, job, "sched-job", &job->timer) : -ENOMEM;
        if (r < 0) {
                free(job->name);
                free(job);
                return r;
        }
        uint64_t now = mono_usec();
        job->next_due = run_now ? now : slot_at_or_after(s, job, now);
        loop_timer_arm(job->timer, job->next_due);
        job->next = s->jobs;
        if (s->jobs)
                s->jobs->prev = job;
        s->jobs = job;
        *ret = job;
        return 0;
}

void sched_job_first_within(sched_job_t *job, uint64_t within_usec) {
        if (job->state != JOB_IDLE || within_usec == 0)
                return;
        uint64_t first = mono_usec() + job->phase % within_usec;
        if (first >= job->next_due)
                return;
        /* The run after this early one falls back onto the regular slots. */
        job->next_due = first;
        loop_timer_arm(job->timer, first);
}

void sched_job_done(sched_job_t *job) {
        sched_t *s = job->sched;
        if (job->state != JOB_RUNNING)
                return;
        job->state = JOB_IDLE;
        s->in_flight--;
        drain(s);
}

void sched_cancel(sched_job_t *job) {
        if (!job)
                return;
        sched_t *s = job->sched;
        if (job->state == JOB_RUNNING)
                s->in_flight--;
        else if (job->state == JOB_QUEUED)
                queue_unlink(s, job);
        if (job->prev)
                job->prev->next = job->next;
        else
                s->jobs = job->next;
        if (job->next)
                job->next->prev = job->prev;
        loop_timer_free(job->timer);
        free(job->name);
        free(job);
        drain(s);
}

bool sched_job_running(const sched_job_t *job) {
        return job->state == JOB_RUNNING;
}

unsigned sched_in_flight(const sched_t *s) {
        return s->in_flight;
}

unsigned sched_queued(const sched_t *s) {
        return s->queued;
}

uint64_t sched_skipped(const sched_t *s) {
        return s->skipped;
}
