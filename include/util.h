/* Small shared helpers: clocks, a growable string buffer, hashing, randomness. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define USEC_PER_SEC 1000000ULL
#define USEC_PER_MSEC 1000ULL

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* Microseconds on CLOCK_MONOTONIC; never goes back, unaffected by wall-clock jumps. */
uint64_t mono_usec(void);
/* Microseconds since the Unix epoch (CLOCK_REALTIME); only for timestamps shown to users. */
uint64_t wall_usec(void);

/* Growable, NUL-terminated byte buffer. A failed allocation sets `oom` and makes
 * every later append a no-op, so callers check once at the end. `cap` of 0 in
 * `limit` means unlimited; past the limit the buffer also sets `oom`. */
typedef struct strbuf {
        char *data;   /* NUL-terminated; NULL until the first append */
        size_t len;   /* bytes used, without the NUL */
        size_t alloc; /* bytes allocated */
        size_t limit; /* hard cap on len; 0 = none */
        bool oom;     /* an append failed (allocation or limit) */
} strbuf_t;

void sb_init(strbuf_t *sb, size_t limit);
void sb_free(strbuf_t *sb);
void sb_reset(strbuf_t *sb);
int sb_reserve(strbuf_t *sb, size_t extra);
void sb_append(strbuf_t *sb, const char *data, size_t len);
void sb_puts(strbuf_t *sb, const char *s);
void sb_putc(strbuf_t *sb, char c);
void sb_printf(strbuf_t *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vprintf(strbuf_t *sb, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Writes `v` in base 10 to `out` (no NUL) and returns the length (1..20). */
size_t format_u64(char out[20], uint64_t v);
/* Appends a base-10 unsigned integer without going through printf. */
void sb_put_u64(strbuf_t *sb, uint64_t v);
/* Appends a double the way the Prometheus text format reads it (+Inf, -Inf, NaN). */
void sb_put_double(strbuf_t *sb, double v);
/* Appends `s` as a quoted JSON string (control characters escaped). */
void sb_put_json_string(strbuf_t *sb, const char *s);
/* The same for `len` bytes that may hold NULs (escaped as \u0000). */
void sb_put_json_string_len(strbuf_t *sb, const char *s, size_t len);
/* Hands the data to the caller (who frees it) and leaves the buffer empty. */
char *sb_steal(strbuf_t *sb, size_t *ret_len);

/* vasprintf() that returns the string (caller frees), or NULL when it could
 * not be made. */
char *vasprintf_or_null(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

struct stat;
/* Reads the whole regular file at `path` into a NUL-terminated buffer the
 * caller frees (*ret_len excludes the NUL). At most `max` bytes: -EFBIG past
 * that, also for a file that grew while it was read. -EISDIR for a
 * directory, -EINVAL for anything else that is not a regular file (a FIFO is
 * opened without blocking and refused), -ENOMEM, or the -errno of
 * open/fstat/read. `ret_st` (may be NULL) gets the file's stat. Out-parameters
 * are written only on success. */
int read_file_bounded(const char *path, size_t max, char **ret, size_t *ret_len, struct stat *ret_st);

/* 64-bit FNV-1a; stable across runs and builds (used for scheduling phases). */
uint64_t hash_fnv1a(const void *data, size_t len, uint64_t seed);

/* Fast non-cryptographic randomness (splitmix64), seeded once from getrandom(). */
uint64_t rand_u64(void);

/* strdup that returns NULL on NULL input. */
char *strdup_or_null(const char *s);
