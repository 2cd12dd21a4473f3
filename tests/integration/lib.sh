# shellcheck shell=bash
# shellcheck disable=SC2317 # helpers are called through wait_for/check
# Shared helpers for netcanary's loopback integration tests (contract §7.2).
#
# Each test script sources this file and calls `nc_init K`, which claims the
# port block 21K00-21K99 on 127.0.0.1/::1 (so scripts run in parallel;
# NCTEST_PORT_BASE=29000 moves the blocks to 29K00-29K99), makes a
# private temporary directory and installs a cleanup trap that stops every
# daemon and helper the script started, deletes every network namespace it
# registered, and removes the temporary directory.
#
# Conventions:
#   fail MSG         records a failure and goes on (the script exits 1 at the end)
#   fatal MSG        records a failure and stops the script now
#   skip MSG         exits 77 (meson: skipped)
#   wait_for S DESC CMD...   polls CMD every 100 ms until it succeeds or S seconds pass
# Every wait is bounded by a deadline; nothing sleeps and hopes.

set -uo pipefail

NC_FAILS=0
NC_TMP=""
NC_BASE=0
NC_PIDS=()      # daemons we started
NC_HELPERS=()   # helper servers (python3) we started
NC_AS=()        # prefix that runs daemons as uid 65534 (NC_AS_NOBODY=1, set in nc_init)
NC_NETNS=()     # network namespaces we created
PY=/usr/bin/python3
NC_CURL=(curl -sS --max-time 5 --noproxy '*')

log() { printf '[%s] %s\n' "$(date +%H:%M:%S.%3N)" "$*" >&2; }
pass() { log "ok:   $*"; }
fail() { log "FAIL: $*"; NC_FAILS=$((NC_FAILS + 1)); }
fatal() { log "FATAL: $*"; NC_FAILS=$((NC_FAILS + 1)); exit 1; }
skip() { log "SKIP: $*"; exit 77; }

# Milliseconds on the monotonic-ish clock we have in bash (only for deadlines).
now_ms() { local t; t=$(date +%s%N); echo $((t / 1000000)); }

nc_init() {
        local k=$1
        # The block is 21K00-21K99; NCTEST_PORT_BASE (default 21000) moves every
        # block at once, for hosts where another checkout runs the same suite.
        local base=${NCTEST_PORT_BASE:-21000}
        if ! [[ $base =~ ^[0-9]+$ ]] || ((base < 1024 || base > 64500)); then
                fatal "NCTEST_PORT_BASE=$base: want 1024..64500"
        fi
        NC_BASE=$((base + k * 100))
        if [[ -z ${NETCANARY:-} ]]; then
                fatal "NETCANARY is not set (path of the netcanary binary)"
        fi
        [[ -x $NETCANARY ]] || fatal "NETCANARY=$NETCANARY is not executable"
        local t
        for t in curl jq awk; do
                command -v "$t" >/dev/null 2>&1 || fatal "required tool '$t' not found (apt-get install $t)"
        done
        NC_TMP=$(mktemp -d "${TMPDIR:-/tmp}/nctest-$(basename "$0" .sh)-$$-XXXXXX") || fatal "mktemp failed"
        # Daemons run as nobody (NC_AS_NOBODY=1, see nc_start): they must read our
        # configs and reach the binary (a checkout under /root is not reachable).
        NC_AS=()
        if [[ ${NC_AS_NOBODY:-} == 1 && $EUID == 0 ]] && command -v setpriv >/dev/null 2>&1; then
                chmod 755 "$NC_TMP"
                local drop=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all --)
                if "${drop[@]}" test -x "$NETCANARY"; then
                        NC_AS=("${drop[@]}")
                else
                        log "note: uid 65534 cannot reach $NETCANARY; daemons run as root here"
                fi
        fi
        trap nc_cleanup EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
        log "test $(basename "$0"): ports $NC_BASE-$((NC_BASE + 99)), tmp $NC_TMP, binary $NETCANARY"
}

# port N -> the N-th port of this script's block (0..99).
port() { echo $((NC_BASE + $1)); }

# ports_free P...: fatal (with who holds it) when another process already
# listens on / binds one of these ports, so such a clash is not mistaken for
# a netcanary bug.
ports_free() {
        command -v ss >/dev/null 2>&1 || return 0
        local socks p busy=()
        socks=$(ss -Hlntu 2>/dev/null | awk '{ print $5 }')
        for p in "$@"; do
                if grep -qE "[:.]$p\$" <<<"$socks"; then busy+=("$p"); fi
        done
        ((${#busy[@]} == 0)) && return 0
        fatal "port(s) ${busy[*]} of block $NC_BASE already in use by another process (not a netcanary bug): $(ss -Hlntup 2>/dev/null | grep -E ":($(IFS='|'; echo "${busy[*]}"))[[:space:]]" | tr -s ' ' | tr '\n' ';')"
}

need_python() {
        [[ -x $PY ]] || fatal "$PY not found"
}

# Stops the given pids: SIGTERM, wait up to 3 s, then SIGKILL.
# NC_STOP_GRACE_MS (default 3000) is that wait, longer under valgrind.
nc_stop_pids() {
        local pid deadline
        for pid in "$@"; do kill -TERM "$pid" 2>/dev/null; done
        deadline=$(($(now_ms) + ${NC_STOP_GRACE_MS:-3000}))
        for pid in "$@"; do
                while kill -0 "$pid" 2>/dev/null && (($(now_ms) < deadline)); do sleep 0.05; done
                kill -KILL "$pid" 2>/dev/null
                wait "$pid" 2>/dev/null
        done
        return 0
}

nc_dump_logs() {
        local f
        [[ -n $NC_TMP && -d $NC_TMP ]] || return 0
        for f in "$NC_TMP"/*.log; do
                [[ -e $f ]] || continue
                echo "----- last lines of $(basename "$f") -----" >&2
                tail -n 40 "$f" >&2
        done
}

nc_cleanup() {
        local rc=$?
        trap - EXIT INT TERM
        if ((rc != 0 && rc != 77)); then nc_dump_logs; fi
        nc_stop_pids "${NC_PIDS[@]}" "${NC_HELPERS[@]}"
        local ns
        for ns in "${NC_NETNS[@]}"; do
                ip netns pids "$ns" 2>/dev/null | while read -r p; do kill -KILL "$p" 2>/dev/null; done
                ip netns del "$ns" 2>/dev/null
        done
        if [[ -n $NC_TMP && -d $NC_TMP ]]; then rm -rf "$NC_TMP"; fi
        exit "$rc"
}

# nc_finish: the last line of every test.
nc_finish() {
        if ((NC_FAILS > 0)); then
                log "$(basename "$0"): $NC_FAILS check(s) FAILED"
                exit 1
        fi
        log "$(basename "$0"): all checks passed"
        exit 0
}

# ---------------------------------------------------------------- waiting

# wait_for SECONDS DESCRIPTION CMD [ARGS...]
wait_for() {
        local secs=$1 desc=$2
        shift 2
        local deadline=$(($(now_ms) + secs * 1000)) i=0 max=$((secs * 10 + 10))
        while ((i < max)); do
                if "$@"; then return 0; fi
                if (($(now_ms) >= deadline)); then break; fi
                sleep 0.1
                i=$((i + 1))
        done
        log "timed out after ${secs}s waiting for: $desc"
        return 1
}

# ---------------------------------------------------------------- daemons

# nc_start NAME CONFIG [EXTRA ARGS...]: starts `netcanary run` in the
# background, log in $NC_TMP/NAME.log, pid in the variable PID_NAME.
nc_start() {
        local name=$1 cfg=$2
        shift 2
        # NC_AS_NOBODY=1 (the integration suite): as root, run the daemon as uid
        # 65534 with every capability dropped, which it must not need (NC_AS, nc_init).
        "${NC_AS[@]}" "$NETCANARY" run --config "$cfg" --log-level debug "$@" >"$NC_TMP/$name.log" 2>&1 &
        local pid=$!
        NC_PIDS+=("$pid")
        printf -v "PID_$name" '%s' "$pid"
        log "started netcanary '$name' pid $pid (config $cfg $*)"
}

# expect_unprivileged PID: with NC_AS_NOBODY=1 as root, the daemon runs as
# uid 65534 with no effective capability (it needs none).
expect_unprivileged() {
        [[ ${#NC_AS[@]} -gt 0 ]] || return 0
        expect_eq "daemon pid $1 runs as uid 65534" "$(awk '/^Uid:/ {print $2}' "/proc/$1/status")" 65534
        expect_eq "daemon pid $1 has no effective capability" "$(awk '/^CapEff:/ {print $2}' "/proc/$1/status")" \
                0000000000000000
}

# Forget a pid we already reaped ourselves.
nc_forget_pid() {
        local pid=$1 i
        for i in "${!NC_PIDS[@]}"; do
                [[ ${NC_PIDS[$i]} == "$pid" ]] && unset 'NC_PIDS[i]'
        done
        for i in "${!NC_HELPERS[@]}"; do
                [[ ${NC_HELPERS[$i]} == "$pid" ]] && unset 'NC_HELPERS[i]'
        done
        return 0
}

url() { echo "http://127.0.0.1:$1$2"; }

# http_code PORT PATH [CURL ARGS...]
http_code() {
        local p=$1 path=$2
        shift 2
        "${NC_CURL[@]}" -o /dev/null -w '%{http_code}' "$@" "$(url "$p" "$path")" 2>/dev/null
}

_healthz_ok() { [[ $(http_code "$1" /healthz) == 200 ]]; }
# A pid is alive when it exists and is not a zombie waiting to be reaped.
_alive() {
        kill -0 "$1" 2>/dev/null || return 1
        local st
        st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
        [[ $st != Z && $st != X ]]
}
_exited() { ! _alive "$1"; }
_healthy_or_dead() { ! _alive "$2" || _healthz_ok "$1"; }

# wait_healthy PORT PID: /healthz answers 200 within 15 s (fatal otherwise).
wait_healthy() {
        local p=$1 pid=$2
        wait_for 15 "/healthz on port $p" _healthy_or_dead "$p" "$pid" ||
                fatal "daemon (pid $pid) never answered /healthz on port $p"
        _alive "$pid" || fatal "daemon (pid $pid) exited during startup"
        _healthz_ok "$p" || fatal "/healthz on port $p not 200"
}

_readyz_ok() { [[ $(http_code "$1" /readyz) == 200 ]]; }
wait_ready() {
        wait_for 15 "/readyz 200 on port $1" _readyz_ok "$1"
}

# ---------------------------------------------------------------- metrics

scrape() { "${NC_CURL[@]}" "$(url "$1" /metrics)"; }

# metric_value NAME [label=value ...] < exposition: prints the value of the
# first series of NAME carrying every given label (others may be present);
# status 1 if there is none.
metric_value() {
        local name=$1 want="" kv
        shift
        for kv in "$@"; do want+="${kv%%=*}=\"${kv#*=}\""$'\034'; done
        awk -v name="$name" -v want="$want" '
                BEGIN { n = split(want, w, "\034"); n-- ; found = 0 }
                /^#/ || NF == 0 { next }
                {
                        line = $0
                        b = index(line, "{"); sp = index(line, " ")
                        if (b > 0 && b < sp) {
                                mname = substr(line, 1, b - 1)
                                e = index(line, "} ")
                                lbl = "," substr(line, b + 1, e - b - 1) ","
                                gsub(/, /, ",", lbl)
                                rest = substr(line, e + 2)
                        } else {
                                mname = substr(line, 1, sp - 1); lbl = ",,"; rest = substr(line, sp + 1)
                        }
                        if (found || mname != name) next
                        for (k = 1; k <= n; k++) if (index(lbl, "," w[k] ",") == 0) next
                        if (!found) { split(rest, v, " "); print v[1]; found = 1 }
                }
                END { exit found ? 0 : 1 }'
}

# metric PORT NAME [label=value ...]: scrape and extract (status 1 if absent).
metric() {
        local p=$1 s
        shift
        s=$(scrape "$p") || return 1
        metric_value "$@" <<<"$s"
}

# metric0: like metric but prints 0 when the series is absent (counters).
metric0() {
        local v
        if v=$(metric "$@"); then echo "$v"; else echo 0; fi
}

# Float comparisons: num OP A B with OP one of == != < <= > >=
num() {
        awk -v a="$2" -v b="$3" -v op="$1" 'BEGIN {
                if (a == "" || b == "") exit 1
                a += 0; b += 0
                if (op == "==") r = a == b; else if (op == "!=") r = a != b
                else if (op == "<") r = a < b; else if (op == "<=") r = a <= b
                else if (op == ">") r = a > b; else if (op == ">=") r = a >= b
                else exit 2
                exit r ? 0 : 1 }'
}

# metric_is PORT OP VALUE NAME [label=value ...]: the series exists and compares.
metric_is() {
        local p=$1 op=$2 want=$3 v
        shift 3
        v=$(metric "$p" "$@") || return 1
        num "$op" "$v" "$want"
}

# ---------------------------------------------------------------- matrix

matrix() { "${NC_CURL[@]}" "$(url "$1" /api/v1/matrix)"; }

# mq PORT JQ-FILTER: jq -r on the current matrix document.
mq() { matrix "$1" | jq -r "$2"; }

# row_field PORT TO FIELD-FILTER: e.g. row_field 19100 self-tcp .met
row_field() { matrix "$1" | jq -r --arg to "$2" "[.rows[] | select(.to == \$to)][0] | $3"; }

# mq_true PORT JQ-FILTER: the filter yields exactly "true".
mq_true() { [[ $(mq "$1" "$2" 2>/dev/null) == true ]]; }

# ---------------------------------------------------------------- assertions

# check DESC CMD [ARGS...]: pass if CMD succeeds, fail otherwise.
check() {
        local desc=$1
        shift
        if "$@" >/dev/null; then pass "$desc"; else fail "$desc"; fi
}

# expect_eq DESC ACTUAL EXPECTED
expect_eq() {
        if [[ $2 == "$3" ]]; then pass "$1 ($2)"; else fail "$1: got '$2', expected '$3'"; fi
}

# expect_num DESC ACTUAL OP EXPECTED
expect_num() {
        if num "$3" "$2" "$4"; then pass "$1 ($2 $3 $4)"; else fail "$1: got '$2', expected $3 $4"; fi
}

# ---------------------------------------------------------------- helper servers (python3)

# start_tcp_listener VAR ADDR PORT: a TCP server that accepts and closes; pid -> VAR.
start_tcp_listener() { _start_helper "$1" tcp "$2" "$3" accept; }
# start_udp_server VAR ADDR PORT MODE: MODE echo | garbage | badnonce | silent.
start_udp_server() { _start_helper "$1" udp "$2" "$3" "$4"; }

_helper_ready() { [[ -e $1 ]] || ! kill -0 "$2" 2>/dev/null; }

_start_helper() {
        local var=$1 proto=$2 addr=$3 p=$4 mode=$5
        need_python
        local ready="$NC_TMP/helper-$proto-$p.ready"
        rm -f "$ready"
        "$PY" - "$proto" "$addr" "$p" "$mode" "$ready" >"$NC_TMP/helper-$proto-$p.out" 2>&1 <<'EOF' &
import signal, socket, sys
proto, addr, port, mode, ready = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
signal.alarm(170)  # never outlive a test run
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
if proto == "tcp":
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(128)
    open(ready, "w").close()
    while True:
        c, _ = s.accept()
        c.close()
else:
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((addr, port))
    open(ready, "w").close()
    while True:
        data, peer = s.recvfrom(4096)
        if mode == "echo":
            s.sendto(data, peer)
        elif mode == "garbage":
            s.sendto(b"this-is-not-an-echo", peer)
        elif mode == "badnonce":
            # right magic and length, wrong nonce
            s.sendto(b"NCANARY1" + bytes(b ^ 0xFF for b in data[8:24]).ljust(16, b"\0"), peer)
        # silent: read and never answer
EOF
        local pid=$!
        NC_HELPERS+=("$pid")
        printf -v "$var" '%s' "$pid"
        wait_for 10 "$proto helper on $addr:$p" _helper_ready "$ready" "$pid" || fatal "helper $proto $addr:$p did not start"
        [[ -e $ready ]] || fatal "helper $proto $addr:$p died: $(cat "$NC_TMP/helper-$proto-$p.out")"
}

# stop_helper PID
stop_helper() {
        nc_stop_pids "$1"
        nc_forget_pid "$1"
}
