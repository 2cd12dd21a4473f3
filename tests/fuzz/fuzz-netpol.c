/* Fuzz target: the NetworkPolicy evaluator (src/k8s/netpol.c, issue 16). The
 * input is parsed with json-c as `netcanary policy` does and given as one
 * document (an object or a List); small caps keep each run cheap. Checked:
 *  - a refused input comes with -EINVAL / -E2BIG / -ENOMEM and a message
 *    naming the document, and no cluster;
 *  - pods are sorted by namespace then name and found again by name;
 *  - for every pair of the first pods, on a few ports and every protocol, a
 *    verdict is the AND of its sides, a side allows iff it is not isolated or
 *    some rule allows, an allowing rule belongs to an isolating policy, and
 *    the isolating policies are ascending;
 *  - the same input built again gives the same verdicts. */
#include <errno.h>
#include <json.h>
#include <string.h>

#include "fuzz.h"
#include "netpol.h"

#define JSON_DEPTH 64
#define MAX_PAIRS_PODS 12

static netpol_cluster_t *build(struct json_object *root) {
        static const netpol_limits_t limits = { .max_pods = 64, .max_policies = 64, .max_namespaces = 64 };
        netpol_document_t doc = { "fuzz.json", root };
        netpol_cluster_t *c = NULL;
        strbuf_t err;
        sb_init(&err, 0);
        int r = netpol_cluster_new(&doc, 1, &limits, &c, &err);
        FUZZ_CHECK(r == 0 || r == -EINVAL || r == -E2BIG || r == -ENOMEM);
        if (r < 0) {
                FUZZ_CHECK(c == NULL);
                if (r != -ENOMEM) {
                        FUZZ_CHECK(err.data && !err.oom);
                        FUZZ_CHECK(strncmp(err.data, "fuzz.json", 9) == 0 || strncmp(err.data, "more than", 9) == 0);
                }
        } else
                FUZZ_CHECK(c != NULL);
        sb_free(&err);
        return c;
}

static void check_side(const netpol_cluster_t *c, const netpol_side_t *s) {
        FUZZ_CHECK(s->isolated == (s->n_isolating > 0));
        FUZZ_CHECK(s->allowed == (!s->isolated || s->n_allowing > 0));
        for (size_t i = 0; i < s->n_isolating; i++) {
                FUZZ_CHECK(s->isolating[i] < netpol_policy_count(c));
                if (i > 0)
                        FUZZ_CHECK(s->isolating[i - 1] < s->isolating[i]);
        }
        for (size_t i = 0; i < s->n_allowing; i++) {
                bool found = false;
                for (size_t k = 0; k < s->n_isolating && !found; k++)
                        found = s->isolating[k] == s->allowing[i].policy;
                FUZZ_CHECK(found);
        }
}

/* One bit per (pair, port, protocol) verdict, in a fixed order. */
static void verdicts(const netpol_cluster_t *c, uint8_t *bits, size_t n_bits) {
        static const uint16_t ports[] = { 80, 81, 443, 65535 };
        size_t n = netpol_pod_count(c), k = 0;
        if (n > MAX_PAIRS_PODS)
                n = MAX_PAIRS_PODS;
        netpol_verdict_t v = { 0 };
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < n; j++)
                        for (size_t p = 0; p < ELEMENTSOF(ports); p++)
                                for (int proto = 0; proto < _NETPOL_PROTO_MAX; proto++, k++) {
                                        int r = netpol_evaluate(c, i, j, ports[p], (netpol_proto_t) proto, &v);
                                        FUZZ_CHECK(r == 0 || r == -ENOMEM);
                                        if (r < 0)
                                                continue;
                                        FUZZ_CHECK(v.allowed == (v.side[K8S_EGRESS].allowed &&
                                                                 v.side[K8S_INGRESS].allowed));
                                        check_side(c, &v.side[K8S_EGRESS]);
                                        check_side(c, &v.side[K8S_INGRESS]);
                                        FUZZ_CHECK(k < n_bits);
                                        if (v.allowed)
                                                bits[k / 8] |= (uint8_t) (1u << (k % 8));
                                }
        FUZZ_CHECK(netpol_evaluate(c, netpol_pod_count(c), 0, 80, NETPOL_TCP, &v) == -EINVAL);
        netpol_verdict_done(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct json_object *root = fuzz_parse_json(data, size, JSON_DEPTH);
        if (!root)
                return 0;
        netpol_cluster_t *c = build(root);
        if (c) {
                size_t n = netpol_pod_count(c);
                for (size_t i = 0; i < n; i++) {
                        const char *ns = netpol_pod_namespace(c, i), *name = netpol_pod_name(c, i);
                        FUZZ_CHECK(ns && name && *name);
                        size_t idx = SIZE_MAX;
                        FUZZ_CHECK(netpol_pod_find(c, ns, name, &idx) == 0 && idx == i);
                        if (i > 0) {
                                int cmp = strcmp(netpol_pod_namespace(c, i - 1), ns);
                                FUZZ_CHECK(cmp < 0 || (cmp == 0 && strcmp(netpol_pod_name(c, i - 1), name) < 0));
                        }
                }
                for (size_t i = 0; i < netpol_policy_count(c); i++)
                        FUZZ_CHECK(netpol_policy_namespace(c, i) && netpol_policy_name(c, i));
                enum { N_BITS = MAX_PAIRS_PODS * MAX_PAIRS_PODS * 4 * _NETPOL_PROTO_MAX };
                uint8_t a[(N_BITS + 7) / 8] = { 0 }, b[(N_BITS + 7) / 8] = { 0 };
                verdicts(c, a, N_BITS);
                netpol_cluster_t *again = build(root);
                FUZZ_CHECK(again);
                verdicts(again, b, N_BITS);
                FUZZ_CHECK(memcmp(a, b, sizeof a) == 0);
                netpol_cluster_free(again);
        }
        netpol_cluster_free(c);
        json_object_put(root);
        return 0;
}
