/* Reading JSON config files (the config, --web-config): the error list they
 * report into, JSON paths for messages, the checks json-c does not make
 * (repeated keys, NULs in strings, text after the document), and durations.
 * Pure: no I/O, nothing logged. */
#include "jsonreader.h"

#include <errno.h>
#include <json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ---- error list ---- */

void config_errors_init(config_errors_t *errs) {
        *errs = (config_errors_t) { 0 };
}

void config_errors_free(config_errors_t *errs) {
        for (size_t i = 0; i < errs->n; i++)
                free(errs->messages[i]);
        free(errs->messages);
        config_errors_init(errs);
}

void config_errors_add(config_errors_t *errs, const char *fmt, ...) {
        if (errs->n >= CONFIG_MAX_ERRORS) {
                errs->n_dropped++;
                return;
        }
        char **m = realloc(errs->messages, (errs->n + 1) * sizeof *m);
        if (!m) {
                errs->n_dropped++;
                return;
        }
        errs->messages = m;
        va_list ap;
        va_start(ap, fmt);
        char *msg = vasprintf_or_null(fmt, ap);
        va_end(ap);
        if (!msg) {
                errs->n_dropped++;
                return;
        }
        errs->messages[errs->n++] = msg;
}

char *config_errors_join(const config_errors_t *errs) {
        strbuf_t sb;
        sb_init(&sb, 0);
        for (size_t i = 0; i < errs->n; i++) {
                if (i > 0)
                        sb_puts(&sb, "; ");
                sb_puts(&sb, errs->messages[i]);
        }
        if (errs->n_dropped > 0)
                sb_printf(&sb, "%s(and %zu more errors)", errs->n > 0 ? "; " : "", errs->n_dropped);
        if (sb.oom) {
                sb_free(&sb);
                return NULL;
        }
        if (!sb.data)
                return strdup("");
        return sb_steal(&sb, NULL);
}

/* ---- durations ---- */

int duration_parse(const char *s, uint64_t *ret_usec) {
        static const struct {
                const char *suffix;
                uint64_t usec;
        } units[] = {
                { "us", 1 }, { "ms", USEC_PER_MSEC }, { "s", USEC_PER_SEC },
                { "m", 60 * USEC_PER_SEC }, { "h", 3600 * USEC_PER_SEC },
        };
        if (!s || !*s)
                return -EINVAL;
        long double total = 0;
        const char *p = s;
        while (*p) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                long double value = 0;
                while (*p >= '0' && *p <= '9')
                        value = value * 10 + (*p++ - '0');
                if (*p == '.') {
                        p++;
                        if (*p < '0' || *p > '9')
                                return -EINVAL;
                        long double scale = 0.1L;
                        while (*p >= '0' && *p <= '9') {
                                value += (*p++ - '0') * scale;
                                scale /= 10;
                        }
                }
                size_t unit_len = 0;
                while (p[unit_len] && (p[unit_len] < '0' || p[unit_len] > '9') && p[unit_len] != '.')
                        unit_len++;
                uint64_t mult = 0;
                for (size_t i = 0; i < ELEMENTSOF(units); i++)
                        if (strlen(units[i].suffix) == unit_len && strncmp(p, units[i].suffix, unit_len) == 0)
                                mult = units[i].usec;
                if (mult == 0)
                        return -EINVAL;
                p += unit_len;
                total += value * (long double) mult;
                if (total > (long double) (UINT64_MAX / 2))
                        return -EINVAL;
        }
        uint64_t usec = (uint64_t) (total + 0.5L);
        if (usec == 0)
                return -EINVAL;
        *ret_usec = usec;
        return 0;
}

void duration_format(uint64_t usec, char *buf, size_t size) {
        if (usec % (3600 * USEC_PER_SEC) == 0 && usec > 0)
                snprintf(buf, size, "%lluh", (unsigned long long) (usec / (3600 * USEC_PER_SEC)));
        else if (usec % (60 * USEC_PER_SEC) == 0 && usec > 0)
                snprintf(buf, size, "%llum", (unsigned long long) (usec / (60 * USEC_PER_SEC)));
        else if (usec % USEC_PER_SEC == 0)
                snprintf(buf, size, "%llus", (unsigned long long) (usec / USEC_PER_SEC));
        else if (usec > USEC_PER_SEC) {
                /* Fractional seconds, trailing zeros trimmed: "1.5s", "2.0005s". */
                char frac[8];
                snprintf(frac, sizeof frac, "%06llu", (unsigned long long) (usec % USEC_PER_SEC));
                for (int i = 5; i > 0 && frac[i] == '0'; i--)
                        frac[i] = '\0';
                snprintf(buf, size, "%llu.%ss", (unsigned long long) (usec / USEC_PER_SEC), frac);
        }
        else if (usec % USEC_PER_MSEC == 0)
                snprintf(buf, size, "%llums", (unsigned long long) (usec / USEC_PER_MSEC));
        else
                snprintf(buf, size, "%lluus", (unsigned long long) usec);
}

/* ---- paths and errors with paths ---- */

/* Paths are built into JSON_PATH_MAX buffers; an absurdly long key is cut,
 * which only shortens the message. */
static void path_append_n(char *out, size_t *len, const char *s, size_t n) {
        if (n > JSON_PATH_MAX - 1 - *len)
                n = JSON_PATH_MAX - 1 - *len;
        memcpy(out + *len, s, n);
        *len += n;
        out[*len] = '\0';
}

static void path_append(char *out, size_t *len, const char *s) {
        path_append_n(out, len, s, strlen(s));
}

void json_path_key(char out[JSON_PATH_MAX], const char *base, const char *key) {
        size_t len = 0;
        out[0] = '\0';
        if (base && *base) {
                path_append(out, &len, base);
                path_append(out, &len, ".");
        }
        path_append(out, &len, key);
}

void json_path_index(char out[JSON_PATH_MAX], const char *base, size_t i) {
        char idx[32];
        size_t len = 0;
        snprintf(idx, sizeof idx, "[%zu]", i);
        out[0] = '\0';
        path_append(out, &len, base);
        path_append(out, &len, idx);
}

void config_errors_add_at(config_errors_t *errs, const char *path, const char *fmt, ...) {
        char msg[JSON_PATH_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (path && *path)
                config_errors_add(errs, "%s: %s", path, msg);
        else
                config_errors_add(errs, "%s", msg);
}

/* True once CONFIG_MAX_ERRORS errors are listed: further ones are only
 * counted, so the scans need not word them (path_at() and line_col() rescan
 * the text from its start, which for every one of 100,000 repeated keys or
 * NULs in a 4 MiB file took minutes). */
static bool errors_full(const config_errors_t *errs) {
        return errs->n >= CONFIG_MAX_ERRORS;
}

/* ---- the text: syntax, repeated keys, NULs ---- */

static void line_col(const char *text, size_t offset, size_t *ret_line, size_t *ret_col) {
        size_t line = 1, col = 1;
        for (size_t i = 0; i < offset && text[i]; i++) {
                if (text[i] == '\n') {
                        line++;
                        col = 1;
                } else
                        col++;
        }
        *ret_line = line;
        *ret_col = col;
}

/* json-c keeps the last of two equal keys silently; a repeated target name
 * or a second "matrix" would drop config without a word. This scans the
 * (already valid) text for keys repeated in one object, lexing it as json-c
 * 0.16 does in its default (non-strict) mode, so that what the scan takes for
 * a key is exactly what json-c took for one. */

/* Index of the last byte of the string or comment that starts at text[i], or
 * i when no string or comment starts there. json-c's rules: strings in "..."
 * or '...' with backslash escapes; "//" runs to the end of the line; a block
 * comment ends at a '/' right after a '*' that json-c's search found, and
 * after a '*' followed by anything else that search resumes one byte later
 * still, so "**" + "/" does not end a comment but "***" + "/" does. Never
 * more than len - 1. */
static size_t json_token_end(const char *text, size_t len, size_t i) {
        char c = text[i];
        if (c == '"' || c == '\'') {
                for (i++; i < len && text[i] != c; i++)
                        if (text[i] == '\\')
                                i++;
        } else if (c == '/' && i + 1 < len && text[i + 1] == '/') {
                for (i += 2; i < len && text[i] != '\n'; i++)
                        ;
        } else if (c == '/' && i + 1 < len && text[i + 1] == '*') {
                for (i += 2; i < len; i += 2) {
                        while (i < len && text[i] != '*')
                                i++;
                        if (i + 1 < len && text[i + 1] == '/')
                                return i + 1;
                }
        }
        return i < len ? i : len - 1;
}

typedef struct key_ref {
        size_t object;     /* which object, numbered in document order */
        size_t offset;     /* of the key's opening quote */
        const char *name;  /* the key as json-c reads it: into the text, or `decoded` */
        size_t name_len;
        char *decoded;     /* owned; only for keys with escapes */
} key_ref_t;

static int key_ref_cmp(const void *a, const void *b) {
        const key_ref_t *x = a, *y = b;
        if (x->object != y->object)
                return x->object < y->object ? -1 : 1;
        size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
        int c = memcmp(x->name, y->name, n);
        if (c != 0)
                return c;
        if (x->name_len != y->name_len)
                return x->name_len < y->name_len ? -1 : 1;
        return x->offset < y->offset ? -1 : 1;
}

/* Fills ref->name with the string whose quotes are text[open] and text[close]:
 * the raw bytes between them, or, when they hold an escape ("\u0061" is "a"),
 * what json-c decodes them to. Returns -ENOMEM. */
static int key_ref_decode(key_ref_t *ref, const char *text, size_t open, size_t close) {
        ref->name = text + open + 1;
        ref->name_len = close - open - 1;
        ref->decoded = NULL;
        if (!memchr(ref->name, '\\', ref->name_len))
                return 0;
        json_tokener *tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        json_object *str = json_tokener_parse_ex(tok, text + open, (int) (close - open + 1));
        json_tokener_free(tok);
        /* A string json-c read in the whole document fails alone only for want of memory. */
        if (json_object_get_type(str) == json_type_string) {
                size_t n = (size_t) json_object_get_string_len(str);
                ref->decoded = malloc(n + 1);
                if (ref->decoded) {
                        memcpy(ref->decoded, json_object_get_string(str), n + 1);
                        ref->name = ref->decoded;
                        ref->name_len = n;
                }
        }
        json_object_put(str);
        return ref->decoded ? 0 : -ENOMEM;
}

/* The JSON path at `offset`: of the object that holds the key starting there
 * ("targets", "matrix[2]"; "" for the top level), or with `value` of the value
 * starting there ("targets.t.tcp.host", "matrix[2].to"). Keys are shown as
 * written, escapes and all. Rescans from the start: only used to word an
 * error. */
static void path_at(const char *text, size_t offset, bool value, char *out) {
        struct {
                bool object;
                size_t key_start, key_len; /* the key being read in an object */
                size_t index;              /* the element being read in an array */
        } frames[128];
        size_t depth = 0;
        bool expect_key = false;
        size_t last_key_start = 0, last_key_len = 0;
        for (size_t i = 0; i < offset; i++) {
                char c = text[i];
                if (c == '"' || c == '\'' || c == '/') {
                        size_t end = json_token_end(text, offset, i);
                        if (c != '/' && expect_key && depth > 0 && frames[depth - 1].object) {
                                last_key_start = i + 1;
                                last_key_len = end - i - 1;
                                expect_key = false;
                        }
                        i = end;
                } else if (c == ':' && depth > 0 && frames[depth - 1].object) {
                        frames[depth - 1].key_start = last_key_start;
                        frames[depth - 1].key_len = last_key_len;
                } else if ((c == '{' || c == '[') && depth < ELEMENTSOF(frames)) {
                        frames[depth].object = c == '{';
                        frames[depth].index = 0;
                        frames[depth].key_start = 0;
                        frames[depth].key_len = 0;
                        depth++;
                        expect_key = c == '{';
                } else if ((c == '}' || c == ']') && depth > 0) {
                        depth--;
                } else if (c == ',' && depth > 0) {
                        if (frames[depth - 1].object)
                                expect_key = true;
                        else
                                frames[depth - 1].index++;
                }
        }
        /* frames[depth - 1] is the object holding the key; its parents name it. */
        size_t len = 0;
        out[0] = '\0';
        for (size_t d = 0; d + !value < depth; d++) {
                if (frames[d].object) {
                        char key[JSON_PATH_MAX];
                        size_t n = frames[d].key_len < sizeof key - 1 ? frames[d].key_len : sizeof key - 1;
                        memcpy(key, text + frames[d].key_start, n);
                        key[n] = '\0';
                        if (len > 0)
                                path_append(out, &len, ".");
                        path_append(out, &len, key);
                } else {
                        char idx[32];
                        snprintf(idx, sizeof idx, "[%zu]", frames[d].index);
                        path_append(out, &len, idx);
                }
        }
}

/* Reports the string whose quotes are text[open] and text[close] (a key when
 * `key`) for holding a NUL once decoded: "targets.t\u0000x: key contains a
 * NUL character (\u0000)". */
static void report_nul(config_errors_t *errs, const char *text, size_t open, size_t close, bool key) {
        if (errors_full(errs)) {
                config_errors_add(errs, "%s", "");   /* only counted */
                return;
        }
        char where[JSON_PATH_MAX];
        path_at(text, open, !key, where);
        if (key) {
                size_t len = strlen(where);
                if (len > 0)
                        path_append(where, &len, ".");
                path_append_n(where, &len, text + open + 1, close - open - 1);
        }
        config_errors_add_at(errs, where[0] ? where : NULL, "%s contains a NUL character (\\u0000)", key ? "key" : "string");
}

/* Besides repeated keys, this scan finds strings that decode to hold a NUL
 * ("t\u0000x"): json-c 0.16 cuts object keys there and every reader of the
 * config takes C strings, so "t\u0000x" would silently be "t". Each such key
 * or string value is an error naming its path. */
static int check_keys_and_strings(config_errors_t *errs, const char *source, const char *text, size_t len) {
        /* Frames: object number, or 0 for an array; depth is bounded by json-c's (64). */
        size_t frames[128], depth = 0, objects = 0;
        bool expect_key = false;
        key_ref_t *keys = NULL;
        size_t n_keys = 0, alloc = 0;
        int r = 0;
        for (size_t i = 0; i < len; i++) {
                char c = text[i];
                if (c == '"' || c == '\'' || c == '/') {
                        size_t end = json_token_end(text, len, i);
                        bool key = c != '/' && expect_key && depth > 0 && frames[depth - 1] != 0;
                        if (key && n_keys == alloc) {
                                size_t na = alloc ? alloc * 2 : 64;
                                key_ref_t *nk = realloc(keys, na * sizeof *nk);
                                if (!nk) {
                                        r = -ENOMEM;
                                        goto done;
                                }
                                keys = nk;
                                alloc = na;
                        }
                        if (c != '/') {
                                key_ref_t ref = { .object = key ? frames[depth - 1] : 0, .offset = i };
                                r = key_ref_decode(&ref, text, i, end);
                                if (r < 0)
                                        goto done;
                                if (memchr(ref.name, '\0', ref.name_len))
                                        report_nul(errs, text, i, end, key);
                                if (key) {
                                        keys[n_keys++] = ref;
                                        expect_key = false;
                                } else
                                        free(ref.decoded);
                        }
                        i = end;
                } else if (c == '{' || c == '[') {
                        if (depth == ELEMENTSOF(frames))
                                break; /* deeper than json-c allows anyway */
                        frames[depth++] = c == '{' ? ++objects : 0;
                        expect_key = c == '{';
                } else if (c == '}' || c == ']') {
                        if (depth > 0)
                                depth--;
                        expect_key = false;
                } else if (c == ',')
                        expect_key = depth > 0 && frames[depth - 1] != 0;
        }
        /* Sorted by object, then key: equal neighbours are repeats. */
        if (n_keys > 1)
                qsort(keys, n_keys, sizeof *keys, key_ref_cmp);
        for (size_t i = 1; i < n_keys; i++)
                if (keys[i].object == keys[i - 1].object && keys[i].name_len == keys[i - 1].name_len &&
                    memcmp(keys[i].name, keys[i - 1].name, keys[i].name_len) == 0) {
                        if (errors_full(errs)) {
                                config_errors_add(errs, "%s", "");   /* only counted */
                                continue;
                        }
                        size_t line, col, first_line, first_col;
                        char where[JSON_PATH_MAX];
                        line_col(text, keys[i].offset, &line, &col);
                        line_col(text, keys[i - 1].offset, &first_line, &first_col);
                        path_at(text, keys[i].offset, false, where);
                        /* %.*s: a decoded key may hold a NUL; the message stops there. */
                        config_errors_add_at(errs, where[0] ? where : NULL, "duplicate key \"%.*s\" at %s:%zu:%zu (first at line %zu); "
                             "only one may be given", (int) keys[i].name_len, keys[i].name, source,
                             line, col, first_line);
                }
done:
        for (size_t i = 0; i < n_keys; i++)
                free(keys[i].decoded);
        free(keys);
        return r;
}

int json_text_parse(const char *text, size_t len, const char *source, struct json_object **ret,
                    config_errors_t *errs) {
        json_object *root = NULL;
        int r = 0;
        if (memchr(text, '\0', len)) {
                config_errors_add_at(errs, NULL, "%s: not a text file (contains NUL bytes)", source);
                r = -EINVAL;
                goto done;
        }

        json_tokener *tok = json_tokener_new_ex(64);
        if (!tok) {
                r = -ENOMEM;
                goto done;
        }
        root = json_tokener_parse_ex(tok, text, (int) len);
        enum json_tokener_error tok_err = json_tokener_get_error(tok);
        size_t end = json_tokener_get_parse_end(tok);
        if (!root && tok_err == json_tokener_continue) {
                /* A final "// comment" without a newline (ConfigMaps written with
                 * `|-` strip it) leaves the tokener waiting for the line end. */
                root = json_tokener_parse_ex(tok, "\n", 1);
                tok_err = json_tokener_get_error(tok);
                if (root)
                        end = len;
        }
        json_tokener_free(tok);
        if (!root || tok_err != json_tokener_success) {
                size_t line, col;
                line_col(text, end, &line, &col);
                config_errors_add_at(errs, NULL, "%s:%zu:%zu: invalid JSON: %s", source, line, col,
                     tok_err == json_tokener_continue ? "unexpected end of input" : json_tokener_error_desc(tok_err));
                r = -EINVAL;
                goto done;
        }
        for (size_t i = end; i < len; i++)
                if (text[i] != ' ' && text[i] != '\n' && text[i] != '\t' && text[i] != '\r') {
                        size_t line, col;
                        line_col(text, i, &line, &col);
                        config_errors_add_at(errs, NULL, "%s:%zu:%zu: invalid JSON: unexpected text after the document", source,
                             line, col);
                        r = -EINVAL;
                        goto done;
                }
        if (check_keys_and_strings(errs, source, text, len) < 0) {
                r = -ENOMEM;
                goto done;
        }
        *ret = root;
        root = NULL;
done:
        json_object_put(root);
        return r;
}
