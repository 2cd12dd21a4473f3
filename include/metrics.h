/* A metrics registry and the Prometheus text exposition format 0.0.4.
 *
 * Knows nothing of probes: families, label sets, values, rendering, escaping.
 * A series is created once (get-or-create by label values) and then updated
 * through its handle without any lookup. Not thread-safe: the registry lives
 * on the event loop thread, like everything that updates or renders it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct metrics metrics_t;
typedef struct metric_family metric_family_t;
typedef struct metric metric_t;

typedef enum metric_type {
        METRIC_COUNTER,
        METRIC_GAUGE,
        METRIC_HISTOGRAM,
} metric_type_t;

#define METRICS_MAX_LABELS 8u
#define METRICS_MAX_LABEL_VALUE 1024u /* longer values are refused with -E2BIG */

int metrics_new(metrics_t **ret);
void metrics_free(metrics_t *m);

/* Registers a family. `label_names` has n_labels entries; `buckets` (histograms
 * only) are ascending finite upper bounds, +Inf is implied. `sweepable`
 * families drop series not touched since metrics_generation_begin() when
 * metrics_generation_sweep() runs (used on config reload). Strings are copied. */
int metrics_family_add(metrics_t *m, const char *name, const char *help, metric_type_t type,
                       const char *const *label_names, size_t n_labels, const double *buckets, size_t n_buckets,
                       bool sweepable, metric_family_t **ret);

/* Gets or creates the series with these label values (n_labels of the family)
 * and marks it as used in the current generation. */
int metric_family_series(metric_family_t *f, const char *const *label_values, metric_t **ret);
/* Replaces a histogram family's buckets; every series of the family is
 * removed (handles become invalid). No-op when the buckets are the same. */
int metric_family_set_buckets(metric_family_t *f, const double *buckets, size_t n_buckets);
/* Finds an existing series (marking it used in the current generation);
 * -ENOENT when there is none. */
int metric_family_find(metric_family_t *f, const char *const *label_values, metric_t **ret);
/* Removes every series of the family (handles become invalid). */
void metric_family_clear(metric_family_t *f);
/* Removes one series; the handle becomes invalid. */
void metric_remove(metric_t *s);
size_t metric_family_series_count(const metric_family_t *f);

void metric_set(metric_t *s, double v);
void metric_add(metric_t *s, double v);  /* counters: v >= 0 */
void metric_inc(metric_t *s);
double metric_value(const metric_t *s);
/* Histograms: counts `v` into its bucket, the sum and the count. */
void metric_observe(metric_t *s, double v);
uint64_t metric_histogram_count(const metric_t *s);
double metric_histogram_sum(const metric_t *s);
/* Cumulative count of observations <= bucket i's bound (i == n_buckets is +Inf). */
uint64_t metric_histogram_bucket(const metric_t *s, size_t i);

/* Called before the family renders, to refresh values (process_* metrics). */
typedef void (*metric_collect_cb)(metric_family_t *f, void *userdata);
void metric_family_set_collect(metric_family_t *f, metric_collect_cb cb, void *userdata);

void metrics_generation_begin(metrics_t *m);
void metrics_generation_sweep(metrics_t *m);

/* Renders every family with at least one series. Returns 0 or -ENOMEM. */
int metrics_render(metrics_t *m, strbuf_t *out);

/* Rendering piece by piece, so a large scrape can be streamed out without the
 * loop stopping for the whole of it: each metrics_cursor_render() appends
 * whole series (and family headers) until at least `budget` bytes were added
 * or the end is reached. Returns 1 while there is more, 0 at the end, -ENOMEM.
 * Values are read as each series is rendered. A series removed while a cursor
 * is open is stepped over; one added meanwhile appears only if its family was
 * not reached yet; no series is rendered twice. A cursor outlives its
 * registry harmlessly (it is then at its end). */
typedef struct metrics_cursor metrics_cursor_t;
int metrics_cursor_new(metrics_t *m, metrics_cursor_t **ret);
int metrics_cursor_render(metrics_cursor_t *c, strbuf_t *out, size_t budget);
void metrics_cursor_free(metrics_cursor_t *c);
/* Total series (histograms count their bucket, sum and count lines). */
size_t metrics_series_total(const metrics_t *m);

/* Exposition escaping, exported for tests and fuzzers. */
void metrics_escape_label_value(strbuf_t *out, const char *s);
void metrics_escape_help(strbuf_t *out, const char *s);
bool metrics_name_valid(const char *name);
