/* NetworkPolicy evaluation (include/netpol.h, contract §11). The cluster
 * keeps a reference to every input document and borrows its strings; the
 * parsed policies live in an arena freed at once. */
#include "netpol.h"

#include <arpa/inet.h>
#include <errno.h>
#include <json.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define NS_NAME_LABEL "kubernetes.io/metadata.name"
#define DEFAULT_NAMESPACE "default"
#define NO_ITEM ((size_t) -1)

/* ---- arena: zeroed allocations freed together ---- */

typedef struct arena_block {
        struct arena_block *next;
        size_t used, size;      /* bytes of data */
        max_align_t data[];
} arena_block_t;

typedef struct arena {
        arena_block_t *head;
} arena_t;

static void *arena_alloc(arena_t *a, size_t n, size_t size) {
        if (size && n > SIZE_MAX / size / 2)
                return NULL;
        size_t bytes = n * size;
        bytes = (bytes + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
        if (bytes == 0)
                bytes = sizeof(max_align_t);
        arena_block_t *b = a->head;
        if (!b || b->size - b->used < bytes) {
                size_t sz = bytes > 64 * 1024 ? bytes : 64 * 1024;
                b = malloc(sizeof *b + sz);
                if (!b)
                        return NULL;
                b->next = a->head;
                b->used = 0;
                b->size = sz;
                a->head = b;
        }
        void *p = (char *) b->data + b->used;
        b->used += bytes;
        memset(p, 0, bytes);
        return p;
}

static void arena_free(arena_t *a) {
        while (a->head) {
                arena_block_t *n = a->head->next;
                free(a->head);
                a->head = n;
        }
}

/* ---- the parsed model ---- */

typedef enum sel_op {
        OP_IN,
        OP_NOT_IN,
        OP_EXISTS,
        OP_DOES_NOT_EXIST,
} sel_op_t;

typedef struct requirement {
        const char *key;
        sel_op_t op;
        const char **values;
        size_t n_values;
} requirement_t;

/* A label selector; no requirement selects everything. */
typedef struct selector {
        requirement_t *reqs;
        size_t n_reqs;
} selector_t;

typedef struct ip {
        int family;            /* AF_INET or AF_INET6 */
        uint8_t addr[16];
} ip_t;

typedef struct cidr {
        ip_t net;              /* host bits cleared */
        unsigned prefix;
} cidr_t;

typedef struct peer {
        bool is_ip_block;
        bool has_ns_sel;       /* namespaceSelector given */
        bool has_pod_sel;      /* podSelector given */
        selector_t ns_sel, pod_sel;
        cidr_t cidr;
        cidr_t *except;
        size_t n_except;
} peer_t;

typedef struct port_spec {
        netpol_proto_t proto;
        const char *name;      /* a named port; NULL for a number or none */
        uint16_t port;         /* 0 with name NULL: every port of proto */
        uint16_t end_port;     /* inclusive end of a range; 0 = just `port` */
} port_spec_t;

typedef struct rule {
        peer_t *peers;         /* n_peers 0: every peer */
        size_t n_peers;
        port_spec_t *ports;    /* n_ports 0: every port and protocol */
        size_t n_ports;
} rule_t;

typedef struct policy {
        const char *ns, *name;
        size_t ns_idx;
        selector_t pod_sel;
        bool has_type[_K8S_DIRECTION_MAX];
        rule_t *rules[_K8S_DIRECTION_MAX];
        size_t n_rules[_K8S_DIRECTION_MAX];
        const char *doc;       /* where it came from, for duplicate errors */
        size_t item;
        size_t seq;            /* reading order: the first of duplicates is "the original" */
} policy_t;

typedef struct named_port {
        const char *name;
        netpol_proto_t proto;
        uint16_t port;
} named_port_t;

typedef struct pod {
        const char *ns, *name;
        size_t ns_idx;
        struct json_object *labels;     /* a json object of strings, or NULL */
        bool host_network;
        ip_t *ips;
        size_t n_ips;
        named_port_t *ports;
        size_t n_ports;
        size_t *sel[_K8S_DIRECTION_MAX];   /* policies isolating it, ascending */
        size_t n_sel[_K8S_DIRECTION_MAX];
        const char *doc;       /* where it came from, for duplicate errors */
        size_t item;
        size_t seq;            /* reading order: the first of duplicates is "the original" */
} pod_t;

typedef struct namespace {
        const char *name;
        struct json_object *labels;     /* NULL for an implicit namespace */
        bool implicit;                  /* no Namespace object */
        size_t pod_first, n_pods;       /* its pods: a range of the sorted pods */
        const char *doc;       /* where it came from, for duplicate errors */
        size_t item;
        size_t seq;            /* reading order: the first of duplicates is "the original" */
} namespace_t;

struct netpol_cluster {
        netpol_limits_t limits;
        size_t seq;             /* objects read so far */
        arena_t arena;
        struct json_object **docs;
        size_t n_docs;
        namespace_t *namespaces;
        size_t n_namespaces, alloc_namespaces;
        pod_t *pods;
        size_t n_pods, alloc_pods;
        policy_t *policies;
        size_t n_policies, alloc_policies;
};

/* ---- small helpers ---- */

static const char *const proto_names[_NETPOL_PROTO_MAX] = {
        [NETPOL_TCP] = "TCP",
        [NETPOL_UDP] = "UDP",
        [NETPOL_SCTP] = "SCTP",
};

const char *netpol_proto_name(netpol_proto_t p) {
        return p < _NETPOL_PROTO_MAX ? proto_names[p] : "?";
}

int netpol_proto_from_string(const char *s, netpol_proto_t *ret) {
        for (int p = 0; s && p < _NETPOL_PROTO_MAX; p++)
                if (strcmp(s, proto_names[p]) == 0) {
                        *ret = (netpol_proto_t) p;
                        return 0;
                }
        return -EINVAL;
}

static struct json_object *get(struct json_object *o, const char *key) {
        struct json_object *v;
        if (!o || !json_object_is_type(o, json_type_object))
                return NULL;
        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
                return NULL;
        return v;
}

static const char *get_str(struct json_object *o, const char *key) {
        struct json_object *v = get(o, key);
        return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int grow(void **v, size_t *alloc, size_t n, size_t size) {
        if (n < *alloc)
                return 0;
        size_t na = *alloc ? *alloc * 2 : 16;
        void *nv = realloc(*v, na * size);
        if (!nv)
                return -ENOMEM;
        *v = nv;
        *alloc = na;
        return 0;
}

/* ---- parsing context and errors ---- */

typedef struct pctx {
        netpol_cluster_t *c;
        const char *doc;        /* document name */
        size_t item;            /* index in items, NO_ITEM for a top-level object */
        const char *kind, *ns, *name;
        strbuf_t path;          /* the field being read: "spec.ingress[0].from" */
        strbuf_t *err;
} pctx_t;

/* "doc: items[3] (Kind ns/name)", "doc: Kind ns/name" or "doc". */
static void put_where(pctx_t *p, strbuf_t *sb) {
        sb_puts(sb, p->doc);
        if (p->item != NO_ITEM)
                sb_printf(sb, ": items[%zu]", p->item);
        if (p->kind) {
                sb_puts(sb, p->item != NO_ITEM ? " (" : ": ");
                sb_puts(sb, p->kind);
                if (p->name)
                        sb_printf(sb, " %s%s%s", p->ns ? p->ns : "", p->ns ? "/" : "", p->name);
                if (p->item != NO_ITEM)
                        sb_putc(sb, ')');
        }
}

static int fail(pctx_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(pctx_t *p, const char *fmt, ...) {
        if (p->err) {
                sb_reset(p->err);
                put_where(p, p->err);
                if (p->path.len)
                        sb_printf(p->err, ": %s", p->path.data);
                sb_puts(p->err, ": ");
                va_list ap;
                va_start(ap, fmt);
                sb_vprintf(p->err, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

static size_t path_key(pctx_t *p, const char *key) {
        size_t mark = p->path.len;
        if (mark)
                sb_putc(&p->path, '.');
        sb_puts(&p->path, key);
        return mark;
}

static size_t path_idx(pctx_t *p, size_t i) {
        size_t mark = p->path.len;
        sb_printf(&p->path, "[%zu]", i);
        return mark;
}

static void path_pop(pctx_t *p, size_t mark) {
        p->path.len = mark;
        if (p->path.data)
                p->path.data[mark] = '\0';
}

static const char *type_word(json_type t) {
        switch (t) {
        case json_type_object: return "an object";
        case json_type_array: return "an array";
        case json_type_string: return "a string";
        case json_type_boolean: return "a boolean";
        case json_type_int: return "an integer";
        default: return "a value";
        }
}

/* o[key] of type t: *ret NULL when absent or null; -EINVAL (with the field
 * named) for another type. */
static int field(pctx_t *p, struct json_object *o, const char *key, json_type t, struct json_object **ret) {
        struct json_object *v = get(o, key);
        if (v && !json_object_is_type(v, t)) {
                size_t m = path_key(p, key);
                int r = fail(p, "must be %s", type_word(t));
                path_pop(p, m);
                return r;
        }
        *ret = v;
        return 0;
}

static int field_str(pctx_t *p, struct json_object *o, const char *key, bool required, const char **ret) {
        struct json_object *v;
        int r = field(p, o, key, json_type_string, &v);
        if (r < 0)
                return r;
        if (required && (!v || json_object_get_string_len(v) == 0)) {
                size_t m = path_key(p, key);
                r = fail(p, "%s", v ? "must not be empty" : "missing");
                path_pop(p, m);
                return r;
        }
        *ret = v ? json_object_get_string(v) : NULL;
        return 0;
}

static int parse_proto(pctx_t *p, struct json_object *o, netpol_proto_t *ret) {
        const char *s;
        int r = field_str(p, o, "protocol", false, &s);
        if (r < 0)
                return r;
        if (!s) {
                *ret = NETPOL_TCP;
                return 0;
        }
        if (netpol_proto_from_string(s, ret) < 0) {
                size_t m = path_key(p, "protocol");
                r = fail(p, "unknown protocol \"%s\" (TCP, UDP, SCTP)", s);
                path_pop(p, m);
        }
        return r;
}

/* metadata.labels: an object of strings. */
static int parse_labels(pctx_t *p, struct json_object *obj, struct json_object **ret) {
        struct json_object *labels;
        size_t m = path_key(p, "metadata");
        int r = field(p, get(obj, "metadata"), "labels", json_type_object, &labels);
        if (r >= 0 && labels) {
                size_t m2 = path_key(p, "labels");
                json_object_object_foreach(labels, key, val) {
                        if (!json_object_is_type(val, json_type_string)) {
                                size_t m3 = path_key(p, key);
                                r = fail(p, "must be a string");
                                path_pop(p, m3);
                                break;
                        }
                }
                path_pop(p, m2);
        }
        path_pop(p, m);
        if (r >= 0)
                *ret = labels;
        return r;
}

static int parse_metadata(pctx_t *p, struct json_object *obj, bool namespaced) {
        struct json_object *meta;
        int r = field(p, obj, "metadata", json_type_object, &meta);
        if (r < 0)
                return r;
        size_t m = path_key(p, "metadata");
        const char *name = NULL, *ns = NULL;
        r = field_str(p, meta, "name", true, &name);
        if (r >= 0 && namespaced)
                r = field_str(p, meta, "namespace", false, &ns);
        path_pop(p, m);
        if (r < 0)
                return r;
        p->name = name;
        p->ns = namespaced ? (ns && *ns ? ns : DEFAULT_NAMESPACE) : NULL;
        return 0;
}

/* ---- label selectors ---- */

static int parse_selector(pctx_t *p, struct json_object *o, selector_t *ret) {
        struct json_object *labels, *exprs;
        int r = field(p, o, "matchLabels", json_type_object, &labels);
        if (r >= 0)
                r = field(p, o, "matchExpressions", json_type_array, &exprs);
        if (r < 0)
                return r;
        size_t n_labels = labels ? (size_t) json_object_object_length(labels) : 0;
        size_t n_exprs = exprs ? json_object_array_length(exprs) : 0;
        selector_t s = { 0 };
        if (n_labels + n_exprs > 0) {
                s.reqs = arena_alloc(&p->c->arena, n_labels + n_exprs, sizeof *s.reqs);
                if (!s.reqs)
                        return -ENOMEM;
        }
        if (labels) {
                size_t m = path_key(p, "matchLabels");
                json_object_object_foreach(labels, key, val) {
                        if (!json_object_is_type(val, json_type_string)) {
                                path_key(p, key);
                                r = fail(p, "must be a string");
                                path_pop(p, m);
                                return r;
                        }
                        requirement_t *q = &s.reqs[s.n_reqs++];
                        q->key = key;
                        q->op = OP_IN;
                        q->values = arena_alloc(&p->c->arena, 1, sizeof *q->values);
                        if (!q->values)
                                return -ENOMEM;
                        q->values[0] = json_object_get_string(val);
                        q->n_values = 1;
                }
                path_pop(p, m);
        }
        static const struct { const char *name; sel_op_t op; } ops[] = {
                { "In", OP_IN }, { "NotIn", OP_NOT_IN }, { "Exists", OP_EXISTS }, { "DoesNotExist", OP_DOES_NOT_EXIST },
        };
        size_t m = path_key(p, "matchExpressions");
        for (size_t i = 0; i < n_exprs; i++) {
                struct json_object *e = json_object_array_get_idx(exprs, i);
                size_t mi = path_idx(p, i);
                if (!json_object_is_type(e, json_type_object))
                        return fail(p, "must be an object");
                const char *key, *op;
                struct json_object *values;
                r = field_str(p, e, "key", true, &key);
                if (r >= 0)
                        r = field_str(p, e, "operator", true, &op);
                if (r >= 0)
                        r = field(p, e, "values", json_type_array, &values);
                if (r < 0)
                        return r;
                requirement_t *q = &s.reqs[s.n_reqs++];
                q->key = key;
                size_t k = 0;
                while (k < ELEMENTSOF(ops) && strcmp(ops[k].name, op) != 0)
                        k++;
                if (k == ELEMENTSOF(ops)) {
                        path_key(p, "operator");
                        return fail(p, "unknown operator \"%s\" (In, NotIn, Exists, DoesNotExist)", op);
                }
                q->op = ops[k].op;
                size_t nv = values ? json_object_array_length(values) : 0;
                bool set_op = q->op == OP_IN || q->op == OP_NOT_IN;
                if (set_op != (nv > 0)) {
                        path_key(p, "values");
                        return fail(p, set_op ? "must not be empty for %s" : "must be empty for %s", op);
                }
                if (nv) {
                        q->values = arena_alloc(&p->c->arena, nv, sizeof *q->values);
                        if (!q->values)
                                return -ENOMEM;
                }
                for (size_t j = 0; j < nv; j++) {
                        struct json_object *v = json_object_array_get_idx(values, j);
                        if (!json_object_is_type(v, json_type_string)) {
                                path_key(p, "values");
                                path_idx(p, j);
                                return fail(p, "must be a string");
                        }
                        q->values[q->n_values++] = json_object_get_string(v);
                }
                path_pop(p, mi);
        }
        path_pop(p, m);
        *ret = s;
        return 0;
}

/* The value of label `key`, or NULL. `ns_name` non-NULL: the labels of that
 * namespace, which has kubernetes.io/metadata.name=<ns_name> unless set. */
static const char *label(struct json_object *labels, const char *key, const char *ns_name) {
        struct json_object *v;
        if (labels && json_object_object_get_ex(labels, key, &v) && json_object_is_type(v, json_type_string))
                return json_object_get_string(v);
        if (ns_name && strcmp(key, NS_NAME_LABEL) == 0)
                return ns_name;
        return NULL;
}

static bool selector_matches(const selector_t *s, struct json_object *labels, const char *ns_name) {
        for (size_t i = 0; i < s->n_reqs; i++) {
                const requirement_t *q = &s->reqs[i];
                const char *v = label(labels, q->key, ns_name);
                bool in = false;
                for (size_t j = 0; v && j < q->n_values && !in; j++)
                        in = strcmp(v, q->values[j]) == 0;
                bool ok;
                switch (q->op) {
                case OP_IN: ok = in; break;
                case OP_NOT_IN: ok = !in; break;  /* an absent label is "not in" */
                case OP_EXISTS: ok = v != NULL; break;
                default: ok = v == NULL; break;
                }
                if (!ok)
                        return false;
        }
        return true;
}

/* ---- addresses ---- */

static int parse_ip(const char *s, ip_t *ret) {
        ip_t ip = { 0 };
        if (inet_pton(AF_INET, s, ip.addr) == 1)
                ip.family = AF_INET;
        else if (inet_pton(AF_INET6, s, ip.addr) == 1)
                ip.family = AF_INET6;
        else
                return -EINVAL;
        *ret = ip;
        return 0;
}

static unsigned ip_bits(const ip_t *ip) {
        return ip->family == AF_INET ? 32 : 128;
}

static bool cidr_contains(const cidr_t *c, const ip_t *ip) {
        if (c->net.family != ip->family)
                return false;
        unsigned full = c->prefix / 8, rest = c->prefix % 8;
        if (memcmp(c->net.addr, ip->addr, full) != 0)
                return false;
        if (rest == 0)
                return true;
        uint8_t mask = (uint8_t) (0xff00u >> rest);
        return (c->net.addr[full] & mask) == (ip->addr[full] & mask);
}

/* "ADDR/PREFIX"; host bits are cleared (10.1.2.3/8 = 10.0.0.0/8). */
static int parse_cidr(const char *s, cidr_t *ret) {
        const char *slash = strchr(s, '/');
        if (!slash || slash == s || slash - s >= 64 || !slash[1] || strlen(slash + 1) > 3 ||
            strspn(slash + 1, "0123456789") != strlen(slash + 1))
                return -EINVAL;
        char addr[64];
        memcpy(addr, s, (size_t) (slash - s));
        addr[slash - s] = '\0';
        cidr_t c = { 0 };
        if (parse_ip(addr, &c.net) < 0)
                return -EINVAL;
        c.prefix = (unsigned) atoi(slash + 1);
        if (c.prefix > ip_bits(&c.net))
                return -EINVAL;
        for (unsigned b = c.prefix; b < ip_bits(&c.net); b++)
                c.net.addr[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
        *ret = c;
        return 0;
}

/* ---- policies ---- */

static int parse_ip_block(pctx_t *p, struct json_object *o, peer_t *peer) {
        const char *cidr;
        struct json_object *except;
        int r = field_str(p, o, "cidr", true, &cidr);
        if (r >= 0)
                r = field(p, o, "except", json_type_array, &except);
        if (r < 0)
                return r;
        peer->is_ip_block = true;
        if (parse_cidr(cidr, &peer->cidr) < 0) {
                path_key(p, "cidr");
                return fail(p, "not a CIDR: \"%s\"", cidr);
        }
        size_t n = except ? json_object_array_length(except) : 0;
        if (n) {
                peer->except = arena_alloc(&p->c->arena, n, sizeof *peer->except);
                if (!peer->except)
                        return -ENOMEM;
        }
        path_key(p, "except");
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(except, i);
                path_idx(p, i);
                if (!json_object_is_type(e, json_type_string))
                        return fail(p, "must be a string");
                cidr_t *x = &peer->except[peer->n_except++];
                if (parse_cidr(json_object_get_string(e), x) < 0)
                        return fail(p, "not a CIDR: \"%s\"", json_object_get_string(e));
                if (x->net.family != peer->cidr.net.family || x->prefix < peer->cidr.prefix ||
                    !cidr_contains(&peer->cidr, &x->net))
                        return fail(p, "\"%s\" is not inside cidr \"%s\"", json_object_get_string(e), cidr);
        }
        return 0;
}

static int parse_peer(pctx_t *p, struct json_object *o, peer_t *peer) {
        if (!json_object_is_type(o, json_type_object))
                return fail(p, "must be an object");
        struct json_object *pod_sel, *ns_sel, *ip_block;
        int r = field(p, o, "podSelector", json_type_object, &pod_sel);
        if (r >= 0)
                r = field(p, o, "namespaceSelector", json_type_object, &ns_sel);
        if (r >= 0)
                r = field(p, o, "ipBlock", json_type_object, &ip_block);
        if (r < 0)
                return r;
        if (!pod_sel && !ns_sel && !ip_block)
                return fail(p, "a peer needs podSelector, namespaceSelector or ipBlock");
        if (ip_block && (pod_sel || ns_sel))
                return fail(p, "ipBlock may not be combined with podSelector or namespaceSelector");
        size_t m = p->path.len;
        if (ip_block) {
                path_key(p, "ipBlock");
                r = parse_ip_block(p, ip_block, peer);
        }
        if (r >= 0 && pod_sel) {
                path_key(p, "podSelector");
                peer->has_pod_sel = true;
                r = parse_selector(p, pod_sel, &peer->pod_sel);
                path_pop(p, m);
        }
        if (r >= 0 && ns_sel) {
                path_key(p, "namespaceSelector");
                peer->has_ns_sel = true;
                r = parse_selector(p, ns_sel, &peer->ns_sel);
        }
        if (r >= 0)
                path_pop(p, m);
        return r;
}

/* IANA_SVC_NAME: 1-15 of [a-z0-9-], at least one letter. */
static bool port_name_valid(const char *s) {
        size_t n = strlen(s);
        return n >= 1 && n <= 15 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n &&
               strpbrk(s, "abcdefghijklmnopqrstuvwxyz") != NULL;
}

static int parse_port_spec(pctx_t *p, struct json_object *o, port_spec_t *ps) {
        if (!json_object_is_type(o, json_type_object))
                return fail(p, "must be an object");
        int r = parse_proto(p, o, &ps->proto);
        if (r < 0)
                return r;
        struct json_object *port = get(o, "port"), *end;
        r = field(p, o, "endPort", json_type_int, &end);
        if (r < 0)
                return r;
        size_t m = p->path.len;
        if (port && json_object_is_type(port, json_type_string)) {
                const char *name = json_object_get_string(port);
                path_key(p, "port");
                if (!port_name_valid(name))
                        return fail(p, "not a port number or name: \"%s\"", name);
                ps->name = name;
        } else if (port && json_object_is_type(port, json_type_int)) {
                int64_t v = json_object_get_int64(port);
                path_key(p, "port");
                if (v < 1 || v > 65535)
                        return fail(p, "must be 1-65535");
                ps->port = (uint16_t) v;
        } else if (port) {
                path_key(p, "port");
                return fail(p, "must be a number or a port name");
        }
        path_pop(p, m);
        if (end) {
                int64_t v = json_object_get_int64(end);
                path_key(p, "endPort");
                if (ps->port == 0)
                        return fail(p, "needs a numeric port");
                if (v < ps->port || v > 65535)
                        return fail(p, "must be %u-65535 (at least port)", ps->port);
                ps->end_port = (uint16_t) v;
                path_pop(p, m);
        }
        return 0;
}

static int parse_rule(pctx_t *p, struct json_object *o, k8s_direction_t dir, rule_t *rule) {
        if (!json_object_is_type(o, json_type_object))
                return fail(p, "must be an object");
        const char *peers_key = dir == K8S_INGRESS ? "from" : "to";
        struct json_object *peers, *ports;
        int r = field(p, o, peers_key, json_type_array, &peers);
        if (r >= 0)
                r = field(p, o, "ports", json_type_array, &ports);
        if (r < 0)
                return r;
        size_t np = peers ? json_object_array_length(peers) : 0;
        size_t nq = ports ? json_object_array_length(ports) : 0;
        if (np && !(rule->peers = arena_alloc(&p->c->arena, np, sizeof *rule->peers)))
                return -ENOMEM;
        if (nq && !(rule->ports = arena_alloc(&p->c->arena, nq, sizeof *rule->ports)))
                return -ENOMEM;
        size_t m = path_key(p, peers_key);
        for (size_t i = 0; i < np; i++) {
                size_t mi = path_idx(p, i);
                r = parse_peer(p, json_object_array_get_idx(peers, i), &rule->peers[rule->n_peers++]);
                if (r < 0)
                        return r;
                path_pop(p, mi);
        }
        path_pop(p, m);
        path_key(p, "ports");
        for (size_t i = 0; i < nq; i++) {
                size_t mi = path_idx(p, i);
                r = parse_port_spec(p, json_object_array_get_idx(ports, i), &rule->ports[rule->n_ports++]);
                if (r < 0)
                        return r;
                path_pop(p, mi);
        }
        path_pop(p, m);
        return 0;
}

static int parse_policy(pctx_t *p, struct json_object *obj) {
        netpol_cluster_t *c = p->c;
        int r = parse_metadata(p, obj, true);
        if (r < 0)
                return r;
        if (c->n_policies >= c->limits.max_policies) {
                if (p->err) {
                        sb_reset(p->err);
                        put_where(p, p->err);
                        sb_printf(p->err, ": more than %zu NetworkPolicies (the cap)", c->limits.max_policies);
                }
                return -E2BIG;
        }
        struct json_object *spec;
        r = field(p, obj, "spec", json_type_object, &spec);
        if (r < 0)
                return r;
        if (!spec)
                return fail(p, "spec: missing");
        policy_t pol = { .ns = p->ns, .name = p->name, .doc = p->doc, .item = p->item };
        size_t m = path_key(p, "spec");
        struct json_object *sel, *types;
        r = field(p, spec, "podSelector", json_type_object, &sel);
        if (r >= 0 && sel) {
                size_t ms = path_key(p, "podSelector");
                r = parse_selector(p, sel, &pol.pod_sel);
                path_pop(p, ms);
        }
        if (r >= 0)
                r = field(p, spec, "policyTypes", json_type_array, &types);
        if (r < 0)
                return r;
        size_t nt = types ? json_object_array_length(types) : 0;
        for (size_t i = 0; i < nt; i++) {
                struct json_object *t = json_object_array_get_idx(types, i);
                const char *s = json_type_string == json_object_get_type(t) ? json_object_get_string(t) : NULL;
                size_t mt = path_key(p, "policyTypes");
                path_idx(p, i);
                if (s && strcmp(s, "Ingress") == 0)
                        pol.has_type[K8S_INGRESS] = true;
                else if (s && strcmp(s, "Egress") == 0)
                        pol.has_type[K8S_EGRESS] = true;
                else if (s)
                        return fail(p, "unknown policy type \"%s\" (Ingress, Egress)", s);
                else
                        return fail(p, "must be a string");
                path_pop(p, mt);
        }
        for (int d = 0; d < _K8S_DIRECTION_MAX; d++) {
                const char *key = d == K8S_INGRESS ? "ingress" : "egress";
                struct json_object *rules;
                r = field(p, spec, key, json_type_array, &rules);
                if (r < 0)
                        return r;
                size_t n = rules ? json_object_array_length(rules) : 0;
                if (nt == 0)  /* the API server's defaulting */
                        pol.has_type[d] = d == K8S_INGRESS || n > 0;
                if (n && !(pol.rules[d] = arena_alloc(&c->arena, n, sizeof *pol.rules[d])))
                        return -ENOMEM;
                size_t mr = path_key(p, key);
                for (size_t i = 0; i < n; i++) {
                        size_t mi = path_idx(p, i);
                        r = parse_rule(p, json_object_array_get_idx(rules, i), (k8s_direction_t) d,
                                       &pol.rules[d][pol.n_rules[d]++]);
                        if (r < 0)
                                return r;
                        path_pop(p, mi);
                }
                path_pop(p, mr);
        }
        path_pop(p, m);
        if (grow((void **) &c->policies, &c->alloc_policies, c->n_policies, sizeof *c->policies) < 0)
                return -ENOMEM;
        pol.seq = c->seq++;
        c->policies[c->n_policies++] = pol;
        return 0;
}

/* ---- pods and namespaces ---- */

static int cap_error(pctx_t *p, const char *what, size_t cap) {
        if (p->err) {
                sb_reset(p->err);
                put_where(p, p->err);
                sb_printf(p->err, ": more than %zu %s (the cap)", cap, what);
        }
        return -E2BIG;
}

static int parse_pod_ips(pctx_t *p, struct json_object *status, pod_t *pod) {
        struct json_object *ips;
        const char *ip1;
        size_t m = path_key(p, "status");
        int r = field(p, status, "podIPs", json_type_array, &ips);
        if (r >= 0)
                r = field_str(p, status, "podIP", false, &ip1);
        if (r < 0)
                return r;
        size_t n = ips ? json_object_array_length(ips) : 0;
        if ((n || ip1) && !(pod->ips = arena_alloc(&p->c->arena, n + 1, sizeof *pod->ips)))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(ips, i);
                size_t mi = path_key(p, "podIPs");
                path_idx(p, i);
                if (!json_object_is_type(e, json_type_object))
                        return fail(p, "must be an object");
                const char *s;
                r = field_str(p, e, "ip", true, &s);
                if (r < 0)
                        return r;
                path_key(p, "ip");
                if (parse_ip(s, &pod->ips[pod->n_ips]) < 0)
                        return fail(p, "not an IP address: \"%s\"", s);
                pod->n_ips++;
                path_pop(p, mi);
        }
        if (ip1) {
                ip_t ip;
                path_key(p, "podIP");
                if (parse_ip(ip1, &ip) < 0)
                        return fail(p, "not an IP address: \"%s\"", ip1);
                bool seen = false;
                for (size_t i = 0; i < pod->n_ips && !seen; i++)
                        seen = memcmp(&pod->ips[i], &ip, sizeof ip) == 0;
                if (!seen)
                        pod->ips[pod->n_ips++] = ip;
        }
        path_pop(p, m);
        return 0;
}

static int parse_pod_ports(pctx_t *p, struct json_object *spec, pod_t *pod) {
        struct json_object *containers;
        size_t m = path_key(p, "spec");
        int r = field(p, spec, "containers", json_type_array, &containers);
        if (r < 0)
                return r;
        size_t nc = containers ? json_object_array_length(containers) : 0, total = 0;
        for (size_t i = 0; i < nc; i++) {
                struct json_object *ports = get(json_object_array_get_idx(containers, i), "ports");
                if (ports && json_object_is_type(ports, json_type_array))
                        total += json_object_array_length(ports);
        }
        if (total && !(pod->ports = arena_alloc(&p->c->arena, total, sizeof *pod->ports)))
                return -ENOMEM;
        path_key(p, "containers");
        for (size_t i = 0; i < nc; i++) {
                struct json_object *ctr = json_object_array_get_idx(containers, i), *ports;
                size_t mi = path_idx(p, i);
                if (!json_object_is_type(ctr, json_type_object))
                        return fail(p, "must be an object");
                r = field(p, ctr, "ports", json_type_array, &ports);
                if (r < 0)
                        return r;
                size_t np = ports ? json_object_array_length(ports) : 0;
                path_key(p, "ports");
                for (size_t j = 0; j < np; j++) {
                        struct json_object *e = json_object_array_get_idx(ports, j), *num;
                        size_t mj = path_idx(p, j);
                        if (!json_object_is_type(e, json_type_object))
                                return fail(p, "must be an object");
                        named_port_t np1 = { 0 };
                        r = field_str(p, e, "name", false, &np1.name);
                        if (r >= 0)
                                r = parse_proto(p, e, &np1.proto);
                        if (r >= 0)
                                r = field(p, e, "containerPort", json_type_int, &num);
                        if (r < 0)
                                return r;
                        int64_t v = num ? json_object_get_int64(num) : 0;
                        if (v < 1 || v > 65535) {
                                path_key(p, "containerPort");
                                return fail(p, num ? "must be 1-65535" : "missing");
                        }
                        np1.port = (uint16_t) v;
                        if (np1.name && *np1.name)
                                pod->ports[pod->n_ports++] = np1;
                        path_pop(p, mj);
                }
                path_pop(p, mi);
        }
        path_pop(p, m);
        return 0;
}

static int parse_pod(pctx_t *p, struct json_object *obj) {
        netpol_cluster_t *c = p->c;
        int r = parse_metadata(p, obj, true);
        if (r < 0)
                return r;
        if (c->n_pods >= c->limits.max_pods)
                return cap_error(p, "pods", c->limits.max_pods);
        pod_t pod = { .ns = p->ns, .name = p->name, .doc = p->doc, .item = p->item };
        r = parse_labels(p, obj, &pod.labels);
        if (r < 0)
                return r;
        struct json_object *spec, *status, *hn;
        r = field(p, obj, "spec", json_type_object, &spec);
        if (r >= 0)
                r = field(p, obj, "status", json_type_object, &status);
        if (r < 0)
                return r;
        size_t m = path_key(p, "spec");
        r = field(p, spec, "hostNetwork", json_type_boolean, &hn);
        path_pop(p, m);
        if (r < 0)
                return r;
        pod.host_network = hn && json_object_get_boolean(hn);
        r = parse_pod_ports(p, spec, &pod);
        if (r >= 0)
                r = parse_pod_ips(p, status, &pod);
        if (r < 0)
                return r;
        if (grow((void **) &c->pods, &c->alloc_pods, c->n_pods, sizeof *c->pods) < 0)
                return -ENOMEM;
        pod.seq = c->seq++;
        c->pods[c->n_pods++] = pod;
        return 0;
}

static int parse_namespace(pctx_t *p, struct json_object *obj) {
        netpol_cluster_t *c = p->c;
        int r = parse_metadata(p, obj, false);
        if (r < 0)
                return r;
        if (c->n_namespaces >= c->limits.max_namespaces)
                return cap_error(p, "namespaces", c->limits.max_namespaces);
        namespace_t ns = { .name = p->name, .doc = p->doc, .item = p->item };
        r = parse_labels(p, obj, &ns.labels);
        if (r < 0)
                return r;
        if (grow((void **) &c->namespaces, &c->alloc_namespaces, c->n_namespaces, sizeof *c->namespaces) < 0)
                return -ENOMEM;
        ns.seq = c->seq++;
        c->namespaces[c->n_namespaces++] = ns;
        return 0;
}

static bool is_list_kind(const char *kind) {
        size_t n = kind ? strlen(kind) : 0;
        return n >= 4 && strcmp(kind + n - 4, "List") == 0;
}

static int parse_object(pctx_t *p, struct json_object *obj) {
        p->kind = p->ns = p->name = NULL;
        sb_reset(&p->path);
        if (!json_object_is_type(obj, json_type_object))
                return fail(p, "not an object");
        const char *kind;
        int r = field_str(p, obj, "kind", true, &kind);
        if (r < 0)
                return r;
        p->kind = kind;
        if (is_list_kind(kind))
                return fail(p, "a List inside a List is not read");
        if (strcmp(kind, "NetworkPolicy") == 0)
                return parse_policy(p, obj);
        if (strcmp(kind, "Pod") == 0)
                return parse_pod(p, obj);
        if (strcmp(kind, "Namespace") == 0)
                return parse_namespace(p, obj);
        return 0;  /* Services, Deployments, ...: not ours */
}


static int parse_document(pctx_t *p, struct json_object *root) {
        p->item = NO_ITEM;
        p->kind = NULL;
        if (!is_list_kind(get_str(root, "kind")))
                return parse_object(p, root);
        p->kind = get_str(root, "kind");
        struct json_object *items;
        int r = field(p, root, "items", json_type_array, &items);
        if (r < 0)
                return r;
        size_t n = items ? json_object_array_length(items) : 0;
        for (size_t i = 0; i < n; i++) {
                p->item = i;
                r = parse_object(p, json_object_array_get_idx(items, i));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- building: sort, link, precompute ---- */

/* By name, Namespace objects before implicit entries, then reading order. */
static int ns_name_cmp(const void *a, const void *b) {
        const namespace_t *x = a, *y = b;
        int c = strcmp(x->name, y->name);
        if (c)
                return c;
        if (x->implicit != y->implicit)
                return (int) x->implicit - (int) y->implicit;
        return (x->seq > y->seq) - (x->seq < y->seq);
}

static int pod_cmp(const void *a, const void *b) {
        const pod_t *x = a, *y = b;
        int c = strcmp(x->ns, y->ns);
        return c ? c : strcmp(x->name, y->name);
}

static int policy_cmp(const void *a, const void *b) {
        const policy_t *x = a, *y = b;
        int c = strcmp(x->ns, y->ns);
        return c ? c : strcmp(x->name, y->name);
}

/* For sorting: then reading order, so duplicates are found in that order. */
static int pod_seq_cmp(const void *a, const void *b) {
        const pod_t *x = a, *y = b;
        int c = pod_cmp(a, b);
        return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static int policy_seq_cmp(const void *a, const void *b) {
        const policy_t *x = a, *y = b;
        int c = policy_cmp(a, b);
        return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static int duplicate(pctx_t *p, const char *kind, const char *ns, const char *name, const char *doc1, size_t item1,
                     const char *doc2, size_t item2) {
        if (p->err) {
                sb_reset(p->err);
                sb_printf(p->err, "%s: ", doc2);
                if (item2 != NO_ITEM)
                        sb_printf(p->err, "items[%zu] ", item2);
                sb_printf(p->err, "(%s %s%s%s): duplicate of %s", kind, ns ? ns : "", ns ? "/" : "", name, doc1);
                if (item1 != NO_ITEM)
                        sb_printf(p->err, " items[%zu]", item1);
        }
        return -EINVAL;
}

static size_t ns_find(const netpol_cluster_t *c, const char *name) {
        size_t lo = 0, hi = c->n_namespaces;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int r = strcmp(c->namespaces[mid].name, name);
                if (r == 0)
                        return mid;
                if (r < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return SIZE_MAX;
}

/* Every namespace named by a Namespace, a pod or a policy, sorted; the ones
 * without a Namespace object are implicit. */
static int build_namespaces(pctx_t *p) {
        netpol_cluster_t *c = p->c;
        size_t n = c->n_namespaces + c->n_pods + c->n_policies;
        if (n == 0)
                return 0;
        namespace_t *all = calloc(n, sizeof *all);
        if (!all)
                return -ENOMEM;
        size_t k = 0;
        for (size_t i = 0; i < c->n_namespaces; i++)
                all[k++] = c->namespaces[i];
        for (size_t i = 0; i < c->n_pods; i++)
                all[k++] = (namespace_t) { .name = c->pods[i].ns, .implicit = true };
        for (size_t i = 0; i < c->n_policies; i++)
                all[k++] = (namespace_t) { .name = c->policies[i].ns, .implicit = true };
        qsort(all, n, sizeof *all, ns_name_cmp);
        size_t u = 0;
        int r = 0;
        for (size_t i = 0; i < n; i++) {
                if (u > 0 && strcmp(all[u - 1].name, all[i].name) == 0) {
                        if (!all[i].implicit) {
                                r = duplicate(p, "Namespace", NULL, all[i].name, all[u - 1].doc, all[u - 1].item,
                                              all[i].doc, all[i].item);
                                break;
                        }
                        continue;
                }
                all[u++] = all[i];
        }
        if (r >= 0 && u > c->limits.max_namespaces) {
                if (p->err) {
                        sb_reset(p->err);
                        sb_printf(p->err, "more than %zu namespaces, counting those only named by pods and policies "
                                  "(the cap)", c->limits.max_namespaces);
                }
                r = -E2BIG;
        }
        if (r < 0) {
                free(all);
                return r;
        }
        free(c->namespaces);
        c->namespaces = all;
        c->n_namespaces = c->alloc_namespaces = u;
        return 0;
}

static int build(pctx_t *p) {
        netpol_cluster_t *c = p->c;
        if (c->n_pods)
                qsort(c->pods, c->n_pods, sizeof *c->pods, pod_seq_cmp);
        if (c->n_policies)
                qsort(c->policies, c->n_policies, sizeof *c->policies, policy_seq_cmp);
        for (size_t i = 1; i < c->n_pods; i++)
                if (pod_cmp(&c->pods[i - 1], &c->pods[i]) == 0)
                        return duplicate(p, "Pod", c->pods[i].ns, c->pods[i].name, c->pods[i - 1].doc,
                                         c->pods[i - 1].item, c->pods[i].doc, c->pods[i].item);
        for (size_t i = 1; i < c->n_policies; i++)
                if (policy_cmp(&c->policies[i - 1], &c->policies[i]) == 0)
                        return duplicate(p, "NetworkPolicy", c->policies[i].ns, c->policies[i].name,
                                         c->policies[i - 1].doc, c->policies[i - 1].item, c->policies[i].doc,
                                         c->policies[i].item);
        int r = build_namespaces(p);
        if (r < 0)
                return r;
        for (size_t i = 0; i < c->n_pods; i++) {
                pod_t *pod = &c->pods[i];
                pod->ns_idx = ns_find(c, pod->ns);
                namespace_t *ns = &c->namespaces[pod->ns_idx];
                if (ns->n_pods++ == 0)
                        ns->pod_first = i;
        }
        /* Which policies select each pod, per direction: count, then fill. */
        for (int pass = 0; pass < 2; pass++) {
                for (size_t i = 0; i < c->n_policies; i++) {
                        policy_t *pol = &c->policies[i];
                        pol->ns_idx = ns_find(c, pol->ns);
                        const namespace_t *ns = &c->namespaces[pol->ns_idx];
                        for (size_t j = ns->pod_first; j < ns->pod_first + ns->n_pods; j++) {
                                pod_t *pod = &c->pods[j];
                                if (pod->host_network || !selector_matches(&pol->pod_sel, pod->labels, NULL))
                                        continue;
                                for (int d = 0; d < _K8S_DIRECTION_MAX; d++) {
                                        if (!pol->has_type[d])
                                                continue;
                                        if (pass == 1)
                                                pod->sel[d][pod->n_sel[d]] = i;
                                        pod->n_sel[d]++;
                                }
                        }
                }
                for (size_t j = 0; pass == 0 && j < c->n_pods; j++)
                        for (int d = 0; d < _K8S_DIRECTION_MAX; d++) {
                                pod_t *pod = &c->pods[j];
                                if (pod->n_sel[d] && !(pod->sel[d] = arena_alloc(&c->arena, pod->n_sel[d],
                                                                                   sizeof(size_t))))
                                        return -ENOMEM;
                                pod->n_sel[d] = 0;
                        }
        }
        return 0;
}

void netpol_cluster_free(netpol_cluster_t *c) {
        if (!c)
                return;
        arena_free(&c->arena);
        for (size_t i = 0; i < c->n_docs; i++)
                json_object_put(c->docs[i]);
        free(c->docs);
        free(c->namespaces);
        free(c->pods);
        free(c->policies);
        free(c);
}

int netpol_cluster_new(const netpol_document_t *docs, size_t n_docs, const netpol_limits_t *limits,
                       netpol_cluster_t **ret, strbuf_t *err) {
        netpol_cluster_t *c = calloc(1, sizeof *c);
        pctx_t p = { .c = c, .err = err };
        sb_init(&p.path, 0);
        int r = -ENOMEM;
        if (!c)
                goto done;
        c->limits = limits ? *limits : (netpol_limits_t) { 0 };
        if (!c->limits.max_pods)
                c->limits.max_pods = NETPOL_MAX_PODS;
        if (!c->limits.max_policies)
                c->limits.max_policies = NETPOL_MAX_POLICIES;
        if (!c->limits.max_namespaces)
                c->limits.max_namespaces = NETPOL_MAX_NAMESPACES;
        if (n_docs && !(c->docs = calloc(n_docs, sizeof *c->docs)))
                goto done;
        for (size_t i = 0; i < n_docs; i++) {
                c->docs[c->n_docs++] = json_object_get(docs[i].root);
                p.doc = docs[i].name ? docs[i].name : "<input>";
                r = parse_document(&p, docs[i].root);
                if (r < 0)
                        goto done;
                if (p.path.oom) {
                        r = -ENOMEM;
                        goto done;
                }
        }
        r = build(&p);
        if (r < 0)
                goto done;
        *ret = c;
        c = NULL;
        r = 0;
done:
        netpol_cluster_free(c);
        sb_free(&p.path);
        return r;
}

/* ---- accessors ---- */

size_t netpol_pod_count(const netpol_cluster_t *c) {
        return c ? c->n_pods : 0;
}

const char *netpol_pod_namespace(const netpol_cluster_t *c, size_t pod) {
        return pod < c->n_pods ? c->pods[pod].ns : NULL;
}

const char *netpol_pod_name(const netpol_cluster_t *c, size_t pod) {
        return pod < c->n_pods ? c->pods[pod].name : NULL;
}

bool netpol_pod_host_network(const netpol_cluster_t *c, size_t pod) {
        return pod < c->n_pods && c->pods[pod].host_network;
}

int netpol_pod_find(const netpol_cluster_t *c, const char *ns, const char *name, size_t *ret) {
        pod_t key = { .ns = ns, .name = name };
        const pod_t *hit = c->n_pods ? bsearch(&key, c->pods, c->n_pods, sizeof *c->pods, pod_cmp) : NULL;
        if (!hit)
                return -ENOENT;
        *ret = (size_t) (hit - c->pods);
        return 0;
}

size_t netpol_policy_count(const netpol_cluster_t *c) {
        return c ? c->n_policies : 0;
}

const char *netpol_policy_namespace(const netpol_cluster_t *c, size_t policy) {
        return policy < c->n_policies ? c->policies[policy].ns : NULL;
}

const char *netpol_policy_name(const netpol_cluster_t *c, size_t policy) {
        return policy < c->n_policies ? c->policies[policy].name : NULL;
}

size_t netpol_namespace_count(const netpol_cluster_t *c) {
        return c ? c->n_namespaces : 0;
}

/* ---- evaluation ---- */

static bool peer_matches(const netpol_cluster_t *c, const policy_t *pol, const peer_t *peer, const pod_t *other) {
        if (peer->is_ip_block) {
                for (size_t i = 0; i < other->n_ips; i++) {
                        if (!cidr_contains(&peer->cidr, &other->ips[i]))
                                continue;
                        bool excepted = false;
                        for (size_t j = 0; j < peer->n_except && !excepted; j++)
                                excepted = cidr_contains(&peer->except[j], &other->ips[i]);
                        if (!excepted)
                                return true;
                }
                return false;
        }
        if (other->host_network)
                return false;
        const namespace_t *ns = &c->namespaces[other->ns_idx];
        if (peer->has_ns_sel) {
                if (!selector_matches(&peer->ns_sel, ns->labels, ns->name))
                        return false;
        } else if (other->ns_idx != pol->ns_idx)
                return false;
        return !peer->has_pod_sel || selector_matches(&peer->pod_sel, other->labels, NULL);
}

static bool port_matches(const port_spec_t *ps, const pod_t *dst, uint16_t port, netpol_proto_t proto) {
        if (ps->proto != proto)
                return false;
        if (ps->name) {
                for (size_t i = 0; i < dst->n_ports; i++) {
                        const named_port_t *np = &dst->ports[i];
                        if (np->proto == proto && np->port == port && strcmp(np->name, ps->name) == 0)
                                return true;
                }
                return false;
        }
        if (ps->port == 0)
                return true;
        return port >= ps->port && port <= (ps->end_port ? ps->end_port : ps->port);
}

static bool rule_matches(const netpol_cluster_t *c, const policy_t *pol, const rule_t *rule, const pod_t *other,
                         const pod_t *dst, uint16_t port, netpol_proto_t proto) {
        bool ok = rule->n_ports == 0;
        for (size_t i = 0; i < rule->n_ports && !ok; i++)
                ok = port_matches(&rule->ports[i], dst, port, proto);
        if (!ok)
                return false;
        if (rule->n_peers == 0)
                return true;
        for (size_t i = 0; i < rule->n_peers; i++)
                if (peer_matches(c, pol, &rule->peers[i], other))
                        return true;
        return false;
}

static int evaluate_side(const netpol_cluster_t *c, k8s_direction_t dir, const pod_t *self, const pod_t *other,
                         const pod_t *dst, uint16_t port, netpol_proto_t proto, netpol_side_t *side) {
        side->isolating = self->sel[dir];
        side->n_isolating = self->n_sel[dir];
        side->isolated = side->n_isolating > 0;
        side->n_allowing = 0;
        side->allowed = false;
        for (size_t k = 0; k < side->n_isolating; k++) {
                const policy_t *pol = &c->policies[side->isolating[k]];
                for (size_t r = 0; r < pol->n_rules[dir]; r++) {
                        if (!rule_matches(c, pol, &pol->rules[dir][r], other, dst, port, proto))
                                continue;
                        if (grow((void **) &side->allowing, &side->alloc_allowing, side->n_allowing,
                                 sizeof *side->allowing) < 0)
                                return -ENOMEM;
                        side->allowing[side->n_allowing++] = (netpol_rule_ref_t) { side->isolating[k], r };
                }
        }
        side->allowed = !side->isolated || side->n_allowing > 0;
        return 0;
}

int netpol_evaluate(const netpol_cluster_t *c, size_t from, size_t to, uint16_t port, netpol_proto_t proto,
                    netpol_verdict_t *v) {
        if (!c || !v || from >= c->n_pods || to >= c->n_pods || port == 0 || proto >= _NETPOL_PROTO_MAX)
                return -EINVAL;
        const pod_t *src = &c->pods[from], *dst = &c->pods[to];
        v->allowed = false;
        int r = evaluate_side(c, K8S_EGRESS, src, dst, dst, port, proto, &v->side[K8S_EGRESS]);
        if (r >= 0)
                r = evaluate_side(c, K8S_INGRESS, dst, src, dst, port, proto, &v->side[K8S_INGRESS]);
        if (r < 0)
                return r;
        v->allowed = v->side[K8S_EGRESS].allowed && v->side[K8S_INGRESS].allowed;
        return 0;
}

void netpol_verdict_done(netpol_verdict_t *v) {
        if (!v)
                return;
        for (int d = 0; d < _K8S_DIRECTION_MAX; d++)
                free(v->side[d].allowing);
        *v = (netpol_verdict_t) { 0 };
}
