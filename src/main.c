/* netcanary: command line (contract §3). */
#include <ares.h>
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <json.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "agent.h"
#include "cli-policy.h"
#include "build-config.h"
#include "config.h"
#include "log.h"
#include "probe.h"
#include "loop.h"
#include "util.h"

/* Exit codes of the contract. */
#define EXIT_MET 0
#define EXIT_MISMATCH 1
#define EXIT_ERROR 2

typedef enum command {
        CMD_RUN,
        CMD_CHECK,
        CMD_ONCE,
} command_t;

typedef enum report_format {
        FORMAT_TABLE,
        FORMAT_JSON,
        FORMAT_JUNIT,
} report_format_t;

typedef struct cli {
        command_t command;
        const char *config_path;
        const char *listen;
        const char *identity;
        const char *web_config;
        const char *kubeconfig;
        report_format_t format;
        log_level_t log_level;
        log_format_t log_format;
} cli_t;

static void print_help(FILE *f) {
        fputs("Usage:\n"
              "  netcanary [run] [--config FILE] [--listen ADDR:PORT] [--identity NAME]\n"
              "                  [--log-level debug|info|warn|error] [--log-format logfmt|json]\n"
              "                  [--web-config FILE]   TLS and basic auth of the HTTP server\n"
              "                  [--kubeconfig FILE]   Kubernetes API outside a cluster: {\"server\", \"ca_file\",\n"
              "                                        \"token_file\"} (in a cluster: the service account)\n"
              "  netcanary check --config FILE     validate; print the expanded plan; exit 0, or 2 with errors\n"
              "  netcanary once  --config FILE [--identity NAME] [--format table|json|junit]\n"
              "                                    one round of this agent's rows; exit 0 all met,\n"
              "                                    1 any row not met, 2 error\n"
              "  netcanary policy matrix|explain ...  what the NetworkPolicies of a cluster imply\n"
              "                                    ('netcanary policy --help')\n"
              "  netcanary --version | --help\n"
              "\n"
              "Without --config, run uses the embedded default: a loopback self-check of the\n"
              "responder (TCP and UDP, IPv4 and IPv6) and of its own /healthz (HTTP), DNS latency\n"
              "of every resolv.conf nameserver and, in a cluster, TCP to the API server.\n"
              "SIGHUP or a change of the config file reloads it; a bad config is refused and the\n"
              "running one kept. Metrics on http://ADDR:PORT/metrics (default 0.0.0.0:9890).\n",
              f);
}

static void print_version(void) {
        printf("netcanary %s (c-ares %s, libcurl %s, libmicrohttpd %s, json-c %s, zlib %s)\n", NETCANARY_VERSION,
               ares_version(NULL), curl_version_info(CURLVERSION_NOW)->version, MHD_get_version(),
               json_c_version(), zlibVersion());
}

static int usage_error(const char *fmt, const char *arg) __attribute__((format(printf, 1, 0)));
static int usage_error(const char *fmt, const char *arg) {
        fprintf(stderr, "netcanary: ");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        fprintf(stderr, fmt, arg);
#pragma GCC diagnostic pop
        fprintf(stderr, "\nTry 'netcanary --help'.\n");
        return -EINVAL;
}

/* Returns 0, 1 when the program should exit 0 at once (--help, --version), or -EINVAL. */
static int parse_cli(int argc, char **argv, cli_t *cli) {
        enum { OPT_LOG_LEVEL = 256, OPT_LOG_FORMAT, OPT_WEB_CONFIG, OPT_KUBECONFIG };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "listen", required_argument, NULL, 'l' },
                { "identity", required_argument, NULL, 'i' },
                { "format", required_argument, NULL, 'f' },
                { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
                { "log-format", required_argument, NULL, OPT_LOG_FORMAT },
                { "web-config", required_argument, NULL, OPT_WEB_CONFIG },
                { "kubeconfig", required_argument, NULL, OPT_KUBECONFIG },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { NULL, 0, NULL, 0 },
        };
        *cli = (cli_t) { .command = CMD_RUN, .log_level = LOG_INFO, .log_format = LOG_FORMAT_LOGFMT };
        int first = 1;
        if (argc > 1 && argv[1][0] != '-') {
                if (strcmp(argv[1], "run") == 0)
                        cli->command = CMD_RUN;
                else if (strcmp(argv[1], "check") == 0)
                        cli->command = CMD_CHECK;
                else if (strcmp(argv[1], "once") == 0)
                        cli->command = CMD_ONCE;
                else
                        return usage_error("unknown command '%s' (run, check, once, policy)", argv[1]);
                first = 2;
        }
        optind = first;
        opterr = 0;
        int c;
        while ((c = getopt_long(argc, argv, ":c:l:i:f:hV", options, NULL)) >= 0) {
                switch (c) {
                case 'c': cli->config_path = optarg; break;
                case 'l': cli->listen = optarg; break;
                case 'i': cli->identity = optarg; break;
                case 'f':
                        if (strcmp(optarg, "table") == 0)
                                cli->format = FORMAT_TABLE;
                        else if (strcmp(optarg, "json") == 0)
                                cli->format = FORMAT_JSON;
                        else if (strcmp(optarg, "junit") == 0)
                                cli->format = FORMAT_JUNIT;
                        else
                                return usage_error("--format: want table, json or junit, got '%s'", optarg);
                        break;
                case OPT_LOG_LEVEL:
                        if (log_level_from_string(optarg, &cli->log_level) < 0)
                                return usage_error("--log-level: want debug, info, warn or error, got '%s'", optarg);
                        break;
                case OPT_LOG_FORMAT:
                        if (log_format_from_string(optarg, &cli->log_format) < 0)
                                return usage_error("--log-format: want logfmt or json, got '%s'", optarg);
                        break;
                case OPT_WEB_CONFIG: cli->web_config = optarg; break;
                case OPT_KUBECONFIG: cli->kubeconfig = optarg; break;
                case 'h': print_help(stdout); return 1;
                case 'V': print_version(); return 1;
                case ':': return usage_error("option '%s' needs a value", argv[optind - 1]);
                default: return usage_error("unknown option '%s'", argv[optind - 1]);
                }
        }
        if (optind < argc)
                return usage_error("unexpected argument '%s'", argv[optind]);
        if ((cli->command == CMD_CHECK || cli->command == CMD_ONCE) && !cli->config_path)
                return usage_error("%s needs --config FILE", cli->command == CMD_CHECK ? "check" : "once");
        if (cli->web_config && cli->command != CMD_RUN)
                return usage_error("%s", "--web-config only applies to 'run'");
        if (cli->command != CMD_ONCE && cli->format != FORMAT_TABLE)
                return usage_error("%s", "--format only applies to 'once'");
        if (cli->identity && !config_name_valid(cli->identity))
                return usage_error("--identity: invalid name '%s' (1-253 letters, digits, '.', '_', '-')",
                                   cli->identity);
        if (cli->listen) {
                config_errors_t errs;
                config_t *probe_cfg = NULL;
                config_errors_init(&errs);
                /* Validate through the same parser as agent.listen. */
                char *json = NULL;
                strbuf_t sb;
                sb_init(&sb, 0);
                sb_puts(&sb, "{\"agent\":{\"listen\":");
                sb_put_json_string(&sb, cli->listen);
                sb_puts(&sb, "},\"targets\":{},\"matrix\":[]}");
                json = sb.data;
                int r = json ? config_parse(json, sb.len, "--listen", &probe_cfg, &errs) : -ENOMEM;
                config_free(probe_cfg);
                config_errors_free(&errs);
                sb_free(&sb);
                if (r < 0)
                        return usage_error("--listen: invalid address '%s' (want ADDR:PORT)", cli->listen);
        }
        return 0;
}

static void print_errors(const config_errors_t *errs) {
        for (size_t i = 0; i < errs->n; i++)
                fprintf(stderr, "error: %s\n", errs->messages[i]);
        if (errs->n_dropped)
                fprintf(stderr, "error: ... and %zu more errors\n", errs->n_dropped);
}

static int load_config(const cli_t *cli, config_t **ret) {
        config_errors_t errs;
        config_errors_init(&errs);
        int r = cli->config_path
                        ? config_load_file(cli->config_path, ret, &errs)
                        : config_default(getenv("KUBERNETES_SERVICE_HOST"), getenv("KUBERNETES_SERVICE_PORT"), ret,
                                         &errs);
        if (r >= 0 && !cli->config_path) {
                r = config_default_set_listen(*ret, cli->listen ? cli->listen : CONFIG_DEFAULT_LISTEN);
                if (r < 0)
                        config_free(*ret);
        }
        if (r < 0) {
                print_errors(&errs);
                if (errs.n == 0)
                        fprintf(stderr, "error: %s: %s\n", cli->config_path ? cli->config_path : "<embedded default>",
                                strerror(-r));
        }
        config_errors_free(&errs);
        return r;
}

static void describe_target(const target_t *t, char *buf, size_t size) {
        switch (t->proto) {
        case PROTO_TCP:
        case PROTO_UDP:
                if (t->net.service && t->net.port_name)
                        snprintf(buf, size, "%s service %s port %s (every ready endpoint)", proto_name(t->proto),
                                 t->net.service, t->net.port_name);
                else if (t->net.service)
                        snprintf(buf, size, "%s service %s port %u (every ready endpoint)", proto_name(t->proto),
                                 t->net.service, t->net.port);
                else
                        snprintf(buf, size, "%s %s%s%s:%u%s", proto_name(t->proto), strchr(t->net.host, ':') ? "[" : "",
                                 t->net.host, strchr(t->net.host, ':') ? "]" : "", t->net.port,
                                 t->net.each_address ? " (each address)" : "");
                break;
        case PROTO_HTTP:
                snprintf(buf, size, "http %s %s", t->http.method, t->http.url);
                break;
        case PROTO_DNS:
                snprintf(buf, size, "dns %s %s via %s", t->dns.type, t->dns.name, t->dns.servers_mode);
                break;
        default:
                snprintf(buf, size, "?");
        }
}

static int cmd_check(const cli_t *cli) {
        config_t *cfg;
        if (load_config(cli, &cfg) < 0)
                return EXIT_ERROR;
        const char **ids = NULL;
        int n_ids = config_identities(cfg, &ids);
        if (n_ids < 0) {
                fprintf(stderr, "error: %s\n", strerror(-n_ids));
                config_free(cfg);
                return EXIT_ERROR;
        }
        printf("%s: valid; %zu targets, %zu rows\n", cfg->source, cfg->n_targets, cfg->n_rows);
        /* One section per identity named in the matrix, then what any other identity runs. */
        int unsupported = 0;
        for (int k = 0; k <= n_ids; k++) {
                const char *id = k < n_ids ? ids[k] : cli->identity ? cli->identity : "*";
                if (k == n_ids && cli->identity)
                        for (int j = 0; j < n_ids; j++)
                                if (strcmp(ids[j], cli->identity) == 0)
                                        id = NULL;
                if (!id)
                        break;
                const row_t **plan;
                int n = config_plan(cfg, id, &plan);
                if (n < 0) {
                        fprintf(stderr, "error: %s\n", strerror(-n));
                        free(ids);
                        config_free(cfg);
                        return EXIT_ERROR;
                }
                printf("\nidentity %s%s: %d rows\n", id,
                       strcmp(id, "*") == 0 ? " (any identity not named above)" : "", n);
                for (int i = 0; i < n; i++) {
                        const row_t *row = plan[i];
                        char target[512], interval[32], timeout[32];
                        describe_target(row->target, target, sizeof target);
                        duration_format(row->interval_usec, interval, sizeof interval);
                        duration_format(row->timeout_usec, timeout, sizeof timeout);
                        bool supported = probe_supported(row->target->proto);
                        if (!supported)
                                unsupported++;
                        char where[32];
                        snprintf(where, sizeof where, "matrix[%zu]", row->index);
                        printf("  %-12s %-5s %-24s %s  every %s, timeout %s, confirm %u%s\n", where,
                               expect_name(row->expect), row->to, target, interval, timeout, row->confirm,
                               supported ? "" : "  [not probed: not supported by this build yet]");
                }
                free(plan);
        }
        free(ids);
        if (unsupported > 0)
                printf("\nnote: some protocols are not in this build; their rows are reported as "
                       "unsupported and never count as met.\n");
        config_free(cfg);
        return EXIT_MET;
}

static loop_t *signal_loop;

static void on_stop_signal(loop_t *loop, int signo, void *userdata) {
        log_event(LOG_INFO, "shutting down", "signal", signo == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
        loop_quit(loop);
}

static void on_hup(loop_t *loop, int signo, void *userdata) {
        agent_reload(userdata, "SIGHUP");
}

static int cmd_run(const cli_t *cli) {
        config_t *cfg;
        if (load_config(cli, &cfg) < 0)
                return EXIT_ERROR;
        loop_t *loop;
        if (loop_new(&loop) < 0) {
                config_free(cfg);
                fprintf(stderr, "error: cannot create the event loop\n");
                return EXIT_ERROR;
        }
        signal_loop = loop;
        agent_options_t opts = {
                .config_path = cli->config_path,
                .identity = cli->identity,
                .listen = cli->listen,
                .web_config = cli->web_config,
                .kubeconfig = cli->kubeconfig,
                .once = cli->command == CMD_ONCE,
        };
        agent_t *agent;
        int r = agent_new(loop, &opts, cfg, &agent);
        if (r < 0) {
                /* agent_new() logs config problems itself; say something for the rest (out of memory, ...). */
                fprintf(stderr, "error: cannot start: %s\n", strerror(-r));
                loop_free(loop);
                return EXIT_ERROR;
        }
        if (cli->command == CMD_RUN) {
                if (loop_signal_add(loop, SIGTERM, on_stop_signal, agent) < 0 ||
                    loop_signal_add(loop, SIGINT, on_stop_signal, agent) < 0 ||
                    loop_signal_add(loop, SIGHUP, on_hup, agent) < 0) {
                        log_event(LOG_ERROR, "cannot set up signal handling", NULL);
                        agent_free(agent);
                        loop_free(loop);
                        return EXIT_ERROR;
                }
        }
        r = loop_run(loop);
        if (r < 0)
                log_event(LOG_ERROR, "event loop failed", "error", strerror(-r), NULL);

        int code = r < 0 ? EXIT_ERROR : EXIT_MET;
        if (cli->command == CMD_ONCE && r >= 0) {
                strbuf_t out;
                sb_init(&out, 0);
                int rr;
                if (cli->format == FORMAT_JSON)
                        rr = agent_matrix_json(agent, &out);
                else if (cli->format == FORMAT_JUNIT)
                        rr = agent_report_junit(agent, &out);
                else
                        rr = agent_report_table(agent, &out);
                agent_summary_t sum;
                agent_summary(agent, &sum);
                code = sum.met == sum.rows ? EXIT_MET : EXIT_MISMATCH;
                if (rr < 0 || out.oom) {
                        fprintf(stderr, "error: cannot build the report: %s\n", strerror(rr < 0 ? -rr : ENOMEM));
                        code = EXIT_ERROR;
                } else if (out.data)
                        fwrite(out.data, 1, out.len, stdout);
                sb_free(&out);
        }
        agent_free(agent);
        loop_free(loop);
        return code;
}

int main(int argc, char **argv) {
        if (argc > 1 && strcmp(argv[1], "policy") == 0)
                return cli_policy(argc - 1, argv + 1);
        cli_t cli;
        int r = parse_cli(argc, argv, &cli);
        if (r < 0)
                return EXIT_ERROR;
        if (r > 0)
                return EXIT_MET;
        log_setup(cli.log_level, cli.log_format);
        signal(SIGPIPE, SIG_IGN);
        if (cli.command == CMD_CHECK)
                return cmd_check(&cli);
        return cmd_run(&cli);
}
