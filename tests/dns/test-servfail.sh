#!/usr/bin/env bash
# SERVFAIL from a real unbound on loopback: the zone fail.nctest.example is
# forwarded to a server unbound may not use (loopback, do-not-query-localhost),
# so unbound answers SERVFAIL at once.
#  - "expect_rcode": "SERVFAIL"          -> outcome connected, row met
#  - default expectation (NOERROR)       -> outcome bad_response, verdict allowed
#  - netcanary_dns_responses_total{rcode="SERVFAIL"} counts them; never
#    "timeout" (SERVFAIL is an answer, told apart from a silent server)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
dns_init 2

DNS=$(port 0)
API=$(port 7)
S="127.0.0.1:$DNS"
unbound_start main "$DNS" </dev/null

TARGETS='{
  "sf-expected":   { "dns": { "name": "a.fail.nctest.example", "type": "A", "servers": ["'$S'"], "expect_rcode": "SERVFAIL" } },
  "sf-unexpected": { "dns": { "name": "b.fail.nctest.example", "type": "A", "servers": ["'$S'"] } }
}'
MATRIX='[
  { "from": "*", "to": "sf-expected",   "expect": "allow" },
  { "from": "*", "to": "sf-unexpected", "expect": "allow" }
]'
dns_config "$NC_TMP/c.json" "$API" "$TARGETS" "$MATRIX" '{ "interval": "1s", "timeout": "800ms", "confirm": 1 }'

dns_once "$NC_TMP/c.json" "$NC_TMP/once.out"
O=$NC_TMP/once.out
expect_eq "once exit status" "$RC" 0
expect_eq "sf-expected outcome" "$(rowq "$O" sf-expected '.addresses[0].outcome')" connected
expect_eq "sf-expected met" "$(rowq "$O" sf-expected .met)" true
expect_eq "sf-unexpected outcome" "$(rowq "$O" sf-unexpected '.addresses[0].outcome')" bad_response
expect_eq "sf-unexpected verdict" "$(rowq "$O" sf-unexpected .verdict)" allowed
expect_num "unbound answered SERVFAIL" "$(unbound_stat main num.answer.rcode.SERVFAIL)" '>=' 2

dns_start d "$NC_TMP/c.json"
wait_healthy "$API" "$PID_d"
wait_rounds "$API" 2
M=$NC_TMP/metrics.txt
scrape "$API" >"$M" || fatal "scrape failed"
v() { metric_value "$@" <"$M" || echo 0; }
E=(server="$S" name=a.fail.nctest.example type=A)
U=(server="$S" name=b.fail.nctest.example type=A)
expect_num "responses_total{expected,SERVFAIL}" "$(v netcanary_dns_responses_total "${E[@]}" rcode=SERVFAIL)" '>=' 2
expect_num "responses_total{unexpected,SERVFAIL}" "$(v netcanary_dns_responses_total "${U[@]}" rcode=SERVFAIL)" '>=' 2
expect_eq "responses_total{expected,timeout} absent" "$(v netcanary_dns_responses_total "${E[@]}" rcode=timeout)" 0
expect_num "lookup histogram observes SERVFAIL answers" "$(v netcanary_dns_lookup_duration_seconds_count "${E[@]}")" '>=' 2
expect_num "probes_total{sf-unexpected,bad_response}" "$(v netcanary_probes_total to=sf-unexpected outcome=bad_response)" '>=' 2
expect_eq "expectation_met{sf-expected}" "$(v netcanary_expectation_met to=sf-expected)" 1

nc_finish
