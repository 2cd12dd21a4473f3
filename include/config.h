/* The configuration contract (contract §2): parse, validate, expand per identity.
 *
 * Parsing never stops at the first problem: every error is collected with the
 * JSON path it concerns ("matrix[3].to: unknown target \"metrics-svc\""), so
 * `netcanary check` shows them all at once. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jsonreader.h"

/* Caps on what a config may ask for; each is proved by a test. */
#define CONFIG_MAX_FILE_BYTES (4u * 1024u * 1024u)
#define CONFIG_MAX_TARGETS 10000u
#define CONFIG_MAX_ROWS 10000u
#define CONFIG_MAX_ADDRESSES 64u    /* addresses probed per target and round */
#define CONFIG_MAX_NAME_LEN 253u
#define CONFIG_MAX_IN_FLIGHT 65536u
#define CONFIG_MAX_BUCKETS 40u

#define CONFIG_DEFAULT_LISTEN "0.0.0.0:9890"
#define CONFIG_DEFAULT_RESPONDER_PORT 9891
#define CONFIG_DEFAULT_INTERVAL_USEC (15 * 1000000ULL)
#define CONFIG_DEFAULT_TIMEOUT_USEC (2 * 1000000ULL)
#define CONFIG_DEFAULT_CONFIRM 2u
#define CONFIG_DEFAULT_MAX_IN_FLIGHT 256u

typedef enum proto {
        PROTO_TCP,
        PROTO_UDP,
        PROTO_HTTP,
        PROTO_DNS,
        _PROTO_MAX,
} proto_t;

const char *proto_name(proto_t p);

typedef enum expect {
        EXPECT_ALLOW,
        EXPECT_DENY,
        _EXPECT_MAX,
} expect_t;

const char *expect_name(expect_t e);

typedef struct net_spec {
        char *host;        /* name or literal IPv4/IPv6 address (no brackets); NULL with `service` */
        char *service;     /* "NS/NAME": every ready endpoint of that Service; NULL with `host` */
        uint16_t port;     /* 0 when `port_name` names the Service's port */
        char *port_name;   /* a port name of the Service's EndpointSlices, or NULL */
        bool each_address; /* probe every address the name resolves to (always, for a service) */
} net_spec_t;

typedef struct http_spec {
        char *url;
        char *method;              /* "GET" or "HEAD" */
        char **status;             /* accepted status: "200" or "2xx" forms; n_status entries */
        size_t n_status;
        char *body_regex;          /* NULL if none */
        char **headers;            /* "Name: value" lines; n_headers entries */
        size_t n_headers;
        char *ca_file;
        char *server_name;
        bool insecure_skip_verify;
        bool follow_redirects;
        uint64_t max_body_bytes;
} http_spec_t;

typedef struct dns_spec {
        char *name;
        char *type;                /* "A", "AAAA", "SRV", "CNAME", "TXT", "PTR", "MX", "NS", "SOA" */
        char *servers_mode;        /* "resolv.conf", "list" or "kubernetes" */
        char **servers;            /* for "list": "ip[:port]" strings; for "kubernetes": one "NS/NAME" */
        size_t n_servers;
        char *expect_rcode;        /* NULL = NOERROR */
        char **expect_addresses;
        size_t n_expect_addresses;
        bool via_search;
} dns_spec_t;

typedef struct target {
        char *name;
        proto_t proto;
        bool refused_means_allowed; /* "refused_means": "allowed" */
        net_spec_t net;             /* tcp, udp */
        http_spec_t http;           /* http */
        dns_spec_t dns;             /* dns */
} target_t;

typedef struct row {
        size_t index;               /* position in "matrix", for messages */
        char *from;                 /* identity or "*" */
        char *to;                   /* target name */
        const target_t *target;     /* resolved `to` */
        expect_t expect;
        uint64_t interval_usec;
        uint64_t timeout_usec;
        unsigned confirm;           /* consecutive agreeing rounds before the verdict flips */
} row_t;

typedef struct config {
        char *source;               /* file path, or "<embedded default>" */
        char *identity;             /* agent.identity; NULL = from environment */
        char *listen;               /* "ADDR:PORT" */
        uint16_t responder_port;    /* 0 = responder disabled */
        unsigned max_in_flight;     /* probe rounds running at once */
        uint64_t default_interval_usec;
        uint64_t default_timeout_usec;
        unsigned default_confirm;
        target_t *targets;
        size_t n_targets;
        row_t *rows;
        size_t n_rows;
        double *buckets;            /* probe duration histogram upper bounds, seconds, ascending */
        size_t n_buckets;
        bool per_row_histograms;    /* netcanary_probe_duration_seconds per row */
        bool kubernetes_audit;      /* "kubernetes": {"audit": true}: the NetworkPolicy audit */
        uint64_t content_hash;      /* FNV-1a of the source text, to skip no-op reloads */
} config_t;

/* Parses `text` (JSON with // and block comments). On success returns 0 and a
 * config in *ret; on any error returns -EINVAL with every problem in `errs`
 * (-ENOMEM on allocation failure). `source` names the input in messages. */
int config_parse(const char *text, size_t len, const char *source, config_t **ret, config_errors_t *errs);
/* Reads and parses a file; a missing/unreadable file, a directory or a file
 * over CONFIG_MAX_FILE_BYTES is one clear error. */
int config_load_file(const char *path, config_t **ret, config_errors_t *errs);
/* The embedded default config: responder self-check on loopback (TCP and UDP,
 * IPv4 and IPv6), DNS latency of every resolv.conf nameserver (the root NS
 * set; kubernetes.default.svc.cluster.local A in a cluster), an HTTP
 * self-check of its own /healthz (on 9890; see config_default_set_listen()) and, when
 * `kubernetes_host` is non-NULL, TCP to the API server Service at
 * kubernetes_host:kubernetes_port. */
int config_default(const char *kubernetes_host, const char *kubernetes_port, config_t **ret,
                   config_errors_t *errs);
/* Points the embedded default's HTTP self-check (target "self-http") at the
 * address the daemon listens on ("--listen"; a wildcard means loopback). */
int config_default_set_listen(config_t *cfg, const char *listen);
void config_free(config_t *cfg);

/* The rows this identity runs: a row whose `from` equals `identity` wins over a
 * "*" row with the same `to`. Returns the count; *ret is a new array of
 * pointers into cfg (caller frees the array only). -ENOMEM on failure. */
int config_plan(const config_t *cfg, const char *identity, const row_t ***ret);

/* Every distinct identity named in `from` (without "*"), sorted; caller frees
 * the array only. Returns the count or -ENOMEM. */
int config_identities(const config_t *cfg, const char ***ret);

/* Whether the config needs the Kubernetes API: Service targets, DNS servers
 * from a Service, or the audit. */
bool config_needs_kubernetes(const config_t *cfg);

/* Kubernetes-style name: 1..253 of [A-Za-z0-9._-]. */
bool config_name_valid(const char *s);
/* The identity the agent uses: `cli` if set, else cfg->identity, else
 * $NETCANARY_IDENTITY, else $POD_NAMESPACE, else "local". */
const char *config_effective_identity(const config_t *cfg, const char *cli);
