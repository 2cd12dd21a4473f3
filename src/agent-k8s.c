/* The agent's use of the Kubernetes API: EndpointSlice watches behind
 * "service" targets and "kubernetes:NS/NAME" DNS servers, and the
 * NetworkPolicy audit (netcanary_namespace_default_deny,
 * netcanary_networkpolicy_info). The client itself is k8s.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent-internal.h"
#include "k8s_objects.h"
#include "log.h"

static void on_k8s_errors_collect(metric_family_t *f, void *userdata);

int agent_k8s_register_families(agent_t *a) {
        static const char *const l_resource[] = { "resource" };
        static const char *const l_deny[] = { "namespace", "direction" };
        static const char *const l_policy[] = { "namespace", "name", "hash" };
        int r = metrics_family_add(a->metrics, "netcanary_kubernetes_watch_errors_total",
                                   "Failed Kubernetes API list/watch requests, by resource.", METRIC_COUNTER,
                                   l_resource, ELEMENTSOF(l_resource), NULL, 0, false, &a->f_k8s_errors);
        if (r < 0)
                return r;
        metric_family_set_collect(a->f_k8s_errors, on_k8s_errors_collect, a);
        r = metrics_family_add(a->metrics, "netcanary_namespace_default_deny",
                               "1 when a NetworkPolicy selecting every pod of the namespace denies the direction "
                               "by default (audit).", METRIC_GAUGE, l_deny, ELEMENTSOF(l_deny), NULL, 0, false,
                               &a->f_default_deny);
        if (r < 0)
                return r;
        return metrics_family_add(a->metrics, "netcanary_networkpolicy_info",
                                  "Every NetworkPolicy with a hash of its spec, to line verdict flips up with "
                                  "policy changes (audit); always 1.", METRIC_GAUGE, l_policy, ELEMENTSOF(l_policy),
                                  NULL, 0, false, &a->f_policy_info);
}

/* ---- the client ---- */

static int client_ensure(agent_t *a, config_errors_t *errs) {
        if (a->k8s)
                return 0;
        k8s_config_t kc;
        int r = a->kubeconfig_path ? k8s_config_load(a->kubeconfig_path, &kc, errs) : k8s_config_in_cluster(&kc);
        if (r < 0) {
                if (!a->kubeconfig_path)
                        config_errors_add(errs, "kubernetes: this config needs the Kubernetes API, but there is no "
                                          "in-cluster service account (%s); outside a cluster give --kubeconfig FILE",
                                          strerror(-r));
                return r;
        }
        r = curlloop_new(a->loop, &a->k8s_curl);
        if (r == 0)
                r = k8s_client_new(a->loop, a->k8s_curl, a->resolver, &kc, &a->k8s);
        k8s_config_done(&kc);
        if (r < 0) {
                config_errors_add(errs, "kubernetes: cannot set up the API client: %s", strerror(-r));
                curlloop_free(a->k8s_curl);
                a->k8s_curl = NULL;
        }
        return r;
}

static const char *target_service_ref(const target_t *t) {
        if ((t->proto == PROTO_TCP || t->proto == PROTO_UDP) && t->net.service)
                return t->net.service;
        if (t->proto == PROTO_DNS && strcmp(t->dns.servers_mode, "kubernetes") == 0 && t->dns.n_servers == 1)
                return t->dns.servers[0];
        return NULL;
}

static k8s_service_watch_t *service_find(agent_t *a, const char *ref) {
        for (size_t i = 0; i < a->n_k8s_services; i++)
                if (strcmp(a->k8s_services[i].ref, ref) == 0)
                        return &a->k8s_services[i];
        return NULL;
}

/* Watches only keep objects in sync; rounds read them. Nothing to do per event. */
static void on_service_event(k8s_watch_t *w, k8s_event_t ev, struct json_object *obj, void *userdata) {
}

static int service_add(agent_t *a, const char *ref) {
        const char *slash = strchr(ref, '/');
        char *path = NULL, *selector = NULL, *copy = strdup(ref);
        k8s_service_watch_t *grown = realloc(a->k8s_services, (a->n_k8s_services + 1) * sizeof *grown);
        int r = -ENOMEM;
        if (grown)
                a->k8s_services = grown;
        if (!copy || !grown ||
            asprintf(&path, "/apis/discovery.k8s.io/v1/namespaces/%.*s/endpointslices", (int) (slash - ref), ref) < 0 ||
            asprintf(&selector, "kubernetes.io/service-name=%s", slash + 1) < 0) {
                path = selector = NULL;
                goto done;
        }
        k8s_watch_t *w;
        r = k8s_watch_start(a->k8s, path, selector, on_service_event, a, &w);
        if (r < 0)
                goto done;
        a->k8s_services[a->n_k8s_services++] = (k8s_service_watch_t) { .ref = copy, .watch = w };
        copy = NULL;
done:
        free(copy);
        free(path);
        free(selector);
        return r;
}

/* ---- the audit ---- */

static void audit_publish(agent_t *a) {
        if (!k8s_watch_synced(a->k8s_namespaces) || !k8s_watch_synced(a->k8s_policies))
                return;
        k8s_namespace_audit_t *audit = NULL;
        k8s_policy_info_t *infos = NULL;
        int n = k8s_audit_namespaces(k8s_watch_objects(a->k8s_namespaces), k8s_watch_objects(a->k8s_policies), &audit);
        int m = k8s_policy_infos(k8s_watch_objects(a->k8s_policies), &infos);
        if (n < 0 || m < 0) {
                k8s_audit_free(audit, n > 0 ? (size_t) n : 0);
                k8s_policy_infos_free(infos, m > 0 ? (size_t) m : 0);
                return;
        }
        /* Rebuilt from scratch: namespaces and policies come and go. */
        metric_family_clear(a->f_default_deny);
        metric_family_clear(a->f_policy_info);
        for (int i = 0; i < n; i++)
                for (k8s_direction_t d = 0; d < _K8S_DIRECTION_MAX; d++) {
                        metric_t *s;
                        const char *labels[] = { audit[i].name, k8s_direction_name(d) };
                        if (metric_family_series(a->f_default_deny, labels, &s) == 0)
                                metric_set(s, audit[i].default_deny[d] ? 1 : 0);
                }
        for (int i = 0; i < m; i++) {
                metric_t *s;
                const char *labels[] = { infos[i].ns, infos[i].name, infos[i].hash };
                if (metric_family_series(a->f_policy_info, labels, &s) == 0)
                        metric_set(s, 1);
        }
        k8s_audit_free(audit, (size_t) n);
        k8s_policy_infos_free(infos, (size_t) m);
}

static void on_audit_event(k8s_watch_t *w, k8s_event_t ev, struct json_object *obj, void *userdata) {
        audit_publish(userdata);
}

static void audit_stop(agent_t *a) {
        k8s_watch_free(a->k8s_namespaces);
        k8s_watch_free(a->k8s_policies);
        a->k8s_namespaces = a->k8s_policies = NULL;
        metric_family_clear(a->f_default_deny);
        metric_family_clear(a->f_policy_info);
}

/* ---- the agent's entry points ---- */

int agent_k8s_prepare(agent_t *a, const config_t *cfg, config_errors_t *errs) {
        if (!config_needs_kubernetes(cfg))
                return 0;
        int r = client_ensure(a, errs);
        if (r < 0)
                return r;
        for (size_t i = 0; i < cfg->n_targets; i++) {
                const char *ref = target_service_ref(&cfg->targets[i]);
                if (ref && !service_find(a, ref) && (r = service_add(a, ref)) < 0) {
                        config_errors_add(errs, "targets.%s: cannot watch the Service %s: %s", cfg->targets[i].name,
                                          ref, strerror(-r));
                        return r;
                }
        }
        if (cfg->kubernetes_audit && !a->k8s_namespaces) {
                r = k8s_watch_start(a->k8s, "/api/v1/namespaces", NULL, on_audit_event, a, &a->k8s_namespaces);
                if (r == 0)
                        r = k8s_watch_start(a->k8s, "/apis/networking.k8s.io/v1/networkpolicies", NULL,
                                            on_audit_event, a, &a->k8s_policies);
                if (r < 0) {
                        config_errors_add(errs, "kubernetes.audit: cannot watch namespaces and NetworkPolicies: %s",
                                          strerror(-r));
                        audit_stop(a);
                        return r;
                }
        }
        return 0;
}

k8s_watch_t *agent_k8s_service_watch(agent_t *a, const target_t *t) {
        const char *ref = target_service_ref(t);
        k8s_service_watch_t *sw = ref ? service_find(a, ref) : NULL;
        return sw ? sw->watch : NULL;
}

void agent_k8s_prune(agent_t *a) {
        /* Watches of Services no target names any more. */
        size_t kept = 0;
        for (size_t i = 0; i < a->n_k8s_services; i++) {
                bool used = false;
                for (size_t t = 0; t < a->cfg->n_targets && !used; t++) {
                        const char *ref = target_service_ref(&a->cfg->targets[t]);
                        used = ref && strcmp(ref, a->k8s_services[i].ref) == 0;
                }
                if (used)
                        a->k8s_services[kept++] = a->k8s_services[i];
                else {
                        k8s_watch_free(a->k8s_services[i].watch);
                        free(a->k8s_services[i].ref);
                }
        }
        a->n_k8s_services = kept;
        if (!a->cfg->kubernetes_audit && a->k8s_namespaces)
                audit_stop(a);
}

bool agent_k8s_synced(const agent_t *a, size_t *ret_waiting) {
        size_t waiting = 0;
        for (size_t i = 0; i < a->n_k8s_services; i++)
                waiting += !k8s_watch_synced(a->k8s_services[i].watch);
        if (a->k8s_namespaces)
                waiting += !k8s_watch_synced(a->k8s_namespaces) + !k8s_watch_synced(a->k8s_policies);
        if (ret_waiting)
                *ret_waiting = waiting;
        return waiting == 0;
}

int agent_k8s_endpoints(row_state_t *rs, struct sockaddr_storage *ret, size_t *ret_n) {
        const target_t *t = rs->row->target;
        *ret_n = 0;
        if (!rs->service_watch || !k8s_watch_synced(rs->service_watch))
                return -EAGAIN;
        const char *ref = target_service_ref(t);
        k8s_port_ref_t port;
        if (t->proto == PROTO_DNS)
                port = (k8s_port_ref_t) { .name = "dns", .protocol = "UDP" };
        else if (t->net.port_name)
                port = (k8s_port_ref_t) { .name = t->net.port_name, .protocol = t->proto == PROTO_UDP ? "UDP" : "TCP" };
        else
                port = (k8s_port_ref_t) { .number = t->net.port, .protocol = t->proto == PROTO_UDP ? "UDP" : "TCP" };
        k8s_endpoint_t *eps = NULL;
        int n = k8s_endpoints_ready(k8s_watch_objects(rs->service_watch), strchr(ref, '/') + 1, &port,
                                    CONFIG_MAX_ADDRESSES, &eps, NULL);
        if (n == 0 && t->proto == PROTO_DNS) {
                /* kube-dns names its port "dns"; anything else serves on 53. */
                port = (k8s_port_ref_t) { .number = 53, .protocol = "UDP" };
                n = k8s_endpoints_ready(k8s_watch_objects(rs->service_watch), strchr(ref, '/') + 1, &port,
                                        CONFIG_MAX_ADDRESSES, &eps, NULL);
        }
        if (n < 0)
                return n;
        for (int i = 0; i < n; i++)
                ret[i] = eps[i].addr;
        *ret_n = (size_t) n;
        free(eps);
        return 0;
}

static void on_k8s_errors_collect(metric_family_t *f, void *userdata) {
        agent_t *a = userdata;
        if (!a->k8s)
                return;
        uint64_t slices = 0;
        for (size_t i = 0; i < a->n_k8s_services; i++)
                slices += k8s_watch_errors(a->k8s_services[i].watch);
        const struct {
                const char *resource;
                uint64_t errors;
                bool used;
        } counts[] = {
                { "endpointslices", slices, a->n_k8s_services > 0 },
                { "namespaces", a->k8s_namespaces ? k8s_watch_errors(a->k8s_namespaces) : 0, a->k8s_namespaces },
                { "networkpolicies", a->k8s_policies ? k8s_watch_errors(a->k8s_policies) : 0, a->k8s_policies },
        };
        for (size_t i = 0; i < ELEMENTSOF(counts); i++) {
                if (!counts[i].used)
                        continue;
                metric_t *s;
                const char *labels[] = { counts[i].resource };
                /* Watches restarted by a reload start from 0: never let the counter go back. */
                if (metric_family_series(f, labels, &s) == 0 && (double) counts[i].errors > metric_value(s))
                        metric_set(s, (double) counts[i].errors);
        }
}

void agent_k8s_free(agent_t *a) {
        for (size_t i = 0; i < a->n_k8s_services; i++) {
                k8s_watch_free(a->k8s_services[i].watch);
                free(a->k8s_services[i].ref);
        }
        free(a->k8s_services);
        a->k8s_services = NULL;
        a->n_k8s_services = 0;
        k8s_watch_free(a->k8s_namespaces);
        k8s_watch_free(a->k8s_policies);
        a->k8s_namespaces = a->k8s_policies = NULL;
        k8s_client_free(a->k8s);
        a->k8s = NULL;
        curlloop_free(a->k8s_curl);
        a->k8s_curl = NULL;
}
