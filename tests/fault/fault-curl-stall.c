/* An HTTP probe ends even when curl cannot make progress (issue 10,
 * Robustness): curl_multi_socket_action() is wrapped (-Wl,--wrap) so that,
 * while `stalled` is set, it fails with CURLM_OUT_OF_MEMORY without doing
 * anything. curl then never connects and never times the transfer out; the
 * probe's own deadline timer must end it with outcome "timeout", not before
 * its deadline, and the client must be freeable afterwards.
 *
 * Then the same probe without the stall against a listener that accepts and
 * never answers: curl's own timeout ends it as "bad_response" (connected,
 * no response), proving the backstop does not pre-empt curl's verdict.
 *
 * Loopback only: 127.0.0.1:19440 (a listener this test owns). Exit 0 pass,
 * 1 fail. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "loop.h"
#include "probe_http.h"
#include "resolver.h"
#include "results.h"
#include "util.h"

#define STALL_PORT 19440
/* The probes' timeout, and how long the test waits at most for a callback. */
#define PROBE_TIMEOUT_USEC (300 * USEC_PER_MSEC)
#define WAIT_LIMIT_USEC (10 * USEC_PER_SEC)

static bool stalled;
static unsigned stalled_calls;

CURLMcode __real_curl_multi_socket_action(CURLM *multi, curl_socket_t s, int ev_bitmask, int *running);
CURLMcode __wrap_curl_multi_socket_action(CURLM *multi, curl_socket_t s, int ev_bitmask, int *running);

CURLMcode __wrap_curl_multi_socket_action(CURLM *multi, curl_socket_t s, int ev_bitmask, int *running) {
        if (stalled) {
                stalled_calls++;
                return CURLM_OUT_OF_MEMORY;
        }
        return __real_curl_multi_socket_action(multi, s, ev_bitmask, running);
}

typedef struct outcome_box {
        bool done;
        uint64_t at_usec;
        http_probe_result_t result;
} outcome_box_t;

static void on_done(const http_probe_result_t *result, void *userdata) {
        outcome_box_t *box = userdata;
        box->done = true;
        box->at_usec = mono_usec();
        box->result = *result;
}

static int failures;

static void expect(bool ok, const char *what) {
        printf("%s: %s\n", ok ? "ok  " : "FAIL", what);
        if (!ok)
                failures++;
}

/* Runs one probe to completion (or WAIT_LIMIT_USEC); returns whether its
 * callback ran. */
static bool run_probe(loop_t *loop, http_prober_t *client, const http_request_t *req, outcome_box_t *box,
                      uint64_t *ret_deadline) {
        struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(STALL_PORT) };
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        uint64_t start = mono_usec();
        uint64_t deadline = start + PROBE_TIMEOUT_USEC;
        http_probe_t *probe = NULL;
        *box = (outcome_box_t) { 0 };
        *ret_deadline = deadline;
        int r = probe_http_start(client, req, (const struct sockaddr *) &addr, 0, deadline, 0, on_done, box, &probe);
        if (r < 0) {
                printf("FAIL: probe_http_start: %s\n", strerror(-r));
                failures++;
                return false;
        }
        while (!box->done && mono_usec() - start < WAIT_LIMIT_USEC)
                (void) loop_run_once(loop, 100 * USEC_PER_MSEC);
        if (!box->done)
                probe_http_cancel(probe);
        return box->done;
}

int main(void) {
        log_setup(LOG_WARN, LOG_FORMAT_LOGFMT);
        static const char config_text[] =
                "{\"targets\": {\"h\": {\"http\": {\"url\": \"http://127.0.0.1:19440/\"}}},"
                " \"matrix\": [{\"from\": \"a\", \"to\": \"h\", \"expect\": \"allow\"}]}";
        config_errors_t errs;
        config_errors_init(&errs);
        config_t *cfg = NULL;
        if (config_parse(config_text, sizeof config_text - 1, "stall.json", &cfg, &errs) < 0) {
                printf("FAIL: test config refused\n");
                return 1;
        }
        config_errors_free(&errs);

        /* Accepts (the kernel completes the handshake) and never answers. */
        int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in bind_addr = { .sin_family = AF_INET, .sin_port = htons(STALL_PORT) };
        bind_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int one = 1;
        (void) setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (listener < 0 || bind(listener, (struct sockaddr *) &bind_addr, sizeof bind_addr) < 0 ||
            listen(listener, 16) < 0) {
                printf("FAIL: cannot listen on 127.0.0.1:%d: %s\n", STALL_PORT, strerror(errno));
                return 1;
        }

        loop_t *loop = NULL;
        resolver_t *resolver = NULL;
        http_prober_t *client = NULL;
        http_request_t *req = NULL;
        if (loop_new(&loop) < 0 || resolver_new(loop, &resolver) < 0 || http_prober_new(loop, resolver, &client) < 0 ||
            http_request_new(&cfg->targets[0].http, &req) < 0) {
                printf("FAIL: set-up\n");
                return 1;
        }

        outcome_box_t box;
        uint64_t deadline;
        stalled = true;
        bool done = run_probe(loop, client, req, &box, &deadline);
        stalled = false;
        printf("stalled curl: %u curl_multi_socket_action calls failed\n", stalled_calls);
        expect(stalled_calls > 0, "the stall was in effect (curl asked to act and failed)");
        expect(done, "a probe curl cannot advance still ends (within 10 s of starting)");
        if (done) {
                printf("  outcome %s, ended %+.1f ms from its deadline\n", outcome_name(box.result.outcome),
                       ((double) box.at_usec - (double) deadline) / 1000.0);
                expect(box.result.outcome == OUTCOME_TIMEOUT, "its outcome is timeout");
                expect(box.at_usec >= deadline, "it does not end before its deadline");
        }

        done = run_probe(loop, client, req, &box, &deadline);
        expect(done, "without the stall, a probe to a silent listener ends");
        if (done) {
                printf("  outcome %s, ended %+.1f ms from its deadline, detail \"%s\"\n",
                       outcome_name(box.result.outcome), ((double) box.at_usec - (double) deadline) / 1000.0,
                       box.result.detail);
                expect(box.result.outcome == OUTCOME_BAD_RESPONSE,
                       "curl's own timeout gives bad_response (connected, no answer)");
        }

        http_request_free(req);
        http_prober_free(client);
        resolver_free(resolver);
        loop_free(loop);
        close(listener);
        config_free(cfg);
        printf("%s\n", failures ? "FAILED" : "passed");
        return failures ? 1 : 0;
}
