/* The agent's internals, shared by agent.c (plan, rounds, reload),
 * agent-endpoints.c (HTTP handlers), agent-adhoc.c (/probe) and
 * agent-report.c (JSON, table, JUnit). Not a public header: nothing outside
 * the agent includes it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "agent.h"
#include "aresloop.h"
#include "httpd.h"
#include "metrics.h"
#include "probe.h"
#include "probe_dns.h"
#include "probe_http.h"
#include "resolver.h"
#include "responder.h"
#include "results.h"
#include "sched.h"
#include "webconfig.h"
#include "k8s.h"
#include "curlloop.h"

#define RELOAD_DEBOUNCE_USEC (200 * USEC_PER_MSEC)
#define EVIDENCE_GC_USEC (60 * USEC_PER_SEC)
/* New rows (at start and on reload) run their first round within this window. */
#define FIRST_ROUND_WITHIN_USEC (2 * USEC_PER_SEC)
/* /probe requests probing at once; more get 503. */
#define ADHOC_MAX_IN_FLIGHT 16u
/* A deny row is verified while an allow row reached the same address within
 * this many of the longer of the two intervals. */
#define EVIDENCE_WINDOW_INTERVALS 3u

typedef struct addr_result {
        struct sockaddr_storage addr;  /* ss_family 0 when the name did not resolve */
        outcome_t outcome;
        verdict_t verdict;
        uint64_t duration_usec;
        int error;
} addr_result_t;

typedef struct row_state row_state_t;

typedef struct probe_slot {
        row_state_t *row;
        size_t index;                  /* into row->round */
        probe_t *probe;                /* tcp, udp */
        dns_probe_t *dns_probe;        /* dns */
        http_probe_t *http_probe;      /* http */
} probe_slot_t;

/* One DNS server of a dns row: measured alone, through its own channel. */
typedef struct dns_server {
        struct sockaddr_storage addr;
        char label[64];                /* "10.96.0.10:53": the `server` label */
        aresloop_t *channel;
        metric_t *m_lookup;
        metric_t *m_responses[9];      /* by dns_response_labels[] index (agent.c), made on first use */
} dns_server_t;

/* What a /probe round keeps beyond a row's state. */
typedef struct adhoc_state {
        row_t row;                     /* the synthetic row (fields point into the config) */
        httpd_deferred_t *deferred;    /* the suspended /probe request */
        uint64_t start;                /* mono µs */
        http_probe_result_t http;
        dns_probe_result_t dns;
        row_state_t *prev, *next;
} adhoc_state_t;

struct row_state {
        agent_t *agent;
        const row_t *row;              /* in agent->cfg */
        char *key;                     /* "to|protocol|expect": carries state across reloads */
        bool supported;                /* this build has a probe for the protocol */
        bool has_static_addr;          /* the host is an IP literal */
        struct sockaddr_storage static_addr;
        sched_job_t *job;

        /* The round in progress. */
        uint64_t round_deadline;       /* mono µs */
        loop_timer_t *resolve_timer;   /* bounds name resolution by the deadline */
        resolve_req_t *resolve;
        addr_result_t *round;
        probe_slot_t *slots;
        size_t n_round;
        size_t round_pending;

        /* The last completed round. */
        addr_result_t *last;
        size_t n_last;
        verdict_t observed;
        confirm_state_t confirm;
        bool verified;
        uint64_t rounds;
        uint64_t mismatch_count[_MISMATCH_MAX];
        uint64_t last_probe_wall;      /* µs since epoch; 0 = never */
        uint64_t last_change_wall;

        /* dns rows */
        dns_server_t *dns_servers;
        struct sockaddr_storage *dns_addrs; /* the servers' addresses, as a round's address list */
        size_t n_dns_servers;
        dns_query_t dns_query;
        struct sockaddr_storage *dns_expect;
        metric_t *m_search_queries;

        /* service targets and "kubernetes:" DNS servers */
        k8s_watch_t *service_watch;    /* the Service's EndpointSlices (owned by the agent) */

        /* http rows */
        http_request_t *http_req;
        uint64_t resolve_start;        /* mono µs the round's name lookup began */
        uint64_t resolve_usec;         /* how long it took */
        char *last_http_detail;        /* logged when it changes */
        metric_t *m_http_phase[_HTTP_PHASE_MAX];

        /* One-off probes for /probe: not in the plan, no metrics, no schedule. */
        bool adhoc;
        struct adhoc_state *adhoc_state; /* only for those; NULL in the plan's rows */

        metric_t *m_probes[_OUTCOME_MAX]; /* created on first use */
        metric_t *m_duration;
        metric_t *m_verdict[_VERDICT_MAX];
        metric_t *m_met;
        metric_t *m_verified;
        metric_t *m_mismatch[_MISMATCH_MAX];
        metric_t *m_last_probe;
        metric_t *m_addresses[_VERDICT_MAX];
};

struct agent {
        loop_t *loop;
        char *config_path;
        char *cli_identity;
        char *cli_listen;
        bool once;
        config_t *cfg;
        char *identity;
        char *listen;                  /* what httpd is bound to */
        char *web_config_path;         /* --web-config, or NULL */
        char *kubeconfig_path;         /* --kubeconfig, or NULL (in-cluster) */
        curlloop_t *k8s_curl;         /* the Kubernetes client's transfers */
        k8s_client_t *k8s;             /* NULL until a config needs the API */
        struct k8s_service_watch *k8s_services; /* one EndpointSlice watch per Service referenced */
        size_t n_k8s_services;
        k8s_watch_t *k8s_namespaces;   /* the audit's watches, or NULL */
        k8s_watch_t *k8s_policies;
        metric_family_t *f_k8s_errors, *f_default_deny, *f_policy_info;
        struct stat config_stat;       /* of the config file at its last (re)load; st_ino 0 = unknown */
        webconfig_t *webconfig;        /* what httpd runs with */
        uint16_t responder_port;       /* what the responder is bound to; 0 = none */

        resolver_t *resolver;
        sched_t *sched;
        evidence_t *evidence;
        metrics_t *metrics;
        httpd_t *httpd;
        responder_t *responder;

        row_state_t **rows;
        size_t n_rows;
        uint64_t max_allow_interval;   /* longest allow-row interval in the plan */
        unsigned probes_in_flight;
        size_t once_remaining;
        row_state_t *adhoc;            /* /probe requests in flight */
        unsigned n_adhoc;

        metric_family_t *f_probes, *f_duration, *f_verdict, *f_met, *f_verified, *f_mismatches, *f_last_probe,
                *f_addresses, *f_dns_lookup, *f_dns_responses, *f_dns_search, *f_http_phase;
        http_prober_t *http;
        resolv_conf_t resolv;          /* snapshot taken at the last (re)load */
        metric_t *m_lag, *m_in_flight, *m_reload_ok, *m_reload_ts;

        int inotify_fd;
        loop_io_t *inotify_io;
        loop_timer_t *reload_timer;
        loop_timer_t *evidence_timer;
        bool last_reload_ok;
        uint64_t last_reload_success_wall;
        char *last_reload_error;
};

/* agent.c */
int row_state_new(agent_t *a, const row_t *row, row_state_t **ret);
void row_state_free(row_state_t *rs);
/* Starts one round: resolve if needed, then one probe per address. */
void row_round_start(row_state_t *rs);
/* Cancels the round in progress; its callbacks will not run. */
void row_round_abandon(row_state_t *rs);

/* Replaces a dns row's servers; see agent.c. */
int row_set_dns_servers(row_state_t *rs, const struct sockaddr_storage *addrs, size_t n, bool metrics);

/* agent-k8s.c: the Kubernetes API behind Service targets, "kubernetes:" DNS
 * servers and the NetworkPolicy audit. */
typedef struct k8s_service_watch {
        char *ref;                     /* "NS/NAME" */
        k8s_watch_t *watch;
} k8s_service_watch_t;

int agent_k8s_register_families(agent_t *a);
/* Makes sure the client and every watch `cfg` needs exist (before the plan
 * is swapped in; errors go to `errs`, nothing changes on failure). */
int agent_k8s_prepare(agent_t *a, const config_t *cfg, config_errors_t *errs);
/* The EndpointSlice watch behind a target, or NULL (not a Service target). */
k8s_watch_t *agent_k8s_service_watch(agent_t *a, const target_t *t);
/* After the swap: stops the watches the running config no longer needs. */
void agent_k8s_prune(agent_t *a);
/* Every watch the config needs has synced; *ret_waiting counts the others. */
bool agent_k8s_synced(const agent_t *a, size_t *ret_waiting);
/* The ready endpoints of a row's Service (port by name or number, with the
 * row's protocol), at most CONFIG_MAX_ADDRESSES. 0 with *ret_n 0 when none;
 * -EAGAIN before the first sync. */
int agent_k8s_endpoints(row_state_t *rs, struct sockaddr_storage *ret, size_t *ret_n);
void agent_k8s_free(agent_t *a);

/* agent-endpoints.c */
void agent_install_routes(agent_t *a, httpd_t *h);
/* Config loaded and every supported row finished a round; *ret_waiting = rows still waiting. */
bool agent_ready(const agent_t *a, size_t *ret_waiting);

/* agent-adhoc.c: /probe */
/* The /probe handler (userdata: the agent). */
void adhoc_handle_probe(const httpd_request_t *req, httpd_response_t *resp, void *userdata);
/* Answers the /probe request of a finished one-off round and frees it. */
void adhoc_finish(row_state_t *rs);
/* Ends every /probe in flight with 503 (reload, shutdown). */
void adhoc_cancel_all(agent_t *a, const char *why);
