/* Unit tests for config.c (contract §2): every bad input names its JSON path and
 * a reason; the contract's example parses to the expected fields; per-identity
 * plans; the embedded default; caps; durations. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "util.h"

/* ---- helpers ---- */

/* The tests write JSON with single quotes to keep C strings readable; no
 * test value contains a single quote. A backquote stands for a real single
 * quote (json-c also reads 'single-quoted' strings). Caller frees. */
static char *sq(const char *s)
{
        char *out = strdup(s);
        assert_non_null(out);
        for (char *p = out; *p; p++)
                if (*p == '\'')
                        *p = '"';
                else if (*p == '`')
                        *p = '\'';
        return out;
}

static void print_errors(const config_errors_t *errs)
{
        for (size_t i = 0; i < errs->n; i++)
                print_message("    error[%zu]: %s\n", i, errs->messages[i]);
        if (errs->n_dropped)
                print_message("    (%zu more dropped)\n", errs->n_dropped);
}

/* Parses `json` (single-quoted form) and asserts success. */
static config_t *parse_ok(const char *json)
{
        config_errors_t errs;
        config_t *cfg = NULL;
        char *text = sq(json);
        config_errors_init(&errs);
        int r = config_parse(text, strlen(text), "test.json", &cfg, &errs);
        if (r != 0 || errs.n != 0) {
                print_message("config_parse returned %d for:\n%s\n", r, text);
                print_errors(&errs);
                fail_msg("expected the config to parse");
        }
        assert_non_null(cfg);
        config_errors_free(&errs);
        free(text);
        return cfg;
}

/* True when `hay` contains one of the '|'-separated alternatives in `needle`
 * (case-insensitive). */
static bool contains_any(const char *hay, const char *needle)
{
        char *copy = strdup(needle);
        assert_non_null(copy);
        bool found = false;
        char *save = NULL;
        for (char *alt = strtok_r(copy, "|", &save); alt && !found; alt = strtok_r(NULL, "|", &save))
                found = strcasestr(hay, alt) != NULL;
        free(copy);
        return found;
}

/* One message containing every needle (NULL-terminated list)? */
static bool errors_match(const config_errors_t *errs, const char *const *needles)
{
        for (size_t i = 0; i < errs->n; i++) {
                bool all = true;
                for (const char *const *n = needles; *n && all; n++)
                        all = contains_any(errs->messages[i], *n);
                if (all)
                        return true;
        }
        return false;
}

typedef struct bad_case {
        const char *name;
        const char *json;         /* single-quoted JSON */
        const char *needles[5];   /* all must appear in one message; "a|b" = either */
} bad_case_t;

/* Runs one bad case; returns true when it behaved, printing why not. */
static bool run_bad_case(const bad_case_t *c)
{
        config_errors_t errs;
        config_t *cfg = NULL;
        char *text = sq(c->json);
        bool ok = true;

        config_errors_init(&errs);
        int r = config_parse(text, strlen(text), "test.json", &cfg, &errs);
        if (r != -EINVAL) {
                print_message("[%s] config_parse returned %d, want -EINVAL\n", c->name, r);
                ok = false;
        }
        if (cfg) {
                print_message("[%s] a config was returned\n", c->name);
                config_free(cfg);
                ok = false;
        }
        if (errs.n == 0) {
                print_message("[%s] no error message\n", c->name);
                ok = false;
        } else if (getenv("TEST_VERBOSE")) {
                print_message("[%s]\n", c->name);
                print_errors(&errs);
        }
        if (errs.n > 0 && !errors_match(&errs, c->needles)) {
                print_message("[%s] no message contains all of:", c->name);
                for (const char *const *n = c->needles; *n; n++)
                        print_message(" [%s]", *n);
                print_message("\n");
                print_errors(&errs);
                ok = false;
        }
        config_errors_free(&errs);
        free(text);
        return ok;
}

static const target_t *find_target(const config_t *cfg, const char *name)
{
        for (size_t i = 0; i < cfg->n_targets; i++)
                if (strcmp(cfg->targets[i].name, name) == 0)
                        return &cfg->targets[i];
        return NULL;
}

/* The target every valid case below uses. */
#define T_OK "'t': {'tcp': {'host': '127.0.0.1', 'port': 9891}}"
#define ROW_OK "{'from': 'a', 'to': 't', 'expect': 'allow'}"
#define WITH_TARGETS(targets, rows) "{'targets': {" targets "}, 'matrix': [" rows "]}"
/* The tail of a config after other top-level keys: "{'x': 1," CFG(...) */
#define CFG(targets, rows) " 'targets': {" targets "}, 'matrix': [" rows "]}"

/* ---- bad inputs ---- */

static const bad_case_t bad_cases[] = {
        { "unknown target in row 3",
          WITH_TARGETS(T_OK, ROW_OK ", {'from': 'b', 'to': 't', 'expect': 'deny'},"
                             "{'from': 'c', 'to': 't', 'expect': 'deny'},"
                             "{'from': 'd', 'to': 'metrics-svc', 'expect': 'allow'}"),
          { "matrix[3].to", "unknown target", "metrics-svc", NULL } },
        { "port out of range",
          WITH_TARGETS("'x': {'tcp': {'host': '127.0.0.1', 'port': 70000}}", "{'from': 'a', 'to': 'x', 'expect': 'allow'}"),
          { "targets.x.tcp.port", "range|65535|70000", NULL } },
        { "port zero",
          WITH_TARGETS("'t': {'tcp': {'host': '127.0.0.1', 'port': 0}}", ROW_OK),
          { "targets.t.tcp.port", "range|65535", NULL } },
        { "port negative",
          WITH_TARGETS("'t': {'udp': {'host': '127.0.0.1', 'port': -5}}", ROW_OK),
          { "targets.t.udp.port", "range|65535|-5", NULL } },
        { "bad duration",
          "{'defaults': {'interval': 'soon'}," CFG(T_OK, ROW_OK),
          { "defaults.interval", "duration|soon", NULL } },
        { "zero duration",
          "{'defaults': {'interval': '0s'}," CFG(T_OK, ROW_OK),
          { "defaults.interval", "zero|positive|> 0|greater|0s", NULL } },
        { "negative duration",
          "{'defaults': {'timeout': '-1s'}," CFG(T_OK, ROW_OK),
          { "defaults.timeout", "duration|negative|-1s", NULL } },
        { "duration without unit",
          "{'defaults': {'interval': '15'}," CFG(T_OK, ROW_OK),
          { "defaults.interval", "duration|unit|15", NULL } },
        { "default timeout longer than default interval",
          "{'defaults': {'interval': '1s', 'timeout': '2s'}," CFG(T_OK, ROW_OK),
          { "defaults", "timeout", "interval", NULL } },
        { "row timeout longer than row interval",
          WITH_TARGETS(T_OK, "{'from': 'a', 'to': 't', 'expect': 'allow', 'interval': '1s', 'timeout': '5s'}"),
          { "matrix[0]", "timeout", "interval", NULL } },
        { "row timeout longer than the default interval",
          WITH_TARGETS(T_OK, "{'from': 'a', 'to': 't', 'expect': 'allow', 'timeout': '20s'}"),
          { "matrix[0]", "timeout", "interval", NULL } },
        { "bad row interval",
          WITH_TARGETS(T_OK, "{'from': 'a', 'to': 't', 'expect': 'allow', 'interval': '15 s'}"),
          { "matrix[0].interval", "duration|15 s", NULL } },
        { "unknown key at top level",
          "{'bogus': 1," CFG(T_OK, ROW_OK),
          { "bogus", "unknown", NULL } },
        { "unknown key in agent",
          "{'agent': {'identity': 'a', 'colour': 'red'}," CFG(T_OK, ROW_OK),
          { "agent", "colour", "unknown", NULL } },
        { "unknown key in agent.responder",
          "{'agent': {'responder': {'port': 9891, 'colour': 1}}," CFG(T_OK, ROW_OK),
          { "agent.responder", "colour", "unknown", NULL } },
        { "unknown key in defaults",
          "{'defaults': {'colour': 1}," CFG(T_OK, ROW_OK),
          { "defaults", "colour", "unknown", NULL } },
        { "unknown key in a target",
          WITH_TARGETS("'t': {'tcp': {'host': '127.0.0.1', 'port': 9891}, 'colour': 'red'}", ROW_OK),
          { "targets.t", "colour", "unknown", NULL } },
        { "unknown key in a tcp spec",
          WITH_TARGETS("'t': {'tcp': {'host': '127.0.0.1', 'port': 9891, 'colour': 'red'}}", ROW_OK),
          { "targets.t.tcp", "colour", "unknown", NULL } },
        { "unknown key in a row",
          WITH_TARGETS(T_OK, "{'from': 'a', 'to': 't', 'expect': 'allow', 'colour': 'red'}"),
          { "matrix[0]", "colour", "unknown", NULL } },
        { "unknown key in metrics",
          "{'metrics': {'colour': 1}," CFG(T_OK, ROW_OK),
          { "metrics", "colour", "unknown", NULL } },
        { "missing to",
          WITH_TARGETS(T_OK, "{'from': 'a', 'expect': 'allow'}"),
          { "matrix[0]", "matrix[0].to|\"to\"", "missing|required", NULL } },
        { "missing from",
          WITH_TARGETS(T_OK, "{'to': 't', 'expect': 'allow'}"),
          { "matrix[0]", "matrix[0].from|\"from\"", "missing|required", NULL } },
        { "missing expect",
          WITH_TARGETS(T_OK, "{'from': 'a', 'to': 't'}"),
          { "matrix[0]", "matrix[0].expect|\"expect\"", "missing|required", NULL } },
        { "bad name characters in from",
          WITH_TARGETS(T_OK, "{'from': 'customer a', 'to': 't', 'expect': 'allow'}"),
          { "matrix[0].from", "name|invalid|character", NULL } },
        { "slash in from",
          WITH_TARGETS(T_OK, "{'from': 'ns/pod', 'to': 't', 'expect': 'allow'}"),
          { "matrix[0].from", "name|invalid|character", NULL } },
        { "from longer than 253",
          WITH_TARGETS(T_OK, "{'from': '"
                             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                             "a', 'to': 't', 'expect': 'allow'}"),
          { "matrix[0].from", "253|long|name", NULL } },
        { "bad target name",
          WITH_TARGETS("'bad name': {'tcp': {'host': '127.0.0.1', 'port': 1}}, " T_OK, ROW_OK),
          { "targets", "bad name", "name|invalid|character", NULL } },
        { "bad agent identity",
          "{'agent': {'identity': 'a b'}," CFG(T_OK, ROW_OK),
          { "agent.identity", "name|invalid|character", NULL } },
        { "target with two protocols",
          WITH_TARGETS("'t': {'tcp': {'host': '127.0.0.1', 'port': 1}, 'udp': {'host': '127.0.0.1', 'port': 1}}",
                       ROW_OK),
          { "targets.t", "protocol|exactly one|only one|more than one", NULL } },
        { "target with no protocol",
          WITH_TARGETS("'t': {}", ROW_OK),
          { "targets.t", "protocol|tcp", NULL } },
        { "target with only refused_means",
          WITH_TARGETS("'t': {'refused_means': 'allowed'}", ROW_OK),
          { "targets.t", "protocol|tcp", NULL } },
        { "expect neither allow nor deny",
          WITH_TARGETS(T_OK, "{'from': 'a', 'to': 't', 'expect': 'maybe'}"),
          { "matrix[0].expect", "allow|deny|maybe", NULL } },
        { "duplicate row from+to",
          WITH_TARGETS(T_OK, ROW_OK ", {'from': 'b', 'to': 't', 'expect': 'deny'}, " ROW_OK),
          { "matrix[2]", "duplicate", NULL } },
        { "duplicate * row",
          WITH_TARGETS(T_OK, "{'from': '*', 'to': 't', 'expect': 'deny'}, {'from': '*', 'to': 't', 'expect': 'allow'}"),
          { "matrix[1]", "duplicate", NULL } },
        { "invalid JSON syntax (line 3)",
          "{\n  'targets': {},\n  'matrix': [ {'from': 'a',, } ]\n}\n",
          /* "line 3" or the compiler-style "test.json:3:28". */
          { "line 3|line: 3|test.json:3:", NULL } },
        { "truncated JSON",
          "{'targets': {" T_OK "}, 'matrix': [",
          { "json|syntax|parse|unexpected|end|incomplete|truncated", NULL } },
        { "port as a string",
          WITH_TARGETS("'t': {'tcp': {'host': '127.0.0.1', 'port': '9891'}}", ROW_OK),
          { "targets.t.tcp.port", "number|integer|type", NULL } },
        { "port as a fraction",
          WITH_TARGETS("'t': {'tcp': {'host': '127.0.0.1', 'port': 80.5}}", ROW_OK),
          { "targets.t.tcp.port", "integer|number|type|range", NULL } },
        { "interval as a number",
          "{'defaults': {'interval': 15}," CFG(T_OK, ROW_OK),
          { "defaults.interval", "string|duration|type", NULL } },
        { "confirm as a string",
          "{'defaults': {'confirm': 'two'}," CFG(T_OK, ROW_OK),
          { "defaults.confirm", "integer|number|type", NULL } },
        { "matrix not an array",
          "{'targets': {" T_OK "}, 'matrix': {'from': 'a'}}",
          { "matrix", "array|list|type", NULL } },
        { "targets not an object",
          "{'targets': [], 'matrix': []}",
          { "targets", "object|type", NULL } },
        { "each_address not a boolean",
          WITH_TARGETS("'t': {'tcp': {'host': '127.0.0.1', 'port': 1, 'each_address': 'yes'}}", ROW_OK),
          { "targets.t.tcp.each_address", "bool|true|type", NULL } },
        { "tcp without host",
          WITH_TARGETS("'t': {'tcp': {'port': 9891}}", ROW_OK),
          { "targets.t.tcp", "host", "missing|required", NULL } },
        { "udp without port",
          WITH_TARGETS("'t': {'udp': {'host': '127.0.0.1'}}", ROW_OK),
          { "targets.t.udp", "port", "missing|required", NULL } },
        { "dns type unknown",
          WITH_TARGETS("'d': {'dns': {'name': 'kubernetes.default.svc.cluster.local', 'type': 'BOGUS'}}",
                       "{'from': 'a', 'to': 'd', 'expect': 'allow'}"),
          { "targets.d.dns.type", "BOGUS|unknown|type", NULL } },
        { "dns servers neither resolv.conf, list nor kubernetes",
          WITH_TARGETS("'d': {'dns': {'name': 'x.example', 'type': 'A', 'servers': 'nowhere'}}",
                       "{'from': 'a', 'to': 'd', 'expect': 'allow'}"),
          { "targets.d.dns.servers", "nowhere|resolv.conf|kubernetes|invalid", NULL } },
        { "dns server not an address",
          WITH_TARGETS("'d': {'dns': {'name': 'x.example', 'type': 'A', 'servers': ['not-an-ip']}}",
                       "{'from': 'a', 'to': 'd', 'expect': 'allow'}"),
          { "targets.d.dns.servers", "not-an-ip|address|invalid", NULL } },
        { "http status 7xx",
          WITH_TARGETS("'h': {'http': {'url': 'http://127.0.0.1:8080/', 'status': ['7xx']}}",
                       "{'from': 'a', 'to': 'h', 'expect': 'allow'}"),
          { "targets.h.http.status", "7xx|status", NULL } },
        { "http status 99",
          WITH_TARGETS("'h': {'http': {'url': 'http://127.0.0.1:8080/', 'status': [99]}}",
                       "{'from': 'a', 'to': 'h', 'expect': 'allow'}"),
          { "targets.h.http.status", "99|status|range", NULL } },
        { "http without url",
          WITH_TARGETS("'h': {'http': {'status': [200]}}", "{'from': 'a', 'to': 'h', 'expect': 'allow'}"),
          { "targets.h.http", "url", NULL } },
        { "http method POST",
          WITH_TARGETS("'h': {'http': {'url': 'http://127.0.0.1/', 'method': 'POST'}}",
                       "{'from': 'a', 'to': 'h', 'expect': 'allow'}"),
          { "targets.h.http.method", "POST|GET|HEAD|method", NULL } },
        { "refused_means bad value",
          WITH_TARGETS("'t': {'tcp': {'host': '127.0.0.1', 'port': 1}, 'refused_means': 'maybe'}", ROW_OK),
          { "targets.t.refused_means", "allowed|denied|maybe", NULL } },
        { "duration_buckets not ascending",
          "{'metrics': {'duration_buckets': [0.001, 0.1, 0.01]}," CFG(T_OK, ROW_OK),
          { "metrics.duration_buckets", "ascending|increasing|order|sorted", NULL } },
        { "duration_buckets with a duplicate bound",
          "{'metrics': {'duration_buckets': [0.001, 0.01, 0.01]}," CFG(T_OK, ROW_OK),
          { "metrics.duration_buckets", "ascending|increasing|order|sorted|duplicate", NULL } },
        { "more than 40 duration_buckets",
          "{'metrics': {'duration_buckets': [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,"
          "28,29,30,31,32,33,34,35,36,37,38,39,40,41]}, " CFG(T_OK, ROW_OK),
          { "metrics.duration_buckets", "40|too many|at most", NULL } },
        { "responder port out of range",
          "{'agent': {'responder': {'port': 70000}}," CFG(T_OK, ROW_OK),
          { "agent.responder.port", "range|65535|70000", NULL } },
        { "max_in_flight over the cap",
          "{'agent': {'max_in_flight': 70000}," CFG(T_OK, ROW_OK),
          { "agent.max_in_flight", "65536|range|most|large|70000", NULL } },
        { "bad listen address",
          "{'agent': {'listen': 'nope'}," CFG(T_OK, ROW_OK),
          { "agent.listen", "nope|invalid|address", NULL } },
        { "confirm zero",
          "{'defaults': {'confirm': 0}," CFG(T_OK, ROW_OK),
          { "defaults.confirm", "range|0|positive|at least", NULL } },
        { "identity *",
          "{'agent': {'identity': '*'}," CFG(T_OK, ROW_OK),
          { "agent.identity", "name|invalid", NULL } },
        { "bad host",
          WITH_TARGETS("'t': {'tcp': {'host': 'bad host', 'port': 1}}", ROW_OK),
          { "targets.t.tcp.host", "host|invalid", NULL } },
        { "kubernetes servers without NAMESPACE/NAME",
          WITH_TARGETS("'d': {'dns': {'name': 'x.example', 'type': 'A', 'servers': 'kubernetes:kube-dns'}}",
                       "{'from': 'a', 'to': 'd', 'expect': 'allow'}"),
          { "targets.d.dns.servers", "kubernetes", NULL } },
        { "empty dns server list",
          WITH_TARGETS("'d': {'dns': {'name': 'x.example', 'type': 'A', 'servers': []}}",
                       "{'from': 'a', 'to': 'd', 'expect': 'allow'}"),
          { "targets.d.dns.servers", "empty|at least", NULL } },
        { "http url not http(s)",
          WITH_TARGETS("'h': {'http': {'url': 'ftp://127.0.0.1/'}}", "{'from': 'a', 'to': 'h', 'expect': 'allow'}"),
          { "targets.h.http.url", "ftp|http|url", NULL } },
        { "http body_regex does not compile",
          WITH_TARGETS("'h': {'http': {'url': 'http://127.0.0.1/', 'body_regex': '(['}}",
                       "{'from': 'a', 'to': 'h', 'expect': 'allow'}"),
          { "targets.h.http.body_regex", "regular expression|regex|invalid", NULL } },
        { "negative bucket bound",
          "{'metrics': {'duration_buckets': [-1, 1]}," CFG(T_OK, ROW_OK),
          { "metrics.duration_buckets", "positive|negative|-1", NULL } },
        { "top level not an object",
          "[1, 2, 3]",
          { "object", NULL } },
};

/* json-c keeps the last of two equal keys; silently replacing a target (or the
 * whole matrix) would hide rows from the operator, e.g. after a bad merge. */
static const bad_case_t duplicate_key_cases[] = {
        { "target name given twice",
          WITH_TARGETS(T_OK ", 't': {'udp': {'host': '127.0.0.1', 'port': 1}}", ROW_OK),
          { "targets", "duplicate|twice|more than once|repeated", NULL } },
        { "matrix given twice",
          "{'targets': {" T_OK "}, 'matrix': [" ROW_OK "], 'matrix': []}",
          { "matrix", "duplicate|twice|more than once|repeated", NULL } },
        { "target name given twice, once in single quotes",
          WITH_TARGETS(T_OK ", `t`: {'udp': {'host': '127.0.0.1', 'port': 1}}", ROW_OK),
          { "targets", "duplicate key \"t\"", NULL } },
        { "target name given twice, once spelled with an escape",
          WITH_TARGETS(T_OK ", '\\u0074': {'udp': {'host': '127.0.0.1', 'port': 1}}", ROW_OK),
          { "targets", "duplicate key \"t\"", NULL } },
        { "a single-quoted key holding a double quote does not hide a repeat",
          "{`x\"y`: 1, 'targets': {" T_OK "}, 'matrix': [" ROW_OK "], 'matrix': []}",
          { "duplicate key \"matrix\"", NULL } },
        { "the repeat after a comment json-c closes at ***/",
          "{'targets': {" T_OK "} /* note ***/, 'matrix': [" ROW_OK "], 'matrix': []}",
          { "duplicate key \"matrix\"", NULL } },
};

/* json-c decodes "\u0000" into a NUL inside a string; it keeps a value's
 * length but cuts an object key there, and every reader of the config takes C
 * strings: "t\u0000x" would silently be "t". Every key and string value
 * holding one is refused, naming its path with the key as written. */
#define NUL_KEY "key contains a NUL character (\\u0000)"
#define NUL_STR "string contains a NUL character (\\u0000)"
#define T_HTTP(spec) "'h': {'http': {'url': 'http://127.0.0.1/'" spec "}}"
#define ROW_HTTP "{'from': 'a', 'to': 'h', 'expect': 'allow'}"
static const bad_case_t nul_cases[] = {
        { "target name (a key) cut at a NUL, still matching its row",
          WITH_TARGETS("'t\\u0000x': {'tcp': {'host': '127.0.0.1', 'port': 9891}}", ROW_OK),
          { "targets.t\\u0000x: " NUL_KEY, NULL } },
        { "target name in single quotes",
          WITH_TARGETS("`t\\u0000x`: {'tcp': {'host': '127.0.0.1', 'port': 9891}}", ROW_OK),
          { "targets.t\\u0000x: " NUL_KEY, NULL } },
        { "a top-level key cut to 'matrix' replaces the matrix",
          "{'targets': {" T_OK "}, 'matrix': [" ROW_OK "], 'matrix\\u0000': []}",
          { "matrix\\u0000: " NUL_KEY, NULL } },
        { "host value",
          WITH_TARGETS("'t': {'tcp': {'host': '127.0.0.1\\u0000evil', 'port': 9891}}", ROW_OK),
          { "targets.t.tcp.host: " NUL_STR, NULL } },
        { "row target",
          WITH_TARGETS(T_OK, "{'from': 'a', 'to': 't\\u0000x', 'expect': 'allow'}"),
          { "matrix[0].to: " NUL_STR, NULL } },
        { "row identity, the NUL first",
          WITH_TARGETS(T_OK, "{'from': '\\u0000a', 'to': 't', 'expect': 'allow'}"),
          { "matrix[0].from: " NUL_STR, NULL } },
        { "agent identity",
          "{'agent': {'identity': 'a\\u0000b'}," CFG(T_OK, ROW_OK),
          { "agent.identity: " NUL_STR, NULL } },
        { "url",
          WITH_TARGETS("'h': {'http': {'url': 'http://127.0.0.1/\\u0000x'}}", ROW_HTTP),
          { "targets.h.http.url: " NUL_STR, NULL } },
        { "header name (a key)",
          WITH_TARGETS(T_HTTP(", 'headers': {'X-A\\u0000b': 'v'}"), ROW_HTTP),
          { "targets.h.http.headers.X-A\\u0000b: " NUL_KEY, NULL } },
        { "header value hiding a line break after the NUL",
          WITH_TARGETS(T_HTTP(", 'headers': {'X-A': 'v\\u0000\\r\\nX-B: 1'}"), ROW_HTTP),
          { "targets.h.http.headers.X-A: " NUL_STR, NULL } },
        { "status class in an array",
          WITH_TARGETS(T_HTTP(", 'status': [200, '2xx\\u0000']"), ROW_HTTP),
          { "targets.h.http.status[1]: " NUL_STR, NULL } },
        { "DNS name",
          WITH_TARGETS("'d': {'dns': {'name': 'example.org\\u0000.evil'}}", "{'from': 'a', 'to': 'd', 'expect': 'allow'}"),
          { "targets.d.dns.name: " NUL_STR, NULL } },
        { "DNS server in a list",
          WITH_TARGETS("'d': {'dns': {'name': 'example.org', 'servers': ['10.0.0.1', '10.0.0.2\\u0000:53']}}",
                       "{'from': 'a', 'to': 'd', 'expect': 'allow'}"),
          { "targets.d.dns.servers[1]: " NUL_STR, NULL } },
        { "after an unpaired surrogate",
          WITH_TARGETS(T_OK, "{'from': 'a\\ud800\\u0000', 'to': 't', 'expect': 'allow'}"),
          { "matrix[0].from: " NUL_STR, NULL } },
        { "an unknown key's string value, in a nested object",
          "{'agent': {'responder': {'port': 1, 'note': 'x\\u0000'}}," CFG(T_OK, ROW_OK),
          { "agent.responder.note: " NUL_STR, NULL } },
};

/* Runs every case of a table through run_bad_case(); the count that failed. */
static unsigned run_bad_cases(const bad_case_t *cases, size_t n)
{
        unsigned failed = 0;
        for (size_t i = 0; i < n; i++)
                if (!run_bad_case(&cases[i]))
                        failed++;
        return failed;
}

static void test_nul_in_strings(void **state)
{
        unsigned failed = run_bad_cases(nul_cases, ELEMENTSOF(nul_cases));
        if (failed)
                fail_msg("%u of %zu strings holding a NUL were accepted or misreported", failed,
                         ELEMENTSOF(nul_cases));
}

/* Every NUL is reported at once; an escaped backslash before "u0000" and a
 * "\u0000" inside comments are no NUL. */
static void test_nul_reports_and_non_nuls(void **state)
{
        config_errors_t errs;
        config_t *cfg = NULL;
        char *text = sq(WITH_TARGETS("'t\\u0000': {'tcp': {'host': 'h\\u0000', 'port': 9891}}",
                                     "{'from': 'a\\u0000', 'to': 't\\u0000', 'expect': 'allow'}"));
        config_errors_init(&errs);
        assert_int_equal(config_parse(text, strlen(text), "test.json", &cfg, &errs), -EINVAL);
        assert_null(cfg);
        static const char *const want[][2] = {
                { "targets.t\\u0000: ", NUL_KEY }, { "targets.t\\u0000.tcp.host: ", NUL_STR },
                { "matrix[0].from: ", NUL_STR }, { "matrix[0].to: ", NUL_STR },
        };
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                const char *needles[] = { want[i][0], want[i][1], NULL };
                if (!errors_match(&errs, needles)) {
                        print_errors(&errs);
                        fail_msg("no error %s%s", want[i][0], want[i][1]);
                }
        }
        config_errors_free(&errs);
        free(text);

        cfg = parse_ok("{/* 't\\u0000x' */ 'targets': {" T_HTTP(", 'headers': {'X-A': 'a\\\\u0000'}") "}, // '\\u0000'\n"
                       "'matrix': [" ROW_HTTP "]}");
        assert_int_equal(cfg->targets[0].http.n_headers, 1);
        assert_string_equal(cfg->targets[0].http.headers[0], "X-A: a\\u0000");
        config_free(cfg);
}

/* What json-c skips as a comment is no key: "**" + "/" does not close a
 * block comment for json-c 0.16 (it resumes its search past the second '*'),
 * so the apparent repeats below sit inside one comment. */
static void test_duplicate_scan_follows_json_c(void **state)
{
        config_t *cfg = parse_ok("{/* note **/ 'matrix': [], 'matrix': [] */ 'targets': {" T_OK "}, "
                                 "'matrix': [" ROW_OK "]}");
        assert_int_equal(cfg->n_rows, 1);
        config_free(cfg);
        /* Equal-looking raw text in two objects is no repeat, nor is a key in a string value. */
        cfg = parse_ok("{'agent': {'identity': 'a'}, 'targets': {" T_OK ", 'u': {'tcp': {'host': '127.0.0.1', "
                       "'port': 1}}}, 'matrix': [" ROW_OK ", {'from': 'x', 'to': 'u', 'expect': 'deny'}]}");
        assert_int_equal(cfg->n_rows, 2);
        config_free(cfg);
        cfg = parse_ok("{'targets': {`t`: {'tcp': {'host': '127.0.0.1', 'port': 9891}}}, 'matrix': [" ROW_OK "]}");
        assert_int_equal(cfg->n_targets, 1);
        config_free(cfg);
}

static void test_duplicate_json_keys(void **state)
{
        unsigned failed = run_bad_cases(duplicate_key_cases, ELEMENTSOF(duplicate_key_cases));
        if (failed)
                fail_msg("%u of %zu duplicate-key inputs were accepted or misreported", failed,
                         ELEMENTSOF(duplicate_key_cases));
}

static void test_bad_inputs(void **state)
{
        unsigned failed = run_bad_cases(bad_cases, ELEMENTSOF(bad_cases));
        print_message("    %zu bad inputs, %u misbehaved\n", ELEMENTSOF(bad_cases), failed);
        if (failed)
                fail_msg("%u of %zu bad inputs misbehaved (see above)", failed, ELEMENTSOF(bad_cases));
}

static void test_long_target_name(void **state)
{
        /* A 254-character target name is refused; 253 is fine. */
        for (unsigned len = 253; len <= 254; len++) {
                char name[260];
                memset(name, 'n', len);
                name[len] = '\0';
                strbuf_t sb;
                sb_init(&sb, 0);
                sb_printf(&sb,
                          "{\"targets\": {\"%s\": {\"tcp\": {\"host\": \"127.0.0.1\", \"port\": 1}}},"
                          " \"matrix\": [{\"from\": \"%s\", \"to\": \"%s\", \"expect\": \"allow\"}]}",
                          name, name, name);
                assert_false(sb.oom);
                config_errors_t errs;
                config_t *cfg = NULL;
                config_errors_init(&errs);
                int r = config_parse(sb.data, sb.len, "long.json", &cfg, &errs);
                if (len == 253) {
                        if (r != 0)
                                print_errors(&errs);
                        assert_int_equal(r, 0);
                        assert_int_equal(strlen(cfg->targets[0].name), 253);
                        config_free(cfg);
                } else {
                        assert_int_equal(r, -EINVAL);
                        const char *needles[] = { "targets.nnnn", "253|long|name", NULL };
                        if (!errors_match(&errs, needles)) {
                                print_errors(&errs);
                                fail_msg("no error for a 254-character target name");
                        }
                }
                config_errors_free(&errs);
                sb_free(&sb);
        }
}

static void test_empty_input(void **state)
{
        config_errors_t errs;
        config_t *cfg = NULL;
        config_errors_init(&errs);
        assert_int_equal(config_parse("", 0, "empty.json", &cfg, &errs), -EINVAL);
        assert_null(cfg);
        assert_true(errs.n >= 1);
        config_errors_free(&errs);

        config_errors_init(&errs);
        assert_int_equal(config_parse("   // only a comment\n", 21, "c.json", &cfg, &errs), -EINVAL);
        assert_null(cfg);
        assert_true(errs.n >= 1);
        config_errors_free(&errs);
}

static void test_all_errors_collected(void **state)
{
        /* Three independent problems: all three are reported at once. */
        config_errors_t errs;
        config_t *cfg = NULL;
        char *text = sq("{'defaults': {'interval': 'soon'},"
                        " 'targets': {'t': {'tcp': {'host': '127.0.0.1', 'port': 70000}}},"
                        " 'matrix': [{'from': 'a', 'to': 'nope', 'expect': 'allow'}]}");
        config_errors_init(&errs);
        assert_int_equal(config_parse(text, strlen(text), "multi.json", &cfg, &errs), -EINVAL);
        assert_null(cfg);
        const char *n1[] = { "defaults.interval", NULL };
        const char *n2[] = { "targets.t.tcp.port", NULL };
        const char *n3[] = { "matrix[0].to", "nope", NULL };
        if (!errors_match(&errs, n1) || !errors_match(&errs, n2) || !errors_match(&errs, n3)) {
                print_errors(&errs);
                fail_msg("not every error was reported");
        }
        config_errors_free(&errs);
        free(text);
}

static void test_error_count_capped(void **state)
{
        /* 150 rows each with a bad expect: CONFIG_MAX_ERRORS kept, the rest counted. */
        strbuf_t sb;
        sb_init(&sb, 0);
        sb_puts(&sb, "{\"targets\": {\"t\": {\"tcp\": {\"host\": \"127.0.0.1\", \"port\": 1}}}, \"matrix\": [");
        for (int i = 0; i < 150; i++)
                sb_printf(&sb, "%s{\"from\": \"id-%d\", \"to\": \"t\", \"expect\": \"maybe\"}", i ? "," : "", i);
        sb_puts(&sb, "]}");
        assert_false(sb.oom);

        config_errors_t errs;
        config_t *cfg = NULL;
        config_errors_init(&errs);
        assert_int_equal(config_parse(sb.data, sb.len, "many.json", &cfg, &errs), -EINVAL);
        assert_null(cfg);
        assert_int_equal(errs.n, CONFIG_MAX_ERRORS);
        assert_true(errs.n + errs.n_dropped >= 150);
        config_errors_free(&errs);
        sb_free(&sb);
}

/* 100,000 strings holding a NUL, and 100,000 repeats of one key, in about
 * 1 MB: CONFIG_MAX_ERRORS worded, every other one counted. Wording each (its
 * path and line are found by rescanning the text) made this quadratic:
 * minutes, caught by the test's timeout. */
static void test_raw_scan_errors_capped(void **state)
{
        for (int kind = 0; kind < 2; kind++) {
                strbuf_t sb;
                sb_init(&sb, 0);
                sb_puts(&sb, "{\"targets\": {\"t\": {\"tcp\": {\"host\": \"127.0.0.1\", \"port\": 1}}}, "
                             "\"matrix\": [], \"agent\": {\"identity\": \"a\"}, \"x\": ");
                sb_puts(&sb, kind == 0 ? "[" : "{");
                for (int i = 0; i < 100000; i++)
                        sb_puts(&sb, kind == 0 ? (i ? ",\"\\u0000\"" : "\"\\u0000\"") : (i ? ",\"k\":1" : "\"k\":1"));
                sb_puts(&sb, kind == 0 ? "]}" : "}}");
                assert_false(sb.oom);
                config_errors_t errs;
                config_t *cfg = NULL;
                config_errors_init(&errs);
                assert_int_equal(config_parse(sb.data, sb.len, "many.json", &cfg, &errs), -EINVAL);
                assert_null(cfg);
                assert_int_equal(errs.n, CONFIG_MAX_ERRORS);
                /* 100,000 NULs, or 99,999 repeats, and "x: unknown key". */
                assert_int_equal(errs.n + errs.n_dropped, kind == 0 ? 100001 : 100000);
                const char *needles[] = { kind == 0 ? "x[0]: string contains a NUL" : "x: duplicate key \"k\"", NULL };
                if (!errors_match(&errs, needles)) {
                        print_errors(&errs);
                        fail_msg("the first error is not worded");
                }
                config_errors_free(&errs);
                sb_free(&sb);
        }
}

static void test_errors_api(void **state)
{
        config_errors_t errs;
        config_errors_init(&errs);
        assert_int_equal(errs.n, 0);
        config_errors_add(&errs, "%s: %s %d", "matrix[3].to", "unknown target", 7);
        config_errors_add(&errs, "second");
        assert_int_equal(errs.n, 2);
        assert_string_equal(errs.messages[0], "matrix[3].to: unknown target 7");
        char *j = config_errors_join(&errs);
        assert_non_null(j);
        assert_string_equal(j, "matrix[3].to: unknown target 7; second");
        free(j);
        for (int i = 0; i < 200; i++)
                config_errors_add(&errs, "e%d", i);
        assert_int_equal(errs.n, CONFIG_MAX_ERRORS);
        assert_int_equal(errs.n_dropped, 202 - CONFIG_MAX_ERRORS);
        config_errors_free(&errs);
        /* Freed and re-initialised lists are empty. */
        config_errors_init(&errs);
        assert_int_equal(errs.n, 0);
        config_errors_free(&errs);
}

/* ---- good inputs ---- */

static const char design_example[] =
        "{\n"
        "  'agent': {\n"
        "    'identity': 'customer-a',          // default: $NETCANARY_IDENTITY, $POD_NAMESPACE, 'local'\n"
        "    'listen': '0.0.0.0:9890',          // /metrics, /healthz, /readyz, /api/v1/matrix, /\n"
        "    'responder': { 'port': 9891 }      // TCP accept + UDP echo on this port; 0 disables\n"
        "  },\n"
        "  'defaults': { 'interval': '15s', 'timeout': '2s', 'confirm': 2 },\n"
        "  'targets': {\n"
        "    'platform-metrics': { 'http': { 'url': 'http://metrics-service.platform.svc.cluster.local:8080/metrics', "
        "'status': [200] } },\n"
        "    'customer-b':       { 'tcp':  { 'host': 'netcanary.customer-b.svc.cluster.local', 'port': 9891, "
        "'each_address': true } },\n"
        "    'customer-b-udp':   { 'udp':  { 'host': 'netcanary.customer-b.svc.cluster.local', 'port': 9891 } },\n"
        "    'internet':         { 'tcp':  { 'host': '203.0.113.10', 'port': 443 } },   // in a cluster only\n"
        "    'cluster-dns':      { 'dns':  { 'name': 'kubernetes.default.svc.cluster.local', 'type': 'A', "
        "'servers': 'resolv.conf' } }\n"
        "  },\n"
        "  'matrix': [\n"
        "    { 'from': 'customer-a', 'to': 'platform-metrics', 'expect': 'allow' },\n"
        "    { 'from': 'customer-a', 'to': 'customer-b',       'expect': 'deny'  },\n"
        "    { 'from': '*',          'to': 'internet',         'expect': 'deny'  },\n"
        "    { 'from': '*',          'to': 'cluster-dns',      'expect': 'allow' }\n"
        "  ]\n"
        "}\n";

static void test_design_example(void **state)
{
        config_t *cfg = parse_ok(design_example);

        assert_string_equal(cfg->source, "test.json");
        assert_non_null(cfg->identity);
        assert_string_equal(cfg->identity, "customer-a");
        assert_string_equal(cfg->listen, "0.0.0.0:9890");
        assert_int_equal(cfg->responder_port, 9891);
        assert_int_equal(cfg->max_in_flight, CONFIG_DEFAULT_MAX_IN_FLIGHT);
        assert_true(cfg->default_interval_usec == 15 * USEC_PER_SEC);
        assert_true(cfg->default_timeout_usec == 2 * USEC_PER_SEC);
        assert_int_equal(cfg->default_confirm, 2);

        assert_int_equal(cfg->n_targets, 5);
        const target_t *pm = find_target(cfg, "platform-metrics");
        const target_t *cb = find_target(cfg, "customer-b");
        const target_t *cbu = find_target(cfg, "customer-b-udp");
        const target_t *inet = find_target(cfg, "internet");
        const target_t *dns = find_target(cfg, "cluster-dns");
        assert_non_null(pm);
        assert_non_null(cb);
        assert_non_null(cbu);
        assert_non_null(inet);
        assert_non_null(dns);

        assert_int_equal(pm->proto, PROTO_HTTP);
        assert_string_equal(pm->http.url, "http://metrics-service.platform.svc.cluster.local:8080/metrics");
        assert_int_equal(pm->http.n_status, 1);
        assert_string_equal(pm->http.status[0], "200");
        assert_non_null(pm->http.method);
        assert_string_equal(pm->http.method, "GET");
        assert_null(pm->http.body_regex);

        assert_int_equal(cb->proto, PROTO_TCP);
        assert_string_equal(cb->net.host, "netcanary.customer-b.svc.cluster.local");
        assert_int_equal(cb->net.port, 9891);
        assert_true(cb->net.each_address);
        assert_false(cb->refused_means_allowed);

        assert_int_equal(cbu->proto, PROTO_UDP);
        assert_int_equal(cbu->net.port, 9891);
        assert_false(cbu->net.each_address);

        assert_int_equal(inet->proto, PROTO_TCP);
        assert_string_equal(inet->net.host, "203.0.113.10");
        assert_int_equal(inet->net.port, 443);
        assert_false(inet->net.each_address);

        assert_int_equal(dns->proto, PROTO_DNS);
        assert_string_equal(dns->dns.name, "kubernetes.default.svc.cluster.local");
        assert_string_equal(dns->dns.type, "A");
        assert_string_equal(dns->dns.servers_mode, "resolv.conf");
        assert_false(dns->dns.via_search);

        assert_int_equal(cfg->n_rows, 4);
        static const struct {
                const char *from, *to;
                expect_t expect;
        } rows[] = {
                { "customer-a", "platform-metrics", EXPECT_ALLOW },
                { "customer-a", "customer-b", EXPECT_DENY },
                { "*", "internet", EXPECT_DENY },
                { "*", "cluster-dns", EXPECT_ALLOW },
        };
        for (size_t i = 0; i < 4; i++) {
                const row_t *r = &cfg->rows[i];
                assert_int_equal(r->index, i);
                assert_string_equal(r->from, rows[i].from);
                assert_string_equal(r->to, rows[i].to);
                assert_int_equal(r->expect, rows[i].expect);
                assert_non_null(r->target);
                assert_ptr_equal(r->target, find_target(cfg, rows[i].to));
                /* Rows inherit the defaults. */
                assert_true(r->interval_usec == 15 * USEC_PER_SEC);
                assert_true(r->timeout_usec == 2 * USEC_PER_SEC);
                assert_int_equal(r->confirm, 2);
        }

        /* Default buckets exist and are ascending. */
        assert_true(cfg->n_buckets > 0);
        assert_true(cfg->n_buckets <= CONFIG_MAX_BUCKETS);
        for (size_t i = 1; i < cfg->n_buckets; i++)
                assert_true(cfg->buckets[i] > cfg->buckets[i - 1]);
        config_free(cfg);
        config_free(NULL);
}

static void test_comments_and_len(void **state)
{
        /* Block comments, and only `len` bytes are parsed. */
        const char *json = "/* header */ {'targets': {" T_OK "}, /* mid */ 'matrix': [" ROW_OK "]} TRAILING GARBAGE";
        char *text = sq(json);
        size_t len = (size_t) (strstr(text, " TRAILING") - text);
        config_errors_t errs;
        config_t *cfg = NULL;
        config_errors_init(&errs);
        int r = config_parse(text, len, "c.json", &cfg, &errs);
        if (r != 0)
                print_errors(&errs);
        assert_int_equal(r, 0);
        assert_int_equal(cfg->n_rows, 1);
        config_free(cfg);
        config_errors_free(&errs);
        free(text);
}

static void test_defaults_when_absent(void **state)
{
        config_t *cfg = parse_ok(WITH_TARGETS(T_OK, ROW_OK));
        assert_null(cfg->identity);
        assert_string_equal(cfg->listen, CONFIG_DEFAULT_LISTEN);
        assert_int_equal(cfg->responder_port, CONFIG_DEFAULT_RESPONDER_PORT);
        assert_int_equal(cfg->max_in_flight, CONFIG_DEFAULT_MAX_IN_FLIGHT);
        assert_true(cfg->default_interval_usec == CONFIG_DEFAULT_INTERVAL_USEC);
        assert_true(cfg->default_timeout_usec == CONFIG_DEFAULT_TIMEOUT_USEC);
        assert_int_equal(cfg->default_confirm, CONFIG_DEFAULT_CONFIRM);
        assert_true(cfg->rows[0].interval_usec == CONFIG_DEFAULT_INTERVAL_USEC);
        assert_true(cfg->rows[0].timeout_usec == CONFIG_DEFAULT_TIMEOUT_USEC);
        assert_int_equal(cfg->rows[0].confirm, CONFIG_DEFAULT_CONFIRM);
        assert_true(cfg->per_row_histograms);
        config_free(cfg);
}

static void test_extensions(void **state)
{
        config_t *cfg = parse_ok(
                "{'agent': {'max_in_flight': 7, 'responder': {'port': 0}},"
                " 'defaults': {'interval': '1m', 'timeout': '500ms', 'confirm': 1},"
                " 'metrics': {'duration_buckets': [0.001, 0.01, 0.1], 'per_row_histograms': false},"
                " 'targets': {"
                "   't': {'tcp': {'host': '::1', 'port': 65535}, 'refused_means': 'allowed'},"
                "   'u': {'udp': {'host': 'localhost', 'port': 1}, 'refused_means': 'denied'},"
                "   'l': {'dns': {'name': 'x.example', 'type': 'SRV', 'servers': ['10.0.0.10', '10.0.0.11:5353'],"
                "                 'expect_rcode': 'NXDOMAIN', 'via_search': true}},"
                "   'h': {'http': {'url': 'https://127.0.0.1/', 'method': 'HEAD', 'status': [200, '3xx'],"
                "                  'body_regex': 'ok', 'headers': {'X-A': 'b'}, 'follow_redirects': true,"
                "                  'tls': {'insecure_skip_verify': true, 'server_name': 'example'}}}"
                " },"
                " 'matrix': ["
                "   {'from': 'a', 'to': 't', 'expect': 'allow', 'interval': '1m30s', 'timeout': '250ms', 'confirm': 3},"
                "   {'from': 'a', 'to': 'u', 'expect': 'deny'},"
                "   {'from': '*', 'to': 'l', 'expect': 'allow'},"
                "   {'from': 'b', 'to': 'h', 'expect': 'allow'}"
                " ]}");

        assert_int_equal(cfg->max_in_flight, 7);
        assert_int_equal(cfg->responder_port, 0);
        assert_true(cfg->default_interval_usec == 60 * USEC_PER_SEC);
        assert_true(cfg->default_timeout_usec == 500 * USEC_PER_MSEC);
        assert_int_equal(cfg->default_confirm, 1);
        assert_int_equal(cfg->n_buckets, 3);
        assert_true(cfg->buckets[0] == 0.001 && cfg->buckets[1] == 0.01 && cfg->buckets[2] == 0.1);
        assert_false(cfg->per_row_histograms);

        const target_t *t = find_target(cfg, "t");
        assert_non_null(t);
        assert_true(t->refused_means_allowed);
        assert_string_equal(t->net.host, "::1");
        assert_int_equal(t->net.port, 65535);
        assert_false(find_target(cfg, "u")->refused_means_allowed);

        const target_t *l = find_target(cfg, "l");
        assert_string_equal(l->dns.servers_mode, "list");
        assert_int_equal(l->dns.n_servers, 2);
        assert_string_equal(l->dns.servers[1], "10.0.0.11:5353");
        assert_string_equal(l->dns.expect_rcode, "NXDOMAIN");
        assert_true(l->dns.via_search);

        const target_t *h = find_target(cfg, "h");
        assert_string_equal(h->http.method, "HEAD");
        assert_int_equal(h->http.n_status, 2);
        assert_string_equal(h->http.status[0], "200");
        assert_string_equal(h->http.status[1], "3xx");
        assert_string_equal(h->http.body_regex, "ok");
        assert_true(h->http.insecure_skip_verify);
        assert_true(h->http.follow_redirects);
        assert_string_equal(h->http.server_name, "example");

        /* Per-row overrides, and rows without overrides take the defaults. */
        assert_true(cfg->rows[0].interval_usec == 90 * USEC_PER_SEC);
        assert_true(cfg->rows[0].timeout_usec == 250 * USEC_PER_MSEC);
        assert_int_equal(cfg->rows[0].confirm, 3);
        assert_true(cfg->rows[1].interval_usec == 60 * USEC_PER_SEC);
        assert_true(cfg->rows[1].timeout_usec == 500 * USEC_PER_MSEC);
        assert_int_equal(cfg->rows[1].confirm, 1);
        config_free(cfg);
}

static void test_agent_without_listen(void **state)
{
        /* Every key of "agent" is optional: an agent object that sets only
         * the identity (or only the responder) keeps the default listen. */
        config_t *cfg = parse_ok("{'agent': {'identity': 'customer-a'}," CFG(T_OK, ROW_OK));
        assert_string_equal(cfg->identity, "customer-a");
        assert_string_equal(cfg->listen, CONFIG_DEFAULT_LISTEN);
        config_free(cfg);

        cfg = parse_ok("{'agent': {'responder': {'port': 9999}}," CFG(T_OK, ROW_OK));
        assert_int_equal(cfg->responder_port, 9999);
        assert_string_equal(cfg->listen, CONFIG_DEFAULT_LISTEN);
        config_free(cfg);

        cfg = parse_ok("{'agent': {}," CFG(T_OK, ROW_OK));
        assert_string_equal(cfg->listen, CONFIG_DEFAULT_LISTEN);
        config_free(cfg);

        cfg = parse_ok("{'agent': {'listen': '127.0.0.1:0'}," CFG(T_OK, ROW_OK));
        assert_string_equal(cfg->listen, "127.0.0.1:0");
        config_free(cfg);
}

static void test_timeout_equal_interval(void **state)
{
        /* "longer than its interval" is the error; equal is allowed. */
        config_t *cfg = parse_ok(WITH_TARGETS(T_OK, "{'from': 'a', 'to': 't', 'expect': 'allow', 'interval': '2s',"
                                                    " 'timeout': '2s'}"));
        assert_true(cfg->rows[0].interval_usec == cfg->rows[0].timeout_usec);
        config_free(cfg);
}

static void test_kubernetes_servers(void **state)
{
        /* contract §2 allows "servers": "kubernetes:NS/NAME". A build without the
         * Kubernetes integration may refuse it, but then with a message that
         * says so at the right path; if it accepts it, the Service is kept. */
        config_errors_t errs;
        config_t *cfg = NULL;
        char *text = sq(WITH_TARGETS("'k': {'dns': {'name': 'kubernetes.default', 'type': 'AAAA',"
                                     " 'servers': 'kubernetes:kube-system/kube-dns'}}",
                                     "{'from': '*', 'to': 'k', 'expect': 'allow'}"));
        config_errors_init(&errs);
        int r = config_parse(text, strlen(text), "k.json", &cfg, &errs);
        if (r == 0) {
                const target_t *k = find_target(cfg, "k");
                assert_non_null(k);
                assert_int_equal(k->proto, PROTO_DNS);
                assert_string_equal(k->dns.servers_mode, "kubernetes");
                assert_int_equal(k->dns.n_servers, 1);
                assert_string_equal(k->dns.servers[0], "kube-system/kube-dns");
                config_free(cfg);
        } else {
                assert_int_equal(r, -EINVAL);
                assert_null(cfg);
                const char *needles[] = { "targets.k.dns.servers", "kubernetes", NULL };
                if (!errors_match(&errs, needles)) {
                        print_errors(&errs);
                        fail_msg("kubernetes servers refused without saying why");
                }
        }
        config_errors_free(&errs);
        free(text);
}

static void test_content_hash(void **state)
{
        config_t *a = parse_ok(WITH_TARGETS(T_OK, ROW_OK));
        config_t *b = parse_ok(WITH_TARGETS(T_OK, ROW_OK));
        config_t *c = parse_ok(WITH_TARGETS(T_OK, "{'from': 'a', 'to': 't', 'expect': 'deny'}"));
        assert_true(a->content_hash == b->content_hash);
        assert_true(a->content_hash != c->content_hash);
        config_free(a);
        config_free(b);
        config_free(c);
}

/* ---- plans and identities ---- */

static const row_t *plan_find(const row_t **plan, int n, const char *to)
{
        const row_t *found = NULL;
        for (int i = 0; i < n; i++)
                if (strcmp(plan[i]->to, to) == 0) {
                        /* Never two rows to the same target in one plan. */
                        assert_null(found);
                        found = plan[i];
                }
        return found;
}

static void test_plan(void **state)
{
        config_t *cfg = parse_ok(design_example);
        const row_t **plan = NULL;

        int n = config_plan(cfg, "customer-a", &plan);
        assert_int_equal(n, 4);
        assert_non_null(plan_find(plan, n, "platform-metrics"));
        assert_non_null(plan_find(plan, n, "customer-b"));
        assert_non_null(plan_find(plan, n, "internet"));
        assert_non_null(plan_find(plan, n, "cluster-dns"));
        for (int i = 0; i < n; i++) {
                /* Pointers into cfg. */
                assert_true(plan[i] >= cfg->rows && plan[i] < cfg->rows + cfg->n_rows);
        }
        free(plan);

        plan = NULL;
        n = config_plan(cfg, "customer-z", &plan);
        assert_int_equal(n, 2);
        assert_non_null(plan_find(plan, n, "internet"));
        assert_non_null(plan_find(plan, n, "cluster-dns"));
        assert_null(plan_find(plan, n, "customer-b"));
        assert_string_equal(plan_find(plan, n, "internet")->from, "*");
        free(plan);
        config_free(cfg);
}

static void test_plan_specific_wins(void **state)
{
        config_t *cfg = parse_ok(
                "{'targets': {'internet': {'tcp': {'host': '203.0.113.10', 'port': 443}}, " T_OK "},"
                " 'matrix': ["
                "   {'from': '*', 'to': 'internet', 'expect': 'deny'},"
                "   {'from': '*', 'to': 't', 'expect': 'allow'},"
                "   {'from': 'platform', 'to': 'internet', 'expect': 'allow'}"
                " ]}");
        const row_t **plan = NULL;

        int n = config_plan(cfg, "platform", &plan);
        assert_int_equal(n, 2);
        const row_t *r = plan_find(plan, n, "internet");
        assert_non_null(r);
        assert_string_equal(r->from, "platform");
        assert_int_equal(r->expect, EXPECT_ALLOW);
        assert_int_equal(r->index, 2);
        assert_string_equal(plan_find(plan, n, "t")->from, "*");
        free(plan);

        plan = NULL;
        n = config_plan(cfg, "customer-a", &plan);
        assert_int_equal(n, 2);
        r = plan_find(plan, n, "internet");
        assert_string_equal(r->from, "*");
        assert_int_equal(r->expect, EXPECT_DENY);
        free(plan);
        config_free(cfg);
}

static void test_plan_empty(void **state)
{
        config_t *cfg = parse_ok(WITH_TARGETS(T_OK, ROW_OK));
        const row_t **plan = NULL;
        int n = config_plan(cfg, "nobody", &plan);
        assert_int_equal(n, 0);
        free(plan);
        config_free(cfg);
}

static void test_identities(void **state)
{
        config_t *cfg = parse_ok(design_example);
        const char **ids = NULL;
        int n = config_identities(cfg, &ids);
        assert_int_equal(n, 1);
        assert_string_equal(ids[0], "customer-a");
        free(ids);
        config_free(cfg);

        cfg = parse_ok("{'targets': {" T_OK ", 'u': {'udp': {'host': '127.0.0.1', 'port': 2}}},"
                       " 'matrix': ["
                       "   {'from': 'zeta', 'to': 't', 'expect': 'allow'},"
                       "   {'from': '*', 'to': 't', 'expect': 'deny'},"
                       "   {'from': 'beta', 'to': 't', 'expect': 'allow'},"
                       "   {'from': 'zeta', 'to': 'u', 'expect': 'allow'},"
                       "   {'from': 'alpha.x', 'to': 'u', 'expect': 'deny'}"
                       " ]}");
        ids = NULL;
        n = config_identities(cfg, &ids);
        assert_int_equal(n, 3);
        assert_string_equal(ids[0], "alpha.x");
        assert_string_equal(ids[1], "beta");
        assert_string_equal(ids[2], "zeta");
        free(ids);
        config_free(cfg);

        cfg = parse_ok(WITH_TARGETS(T_OK, "{'from': '*', 'to': 't', 'expect': 'allow'}"));
        ids = NULL;
        assert_int_equal(config_identities(cfg, &ids), 0);
        free(ids);
        config_free(cfg);
}

/* ---- the embedded default ---- */

static bool has_self_check(const row_t **plan, int n, proto_t proto, const char *host, uint16_t port)
{
        for (int i = 0; i < n; i++) {
                const target_t *t = plan[i]->target;
                if (t && t->proto == proto && strcmp(t->net.host, host) == 0 && t->net.port == port &&
                    plan[i]->expect == EXPECT_ALLOW)
                        return true;
        }
        return false;
}

static void test_default_config(void **state)
{
        config_errors_t errs;
        config_t *cfg = NULL;
        const row_t **plan = NULL;

        config_errors_init(&errs);
        int r = config_default(NULL, NULL, &cfg, &errs);
        if (r != 0)
                print_errors(&errs);
        assert_int_equal(r, 0);
        assert_non_null(cfg);
        assert_string_equal(cfg->source, "<embedded default>");
        assert_true(cfg->responder_port > 0);

        int n = config_plan(cfg, "local", &plan);
        assert_true(n >= 4);
        uint16_t port = cfg->responder_port;
        assert_true(has_self_check(plan, n, PROTO_TCP, "127.0.0.1", port));
        assert_true(has_self_check(plan, n, PROTO_TCP, "::1", port));
        assert_true(has_self_check(plan, n, PROTO_UDP, "127.0.0.1", port));
        assert_true(has_self_check(plan, n, PROTO_UDP, "::1", port));
        for (size_t i = 0; i < cfg->n_targets; i++)
                if (cfg->targets[i].proto == PROTO_TCP)
                        assert_string_not_equal(cfg->targets[i].net.host, "10.96.0.1");
        free(plan);
        size_t rows_without = cfg->n_rows;

        /* Every identity runs the default rows. */
        plan = NULL;
        assert_int_equal(config_plan(cfg, "some-namespace", &plan), n);
        free(plan);
        config_free(cfg);
        config_errors_free(&errs);

        config_errors_init(&errs);
        cfg = NULL;
        r = config_default("10.96.0.1", "443", &cfg, &errs);
        if (r != 0)
                print_errors(&errs);
        assert_int_equal(r, 0);
        assert_int_equal(cfg->n_rows, rows_without + 1);
        plan = NULL;
        n = config_plan(cfg, "local", &plan);
        assert_true(has_self_check(plan, n, PROTO_TCP, "10.96.0.1", 443));
        assert_true(has_self_check(plan, n, PROTO_UDP, "::1", cfg->responder_port));
        free(plan);
        config_free(cfg);
        config_errors_free(&errs);
}

static void test_default_config_bad_kubernetes(void **state)
{
        static const char *const bad[][2] = {
                { "not a host!", "443" },
                { "10.96.0.1", "99999" },
                { "10.96.0.1", "0" },
                { "10.96.0.1\", \"x", "443" }, /* must not inject JSON */
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                config_errors_t errs;
                config_t *cfg = NULL;
                config_errors_init(&errs);
                int r = config_default(bad[i][0], bad[i][1], &cfg, &errs);
                if (r != -EINVAL || cfg || errs.n == 0) {
                        print_errors(&errs);
                        fail_msg("config_default(\"%s\", \"%s\") = %d, want -EINVAL with a message", bad[i][0],
                                 bad[i][1], r);
                }
                const char *needles[] = { "KUBERNETES", NULL };
                if (!errors_match(&errs, needles)) {
                        print_errors(&errs);
                        fail_msg("the error does not name the KUBERNETES_SERVICE_* variables");
                }
                config_errors_free(&errs);
        }
}

/* ---- names and identity ---- */

static void test_name_valid(void **state)
{
        char name[300];
        assert_true(config_name_valid("a"));
        assert_true(config_name_valid("customer-a"));
        assert_true(config_name_valid("A_b.c-9"));
        assert_false(config_name_valid(""));
        assert_false(config_name_valid("a b"));
        assert_false(config_name_valid("a/b"));
        assert_false(config_name_valid("*"));
        assert_false(config_name_valid("a:b"));
        assert_false(config_name_valid("caf\xc3\xa9"));
        memset(name, 'n', 253);
        name[253] = '\0';
        assert_true(config_name_valid(name));
        name[253] = 'n';
        name[254] = '\0';
        assert_false(config_name_valid(name));
}

static void test_effective_identity(void **state)
{
        config_t *with = parse_ok("{'agent': {'identity': 'from-config'}," CFG(T_OK, ROW_OK));
        config_t *without = parse_ok(WITH_TARGETS(T_OK, ROW_OK));

        unsetenv("NETCANARY_IDENTITY");
        unsetenv("POD_NAMESPACE");
        assert_string_equal(config_effective_identity(with, "cli"), "cli");
        assert_string_equal(config_effective_identity(with, NULL), "from-config");
        assert_string_equal(config_effective_identity(without, NULL), "local");
        setenv("POD_NAMESPACE", "pod-ns", 1);
        assert_string_equal(config_effective_identity(without, NULL), "pod-ns");
        setenv("NETCANARY_IDENTITY", "env-id", 1);
        assert_string_equal(config_effective_identity(without, NULL), "env-id");
        assert_string_equal(config_effective_identity(with, NULL), "from-config");
        assert_string_equal(config_effective_identity(without, "cli"), "cli");
        unsetenv("NETCANARY_IDENTITY");
        unsetenv("POD_NAMESPACE");
        config_free(with);
        config_free(without);
}

/* ---- caps ---- */

static char *many_rows(unsigned n_rows)
{
        strbuf_t sb;
        sb_init(&sb, 0);
        sb_puts(&sb, "{\"targets\": {\"t\": {\"tcp\": {\"host\": \"127.0.0.1\", \"port\": 1}}}, \"matrix\": [");
        for (unsigned i = 0; i < n_rows; i++)
                sb_printf(&sb, "%s{\"from\": \"id-%u\", \"to\": \"t\", \"expect\": \"allow\"}", i ? "," : "", i);
        sb_puts(&sb, "]}");
        assert_false(sb.oom);
        return sb_steal(&sb, NULL);
}

static void test_rows_cap(void **state)
{
        config_errors_t errs;
        config_t *cfg = NULL;

        char *text = many_rows(CONFIG_MAX_ROWS);
        config_errors_init(&errs);
        int r = config_parse(text, strlen(text), "cap.json", &cfg, &errs);
        if (r != 0)
                print_errors(&errs);
        assert_int_equal(r, 0);
        assert_int_equal(cfg->n_rows, CONFIG_MAX_ROWS);
        config_free(cfg);
        config_errors_free(&errs);
        free(text);

        text = many_rows(CONFIG_MAX_ROWS + 1);
        cfg = NULL;
        config_errors_init(&errs);
        assert_int_equal(config_parse(text, strlen(text), "cap.json", &cfg, &errs), -EINVAL);
        assert_null(cfg);
        const char *needles[] = { "matrix", "10000|10,000|10 000", NULL };
        if (!errors_match(&errs, needles)) {
                print_errors(&errs);
                fail_msg("no error mentions the row cap");
        }
        /* One clear error, not one per extra row. */
        assert_true(errs.n <= 2);
        config_errors_free(&errs);
        free(text);
}

static void test_targets_cap(void **state)
{
        strbuf_t sb;
        sb_init(&sb, 0);
        sb_puts(&sb, "{\"targets\": {");
        for (unsigned i = 0; i <= CONFIG_MAX_TARGETS; i++)
                sb_printf(&sb, "%s\"t%u\": {\"tcp\": {\"host\": \"127.0.0.1\", \"port\": 1}}", i ? "," : "", i);
        sb_puts(&sb, "}, \"matrix\": [{\"from\": \"a\", \"to\": \"t0\", \"expect\": \"allow\"}]}");
        assert_false(sb.oom);

        config_errors_t errs;
        config_t *cfg = NULL;
        config_errors_init(&errs);
        assert_int_equal(config_parse(sb.data, sb.len, "cap.json", &cfg, &errs), -EINVAL);
        assert_null(cfg);
        const char *needles[] = { "targets", "10000|10,000|10 000", NULL };
        if (!errors_match(&errs, needles)) {
                print_errors(&errs);
                fail_msg("no error mentions the target cap");
        }
        config_errors_free(&errs);
        sb_free(&sb);
}

/* ---- files ---- */

static char tmpdir[64];

static int setup_tmpdir(void **state)
{
        strcpy(tmpdir, "/tmp/netcanary-test-config-XXXXXX");
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmpdir(void **state)
{
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *data, size_t len, size_t pad_spaces)
{
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, len, f), len);
        for (size_t i = 0; i < pad_spaces; i++)
                assert_int_not_equal(fputc(' ', f), EOF);
        assert_int_equal(fclose(f), 0);
}

static void test_load_file(void **state)
{
        char path[128];
        config_errors_t errs;
        config_t *cfg = NULL;
        char *text = sq(design_example);

        snprintf(path, sizeof(path), "%s/ok.json", tmpdir);
        write_file(path, text, strlen(text), 0);
        config_errors_init(&errs);
        int r = config_load_file(path, &cfg, &errs);
        if (r != 0)
                print_errors(&errs);
        assert_int_equal(r, 0);
        assert_string_equal(cfg->source, path);
        assert_int_equal(cfg->n_rows, 4);
        config_free(cfg);
        config_errors_free(&errs);

        /* Exactly at the cap still loads. */
        snprintf(path, sizeof(path), "%s/exact.json", tmpdir);
        write_file(path, text, strlen(text), CONFIG_MAX_FILE_BYTES - strlen(text));
        cfg = NULL;
        config_errors_init(&errs);
        r = config_load_file(path, &cfg, &errs);
        if (r != 0)
                print_errors(&errs);
        assert_int_equal(r, 0);
        config_free(cfg);
        config_errors_free(&errs);
        free(text);
}

static void expect_file_error(const char *path, const char *reason)
{
        config_errors_t errs;
        config_t *cfg = NULL;
        config_errors_init(&errs);
        int r = config_load_file(path, &cfg, &errs);
        assert_true(r < 0);
        assert_null(cfg);
        const char *needles[] = { path, reason, NULL };
        if (errs.n != 1 || !errors_match(&errs, needles)) {
                print_message("config_load_file(%s) = %d\n", path, r);
                print_errors(&errs);
                fail_msg("want exactly one error naming the path and [%s]", reason);
        }
        config_errors_free(&errs);
}

static void test_load_file_errors(void **state)
{
        char path[128];
        char *text = sq(design_example);

        snprintf(path, sizeof(path), "%s/big.json", tmpdir);
        write_file(path, text, strlen(text), CONFIG_MAX_FILE_BYTES - strlen(text) + 1);
        expect_file_error(path, "4194304|4 MiB|4MiB|too large|too big|exceeds|larger");

        expect_file_error(tmpdir, "directory");

        snprintf(path, sizeof(path), "%s/missing.json", tmpdir);
        expect_file_error(path, "No such file|not found|does not exist|missing");
        free(text);
}

/* ---- durations ---- */

static void test_duration_parse_good(void **state)
{
        static const struct {
                const char *s;
                uint64_t usec;
        } cases[] = {
                { "250ms", 250000 },
                { "15s", 15000000 },
                { "2m", 120000000 },
                { "1h", 3600000000ULL },
                { "1m30s", 90000000 },
                { "500us", 500 },
                { "1us", 1 },
                { "1.5s", 1500000 },
                { "2h45m", (2 * 3600 + 45 * 60) * USEC_PER_SEC },
                { "1h0m1s", 3601 * USEC_PER_SEC },
                { "100ms", 100000 },
                { "0.5s", 500000 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t v = 0;
                int r = duration_parse(cases[i].s, &v);
                if (r != 0 || v != cases[i].usec)
                        fail_msg("duration_parse(\"%s\") = %d, %llu; want 0, %llu", cases[i].s, r,
                                 (unsigned long long) v, (unsigned long long) cases[i].usec);
        }
}

static void test_duration_parse_bad(void **state)
{
        static const char *const bad[] = {
                "", "0s", "0ms", "-1s", "15", "15 s", " 15s", "15s ", "1y", "s", "ms", "abc", "1m30", "+",
                "99999999999999999999s", "18446744073709551616us", "5124095577h", "9223372036854775807s",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                uint64_t v = 0xdeadbeef;
                int r = duration_parse(bad[i], &v);
                if (r != -EINVAL)
                        fail_msg("duration_parse(\"%s\") = %d (%llu), want -EINVAL", bad[i], r, (unsigned long long) v);
                /* Out-parameters are written only on success. */
                assert_true(v == 0xdeadbeef);
        }
}

static void test_duration_format_examples(void **state)
{
        /* The examples of config.h: the shortest string. */
        char buf[64];
        duration_format(250000, buf, sizeof(buf));
        assert_string_equal(buf, "250ms");
        duration_format(15 * USEC_PER_SEC, buf, sizeof(buf));
        assert_string_equal(buf, "15s");
        duration_format(2 * 60 * USEC_PER_SEC, buf, sizeof(buf));
        assert_string_equal(buf, "2m");
        duration_format(1500000, buf, sizeof(buf));
        assert_string_equal(buf, "1.5s");
}

static void test_duration_format_round_trip(void **state)
{
        char buf[64];

        static const uint64_t values[] = {
                1, 500, 999, 1000, 1001, 250000, 1500000, 15000000, 90000000, 120000000, 3600000000ULL,
                3601000001ULL, 86400000000ULL, 1234567, 2 * 3600 * USEC_PER_SEC + 1,
        };
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                uint64_t back = 0;
                duration_format(values[i], buf, sizeof(buf));
                int r = duration_parse(buf, &back);
                if (r != 0 || back != values[i])
                        fail_msg("duration_format(%llu) = \"%s\" parses back as %d, %llu",
                                 (unsigned long long) values[i], buf, r, (unsigned long long) back);
        }

        /* A small buffer is truncated but stays terminated. */
        char small[4];
        memset(small, 'X', sizeof(small));
        duration_format(3601000001ULL, small, sizeof(small));
        assert_true(memchr(small, '\0', sizeof(small)) != NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bad_inputs),
                cmocka_unit_test(test_duplicate_json_keys),
                cmocka_unit_test(test_duplicate_scan_follows_json_c),
                cmocka_unit_test(test_nul_in_strings),
                cmocka_unit_test(test_nul_reports_and_non_nuls),
                cmocka_unit_test(test_long_target_name),
                cmocka_unit_test(test_empty_input),
                cmocka_unit_test(test_all_errors_collected),
                cmocka_unit_test(test_error_count_capped),
                cmocka_unit_test(test_raw_scan_errors_capped),
                cmocka_unit_test(test_errors_api),
                cmocka_unit_test(test_design_example),
                cmocka_unit_test(test_comments_and_len),
                cmocka_unit_test(test_defaults_when_absent),
                cmocka_unit_test(test_extensions),
                cmocka_unit_test(test_agent_without_listen),
                cmocka_unit_test(test_timeout_equal_interval),
                cmocka_unit_test(test_kubernetes_servers),
                cmocka_unit_test(test_content_hash),
                cmocka_unit_test(test_plan),
                cmocka_unit_test(test_plan_specific_wins),
                cmocka_unit_test(test_plan_empty),
                cmocka_unit_test(test_identities),
                cmocka_unit_test(test_default_config),
                cmocka_unit_test(test_default_config_bad_kubernetes),
                cmocka_unit_test(test_name_valid),
                cmocka_unit_test(test_effective_identity),
                cmocka_unit_test(test_rows_cap),
                cmocka_unit_test(test_targets_cap),
                cmocka_unit_test_setup_teardown(test_load_file, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_load_file_errors, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test(test_duration_parse_good),
                cmocka_unit_test(test_duration_parse_bad),
                cmocka_unit_test(test_duration_format_examples),
                cmocka_unit_test(test_duration_format_round_trip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
