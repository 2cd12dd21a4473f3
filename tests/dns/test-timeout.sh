#!/usr/bin/env bash
# A DNS server that never answers: inside a network namespace of ours (lo up),
# unbound listens on two ports and nftables drops udp+tcp to one of them.
#  - the dropped server: outcome timeout, verdict denied, deny row met,
#    netcanary_dns_responses_total{rcode="timeout"} grows round after round,
#    the lookup histogram observes nothing (answered lookups only)
#  - the other port of the same unbound (control): connected, allow row met
#  - an allow row to the dropped server: unexpected_deny, `once` exits 1
#  - /probe of the dropped server: probe_dns_query_succeeded 0 (no answer)
# Needs root, `ip netns` and nft; skips (77) otherwise.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
dns_init 4
command -v nft >/dev/null 2>&1 || skip "nft not installed (nftables)"

dns_netns NS
dns_use_ns "$NS"
DROP=$(port 0)
OPEN=$(port 1)
API=$(port 7)
unbound_start main "$DROP" "$NS" </dev/null   # listens on $DROP ...
# ... and a second unbound on $OPEN in the same namespace, the control
unbound_start ctl "$OPEN" "$NS" </dev/null

ip netns exec "$NS" nft -f - <<NFT 2>"$NC_TMP/nft.err" || fatal "nft rules in $NS failed: $(cat "$NC_TMP/nft.err")"
table inet ncdns {
        chain input {
                type filter hook input priority 0; policy accept;
                udp dport $DROP counter drop
                tcp dport $DROP counter drop
        }
}
NFT

D="127.0.0.1:$DROP"
K="127.0.0.1:$OPEN"
TARGETS='{
  "dropped":  { "dns": { "name": "www.nctest.example", "type": "A", "servers": ["'$D'"] } },
  "reach":    { "dns": { "name": "www.nctest.example", "type": "A", "servers": ["'$K'"] } }
}'
dns_config "$NC_TMP/deny.json" "$API" "$TARGETS" '[
  { "from": "*", "to": "dropped", "expect": "deny" },
  { "from": "*", "to": "reach",   "expect": "allow" } ]' '{ "interval": "700ms", "timeout": "300ms", "confirm": 1 }'

dns_once "$NC_TMP/deny.json" "$NC_TMP/deny.out"
O=$NC_TMP/deny.out
expect_eq "once exit status (deny row to a silent server, allow row to the control)" "$RC" 0
expect_eq "dropped outcome" "$(rowq "$O" dropped '.addresses[0].outcome')" timeout
expect_eq "dropped verdict" "$(rowq "$O" dropped .verdict)" denied
expect_eq "dropped deny row met" "$(rowq "$O" dropped .met)" true
d=$(rowq "$O" dropped '.addresses[0].duration_seconds')
expect_num "dropped duration >= the 300ms timeout" "$d" '>=' 0.29
expect_num "dropped duration < 3 s" "$d" '<' 3
expect_eq "control outcome" "$(rowq "$O" reach '.addresses[0].outcome')" connected
expect_eq "control met" "$(rowq "$O" reach .met)" true
dropped_pkts=$(ip netns exec "$NS" nft list ruleset | awk '/udp dport '"$DROP"' counter/ { print $6; exit }')
expect_num "nft dropped the udp query" "${dropped_pkts:-0}" '>=' 1

dns_config "$NC_TMP/allow.json" "$API" "$TARGETS" '[ { "from": "*", "to": "dropped", "expect": "allow" } ]'
dns_once "$NC_TMP/allow.json" "$NC_TMP/allow.out"
expect_eq "once exit status (allow row to a silent server)" "$RC" 1
expect_eq "allow row mismatch" "$(rowq "$NC_TMP/allow.out" dropped .mismatch)" unexpected_deny

dns_start d "$NC_TMP/deny.json"
wait_healthy "$API" "$PID_d"
wait_rounds "$API" 1
T=(server="$D" name=www.nctest.example type=A)
t1=$(metric0 "$API" netcanary_dns_responses_total "${T[@]}" rcode=timeout)
expect_num "responses_total{timeout} after the first round" "$t1" '>=' 1
_grown() { num '>' "$(metric0 "$API" netcanary_dns_responses_total "${T[@]}" rcode=timeout)" "$t1"; }
check "responses_total{timeout} grows" wait_for 10 "timeout counter to grow past $t1" _grown
M=$NC_TMP/metrics.txt
scrape "$API" >"$M" || fatal "scrape failed"
v() { metric_value "$@" <"$M" || echo 0; }
expect_eq "no lookup observed for the silent server" "$(v netcanary_dns_lookup_duration_seconds_count "${T[@]}")" 0
expect_eq "responses_total{silent server, NOERROR} absent" "$(v netcanary_dns_responses_total "${T[@]}" rcode=NOERROR)" 0
expect_num "control server answered" \
        "$(v netcanary_dns_responses_total server="$K" name=www.nctest.example type=A rcode=NOERROR)" '>=' 1
expect_num "probes_total{dropped,timeout}" "$(v netcanary_probes_total to=dropped protocol=dns outcome=timeout)" '>=' 2
expect_eq "verdict{dropped,denied}" "$(v netcanary_verdict to=dropped verdict=denied)" 1
expect_eq "expectation_met{dropped}" "$(v netcanary_expectation_met to=dropped)" 1
expect_eq "matrix: dropped outcome" "$(row_field "$API" dropped '.addresses[0].outcome')" timeout

PR=$NC_TMP/probe-dropped.txt
p() { probe_value "$PR" "$@"; }
expect_eq "/probe?module=dns&target=dropped: HTTP status" "$(dns_probe "$API" dropped "$PR")" 200
expect_eq "dropped: probe_success" "$(p probe_success)" 0
expect_eq "dropped: probe_dns_query_succeeded (no answer)" "$(p probe_dns_query_succeeded)" 0
expect_eq "dropped: probe_dns_answer_rrs" "$(p probe_dns_answer_rrs)" 0
expect_eq "dropped: probe_netcanary_addresses{outcome=timeout}" "$(p probe_netcanary_addresses outcome=timeout)" 1

nc_finish
