/* Fuzz target: what netcanary does with the JSON the Kubernetes API serves
 * (issue 10: "every JSON the Kubernetes client parses"). The input is parsed
 * with json-c as the client does, and the tree goes through every function of
 * k8s_objects.h, as a single object and as a collection:
 *  - ready endpoints: at most `max`, no more than the total, sorted (IPv4
 *    first, then address bytes, then port) and without duplicates, each
 *    address the canonical text of its sockaddr with the port set;
 *  - the NetworkPolicy audit: namespaces sorted and unique;
 *  - canonical JSON: deterministic, and a fixed point (the canonical text,
 *    parsed again, gives the same bytes and the same hash);
 *  - policy infos sorted by namespace then name.
 * The client's own stream parsing (list pages, watch event lines) is internal
 * to k8s.c and is not reached from here. */
#include <arpa/inet.h>
#include <errno.h>
#include <json.h>
#include <netinet/in.h>
#include <string.h>

#include "fuzz.h"
#include "k8s_objects.h"

#define JSON_DEPTH 64

static int endpoint_cmp(const k8s_endpoint_t *a, const k8s_endpoint_t *b) {
        int fa = a->addr.ss_family == AF_INET ? 0 : 1, fb = b->addr.ss_family == AF_INET ? 0 : 1;
        if (fa != fb)
                return fa - fb;
        int c = a->addr.ss_family == AF_INET
                        ? memcmp(&((const struct sockaddr_in *) &a->addr)->sin_addr,
                                 &((const struct sockaddr_in *) &b->addr)->sin_addr, 4)
                        : memcmp(&((const struct sockaddr_in6 *) &a->addr)->sin6_addr,
                                 &((const struct sockaddr_in6 *) &b->addr)->sin6_addr, 16);
        if (c != 0)
                return c;
        return (int) a->port - (int) b->port;
}

static void check_endpoints(struct json_object *slices, const char *service, const k8s_port_ref_t *port,
                            size_t max) {
        k8s_endpoint_t *eps = NULL;
        size_t total = 0;
        int n = k8s_endpoints_ready(slices, service, port, max, &eps, &total);
        if (!port->name && port->number == 0) {
                FUZZ_CHECK(n == -EINVAL);
                return;
        }
        FUZZ_CHECK(n >= 0 || n == -ENOMEM);
        if (n < 0)
                return;
        size_t cap = max ? max : K8S_MAX_ENDPOINTS;
        FUZZ_CHECK((size_t) n <= cap);
        FUZZ_CHECK((size_t) n <= total);
        FUZZ_CHECK((n == 0) == (eps == NULL));
        for (int i = 0; i < n; i++) {
                const k8s_endpoint_t *e = &eps[i];
                FUZZ_CHECK(e->addr.ss_family == AF_INET || e->addr.ss_family == AF_INET6);
                FUZZ_CHECK(memchr(e->address, '\0', sizeof e->address));
                char text[INET6_ADDRSTRLEN];
                const void *raw = e->addr.ss_family == AF_INET
                                          ? (const void *) &((const struct sockaddr_in *) &e->addr)->sin_addr
                                          : (const void *) &((const struct sockaddr_in6 *) &e->addr)->sin6_addr;
                FUZZ_CHECK(inet_ntop(e->addr.ss_family, raw, text, sizeof text));
                FUZZ_CHECK(strcmp(text, e->address) == 0);
                uint16_t sport = ntohs(e->addr.ss_family == AF_INET ? ((const struct sockaddr_in *) &e->addr)->sin_port
                                                                    : ((const struct sockaddr_in6 *) &e->addr)->sin6_port);
                FUZZ_CHECK(sport == e->port);
                if (i > 0)
                        FUZZ_CHECK(endpoint_cmp(&eps[i - 1], e) < 0); /* sorted, no duplicates */
        }
        free(eps);
}

static void check_canonical(struct json_object *o) {
        strbuf_t a, b;
        sb_init(&a, 0);
        sb_init(&b, 0);
        int r = k8s_json_canonical(o, &a);
        FUZZ_CHECK(r == 0 || r == -E2BIG || r == -ENOMEM);
        if (r == 0) {
                FUZZ_CHECK(k8s_json_canonical(o, &b) == 0);
                FUZZ_CHECK(a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0));
                uint64_t h1 = 0, h2 = 0;
                FUZZ_CHECK(k8s_json_hash(o, &h1) == 0);
                /* Parsed again, the canonical text is its own canonical form. */
                json_tokener *tok = json_tokener_new_ex(JSON_DEPTH + 2);
                FUZZ_CHECK(tok);
                /* With its NUL: a top-level number is only complete once json-c sees its end. */
                struct json_object *again = json_tokener_parse_ex(tok, a.data ? a.data : "", (int) a.len + 1);
                /* (again is NULL for the JSON value null: look at the tokener's verdict.) */
                bool parsed = json_tokener_get_error(tok) == json_tokener_success;
                json_tokener_free(tok);
                if (!parsed) {
                        fprintf(stderr, "canonical: %.*s\n", (int) (a.len < 300 ? a.len : 300), a.data ? a.data : "");
                        FUZZ_CHECK(!"canonical JSON does not parse as JSON");
                }
                strbuf_t c;
                sb_init(&c, 0);
                FUZZ_CHECK(k8s_json_canonical(again, &c) == 0);
                /* Known and harmless: a double -0.0 prints as "-0", which json-c reads
                 * back as the integer 0. */
                bool negative_zero = a.data && strstr(a.data, "-0") != NULL;
                if (!negative_zero && (c.len != a.len || memcmp(c.data, a.data, a.len) != 0)) {
                        fprintf(stderr, "canonical: %.*s\nagain:     %.*s\n", (int) (a.len < 300 ? a.len : 300),
                                a.data, (int) (c.len < 300 ? c.len : 300), c.data ? c.data : "");
                        FUZZ_CHECK(!"canonical JSON is not a fixed point");
                }
                FUZZ_CHECK(k8s_json_hash(again, &h2) == 0 && (h1 == h2 || negative_zero));
                sb_free(&c);
                json_object_put(again);
        }
        char hex[17];
        r = k8s_policy_hash(o, hex);
        FUZZ_CHECK(r == 0 || r == -E2BIG || r == -ENOMEM || r == -EINVAL);
        if (r == 0) {
                FUZZ_CHECK(strlen(hex) == 16);
                FUZZ_CHECK(strspn(hex, "0123456789abcdef") == 16);
        }
        sb_free(&a);
        sb_free(&b);
}

static void check_collection(struct json_object *coll) {
        static const k8s_port_ref_t ports[] = {
                { .name = NULL, .number = 53, .protocol = NULL },
                { .name = "dns", .number = 0, .protocol = "UDP" },
                { .name = "", .number = 0, .protocol = "TCP" },
                { .name = NULL, .number = 443, .protocol = "TCP" },
                { .name = NULL, .number = 0, .protocol = NULL }, /* invalid: -EINVAL */
        };
        for (size_t i = 0; i < ELEMENTSOF(ports); i++) {
                check_endpoints(coll, NULL, &ports[i], 0);
                check_endpoints(coll, "kube-dns", &ports[i], 2);
        }

        k8s_namespace_audit_t *audit = NULL;
        int n = k8s_audit_namespaces(coll, coll, &audit);
        FUZZ_CHECK(n >= 0 || n == -ENOMEM);
        for (int i = 0; i < n; i++) {
                FUZZ_CHECK(audit[i].name);
                if (i > 0)
                        FUZZ_CHECK(strcmp(audit[i - 1].name, audit[i].name) < 0);
        }
        if (n > 0)
                k8s_audit_free(audit, (size_t) n);

        k8s_policy_info_t *infos = NULL;
        n = k8s_policy_infos(coll, &infos);
        FUZZ_CHECK(n >= 0 || n == -ENOMEM || n == -E2BIG);
        for (int i = 0; i < n; i++) {
                FUZZ_CHECK(infos[i].ns && infos[i].name && *infos[i].name);
                FUZZ_CHECK(strlen(infos[i].hash) == 16);
                if (i > 0) {
                        int c = strcmp(infos[i - 1].ns, infos[i].ns);
                        FUZZ_CHECK(c < 0 || (c == 0 && strcmp(infos[i - 1].name, infos[i].name) <= 0));
                }
        }
        if (n > 0)
                k8s_policy_infos_free(infos, (size_t) n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct json_object *root = fuzz_parse_json(data, size, JSON_DEPTH);
        if (!root)
                return 0;

        /* The object itself. */
        (void) k8s_object_namespace(root);
        (void) k8s_object_name(root);
        (void) k8s_object_resource_version(root);
        char *key = NULL;
        int r = k8s_object_key(root, &key);
        FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
        if (r == 0) {
                FUZZ_CHECK(key && *key);
                free(key);
        }
        for (k8s_direction_t d = 0; d < _K8S_DIRECTION_MAX; d++) {
                (void) k8s_policy_has_type(root, d);
                (void) k8s_policy_allows_all(root, d);
                FUZZ_CHECK(k8s_direction_name(d) != NULL);
        }
        (void) k8s_policy_selects_all(root);
        check_canonical(root);

        /* As a collection (a List's items, or a watch's object map) ... */
        check_collection(root);
        /* ... and wrapped as a one-element List, like a single object would come. */
        struct json_object *list = json_object_new_array();
        if (list) {
                json_object_array_add(list, json_object_get(root));
                check_collection(list);
                json_object_put(list);
        }
        /* A List document: its items. */
        struct json_object *items = NULL;
        if (json_object_object_get_ex(root, "items", &items))
                check_collection(items);

        json_object_put(root);
        return 0;
}
