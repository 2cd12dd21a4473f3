#include "probe_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "build-config.h"
#include "curlloop.h"
#include "util.h"

static const char *const phase_names[_HTTP_PHASE_MAX] = {
        [HTTP_PHASE_RESOLVE] = "resolve",
        [HTTP_PHASE_CONNECT] = "connect",
        [HTTP_PHASE_TLS] = "tls",
        [HTTP_PHASE_PROCESSING] = "processing",
        [HTTP_PHASE_TRANSFER] = "transfer",
};

const char *http_phase_name(http_phase_t p) {
        return p >= 0 && p < _HTTP_PHASE_MAX ? phase_names[p] : "unknown";
}

/* How long after its deadline a transfer curl has not ended yet is ended by
 * the probe's own timer (curl's CURLOPT_TIMEOUT_MS normally ends it on time;
 * this bounds the probe even when curl cannot make progress, e.g. every
 * curl_multi_socket_action() failing for want of memory). Microseconds. */
#define HTTP_STALL_GRACE_USEC (250 * USEC_PER_MSEC)

typedef struct status_range {
        int lo, hi;
} status_range_t;

struct http_request {
        const http_spec_t *spec;
        char *url;                   /* what curl requests (host replaced by tls.server_name if set) */
        char *host;                  /* the configured URL's host, without brackets: what is resolved */
        uint16_t port;
        struct curl_slist *headers;  /* configured headers (+ Host when server_name rewrites the URL) */
        status_range_t *status;
        size_t n_status;
        regex_t body_re;
        bool has_body_re;
};

struct http_prober {
        loop_t *loop;
        resolver_t *resolver;
        curlloop_t *curl;
        const char *system_ca_file;  /* the system CA bundle for targets without ca_file; NULL: curl's default */
        http_probe_t *probes;        /* running, for http_prober_free() */
};

struct http_probe {
        http_prober_t *client;
        const http_request_t *req;
        curlloop_transfer_t transfer; /* .easy is the probe's handle, reused across redirects */
        struct curl_slist *connect_to;
        char *url;                   /* current hop's URL (redirects) */
        uint64_t deadline;
        resolve_req_t *resolve;      /* a redirect's host being resolved */
        uint64_t resolve_start;
        loop_timer_t *deadline_timer; /* at the deadline while a redirect resolves,
                                       * HTTP_STALL_GRACE_USEC after it while curl runs */
        unsigned flags;              /* http_probe_flags_t */
        http_probe_done_cb cb;
        void *userdata;
        strbuf_t body;               /* kept only when body_regex is set */
        bool capped;                 /* reading stopped at max_body_bytes */
        char errbuf[CURL_ERROR_SIZE];
        http_probe_result_t result;
        http_probe_t *prev, *next;
};

/* ---- the request ---- */

static int parse_status(http_request_t *req) {
        const http_spec_t *spec = req->spec;
        req->status = calloc(spec->n_status ? spec->n_status : 1, sizeof *req->status);
        if (!req->status)
                return -ENOMEM;
        for (size_t i = 0; i < spec->n_status; i++) {
                const char *s = spec->status[i];
                if (s[1] == 'x')
                        req->status[i] = (status_range_t) { (s[0] - '0') * 100, (s[0] - '0') * 100 + 99 };
                else {
                        int code = atoi(s);
                        req->status[i] = (status_range_t) { code, code };
                }
                req->n_status++;
        }
        return 0;
}

int http_request_new(const http_spec_t *spec, http_request_t **ret) {
        http_request_t *req = calloc(1, sizeof *req);
        if (!req)
                return -ENOMEM;
        req->spec = spec;
        int r = -ENOMEM;
        CURLU *u = curl_url();
        char *host = NULL, *port = NULL, *url = NULL;
        if (!u)
                goto fail;
        if (curl_url_set(u, CURLUPART_URL, spec->url, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
                r = -EINVAL;
                goto fail;
        }
        long p = strtol(port, NULL, 10);
        if (p < 1 || p > 65535) {
                r = -EINVAL;
                goto fail;
        }
        req->port = (uint16_t) p;
        size_t hl = strlen(host);
        bool bracketed = hl >= 2 && host[0] == '[';
        req->host = bracketed ? strndup(host + 1, hl - 2) : strdup(host);
        if (!req->host)
                goto fail;
        for (size_t i = 0; i < spec->n_headers; i++) {
                struct curl_slist *l = curl_slist_append(req->headers, spec->headers[i]);
                if (!l)
                        goto fail;
                req->headers = l;
        }
        if (spec->server_name) {
                /* TLS name and SNI come from the URL's host: request the server
                 * name, connect to the configured host's address, keep Host. */
                char *hostline = NULL;
                bool has_host = false;
                for (size_t i = 0; i < spec->n_headers; i++)
                        if (strncasecmp(spec->headers[i], "Host:", 5) == 0)
                                has_host = true;
                if (!has_host) {
                        if (asprintf(&hostline, "Host: %s:%u", host, req->port) < 0)
                                goto fail;
                        struct curl_slist *l = curl_slist_append(req->headers, hostline);
                        free(hostline);
                        if (!l)
                                goto fail;
                        req->headers = l;
                }
                if (curl_url_set(u, CURLUPART_HOST, spec->server_name, 0) != CURLUE_OK) {
                        r = -EINVAL;
                        goto fail;
                }
        }
        if (curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK || !(req->url = strdup(url)))
                goto fail;
        if ((r = parse_status(req)) < 0)
                goto fail;
        if (spec->body_regex) {
                if (regcomp(&req->body_re, spec->body_regex, REG_EXTENDED | REG_NOSUB) != 0) {
                        r = -EINVAL;
                        goto fail;
                }
                req->has_body_re = true;
        }
        curl_free(host);
        curl_free(port);
        curl_free(url);
        curl_url_cleanup(u);
        *ret = req;
        return 0;
fail:
        curl_free(host);
        curl_free(port);
        curl_free(url);
        curl_url_cleanup(u);
        http_request_free(req);
        return r;
}

void http_request_free(http_request_t *req) {
        if (!req)
                return;
        free(req->url);
        free(req->host);
        curl_slist_free_all(req->headers);
        free(req->status);
        if (req->has_body_re)
                regfree(&req->body_re);
        free(req);
}

/* The configured URL's host (without brackets) and port: what the first hop
 * resolves and connects to, also when tls.server_name renames the request. */
const char *http_request_host(const http_request_t *req) {
        return req->host;
}

uint16_t http_request_port(const http_request_t *req) {
        return req->port;
}

/* ---- the client ---- */

/* The system's CA bundle: $SSL_CERT_FILE, else the first of the usual
 * places that is a readable file; NULL when there is none (curl's own
 * default then applies). The same certificates as /etc/ssl/certs, in one
 * file read per handshake. */
static const char *system_ca_file(void) {
        static const char *const bundles[] = {
                "/etc/ssl/certs/ca-certificates.crt", /* Debian, Ubuntu, Alpine, Gentoo */
                "/etc/pki/tls/certs/ca-bundle.crt",   /* Fedora, RHEL */
                "/etc/ssl/ca-bundle.pem",             /* openSUSE */
                "/etc/ssl/cert.pem",                  /* Alpine, macOS-style */
        };
        const char *env = secure_getenv("SSL_CERT_FILE");
        if (env && *env)
                return access(env, R_OK) == 0 ? env : NULL;
        for (size_t i = 0; i < ELEMENTSOF(bundles); i++)
                if (access(bundles[i], R_OK) == 0)
                        return bundles[i];
        return NULL;
}

int http_prober_new(loop_t *loop, resolver_t *resolver, http_prober_t **ret) {
        http_prober_t *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->loop = loop;
        c->resolver = resolver;
        c->system_ca_file = system_ca_file();
        int r = curlloop_new(loop, &c->curl);
        if (r < 0) {
                free(c);
                return r;
        }
        *ret = c;
        return 0;
}

static void probe_free(http_probe_t *p);

void http_prober_free(http_prober_t *c) {
        if (!c)
                return;
        while (c->probes)
                probe_free(c->probes);
        curlloop_free(c->curl);
        free(c);
}

/* ---- one probe ---- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata) {
        http_probe_t *p = userdata;
        size_t n = size * nmemb;
        uint64_t cap = p->req->spec->max_body_bytes;
        if (p->result.body_bytes + n > cap) {
                n = (size_t) (cap - p->result.body_bytes);
                p->capped = true;
        }
        if (p->req->has_body_re)
                sb_append(&p->body, data, n);
        p->result.body_bytes += n;
        /* Returning less than given stops the transfer: the cap on bytes read. */
        return p->capped ? 0 : size * nmemb;
}

/* ---- TLS details (HTTP_PROBE_TLS_INFO) ---- */

static const char *tls_version_name(gnutls_protocol_t v) {
        switch (v) {
        case GNUTLS_TLS1_0: return "TLS 1.0";
        case GNUTLS_TLS1_1: return "TLS 1.1";
        case GNUTLS_TLS1_2: return "TLS 1.2";
        case GNUTLS_TLS1_3: return "TLS 1.3";
        default: return "unknown";
        }
}

static void earliest(int64_t *cur, time_t t) {
        if (t > 0 && (*cur == 0 || (int64_t) t < *cur))
                *cur = (int64_t) t;
}

/* Reads the TLS version and the certificates' expiry from the GnuTLS session
 * under curl's connection. `verified`: curl verified the peer against its
 * CA file, so the chain from the leaf up to the trust anchor is known good.
 * Leaves `ret` invalid when there is no GnuTLS session (plain http, another
 * TLS backend) or no memory. */
static void read_tls_info(CURL *e, bool verified, http_tls_info_t *ret) {
        struct curl_tlssessioninfo *info = NULL;
        if (curl_easy_getinfo(e, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK || !info ||
            info->backend != CURLSSLBACKEND_GNUTLS || !info->internals)
                return;
        gnutls_session_t session = info->internals;
        unsigned n = 0;
        const gnutls_datum_t *peers = gnutls_certificate_get_peers(session, &n);
        gnutls_x509_crt_t *crts = n > 0 ? calloc(n, sizeof *crts) : NULL;
        if (n > 0 && !crts)
                return;
        http_tls_info_t ti = { .valid = true, .version = tls_version_name(gnutls_protocol_get_version(session)) };
        unsigned n_crts = 0;
        for (; n_crts < n; n_crts++) {
                if (gnutls_x509_crt_init(&crts[n_crts]) < 0)
                        goto done;
                if (gnutls_x509_crt_import(crts[n_crts], &peers[n_crts], GNUTLS_X509_FMT_DER) < 0) {
                        n_crts++;
                        goto done;
                }
                earliest(&ti.earliest_expiry, gnutls_x509_crt_get_expiration_time(crts[n_crts]));
        }
        if (verified && n_crts > 0) {
                /* The chain: from the leaf, each next certificate that issued
                 * the previous one (extra certificates a server sends are not
                 * part of it), then the trust anchor that issued the last one,
                 * unless that one is self-signed (the anchor itself). */
                gnutls_x509_crt_t last = crts[0];
                earliest(&ti.chain_expiry, gnutls_x509_crt_get_expiration_time(last));
                for (unsigned i = 1; i < n_crts && gnutls_x509_crt_check_issuer(last, crts[i]); i++) {
                        last = crts[i];
                        earliest(&ti.chain_expiry, gnutls_x509_crt_get_expiration_time(last));
                }
                gnutls_certificate_credentials_t cred = NULL;
                gnutls_x509_crt_t anchor = NULL; /* owned by the credentials (no GNUTLS_TL_GET_COPY) */
                if (!gnutls_x509_crt_check_issuer(last, last) &&
                    gnutls_credentials_get(session, GNUTLS_CRD_CERTIFICATE, (void **) &cred) >= 0 && cred &&
                    gnutls_certificate_get_issuer(cred, last, &anchor, 0) >= 0 && anchor)
                        earliest(&ti.chain_expiry, gnutls_x509_crt_get_expiration_time(anchor));
        }
        *ret = ti;
done:
        for (unsigned i = 0; i < n_crts; i++)
                gnutls_x509_crt_deinit(crts[i]);
        free(crts);
}

/* After the connection (and TLS handshake) is made, before the request
 * goes out: the only moment the session is certainly there (connections are
 * not kept, so it is gone when the transfer ends). */
static int on_prereq(void *userdata, char *primary_ip, char *local_ip, int primary_port, int local_port) {
        http_probe_t *p = userdata;
        read_tls_info(p->transfer.easy, !p->req->spec->insecure_skip_verify, &p->result.tls_info);
        return CURL_PREREQFUNC_OK;
}

/* No TIME_WAIT piles up on the prober: connections end with a reset. */
static int on_sockopt(void *userdata, curl_socket_t fd, curlsocktype purpose) {
        struct linger lg = { .l_onoff = 1, .l_linger = 0 };
        (void) setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        return CURL_SOCKOPT_OK;
}

static void probe_unlink(http_probe_t *p) {
        http_prober_t *c = p->client;
        if (p->prev)
                p->prev->next = p->next;
        else if (c->probes == p)
                c->probes = p->next;
        if (p->next)
                p->next->prev = p->prev;
        p->prev = p->next = NULL;
}

static void probe_free(http_probe_t *p) {
        probe_unlink(p);
        resolver_cancel(p->resolve);
        loop_timer_free(p->deadline_timer);
        if (p->transfer.easy) {
                curlloop_remove(p->client->curl, &p->transfer);
                curl_easy_cleanup(p->transfer.easy);
        }
        curl_slist_free_all(p->connect_to);
        free(p->url);
        sb_free(&p->body);
        free(p);
}

void probe_http_cancel(http_probe_t *p) {
        if (p)
                probe_free(p);
}

static void finish(http_probe_t *p, outcome_t outcome, int error) {
        p->result.outcome = outcome;
        p->result.error = error;
        http_probe_result_t result = p->result;
        http_probe_done_cb cb = p->cb;
        void *ud = p->userdata;
        probe_free(p);
        cb(&result, ud);
}

static bool status_ok(const http_request_t *req, long status) {
        for (size_t i = 0; i < req->n_status; i++)
                if (status >= req->status[i].lo && status <= req->status[i].hi)
                        return true;
        return false;
}

static int hop_start(http_probe_t *p, const struct sockaddr *addr);

static void on_redirect_resolved(int status, const struct sockaddr_storage *addrs, size_t n, void *userdata) {
        http_probe_t *p = userdata;
        p->resolve = NULL;
        loop_timer_disarm(p->deadline_timer);
        uint64_t now = mono_usec();
        p->result.phase_usec[HTTP_PHASE_RESOLVE] += now - p->resolve_start;
        if (status < 0) {
                snprintf(p->result.detail, sizeof p->result.detail, "redirect target did not resolve: %s",
                         strerror(-status));
                finish(p, OUTCOME_DNS_ERROR, -status);
                return;
        }
        int r = hop_start(p, (const struct sockaddr *) &addrs[0]);
        if (r < 0)
                finish(p, OUTCOME_LOCAL_ERROR, -r);
}

static void hop_done(curlloop_transfer_t *t, CURLcode rc);

/* The probe's own bound: a redirect's host still resolving at the deadline,
 * or a transfer curl has not ended by the deadline and the grace after it. */
static void on_deadline(loop_timer_t *t, void *userdata) {
        http_probe_t *p = userdata;
        if (p->resolve) {
                resolver_cancel(p->resolve);
                p->resolve = NULL;
                snprintf(p->result.detail, sizeof p->result.detail, "redirect target did not resolve in time");
                finish(p, OUTCOME_DNS_ERROR, ETIMEDOUT);
        } else if (p->transfer.active) {
                /* As if curl had timed out: hop_done() reads how far it got. */
                hop_done(&p->transfer, CURLE_OPERATION_TIMEDOUT);
        }
}

/* Follows a redirect: resolves the new host through c-ares, then the next hop. */
static int follow(http_probe_t *p, const char *location) {
        CURLU *u = curl_url();
        char *host = NULL, *port = NULL, *scheme = NULL;
        int r = -EINVAL;
        if (!u)
                return -ENOMEM;
        if (curl_url_set(u, CURLUPART_URL, location, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
            (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) ||
            curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
                goto done;
        long portnum = strtol(port, NULL, 10);
        char *url = strdup(location);
        if (!url) {
                r = -ENOMEM;
                goto done;
        }
        free(p->url);
        p->url = url;
        size_t hl = strlen(host);
        if (hl >= 2 && host[0] == '[') {
                memmove(host, host + 1, hl - 2);
                host[hl - 2] = '\0';
        }
        p->resolve_start = mono_usec();
        loop_timer_arm(p->deadline_timer, p->deadline);
        r = resolver_lookup(p->client->resolver, host, (uint16_t) portnum, 1, on_redirect_resolved, p, &p->resolve);
done:
        curl_free(host);
        curl_free(port);
        curl_free(scheme);
        curl_url_cleanup(u);
        return r;
}

static bool is_tls_error(CURLcode rc) {
        switch (rc) {
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_SSL_SHUTDOWN_FAILED:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_USE_SSL_FAILED:
                return true;
        default:
                return false;
        }
}

static outcome_t outcome_from_errno(long err) {
        switch (err) {
        case ECONNREFUSED: return OUTCOME_REFUSED;
        case EHOSTUNREACH:
        case ENETUNREACH:
        case EHOSTDOWN:
        case ENETDOWN:
        case EACCES:
        case EPERM: return OUTCOME_UNREACHABLE;
        case ETIMEDOUT: return OUTCOME_TIMEOUT;
        default: return OUTCOME_LOCAL_ERROR;
        }
}

static void hop_done(curlloop_transfer_t *t, CURLcode rc) {
        http_probe_t *p = t->userdata;
        CURL *e = t->easy;
        long status = 0, os_errno = 0;
        curl_off_t t_dns = 0, t_connect = 0, t_tls = 0, t_pre = 0, t_start = 0, t_total = 0;
        char *redirect = NULL, *scheme = NULL;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &os_errno);
        curl_easy_getinfo(e, CURLINFO_NAMELOOKUP_TIME_T, &t_dns);
        curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &t_connect);
        curl_easy_getinfo(e, CURLINFO_APPCONNECT_TIME_T, &t_tls);
        curl_easy_getinfo(e, CURLINFO_PRETRANSFER_TIME_T, &t_pre);
        curl_easy_getinfo(e, CURLINFO_STARTTRANSFER_TIME_T, &t_start);
        curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &t_total);
        curl_easy_getinfo(e, CURLINFO_REDIRECT_URL, &redirect);
        curl_easy_getinfo(e, CURLINFO_SCHEME, &scheme);
        curl_off_t content_length = -1;
        long version = 0;
        curl_easy_getinfo(e, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &content_length);
        curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &version);

        http_probe_result_t *res = &p->result;
        res->status = status;
        res->tls = scheme && strcasecmp(scheme, "https") == 0;
        res->content_length = status > 0 && content_length >= 0 ? (int64_t) content_length : -1;
        res->http_version = status <= 0                          ? 0
                            : version == CURL_HTTP_VERSION_1_0   ? 10
                            : version == CURL_HTTP_VERSION_1_1   ? 11
                            : version == CURL_HTTP_VERSION_2_0   ? 20
                            : version == CURL_HTTP_VERSION_3     ? 30
                                                                 : 0;
        /* From the connect on: curl's own set-up before it (URL parsing, the
         * connect-to literal) is not the network's time. */
        res->duration_usec += (uint64_t) (t_total > t_dns ? t_total - t_dns : t_total);
        res->phase_usec[HTTP_PHASE_CONNECT] = t_connect > t_dns ? (uint64_t) (t_connect - t_dns) : 0;
        res->phase_usec[HTTP_PHASE_TLS] = t_tls > t_connect ? (uint64_t) (t_tls - t_connect) : 0;
        res->phase_usec[HTTP_PHASE_PROCESSING] = t_start > t_pre ? (uint64_t) (t_start - t_pre) : 0;
        res->phase_usec[HTTP_PHASE_TRANSFER] = t_total > t_start ? (uint64_t) (t_total - t_start) : 0;
        /* curl 7.88 leaves CONNECT_TIME at 0 when the TLS handshake fails or
         * stalls; a local port exists only once TCP connected. */
        long local_port = 0;
        curl_easy_getinfo(e, CURLINFO_LOCAL_PORT, &local_port);
        bool connected = t_connect > 0 || status > 0 || local_port > 0;

        if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && p->capped)) {
                if (p->req->spec->follow_redirects && status >= 300 && status < 400 && redirect &&
                    res->redirects < HTTP_MAX_REDIRECTS) {
                        res->redirects++;
                        int r = follow(p, redirect);
                        if (r < 0) {
                                snprintf(res->detail, sizeof res->detail, "cannot follow redirect to %s", redirect);
                                finish(p, OUTCOME_BAD_RESPONSE, 0);
                        }
                        return;
                }
                if (!status_ok(p->req, status)) {
                        snprintf(res->detail, sizeof res->detail, "status %ld not in the accepted list", status);
                        finish(p, OUTCOME_BAD_RESPONSE, 0);
                        return;
                }
                if (p->req->has_body_re) {
                        const char *body = p->body.data ? p->body.data : "";
                        if (p->body.oom || regexec(&p->req->body_re, body, 0, NULL, 0) != 0) {
                                res->regex_failed = true;
                                snprintf(res->detail, sizeof res->detail, "body does not match body_regex%s",
                                         p->capped ? " (in the first max_body_bytes)" : "");
                                finish(p, OUTCOME_BAD_RESPONSE, 0);
                                return;
                        }
                }
                finish(p, OUTCOME_CONNECTED, 0);
                return;
        }
        if (is_tls_error(rc) && connected) {
                snprintf(res->detail, sizeof res->detail, "TLS: %.240s", p->errbuf[0] ? p->errbuf : curl_easy_strerror(rc));
                finish(p, OUTCOME_BAD_RESPONSE, 0);
                return;
        }
        if (rc == CURLE_OUT_OF_MEMORY || rc == CURLE_FAILED_INIT) {
                snprintf(res->detail, sizeof res->detail, "%s", curl_easy_strerror(rc));
                finish(p, OUTCOME_LOCAL_ERROR, ENOMEM);
                return;
        }
        if (connected) {
                /* A TCP connection was made: the network let it through. */
                snprintf(res->detail, sizeof res->detail, "%s",
                         rc == CURLE_OPERATION_TIMEDOUT ? "no complete response before the timeout"
                         : p->errbuf[0]                ? p->errbuf
                                                       : curl_easy_strerror(rc));
                finish(p, OUTCOME_BAD_RESPONSE, 0);
                return;
        }
        if (rc == CURLE_OPERATION_TIMEDOUT) {
                finish(p, OUTCOME_TIMEOUT, ETIMEDOUT);
                return;
        }
        snprintf(res->detail, sizeof res->detail, "%s", p->errbuf[0] ? p->errbuf : curl_easy_strerror(rc));
        finish(p, outcome_from_errno(os_errno), (int) os_errno);
}

/* Sets up and adds the easy handle for the current URL, connecting to `addr`. */
static int hop_start(http_probe_t *p, const struct sockaddr *addr) {
        const http_spec_t *spec = p->req->spec;
        uint64_t now = mono_usec();
        if (now >= p->deadline)
                return -ETIMEDOUT;
        CURLU *u = curl_url();
        char *host = NULL, *port = NULL;
        int r = -ENOMEM;
        if (!u)
                return -ENOMEM;
        if (curl_url_set(u, CURLUPART_URL, p->url, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
                r = -EINVAL;
                goto done;
        }
        char ip[80];
        sockaddr_format(addr, ip, sizeof ip); /* "1.2.3.4:80" or "[::1]:80" */
        char *entry = NULL;
        if (asprintf(&entry, "%s:%s:%s", host, port, ip) < 0)
                goto done;
        curl_slist_free_all(p->connect_to);
        p->connect_to = curl_slist_append(NULL, entry);
        free(entry);
        if (!p->connect_to)
                goto done;

        if (!p->transfer.easy && !(p->transfer.easy = curl_easy_init()))
                goto done;
        CURL *e = p->transfer.easy;
        long timeout_ms = (long) ((p->deadline - now + 999) / 1000);
        sb_reset(&p->body);
        p->capped = false;
        p->result.body_bytes = 0;
        p->result.tls_info = (http_tls_info_t) { 0 };
        p->errbuf[0] = '\0';
        curl_easy_setopt(e, CURLOPT_URL, p->url);
        curl_easy_setopt(e, CURLOPT_CONNECT_TO, p->connect_to);
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        /* Never a proxy from http_proxy/HTTPS_PROXY: the probe tests this pod's own path. */
        curl_easy_setopt(e, CURLOPT_PROXY, "");
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
        curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
        curl_easy_setopt(e, CURLOPT_USERAGENT, "netcanary/" NETCANARY_VERSION);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, p->req->headers);
        curl_easy_setopt(e, CURLOPT_NOBODY, strcmp(spec->method, "HEAD") == 0 ? 1L : 0L);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, p);
        curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, p->errbuf);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, spec->insecure_skip_verify ? 0L : 1L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, spec->insecure_skip_verify ? 0L : 2L);
        /* One CA file, no CA directory: libcurl-gnutls (Debian's is built
         * with a CA path only) would otherwise load /etc/ssl/certs file by
         * file, ~300 files, on every handshake, also next to a ca_file. */
        const char *ca = spec->ca_file ? spec->ca_file : p->client->system_ca_file;
        if (ca) {
                curl_easy_setopt(e, CURLOPT_CAINFO, ca);
                curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
        }
        if (p->flags & HTTP_PROBE_TLS_INFO) {
                curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
                curl_easy_setopt(e, CURLOPT_PREREQDATA, p);
        }
        p->transfer.done = hop_done;
        p->transfer.userdata = p;
        r = curlloop_add(p->client->curl, &p->transfer);
        if (r == 0)
                loop_timer_arm(p->deadline_timer, p->deadline + HTTP_STALL_GRACE_USEC);
done:
        curl_free(host);
        curl_free(port);
        curl_url_cleanup(u);
        return r;
}

int probe_http_start(http_prober_t *c, const http_request_t *req, const struct sockaddr *addr, uint64_t resolve_usec,
                     uint64_t deadline_usec, unsigned flags, http_probe_done_cb cb, void *userdata,
                     http_probe_t **ret) {
        http_probe_t *p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        *p = (http_probe_t) { .client = c, .req = req, .deadline = deadline_usec, .flags = flags, .cb = cb,
                              .userdata = userdata };
        p->result.content_length = -1;
        sb_init(&p->body, 0);
        p->result.phase_usec[HTTP_PHASE_RESOLVE] = resolve_usec;
        p->next = c->probes;
        if (c->probes)
                c->probes->prev = p;
        c->probes = p;
        int r = -ENOMEM;
        if (!(p->url = strdup(req->url)) ||
            (r = loop_timer_new(c->loop, on_deadline, p, "http-deadline", &p->deadline_timer)) < 0) {
                probe_free(p);
                return r;
        }
        r = hop_start(p, addr);
        if (r < 0) {
                probe_free(p);
                return r;
        }
        *ret = p;
        return 0;
}
