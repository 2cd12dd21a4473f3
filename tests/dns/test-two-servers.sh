#!/usr/bin/env bash
# Two servers of one dns row, one of them slow: a real unbound on loopback
# (fast) and dns-responder.py answering after 110 ms (slow). Each server is
# measured alone: the per-server histograms are kept apart, the slow server's
# lookups all >= 0.1 s (none in le="0.1"), the fast server's all under 0.1 s
# (le="0.1" == count: none of the slow server's latency leaks in) and most
# under 10 ms (le="0.01" >= count/2; "all" would fail on a loaded CI machine:
# at load 12 on 2 CPUs one loopback lookup took 16 ms), and the row's
# addresses carry both durations.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
dns_init 6
need_python

FASTP=$(port 0)
SLOWP=$(port 1)
API=$(port 7)
F="127.0.0.1:$FASTP"
SL="127.0.0.1:$SLOWP"
unbound_start fast "$FASTP" </dev/null
"$PY" "$DNS_DIR/dns-responder.py" 127.0.0.1 "$SLOWP" 0.11 "$NC_TMP/slow.ready" >"$NC_TMP/slow.log" 2>&1 &
NC_HELPERS+=("$!")
SLOW_PID=$!
wait_for 10 "slow responder" _helper_ready "$NC_TMP/slow.ready" "$SLOW_PID" || fatal "slow responder did not start"
_alive "$SLOW_PID" || fatal "slow responder died: $(cat "$NC_TMP/slow.log")"

TARGETS='{
  "pair": { "dns": { "name": "www.nctest.example", "type": "A", "servers": ["'$F'", "'$SL'"],
                     "expect_addresses": ["192.0.2.10"] } }
}'
dns_config "$NC_TMP/c.json" "$API" "$TARGETS" '[ { "from": "*", "to": "pair", "expect": "allow" } ]' \
        '{ "interval": "400ms", "timeout": "350ms", "confirm": 1 }'

dns_once "$NC_TMP/c.json" "$NC_TMP/once.out"
O=$NC_TMP/once.out
expect_eq "once exit status" "$RC" 0
expect_eq "two addresses in the row" "$(rowq "$O" pair '.addresses | length')" 2
aq() { rowq "$O" pair "[.addresses[] | select(.address == \"$1\")][0] | $2"; }
expect_eq "fast server outcome" "$(aq "$F" .outcome)" connected
expect_eq "slow server outcome" "$(aq "$SL" .outcome)" connected
expect_num "fast server duration" "$(aq "$F" .duration_seconds)" '<' 0.1
expect_num "slow server duration" "$(aq "$SL" .duration_seconds)" '>=' 0.1

dns_start d "$NC_TMP/c.json"
wait_healthy "$API" "$PID_d"
wait_rounds "$API" 4
M=$NC_TMP/metrics.txt
scrape "$API" >"$M" || fatal "scrape failed"
v() { metric_value "$@" <"$M" || echo 0; }
FL=(server="$F" name=www.nctest.example type=A)
SLL=(server="$SL" name=www.nctest.example type=A)
fc=$(v netcanary_dns_lookup_duration_seconds_count "${FL[@]}")
sc=$(v netcanary_dns_lookup_duration_seconds_count "${SLL[@]}")
expect_num "fast server: lookups observed" "$fc" '>=' 4
expect_num "slow server: lookups observed" "$sc" '>=' 4
expect_num "fast server: every lookup under 100 ms (le=0.1 == count)" \
        "$(v netcanary_dns_lookup_duration_seconds_bucket "${FL[@]}" le=0.1)" '==' "$fc"
expect_num "fast server: most lookups under 10 ms (le=0.01 >= count/2)" \
        "$(v netcanary_dns_lookup_duration_seconds_bucket "${FL[@]}" le=0.01)" '>=' "$(awk -v c="$fc" 'BEGIN { print c / 2 }')"
expect_eq "slow server: no lookup under 100 ms (le=0.1)" \
        "$(v netcanary_dns_lookup_duration_seconds_bucket "${SLL[@]}" le=0.1)" 0
expect_num "slow server: le=5 bucket == count" \
        "$(v netcanary_dns_lookup_duration_seconds_bucket "${SLL[@]}" le=5)" '==' "$sc"
ssum=$(v netcanary_dns_lookup_duration_seconds_sum "${SLL[@]}")
fsum=$(v netcanary_dns_lookup_duration_seconds_sum "${FL[@]}")
expect_num "slow server: mean >= 0.1 s" "$(awk -v s="$ssum" -v c="$sc" 'BEGIN { print s / c }')" '>=' 0.1
expect_num "fast server: mean < 0.05 s" "$(awk -v s="$fsum" -v c="$fc" 'BEGIN { print s / c }')" '<' 0.05
expect_num "responses_total{slow,NOERROR}" "$(v netcanary_dns_responses_total "${SLL[@]}" rcode=NOERROR)" '>=' 4
expect_eq "responses_total{slow,timeout} absent" "$(v netcanary_dns_responses_total "${SLL[@]}" rcode=timeout)" 0
mfast=$(mq "$API" "[.rows[0].addresses[] | select(.address == \"$F\")][0].duration_seconds")
mslow=$(mq "$API" "[.rows[0].addresses[] | select(.address == \"$SL\")][0].duration_seconds")
expect_num "matrix: fast server duration" "$mfast" '<' 0.1
expect_num "matrix: slow server duration" "$mslow" '>=' 0.1

nc_finish
