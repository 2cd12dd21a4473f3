/* failmalloc: a failing allocator for fault-injection tests (issue 10:
 * "out-of-memory paths return errors instead of aborting").
 *
 * Two builds of failmalloc.c:
 *  - replacement (default): defines malloc, calloc, realloc, free and the
 *    aligned variants, forwarding to glibc's __libc_* functions. glibc
 *    supports replacing malloc this way, so every allocation of the process
 *    is seen, also those made inside json-c, c-ares, libcurl and
 *    libmicrohttpd, and the count of live blocks is exact. Linked into a test
 *    executable, or built as a shared library for LD_PRELOAD (armed from the
 *    environment, see below). Not usable together with AddressSanitizer,
 *    which owns malloc itself.
 *  - wrap (FAILMALLOC_WRAP): defines __wrap_malloc, __wrap_strdup, ... for
 *    a link with -Wl,--wrap=malloc,... so only the calls made by netcanary's
 *    own code (the static library) fail. Works under ASan+UBSan, which then
 *    checks the error paths for use-after-free and, through LeakSanitizer,
 *    for leaks; failmalloc_live() is not available (-1).
 *
 * LD_PRELOAD use (replacement build as libfailmalloc.so):
 *   FAILMALLOC_NTH=n          the n-th allocation of the process fails (1 = first)
 *   FAILMALLOC_PERSISTENT=1   ... and every one after it
 *   FAILMALLOC_REPORT=FILE    at exit, write "allocations=N fired=0|1\n" to FILE
 *   FAILMALLOC_TRACE=1        print the failing allocation's backtrace to stderr
 *   FAILMALLOC_SPARE=a:b      never fail (nor count) allocations made by code
 *                             of loaded objects whose path contains a or b
 *
 * Sparing: json-c 0.16 (Debian 12) is not out-of-memory safe: when a strdup()
 * inside json_tokener_parse_ex() fails, a NULL key reaches
 * json_object_object_add_ex() and strlen() crashes. That is json-c's bug, not
 * netcanary's, so the tests spare libjson-c (replacement build only: the
 * wrap build never fails library allocations anyway).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The nth allocation from now fails (1 = the next one); 0 disarms. Resets the count. */
void failmalloc_arm(unsigned long nth);
void failmalloc_disarm(void);
/* After the armed failure, keep failing every allocation (true) or only that one (false, default). */
void failmalloc_set_persistent(bool persistent);
/* Writes the backtrace of every injected failure to `fd` (-1: off). */
void failmalloc_trace(int fd);
/* Whether the armed failure happened since the last failmalloc_arm(). */
bool failmalloc_fired(void);
/* Allocation attempts since the last failmalloc_arm() (or process start). */
unsigned long failmalloc_count(void);
/* Blocks allocated and not yet freed; -1 in the wrap build. */
long failmalloc_live(void);
/* Spares the loaded objects whose path contains `name_part` (replacement
 * build: direct malloc/calloc/realloc/strdup/strndup calls from their code).
 * Returns the number of code segments found. */
int failmalloc_spare(const char *name_part);
/* Like failmalloc_spare(), and blocks allocated by that code are not
 * counted as live either (replacement build): for allocations that are
 * caches by design, such as the dynamic loader's TLS blocks of a thread
 * whose stack glibc keeps for reuse. Returns the number of code segments
 * found, or -1. */
int failmalloc_ignore(const char *name_part);
/* Debugging aid (replacement build, single-threaded): remember every block
 * allocated from now on with its backtrace until it is freed. */
void failmalloc_track(bool on);
/* Writes the blocks still remembered, with their backtraces, to `fd` (-1:
 * only count them). Returns their number. */
size_t failmalloc_dump_tracked(int fd);
/* Whether allocations are actually intercepted (a sanity check for the test). */
bool failmalloc_active(void);
