#!/usr/bin/env bash
# NXDOMAIN from a real unbound on loopback:
#  - expected ("expect_rcode": "NXDOMAIN") for a name that must not exist
#    -> outcome connected, row met
#  - unexpected (default expect NOERROR) -> outcome bad_response; the server
#    answered, so the verdict stays allowed (an allow row is met)
#  - NXDOMAIN expected but the name exists -> bad_response
# netcanary_dns_responses_total{rcode="NXDOMAIN"} counts the answers, the
# lookup histogram observes them (an answer is an answer). /probe says
# probe_dns_query_succeeded 1 for NXDOMAIN (an answer arrived, as blackbox
# says), probe_success as the target requires, the SOA in the authority.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
dns_init 1

DNS=$(port 0)
API=$(port 7)
S="127.0.0.1:$DNS"
unbound_start main "$DNS" </dev/null

TARGETS='{
  "nx-expected":   { "dns": { "name": "missing.nctest.example", "type": "A", "servers": ["'$S'"], "expect_rcode": "NXDOMAIN" } },
  "nx-unexpected": { "dns": { "name": "gone.nctest.example",    "type": "A", "servers": ["'$S'"] } },
  "exists":        { "dns": { "name": "www.nctest.example",     "type": "A", "servers": ["'$S'"], "expect_rcode": "NXDOMAIN" } }
}'
MATRIX='[
  { "from": "*", "to": "nx-expected",   "expect": "allow" },
  { "from": "*", "to": "nx-unexpected", "expect": "allow" },
  { "from": "*", "to": "exists",        "expect": "allow" }
]'
dns_config "$NC_TMP/c.json" "$API" "$TARGETS" "$MATRIX"

dns_once "$NC_TMP/c.json" "$NC_TMP/once.out"
O=$NC_TMP/once.out
expect_eq "once exit status (every server answered: allow rows met)" "$RC" 0
expect_eq "nx-expected outcome" "$(rowq "$O" nx-expected '.addresses[0].outcome')" connected
expect_eq "nx-expected met" "$(rowq "$O" nx-expected .met)" true
expect_eq "nx-unexpected outcome" "$(rowq "$O" nx-unexpected '.addresses[0].outcome')" bad_response
expect_eq "nx-unexpected verdict" "$(rowq "$O" nx-unexpected .verdict)" allowed
expect_eq "nx-unexpected met (allow row, server answered)" "$(rowq "$O" nx-unexpected .met)" true
expect_eq "exists (NXDOMAIN expected, NOERROR came) outcome" "$(rowq "$O" exists '.addresses[0].outcome')" bad_response
expect_num "unbound answered NXDOMAIN" "$(unbound_stat main num.answer.rcode.NXDOMAIN)" '>=' 2

dns_start d "$NC_TMP/c.json"
wait_healthy "$API" "$PID_d"
wait_rounds "$API" 2
M=$NC_TMP/metrics.txt
scrape "$API" >"$M" || fatal "scrape failed"
v() { metric_value "$@" <"$M" || echo 0; }
E=(server="$S" name=missing.nctest.example type=A)
U=(server="$S" name=gone.nctest.example type=A)
X=(server="$S" name=www.nctest.example type=A)
expect_num "responses_total{expected NXDOMAIN}" "$(v netcanary_dns_responses_total "${E[@]}" rcode=NXDOMAIN)" '>=' 2
expect_num "responses_total{unexpected NXDOMAIN}" "$(v netcanary_dns_responses_total "${U[@]}" rcode=NXDOMAIN)" '>=' 2
expect_eq "responses_total{unexpected, NOERROR} absent" "$(v netcanary_dns_responses_total "${U[@]}" rcode=NOERROR)" 0
expect_num "responses_total{exists, NOERROR}" "$(v netcanary_dns_responses_total "${X[@]}" rcode=NOERROR)" '>=' 2
expect_num "lookup histogram observes NXDOMAIN answers" "$(v netcanary_dns_lookup_duration_seconds_count "${E[@]}")" '>=' 2
expect_num "probes_total{nx-expected,connected}" "$(v netcanary_probes_total to=nx-expected outcome=connected)" '>=' 2
expect_num "probes_total{nx-unexpected,bad_response}" "$(v netcanary_probes_total to=nx-unexpected outcome=bad_response)" '>=' 2
expect_eq "expectation_met{nx-unexpected}" "$(v netcanary_expectation_met to=nx-unexpected)" 1
expect_eq "mismatches_total{nx-unexpected,unexpected_deny}" \
        "$(v netcanary_mismatches_total to=nx-unexpected mismatch=unexpected_deny)" 0

PR=$NC_TMP/probe-nx.txt
p() { probe_value "$PR" "$@"; }
expect_eq "/probe?module=dns&target=nx-unexpected: HTTP status" "$(dns_probe "$API" nx-unexpected "$PR")" 200
expect_eq "nx-unexpected: probe_success (NOERROR required)" "$(p probe_success)" 0
expect_eq "nx-unexpected: probe_dns_query_succeeded (NXDOMAIN is an answer)" "$(p probe_dns_query_succeeded)" 1
expect_eq "nx-unexpected: probe_dns_answer_rrs" "$(p probe_dns_answer_rrs)" 0
expect_eq "nx-unexpected: probe_dns_authority_rrs (the zone's SOA)" "$(p probe_dns_authority_rrs)" 1
expect_eq "nx-unexpected: probe_netcanary_addresses{outcome=bad_response}" \
        "$(p probe_netcanary_addresses outcome=bad_response)" 1
expect_eq "/probe?module=dns&target=nx-expected: HTTP status" "$(dns_probe "$API" nx-expected "$PR")" 200
expect_eq "nx-expected: probe_success (NXDOMAIN required)" "$(p probe_success)" 1
expect_eq "nx-expected: probe_dns_query_succeeded" "$(p probe_dns_query_succeeded)" 1

nc_finish
