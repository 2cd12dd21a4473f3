/* Unit tests for k8s_objects.c: ready endpoints of EndpointSlices, the
 * NetworkPolicy default-deny audit, canonical JSON and policy hashes. The
 * objects are shaped exactly like the Kubernetes API serves them. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <json.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "k8s_objects.h"

static struct json_object *parse(const char *text) {
        struct json_object *o = json_tokener_parse(text);
        assert_non_null(o);
        return o;
}

/* A collection of one object (a List's items). */
static struct json_object *one(const char *text) {
        struct json_object *a = json_object_new_array();
        json_object_array_add(a, parse(text));
        return a;
}

/* ---------------------------------------------------------------- metadata */

static void test_object_key(void **state) {
        struct json_object *pol = parse("{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\","
                                        "\"metadata\":{\"name\":\"deny\",\"namespace\":\"pci\",\"resourceVersion\":\"42\"}}");
        struct json_object *ns = parse("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"pci\"}}");
        struct json_object *bad = parse("{\"kind\":\"Namespace\",\"metadata\":{\"namespace\":\"x\"}}");
        char *k = NULL;
        assert_int_equal(k8s_object_key(pol, &k), 0);
        assert_string_equal(k, "pci/deny");
        free(k);
        assert_int_equal(k8s_object_key(ns, &k), 0);
        assert_string_equal(k, "pci");
        free(k);
        assert_int_equal(k8s_object_key(bad, &k), -EINVAL);
        assert_int_equal(k8s_object_key(NULL, &k), -EINVAL);
        assert_string_equal(k8s_object_resource_version(pol), "42");
        assert_null(k8s_object_resource_version(ns));
        assert_null(k8s_object_namespace(ns));
        json_object_put(pol);
        json_object_put(ns);
        json_object_put(bad);
}

/* ---------------------------------------------------------- EndpointSlices */

/* CoreDNS's Service as the EndpointSlice controller publishes it: three
 * ports, one ready endpoint, one not ready, one terminating, one whose ready
 * condition is absent ("unknown": treat as ready). */
static const char KUBE_DNS_V4[] =
        "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\","
        "\"metadata\":{\"name\":\"kube-dns-abcde\",\"namespace\":\"kube-system\",\"resourceVersion\":\"1001\","
        "  \"generateName\":\"kube-dns-\",\"uid\":\"3a0c1a54-8d8e-4a36-9d8c-5f1f2b0f2a11\","
        "  \"labels\":{\"kubernetes.io/service-name\":\"kube-dns\","
        "    \"endpointslice.kubernetes.io/managed-by\":\"endpointslice-controller.k8s.io\"},"
        "  \"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"name\":\"kube-dns\","
        "    \"uid\":\"b1c8a4a8-0000-4000-8000-000000000001\",\"controller\":true,\"blockOwnerDeletion\":true}]},"
        "\"addressType\":\"IPv4\","
        "\"endpoints\":["
        "  {\"addresses\":[\"10.244.1.7\"],\"conditions\":{\"ready\":false,\"serving\":false,\"terminating\":false},"
        "   \"nodeName\":\"node-b\",\"targetRef\":{\"kind\":\"Pod\",\"name\":\"coredns-2\",\"namespace\":\"kube-system\"}},"
        "  {\"addresses\":[\"10.244.0.5\"],\"conditions\":{\"ready\":true,\"serving\":true,\"terminating\":false},"
        "   \"nodeName\":\"node-a\",\"targetRef\":{\"kind\":\"Pod\",\"name\":\"coredns-1\",\"namespace\":\"kube-system\"}},"
        "  {\"addresses\":[\"10.244.2.9\"],\"conditions\":{\"ready\":false,\"serving\":true,\"terminating\":true},"
        "   \"nodeName\":\"node-c\"},"
        "  {\"addresses\":[\"10.244.3.3\"],\"conditions\":{},\"nodeName\":\"node-d\"}"
        "],"
        "\"ports\":[{\"name\":\"dns-tcp\",\"port\":53,\"protocol\":\"TCP\"},"
        "  {\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\"},"
        "  {\"name\":\"metrics\",\"port\":9153,\"protocol\":\"TCP\"}]}";

/* Its IPv6 twin (dual-stack cluster); the second address is the first one
 * written differently. */
static const char KUBE_DNS_V6[] =
        "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\","
        "\"metadata\":{\"name\":\"kube-dns-fghij\",\"namespace\":\"kube-system\",\"resourceVersion\":\"1002\","
        "  \"labels\":{\"kubernetes.io/service-name\":\"kube-dns\"}},"
        "\"addressType\":\"IPv6\","
        "\"endpoints\":["
        "  {\"addresses\":[\"fd00:10:244::5\"],\"conditions\":{\"ready\":true}},"
        "  {\"addresses\":[\"fd00:10:244:0:0:0:0:0005\"],\"conditions\":{\"ready\":true}},"
        "  {\"addresses\":[\"fd00:10:244::1:9\"],\"conditions\":{\"ready\":false}}"
        "],"
        "\"ports\":[{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\"},"
        "  {\"name\":\"dns-tcp\",\"port\":53,\"protocol\":\"TCP\"}]}";

static size_t ready(struct json_object *slices, const char *service, const char *name, uint16_t number,
                    const char *proto, k8s_endpoint_t **ret, size_t *total) {
        k8s_port_ref_t port = { .name = name, .number = number, .protocol = proto };
        int n = k8s_endpoints_ready(slices, service, &port, 0, ret, total);
        assert_true(n >= 0);
        return (size_t) n;
}

static void test_endpoints_ready_named_port(void **state) {
        struct json_object *s = one(KUBE_DNS_V4);
        k8s_endpoint_t *ep = NULL;
        size_t total = 0;
        /* ready true and ready absent; not-ready and terminating are left out */
        assert_int_equal(ready(s, "kube-dns", "dns", 0, "UDP", &ep, &total), 2);
        assert_int_equal(total, 2);
        assert_string_equal(ep[0].address, "10.244.0.5");
        assert_int_equal(ep[0].port, 53);
        assert_string_equal(ep[1].address, "10.244.3.3");
        const struct sockaddr_in *sin = (const struct sockaddr_in *) &ep[0].addr;
        assert_int_equal(sin->sin_family, AF_INET);
        assert_int_equal(ntohs(sin->sin_port), 53);
        assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x0af40005);
        free(ep);

        assert_int_equal(ready(s, NULL, "metrics", 0, NULL, &ep, NULL), 2);
        assert_int_equal(ep[0].port, 9153);
        free(ep);
        /* the name is matched exactly; protocol filters */
        assert_int_equal(ready(s, NULL, "DNS", 0, NULL, &ep, NULL), 0);
        assert_null(ep);
        assert_int_equal(ready(s, NULL, "dns", 0, "TCP", &ep, NULL), 0);
        assert_int_equal(ready(s, NULL, "", 0, NULL, &ep, NULL), 0);
        /* another Service's slices are ignored */
        assert_int_equal(ready(s, "other", "dns", 0, NULL, &ep, NULL), 0);
        json_object_put(s);
}

static void test_endpoints_ready_numbered_port(void **state) {
        struct json_object *s = one(KUBE_DNS_V4);
        k8s_endpoint_t *ep = NULL;
        assert_int_equal(ready(s, NULL, NULL, 9153, NULL, &ep, NULL), 2);
        assert_int_equal(ep[1].port, 9153);
        free(ep);
        /* 53 is both dns (UDP) and dns-tcp (TCP): one endpoint per address */
        assert_int_equal(ready(s, NULL, NULL, 53, NULL, &ep, NULL), 2);
        free(ep);
        assert_int_equal(ready(s, NULL, NULL, 53, "TCP", &ep, NULL), 2);
        free(ep);
        assert_int_equal(ready(s, NULL, NULL, 54, NULL, &ep, NULL), 0);
        k8s_port_ref_t none = { 0 };
        assert_int_equal(k8s_endpoints_ready(s, NULL, &none, 0, &ep, NULL), -EINVAL);
        assert_int_equal(k8s_endpoints_ready(s, NULL, NULL, 0, &ep, NULL), -EINVAL);
        json_object_put(s);

        /* A headless Service without ports: by number the number is used,
         * by name nothing matches. A port entry without a port = all ports. */
        s = one("{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\","
                  "\"metadata\":{\"name\":\"netcanary-x1\",\"namespace\":\"customer-b\","
                  "  \"labels\":{\"kubernetes.io/service-name\":\"netcanary\"}},"
                  "\"addressType\":\"IPv4\",\"ports\":null,"
                  "\"endpoints\":[{\"addresses\":[\"10.1.0.2\"],\"conditions\":{\"ready\":true}}]}");
        assert_int_equal(ready(s, "netcanary", NULL, 9891, NULL, &ep, NULL), 1);
        assert_string_equal(ep[0].address, "10.1.0.2");
        assert_int_equal(ep[0].port, 9891);
        free(ep);
        assert_int_equal(ready(s, "netcanary", "responder", 0, NULL, &ep, NULL), 0);
        json_object_put(s);
        s = one("{\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"a\"},\"addressType\":\"IPv4\","
                  "\"ports\":[{\"name\":\"\",\"protocol\":\"TCP\"}],"
                  "\"endpoints\":[{\"addresses\":[\"10.1.0.3\"]}]}");
        assert_int_equal(ready(s, NULL, NULL, 8443, NULL, &ep, NULL), 1);
        assert_int_equal(ep[0].port, 8443);
        free(ep);
        json_object_put(s);
}

static void test_endpoints_aggregate_ipv6(void **state) {
        /* the watch's map: slice key -> slice; the second Service's slice,
         * an FQDN slice and garbage entries are skipped */
        struct json_object *map = json_object_new_object();
        json_object_object_add(map, "kube-system/kube-dns-fghij", parse(KUBE_DNS_V6));
        json_object_object_add(map, "kube-system/kube-dns-abcde", parse(KUBE_DNS_V4));
        json_object_object_add(map, "kube-system/metrics-server-1",
                               parse("{\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"metrics-server-1\","
                                     "\"namespace\":\"kube-system\",\"labels\":{\"kubernetes.io/service-name\":"
                                     "\"metrics-server\"}},\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"dns\","
                                     "\"port\":53,\"protocol\":\"UDP\"}],\"endpoints\":[{\"addresses\":"
                                     "[\"10.244.9.9\"]}]}"));
        json_object_object_add(map, "kube-system/kube-dns-fqdn",
                               parse("{\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"kube-dns-fqdn\","
                                     "\"labels\":{\"kubernetes.io/service-name\":\"kube-dns\"}},"
                                     "\"addressType\":\"FQDN\",\"ports\":[{\"name\":\"dns\",\"port\":53,"
                                     "\"protocol\":\"UDP\"}],\"endpoints\":[{\"addresses\":[\"dns.example\"]}]}"));
        json_object_object_add(map, "kube-system/kube-dns-bad",
                               parse("{\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"kube-dns-bad\","
                                     "\"labels\":{\"kubernetes.io/service-name\":\"kube-dns\"}},"
                                     "\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"dns\",\"port\":53,"
                                     "\"protocol\":\"UDP\"}],\"endpoints\":[{\"addresses\":[\"999.1.1.1\"]},"
                                     "{\"addresses\":[17]},\"x\",{\"addresses\":\"10.0.0.1\"}]}"));
        json_object_object_add(map, "junk", json_object_new_string("not a slice"));

        k8s_endpoint_t *ep = NULL;
        size_t total = 0;
        assert_int_equal(ready(map, "kube-dns", "dns", 0, "UDP", &ep, &total), 3);
        assert_int_equal(total, 3);
        assert_string_equal(ep[0].address, "10.244.0.5");
        assert_string_equal(ep[1].address, "10.244.3.3");
        assert_string_equal(ep[2].address, "fd00:10:244::5");
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) &ep[2].addr;
        assert_int_equal(sin6->sin6_family, AF_INET6);
        assert_int_equal(ntohs(sin6->sin6_port), 53);
        struct in6_addr want;
        assert_int_equal(inet_pton(AF_INET6, "fd00:10:244::5", &want), 1);
        assert_memory_equal(&sin6->sin6_addr, &want, sizeof want);
        free(ep);

        /* the same slices as a List's items */
        struct json_object *items = json_object_new_array();
        json_object_array_add(items, parse(KUBE_DNS_V4));
        json_object_array_add(items, parse(KUBE_DNS_V6));
        assert_int_equal(ready(items, "kube-dns", "dns", 0, "UDP", &ep, NULL), 3);
        free(ep);
        /* NULL is an empty collection */
        assert_int_equal(ready(NULL, "kube-dns", "dns", 0, NULL, &ep, NULL), 0);
        json_object_put(items);
        json_object_put(map);
}

static void test_endpoints_cap(void **state) {
        strbuf_t sb;
        sb_init(&sb, 0);
        sb_puts(&sb, "[{\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"big\"},\"addressType\":\"IPv4\","
                     "\"ports\":[{\"name\":\"http\",\"port\":80}],\"endpoints\":[");
        for (int i = 199; i >= 0; i--)
                sb_printf(&sb, "%s{\"addresses\":[\"10.0.%d.%d\"],\"conditions\":{\"ready\":true}}",
                          i == 199 ? "" : ",", i / 100, i % 100 + 1);
        sb_puts(&sb, "]}]");
        assert_false(sb.oom);
        struct json_object *s = parse(sb.data);
        sb_free(&sb);
        k8s_endpoint_t *ep = NULL;
        size_t total = 0;
        k8s_port_ref_t port = { .name = "http" };
        /* default cap */
        assert_int_equal(k8s_endpoints_ready(s, NULL, &port, 0, &ep, &total), K8S_MAX_ENDPOINTS);
        assert_int_equal(total, 200);
        assert_string_equal(ep[0].address, "10.0.0.1");
        assert_string_equal(ep[K8S_MAX_ENDPOINTS - 1].address, "10.0.0.64");
        free(ep);
        assert_int_equal(k8s_endpoints_ready(s, NULL, &port, 5, &ep, &total), 5);
        assert_int_equal(total, 200);
        assert_string_equal(ep[4].address, "10.0.0.5");
        free(ep);
        assert_int_equal(k8s_endpoints_ready(s, NULL, &port, 1000, &ep, &total), 200);
        assert_string_equal(ep[199].address, "10.0.1.100");
        free(ep);
        json_object_put(s);
}

/* ------------------------------------------------------------------- audit */

static struct json_object *policy(const char *ns, const char *name, const char *spec) {
        char *text = NULL;
        assert_true(asprintf(&text,
                             "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\","
                             "\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"resourceVersion\":\"7\","
                             "\"generation\":1,\"creationTimestamp\":\"2024-05-01T10:00:00Z\"},"
                             "\"spec\":%s}",
                             name, ns, spec) > 0);
        struct json_object *o = parse(text);
        free(text);
        return o;
}

static struct json_object *namespace(const char *name) {
        char *text = NULL;
        assert_true(asprintf(&text,
                             "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\","
                             "\"labels\":{\"kubernetes.io/metadata.name\":\"%s\"}},"
                             "\"spec\":{\"finalizers\":[\"kubernetes\"]},\"status\":{\"phase\":\"Active\"}}",
                             name, name) > 0);
        struct json_object *o = parse(text);
        free(text);
        return o;
}

static void test_policy_predicates(void **state) {
        struct json_object *p = policy("a", "deny-all", "{\"podSelector\":{},\"policyTypes\":[\"Ingress\",\"Egress\"]}");
        assert_true(k8s_policy_selects_all(p));
        assert_true(k8s_policy_has_type(p, K8S_INGRESS));
        assert_true(k8s_policy_has_type(p, K8S_EGRESS));
        assert_false(k8s_policy_allows_all(p, K8S_INGRESS));
        assert_false(k8s_policy_allows_all(p, K8S_EGRESS));
        json_object_put(p);

        /* selectors: empty matchLabels / matchExpressions still select all */
        p = policy("a", "x", "{\"podSelector\":{\"matchLabels\":{},\"matchExpressions\":[]}}");
        assert_true(k8s_policy_selects_all(p));
        json_object_put(p);
        p = policy("a", "x", "{\"podSelector\":{\"matchLabels\":{\"app\":\"web\"}}}");
        assert_false(k8s_policy_selects_all(p));
        json_object_put(p);
        p = policy("a", "x", "{\"podSelector\":{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"Exists\"}]}}");
        assert_false(k8s_policy_selects_all(p));
        json_object_put(p);

        /* policyTypes absent: Ingress, plus Egress when egress rules exist */
        p = policy("a", "x", "{\"podSelector\":{}}");
        assert_true(k8s_policy_has_type(p, K8S_INGRESS));
        assert_false(k8s_policy_has_type(p, K8S_EGRESS));
        json_object_put(p);
        p = policy("a", "x", "{\"podSelector\":{},\"egress\":[{\"to\":[{\"ipBlock\":{\"cidr\":\"10.0.0.0/8\"}}]}]}");
        assert_true(k8s_policy_has_type(p, K8S_INGRESS));
        assert_true(k8s_policy_has_type(p, K8S_EGRESS));
        assert_false(k8s_policy_allows_all(p, K8S_EGRESS));
        json_object_put(p);
        p = policy("a", "x", "{\"podSelector\":{},\"policyTypes\":[\"Egress\"]}");
        assert_false(k8s_policy_has_type(p, K8S_INGRESS));
        assert_true(k8s_policy_has_type(p, K8S_EGRESS));
        json_object_put(p);

        /* allow-all rules: {} and an empty from/to; not with ports or peers */
        p = policy("a", "x", "{\"podSelector\":{},\"ingress\":[{}]}");
        assert_true(k8s_policy_allows_all(p, K8S_INGRESS));
        assert_false(k8s_policy_allows_all(p, K8S_EGRESS));
        json_object_put(p);
        p = policy("a", "x", "{\"podSelector\":{},\"ingress\":[{\"from\":[]}],\"egress\":[{\"to\":[],\"ports\":[]}]}");
        assert_true(k8s_policy_allows_all(p, K8S_INGRESS));
        assert_true(k8s_policy_allows_all(p, K8S_EGRESS));
        json_object_put(p);
        p = policy("a", "x", "{\"podSelector\":{},\"ingress\":[{\"ports\":[{\"port\":443,\"protocol\":\"TCP\"}]},"
                             "{\"from\":[{\"podSelector\":{}}]}]}");
        assert_false(k8s_policy_allows_all(p, K8S_INGRESS));
        json_object_put(p);
        assert_string_equal(k8s_direction_name(K8S_INGRESS), "ingress");
        assert_string_equal(k8s_direction_name(K8S_EGRESS), "egress");
}

static const k8s_namespace_audit_t *find_ns(const k8s_namespace_audit_t *a, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(a[i].name, name) == 0)
                        return &a[i];
        fail_msg("namespace %s not in the audit", name);
        return NULL;
}

/* The seed scenario: every tenant namespace was meant to be default-deny;
 * "pci" has no NetworkPolicy at all (the audit finding). */
static void test_audit_seed_pci_finding(void **state) {
        struct json_object *nss = json_object_new_array();
        const char *names[] = { "customer-a", "customer-b", "pci", "platform", "egress-only", "implicit",
                                "cancelled", "partial", "kube-system" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                json_object_array_add(nss, namespace(names[i]));

        struct json_object *pols = json_object_new_object();
        struct {
                const char *ns, *name, *spec;
        } defs[] = {
                /* the standard deny-all, both directions */
                { "customer-a", "default-deny-all", "{\"podSelector\":{},\"policyTypes\":[\"Ingress\",\"Egress\"]}" },
                /* deny-all plus explicit allows for some pods: still default-deny */
                { "customer-a", "allow-web", "{\"podSelector\":{\"matchLabels\":{\"app\":\"web\"}},"
                                             "\"policyTypes\":[\"Ingress\"],\"ingress\":[{}]}" },
                /* ingress only (policyTypes absent, no egress rules) */
                { "customer-b", "default-deny-ingress", "{\"podSelector\":{}}" },
                /* platform: deny-all cancelled by an all-pods allow-all ingress */
                { "platform", "default-deny", "{\"podSelector\":{},\"policyTypes\":[\"Ingress\",\"Egress\"]}" },
                { "platform", "allow-all-ingress", "{\"podSelector\":{},\"ingress\":[{}],\"policyTypes\":[\"Ingress\"]}" },
                { "egress-only", "deny-egress", "{\"podSelector\":{},\"policyTypes\":[\"Egress\"]}" },
                /* policyTypes absent, egress rules present: both types, no allow-all */
                { "implicit", "dns-only", "{\"podSelector\":{},\"egress\":[{\"to\":[{\"namespaceSelector\":{"
                                          "\"matchLabels\":{\"kubernetes.io/metadata.name\":\"kube-system\"}}}],"
                                          "\"ports\":[{\"port\":53,\"protocol\":\"UDP\"}]}]}" },
                /* an all-pods policy whose own rule allows everything */
                { "cancelled", "looks-like-deny", "{\"podSelector\":{},\"policyTypes\":[\"Ingress\",\"Egress\"],"
                                                 "\"egress\":[{\"to\":[]}]}" },
                /* selects only some pods: not a default deny */
                { "partial", "web-only", "{\"podSelector\":{\"matchLabels\":{\"app\":\"web\"}},"
                                         "\"policyTypes\":[\"Ingress\",\"Egress\"]}" },
                /* a namespace that only exists through its policy */
                { "ghost", "deny", "{\"podSelector\":{},\"policyTypes\":[\"Ingress\"]}" },
        };
        for (size_t i = 0; i < ELEMENTSOF(defs); i++) {
                char key[128];
                snprintf(key, sizeof key, "%s/%s", defs[i].ns, defs[i].name);
                json_object_object_add(pols, key, policy(defs[i].ns, defs[i].name, defs[i].spec));
        }

        k8s_namespace_audit_t *a = NULL;
        int n = k8s_audit_namespaces(nss, pols, &a);
        assert_int_equal(n, (int) ELEMENTSOF(names) + 1);
        for (int i = 1; i < n; i++)
                assert_true(strcmp(a[i - 1].name, a[i].name) < 0);
        const k8s_namespace_audit_t *e;
        e = find_ns(a, (size_t) n, "customer-a");
        assert_true(e->default_deny[K8S_INGRESS] && e->default_deny[K8S_EGRESS]);
        assert_int_equal(e->n_policies, 2);
        e = find_ns(a, (size_t) n, "customer-b");
        assert_true(e->default_deny[K8S_INGRESS]);
        assert_false(e->default_deny[K8S_EGRESS]);
        e = find_ns(a, (size_t) n, "pci");  /* the finding */
        assert_false(e->default_deny[K8S_INGRESS]);
        assert_false(e->default_deny[K8S_EGRESS]);
        assert_int_equal(e->n_policies, 0);
        e = find_ns(a, (size_t) n, "platform");
        assert_false(e->default_deny[K8S_INGRESS]);
        assert_true(e->default_deny[K8S_EGRESS]);
        e = find_ns(a, (size_t) n, "egress-only");
        assert_false(e->default_deny[K8S_INGRESS]);
        assert_true(e->default_deny[K8S_EGRESS]);
        e = find_ns(a, (size_t) n, "implicit");
        assert_true(e->default_deny[K8S_INGRESS] && e->default_deny[K8S_EGRESS]);
        e = find_ns(a, (size_t) n, "cancelled");
        assert_true(e->default_deny[K8S_INGRESS]);
        assert_false(e->default_deny[K8S_EGRESS]);
        e = find_ns(a, (size_t) n, "partial");
        assert_false(e->default_deny[K8S_INGRESS] || e->default_deny[K8S_EGRESS]);
        assert_int_equal(e->n_policies, 1);
        e = find_ns(a, (size_t) n, "kube-system");
        assert_false(e->default_deny[K8S_INGRESS] || e->default_deny[K8S_EGRESS]);
        e = find_ns(a, (size_t) n, "ghost");
        assert_true(e->default_deny[K8S_INGRESS]);
        k8s_audit_free(a, (size_t) n);

        /* Fixing the finding flips pci. */
        json_object_object_add(pols, "pci/default-deny-all",
                               policy("pci", "default-deny-all", "{\"podSelector\":{},\"policyTypes\":[\"Ingress\",\"Egress\"]}"));
        n = k8s_audit_namespaces(nss, pols, &a);
        e = find_ns(a, (size_t) n, "pci");
        assert_true(e->default_deny[K8S_INGRESS] && e->default_deny[K8S_EGRESS]);
        k8s_audit_free(a, (size_t) n);

        /* No input at all: nothing, and no allocation. */
        assert_int_equal(k8s_audit_namespaces(NULL, NULL, &a), 0);
        assert_null(a);
        k8s_audit_free(NULL, 0);
        json_object_put(nss);
        json_object_put(pols);
}

/* ------------------------------------------------------------------ hashes */

static char *canonical(struct json_object *o) {
        strbuf_t sb;
        sb_init(&sb, 0);
        assert_int_equal(k8s_json_canonical(o, &sb), 0);
        return sb_steal(&sb, NULL);
}

static void test_canonical_json(void **state) {
        struct json_object *o = parse("{ \"b\": 1, \"a\": [true, null, \"x\\\"y\\n\\u0001\", -3, 2.5],"
                                      "  \"c\": {\"z\": {}, \"y\": []}, \"\": \"empty\" }");
        char *s = canonical(o);
        assert_string_equal(s, "{\"\":\"empty\",\"a\":[true,null,\"x\\\"y\\n\\u0001\",-3,2.5],"
                               "\"b\":1,\"c\":{\"y\":[],\"z\":{}}}");
        free(s);
        json_object_put(o);

        /* nesting past 64 levels is refused, not a stack overflow */
        struct json_object *deep = json_object_new_array();
        for (int i = 0; i < 70; i++) {
                struct json_object *outer = json_object_new_array();
                json_object_array_add(outer, deep);
                deep = outer;
        }
        strbuf_t sb;
        sb_init(&sb, 0);
        assert_int_equal(k8s_json_canonical(deep, &sb), -E2BIG);
        sb_free(&sb);
        json_object_put(deep);
        /* a limited buffer reports -ENOMEM */
        o = parse("{\"a\":\"0123456789\"}");
        sb_init(&sb, 8);
        assert_int_equal(k8s_json_canonical(o, &sb), -ENOMEM);
        sb_free(&sb);
        json_object_put(o);
}

static void test_policy_hash_stable(void **state) {
        struct json_object *p1 = policy("pci", "allow-dns",
                "{\"podSelector\":{\"matchLabels\":{\"tier\":\"db\",\"app\":\"ledger\"}},"
                "\"policyTypes\":[\"Egress\"],"
                "\"egress\":[{\"to\":[{\"namespaceSelector\":{\"matchLabels\":{\"kubernetes.io/metadata.name\":\"kube-system\"}}}],"
                "\"ports\":[{\"protocol\":\"UDP\",\"port\":53},{\"port\":53,\"protocol\":\"TCP\"}]}]}");
        /* the same spec, every object's keys in another order, and other metadata */
        struct json_object *p2 = parse(
                "{\"spec\":{\"egress\":[{\"ports\":[{\"port\":53,\"protocol\":\"UDP\"},{\"protocol\":\"TCP\",\"port\":53}],"
                "\"to\":[{\"namespaceSelector\":{\"matchLabels\":{\"kubernetes.io/metadata.name\":\"kube-system\"}}}]}],"
                "\"policyTypes\":[\"Egress\"],\"podSelector\":{\"matchLabels\":{\"app\":\"ledger\",\"tier\":\"db\"}}},"
                "\"metadata\":{\"resourceVersion\":\"999\",\"namespace\":\"pci\",\"name\":\"allow-dns\"},"
                "\"kind\":\"NetworkPolicy\",\"apiVersion\":\"networking.k8s.io/v1\"}");
        /* a real change: port 54 */
        struct json_object *p3 = policy("pci", "allow-dns",
                "{\"podSelector\":{\"matchLabels\":{\"tier\":\"db\",\"app\":\"ledger\"}},"
                "\"policyTypes\":[\"Egress\"],"
                "\"egress\":[{\"to\":[{\"namespaceSelector\":{\"matchLabels\":{\"kubernetes.io/metadata.name\":\"kube-system\"}}}],"
                "\"ports\":[{\"protocol\":\"UDP\",\"port\":54},{\"port\":53,\"protocol\":\"TCP\"}]}]}");
        char h1[17], h2[17], h3[17], h4[17];
        assert_int_equal(k8s_policy_hash(p1, h1), 0);
        assert_int_equal(k8s_policy_hash(p2, h2), 0);
        assert_int_equal(k8s_policy_hash(p3, h3), 0);
        assert_int_equal(strlen(h1), 16);
        assert_string_equal(h1, h2);
        assert_string_not_equal(h1, h3);
        /* stable across runs and builds: FNV-1a of the canonical bytes */
        char *canon = NULL;
        strbuf_t sb;
        sb_init(&sb, 0);
        struct json_object *spec = NULL;
        assert_true(json_object_object_get_ex(p1, "spec", &spec));
        assert_int_equal(k8s_json_canonical(spec, &sb), 0);
        canon = sb_steal(&sb, NULL);
        char want[17];
        snprintf(want, sizeof want, "%016" PRIx64, hash_fnv1a(canon, strlen(canon), 0));
        assert_string_equal(h1, want);
        free(canon);
        /* spec absent = the hash of null */
        struct json_object *bare = parse("{\"metadata\":{\"name\":\"x\"}}");
        assert_int_equal(k8s_policy_hash(bare, h4), 0);
        snprintf(want, sizeof want, "%016" PRIx64, hash_fnv1a("null", 4, 0));
        assert_string_equal(h4, want);

        /* the info list: sorted, nameless skipped */
        struct json_object *items = json_object_new_array();
        json_object_array_add(items, p3);
        json_object_array_add(items, policy("customer-a", "z", "{\"podSelector\":{}}"));
        json_object_array_add(items, policy("customer-a", "a", "{\"podSelector\":{}}"));
        json_object_array_add(items, json_object_get(bare));
        json_object_array_add(items, parse("{\"metadata\":{\"namespace\":\"x\"}}"));
        k8s_policy_info_t *info = NULL;
        int n = k8s_policy_infos(items, &info);
        assert_int_equal(n, 4);
        assert_string_equal(info[0].ns, "");
        assert_string_equal(info[0].name, "x");
        assert_string_equal(info[1].ns, "customer-a");
        assert_string_equal(info[1].name, "a");
        assert_string_equal(info[2].name, "z");
        assert_string_equal(info[1].hash, info[2].hash);
        assert_string_equal(info[3].ns, "pci");
        assert_string_equal(info[3].hash, h3);
        k8s_policy_infos_free(info, (size_t) n);
        k8s_policy_infos_free(NULL, 0);
        json_object_put(items);
        json_object_put(bare);
        json_object_put(p1);
        json_object_put(p2);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_object_key),
                cmocka_unit_test(test_endpoints_ready_named_port),
                cmocka_unit_test(test_endpoints_ready_numbered_port),
                cmocka_unit_test(test_endpoints_aggregate_ipv6),
                cmocka_unit_test(test_endpoints_cap),
                cmocka_unit_test(test_policy_predicates),
                cmocka_unit_test(test_audit_seed_pci_finding),
                cmocka_unit_test(test_canonical_json),
                cmocka_unit_test(test_policy_hash_stable),
        };
        return cmocka_run_group_tests_name("k8s_objects", tests, NULL, NULL);
}
