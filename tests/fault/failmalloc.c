/* failmalloc: see failmalloc.h. */
#include "failmalloc.h"

#include <errno.h>
#include <execinfo.h>
#include <link.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned long armed_nth;   /* 0 = disarmed */
static unsigned long n_attempts;  /* since arm */
static bool persistent;
static bool fired;
static bool seen_any;             /* an allocation went through us */
static int trace_fd = -1;         /* where the failing allocation's backtrace goes; -1 = nowhere */

/* Executable segments of spared libraries: their allocations never fail
 * and are not counted. */
#define MAX_SPARED 16u
typedef enum spare_kind {
        SPARE_NONE,
        SPARE_NEVER_FAIL,         /* never fails, counted as live */
        SPARE_IGNORE,             /* never fails, not counted as live */
} spare_kind_t;
static struct {
        uintptr_t lo, hi;
        spare_kind_t kind;
} spared[MAX_SPARED];
static unsigned n_spared;

typedef struct spare_req {
        const char *part;
        spare_kind_t kind;
} spare_req_t;

static int spare_cb(struct dl_phdr_info *info, size_t size, void *userdata) {
        const spare_req_t *req = userdata;
        if (!info->dlpi_name || !strstr(info->dlpi_name, req->part))
                return 0;
        for (unsigned i = 0; i < info->dlpi_phnum && n_spared < MAX_SPARED; i++) {
                const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
                if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
                        continue;
                spared[n_spared].lo = info->dlpi_addr + ph->p_vaddr;
                spared[n_spared].hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
                spared[n_spared].kind = req->kind;
                n_spared++;
        }
        return 0;
}

static int spare(const char *name_part, spare_kind_t kind) {
        unsigned before = n_spared;
        spare_req_t req = { .part = name_part, .kind = kind };
        dl_iterate_phdr(spare_cb, &req);
        return (int) (n_spared - before);
}

int failmalloc_spare(const char *name_part) {
        return spare(name_part, SPARE_NEVER_FAIL);
}

#ifdef FAILMALLOC_WRAP
int failmalloc_ignore(const char *name_part) {
        return spare(name_part, SPARE_IGNORE);
}
#endif

static spare_kind_t spared_caller(const void *caller) {
        uintptr_t a = (uintptr_t) caller;
        for (unsigned i = 0; i < n_spared; i++)
                if (a >= spared[i].lo && a < spared[i].hi)
                        return spared[i].kind;
        return SPARE_NONE;
}

/* True when this allocation attempt, made from `caller`, must fail. */
static bool should_fail_from(const void *caller) {
        __atomic_store_n(&seen_any, true, __ATOMIC_RELAXED);
        if (caller && spared_caller(caller) != SPARE_NONE)
                return false;
        unsigned long n = __atomic_add_fetch(&n_attempts, 1, __ATOMIC_RELAXED);
        unsigned long nth = __atomic_load_n(&armed_nth, __ATOMIC_RELAXED);
        if (nth == 0 || n < nth || (n > nth && !persistent))
                return false;
        if (!__atomic_exchange_n(&fired, true, __ATOMIC_RELAXED) && trace_fd >= 0) {
                void *frames[48];
                int nf = backtrace(frames, 48);
                dprintf(trace_fd, "failmalloc: allocation %lu fails here:\n", n);
                backtrace_symbols_fd(frames, nf, trace_fd);
        }
        errno = ENOMEM;
        return true;
}

#define should_fail() should_fail_from(__builtin_return_address(0))

void failmalloc_arm(unsigned long nth) {
        __atomic_store_n(&armed_nth, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&n_attempts, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&fired, false, __ATOMIC_RELAXED);
        __atomic_store_n(&armed_nth, nth, __ATOMIC_RELAXED);
}

void failmalloc_trace(int fd) {
        if (fd >= 0) {
                /* backtrace() loads libgcc_s on first use: do it now, not while failing. */
                void *frames[4];
                (void) backtrace(frames, 4);
        }
        trace_fd = fd;
}

void failmalloc_disarm(void) {
        __atomic_store_n(&armed_nth, 0, __ATOMIC_RELAXED);
}

void failmalloc_set_persistent(bool p) {
        persistent = p;
}

bool failmalloc_fired(void) {
        return __atomic_load_n(&fired, __ATOMIC_RELAXED);
}

unsigned long failmalloc_count(void) {
        return __atomic_load_n(&n_attempts, __ATOMIC_RELAXED);
}

bool failmalloc_active(void) {
        return __atomic_load_n(&seen_any, __ATOMIC_RELAXED);
}

#ifndef FAILMALLOC_WRAP

/* ---- replacement build: glibc's own allocator underneath ---- */

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t alignment, size_t size);

static long n_live;

long failmalloc_live(void) {
        return __atomic_load_n(&n_live, __ATOMIC_RELAXED);
}

/* Tracking (debugging aid): every block allocated while tracking is on is
 * remembered with its backtrace until freed. Single-threaded use only. */
#define TRACK_SLOTS (1u << 16)
#define TRACK_FRAMES 24
typedef struct tracked {
        void *ptr;                 /* NULL = empty, TOMBSTONE = deleted */
        int n_frames;
        void *frames[TRACK_FRAMES];
} tracked_t;
#define TOMBSTONE ((void *) 1)
static tracked_t *track_table;
static bool tracking;

static size_t track_hash(const void *p) {
        return (size_t) (((uintptr_t) p >> 4) * 0x9E3779B97F4A7C15ull) & (TRACK_SLOTS - 1);
}

static void track_add(void *p) {
        if (!tracking || !p || !track_table)
                return;
        tracking = false; /* backtrace() must not recurse into tracking */
        for (size_t i = track_hash(p), k = 0; k < TRACK_SLOTS; k++, i = (i + 1) & (TRACK_SLOTS - 1))
                if (!track_table[i].ptr || track_table[i].ptr == TOMBSTONE) {
                        track_table[i].ptr = p;
                        track_table[i].n_frames = backtrace(track_table[i].frames, TRACK_FRAMES);
                        break;
                }
        tracking = true;
}

static void track_del(void *p) {
        if (!track_table || !p)
                return;
        for (size_t i = track_hash(p), k = 0; k < TRACK_SLOTS && track_table[i].ptr; k++, i = (i + 1) & (TRACK_SLOTS - 1))
                if (track_table[i].ptr == p) {
                        track_table[i].ptr = TOMBSTONE;
                        return;
                }
}

void failmalloc_track(bool on) {
        if (on && !track_table) {
                void *frames[4];
                (void) backtrace(frames, 4);
                track_table = __libc_calloc(TRACK_SLOTS, sizeof *track_table);
        }
        if (on && track_table)
                for (size_t i = 0; i < TRACK_SLOTS; i++)
                        track_table[i].ptr = NULL;
        tracking = on && track_table;
}

size_t failmalloc_dump_tracked(int fd) {
        bool was = tracking;
        tracking = false;
        size_t n = 0;
        for (size_t i = 0; track_table && i < TRACK_SLOTS; i++) {
                if (!track_table[i].ptr || track_table[i].ptr == TOMBSTONE)
                        continue;
                n++;
                if (fd >= 0) {
                        dprintf(fd, "failmalloc: block %p still allocated, from:\n", track_table[i].ptr);
                        backtrace_symbols_fd(track_table[i].frames, track_table[i].n_frames, fd);
                }
        }
        tracking = was;
        return n;
}

/* Live blocks of SPARE_IGNORE callers: not counted, and neither are their frees. */
#define IGNORED_SLOTS 4096u
static void **ignored;

static bool ignored_take(void *p) {
        if (!ignored)
                return false;
        for (size_t i = track_hash(p) & (IGNORED_SLOTS - 1), k = 0; k < IGNORED_SLOTS && ignored[i];
             k++, i = (i + 1) & (IGNORED_SLOTS - 1))
                if (ignored[i] == p) {
                        ignored[i] = TOMBSTONE;
                        return true;
                }
        return false;
}

static bool ignored_put(void *p) {
        if (!ignored)
                return false;
        for (size_t i = track_hash(p) & (IGNORED_SLOTS - 1), k = 0; k < IGNORED_SLOTS; k++, i = (i + 1) & (IGNORED_SLOTS - 1))
                if (!ignored[i] || ignored[i] == TOMBSTONE) {
                        ignored[i] = p;
                        return true;
                }
        return false;
}

int failmalloc_ignore(const char *name_part) {
        if (!ignored && !(ignored = __libc_calloc(IGNORED_SLOTS, sizeof *ignored)))
                return -1;
        return spare(name_part, SPARE_IGNORE);
}

static void *counted_from(const void *caller, void *p) {
        if (!p)
                return p;
        if (caller && spared_caller(caller) == SPARE_IGNORE && ignored_put(p))
                return p;
        __atomic_add_fetch(&n_live, 1, __ATOMIC_RELAXED);
        if (tracking)
                track_add(p);
        return p;
}

#define counted(p) counted_from(__builtin_return_address(0), (p))

/* Forgets a block about to be freed; false when it was an ignored one. */
static bool uncount(void *p) {
        if (ignored_take(p))
                return false;
        __atomic_sub_fetch(&n_live, 1, __ATOMIC_RELAXED);
        if (track_table)
                track_del(p);
        return true;
}

/* The replacement functions must have exactly these names; their
 * prototypes come from <stdlib.h> and <malloc.h>. */
void *malloc(size_t size) {
        if (should_fail())
                return NULL;
        return counted(__libc_malloc(size));
}

void *calloc(size_t n, size_t size) {
        if (should_fail())
                return NULL;
        return counted(__libc_calloc(n, size));
}

void *realloc(void *p, size_t size) {
        if (!p) {
                if (should_fail())
                        return NULL;
                return counted(__libc_malloc(size));
        }
        if (size == 0) {
                /* glibc frees and returns NULL. */
                uncount(p);
                __libc_free(p);
                return NULL;
        }
        if (should_fail())
                return NULL;
        void *q = __libc_realloc(p, size);
        if (q && q != p) {
                /* The block moved: forget the old address, count the new one alike. */
                if (ignored_take(p))
                        ignored_put(q);
                else if (track_table) {
                        track_del(p);
                        if (tracking)
                                track_add(q);
                }
        }
        return q;
}

void *reallocarray(void *p, size_t n, size_t size) {
        size_t total;
        if (__builtin_mul_overflow(n, size, &total)) {
                errno = ENOMEM;
                return NULL;
        }
        return realloc(p, total);
}

void free(void *p) {
        if (!p)
                return;
        uncount(p);
        __libc_free(p);
}

static void *aligned(const void *caller, size_t alignment, size_t size) {
        if (should_fail_from(caller))
                return NULL;
        return counted_from(caller, __libc_memalign(alignment, size));
}

/* Defined here too so that a spared library's strdup() calls are seen as
 * its own (glibc's strdup would call malloc from inside libc). */
char *strdup(const char *s) {
        if (should_fail())
                return NULL;
        size_t n = strlen(s) + 1;
        char *p = counted(__libc_malloc(n));
        if (p)
                memcpy(p, s, n);
        return p;
}

char *strndup(const char *s, size_t max) {
        if (should_fail())
                return NULL;
        size_t n = strnlen(s, max);
        char *p = counted(__libc_malloc(n + 1));
        if (p) {
                memcpy(p, s, n);
                p[n] = '\0';
        }
        return p;
}

void *memalign(size_t alignment, size_t size);
void *memalign(size_t alignment, size_t size) {
        return aligned(__builtin_return_address(0), alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
        return aligned(__builtin_return_address(0), alignment, size);
}

int posix_memalign(void **ret, size_t alignment, size_t size) {
        if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0)
                return EINVAL;
        void *p = aligned(__builtin_return_address(0), alignment, size);
        if (!p)
                return ENOMEM;
        *ret = p;
        return 0;
}

void *valloc(size_t size);
void *valloc(size_t size) {
        return aligned(__builtin_return_address(0), (size_t) sysconf(_SC_PAGESIZE), size);
}

void *pvalloc(size_t size);
void *pvalloc(size_t size) {
        size_t page = (size_t) sysconf(_SC_PAGESIZE);
        return aligned(__builtin_return_address(0), page, (size + page - 1) & ~(page - 1));
}

#ifdef FAILMALLOC_PRELOAD
/* ---- LD_PRELOAD: armed from the environment ---- */

static const char *report_path;

static void report(void) {
        unsigned long n = failmalloc_count();
        bool f = failmalloc_fired();
        failmalloc_disarm();
        if (!report_path)
                return;
        FILE *out = fopen(report_path, "w");
        if (!out)
                return;
        fprintf(out, "allocations=%lu fired=%d\n", n, f ? 1 : 0);
        fclose(out);
}

__attribute__((constructor)) static void failmalloc_init(void) {
        const char *nth = getenv("FAILMALLOC_NTH");
        const char *pers = getenv("FAILMALLOC_PERSISTENT");
        report_path = getenv("FAILMALLOC_REPORT");
        if (getenv("FAILMALLOC_TRACE"))
                failmalloc_trace(2);
        persistent = pers && strcmp(pers, "1") == 0;
        const char *spare = getenv("FAILMALLOC_SPARE");
        if (spare) {
                char buf[256];
                snprintf(buf, sizeof buf, "%s", spare);
                for (char *save = NULL, *part = strtok_r(buf, ":", &save); part; part = strtok_r(NULL, ":", &save))
                        failmalloc_spare(part);
        }
        if (report_path)
                atexit(report);
        /* Counting starts here, after the dynamic loader's own work. */
        failmalloc_arm(nth ? strtoul(nth, NULL, 10) : 0);
}
#endif

#else

/* ---- wrap build: -Wl,--wrap=malloc,--wrap=calloc,... ---- */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
int __real_vasprintf(char **ret, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
void *__wrap_reallocarray(void *p, size_t n, size_t size);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_vasprintf(char **ret, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
int __wrap_asprintf(char **ret, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

long failmalloc_live(void) {
        return -1;
}

void failmalloc_track(bool on) {
        (void) on;
}

size_t failmalloc_dump_tracked(int fd) {
        (void) fd;
        return 0;
}

void *__wrap_malloc(size_t size) {
        return should_fail() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size) {
        return should_fail() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size) {
        if (p && size == 0)
                return __real_realloc(p, size);
        return should_fail() ? NULL : __real_realloc(p, size);
}

void *__wrap_reallocarray(void *p, size_t n, size_t size) {
        size_t total;
        if (__builtin_mul_overflow(n, size, &total)) {
                errno = ENOMEM;
                return NULL;
        }
        return __wrap_realloc(p, total);
}

char *__wrap_strdup(const char *s) {
        return should_fail() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n) {
        return should_fail() ? NULL : __real_strndup(s, n);
}

int __wrap_vasprintf(char **ret, const char *fmt, va_list ap) {
        if (should_fail())
                return -1;
        return __real_vasprintf(ret, fmt, ap);
}

int __wrap_asprintf(char **ret, const char *fmt, ...) {
        if (should_fail())
                return -1;
        va_list ap;
        va_start(ap, fmt);
        int r = __real_vasprintf(ret, fmt, ap);
        va_end(ap);
        return r;
}

#endif
