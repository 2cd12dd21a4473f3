#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsonreader.h"
#include "sockaddr.h"
#include "util.h"

#define PATH_MAX_LEN JSON_PATH_MAX

static const char *const proto_names[_PROTO_MAX] = {
        [PROTO_TCP] = "tcp",
        [PROTO_UDP] = "udp",
        [PROTO_HTTP] = "http",
        [PROTO_DNS] = "dns",
};

static const char *const expect_names[_EXPECT_MAX] = {
        [EXPECT_ALLOW] = "allow",
        [EXPECT_DENY] = "deny",
};

static const char *const dns_types[] = { "A", "AAAA", "SRV", "CNAME", "TXT", "PTR", "MX", "NS", "SOA" };
static const char *const dns_rcodes[] = { "NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED" };

const char *proto_name(proto_t p) {
        return p >= 0 && p < _PROTO_MAX ? proto_names[p] : "unknown";
}

const char *expect_name(expect_t e) {
        return e >= 0 && e < _EXPECT_MAX ? expect_names[e] : "unknown";
}

/* ---- names ---- */

bool config_name_valid(const char *s) {
        size_t n = 0;
        for (const char *p = s; *p; p++, n++) {
                char c = *p;
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                          c == '_' || c == '-';
                if (!ok)
                        return false;
        }
        return n >= 1 && n <= CONFIG_MAX_NAME_LEN;
}

/* A host name (RFC 1123 letters, digits, '-', '.', and '_' for SRV-style
 * labels) or an IP literal. */
static bool host_valid(const char *s) {
        struct sockaddr_storage ss;
        socklen_t len;
        if (s[0] != '[' && sockaddr_from_literal(s, 1, &ss, &len) == 0)
                return true;
        size_t n = strlen(s);
        if (n == 0 || n > 253)
                return false;
        size_t label = 0;
        for (const char *p = s; *p; p++) {
                char c = *p;
                if (c == '.') {
                        if (label == 0)
                                return false;
                        label = 0;
                        continue;
                }
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                          c == '_';
                if (!ok || ++label > 63)
                        return false;
        }
        return label > 0; /* no empty last label: "a." and "a.." are not host names */
}

const char *config_effective_identity(const config_t *cfg, const char *cli) {
        if (cli && *cli)
                return cli;
        if (cfg && cfg->identity)
                return cfg->identity;
        const char *env = getenv("NETCANARY_IDENTITY");
        if (env && *env)
                return env;
        env = getenv("POD_NAMESPACE");
        if (env && *env)
                return env;
        return "local";
}

/* ---- the parser ---- */

typedef struct parser {
        config_errors_t *errs;
        config_t *cfg;
        bool oom;
} parser_t;

/* "path: message" into the parser's error list (config_errors_add_at()). */
#define perr(p, path, ...) config_errors_add_at((p)->errs, (path), __VA_ARGS__)

static const char *json_type_word(json_object *v) {
        switch (json_object_get_type(v)) {
        case json_type_null: return "null";
        case json_type_boolean: return "a boolean";
        case json_type_double: return "a number";
        case json_type_int: return "an integer";
        case json_type_object: return "an object";
        case json_type_array: return "an array";
        case json_type_string: return "a string";
        }
        return "unknown";
}

static bool want_type(parser_t *p, const char *path, json_object *v, json_type t, const char *what) {
        bool ok = json_object_get_type(v) == t;
        if (!ok)
                perr(p, path, "expected %s, got %s", what, json_type_word(v));
        return ok;
}

/* Reports every key of `obj` not in `allowed` (NULL-terminated). */
static void check_keys(parser_t *p, const char *path, json_object *obj, const char *const *allowed) {
        json_object_object_foreach(obj, key, val) {
                (void) val;
                bool known = false;
                for (const char *const *a = allowed; *a; a++)
                        if (strcmp(*a, key) == 0)
                                known = true;
                if (!known) {
                        char sub[PATH_MAX_LEN];
                        json_path_key(sub, path, key);
                        perr(p, sub, "unknown key");
                }
        }
}

static json_object *get(json_object *obj, const char *key) {
        json_object *v = NULL;
        if (!obj || !json_object_object_get_ex(obj, key, &v))
                return NULL;
        return v;
}

/* Copies an optional string field; false (with an error) when present and not a string. */
static bool get_string(parser_t *p, const char *path, json_object *obj, const char *key, bool required,
                       char **ret) {
        char sub[PATH_MAX_LEN];
        json_path_key(sub, path, key);
        json_object *v = get(obj, key);
        if (!v) {
                if (required)
                        perr(p, sub, "required");
                return !required;
        }
        if (!want_type(p, sub, v, json_type_string, "a string"))
                return false;
        char *s = strdup(json_object_get_string(v));
        if (!s) {
                p->oom = true;
                return false;
        }
        free(*ret);
        *ret = s;
        return true;
}

static bool get_bool(parser_t *p, const char *path, json_object *obj, const char *key, bool *ret) {
        char sub[PATH_MAX_LEN];
        json_path_key(sub, path, key);
        json_object *v = get(obj, key);
        if (!v)
                return true;
        if (!want_type(p, sub, v, json_type_boolean, "true or false"))
                return false;
        *ret = json_object_get_boolean(v);
        return true;
}

static bool get_int(parser_t *p, const char *path, json_object *obj, const char *key, int64_t min, int64_t max,
                    const char *what, int64_t *ret) {
        char sub[PATH_MAX_LEN];
        json_path_key(sub, path, key);
        json_object *v = get(obj, key);
        if (!v)
                return true;
        if (!want_type(p, sub, v, json_type_int, "an integer"))
                return false;
        errno = 0;
        int64_t x = json_object_get_int64(v);
        if (errno != 0 || x < min || x > max) {
                perr(p, sub, "%s %s out of range %lld-%lld", what, json_object_to_json_string(v), (long long) min,
                     (long long) max);
                return false;
        }
        *ret = x;
        return true;
}

static bool get_duration(parser_t *p, const char *path, json_object *obj, const char *key, uint64_t *ret) {
        char sub[PATH_MAX_LEN];
        json_path_key(sub, path, key);
        json_object *v = get(obj, key);
        if (!v)
                return true;
        if (!want_type(p, sub, v, json_type_string, "a duration string such as \"15s\""))
                return false;
        const char *s = json_object_get_string(v);
        if (s[0] == '-') {
                perr(p, sub, "negative duration \"%s\"", s);
                return false;
        }
        uint64_t usec;
        if (duration_parse(s, &usec) < 0) {
                perr(p, sub, "invalid duration \"%s\" (want a positive number with a unit: us, ms, s, m, h, "
                     "e.g. \"250ms\", \"15s\", \"2m\")", s);
                return false;
        }
        *ret = usec;
        return true;
}

static bool one_of(const char *s, const char *const *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(s, list[i]) == 0)
                        return true;
        return false;
}

static char **strv_push(parser_t *p, char **v, size_t *n, const char *s) {
        char **nv = realloc(v, (*n + 1) * sizeof *nv);
        char *copy = nv ? strdup(s) : NULL;
        if (!nv || !copy) {
                free(copy);
                p->oom = true;
                return nv ? nv : v;
        }
        nv[(*n)++] = copy;
        return nv;
}

static void strv_free(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

/* Parses a string array; each element goes through `check` when given. */
static bool get_string_list(parser_t *p, const char *path, json_object *arr, char ***ret, size_t *ret_n,
                            bool (*check)(parser_t *, const char *, const char *)) {
        if (!want_type(p, path, arr, json_type_array, "an array of strings"))
                return false;
        bool ok = true;
        size_t n = json_object_array_length(arr);
        for (size_t i = 0; i < n; i++) {
                char sub[PATH_MAX_LEN];
                json_path_index(sub, path, i);
                json_object *e = json_object_array_get_idx(arr, i);
                if (!want_type(p, sub, e, json_type_string, "a string")) {
                        ok = false;
                        continue;
                }
                const char *s = json_object_get_string(e);
                if (check && !check(p, sub, s)) {
                        ok = false;
                        continue;
                }
                *ret = strv_push(p, *ret, ret_n, s);
        }
        return ok;
}

/* ---- agent, defaults, metrics ---- */

static void parse_agent(parser_t *p, json_object *agent) {
        static const char *const keys[] = { "identity", "listen", "responder", "max_in_flight", NULL };
        config_t *cfg = p->cfg;
        if (!want_type(p, "agent", agent, json_type_object, "an object"))
                return;
        check_keys(p, "agent", agent, keys);
        if (get_string(p, "agent", agent, "identity", false, &cfg->identity) && cfg->identity &&
            !config_name_valid(cfg->identity))
                perr(p, "agent.identity", "invalid name \"%s\" (1-253 letters, digits, '.', '_', '-')",
                     cfg->identity);
        if (get_string(p, "agent", agent, "listen", false, &cfg->listen) && cfg->listen) {
                struct sockaddr_storage ss;
                socklen_t len;
                if (sockaddr_parse_listen(cfg->listen, &ss, &len) < 0)
                        perr(p, "agent.listen", "invalid listen address \"%s\" (want ADDR:PORT, e.g. "
                             "\"0.0.0.0:9890\", \"[::]:9890\", \":9890\")", cfg->listen);
        }
        json_object *responder = get(agent, "responder");
        if (responder && want_type(p, "agent.responder", responder, json_type_object, "an object")) {
                static const char *const rkeys[] = { "port", NULL };
                check_keys(p, "agent.responder", responder, rkeys);
                int64_t port = cfg->responder_port;
                if (get_int(p, "agent.responder", responder, "port", 0, 65535, "port", &port))
                        cfg->responder_port = (uint16_t) port;
        }
        int64_t mif = cfg->max_in_flight;
        if (get_int(p, "agent", agent, "max_in_flight", 1, CONFIG_MAX_IN_FLIGHT, "max_in_flight", &mif))
                cfg->max_in_flight = (unsigned) mif;
}

static void parse_defaults(parser_t *p, json_object *defaults) {
        static const char *const keys[] = { "interval", "timeout", "confirm", NULL };
        config_t *cfg = p->cfg;
        if (!want_type(p, "defaults", defaults, json_type_object, "an object"))
                return;
        check_keys(p, "defaults", defaults, keys);
        get_duration(p, "defaults", defaults, "interval", &cfg->default_interval_usec);
        get_duration(p, "defaults", defaults, "timeout", &cfg->default_timeout_usec);
        int64_t confirm = cfg->default_confirm;
        if (get_int(p, "defaults", defaults, "confirm", 1, 100, "confirm", &confirm))
                cfg->default_confirm = (unsigned) confirm;
}

static void parse_metrics(parser_t *p, json_object *metrics) {
        static const char *const keys[] = { "duration_buckets", "per_row_histograms", NULL };
        config_t *cfg = p->cfg;
        if (!want_type(p, "metrics", metrics, json_type_object, "an object"))
                return;
        check_keys(p, "metrics", metrics, keys);
        get_bool(p, "metrics", metrics, "per_row_histograms", &cfg->per_row_histograms);
        json_object *b = get(metrics, "duration_buckets");
        if (!b || !want_type(p, "metrics.duration_buckets", b, json_type_array, "an array of numbers"))
                return;
        size_t n = json_object_array_length(b);
        if (n == 0 || n > CONFIG_MAX_BUCKETS) {
                perr(p, "metrics.duration_buckets", "want 1-%u bucket bounds, got %zu", CONFIG_MAX_BUCKETS, n);
                return;
        }
        double *buckets = calloc(n, sizeof *buckets);
        if (!buckets) {
                p->oom = true;
                return;
        }
        bool ok = true;
        for (size_t i = 0; i < n; i++) {
                char sub[PATH_MAX_LEN];
                json_path_index(sub, "metrics.duration_buckets", i);
                json_object *e = json_object_array_get_idx(b, i);
                json_type t = json_object_get_type(e);
                if (t != json_type_int && t != json_type_double) {
                        perr(p, sub, "expected a number of seconds, got %s", json_type_word(e));
                        ok = false;
                        continue;
                }
                buckets[i] = json_object_get_double(e);
                if (!isfinite(buckets[i]) || buckets[i] <= 0) {
                        perr(p, sub, "bucket bound must be a positive number of seconds");
                        ok = false;
                } else if (i > 0 && buckets[i] <= buckets[i - 1]) {
                        perr(p, sub, "bucket bounds must be strictly ascending (%g after %g)", buckets[i],
                             buckets[i - 1]);
                        ok = false;
                }
        }
        if (!ok) {
                free(buckets);
                return;
        }
        free(cfg->buckets);
        cfg->buckets = buckets;
        cfg->n_buckets = n;
}

/* ---- targets ---- */

/* "NS/NAME" with two valid names. */
static bool service_ref_valid(const char *ref) {
        const char *slash = strchr(ref, '/');
        if (!slash || slash == ref || strchr(slash + 1, '/'))
                return false;
        char ns[CONFIG_MAX_NAME_LEN + 1];
        size_t n = (size_t) (slash - ref);
        if (n > CONFIG_MAX_NAME_LEN)
                return false;
        memcpy(ns, ref, n);
        ns[n] = '\0';
        return config_name_valid(ns) && config_name_valid(slash + 1);
}

static void parse_net(parser_t *p, const char *path, json_object *o, net_spec_t *net) {
        static const char *const keys[] = { "host", "service", "port", "each_address", NULL };
        if (!want_type(p, path, o, json_type_object, "an object"))
                return;
        check_keys(p, path, o, keys);
        char sub[PATH_MAX_LEN];
        json_path_key(sub, path, "host");
        if (get_string(p, path, o, "host", false, &net->host) && net->host && !host_valid(net->host))
                perr(p, sub, "invalid host \"%s\" (want a DNS name or an IP address)", net->host);
        json_path_key(sub, path, "service");
        if (get_string(p, path, o, "service", false, &net->service) && net->service &&
            !service_ref_valid(net->service))
                perr(p, sub, "invalid Service reference \"%s\" (want \"NAMESPACE/NAME\")", net->service);
        if (!get(o, "host") && !get(o, "service")) {
                json_path_key(sub, path, "host");
                perr(p, sub, "required (or \"service\": \"NAMESPACE/NAME\" for a Kubernetes Service)");
        } else if (get(o, "host") && get(o, "service"))
                perr(p, path, "give \"host\" or \"service\", not both");
        if (net->service)
                net->each_address = true;
        json_path_key(sub, path, "port");
        json_object *port = get(o, "port");
        if (!port)
                perr(p, sub, "required");
        else if (json_object_get_type(port) == json_type_string) {
                /* A port name only means something for a Service. */
                const char *name = json_object_get_string(port);
                if (!get(o, "service"))
                        perr(p, sub, "a port name (\"%s\") needs \"service\"; with \"host\" give a number", name);
                else if (!config_name_valid(name) || strlen(name) > 63)
                        perr(p, sub, "invalid port name \"%s\"", name);
                else if (!(net->port_name = strdup(name)))
                        p->oom = true;
        } else {
                int64_t num = 0;
                if (get_int(p, path, o, "port", 1, 65535, "port", &num))
                        net->port = (uint16_t) num;
        }
        get_bool(p, path, o, "each_address", &net->each_address);
        if (net->service && get(o, "each_address") && !net->each_address)
                perr(p, path, "a \"service\" target probes every ready endpoint; \"each_address\": false is "
                     "not possible");
}

static bool check_status(parser_t *p, const char *path, const char *s) {
        size_t n = strlen(s);
        bool ok = n == 3 && s[0] >= '1' && s[0] <= '5' &&
                  ((s[1] == 'x' && s[2] == 'x') || (s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9'));
        if (!ok)
                perr(p, path, "invalid status \"%s\" (want 100-599 or a class such as \"2xx\")", s);
        return ok;
}

static void parse_http(parser_t *p, const char *path, json_object *o, http_spec_t *h) {
        static const char *const keys[] = { "url", "method", "status", "body_regex", "headers", "tls",
                                            "follow_redirects", "max_body_bytes", NULL };
        if (!want_type(p, path, o, json_type_object, "an object"))
                return;
        check_keys(p, path, o, keys);
        char sub[PATH_MAX_LEN];
        json_path_key(sub, path, "url");
        if (get_string(p, path, o, "url", true, &h->url) && h->url) {
                const char *rest = NULL;
                if (strncmp(h->url, "http://", 7) == 0)
                        rest = h->url + 7;
                else if (strncmp(h->url, "https://", 8) == 0)
                        rest = h->url + 8;
                bool bad_char = false;
                for (const char *c = h->url; *c; c++)
                        if ((unsigned char) *c <= ' ' || *c == 0x7f)
                                bad_char = true;
                if (!rest || !*rest || *rest == '/' || bad_char)
                        perr(p, sub, "invalid URL \"%s\" (want http:// or https:// with a host, no spaces)", h->url);
        }
        json_path_key(sub, path, "method");
        if (get_string(p, path, o, "method", false, &h->method) && h->method && strcmp(h->method, "GET") != 0 &&
            strcmp(h->method, "HEAD") != 0)
                perr(p, sub, "unsupported method \"%s\" (GET or HEAD)", h->method);
        if (!h->method && !(h->method = strdup("GET")))
                p->oom = true;

        json_path_key(sub, path, "status");
        json_object *status = get(o, "status");
        if (status) {
                if (want_type(p, sub, status, json_type_array, "an array of status codes")) {
                        size_t n = json_object_array_length(status);
                        if (n == 0)
                                perr(p, sub, "empty list");
                        for (size_t i = 0; i < n; i++) {
                                char esub[PATH_MAX_LEN];
                                json_path_index(esub, sub, i);
                                json_object *e = json_object_array_get_idx(status, i);
                                char buf[32];
                                if (json_object_get_type(e) == json_type_int) {
                                        int64_t code = json_object_get_int64(e);
                                        if (code < 100 || code > 599) {
                                                perr(p, esub, "status %lld out of range 100-599", (long long) code);
                                                continue;
                                        }
                                        snprintf(buf, sizeof buf, "%lld", (long long) code);
                                } else if (json_object_get_type(e) == json_type_string) {
                                        snprintf(buf, sizeof buf, "%s", json_object_get_string(e));
                                        if (!check_status(p, esub, json_object_get_string(e)))
                                                continue;
                                } else {
                                        perr(p, esub, "expected a status code or class, got %s",
                                             json_type_word(e));
                                        continue;
                                }
                                h->status = strv_push(p, h->status, &h->n_status, buf);
                        }
                }
        } else
                h->status = strv_push(p, h->status, &h->n_status, "2xx");

        json_path_key(sub, path, "body_regex");
        if (get_string(p, path, o, "body_regex", false, &h->body_regex) && h->body_regex) {
                regex_t re;
                int rc = regcomp(&re, h->body_regex, REG_EXTENDED | REG_NOSUB);
                if (rc != 0) {
                        char why[256];
                        regerror(rc, &re, why, sizeof why);
                        perr(p, sub, "invalid regular expression: %s", why);
                } else
                        regfree(&re);
        }

        json_path_key(sub, path, "headers");
        json_object *headers = get(o, "headers");
        if (headers && want_type(p, sub, headers, json_type_object, "an object of header names to values")) {
                json_object_object_foreach(headers, name, value) {
                        char hsub[PATH_MAX_LEN];
                        json_path_key(hsub, sub, name);
                        if (!want_type(p, hsub, value, json_type_string, "a string"))
                                continue;
                        const char *v = json_object_get_string(value);
                        bool bad = !*name || strpbrk(name, ":\r\n \t") || strpbrk(v, "\r\n");
                        if (bad) {
                                perr(p, hsub, "invalid header");
                                continue;
                        }
                        char *line = NULL;
                        if (asprintf(&line, "%s: %s", name, v) < 0) {
                                p->oom = true;
                                continue;
                        }
                        h->headers = strv_push(p, h->headers, &h->n_headers, line);
                        free(line);
                }
        }

        json_path_key(sub, path, "tls");
        json_object *tls = get(o, "tls");
        if (tls && want_type(p, sub, tls, json_type_object, "an object")) {
                static const char *const tkeys[] = { "ca_file", "insecure_skip_verify", "server_name", NULL };
                check_keys(p, sub, tls, tkeys);
                get_string(p, sub, tls, "ca_file", false, &h->ca_file);
                get_bool(p, sub, tls, "insecure_skip_verify", &h->insecure_skip_verify);
                char ssub[PATH_MAX_LEN];
                json_path_key(ssub, sub, "server_name");
                if (get_string(p, sub, tls, "server_name", false, &h->server_name) && h->server_name &&
                    !host_valid(h->server_name))
                        perr(p, ssub, "invalid server name \"%s\"", h->server_name);
        }
        get_bool(p, path, o, "follow_redirects", &h->follow_redirects);
        int64_t max_body = (int64_t) h->max_body_bytes;
        if (get_int(p, path, o, "max_body_bytes", 1, 64 * 1024 * 1024, "max_body_bytes", &max_body))
                h->max_body_bytes = (uint64_t) max_body;
}

static bool check_server(parser_t *p, const char *path, const char *s) {
        struct sockaddr_storage ss;
        socklen_t len;
        if (sockaddr_parse_ip_port(s, 53, &ss, &len) < 0) {
                perr(p, path, "invalid server \"%s\" (want an IP address with an optional port: "
                     "\"10.96.0.10\", \"10.96.0.10:53\", \"[fd00::10]:53\")", s);
                return false;
        }
        return true;
}

static bool check_ip(parser_t *p, const char *path, const char *s) {
        struct sockaddr_storage ss;
        socklen_t len;
        if (sockaddr_from_literal(s, 1, &ss, &len) < 0) {
                perr(p, path, "invalid IP address \"%s\"", s);
                return false;
        }
        return true;
}

static void parse_dns(parser_t *p, const char *path, json_object *o, dns_spec_t *d) {
        static const char *const keys[] = { "name", "type", "servers", "expect_rcode", "expect_addresses",
                                            "via_search", NULL };
        if (!want_type(p, path, o, json_type_object, "an object"))
                return;
        check_keys(p, path, o, keys);
        char sub[PATH_MAX_LEN];
        json_path_key(sub, path, "name");
        if (get_string(p, path, o, "name", true, &d->name) && d->name) {
                const char *n = d->name;
                size_t len = strlen(n);
                /* A trailing dot (absolute name) is allowed, and "." is the root. */
                char *copy = strndup(n, len > 1 && n[len - 1] == '.' ? len - 1 : len);
                if (!copy)
                        p->oom = true;
                else if (strcmp(n, ".") != 0 && !host_valid(copy))
                        perr(p, sub, "invalid DNS name \"%s\"", n);
                free(copy);
        }
        json_path_key(sub, path, "type");
        if (get_string(p, path, o, "type", false, &d->type) && d->type &&
            !one_of(d->type, dns_types, ELEMENTSOF(dns_types)))
                perr(p, sub, "unsupported record type \"%s\" (A, AAAA, SRV, CNAME, TXT, PTR, MX, NS, SOA)",
                     d->type);
        if (!d->type && !(d->type = strdup("A")))
                p->oom = true;

        json_path_key(sub, path, "servers");
        json_object *servers = get(o, "servers");
        const char *mode = "resolv.conf";
        if (servers && json_object_get_type(servers) == json_type_string) {
                const char *s = json_object_get_string(servers);
                if (strcmp(s, "resolv.conf") == 0)
                        mode = "resolv.conf";
                else if (strncmp(s, "kubernetes:", 11) == 0) {
                        mode = "kubernetes";
                        const char *ref = s + 11;
                        const char *slash = strchr(ref, '/');
                        char *ns = slash ? strndup(ref, (size_t) (slash - ref)) : NULL;
                        if (slash && !ns)
                                p->oom = true;
                        if (!slash || !ns || !config_name_valid(ns) || !config_name_valid(slash + 1))
                                perr(p, sub, "invalid Service reference \"%s\" (want \"kubernetes:NAMESPACE/NAME\")",
                                     s);
                        else
                                d->servers = strv_push(p, d->servers, &d->n_servers, ref);
                        free(ns);
                } else
                        perr(p, sub, "invalid servers \"%s\" (want \"resolv.conf\", \"kubernetes:NS/NAME\" or a "
                             "list of \"ip[:port]\")", s);
        } else if (servers) {
                mode = "list";
                if (get_string_list(p, sub, servers, &d->servers, &d->n_servers, check_server)) {
                        if (d->n_servers == 0)
                                perr(p, sub, "empty list");
                        else if (d->n_servers > CONFIG_MAX_ADDRESSES)
                                perr(p, sub, "%zu servers exceed the cap of %u", d->n_servers, CONFIG_MAX_ADDRESSES);
                }
        }
        if (!(d->servers_mode = strdup(mode)))
                p->oom = true;

        json_path_key(sub, path, "expect_rcode");
        if (get_string(p, path, o, "expect_rcode", false, &d->expect_rcode) && d->expect_rcode &&
            !one_of(d->expect_rcode, dns_rcodes, ELEMENTSOF(dns_rcodes)))
                perr(p, sub, "unsupported rcode \"%s\" (NOERROR, NXDOMAIN, SERVFAIL, REFUSED)", d->expect_rcode);
        json_path_key(sub, path, "expect_addresses");
        json_object *addrs = get(o, "expect_addresses");
        if (addrs && get_string_list(p, sub, addrs, &d->expect_addresses, &d->n_expect_addresses, check_ip) &&
            d->type) {
                bool a = strcmp(d->type, "A") == 0, aaaa = strcmp(d->type, "AAAA") == 0;
                if (!a && !aaaa)
                        perr(p, sub, "only for type A or AAAA, not %s", d->type);
                for (size_t i = 0; (a || aaaa) && i < d->n_expect_addresses; i++) {
                        bool v6 = strchr(d->expect_addresses[i], ':') != NULL;
                        if (v6 != aaaa) {
                                char esub[PATH_MAX_LEN];
                                json_path_index(esub, sub, i);
                                perr(p, esub, "%s is not an %s address", d->expect_addresses[i],
                                     aaaa ? "IPv6 (AAAA)" : "IPv4 (A)");
                        }
                }
        }
        get_bool(p, path, o, "via_search", &d->via_search);
}

static void parse_target(parser_t *p, const char *name, json_object *o, target_t *t) {
        char path[PATH_MAX_LEN];
        json_path_key(path, "targets", name);
        if (!(t->name = strdup(name)))
                p->oom = true;
        t->http.max_body_bytes = 256 * 1024;
        if (!config_name_valid(name))
                perr(p, path, "invalid target name (1-253 letters, digits, '.', '_', '-')");
        if (!want_type(p, path, o, json_type_object, "an object"))
                return;
        static const char *const keys[] = { "tcp", "udp", "http", "dns", "refused_means", NULL };
        check_keys(p, path, o, keys);

        size_t n_protos = 0;
        for (proto_t proto = 0; proto < _PROTO_MAX; proto++)
                if (get(o, proto_names[proto])) {
                        if (n_protos++ == 0)
                                t->proto = proto;
                }
        if (n_protos != 1) {
                perr(p, path, n_protos == 0 ? "needs one of \"tcp\", \"udp\", \"http\", \"dns\""
                                            : "has more than one of \"tcp\", \"udp\", \"http\", \"dns\"");
                return;
        }
        char sub[PATH_MAX_LEN];
        json_path_key(sub, path, proto_names[t->proto]);
        json_object *spec = get(o, proto_names[t->proto]);
        switch (t->proto) {
        case PROTO_TCP:
        case PROTO_UDP: parse_net(p, sub, spec, &t->net); break;
        case PROTO_HTTP: parse_http(p, sub, spec, &t->http); break;
        case PROTO_DNS: parse_dns(p, sub, spec, &t->dns); break;
        default: break;
        }

        char *refused = NULL;
        json_path_key(sub, path, "refused_means");
        if (get_string(p, path, o, "refused_means", false, &refused) && refused) {
                if (strcmp(refused, "allowed") == 0)
                        t->refused_means_allowed = true;
                else if (strcmp(refused, "denied") != 0)
                        perr(p, sub, "want \"allowed\" or \"denied\", got \"%s\"", refused);
        }
        free(refused);
}

typedef struct name_index {
        const char *name;
        size_t index;
} name_index_t;

static int name_index_cmp(const void *a, const void *b) {
        return strcmp(((const name_index_t *) a)->name, ((const name_index_t *) b)->name);
}

static void parse_targets(parser_t *p, json_object *targets) {
        config_t *cfg = p->cfg;
        if (!want_type(p, "targets", targets, json_type_object, "an object of target names"))
                return;
        size_t n = (size_t) json_object_object_length(targets);
        if (n > CONFIG_MAX_TARGETS) {
                perr(p, "targets", "%zu targets exceed the cap of %u", n, CONFIG_MAX_TARGETS);
                return;
        }
        cfg->targets = calloc(n ? n : 1, sizeof *cfg->targets);
        if (!cfg->targets) {
                p->oom = true;
                return;
        }
        json_object_object_foreach(targets, name, val)
                parse_target(p, name, val, &cfg->targets[cfg->n_targets++]);
}

/* ---- matrix ---- */

typedef struct row_key {
        const char *from;
        const char *to;
        size_t index;
} row_key_t;

static int row_key_cmp(const void *a, const void *b) {
        const row_key_t *x = a, *y = b;
        int c = strcmp(x->from, y->from);
        if (c == 0)
                c = strcmp(x->to, y->to);
        if (c == 0)
                c = x->index < y->index ? -1 : x->index > y->index;
        return c;
}

static void parse_matrix(parser_t *p, json_object *matrix) {
        config_t *cfg = p->cfg;
        if (!want_type(p, "matrix", matrix, json_type_array, "an array of rows"))
                return;
        size_t n = json_object_array_length(matrix);
        if (n > CONFIG_MAX_ROWS) {
                perr(p, "matrix", "%zu rows exceed the cap of %u", n, CONFIG_MAX_ROWS);
                return;
        }
        name_index_t *by_name = calloc(cfg->n_targets ? cfg->n_targets : 1, sizeof *by_name);
        cfg->rows = calloc(n ? n : 1, sizeof *cfg->rows);
        if (!by_name || !cfg->rows) {
                free(by_name);
                p->oom = true;
                return;
        }
        for (size_t i = 0; i < cfg->n_targets; i++)
                by_name[i] = (name_index_t) { .name = cfg->targets[i].name ? cfg->targets[i].name : "", .index = i };
        qsort(by_name, cfg->n_targets, sizeof *by_name, name_index_cmp);

        static const char *const keys[] = { "from", "to", "expect", "interval", "timeout", "confirm", NULL };
        for (size_t i = 0; i < n; i++) {
                char path[PATH_MAX_LEN], sub[PATH_MAX_LEN];
                json_path_index(path, "matrix", i);
                json_object *o = json_object_array_get_idx(matrix, i);
                row_t *row = &cfg->rows[cfg->n_rows++];
                row->index = i;
                row->interval_usec = cfg->default_interval_usec;
                row->timeout_usec = cfg->default_timeout_usec;
                row->confirm = cfg->default_confirm;
                if (!want_type(p, path, o, json_type_object, "an object"))
                        continue;
                check_keys(p, path, o, keys);

                json_path_key(sub, path, "from");
                if (get_string(p, path, o, "from", true, &row->from) && row->from &&
                    strcmp(row->from, "*") != 0 && !config_name_valid(row->from))
                        perr(p, sub, "invalid identity \"%s\" (1-253 letters, digits, '.', '_', '-', or \"*\")",
                             row->from);

                json_path_key(sub, path, "to");
                if (get_string(p, path, o, "to", true, &row->to) && row->to) {
                        name_index_t key = { .name = row->to };
                        name_index_t *hit = bsearch(&key, by_name, cfg->n_targets, sizeof *by_name, name_index_cmp);
                        if (hit)
                                row->target = &cfg->targets[hit->index];
                        else
                                perr(p, sub, "unknown target \"%s\"", row->to);
                }

                char *expect = NULL;
                json_path_key(sub, path, "expect");
                if (get_string(p, path, o, "expect", true, &expect) && expect) {
                        if (strcmp(expect, "allow") == 0)
                                row->expect = EXPECT_ALLOW;
                        else if (strcmp(expect, "deny") == 0)
                                row->expect = EXPECT_DENY;
                        else
                                perr(p, sub, "want \"allow\" or \"deny\", got \"%s\"", expect);
                }
                free(expect);

                bool ok = get_duration(p, path, o, "interval", &row->interval_usec);
                ok = get_duration(p, path, o, "timeout", &row->timeout_usec) && ok;
                int64_t confirm = row->confirm;
                if (get_int(p, path, o, "confirm", 1, 100, "confirm", &confirm))
                        row->confirm = (unsigned) confirm;
                if (ok && row->timeout_usec > row->interval_usec) {
                        char t[32], iv[32];
                        duration_format(row->timeout_usec, t, sizeof t);
                        duration_format(row->interval_usec, iv, sizeof iv);
                        json_path_key(sub, path, get(o, "timeout") ? "timeout" : get(o, "interval") ? "interval" : "");
                        perr(p, get(o, "timeout") || get(o, "interval") ? sub : path,
                             "timeout %s is longer than the interval %s", t, iv);
                }
        }
        free(by_name);

        /* The same from -> to twice would make two rows with one label set. */
        row_key_t *keys_sorted = calloc(cfg->n_rows ? cfg->n_rows : 1, sizeof *keys_sorted);
        if (!keys_sorted) {
                p->oom = true;
                return;
        }
        size_t m = 0;
        for (size_t i = 0; i < cfg->n_rows; i++)
                if (cfg->rows[i].from && cfg->rows[i].to)
                        keys_sorted[m++] = (row_key_t) { cfg->rows[i].from, cfg->rows[i].to, cfg->rows[i].index };
        qsort(keys_sorted, m, sizeof *keys_sorted, row_key_cmp);
        for (size_t i = 1; i < m; i++)
                if (strcmp(keys_sorted[i].from, keys_sorted[i - 1].from) == 0 &&
                    strcmp(keys_sorted[i].to, keys_sorted[i - 1].to) == 0) {
                        char path[PATH_MAX_LEN];
                        json_path_index(path, "matrix", keys_sorted[i].index);
                        perr(p, path, "duplicate row: matrix[%zu] already has from \"%s\" to \"%s\"",
                             keys_sorted[i - 1].index, keys_sorted[i].from, keys_sorted[i].to);
                }
        free(keys_sorted);
}

static const double default_buckets[] = { 0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                          0.025, 0.1, 0.5, 1, 2.5, 5 };

int config_parse(const char *text, size_t len, const char *source, config_t **ret, config_errors_t *errs) {
        config_t *cfg = calloc(1, sizeof *cfg);
        if (!cfg)
                return -ENOMEM;
        *cfg = (config_t) {
                .responder_port = CONFIG_DEFAULT_RESPONDER_PORT,
                .max_in_flight = CONFIG_DEFAULT_MAX_IN_FLIGHT,
                .default_interval_usec = CONFIG_DEFAULT_INTERVAL_USEC,
                .default_timeout_usec = CONFIG_DEFAULT_TIMEOUT_USEC,
                .default_confirm = CONFIG_DEFAULT_CONFIRM,
                .per_row_histograms = true,
                .content_hash = hash_fnv1a(text, len, 0),
        };
        parser_t p = { .errs = errs, .cfg = cfg };
        size_t errors_before = errs->n + errs->n_dropped;
        int r = 0;
        json_object *root = NULL;

        cfg->source = strdup(source ? source : "<config>");
        cfg->buckets = malloc(sizeof default_buckets);
        if (!cfg->source || !cfg->buckets) {
                r = -ENOMEM;
                goto done;
        }
        memcpy(cfg->buckets, default_buckets, sizeof default_buckets);
        cfg->n_buckets = ELEMENTSOF(default_buckets);

        if (len > CONFIG_MAX_FILE_BYTES) {
                perr(&p, NULL, "%s: config of %zu bytes exceeds the cap of %u bytes", cfg->source, len,
                     CONFIG_MAX_FILE_BYTES);
                r = -EINVAL;
                goto done;
        }
        r = json_text_parse(text, len, cfg->source, &root, errs);
        if (r < 0)
                goto done;
        if (json_object_get_type(root) != json_type_object) {
                perr(&p, NULL, "%s: the config must be a JSON object, got %s", cfg->source, json_type_word(root));
                r = -EINVAL;
                goto done;
        }

        static const char *const keys[] = { "agent", "defaults", "targets", "matrix", "metrics", "kubernetes", NULL };
        check_keys(&p, "", root, keys);
        json_object *v;
        if ((v = get(root, "agent")))
                parse_agent(&p, v);
        if ((v = get(root, "defaults")))
                parse_defaults(&p, v);
        if (cfg->default_timeout_usec > cfg->default_interval_usec) {
                char t[32], iv[32];
                duration_format(cfg->default_timeout_usec, t, sizeof t);
                duration_format(cfg->default_interval_usec, iv, sizeof iv);
                perr(&p, "defaults.timeout", "timeout %s is longer than the interval %s", t, iv);
        }
        if ((v = get(root, "metrics")))
                parse_metrics(&p, v);
        if ((v = get(root, "kubernetes")) && want_type(&p, "kubernetes", v, json_type_object, "an object")) {
                static const char *const kkeys[] = { "audit", NULL };
                check_keys(&p, "kubernetes", v, kkeys);
                get_bool(&p, "kubernetes", v, "audit", &cfg->kubernetes_audit);
        }
        if ((v = get(root, "targets")))
                parse_targets(&p, v);
        else
                perr(&p, "targets", "required");
        if ((v = get(root, "matrix")))
                parse_matrix(&p, v);
        else
                perr(&p, "matrix", "required");
        if (!cfg->listen && !(cfg->listen = strdup(CONFIG_DEFAULT_LISTEN)))
                p.oom = true;

        if (p.oom)
                r = -ENOMEM;
        else if (errs->n + errs->n_dropped > errors_before)
                r = -EINVAL;
done:
        json_object_put(root);
        if (r < 0) {
                config_free(cfg);
                return r;
        }
        *ret = cfg;
        return 0;
}

int config_load_file(const char *path, config_t **ret, config_errors_t *errs) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                int r = -errno;
                config_errors_add(errs, "%s: cannot open: %s", path, strerror(errno));
                return r;
        }
        struct stat st;
        int r = 0;
        char *text = NULL;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                config_errors_add(errs, "%s: cannot stat: %s", path, strerror(errno));
                goto done;
        }
        if (S_ISDIR(st.st_mode)) {
                r = -EISDIR;
                config_errors_add(errs, "%s: is a directory, not a config file", path);
                goto done;
        }
        if (!S_ISREG(st.st_mode)) {
                r = -EINVAL;
                config_errors_add(errs, "%s: not a regular file", path);
                goto done;
        }
        if ((uint64_t) st.st_size > CONFIG_MAX_FILE_BYTES) {
                r = -EFBIG;
                config_errors_add(errs, "%s: file of %lld bytes exceeds the cap of %u bytes", path,
                                  (long long) st.st_size, CONFIG_MAX_FILE_BYTES);
                goto done;
        }
        /* Read up to one byte past the cap, so a file that grew is caught too. */
        size_t cap = CONFIG_MAX_FILE_BYTES + 1, len = 0, alloc = (size_t) st.st_size + 1;
        text = malloc(alloc + 1);
        if (!text) {
                r = -ENOMEM;
                goto done;
        }
        for (;;) {
                if (len == alloc) {
                        if (alloc >= cap)
                                break;
                        alloc = alloc * 2 > cap ? cap : alloc * 2;
                        char *t = realloc(text, alloc + 1);
                        if (!t) {
                                r = -ENOMEM;
                                goto done;
                        }
                        text = t;
                }
                ssize_t n = read(fd, text + len, alloc - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        config_errors_add(errs, "%s: cannot read: %s", path, strerror(errno));
                        goto done;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        text[len] = '\0';
        if (len > CONFIG_MAX_FILE_BYTES) {
                r = -EFBIG;
                config_errors_add(errs, "%s: file exceeds the cap of %u bytes", path, CONFIG_MAX_FILE_BYTES);
                goto done;
        }
        r = config_parse(text, len, path, ret, errs);
done:
        free(text);
        close(fd);
        return r;
}

int config_default(const char *kubernetes_host, const char *kubernetes_port, config_t **ret,
                   config_errors_t *errs) {
        strbuf_t sb;
        sb_init(&sb, 0);
        sb_printf(&sb,
                  "{\n"
                  "  \"agent\": { \"responder\": { \"port\": %u } },\n"
                  "  \"defaults\": { \"interval\": \"15s\", \"timeout\": \"2s\", \"confirm\": 2 },\n"
                  "  \"targets\": {\n"
                  "    \"self-tcp-ipv4\": { \"tcp\": { \"host\": \"127.0.0.1\", \"port\": %u } },\n"
                  "    \"self-udp-ipv4\": { \"udp\": { \"host\": \"127.0.0.1\", \"port\": %u } },\n"
                  "    \"self-tcp-ipv6\": { \"tcp\": { \"host\": \"::1\", \"port\": %u } },\n"
                  "    \"self-udp-ipv6\": { \"udp\": { \"host\": \"::1\", \"port\": %u } },\n"
                  "    \"resolv-conf-dns\": { \"dns\": { \"name\": \"%s\", \"type\": \"%s\", \"servers\": \"resolv.conf\" } },\n"
                  "    \"self-http\": { \"http\": { \"url\": \"http://127.0.0.1:9890/healthz\", \"status\": [200] } }",
                  CONFIG_DEFAULT_RESPONDER_PORT, CONFIG_DEFAULT_RESPONDER_PORT, CONFIG_DEFAULT_RESPONDER_PORT,
                  CONFIG_DEFAULT_RESPONDER_PORT, CONFIG_DEFAULT_RESPONDER_PORT,
                  /* In a cluster, the name every pod depends on; elsewhere the root
                   * NS set, which any recursive resolver has cached. */
                  kubernetes_host && *kubernetes_host ? "kubernetes.default.svc.cluster.local" : ".",
                  kubernetes_host && *kubernetes_host ? "A" : "NS");
        bool kube = kubernetes_host && *kubernetes_host;
        if (kube) {
                /* Only digits and address characters can reach the JSON text. */
                long port = kubernetes_port && *kubernetes_port ? strtol(kubernetes_port, NULL, 10) : 443;
                if (!host_valid(kubernetes_host) || port < 1 || port > 65535) {
                        config_errors_add(errs, "KUBERNETES_SERVICE_HOST/PORT: invalid address \"%s:%s\"",
                                          kubernetes_host, kubernetes_port ? kubernetes_port : "");
                        sb_free(&sb);
                        return -EINVAL;
                }
                sb_printf(&sb, ",\n    \"kubernetes-api\": { \"tcp\": { \"host\": \"%s\", \"port\": %ld } }",
                          kubernetes_host, port);
        }
        sb_puts(&sb,
                "\n  },\n"
                "  \"matrix\": [\n"
                "    { \"from\": \"*\", \"to\": \"self-tcp-ipv4\", \"expect\": \"allow\" },\n"
                "    { \"from\": \"*\", \"to\": \"self-udp-ipv4\", \"expect\": \"allow\" },\n"
                "    { \"from\": \"*\", \"to\": \"self-tcp-ipv6\", \"expect\": \"allow\" },\n"
                "    { \"from\": \"*\", \"to\": \"self-udp-ipv6\", \"expect\": \"allow\" },\n"
                "    { \"from\": \"*\", \"to\": \"resolv-conf-dns\", \"expect\": \"allow\" },\n"
                "    { \"from\": \"*\", \"to\": \"self-http\", \"expect\": \"allow\" }");
        if (kube)
                sb_puts(&sb, ",\n    { \"from\": \"*\", \"to\": \"kubernetes-api\", \"expect\": \"allow\" }");
        sb_puts(&sb, "\n  ]\n}\n");
        if (sb.oom) {
                sb_free(&sb);
                return -ENOMEM;
        }
        int r = config_parse(sb.data, sb.len, "<embedded default>", ret, errs);
        sb_free(&sb);
        return r;
}

int config_default_set_listen(config_t *cfg, const char *listen) {
        struct sockaddr_storage ss;
        socklen_t len;
        if (sockaddr_parse_listen(listen, &ss, &len) < 0)
                return -EINVAL;
        /* A wildcard address is reached on loopback; a specific one as is. */
        if (ss.ss_family == AF_INET && ((struct sockaddr_in *) &ss)->sin_addr.s_addr == htonl(INADDR_ANY))
                ((struct sockaddr_in *) &ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        else if (ss.ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *) &ss)->sin6_addr)) {
                /* ":PORT" and "[::]:PORT" are dual-stack: IPv4 loopback answers. */
                struct sockaddr_in *in = (struct sockaddr_in *) &ss;
                uint16_t port = ((struct sockaddr_in6 *) &ss)->sin6_port;
                memset(&ss, 0, sizeof ss);
                in->sin_family = AF_INET;
                in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                in->sin_port = port;
        }
        char hostport[80];
        sockaddr_format((struct sockaddr *) &ss, hostport, sizeof hostport);
        for (size_t i = 0; i < cfg->n_targets; i++) {
                target_t *t = &cfg->targets[i];
                if (t->proto != PROTO_HTTP || strcmp(t->name, "self-http") != 0)
                        continue;
                char *url = NULL;
                if (asprintf(&url, "http://%s/healthz", hostport) < 0)
                        return -ENOMEM;
                free(t->http.url);
                t->http.url = url;
        }
        return 0;
}

static void target_free_fields(target_t *t) {
        free(t->name);
        free(t->net.host);
        free(t->net.service);
        free(t->net.port_name);
        free(t->http.url);
        free(t->http.method);
        strv_free(t->http.status, t->http.n_status);
        free(t->http.body_regex);
        strv_free(t->http.headers, t->http.n_headers);
        free(t->http.ca_file);
        free(t->http.server_name);
        free(t->dns.name);
        free(t->dns.type);
        free(t->dns.servers_mode);
        strv_free(t->dns.servers, t->dns.n_servers);
        free(t->dns.expect_rcode);
        strv_free(t->dns.expect_addresses, t->dns.n_expect_addresses);
}

void config_free(config_t *cfg) {
        if (!cfg)
                return;
        for (size_t i = 0; i < cfg->n_targets; i++)
                target_free_fields(&cfg->targets[i]);
        free(cfg->targets);
        for (size_t i = 0; i < cfg->n_rows; i++) {
                free(cfg->rows[i].from);
                free(cfg->rows[i].to);
        }
        free(cfg->rows);
        free(cfg->buckets);
        free(cfg->source);
        free(cfg->identity);
        free(cfg->listen);
        free(cfg);
}

static int str_ptr_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

int config_plan(const config_t *cfg, const char *identity, const row_t ***ret) {
        const row_t **plan = calloc(cfg->n_rows ? cfg->n_rows : 1, sizeof *plan);
        const char **specific = calloc(cfg->n_rows ? cfg->n_rows : 1, sizeof *specific);
        if (!plan || !specific) {
                free(plan);
                free(specific);
                return -ENOMEM;
        }
        size_t n_specific = 0, n = 0;
        for (size_t i = 0; i < cfg->n_rows; i++)
                if (strcmp(cfg->rows[i].from, identity) == 0)
                        specific[n_specific++] = cfg->rows[i].to;
        qsort(specific, n_specific, sizeof *specific, str_ptr_cmp);
        for (size_t i = 0; i < cfg->n_rows; i++) {
                const row_t *row = &cfg->rows[i];
                if (strcmp(row->from, identity) == 0)
                        plan[n++] = row;
                else if (strcmp(row->from, "*") == 0 &&
                         !bsearch(&row->to, specific, n_specific, sizeof *specific, str_ptr_cmp))
                        plan[n++] = row;
        }
        free(specific);
        *ret = plan;
        return (int) n;
}

bool config_needs_kubernetes(const config_t *cfg) {
        if (cfg->kubernetes_audit)
                return true;
        for (size_t i = 0; i < cfg->n_targets; i++) {
                const target_t *t = &cfg->targets[i];
                if ((t->proto == PROTO_TCP || t->proto == PROTO_UDP) && t->net.service)
                        return true;
                if (t->proto == PROTO_DNS && t->dns.servers_mode && strcmp(t->dns.servers_mode, "kubernetes") == 0)
                        return true;
        }
        return false;
}

int config_identities(const config_t *cfg, const char ***ret) {
        const char **ids = calloc(cfg->n_rows ? cfg->n_rows : 1, sizeof *ids);
        if (!ids)
                return -ENOMEM;
        size_t n = 0;
        for (size_t i = 0; i < cfg->n_rows; i++)
                if (strcmp(cfg->rows[i].from, "*") != 0)
                        ids[n++] = cfg->rows[i].from;
        qsort(ids, n, sizeof *ids, str_ptr_cmp);
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
                if (m == 0 || strcmp(ids[m - 1], ids[i]) != 0)
                        ids[m++] = ids[i];
        *ret = ids;
        return (int) m;
}
