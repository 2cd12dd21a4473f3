/* Unit tests for results.c (contract §1): the verdict table, combining
 * addresses, mismatches, confirm hysteresis and positive-control evidence. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "results.h"
#include "util.h"

#define A VERDICT_ALLOWED
#define D VERDICT_DENIED
#define I VERDICT_INCONCLUSIVE

/* ---- names (they are metric label values: a contract) ---- */

static void test_names(void **state)
{
        assert_string_equal(outcome_name(OUTCOME_CONNECTED), "connected");
        assert_string_equal(outcome_name(OUTCOME_REFUSED), "refused");
        assert_string_equal(outcome_name(OUTCOME_TIMEOUT), "timeout");
        assert_string_equal(outcome_name(OUTCOME_UNREACHABLE), "unreachable");
        assert_string_equal(outcome_name(OUTCOME_DNS_ERROR), "dns_error");
        assert_string_equal(outcome_name(OUTCOME_BAD_RESPONSE), "bad_response");
        assert_string_equal(outcome_name(OUTCOME_LOCAL_ERROR), "local_error");

        assert_string_equal(verdict_name(VERDICT_ALLOWED), "allowed");
        assert_string_equal(verdict_name(VERDICT_DENIED), "denied");
        assert_string_equal(verdict_name(VERDICT_INCONCLUSIVE), "inconclusive");
        assert_string_equal(verdict_name(VERDICT_UNKNOWN), "unknown");

        assert_string_equal(mismatch_name(MISMATCH_NONE), "none");
        assert_string_equal(mismatch_name(MISMATCH_UNEXPECTED_ALLOW), "unexpected_allow");
        assert_string_equal(mismatch_name(MISMATCH_UNEXPECTED_DENY), "unexpected_deny");

        assert_string_equal(proto_name(PROTO_TCP), "tcp");
        assert_string_equal(proto_name(PROTO_UDP), "udp");
        assert_string_equal(proto_name(PROTO_HTTP), "http");
        assert_string_equal(proto_name(PROTO_DNS), "dns");
        assert_string_equal(expect_name(EXPECT_ALLOW), "allow");
        assert_string_equal(expect_name(EXPECT_DENY), "deny");
}

/* ---- the verdict table ---- */

static void test_verdict_table(void **state)
{
        static const struct {
                outcome_t o;
                verdict_t refused_denied;  /* default: "refused_means": "denied" */
                verdict_t refused_allowed; /* "refused_means": "allowed" */
        } table[] = {
                { OUTCOME_CONNECTED, A, A },
                { OUTCOME_REFUSED, D, A },
                { OUTCOME_TIMEOUT, D, D },
                { OUTCOME_UNREACHABLE, D, D },
                { OUTCOME_DNS_ERROR, I, I },
                { OUTCOME_BAD_RESPONSE, A, A },
                { OUTCOME_LOCAL_ERROR, I, I },
        };
        assert_int_equal(ELEMENTSOF(table), _OUTCOME_MAX);
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                verdict_t v0 = verdict_from_outcome(table[i].o, false);
                verdict_t v1 = verdict_from_outcome(table[i].o, true);
                if (v0 != table[i].refused_denied)
                        fail_msg("verdict_from_outcome(%s, refused_means=denied) = %s, expected %s",
                                 outcome_name(table[i].o), verdict_name(v0), verdict_name(table[i].refused_denied));
                if (v1 != table[i].refused_allowed)
                        fail_msg("verdict_from_outcome(%s, refused_means=allowed) = %s, expected %s",
                                 outcome_name(table[i].o), verdict_name(v1), verdict_name(table[i].refused_allowed));
        }
}

/* ---- combining addresses ---- */

static void test_combine_allow_row(void **state)
{
        const verdict_t all_allowed[] = { A, A, A };
        const verdict_t one_denied[] = { A, A, D, A };
        const verdict_t denied_and_inconclusive[] = { I, A, D };
        const verdict_t one_inconclusive[] = { A, I, A };
        const verdict_t all_denied[] = { D, D };
        const verdict_t all_inconclusive[] = { I, I };

        assert_int_equal(verdict_combine(EXPECT_ALLOW, all_allowed, 3), A);
        /* One denied address fails an allow row (a node with a broken path). */
        assert_int_equal(verdict_combine(EXPECT_ALLOW, one_denied, 4), D);
        /* The breaking address decides even when another is inconclusive. */
        assert_int_equal(verdict_combine(EXPECT_ALLOW, denied_and_inconclusive, 3), D);
        /* No breaking address but one inconclusive: not proved. */
        assert_int_equal(verdict_combine(EXPECT_ALLOW, one_inconclusive, 3), I);
        assert_int_equal(verdict_combine(EXPECT_ALLOW, all_denied, 2), D);
        assert_int_equal(verdict_combine(EXPECT_ALLOW, all_inconclusive, 2), I);
        /* Single address passes through. */
        assert_int_equal(verdict_combine(EXPECT_ALLOW, one_denied, 1), A);
        assert_int_equal(verdict_combine(EXPECT_ALLOW, all_denied, 1), D);
        assert_int_equal(verdict_combine(EXPECT_ALLOW, all_inconclusive, 1), I);
}

static void test_combine_deny_row(void **state)
{
        const verdict_t all_denied[] = { D, D, D };
        const verdict_t one_allowed[] = { D, D, A, D };
        const verdict_t allowed_and_inconclusive[] = { I, D, A };
        const verdict_t one_inconclusive[] = { D, I, D };
        const verdict_t all_allowed[] = { A, A };

        assert_int_equal(verdict_combine(EXPECT_DENY, all_denied, 3), D);
        /* One allowed address fails a deny row: a leak on one node must show. */
        assert_int_equal(verdict_combine(EXPECT_DENY, one_allowed, 4), A);
        assert_int_equal(verdict_combine(EXPECT_DENY, allowed_and_inconclusive, 3), A);
        assert_int_equal(verdict_combine(EXPECT_DENY, one_inconclusive, 3), I);
        assert_int_equal(verdict_combine(EXPECT_DENY, all_allowed, 2), A);
}

static void test_combine_mixed_without_breaker(void **state)
{
        /* An allow row with allowed+denied is denied, a deny row with the same
         * addresses is allowed: the result depends on the expectation. */
        const verdict_t mixed[] = { A, D };
        assert_int_equal(verdict_combine(EXPECT_ALLOW, mixed, 2), D);
        assert_int_equal(verdict_combine(EXPECT_DENY, mixed, 2), A);
}

static void test_combine_empty(void **state)
{
        const verdict_t one[] = { A };
        assert_int_equal(verdict_combine(EXPECT_ALLOW, one, 0), I);
        assert_int_equal(verdict_combine(EXPECT_DENY, one, 0), I);
        assert_int_equal(verdict_combine(EXPECT_ALLOW, NULL, 0), I);
        assert_int_equal(verdict_combine(EXPECT_DENY, NULL, 0), I);
}

/* ---- mismatch and met ---- */

static void test_mismatch_and_met(void **state)
{
        assert_int_equal(mismatch_of(EXPECT_ALLOW, A), MISMATCH_NONE);
        assert_int_equal(mismatch_of(EXPECT_ALLOW, D), MISMATCH_UNEXPECTED_DENY);
        assert_int_equal(mismatch_of(EXPECT_ALLOW, I), MISMATCH_NONE);
        assert_int_equal(mismatch_of(EXPECT_DENY, D), MISMATCH_NONE);
        assert_int_equal(mismatch_of(EXPECT_DENY, A), MISMATCH_UNEXPECTED_ALLOW);
        assert_int_equal(mismatch_of(EXPECT_DENY, I), MISMATCH_NONE);
        assert_int_equal(mismatch_of(EXPECT_ALLOW, VERDICT_UNKNOWN), MISMATCH_NONE);
        assert_int_equal(mismatch_of(EXPECT_DENY, VERDICT_UNKNOWN), MISMATCH_NONE);

        assert_true(expectation_met(EXPECT_ALLOW, A));
        assert_false(expectation_met(EXPECT_ALLOW, D));
        assert_false(expectation_met(EXPECT_ALLOW, I));
        assert_true(expectation_met(EXPECT_DENY, D));
        assert_false(expectation_met(EXPECT_DENY, A));
        /* An unresolvable target has not verified a deny row. */
        assert_false(expectation_met(EXPECT_DENY, I));
        assert_false(expectation_met(EXPECT_ALLOW, VERDICT_UNKNOWN));
        assert_false(expectation_met(EXPECT_DENY, VERDICT_UNKNOWN));
}

/* ---- confirm hysteresis ---- */

static void test_confirm_init(void **state)
{
        confirm_state_t s;
        memset(&s, 0x5a, sizeof(s));
        confirm_init(&s);
        assert_int_equal(s.confirmed, VERDICT_UNKNOWN);
        assert_int_equal(s.streak, 0);
}

static void test_confirm_first_verdict_at_once(void **state)
{
        confirm_state_t s;
        confirm_init(&s);
        assert_true(confirm_feed(&s, D, 3));
        assert_int_equal(s.confirmed, D);
        /* Same verdict again: no change reported. */
        assert_false(confirm_feed(&s, D, 3));
        assert_int_equal(s.confirmed, D);

        /* An inconclusive first verdict is also taken at once. */
        confirm_init(&s);
        assert_true(confirm_feed(&s, I, 2));
        assert_int_equal(s.confirmed, I);
}

static void test_confirm_flip_after_n(void **state)
{
        confirm_state_t s;
        confirm_init(&s);
        assert_true(confirm_feed(&s, A, 3));
        assert_false(confirm_feed(&s, D, 3));
        assert_int_equal(s.confirmed, A);
        assert_false(confirm_feed(&s, D, 3));
        assert_int_equal(s.confirmed, A);
        assert_true(confirm_feed(&s, D, 3));
        assert_int_equal(s.confirmed, D);
        /* And back again needs three more. */
        assert_false(confirm_feed(&s, A, 3));
        assert_false(confirm_feed(&s, A, 3));
        assert_int_equal(s.confirmed, D);
        assert_true(confirm_feed(&s, A, 3));
        assert_int_equal(s.confirmed, A);
}

static void test_confirm_streak_reset_by_confirmed(void **state)
{
        confirm_state_t s;
        confirm_init(&s);
        assert_true(confirm_feed(&s, A, 2));
        assert_false(confirm_feed(&s, D, 2));
        /* A round agreeing with the confirmed verdict breaks the streak. */
        assert_false(confirm_feed(&s, A, 2));
        assert_false(confirm_feed(&s, D, 2));
        assert_int_equal(s.confirmed, A);
        assert_true(confirm_feed(&s, D, 2));
        assert_int_equal(s.confirmed, D);
}

static void test_confirm_streak_reset_by_other_candidate(void **state)
{
        confirm_state_t s;
        confirm_init(&s);
        assert_true(confirm_feed(&s, A, 2));
        assert_false(confirm_feed(&s, D, 2));
        /* A different differing verdict restarts the count for itself. */
        assert_false(confirm_feed(&s, I, 2));
        assert_int_equal(s.confirmed, A);
        assert_false(confirm_feed(&s, D, 2));
        assert_int_equal(s.confirmed, A);
        assert_true(confirm_feed(&s, D, 2));
        assert_int_equal(s.confirmed, D);

        /* Alternating candidates never flip. */
        for (int i = 0; i < 10; i++) {
                assert_false(confirm_feed(&s, i % 2 ? A : I, 2));
                assert_int_equal(s.confirmed, D);
        }
}

static void test_confirm_one(void **state)
{
        confirm_state_t s;
        confirm_init(&s);
        assert_true(confirm_feed(&s, A, 1));
        assert_true(confirm_feed(&s, D, 1));
        assert_int_equal(s.confirmed, D);
        assert_false(confirm_feed(&s, D, 1));
        assert_true(confirm_feed(&s, I, 1));
        assert_int_equal(s.confirmed, I);
        assert_true(confirm_feed(&s, A, 1));
        assert_int_equal(s.confirmed, A);
}

static void test_confirm_streak_after_flip_starts_fresh(void **state)
{
        /* After a flip, the old streak must not carry over to the next change. */
        confirm_state_t s;
        confirm_init(&s);
        assert_true(confirm_feed(&s, A, 2));
        assert_false(confirm_feed(&s, D, 2));
        assert_true(confirm_feed(&s, D, 2));
        assert_false(confirm_feed(&s, A, 2));
        assert_int_equal(s.confirmed, D);
        assert_true(confirm_feed(&s, A, 2));
}

/* ---- evidence ---- */

static struct sockaddr_storage v4(const char *ip, uint16_t port)
{
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof(ss));
        struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
        return ss;
}

static struct sockaddr_storage v6(const char *ip, uint16_t port)
{
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof(ss));
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
        return ss;
}

#define SA(x) ((const struct sockaddr *) &(x))
#define T0 (1000 * USEC_PER_SEC)
#define WIN (30 * USEC_PER_SEC)

static void test_evidence_ipv4(void **state)
{
        evidence_t *ev = NULL;
        assert_int_equal(evidence_new(&ev), 0);
        assert_non_null(ev);
        assert_int_equal(evidence_count(ev), 0);

        struct sockaddr_storage a = v4("10.1.2.3", 9891);
        struct sockaddr_storage other_port = v4("10.1.2.3", 9892);
        struct sockaddr_storage other_ip = v4("10.1.2.4", 9891);

        assert_false(evidence_fresh(ev, SA(a), T0, WIN));
        assert_true(evidence_record(ev, SA(a), T0) >= 0);
        assert_int_equal(evidence_count(ev), 1);

        assert_true(evidence_fresh(ev, SA(a), T0, WIN));
        assert_true(evidence_fresh(ev, SA(a), T0 + 10 * USEC_PER_SEC, WIN));
        /* The window is inclusive at its old end... */
        assert_true(evidence_fresh(ev, SA(a), T0 + WIN, WIN));
        /* ...and expires one microsecond later. */
        assert_false(evidence_fresh(ev, SA(a), T0 + WIN + 1, WIN));
        assert_false(evidence_fresh(ev, SA(a), T0 + 10 * WIN, WIN));

        /* Reaching a different port of the same host proves nothing. */
        assert_false(evidence_fresh(ev, SA(other_port), T0, WIN));
        assert_false(evidence_fresh(ev, SA(other_ip), T0, WIN));

        /* A new record refreshes the entry without adding another. */
        assert_true(evidence_record(ev, SA(a), T0 + 100 * USEC_PER_SEC) >= 0);
        assert_int_equal(evidence_count(ev), 1);
        assert_true(evidence_fresh(ev, SA(a), T0 + 110 * USEC_PER_SEC, WIN));

        evidence_free(ev);
}

static void test_evidence_ipv6(void **state)
{
        evidence_t *ev = NULL;
        assert_int_equal(evidence_new(&ev), 0);

        struct sockaddr_storage a = v6("fd00::1", 443);
        struct sockaddr_storage other_port = v6("fd00::1", 444);
        struct sockaddr_storage other_ip = v6("fd00::2", 443);
        struct sockaddr_storage loop6 = v6("::1", 80);
        struct sockaddr_storage loop4 = v4("127.0.0.1", 80);

        assert_true(evidence_record(ev, SA(a), T0) >= 0);
        assert_true(evidence_fresh(ev, SA(a), T0 + 1, WIN));
        assert_false(evidence_fresh(ev, SA(other_port), T0 + 1, WIN));
        assert_false(evidence_fresh(ev, SA(other_ip), T0 + 1, WIN));
        assert_false(evidence_fresh(ev, SA(a), T0 + WIN + 1, WIN));

        /* IPv4 and IPv6 loopback are different addresses. */
        assert_true(evidence_record(ev, SA(loop6), T0) >= 0);
        assert_false(evidence_fresh(ev, SA(loop4), T0, WIN));
        assert_true(evidence_record(ev, SA(loop4), T0) >= 0);
        assert_true(evidence_fresh(ev, SA(loop4), T0, WIN));
        assert_int_equal(evidence_count(ev), 3);

        evidence_free(ev);
}

static void test_evidence_expire(void **state)
{
        evidence_t *ev = NULL;
        assert_int_equal(evidence_new(&ev), 0);

        struct sockaddr_storage old1 = v4("192.0.2.1", 80);
        struct sockaddr_storage old2 = v6("2001:db8::1", 80);
        struct sockaddr_storage young = v4("192.0.2.2", 80);

        assert_true(evidence_record(ev, SA(old1), 100 * USEC_PER_SEC) >= 0);
        assert_true(evidence_record(ev, SA(old2), 120 * USEC_PER_SEC) >= 0);
        assert_true(evidence_record(ev, SA(young), 200 * USEC_PER_SEC) >= 0);
        assert_int_equal(evidence_count(ev), 3);

        evidence_expire(ev, 150 * USEC_PER_SEC);
        assert_int_equal(evidence_count(ev), 1);
        /* Expired entries are gone even for a window that would cover them. */
        assert_false(evidence_fresh(ev, SA(old1), 201 * USEC_PER_SEC, 1000 * USEC_PER_SEC));
        assert_false(evidence_fresh(ev, SA(old2), 201 * USEC_PER_SEC, 1000 * USEC_PER_SEC));
        assert_true(evidence_fresh(ev, SA(young), 201 * USEC_PER_SEC, 1000 * USEC_PER_SEC));

        /* Expiring again with an older bound removes nothing more. */
        evidence_expire(ev, 10 * USEC_PER_SEC);
        assert_int_equal(evidence_count(ev), 1);
        evidence_expire(ev, 1000 * USEC_PER_SEC);
        assert_int_equal(evidence_count(ev), 0);

        /* Still usable afterwards. */
        assert_true(evidence_record(ev, SA(old1), 2000 * USEC_PER_SEC) >= 0);
        assert_true(evidence_fresh(ev, SA(old1), 2000 * USEC_PER_SEC, WIN));
        evidence_free(ev);
}

static void test_evidence_many(void **state)
{
        /* Many distinct entries: every one is found, none confused. */
        evidence_t *ev = NULL;
        assert_int_equal(evidence_new(&ev), 0);
        char ip[32];
        for (unsigned i = 0; i < 2000; i++) {
                snprintf(ip, sizeof(ip), "10.0.%u.%u", i / 250, i % 250 + 1);
                struct sockaddr_storage a = v4(ip, (uint16_t) (1000 + i % 3));
                assert_true(evidence_record(ev, SA(a), T0 + i) >= 0);
        }
        assert_int_equal(evidence_count(ev), 2000);
        for (unsigned i = 0; i < 2000; i++) {
                snprintf(ip, sizeof(ip), "10.0.%u.%u", i / 250, i % 250 + 1);
                struct sockaddr_storage a = v4(ip, (uint16_t) (1000 + i % 3));
                struct sockaddr_storage b = v4(ip, (uint16_t) (1003 + i % 3));
                assert_true(evidence_fresh(ev, SA(a), T0 + 2000, WIN));
                assert_false(evidence_fresh(ev, SA(b), T0 + 2000, WIN));
        }
        evidence_free(ev);
        evidence_free(NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_verdict_table),
                cmocka_unit_test(test_combine_allow_row),
                cmocka_unit_test(test_combine_deny_row),
                cmocka_unit_test(test_combine_mixed_without_breaker),
                cmocka_unit_test(test_combine_empty),
                cmocka_unit_test(test_mismatch_and_met),
                cmocka_unit_test(test_confirm_init),
                cmocka_unit_test(test_confirm_first_verdict_at_once),
                cmocka_unit_test(test_confirm_flip_after_n),
                cmocka_unit_test(test_confirm_streak_reset_by_confirmed),
                cmocka_unit_test(test_confirm_streak_reset_by_other_candidate),
                cmocka_unit_test(test_confirm_one),
                cmocka_unit_test(test_confirm_streak_after_flip_starts_fresh),
                cmocka_unit_test(test_evidence_ipv4),
                cmocka_unit_test(test_evidence_ipv6),
                cmocka_unit_test(test_evidence_expire),
                cmocka_unit_test(test_evidence_many),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
