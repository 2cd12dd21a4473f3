#!/usr/bin/env bash
# REFUSED (the DNS rcode) from a real unbound on loopback, for a local-zone
# configured with `refuse`:
#  - "expect_rcode": "REFUSED"           -> outcome connected, row met
#  - default expectation                 -> outcome bad_response, verdict allowed
#  - netcanary_dns_responses_total{rcode="REFUSED"}, kept apart from
#    rcode="connection_refused" (ICMP port unreachable: nothing listens), which
#    a closed loopback port gives: outcome refused, verdict denied.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
dns_init 3

DNS=$(port 0)
CLOSED=$(port 1)   # nothing listens here
API=$(port 7)
S="127.0.0.1:$DNS"
C="127.0.0.1:$CLOSED"
unbound_start main "$DNS" </dev/null

TARGETS='{
  "rf-expected":   { "dns": { "name": "x.refused.nctest.example", "type": "A", "servers": ["'$S'"], "expect_rcode": "REFUSED" } },
  "rf-unexpected": { "dns": { "name": "y.refused.nctest.example", "type": "A", "servers": ["'$S'"] } },
  "closed":        { "dns": { "name": "www.nctest.example",       "type": "A", "servers": ["'$C'"] } }
}'
MATRIX='[
  { "from": "*", "to": "rf-expected",   "expect": "allow" },
  { "from": "*", "to": "rf-unexpected", "expect": "allow" },
  { "from": "*", "to": "closed",        "expect": "deny" }
]'
dns_config "$NC_TMP/c.json" "$API" "$TARGETS" "$MATRIX"

dns_once "$NC_TMP/c.json" "$NC_TMP/once.out"
O=$NC_TMP/once.out
expect_eq "once exit status" "$RC" 0
expect_eq "rf-expected outcome" "$(rowq "$O" rf-expected '.addresses[0].outcome')" connected
expect_eq "rf-expected met" "$(rowq "$O" rf-expected .met)" true
expect_eq "rf-unexpected outcome" "$(rowq "$O" rf-unexpected '.addresses[0].outcome')" bad_response
expect_eq "rf-unexpected verdict" "$(rowq "$O" rf-unexpected .verdict)" allowed
expect_eq "closed port outcome" "$(rowq "$O" closed '.addresses[0].outcome')" refused
expect_eq "closed port verdict" "$(rowq "$O" closed .verdict)" denied
expect_eq "closed port deny row met" "$(rowq "$O" closed .met)" true
expect_num "unbound answered REFUSED" "$(unbound_stat main num.answer.rcode.REFUSED)" '>=' 2

dns_start d "$NC_TMP/c.json"
wait_healthy "$API" "$PID_d"
wait_rounds "$API" 2
M=$NC_TMP/metrics.txt
scrape "$API" >"$M" || fatal "scrape failed"
v() { metric_value "$@" <"$M" || echo 0; }
E=(server="$S" name=x.refused.nctest.example type=A)
K=(server="$C" name=www.nctest.example type=A)
expect_num "responses_total{REFUSED}" "$(v netcanary_dns_responses_total "${E[@]}" rcode=REFUSED)" '>=' 2
expect_eq "responses_total{refused zone, connection_refused} absent" \
        "$(v netcanary_dns_responses_total "${E[@]}" rcode=connection_refused)" 0
expect_num "responses_total{closed port, connection_refused}" \
        "$(v netcanary_dns_responses_total "${K[@]}" rcode=connection_refused)" '>=' 2
expect_eq "responses_total{closed port, REFUSED} absent" "$(v netcanary_dns_responses_total "${K[@]}" rcode=REFUSED)" 0
expect_eq "no lookup observed for the closed port" "$(v netcanary_dns_lookup_duration_seconds_count "${K[@]}")" 0
expect_num "lookup histogram observes REFUSED answers" "$(v netcanary_dns_lookup_duration_seconds_count "${E[@]}")" '>=' 2

nc_finish
