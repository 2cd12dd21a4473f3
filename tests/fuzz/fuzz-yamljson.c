/* Fuzz target: YAML manifests to json-c trees (src/k8s/yamljson.c), and what
 * it yields through the NetworkPolicy evaluator, as `netcanary policy` reads
 * a YAML file. Checked: a refusal is -EINVAL / -E2BIG / -ENOMEM with a
 * "line ..." message and no documents; otherwise every document has a root,
 * numbers ascend, lines do not go back, a small cap is honoured, and each
 * root serialises to JSON that json-c parses back (non-finite doubles
 * aside). Without libyaml the answer is always -EOPNOTSUPP. */
#include <errno.h>
#include <json.h>
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "netpol.h"
#include "yamljson.h"

/* Whether the tree holds a non-finite double (JSON has no text for it). */
static bool has_non_finite(struct json_object *o, int depth) {
        if (depth > YAMLJSON_MAX_DEPTH + 1)
                return false;
        switch (json_object_get_type(o)) {
        case json_type_double:
                return !isfinite(json_object_get_double(o));
        case json_type_array:
                for (size_t i = 0; i < json_object_array_length(o); i++)
                        if (has_non_finite(json_object_array_get_idx(o, i), depth + 1))
                                return true;
                return false;
        case json_type_object: {
                json_object_object_foreach(o, key, val) {
                        (void) key;
                        if (has_non_finite(val, depth + 1))
                                return true;
                }
                return false;
        }
        default:
                return false;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > (1u << 20))
                return 0;
        yamljson_doc_t *docs = NULL;
        strbuf_t err;
        sb_init(&err, 0);
        int n = yamljson_parse((const char *) data, size, 0, &docs, &err);
        if (!yamljson_supported()) {
                FUZZ_CHECK(n == -EOPNOTSUPP);
                sb_free(&err);
                return 0;
        }
        FUZZ_CHECK(n >= 0 || n == -EINVAL || n == -E2BIG || n == -ENOMEM);
        if (n < 0) {
                FUZZ_CHECK(docs == NULL);
                if (n != -ENOMEM)
                        FUZZ_CHECK(err.data && strncmp(err.data, "line ", 5) == 0);
                sb_free(&err);
                return 0;
        }
        FUZZ_CHECK((n == 0) == (docs == NULL));
        netpol_document_t *nd = n ? calloc((size_t) n, sizeof *nd) : NULL;
        for (int i = 0; i < n; i++) {
                FUZZ_CHECK(docs[i].root && docs[i].line >= 1 && docs[i].number >= 1);
                if (i > 0) {
                        FUZZ_CHECK(docs[i - 1].number < docs[i].number);
                        FUZZ_CHECK(docs[i - 1].line <= docs[i].line);
                }
                if (!has_non_finite(docs[i].root, 0)) {
                        const char *text = json_object_to_json_string_ext(docs[i].root, JSON_C_TO_STRING_PLAIN);
                        FUZZ_CHECK(text);
                        json_tokener *tok = json_tokener_new_ex(YAMLJSON_MAX_DEPTH + 2);
                        FUZZ_CHECK(tok);
                        struct json_object *back = json_tokener_parse_ex(tok, text, (int) strlen(text) + 1);
                        FUZZ_CHECK(json_tokener_get_error(tok) == json_tokener_success);
                        json_tokener_free(tok);
                        json_object_put(back);
                }
                if (nd)
                        nd[i] = (netpol_document_t) { "fuzz.yaml", docs[i].root };
        }
        /* A cap of one less document is refused. */
        if (n > 0) {
                yamljson_doc_t *fewer = NULL;
                FUZZ_CHECK(yamljson_parse((const char *) data, size, (size_t) n - (n > 1), &fewer, NULL) ==
                           (n > 1 ? -E2BIG : 1));
                yamljson_docs_free(fewer, n > 1 ? 0 : 1);
        }
        /* And what the policy command does with them. */
        static const netpol_limits_t limits = { .max_pods = 32, .max_policies = 32, .max_namespaces = 32 };
        netpol_cluster_t *c = NULL;
        if (nd && netpol_cluster_new(nd, (size_t) n, &limits, &c, NULL) == 0) {
                netpol_verdict_t v = { 0 };
                size_t pods = netpol_pod_count(c);
                for (size_t i = 0; i < pods && i < 8; i++)
                        for (size_t j = 0; j < pods && j < 8; j++)
                                FUZZ_CHECK(netpol_evaluate(c, i, j, 80, NETPOL_TCP, &v) == 0);
                netpol_verdict_done(&v);
        }
        netpol_cluster_free(c);
        free(nd);
        yamljson_docs_free(docs, (size_t) n);
        sb_free(&err);
        return 0;
}
