/* Unit tests for metrics.c: the registry and the text exposition format 0.0.4
 * (escaping, exact rendering, histogram buckets, generations, caps). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"
#include "util.h"

/* Renders the registry into a new string; caller frees. */
static char *render(metrics_t *m)
{
        strbuf_t sb;
        sb_init(&sb, 0);
        assert_int_equal(metrics_render(m, &sb), 0);
        assert_false(sb.oom);
        char *s = sb_steal(&sb, NULL);
        if (!s) {
                s = strdup("");
                assert_non_null(s);
        }
        sb_free(&sb);
        return s;
}

static char *escape_label(const char *in)
{
        strbuf_t sb;
        sb_init(&sb, 0);
        metrics_escape_label_value(&sb, in);
        char *s = sb_steal(&sb, NULL);
        return s ? s : strdup("");
}

static char *escape_help(const char *in)
{
        strbuf_t sb;
        sb_init(&sb, 0);
        metrics_escape_help(&sb, in);
        char *s = sb_steal(&sb, NULL);
        return s ? s : strdup("");
}

static void assert_text(const char *got, const char *want)
{
        if (strcmp(got, want) != 0)
                fail_msg("rendered text differs.\n--- got ---\n%s--- want ---\n%s---", got, want);
}

/* ---- escaping ---- */

static void test_escape_label_value(void **state)
{
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "plain", "plain" },
                { "", "" },
                { "back\\slash", "back\\\\slash" },
                { "dq\"uote", "dq\\\"uote" },
                { "new\nline", "new\\nline" },
                { "\\\"\n", "\\\\\\\"\\n" },
                { "tab\tstays", "tab\tstays" },
                { "utf8 é ✓", "utf8 é ✓" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *s = escape_label(cases[i].in);
                if (strcmp(s, cases[i].out) != 0)
                        fail_msg("escape_label_value(%s) = [%s], want [%s]", cases[i].in, s, cases[i].out);
                free(s);
        }
}

static void test_escape_help(void **state)
{
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "Plain help.", "Plain help." },
                { "back\\slash", "back\\\\slash" },
                { "new\nline", "new\\nline" },
                /* HELP does not escape double quotes. */
                { "say \"hi\"", "say \"hi\"" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *s = escape_help(cases[i].in);
                if (strcmp(s, cases[i].out) != 0)
                        fail_msg("escape_help(%s) = [%s], want [%s]", cases[i].in, s, cases[i].out);
                free(s);
        }
}

static void test_name_valid(void **state)
{
        assert_true(metrics_name_valid("netcanary_probes_total"));
        assert_true(metrics_name_valid("a"));
        assert_true(metrics_name_valid("_x"));
        assert_true(metrics_name_valid("netcanary:expectation_verified"));
        assert_true(metrics_name_valid("A9_b"));
        assert_false(metrics_name_valid(""));
        assert_false(metrics_name_valid("9abc"));
        assert_false(metrics_name_valid("a-b"));
        assert_false(metrics_name_valid("a b"));
        assert_false(metrics_name_valid("a.b"));
        assert_false(metrics_name_valid("caf\xc3\xa9"));
        assert_false(metrics_name_valid("a\"b"));
        assert_false(metrics_name_valid("a\nb"));
}

/* ---- exact rendering ---- */

static void test_render_counter(void **state)
{
        metrics_t *m = NULL;
        metric_family_t *f = NULL;
        metric_t *s = NULL;
        const char *labels[] = { "code", "method" };
        const char *values[] = { "200", "GET" };

        assert_int_equal(metrics_new(&m), 0);
        assert_int_equal(metrics_family_add(m, "test_requests_total", "Requests served.", METRIC_COUNTER, labels, 2,
                                            NULL, 0, false, &f),
                         0);
        assert_int_equal(metric_family_series(f, values, &s), 0);
        metric_inc(s);
        metric_add(s, 2);
        assert_true(metric_value(s) == 3.0);

        char *text = render(m);
        assert_text(text,
                    "# HELP test_requests_total Requests served.\n"
                    "# TYPE test_requests_total counter\n"
                    "test_requests_total{code=\"200\",method=\"GET\"} 3\n");
        free(text);
        metrics_free(m);
}

static void test_render_gauge_no_labels(void **state)
{
        metrics_t *m = NULL;
        metric_family_t *f = NULL;
        metric_t *s = NULL;

        assert_int_equal(metrics_new(&m), 0);
        assert_int_equal(metrics_family_add(m, "test_temperature_celsius", "Line one\nline \\two.", METRIC_GAUGE,
                                            NULL, 0, NULL, 0, false, &f),
                         0);
        assert_int_equal(metric_family_series(f, NULL, &s), 0);
        metric_set(s, 1.5);
        metric_set(s, -2.5);
        assert_true(metric_value(s) == -2.5);

        char *text = render(m);
        assert_text(text,
                    "# HELP test_temperature_celsius Line one\\nline \\\\two.\n"
                    "# TYPE test_temperature_celsius gauge\n"
                    "test_temperature_celsius -2.5\n");
        free(text);
        metrics_free(m);
}

/* Values rendered without printf: whole numbers, nanosecond fractions (below
 * 9e9) and microsecond fractions (9e9 .. 9e12) print their shortest exact
 * decimal, with no trailing zeros. */
static void test_render_fixed_fractions(void **state)
{
        static const struct {
                double value;
                const char *text;
        } cases[] = {
                { 3, "3" },
                { 0.000123456, "0.000123456" },
                { 0.5, "0.5" },
                { 12.000001, "12.000001" },
                { 1e10 + 0.25, "10000000000.25" },
                { 1e10 + 0.125, "10000000000.125" },
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                metrics_t *m = NULL;
                metric_family_t *f = NULL;
                metric_t *s = NULL;
                assert_int_equal(metrics_new(&m), 0);
                assert_int_equal(metrics_family_add(m, "test_value", "A value.", METRIC_GAUGE, NULL, 0, NULL, 0,
                                                    false, &f),
                                 0);
                assert_int_equal(metric_family_series(f, NULL, &s), 0);
                metric_set(s, cases[i].value);
                char want[128];
                snprintf(want, sizeof want, "# HELP test_value A value.\n# TYPE test_value gauge\ntest_value %s\n",
                         cases[i].text);
                char *text = render(m);
                assert_text(text, want);
                free(text);
                metrics_free(m);
        }
}

static void test_render_escaped_label(void **state)
{
        metrics_t *m = NULL;
        metric_family_t *f = NULL;
        metric_t *s = NULL;
        const char *labels[] = { "name" };
        const char *values[] = { "a\\b\"c\nd" };

        assert_int_equal(metrics_new(&m), 0);
        assert_int_equal(metrics_family_add(m, "test_info", "Info.", METRIC_GAUGE, labels, 1, NULL, 0, false, &f), 0);
        assert_int_equal(metric_family_series(f, values, &s), 0);
        metric_set(s, 1);

        char *text = render(m);
        assert_text(text,
                    "# HELP test_info Info.\n"
                    "# TYPE test_info gauge\n"
                    "test_info{name=\"a\\\\b\\\"c\\nd\"} 1\n");
        free(text);
        metrics_free(m);
}

static void test_render_special_values(void **state)
{
        metrics_t *m = NULL;
        metric_family_t *f = NULL;
        metric_t *s1 = NULL, *s2 = NULL, *s3 = NULL;
        const char *labels[] = { "k" };
        const char *v1[] = { "inf" }, *v2[] = { "nan" }, *v3[] = { "big" };

        assert_int_equal(metrics_new(&m), 0);
        assert_int_equal(metrics_family_add(m, "test_g", "G.", METRIC_GAUGE, labels, 1, NULL, 0, false, &f), 0);
        assert_int_equal(metric_family_series(f, v1, &s1), 0);
        assert_int_equal(metric_family_series(f, v2, &s2), 0);
        assert_int_equal(metric_family_series(f, v3, &s3), 0);
        metric_set(s1, -INFINITY);
        metric_set(s2, NAN);
        metric_set(s3, 1e12);

        char *text = render(m);
        assert_non_null(strstr(text, "test_g{k=\"inf\"} -Inf\n"));
        assert_non_null(strstr(text, "test_g{k=\"nan\"} NaN\n"));
        assert_non_null(strstr(text, "test_g{k=\"big\"} 1000000000000\n"));
        free(text);
        metrics_free(m);
}

static void test_render_histogram(void **state)
{
        metrics_t *m = NULL;
        metric_family_t *f = NULL;
        metric_t *s = NULL;
        const char *labels[] = { "to" };
        const char *values[] = { "x" };
        const double buckets[] = { 0.25, 0.5, 1 };

        assert_int_equal(metrics_new(&m), 0);
        assert_int_equal(metrics_family_add(m, "test_latency_seconds", "Latency.", METRIC_HISTOGRAM, labels, 1,
                                            buckets, 3, false, &f),
                         0);
        assert_int_equal(metric_family_series(f, values, &s), 0);
        metric_observe(s, 0.25);  /* on a bound: `le` is inclusive, bucket 0 */
        metric_observe(s, 0.375); /* bucket 1 */
        metric_observe(s, 0.5);   /* on a bound: bucket 1 */
        metric_observe(s, 2);     /* above every bound: +Inf only */

        assert_int_equal(metric_histogram_count(s), 4);
        assert_true(metric_histogram_sum(s) == 3.125);
        assert_int_equal(metric_histogram_bucket(s, 0), 1);
        assert_int_equal(metric_histogram_bucket(s, 1), 3);
        assert_int_equal(metric_histogram_bucket(s, 2), 3);
        assert_int_equal(metric_histogram_bucket(s, 3), 4);

        char *text = render(m);
        assert_text(text,
                    "# HELP test_latency_seconds Latency.\n"
                    "# TYPE test_latency_seconds histogram\n"
                    "test_latency_seconds_bucket{to=\"x\",le=\"0.25\"} 1\n"
                    "test_latency_seconds_bucket{to=\"x\",le=\"0.5\"} 3\n"
                    "test_latency_seconds_bucket{to=\"x\",le=\"1\"} 3\n"
                    "test_latency_seconds_bucket{to=\"x\",le=\"+Inf\"} 4\n"
                    "test_latency_seconds_sum{to=\"x\"} 3.125\n"
                    "test_latency_seconds_count{to=\"x\"} 4\n");
        free(text);
        metrics_free(m);
}

static void test_render_histogram_no_labels(void **state)
{
        metrics_t *m = NULL;
        metric_family_t *f = NULL;
        metric_t *s = NULL;
        const double buckets[] = { 0.001, 0.01 };

        assert_int_equal(metrics_new(&m), 0);
        assert_int_equal(metrics_family_add(m, "test_lag_seconds", "Lag.", METRIC_HISTOGRAM, NULL, 0, buckets, 2,
                                            false, &f),
                         0);
        assert_int_equal(metric_family_series(f, NULL, &s), 0);
        metric_observe(s, 0);
        metric_observe(s, 0.5);

        char *text = render(m);
        assert_text(text,
                    "# HELP test_lag_seconds Lag.\n"
                    "# TYPE test_lag_seconds histogram\n"
                    "test_lag_seconds_bucket{le=\"0.001\"} 1\n"
                    "test_lag_seconds_bucket{le=\"0.01\"} 1\n"
                    "test_lag_seconds_bucket{le=\"+Inf\"} 2\n"
                    "test_lag_seconds_sum 0.5\n"
                    "test_lag_seconds_count 2\n");
        free(text);
        metrics_free(m);
}

static void test_histogram_bucketing(void **state)
{
        metrics_t *m = NULL;
        metric_family_t *f = NULL;
        metric_t *s = NULL;
        const double buckets[] = { 0.001, 0.005, 0.01, 0.05, 0.1 };

        assert_int_equal(metrics_new(&m), 0);
        assert_int_equal(metrics_family_add(m, "test_h", "H.", METRIC_HISTOGRAM, NULL, 0, buckets, 5, false, &f), 0);
        assert_int_equal(metric_family_series(f, NULL, &s), 0);

        /* Nothing observed: every bucket 0. */
        for (size_t i = 0; i <= 5; i++)
                assert_int_equal(metric_histogram_bucket(s, i), 0);

        /* Every bound exactly once, plus one below and one above all. */
        metric_observe(s, 0.0005);
        for (size_t i = 0; i < 5; i++)
                metric_observe(s, buckets[i]);
        metric_observe(s, 7);
        metric_observe(s, INFINITY);

        /* Cumulative: bucket i holds the below-all value plus bounds 0..i. */
        for (size_t i = 0; i < 5; i++)
                if (metric_histogram_bucket(s, i) != i + 2)
                        fail_msg("bucket %zu (le=%g) = %llu, want %zu", i, buckets[i],
                                 (unsigned long long) metric_histogram_bucket(s, i), i + 2);
        assert_int_equal(metric_histogram_bucket(s, 5), 8);
        assert_int_equal(metric_histogram_count(s), 8);

        /* Monotone non-decreasing is the exposition's invariant. */
        for (size_t i = 1; i <= 5; i++)
                assert_true(metric_histogram_bucket(s, i) >= metric_histogram_bucket(s, i - 1));
        metrics_free(m);
}

static void test_render_order_and_empty_family(void **state)
{
        metrics_t *m = NULL;
        metric_family_t *a = NULL, *b = NULL, *empty = NULL;
        metric_t *s = NULL;

        assert_int_equal(metrics_new(&m), 0);
        assert_int_equal(metrics_family_add(m, "test_first", "First.", METRIC_GAUGE, NULL, 0, NULL, 0, false, &a), 0);
        assert_int_equal(metrics_family_add(m, "test_empty_total", "Never used.", METRIC_COUNTER, NULL, 0, NULL, 0,
                                            false, &empty),
                         0);
        assert_int_equal(metrics_family_add(m, "test_second", "Second.", METRIC_GAUGE, NULL, 0, NULL, 0, false, &b),
                         0);

        /* Nothing has a series yet: nothing at all is rendered. */
        char *text = render(m);
        assert_string_equal(text, "");
        free(text);

        assert_int_equal(metric_family_series(b, NULL, &s), 0);
        metric_set(s, 2);
        assert_int_equal(metric_family_series(a, NULL, &s), 0);
        metric_set(s, 1);

        text = render(m);
        /* A family without series has neither HELP nor TYPE. */
        assert_null(strstr(text, "test_empty_total"));
        char *p1 = strstr(text, "# TYPE test_first gauge\ntest_first 1\n");
        char *p2 = strstr(text, "# TYPE test_second gauge\ntest_second 2\n");
        assert_non_null(p1);
        assert_non_null(p2);
        /* Families render in registration order. */
        assert_true(p1 < p2);
        free(text);

        /* Removing the last series makes the family vanish again. */
        metric_remove(s);
        assert_int_equal(metric_family_series_count(a), 0);
        text = render(m);
        assert_null(strstr(text, "test_first"));
        assert_non_null(strstr(text, "test_second 2\n"));
        free(text);
        metrics_free(m);
}

/* ---- registry behaviour ---- */

static void test_get_or_create(void **state)
{
        metrics_t *m = NULL;
        metric_family_t *f = NULL;
        metric_t *s1 = NULL, *s2 = NULL, *s3 = NULL, *s4 = NULL;
        const char *labels[] = { "from", "to" };
        const char *ab[] = { "a", "b" };
        const char *ab_copy_storage[2];
        char a_buf[] = "a", b_buf[] = "b";
        const char *ba[] = { "b", "a" };
        const char *a_bc[] = { "a", "bc" };
        const char *ab_c[] = { "ab", "c" };

        ab_copy_storage[0] = a_buf;
        ab_copy_storage[1] = b_buf;

        assert_int_equal(metrics_new(&m), 0);
        assert_int_equal(metrics_family_add(m, "test_c_total", "C.", METRIC_COUNTER, labels, 2, NULL, 0, false, &f), 0);
        assert_int_equal(metric_family_series(f, ab, &s1), 0);
        metric_inc(s1);
        /* Same values from different storage: the same series. */
        assert_int_equal(metric_family_series(f, ab_copy_storage, &s2), 0);
        assert_ptr_equal(s1, s2);
        assert_true(metric_value(s2) == 1.0);
        assert_int_equal(metric_family_series_count(f), 1);

        /* Label order and boundaries matter: ("a","bc") is not ("ab","c"). */
        assert_int_equal(metric_family_series(f, ba, &s3), 0);
        assert_ptr_not_equal(s3, s1);
        assert_int_equal(metric_family_series(f, a_bc, &s3), 0);
        assert_int_equal(metric_family_series(f, ab_c, &s4), 0);
        assert_ptr_not_equal(s3, s4);
        assert_int_equal(metric_family_series_count(f), 4);
        assert_true(metric_value(s3) == 0.0);

        /* Label values are copied: changing the caller's buffer changes nothing. */
        a_buf[0] = 'z';
        char *text = render(m);
        assert_non_null(strstr(text, "test_c_total{from=\"a\",to=\"b\"} 1\n"));
        assert_null(strstr(text, "from=\"z\""));
        free(text);
        metrics_free(m);
}

static void test_many_series(void **state)
{
        metrics_t *m = NULL;
        metric_family_t *f = NULL;
        const char *labels[] = { "row" };
        char buf[32];

        assert_int_equal(metrics_new(&m), 0);
        assert_int_equal(metrics_family_add(m, "test_rows", "Rows.", METRIC_GAUGE, labels, 1, NULL, 0, false, &f), 0);
        for (int i = 0; i < 5000; i++) {
                metric_t *s = NULL;
                snprintf(buf, sizeof(buf), "row-%d", i);
                const char *v[] = { buf };
                assert_int_equal(metric_family_series(f, v, &s), 0);
                metric_set(s, i);
        }
        assert_int_equal(metric_family_series_count(f), 5000);
        for (int i = 0; i < 5000; i += 97) {
                metric_t *s = NULL;
                snprintf(buf, sizeof(buf), "row-%d", i);
                const char *v[] = { buf };
                assert_int_equal(metric_family_series(f, v, &s), 0);
                assert_true(metric_value(s) == (double) i);
        }
        assert_int_equal(metric_family_series_count(f), 5000);
        assert_int_equal(metrics_series_total(m), 5000);
        metrics_free(m);
}

static void test_generation_sweep(void **state)
{
        metrics_t *m = NULL;
        metric_family_t *sw = NULL, *keep = NULL;
        metric_t *s = NULL;
        const char *labels[] = { "to" };
        const char *x[] = { "x" }, *y[] = { "y" };

        assert_int_equal(metrics_new(&m), 0);
        assert_int_equal(metrics_family_add(m, "test_sweep", "S.", METRIC_GAUGE, labels, 1, NULL, 0, true, &sw), 0);
        assert_int_equal(metrics_family_add(m, "test_keep", "K.", METRIC_GAUGE, labels, 1, NULL, 0, false, &keep), 0);
        assert_int_equal(metric_family_series(sw, x, &s), 0);
        metric_set(s, 1);
        assert_int_equal(metric_family_series(sw, y, &s), 0);
        metric_set(s, 2);
        assert_int_equal(metric_family_series(keep, x, &s), 0);
        assert_int_equal(metric_family_series(keep, y, &s), 0);

        /* New generation: only (sweep, x) is touched. */
        metrics_generation_begin(m);
        assert_int_equal(metric_family_series(sw, x, &s), 0);
        metrics_generation_sweep(m);

        assert_int_equal(metric_family_series_count(sw), 1);
        assert_int_equal(metric_family_series_count(keep), 2);
        char *text = render(m);
        assert_non_null(strstr(text, "test_sweep{to=\"x\"} 1\n"));
        assert_null(strstr(text, "test_sweep{to=\"y\"}"));
        assert_non_null(strstr(text, "test_keep{to=\"x\"} 0\n"));
        assert_non_null(strstr(text, "test_keep{to=\"y\"} 0\n"));
        free(text);

        /* A sweep without a touch in the new generation empties the family. */
        metrics_generation_begin(m);
        metrics_generation_sweep(m);
        assert_int_equal(metric_family_series_count(sw), 0);
        assert_int_equal(metric_family_series_count(keep), 2);
        text = render(m);
        assert_null(strstr(text, "test_sweep"));
        free(text);

        /* Re-created after a sweep: a fresh series starting at 0. */
        assert_int_equal(metric_family_series(sw, y, &s), 0);
        assert_true(metric_value(s) == 0.0);
        metrics_free(m);
}

static void test_label_value_cap(void **state)
{
        metrics_t *m = NULL;
        metric_family_t *f = NULL;
        metric_t *s = NULL;
        const char *labels[] = { "v" };
        char *big = malloc(METRICS_MAX_LABEL_VALUE + 2);
        assert_non_null(big);

        assert_int_equal(metrics_new(&m), 0);
        assert_int_equal(metrics_family_add(m, "test_cap", "Cap.", METRIC_GAUGE, labels, 1, NULL, 0, false, &f), 0);

        memset(big, 'v', METRICS_MAX_LABEL_VALUE + 1);
        big[METRICS_MAX_LABEL_VALUE + 1] = '\0';
        const char *v[] = { big };
        s = NULL;
        assert_int_equal(metric_family_series(f, v, &s), -E2BIG);
        assert_null(s);
        assert_int_equal(metric_family_series_count(f), 0);

        /* Exactly at the cap is accepted. */
        big[METRICS_MAX_LABEL_VALUE] = '\0';
        assert_int_equal(metric_family_series(f, v, &s), 0);
        assert_non_null(s);
        assert_int_equal(metric_family_series_count(f), 1);

        free(big);
        metrics_free(m);
}

static void test_family_add_rejects_bad_input(void **state)
{
        metrics_t *m = NULL;
        metric_family_t *f = NULL;
        const double unsorted[] = { 0.5, 0.1 };
        const double repeated[] = { 0.1, 0.1 };
        const char *nine[] = { "a", "b", "c", "d", "e", "f", "g", "h", "i" };

        assert_int_equal(metrics_new(&m), 0);
        assert_int_equal(metrics_family_add(m, "bad-name", "B.", METRIC_GAUGE, NULL, 0, NULL, 0, false, &f), -EINVAL);
        assert_int_equal(metrics_family_add(m, "", "B.", METRIC_GAUGE, NULL, 0, NULL, 0, false, &f), -EINVAL);
        assert_int_equal(metrics_family_add(m, "test_h", "B.", METRIC_HISTOGRAM, NULL, 0, unsorted, 2, false, &f),
                         -EINVAL);
        assert_int_equal(metrics_family_add(m, "test_h", "B.", METRIC_HISTOGRAM, NULL, 0, repeated, 2, false, &f),
                         -EINVAL);
        assert_int_equal(metrics_family_add(m, "test_many", "B.", METRIC_GAUGE, nine, METRICS_MAX_LABELS + 1, NULL, 0,
                                            false, &f),
                         -EINVAL);
        /* Exactly METRICS_MAX_LABELS is fine. */
        assert_int_equal(metrics_family_add(m, "test_eight", "B.", METRIC_GAUGE, nine, METRICS_MAX_LABELS, NULL, 0,
                                            false, &f),
                         0);
        metrics_free(m);
        metrics_free(NULL);
}

static void test_family_add_rejects_bad_label_names(void **state)
{
        /* A label name outside [a-zA-Z_][a-zA-Z0-9_]* would make the whole
         * exposition unparseable for Prometheus. */
        static const char *const bad[] = { "le-gal", "", "9lives", "a b", "a:b", "a\"b" };
        metrics_t *m = NULL;
        metric_family_t *f = NULL;

        assert_int_equal(metrics_new(&m), 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                const char *labels[] = { "ok", bad[i] };
                int r = metrics_family_add(m, "test_labels", "L.", METRIC_GAUGE, labels, 2, NULL, 0, false, &f);
                if (r != -EINVAL)
                        fail_msg("metrics_family_add with label name \"%s\" = %d, want -EINVAL", bad[i], r);
        }
        /* "le" is the bucket label of histograms and cannot be a histogram's own label. */
        const double buckets[] = { 1 };
        const char *le[] = { "le" };
        assert_int_equal(metrics_family_add(m, "test_le", "L.", METRIC_HISTOGRAM, le, 1, buckets, 1, false, &f),
                         -EINVAL);
        metrics_free(m);
}

static void collect_cb(metric_family_t *f, void *userdata)
{
        int *calls = userdata;
        metric_t *s = NULL;
        (*calls)++;
        assert_int_equal(metric_family_series(f, NULL, &s), 0);
        metric_set(s, 40 + *calls);
}

static void test_collect_callback(void **state)
{
        metrics_t *m = NULL;
        metric_family_t *f = NULL;
        int calls = 0;

        assert_int_equal(metrics_new(&m), 0);
        assert_int_equal(metrics_family_add(m, "process_open_fds", "Open fds.", METRIC_GAUGE, NULL, 0, NULL, 0, false,
                                            &f),
                         0);
        metric_family_set_collect(f, collect_cb, &calls);

        char *text = render(m);
        assert_int_equal(calls, 1);
        assert_non_null(strstr(text, "process_open_fds 41\n"));
        free(text);
        text = render(m);
        assert_int_equal(calls, 2);
        assert_non_null(strstr(text, "process_open_fds 42\n"));
        free(text);
        metrics_free(m);
}

/* A registry of two families, three series each: "a_total" (counter, label
 * k=0..2) and "b_seconds" (histogram, buckets 1 and 2, label k=0..2). */
static metrics_t *two_families(metric_family_t **ret_a, metric_family_t **ret_b)
{
        metrics_t *m = NULL;
        static const char *const names[] = { "k" };
        static const double buckets[] = { 1, 2 };
        assert_int_equal(metrics_new(&m), 0);
        assert_int_equal(metrics_family_add(m, "a_total", "A.", METRIC_COUNTER, names, 1, NULL, 0, true, ret_a), 0);
        assert_int_equal(metrics_family_add(m, "b_seconds", "B.", METRIC_HISTOGRAM, names, 1, buckets, 2, true, ret_b),
                         0);
        for (int i = 0; i < 3; i++) {
                char k[2] = { (char) ('0' + i), '\0' };
                const char *values[] = { k };
                metric_t *s = NULL;
                assert_int_equal(metric_family_series(*ret_a, values, &s), 0);
                metric_add(s, i + 1);
                assert_int_equal(metric_family_series(*ret_b, values, &s), 0);
                metric_observe(s, 0.5 * (i + 1));
        }
        return m;
}

static size_t count_lines_starting(const char *text, const char *prefix)
{
        size_t n = 0, len = strlen(prefix);
        for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (strncmp(p, prefix, len) == 0)
                        n++;
        return n;
}

/* Rendering through a cursor in the smallest steps gives exactly the text of
 * one metrics_render(); each step adds at least one line. */
static void test_cursor_steps_equal_render(void **state)
{
        metric_family_t *a, *b;
        metrics_t *m = two_families(&a, &b);
        char *whole = render(m);
        metrics_cursor_t *c = NULL;
        assert_int_equal(metrics_cursor_new(m, &c), 0);
        strbuf_t sb;
        sb_init(&sb, 0);
        int r, steps = 0;
        size_t before = 0;
        while ((r = metrics_cursor_render(c, &sb, 1)) == 1) {
                assert_true(sb.len > before);
                before = sb.len;
                steps++;
                assert_true(steps < 100);
        }
        assert_int_equal(r, 0);
        assert_int_equal(metrics_cursor_render(c, &sb, 1), 0); /* stays at its end */
        assert_string_equal(sb.data, whole);
        assert_true(steps >= 6); /* one per series at least */
        sb_free(&sb);
        metrics_cursor_free(c);
        free(whole);
        metrics_free(m);
}

/* Series removed while a cursor is open are stepped over, a series removed
 * and created again is not rendered twice, and a registry freed first leaves
 * the cursor at its end. */
static void test_cursor_survives_changes(void **state)
{
        metric_family_t *a, *b;
        metrics_t *m = two_families(&a, &b);
        metrics_cursor_t *c = NULL;
        assert_int_equal(metrics_cursor_new(m, &c), 0);
        strbuf_t sb;
        sb_init(&sb, 0);
        /* a_total's header, then its first series. */
        assert_int_equal(metrics_cursor_render(c, &sb, 1), 1);
        assert_int_equal(metrics_cursor_render(c, &sb, 1), 1);
        assert_non_null(strstr(sb.data, "a_total{k=\"0\"} 1\n"));
        assert_null(strstr(sb.data, "k=\"1\""));
        /* Remove k=1 (the cursor's next) and k=0 (rendered), then create k=0 again. */
        const char *k0[] = { "0" }, *k1[] = { "1" };
        metric_t *s = NULL;
        assert_int_equal(metric_family_find(a, k1, &s), 0);
        metric_remove(s);
        assert_int_equal(metric_family_find(a, k0, &s), 0);
        metric_remove(s);
        assert_int_equal(metric_family_series(a, k0, &s), 0);
        metric_add(s, 7);
        /* b_seconds loses every series and gets a new one before the cursor reaches it. */
        metric_family_clear(b);
        const char *k9[] = { "9" };
        assert_int_equal(metric_family_series(b, k9, &s), 0);
        metric_observe(s, 1.5);
        assert_int_equal(metrics_cursor_render(c, &sb, SIZE_MAX), 0);
        assert_int_equal(count_lines_starting(sb.data, "a_total{k=\"0\"}"), 1);
        assert_int_equal(count_lines_starting(sb.data, "a_total{k=\"1\"}"), 0);
        assert_int_equal(count_lines_starting(sb.data, "a_total{k=\"2\"} 3"), 1);
        assert_int_equal(count_lines_starting(sb.data, "b_seconds_count{"), 1);
        assert_non_null(strstr(sb.data, "b_seconds_count{k=\"9\"} 1\n"));
        metrics_cursor_free(c);

        /* A cursor whose registry is freed under it. */
        assert_int_equal(metrics_cursor_new(m, &c), 0);
        sb_reset(&sb);
        assert_int_equal(metrics_cursor_render(c, &sb, 1), 1);
        metrics_free(m);
        assert_int_equal(metrics_cursor_render(c, &sb, SIZE_MAX), 0);
        metrics_cursor_free(c);
        sb_free(&sb);
}

static void test_series_total(void **state)
{
        metrics_t *m = NULL;
        metric_family_t *c = NULL, *h = NULL;
        metric_t *s = NULL;
        const char *labels[] = { "k" };
        const char *a[] = { "a" }, *b[] = { "b" };
        const double buckets[] = { 1, 2, 3 };

        assert_int_equal(metrics_new(&m), 0);
        assert_int_equal(metrics_series_total(m), 0);
        assert_int_equal(metrics_family_add(m, "test_c_total", "C.", METRIC_COUNTER, labels, 1, NULL, 0, false, &c), 0);
        assert_int_equal(metrics_family_add(m, "test_h", "H.", METRIC_HISTOGRAM, labels, 1, buckets, 3, false, &h), 0);
        assert_int_equal(metric_family_series(c, a, &s), 0);
        assert_int_equal(metric_family_series(c, b, &s), 0);
        assert_int_equal(metrics_series_total(m), 2);
        assert_int_equal(metric_family_series(h, a, &s), 0);
        /* 3 buckets + the +Inf bucket + _sum + _count. */
        assert_int_equal(metrics_series_total(m), 2 + 6);
        metrics_free(m);
}

static void test_render_oom_limit(void **state)
{
        metrics_t *m = NULL;
        metric_family_t *f = NULL;
        metric_t *s = NULL;
        strbuf_t sb;

        assert_int_equal(metrics_new(&m), 0);
        assert_int_equal(metrics_family_add(m, "test_g", "G.", METRIC_GAUGE, NULL, 0, NULL, 0, false, &f), 0);
        assert_int_equal(metric_family_series(f, NULL, &s), 0);
        sb_init(&sb, 10);
        assert_int_equal(metrics_render(m, &sb), -ENOMEM);
        sb_free(&sb);
        metrics_free(m);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_escape_label_value),
                cmocka_unit_test(test_escape_help),
                cmocka_unit_test(test_name_valid),
                cmocka_unit_test(test_render_counter),
                cmocka_unit_test(test_render_gauge_no_labels),
                cmocka_unit_test(test_render_fixed_fractions),
                cmocka_unit_test(test_render_escaped_label),
                cmocka_unit_test(test_render_special_values),
                cmocka_unit_test(test_render_histogram),
                cmocka_unit_test(test_render_histogram_no_labels),
                cmocka_unit_test(test_histogram_bucketing),
                cmocka_unit_test(test_render_order_and_empty_family),
                cmocka_unit_test(test_get_or_create),
                cmocka_unit_test(test_many_series),
                cmocka_unit_test(test_generation_sweep),
                cmocka_unit_test(test_label_value_cap),
                cmocka_unit_test(test_family_add_rejects_bad_input),
                cmocka_unit_test(test_family_add_rejects_bad_label_names),
                cmocka_unit_test(test_collect_callback),
                cmocka_unit_test(test_series_total),
                cmocka_unit_test(test_cursor_steps_equal_render),
                cmocka_unit_test(test_cursor_survives_changes),
                cmocka_unit_test(test_render_oom_limit),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
