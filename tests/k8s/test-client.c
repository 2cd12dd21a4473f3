/* Unit tests for the parts of k8s.c that need no server: the in-cluster and
 * file configurations, argument checks, and a server that refuses
 * connections (errors counted, retried with backoff, loop never blocked). */
#include <errno.h>
#include <inttypes.h>
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

#include "k8s.h"
#include "util.h"

static char tmpdir[] = "/tmp/nc-k8s-client.XXXXXX";

static char *write_file(const char *name, const char *content) {
        char *path = NULL;
        assert_true(asprintf(&path, "%s/%s", tmpdir, name) > 0);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
        return path;
}

static int load(const char *content, k8s_config_t *cfg, config_errors_t *errs) {
        char *path = write_file("kube.json", content);
        config_errors_init(errs);
        int r = k8s_config_load(path, cfg, errs);
        free(path);
        return r;
}

static void assert_errors(config_errors_t *errs, const char *needle) {
        char *all = config_errors_join(errs);
        assert_non_null(all);
        if (!strstr(all, needle))
                fail_msg("errors \"%s\" do not mention \"%s\"", all, needle);
        free(all);
}

static void test_config_load(void **state) {
        k8s_config_t cfg = { 0 };
        config_errors_t errs;
        assert_int_equal(load("{ \"server\": \"https://127.0.0.1:6443/\", \"ca_file\": \"ca.crt\",\n"
                              "  \"token_file\": \"/var/run/token\" }", &cfg, &errs), 0);
        assert_int_equal(errs.n, 0);
        assert_string_equal(cfg.server, "https://127.0.0.1:6443");
        char want[128];
        snprintf(want, sizeof want, "%s/ca.crt", tmpdir);
        assert_string_equal(cfg.ca_file, want);
        assert_string_equal(cfg.token_file, "/var/run/token");
        k8s_config_done(&cfg);
        config_errors_free(&errs);

        /* only the server is required; IPv6 and names are fine */
        assert_int_equal(load("{\"server\": \"https://[::1]:6443\"}", &cfg, &errs), 0);
        assert_null(cfg.ca_file);
        assert_null(cfg.token_file);
        k8s_config_done(&cfg);
        config_errors_free(&errs);
        assert_int_equal(load("{\"server\": \"https://api.cluster.example\"}", &cfg, &errs), 0);
        k8s_config_done(&cfg);
        config_errors_free(&errs);

        /* every problem at once, with the file and the key */
        assert_int_equal(load("{\"server\": \"http://127.0.0.1:8080\", \"token\": \"abc\", \"ca_file\": 3}",
                              &cfg, &errs), -EINVAL);
        assert_int_equal(errs.n, 3);
        assert_errors(&errs, "server: \"http://127.0.0.1:8080\" is not an https://HOST[:PORT] URL");
        assert_errors(&errs, "token: unknown key");
        assert_errors(&errs, "ca_file: must be a non-empty string");
        assert_errors(&errs, "kube.json: ");
        config_errors_free(&errs);
        assert_null(cfg.server);

        assert_int_equal(load("{\"ca_file\": \"x\"}", &cfg, &errs), -EINVAL);
        assert_errors(&errs, "server: missing");
        config_errors_free(&errs);
        assert_int_equal(load("{\"server\": \"https://u:p@10.0.0.1\"}", &cfg, &errs), -EINVAL);
        config_errors_free(&errs);
        assert_int_equal(load("{\"server\": \"https://10.0.0.1?x=1\"}", &cfg, &errs), -EINVAL);
        config_errors_free(&errs);
        assert_int_equal(load("[1,2]", &cfg, &errs), -EINVAL);
        assert_errors(&errs, "not a JSON object");
        config_errors_free(&errs);
        assert_int_equal(load("{\"server\": ", &cfg, &errs), -EINVAL);
        config_errors_free(&errs);

        /* a missing file, and the size cap */
        config_errors_init(&errs);
        assert_int_equal(k8s_config_load("/nonexistent/kube.json", &cfg, &errs), -EINVAL);
        assert_errors(&errs, "No such file");
        config_errors_free(&errs);
        char *big = malloc(K8S_MAX_CONFIG_BYTES + 2);
        memset(big, ' ', K8S_MAX_CONFIG_BYTES + 1);
        big[0] = '{';
        big[K8S_MAX_CONFIG_BYTES] = '}';
        big[K8S_MAX_CONFIG_BYTES + 1] = '\0';
        assert_int_equal(load(big, &cfg, &errs), -EINVAL);
        assert_errors(&errs, "larger than");
        config_errors_free(&errs);
        free(big);
        k8s_config_done(NULL);
}

static void test_config_in_cluster(void **state) {
        k8s_config_t cfg = { 0 };
        assert_int_equal(k8s_config_in_cluster_from("10.96.0.1", "443", "/sa", &cfg), 0);
        assert_string_equal(cfg.server, "https://10.96.0.1:443");
        assert_string_equal(cfg.ca_file, "/sa/ca.crt");
        assert_string_equal(cfg.token_file, "/sa/token");
        k8s_config_done(&cfg);
        assert_int_equal(k8s_config_in_cluster_from("fd00:10:96::1", NULL, "/sa", &cfg), 0);
        assert_string_equal(cfg.server, "https://[fd00:10:96::1]:443");
        k8s_config_done(&cfg);
        assert_int_equal(k8s_config_in_cluster_from(NULL, "443", "/sa", &cfg), -ENXIO);
        assert_int_equal(k8s_config_in_cluster_from("", "443", "/sa", &cfg), -ENXIO);
        assert_int_equal(k8s_config_in_cluster_from("10.96.0.1", "0", "/sa", &cfg), -EINVAL);
        assert_int_equal(k8s_config_in_cluster_from("10.96.0.1", "https", "/sa", &cfg), -EINVAL);

        unsetenv("KUBERNETES_SERVICE_HOST");
        assert_int_equal(k8s_config_in_cluster(&cfg), -ENXIO);
        setenv("KUBERNETES_SERVICE_HOST", "10.43.0.1", 1);
        setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
        assert_int_equal(k8s_config_in_cluster(&cfg), 0);
        assert_string_equal(cfg.server, "https://10.43.0.1:6443");
        assert_string_equal(cfg.token_file, K8S_SERVICEACCOUNT_DIR "/token");
        assert_string_equal(cfg.ca_file, K8S_SERVICEACCOUNT_DIR "/ca.crt");
        k8s_config_done(&cfg);
        unsetenv("KUBERNETES_SERVICE_HOST");
        unsetenv("KUBERNETES_SERVICE_PORT");
}

static void on_event(k8s_watch_t *w, k8s_event_t ev, struct json_object *obj, void *userdata) {
        (*(unsigned *) userdata)++;
}

static void on_tick(loop_timer_t *t, void *userdata) {
        (*(unsigned *) userdata)++;
        loop_timer_arm(t, mono_usec() + 20 * USEC_PER_MSEC);
}

static void test_client_arguments_and_refused(void **state) {
        loop_t *loop;
        curlloop_t *curl;
        k8s_client_t *c = NULL;
        assert_int_equal(loop_new(&loop), 0);
        assert_int_equal(curlloop_new(loop, &curl), 0);

        k8s_config_t cfg = { .server = "https://kubernetes.example:6443" };
        assert_int_equal(k8s_client_new(loop, curl, NULL, &cfg, &c), -EINVAL);  /* a name needs a resolver */
        cfg.server = "http://127.0.0.1:6443";
        assert_int_equal(k8s_client_new(loop, curl, NULL, &cfg, &c), -EINVAL);
        cfg.server = NULL;
        assert_int_equal(k8s_client_new(loop, curl, NULL, &cfg, &c), -EINVAL);

        /* Port 1 on loopback refuses: every attempt is an error, retried
         * with backoff (50 ms doubling to 200 ms), never a busy loop. */
        char *token = write_file("token", "  abc.def.ghi\n");
        cfg = (k8s_config_t) { .server = "https://127.0.0.1:1", .token_file = token };
        assert_int_equal(k8s_client_new(loop, curl, NULL, &cfg, &c), 0);
        k8s_watch_t *w = NULL;
        unsigned events = 0, ticks = 0;
        assert_int_equal(k8s_watch_start(c, "api/v1/namespaces", NULL, on_event, &events, &w), -EINVAL);
        assert_int_equal(k8s_watch_start(c, "/api/v1/namespaces?x=1", NULL, on_event, &events, &w), -EINVAL);
        assert_int_equal(k8s_watch_start(c, "/api/v1/namespaces", NULL, NULL, &events, &w), -EINVAL);
        k8s_watch_options_t opts = { .backoff_min_usec = 50 * USEC_PER_MSEC, .backoff_max_usec = 200 * USEC_PER_MSEC };
        assert_int_equal(k8s_watch_start_with(c, "/api/v1/namespaces", &opts, on_event, &events, &w), 0);
        /* nothing happens inside the call */
        assert_int_equal(k8s_watch_errors(w), 0);
        assert_null(k8s_watch_last_error(w));
        assert_int_equal(k8s_watch_last_errno(w), 0);
        assert_string_equal(k8s_watch_resource_version(w), "");
        assert_false(k8s_watch_synced(w));

        loop_timer_t *tick;
        assert_int_equal(loop_timer_new(loop, on_tick, &ticks, "tick", &tick), 0);
        loop_timer_arm(tick, mono_usec());
        uint64_t end = mono_usec() + 1500 * USEC_PER_MSEC;
        while (mono_usec() < end)
                loop_run_once(loop, 20 * USEC_PER_MSEC);
        /* 50+100+200+200+... (±20%) within 1.5 s: between 4 and 12 attempts */
        uint64_t errors = k8s_watch_errors(w);
        print_message("refused: %" PRIu64 " errors in 1.5 s, %u ticks, last: %s\n", errors, ticks,
                      k8s_watch_last_error(w));
        assert_true(errors >= 4 && errors <= 12);
        assert_int_equal(k8s_watch_last_errno(w), -ECONNREFUSED);
        assert_non_null(strstr(k8s_watch_last_error(w), "list /api/v1/namespaces"));
        assert_int_equal(events, 0);
        assert_true(ticks >= 40);
        assert_true(k8s_watch_relists(w) >= 3);

        /* A token file that disappears is an error of its own. */
        unlink(token);
        uint64_t before = k8s_watch_errors(w);
        end = mono_usec() + 600 * USEC_PER_MSEC;
        while (mono_usec() < end)
                loop_run_once(loop, 20 * USEC_PER_MSEC);
        assert_true(k8s_watch_errors(w) > before);
        assert_int_equal(k8s_watch_last_errno(w), -ENOENT);
        assert_non_null(strstr(k8s_watch_last_error(w), "token file"));

        k8s_watch_free(w);
        k8s_watch_free(NULL);
        loop_timer_free(tick);
        k8s_client_free(c);
        k8s_client_free(NULL);
        curlloop_free(curl);
        loop_free(loop);
        free(token);
}

static int setup(void **state) {
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
        char *cmd = NULL;
        if (asprintf(&cmd, "rm -rf '%s'", tmpdir) > 0) {
                if (system(cmd) != 0)
                        fprintf(stderr, "cannot remove %s\n", tmpdir);
        }
        free(cmd);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_config_load),
                cmocka_unit_test(test_config_in_cluster),
                cmocka_unit_test(test_client_arguments_and_refused),
        };
        return cmocka_run_group_tests_name("k8s_client", tests, setup, teardown);
}
