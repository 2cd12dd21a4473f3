/* Structured logging to stderr, logfmt (default) or JSON lines.
 *
 * Only the daemon's top layers log (agent, main); lower modules return -errno
 * and let the caller log once with context. */
#pragma once

#include <stdbool.h>

typedef enum log_level {
        LOG_DEBUG,
        LOG_INFO,
        LOG_WARN,
        LOG_ERROR,
} log_level_t;

typedef enum log_format {
        LOG_FORMAT_LOGFMT,
        LOG_FORMAT_JSON,
} log_format_t;

void log_setup(log_level_t min_level, log_format_t format);
int log_level_from_string(const char *s, log_level_t *ret);
int log_format_from_string(const char *s, log_format_t *ret);
bool log_enabled(log_level_t level);

/* Logs `msg` with key/value string pairs, terminated by NULL:
 *   log_event(LOG_INFO, "config loaded", "path", path, "rows", "12", NULL);
 * Values are quoted and escaped as the format requires. */
void log_event(log_level_t level, const char *msg, ...) __attribute__((sentinel));
