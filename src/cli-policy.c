/* `netcanary policy matrix|explain` (contract §11): reads Kubernetes objects
 * from JSON files, builds a netpol cluster and prints verdicts. */
#include "cli-policy.h"

#include <errno.h>
#include <getopt.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netpol.h"
#include "util.h"
#include "yamljson.h"

#define EXIT_ALLOWED 0
#define EXIT_DENIED 1
#define EXIT_ERROR 2

/* Caps of the command line: files, and bytes per file (a `kubectl get -o
 * json` of 100,000 pods is a few hundred MiB). */
#define POLICY_MAX_FILES 256
#define POLICY_MAX_FILE_BYTES (1024u * 1024 * 1024)
#define POLICY_JSON_DEPTH (64 + 1) /* json-c counts one more: 64 levels of nesting */
/* Matrix output is flushed in chunks of this many bytes. */
#define FLUSH_BYTES (256 * 1024)

typedef enum policy_cmd {
        POLICY_MATRIX,
        POLICY_EXPLAIN,
} policy_cmd_t;

typedef struct policy_cli {
        policy_cmd_t cmd;
        const char *files[POLICY_MAX_FILES];
        size_t n_files;
        long port;                 /* 0 = not given */
        const char *protocol;
        bool json;
        const char *from, *to;
} policy_cli_t;

static void policy_help(FILE *f) {
        fputs("Usage:\n"
              "  netcanary policy matrix  --objects FILE [--objects FILE ...] --port N --protocol TCP|UDP|SCTP\n"
              "                           [--format table|json]\n"
              "      what the NetworkPolicies imply for every ordered pair of pods (a pod to itself too)\n"
              "  netcanary policy explain --objects FILE [...] --from NS/POD --to NS/POD --port N --protocol P\n"
              "      the verdict and the policies and rules behind it; exit 0 allowed, 1 denied\n"
              "\n"
              "FILE: Kubernetes objects as JSON, one object or a List (kubectl get ns,pods,netpol -A -o json),\n"
              "or as YAML (one or more documents) when this build has libyaml.\n"
              "Exit status 2 on a usage error or a bad object (the message names file, object and field).\n",
              f);
}

static int policy_usage(const char *fmt, const char *arg) __attribute__((format(printf, 1, 0)));
static int policy_usage(const char *fmt, const char *arg) {
        fprintf(stderr, "netcanary policy: ");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        fprintf(stderr, fmt, arg);
#pragma GCC diagnostic pop
        fprintf(stderr, "\nTry 'netcanary policy --help'.\n");
        return -EINVAL;
}

/* 0, 1 for --help (exit 0), -EINVAL. */
static int parse_policy_cli(int argc, char **argv, policy_cli_t *cli) {
        enum { OPT_OBJECTS = 256, OPT_PORT, OPT_PROTOCOL, OPT_FORMAT, OPT_FROM, OPT_TO };
        static const struct option options[] = {
                { "objects", required_argument, NULL, OPT_OBJECTS },
                { "port", required_argument, NULL, OPT_PORT },
                { "protocol", required_argument, NULL, OPT_PROTOCOL },
                { "format", required_argument, NULL, OPT_FORMAT },
                { "from", required_argument, NULL, OPT_FROM },
                { "to", required_argument, NULL, OPT_TO },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        *cli = (policy_cli_t) { 0 };
        if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                if (argc < 2)
                        return policy_usage("%s", "needs a command: matrix or explain");
                policy_help(stdout);
                return 1;
        }
        if (strcmp(argv[1], "matrix") == 0)
                cli->cmd = POLICY_MATRIX;
        else if (strcmp(argv[1], "explain") == 0)
                cli->cmd = POLICY_EXPLAIN;
        else
                return policy_usage("unknown command '%s' (matrix, explain)", argv[1]);
        const char *format = NULL;
        optind = 2;
        opterr = 0;
        int c;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
                switch (c) {
                case OPT_OBJECTS:
                        if (cli->n_files == POLICY_MAX_FILES)
                                return policy_usage("more than %s --objects files", "256");
                        cli->files[cli->n_files++] = optarg;
                        break;
                case OPT_PORT: {
                        char *end;
                        errno = 0;
                        long v = strtol(optarg, &end, 10);
                        if (errno || end == optarg || *end || v < 1 || v > 65535)
                                return policy_usage("--port: want 1-65535, got '%s'", optarg);
                        cli->port = v;
                        break;
                }
                case OPT_PROTOCOL: cli->protocol = optarg; break;
                case OPT_FORMAT: format = optarg; break;
                case OPT_FROM: cli->from = optarg; break;
                case OPT_TO: cli->to = optarg; break;
                case 'h': policy_help(stdout); return 1;
                case ':': return policy_usage("option '%s' needs a value", argv[optind - 1]);
                default: return policy_usage("unknown option '%s'", argv[optind - 1]);
                }
        }
        if (optind < argc)
                return policy_usage("unexpected argument '%s'", argv[optind]);
        if (cli->n_files == 0)
                return policy_usage("%s", "needs --objects FILE");
        if (cli->port == 0)
                return policy_usage("%s", "needs --port N");
        netpol_proto_t proto;
        if (!cli->protocol)
                return policy_usage("%s", "needs --protocol TCP|UDP|SCTP");
        if (netpol_proto_from_string(cli->protocol, &proto) < 0)
                return policy_usage("--protocol: want TCP, UDP or SCTP, got '%s'", cli->protocol);
        if (format && cli->cmd != POLICY_MATRIX)
                return policy_usage("%s", "--format only applies to 'matrix'");
        if (format && strcmp(format, "json") == 0)
                cli->json = true;
        else if (format && strcmp(format, "table") != 0)
                return policy_usage("--format: want table or json, got '%s'", format);
        if (cli->cmd == POLICY_MATRIX && (cli->from || cli->to))
                return policy_usage("%s", "--from and --to only apply to 'explain'");
        if (cli->cmd == POLICY_EXPLAIN && (!cli->from || !cli->to))
                return policy_usage("%s", "explain needs --from NS/POD and --to NS/POD");
        return 0;
}

/* The input documents of all files; names are owned for YAML documents. */
typedef struct inputs {
        netpol_document_t *docs;
        char **owned_names;     /* parallel to docs; NULL for a file name from argv */
        size_t n, alloc;
} inputs_t;

static int inputs_add(inputs_t *in, const char *name, char *owned_name, struct json_object *root) {
        if (in->n == in->alloc) {
                size_t na = in->alloc ? in->alloc * 2 : 8;
                netpol_document_t *nd = realloc(in->docs, na * sizeof *nd);
                if (!nd)
                        return -ENOMEM;
                in->docs = nd;
                char **nn = realloc(in->owned_names, na * sizeof *nn);
                if (!nn)
                        return -ENOMEM;
                in->owned_names = nn;
                in->alloc = na;
        }
        in->docs[in->n] = (netpol_document_t) { .name = owned_name ? owned_name : name, .root = root };
        in->owned_names[in->n] = owned_name;
        in->n++;
        return 0;
}

static void inputs_free(inputs_t *in) {
        for (size_t i = 0; i < in->n; i++) {
                json_object_put(in->docs[i].root);
                free(in->owned_names[i]);
        }
        free(in->docs);
        free(in->owned_names);
}

static int parse_json_text(const char *path, const char *text, size_t len, inputs_t *in) {
        json_tokener *tok = json_tokener_new_ex(POLICY_JSON_DEPTH);
        if (!tok) {
                fprintf(stderr, "error: %s: out of memory\n", path);
                return -ENOMEM;
        }
        struct json_object *root = json_tokener_parse_ex(tok, text, (int) len + 1);
        enum json_tokener_error e = json_tokener_get_error(tok);
        size_t end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        int r = -EINVAL;
        if (e != json_tokener_success)
                fprintf(stderr, "error: %s: not JSON (byte %zu: %s)\n", path, end, json_tokener_error_desc(e));
        else if (end < len && strspn(text + end, " \t\r\n") != len - end)
                fprintf(stderr, "error: %s: trailing data after the JSON value (byte %zu)\n", path, end);
        else if (!root)
                fprintf(stderr, "error: %s: not a JSON object\n", path);
        else {
                r = inputs_add(in, path, NULL, root);
                if (r < 0)
                        fprintf(stderr, "error: %s: out of memory\n", path);
                else
                        root = NULL;
        }
        json_object_put(root);
        return r;
}

static int parse_yaml_text(const char *path, const char *text, size_t len, inputs_t *in) {
        yamljson_doc_t *docs = NULL;
        strbuf_t err;
        sb_init(&err, 0);
        int n = yamljson_parse(text, len, 0, &docs, &err);
        if (n < 0) {
                if (n == -EOPNOTSUPP)
                        fprintf(stderr, "error: %s: not JSON, and %s\n", path, err.data ? err.data : "no YAML");
                else
                        fprintf(stderr, "error: %s: not YAML: %s\n", path, err.data ? err.data : strerror(-n));
                sb_free(&err);
                return n;
        }
        sb_free(&err);
        int r = 0;
        for (int i = 0; i < n; i++) {
                char *name = NULL;
                if (r >= 0 && asprintf(&name, "%s (document %zu, line %zu)", path, docs[i].number, docs[i].line) < 0) {
                        name = NULL;
                        r = -ENOMEM;
                }
                if (r >= 0)
                        r = inputs_add(in, NULL, name, docs[i].root);
                if (r >= 0)
                        docs[i].root = NULL;
                else
                        free(name);
        }
        yamljson_docs_free(docs, (size_t) n);
        if (r < 0)
                fprintf(stderr, "error: %s: out of memory\n", path);
        return r;
}

/* Reads one file into `in`: JSON when its first non-blank byte is { or [,
 * else YAML (one or more documents). On failure prints why. */
static int load_file(const char *path, inputs_t *in) {
        FILE *f = fopen(path, "re");
        if (!f) {
                fprintf(stderr, "error: %s: %s\n", path, strerror(errno));
                return -errno;
        }
        strbuf_t sb;
        sb_init(&sb, POLICY_MAX_FILE_BYTES);
        char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0 && !sb.oom)
                sb_append(&sb, buf, n);
        bool read_error = ferror(f);
        fclose(f);
        int r = -EINVAL;
        const char *text = sb.data ? sb.data : "";
        size_t skip = strspn(text, " \t\r\n");
        if (read_error)
                fprintf(stderr, "error: %s: read error\n", path);
        else if (sb.oom)
                fprintf(stderr, "error: %s: larger than %u bytes (the cap), or out of memory\n", path,
                        POLICY_MAX_FILE_BYTES);
        else if (sb.len > INT32_MAX)
                fprintf(stderr, "error: %s: too large for the JSON parser\n", path);
        else if (skip == sb.len || text[skip] == '{' || text[skip] == '[')
                r = parse_json_text(path, text, sb.len, in);
        else
                r = parse_yaml_text(path, text, sb.len, in);
        sb_free(&sb);
        return r;
}

/* A name as given; for terminal text (`text`), control characters become '?'
 * so that a crafted object cannot drive the terminal. One byte each way. */
static void put_name(strbuf_t *sb, const char *s, bool text) {
        if (!text) {
                sb_puts(sb, s);
                return;
        }
        for (; *s; s++)
                sb_putc(sb, (unsigned char) *s < 0x20 || *s == 0x7f ? '?' : *s);
}

/* "NAMESPACE/NAME"; `text`: for a terminal (put_name()). */
static void put_ns_name(strbuf_t *sb, const char *ns, const char *name, bool text) {
        put_name(sb, ns, text);
        sb_putc(sb, '/');
        put_name(sb, name, text);
}

static void put_pod(strbuf_t *sb, const netpol_cluster_t *c, size_t pod, bool text) {
        put_ns_name(sb, netpol_pod_namespace(c, pod), netpol_pod_name(c, pod), text);
}

/* "NAMESPACE/NAME" as a JSON string. */
static void json_ns_name(strbuf_t *sb, const char *ns, const char *name) {
        strbuf_t t;
        sb_init(&t, 0);
        put_ns_name(&t, ns, name, false);
        sb_put_json_string(sb, t.data ? t.data : "");
        sb_free(&t);
}

static void put_policy(strbuf_t *sb, const netpol_cluster_t *c, size_t pol, bool text) {
        put_ns_name(sb, netpol_policy_namespace(c, pol), netpol_policy_name(c, pol), text);
}

static void json_pod(strbuf_t *sb, const netpol_cluster_t *c, size_t pod) {
        json_ns_name(sb, netpol_pod_namespace(c, pod), netpol_pod_name(c, pod));
}

static void json_policy(strbuf_t *sb, const netpol_cluster_t *c, size_t pol) {
        json_ns_name(sb, netpol_policy_namespace(c, pol), netpol_policy_name(c, pol));
}

/* {"pod": ..., "isolated": bool, "policies": [...], "allowed_by": [{"policy", "rule"}]} */
static void json_side(strbuf_t *sb, const netpol_cluster_t *c, size_t pod, const netpol_side_t *s) {
        sb_puts(sb, "{\"pod\":");
        json_pod(sb, c, pod);
        if (netpol_pod_host_network(c, pod))
                sb_puts(sb, ",\"host_network\":true");
        sb_printf(sb, ",\"isolated\":%s,\"allowed\":%s,\"policies\":[", s->isolated ? "true" : "false",
                  s->allowed ? "true" : "false");
        for (size_t i = 0; i < s->n_isolating; i++) {
                if (i)
                        sb_putc(sb, ',');
                json_policy(sb, c, s->isolating[i]);
        }
        sb_puts(sb, "],\"allowed_by\":[");
        for (size_t i = 0; i < s->n_allowing; i++) {
                sb_puts(sb, i ? ",{\"policy\":" : "{\"policy\":");
                json_policy(sb, c, s->allowing[i].policy);
                sb_printf(sb, ",\"rule\":%zu}", s->allowing[i].rule);
        }
        sb_puts(sb, "]}");
}

static int flush(strbuf_t *sb) {
        if (sb->oom)
                return -ENOMEM;
        if (sb->len && fwrite(sb->data, 1, sb->len, stdout) != sb->len)
                return -EIO;
        sb_reset(sb);
        return 0;
}

static int print_matrix_json(const netpol_cluster_t *c, uint16_t port, netpol_proto_t proto) {
        size_t n = netpol_pod_count(c);
        netpol_verdict_t v = { 0 };
        strbuf_t sb;
        sb_init(&sb, 0);
        int r = 0;
        sb_puts(&sb, "{\"rows\":[");
        for (size_t i = 0; i < n && r >= 0; i++)
                for (size_t j = 0; j < n && r >= 0; j++) {
                        r = netpol_evaluate(c, i, j, port, proto, &v);
                        if (r < 0)
                                break;
                        sb_puts(&sb, i || j ? ",\n{\"from\":" : "\n{\"from\":");
                        json_pod(&sb, c, i);
                        sb_puts(&sb, ",\"to\":");
                        json_pod(&sb, c, j);
                        sb_printf(&sb, ",\"port\":%u,\"protocol\":\"%s\",\"verdict\":\"%s\",\"reason\":{\"egress\":",
                                  port, netpol_proto_name(proto), v.allowed ? "allow" : "deny");
                        json_side(&sb, c, i, &v.side[K8S_EGRESS]);
                        sb_puts(&sb, ",\"ingress\":");
                        json_side(&sb, c, j, &v.side[K8S_INGRESS]);
                        sb_puts(&sb, "}}");
                        if (sb.len >= FLUSH_BYTES)
                                r = flush(&sb);
                }
        if (r >= 0) {
                sb_puts(&sb, "\n]}\n");
                r = flush(&sb);
        }
        netpol_verdict_done(&v);
        sb_free(&sb);
        return r;
}

static size_t digits(size_t n) {
        size_t d = 1;
        while (n >= 10) {
                n /= 10;
                d++;
        }
        return d;
}

/* Rows = from, columns = to (numbered like the rows), '.' allow, 'X' deny. */
static int print_matrix_table(const netpol_cluster_t *c, uint16_t port, netpol_proto_t proto) {
        size_t n = netpol_pod_count(c), width = 0, w = digits(n);
        for (size_t i = 0; i < n; i++) {
                size_t l = strlen(netpol_pod_namespace(c, i)) + 1 + strlen(netpol_pod_name(c, i));
                if (l > width)
                        width = l;
        }
        netpol_verdict_t v = { 0 };
        strbuf_t sb;
        sb_init(&sb, 0);
        int r = 0;
        size_t allowed = 0;
        sb_printf(&sb, "policy matrix, port %u/%s: %zu pods, %zu policies; rows: from, columns: to\n", port,
                  netpol_proto_name(proto), n, netpol_policy_count(c));
        if (n > 0) {
                sb_printf(&sb, "%*s", (int) (w + 2 + width), "");
                for (size_t j = 0; j < n; j++)
                        sb_printf(&sb, " %*zu", (int) w, j + 1);
                sb_putc(&sb, '\n');
        }
        for (size_t i = 0; i < n && r >= 0; i++) {
                size_t start = sb.len;
                sb_printf(&sb, "%*zu  ", (int) w, i + 1);
                put_pod(&sb, c, i, true);
                sb_printf(&sb, "%*s", (int) (width - (sb.len - start - w - 2)), "");
                for (size_t j = 0; j < n && r >= 0; j++) {
                        r = netpol_evaluate(c, i, j, port, proto, &v);
                        if (r < 0)
                                break;
                        allowed += v.allowed;
                        sb_printf(&sb, " %*s", (int) w, v.allowed ? "." : "X");
                }
                sb_putc(&sb, '\n');
                if (r >= 0 && sb.len >= FLUSH_BYTES)
                        r = flush(&sb);
        }
        if (r >= 0) {
                sb_printf(&sb, "legend: . allowed, X denied (row pod -> column pod); %zu of %zu pairs allowed\n",
                          allowed, n * n);
                r = flush(&sb);
        }
        netpol_verdict_done(&v);
        sb_free(&sb);
        return r;
}

static void explain_side(strbuf_t *sb, const netpol_cluster_t *c, k8s_direction_t dir, size_t pod,
                         const netpol_side_t *s) {
        sb_puts(sb, dir == K8S_EGRESS ? "  egress from " : "  ingress to ");
        put_pod(sb, c, pod, true);
        sb_printf(sb, ": %s", s->allowed ? "allowed" : "denied");
        if (!s->isolated) {
                if (netpol_pod_host_network(c, pod))
                        sb_puts(sb, " (hostNetwork pod: policies do not apply to it)\n");
                else
                        sb_printf(sb, " (no policy selects it for %s)\n", k8s_direction_name(dir));
                return;
        }
        sb_puts(sb, "\n    isolated by:");
        for (size_t i = 0; i < s->n_isolating; i++) {
                sb_puts(sb, i ? ", " : " ");
                put_policy(sb, c, s->isolating[i], true);
        }
        sb_puts(sb, "\n    allowed by: ");
        if (s->n_allowing == 0)
                sb_printf(sb, "no %s rule of these policies allows it\n", k8s_direction_name(dir));
        for (size_t i = 0; i < s->n_allowing; i++) {
                sb_puts(sb, i ? ", " : "");
                put_policy(sb, c, s->allowing[i].policy, true);
                sb_printf(sb, " %s[%zu]", k8s_direction_name(dir), s->allowing[i].rule);
        }
        if (s->n_allowing)
                sb_putc(sb, '\n');
}

/* "NS/POD" -> pod number; prints the error. */
static int find_pod(const netpol_cluster_t *c, const char *opt, const char *ref, size_t *ret) {
        const char *slash = strchr(ref, '/');
        if (!slash || slash == ref || !slash[1] || strchr(slash + 1, '/')) {
                fprintf(stderr, "netcanary policy: %s: want NS/POD, got '%s'\nTry 'netcanary policy --help'.\n", opt,
                        ref);
                return -EINVAL;
        }
        char *ns = strndup(ref, (size_t) (slash - ref));
        if (!ns)
                return -ENOMEM;
        int r = netpol_pod_find(c, ns, slash + 1, ret);
        free(ns);
        if (r < 0)
                fprintf(stderr, "error: %s: no such pod in the objects given\n", ref);
        return r;
}

static int explain(const netpol_cluster_t *c, const policy_cli_t *cli, uint16_t port, netpol_proto_t proto) {
        size_t from, to;
        int r = find_pod(c, "--from", cli->from, &from);
        int r2 = find_pod(c, "--to", cli->to, &to);
        if (r < 0 || r2 < 0)
                return EXIT_ERROR;
        netpol_verdict_t v = { 0 };
        r = netpol_evaluate(c, from, to, port, proto, &v);
        if (r < 0) {
                fprintf(stderr, "error: %s\n", strerror(-r));
                netpol_verdict_done(&v);
                return EXIT_ERROR;
        }
        strbuf_t sb;
        sb_init(&sb, 0);
        put_pod(&sb, c, from, true);
        sb_puts(&sb, " -> ");
        put_pod(&sb, c, to, true);
        sb_printf(&sb, " port %u/%s: %s\n", port, netpol_proto_name(proto), v.allowed ? "allowed" : "denied");
        explain_side(&sb, c, K8S_EGRESS, from, &v.side[K8S_EGRESS]);
        explain_side(&sb, c, K8S_INGRESS, to, &v.side[K8S_INGRESS]);
        int code = v.allowed ? EXIT_ALLOWED : EXIT_DENIED;
        if (flush(&sb) < 0) {
                fprintf(stderr, "error: cannot write the answer\n");
                code = EXIT_ERROR;
        }
        sb_free(&sb);
        netpol_verdict_done(&v);
        return code;
}

int cli_policy(int argc, char **argv) {
        policy_cli_t cli;
        int r = parse_policy_cli(argc, argv, &cli);
        if (r != 0)
                return r > 0 ? EXIT_ALLOWED : EXIT_ERROR;
        netpol_proto_t proto = NETPOL_TCP;
        (void) netpol_proto_from_string(cli.protocol, &proto);
        uint16_t port = (uint16_t) cli.port;

        inputs_t in = { 0 };
        int code = EXIT_ERROR;
        netpol_cluster_t *c = NULL;
        strbuf_t err;
        sb_init(&err, 0);
        for (size_t i = 0; i < cli.n_files; i++)
                if (load_file(cli.files[i], &in) < 0)
                        goto done;
        r = netpol_cluster_new(in.docs, in.n, NULL, &c, &err);
        if (r < 0) {
                fprintf(stderr, "error: %s\n", err.len ? err.data : strerror(-r));
                goto done;
        }
        if (cli.cmd == POLICY_EXPLAIN) {
                code = explain(c, &cli, port, proto);
                goto done;
        }
        r = cli.json ? print_matrix_json(c, port, proto) : print_matrix_table(c, port, proto);
        if (r < 0) {
                fprintf(stderr, "error: cannot print the matrix: %s\n", strerror(-r));
                goto done;
        }
        code = fflush(stdout) == 0 ? EXIT_ALLOWED : EXIT_ERROR;
done:
        netpol_cluster_free(c);
        inputs_free(&in);
        sb_free(&err);
        return code;
}
