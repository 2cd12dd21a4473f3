#!/usr/bin/env bash
# HTTP servers that connect but do not answer as they should, with
# `netcanary once --format json`:
#   a slow server (answers after 3 s, the row's timeout is 500 ms)
#                      -> bad_response, NOT timeout: the TCP connection was
#                         made, so the network let the probe through (verdict
#                         allowed); an allow row is met, a deny row is
#                         unexpected_allow. `timeout` is kept for probes that
#                         never got a TCP connection (contract §1).
#   a server that closes mid-response (Content-Length 1000, 10 bytes, close)
#                      -> bad_response, the log says why
#   a server that accepts and closes without a word -> bad_response
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
http_init 1

HP=$(port 0)
LISTEN=$(port 1)
SILENT=$(port 2)
start_server "$HP"
start_tcp_listener PID_acc 127.0.0.1 "$SILENT"
H=http://127.0.0.1:$HP

TARGETS=$(
        cat <<JSON
{
  "slow":      { "http": { "url": "$H/slow" } },
  "slow-deny": { "http": { "url": "$H/slow?deny" } },
  "cut":       { "http": { "url": "$H/cut" } },
  "cut-deny":  { "http": { "url": "$H/cut?deny" } },
  "hangup":    { "http": { "url": "http://127.0.0.1:$SILENT/" } },
  "ok":        { "http": { "url": "$H/ok" } }
}
JSON
)
CFG=$NC_TMP/slow.json
write_config "$CFG" "$LISTEN" 2s "$TARGETS" '[
  { "from": "*", "to": "slow",      "expect": "allow", "timeout": "500ms" },
  { "from": "*", "to": "slow-deny", "expect": "deny",  "timeout": "500ms" },
  { "from": "*", "to": "cut",       "expect": "allow" },
  { "from": "*", "to": "cut-deny",  "expect": "deny" },
  { "from": "*", "to": "hangup",    "expect": "allow" },
  { "from": "*", "to": "ok",        "expect": "allow" }
]'
t0=$(now_ms)
nc_once "$CFG"
elapsed=$(($(now_ms) - t0))
expect_eq "once: exit code (two deny rows answered)" "$RC" 1

# slow: connected at TCP level, no full answer before the timeout
expect_row slow bad_response allowed true none
expect_row slow-deny bad_response allowed false unexpected_allow
d=$(ofield slow '.addresses[0].duration_seconds')
expect_num "slow: duration_seconds reaches the 500 ms timeout" "$d" '>=' 0.45
expect_num "slow: duration_seconds stops at the timeout (not the server's 3 s)" "$d" '<' 1.5
expect_num "once with a slow server returns before the server answers (ms)" "$elapsed" '<' 2900
check "the server got the slow request" served '^GET /slow '
check "log: slow row says why (no complete response / timeout)" \
        grep -Eiq 'msg="http probe failed".* to=slow .*outcome=bad_response.*reason="[^"]*(timeout|timed out)' "$ONCE.err"

# cut: headers promise 1000 bytes, 10 arrive, the server closes
expect_row cut bad_response allowed true none
expect_row cut-deny bad_response allowed false unexpected_allow
check "log: cut row says why (status 200, a non-empty reason)" \
        grep -Eq 'msg="http probe failed".* to=cut .*outcome=bad_response.*status=200.*reason="[^"]+"' "$ONCE.err"
log "cut reason: $(grep -Eo 'to=cut .*' "$ONCE.err" | head -1)"

# accept, then close without an answer
expect_row hangup bad_response allowed true none

# and the healthy row in the same round is unaffected
expect_row ok connected allowed true none
expect_num "ok: duration_seconds" "$(ofield ok '.addresses[0].duration_seconds')" '<' 0.45

nc_finish
