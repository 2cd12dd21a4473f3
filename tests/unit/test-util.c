/* Unit tests for util.c: the growable string buffer, number formatting for
 * the exposition format, FNV-1a and the clocks. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "util.h"

/* Renders one double through sb_put_double into a fresh buffer; caller frees. */
static char *fmt_double(double v)
{
        strbuf_t sb;
        sb_init(&sb, 0);
        sb_put_double(&sb, v);
        assert_false(sb.oom);
        assert_non_null(sb.data);
        assert_int_equal(strlen(sb.data), sb.len);
        return sb_steal(&sb, NULL);
}

static void test_sb_empty(void **state)
{
        strbuf_t sb;
        sb_init(&sb, 0);
        assert_int_equal(sb.len, 0);
        assert_false(sb.oom);
        /* Freeing a buffer that never allocated is harmless. */
        sb_free(&sb);
}

static void test_sb_growth(void **state)
{
        strbuf_t sb;
        sb_init(&sb, 0);
        /* Byte by byte past many reallocations; content and NUL must survive. */
        for (size_t i = 0; i < 100000; i++)
                sb_putc(&sb, (char) ('a' + (i % 26)));
        assert_false(sb.oom);
        assert_int_equal(sb.len, 100000);
        assert_true(sb.alloc > sb.len);
        assert_int_equal(sb.data[sb.len], '\0');
        for (size_t i = 0; i < 100000; i++)
                assert_int_equal(sb.data[i], 'a' + (i % 26));

        sb_puts(&sb, "END");
        assert_int_equal(sb.len, 100003);
        assert_string_equal(sb.data + 100000, "END");
        sb_free(&sb);
}

static void test_sb_append_binary_and_printf(void **state)
{
        strbuf_t sb;
        sb_init(&sb, 0);
        sb_append(&sb, "ab\0cd", 5);
        assert_int_equal(sb.len, 5);
        assert_memory_equal(sb.data, "ab\0cd", 5);
        assert_int_equal(sb.data[5], '\0');
        sb_reset(&sb);
        assert_int_equal(sb.len, 0);
        sb_printf(&sb, "%s=%d;", "x", 42);
        sb_printf(&sb, "%05.1f", 3.14159);
        assert_string_equal(sb.data, "x=42;003.1");
        assert_int_equal(sb.len, strlen("x=42;003.1"));

        /* A long formatted string forces growth inside sb_vprintf. */
        char big[5000];
        memset(big, 'z', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        sb_printf(&sb, "[%s]", big);
        assert_int_equal(sb.len, strlen("x=42;003.1") + 2 + 4999);
        assert_int_equal(sb.data[sb.len - 1], ']');
        assert_false(sb.oom);
        sb_free(&sb);
}

static void test_sb_reserve(void **state)
{
        strbuf_t sb;
        sb_init(&sb, 0);
        assert_true(sb_reserve(&sb, 1000) >= 0);
        assert_true(sb.alloc >= 1001);
        size_t alloc = sb.alloc;
        char *data = sb.data;
        for (int i = 0; i < 1000; i++)
                sb_putc(&sb, 'x');
        /* Reserved space is used without another allocation. */
        assert_int_equal(sb.alloc, alloc);
        assert_ptr_equal(sb.data, data);
        sb_free(&sb);
}

static void test_sb_limit_sets_oom(void **state)
{
        strbuf_t sb;
        sb_init(&sb, 16);
        sb_puts(&sb, "0123456789");
        assert_false(sb.oom);
        assert_string_equal(sb.data, "0123456789");
        sb_puts(&sb, "0123456789"); /* 20 > 16 */
        assert_true(sb.oom);
        assert_true(sb.len <= 16);
        size_t len = sb.len;
        /* Every later append is a no-op, even a small one that would fit. */
        sb_putc(&sb, 'x');
        sb_printf(&sb, "%d", 1);
        sb_put_u64(&sb, 7);
        assert_int_equal(sb.len, len);
        assert_true(sb.oom);
        sb_free(&sb);

        /* Exactly at the limit is still fine. */
        sb_init(&sb, 4);
        sb_puts(&sb, "abcd");
        assert_false(sb.oom);
        assert_string_equal(sb.data, "abcd");
        sb_putc(&sb, 'e');
        assert_true(sb.oom);
        sb_free(&sb);

        /* The limit applies to printf appends as well. */
        sb_init(&sb, 8);
        sb_printf(&sb, "%s", "too long for eight");
        assert_true(sb.oom);
        assert_true(sb.len <= 8);
        sb_free(&sb);

        /* And a reservation beyond the limit is refused. */
        sb_init(&sb, 8);
        assert_true(sb_reserve(&sb, 100) < 0);
        sb_free(&sb);
}

static void test_sb_steal(void **state)
{
        strbuf_t sb;
        sb_init(&sb, 0);
        sb_puts(&sb, "hello");
        size_t len = 0;
        char *s = sb_steal(&sb, &len);
        assert_non_null(s);
        assert_string_equal(s, "hello");
        assert_int_equal(len, 5);
        assert_int_equal(sb.len, 0);
        /* The buffer is usable again and does not share memory with s. */
        sb_puts(&sb, "again");
        assert_string_equal(sb.data, "again");
        assert_string_equal(s, "hello");
        free(s);
        sb_free(&sb);
}

static void test_sb_put_u64(void **state)
{
        strbuf_t sb;
        sb_init(&sb, 0);
        sb_put_u64(&sb, 0);
        sb_putc(&sb, ' ');
        sb_put_u64(&sb, 7);
        sb_putc(&sb, ' ');
        sb_put_u64(&sb, 10);
        sb_putc(&sb, ' ');
        sb_put_u64(&sb, 1234567890123ULL);
        sb_putc(&sb, ' ');
        sb_put_u64(&sb, UINT64_MAX);
        assert_string_equal(sb.data, "0 7 10 1234567890123 18446744073709551615");
        sb_free(&sb);
}

static void test_sb_put_double_special(void **state)
{
        char *s;
        s = fmt_double(INFINITY);
        assert_string_equal(s, "+Inf");
        free(s);
        s = fmt_double(-INFINITY);
        assert_string_equal(s, "-Inf");
        free(s);
        s = fmt_double(NAN);
        assert_string_equal(s, "NaN");
        free(s);
}

static void test_sb_put_double_integers(void **state)
{
        static const struct {
                double v;
                const char *s;
        } cases[] = {
                { 0.0, "0" },
                { 1.0, "1" },
                { 3.0, "3" },
                { -5.0, "-5" },
                { 1e6, "1000000" },
                { 123456789012.0, "123456789012" },
                { 1e15, "1000000000000000" },
                { 9007199254740992.0, "9007199254740992" }, /* 2^53 */
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *s = fmt_double(cases[i].v);
                if (strcmp(s, cases[i].s) != 0)
                        fail_msg("sb_put_double(%.17g) = \"%s\", expected \"%s\"", cases[i].v, s, cases[i].s);
                free(s);
        }
}

static void test_sb_put_double_fractions_round_trip(void **state)
{
        static const double values[] = {
                0.5, 0.1, 0.0025, 1.5, 2.9, 1e-9, 123.456, -0.75, 1e300, 5e-324,
                /* Full double precision, e.g. a histogram _sum of microsecond latencies. */
                0.123456789012, 1.2345678e-5, 1732650000.123456, 2.5e-7,
        };
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                char *s = fmt_double(values[i]);
                char *end = NULL;
                double back = strtod(s, &end);
                assert_non_null(end);
                if (*end != '\0' || back != values[i])
                        fail_msg("sb_put_double(%.17g) = \"%s\" does not read back exactly", values[i], s);
                free(s);
        }
        char *s = fmt_double(0.5);
        assert_string_equal(s, "0.5");
        free(s);
}

static void test_hash_fnv1a_vectors(void **state)
{
        /* The published FNV-1a 64-bit test vectors (offset basis
         * 0xcbf29ce484222325, prime 0x100000001b3); seed 0 is plain FNV-1a. */
        assert_true(hash_fnv1a("", 0, 0) == 0xcbf29ce484222325ULL);
        assert_true(hash_fnv1a("a", 1, 0) == 0xaf63dc4c8601ec8cULL);
        assert_true(hash_fnv1a("foobar", 6, 0) == 0x85944171f73967e8ULL);
        /* A fixed value for a phase key, so scheduling phases never move
         * between builds (computed with the reference algorithm). */
        assert_true(hash_fnv1a("row-0", 5, 0) == 0x1ea6e446944985b6ULL);
}

static void test_hash_fnv1a_stable_and_seeded(void **state)
{
        const char *k = "row-17";
        uint64_t h1 = hash_fnv1a(k, strlen(k), 0);
        uint64_t h2 = hash_fnv1a(k, strlen(k), 0);
        assert_true(h1 == h2);
        assert_true(hash_fnv1a("row-18", 6, 0) != h1);
        /* Only `len` bytes count. */
        assert_true(hash_fnv1a("row-17xyz", 6, 0) == h1);
        /* The seed changes the result. */
        assert_true(hash_fnv1a(k, strlen(k), 1) != h1);
}

static void test_clocks(void **state)
{
        uint64_t a = mono_usec();
        uint64_t b = mono_usec();
        assert_true(a > 0);
        assert_true(b >= a);
        /* After 2020-01-01 and before 2100 in microseconds since the epoch. */
        uint64_t w = wall_usec();
        assert_true(w > 1577836800ULL * USEC_PER_SEC);
        assert_true(w < 4102444800ULL * USEC_PER_SEC);
}

static void test_rand_and_strdup(void **state)
{
        uint64_t a = rand_u64(), b = rand_u64(), c = rand_u64();
        assert_false(a == b && b == c);

        assert_null(strdup_or_null(NULL));
        char *s = strdup_or_null("abc");
        assert_non_null(s);
        assert_string_equal(s, "abc");
        free(s);
}

/* read_file_bounded: the cap at N and N+1 bytes, an empty file, a directory,
 * a FIFO (refused without blocking: nobody writes it), a missing file. */
static void test_read_file_bounded(void **state)
{
        char dir[] = "/tmp/netcanary-test-util.XXXXXX";
        assert_non_null(mkdtemp(dir));
        char path[64], fifo[64];
        snprintf(path, sizeof path, "%s/f", dir);
        snprintf(fifo, sizeof fifo, "%s/fifo", dir);
        char *text = NULL;
        size_t len = 99;
        struct stat st;

        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs("0123456789", f);
        fclose(f);
        assert_int_equal(read_file_bounded(path, 10, &text, &len, &st), 0);
        assert_int_equal(len, 10);
        assert_string_equal(text, "0123456789");
        assert_int_equal(st.st_size, 10);
        free(text);
        text = NULL;
        assert_int_equal(read_file_bounded(path, 9, &text, &len, NULL), -EFBIG);
        assert_null(text);

        f = fopen(path, "w");
        assert_non_null(f);
        fclose(f);
        assert_int_equal(read_file_bounded(path, 10, &text, NULL, NULL), 0);
        assert_string_equal(text, "");
        free(text);
        text = NULL;

        assert_int_equal(read_file_bounded(dir, 10, &text, &len, NULL), -EISDIR);
        assert_int_equal(mkfifo(fifo, 0600), 0);
        assert_int_equal(read_file_bounded(fifo, 10, &text, &len, NULL), -EINVAL);
        assert_int_equal(unlink(fifo), 0);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(read_file_bounded(path, 10, &text, &len, NULL), -ENOENT);
        assert_null(text);
        assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sb_empty),
                cmocka_unit_test(test_sb_growth),
                cmocka_unit_test(test_sb_append_binary_and_printf),
                cmocka_unit_test(test_sb_reserve),
                cmocka_unit_test(test_sb_limit_sets_oom),
                cmocka_unit_test(test_sb_steal),
                cmocka_unit_test(test_sb_put_u64),
                cmocka_unit_test(test_sb_put_double_special),
                cmocka_unit_test(test_sb_put_double_integers),
                cmocka_unit_test(test_sb_put_double_fractions_round_trip),
                cmocka_unit_test(test_hash_fnv1a_vectors),
                cmocka_unit_test(test_hash_fnv1a_stable_and_seeded),
                cmocka_unit_test(test_clocks),
                cmocka_unit_test(test_rand_and_strdup),
                cmocka_unit_test(test_read_file_bounded),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
