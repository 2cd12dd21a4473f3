#!/usr/bin/env bash
# shellcheck disable=SC2154,SC2317 # PID_* are set by nc_start/start_* (printf -v); predicates are called through wait_for/check
# Scenario 1: the daemon probes its own responder over TCP and UDP, IPv4 and
# IPv6, all expected allowed; checks /api/v1/matrix, the gauges and counters,
# /readyz, `promtool check metrics`, gzip and the exposition Content-Type.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
nc_init 1

HTTP=$(port 0)
RESP=$(port 1)
ports_free "$HTTP" "$RESP"
# A name resolved through c-ares: only when /etc/hosts answers "localhost"
# (files before dns), so no query ever leaves the host.
NAME_TARGET="" NAME_ROW="" NROWS=4
if grep -Eq '^[[:space:]]*127\.0\.0\.1[[:space:]].*\blocalhost\b' /etc/hosts &&
        { [[ ! -e /etc/nsswitch.conf ]] || grep -Eq '^hosts:[[:space:]]+files' /etc/nsswitch.conf; }; then
        NAME_TARGET=", \"self-name\": { \"tcp\": { \"host\": \"localhost\", \"port\": $RESP, \"each_address\": true } }"
        NAME_ROW=", { \"from\": \"*\", \"to\": \"self-name\", \"expect\": \"allow\" }"
        NROWS=5
else
        log "no 'localhost' in /etc/hosts: the name-resolution row is left out"
fi
CFG=$NC_TMP/config.json
cat >"$CFG" <<JSON
{
  // self-check on loopback
  "agent": { "identity": "selftest", "listen": "127.0.0.1:$HTTP", "responder": { "port": $RESP } },
  "defaults": { "interval": "500ms", "timeout": "200ms", "confirm": 2 },
  "targets": {
    "self-tcp4": { "tcp": { "host": "127.0.0.1", "port": $RESP } },
    "self-udp4": { "udp": { "host": "127.0.0.1", "port": $RESP } },
    "self-tcp6": { "tcp": { "host": "::1", "port": $RESP } },
    "self-udp6": { "udp": { "host": "::1", "port": $RESP } }$NAME_TARGET
  },
  "matrix": [
    { "from": "*", "to": "self-tcp4", "expect": "allow" },
    { "from": "*", "to": "self-udp4", "expect": "allow" },
    { "from": "*", "to": "self-tcp6", "expect": "allow" },
    { "from": "*", "to": "self-udp6", "expect": "allow" }$NAME_ROW
  ]
}
JSON

nc_start d "$CFG"
wait_healthy "$HTTP" "$PID_d"
expect_unprivileged "$PID_d"

check "/readyz becomes 200 after the first round" wait_ready "$HTTP"

all_met() { mq_true "$HTTP" "(.rows | length) == $NROWS and ([.rows[].met] | all)"; }
if wait_for 15 "all $NROWS rows met" all_met; then
        pass "matrix: all $NROWS rows met"
else
        fail "matrix: not all rows met: $(matrix "$HTTP" | jq -c '[.rows[] | {to, met, observed, verdict, addresses}]')"
fi
expect_eq "matrix identity" "$(mq "$HTTP" .identity)" selftest
expect_eq "matrix ready" "$(mq "$HTTP" .ready)" true
M=$(matrix "$HTTP")
for t in self-tcp4 self-udp4 self-tcp6 self-udp6; do
        r=$(jq -c --arg t "$t" '.rows[] | select(.to == $t)' <<<"$M")
        expect_eq "$t verdict" "$(jq -r .verdict <<<"$r")" allowed
        expect_eq "$t mismatch" "$(jq -r .mismatch <<<"$r")" none
        expect_eq "$t supported" "$(jq -r .supported <<<"$r")" true
        expect_eq "$t outcome" "$(jq -r '[.addresses[].outcome] | unique | join(",")' <<<"$r")" connected
        expect_num "$t rounds" "$(jq -r .rounds <<<"$r")" '>=' 1
done
expect_eq "self-tcp4 protocol" "$(jq -r '.rows[] | select(.to == "self-tcp4") | .protocol' <<<"$M")" tcp
expect_eq "self-udp6 protocol" "$(jq -r '.rows[] | select(.to == "self-udp6") | .protocol' <<<"$M")" udp

if [[ -n $NAME_ROW ]]; then
        r=$(jq -c '.rows[] | select(.to == "self-name")' <<<"$M")
        expect_eq "self-name (localhost, each_address) met" "$(jq -r .met <<<"$r")" true
        expect_eq "self-name outcomes" "$(jq -r '[.addresses[].outcome] | unique | join(",")' <<<"$r")" connected
        expect_num "self-name addresses" "$(jq -r '.addresses | length' <<<"$r")" '>=' 1
        bad=$(jq -r --arg a "127.0.0.1:$RESP" --arg b "[::1]:$RESP" '[.addresses[].address | select(. != $a and . != $b)] | join(",")' <<<"$r")
        expect_eq "self-name addresses are loopback" "$bad" ""
        # shellcheck disable=SC2016 # $a is a jq variable
        check "self-name resolved 127.0.0.1" jq -e --arg a "127.0.0.1:$RESP" '[.addresses[].address] | index($a) != null' <<<"$r"
fi

S=$(scrape "$HTTP")
for t in self-tcp4 self-udp4 self-tcp6 self-udp6; do
        v=$(metric_value netcanary_expectation_met from=selftest to="$t" expect=allow <<<"$S")
        expect_eq "netcanary_expectation_met{to=$t}" "$v" 1
        v=$(metric_value netcanary_verdict to="$t" verdict=allowed <<<"$S")
        expect_eq "netcanary_verdict{to=$t,verdict=allowed}" "$v" 1
        v=$(metric_value netcanary_verdict to="$t" verdict=denied <<<"$S")
        expect_eq "netcanary_verdict{to=$t,verdict=denied}" "$v" 0
done

# per-row series of contract §4
for t in self-tcp4 self-udp6; do
        v=$(metric_value netcanary_last_probe_timestamp_seconds to="$t" <<<"$S")
        expect_num "last_probe_timestamp_seconds{to=$t} is a unix time" "${v:-}" '>' 1500000000
        v=$(metric_value netcanary_target_addresses to="$t" verdict=allowed <<<"$S")
        expect_eq "target_addresses{to=$t,verdict=allowed}" "${v:-}" 1
        v=$(metric_value netcanary_probe_duration_seconds_count to="$t" <<<"$S")
        expect_num "probe_duration_seconds_count{to=$t}" "${v:-}" '>=' 1
        v=$(metric_value netcanary_probe_duration_seconds_bucket to="$t" le=+Inf <<<"$S")
        expect_num "probe_duration_seconds_bucket{to=$t,le=+Inf}" "${v:-}" '>=' 1
done
check "netcanary_probes_in_flight present" metric_value netcanary_probes_in_flight <<<"$S"
check "netcanary_scheduler_lag_seconds_count present" metric_value netcanary_scheduler_lag_seconds_count <<<"$S"
# labels never carry an address
if grep -v '^#' <<<"$S" | grep -c '127\.0\.0\.1' >/dev/null; then
        fail "an address leaked into a metric label: $(grep -v '^#' <<<"$S" | grep '127\.0\.0\.1' | head -3)"
else
        pass "no address in metric labels"
fi

c1=$(metric_value netcanary_probes_total to=self-tcp4 protocol=tcp outcome=connected <<<"$S")
expect_num "probes_total{to=self-tcp4,outcome=connected}" "${c1:-}" '>=' 1
u1=$(metric_value netcanary_probes_total to=self-udp6 protocol=udp outcome=connected <<<"$S")
expect_num "probes_total{to=self-udp6,outcome=connected}" "${u1:-}" '>=' 1
check "probes_total{to=self-tcp4,outcome=connected} grows" \
        wait_for 10 "connected counter grows" metric_is "$HTTP" '>' "${c1:-0}" netcanary_probes_total to=self-tcp4 outcome=connected
check "probes_total{to=self-udp6,outcome=connected} grows" \
        wait_for 10 "connected counter grows" metric_is "$HTTP" '>' "${u1:-0}" netcanary_probes_total to=self-udp6 outcome=connected

# build info and process metrics are present
check "netcanary_build_info present" metric_is "$HTTP" '==' 1 netcanary_build_info
check "netcanary_config_last_reload_successful 1" metric_is "$HTTP" '==' 1 netcanary_config_last_reload_successful
check "process_start_time_seconds present" metric_is "$HTTP" '>' 0 process_start_time_seconds

# promtool lint: no output at all
if command -v promtool >/dev/null 2>&1; then
        scrape "$HTTP" >"$NC_TMP/scrape.txt"
        out=$(promtool check metrics <"$NC_TMP/scrape.txt" 2>&1)
        rc=$?
        if ((rc == 0)) && [[ -z $out ]]; then
                pass "promtool check metrics: clean"
        else
                fail "promtool check metrics (rc=$rc): $out"
        fi
else
        fail "promtool not installed"
fi

# Content-Type of /metrics
ct=$("${NC_CURL[@]}" -o /dev/null -w '%{content_type}' "$(url "$HTTP" /metrics)")
if [[ $ct == text/plain* && $ct == *version=0.0.4* ]]; then
        pass "/metrics Content-Type ($ct)"
else
        fail "/metrics Content-Type: got '$ct', expected text/plain; version=0.0.4"
fi

# gzip: curl --compressed decodes it, a raw request shows Content-Encoding: gzip
body=$("${NC_CURL[@]}" --compressed -H 'Accept-Encoding: gzip' "$(url "$HTTP" /metrics)")
if grep -q '^netcanary_build_info' <<<"$body"; then
        pass "gzip: curl --compressed gets the exposition"
else
        fail "gzip: curl --compressed did not return the exposition"
fi
"${NC_CURL[@]}" -D "$NC_TMP/gz.headers" -o "$NC_TMP/gz.body" -H 'Accept-Encoding: gzip' "$(url "$HTTP" /metrics)"
if grep -qi '^content-encoding:[[:space:]]*gzip' "$NC_TMP/gz.headers"; then
        pass "gzip: raw response has Content-Encoding: gzip"
else
        fail "gzip: no Content-Encoding: gzip in: $(tr -d '\r' <"$NC_TMP/gz.headers" | tr '\n' '|')"
fi
gzip -dc <"$NC_TMP/gz.body" >"$NC_TMP/gz.txt" 2>/dev/null
if grep -q '^netcanary_probes_total' "$NC_TMP/gz.txt"; then
        pass "gzip: raw body decompresses to the exposition"
else
        fail "gzip: raw body is not a gzip stream of the exposition"
fi
# content-coding negotiation: list and case-insensitive token; q=0 refuses gzip
for ae in 'deflate, gzip' 'GZIP'; do
        h=$("${NC_CURL[@]}" -o /dev/null -D - -H "Accept-Encoding: $ae" "$(url "$HTTP" /metrics)")
        if grep -qi '^content-encoding:[[:space:]]*gzip' <<<"$h"; then
                pass "Accept-Encoding: $ae -> gzip"
        else
                fail "Accept-Encoding: $ae -> no gzip"
        fi
done
h=$("${NC_CURL[@]}" -o /dev/null -D - -H 'Accept-Encoding: gzip;q=0' "$(url "$HTTP" /metrics)")
if grep -qi '^content-encoding:' <<<"$h"; then
        fail "Accept-Encoding: gzip;q=0 still got a Content-Encoding"
else
        pass "Accept-Encoding: gzip;q=0 -> identity"
fi
# without Accept-Encoding: plain
"${NC_CURL[@]}" -D "$NC_TMP/plain.headers" -o /dev/null "$(url "$HTTP" /metrics)"
if grep -qi '^content-encoding:' "$NC_TMP/plain.headers"; then
        fail "no Accept-Encoding, yet the response has a Content-Encoding"
else
        pass "no Accept-Encoding: identity body"
fi

check "daemon still running" _alive "$PID_d"
nc_finish
