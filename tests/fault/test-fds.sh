#!/usr/bin/env bash
# Fault: fd exhaustion (issue 10, Robustness: "fd exhaustion (ulimit -n far
# below the row count) gives local_error outcomes and recovers when fds free
# up").
#
# netcanary runs with `ulimit -n 40` and 200 rows, interval 1s: 100 TCP rows to
# its own responder on 127.0.0.1 (expect allow) and 100 UDP rows to a silent
# UDP port (expect deny: each probe holds its socket until the 900 ms timeout,
# so about 90 sockets are wanted at once; TCP probes to the responder alone
# finish in microseconds and would never run out of fds). Expected while
# starved:
#   - netcanary_probes_total{outcome="local_error"} grows (a socket that cannot
#     be made is a local error, never a verdict about the network), and the log
#     names the cause;
#   - process_max_fds is 40 and process_open_fds never exceeds it;
#   - /healthz keeps answering 200 and /metrics keeps rendering;
#   - the daemon does not spin: accept() failing with EMFILE on a
#     level-triggered listening socket (responder, HTTP) must not burn a core;
#   - no mismatch is counted because of it (local_error is inconclusive).
# Raising the limit of a running process is not possible from here, so
# recovery is shown by reloading (SIGHUP) a config with 5 rows: local_error
# stops growing and every row becomes met. (Opening the new config needs an
# fd as well: a reload rejected with "Too many open files" is retried.)
# Ports: 127.0.0.1:19400 (HTTP), 19401 (responder), 19402 (silent UDP).
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
# The fault suite's block is 127.0.0.1:19400-19499: 2,000 below the blocks of
# lib.sh (NCTEST_PORT_BASE, default 21000), and moved along with them.
NCTEST_PORT_BASE=$((${NCTEST_PORT_BASE:-21000} - 2000))
nc_init 4

HTTP=$(port 0)
RESP=$(port 1)
SILENT=$(port 2)
ROWS=200
LIMIT=40
ports_free "$HTTP" "$RESP" "$SILENT"
start_udp_server SILENT_PID 127.0.0.1 "$SILENT" silent

# config N: N rows, one target each: even rows TCP to the responder (allow),
# odd rows UDP to the silent port (deny).
config() {
        local n=$1 i sep="" targets="" rows=""
        for ((i = 0; i < n; i++)); do
                if ((i % 2 == 0)); then
                        targets+=$(printf '%s    "t%03d": { "tcp": { "host": "127.0.0.1", "port": %d } }' "$sep" "$i" "$RESP")
                        rows+=$(printf '%s    { "from": "*", "to": "t%03d", "expect": "allow" }' "$sep" "$i")
                else
                        targets+=$(printf '%s    "t%03d": { "udp": { "host": "127.0.0.1", "port": %d } }' "$sep" "$i" "$SILENT")
                        rows+=$(printf '%s    { "from": "*", "to": "t%03d", "expect": "deny" }' "$sep" "$i")
                fi
                sep=$',\n'
        done
        cat <<JSON
{
  "agent": { "identity": "fdtest", "listen": "127.0.0.1:$HTTP", "responder": { "port": $RESP } },
  "defaults": { "interval": "1s", "timeout": "900ms", "confirm": 1 },
  "targets": {
$targets
  },
  "matrix": [
$rows
  ]
}
JSON
}

# Sum of every series of NAME carrying label=value pairs (0 when none).
metric_sum() {
        local p=$1 name=$2 s
        shift 2
        s=$(scrape "$p") || return 1
        local want="" kv
        for kv in "$@"; do want+="${kv%%=*}=\"${kv#*=}\""$'\034'; done
        awk -v name="$name" -v want="$want" '
                BEGIN { n = split(want, w, "\034"); n--; sum = 0 }
                /^#/ || NF == 0 { next }
                {
                        b = index($0, "{"); sp = index($0, " ")
                        if (b > 0 && b < sp) { mname = substr($0, 1, b - 1); lbl = "," substr($0, b + 1, index($0, "} ") - b - 1) "," }
                        else { mname = substr($0, 1, sp - 1); lbl = ",," }
                        if (mname != name) next
                        for (k = 1; k <= n; k++) if (index(lbl, "," w[k] ",") == 0) next
                        sum += $NF
                }
                END { printf "%.0f\n", sum }' <<<"$s"
}

# CPU seconds (user + system) the process used so far.
cpu_seconds() {
        awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null
}

CFG=$NC_TMP/config.json
config "$ROWS" >"$CFG"
jq -e '.matrix | length' "$CFG" >/dev/null 2>&1 || fatal "generated config is not valid JSON"
expect_eq "rows in the starved config" "$(jq '.matrix | length' "$CFG")" "$ROWS"

# The limit applies to the exec'd daemon only.
(
        ulimit -n "$LIMIT" || exit 97
        exec "$NETCANARY" run --config "$CFG" --log-level debug
) >"$NC_TMP/d.log" 2>&1 &
PID_d=$!
NC_PIDS+=("$PID_d")
log "started netcanary pid $PID_d with ulimit -n $LIMIT and $ROWS rows"
wait_healthy "$HTTP" "$PID_d"

# ---------------------------------------------------------------- starved
check "process_max_fds is $LIMIT" metric_is "$HTTP" '==' "$LIMIT" process_max_fds
le_grows() { num '>' "$(metric_sum "$HTTP" netcanary_probes_total outcome=local_error)" "$1"; }
if wait_for 15 "local_error outcomes" le_grows 0; then
        pass "local_error outcomes counted ($(metric_sum "$HTTP" netcanary_probes_total outcome=local_error))"
else
        fail "no local_error outcome within 15 s with $ROWS rows and ulimit -n $LIMIT"
fi
le1=$(metric_sum "$HTTP" netcanary_probes_total outcome=local_error)
cpu1=$(cpu_seconds "$PID_d")
t1=$(now_ms)
# Health while starved: every try within 8 s must answer (each curl has 5 s).
healthy=0 tries=0 max_open=0 slowest=0
deadline=$(($(now_ms) + 8000))
while (($(now_ms) < deadline)); do
        tries=$((tries + 1))
        h0=$(now_ms)
        if _healthz_ok "$HTTP"; then healthy=$((healthy + 1)); fi
        (($(now_ms) - h0 > slowest)) && slowest=$(($(now_ms) - h0))
        o=$(metric "$HTTP" process_open_fds 2>/dev/null) && ((${o%.*} > max_open)) && max_open=${o%.*}
        sleep 0.3
done
expect_eq "/healthz answered 200 every time while starved" "$healthy/$tries" "$tries/$tries"
log "slowest /healthz while starved: ${slowest} ms"
if ((max_open == 0)); then fail "process_open_fds: no sample while starved (/metrics did not answer)"; else
        expect_num "process_open_fds never above the limit" "$max_open" '<=' "$LIMIT"
fi
le2=$(metric_sum "$HTTP" netcanary_probes_total outcome=local_error)
expect_num "local_error keeps growing while starved" "$le2" '>' "$le1"
cpu2=$(cpu_seconds "$PID_d")
t2=$(now_ms)
# Share of one core used while starved (a spin on EMFILE is ~1.0).
cpu_share=$(awk -v a="$cpu1" -v b="$cpu2" -v t="$((t2 - t1))" 'BEGIN { printf "%.2f", (b - a) / (t / 1000) }')
log "CPU while starved: $cpu_share of a core ($ROWS rows/s)"
expect_num "no busy loop while starved (share of a core)" "$cpu_share" '<' 0.5
expect_eq "no mismatch counted for local errors" "$(metric_sum "$HTTP" netcanary_mismatches_total)" 0
check "/metrics renders while starved" metric "$HTTP" netcanary_config_last_reload_successful
check "daemon alive while starved" _alive "$PID_d"
check "local errors are logged" grep -q 'local_error' "$NC_TMP/d.log"
# The cause is told: /api/v1/matrix gives each address's error text.
emfile_shown() { matrix "$HTTP" | grep -q 'Too many open files'; }
check "/api/v1/matrix names the cause (\"Too many open files\")" wait_for 10 "EMFILE in the matrix" emfile_shown

# ---------------------------------------------------------------- recovery
# Reading the new config needs an fd too: while starved, a reload may be
# rejected with EMFILE (and must say so); SIGHUP again until it applies.
config 5 >"$CFG.tmp" && mv "$CFG.tmp" "$CFG"
rows_are() { [[ $(mq "$HTTP" '.rows | length' 2>/dev/null) == "$1" ]]; }
rej0=$(grep -c 'config reload rejected' "$NC_TMP/d.log")
attempts=0
while ((attempts < 10)) && ! rows_are 5; do
        attempts=$((attempts + 1))
        kill -HUP "$PID_d"
        wait_for 2 "5 rows" rows_are 5 && break
done
if rows_are 5; then pass "reload to 5 rows (SIGHUP sent $attempts time(s))"; else fail "reload to 5 rows: still $(mq "$HTTP" '.rows | length') rows after $attempts SIGHUPs"; fi
rejected=$(grep 'config reload rejected' "$NC_TMP/d.log" | tail -n +$((rej0 + 1)))
if [[ -n $rejected ]]; then
        log "reloads rejected while starved: $(wc -l <<<"$rejected")"
        if grep -qv 'Too many open files' <<<"$rejected"; then
                fail "a reload was rejected for another reason than EMFILE: $(grep -v 'Too many open files' <<<"$rejected" | head -n 1)"
        else
                pass "every rejected reload said why (Too many open files)"
        fi
fi
all_met() { mq_true "$HTTP" '(.rows | length) == 5 and all(.rows[]; .met == true)'; }
if wait_for 15 "all 5 rows met" all_met; then pass "after the reload every row is met"; else
        fail "rows not met after the reload: $(mq "$HTTP" '[.rows[] | {to, met, observed, addresses: [.addresses[]?.outcome]}]' 2>/dev/null | tr -d '\n ')"
fi
# Two intervals for any probe started before the reload to finish.
sleep 2.5
le3=$(metric_sum "$HTTP" netcanary_probes_total outcome=local_error)
sleep 3.5
le4=$(metric_sum "$HTTP" netcanary_probes_total outcome=local_error)
if [[ -z $le3 || -z $le4 ]]; then fail "local_error after the reload: /metrics did not answer"; else
        expect_eq "local_error stopped growing after the reload" "$le4" "$le3"
fi
ok4=$(metric_sum "$HTTP" netcanary_probes_total outcome=connected)
sleep 2.2
expect_num "rows keep being probed (connected grows)" "$(metric_sum "$HTTP" netcanary_probes_total outcome=connected)" '>' "$ok4"
check "/healthz 200 after recovery" _healthz_ok "$HTTP"
check "daemon alive at the end" _alive "$PID_d"

nc_finish
