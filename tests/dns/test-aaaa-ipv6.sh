#!/usr/bin/env bash
# AAAA over an IPv6 server address: unbound listens on [::1] only, the row's
# servers are ["[::1]:PORT"].
#  - AAAA with expect_addresses (one written in a non-canonical form) -> connected
#  - AAAA with an address the answer lacks                          -> bad_response
#  - an A query over the same IPv6 transport                        -> connected
#  - the metrics' server label is "[::1]:PORT"
# Skips (77) when the host has no ::1.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
dns_init 8
ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/128' || skip "no ::1 on lo"

DNS=$(port 0)
API=$(port 7)
S="[::1]:$DNS"
unbound_start v6 "$DNS" "" "::1" <<'EOF2'
  local-data: "v6.nctest.example. AAAA 2001:db8::20"
EOF2

TARGETS='{
  "aaaa-ok":      { "dns": { "name": "www.nctest.example", "type": "AAAA", "servers": ["'$S'"],
                             "expect_addresses": ["2001:db8::10", "2001:0db8:0:0:0:0:0:11"] } },
  "aaaa-missing": { "dns": { "name": "v6.nctest.example", "type": "AAAA", "servers": ["'$S'"],
                             "expect_addresses": ["2001:db8::99"] } },
  "a-over-v6":    { "dns": { "name": "www.nctest.example", "type": "A", "servers": ["'$S'"],
                             "expect_addresses": ["192.0.2.10"] } }
}'
MATRIX='[
  { "from": "*", "to": "aaaa-ok",      "expect": "allow" },
  { "from": "*", "to": "aaaa-missing", "expect": "allow" },
  { "from": "*", "to": "a-over-v6",    "expect": "allow" }
]'
dns_config "$NC_TMP/c.json" "$API" "$TARGETS" "$MATRIX"

dns_once "$NC_TMP/c.json" "$NC_TMP/once.out"
O=$NC_TMP/once.out
expect_eq "once exit status" "$RC" 0
expect_eq "aaaa-ok address" "$(rowq "$O" aaaa-ok '.addresses[0].address')" "$S"
expect_eq "aaaa-ok outcome" "$(rowq "$O" aaaa-ok '.addresses[0].outcome')" connected
expect_eq "aaaa-missing outcome" "$(rowq "$O" aaaa-missing '.addresses[0].outcome')" bad_response
expect_eq "aaaa-missing verdict" "$(rowq "$O" aaaa-missing .verdict)" allowed
expect_eq "a-over-v6 outcome" "$(rowq "$O" a-over-v6 '.addresses[0].outcome')" connected
expect_num "unbound saw AAAA queries" "$(unbound_stat v6 num.query.type.AAAA)" '>=' 2
expect_num "unbound saw queries over IPv6" "$(unbound_stat v6 num.query.ipv6)" '>=' 3

dns_start d "$NC_TMP/c.json"
wait_healthy "$API" "$PID_d"
wait_rounds "$API" 2
M=$NC_TMP/metrics.txt
scrape "$API" >"$M" || fatal "scrape failed"
v() { metric_value "$@" <"$M" || echo 0; }
expect_num "responses_total{[::1],AAAA,NOERROR}" \
        "$(v netcanary_dns_responses_total server="$S" name=www.nctest.example type=AAAA rcode=NOERROR)" '>=' 2
expect_num "lookup histogram{[::1],AAAA}" \
        "$(v netcanary_dns_lookup_duration_seconds_count server="$S" name=www.nctest.example type=AAAA)" '>=' 2
expect_num "probes_total{aaaa-missing,bad_response}" "$(v netcanary_probes_total to=aaaa-missing outcome=bad_response)" '>=' 2
expect_num "probes_total{aaaa-ok,connected}" "$(v netcanary_probes_total to=aaaa-ok outcome=connected)" '>=' 2

nc_finish
