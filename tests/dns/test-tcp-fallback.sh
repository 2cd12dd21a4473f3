#!/usr/bin/env bash
# A truncated answer that needs TCP: big.nctest.example has 60 A records
# (~1 KB; netcanary queries without EDNS, so UDP answers stop at 512 bytes and
# unbound sets TC). c-ares must retry over TCP and find the last address.
#  - outcome connected with expect_addresses = first and last of the 60
#  - unbound's own counter num.query.tcp grows by the TCP retry (and does not
#    for a small answer: the retry is truncation-driven)
#  - the lookup histogram observes the whole UDP+TCP lookup
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
dns_init 5

DNS=$(port 0)
API=$(port 7)
S="127.0.0.1:$DNS"
records() {
        local i
        for i in $(seq 1 60); do echo "  local-data: \"big.nctest.example. A 198.51.100.$i\""; done
}
unbound_start main "$DNS" < <(records)   # not a pipe: unbound_start must run in this shell

TARGETS='{
  "big":   { "dns": { "name": "big.nctest.example", "type": "A", "servers": ["'$S'"],
                      "expect_addresses": ["198.51.100.1", "198.51.100.60"] } },
  "small": { "dns": { "name": "www.nctest.example", "type": "A", "servers": ["'$S'"],
                      "expect_addresses": ["192.0.2.11"] } }
}'

# ---- a small answer: UDP only
dns_config "$NC_TMP/small.json" "$API" "$TARGETS" '[ { "from": "*", "to": "small", "expect": "allow" } ]'
tcp0=$(unbound_stat main num.query.tcp)
dns_once "$NC_TMP/small.json" "$NC_TMP/small.out"
expect_eq "small answer outcome" "$(rowq "$NC_TMP/small.out" small '.addresses[0].outcome')" connected
expect_eq "small answer: no TCP query" "$(unbound_stat main num.query.tcp)" "$tcp0"

# ---- 60 records: truncated over UDP, complete over TCP
dns_config "$NC_TMP/big.json" "$API" "$TARGETS" '[ { "from": "*", "to": "big", "expect": "allow" } ]'
dns_once "$NC_TMP/big.json" "$NC_TMP/big.out"
O=$NC_TMP/big.out
expect_eq "once exit status (60 records)" "$RC" 0
expect_eq "big outcome (last address found)" "$(rowq "$O" big '.addresses[0].outcome')" connected
expect_eq "big met" "$(rowq "$O" big .met)" true
tcp1=$(unbound_stat main num.query.tcp)
expect_num "unbound got the query over TCP" "$tcp1" '>=' $((tcp0 + 1))

# ---- run: the histogram observes the UDP+TCP lookups; TCP every round
dns_start d "$NC_TMP/big.json"
wait_healthy "$API" "$PID_d"
wait_rounds "$API" 2
M=$NC_TMP/metrics.txt
scrape "$API" >"$M" || fatal "scrape failed"
v() { metric_value "$@" <"$M" || echo 0; }
L=(server="$S" name=big.nctest.example type=A)
expect_num "responses_total{big,NOERROR}" "$(v netcanary_dns_responses_total "${L[@]}" rcode=NOERROR)" '>=' 2
expect_num "lookup histogram count (big)" "$(v netcanary_dns_lookup_duration_seconds_count "${L[@]}")" '>=' 2
expect_num "probes_total{big,connected}" "$(v netcanary_probes_total to=big outcome=connected)" '>=' 2
expect_num "unbound: a TCP query per round" "$(unbound_stat main num.query.tcp)" '>=' $((tcp1 + 2))
nc_finish
