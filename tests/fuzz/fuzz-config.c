/* Fuzz target: the config contract (contract §2). Arbitrary bytes go through
 * config_parse(); an accepted config must satisfy the invariants the rest of
 * the daemon relies on, and is planned for fixed identities and freed. Every
 * rejection must carry at least one message. The same bytes, NUL-terminated,
 * go through duration_parse() and config_name_valid(). */
#include <errno.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

/* [A-Za-z0-9._-]{1,253}: the reference the parser must agree with. */
static bool name_valid_ref(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > CONFIG_MAX_NAME_LEN)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '_' || c == '-'))
                        return false;
        }
        return true;
}

static void check_config(const config_t *cfg) {
        FUZZ_CHECK(cfg->source);
        FUZZ_CHECK(cfg->listen);
        FUZZ_CHECK(cfg->n_targets <= CONFIG_MAX_TARGETS);
        FUZZ_CHECK(cfg->n_rows <= CONFIG_MAX_ROWS);
        FUZZ_CHECK(cfg->n_buckets <= CONFIG_MAX_BUCKETS);
        FUZZ_CHECK(cfg->default_interval_usec > 0 && cfg->default_timeout_usec > 0);
        FUZZ_CHECK(cfg->max_in_flight >= 1 && cfg->max_in_flight <= CONFIG_MAX_IN_FLIGHT);
        if (cfg->identity)
                FUZZ_CHECK(config_name_valid(cfg->identity));
        for (size_t i = 1; i < cfg->n_buckets; i++)
                FUZZ_CHECK(cfg->buckets[i - 1] < cfg->buckets[i]);
        for (size_t i = 0; i < cfg->n_targets; i++) {
                const target_t *t = &cfg->targets[i];
                FUZZ_CHECK(config_name_valid(t->name));
                FUZZ_CHECK(t->proto < _PROTO_MAX);
                if (t->proto == PROTO_TCP || t->proto == PROTO_UDP) {
                        FUZZ_CHECK(t->net.host && *t->net.host);
                        FUZZ_CHECK(t->net.port >= 1);
                }
                if (t->proto == PROTO_HTTP)
                        FUZZ_CHECK(t->http.url && t->http.method);
                if (t->proto == PROTO_DNS)
                        FUZZ_CHECK(t->dns.name && t->dns.type && t->dns.servers_mode);
        }
        for (size_t i = 0; i < cfg->n_rows; i++) {
                const row_t *row = &cfg->rows[i];
                FUZZ_CHECK(row->from && row->to && row->target);
                FUZZ_CHECK(strcmp(row->from, "*") == 0 || config_name_valid(row->from));
                FUZZ_CHECK(strcmp(row->to, row->target->name) == 0);
                FUZZ_CHECK(row->target >= cfg->targets && row->target < cfg->targets + cfg->n_targets);
                FUZZ_CHECK(row->expect < _EXPECT_MAX);
                FUZZ_CHECK(row->interval_usec > 0 && row->timeout_usec > 0);
                FUZZ_CHECK(row->timeout_usec <= row->interval_usec);
                FUZZ_CHECK(row->confirm >= 1);
                /* Two rows with the same from and to are an error. */
                for (size_t j = 0; j < i; j++)
                        FUZZ_CHECK(strcmp(cfg->rows[j].from, row->from) != 0 ||
                                   strcmp(cfg->rows[j].to, row->to) != 0);
        }
}

static void check_plan(const config_t *cfg, const char *identity) {
        const row_t **plan = NULL;
        int n = config_plan(cfg, identity, &plan);
        FUZZ_CHECK(n >= 0 || n == -ENOMEM);
        if (n < 0)
                return;
        FUZZ_CHECK((size_t) n <= cfg->n_rows);
        for (int i = 0; i < n; i++) {
                FUZZ_CHECK(strcmp(plan[i]->from, identity) == 0 || strcmp(plan[i]->from, "*") == 0);
                /* A row whose `from` is the identity wins over "*": one row per target. */
                for (int j = 0; j < i; j++)
                        FUZZ_CHECK(strcmp(plan[j]->to, plan[i]->to) != 0);
        }
        free(plan);
}

static void check_identities(const config_t *cfg) {
        const char **ids = NULL;
        int n = config_identities(cfg, &ids);
        FUZZ_CHECK(n >= 0 || n == -ENOMEM);
        if (n < 0)
                return;
        for (int i = 0; i < n; i++) {
                FUZZ_CHECK(config_name_valid(ids[i]));
                if (i > 0)
                        FUZZ_CHECK(strcmp(ids[i - 1], ids[i]) < 0);
                check_plan(cfg, ids[i]);
        }
        free(ids);
}

static void fuzz_config(const uint8_t *data, size_t size) {
        config_errors_t errs;
        config_errors_init(&errs);
        config_t *cfg = NULL;
        int r = config_parse((const char *) data, size, "fuzz.json", &cfg, &errs);
        if (r == 0) {
                FUZZ_CHECK(cfg);
                FUZZ_CHECK(errs.n == 0 && errs.n_dropped == 0);
                check_config(cfg);
                check_plan(cfg, "customer-a");
                check_plan(cfg, "local");
                check_identities(cfg);
                config_free(cfg);
        } else {
                FUZZ_CHECK(r == -EINVAL || r == -ENOMEM);
                /* Every rejection says why. */
                FUZZ_CHECK(r == -ENOMEM || errs.n > 0);
                FUZZ_CHECK(errs.n <= CONFIG_MAX_ERRORS);
                for (size_t i = 0; i < errs.n; i++)
                        FUZZ_CHECK(errs.messages[i] && *errs.messages[i]);
                char *joined = config_errors_join(&errs);
                free(joined);
        }
        config_errors_free(&errs);
}

static void fuzz_duration(const char *s) {
        uint64_t usec = 0;
        int r = duration_parse(s, &usec);
        FUZZ_CHECK(r == 0 || r == -EINVAL);
        if (r < 0)
                return;
        FUZZ_CHECK(usec > 0);
        /* What duration_format prints reads back as the same value. */
        char buf[64];
        duration_format(usec, buf, sizeof buf);
        uint64_t again = 0;
        if (duration_parse(buf, &again) != 0 || again != usec) {
                fprintf(stderr, "duration \"%s\" -> %llu us -> \"%s\" -> %llu us\n", s, (unsigned long long) usec,
                        buf, (unsigned long long) again);
                FUZZ_CHECK(!"duration_format does not round-trip");
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        fuzz_config(data, size);

        char *s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        fuzz_duration(s);
        FUZZ_CHECK(config_name_valid(s) == name_valid_ref(s));
        free(s);
        return 0;
}
