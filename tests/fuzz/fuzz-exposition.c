/* Fuzz target: label escaping and the text exposition format 0.0.4.
 *
 * The input is split at NUL bytes into a HELP text and up to three label
 * values. They go into a counter family (two series: the values, and the
 * first two swapped) and a histogram family; the rendered exposition is then
 * parsed back line by line, un-escaping HELP texts and label values, and every
 * series must carry exactly the values it was created with. A value over
 * METRICS_MAX_LABEL_VALUE must be refused with -E2BIG and create nothing.
 * metrics_escape_help() and metrics_escape_label_value() must round-trip on
 * their own and never emit a raw newline. */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "metrics.h"

#define N_VALUES 3u

/* The exposition's escapes: label values know \\ \" \n, HELP knows \\ \n. */
static char *unescape(const char *s, size_t len, bool label, const char **ret_end) {
        char *out = malloc(len + 1);
        FUZZ_CHECK(out);
        size_t n = 0;
        size_t i = 0;
        for (; i < len; i++) {
                char c = s[i];
                if (label && c == '"')
                        break; /* end of the value */
                FUZZ_CHECK(c != '\n');
                if (c != '\\') {
                        out[n++] = c;
                        continue;
                }
                FUZZ_CHECK(i + 1 < len);
                c = s[++i];
                if (c == '\\')
                        out[n++] = '\\';
                else if (c == 'n')
                        out[n++] = '\n';
                else if (label && c == '"')
                        out[n++] = '"';
                else
                        FUZZ_CHECK(!"invalid escape sequence in the exposition");
        }
        out[n] = '\0';
        if (ret_end)
                *ret_end = s + i;
        return out;
}

static void check_escape_help(const char *s) {
        strbuf_t sb;
        sb_init(&sb, 0);
        metrics_escape_help(&sb, s);
        FUZZ_CHECK(!sb.oom);
        const char *e = sb.data ? sb.data : "";
        FUZZ_CHECK(!memchr(e, '\n', sb.len));
        char *back = unescape(e, sb.len, false, NULL);
        FUZZ_CHECK(strcmp(back, s) == 0);
        free(back);
        sb_free(&sb);
}

static void check_escape_label(const char *s) {
        strbuf_t sb;
        sb_init(&sb, 0);
        metrics_escape_label_value(&sb, s);
        FUZZ_CHECK(!sb.oom);
        const char *e = sb.data ? sb.data : "";
        FUZZ_CHECK(!memchr(e, '\n', sb.len));
        const char *end;
        char *back = unescape(e, sb.len, true, &end);
        /* No unescaped quote inside: the value ends where the buffer does. */
        FUZZ_CHECK(end == e + sb.len);
        FUZZ_CHECK(strcmp(back, s) == 0);
        free(back);
        sb_free(&sb);
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* */
static bool name_valid_ref(const char *s) {
        if (!*s)
                return false;
        for (const char *p = s; *p; p++) {
                char c = *p;
                bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
                if (!alpha && !(p > s && c >= '0' && c <= '9'))
                        return false;
        }
        return true;
}

typedef struct expected {
        const char *name;              /* series name as rendered */
        const char *labels[N_VALUES];  /* values of a, b, c; NULL = no such label */
        bool has_le;
        bool seen;
} expected_t;

/* Parses `{a="..",b=".."} value` after the series name and compares it. */
static void check_series_line(const char *line, size_t len, expected_t *exp, size_t n_exp) {
        static const char *const names[N_VALUES] = { "a", "b", "c" };
        const char *p = line, *end = line + len;
        const char *brace = memchr(p, '{', len);
        FUZZ_CHECK(brace);
        size_t name_len = (size_t) (brace - p);
        char *got[N_VALUES] = { NULL };
        bool has_le = false;
        p = brace + 1;
        while (p < end && *p != '}') {
                const char *eq = memchr(p, '=', (size_t) (end - p));
                FUZZ_CHECK(eq && eq + 1 < end && eq[1] == '"');
                size_t key_len = (size_t) (eq - p);
                const char *vend;
                char *v = unescape(eq + 2, (size_t) (end - eq - 2), true, &vend);
                FUZZ_CHECK(vend < end && *vend == '"');
                bool known = false;
                for (size_t i = 0; i < N_VALUES; i++)
                        if (key_len == 1 && p[0] == names[i][0]) {
                                FUZZ_CHECK(!got[i]);
                                got[i] = v;
                                known = true;
                        }
                if (!known) {
                        FUZZ_CHECK(key_len == 2 && memcmp(p, "le", 2) == 0);
                        has_le = true;
                        free(v);
                }
                p = vend + 1;
                if (p < end && *p == ',')
                        p++;
        }
        FUZZ_CHECK(p < end && *p == '}' && p + 1 < end && p[1] == ' ');
        bool matched = false;
        for (size_t i = 0; i < n_exp && !matched; i++) {
                expected_t *x = &exp[i];
                if (strlen(x->name) != name_len || memcmp(x->name, line, name_len) != 0 || x->has_le != has_le)
                        continue;
                bool same = true;
                for (size_t k = 0; k < N_VALUES; k++) {
                        if (!x->labels[k] != !got[k] || (got[k] && strcmp(x->labels[k], got[k]) != 0))
                                same = false;
                }
                if (same) {
                        x->seen = true;
                        matched = true;
                }
        }
        if (!matched) {
                fprintf(stderr, "unexpected series line: %.*s\n", (int) len, line);
                FUZZ_CHECK(!"rendered series does not round-trip");
        }
        for (size_t k = 0; k < N_VALUES; k++)
                free(got[k]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* pieces[0] = HELP text, pieces[1..3] = label values. */
        char *copy = malloc(size + 1);
        if (!copy)
                return 0;
        memcpy(copy, data, size);
        copy[size] = '\0';
        const char *pieces[1 + N_VALUES] = { "", "", "", "" };
        size_t n_pieces = 0;
        for (char *p = copy; n_pieces < 1 + N_VALUES && p <= copy + size; p += strlen(p) + 1)
                pieces[n_pieces++] = p;
        const char *help = pieces[0];
        const char *const *values = &pieces[1];

        for (size_t i = 0; i < 1 + N_VALUES; i++) {
                check_escape_help(pieces[i]);
                check_escape_label(pieces[i]);
                FUZZ_CHECK(metrics_name_valid(pieces[i]) == name_valid_ref(pieces[i]));
        }

        bool too_big = false;
        for (size_t i = 0; i < N_VALUES; i++)
                if (strlen(values[i]) > METRICS_MAX_LABEL_VALUE)
                        too_big = true;

        metrics_t *m = NULL;
        FUZZ_CHECK(metrics_new(&m) == 0);
        static const char *const label_names[N_VALUES] = { "a", "b", "c" };
        static const double buckets[] = { 0.001, 0.5, 2 };
        metric_family_t *fc = NULL, *fh = NULL;
        FUZZ_CHECK(metrics_family_add(m, "fuzz_events_total", help, METRIC_COUNTER, label_names, N_VALUES, NULL, 0,
                                      true, &fc) == 0);
        FUZZ_CHECK(metrics_family_add(m, "fuzz_duration_seconds", "A histogram.\nWith \\ in its help.",
                                      METRIC_HISTOGRAM, label_names, 1, buckets, ELEMENTSOF(buckets), false,
                                      &fh) == 0);

        metric_t *s1 = NULL, *s2 = NULL, *h = NULL;
        const char *swapped[N_VALUES] = { values[1], values[0], values[2] };
        int r1 = metric_family_series(fc, values, &s1);
        int r2 = metric_family_series(fc, swapped, &s2);
        int rh = metric_family_series(fh, values, &h);
        if (too_big) {
                FUZZ_CHECK(r1 == -E2BIG && r2 == -E2BIG);
                FUZZ_CHECK(metric_family_series_count(fc) == 0);
        } else {
                FUZZ_CHECK(r1 == 0 && r2 == 0);
                FUZZ_CHECK(metric_family_series_count(fc) == (strcmp(values[0], values[1]) == 0 ? 1u : 2u));
                FUZZ_CHECK((s1 == s2) == (strcmp(values[0], values[1]) == 0));
                metric_inc(s1);
                metric_add(s2, 2);
                metric_t *found = NULL;
                FUZZ_CHECK(metric_family_find(fc, values, &found) == 0 && found == s1);
        }
        if (strlen(values[0]) > METRICS_MAX_LABEL_VALUE)
                FUZZ_CHECK(rh == -E2BIG);
        else {
                FUZZ_CHECK(rh == 0);
                metric_observe(h, (double) size / 100.0);
        }

        strbuf_t out;
        sb_init(&out, 0);
        FUZZ_CHECK(metrics_render(m, &out) == 0);

        expected_t exp[2 + 6] = { 0 };
        size_t n_exp = 0;
        if (!too_big) {
                exp[n_exp++] = (expected_t) { .name = "fuzz_events_total", .labels = { values[0], values[1], values[2] } };
                if (strcmp(values[0], values[1]) != 0)
                        exp[n_exp++] = (expected_t) { .name = "fuzz_events_total",
                                                      .labels = { swapped[0], swapped[1], swapped[2] } };
        }
        if (rh == 0) {
                exp[n_exp++] = (expected_t) { .name = "fuzz_duration_seconds_bucket", .labels = { values[0] },
                                              .has_le = true };
                exp[n_exp++] = (expected_t) { .name = "fuzz_duration_seconds_sum", .labels = { values[0] } };
                exp[n_exp++] = (expected_t) { .name = "fuzz_duration_seconds_count", .labels = { values[0] } };
        }

        size_t series_lines = 0;
        bool help_seen = false;
        const char *text = out.data ? out.data : "";
        for (const char *line = text; *line;) {
                const char *nl = strchr(line, '\n');
                FUZZ_CHECK(nl); /* every line ends with a newline */
                size_t len = (size_t) (nl - line);
                if (len > 7 && memcmp(line, "# HELP ", 7) == 0) {
                        const char *name = line + 7;
                        const char *sp = memchr(name, ' ', (size_t) (nl - name));
                        FUZZ_CHECK(sp);
                        char *h_text = unescape(sp + 1, (size_t) (nl - sp - 1), false, NULL);
                        if ((size_t) (sp - name) == strlen("fuzz_events_total") &&
                            memcmp(name, "fuzz_events_total", (size_t) (sp - name)) == 0) {
                                FUZZ_CHECK(strcmp(h_text, help) == 0);
                                help_seen = true;
                        }
                        free(h_text);
                } else if (len > 0 && line[0] != '#') {
                        check_series_line(line, len, exp, n_exp);
                        series_lines++;
                }
                line = nl + 1;
        }
        for (size_t i = 0; i < n_exp; i++)
                FUZZ_CHECK(exp[i].seen);
        FUZZ_CHECK(help_seen == !too_big);
        size_t want_lines = (too_big ? 0 : (strcmp(values[0], values[1]) == 0 ? 1 : 2)) +
                            (rh == 0 ? ELEMENTSOF(buckets) + 1 + 2 : 0);
        FUZZ_CHECK(series_lines == want_lines);
        FUZZ_CHECK(metrics_series_total(m) == want_lines);

        /* A reload-style sweep drops the untouched counter series. */
        metrics_generation_begin(m);
        metrics_generation_sweep(m);
        FUZZ_CHECK(metric_family_series_count(fc) == 0);

        sb_free(&out);
        metrics_free(m);
        free(copy);
        return 0;
}
