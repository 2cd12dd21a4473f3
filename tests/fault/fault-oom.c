/* Out-of-memory paths (issue 10, Robustness: "out-of-memory paths return
 * errors instead of aborting (test with a failing allocator hook)").
 *
 * Each operation below runs once per failure point n = 1..K, where K is the
 * number of allocations the operation makes: the n-th allocation fails (only
 * that one), and the operation must return 0 or a negative errno, never
 * crash, and leave exactly as many live heap blocks as before it started
 * (replacement build: failmalloc counts every block of the process; wrap
 * build under AddressSanitizer: LeakSanitizer checks after every point).
 *
 *   fault-oom [OPERATION...]      default: every operation
 *   FAULT_STRIDE=s                test every s-th point only (default 1)
 *   FAULT_VERBOSE=1               keep the daemon's error logs on stderr
 *   FAULT_PROGRESS=1              print each failure point before running it
 *                                 (to find the one that crashes)
 *   FAULT_TRACE=n                 only failure point n, with the failing
 *                                 allocation's backtrace and, replacement
 *                                 build, those of the blocks it leaked
 *
 * Operations: config-parse (the contract's example, then a config with a key
 * spelled with an escape), config-load (the contract's example from a file),
 * metrics (a populated registry rendered), loop (loop, timers, an fd watcher,
 * a signal, the scheduler, the resolver with literal lookups, resolv.conf),
 * agent (agent_new on loopback, HTTP requests to /metrics, /api/v1/matrix,
 * /probe and /healthz, a reload, the reports, agent_free).
 * Loopback only: the agent listens on 127.0.0.1 (ephemeral port), its
 * responder on 127.0.0.1:19420, and its targets are closed ports
 * 19421-19425. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"
#include "config.h"
#include "failmalloc.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "resolver.h"
#include "sched.h"
#include "util.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FAULT_LSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define FAULT_LSAN 1
#endif
#ifdef FAULT_LSAN
#include <sanitizer/lsan_interface.h>
#endif

static int report_fd = 2;
static char tmpdir[PATH_MAX];
static char design_path[PATH_MAX + 32];
static char agent_path[PATH_MAX + 32];

#define say(...) dprintf(report_fd, __VA_ARGS__)

/* ---------------------------------------------------------------- inputs */

static const char design_config[] =
        "{\n"
        "  \"agent\": {\n"
        "    \"identity\": \"customer-a\",          // default: $NETCANARY_IDENTITY, $POD_NAMESPACE, \"local\"\n"
        "    \"listen\": \"0.0.0.0:9890\",          // /metrics, /healthz, /readyz, /api/v1/matrix, /\n"
        "    \"responder\": { \"port\": 9891 }      // TCP accept + UDP echo on this port; 0 disables\n"
        "  },\n"
        "  \"defaults\": { \"interval\": \"15s\", \"timeout\": \"2s\", \"confirm\": 2 },\n"
        "  \"targets\": {\n"
        "    \"platform-metrics\": { \"http\": { \"url\": "
        "\"http://metrics-service.platform.svc.cluster.local:8080/metrics\", \"status\": [200] } },\n"
        "    \"customer-b\":       { \"tcp\":  { \"host\": \"netcanary.customer-b.svc.cluster.local\", \"port\": 9891, "
        "\"each_address\": true } },\n"
        "    \"customer-b-udp\":   { \"udp\":  { \"host\": \"netcanary.customer-b.svc.cluster.local\", \"port\": 9891 } },\n"
        "    \"internet\":         { \"tcp\":  { \"host\": \"203.0.113.10\", \"port\": 443 } },   // in a cluster only\n"
        "    \"cluster-dns\":      { \"dns\":  { \"name\": \"kubernetes.default.svc.cluster.local\", \"type\": \"A\", "
        "\"servers\": \"resolv.conf\" } }\n"
        "  },\n"
        "  \"matrix\": [\n"
        "    { \"from\": \"customer-a\", \"to\": \"platform-metrics\", \"expect\": \"allow\" },\n"
        "    { \"from\": \"customer-a\", \"to\": \"customer-b\",       \"expect\": \"deny\"  },\n"
        "    { \"from\": \"*\",          \"to\": \"internet\",         \"expect\": \"deny\"  },\n"
        "    { \"from\": \"*\",          \"to\": \"cluster-dns\",      \"expect\": \"allow\" }\n"
        "  ]\n"
        "}\n";

/* The agent's config; %s is the extra rows of the reloaded version. */
static const char agent_config_fmt[] =
        "{\n"
        "  \"agent\": { \"identity\": \"oom\", \"listen\": \"127.0.0.1:0\", \"responder\": { \"port\": 19420 } },\n"
        "  \"defaults\": { \"interval\": \"1h\", \"timeout\": \"200ms\", \"confirm\": 1 },\n"
        "  \"metrics\": { \"duration_buckets\": [0.001, 0.01, 0.1] },\n"
        "  \"targets\": {\n"
        "    \"self-tcp\":    { \"tcp\":  { \"host\": \"127.0.0.1\", \"port\": 19420 } },\n"
        "    \"self-udp\":    { \"udp\":  { \"host\": \"127.0.0.1\", \"port\": 19420 } },\n"
        "    \"closed-tcp\":  { \"tcp\":  { \"host\": \"127.0.0.1\", \"port\": 19421 } },\n"
        "    \"closed-udp\":  { \"udp\":  { \"host\": \"127.0.0.1\", \"port\": 19422 } },\n"
        "    \"closed-http\": { \"http\": { \"url\": \"http://127.0.0.1:19423/x\", \"status\": [\"2xx\"] } },\n"
        "    \"closed-dns\":  { \"dns\":  { \"name\": \"example.test\", \"type\": \"A\", "
        "\"servers\": [\"127.0.0.1:19424\"] } }\n"
        "  },\n"
        "  \"matrix\": [\n"
        "    { \"from\": \"*\", \"to\": \"self-tcp\", \"expect\": \"allow\" },\n"
        "    { \"from\": \"*\", \"to\": \"closed-tcp\", \"expect\": \"deny\" }%s\n"
        "  ]\n"
        "}\n";

static const char agent_extra_rows[] =
        ",\n"
        "    { \"from\": \"*\", \"to\": \"self-udp\", \"expect\": \"allow\" },\n"
        "    { \"from\": \"oom\", \"to\": \"closed-udp\", \"expect\": \"deny\" },\n"
        "    { \"from\": \"*\", \"to\": \"closed-http\", \"expect\": \"deny\" },\n"
        "    { \"from\": \"*\", \"to\": \"closed-dns\", \"expect\": \"deny\" }";

static int write_file(const char *path, const char *text) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        size_t len = strlen(text), off = 0;
        while (off < len) {
                ssize_t n = write(fd, text + off, len - off);
                if (n < 0) {
                        int r = -errno;
                        close(fd);
                        return r;
                }
                off += (size_t) n;
        }
        close(fd);
        return 0;
}

static int write_agent_config(bool extra) {
        char text[sizeof agent_config_fmt + sizeof agent_extra_rows];
        snprintf(text, sizeof text, agent_config_fmt, extra ? agent_extra_rows : "");
        return write_file(agent_path, text);
}

/* ---------------------------------------------------------------- operations */

static int check_plan(const config_t *cfg) {
        const row_t **plan = NULL;
        int n = config_plan(cfg, "customer-a", &plan);
        if (n < 0)
                return n;
        free(plan);
        const char **ids = NULL;
        n = config_identities(cfg, &ids);
        if (n < 0)
                return n;
        free(ids);
        return 0;
}

static int finish_config(int r, config_t *cfg, config_errors_t *errs) {
        if (r == 0) {
                r = check_plan(cfg);
                config_free(cfg);
        } else {
                char *joined = config_errors_join(errs);
                free(joined);
        }
        config_errors_free(errs);
        return r;
}

/* A key and a value spelled with an escape ("u"): the scan for repeated
 * keys and NULs decodes them, allocations the contract's example does not make. */
static const char escaped_key_config[] =
        "{\"targets\": {\"t\": {\"tcp\": {\"host\": \"127.0.0.1\", \"port\": 19421}},"
        " \"\\u0075\": {\"tcp\": {\"host\": \"127.0.0.1\", \"port\": 19422}}},"
        " \"matrix\": [{\"from\": \"a\", \"to\": \"\\u0075\", \"expect\": \"deny\"}]}";

static int op_config_parse(void) {
        config_errors_t errs;
        config_errors_init(&errs);
        config_t *cfg = NULL;
        int r = config_parse(design_config, sizeof design_config - 1, "design.json", &cfg, &errs);
        r = finish_config(r, cfg, &errs);
        if (r < 0)
                return r;
        config_errors_init(&errs);
        cfg = NULL;
        r = config_parse(escaped_key_config, sizeof escaped_key_config - 1, "escaped.json", &cfg, &errs);
        return finish_config(r, cfg, &errs);
}

static int op_config_load(void) {
        config_errors_t errs;
        config_errors_init(&errs);
        config_t *cfg = NULL;
        int r = config_load_file(design_path, &cfg, &errs);
        return finish_config(r, cfg, &errs);
}

static int op_metrics(void) {
        static const char *const labels[] = { "from", "to", "protocol", "outcome" };
        static const double buckets[] = { 0.0005, 0.001, 0.01, 0.1, 1, 10 };
        metrics_t *m = NULL;
        metric_family_t *fc = NULL, *fg = NULL, *fh = NULL;
        strbuf_t out;
        sb_init(&out, 0);
        int r = metrics_new(&m);
        if (r < 0)
                goto done;
        if ((r = metrics_family_add(m, "netcanary_probes_total", "Probes by outcome.", METRIC_COUNTER, labels, 4,
                                    NULL, 0, true, &fc)) < 0 ||
            (r = metrics_family_add(m, "netcanary_probes_in_flight", "Probes running.\nNow.", METRIC_GAUGE, NULL, 0,
                                    NULL, 0, false, &fg)) < 0 ||
            (r = metrics_family_add(m, "netcanary_probe_duration_seconds", "Probe latency \\ seconds.",
                                    METRIC_HISTOGRAM, labels, 3, buckets, ELEMENTSOF(buckets), true, &fh)) < 0)
                goto done;
        /* Enough series to make the hash table grow a few times. */
        for (unsigned i = 0; i < 40; i++) {
                char to[32];
                snprintf(to, sizeof to, "target-\"%u\"\\\n", i);
                const char *values[] = { "customer-a", to, i % 2 ? "tcp" : "udp", "connected" };
                metric_t *s;
                if ((r = metric_family_series(fc, values, &s)) < 0)
                        goto done;
                metric_inc(s);
                if ((r = metric_family_series(fh, values, &s)) < 0)
                        goto done;
                metric_observe(s, i / 100.0);
        }
        metric_t *g;
        if ((r = metric_family_series(fg, NULL, &g)) < 0)
                goto done;
        metric_set(g, 3);
        if ((r = metrics_render(m, &out)) < 0)
                goto done;
        /* A reload: keep half the series, sweep the rest, new buckets, render again. */
        metrics_generation_begin(m);
        for (unsigned i = 0; i < 20; i++) {
                char to[32];
                snprintf(to, sizeof to, "target-\"%u\"\\\n", i);
                const char *values[] = { "customer-a", to, i % 2 ? "tcp" : "udp", "connected" };
                metric_t *s;
                if ((r = metric_family_series(fc, values, &s)) < 0)
                        goto done;
        }
        metrics_generation_sweep(m);
        if ((r = metric_family_set_buckets(fh, buckets, 3)) < 0)
                goto done;
        sb_reset(&out);
        r = metrics_render(m, &out);
done:
        sb_free(&out);
        metrics_free(m);
        return r;
}

static void on_timer(loop_timer_t *t, void *userdata) {
        (*(int *) userdata)++;
}

static void on_pipe(loop_io_t *io, int fd, uint32_t events, void *userdata) {
        char buf[16];
        while (read(fd, buf, sizeof buf) > 0)
                ;
        (*(int *) userdata)++;
}

static void on_signal(loop_t *l, int signo, void *userdata) {
        (*(int *) userdata)++;
}

static void on_job(sched_job_t *job, uint64_t lag_usec, void *userdata) {
        (*(int *) userdata)++;
        sched_job_done(job);
}

/* userdata: the request's slot, cleared once it has answered. */
static void on_resolved(int status, const struct sockaddr_storage *addrs, size_t n, void *userdata) {
        *(resolve_req_t **) userdata = NULL;
}

static int op_loop(void) {
        loop_t *l = NULL;
        loop_timer_t *t = NULL;
        loop_io_t *io = NULL;
        sched_t *s = NULL;
        resolver_t *res = NULL;
        int fds[2] = { -1, -1 };
        int events = 0;
        resolv_conf_t rc = { 0 };
        static const char *const literals[] = { "127.0.0.1", "::1", "[::1]" };
        resolve_req_t *reqs[ELEMENTSOF(literals)] = { NULL };
        int r = loop_new(&l);
        if (r < 0)
                goto done;
        if ((r = loop_timer_new(l, on_timer, &events, "oom-timer", &t)) < 0)
                goto done;
        loop_timer_arm(t, mono_usec() + 500);
        if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
                r = -errno;
                goto done;
        }
        if ((r = loop_io_add(l, fds[0], EPOLLIN, on_pipe, &events, "oom-pipe", &io)) < 0)
                goto done;
        (void) !write(fds[1], "x", 1);
        if ((r = loop_signal_add(l, SIGUSR2, on_signal, &events)) < 0)
                goto done;
        if ((r = sched_new(l, 2, &s)) < 0)
                goto done;
        for (unsigned i = 0; i < 4; i++) {
                char name[16];
                snprintf(name, sizeof name, "job-%u", i);
                sched_job_t *job;
                if ((r = sched_add(s, USEC_PER_SEC, sched_phase(name, USEC_PER_SEC), true, on_job, &events, name,
                                   &job)) < 0)
                        goto done;
        }
        if ((r = resolver_new(l, &res)) < 0)
                goto done;
        for (size_t i = 0; i < ELEMENTSOF(literals); i++)
                if ((r = resolver_lookup(res, literals[i], 80, 4, on_resolved, &reqs[i], &reqs[i])) < 0)
                        goto done;
        for (int i = 0; i < 5; i++)
                if ((r = loop_run_once(l, 1000)) < 0)
                        goto done;
        if ((r = resolv_conf_read(&rc)) < 0)
                goto done;
        resolv_conf_done(&rc);
done:
        /* The caller's duty (resolver.h): requests still pending are cancelled before the resolver goes. */
        for (size_t i = 0; i < ELEMENTSOF(reqs); i++)
                resolver_cancel(reqs[i]);
        resolver_free(res);
        if (s)
                sched_free(s);
        loop_io_remove(io);
        if (fds[0] >= 0)
                close(fds[0]);
        if (fds[1] >= 0)
                close(fds[1]);
        loop_timer_free(t);
        loop_free(l);
        return r;
}

/* One HTTP request to the agent on a new loopback connection; runs the loop
 * until the answer is complete (the server closes), or nothing happens for a
 * few turns. Whether an answer came is not checked: under a failing
 * allocator the server may drop the connection. */
static void http_get(loop_t *l, uint16_t port, const char *path, const char *headers) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return;
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
                                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        char req[512];
        int len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: oom\r\nConnection: close\r\n%s\r\n", path,
                           headers);
        if (connect(fd, (struct sockaddr *) &sin, sizeof sin) < 0 && errno != EINPROGRESS) {
                close(fd);
                return;
        }
        size_t sent = 0;
        int idle = 0;
        for (int it = 0; it < 300 && idle < 3; it++) {
                if (sent < (size_t) len) {
                        ssize_t n = send(fd, req + sent, (size_t) len - sent, MSG_NOSIGNAL);
                        if (n > 0)
                                sent += (size_t) n;
                        else if (n < 0 && errno != EAGAIN && errno != EINPROGRESS && errno != ENOTCONN)
                                break;
                }
                uint64_t t0 = mono_usec();
                (void) loop_run_once(l, sent < (size_t) len ? 0 : USEC_PER_MSEC);
                bool quiet = mono_usec() - t0 >= USEC_PER_MSEC * 9 / 10;
                char buf[8192];
                ssize_t n;
                bool got = false, closed = false;
                while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
                        got = true;
                if (n == 0 || (n < 0 && errno != EAGAIN))
                        closed = true;
                if (closed)
                        break;
                idle = got || !quiet ? 0 : idle + 1;
        }
        close(fd);
        for (int i = 0; i < 3; i++)
                (void) loop_run_once(l, 0);
}

static int op_agent(void) {
        loop_t *l = NULL;
        agent_t *a = NULL;
        strbuf_t out;
        sb_init(&out, 0);
        config_errors_t errs;
        config_errors_init(&errs);
        config_t *cfg = NULL;
        int r;
        /* Written unarmed would be nicer, but the writes do not allocate. */
        if ((r = write_agent_config(false)) < 0)
                goto done;
        if ((r = loop_new(&l)) < 0)
                goto done;
        if ((r = config_load_file(agent_path, &cfg, &errs)) < 0)
                goto done;
        agent_options_t opts = { .config_path = agent_path, .listen = "127.0.0.1:0" };
        r = agent_new(l, &opts, cfg, &a);
        cfg = NULL; /* taken, also on failure */
        if (r < 0)
                goto done;
        uint16_t port = agent_http_port(a);
        http_get(l, port, "/metrics", "Accept-Encoding: gzip\r\n");
        http_get(l, port, "/api/v1/matrix", "");
        http_get(l, port, "/probe?target=self-tcp", "");
        http_get(l, port, "/probe?target=closed-tcp", "");
        http_get(l, port, "/probe?target=self-udp", "");
        http_get(l, port, "/probe?target=closed-http", "");
        http_get(l, port, "/probe?target=closed-dns", "");
        http_get(l, port, "/probe?target=no-such-target", "");
        http_get(l, port, "/readyz", "");
        /* A reload that adds rows, then one more round of requests. */
        if ((r = write_agent_config(true)) < 0)
                goto done;
        (void) agent_reload(a, "SIGHUP");
        for (int i = 0; i < 5; i++)
                (void) loop_run_once(l, 1000);
        http_get(l, port, "/metrics", "");
        http_get(l, port, "/healthz", "");
        if ((r = agent_matrix_json(a, &out)) < 0)
                goto done;
        sb_reset(&out);
        if ((r = agent_report_table(a, &out)) < 0)
                goto done;
        sb_reset(&out);
        r = agent_report_junit(a, &out);
done:
        sb_free(&out);
        agent_free(a);
        config_free(cfg);
        config_errors_free(&errs);
        loop_free(l);
        return r;
}

/* ---------------------------------------------------------------- driver */

typedef struct operation {
        const char *name;
        int (*fn)(void);
} operation_t;

static const operation_t operations[] = {
        { "config-parse", op_config_parse },
        { "config-load", op_config_load },
        { "metrics", op_metrics },
        { "loop", op_loop },
        { "agent", op_agent },
};

/* Blocks leaked since `base`, or -1 when unknown (wrap build: LeakSanitizer reports). */
static long leaked_since(long base) {
#ifdef FAULT_LSAN
        (void) base;
        return __lsan_do_recoverable_leak_check() ? 1 : 0;
#else
        long live = failmalloc_live();
        return live < 0 ? -1 : live - base;
#endif
}

static int run_operation(const operation_t *op, unsigned long stride) {
        /* Warm up: one-time allocations of the libraries (curl_global_init,
         * c-ares, the time zone, stdio) are made before counting. */
        for (int i = 0; i < 2; i++) {
                int r = op->fn();
                if (r < 0) {
                        say("FAIL %s: fails without any injected fault: %s\n", op->name, strerror(-r));
                        return 1;
                }
        }
        long base = failmalloc_live();
        failmalloc_arm(0);
        int r = op->fn();
        unsigned long k = failmalloc_count();
        long leaked = leaked_since(base);
        if (r < 0 || leaked != 0) {
                say("FAIL %s: a clean run returned %d and changed the live block count by %ld\n", op->name, r, leaked);
                return 1;
        }
        if (k == 0) {
                say("FAIL %s: no allocation was seen: the failing allocator is not in effect\n", op->name);
                return 1;
        }
        unsigned long points = 0, ok = 0, failed = 0, enomem = 0;
        int fails = 0;
        const char *only = getenv("FAULT_TRACE");
        unsigned long first = 1;
        if (only) {
                first = strtoul(only, NULL, 10);
                failmalloc_trace(report_fd);
        }
        bool progress = getenv("FAULT_PROGRESS") != NULL;
        for (unsigned long n = first;; n += stride) {
                if (progress)
                        say("%s: point %lu\n", op->name, n);
                base = failmalloc_live();
                if (only)
                        failmalloc_track(true);
                failmalloc_arm(n);
                r = op->fn();
                bool fired = failmalloc_fired();
                failmalloc_disarm();
                if (only) {
                        failmalloc_track(false);
                        failmalloc_dump_tracked(report_fd);
                }
                if (!fired)
                        break; /* past the operation's last allocation */
                points++;
                if (r == 0)
                        ok++;
                else {
                        failed++;
                        if (r == -ENOMEM)
                                enomem++;
                        else if (r < 0)
                                say("note %s: allocation %lu failed: returned %s, not -ENOMEM\n", op->name, n,
                                    strerror(-r));
                }
                if (r > 0) {
                        say("FAIL %s: allocation %lu failed: returned %d, neither 0 nor -errno\n", op->name, n, r);
                        fails++;
                }
                leaked = leaked_since(base);
                if (leaked != 0) {
                        if (leaked > 0)
                                say("FAIL %s: allocation %lu failed (%s): %ld heap block(s) leaked\n", op->name, n,
                                    r < 0 ? strerror(-r) : "operation succeeded", leaked);
                        else
                                say("FAIL %s: allocation %lu failed (%s): %ld more frees than allocations\n",
                                    op->name, n, r < 0 ? strerror(-r) : "operation succeeded", -leaked);
                        fails++;
                }
                if (only)
                        break;
                if (fails >= 20) {
                        say("FAIL %s: stopping after 20 failures\n", op->name);
                        break;
                }
        }
        say("%s %s: %lu allocations in a clean run; %lu failure points tested (stride %lu): %lu succeeded "
            "anyway, %lu returned an error (%lu -ENOMEM, %lu other)\n",
            fails ? "FAIL" : "ok  ", op->name, k, points, stride, ok, failed, enomem, failed - enomem);
        return fails ? 1 : 0;
}

int main(int argc, char **argv) {
        /* Reports go to the real stderr; the daemon's error logs (one per
         * failure point) to /dev/null unless FAULT_VERBOSE is set. */
        report_fd = dup(2);
        if (report_fd < 0)
                return 2;
        if (!getenv("FAULT_VERBOSE")) {
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (null >= 0) {
                        dup2(null, 2);
                        close(null);
                }
        }
        static const char *const proxies[] = { "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                                              "all_proxy", "ALL_PROXY" };
        for (size_t i = 0; i < ELEMENTSOF(proxies); i++)
                unsetenv(proxies[i]);
        signal(SIGPIPE, SIG_IGN);
        log_setup(LOG_ERROR, LOG_FORMAT_LOGFMT);
        /* Prime what the error paths allocate once and keep (time zone,
         * strerror's buffer), so it is not taken for a leak. */
        log_event(LOG_ERROR, "fault-oom: priming the log", "error", strerror(ENOMEM), NULL);
        (void) strerror(123456);

        const char *t = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/fault-oom-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(tmpdir)) {
                say("FAIL: mkdtemp %s: %s\n", tmpdir, strerror(errno));
                return 1;
        }
        snprintf(design_path, sizeof design_path, "%s/design.json", tmpdir);
        snprintf(agent_path, sizeof agent_path, "%s/agent.json", tmpdir);
        if (write_file(design_path, design_config) < 0) {
                say("FAIL: cannot write %s\n", design_path);
                return 1;
        }

        const char *s = getenv("FAULT_STRIDE");
        unsigned long stride = s ? strtoul(s, NULL, 10) : 1;
        if (stride == 0)
                stride = 1;
#ifdef FAULT_LSAN
        say("fault-oom: wrap build under AddressSanitizer: netcanary's own allocations fail, LeakSanitizer checks\n");
#else
        /* json-c 0.16 crashes on a failed strdup() inside its tokener (see failmalloc.h). */
        if (failmalloc_spare("libjson-c") == 0)
                say("fault-oom: note: libjson-c not found among the loaded objects, nothing spared\n");
        /* libcurl may start a resolver thread; glibc keeps a finished thread's
         * stack and TLS (allocated by the dynamic loader) for the next one. */
        (void) failmalloc_ignore("ld-linux");
        say("fault-oom: replacement build: every allocation of the process (but json-c's) can fail, live blocks "
            "are counted\n");
#endif
        int failures = 0, ran = 0;
        for (size_t i = 0; i < ELEMENTSOF(operations); i++) {
                bool wanted = argc <= 1;
                for (int j = 1; j < argc; j++)
                        if (strcmp(argv[j], operations[i].name) == 0)
                                wanted = true;
                if (!wanted)
                        continue;
                ran++;
                failures += run_operation(&operations[i], stride);
        }
        unlink(design_path);
        unlink(agent_path);
        rmdir(tmpdir);
        if (ran == 0) {
                say("FAIL: no such operation\n");
                return 1;
        }
        return failures ? 1 : 0;
}
