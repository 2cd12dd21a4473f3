/* NetworkPolicy evaluation (issue 16 §1, contract §11): given Namespaces,
 * Pods and NetworkPolicies (networking.k8s.io/v1) as json-c trees shaped the
 * way the Kubernetes API serves them, decides whether policy allows a
 * connection from one pod to another on a port and protocol, and why.
 * Pure: no I/O, nothing logged; errors come back as -errno and a message.
 *
 * Semantics (contract §11 has the user-facing version):
 * - A pod is isolated for a direction when some policy of its namespace
 *   selects it (spec.podSelector) and has that policy type. policyTypes
 *   absent or empty: Ingress always, Egress when spec.egress has a rule.
 * - A connection is allowed when the source's egress allows it (not
 *   isolated, or some egress rule of a selecting policy matches) and the
 *   destination's ingress allows it (likewise). Policies are a union.
 * - A rule matches when one of its peers matches the other pod (no peers,
 *   `from`/`to` absent or empty: every peer) and one of its ports matches
 *   (no ports: every port and protocol). `ingress: []` = no rule = deny all.
 * - A peer: podSelector alone = pods of the policy's namespace;
 *   namespaceSelector alone = every pod of the selected namespaces; both =
 *   ANDed; ipBlock = the pod's IPs (status.podIPs, status.podIP), any of
 *   them inside `cidr` (host bits ignored) and outside every `except`. A pod
 *   without an IP matches no ipBlock.
 * - Ports: a number (with endPort, an inclusive range) or a name, resolved
 *   against the destination pod's spec.containers[].ports[] with the rule's
 *   protocol; protocol absent = TCP.
 * - hostNetwork pods are never isolated (policies do not apply to them) and
 *   as peers only an ipBlock can match them.
 * - A pod to itself is evaluated like any other pair.
 * - Namespaces get the label kubernetes.io/metadata.name=<name> when it is
 *   absent (the API server sets it); a namespace with pods or policies but no
 *   Namespace object has that label only. Pods and policies without
 *   metadata.namespace are in "default". */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "k8s_objects.h"
#include "util.h"

struct json_object;

typedef enum netpol_proto {
        NETPOL_TCP,
        NETPOL_UDP,
        NETPOL_SCTP,
        _NETPOL_PROTO_MAX,
} netpol_proto_t;

/* "TCP" / "UDP" / "SCTP". */
const char *netpol_proto_name(netpol_proto_t p);
/* Exactly "TCP", "UDP" or "SCTP" (as the API spells them); -EINVAL otherwise. */
int netpol_proto_from_string(const char *s, netpol_proto_t *ret);

/* Default caps (contract §11). */
#define NETPOL_MAX_PODS 100000
#define NETPOL_MAX_POLICIES 10000
#define NETPOL_MAX_NAMESPACES 10000

typedef struct netpol_limits {
        size_t max_pods;        /* 0 = NETPOL_MAX_PODS */
        size_t max_policies;    /* 0 = NETPOL_MAX_POLICIES */
        size_t max_namespaces;  /* 0 = NETPOL_MAX_NAMESPACES (implicit namespaces count) */
} netpol_limits_t;

/* One input document: a single object, or a List (kind "List" or "*List")
 * whose `items` are objects. */
typedef struct netpol_document {
        const char *name;          /* named in error messages (a file name) */
        struct json_object *root;  /* a reference is taken; the caller keeps its own */
} netpol_document_t;

typedef struct netpol_cluster netpol_cluster_t;

/* Builds the cluster from documents. Kinds Namespace, Pod and NetworkPolicy
 * are read; other kinds are skipped. Every field the evaluation uses is
 * checked; the first bad one fails the call with -EINVAL and a message in
 * `err` (may be NULL) naming the document, the object and the field:
 *   objects.json: items[3] (NetworkPolicy x/deny-all): spec.ingress[0].from[1]
 *   .podSelector.matchExpressions[0].operator: unknown operator "In "
 * Duplicate objects (same kind, namespace and name) are errors. More objects
 * than the limits: -E2BIG with a message. -ENOMEM. `limits` may be NULL. */
int netpol_cluster_new(const netpol_document_t *docs, size_t n_docs, const netpol_limits_t *limits,
                       netpol_cluster_t **ret, strbuf_t *err);
void netpol_cluster_free(netpol_cluster_t *c);

/* Pods are numbered 0..n-1 sorted by namespace then name; policies likewise. */
size_t netpol_pod_count(const netpol_cluster_t *c);
const char *netpol_pod_namespace(const netpol_cluster_t *c, size_t pod);
const char *netpol_pod_name(const netpol_cluster_t *c, size_t pod);
bool netpol_pod_host_network(const netpol_cluster_t *c, size_t pod);
/* -ENOENT when there is no such pod. */
int netpol_pod_find(const netpol_cluster_t *c, const char *ns, const char *name, size_t *ret);
size_t netpol_policy_count(const netpol_cluster_t *c);
const char *netpol_policy_namespace(const netpol_cluster_t *c, size_t policy);
const char *netpol_policy_name(const netpol_cluster_t *c, size_t policy);
size_t netpol_namespace_count(const netpol_cluster_t *c);

/* A rule of a policy that allows the connection: spec.ingress[rule] or
 * spec.egress[rule] of policy number `policy`. */
typedef struct netpol_rule_ref {
        size_t policy;
        size_t rule;
} netpol_rule_ref_t;

/* One side: the source's egress or the destination's ingress. */
typedef struct netpol_side {
        bool isolated;                /* some policy with this type selects the pod */
        bool allowed;                 /* !isolated, or n_allowing > 0 */
        const size_t *isolating;      /* policies selecting the pod, ascending; borrowed from the cluster */
        size_t n_isolating;
        netpol_rule_ref_t *allowing;  /* rules that allow, by policy then rule; owned by the verdict */
        size_t n_allowing;
        size_t alloc_allowing;
} netpol_side_t;

/* Reusable across calls (zero it first; netpol_verdict_done() frees it). */
typedef struct netpol_verdict {
        bool allowed;                           /* both sides allow */
        netpol_side_t side[_K8S_DIRECTION_MAX]; /* [K8S_EGRESS] of the source, [K8S_INGRESS] of the destination */
} netpol_verdict_t;

/* Evaluates pod `from` -> pod `to` on `port` (1..65535) / `proto` into `v`.
 * O(policies selecting either pod × their rules × peers). -EINVAL for a pod
 * number out of range or port 0, -ENOMEM (v then says deny, half filled). */
int netpol_evaluate(const netpol_cluster_t *c, size_t from, size_t to, uint16_t port, netpol_proto_t proto,
                    netpol_verdict_t *v);
void netpol_verdict_done(netpol_verdict_t *v);
