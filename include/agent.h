/* The agent: one netcanary process. Owns the plan built from the config for
 * its identity, the scheduler, the probes in flight, the per-row results and
 * their metrics, the responder and the HTTP endpoints; reloads the config
 * (SIGHUP, file change) without ever dropping its last good one. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "loop.h"
#include "util.h"

typedef struct agent agent_t;

typedef struct agent_options {
        const char *config_path;     /* NULL = embedded default */
        const char *identity;        /* --identity, or NULL */
        const char *listen;          /* --listen, or NULL */
        const char *web_config;      /* --web-config: TLS and basic auth of the HTTP server, or NULL */
        const char *kubeconfig;      /* --kubeconfig: API server, CA and token files; NULL = in-cluster */
        bool once;                   /* one round of every row, no HTTP server, then stop */
} agent_options_t;

/* Takes ownership of `cfg`. In `once` mode the loop quits when the round is done. */
int agent_new(loop_t *loop, const agent_options_t *opts, config_t *cfg, agent_t **ret);
void agent_free(agent_t *a);

/* Re-reads the config file (and the web config); a bad one is refused
 * (logged, metric set to 0) and the running one is kept. Returns 0 when
 * applied or unchanged. */
int agent_reload(agent_t *a, const char *why);

/* The state of every row as JSON (the /api/v1/matrix document). */
int agent_matrix_json(agent_t *a, strbuf_t *out);

/* After a `once` round: counts of rows by result. */
typedef struct agent_summary {
        unsigned rows;
        unsigned met;
        unsigned mismatched;
        unsigned inconclusive; /* neither met nor mismatched (includes unsupported) */
} agent_summary_t;

void agent_summary(const agent_t *a, agent_summary_t *ret);
/* Human table / JUnit XML of the current state (used by `once`). */
int agent_report_table(agent_t *a, strbuf_t *out);
int agent_report_junit(agent_t *a, strbuf_t *out);

const char *agent_identity(const agent_t *a);
uint16_t agent_http_port(const agent_t *a);
