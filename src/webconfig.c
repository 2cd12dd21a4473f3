#include "webconfig.h"

#include <crypt.h>
#include <errno.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static char *resolve_path(const char *base_file, const char *path) {
        if (path[0] == '/')
                return strdup(path);
        const char *slash = strrchr(base_file, '/');
        char *out = NULL;
        if (!slash)
                return strdup(path);
        if (asprintf(&out, "%.*s/%s", (int) (slash - base_file), base_file, path) < 0)
                return NULL;
        return out;
}

/* Loads a PEM file named by `key` into *ret; errors name the key. */
static void load_pem(const char *source, json_object *obj, const char *key, const char *what, char **ret,
                     uint64_t *hash, config_errors_t *errs) {
        json_object *v;
        if (!json_object_object_get_ex(obj, key, &v))
                return;
        if (!json_object_is_type(v, json_type_string)) {
                config_errors_add(errs, "tls_server_config.%s: expected a file name", key);
                return;
        }
        char *path = resolve_path(source, json_object_get_string(v));
        size_t len = 0;
        char *pem = NULL;
        int r = path ? read_file_bounded(path, WEBCONFIG_MAX_PEM_BYTES, &pem, &len, NULL) : -ENOMEM;
        if (r < 0)
                config_errors_add(errs, "tls_server_config.%s: cannot read %s: %s", key, path ? path : "?",
                                  strerror(-r));
        else if (!strstr(pem, "-----BEGIN ")) {
                config_errors_add(errs, "tls_server_config.%s: %s is not a PEM %s", key, path, what);
                free(pem);
                pem = NULL;
        }
        if (pem) {
                *hash = hash_fnv1a(pem, len, *hash);
                *ret = pem;
        }
        free(path);
}

static bool bcrypt_hash_valid(const char *h) {
        return strlen(h) == 60 && h[0] == '$' && h[1] == '2' && (h[2] == 'a' || h[2] == 'b' || h[2] == 'y') &&
               h[3] == '$';
}

int webconfig_load(const char *path, webconfig_t **ret, config_errors_t *errs) {
        size_t len = 0;
        size_t before = errs->n + errs->n_dropped;
        char *text = NULL;
        int rr = read_file_bounded(path, WEBCONFIG_MAX_FILE_BYTES, &text, &len, NULL);
        if (rr < 0) {
                config_errors_add(errs, "%s: cannot read: %s", path, strerror(-rr));
                return rr;
        }
        webconfig_t *wc = calloc(1, sizeof *wc);
        json_object *root = NULL;
        int r = -ENOMEM;
        if (!wc || !(wc->source = strdup(path)))
                goto done;
        wc->content_hash = hash_fnv1a(text, len, 0);
        /* Syntax errors, repeated keys and NULs in strings ("admin\u0000x"
         * would be the user "admin") are reported as for the config. */
        r = json_text_parse(text, len, path, &root, errs);
        if (r < 0)
                goto done;
        if (!json_object_is_type(root, json_type_object)) {
                config_errors_add(errs, "%s: invalid JSON: expected an object", path);
                r = -EINVAL;
                goto done;
        }
        json_object_object_foreach(root, key, val) {
                if (strcmp(key, "tls_server_config") == 0) {
                        if (!json_object_is_type(val, json_type_object)) {
                                config_errors_add(errs, "tls_server_config: expected an object");
                                continue;
                        }
                        json_object_object_foreach(val, tkey, tval) {
                                static const char *const known[] = { "cert_file", "key_file", "client_ca_file",
                                                                     "client_auth_type" };
                                bool ok = false;
                                for (size_t i = 0; i < ELEMENTSOF(known); i++)
                                        ok |= strcmp(tkey, known[i]) == 0;
                                if (!ok)
                                        config_errors_add(errs, "tls_server_config.%s: unknown key", tkey);
                                (void) tval;
                        }
                        load_pem(path, val, "cert_file", "certificate", &wc->cert_pem, &wc->content_hash, errs);
                        load_pem(path, val, "key_file", "private key", &wc->key_pem, &wc->content_hash, errs);
                        load_pem(path, val, "client_ca_file", "CA certificate", &wc->client_ca_pem,
                                 &wc->content_hash, errs);
                        if (!wc->cert_pem != !wc->key_pem)
                                config_errors_add(errs, "tls_server_config: cert_file and key_file go together");
                        wc->client_auth = wc->client_ca_pem ? WEB_CLIENT_AUTH_REQUIRE : WEB_CLIENT_AUTH_NONE;
                        json_object *type;
                        if (json_object_object_get_ex(val, "client_auth_type", &type)) {
                                const char *t = json_object_get_string(type);
                                if (strcmp(t, "NoClientCert") == 0)
                                        wc->client_auth = WEB_CLIENT_AUTH_NONE;
                                else if (strcmp(t, "VerifyClientCertIfGiven") == 0)
                                        wc->client_auth = WEB_CLIENT_AUTH_VERIFY_IF_GIVEN;
                                else if (strcmp(t, "RequireAndVerifyClientCert") == 0)
                                        wc->client_auth = WEB_CLIENT_AUTH_REQUIRE;
                                else
                                        config_errors_add(errs, "tls_server_config.client_auth_type: unsupported "
                                                          "\"%s\" (NoClientCert, VerifyClientCertIfGiven, "
                                                          "RequireAndVerifyClientCert)", t);
                                if (wc->client_auth != WEB_CLIENT_AUTH_NONE && !wc->client_ca_pem)
                                        config_errors_add(errs, "tls_server_config.client_auth_type: %s needs "
                                                          "client_ca_file", t);
                        }
                        if (wc->client_ca_pem && !wc->cert_pem)
                                config_errors_add(errs, "tls_server_config.client_ca_file: needs cert_file and "
                                                  "key_file");
                } else if (strcmp(key, "basic_auth_users") == 0) {
                        if (!json_object_is_type(val, json_type_object)) {
                                config_errors_add(errs, "basic_auth_users: expected an object of user: bcrypt hash");
                                continue;
                        }
                        size_t n = (size_t) json_object_object_length(val);
                        if (n > WEBCONFIG_MAX_USERS) {
                                config_errors_add(errs, "basic_auth_users: %zu users exceed the cap of %u", n,
                                                  WEBCONFIG_MAX_USERS);
                                continue;
                        }
                        wc->users = calloc(n ? n : 1, sizeof *wc->users);
                        if (!wc->users)
                                goto done;
                        json_object_object_foreach(val, user, hash) {
                                const char *h = json_object_get_string(hash);
                                if (!json_object_is_type(hash, json_type_string) || !bcrypt_hash_valid(h)) {
                                        config_errors_add(errs, "basic_auth_users.%s: expected a bcrypt hash "
                                                          "($2a$, $2b$ or $2y$, 60 characters)", user);
                                        continue;
                                }
                                if (!*user || strchr(user, ':')) {
                                        config_errors_add(errs, "basic_auth_users: invalid user name \"%s\"", user);
                                        continue;
                                }
                                web_user_t *u = &wc->users[wc->n_users];
                                if (!(u->name = strdup(user)) || !(u->hash = strdup(h)))
                                        goto done;
                                wc->n_users++;
                        }
                } else
                        config_errors_add(errs, "%s: unknown key", key);
        }
        r = errs->n + errs->n_dropped > before ? -EINVAL : 0;
done:
        json_object_put(root);
        free(text);
        if (r < 0) {
                webconfig_free(wc);
                return r;
        }
        *ret = wc;
        return 0;
}

void webconfig_free(webconfig_t *wc) {
        if (!wc)
                return;
        for (size_t i = 0; i < wc->n_users; i++) {
                free(wc->users[i].name);
                free(wc->users[i].hash);
        }
        free(wc->users);
        free(wc->cert_pem);
        if (wc->key_pem) {
                explicit_bzero(wc->key_pem, strlen(wc->key_pem));
                free(wc->key_pem);
        }
        free(wc->client_ca_pem);
        free(wc->source);
        free(wc);
}

bool webconfig_check_password(const webconfig_t *wc, const char *user, const char *password) {
        const web_user_t *u = NULL;
        for (size_t i = 0; i < wc->n_users; i++)
                if (strcmp(wc->users[i].name, user) == 0)
                        u = &wc->users[i];
        /* Unknown users still pay one hash so timing does not tell them apart. */
        const char *hash = u ? u->hash : "$2b$10$abcdefghijklmnopqrstuu5b4mJ3uB0iNh9n9E3Y4bVd0YcJ6Gq3C";
        struct crypt_data *cd = calloc(1, sizeof *cd);
        if (!cd)
                return false;
        /* crypt_rn (libxcrypt): NULL on failure; and not crypt_r, whose ASan
         * interceptor has no real function to call here. */
        const char *out = crypt_rn(password, hash, cd, (int) sizeof *cd);
        bool ok = false;
        if (out && strlen(out) == strlen(hash)) {
                unsigned char diff = 0;
                for (size_t i = 0; hash[i]; i++)
                        diff |= (unsigned char) (out[i] ^ hash[i]);
                ok = diff == 0 && u;
        }
        explicit_bzero(cd, sizeof *cd);
        free(cd);
        return ok;
}
