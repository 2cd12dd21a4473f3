#!/usr/bin/env bash
# netcanary_http_phase_duration_seconds{from,to,phase}: a gauge per http row and
# phase (resolve, connect, tls, processing, transfer) from the last probe;
# nothing for tcp rows. tls > 0 for https, == 0 for plain http; connect and
# processing > 0; a slow body shows in transfer... (the test server sends at
# once, so transfer is only checked to be >= 0).
# shellcheck disable=SC2154 # PID_<name> is set by nc_start/nc_start_ns (printf -v)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
http_init 4

HP=$(port 0)
SP=$(port 1)
LISTEN=$(port 2)
make_certs
start_server "$HP" "$SP"

CFG=$NC_TMP/phases.json
INTERVAL=500ms write_config "$CFG" "$LISTEN" 400ms "{
  \"plain\":   { \"http\": { \"url\": \"http://127.0.0.1:$HP/ok\" } },
  \"https\":   { \"http\": { \"url\": \"https://127.0.0.1:$SP/ok\", \"tls\": { \"ca_file\": \"$CA\" } } },
  \"nf\":      { \"http\": { \"url\": \"http://127.0.0.1:$HP/notfound\", \"status\": [200] } },
  \"tcp-row\": { \"tcp\":  { \"host\": \"127.0.0.1\", \"port\": $HP } }
}" '[
  { "from": "*", "to": "plain",   "expect": "allow" },
  { "from": "*", "to": "https",   "expect": "allow" },
  { "from": "*", "to": "nf",      "expect": "allow" },
  { "from": "*", "to": "tcp-row", "expect": "allow" }
]'
nc_start d "$CFG"
wait_healthy "$LISTEN" "$PID_d"
two_rounds() { mq_true "$LISTEN" '[.rows[] | .rounds >= 2] | all'; }
wait_for 15 "2 rounds of every row" two_rounds || fail "rows did not reach 2 rounds"
M=$(scrape "$LISTEN")
PH=netcanary_http_phase_duration_seconds

check "$PH has HELP" grep -q "^# HELP $PH " <<<"$M"
check "$PH is a gauge" grep -q "^# TYPE $PH gauge\$" <<<"$M"
for to in plain https nf; do
        expect_eq "$to: phase series" "$(grep -c "^$PH{.*to=\"$to\"" <<<"$M")" 5
        for ph in resolve connect tls processing transfer; do
                v=$(metric_value "$PH" from=httptest to="$to" phase="$ph" <<<"$M") ||
                        { fail "$PH{from=httptest,to=$to,phase=$ph} missing"; continue; }
                expect_num "$to: $ph" "$v" '>=' 0
                expect_num "$to: $ph (under the 400 ms timeout)" "$v" '<' 0.4
        done
done
expect_eq "tcp-row: no phase series" "$(grep -c "^$PH{.*to=\"tcp-row\"" <<<"$M")" 0
expect_eq "only the 5 documented phase values" \
        "$(grep "^$PH{" <<<"$M" | grep -o 'phase="[^"]*"' | sort -u | tr '\n' ' ')" \
        'phase="connect" phase="processing" phase="resolve" phase="tls" phase="transfer" '
expect_num "https: tls > 0" "$(metric_value "$PH" to=https phase=tls <<<"$M")" '>' 0
expect_num "plain: tls == 0" "$(metric_value "$PH" to=plain phase=tls <<<"$M")" '==' 0
for to in plain https nf; do
        expect_num "$to: connect > 0" "$(metric_value "$PH" to="$to" phase=connect <<<"$M")" '>' 0
        expect_num "$to: processing > 0" "$(metric_value "$PH" to="$to" phase=processing <<<"$M")" '>' 0
done
# the gauges follow the last probe: they change between rounds
v1=$(metric_value "$PH" to=https phase=processing <<<"$M")
r1=$(row_field "$LISTEN" https .rounds)
changed() {
        local r v
        r=$(row_field "$LISTEN" https .rounds)
        ((r > r1)) || return 1
        v=$(metric "$LISTEN" "$PH" to=https phase=processing) && [[ $v != "$v1" ]]
}
check "https processing gauge updated by a later round" wait_for 10 "a new https processing value" changed
# the whole exposition is valid
if command -v promtool >/dev/null 2>&1; then
        out=$(promtool check metrics <<<"$M" 2>&1)
        if grep -q "$PH" <<<"$out"; then fail "promtool on $PH: $(grep "$PH" <<<"$out")"; else pass "promtool: nothing to say about $PH"; fi
fi

nc_finish
