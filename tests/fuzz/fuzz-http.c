/* Fuzz target: the agent's HTTP endpoints as a client on the network sees
 * them. One real agent (agent_new, listening on 127.0.0.1 with an ephemeral
 * port, its own loop) lives across all inputs; each input is written as the
 * raw bytes of a new TCP connection to it, the loop runs until the answer is
 * read, the server closes, or the connection goes quiet (bounded), and then
 * a fresh GET /healthz must still answer 200 "ok".
 *
 * The config names only loopback targets on closed ports of the test block
 * (19490-19499), so /probe?target=... requests finish at once (refused) and
 * nothing ever leaves the host. Checked on every answer: it starts with an
 * HTTP/1.x status line; a 200 application/json answer that is not gzipped
 * parses as JSON; the process's fd count stays bounded. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <json.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"
#include "config.h"
#include "fuzz.h"
#include "log.h"
#include "loop.h"
#include "util.h"

#define MAX_ITERATIONS 400      /* loop turns per exchange */
#define IDLE_TURNS 2            /* turns with no event at all (1 ms each) after the request is sent */
#define MAX_RESPONSE (4u << 20) /* bytes kept of an answer */
#define FD_SLACK 200            /* fds above the start-up count that mean a leak */

static const char config_text[] =
        "{\n"
        "  \"agent\": { \"identity\": \"fuzz\", \"responder\": { \"port\": 0 }, \"max_in_flight\": 8 },\n"
        "  \"defaults\": { \"interval\": \"1h\", \"timeout\": \"200ms\", \"confirm\": 1 },\n"
        "  \"targets\": {\n"
        "    \"closed-tcp\":  { \"tcp\":  { \"host\": \"127.0.0.1\", \"port\": 19490 } },\n"
        "    \"closed-udp\":  { \"udp\":  { \"host\": \"127.0.0.1\", \"port\": 19491 } },\n"
        "    \"closed-http\": { \"http\": { \"url\": \"http://127.0.0.1:19492/metrics\", \"status\": [200] } },\n"
        "    \"closed-dns\":  { \"dns\":  { \"name\": \"example.test\", \"type\": \"A\", "
        "\"servers\": [\"127.0.0.1:19493\"] } },\n"
        "    \"closed-tcp6\": { \"tcp\":  { \"host\": \"::1\", \"port\": 19494 }, \"refused_means\": \"allowed\" }\n"
        "  },\n"
        "  \"matrix\": [\n"
        "    { \"from\": \"*\", \"to\": \"closed-tcp\", \"expect\": \"deny\" },\n"
        "    { \"from\": \"*\", \"to\": \"closed-udp\", \"expect\": \"deny\" },\n"
        "    { \"from\": \"fuzz\", \"to\": \"closed-http\", \"expect\": \"allow\" },\n"
        "    { \"from\": \"*\", \"to\": \"closed-dns\", \"expect\": \"allow\" },\n"
        "    { \"from\": \"*\", \"to\": \"closed-tcp6\", \"expect\": \"allow\" }\n"
        "  ]\n"
        "}\n";

static loop_t *loop;
static agent_t *agent;
static uint16_t http_port;
static int base_fds;
static unsigned long n_inputs;

static int count_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        if (!d)
                return -1;
        int n = 0;
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

static void setup(void) {
        /* Probes go to loopback only: no proxy from the environment. */
        static const char *const proxies[] = { "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                                              "all_proxy", "ALL_PROXY" };
        for (size_t i = 0; i < ELEMENTSOF(proxies); i++)
                unsetenv(proxies[i]);
        signal(SIGPIPE, SIG_IGN);
        log_setup(getenv("FUZZ_HTTP_LOG") ? LOG_DEBUG : LOG_ERROR, LOG_FORMAT_LOGFMT);

        FUZZ_CHECK(loop_new(&loop) == 0);
        config_errors_t errs;
        config_errors_init(&errs);
        config_t *cfg = NULL;
        int r = config_parse(config_text, sizeof config_text - 1, "fuzz-http.json", &cfg, &errs);
        for (size_t i = 0; i < errs.n; i++)
                fprintf(stderr, "fuzz-http config: %s\n", errs.messages[i]);
        config_errors_free(&errs);
        FUZZ_CHECK(r == 0);
        agent_options_t opts = { .listen = "127.0.0.1:0" };
        r = agent_new(loop, &opts, cfg, &agent);
        if (r < 0)
                fprintf(stderr, "fuzz-http: agent_new: %s\n", strerror(-r));
        FUZZ_CHECK(r == 0);
        http_port = agent_http_port(agent);
        FUZZ_CHECK(http_port != 0);
        for (int i = 0; i < 10; i++)
                loop_run_once(loop, 0);
        base_fds = count_fds();
}

/* Writes `req` on a new connection and collects what comes back in `resp`
 * until the server closes, the loop sleeps through IDLE_TURNS whole turns
 * with nothing coming back after everything was sent (a timer due now, such
 * as libmicrohttpd's "more to do", keeps it going), or MAX_ITERATIONS turns
 * pass. Returns true when
 * the server closed the connection. */
static bool exchange(const uint8_t *req, size_t len, strbuf_t *resp) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        FUZZ_CHECK(fd >= 0);
        int one = 1;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(http_port),
                                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (connect(fd, (struct sockaddr *) &sin, sizeof sin) < 0 && errno != EINPROGRESS) {
                fprintf(stderr, "fuzz-http: connect to 127.0.0.1:%u: %s\n", http_port, strerror(errno));
                FUZZ_CHECK(!"cannot connect to the agent");
        }
        size_t sent = 0;
        int idle = 0;
        bool closed = false;
        char buf[16384];
        for (int it = 0; it < MAX_ITERATIONS && !closed; it++) {
                if (sent < len) {
                        ssize_t n = send(fd, req + sent, len - sent, MSG_NOSIGNAL);
                        if (n > 0)
                                sent += (size_t) n;
                        else if (n < 0 && errno != EAGAIN && errno != EINPROGRESS && errno != ENOTCONN &&
                                 errno != EINTR)
                                sent = len; /* the server hung up on us: stop writing */
                }
                uint64_t t0 = mono_usec();
                loop_run_once(loop, sent < len ? 0 : USEC_PER_MSEC);
                /* The loop slept through its whole wait: nothing to do for the server either. */
                bool quiet = mono_usec() - t0 >= USEC_PER_MSEC * 9 / 10;
                bool got = false;
                for (;;) {
                        ssize_t n = recv(fd, buf, sizeof buf, 0);
                        if (n > 0) {
                                got = true;
                                if (resp->len < MAX_RESPONSE)
                                        sb_append(resp, buf, (size_t) n);
                                continue;
                        }
                        if (n == 0 || (errno != EAGAIN && errno != EINTR))
                                closed = true;
                        break;
                }
                if (sent >= len)
                        idle = got || !quiet ? 0 : idle + 1;
                if (idle >= IDLE_TURNS)
                        break;
        }
        if (getenv("FUZZ_HTTP_LOG"))
                fprintf(stderr, "fuzz-http: sent %zu of %zu bytes, %s\n", sent, len,
                        closed ? "server closed" : idle >= IDLE_TURNS ? "connection quiet" : "turns exhausted");
        close(fd);
        /* Let the server see the close. */
        for (int i = 0; i < 3; i++)
                loop_run_once(loop, 0);
        return closed;
}

/* Checks the first answer in `resp` (pipelined requests get several) to
 * the request `req`. */
static void check_response(const uint8_t *req, size_t req_len, const strbuf_t *resp) {
        if (resp->len == 0)
                return;
        const char *r = resp->data;
        if (resp->len < 12 || (strncmp(r, "HTTP/1.1 ", 9) != 0 && strncmp(r, "HTTP/1.0 ", 9) != 0)) {
                fprintf(stderr, "fuzz-http: answer does not start with a status line: %.*s\n",
                        (int) (resp->len < 80 ? resp->len : 80), r);
                FUZZ_CHECK(!"malformed HTTP answer");
        }
        const char *end = strstr(r, "\r\n\r\n");
        if (!end)
                return;
        size_t head_len = (size_t) (end - r) + 4;
        char *head = strndup(r, head_len);
        FUZZ_CHECK(head);
        bool ok = strncmp(r + 9, "200 ", 4) == 0;
        bool json = strcasestr(head, "\r\nContent-Type: application/json") != NULL;
        bool gzip = strcasestr(head, "\r\nContent-Encoding:") != NULL;
        const char *cl = strcasestr(head, "\r\nContent-Length:");
        free(head);
        /* A HEAD answer has a Content-Length but no body: what follows is the next answer. */
        bool head_request = req_len >= 5 && memcmp(req, "HEAD ", 5) == 0;
        if (!ok || !json || gzip || !cl || head_request)
                return;
        size_t body_len = strtoul(cl + 17, NULL, 10);
        if (body_len == 0 || resp->len - head_len < body_len)
                return; /* a HEAD answer, or cut short */
        json_tokener *tok = json_tokener_new();
        FUZZ_CHECK(tok);
        json_object *o = json_tokener_parse_ex(tok, r + head_len, (int) body_len);
        if (!o || json_tokener_get_error(tok) != json_tokener_success) {
                fprintf(stderr, "fuzz-http: a 200 application/json body does not parse: %.*s\n",
                        (int) (body_len < 400 ? body_len : 400), r + head_len);
                FUZZ_CHECK(!"invalid JSON answer");
        }
        json_object_put(o);
        json_tokener_free(tok);
}

static void check_healthy(void) {
        static const char healthz[] = "GET /healthz HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n\r\n";
        strbuf_t resp;
        sb_init(&resp, 0);
        /* Up to three tries: one connection may land while the server is at its connection limit. */
        bool ok = false;
        for (int attempt = 0; attempt < 3 && !ok; attempt++) {
                sb_reset(&resp);
                (void) exchange((const uint8_t *) healthz, sizeof healthz - 1, &resp);
                ok = resp.len > 0 && strncmp(resp.data, "HTTP/1.1 200 ", 13) == 0 && strstr(resp.data, "\r\n\r\nok\n");
        }
        if (!ok) {
                fprintf(stderr, "fuzz-http: GET /healthz after input %lu: %s\n", n_inputs,
                        resp.len ? resp.data : "(no answer)");
                FUZZ_CHECK(!"the agent is no longer healthy");
        }
        sb_free(&resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!loop)
                setup();
        n_inputs++;
        strbuf_t resp;
        sb_init(&resp, 0);
        bool closed = exchange(data, size, &resp);
        if (getenv("FUZZ_HTTP_LOG"))
                fprintf(stderr, "fuzz-http: %zu bytes back%s:\n%.*s\n", resp.len, closed ? ", server closed" : "",
                        (int) (resp.len < 600 ? resp.len : 600), resp.len ? resp.data : "");
        check_response(data, size, &resp);
        sb_free(&resp);
        check_healthy();
        if (n_inputs % 64 == 0) {
                int fds = count_fds();
                if (fds > base_fds + FD_SLACK) {
                        fprintf(stderr, "fuzz-http: %d fds open, %d at start\n", fds, base_fds);
                        FUZZ_CHECK(!"file descriptors leak");
                }
        }
        return 0;
}
