/* YAML to json-c (include/yamljson.h): libyaml's event parser drives an
 * explicit stack of containers, so depth is bounded without recursion. */
#include "yamljson.h"

#include <errno.h>
#include <json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "build-config.h"

void yamljson_docs_free(yamljson_doc_t *docs, size_t n) {
        if (!docs)
                return;
        for (size_t i = 0; i < n; i++)
                json_object_put(docs[i].root);
        free(docs);
}

#if HAVE_YAML

#include <math.h>
#include <yaml.h>

bool yamljson_supported(void) {
        return true;
}

typedef struct frame {
        struct json_object *node;  /* an object or an array */
        char *key;                 /* a mapping's pending key; NULL when the next scalar is a key */
} frame_t;

typedef struct conv {
        frame_t stack[YAMLJSON_MAX_DEPTH];
        size_t depth;
        struct json_object *root;  /* the current document's finished root */
        bool have_root;
        yamljson_doc_t *docs;
        size_t n_docs, alloc_docs, max_docs;
        size_t doc_line;
        size_t doc_number;         /* documents started so far */
        strbuf_t *err;
} conv_t;

static int error_at(conv_t *c, const yaml_mark_t *m, const char *fmt, const char *arg)
        __attribute__((format(printf, 3, 0)));
static int error_at(conv_t *c, const yaml_mark_t *m, const char *fmt, const char *arg) {
        if (c->err) {
                sb_reset(c->err);
                sb_printf(c->err, "line %zu column %zu: ", m->line + 1, m->column + 1);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
                sb_printf(c->err, fmt, arg);
#pragma GCC diagnostic pop
        }
        return -EINVAL;
}

static bool is_one_of(const char *s, const char *const *words) {
        for (; *words; words++)
                if (strcmp(s, *words) == 0)
                        return true;
        return false;
}

static bool all_of(const char *s, const char *set) {
        return *s && strspn(s, set) == strlen(s);
}

/* A plain scalar, typed by the core schema; *ret NULL for null. */
static int plain_scalar(const char *s, size_t len, struct json_object **ret) {
        static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
        static const char *const trues[] = { "true", "True", "TRUE", NULL };
        static const char *const falses[] = { "false", "False", "FALSE", NULL };
        static const char *const infs[] = { ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", NULL };
        static const char *const ninfs[] = { "-.inf", "-.Inf", "-.INF", NULL };
        static const char *const nans[] = { ".nan", ".NaN", ".NAN", NULL };
        *ret = NULL;
        if (strlen(s) != len)  /* a NUL inside: only a string can hold it */
                goto string;
        if (is_one_of(s, nulls))
                return 0;
        if (is_one_of(s, trues) || is_one_of(s, falses)) {
                *ret = json_object_new_boolean(is_one_of(s, trues));
                return *ret ? 0 : -ENOMEM;
        }
        const char *digits = s + (s[0] == '-' || s[0] == '+');
        int base = 0;
        if (all_of(digits, "0123456789"))
                base = 10;
        else if (s == digits && strncmp(s, "0x", 2) == 0 && all_of(s + 2, "0123456789abcdefABCDEF"))
                base = 16;
        else if (s == digits && strncmp(s, "0o", 2) == 0 && all_of(s + 2, "01234567"))
                base = 8;
        if (base) {
                const char *p = base == 10 ? s : s + 2;
                char *end;
                errno = 0;
                if (base == 10 && s[0] != '-') {
                        unsigned long long v = strtoull(p, &end, 10);
                        if (errno == 0 && *end == '\0') {
                                *ret = v <= INT64_MAX ? json_object_new_int64((int64_t) v)
                                                      : json_object_new_uint64((uint64_t) v);
                                return *ret ? 0 : -ENOMEM;
                        }
                } else {
                        long long v = strtoll(p, &end, base);
                        if (errno == 0 && *end == '\0') {
                                *ret = json_object_new_int64((int64_t) v);
                                return *ret ? 0 : -ENOMEM;
                        }
                }
                goto string;  /* out of range */
        }
        if (is_one_of(s, infs) || is_one_of(s, ninfs) || is_one_of(s, nans)) {
                double d = is_one_of(s, nans) ? NAN : is_one_of(s, infs) ? INFINITY : -INFINITY;
                *ret = json_object_new_double(d);
                return *ret ? 0 : -ENOMEM;
        }
        /* [-+]? ( .D+ | D+ ( . D* )? ) ( [eE] [-+]? D+ )? */
        const char *p = digits;
        size_t int_digits = strspn(p, "0123456789");
        p += int_digits;
        size_t frac_digits = 0;
        if (*p == '.') {
                frac_digits = strspn(p + 1, "0123456789");
                p += 1 + frac_digits;
        }
        bool mantissa = int_digits > 0 || frac_digits > 0;
        if (mantissa && (*p == 'e' || *p == 'E')) {
                const char *q = p + 1 + (p[1] == '-' || p[1] == '+');
                size_t exp_digits = strspn(q, "0123456789");
                p = exp_digits ? q + exp_digits : p;
        }
        if (mantissa && *p == '\0') {
                *ret = json_object_new_double(strtod(s, NULL));
                return *ret ? 0 : -ENOMEM;
        }
string:
        *ret = json_object_new_string_len(s, (int) len);
        return *ret ? 0 : -ENOMEM;
}

static int scalar_value(const yaml_event_t *ev, struct json_object **ret) {
        const char *s = (const char *) ev->data.scalar.value;
        size_t len = ev->data.scalar.length;
        const char *tag = (const char *) ev->data.scalar.tag;
        if (len > INT32_MAX)
                return -E2BIG;
        bool is_str_tag = tag && strcmp(tag, YAML_STR_TAG) == 0;
        if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || is_str_tag) {
                *ret = json_object_new_string_len(s, (int) len);
                return *ret ? 0 : -ENOMEM;
        }
        return plain_scalar(s, len, ret);
}

/* Adds a finished value to the container on top, or makes it the root. */
static int add_value(conv_t *c, struct json_object *v, const yaml_mark_t *m) {
        if (c->depth == 0) {
                c->root = v;
                c->have_root = true;
                return 0;
        }
        frame_t *f = &c->stack[c->depth - 1];
        if (json_object_is_type(f->node, json_type_array)) {
                if (json_object_array_add(f->node, v) < 0) {
                        json_object_put(v);
                        return -ENOMEM;
                }
                return 0;
        }
        char *key = f->key;
        f->key = NULL;
        if (json_object_object_get_ex(f->node, key, NULL)) {
                json_object_put(v);
                int r = error_at(c, m, "duplicate key \"%s\"", key);
                free(key);
                return r;
        }
        int r = json_object_object_add(f->node, key, v);
        free(key);
        if (r < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static bool expecting_key(const conv_t *c) {
        return c->depth > 0 && json_object_is_type(c->stack[c->depth - 1].node, json_type_object) &&
               !c->stack[c->depth - 1].key;
}

static int on_event(conv_t *c, const yaml_event_t *ev) {
        const yaml_mark_t *m = &ev->start_mark;
        switch (ev->type) {
        case YAML_DOCUMENT_START_EVENT:
                c->root = NULL;
                c->have_root = false;
                c->doc_line = m->line + 1;
                c->doc_number++;
                return 0;
        case YAML_DOCUMENT_END_EVENT:
                if (!c->root)
                        return 0;  /* empty or null: left out */
                if (c->n_docs == c->max_docs) {
                        json_object_put(c->root);
                        c->root = NULL;
                        if (c->err) {
                                sb_reset(c->err);
                                sb_printf(c->err, "line %zu: more than %zu documents (the cap)", c->doc_line,
                                          c->max_docs);
                        }
                        return -E2BIG;
                }
                if (c->n_docs == c->alloc_docs) {
                        size_t na = c->alloc_docs ? c->alloc_docs * 2 : 8;
                        yamljson_doc_t *nd = realloc(c->docs, na * sizeof *nd);
                        if (!nd)
                                return -ENOMEM;
                        c->docs = nd;
                        c->alloc_docs = na;
                }
                c->docs[c->n_docs++] = (yamljson_doc_t) { .root = c->root, .line = c->doc_line,
                                                       .number = c->doc_number };
                c->root = NULL;
                return 0;
        case YAML_ALIAS_EVENT:
                return error_at(c, m, "aliases (*%s) are not supported", (const char *) ev->data.alias.anchor);
        case YAML_SCALAR_EVENT: {
                if (expecting_key(c)) {
                        const char *k = (const char *) ev->data.scalar.value;
                        if (strlen(k) != ev->data.scalar.length)
                                return error_at(c, m, "%s", "a mapping key with a NUL byte");
                        c->stack[c->depth - 1].key = strdup(k);
                        return c->stack[c->depth - 1].key ? 0 : -ENOMEM;
                }
                struct json_object *v;
                int r = scalar_value(ev, &v);
                if (r < 0)
                        return r;
                return add_value(c, v, m);
        }
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
                if (expecting_key(c))
                        return error_at(c, m, "%s", "a mapping key that is not a scalar");
                if (c->depth == YAMLJSON_MAX_DEPTH) {
                        if (c->err) {
                                sb_reset(c->err);
                                sb_printf(c->err, "line %zu column %zu: nested deeper than %d levels", m->line + 1,
                                          m->column + 1, YAMLJSON_MAX_DEPTH);
                        }
                        return -E2BIG;
                }
                struct json_object *n = ev->type == YAML_MAPPING_START_EVENT ? json_object_new_object()
                                                                              : json_object_new_array();
                if (!n)
                        return -ENOMEM;
                c->stack[c->depth++] = (frame_t) { .node = n };
                return 0;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
                if (c->depth == 0)
                        return -EINVAL;
                frame_t f = c->stack[--c->depth];
                free(f.key);
                return add_value(c, f.node, m);
        }
        default:
                return 0;
        }
}

int yamljson_parse(const char *text, size_t len, size_t max_docs, yamljson_doc_t **ret, strbuf_t *err) {
        conv_t c = { .max_docs = max_docs ? max_docs : YAMLJSON_MAX_DOCUMENTS, .err = err };
        yaml_parser_t parser;
        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&parser, (const unsigned char *) (text ? text : ""), text ? len : 0);
        int r = 0;
        for (bool done = false; !done && r >= 0;) {
                yaml_event_t ev;
                if (!yaml_parser_parse(&parser, &ev)) {
                        if (parser.error == YAML_MEMORY_ERROR)
                                r = -ENOMEM;
                        else {
                                r = -EINVAL;
                                if (err) {
                                        sb_reset(err);
                                        sb_printf(err, "line %zu column %zu: %s", parser.problem_mark.line + 1,
                                                  parser.problem_mark.column + 1,
                                                  parser.problem ? parser.problem : "syntax error");
                                        if (parser.context)
                                                sb_printf(err, " (%s, line %zu)", parser.context,
                                                          parser.context_mark.line + 1);
                                }
                        }
                        break;
                }
                done = ev.type == YAML_STREAM_END_EVENT;
                r = on_event(&c, &ev);
                yaml_event_delete(&ev);
        }
        yaml_parser_delete(&parser);
        while (c.depth > 0) {
                frame_t *f = &c.stack[--c.depth];
                json_object_put(f->node);
                free(f->key);
        }
        json_object_put(c.root);
        if (r < 0) {
                yamljson_docs_free(c.docs, c.n_docs);
                return r;
        }
        if (c.n_docs == 0) {
                free(c.docs);
                c.docs = NULL;
        }
        *ret = c.docs;
        return (int) c.n_docs;
}

#else

bool yamljson_supported(void) {
        return false;
}

int yamljson_parse(const char *text, size_t len, size_t max_docs, yamljson_doc_t **ret, strbuf_t *err) {
        if (err) {
                sb_reset(err);
                sb_puts(err, "this build reads no YAML (configure with libyaml: meson -Dyaml=enabled)");
        }
        return -EOPNOTSUPP;
}

#endif
