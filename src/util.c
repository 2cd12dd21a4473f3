#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

uint64_t mono_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000u;
}

uint64_t wall_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000u;
}

void sb_init(strbuf_t *sb, size_t limit) {
        *sb = (strbuf_t) { .limit = limit };
}

void sb_free(strbuf_t *sb) {
        free(sb->data);
        *sb = (strbuf_t) { .limit = sb->limit };
}

void sb_reset(strbuf_t *sb) {
        sb->len = 0;
        sb->oom = false;
        if (sb->data)
                sb->data[0] = '\0';
}

int sb_reserve(strbuf_t *sb, size_t extra) {
        if (sb->oom)
                return -ENOMEM;
        if (extra > SIZE_MAX / 2 - sb->len || (sb->limit > 0 && sb->len + extra > sb->limit)) {
                sb->oom = true;
                return -E2BIG;
        }
        size_t need = sb->len + extra + 1;
        if (need <= sb->alloc)
                return 0;
        size_t alloc = sb->alloc ? sb->alloc : 64;
        while (alloc < need)
                alloc *= 2;
        char *p = realloc(sb->data, alloc);
        if (!p) {
                sb->oom = true;
                return -ENOMEM;
        }
        if (!sb->data)
                p[0] = '\0'; /* a reserved buffer is a valid empty string */
        sb->data = p;
        sb->alloc = alloc;
        return 0;
}

void sb_append(strbuf_t *sb, const char *data, size_t len) {
        if (sb_reserve(sb, len) < 0)
                return;
        memcpy(sb->data + sb->len, data, len);
        sb->len += len;
        sb->data[sb->len] = '\0';
}

void sb_puts(strbuf_t *sb, const char *s) {
        sb_append(sb, s, strlen(s));
}

void sb_putc(strbuf_t *sb, char c) {
        if (sb_reserve(sb, 1) < 0)
                return;
        sb->data[sb->len++] = c;
        sb->data[sb->len] = '\0';
}

void sb_vprintf(strbuf_t *sb, const char *fmt, va_list ap) {
        va_list aq;
        va_copy(aq, ap);
        char small[256];
        int n = vsnprintf(small, sizeof small, fmt, aq);
        va_end(aq);
        if (n < 0) {
                sb->oom = true;
                return;
        }
        if ((size_t) n < sizeof small) {
                sb_append(sb, small, (size_t) n);
                return;
        }
        if (sb_reserve(sb, (size_t) n) < 0)
                return;
        vsnprintf(sb->data + sb->len, (size_t) n + 1, fmt, ap);
        sb->len += (size_t) n;
}

void sb_printf(strbuf_t *sb, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        sb_vprintf(sb, fmt, ap);
        va_end(ap);
}

size_t format_u64(char out[20], uint64_t v) {
        char tmp[20];
        size_t i = sizeof tmp;
        do {
                tmp[--i] = (char) ('0' + v % 10);
                v /= 10;
        } while (v > 0);
        memcpy(out, tmp + i, sizeof tmp - i);
        return sizeof tmp - i;
}

void sb_put_u64(strbuf_t *sb, uint64_t v) {
        char digits[20];
        sb_append(sb, digits, format_u64(digits, v));
}

void sb_put_double(strbuf_t *sb, double v) {
        if (isnan(v)) {
                sb_puts(sb, "NaN");
                return;
        }
        if (isinf(v)) {
                sb_puts(sb, v > 0 ? "+Inf" : "-Inf");
                return;
        }
        /* Integral values (counters, bucket counts) take the fast path. */
        if (v >= 0 && v < 9007199254740992.0 && v == (double) (uint64_t) v) {
                sb_put_u64(sb, (uint64_t) v);
                return;
        }
        /* The shortest of %.15g / %.17g that reads back as the same double. */
        char tmp[40];
        snprintf(tmp, sizeof tmp, "%.15g", v);
        if (strtod(tmp, NULL) != v)
                snprintf(tmp, sizeof tmp, "%.17g", v);
        sb_puts(sb, tmp);
}

void sb_put_json_string_len(strbuf_t *sb, const char *s, size_t len) {
        static const char hex[] = "0123456789abcdef";
        sb_putc(sb, '"');
        size_t run = 0;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c >= 0x20 && c != '"' && c != '\\')
                        continue;
                sb_append(sb, s + run, i - run);
                run = i + 1;
                switch (c) {
                case '"': sb_puts(sb, "\\\""); break;
                case '\\': sb_puts(sb, "\\\\"); break;
                case '\n': sb_puts(sb, "\\n"); break;
                case '\r': sb_puts(sb, "\\r"); break;
                case '\t': sb_puts(sb, "\\t"); break;
                default: {
                        char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
                        sb_append(sb, u, sizeof u);
                }
                }
        }
        sb_append(sb, s + run, len - run);
        sb_putc(sb, '"');
}

void sb_put_json_string(strbuf_t *sb, const char *v) {
        sb_put_json_string_len(sb, v, strlen(v));
}

char *sb_steal(strbuf_t *sb, size_t *ret_len) {
        char *p = sb->data;
        if (ret_len)
                *ret_len = sb->len;
        *sb = (strbuf_t) { .limit = sb->limit };
        return p;
}

uint64_t hash_fnv1a(const void *data, size_t len, uint64_t seed) {
        const uint8_t *p = data;
        uint64_t h = 0xcbf29ce484222325ULL ^ seed;
        for (size_t i = 0; i < len; i++) {
                h ^= p[i];
                h *= 0x100000001b3ULL;
        }
        return h;
}

uint64_t rand_u64(void) {
        static uint64_t state;
        static bool seeded;
        if (!seeded) {
                if (getrandom(&state, sizeof state, GRND_NONBLOCK) != (ssize_t) sizeof state)
                        state = mono_usec() ^ ((uint64_t) (uintptr_t) &state << 17);
                seeded = true;
        }
        uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

char *strdup_or_null(const char *s) {
        return s ? strdup(s) : NULL;
}

char *vasprintf_or_null(const char *fmt, va_list ap) {
        char *s = NULL;
        if (vasprintf(&s, fmt, ap) < 0)
                return NULL;
        return s;
}

int read_file_bounded(const char *path, size_t max, char **ret, size_t *ret_len, struct stat *ret_st) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        struct stat st;
        strbuf_t sb;
        /* One byte of room past `max`, so that a larger file is noticed. */
        sb_init(&sb, max + 1);
        int r = 0;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto done;
        }
        if (S_ISDIR(st.st_mode) || !S_ISREG(st.st_mode)) {
                r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
                goto done;
        }
        if ((uint64_t) st.st_size > max) {
                r = -EFBIG;
                goto done;
        }
        if (sb_reserve(&sb, (size_t) st.st_size + 1) < 0) {
                r = -ENOMEM;
                goto done;
        }
        for (;;) {
                char buf[4096];
                ssize_t n = read(fd, buf, sizeof buf);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto done;
                }
                if (n == 0)
                        break;
                if (sb.len + (size_t) n > max) {
                        r = -EFBIG;
                        goto done;
                }
                sb_append(&sb, buf, (size_t) n);
                if (sb.oom) {
                        r = -ENOMEM;
                        goto done;
                }
        }
        size_t len = sb.len;
        char *text = sb_steal(&sb, NULL);
        if (!text && !(text = strdup(""))) {
                r = -ENOMEM;
                goto done;
        }
        if (ret_st)
                *ret_st = st;
        *ret = text;
        if (ret_len)
                *ret_len = len;
done:
        sb_free(&sb);
        close(fd);
        return r;
}
