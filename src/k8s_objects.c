#include "k8s_objects.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <json.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define CANONICAL_MAX_DEPTH 64

/* ---- json helpers: every accessor tolerates NULL and wrong types ---- */

static struct json_object *get(struct json_object *o, const char *key) {
        struct json_object *v;
        if (!o || !json_object_is_type(o, json_type_object))
                return NULL;
        return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static struct json_object *get_typed(struct json_object *o, const char *key, json_type type) {
        struct json_object *v = get(o, key);
        return v && json_object_is_type(v, type) ? v : NULL;
}

static const char *get_str(struct json_object *o, const char *key) {
        struct json_object *v = get_typed(o, key, json_type_string);
        return v ? json_object_get_string(v) : NULL;
}

/* Absent, null, an empty array or an empty object. */
static bool is_empty(struct json_object *v) {
        if (!v || json_object_is_type(v, json_type_null))
                return true;
        if (json_object_is_type(v, json_type_array))
                return json_object_array_length(v) == 0;
        if (json_object_is_type(v, json_type_object))
                return json_object_object_length(v) == 0;
        return false;
}

typedef int (*item_fn)(struct json_object *item, void *userdata);

/* Calls fn for every object of a collection (array items or object values). */
static int collection_foreach(struct json_object *c, item_fn fn, void *userdata) {
        if (!c)
                return 0;
        if (json_object_is_type(c, json_type_array)) {
                size_t n = json_object_array_length(c);
                for (size_t i = 0; i < n; i++) {
                        struct json_object *item = json_object_array_get_idx(c, i);
                        if (!json_object_is_type(item, json_type_object))
                                continue;
                        int r = fn(item, userdata);
                        if (r < 0)
                                return r;
                }
        } else if (json_object_is_type(c, json_type_object)) {
                json_object_object_foreach(c, key, item) {
                        (void) key;
                        if (!json_object_is_type(item, json_type_object))
                                continue;
                        int r = fn(item, userdata);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* ---- metadata ---- */

const char *k8s_object_namespace(struct json_object *obj) {
        return get_str(get(obj, "metadata"), "namespace");
}

const char *k8s_object_name(struct json_object *obj) {
        return get_str(get(obj, "metadata"), "name");
}

const char *k8s_object_resource_version(struct json_object *obj) {
        return get_str(get(obj, "metadata"), "resourceVersion");
}

int k8s_object_key(struct json_object *obj, char **ret) {
        const char *name = k8s_object_name(obj);
        const char *ns = k8s_object_namespace(obj);
        if (!name || !*name)
                return -EINVAL;
        size_t ln = strlen(name), lns = ns ? strlen(ns) : 0;
        char *k = malloc(lns + 1 + ln + 1);
        if (!k)
                return -ENOMEM;
        if (lns) {
                memcpy(k, ns, lns);
                k[lns] = '/';
                memcpy(k + lns + 1, name, ln + 1);
        } else
                memcpy(k, name, ln + 1);
        *ret = k;
        return 0;
}

/* ---- EndpointSlices ---- */

typedef struct endpoint_collect {
        const char *service;
        const k8s_port_ref_t *port;
        k8s_endpoint_t *v;
        size_t n, alloc;
        uint16_t *ports;        /* scratch: ports of the current slice */
        size_t n_ports, alloc_ports;
} endpoint_collect_t;

static int push_port(endpoint_collect_t *ec, uint16_t p) {
        for (size_t i = 0; i < ec->n_ports; i++)
                if (ec->ports[i] == p)
                        return 0;
        if (ec->n_ports == ec->alloc_ports) {
                size_t na = ec->alloc_ports ? ec->alloc_ports * 2 : 4;
                uint16_t *np = realloc(ec->ports, na * sizeof *np);
                if (!np)
                        return -ENOMEM;
                ec->ports = np;
                ec->alloc_ports = na;
        }
        ec->ports[ec->n_ports++] = p;
        return 0;
}

static bool protocol_matches(const k8s_port_ref_t *want, struct json_object *entry) {
        if (!want->protocol)
                return true;
        const char *proto = get_str(entry, "protocol");
        return strcmp(proto ? proto : "TCP", want->protocol) == 0;
}

/* The port number of a ports[] entry: 1..65535, 0 when absent or null ("all
 * ports"), -1 when invalid. */
static int entry_port(struct json_object *entry) {
        struct json_object *p = get(entry, "port");
        if (!p || json_object_is_type(p, json_type_null))
                return 0;
        if (!json_object_is_type(p, json_type_int))
                return -1;
        int64_t v = json_object_get_int64(p);
        return v >= 1 && v <= 65535 ? (int) v : -1;
}

/* Fills ec->ports with the ports of this slice that match the request. */
static int slice_ports(endpoint_collect_t *ec, struct json_object *slice) {
        const k8s_port_ref_t *want = ec->port;
        struct json_object *ports = get_typed(slice, "ports", json_type_array);
        size_t n = ports ? json_object_array_length(ports) : 0;
        ec->n_ports = 0;
        if (!want->name && n == 0)
                return push_port(ec, want->number);
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(ports, i);
                if (!json_object_is_type(e, json_type_object) || !protocol_matches(want, e))
                        continue;
                int p = entry_port(e);
                int r = 0;
                if (want->name) {
                        const char *name = get_str(e, "name");
                        if (strcmp(name ? name : "", want->name) == 0 && p > 0)
                                r = push_port(ec, (uint16_t) p);
                } else if (p == 0 || p == want->number)
                        r = push_port(ec, want->number);
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool endpoint_ready(struct json_object *ep) {
        struct json_object *cond = get(ep, "conditions");
        struct json_object *ready = get(cond, "ready");
        if (ready && !json_object_is_type(ready, json_type_null)) {
                if (!json_object_is_type(ready, json_type_boolean) || !json_object_get_boolean(ready))
                        return false;
        }
        struct json_object *term = get_typed(cond, "terminating", json_type_boolean);
        return !(term && json_object_get_boolean(term));
}

static int push_endpoint(endpoint_collect_t *ec, int family, const void *bytes, uint16_t port) {
        if (ec->n == ec->alloc) {
                size_t na = ec->alloc ? ec->alloc * 2 : 16;
                k8s_endpoint_t *nv = realloc(ec->v, na * sizeof *nv);
                if (!nv)
                        return -ENOMEM;
                ec->v = nv;
                ec->alloc = na;
        }
        k8s_endpoint_t *e = &ec->v[ec->n];
        memset(e, 0, sizeof *e);
        e->port = port;
        if (family == AF_INET) {
                struct sockaddr_in *sin = (struct sockaddr_in *) &e->addr;
                sin->sin_family = AF_INET;
                sin->sin_port = htons(port);
                memcpy(&sin->sin_addr, bytes, sizeof sin->sin_addr);
        } else {
                struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &e->addr;
                sin6->sin6_family = AF_INET6;
                sin6->sin6_port = htons(port);
                memcpy(&sin6->sin6_addr, bytes, sizeof sin6->sin6_addr);
        }
        if (!inet_ntop(family, bytes, e->address, sizeof e->address))
                return -EINVAL;
        ec->n++;
        return 0;
}

static int collect_slice(struct json_object *slice, void *userdata) {
        endpoint_collect_t *ec = userdata;
        if (ec->service) {
                const char *svc = get_str(get(get(slice, "metadata"), "labels"), "kubernetes.io/service-name");
                if (!svc || strcmp(svc, ec->service) != 0)
                        return 0;
        }
        const char *atype = get_str(slice, "addressType");
        int family = AF_UNSPEC;
        if (atype && strcmp(atype, "IPv4") == 0)
                family = AF_INET;
        else if (atype && strcmp(atype, "IPv6") == 0)
                family = AF_INET6;
        else if (atype)
                return 0;  /* FQDN or unknown */
        int r = slice_ports(ec, slice);
        if (r < 0)
                return r;
        if (ec->n_ports == 0)
                return 0;
        struct json_object *eps = get_typed(slice, "endpoints", json_type_array);
        size_t n = eps ? json_object_array_length(eps) : 0;
        for (size_t i = 0; i < n; i++) {
                struct json_object *ep = json_object_array_get_idx(eps, i);
                if (!json_object_is_type(ep, json_type_object) || !endpoint_ready(ep))
                        continue;
                struct json_object *addrs = get_typed(ep, "addresses", json_type_array);
                size_t na = addrs ? json_object_array_length(addrs) : 0;
                for (size_t j = 0; j < na; j++) {
                        struct json_object *a = json_object_array_get_idx(addrs, j);
                        if (!json_object_is_type(a, json_type_string))
                                continue;
                        const char *s = json_object_get_string(a);
                        unsigned char bytes[sizeof(struct in6_addr)];
                        int fam = family;
                        if (fam == AF_UNSPEC)
                                fam = strchr(s, ':') ? AF_INET6 : AF_INET;
                        if (inet_pton(fam, s, bytes) != 1)
                                continue;
                        for (size_t k = 0; k < ec->n_ports; k++) {
                                r = push_endpoint(ec, fam, bytes, ec->ports[k]);
                                if (r < 0)
                                        return r;
                        }
                }
        }
        return 0;
}

static int endpoint_cmp(const void *a, const void *b) {
        const k8s_endpoint_t *x = a, *y = b;
        int fx = x->addr.ss_family, fy = y->addr.ss_family;
        if (fx != fy)
                return fx == AF_INET ? -1 : 1;
        int c;
        if (fx == AF_INET)
                c = memcmp(&((const struct sockaddr_in *) &x->addr)->sin_addr,
                           &((const struct sockaddr_in *) &y->addr)->sin_addr, sizeof(struct in_addr));
        else
                c = memcmp(&((const struct sockaddr_in6 *) &x->addr)->sin6_addr,
                           &((const struct sockaddr_in6 *) &y->addr)->sin6_addr, sizeof(struct in6_addr));
        if (c)
                return c;
        return (x->port > y->port) - (x->port < y->port);
}

int k8s_endpoints_ready(struct json_object *slices, const char *service, const k8s_port_ref_t *port,
                        size_t max, k8s_endpoint_t **ret, size_t *ret_total) {
        if (!port || (!port->name && port->number == 0))
                return -EINVAL;
        if (max == 0)
                max = K8S_MAX_ENDPOINTS;
        endpoint_collect_t ec = { .service = service, .port = port };
        int r = collection_foreach(slices, collect_slice, &ec);
        free(ec.ports);
        if (r < 0) {
                free(ec.v);
                return r;
        }
        size_t n = 0;
        if (ec.n > 0) {
                qsort(ec.v, ec.n, sizeof *ec.v, endpoint_cmp);
                for (size_t i = 0; i < ec.n; i++)
                        if (n == 0 || endpoint_cmp(&ec.v[n - 1], &ec.v[i]) != 0)
                                ec.v[n++] = ec.v[i];
        }
        if (ret_total)
                *ret_total = n;
        if (n > max)
                n = max;
        if (n == 0) {
                free(ec.v);
                ec.v = NULL;
        }
        *ret = ec.v;
        return (int) n;
}

/* ---- NetworkPolicy audit ---- */

const char *k8s_direction_name(k8s_direction_t dir) {
        return dir == K8S_EGRESS ? "egress" : "ingress";
}

bool k8s_policy_selects_all(struct json_object *policy) {
        struct json_object *sel = get(get(policy, "spec"), "podSelector");
        if (!sel || json_object_is_type(sel, json_type_null))
                return true;
        if (!json_object_is_type(sel, json_type_object))
                return false;
        return is_empty(get(sel, "matchLabels")) && is_empty(get(sel, "matchExpressions"));
}

bool k8s_policy_has_type(struct json_object *policy, k8s_direction_t dir) {
        struct json_object *spec = get(policy, "spec");
        struct json_object *types = get_typed(spec, "policyTypes", json_type_array);
        size_t n = types ? json_object_array_length(types) : 0;
        if (n == 0)
                return dir == K8S_INGRESS ||
                       !is_empty(get_typed(spec, "egress", json_type_array));
        const char *want = dir == K8S_INGRESS ? "Ingress" : "Egress";
        for (size_t i = 0; i < n; i++) {
                struct json_object *t = json_object_array_get_idx(types, i);
                if (json_object_is_type(t, json_type_string) && strcmp(json_object_get_string(t), want) == 0)
                        return true;
        }
        return false;
}

bool k8s_policy_allows_all(struct json_object *policy, k8s_direction_t dir) {
        struct json_object *rules = get_typed(get(policy, "spec"), dir == K8S_INGRESS ? "ingress" : "egress",
                                              json_type_array);
        size_t n = rules ? json_object_array_length(rules) : 0;
        const char *peers = dir == K8S_INGRESS ? "from" : "to";
        for (size_t i = 0; i < n; i++) {
                struct json_object *rule = json_object_array_get_idx(rules, i);
                if (!json_object_is_type(rule, json_type_object))
                        continue;
                if (is_empty(get(rule, peers)) && is_empty(get(rule, "ports")))
                        return true;
        }
        return false;
}

typedef struct audit_entry {
        const char *name;                          /* borrowed from the json */
        bool deny[_K8S_DIRECTION_MAX];             /* an all-pods policy of that type */
        bool allow_all[_K8S_DIRECTION_MAX];        /* an all-pods policy of that type allowing all */
        size_t n_policies;
} audit_entry_t;

typedef struct audit_collect {
        audit_entry_t *v;
        size_t n, alloc;
} audit_collect_t;

static audit_entry_t *audit_push(audit_collect_t *ac, const char *name) {
        if (ac->n == ac->alloc) {
                size_t na = ac->alloc ? ac->alloc * 2 : 16;
                audit_entry_t *nv = realloc(ac->v, na * sizeof *nv);
                if (!nv)
                        return NULL;
                ac->v = nv;
                ac->alloc = na;
        }
        audit_entry_t *e = &ac->v[ac->n++];
        *e = (audit_entry_t) { .name = name };
        return e;
}

static int audit_namespace(struct json_object *ns, void *userdata) {
        const char *name = k8s_object_name(ns);
        if (!name || !*name)
                return 0;
        return audit_push(userdata, name) ? 0 : -ENOMEM;
}

static int audit_policy(struct json_object *pol, void *userdata) {
        const char *ns = k8s_object_namespace(pol);
        if (!ns || !*ns)
                return 0;
        audit_entry_t *e = audit_push(userdata, ns);
        if (!e)
                return -ENOMEM;
        e->n_policies = 1;
        if (!k8s_policy_selects_all(pol))
                return 0;
        for (int d = 0; d < _K8S_DIRECTION_MAX; d++) {
                if (!k8s_policy_has_type(pol, (k8s_direction_t) d))
                        continue;
                e->deny[d] = true;
                e->allow_all[d] = k8s_policy_allows_all(pol, (k8s_direction_t) d);
        }
        return 0;
}

static int audit_entry_cmp(const void *a, const void *b) {
        return strcmp(((const audit_entry_t *) a)->name, ((const audit_entry_t *) b)->name);
}

void k8s_audit_free(k8s_namespace_audit_t *a, size_t n) {
        if (!a)
                return;
        for (size_t i = 0; i < n; i++)
                free(a[i].name);
        free(a);
}

int k8s_audit_namespaces(struct json_object *namespaces, struct json_object *policies,
                         k8s_namespace_audit_t **ret) {
        audit_collect_t ac = { 0 };
        k8s_namespace_audit_t *out = NULL;
        size_t n_out = 0;
        int r = collection_foreach(namespaces, audit_namespace, &ac);
        if (r >= 0)
                r = collection_foreach(policies, audit_policy, &ac);
        if (r < 0)
                goto done;
        if (ac.n == 0) {
                *ret = NULL;
                goto done;
        }
        qsort(ac.v, ac.n, sizeof *ac.v, audit_entry_cmp);
        out = calloc(ac.n, sizeof *out);
        if (!out) {
                r = -ENOMEM;
                goto done;
        }
        for (size_t i = 0; i < ac.n;) {
                size_t j = i;
                audit_entry_t m = { .name = ac.v[i].name };
                for (; j < ac.n && strcmp(ac.v[j].name, m.name) == 0; j++) {
                        for (int d = 0; d < _K8S_DIRECTION_MAX; d++) {
                                m.deny[d] |= ac.v[j].deny[d];
                                m.allow_all[d] |= ac.v[j].allow_all[d];
                        }
                        m.n_policies += ac.v[j].n_policies;
                }
                k8s_namespace_audit_t *o = &out[n_out];
                o->name = strdup(m.name);
                if (!o->name) {
                        r = -ENOMEM;
                        goto done;
                }
                n_out++;
                for (int d = 0; d < _K8S_DIRECTION_MAX; d++)
                        o->default_deny[d] = m.deny[d] && !m.allow_all[d];
                o->n_policies = m.n_policies;
                i = j;
        }
        *ret = out;
        out = NULL;
        r = (int) n_out;
done:
        k8s_audit_free(out, n_out);
        free(ac.v);
        return r;
}

/* ---- canonical JSON and hashes ---- */

static int key_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static int canonical(struct json_object *o, strbuf_t *sb, unsigned depth) {
        if (depth > CANONICAL_MAX_DEPTH)
                return -E2BIG;
        switch (json_object_get_type(o)) {
        case json_type_null:
                sb_puts(sb, "null");
                break;
        case json_type_boolean:
                sb_puts(sb, json_object_get_boolean(o) ? "true" : "false");
                break;
        case json_type_int: {
                int64_t v = json_object_get_int64(o);
                if (v == INT64_MAX)
                        sb_printf(sb, "%" PRIu64, json_object_get_uint64(o));
                else
                        sb_printf(sb, "%" PRId64, v);
                break;
        }
        case json_type_double: {
                double d = json_object_get_double(o);
                if (isfinite(d))
                        sb_printf(sb, "%.17g", d);
                else
                        sb_puts(sb, "null");
                break;
        }
        case json_type_string:
                sb_put_json_string_len(sb, json_object_get_string(o), (size_t) json_object_get_string_len(o));
                break;
        case json_type_array: {
                size_t n = json_object_array_length(o);
                sb_putc(sb, '[');
                for (size_t i = 0; i < n; i++) {
                        if (i)
                                sb_putc(sb, ',');
                        int r = canonical(json_object_array_get_idx(o, i), sb, depth + 1);
                        if (r < 0)
                                return r;
                }
                sb_putc(sb, ']');
                break;
        }
        case json_type_object: {
                size_t n = (size_t) json_object_object_length(o);
                const char **keys = n ? malloc(n * sizeof *keys) : NULL;
                if (n && !keys)
                        return -ENOMEM;
                size_t k = 0;
                json_object_object_foreach(o, key, val) {
                        (void) val;
                        if (k < n)
                                keys[k++] = key;
                }
                if (k > 1)
                        qsort(keys, k, sizeof *keys, key_cmp);
                sb_putc(sb, '{');
                for (size_t i = 0; i < k; i++) {
                        if (i)
                                sb_putc(sb, ',');
                        sb_put_json_string_len(sb, keys[i], strlen(keys[i]));
                        sb_putc(sb, ':');
                        int r = canonical(get(o, keys[i]), sb, depth + 1);
                        if (r < 0) {
                                free(keys);
                                return r;
                        }
                }
                sb_putc(sb, '}');
                free(keys);
                break;
        }
        }
        return sb->oom ? -ENOMEM : 0;
}

int k8s_json_canonical(struct json_object *o, strbuf_t *sb) {
        return canonical(o, sb, 0);
}

int k8s_json_hash(struct json_object *o, uint64_t *ret) {
        strbuf_t sb;
        sb_init(&sb, 0);
        int r = canonical(o, &sb, 0);
        if (r >= 0)
                *ret = hash_fnv1a(sb.data ? sb.data : "", sb.len, 0);
        sb_free(&sb);
        return r;
}

int k8s_policy_hash(struct json_object *policy, char ret_hex[17]) {
        uint64_t h;
        int r = k8s_json_hash(get(policy, "spec"), &h);
        if (r < 0)
                return r;
        static const char hex[] = "0123456789abcdef";
        for (int i = 0; i < 16; i++)
                ret_hex[i] = hex[(h >> (60 - 4 * i)) & 15];
        ret_hex[16] = '\0';
        return 0;
}

typedef struct info_collect {
        k8s_policy_info_t *v;
        size_t n, alloc;
} info_collect_t;

static int collect_info(struct json_object *pol, void *userdata) {
        info_collect_t *ic = userdata;
        const char *name = k8s_object_name(pol);
        const char *ns = k8s_object_namespace(pol);
        if (!name || !*name)
                return 0;
        if (ic->n == ic->alloc) {
                size_t na = ic->alloc ? ic->alloc * 2 : 16;
                k8s_policy_info_t *nv = realloc(ic->v, na * sizeof *nv);
                if (!nv)
                        return -ENOMEM;
                ic->v = nv;
                ic->alloc = na;
        }
        k8s_policy_info_t *p = &ic->v[ic->n];
        *p = (k8s_policy_info_t) { 0 };
        int r = k8s_policy_hash(pol, p->hash);
        if (r < 0)
                return r;
        p->ns = strdup(ns ? ns : "");
        p->name = strdup(name);
        ic->n++;  /* counted even when half-built, so the cleanup frees it */
        return p->ns && p->name ? 0 : -ENOMEM;
}

static int info_cmp(const void *a, const void *b) {
        const k8s_policy_info_t *x = a, *y = b;
        int c = strcmp(x->ns, y->ns);
        return c ? c : strcmp(x->name, y->name);
}

void k8s_policy_infos_free(k8s_policy_info_t *p, size_t n) {
        if (!p)
                return;
        for (size_t i = 0; i < n; i++) {
                free(p[i].ns);
                free(p[i].name);
        }
        free(p);
}

int k8s_policy_infos(struct json_object *policies, k8s_policy_info_t **ret) {
        info_collect_t ic = { 0 };
        int r = collection_foreach(policies, collect_info, &ic);
        if (r < 0) {
                k8s_policy_infos_free(ic.v, ic.n);
                return r;
        }
        if (ic.n > 0)
                qsort(ic.v, ic.n, sizeof *ic.v, info_cmp);
        *ret = ic.v;
        return (int) ic.n;
}
