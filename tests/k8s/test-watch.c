/* Integration test of the Kubernetes API client (src/k8s.c) against
 * tests/k8s/fake-apiserver.py, started by test-watch.sh, which passes:
 *
 *   K8S_FAKE_PORT        the server's port on 127.0.0.1
 *   K8S_FAKE_CA          the CA that signed its certificate
 *   K8S_FAKE_TOKEN_FILE  the token file the client reads (this test rewrites it)
 *   K8S_FAKE_DIR         a scratch directory (other CA, configs)
 *
 * Every test resets the server, builds a loop + curlloop + client, scripts
 * the server through its control endpoint (a blocking curl call from the
 * test, outside the loop) and runs the loop until the expected callbacks have
 * happened, each wait bounded. A recorder applies the callbacks the way a
 * consumer would and checks them against the client's contract (ADDED only
 * for unknown keys, MODIFIED/DELETED only for known ones, and at SYNCED the
 * consumer's set equals k8s_watch_objects()). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json.h>
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
#include "k8s_objects.h"
#include "util.h"

#define WAIT_SEC 10

static const char *fake_port, *fake_ca, *token_file, *fake_dir;
static char base_url[64];
static char *initial_token;

/* ---------------------------------------------------------------- control */

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata) {
        sb_append(userdata, ptr, size * nmemb);
        return size * nmemb;
}

/* A blocking request to the fake server's control side; returns the JSON. */
static struct json_object *fake_call(const char *path, const char *body) {
        CURL *e = curl_easy_init();
        assert_non_null(e);
        strbuf_t sb;
        sb_init(&sb, 0);
        char url[128];
        snprintf(url, sizeof url, "%s%s", base_url, path);
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_CAINFO, fake_ca);
        curl_easy_setopt(e, CURLOPT_TIMEOUT, 10L);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &sb);
        struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
        if (body)
                curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        CURLcode rc = curl_easy_perform(e);
        long status = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(h);
        curl_easy_cleanup(e);
        if (rc != CURLE_OK || status != 200)
                fail_msg("fake server %s %s: %s, HTTP %ld: %s", path, body ? body : "", curl_easy_strerror(rc),
                         status, sb.data ? sb.data : "");
        struct json_object *o = json_tokener_parse(sb.data);
        assert_non_null(o);
        sb_free(&sb);
        return o;
}

/* Sends one control operation (printf-style JSON); returns the server's
 * resourceVersion after it. */
static int64_t ctl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int64_t ctl(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *body = NULL;
        assert_true(vasprintf(&body, fmt, ap) > 0);
        va_end(ap);
        struct json_object *o = fake_call("/_ctl", body), *rv;
        assert_true(json_object_object_get_ex(o, "rv", &rv));
        int64_t v = json_object_get_int64(rv);
        json_object_put(o);
        free(body);
        return v;
}

static struct json_object *stats(void) {
        return fake_call("/_stats", NULL);
}

static int64_t stat_int(const char *key) {
        struct json_object *s = stats(), *v;
        assert_true(json_object_object_get_ex(s, key, &v));
        int64_t r = json_object_get_int64(v);
        json_object_put(s);
        return r;
}

/* The server's log of API requests (kind, query, status, t), kept by the caller. */
static struct json_object *requests(struct json_object *s) {
        struct json_object *v;
        assert_true(json_object_object_get_ex(s, "requests", &v));
        return v;
}

static const char *req_str(struct json_object *req, const char *section, const char *key) {
        struct json_object *sec = req, *v;
        if (section && !json_object_object_get_ex(req, section, &sec))
                return NULL;
        return json_object_object_get_ex(sec, key, &v) ? json_object_get_string(v) : NULL;
}

/* The n-th (0-based) request of that kind ("list", "watch") in the server's
 * log; NULL if none. (A request of the previous test's client may still be
 * logged after the reset: it is a watch, and lists are filtered by kind.) */
static struct json_object *nth_request(struct json_object *reqs, const char *kind, size_t n) {
        for (size_t i = 0; i < json_object_array_length(reqs); i++) {
                struct json_object *q = json_object_array_get_idx(reqs, i);
                if (strcmp(req_str(q, NULL, "kind"), kind) == 0 && n-- == 0)
                        return q;
        }
        return NULL;
}

static void put_namespace(const char *name, const char *team) {
        ctl("{\"op\":\"put\",\"resource\":\"namespaces\",\"object\":{\"metadata\":{\"name\":\"%s\","
            "\"labels\":{\"team\":\"%s\"}}}}", name, team);
}

static void write_token(const char *token, bool keep_mtime) {
        struct stat st;
        assert_int_equal(stat(token_file, &st), 0);
        if (keep_mtime) {
                /* in place: same inode, same size, and the old mtime back */
                FILE *f = fopen(token_file, "w");
                assert_non_null(f);
                fprintf(f, "%s\n", token);
                fclose(f);
                struct timespec times[2] = { st.st_atim, st.st_mtim };
                assert_int_equal(utimensat(AT_FDCWD, token_file, times, 0), 0);
        } else {
                /* what the kubelet does: a new file renamed over the old one */
                char tmp[512];
                snprintf(tmp, sizeof tmp, "%s.new", token_file);
                FILE *f = fopen(tmp, "w");
                assert_non_null(f);
                fprintf(f, "%s\n", token);
                fclose(f);
                assert_int_equal(rename(tmp, token_file), 0);
        }
}

/* ----------------------------------------------------------------- harness */

typedef struct recorder {
        strbuf_t log;                  /* "ADDED key", "SYNCED", ... one per line */
        struct json_object *mirror;    /* key -> object: what the consumer holds */
        unsigned n[_K8S_EVENT_MAX];
        char violation[512];           /* first contract violation, "" if none */
        /* optional behaviours */
        k8s_watch_t **release_self;    /* released at release_at_event (then NULLed) */
        unsigned release_at_event;     /* 1-based count of callbacks */
        k8s_watch_t **release_other;   /* released at the first callback */
        unsigned calls;
} recorder_t;

typedef struct fixture {
        loop_t *loop;
        curlloop_t *curl;
        resolver_t *resolver;
        k8s_client_t *client;
        recorder_t rec[4];
        k8s_watch_t *w[4];
        loop_timer_t *tick;
        unsigned ticks;
} fixture_t;

static void on_event(k8s_watch_t *w, k8s_event_t ev, struct json_object *obj, void *userdata) {
        recorder_t *r = userdata;
        r->calls++;
        r->n[ev]++;
        char *key = NULL;
        if (obj && k8s_object_key(obj, &key) < 0 && !r->violation[0])
                snprintf(r->violation, sizeof r->violation, "%s without a key", k8s_event_name(ev));
        sb_printf(&r->log, "%s%s%s\n", k8s_event_name(ev), key ? " " : "", key ? key : "");
        struct json_object *have = NULL;
        bool known = key && json_object_object_get_ex(r->mirror, key, &have);
        switch (ev) {
        case K8S_EVENT_ADDED:
        case K8S_EVENT_MODIFIED:
                if (known != (ev == K8S_EVENT_MODIFIED) && !r->violation[0])
                        snprintf(r->violation, sizeof r->violation, "%s for %s key %s", k8s_event_name(ev),
                                 known ? "a known" : "an unknown", key);
                if (key)
                        json_object_object_add(r->mirror, key, json_object_get(obj));
                break;
        case K8S_EVENT_DELETED:
                if (!known && !r->violation[0])
                        snprintf(r->violation, sizeof r->violation, "DELETED for unknown key %s", key);
                if (key)
                        json_object_object_del(r->mirror, key);
                break;
        case K8S_EVENT_SYNCED: {
                struct json_object *objs = k8s_watch_objects(w);
                if (!json_object_equal(objs, r->mirror) && !r->violation[0])
                        snprintf(r->violation, sizeof r->violation,
                                 "at SYNCED the consumer holds %d objects, the watch %d",
                                 json_object_object_length(r->mirror), json_object_object_length(objs));
                if (!k8s_watch_synced(w) && !r->violation[0])
                        snprintf(r->violation, sizeof r->violation, "SYNCED but not k8s_watch_synced()");
                break;
        }
        default:
                break;
        }
        free(key);
        if (r->release_other && *r->release_other) {
                k8s_watch_free(*r->release_other);
                *r->release_other = NULL;
        }
        if (r->release_self && *r->release_self && r->calls == r->release_at_event) {
                k8s_watch_free(*r->release_self);
                *r->release_self = NULL;
        }
}

static void on_tick(loop_timer_t *t, void *userdata) {
        fixture_t *f = userdata;
        f->ticks++;
        loop_timer_arm(t, mono_usec() + 50 * USEC_PER_MSEC);
}

static k8s_client_t *client_for(fixture_t *f, const char *server, const char *ca) {
        k8s_config_t cfg = { .server = (char *) server, .ca_file = (char *) ca, .token_file = (char *) token_file };
        k8s_client_t *c = NULL;
        assert_int_equal(k8s_client_new(f->loop, f->curl, f->resolver, &cfg, &c), 0);
        return c;
}

static int setup(void **state) {
        fixture_t *f = calloc(1, sizeof *f);
        assert_non_null(f);
        ctl("{\"op\":\"reset\"}");
        write_token(initial_token, false);
        assert_int_equal(loop_new(&f->loop), 0);
        assert_int_equal(curlloop_new(f->loop, &f->curl), 0);
        assert_int_equal(resolver_new(f->loop, &f->resolver), 0);
        f->client = client_for(f, base_url, fake_ca);
        for (size_t i = 0; i < ELEMENTSOF(f->rec); i++) {
                sb_init(&f->rec[i].log, 0);
                f->rec[i].mirror = json_object_new_object();
        }
        assert_int_equal(loop_timer_new(f->loop, on_tick, f, "tick", &f->tick), 0);
        loop_timer_arm(f->tick, mono_usec());
        *state = f;
        return 0;
}

static int teardown(void **state) {
        fixture_t *f = *state;
        /* Watches still running are freed by the client. */
        k8s_client_free(f->client);
        /* Let the server log a request the client sent just before, so the
         * next test's reset clears it. */
        usleep(100 * 1000);
        loop_timer_free(f->tick);
        resolver_free(f->resolver);
        curlloop_free(f->curl);
        loop_free(f->loop);
        for (size_t i = 0; i < ELEMENTSOF(f->rec); i++) {
                sb_free(&f->rec[i].log);
                json_object_put(f->rec[i].mirror);
        }
        free(f);
        return 0;
}

static k8s_watch_t *start(fixture_t *f, int i, const char *path, const k8s_watch_options_t *opts) {
        k8s_watch_options_t o = opts ? *opts : (k8s_watch_options_t) { 0 };
        if (!o.backoff_min_usec)
                o.backoff_min_usec = 100 * USEC_PER_MSEC;
        if (!o.backoff_max_usec)
                o.backoff_max_usec = 400 * USEC_PER_MSEC;
        assert_int_equal(k8s_watch_start_with(f->client, path, &o, on_event, &f->rec[i], &f->w[i]), 0);
        return f->w[i];
}

typedef bool (*pred_fn)(fixture_t *f, const void *arg);

/* Runs the loop until pred holds; fails the test after WAIT_SEC. */
static void run_until_(fixture_t *f, pred_fn pred, const void *arg, const char *what, int line) {
        uint64_t end = mono_usec() + WAIT_SEC * USEC_PER_SEC;
        while (!pred(f, arg)) {
                if (mono_usec() > end) {
                        const char *err = f->w[0] ? k8s_watch_last_error(f->w[0]) : NULL;
                        fail_msg("line %d: waited %d s for %s; watch 0 errors %" PRIu64 ", last error: %s; "
                                 "events:\n%s",
                                 line, WAIT_SEC, what, f->w[0] ? k8s_watch_errors(f->w[0]) : 0,
                                 err ? err : "none", f->rec[0].log.data ? f->rec[0].log.data : "");
                }
                loop_run_once(f->loop, 20 * USEC_PER_MSEC);
        }
}
#define run_until(f, pred, arg) run_until_(f, pred, arg, #pred "(" #arg ")", __LINE__)

static void run_for(fixture_t *f, uint64_t usec) {
        uint64_t end = mono_usec() + usec;
        while (mono_usec() < end)
                loop_run_once(f->loop, 10 * USEC_PER_MSEC);
}

typedef struct count_arg {
        int i;
        k8s_event_t ev;
        unsigned n;
} count_arg_t;

static bool events_at_least(fixture_t *f, const void *arg) {
        const count_arg_t *a = arg;
        return f->rec[a->i].n[a->ev] >= a->n;
}
#define wait_events(f, idx, event, count) \
        run_until(f, events_at_least, (&(count_arg_t) { .i = (idx), .ev = (event), .n = (count) }))

static bool errors_at_least(fixture_t *f, const void *arg) {
        const count_arg_t *a = arg;
        return k8s_watch_errors(f->w[a->i]) >= a->n;
}
#define wait_errors(f, idx, count) run_until(f, errors_at_least, (&(count_arg_t) { .i = (idx), .n = (count) }))

/* The server has seen at least n watch requests (polls it: test side only). */
static bool server_watches_at_least(fixture_t *f, const void *arg) {
        return stat_int("watches") >= *(const int64_t *) arg;
}
#define wait_server_watches(f, count) run_until(f, server_watches_at_least, (&(int64_t) { (count) }))

static bool rv_is(fixture_t *f, const void *arg) {
        char want[32];
        snprintf(want, sizeof want, "%" PRId64, *(const int64_t *) arg);
        return strcmp(k8s_watch_resource_version(f->w[0]), want) == 0;
}

/* The recorder's events since `mark` (a log offset), as one string. */
static const char *log_since(recorder_t *r, size_t mark) {
        return r->log.data ? r->log.data + mark : "";
}

static void assert_clean(recorder_t *r) {
        if (r->violation[0])
                fail_msg("contract violation: %s\nevents:\n%s", r->violation, r->log.data ? r->log.data : "");
}

/* Keys of a collection, sorted, joined with ' '. Caller frees. */
static char *keys_of(struct json_object *map) {
        const char *keys[64];
        size_t n = 0;
        json_object_object_foreach(map, k, v) {
                (void) v;
                assert_true(n < ELEMENTSOF(keys));
                keys[n++] = k;
        }
        for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
                        const char *t = keys[j];
                        keys[j] = keys[j - 1];
                        keys[j - 1] = t;
                }
        strbuf_t sb;
        sb_init(&sb, 0);
        for (size_t i = 0; i < n; i++)
                sb_printf(&sb, "%s%s", i ? " " : "", keys[i]);
        return sb.data ? sb_steal(&sb, NULL) : strdup("");
}

static void assert_keys(struct json_object *map, const char *want) {
        char *have = keys_of(map);
        assert_string_equal(have, want);
        free(have);
}

/* ------------------------------------------------------------------ tests */

/* List in pages of 3, then the watch: ADDED/MODIFIED/DELETED, bookmarks,
 * events cut across chunks; a second watch with a label selector. */
static void test_list_pages_then_watch(void **state) {
        fixture_t *f = *state;
        for (int i = 0; i < 7; i++) {
                char name[16];
                snprintf(name, sizeof name, "ns-%d", i);
                put_namespace(name, i % 2 ? "b" : "a");
        }
        int64_t list_rv = ctl("{\"op\":\"split\",\"on\":false}");
        k8s_watch_t *w = start(f, 0, "/api/v1/namespaces", &(k8s_watch_options_t) { .page_size = 3 });
        wait_events(f, 0, K8S_EVENT_SYNCED, 1);
        recorder_t *r = &f->rec[0];
        assert_string_equal(r->log.data, "ADDED ns-0\nADDED ns-1\nADDED ns-2\nADDED ns-3\nADDED ns-4\n"
                                         "ADDED ns-5\nADDED ns-6\nSYNCED\n");
        assert_int_equal(k8s_watch_count(w), 7);
        assert_true(k8s_watch_synced(w));
        char rv[32];
        snprintf(rv, sizeof rv, "%" PRId64, list_rv);
        assert_string_equal(k8s_watch_resource_version(w), rv);
        /* list items get the kind and apiVersion watch events carry */
        struct json_object *ns0, *v;
        assert_true(json_object_object_get_ex(k8s_watch_objects(w), "ns-0", &ns0));
        assert_true(json_object_object_get_ex(ns0, "kind", &v));
        assert_string_equal(json_object_get_string(v), "Namespace");
        assert_true(json_object_object_get_ex(ns0, "apiVersion", &v));
        assert_string_equal(json_object_get_string(v), "v1");

        /* three pages of one list, then a watch from the list's resourceVersion */
        run_for(f, 100 * USEC_PER_MSEC);
        struct json_object *s = stats(), *reqs = requests(s);
        assert_int_equal(stat_int("lists"), 1);
        assert_int_equal(stat_int("pages"), 3);
        struct json_object *p1 = nth_request(reqs, "list", 0), *p2 = nth_request(reqs, "list", 1);
        assert_non_null(p2);
        assert_string_equal(req_str(p1, "query", "limit"), "3");
        assert_null(req_str(p1, "query", "continue"));
        assert_string_equal(req_str(p2, "query", "limit"), "3");
        assert_non_null(req_str(p2, "query", "continue"));
        struct json_object *wq = NULL;
        for (size_t i = 0; (wq = nth_request(reqs, "watch", i)); i++)
                if (strcmp(req_str(wq, "query", "resourceVersion"), rv) == 0)
                        break;
        assert_non_null(wq);
        assert_string_equal(req_str(wq, "query", "allowWatchBookmarks"), "true");
        assert_string_equal(req_str(wq, "query", "timeoutSeconds"), "300");
        json_object_put(s);

        /* live events */
        size_t mark = r->log.len;
        put_namespace("ns-7", "a");
        ctl("{\"op\":\"put\",\"resource\":\"namespaces\",\"object\":{\"metadata\":{\"name\":\"ns-1\","
            "\"labels\":{\"team\":\"b\",\"pci\":\"true\"}}}}");
        ctl("{\"op\":\"delete\",\"resource\":\"namespaces\",\"name\":\"ns-2\"}");
        wait_events(f, 0, K8S_EVENT_DELETED, 1);
        assert_string_equal(log_since(r, mark), "ADDED ns-7\nMODIFIED ns-1\nDELETED ns-2\n");
        assert_keys(k8s_watch_objects(w), "ns-0 ns-1 ns-3 ns-4 ns-5 ns-6 ns-7");

        /* a bookmark moves the resourceVersion, and calls nobody */
        mark = r->log.len;
        int64_t bm = ctl("{\"op\":\"bookmark\",\"resource\":\"namespaces\"}");
        run_until(f, rv_is, &bm);
        assert_int_equal(r->log.len, mark);

        /* events cut across chunks and glued together in one */
        ctl("{\"op\":\"split\",\"on\":true}");
        for (int i = 8; i < 12; i++) {
                char name[16];
                snprintf(name, sizeof name, "ns-%d", i);
                put_namespace(name, "c");
        }
        ctl("{\"op\":\"delete\",\"resource\":\"namespaces\",\"name\":\"ns-9\"}");
        wait_events(f, 0, K8S_EVENT_DELETED, 2);
        assert_string_equal(log_since(r, mark), "ADDED ns-8\nADDED ns-9\nADDED ns-10\nADDED ns-11\nDELETED ns-9\n");
        assert_true(json_object_equal(k8s_watch_objects(w), r->mirror));
        assert_int_equal(k8s_watch_errors(w), 0);
        assert_int_equal(k8s_watch_relists(w), 0);
        assert_int_equal(stat_int("lists"), 1);

        /* a label selector reaches the server, list and watch */
        k8s_watch_t *w1 = start(f, 1, "/api/v1/namespaces", &(k8s_watch_options_t) { .label_selector = "team=a,pci!=true" });
        wait_events(f, 1, K8S_EVENT_SYNCED, 1);
        assert_keys(k8s_watch_objects(w1), "ns-0 ns-4 ns-6 ns-7");
        put_namespace("ns-12", "a");
        put_namespace("ns-13", "b");
        wait_events(f, 1, K8S_EVENT_ADDED, 5);
        run_for(f, 200 * USEC_PER_MSEC);
        assert_keys(k8s_watch_objects(w1), "ns-0 ns-12 ns-4 ns-6 ns-7");
        s = stats();
        reqs = requests(s);
        struct json_object *sel = nth_request(reqs, "list", 3);  /* pages 0-2 were the first watch's */
        assert_non_null(sel);
        assert_string_equal(req_str(sel, "query", "labelSelector"), "team=a,pci!=true");
        struct json_object *last = json_object_array_get_idx(reqs, json_object_array_length(reqs) - 1);
        assert_string_equal(req_str(last, NULL, "kind"), "watch");
        assert_string_equal(req_str(last, "query", "labelSelector"), "team=a,pci!=true");
        json_object_put(s);
        assert_clean(r);
        assert_clean(&f->rec[1]);
}

/* The server ends the watch (timeoutSeconds, or a clean close): the client
 * watches again from where it was, without listing and without an error. */
static void test_resume_after_timeout(void **state) {
        fixture_t *f = *state;
        put_namespace("a", "x");
        k8s_watch_t *w = start(f, 0, "/api/v1/namespaces", &(k8s_watch_options_t) { .watch_timeout_sec = 2 });
        wait_events(f, 0, K8S_EVENT_SYNCED, 1);
        put_namespace("b", "x");
        wait_events(f, 0, K8S_EVENT_ADDED, 2);
        const char *rv_b = k8s_object_resource_version(json_object_object_get(k8s_watch_objects(w), "b"));
        char want_rv[32];
        snprintf(want_rv, sizeof want_rv, "%s", rv_b);
        /* past timeoutSeconds: the second watch starts from b's resourceVersion */
        run_for(f, 2500 * USEC_PER_MSEC);
        put_namespace("c", "x");
        wait_events(f, 0, K8S_EVENT_ADDED, 3);
        struct json_object *s = stats(), *reqs = requests(s);
        assert_true(stat_int("watches") >= 2);
        bool found = false;
        for (size_t i = 0; i < json_object_array_length(reqs); i++) {
                struct json_object *q = json_object_array_get_idx(reqs, i);
                const char *k = req_str(q, NULL, "kind"), *rv = req_str(q, "query", "resourceVersion");
                if (strcmp(k, "watch") == 0 && rv && strcmp(rv, want_rv) == 0)
                        found = true;
        }
        assert_true(found);
        json_object_put(s);
        /* a clean close by the server: same */
        ctl("{\"op\":\"close\"}");
        run_for(f, 300 * USEC_PER_MSEC);
        put_namespace("d", "x");
        wait_events(f, 0, K8S_EVENT_ADDED, 4);
        assert_int_equal(stat_int("lists"), 1);
        assert_int_equal(k8s_watch_errors(w), 0);
        assert_int_equal(k8s_watch_relists(w), 0);
        assert_int_equal(f->rec[0].n[K8S_EVENT_SYNCED], 1);
        assert_clean(&f->rec[0]);
}

/* A connection cut in the middle of a chunk: one error, the watch resumes
 * from the last resourceVersion after a backoff; nothing is lost or doubled. */
static void test_dropped_connection(void **state) {
        fixture_t *f = *state;
        put_namespace("a", "x");
        k8s_watch_t *w = start(f, 0, "/api/v1/namespaces", NULL);
        wait_events(f, 0, K8S_EVENT_SYNCED, 1);
        put_namespace("b", "x");
        wait_events(f, 0, K8S_EVENT_ADDED, 2);
        ctl("{\"op\":\"drop\"}");
        wait_errors(f, 0, 1);
        assert_int_equal(k8s_watch_last_errno(w), -ECONNRESET);
        assert_non_null(strstr(k8s_watch_last_error(w), "watch /api/v1/namespaces"));
        /* changes while the client is away arrive after it is back */
        put_namespace("c", "x");
        ctl("{\"op\":\"delete\",\"resource\":\"namespaces\",\"name\":\"a\"}");
        wait_events(f, 0, K8S_EVENT_DELETED, 1);
        assert_string_equal(f->rec[0].log.data, "ADDED a\nSYNCED\nADDED b\nADDED c\nDELETED a\n");
        assert_int_equal(stat_int("lists"), 1);
        assert_int_equal(k8s_watch_relists(w), 0);
        assert_int_equal(k8s_watch_errors(w), 1);
        assert_clean(&f->rec[0]);
}

static void silent_changes(void) {
        ctl("{\"op\":\"delete\",\"resource\":\"namespaces\",\"name\":\"b\",\"silent\":true}");
        put_namespace("e", "x");  /* seen live before the compaction */
        ctl("{\"op\":\"put\",\"resource\":\"namespaces\",\"silent\":true,\"object\":{\"metadata\":{\"name\":\"f\"}}}");
        ctl("{\"op\":\"put\",\"resource\":\"namespaces\",\"silent\":true,\"object\":{\"metadata\":{\"name\":\"c\","
            "\"labels\":{\"team\":\"changed\"}}}}");
}

/* The watch falls behind a compaction (an ERROR event with a 410 Status):
 * relist, and the consumer gets exactly the difference: the object deleted
 * meanwhile is DELETED, the new one ADDED, the changed one MODIFIED. */
static void test_gone_event_relist(void **state) {
        fixture_t *f = *state;
        const char *names[] = { "a", "b", "c", "d" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                put_namespace(names[i], "x");
        k8s_watch_t *w = start(f, 0, "/api/v1/namespaces", NULL);
        wait_events(f, 0, K8S_EVENT_SYNCED, 1);
        wait_events(f, 0, K8S_EVENT_SYNCED, 1);
        silent_changes();
        wait_events(f, 0, K8S_EVENT_ADDED, 5);
        size_t mark = f->rec[0].log.len;
        ctl("{\"op\":\"compact\"}");
        wait_events(f, 0, K8S_EVENT_SYNCED, 2);
        assert_string_equal(log_since(&f->rec[0], mark), "DELETED b\nMODIFIED c\nADDED f\nSYNCED\n");
        assert_keys(k8s_watch_objects(w), "a c d e f");
        assert_int_equal(k8s_watch_relists(w), 1);
        assert_int_equal(k8s_watch_errors(w), 0);
        assert_int_equal(stat_int("lists"), 2);
        /* and the watch goes on from the new list */
        put_namespace("g", "x");
        wait_events(f, 0, K8S_EVENT_ADDED, 7);
        assert_clean(&f->rec[0]);
}

/* Same with HTTP 410 on the watch request itself. */
static void test_gone_http_relist(void **state) {
        fixture_t *f = *state;
        const char *names[] = { "a", "b", "c", "d" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                put_namespace(names[i], "x");
        k8s_watch_t *w = start(f, 0, "/api/v1/namespaces", NULL);
        wait_events(f, 0, K8S_EVENT_SYNCED, 1);
        silent_changes();
        wait_events(f, 0, K8S_EVENT_ADDED, 5);
        size_t mark = f->rec[0].log.len;
        ctl("{\"op\":\"gone_http\",\"count\":1}");
        ctl("{\"op\":\"close\"}");
        wait_events(f, 0, K8S_EVENT_SYNCED, 2);
        assert_string_equal(log_since(&f->rec[0], mark), "DELETED b\nMODIFIED c\nADDED f\nSYNCED\n");
        assert_keys(k8s_watch_objects(w), "a c d e f");
        assert_int_equal(k8s_watch_relists(w), 1);
        assert_int_equal(k8s_watch_errors(w), 0);
        assert_int_equal(stat_int("gone"), 1);
        assert_clean(&f->rec[0]);
}

/* Token rotation the kubelet way (a new file): seen by its mtime before the
 * next request, so the server never answers 401. */
/* Starts a namespace watch, lets it sync and run past its first second (a
 * watch that ends within 1 s without any event counts as a failure), then
 * rotates the token file to `token` (keeping its mtime when `same_mtime`),
 * has the server take only that token and drop the stream, and waits for
 * the event of a namespace added afterwards. */
static k8s_watch_t *rotate_token(fixture_t *f, const char *token, bool same_mtime) {
        put_namespace("a", "x");
        k8s_watch_t *w = start(f, 0, "/api/v1/namespaces", NULL);
        wait_events(f, 0, K8S_EVENT_SYNCED, 1);
        run_for(f, 1100 * USEC_PER_MSEC);
        write_token(token, same_mtime);
        ctl("{\"op\":\"token\",\"token\":\"%s\"}", token);
        ctl("{\"op\":\"close\"}");
        run_for(f, 200 * USEC_PER_MSEC);
        put_namespace("b", "x");
        wait_events(f, 0, K8S_EVENT_ADDED, 2);
        return w;
}

static void test_token_rotation_mtime(void **state) {
        fixture_t *f = *state;
        k8s_watch_t *w = rotate_token(
                f, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6bmV0Y2FuYXJ5In0.c2lnbmF0dXJlLTAwMDI",
                false);
        assert_int_equal(stat_int("unauthorized"), 0);
        assert_int_equal(k8s_watch_errors(w), 0);
        assert_clean(&f->rec[0]);
}

/* A token that changed without its mtime: the server's 401 makes the client
 * read the file again once and retry at once; not an error. */
static void test_token_rotation_401(void **state) {
        fixture_t *f = *state;
        const char *tok3 = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6bmV0Y2FuYXJ5In0.c2lnbmF0dXJlLTAwMDM";
        k8s_watch_t *w = rotate_token(f, tok3, true);
        assert_int_equal(stat_int("unauthorized"), 1);
        assert_int_equal(k8s_watch_errors(w), 0);
        assert_int_equal(stat_int("lists"), 1);

        /* A token the server never accepts: 401, one re-read, 401 again: an
         * error (EACCES) and backoff, until the server takes ours again. */
        ctl("{\"op\":\"token\",\"token\":\"nobody-has-this-one\"}");
        ctl("{\"op\":\"close\"}");
        wait_errors(f, 0, 2);
        assert_int_equal(k8s_watch_last_errno(w), -EACCES);
        assert_non_null(strstr(k8s_watch_last_error(w), "HTTP 401: Unauthorized"));
        ctl("{\"op\":\"token\",\"token\":\"%s\"}", tok3);
        put_namespace("c", "x");
        wait_events(f, 0, K8S_EVENT_ADDED, 3);
        assert_int_equal(f->rec[0].n[K8S_EVENT_SYNCED], 1);
        assert_clean(&f->rec[0]);
}

/* A server slower than the request timeout: a timeout error, retried, while
 * the loop keeps running; a slow but timely one (a list body trickling in
 * over 1.5 s) is just slow. */
static void test_slow_server(void **state) {
        fixture_t *f = *state;
        for (int i = 0; i < 20; i++) {
                char name[16];
                snprintf(name, sizeof name, "slow-%02d", i);
                put_namespace(name, "x");
        }
        ctl("{\"op\":\"slow\",\"seconds\":2.5}");
        k8s_watch_t *w = start(f, 0, "/api/v1/namespaces",
                               &(k8s_watch_options_t) { .request_timeout_usec = 1 * USEC_PER_SEC });
        unsigned ticks0 = f->ticks;
        uint64_t t0 = mono_usec();
        wait_errors(f, 0, 1);
        uint64_t took = mono_usec() - t0;
        assert_int_equal(k8s_watch_last_errno(w), -ETIMEDOUT);
        assert_true(took >= 900 * USEC_PER_MSEC);
        /* the loop went on: a 50 ms ticker ran all along */
        assert_true(f->ticks - ticks0 >= took / (100 * USEC_PER_MSEC));
        assert_false(k8s_watch_synced(w));

        ctl("{\"op\":\"slow\",\"seconds\":0}");
        /* the next attempt may still hit the old slow answer: wait for the sync */
        uint64_t errs = k8s_watch_errors(w);
        wait_events(f, 0, K8S_EVENT_SYNCED, 1);
        assert_true(k8s_watch_errors(w) <= errs + 1);
        assert_int_equal(k8s_watch_count(w), 20);
        ctl("{\"op\":\"trickle\",\"seconds\":1.5}");

        /* a trickled list while the loop runs: ~1.5 s, ticks all along */
        k8s_watch_t *w1 = start(f, 1, "/api/v1/namespaces", &(k8s_watch_options_t) { .request_timeout_usec = 10 * USEC_PER_SEC });
        ticks0 = f->ticks;
        t0 = mono_usec();
        wait_events(f, 1, K8S_EVENT_SYNCED, 1);
        took = mono_usec() - t0;
        assert_true(took >= 1200 * USEC_PER_MSEC);
        assert_true(f->ticks - ticks0 >= took / (100 * USEC_PER_MSEC));
        assert_int_equal(k8s_watch_errors(w1), 0);
        assert_int_equal(k8s_watch_count(w1), 20);
        ctl("{\"op\":\"trickle\",\"seconds\":0}");
        assert_clean(&f->rec[0]);
        assert_clean(&f->rec[1]);
}

static double req_t(struct json_object *req) {
        struct json_object *v;
        assert_true(json_object_object_get_ex(req, "t", &v));
        return json_object_get_double(v);
}

/* Server errors: each counted, retried after 100, 200, 400, 400 ms (±20%),
 * with the server's Status message in the last error. */
static void test_errors_backoff(void **state) {
        fixture_t *f = *state;
        put_namespace("a", "x");
        ctl("{\"op\":\"fail\",\"status\":500,\"count\":4,\"kind\":\"list\"}");
        k8s_watch_t *w = start(f, 0, "/api/v1/namespaces", NULL);
        const uint64_t want[] = { 100, 200, 400, 400 };  /* ms, ±20% */
        uint64_t sum = 0;
        for (unsigned i = 0; i < 4; i++) {
                wait_errors(f, 0, i + 1);
                uint64_t d = k8s_watch_retry_delay_usec(w) / USEC_PER_MSEC;
                print_message("failure %u: retry in %" PRIu64 " ms (backoff %" PRIu64 " ms ±20%%)\n", i + 1, d, want[i]);
                assert_true(d >= want[i] * 8 / 10 && d <= want[i] * 12 / 10);
                sum += d;
        }
        wait_events(f, 0, K8S_EVENT_SYNCED, 1);
        assert_int_equal(k8s_watch_errors(w), 4);
        assert_int_equal(k8s_watch_last_errno(w), -EIO);
        assert_string_equal(k8s_watch_last_error(w), "list /api/v1/namespaces: HTTP 500: injected failure 500");
        assert_int_equal(k8s_watch_relists(w), 4);
        /* and the delays were waited: the server saw the five lists spread
         * over at least their sum (its clock, so a little slack) */
        struct json_object *s = stats(), *reqs = requests(s);
        assert_non_null(nth_request(reqs, "list", 4));
        double spread = req_t(nth_request(reqs, "list", 4)) - req_t(nth_request(reqs, "list", 0));
        print_message("5 lists over %.3f s, backoff sum %.3f s\n", spread, (double) sum / 1000);
        assert_true(spread >= (double) sum / 1000 - 0.05);
        assert_true(spread <= (double) sum / 1000 + 1.0);
        json_object_put(s);

        /* A 403 on the watch: counted, retried from the same resourceVersion. */
        run_for(f, 1100 * USEC_PER_MSEC);
        ctl("{\"op\":\"fail\",\"status\":403,\"count\":1,\"kind\":\"watch\"}");
        ctl("{\"op\":\"close\"}");
        wait_errors(f, 0, 5);
        assert_int_equal(k8s_watch_last_errno(w), -EACCES);
        assert_non_null(strstr(k8s_watch_last_error(w), "watch /api/v1/namespaces: HTTP 403"));
        put_namespace("b", "x");
        wait_events(f, 0, K8S_EVENT_ADDED, 2);
        assert_int_equal(k8s_watch_relists(w), 4);
        assert_clean(&f->rec[0]);
}

/* Bad lines in a watch stream: an event over the cap (-E2BIG), one just under
 * it (fine), malformed JSON and an ERROR event that is not 410 (errors); the
 * watch resumes after each. */
static void test_event_caps_and_bad_events(void **state) {
        fixture_t *f = *state;
        put_namespace("a", "x");
        k8s_watch_t *w = start(f, 0, "/api/v1/namespaces",
                               &(k8s_watch_options_t) { .max_event_bytes = 64 * 1024 });
        wait_events(f, 0, K8S_EVENT_SYNCED, 1);
        wait_server_watches(f, 1);
        ctl("{\"op\":\"raw\",\"resource\":\"namespaces\",\"bytes\":100000}");
        wait_errors(f, 0, 1);
        assert_int_equal(k8s_watch_last_errno(w), -E2BIG);
        assert_non_null(strstr(k8s_watch_last_error(w), "event larger than 65536 bytes"));
        put_namespace("b", "x");
        wait_events(f, 0, K8S_EVENT_ADDED, 2);

        ctl("{\"op\":\"split\",\"on\":true}");
        ctl("{\"op\":\"raw\",\"resource\":\"namespaces\",\"bytes\":65000}");
        wait_events(f, 0, K8S_EVENT_ADDED, 3);
        assert_non_null(json_object_object_get(k8s_watch_objects(w), "default/huge"));
        ctl("{\"op\":\"split\",\"on\":false}");

        /* Raw lines go to the watches connected at the time (they are not
         * replayed): each time, wait for the client to be back first. */
        int64_t watches = stat_int("watches");
        ctl("{\"op\":\"raw\",\"resource\":\"namespaces\",\"line\":\"{\\\"type\\\":\\\"ADDED\\\",\\\"object\\\":{\"}");
        wait_errors(f, 0, 2);
        assert_int_equal(k8s_watch_last_errno(w), -EPROTO);
        wait_server_watches(f, ++watches);
        ctl("{\"op\":\"raw\",\"resource\":\"namespaces\",\"line\":\"{\\\"type\\\":\\\"ERROR\\\",\\\"object\\\":"
            "{\\\"kind\\\":\\\"Status\\\",\\\"apiVersion\\\":\\\"v1\\\",\\\"status\\\":\\\"Failure\\\","
            "\\\"message\\\":\\\"etcd is sad\\\",\\\"reason\\\":\\\"InternalError\\\",\\\"code\\\":500}}\"}");
        wait_errors(f, 0, 3);
        assert_int_equal(k8s_watch_last_errno(w), -EIO);
        assert_non_null(strstr(k8s_watch_last_error(w), "ERROR event 500: etcd is sad"));
        wait_server_watches(f, ++watches);
        ctl("{\"op\":\"raw\",\"resource\":\"namespaces\",\"line\":\"{\\\"type\\\":\\\"SURPRISE\\\",\\\"object\\\":{}}\"}");
        wait_errors(f, 0, 4);
        assert_non_null(strstr(k8s_watch_last_error(w), "unknown event type \"SURPRISE\""));
        put_namespace("c", "x");
        wait_events(f, 0, K8S_EVENT_ADDED, 4);
        assert_int_equal(k8s_watch_relists(w), 0);
        assert_int_equal(f->rec[0].n[K8S_EVENT_SYNCED], 1);
        assert_clean(&f->rec[0]);
}

/* The cap on objects held: a list over it fails (-E2BIG) until the
 * collection shrinks; a watch event over it makes the client list again
 * (resuming would replay the same event). The cap on a list page's bytes. */
static void test_object_and_page_caps(void **state) {
        fixture_t *f = *state;
        for (int i = 0; i < 6; i++) {
                char name[16];
                snprintf(name, sizeof name, "ns-%d", i);
                put_namespace(name, "x");
        }
        k8s_watch_t *w = start(f, 0, "/api/v1/namespaces", &(k8s_watch_options_t) { .max_objects = 5, .page_size = 2 });
        wait_errors(f, 0, 2);
        assert_int_equal(k8s_watch_last_errno(w), -E2BIG);
        assert_string_equal(k8s_watch_last_error(w), "list /api/v1/namespaces: more than 5 objects");
        assert_false(k8s_watch_synced(w));
        assert_int_equal(f->rec[0].calls, 0);
        ctl("{\"op\":\"delete\",\"resource\":\"namespaces\",\"name\":\"ns-5\"}");
        wait_events(f, 0, K8S_EVENT_SYNCED, 1);
        assert_int_equal(k8s_watch_count(w), 5);

        uint64_t errs = k8s_watch_errors(w);
        size_t mark = f->rec[0].log.len;
        put_namespace("ns-6", "x");
        wait_errors(f, 0, errs + 1);
        assert_int_equal(k8s_watch_last_errno(w), -E2BIG);
        assert_string_equal(k8s_watch_last_error(w), "watch /api/v1/namespaces: more than 5 objects");
        assert_int_equal(k8s_watch_count(w), 5);
        ctl("{\"op\":\"delete\",\"resource\":\"namespaces\",\"name\":\"ns-0\"}");
        ctl("{\"op\":\"delete\",\"resource\":\"namespaces\",\"name\":\"ns-1\"}");
        wait_events(f, 0, K8S_EVENT_SYNCED, 2);
        assert_string_equal(log_since(&f->rec[0], mark), "DELETED ns-0\nDELETED ns-1\nADDED ns-6\nSYNCED\n");
        assert_int_equal(k8s_watch_count(w), 4);

        /* one page's bytes */
        k8s_watch_t *w1 = start(f, 1, "/api/v1/namespaces", &(k8s_watch_options_t) { .max_page_bytes = 2000 });
        wait_errors(f, 1, 1);
        assert_int_equal(k8s_watch_last_errno(w1), -E2BIG);
        assert_non_null(strstr(k8s_watch_last_error(w1), "page larger than 2000 bytes"));
        k8s_watch_free(w1);
        f->w[1] = NULL;
        start(f, 2, "/api/v1/namespaces", &(k8s_watch_options_t) { .max_page_bytes = 2000, .page_size = 1 });
        wait_events(f, 2, K8S_EVENT_SYNCED, 1);
        assert_int_equal(k8s_watch_count(f->w[2]), 4);
        assert_clean(&f->rec[0]);
        assert_clean(&f->rec[2]);
}

/* ---- the library end to end: CoreDNS endpoints and the policy audit ---- */

static void put_slice(const char *name, const char *service, const char *atype, const char *endpoints) {
        ctl("{\"op\":\"put\",\"resource\":\"endpointslices\",\"object\":{\"metadata\":{\"name\":\"%s\","
            "\"namespace\":\"kube-system\",\"generateName\":\"%s-\",\"labels\":{\"kubernetes.io/service-name\":\"%s\","
            "\"endpointslice.kubernetes.io/managed-by\":\"endpointslice-controller.k8s.io\"},"
            "\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"name\":\"%s\",\"controller\":true,"
            "\"blockOwnerDeletion\":true,\"uid\":\"0d6b7a0e-1a5b-4d4e-9a53-5c2b1d8f3e01\"}]},"
            "\"addressType\":\"%s\",\"endpoints\":%s,"
            "\"ports\":[{\"name\":\"dns-tcp\",\"port\":53,\"protocol\":\"TCP\"},{\"name\":\"dns\",\"port\":53,"
            "\"protocol\":\"UDP\"},{\"name\":\"metrics\",\"port\":9153,\"protocol\":\"TCP\"}]}}",
            name, service, service, service, atype, endpoints);
}

static void put_policy(const char *ns, const char *name, const char *spec) {
        ctl("{\"op\":\"put\",\"resource\":\"networkpolicies\",\"object\":{\"metadata\":{\"name\":\"%s\","
            "\"namespace\":\"%s\"},\"spec\":%s}}", name, ns, spec);
}

static char *dns_servers(k8s_watch_t *w) {
        k8s_endpoint_t *ep = NULL;
        int n = k8s_endpoints_ready(k8s_watch_objects(w), "kube-dns",
                                    &(k8s_port_ref_t) { .name = "dns", .protocol = "UDP" }, 0, &ep, NULL);
        assert_true(n >= 0);
        strbuf_t sb;
        sb_init(&sb, 0);
        for (int i = 0; i < n; i++)
                sb_printf(&sb, "%s%s", i ? " " : "", ep[i].address);
        free(ep);
        return sb.data ? sb_steal(&sb, NULL) : strdup("");
}

static void assert_dns_servers(k8s_watch_t *w, const char *want) {
        char *have = dns_servers(w);
        assert_string_equal(have, want);
        free(have);
}

/* "ns:IE" per namespace: I/E when default-deny for ingress/egress, '-' when not. */
static char *audit(fixture_t *f) {
        k8s_namespace_audit_t *a = NULL;
        int n = k8s_audit_namespaces(k8s_watch_objects(f->w[1]), k8s_watch_objects(f->w[2]), &a);
        assert_true(n >= 0);
        strbuf_t sb;
        sb_init(&sb, 0);
        for (int i = 0; i < n; i++)
                sb_printf(&sb, "%s%s:%c%c", i ? " " : "", a[i].name, a[i].default_deny[K8S_INGRESS] ? 'I' : '-',
                          a[i].default_deny[K8S_EGRESS] ? 'E' : '-');
        k8s_audit_free(a, (size_t) n);
        return sb_steal(&sb, NULL);
}

static void assert_audit(fixture_t *f, const char *want) {
        char *have = audit(f);
        assert_string_equal(have, want);
        free(have);
}

static const char *policy_hash(fixture_t *f, const char *key, char buf[17]) {
        struct json_object *p = json_object_object_get(k8s_watch_objects(f->w[2]), key);
        assert_non_null(p);
        assert_int_equal(k8s_policy_hash(p, buf), 0);
        return buf;
}

static bool count_is(fixture_t *f, const void *arg) {
        const count_arg_t *a = arg;
        return k8s_watch_count(f->w[a->i]) == a->n;
}

static void test_endpoints_and_audit(void **state) {
        fixture_t *f = *state;
        put_slice("kube-dns-abcde", "kube-dns", "IPv4",
                  "[{\"addresses\":[\"10.244.0.5\"],\"conditions\":{\"ready\":true,\"serving\":true,\"terminating\":false},"
                  "\"nodeName\":\"node-a\",\"targetRef\":{\"kind\":\"Pod\",\"name\":\"coredns-1\",\"namespace\":\"kube-system\"}},"
                  "{\"addresses\":[\"10.244.1.7\"],\"conditions\":{\"ready\":false,\"serving\":false,\"terminating\":false},"
                  "\"nodeName\":\"node-b\",\"targetRef\":{\"kind\":\"Pod\",\"name\":\"coredns-2\",\"namespace\":\"kube-system\"}}]");
        put_slice("kube-dns-fghij", "kube-dns", "IPv6",
                  "[{\"addresses\":[\"fd00:10:244::5\"],\"conditions\":{\"ready\":true}}]");
        put_slice("metrics-server-x1", "metrics-server", "IPv4",
                  "[{\"addresses\":[\"10.244.0.9\"],\"conditions\":{\"ready\":true}}]");
        const char *nss[] = { "customer-a", "customer-b", "pci", "platform", "kube-system" };
        for (size_t i = 0; i < ELEMENTSOF(nss); i++)
                put_namespace(nss[i], nss[i]);
        const char *deny_all = "{\"podSelector\":{},\"policyTypes\":[\"Ingress\",\"Egress\"]}";
        put_policy("customer-a", "default-deny-all", deny_all);
        put_policy("customer-b", "default-deny-all", deny_all);
        put_policy("platform", "default-deny-ingress", "{\"podSelector\":{},\"policyTypes\":[\"Ingress\"]}");
        /* pci: only a policy for some pods, the seed's finding */
        put_policy("pci", "allow-web", "{\"podSelector\":{\"matchLabels\":{\"app\":\"web\"}},\"ingress\":[{\"from\":"
                                       "[{\"namespaceSelector\":{\"matchLabels\":{\"kubernetes.io/metadata.name\":"
                                       "\"platform\"}}}],\"ports\":[{\"port\":8443,\"protocol\":\"TCP\"}]}]}");

        k8s_watch_t *eps = start(f, 0, "/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices",
                                 &(k8s_watch_options_t) { .label_selector = "kubernetes.io/service-name=kube-dns" });
        start(f, 1, "/api/v1/namespaces", NULL);
        start(f, 2, "/apis/networking.k8s.io/v1/networkpolicies", NULL);
        for (int i = 0; i < 3; i++)
                wait_events(f, i, K8S_EVENT_SYNCED, 1);

        assert_int_equal(k8s_watch_count(eps), 2);  /* metrics-server's slice is not selected */
        assert_dns_servers(eps, "10.244.0.5 fd00:10:244::5");
        assert_audit(f, "customer-a:IE customer-b:IE kube-system:-- pci:-- platform:I-");

        /* coredns-2 becomes ready, a third replica appears */
        put_slice("kube-dns-abcde", "kube-dns", "IPv4",
                  "[{\"addresses\":[\"10.244.0.5\"],\"conditions\":{\"ready\":true}},"
                  "{\"addresses\":[\"10.244.1.7\"],\"conditions\":{\"ready\":true}},"
                  "{\"addresses\":[\"10.244.2.3\"],\"conditions\":{\"ready\":true}}]");
        wait_events(f, 0, K8S_EVENT_MODIFIED, 1);
        assert_dns_servers(eps, "10.244.0.5 10.244.1.7 10.244.2.3 fd00:10:244::5");
        /* coredns-1 terminating, the IPv6 slice gone */
        put_slice("kube-dns-abcde", "kube-dns", "IPv4",
                  "[{\"addresses\":[\"10.244.0.5\"],\"conditions\":{\"ready\":false,\"serving\":true,\"terminating\":true}},"
                  "{\"addresses\":[\"10.244.1.7\"],\"conditions\":{\"ready\":true}},"
                  "{\"addresses\":[\"10.244.2.3\"],\"conditions\":{\"ready\":true}}]");
        ctl("{\"op\":\"delete\",\"resource\":\"endpointslices\",\"namespace\":\"kube-system\",\"name\":\"kube-dns-fghij\"}");
        wait_events(f, 0, K8S_EVENT_DELETED, 1);
        assert_dns_servers(eps, "10.244.1.7 10.244.2.3");

        /* the finding fixed: pci gets its deny-all */
        char h1[17], h2[17];
        put_policy("pci", "default-deny-all", deny_all);
        run_until(f, count_is, (&(count_arg_t) { .i = 2, .n = 5 }));
        assert_audit(f, "customer-a:IE customer-b:IE kube-system:-- pci:IE platform:I-");
        policy_hash(f, "pci/default-deny-all", h1);
        assert_string_equal(h1, policy_hash(f, "customer-a/default-deny-all", h2));
        /* ... and loosened again: an all-pods allow-all egress rule; the hash moves */
        put_policy("pci", "default-deny-all", "{\"podSelector\":{},\"policyTypes\":[\"Ingress\",\"Egress\"],"
                                              "\"egress\":[{}]}");
        wait_events(f, 2, K8S_EVENT_MODIFIED, 1);
        assert_audit(f, "customer-a:IE customer-b:IE kube-system:-- pci:I- platform:I-");
        assert_string_not_equal(policy_hash(f, "pci/default-deny-all", h2), h1);
        /* a namespace created later, without policies */
        put_namespace("new-tenant", "new");
        wait_events(f, 1, K8S_EVENT_ADDED, 6);
        assert_audit(f, "customer-a:IE customer-b:IE kube-system:-- new-tenant:-- pci:I- platform:I-");
        for (int i = 0; i < 3; i++) {
                assert_int_equal(k8s_watch_errors(f->w[i]), 0);
                assert_clean(&f->rec[i]);
        }
}

/* k8s_watch_free() from callbacks: a watch releasing itself while its list
 * is applied (done callback) and while a watch event is delivered (curl's
 * write callback), and one watch releasing another from its callback. */
static void test_free_in_callbacks(void **state) {
        fixture_t *f = *state;
        for (int i = 0; i < 5; i++) {
                char name[16];
                snprintf(name, sizeof name, "ns-%d", i);
                put_namespace(name, "x");
        }
        /* 0: released at its 3rd ADDED of the list */
        f->rec[0].release_self = &f->w[0];
        f->rec[0].release_at_event = 3;
        start(f, 0, "/api/v1/namespaces", NULL);
        /* 1: released at its first live event (list = 5 ADDED + SYNCED) */
        f->rec[1].release_self = &f->w[1];
        f->rec[1].release_at_event = 7;
        start(f, 1, "/api/v1/namespaces", NULL);
        /* 2 releases 3 at its first live event */
        start(f, 2, "/api/v1/namespaces", NULL);
        start(f, 3, "/api/v1/namespaces", NULL);
        wait_events(f, 2, K8S_EVENT_SYNCED, 1);
        wait_events(f, 3, K8S_EVENT_SYNCED, 1);
        wait_events(f, 1, K8S_EVENT_SYNCED, 1);
        assert_null(f->w[0]);
        assert_int_equal(f->rec[0].calls, 3);
        f->rec[2].release_other = &f->w[3];
        put_namespace("ns-5", "x");
        wait_events(f, 2, K8S_EVENT_ADDED, 6);
        run_for(f, 300 * USEC_PER_MSEC);
        assert_null(f->w[1]);
        assert_null(f->w[3]);
        assert_int_equal(f->rec[1].calls, 7);
        unsigned calls3 = f->rec[3].calls;
        assert_true(calls3 <= 7);
        put_namespace("ns-6", "x");
        wait_events(f, 2, K8S_EVENT_ADDED, 7);
        run_for(f, 200 * USEC_PER_MSEC);
        assert_int_equal(f->rec[0].calls, 3);
        assert_int_equal(f->rec[1].calls, 7);
        assert_int_equal(f->rec[3].calls, calls3);
        for (int i = 0; i < 4; i++)
                assert_clean(&f->rec[i]);
}

/* A server given by name: resolved through c-ares (localhost from
 * /etc/hosts), certificate checked against the name; a CA that did not sign
 * the server's certificate is a TLS error. */
static void test_hostname_and_tls(void **state) {
        fixture_t *f = *state;
        put_namespace("a", "x");
        char url[64];
        snprintf(url, sizeof url, "https://localhost:%s", fake_port);
        k8s_client_free(f->client);
        f->client = client_for(f, url, fake_ca);
        start(f, 0, "/api/v1/namespaces", NULL);
        wait_events(f, 0, K8S_EVENT_SYNCED, 1);
        put_namespace("b", "x");
        wait_events(f, 0, K8S_EVENT_ADDED, 2);
        assert_int_equal(k8s_watch_errors(f->w[0]), 0);

        char other_ca[512];
        snprintf(other_ca, sizeof other_ca, "%s/other-ca.pem", fake_dir);
        k8s_client_free(f->client);
        f->w[0] = NULL;
        f->client = client_for(f, base_url, other_ca);
        start(f, 1, "/api/v1/namespaces", NULL);
        wait_errors(f, 1, 1);
        assert_int_equal(k8s_watch_last_errno(f->w[1]), -EPROTO);
        print_message("TLS error: %s\n", k8s_watch_last_error(f->w[1]));
        assert_int_equal(f->rec[1].calls, 0);
}

int main(void) {
        fake_port = getenv("K8S_FAKE_PORT");
        fake_ca = getenv("K8S_FAKE_CA");
        token_file = getenv("K8S_FAKE_TOKEN_FILE");
        fake_dir = getenv("K8S_FAKE_DIR");
        if (!fake_port || !fake_ca || !token_file || !fake_dir) {
                fprintf(stderr, "run through test-watch.sh (K8S_FAKE_* not set)\n");
                return 77;
        }
        snprintf(base_url, sizeof base_url, "https://127.0.0.1:%s", fake_port);
        FILE *tf = fopen(token_file, "r");
        char buf[4096];
        if (!tf || !fgets(buf, sizeof buf, tf)) {
                fprintf(stderr, "cannot read %s\n", token_file);
                return 1;
        }
        fclose(tf);
        buf[strcspn(buf, "\n")] = '\0';
        initial_token = strdup(buf);
        curl_global_init(CURL_GLOBAL_DEFAULT);

        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_list_pages_then_watch, setup, teardown),
                cmocka_unit_test_setup_teardown(test_resume_after_timeout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dropped_connection, setup, teardown),
                cmocka_unit_test_setup_teardown(test_gone_event_relist, setup, teardown),
                cmocka_unit_test_setup_teardown(test_gone_http_relist, setup, teardown),
                cmocka_unit_test_setup_teardown(test_token_rotation_mtime, setup, teardown),
                cmocka_unit_test_setup_teardown(test_token_rotation_401, setup, teardown),
                cmocka_unit_test_setup_teardown(test_slow_server, setup, teardown),
                cmocka_unit_test_setup_teardown(test_errors_backoff, setup, teardown),
                cmocka_unit_test_setup_teardown(test_event_caps_and_bad_events, setup, teardown),
                cmocka_unit_test_setup_teardown(test_object_and_page_caps, setup, teardown),
                cmocka_unit_test_setup_teardown(test_endpoints_and_audit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_free_in_callbacks, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hostname_and_tls, setup, teardown),
        };
        int rc = cmocka_run_group_tests_name("k8s_watch", tests, NULL, NULL);
        free(initial_token);
        curl_global_cleanup();
        return rc;
}
