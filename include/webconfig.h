/* The web config (--web-config FILE): TLS and basic auth for the HTTP server,
 * in the spirit of Prometheus exporter-toolkit. The file is JSON (which is also
 * valid YAML for exporter-toolkit):
 *
 *   { "tls_server_config": { "cert_file": "tls.crt", "key_file": "tls.key",
 *                            "client_ca_file": "ca.crt",
 *                            "client_auth_type": "RequireAndVerifyClientCert" },
 *     "basic_auth_users": { "prometheus": "$2y$10$..." } }
 *
 * Relative paths are relative to the web config's directory. Passwords are
 * bcrypt hashes ($2a$, $2b$, $2y$), checked with libcrypt. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

typedef enum web_client_auth {
        WEB_CLIENT_AUTH_NONE,            /* NoClientCert */
        WEB_CLIENT_AUTH_VERIFY_IF_GIVEN, /* VerifyClientCertIfGiven */
        WEB_CLIENT_AUTH_REQUIRE,         /* RequireAndVerifyClientCert */
} web_client_auth_t;

typedef struct web_user {
        char *name;
        char *hash;                      /* bcrypt */
} web_user_t;

typedef struct webconfig {
        char *source;
        char *cert_pem;                  /* NULL = plain HTTP */
        char *key_pem;
        char *client_ca_pem;             /* NULL = no client certificates */
        web_client_auth_t client_auth;
        web_user_t *users;               /* empty = no basic auth */
        size_t n_users;
        uint64_t content_hash;           /* of the file and every file it names */
} webconfig_t;

#define WEBCONFIG_MAX_FILE_BYTES (1024u * 1024u)
/* Cap on each certificate or key file it names. */
#define WEBCONFIG_MAX_PEM_BYTES (1024u * 1024u)
#define WEBCONFIG_MAX_USERS 100u

/* Reads and validates; every problem goes to `errs` with its key path. */
int webconfig_load(const char *path, webconfig_t **ret, config_errors_t *errs);
void webconfig_free(webconfig_t *wc);

/* Checks `password` against the user's bcrypt hash. Constant-time compare;
 * bcrypt itself is slow on purpose (milliseconds), callers cache successes. */
bool webconfig_check_password(const webconfig_t *wc, const char *user, const char *password);
