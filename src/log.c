#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util.h"

static log_level_t min_level = LOG_INFO;
static log_format_t log_format = LOG_FORMAT_LOGFMT;

static const char *const level_names[] = {
        [LOG_DEBUG] = "debug",
        [LOG_INFO] = "info",
        [LOG_WARN] = "warn",
        [LOG_ERROR] = "error",
};

void log_setup(log_level_t level, log_format_t format) {
        min_level = level;
        log_format = format;
}

int log_level_from_string(const char *s, log_level_t *ret) {
        for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                if (strcasecmp(s, level_names[i]) == 0) {
                        *ret = (log_level_t) i;
                        return 0;
                }
        return -1;
}

int log_format_from_string(const char *s, log_format_t *ret) {
        if (strcmp(s, "logfmt") == 0)
                *ret = LOG_FORMAT_LOGFMT;
        else if (strcmp(s, "json") == 0)
                *ret = LOG_FORMAT_JSON;
        else
                return -1;
        return 0;
}

bool log_enabled(log_level_t level) {
        return level >= min_level;
}

static void put_logfmt_value(strbuf_t *sb, const char *v) {
        bool quote = *v == '\0';
        for (const char *p = v; *p && !quote; p++)
                if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\')
                        quote = true;
        if (!quote) {
                sb_puts(sb, v);
                return;
        }
        sb_putc(sb, '"');
        for (const char *p = v; *p; p++) {
                switch (*p) {
                case '"': sb_puts(sb, "\\\""); break;
                case '\\': sb_puts(sb, "\\\\"); break;
                case '\n': sb_puts(sb, "\\n"); break;
                case '\t': sb_puts(sb, "\\t"); break;
                default:
                        if ((unsigned char) *p < 0x20)
                                sb_printf(sb, "\\x%02x", (unsigned char) *p);
                        else
                                sb_putc(sb, *p);
                }
        }
        sb_putc(sb, '"');
}

void log_event(log_level_t level, const char *msg, ...) {
        if (!log_enabled(level))
                return;

        char ts[40];
        struct timespec now;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &tm);
        size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(ts + n, sizeof ts - n, ".%03ldZ", now.tv_nsec / 1000000L);

        strbuf_t sb;
        sb_init(&sb, 0);
        bool json = log_format == LOG_FORMAT_JSON;
        if (json) {
                sb_puts(&sb, "{\"ts\":\"");
                sb_puts(&sb, ts);
                sb_puts(&sb, "\",\"level\":\"");
                sb_puts(&sb, level_names[level]);
                sb_puts(&sb, "\",\"msg\":");
                sb_put_json_string(&sb, msg);
        } else {
                sb_printf(&sb, "ts=%s level=%s msg=", ts, level_names[level]);
                put_logfmt_value(&sb, msg);
        }

        va_list ap;
        va_start(ap, msg);
        for (;;) {
                const char *key = va_arg(ap, const char *);
                if (!key)
                        break;
                const char *value = va_arg(ap, const char *);
                if (!value)
                        value = "";
                if (json) {
                        sb_putc(&sb, ',');
                        sb_put_json_string(&sb, key);
                        sb_putc(&sb, ':');
                        sb_put_json_string(&sb, value);
                } else {
                        sb_putc(&sb, ' ');
                        sb_puts(&sb, key);
                        sb_putc(&sb, '=');
                        put_logfmt_value(&sb, value);
                }
        }
        va_end(ap);
        if (json)
                sb_putc(&sb, '}');
        sb_putc(&sb, '\n');
        if (!sb.oom)
                fwrite(sb.data, 1, sb.len, stderr);
        else
                fprintf(stderr, "level=%s msg=\"%s\" log_truncated=true\n", level_names[level], msg);
        sb_free(&sb);
}
