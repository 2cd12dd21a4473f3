/* Reading JSON config files (the config, --web-config): the error list they
 * report into, JSON paths for messages, the checks json-c does not make
 * (repeated keys, NULs in strings, text after the document), and durations.
 * Pure: no I/O, nothing logged. Below config.h, which includes it. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct json_object;

#define CONFIG_MAX_ERRORS 100u      /* further errors are summarised as a count */

/* A collected list of config errors, each "path: message". */
typedef struct config_errors {
        char **messages;   /* n entries, owned */
        size_t n;
        size_t n_dropped;  /* errors beyond CONFIG_MAX_ERRORS, only counted */
} config_errors_t;

void config_errors_init(config_errors_t *errs);
void config_errors_free(config_errors_t *errs);
void config_errors_add(config_errors_t *errs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* All messages joined with "; " (for one log line); caller frees. NULL on OOM. */
char *config_errors_join(const config_errors_t *errs);

/* JSON paths for messages: "targets.t.tcp.port", "matrix[3].to". An absurdly
 * long key is cut at JSON_PATH_MAX - 1 bytes, which only shortens the message. */
#define JSON_PATH_MAX 1024
/* `base` + "." + `key` (just `key` when base is empty or NULL). */
void json_path_key(char out[JSON_PATH_MAX], const char *base, const char *key);
/* `base` + "[i]". */
void json_path_index(char out[JSON_PATH_MAX], const char *base, size_t i);

/* Adds "path: message" (the message alone for an empty or NULL path); the
 * message is cut at JSON_PATH_MAX bytes. */
void config_errors_add_at(config_errors_t *errs, const char *path, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Parses `len` bytes of JSON as json-c does (comments allowed, depth 64) and
 * reports, with `source` and line:column or the JSON path, what json-c lets
 * through: a NUL byte in the text, text after the document, keys repeated in
 * one object (json-c keeps the last silently), and keys or strings holding a
 * NUL once decoded ("t\u0000x", which json-c and every C reader cut to "t").
 * Returns 0 with *ret the document (any type; caller puts it), also when
 * repeated keys or NULs were reported (callers compare the error count, so
 * that every error is listed at once); -EINVAL with the syntax error in
 * `errs`; -ENOMEM. */
int json_text_parse(const char *text, size_t len, const char *source, struct json_object **ret,
                    config_errors_t *errs);

/* "250ms", "15s", "2m", "1h", "1m30s", "500us" -> microseconds. Zero and
 * negative durations, unknown units and overflow are -EINVAL. */
int duration_parse(const char *s, uint64_t *ret_usec);
/* Formats microseconds as the shortest duration string ("1.5s", "250ms"). */
void duration_format(uint64_t usec, char *buf, size_t size);

