#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct metric {
        metric_family_t *family;
        char *labels;              /* rendered and escaped: a="x",b="y" (no braces); "" without labels */
        size_t labels_len;
        uint64_t hash;             /* of labels */
        metric_t *prev, *next;     /* creation order */
        metric_t *hash_next;       /* chain in family->slots */
        uint32_t generation;
        double value;              /* counter, gauge */
        double sum;                /* histogram */
        uint64_t count;            /* histogram */
        uint64_t bucket_counts[];  /* histogram: n_buckets + 1 (last = +Inf), not cumulative */
};

struct metric_family {
        metrics_t *registry;
        char *name;
        char *help;
        metric_type_t type;
        char **label_names;
        size_t n_labels;
        double *buckets;
        char **bucket_le;          /* rendered "le" values */
        size_t n_buckets;
        bool sweepable;
        metric_t *first, *last;
        metric_t **slots;          /* hash chains; n_slots is a power of two */
        size_t n_slots;
        size_t n_series;
        metric_collect_cb collect;
        void *collect_userdata;
        metric_family_t *next;
};

struct metrics {
        metric_family_t *first, *last;
        uint32_t generation;
        size_t last_render_len;    /* bytes of the last render, to size the next buffer */
        metrics_cursor_t *cursors; /* open, so metric_remove() can step them over a removed series */
};

struct metrics_cursor {
        metrics_t *registry;       /* NULL once the registry is freed: the cursor is at its end */
        metric_family_t *family;   /* the family being rendered, or the last one rendered */
        metric_t *next;            /* the next series of `family` to render; NULL: the family is done */
        metric_t *stop;            /* the family's last series when the cursor reached it: series
                                    * appended later (one removed and created again, too) are not
                                    * rendered, so none appears twice */
        size_t le_max;             /* longest "le" value of `family` */
        bool started, done;
        metrics_cursor_t *prev_cursor, *next_cursor;
};

int metrics_new(metrics_t **ret) {
        metrics_t *m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        m->generation = 1;
        *ret = m;
        return 0;
}

static void family_free(metric_family_t *f) {
        if (!f)
                return;
        for (metric_t *s = f->first, *next; s; s = next) {
                next = s->next;
                free(s->labels);
                free(s);
        }
        for (size_t i = 0; f->label_names && i < f->n_labels; i++)
                free(f->label_names[i]);
        for (size_t i = 0; f->bucket_le && i < f->n_buckets; i++)
                free(f->bucket_le[i]);
        free(f->label_names);
        free(f->bucket_le);
        free(f->buckets);
        free(f->slots);
        free(f->name);
        free(f->help);
        free(f);
}

void metrics_free(metrics_t *m) {
        if (!m)
                return;
        for (metrics_cursor_t *c = m->cursors; c; c = c->next_cursor) {
                c->registry = NULL;
                c->family = NULL;
                c->next = NULL;
                c->done = true;
        }
        for (metric_family_t *f = m->first, *next; f; f = next) {
                next = f->next;
                family_free(f);
        }
        free(m);
}

bool metrics_name_valid(const char *name) {
        if (!name || !*name)
                return false;
        for (const char *p = name; *p; p++) {
                char c = *p;
                bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
                if (!alpha && !(p != name && c >= '0' && c <= '9'))
                        return false;
        }
        return true;
}

/* Label names: [a-zA-Z_][a-zA-Z0-9_]*, "__" prefix reserved; "le" is the
 * histogram's own. */
static bool label_name_valid(const char *name, metric_type_t type) {
        if (!name || !*name || strncmp(name, "__", 2) == 0 || (type == METRIC_HISTOGRAM && strcmp(name, "le") == 0))
                return false;
        for (const char *p = name; *p; p++) {
                char c = *p;
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (p != name && c >= '0' && c <= '9');
                if (!ok)
                        return false;
        }
        return true;
}

int metrics_family_add(metrics_t *m, const char *name, const char *help, metric_type_t type,
                       const char *const *label_names, size_t n_labels, const double *buckets, size_t n_buckets,
                       bool sweepable, metric_family_t **ret) {
        if (!metrics_name_valid(name) || n_labels > METRICS_MAX_LABELS ||
            (type == METRIC_HISTOGRAM && n_buckets == 0))
                return -EINVAL;
        for (size_t i = 1; type == METRIC_HISTOGRAM && i < n_buckets; i++)
                if (!(buckets[i] > buckets[i - 1]))
                        return -EINVAL;
        for (size_t i = 0; i < n_labels; i++)
                if (!label_name_valid(label_names[i], type))
                        return -EINVAL;
        metric_family_t *f = calloc(1, sizeof *f);
        if (!f)
                return -ENOMEM;
        f->registry = m;
        f->type = type;
        f->sweepable = sweepable;
        f->n_labels = n_labels;
        f->n_slots = 16;
        f->name = strdup(name);
        f->help = strdup(help);
        f->label_names = calloc(n_labels ? n_labels : 1, sizeof *f->label_names);
        f->slots = calloc(f->n_slots, sizeof *f->slots);
        if (!f->name || !f->help || !f->label_names || !f->slots)
                goto oom;
        for (size_t i = 0; i < n_labels; i++)
                if (!(f->label_names[i] = strdup(label_names[i])))
                        goto oom;
        if (type == METRIC_HISTOGRAM) {
                f->n_buckets = n_buckets;
                f->buckets = malloc(n_buckets * sizeof *f->buckets);
                f->bucket_le = calloc(n_buckets, sizeof *f->bucket_le);
                if (!f->buckets || !f->bucket_le)
                        goto oom;
                memcpy(f->buckets, buckets, n_buckets * sizeof *buckets);
                for (size_t i = 0; i < n_buckets; i++) {
                        strbuf_t sb;
                        sb_init(&sb, 0);
                        sb_put_double(&sb, buckets[i]);
                        if (sb.oom)
                                goto oom;
                        f->bucket_le[i] = sb_steal(&sb, NULL);
                }
        }
        if (m->last)
                m->last->next = f;
        else
                m->first = f;
        m->last = f;
        *ret = f;
        return 0;
oom:
        family_free(f);
        return -ENOMEM;
}

void metrics_escape_label_value(strbuf_t *out, const char *s) {
        const char *run = s;
        for (const char *p = s; *p; p++) {
                const char *rep = NULL;
                if (*p == '\\')
                        rep = "\\\\";
                else if (*p == '"')
                        rep = "\\\"";
                else if (*p == '\n')
                        rep = "\\n";
                if (!rep)
                        continue;
                sb_append(out, run, (size_t) (p - run));
                sb_puts(out, rep);
                run = p + 1;
        }
        sb_puts(out, run);
}

void metrics_escape_help(strbuf_t *out, const char *s) {
        for (const char *p = s; *p; p++) {
                if (*p == '\\')
                        sb_puts(out, "\\\\");
                else if (*p == '\n')
                        sb_puts(out, "\\n");
                else
                        sb_putc(out, *p);
        }
}

static int family_grow(metric_family_t *f) {
        size_t n = f->n_slots * 2;
        metric_t **slots = calloc(n, sizeof *slots);
        if (!slots)
                return -ENOMEM;
        for (metric_t *s = f->first; s; s = s->next) {
                size_t i = (size_t) s->hash & (n - 1);
                s->hash_next = slots[i];
                slots[i] = s;
        }
        free(f->slots);
        f->slots = slots;
        f->n_slots = n;
        return 0;
}

static int series_lookup(metric_family_t *f, const char *const *label_values, bool create, metric_t **ret) {
        strbuf_t key;
        sb_init(&key, 0);
        for (size_t i = 0; i < f->n_labels; i++) {
                if (strlen(label_values[i]) > METRICS_MAX_LABEL_VALUE) {
                        sb_free(&key);
                        return -E2BIG;
                }
                if (i > 0)
                        sb_putc(&key, ',');
                sb_puts(&key, f->label_names[i]);
                sb_puts(&key, "=\"");
                metrics_escape_label_value(&key, label_values[i]);
                sb_putc(&key, '"');
        }
        if (key.oom) {
                sb_free(&key);
                return -ENOMEM;
        }
        const char *k = key.data ? key.data : "";
        uint64_t h = hash_fnv1a(k, key.len, 0);
        for (metric_t *s = f->slots[h & (f->n_slots - 1)]; s; s = s->hash_next)
                if (s->hash == h && s->labels_len == key.len && memcmp(s->labels, k, key.len) == 0) {
                        s->generation = f->registry->generation;
                        sb_free(&key);
                        *ret = s;
                        return 0;
                }
        if (!create) {
                sb_free(&key);
                return -ENOENT;
        }
        if (f->n_series + 1 > f->n_slots && family_grow(f) < 0) {
                sb_free(&key);
                return -ENOMEM;
        }
        size_t extra = f->type == METRIC_HISTOGRAM ? (f->n_buckets + 1) * sizeof(uint64_t) : 0;
        metric_t *s = calloc(1, sizeof *s + extra);
        if (!s) {
                sb_free(&key);
                return -ENOMEM;
        }
        s->family = f;
        s->labels_len = key.len;
        /* Exactly sized: a series lives long, and there are tens of thousands. */
        s->labels = strndup(key.data ? key.data : "", key.len);
        sb_free(&key);
        if (!s->labels) {
                free(s);
                return -ENOMEM;
        }
        s->hash = h;
        s->generation = f->registry->generation;
        size_t i = (size_t) h & (f->n_slots - 1);
        s->hash_next = f->slots[i];
        f->slots[i] = s;
        s->prev = f->last;
        if (f->last)
                f->last->next = s;
        else
                f->first = s;
        f->last = s;
        f->n_series++;
        *ret = s;
        return 0;
}

int metric_family_series(metric_family_t *f, const char *const *label_values, metric_t **ret) {
        return series_lookup(f, label_values, true, ret);
}

int metric_family_find(metric_family_t *f, const char *const *label_values, metric_t **ret) {
        return series_lookup(f, label_values, false, ret);
}

void metric_remove(metric_t *s) {
        if (!s)
                return;
        metric_family_t *f = s->family;
        /* Keep open cursors on series that exist: [next, stop] stays the rest of the family. */
        for (metrics_cursor_t *c = f->registry->cursors; c; c = c->next_cursor) {
                if (c->next == s)
                        c->next = s == c->stop ? NULL : s->next;
                else if (c->stop == s)
                        c->stop = s->prev;
        }
        metric_t **pp = &f->slots[s->hash & (f->n_slots - 1)];
        while (*pp && *pp != s)
                pp = &(*pp)->hash_next;
        if (*pp)
                *pp = s->hash_next;
        if (s->prev)
                s->prev->next = s->next;
        else
                f->first = s->next;
        if (s->next)
                s->next->prev = s->prev;
        else
                f->last = s->prev;
        f->n_series--;
        free(s->labels);
        free(s);
}

void metric_family_clear(metric_family_t *f) {
        while (f->first)
                metric_remove(f->first);
}

size_t metric_family_series_count(const metric_family_t *f) {
        return f->n_series;
}

void metric_set(metric_t *s, double v) {
        s->value = v;
}

void metric_add(metric_t *s, double v) {
        s->value += v;
}

void metric_inc(metric_t *s) {
        s->value += 1;
}

double metric_value(const metric_t *s) {
        return s->value;
}

void metric_observe(metric_t *s, double v) {
        const metric_family_t *f = s->family;
        /* Buckets are few (<= 40): a binary search for the first bound >= v. */
        size_t lo = 0, hi = f->n_buckets;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (v <= f->buckets[mid])
                        hi = mid;
                else
                        lo = mid + 1;
        }
        s->bucket_counts[lo]++;
        s->sum += v;
        s->count++;
}

uint64_t metric_histogram_count(const metric_t *s) {
        return s->count;
}

double metric_histogram_sum(const metric_t *s) {
        return s->sum;
}

uint64_t metric_histogram_bucket(const metric_t *s, size_t i) {
        uint64_t total = 0;
        for (size_t j = 0; j <= i && j <= s->family->n_buckets; j++)
                total += s->bucket_counts[j];
        return total;
}

int metric_family_set_buckets(metric_family_t *f, const double *buckets, size_t n_buckets) {
        if (f->type != METRIC_HISTOGRAM || n_buckets == 0)
                return -EINVAL;
        if (n_buckets == f->n_buckets && memcmp(buckets, f->buckets, n_buckets * sizeof *buckets) == 0)
                return 0;
        for (size_t i = 1; i < n_buckets; i++)
                if (!(buckets[i] > buckets[i - 1]))
                        return -EINVAL;
        double *nb = malloc(n_buckets * sizeof *nb);
        char **le = calloc(n_buckets, sizeof *le);
        if (!nb || !le)
                goto oom;
        memcpy(nb, buckets, n_buckets * sizeof *nb);
        for (size_t i = 0; i < n_buckets; i++) {
                strbuf_t sb;
                sb_init(&sb, 0);
                sb_put_double(&sb, buckets[i]);
                if (sb.oom)
                        goto oom;
                le[i] = sb_steal(&sb, NULL);
        }
        metric_family_clear(f);
        for (size_t i = 0; i < f->n_buckets; i++)
                free(f->bucket_le[i]);
        free(f->bucket_le);
        free(f->buckets);
        f->buckets = nb;
        f->bucket_le = le;
        f->n_buckets = n_buckets;
        return 0;
oom:
        for (size_t i = 0; le && i < n_buckets; i++)
                free(le[i]);
        free(le);
        free(nb);
        return -ENOMEM;
}

void metric_family_set_collect(metric_family_t *f, metric_collect_cb cb, void *userdata) {
        f->collect = cb;
        f->collect_userdata = userdata;
}

void metrics_generation_begin(metrics_t *m) {
        m->generation++;
}

void metrics_generation_sweep(metrics_t *m) {
        for (metric_family_t *f = m->first; f; f = f->next) {
                if (!f->sweepable)
                        continue;
                for (metric_t *s = f->first, *next; s; s = next) {
                        next = s->next;
                        if (s->generation != m->generation)
                                metric_remove(s);
                }
        }
}

static const char *type_name(metric_type_t t) {
        switch (t) {
        case METRIC_COUNTER: return "counter";
        case METRIC_GAUGE: return "gauge";
        case METRIC_HISTOGRAM: return "histogram";
        }
        return "untyped";
}

/* ---- rendering ----
 * The hot path of a scrape (10,000 rows are ~300,000 lines): each series
 * reserves its worst case once, then lines are written with memcpy into the
 * buffer without further checks. */

#define VALUE_MAX_CHARS 32u  /* longest value: "%.17g" of a double, or a u64 */

static char *put_raw(char *p, const char *s, size_t n) {
        memcpy(p, s, n);
        return p + n;
}

static char *put_u64_raw(char *p, uint64_t v) {
        return p + format_u64(p, v);
}

/* `units` / 10^digits as a decimal fraction: the integer part, then '.' and
 * the fraction's digits without trailing zeros (none when it is whole).
 * digits is 1..9. */
static char *put_fixed_raw(char *p, uint64_t units, int digits) {
        uint64_t scale = 1;
        for (int k = 0; k < digits; k++)
                scale *= 10;
        p = put_u64_raw(p, units / scale);
        char frac[9];
        uint64_t f = units % scale;
        for (int k = digits - 1; k >= 0; k--, f /= 10)
                frac[k] = (char) ('0' + f % 10);
        size_t n = (size_t) digits;
        while (n > 0 && frac[n - 1] == '0')
                n--;
        if (n > 0) {
                *p++ = '.';
                p = put_raw(p, frac, n);
        }
        return p;
}

/* Integers and whole microseconds (durations, timestamps) without printf;
 * anything else as sb_put_double() writes it. */
static char *put_value_raw(char *p, double v) {
        if (v >= 0 && v < 9007199254740992.0 && v == (double) (uint64_t) v)
                return put_u64_raw(p, (uint64_t) v);
        if (v > 0 && v < 9e9) {
                /* Sums of microsecond durations drift off whole microseconds
                 * by rounding; at nanosecond resolution they print exactly
                 * enough, without printf. */
                double scaled = v * 1e9;
                uint64_t nsec = (uint64_t) (scaled + 0.5);
                if (fabs(scaled - (double) nsec) < 1e-3)
                        return put_fixed_raw(p, nsec, 9);
        }
        if (v > 0 && v < 9e12) {
                uint64_t usec = (uint64_t) (v * 1e6 + 0.5);
                if ((double) usec / 1e6 == v)
                        return put_fixed_raw(p, usec, 6);
        }
        strbuf_t tmp;
        char buf[VALUE_MAX_CHARS + 8];
        sb_init(&tmp, 0);
        sb_put_double(&tmp, v);
        size_t n = tmp.len < VALUE_MAX_CHARS ? tmp.len : VALUE_MAX_CHARS;
        memcpy(buf, tmp.data ? tmp.data : "NaN", tmp.data ? n : 3);
        n = tmp.data ? n : 3;
        sb_free(&tmp);
        return put_raw(p, buf, n);
}

/* name{labels} or name{labels,extra} or name{extra} or name; no value. */
static char *put_series_raw(char *p, const char *name, size_t name_len, const char *suffix, size_t suffix_len,
                            const metric_t *s, const char *le, size_t le_len) {
        p = put_raw(p, name, name_len);
        p = put_raw(p, suffix, suffix_len);
        if (s->labels_len == 0 && !le)
                return p;
        *p++ = '{';
        p = put_raw(p, s->labels, s->labels_len);
        if (le) {
                if (s->labels_len > 0)
                        *p++ = ',';
                p = put_raw(p, "le=\"", 4);
                p = put_raw(p, le, le_len);
                *p++ = '"';
        }
        *p++ = '}';
        return p;
}

static void render_family_header(const metric_family_t *f, strbuf_t *out) {
        sb_puts(out, "# HELP ");
        sb_puts(out, f->name);
        sb_putc(out, ' ');
        metrics_escape_help(out, f->help);
        sb_puts(out, "\n# TYPE ");
        sb_puts(out, f->name);
        sb_putc(out, ' ');
        sb_puts(out, type_name(f->type));
        sb_putc(out, '\n');
}

static size_t family_le_max(const metric_family_t *f) {
        size_t le_max = 4; /* "+Inf" */
        for (size_t i = 0; i < f->n_buckets; i++)
                if (strlen(f->bucket_le[i]) > le_max)
                        le_max = strlen(f->bucket_le[i]);
        return le_max;
}

/* The lines of one series; `le_max` is family_le_max(f). */
static void render_series(const metric_family_t *f, const metric_t *s, size_t le_max, strbuf_t *out) {
        size_t name_len = strlen(f->name);
        /* Worst case of this series' lines: name, suffix, braces, labels, le, value, separators. */
        size_t line = name_len + 8 + s->labels_len + 8 + le_max + VALUE_MAX_CHARS + 2;
        size_t need = f->type == METRIC_HISTOGRAM ? line * (f->n_buckets + 3) : line;
        if (sb_reserve(out, need) < 0)
                return;
        char *p = out->data + out->len;
        if (f->type != METRIC_HISTOGRAM) {
                p = put_series_raw(p, f->name, name_len, "", 0, s, NULL, 0);
                *p++ = ' ';
                p = put_value_raw(p, s->value);
                *p++ = '\n';
        } else {
                uint64_t cumulative = 0;
                for (size_t i = 0; i <= f->n_buckets; i++) {
                        cumulative += s->bucket_counts[i];
                        const char *le = i < f->n_buckets ? f->bucket_le[i] : "+Inf";
                        p = put_series_raw(p, f->name, name_len, "_bucket", 7, s, le, strlen(le));
                        *p++ = ' ';
                        p = put_u64_raw(p, cumulative);
                        *p++ = '\n';
                }
                p = put_series_raw(p, f->name, name_len, "_sum", 4, s, NULL, 0);
                *p++ = ' ';
                p = put_value_raw(p, s->sum);
                *p++ = '\n';
                p = put_series_raw(p, f->name, name_len, "_count", 6, s, NULL, 0);
                *p++ = ' ';
                p = put_u64_raw(p, s->count);
                *p++ = '\n';
        }
        out->len = (size_t) (p - out->data);
        out->data[out->len] = '\0';
}

int metrics_cursor_new(metrics_t *m, metrics_cursor_t **ret) {
        metrics_cursor_t *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->registry = m;
        c->next_cursor = m->cursors;
        if (m->cursors)
                m->cursors->prev_cursor = c;
        m->cursors = c;
        *ret = c;
        return 0;
}

void metrics_cursor_free(metrics_cursor_t *c) {
        if (!c)
                return;
        if (c->registry) {
                if (c->prev_cursor)
                        c->prev_cursor->next_cursor = c->next_cursor;
                else
                        c->registry->cursors = c->next_cursor;
                if (c->next_cursor)
                        c->next_cursor->prev_cursor = c->prev_cursor;
        }
        free(c);
}

int metrics_cursor_render(metrics_cursor_t *c, strbuf_t *out, size_t budget) {
        size_t start = out->len;
        while (!c->done) {
                if (out->oom)
                        return -ENOMEM;
                if (out->len - start >= budget)
                        return 1;
                if (c->next) {
                        const metric_t *s = c->next;
                        render_series(c->family, s, c->le_max, out);
                        c->next = s == c->stop ? NULL : s->next;
                        continue;
                }
                /* The next family with series. */
                metric_family_t *f = c->started ? c->family->next : c->registry->first;
                c->started = true;
                c->family = f;
                if (!f) {
                        c->done = true;
                        break;
                }
                if (f->collect)
                        f->collect(f, f->collect_userdata);
                if (f->first) {
                        render_family_header(f, out);
                        c->le_max = family_le_max(f);
                        c->next = f->first;
                        c->stop = f->last;
                }
        }
        return out->oom ? -ENOMEM : 0;
}

int metrics_render(metrics_t *m, strbuf_t *out) {
        /* One allocation for the usual case: about the size of the last scrape. */
        (void) sb_reserve(out, m->last_render_len + m->last_render_len / 8);
        size_t start = out->len;
        metrics_cursor_t *c;
        if (metrics_cursor_new(m, &c) < 0) {
                out->oom = true;
                return -ENOMEM;
        }
        int r = metrics_cursor_render(c, out, SIZE_MAX);
        metrics_cursor_free(c);
        if (r == 0)
                m->last_render_len = out->len - start;
        return r < 0 ? r : 0;
}

size_t metrics_series_total(const metrics_t *m) {
        size_t total = 0;
        for (const metric_family_t *f = m->first; f; f = f->next)
                total += f->type == METRIC_HISTOGRAM ? f->n_series * (f->n_buckets + 3) : f->n_series;
        return total;
}
