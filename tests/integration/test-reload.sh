#!/usr/bin/env bash
# shellcheck disable=SC2154,SC2317 # PID_* are set by nc_start/start_* (printf -v); predicates are called through wait_for/check
# Scenario 7: reloads.
#   SIGHUP after replacing config A (1 row) with B (2 rows) -> 2 rows, reload_successful 1
#   garbage + SIGHUP -> reload_successful 0, "config reload rejected" logged, old rows keep probing
#   ConfigMap-style atomic ..data symlink swap, no SIGHUP -> reloaded within a few seconds
#   SIGTERM -> exit 0 within 3 s (contract: 1 s)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
nc_init 7

HTTP=$(port 0)
RESP=$(port 1)
HTTP2=$(port 10)
RESP2=$(port 11)
HTTP3=$(port 20)
SILENT=$(port 51)
ports_free "$HTTP" "$RESP" "$HTTP2" "$RESP2" "$(port 50)" "$HTTP3" "$SILENT"

# config HTTP RESP NROWS -> JSON on stdout
config() {
        local rows='{ "from": "*", "to": "self-tcp", "expect": "allow" }'
        if (($3 >= 2)); then rows+=', { "from": "*", "to": "self-udp", "expect": "allow" }'; fi
        if (($3 >= 3)); then rows+=', { "from": "*", "to": "closed", "expect": "deny" }'; fi
        cat <<JSON
{
  "agent": { "identity": "reloadtest", "listen": "127.0.0.1:$1", "responder": { "port": $2 } },
  "defaults": { "interval": "500ms", "timeout": "200ms", "confirm": 1 },
  "targets": {
    "self-tcp": { "tcp": { "host": "127.0.0.1", "port": $2 } },
    "self-udp": { "udp": { "host": "127.0.0.1", "port": $2 } },
    "closed":   { "tcp": { "host": "127.0.0.1", "port": $(port 50) } }
  },
  "matrix": [ $rows ]
}
JSON
}
nrows() { mq "$1" '.rows | length' 2>/dev/null; }
rows_are() { [[ $(nrows "$1") == "$2" ]]; }

# ------------------------------------------------------------ SIGHUP
mkdir -p "$NC_TMP/plain"
CFG=$NC_TMP/plain/config.json
config "$HTTP" "$RESP" 1 >"$CFG"
nc_start d "$CFG"
wait_healthy "$HTTP" "$PID_d"
expect_eq "config A: rows" "$(nrows "$HTTP")" 1
check "reload_successful 1 at start" metric_is "$HTTP" '==' 1 netcanary_config_last_reload_successful
ts0=$(metric "$HTTP" netcanary_config_last_reload_success_timestamp_seconds)
expect_num "reload success timestamp set" "${ts0:-}" '>' 1600000000

pt0=$(metric0 "$HTTP" netcanary_probes_total to=self-tcp outcome=connected)
r0=$(row_field "$HTTP" self-tcp .rounds)
config "$HTTP" "$RESP" 2 >"$CFG.tmp" && mv "$CFG.tmp" "$CFG"
nhup=$(grep -c 'SIGHUP' "$NC_TMP/d.log")
kill -HUP "$PID_d"
if wait_for 10 "2 rows after SIGHUP" rows_are "$HTTP" 2; then pass "SIGHUP: config B applied (2 rows)"; else fail "SIGHUP: rows = $(nrows "$HTTP"), expected 2"; fi
check "reload_successful 1 after B" metric_is "$HTTP" '==' 1 netcanary_config_last_reload_successful
expect_eq "matrix config.last_reload_successful" "$(mq "$HTTP" .config.last_reload_successful)" true
check "\"config reloaded\" logged" grep -q 'config reloaded' "$NC_TMP/d.log"
check "daemon survives SIGHUP" _alive "$PID_d"
# the SIGHUP itself was handled (the file watch may have applied B first)
hup_logged() { (($(grep -c 'SIGHUP' "$NC_TMP/d.log") > nhup)); }
check "SIGHUP acknowledged in the log" wait_for 5 "a log line naming SIGHUP" hup_logged
udp_met() { mq_true "$HTTP" '[.rows[] | select(.to == "self-udp")][0].met'; }
check "new row self-udp probed and met" wait_for 10 "self-udp met" udp_met
# a row kept across the reload keeps its state: counters never go backwards
expect_num "probes_total{self-tcp} not reset by the reload" "$(metric0 "$HTTP" netcanary_probes_total to=self-tcp outcome=connected)" '>=' "$pt0"
expect_num "rounds of self-tcp not reset by the reload" "$(row_field "$HTTP" self-tcp .rounds)" '>=' "$r0"
check "reload success timestamp advanced" metric_is "$HTTP" '>=' "${ts0:-0}" netcanary_config_last_reload_success_timestamp_seconds

# ------------------------------------------------------------ garbage is rejected
printf '{ "agent": { this is not json\n' >"$CFG.tmp" && mv "$CFG.tmp" "$CFG"
kill -HUP "$PID_d"
reload_failed() { metric_is "$HTTP" '==' 0 netcanary_config_last_reload_successful; }
if wait_for 10 "reload_successful 0" reload_failed; then pass "garbage: reload_successful 0"; else fail "garbage: reload_successful never became 0"; fi
rejected_logged() { grep -q 'config reload rejected' "$NC_TMP/d.log"; }
check "\"config reload rejected\" logged" wait_for 5 "rejection log line" rejected_logged
line=$(grep -m 1 'config reload rejected' "$NC_TMP/d.log")
if [[ $line == *error=* ]]; then pass "rejection log has error="; else fail "rejection log line lacks error=: $line"; fi
expect_eq "garbage: rows still 2" "$(nrows "$HTTP")" 2
expect_eq "garbage: matrix config.last_reload_successful" "$(mq "$HTTP" .config.last_reload_successful)" false
check "garbage: /healthz still 200" _healthz_ok "$HTTP"
p1=$(metric0 "$HTTP" netcanary_probes_total to=self-udp outcome=connected)
check "garbage: probing continues (probes_total{self-udp} grows)" \
        wait_for 10 "probes grow" metric_is "$HTTP" '>' "$p1" netcanary_probes_total to=self-udp outcome=connected
check "daemon alive after a bad reload" _alive "$PID_d"

# a config that parses but is invalid is also rejected (unknown target)
config "$HTTP" "$RESP" 2 | sed 's/"to": "self-udp"/"to": "no-such-target"/' >"$CFG.tmp" && mv "$CFG.tmp" "$CFG"
nrej=$(grep -c 'config reload rejected' "$NC_TMP/d.log")
kill -HUP "$PID_d"
more_rejections() { (($(grep -c 'config reload rejected' "$NC_TMP/d.log") > nrej)); }
check "invalid config (unknown target): rejected" wait_for 10 "another rejection" more_rejections
line=$(grep 'config reload rejected' "$NC_TMP/d.log" | tail -n 1)
if [[ $line == *no-such-target* ]]; then pass "rejection names the unknown target"; else fail "rejection log does not name the unknown target: $line"; fi
expect_eq "invalid config: rows still 2" "$(nrows "$HTTP")" 2
check "invalid config: reload_successful stays 0" metric_is "$HTTP" '==' 0 netcanary_config_last_reload_successful

# a good config again: success (written in place, plus SIGHUP)
config "$HTTP" "$RESP" 3 >"$CFG.tmp" && mv "$CFG.tmp" "$CFG"
kill -HUP "$PID_d"
check "good config after garbage: 3 rows" wait_for 10 "3 rows" rows_are "$HTTP" 3
check "good config after garbage: reload_successful 1" wait_for 5 "reload ok" metric_is "$HTTP" '==' 1 netcanary_config_last_reload_successful

# a row removed by a reload loses its series (no stale verdicts)
config "$HTTP" "$RESP" 1 >"$CFG.tmp" && mv "$CFG.tmp" "$CFG"
kill -HUP "$PID_d"
check "back to 1 row" wait_for 10 "1 row" rows_are "$HTTP" 1
udp_gone() { ! metric "$HTTP" netcanary_expectation_met to=self-udp >/dev/null; }
check "removed row: netcanary_expectation_met{to=self-udp} gone" wait_for 5 "self-udp series gone" udp_gone
no_udp_series() { local s; s=$(scrape "$HTTP") && ! grep -q 'to="self-udp"' <<<"$s"; }
check "removed row: no series with to=\"self-udp\" left" no_udp_series
check "kept row still reported" metric_is "$HTTP" '==' 1 netcanary_expectation_met to=self-tcp

# ------------------------------------------------------------ ConfigMap-style swap, no SIGHUP
CM=$NC_TMP/cm
mkdir -p "$CM/..2026_01_01_a"
config "$HTTP2" "$RESP2" 1 >"$CM/..2026_01_01_a/config.json"
ln -s ..2026_01_01_a "$CM/..data"
ln -s ..data/config.json "$CM/config.json"
nc_start cm "$CM/config.json"
wait_healthy "$HTTP2" "$PID_cm"
expect_eq "configmap: initial rows" "$(nrows "$HTTP2")" 1

mkdir -p "$CM/..2026_01_01_b"
config "$HTTP2" "$RESP2" 2 >"$CM/..2026_01_01_b/config.json"
ln -s ..2026_01_01_b "$CM/..data_tmp"
mv -T "$CM/..data_tmp" "$CM/..data"
rm -rf "$CM/..2026_01_01_a"
log "swapped ..data -> $(readlink "$CM/..data") (no SIGHUP)"
if wait_for 10 "configmap reload to 2 rows" rows_are "$HTTP2" 2; then
        pass "configmap swap reloaded without SIGHUP"
else
        fail "configmap swap: rows = $(nrows "$HTTP2") after 10 s, expected 2"
fi
check "configmap: reload_successful 1" metric_is "$HTTP2" '==' 1 netcanary_config_last_reload_successful

# and a second swap still works (the watch follows the new target)
mkdir -p "$CM/..2026_01_01_c"
config "$HTTP2" "$RESP2" 3 >"$CM/..2026_01_01_c/config.json"
ln -s ..2026_01_01_c "$CM/..data_tmp"
mv -T "$CM/..data_tmp" "$CM/..data"
rm -rf "$CM/..2026_01_01_b"
if wait_for 10 "second configmap reload to 3 rows" rows_are "$HTTP2" 3; then
        pass "second configmap swap reloaded"
else
        fail "second configmap swap: rows = $(nrows "$HTTP2") after 10 s, expected 3"
fi

# ------------------------------------------------------------ SIGTERM
# stop_with_sigterm NAME PID: exit 0 within 3 s
stop_with_sigterm() {
        local name=$1 pid=$2 sig=${3:-TERM} t0 rc
        t0=$(now_ms)
        kill -"$sig" "$pid"
        wait_for 3 "$name to exit after SIG$sig" _exited "$pid"
        if ! _exited "$pid"; then
                fail "$name still running 3 s after SIG$sig"
                return
        fi
        wait "$pid"
        rc=$?
        nc_forget_pid "$pid"
        expect_eq "$name: exit code after SIG$sig" "$rc" 0
        log "$name exited $(( $(now_ms) - t0 )) ms after SIG$sig"
}
stop_with_sigterm d "$PID_d"
stop_with_sigterm cm "$PID_cm" INT   # SIGINT: same contract
check "\"shutting down\" logged" grep -q 'shutting down' "$NC_TMP/d.log"

# SIGTERM while a probe with a long timeout is in flight: still exit 0 within 3 s
start_udp_server PID_silent 127.0.0.1 "$SILENT" silent
cat >"$NC_TMP/slow.json" <<JSON
{
  "agent": { "identity": "slowtest", "listen": "127.0.0.1:$HTTP3", "responder": { "port": 0 } },
  "defaults": { "interval": "20s", "timeout": "15s" },
  "targets": { "silent": { "udp": { "host": "127.0.0.1", "port": $SILENT } } },
  "matrix": [ { "from": "*", "to": "silent", "expect": "deny" } ]
}
JSON
nc_start slow "$NC_TMP/slow.json"
wait_healthy "$HTTP3" "$PID_slow"
in_flight() { metric_is "$HTTP3" '>=' 1 netcanary_probes_in_flight; }
if wait_for 10 "a probe in flight" in_flight; then
        expect_eq "the slow probe has not finished" "$(mq "$HTTP3" '.rows[0].rounds')" 0
        stop_with_sigterm slow "$PID_slow"
else
        fail "netcanary_probes_in_flight never reached 1 ($(metric "$HTTP3" netcanary_probes_in_flight))"
fi

nc_finish
