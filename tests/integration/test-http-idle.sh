#!/usr/bin/env bash
# shellcheck disable=SC2154,SC2317 # PID_* are set by nc_start (printf -v); predicates are called through check
# Idle connections must not starve /healthz (issue "Ship it", §3): one client
# holding connections to the metrics port open without sending anything used
# to fill libmicrohttpd's 64 slots for 10 s each, and the kubelet, finding
# /healthz unanswered, would kill the agent. Under nofile 1024, as in the
# container:
#   1. 300 idle connections from 127.0.0.2, reopened as the server closes them:
#      /healthz from 127.0.0.1 answers 200 within 2 s, again and again, and
#      /metrics is scraped; most of the 300 are closed at once (per-address
#      cap), none lives past the head timeout.
#   2. 300 idle connections from ten addresses (30 each, under the
#      per-address cap): all are accepted (the total cap leaves room for
#      /healthz beside them) and the server closes every one of them after
#      the 2 s head timeout.
#   3. The caps at N and N+1: 32 connections from one address are held, the
#      33rd is closed at once; 384 from twelve addresses are held, the 385th
#      (and a /healthz) waits until the head timeout frees slots, and is
#      served promptly then.
#   4. A partial request head is closed after the head timeout; a kept-alive
#      connection that was answered gets the 10 s timeout.
# Clients bind source addresses 127.0.0.x explicitly (tests/integration/
# idle-clients.py, http-get.py); every connection is closed at the end.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
nc_init 3

# The daemon's caps (src/httpd.c).
PER_IP=32
TOTAL=384
HEAD_TIMEOUT=2

# Ports 21370-21379 of block 3 (test-netns-timeout.sh uses 50-52 and 90).
HTTP=$(port 70)
CLOSED=$(port 71)
ports_free "$HTTP" "$CLOSED"
need_python
ulimit -n 1024 || fatal "cannot set nofile 1024"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

CFG=$NC_TMP/config.json
cat >"$CFG" <<JSON
{
  "agent": { "identity": "idletest", "listen": "127.0.0.1:$HTTP", "responder": { "port": 0 } },
  "defaults": { "interval": "1s", "timeout": "500ms" },
  "targets": { "closed": { "tcp": { "host": "127.0.0.1", "port": $CLOSED } } },
  "matrix": [ { "from": "*", "to": "closed", "expect": "deny" } ]
}
JSON
nc_start d "$CFG"
wait_healthy "$HTTP" "$PID_d"
expect_eq "the daemon runs with nofile 1024" "$(awk '/Max open files/ { print $4 }' "/proc/$PID_d/limits")" 1024

# idle_start NAME HOLD_S [--reopen S] GROUP...: idle-clients.py in the
# background; waits until its connections are established.
idle_start() {
        local name=$1
        shift
        rm -f "$NC_TMP/$name.ready" "$NC_TMP/$name.json"
        "$PY" "$here/idle-clients.py" "$HTTP" "$NC_TMP/$name.ready" "$NC_TMP/$name.json" "$@" \
                >"$NC_TMP/$name.out" 2>&1 &
        IDLE_PID=$!
        NC_HELPERS+=("$IDLE_PID")
        wait_for 15 "idle clients $name" _helper_ready "$NC_TMP/$name.ready" "$IDLE_PID" ||
                fatal "idle clients $name never got their connections up"
        [[ -e $NC_TMP/$name.ready ]] || fatal "idle clients $name died: $(cat "$NC_TMP/$name.out")"
}

# idle_wait NAME: waits (bounded) for the helper to end; its result is $NC_TMP/NAME.json.
idle_wait() {
        local deadline=$(($(now_ms) + 40000))
        while kill -0 "$IDLE_PID" 2>/dev/null && (($(now_ms) < deadline)); do sleep 0.1; done
        wait "$IDLE_PID" 2>/dev/null
        nc_forget_pid "$IDLE_PID"
        [[ -s $NC_TMP/$1.json ]] || fatal "idle clients $1 left no result: $(cat "$NC_TMP/$1.out")"
}

# get SRC PATH TIMEOUT: http-get.py's JSON line.
get() { "$PY" "$here/http-get.py" "$1" "$HTTP" "$2" "$3"; }

# jqr NAME FILTER: jq -r on a helper's result.
jqr() { jq -r "$2" "$NC_TMP/$1.json"; }

# ---- 1. one address, 300 idle connections kept up
idle_start one 6 --reopen 0.5 127.0.0.2:300
ok=0 slow=""
for i in 1 2 3 4 5 6 7 8; do
        r=$(get 127.0.0.1 /healthz 2)
        if [[ $(jq -r .status <<<"$r") == 200 ]]; then
                ok=$((ok + 1))
        else
                slow+=" #$i"
        fi
        sleep 0.4
done
expect_eq "/healthz from 127.0.0.1 answered 200 within 2 s while 127.0.0.2 holds idle connections (8 tries)" \
        "$ok${slow:+ (failed:$slow)}" 8
r=$(get 127.0.0.1 /metrics 5)
if [[ $(jq -r .status <<<"$r") == 200 ]] && (($(jq -r .bytes <<<"$r") > 1000)); then
        pass "/metrics scraped from 127.0.0.1 meanwhile ($(jq -r .bytes <<<"$r") bytes)"
else
        fail "/metrics from 127.0.0.1 meanwhile: $r"
fi
idle_wait one
expect_num "connections the server closed at once (over the per-address cap)" \
        "$(jqr one '[.groups[0].conns[] | select(.[1] != null and .[1] - .[0] < 0.5)] | length')" ">=" $((300 - PER_IP))
# lifetimes NAME GROUP: seconds from established to closed by the server (to
# the end of the run for those still open), one per line.
lifetimes() { jqr "$1" ".ended as \$e | .groups[$2].conns[] | ((.[1] // \$e) - .[0])"; }
expect_eq "connections that outlived the ${HEAD_TIMEOUT} s head timeout by 2 s" \
        "$(lifetimes one 0 | awk -v t=$((HEAD_TIMEOUT + 2)) '$1 > t' | wc -l)" 0
check "the daemon is alive after 1" _alive "$PID_d"

# ---- 2. ten addresses, 30 idle connections each: all accepted, all closed after the head timeout
groups=()
for i in $(seq 3 12); do groups+=("127.0.0.$i:30"); done
idle_start ten 7 "${groups[@]}"
r=$(get 127.0.0.1 /healthz 2)
expect_eq "/healthz from 127.0.0.1 answered within 2 s beside 300 idle connections" "$(jq -r .status <<<"$r")" 200
idle_wait ten
expect_eq "idle connections established" "$(jqr ten '[.groups[].opened] | add')/$(jqr ten .connect_failures)" "300/0"
expect_eq "/healthz answered while all 300 were still open" \
        "$(jqr ten "$(jq -r .end <<<"$r") as \$t | [.groups[].conns[] | select(.[1] != null and .[1] <= \$t)] | length")" 0
all=$(for g in $(seq 0 9); do lifetimes ten "$g"; done)
expect_eq "idle connections closed by the server between ${HEAD_TIMEOUT} s and $((HEAD_TIMEOUT + 2)) s" \
        "$(awk -v lo="$HEAD_TIMEOUT" -v hi=$((HEAD_TIMEOUT + 2)) '$1 >= lo - 0.1 && $1 <= hi' <<<"$all" | wc -l)" 300
log "lifetimes of the 300: $(sort -n <<<"$all" | awk 'NR == 1 { min = $1 } { max = $1 } END { printf "%.2f-%.2f s", min, max }')"
check "the daemon is alive after 2" _alive "$PID_d"

# ---- 3a. the per-address cap at N and N+1
idle_start perip 4 "127.0.0.13:$PER_IP" 127.0.0.13:1
idle_wait perip
expect_eq "$PER_IP connections from one address: held until the head timeout" \
        "$(lifetimes perip 0 | awk -v lo="$HEAD_TIMEOUT" '$1 >= lo - 0.1' | wc -l)" "$PER_IP"
expect_eq "connection $((PER_IP + 1)) from that address: closed at once" \
        "$(lifetimes perip 1 | awk '$1 < 0.5' | wc -l)" 1

# ---- 3b. the total cap at N and N+1
groups=()
for i in $(seq 20 $((20 + TOTAL / PER_IP - 1))); do groups+=("127.0.0.$i:$PER_IP"); done
idle_start total 8 "${groups[@]}" 127.0.0.40:1
r=$(get 127.0.0.1 /healthz 6)
idle_wait total
n=$((TOTAL / PER_IP))
expect_eq "$TOTAL idle connections from $n addresses established" \
        "$(jqr total "[.groups[0:$n][].opened] | add")/$(jqr total .connect_failures)" "$TOTAL/0"
first_close=$(jqr total "[.groups[0:$n][].conns[][1] | select(. != null)] | min")
expect_eq "all $TOTAL held until the head timeout" \
        "$(for g in $(seq 0 $((n - 1))); do lifetimes total "$g"; done | awk -v lo="$HEAD_TIMEOUT" '$1 >= lo - 0.1' | wc -l)" "$TOTAL"
# Connection N+1 waited in the listen backlog: accepted once slots freed,
# then closed by its own head timeout.
expect_num "connection $((TOTAL + 1)) closed by the server after the first slot freed + the head timeout" \
        "$(jqr total ".groups[$n].conns[0][1] // 0")" ">=" "$(awk -v f="$first_close" -v t="$HEAD_TIMEOUT" 'BEGIN { print f + t - 0.1 }')"
expect_eq "/healthz beside $TOTAL held connections: answered" "$(jq -r .status <<<"$r")" 200
# Not before a slot freed, and promptly then (not when a 1 s timer fires).
health_after=$(jq -r .end <<<"$r" | awk -v f="$first_close" '{ printf "%.3f", $1 - f }')
expect_num "/healthz beside $TOTAL held connections: answered once the first slot freed (s after)" \
        "$health_after" ">=" -0.05
expect_num "/healthz beside $TOTAL held connections: answered promptly then (s after)" "$health_after" "<=" 0.5
check "the daemon is alive after 3" _alive "$PID_d"
check "/healthz answers at the end" _healthz_ok "$HTTP"

# ---- 4. which timeout when: a partial head gets the head timeout; once a
# whole request was read, a kept-alive connection gets 10 s of silence.
r=$("$PY" - "$HTTP" <<'EOF2'
import json, socket, sys, time
port = int(sys.argv[1])
def conn():
    s = socket.socket()
    s.bind(("127.0.0.50", 0))
    s.settimeout(20)
    s.connect(("127.0.0.1", port))
    return s
partial, keep = conn(), conn()
partial.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
t_partial = time.monotonic()
keep.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
answer = b""
while b"\r\n\r\nok" not in answer:
    chunk = keep.recv(4096)
    if not chunk:
        break
    answer += chunk
t_keep = time.monotonic()
out = {"answer": answer.split(b"\r\n", 1)[0].decode(errors="replace")}
for name, s, t in (("partial", partial, t_partial), ("keep", keep, t_keep)):
    try:
        while s.recv(4096):
            pass
    except (ConnectionResetError, socket.timeout):
        pass
    out[name] = round(time.monotonic() - t, 2)
    s.close()
print(json.dumps(out))
EOF2
)
expect_eq "a kept-alive request answered" "$(jq -r .answer <<<"$r")" "HTTP/1.1 200 OK"
expect_num "a partial request head: closed by the server after (s)" "$(jq -r .partial <<<"$r")" ">=" "$(awk -v t="$HEAD_TIMEOUT" 'BEGIN { print t - 0.1 }')"
expect_num "a partial request head: closed by the server before (s)" "$(jq -r .partial <<<"$r")" "<=" $((HEAD_TIMEOUT + 2))
expect_num "a kept-alive connection after its answer: closed after (s)" "$(jq -r .keep <<<"$r")" ">=" 9.5
expect_num "a kept-alive connection after its answer: closed before (s)" "$(jq -r .keep <<<"$r")" "<=" 12

# A clean stop, and in a sanitizer build no report (ASan, LeakSanitizer, UBSan).
kill -TERM "$PID_d"
deadline=$(($(now_ms) + 10000))
while _alive "$PID_d" && (($(now_ms) < deadline)); do sleep 0.05; done
wait "$PID_d"
expect_eq "exit status after SIGTERM" "$?" 0
nc_forget_pid "$PID_d"
if grep -E "Sanitizer|runtime error" "$NC_TMP/d.log" >&2; then
        fail "sanitizer report in the daemon's log"
else
        pass "no sanitizer report in the daemon's log"
fi

nc_finish
