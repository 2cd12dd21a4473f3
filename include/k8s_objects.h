/* Pure functions on Kubernetes API objects as json-c trees: no I/O, no
 * allocation kept between calls, nothing logged. They read what the
 * Kubernetes API serves (EndpointSlice discovery.k8s.io/v1, NetworkPolicy
 * networking.k8s.io/v1, Namespace v1) and tolerate missing or ill-typed fields
 * (such an entry is skipped, never a crash).
 *
 * A "collection" argument is any of: a json array of objects (a List's
 * `items`), or a json object whose values are objects (the object map of a
 * k8s watch, k8s_watch_objects()); NULL is an empty collection. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util.h"

struct json_object;

/* ---- metadata ---- */

/* metadata.namespace / .name / .resourceVersion, or NULL when absent or not a
 * string. The pointer lives as long as the object. */
const char *k8s_object_namespace(struct json_object *obj);
const char *k8s_object_name(struct json_object *obj);
const char *k8s_object_resource_version(struct json_object *obj);
/* "namespace/name", or "name" for a cluster-scoped object; caller frees.
 * -EINVAL when metadata.name is missing or empty, -ENOMEM. */
int k8s_object_key(struct json_object *obj, char **ret);

/* ---- EndpointSlices -> ready endpoints ---- */

/* Which port of a Service's EndpointSlices (slice.ports[]) to use. */
typedef struct k8s_port_ref {
        const char *name;     /* matches ports[].name ("" = the unnamed port); NULL: by number */
        uint16_t number;      /* with name NULL: matches ports[].port */
        const char *protocol; /* "TCP", "UDP", "SCTP" (absent in the slice = "TCP"); NULL: any */
} k8s_port_ref_t;

typedef struct k8s_endpoint {
        struct sockaddr_storage addr; /* AF_INET or AF_INET6, port set */
        char address[46];             /* canonical text form (inet_ntop), no brackets */
        uint16_t port;
} k8s_endpoint_t;

/* Default cap on endpoints returned for one Service (README: 64 addresses per target). */
#define K8S_MAX_ENDPOINTS 64

/* The ready endpoints of a collection of EndpointSlices of one Service (slices
 * keyed by their name in a watch's map, or a List's items).
 *
 * - `service` non-NULL keeps only slices labelled
 *   kubernetes.io/service-name=<service>; NULL takes every slice.
 * - An endpoint is ready when conditions.ready is true or absent (the API's
 *   "unknown, treat as ready"), and it is not conditions.terminating true.
 * - Its port is every slice.ports[] entry matching `port` (name, else number;
 *   protocol when given). By number, a slice without ports, or a ports[]
 *   entry without a port ("all ports"), yields `port->number` itself.
 * - addressType FQDN and unparsable addresses are skipped; IPv6 addresses
 *   are canonicalised ("2001:db8::0001" = "2001:db8::1").
 *
 * The result is deduplicated and sorted (IPv4 before IPv6, then by address
 * bytes, then port). At most `max` (0 = K8S_MAX_ENDPOINTS) are returned, the
 * first in that order; *ret_total (may be NULL) is the count before the cap.
 * Returns the number returned (*ret is NULL when 0; caller frees), or -ENOMEM
 * / -EINVAL (no port given: name NULL and number 0). */
int k8s_endpoints_ready(struct json_object *slices, const char *service, const k8s_port_ref_t *port,
                        size_t max, k8s_endpoint_t **ret, size_t *ret_total);

/* ---- NetworkPolicy audit ---- */

typedef enum k8s_direction {
        K8S_INGRESS,
        K8S_EGRESS,
        _K8S_DIRECTION_MAX,
} k8s_direction_t;

/* "ingress" / "egress" (the metric's `direction` label). */
const char *k8s_direction_name(k8s_direction_t dir);

/* spec.podSelector is {} (absent, or no matchLabels/matchExpressions entries):
 * the policy selects every pod of its namespace. */
bool k8s_policy_selects_all(struct json_object *policy);
/* The policy has that type: spec.policyTypes when present and non-empty;
 * otherwise Ingress always and Egress when spec.egress has a rule (the API
 * server's defaulting). */
bool k8s_policy_has_type(struct json_object *policy, k8s_direction_t dir);
/* The policy has a rule allowing all traffic for that direction: an ingress
 * rule without `from` (absent or empty) and without `ports` (absent or empty);
 * same for egress with `to`. */
bool k8s_policy_allows_all(struct json_object *policy, k8s_direction_t dir);

typedef struct k8s_namespace_audit {
        char *name;                                /* namespace */
        bool default_deny[_K8S_DIRECTION_MAX];     /* indexed by k8s_direction_t */
        size_t n_policies;                         /* NetworkPolicies in the namespace */
} k8s_namespace_audit_t;

/* Default-deny per namespace and direction. A namespace is default-deny for a
 * direction when some policy in it selects all pods with that type and no
 * such all-pods policy of that type allows all traffic for the direction
 * (policies are additive: an all-pods allow-all cancels a deny-all).
 *
 * One entry per namespace of `namespaces` (Namespace objects) and per
 * namespace that has a policy in `policies` (NetworkPolicy objects), sorted
 * by name; a namespace without policies is default-deny for nothing.
 * Returns the count (*ret NULL when 0; free with k8s_audit_free()), or -ENOMEM. */
int k8s_audit_namespaces(struct json_object *namespaces, struct json_object *policies,
                         k8s_namespace_audit_t **ret);
void k8s_audit_free(k8s_namespace_audit_t *a, size_t n);

/* ---- stable hashes ---- */

/* Appends `o` as canonical JSON: object keys sorted bytewise, no whitespace,
 * strings escaped one way, doubles as %.17g. Equal trees give equal bytes
 * whatever the key order they were parsed with. -E2BIG past 64 levels of
 * nesting, -ENOMEM (sb->oom, including sb's limit). */
int k8s_json_canonical(struct json_object *o, strbuf_t *sb);
/* 64-bit FNV-1a of the canonical form. */
int k8s_json_hash(struct json_object *o, uint64_t *ret);
/* 16 lower-case hex digits of k8s_json_hash(policy.spec) (of `null` when the
 * spec is absent) into ret_hex[17]. */
int k8s_policy_hash(struct json_object *policy, char ret_hex[17]);

typedef struct k8s_policy_info {
        char *ns;          /* metadata.namespace, "" for none */
        char *name;        /* metadata.name */
        char hash[17];     /* k8s_policy_hash() */
} k8s_policy_info_t;

/* namespace, name and spec hash of every NetworkPolicy of a collection (the
 * labels of netcanary_networkpolicy_info), sorted by namespace then name;
 * objects without a name are skipped. Returns the count (*ret NULL when 0;
 * free with k8s_policy_infos_free()), or -ENOMEM / -E2BIG. */
int k8s_policy_infos(struct json_object *policies, k8s_policy_info_t **ret);
void k8s_policy_infos_free(k8s_policy_info_t *p, size_t n);
