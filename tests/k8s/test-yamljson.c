/* Unit tests for yamljson.c: YAML manifests to json-c trees. Without libyaml
 * in the build, only the -EOPNOTSUPP answer is checked. */
#include <errno.h>
#include <json.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "yamljson.h"

static int parse(const char *text, size_t max, yamljson_doc_t **docs, strbuf_t *err) {
        sb_reset(err);
        return yamljson_parse(text, strlen(text), max, docs, err);
}

/* The canonical JSON text of a document, for comparisons. */
static const char *js(const yamljson_doc_t *d) {
        return json_object_to_json_string_ext(d->root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static void test_unsupported(void **state) {
        if (yamljson_supported())
                skip();
        yamljson_doc_t *docs = NULL;
        strbuf_t err;
        sb_init(&err, 0);
        assert_int_equal(parse("a: 1\n", 0, &docs, &err), -EOPNOTSUPP);
        assert_non_null(strstr(err.data, "libyaml"));
        sb_free(&err);
}

static void test_manifest(void **state) {
        if (!yamljson_supported())
                skip();
        static const char text[] =
                "# a comment\n"
                "apiVersion: networking.k8s.io/v1\n"
                "kind: NetworkPolicy\n"
                "metadata:\n"
                "  name: web\n"
                "  namespace: x\n"
                "spec:\n"
                "  podSelector: {}\n"
                "  ingress:\n"
                "  - from:\n"
                "    - podSelector:\n"
                "        matchLabels: {app: \"web\"}\n"
                "    ports:\n"
                "    - port: 80\n"
                "      endPort: 0x51\n"
                "    - port: http\n"
                "      protocol: TCP\n"
                "---\n"
                "---\n"
                "# an empty document above, a null one below\n"
                "~\n"
                "---\n"
                "kind: Pod\n"
                "spec: {hostNetwork: true, x: False, n: null, e: , f: -1.5e3, inf: -.inf, s: !!str 12, q: '007'}\n"
                "big: 18446744073709551615\n"
                "huge: 184467440737095516150\n"
                "octal: 0o17\n"
                "neg: -42\n"
                "yes: yes\n"
                "text: |\n"
                "  two\n"
                "  lines\n"
                "...\n";
        yamljson_doc_t *docs = NULL;
        strbuf_t err;
        sb_init(&err, 0);
        int n = parse(text, 0, &docs, &err);
        if (n < 0)
                fail_msg("%d: %s", n, err.data);
        assert_int_equal(n, 2);
        assert_int_equal(docs[0].line, 2);
        assert_int_equal(docs[0].number, 1);
        assert_string_equal(js(&docs[0]),
                            "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":"
                            "\"web\",\"namespace\":\"x\"},\"spec\":{\"podSelector\":{},\"ingress\":[{\"from\":[{"
                            "\"podSelector\":{\"matchLabels\":{\"app\":\"web\"}}}],\"ports\":[{\"port\":80,\"endPort\":81},"
                            "{\"port\":\"http\",\"protocol\":\"TCP\"}]}]}}");
        /* Documents 2 (empty) and 3 (null) are left out but counted. */
        assert_int_equal(docs[1].number, 4);
        assert_int_equal(docs[1].line, 22);
        struct json_object *spec = json_object_object_get(docs[1].root, "spec");
        assert_true(json_object_get_boolean(json_object_object_get(spec, "hostNetwork")));
        assert_true(json_object_is_type(json_object_object_get(spec, "x"), json_type_boolean));
        assert_false(json_object_get_boolean(json_object_object_get(spec, "x")));
        assert_true(json_object_object_get_ex(spec, "n", NULL));
        assert_null(json_object_object_get(spec, "n"));
        assert_null(json_object_object_get(spec, "e"));
        assert_true(json_object_is_type(json_object_object_get(spec, "f"), json_type_double));
        assert_true(json_object_get_double(json_object_object_get(spec, "f")) == -1500.0);
        assert_true(isinf(json_object_get_double(json_object_object_get(spec, "inf"))));
        assert_string_equal(json_object_get_string(json_object_object_get(spec, "s")), "12");
        assert_true(json_object_is_type(json_object_object_get(spec, "s"), json_type_string));
        assert_string_equal(json_object_get_string(json_object_object_get(spec, "q")), "007");
        assert_true(json_object_get_uint64(json_object_object_get(docs[1].root, "big")) == UINT64_MAX);
        assert_true(json_object_is_type(json_object_object_get(docs[1].root, "huge"), json_type_string));
        assert_int_equal(json_object_get_int64(json_object_object_get(docs[1].root, "octal")), 15);
        assert_int_equal(json_object_get_int64(json_object_object_get(docs[1].root, "neg")), -42);
        assert_string_equal(json_object_get_string(json_object_object_get(docs[1].root, "yes")), "yes");
        assert_string_equal(json_object_get_string(json_object_object_get(docs[1].root, "text")), "two\nlines\n");
        yamljson_docs_free(docs, (size_t) n);

        /* Nothing at all, or only comments: no document. */
        docs = (yamljson_doc_t *) &err;  /* must be overwritten */
        assert_int_equal(parse("# nothing\n", 0, &docs, &err), 0);
        assert_null(docs);
        assert_int_equal(yamljson_parse(NULL, 0, 0, &docs, &err), 0);
        yamljson_docs_free(NULL, 0);
        sb_free(&err);
}

static void test_errors(void **state) {
        if (!yamljson_supported())
                skip();
        static const struct {
                const char *text;
                int error;
                const char *message;
        } cases[] = {
                { "a: &x [1]\nb: *x\n", -EINVAL, "line 2 column 4: aliases (*x) are not supported" },
                { "a: 1\na: 2\n", -EINVAL, "line 2 column 4: duplicate key \"a\"" },
                { "? [a]\n: 1\n", -EINVAL, "line 1 column 3: a mapping key that is not a scalar" },
                { "kind: Pod\n  bad: [\n", -EINVAL, "line 2 column 6: mapping values are not allowed in this context" },
                { "a: [1, 2\n", -EINVAL,
                  "line 2 column 1: did not find expected ',' or ']' (while parsing a flow sequence, line 1)" },
                { "\"a\\0b\": 1\n", -EINVAL, "line 1 column 1: a mapping key with a NUL byte" },
        };
        strbuf_t err;
        sb_init(&err, 0);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                yamljson_doc_t *docs = NULL;
                int r = parse(cases[i].text, 0, &docs, &err);
                if (r != cases[i].error)
                        fail_msg("case %zu: %d (%s)", i, r, err.data ? err.data : "");
                assert_string_equal(err.data, cases[i].message);
                assert_null(docs);
        }
        sb_free(&err);
}

static void test_caps(void **state) {
        if (!yamljson_supported())
                skip();
        strbuf_t err, text;
        sb_init(&err, 0);
        sb_init(&text, 0);
        yamljson_doc_t *docs = NULL;
        /* Depth: 64 nested sequences are accepted, 65 refused. */
        for (int depth = 64; depth <= 65; depth++) {
                sb_reset(&text);
                for (int i = 0; i < depth; i++)
                        sb_putc(&text, '[');
                for (int i = 0; i < depth; i++)
                        sb_putc(&text, ']');
                int r = parse(text.data, 0, &docs, &err);
                if (depth == 64) {
                        assert_int_equal(r, 1);
                        yamljson_docs_free(docs, 1);
                } else {
                        assert_int_equal(r, -E2BIG);
                        assert_string_equal(err.data, "line 1 column 65: nested deeper than 64 levels");
                }
        }
        /* Documents: 3 with a cap of 3, refused with a cap of 2. */
        const char *three = "a: 1\n---\nb: 2\n---\nc: 3\n";
        assert_int_equal(parse(three, 3, &docs, &err), 3);
        assert_string_equal(js(&docs[2]), "{\"c\":3}");
        assert_int_equal(docs[2].line, 4);  /* its "---" */
        yamljson_docs_free(docs, 3);
        docs = NULL;
        assert_int_equal(parse(three, 2, &docs, &err), -E2BIG);
        assert_string_equal(err.data, "line 4: more than 2 documents (the cap)");
        assert_null(docs);
        sb_free(&err);
        sb_free(&text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_unsupported),
                cmocka_unit_test(test_manifest),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_caps),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
