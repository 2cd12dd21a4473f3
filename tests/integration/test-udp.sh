#!/usr/bin/env bash
# shellcheck disable=SC2154,SC2317 # PID_* are set by nc_start/start_* (printf -v); predicates are called through wait_for/check
# Scenario 4: UDP probes.
#   echo to the responder               -> connected
#   a server answering garbage          -> bad_response (verdict allowed: a packet got through)
#   a server answering the magic with a wrong nonce -> bad_response
#   a closed port (ICMP port unreachable) -> refused
#   a server that never answers         -> timeout
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
nc_init 4

HTTP=$(port 0)
RESP=$(port 1)
GARBAGE=$(port 50)
BADNONCE=$(port 51)
CLOSED=$(port 52)
SILENT=$(port 53)
ECHO=$(port 54)
ports_free "$HTTP" "$RESP" "$GARBAGE" "$BADNONCE" "$CLOSED" "$SILENT" "$ECHO"

start_udp_server PID_garbage 127.0.0.1 "$GARBAGE" garbage
start_udp_server PID_badnonce 127.0.0.1 "$BADNONCE" badnonce
start_udp_server PID_silent 127.0.0.1 "$SILENT" silent
start_udp_server PID_echo 127.0.0.1 "$ECHO" echo

CFG=$NC_TMP/config.json
cat >"$CFG" <<JSON
{
  "agent": { "identity": "udptest", "listen": "127.0.0.1:$HTTP", "responder": { "port": $RESP } },
  "defaults": { "interval": "500ms", "timeout": "250ms", "confirm": 1 },
  "targets": {
    "udp-responder": { "udp": { "host": "127.0.0.1", "port": $RESP } },
    "udp-garbage":   { "udp": { "host": "127.0.0.1", "port": $GARBAGE } },
    "udp-badnonce":  { "udp": { "host": "127.0.0.1", "port": $BADNONCE } },
    "udp-closed":    { "udp": { "host": "127.0.0.1", "port": $CLOSED } },
    "udp-silent":    { "udp": { "host": "127.0.0.1", "port": $SILENT } },
    "udp-echo":      { "udp": { "host": "127.0.0.1", "port": $ECHO } }
  },
  "matrix": [
    { "from": "*", "to": "udp-responder", "expect": "allow" },
    { "from": "*", "to": "udp-garbage",   "expect": "allow" },
    { "from": "*", "to": "udp-badnonce",  "expect": "deny" },
    { "from": "*", "to": "udp-closed",    "expect": "deny" },
    { "from": "*", "to": "udp-silent",    "expect": "deny" },
    { "from": "*", "to": "udp-echo",      "expect": "allow" }
  ]
}
JSON

nc_start d "$CFG"
wait_healthy "$HTTP" "$PID_d"
probed() { mq_true "$HTTP" '(.rows | length) == 6 and ([.rows[].rounds >= 2] | all)'; }
wait_for 15 "every row probed twice" probed || fail "rows not probed: $(matrix "$HTTP" | jq -c .)"

M=$(matrix "$HTTP")
rq() { jq -r --arg t "$1" "[.rows[] | select(.to == \$t)][0] | $2" <<<"$M"; }

expect_eq "udp-responder outcome" "$(rq udp-responder '.addresses[0].outcome')" connected
expect_eq "udp-responder met" "$(rq udp-responder .met)" true
expect_eq "udp-garbage outcome" "$(rq udp-garbage '.addresses[0].outcome')" bad_response
expect_eq "udp-garbage verdict (a packet got through)" "$(rq udp-garbage .verdict)" allowed
expect_eq "udp-garbage met" "$(rq udp-garbage .met)" true
expect_eq "udp-badnonce outcome" "$(rq udp-badnonce '.addresses[0].outcome')" bad_response
expect_eq "udp-badnonce verdict" "$(rq udp-badnonce .verdict)" allowed
expect_eq "udp-badnonce mismatch (deny row, packet got through)" "$(rq udp-badnonce .mismatch)" unexpected_allow
expect_eq "udp-closed outcome" "$(rq udp-closed '.addresses[0].outcome')" refused
expect_eq "udp-closed verdict" "$(rq udp-closed .verdict)" denied
expect_eq "udp-closed met" "$(rq udp-closed .met)" true
expect_eq "udp-silent outcome" "$(rq udp-silent '.addresses[0].outcome')" timeout
expect_eq "udp-silent verdict" "$(rq udp-silent .verdict)" denied
# a plain echo server echoes the datagram unchanged: that is a valid echo
expect_eq "udp-echo outcome" "$(rq udp-echo '.addresses[0].outcome')" connected

S=$(scrape "$HTTP")
mv_() { metric_value "$@" <<<"$S"; }
expect_num "probes_total{udp-responder,connected}" "$(mv_ netcanary_probes_total to=udp-responder protocol=udp outcome=connected)" '>=' 2
expect_num "probes_total{udp-garbage,bad_response}" "$(mv_ netcanary_probes_total to=udp-garbage protocol=udp outcome=bad_response)" '>=' 2
expect_num "probes_total{udp-closed,refused}" "$(mv_ netcanary_probes_total to=udp-closed protocol=udp outcome=refused)" '>=' 2
expect_num "probes_total{udp-silent,timeout}" "$(mv_ netcanary_probes_total to=udp-silent protocol=udp outcome=timeout)" '>=' 2
expect_num "mismatches_total{udp-badnonce,unexpected_allow}" "$(mv_ netcanary_mismatches_total to=udp-badnonce mismatch=unexpected_allow)" '>=' 2
expect_eq "expectation_met{udp-closed}" "$(mv_ netcanary_expectation_met to=udp-closed protocol=udp expect=deny)" 1
expect_eq "expectation_met{udp-badnonce}" "$(mv_ netcanary_expectation_met to=udp-badnonce expect=deny)" 0
conn_garbage=$(mv_ netcanary_probes_total to=udp-garbage outcome=connected || echo 0)
expect_eq "probes_total{udp-garbage,connected} (garbage is never an echo)" "${conn_garbage:-0}" 0

# The responder itself: it echoes exactly the well-formed 24-byte datagram and
# stays silent on anything else (no reflection of arbitrary payloads).
need_python
if "$PY" - "$RESP" >"$NC_TMP/responder.check" 2>&1 <<'PYEOF'
import socket, sys
port = int(sys.argv[1])
def ask(payload, fam=socket.AF_INET, host="127.0.0.1"):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    s.connect((host, port))
    s.send(payload)
    try:
        return s.recv(4096)
    except socket.timeout:
        return None
    finally:
        s.close()
good = b"NCANARY1" + bytes(range(16))
r = ask(good)
assert r == good, "well-formed echo request got %r" % (r,)
r = ask(good, socket.AF_INET6, "::1")
assert r == good, "well-formed echo request over ::1 got %r" % (r,)
for bad in (b"hello", b"NCANARY1" + bytes(15), b"NCANARY1" + bytes(17), b"NCANARY2" + bytes(16), b"x" * 1400):
    r = ask(bad)
    assert r is None, "responder answered a malformed datagram %r with %r" % (bad[:30], r)
print("ok")
PYEOF
then
        pass "responder echoes only well-formed 24-byte NCANARY1 datagrams"
else
        fail "responder UDP echo: $(cat "$NC_TMP/responder.check")"
fi

check "daemon still running" _alive "$PID_d"
nc_finish
