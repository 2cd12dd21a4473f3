#!/usr/bin/env bash
# The benchmark suite (issue 9, contract §6): netcanary side by side with
# Debian's prometheus-blackbox-exporter on the same loopback targets, and
# against the bare syscalls. Prints the machine, the versions and ONE table;
# every figure is a pair or a ratio measured in the same run, repeated
# BENCH_ROUNDS (3) times: median [min–max] over the rounds.
#
# Targets (all on 127.0.0.1, ports BENCH_PORT_BASE (20100) .. +99):
#   bench-target (tests/bench/bench-target.c)  TCP accept+close and UDP echo   :+0
#   unbound (one thread, a static local zone, nothing recursed)                :+1
#   http-server (tests/bench/http-server.c, 200 "ok" to every request)         :+2
#   blackbox_exporter (modules tcp_connect, dns, http_2xx)                     :+10, +11
#   netcanary instances                                                        :+20 .. +29
#   dns-latency.sh / http-latency.sh, called as they are: 20400-20407 / 20410-20414
#
# Figures (the table says which contract/issue target each one is held to):
#  1. CPU seconds per 1,000 probes, tcp / dns / http: netcanary runs 50 rows
#     every 100 ms (500 probes/s) for BENCH_CPU_SECS; utime+stime from
#     /proc/PID/stat before/after, probes from netcanary_probes_total. Then
#     blackbox_exporter does the same number of probes, driven at the same
#     500/s by bench-load (a paced keep-alive HTTP client) on
#     /probe?module=..&target=..; only the exporter's CPU is counted. The
#     floor next to them: a bare client (tcp-connect, dns-rtt, http-get:
#     blocking syscalls, no event loop) doing the same probes at the same
#     rate while netcanary runs, its CPU from getrusage. On loopback the
#     kernel work of both ends of a connection is charged to the client, so
#     the floor is most of a tcp probe's cost.
#  2. Peak tcp probes/s on one core: netcanary pinned (taskset) to the last
#     CPU, the target to CPU 0; 1,000 rows, interval lowered step by step
#     (1k, 5k, 10k, 15k, 20k, ... probes/s, "max_in_flight": 1024) until the
#     scheduler lag p99 over a window (netcanary_scheduler_lag_seconds,
#     histogram delta) exceeds 5 ms or the achieved rate falls below 95 % of
#     the nominal one; a failing step is run once more (a burst of foreign load
#     fails one window, saturation fails both). Also shown: netcanary's
#     on-CPU time per probe (/proc/PID/schedstat) and the rate it implies for
#     a core of its own, and how long it waited for the core (run-queue
#     wait) at the first failing step: on a shared machine that, not
#     netcanary, is often what ends the climb. Reference: a bare blocking
#     connect() loop (tcp-connect) pinned to the same core.
#  3. RSS: VmRSS / VmHWM from /proc/PID/status, and separately the Rss of
#     [heap] and all anonymous memory from /proc/PID/smaps (shared libraries
#     are file-backed) and Pss, for an empty matrix, 1,000 tcp rows (500
#     probes/s) and 10,000 tcp rows (5,000 probes/s), after the first full
#     round and one scrape of /metrics and /api/v1/matrix; blackbox_exporter
#     freshly started and driven at the same 500 tcp probes/s for
#     BENCH_RSS_SECS, then scraped once.
#  4. Reported latency minus bare syscall latency: tcp here (4 rows every
#     20 ms; /api/v1/matrix sampled, addresses[0].duration_seconds once per
#     round; meanwhile tcp-connect times blocking connect()s at the same
#     rate); dns and http by running dns-latency.sh and http-latency.sh and
#     reading their medians.
#  5. Scheduler lag p99 at 1,000 probes/s (1,000 rows every 1 s) while wrk
#     (-t1 -c1) scrapes /metrics for BENCH_WRK_SECS, next to the same window
#     without scraping; with the loop thread's on-CPU and run-queue-wait share.
#  6. /metrics with 10,000 rows: the render time (the loop's time in the
#     metrics cursor, from the daemon's debug line "metrics sent" render_usec;
#     the scrape is streamed, so this is what the loop spends, in 64 KiB
#     pieces), and curl time_total of BENCH_RENDER_REPS requests (medians),
#     plain and gzip, and their sizes in bytes, once every
#     row has BENCH_RENDER_ROUNDS (20) rounds (a steady state: histogram sums
#     that are no longer whole microseconds take the slower number format).
#
# Usage: tests/bench/bench.sh            (NETCANARY=build/src/netcanary by default)
# Knobs: BENCH_SMOKE=1 (each figure once, short: proves the script works;
#        the meson test in suite 'bench'), BENCH_ROUNDS (3), BENCH_CPU_SECS (15),
#        BENCH_PEAK_SECS (5), BENCH_LAT_SECS (10), BENCH_WRK_SECS (10),
#        BENCH_RSS_SECS (10), BENCH_RENDER_REPS (30), BENCH_RENDER_ROUNDS (20),
#        BENCH_ONLY="cpu peak rss lat lag" (a subset; n/a in the table for the rest),
#        BENCH_WRITE_RESULTS=1 (append a Markdown section to tests/bench/RESULTS.md,
#        or to BENCH_RESULTS_FILE), BENCH_STRICT=1 (exit 1 when a target is
#        missed), BENCH_PORT_BASE (20100), BLACKBOX (path of the exporter).
# Helpers: BENCH_TARGET, TCP_CONNECT, BENCH_LOAD, HTTP_SERVER, HTTP_GET, DNS_RTT
#        (meson passes them; otherwise build/tests/bench/NAME, else compiled
#        here with cc).
# Needs: apt-get install prometheus-blackbox-exporter wrk unbound curl jq
#        util-linux (taskset) python3.
# The binary is copied at the start (a rebuild meanwhile does not change what
# is measured) and identified in the header by its sha256 and the git tree.
# Duration: about 14 minutes; BENCH_SMOKE=1 under a minute.
# Network: loopback only; every process started here ends by itself
# (timeout(1) or its own lifetime) even if this script is killed.
# shellcheck disable=SC2317 # helpers are called through wait_for
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${NETCANARY:=$root/build/src/netcanary}"
export NETCANARY
# shellcheck source=../integration/lib.sh
source "$root/tests/integration/lib.sh"
nc_init 0
NC_BASE=${BENCH_PORT_BASE:-20100}
if ! [[ $NC_BASE =~ ^[0-9]+$ ]] || ((NC_BASE < 1024 || NC_BASE > 65000)); then fatal "BENCH_PORT_BASE=$NC_BASE"; fi
need_python
BPY=("$PY" "$here/bench.py")
# Measure one binary from start to end, even if the build tree is rebuilt
# meanwhile (dns-latency.sh and http-latency.sh get the same copy).
NC_BUILD="$(sha256sum "$NETCANARY" | cut -c1-12), built $(date -u -r "$NETCANARY" +%Y-%m-%dT%H:%MZ), tree $(git -C "$root" describe --always --dirty 2>/dev/null || echo '?')"
cp "$NETCANARY" "$NC_TMP/netcanary" || fatal "cannot copy $NETCANARY"
NETCANARY=$NC_TMP/netcanary

SMOKE=${BENCH_SMOKE:-}
if [[ -n $SMOKE ]]; then
        ROUNDS=1 CPU_SECS=1 PEAK_SECS=2 LAT_SECS=2 WRK_SECS=2 RSS_SECS=2 RENDER_REPS=3 WARM=2 LIFE=240
        PEAK_INTERVALS=(100ms)
        RSS10K_INTERVAL=4s RENDER_ROUNDS=0
else
        ROUNDS=${BENCH_ROUNDS:-3} CPU_SECS=${BENCH_CPU_SECS:-15} PEAK_SECS=${BENCH_PEAK_SECS:-5}
        LAT_SECS=${BENCH_LAT_SECS:-10} WRK_SECS=${BENCH_WRK_SECS:-10} RSS_SECS=${BENCH_RSS_SECS:-10}
        RENDER_REPS=${BENCH_RENDER_REPS:-30} WARM=3 LIFE=3600
        # 1,000 rows: 1k, 5k, 10k, 15k, 20k, 25k, 30k, 40k, 50k, 66k, 100k probes/s
        PEAK_INTERVALS=(1000ms 200ms 100ms 67ms 50ms 40ms 33ms 25ms 20ms 15ms 10ms)
        # 10,000 rows every 2 s (5,000 probes/s): /metrics is timed once every
        # row has RENDER_ROUNDS rounds, as in a daemon that has run a while
        # (histogram _sum values are then no longer whole microseconds, and
        # their formatting costs more: a render right after start is cheaper
        # than the steady state).
        RSS10K_INTERVAL=2s RENDER_ROUNDS=${BENCH_RENDER_ROUNDS:-20}
fi
ONLY=${BENCH_ONLY:-cpu peak rss lat lag}
for v in ROUNDS CPU_SECS PEAK_SECS LAT_SECS WRK_SECS RSS_SECS RENDER_REPS; do
        if ! [[ ${!v} =~ ^[0-9]+$ ]] || ((${!v} < 1 || ${!v} > 600)); then fatal "$v=${!v}: want 1..600"; fi
done
if ! [[ $RENDER_ROUNDS =~ ^[0-9]+$ ]] || ((RENDER_ROUNDS > 100)); then fatal "BENCH_RENDER_ROUNDS=$RENDER_ROUNDS: want 0..100"; fi
want() { [[ " $ONLY " == *" $1 "* ]]; }

BB=${BLACKBOX:-$(command -v prometheus-blackbox-exporter || command -v blackbox_exporter)}
missing=()
[[ -n $BB && -x $BB ]] || missing+=(prometheus-blackbox-exporter)
for t in wrk unbound unbound-checkconf taskset; do
        command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
((${#missing[@]} == 0)) || skip "missing: ${missing[*]} (apt-get install -y prometheus-blackbox-exporter wrk unbound util-linux)"

CLK_TCK=$(getconf CLK_TCK)
NCPU=$(nproc)
NC_CPU=$((NCPU - 1))   # netcanary's core in the peak test; targets on CPU 0
RESULTS=$NC_TMP/results.tsv
: >"$RESULTS"
rec() { printf '%s\t%s\n' "$1" "$2" >>"$RESULTS"; }
calc() { awk "BEGIN { printf \"%.6g\\n\", $1 }"; }
now_ns() { date +%s%N; }

P_TARGET=$(port 0) P_DNS=$(port 1) P_HTTP=$(port 2) P_BB=$(port 10) P_BB2=$(port 11)
P_NC=$(port 20) P_RESP=$(port 30)
ports_free "$P_TARGET" "$P_DNS" "$P_HTTP" "$P_BB" "$P_BB2" "$P_NC" "$((P_NC + 1))" "$((P_NC + 2))" "$P_RESP"
log "bench: ports $NC_BASE-$((NC_BASE + 99)) (+ 20400-20414 for dns/http-latency.sh), rounds $ROUNDS${SMOKE:+ (smoke)}, figures: $ONLY"

# ---------------------------------------------------------------- helpers (C)

helper() {
        local var=$1 name=$2 path
        path=${!var:-$root/build/tests/bench/$name}
        if [[ ! -x $path ]]; then
                path=$NC_TMP/$name
                "${CC:-cc}" -std=c11 -D_GNU_SOURCE -O2 -Wall -o "$path" "$here/$name.c" 2>"$NC_TMP/$name.cc.log" ||
                        fatal "cannot compile $here/$name.c: $(cat "$NC_TMP/$name.cc.log")"
        fi
        printf -v "$var" '%s' "$path"
        export "${var?}"
}
helper BENCH_TARGET bench-target
helper TCP_CONNECT tcp-connect
helper BENCH_LOAD bench-load
helper HTTP_SERVER http-server
helper HTTP_GET http-get
helper DNS_RTT dns-rtt

# cpu_ticks PID: utime + stime (clock ticks) of every thread of PID.
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
# cpu_us PID: "utime stime" (clock ticks).
cpu_us() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12, $13 }'; }
# sched_ns PID: "on-CPU run-queue-wait" (ns, main thread; netcanary probes on it).
sched_ns() { awk '{ print $1, $2 }' "/proc/$1/schedstat"; }
# status_kb PID FIELD: VmRSS / VmHWM ... in KiB.
status_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# ---------------------------------------------------------------- targets

_ready_file() { [[ -e $1 ]]; }
"$BENCH_TARGET" 127.0.0.1 "$P_TARGET" "$NC_TMP/target.ready" "$LIFE" >"$NC_TMP/target.log" 2>&1 &
PID_TARGET=$!
NC_HELPERS+=("$PID_TARGET")
"$HTTP_SERVER" 127.0.0.1 "$P_HTTP" "$NC_TMP/http.ready" "$LIFE" >"$NC_TMP/http-server.log" 2>&1 &
NC_HELPERS+=("$!")
wait_for 10 "bench-target" _ready_file "$NC_TMP/target.ready" || fatal "bench-target: $(cat "$NC_TMP/target.log")"
wait_for 10 "http-server" _ready_file "$NC_TMP/http.ready" || fatal "http-server: $(cat "$NC_TMP/http-server.log")"
((NCPU > 1)) && taskset -pc 0 "$PID_TARGET" >/dev/null

UB=$NC_TMP/unbound
mkdir -p "$UB"
cat >"$UB/unbound.conf" <<EOF
server:
  interface: 127.0.0.1@$P_DNS
  do-ip4: yes
  do-ip6: no
  do-udp: yes
  do-tcp: yes
  username: ""
  chroot: ""
  pidfile: ""
  directory: "$UB"
  use-syslog: no
  logfile: ""
  verbosity: 0
  num-threads: 1
  so-reuseport: no
  module-config: "iterator"
  access-control: 127.0.0.0/8 allow
  minimal-responses: yes
  local-zone: "." static
  local-zone: "nctest.example." static
  local-data: "nctest.example. SOA ns.nctest.example. hostmaster.nctest.example. 1 3600 600 86400 60"
  local-data: "www.nctest.example. A 192.0.2.10"
  local-data: "www.nctest.example. A 192.0.2.11"
  do-not-query-localhost: yes
remote-control:
  control-enable: no
EOF
unbound-checkconf "$UB/unbound.conf" >"$UB/check.out" 2>&1 || fatal "unbound config: $(cat "$UB/check.out")"
timeout -k 2 "$LIFE" unbound -d -c "$UB/unbound.conf" >"$NC_TMP/unbound.log" 2>&1 &
NC_HELPERS+=("$!")
_dns_up() { "$DNS_RTT" 127.0.0.1 "$P_DNS" www.nctest.example 1 0 >/dev/null 2>&1; }
wait_for 10 "unbound" _dns_up || fatal "unbound does not answer: $(tail -5 "$NC_TMP/unbound.log")"

# blackbox_exporter: the same three targets.
cat >"$NC_TMP/blackbox.yml" <<EOF
modules:
  tcp_connect:
    prober: tcp
    timeout: 2s
    tcp:
      preferred_ip_protocol: ip4
  dns:
    prober: dns
    timeout: 2s
    dns:
      query_name: www.nctest.example
      query_type: A
      transport_protocol: udp
      preferred_ip_protocol: ip4
      valid_rcodes: [NOERROR]
  http_2xx:
    prober: http
    timeout: 2s
    http:
      preferred_ip_protocol: ip4
      valid_status_codes: [200]
EOF
"$BB" --config.file="$NC_TMP/blackbox.yml" --config.check >"$NC_TMP/bb-check.log" 2>&1 ||
        fatal "blackbox config: $(cat "$NC_TMP/bb-check.log")"
_bb_up() { [[ $(http_code "$1" /-/healthy) == 200 ]]; }
# bb_start PORT NAME: sets BB_TPID (timeout's pid) and BB_PID (the exporter's).
bb_start() {
        timeout -k 2 "$LIFE" "$BB" --config.file="$NC_TMP/blackbox.yml" --web.listen-address="127.0.0.1:$1" \
                --log.level=warn >"$NC_TMP/$2.log" 2>&1 &
        BB_TPID=$!
        NC_HELPERS+=("$BB_TPID")
        wait_for 10 "blackbox_exporter on $1" _bb_up "$1" || fatal "blackbox_exporter: $(tail -5 "$NC_TMP/$2.log")"
        BB_PID=$(pgrep -P "$BB_TPID" | head -1)
        [[ -n $BB_PID ]] || fatal "no blackbox_exporter process under $BB_TPID"
}
bb_start "$P_BB" blackbox
BB_MAIN=$BB_PID
declare -A BB_TARGET=(
        [tcp]="/probe?module=tcp_connect&target=127.0.0.1:$P_TARGET"
        [dns]="/probe?module=dns&target=127.0.0.1:$P_DNS"
        [http]="/probe?module=http_2xx&target=http%3A%2F%2F127.0.0.1%3A$P_HTTP%2Fok"
)
declare -A TPORT=([tcp]=$P_TARGET [dns]=$P_DNS [http]=$P_HTTP)
for p in tcp dns http; do
        out=$("$BENCH_LOAD" 127.0.0.1 "$P_BB" "${BB_TARGET[$p]}" 1000 100 4) ||
                fatal "blackbox $p probe of the local target fails: $out"
done

# ---------------------------------------------------------------- netcanary

# nc_launch NAME CONFIG PORT [CPU]: `netcanary run` (pinned to CPU if given),
# healthy on PORT; NC_TPID = timeout's pid, NC_PID = netcanary's.
nc_launch() {
        local name=$1 cfg=$2 p=$3 cpu=${4:-}
        local cmd=(timeout -k 2 "$LIFE")
        [[ -n $cpu ]] && cmd+=(taskset -c "$cpu")
        cmd+=("$NETCANARY" run --config "$cfg" --log-level "${NC_LAUNCH_LOG_LEVEL:-warn}")
        "${cmd[@]}" >"$NC_TMP/$name.log" 2>&1 &
        NC_TPID=$!
        NC_PIDS+=("$NC_TPID")
        NC_PID=""
        local i
        for ((i = 0; i < 50; i++)); do
                NC_PID=$(pgrep -P "$NC_TPID" | head -1)
                [[ -n $NC_PID ]] && break
                sleep 0.02
        done
        [[ -n $NC_PID ]] || fatal "netcanary $name did not start: $(cat "$NC_TMP/$name.log")"
        wait_healthy "$p" "$NC_PID"
}
nc_halt() {
        nc_stop_pids "$NC_TPID"
        nc_forget_pid "$NC_TPID"
}
scrape_to() { "${NC_CURL[@]}" --max-time 30 -o "$1" "$(url "$2" /metrics)" || fatal "scrape of port $2 failed"; }

# machine and versions
MACHINE="$(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(uname -sr), load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
V_NC="$("$NETCANARY" --version 2>&1 | head -1) [binary sha256 $NC_BUILD]"
V_BB=$("$BB" --version 2>&1 | head -1)
V_OTHER="$(wrk -v 2>&1 | head -1 | awk '{ print $1, $2 }'), unbound $(unbound -V 2>/dev/null | awk 'NR == 1 { print $2 }'), $(curl --version | head -1 | awk '{ print $1, $2 }')"
log "machine: $MACHINE"
log "versions: $V_NC | $V_BB | $V_OTHER"

# ---------------------------------------------------------------- 1. CPU per 1,000 probes

if want cpu; then
        declare -A BARE_CMD=(
                [tcp]="$TCP_CONNECT 127.0.0.1 $P_TARGET"
                [dns]="$DNS_RTT 127.0.0.1 $P_DNS www.nctest.example"
                [http]="$HTTP_GET 127.0.0.1 $P_HTTP /ok"
        )
        for p in tcp dns http; do
                cfg=$NC_TMP/cpu-$p.json
                "${BPY[@]}" config "$cfg" "$P_NC" "$p" 50 100ms 90ms "${TPORT[$p]}" || fatal "config"
                "$BENCH_LOAD" 127.0.0.1 "$P_BB" "${BB_TARGET[$p]}" 500 500 8 >/dev/null # warm-up
                for ((r = 1; r <= ROUNDS; r++)); do
                        nc_launch "cpu-$p" "$cfg" "$P_NC"
                        sleep "$WARM"
                        # Meanwhile, the floor: a bare client (blocking syscalls, no
                        # event loop) doing the same probes at the same 500/s.
                        # shellcheck disable=SC2086 # BARE_CMD is a word list
                        "${BPY[@]}" cputime ${BARE_CMD[$p]} $((500 * CPU_SECS)) 2000 >"$NC_TMP/bare.cpu" 2>&1 &
                        bpid=$!
                        NC_HELPERS+=("$bpid")
                        scrape_to "$NC_TMP/m0" "$P_NC"
                        read -r u0 s0 < <(cpu_us "$NC_PID")
                        sleep "$CPU_SECS"
                        read -r u1 s1 < <(cpu_us "$NC_PID")
                        scrape_to "$NC_TMP/m1" "$P_NC"
                        nc_halt
                        wait "$bpid" || fatal "bare $p client: $(cat "$NC_TMP/bare.cpu")"
                        nc_forget_pid "$bpid"
                        read -r bare_cpu bare_n _ <"$NC_TMP/bare.cpu"
                        n=$(($("${BPY[@]}" probes "$NC_TMP/m1") - $("${BPY[@]}" probes "$NC_TMP/m0")))
                        ((n > 0)) || fatal "netcanary did no $p probe"
                        outc=$("${BPY[@]}" outcomes "$NC_TMP/m1")
                        b0=$(cpu_ticks "$BB_MAIN")
                        out=$("$BENCH_LOAD" 127.0.0.1 "$P_BB" "${BB_TARGET[$p]}" 500 "$n" 8)
                        b1=$(cpu_ticks "$BB_MAIN")
                        t=$((u1 + s1 - u0 - s0))
                        nc_s=$(calc "$t / $CLK_TCK / $n * 1000")
                        bb_s=$(calc "($b1 - $b0) / $CLK_TCK / $n * 1000")
                        rec "cpu.$p.nc" "$nc_s"
                        rec "cpu.$p.bb" "$bb_s"
                        rec "cpu.$p.probes" "$n"
                        rec "cpu.$p.bare" "$(calc "$bare_cpu / $bare_n * 1000")"
                        if ((t > 0)); then
                                rec "cpu.$p.ratio" "$(calc "($b1 - $b0) / $t")"
                                rec "cpu.$p.kernel" "$(calc "($s1 - $s0) * 100 / $t")"
                        fi
                        log "cpu $p round $r: netcanary $n probes ($outc) in $t ticks (user $((u1 - u0)), system $((s1 - s0))) = $nc_s s/1000;" \
                                "blackbox $((b1 - b0)) ticks = $bb_s s/1000 [$out];" \
                                "bare client $(calc "$bare_cpu / $bare_n * 1000") s/1000 ($(cat "$NC_TMP/bare.cpu"))"
                done
        done
fi

# ---------------------------------------------------------------- 2. peak probes/s on one core

if want peak; then
        PEAK_ROWS=1000
        for ((r = 1; r <= ROUNDS; r++)); do
                best="" best_cpu="" best_lag="" best_oncpu=""
                retried=""
                for ((k = 0; k < ${#PEAK_INTERVALS[@]}; k++)); do
                        iv=${PEAK_INTERVALS[$k]}
                        ms=${iv%ms}
                        nominal=$((PEAK_ROWS * 1000 / ms))
                        cfg=$NC_TMP/peak.json
                        "${BPY[@]}" config "$cfg" "$((P_NC + 1))" tcp "$PEAK_ROWS" "$iv" "$((ms * 9 / 10))ms" "$P_TARGET" 1024 ||
                                fatal "config"
                        nc_launch peak "$cfg" "$((P_NC + 1))" "$NC_CPU"
                        sleep "$WARM"
                        scrape_to "$NC_TMP/p0" "$((P_NC + 1))"
                        w0=$(now_ns)
                        t0=$(cpu_ticks "$NC_PID")
                        read -r on0 wait0 < <(sched_ns "$NC_PID")
                        sleep "$PEAK_SECS"
                        read -r on1 wait1 < <(sched_ns "$NC_PID")
                        t1=$(cpu_ticks "$NC_PID")
                        w1=$(now_ns)
                        scrape_to "$NC_TMP/p1" "$((P_NC + 1))"
                        nc_halt
                        n=$(($("${BPY[@]}" probes "$NC_TMP/p1") - $("${BPY[@]}" probes "$NC_TMP/p0")))
                        read -r lagn lag50 lag99 lagfrac < <("${BPY[@]}" lag "$NC_TMP/p0" "$NC_TMP/p1")
                        rate=$(calc "$n / (($w1 - $w0) / 1e9)")
                        cpu=$(calc "($t1 - $t0) / $CLK_TCK / (($w1 - $w0) / 1e9) * 100")
                        outc=$("${BPY[@]}" outcomes "$NC_TMP/p1")
                        oncpu=$(calc "($on1 - $on0) / 1000 / $n")       # µs on the CPU per probe
                        rqwait=$(calc "($wait1 - $wait0) / ($w1 - $w0) * 100") # % of the window runnable but not running
                        ok=0
                        if num "<=" "$lagfrac" 0.01 && num ">=" "$rate" "$(calc "$nominal * 0.95")"; then ok=1; fi
                        log "peak round $r: nominal $nominal/s -> achieved $rate/s, CPU $cpu % ($oncpu µs on-CPU per probe," \
                                "waiting for the CPU $rqwait % of the window), lag p50 $(calc "$lag50 * 1000") ms" \
                                "p99 $(calc "$lag99 * 1000") ms ($(calc "$lagfrac * 100") % > 5 ms of $lagn), outcomes $outc: $([[ $ok == 1 ]] && echo pass || echo FAIL)"
                        if ((!ok)); then
                                # A burst of foreign load fails one window; saturation fails
                                # every window: a failing step is run once more.
                                if [[ -z $SMOKE && $retried != "$iv" ]]; then
                                        retried=$iv
                                        k=$((k - 1))
                                        log "peak round $r: step $nominal/s failed once, run again"
                                        continue
                                fi
                                rec peak.fail.rqwait "$rqwait"
                                break
                        fi
                        best=$rate best_cpu=$cpu best_lag=$(calc "$lag99 * 1000") best_oncpu=$oncpu
                done
                rec peak.tcp "${best:-0}"
                if [[ -n $best_cpu ]]; then
                        rec peak.cpu "$best_cpu"
                        rec peak.lag99 "$best_lag"
                        rec peak.oncpu "$best_oncpu"
                        rec peak.ceiling "$(calc "1e6 / $best_oncpu")"
                fi
                nb=20000
                [[ -n $SMOKE ]] && nb=2000
                w0=$(now_ns)
                taskset -c "$NC_CPU" "$TCP_CONNECT" 127.0.0.1 "$P_TARGET" "$nb" 0 >/dev/null 2>"$NC_TMP/bare.err" ||
                        fatal "tcp-connect: $(cat "$NC_TMP/bare.err")"
                w1=$(now_ns)
                rec peak.bare "$(calc "$nb / (($w1 - $w0) / 1e9)")"
                log "peak round $r: netcanary ${best:-0}/s; bare connect() loop $(calc "$nb / (($w1 - $w0) / 1e9)")/s"
        done
fi

# ---------------------------------------------------------------- 3. RSS, and /metrics render

# rss_rec KEY PID: VmRSS, VmHWM, [heap] and anonymous Rss (KiB).
rss_rec() {
        local key=$1 pid=$2 heap anon pss
        read -r heap anon pss < <("${BPY[@]}" smaps "$pid")
        rec "rss.$key.pss" "$pss"
        rec "rss.$key.rss" "$(status_kb "$pid" VmRSS)"
        rec "rss.$key.hwm" "$(status_kb "$pid" VmHWM)"
        rec "rss.$key.heap" "$heap"
        rec "rss.$key.anon" "$anon"
        log "rss $key: VmRSS $(status_kb "$pid" VmRSS) KiB, VmHWM $(status_kb "$pid" VmHWM) KiB, [heap] $heap KiB, anonymous $anon KiB, Pss $pss KiB" \
                "(RssFile $(status_kb "$pid" RssFile) KiB)"
}
# one_scrape PORT: what Prometheus and a dashboard would do.
one_scrape() {
        "${NC_CURL[@]}" -o /dev/null "$(url "$1" /metrics)"
        "${NC_CURL[@]}" -o /dev/null "$(url "$1" /api/v1/matrix)"
}

if want rss; then
        for ((r = 1; r <= ROUNDS; r++)); do
                cfg=$NC_TMP/rss-idle.json
                "${BPY[@]}" config "$cfg" "$((P_NC + 2))" tcp 0 15s 1s "$P_TARGET" 256 "$P_RESP" || fatal "config"
                nc_launch rss-idle "$cfg" "$((P_NC + 2))"
                sleep 1
                one_scrape "$((P_NC + 2))"
                rss_rec idle "$NC_PID"
                nc_halt

                cfg=$NC_TMP/rss-1k.json
                "${BPY[@]}" config "$cfg" "$((P_NC + 2))" tcp 1000 2s 1s "$P_TARGET" || fatal "config"
                nc_launch rss-1k "$cfg" "$((P_NC + 2))"
                wait_ready "$((P_NC + 2))" || fatal "1,000 rows never ready"
                sleep 2
                one_scrape "$((P_NC + 2))"
                rss_rec 1k "$NC_PID"
                nc1k=$(status_kb "$NC_PID" VmRSS)
                nc_halt

                cfg=$NC_TMP/rss-10k.json
                "${BPY[@]}" config "$cfg" "$((P_NC + 2))" tcp 10000 "$RSS10K_INTERVAL" 1s "$P_TARGET" || fatal "config"
                # debug: the "metrics sent" lines carry each scrape's render time.
                NC_LAUNCH_LOG_LEVEL=debug nc_launch rss-10k "$cfg" "$((P_NC + 2))"
                wait_ready "$((P_NC + 2))" || fatal "10,000 rows never ready"
                sleep 1
                one_scrape "$((P_NC + 2))"
                rss_rec 10k "$NC_PID"
                if ((RENDER_ROUNDS > 0)); then
                        # /api/v1/matrix of 10,000 rows is big: look once a second, not in a tight poll.
                        sleep $((RENDER_ROUNDS * 2 - 2))
                        for ((i = 0; i < 30; i++)); do
                                [[ $(mq "$((P_NC + 2))" "[.rows[].rounds] | min >= $RENDER_ROUNDS" 2>/dev/null) == true ]] && break
                                sleep 1
                        done
                        ((i < 30)) || fatal "10,000 rows did not reach $RENDER_ROUNDS rounds"
                fi
                # /metrics render: plain, then gzip (the size is the compressed one)
                : >"$NC_TMP/render.ms" && : >"$NC_TMP/render.gz.ms"
                for ((i = 0; i < RENDER_REPS; i++)); do
                        read -r t b < <("${NC_CURL[@]}" --max-time 30 -o /dev/null -w '%{time_total} %{size_download}\n' \
                                "$(url "$((P_NC + 2))" /metrics)")
                        calc "$t * 1000" >>"$NC_TMP/render.ms"
                        read -r tg bg < <("${NC_CURL[@]}" --max-time 30 -H 'Accept-Encoding: gzip' -o /dev/null \
                                -w '%{time_total} %{size_download}\n' "$(url "$((P_NC + 2))" /metrics)")
                        calc "$tg * 1000" >>"$NC_TMP/render.gz.ms"
                done
                read -r _ med _ mn mx < <("${BPY[@]}" stats "$NC_TMP/render.ms")
                read -r _ medg _ _ _ < <("${BPY[@]}" stats "$NC_TMP/render.gz.ms")
                rec render.ms "$med"
                rec render.gz.ms "$medg"
                grep -a 'msg="metrics sent"' "$NC_TMP/rss-10k.log" | tail -n $((2 * RENDER_REPS)) |
                        sed -n 's/.* render_usec=\([0-9]*\).*/\1/p' | awk '{ printf "%.3f\n", $1 / 1000 }' >"$NC_TMP/render.cpu.ms"
                read -r nrender medc _ _ _ < <("${BPY[@]}" stats "$NC_TMP/render.cpu.ms")
                ((nrender > 0)) || fatal "no render times in $NC_TMP/rss-10k.log (\"metrics sent\" debug lines)"
                rec render.cpu.ms "$medc"
                rec render.bytes "$b"
                rec render.gz.bytes "$bg"
                log "render 10,000 rows round $r (rows at $(mq "$((P_NC + 2))" '[.rows[].rounds] | min') rounds or more):" \
                        "render median $medc ms; wall plain median $med ms (min $mn, max $mx) $b bytes; gzip median $medg ms $bg bytes;" \
                        "VmHWM after the renders $(status_kb "$NC_PID" VmHWM) KiB"
                nc_halt

                # blackbox: fresh, under the same 500 tcp probes/s, then scraped once
                bb_start "$P_BB2" blackbox-rss
                out=$("$BENCH_LOAD" 127.0.0.1 "$P_BB2" "${BB_TARGET[tcp]}" 500 $((500 * RSS_SECS)) 8)
                "${NC_CURL[@]}" -o /dev/null "$(url "$P_BB2" /metrics)"
                rss_rec bb "$BB_PID"
                rec rss.ratio "$(calc "$(status_kb "$BB_PID" VmRSS) / $nc1k")"
                log "rss blackbox round $r: [$out]"
                nc_stop_pids "$BB_TPID"
                nc_forget_pid "$BB_TPID"
        done
fi

# ---------------------------------------------------------------- 4. latency vs bare syscalls

if want lat; then
        cfg=$NC_TMP/lat-tcp.json
        "${BPY[@]}" config "$cfg" "$P_NC" tcp 4 20ms 18ms "$P_TARGET" || fatal "config"
        for ((r = 1; r <= ROUNDS; r++)); do
                nc_launch lat-tcp "$cfg" "$P_NC"
                sleep "$WARM"
                "$TCP_CONNECT" 127.0.0.1 "$P_TARGET" $((LAT_SECS * 200)) 5000 >"$NC_TMP/bare.us" 2>"$NC_TMP/bare.err" &
                bpid=$!
                NC_HELPERS+=("$bpid")
                "${BPY[@]}" sample "$P_NC" "$LAT_SECS" 40 >"$NC_TMP/nc.us" 2>"$NC_TMP/sample.err"
                wait "$bpid" || fatal "tcp-connect: $(cat "$NC_TMP/bare.err")"
                nc_forget_pid "$bpid"
                nc_halt
                read -r nn ncm ncp90 _ _ < <("${BPY[@]}" stats "$NC_TMP/nc.us")
                read -r nb bam bap90 _ _ < <("${BPY[@]}" stats "$NC_TMP/bare.us")
                ((nn >= 10 && nb >= 10)) || fatal "too few tcp latency samples: netcanary $nn, bare $nb ($(cat "$NC_TMP/sample.err"))"
                rec lat.tcp.nc "$ncm"
                rec lat.tcp.bare "$bam"
                rec lat.tcp.diff "$(calc "$ncm - $bam")"
                log "latency tcp round $r: netcanary median $ncm µs p90 $ncp90 (n=$nn), bare connect() median $bam µs p90 $bap90 (n=$nb); $(tail -1 "$NC_TMP/sample.err")"
        done
        for ((r = 1; r <= ROUNDS; r++)); do
                DNS_PORT_BASE=$((NC_BASE + 300 - 88)) SECS=$LAT_SECS BENCH_STRICT="" \
                        bash "$here/dns-latency.sh" >"$NC_TMP/dns-lat.out" 2>"$NC_TMP/dns-lat.err" ||
                        fatal "dns-latency.sh failed: $(tail -20 "$NC_TMP/dns-lat.err")"
                ncm=$(sed -n 's/^netcanary (matrix duration) *[0-9]* *\([0-9.]*\)us.*/\1/p' "$NC_TMP/dns-lat.out")
                bam=$(sed -n 's/^bare UDP round trip (dns-rtt) *[0-9]* *\([0-9.]*\)us.*/\1/p' "$NC_TMP/dns-lat.out")
                [[ -n $ncm && -n $bam ]] || fatal "cannot read dns-latency.sh's output: $(cat "$NC_TMP/dns-lat.out")"
                rec lat.dns.nc "$ncm"
                rec lat.dns.bare "$bam"
                rec lat.dns.diff "$(calc "$ncm - $bam")"
                log "latency dns round $r: $(tr '\n' ';' <"$NC_TMP/dns-lat.out")"
        done
        for ((r = 1; r <= ROUNDS; r++)); do
                HTTP_PORT_BASE=$((NC_BASE + 310 - 95)) SECS=$LAT_SECS BENCH_STRICT="" \
                        bash "$here/http-latency.sh" >"$NC_TMP/http-lat.out" 2>"$NC_TMP/http-lat.err" ||
                        fatal "http-latency.sh failed: $(tail -20 "$NC_TMP/http-lat.err")"
                bam=$(sed -n 's/^ *bare GET (http-get) *n=[0-9]* *median *\([0-9.]*\) .*/\1/p' "$NC_TMP/http-lat.out")
                ncm=$(sed -n 's/^ *netcanary (matrix duration_seconds) *n=[0-9]* *median *\([0-9.]*\) .*/\1/p' "$NC_TMP/http-lat.out")
                [[ -n $ncm && -n $bam ]] || fatal "cannot read http-latency.sh's output: $(cat "$NC_TMP/http-lat.out")"
                rec lat.http.nc "$ncm"
                rec lat.http.bare "$bam"
                rec lat.http.diff "$(calc "$ncm - $bam")"
                log "latency http round $r: $(tr '\n' ';' <"$NC_TMP/http-lat.out")"
        done
fi

# ---------------------------------------------------------------- 5. lag while /metrics is scraped

if want lag; then
        cfg=$NC_TMP/lag.json
        "${BPY[@]}" config "$cfg" "$P_NC" tcp 1000 1s 500ms "$P_TARGET" || fatal "config"
        nc_launch lag "$cfg" "$P_NC"
        wait_ready "$P_NC" || fatal "1,000 rows never ready"
        sleep 1
        for ((r = 1; r <= ROUNDS; r++)); do
                scrape_to "$NC_TMP/l0" "$P_NC"
                sleep "$WRK_SECS"
                scrape_to "$NC_TMP/l1" "$P_NC"
                read -r n0 _ base99 basefrac < <("${BPY[@]}" lag "$NC_TMP/l0" "$NC_TMP/l1")
                scrape_to "$NC_TMP/l2" "$P_NC"
                read -r on0 wait0 < <(sched_ns "$NC_PID")
                w0=$(now_ns)
                timeout $((WRK_SECS + 30)) wrk -t1 -c1 -d"${WRK_SECS}s" "$(url "$P_NC" /metrics)" >"$NC_TMP/wrk.out" 2>&1 ||
                        fatal "wrk failed: $(cat "$NC_TMP/wrk.out")"
                w1=$(now_ns)
                read -r on1 wait1 < <(sched_ns "$NC_PID")
                scrape_to "$NC_TMP/l3" "$P_NC"
                loopbusy=$(calc "($on1 - $on0) / ($w1 - $w0) * 100")
                rqwait=$(calc "($wait1 - $wait0) / ($w1 - $w0) * 100")
                read -r n1 _ wrk99 wrkfrac < <("${BPY[@]}" lag "$NC_TMP/l2" "$NC_TMP/l3")
                rps=$(awk '/^Requests\/sec:/ { print $2 }' "$NC_TMP/wrk.out")
                rec lag.base.p99 "$(calc "$base99 * 1000")"
                rec lag.wrk.p99 "$(calc "$wrk99 * 1000")"
                rec lag.wrk.frac "$(calc "$wrkfrac * 100")"
                rec lag.wrk.rps "${rps:-nan}"
                rec lag.base.frac "$(calc "$basefrac * 100")"
                rec lag.wrk.busy "$loopbusy"
                rec lag.wrk.rqwait "$rqwait"
                log "lag round $r: without scraping p99 $(calc "$base99 * 1000") ms ($n0 probes);" \
                        "under wrk p99 $(calc "$wrk99 * 1000") ms, $(calc "$wrkfrac * 100") % > 5 ms ($n1 probes), wrk $rps scrapes/s;" \
                        "netcanary's loop thread on the CPU $loopbusy %, waiting for it $rqwait % of the window;" \
                        "$(grep -E 'Latency|Non-2xx|errors' "$NC_TMP/wrk.out" | tr -s ' ' | tr '\n' ';')"
        done
        nc_halt
fi

# ---------------------------------------------------------------- the table

TABLE=$("${BPY[@]}" table "$RESULTS") || fatal "no table"
MACHINE+=", at end $(cut -d' ' -f1-3 /proc/loadavg)"
{
        echo
        echo "netcanary benchmark suite$([[ -n $SMOKE ]] && echo " (SMOKE: figures not meaningful)") — $(date -u +%Y-%m-%dT%H:%MZ)"
        echo "machine:  $MACHINE"
        echo "versions: $V_NC"
        echo "          $V_BB"
        echo "          $V_OTHER"
        echo "rounds:   $ROUNDS (median [min–max] over rounds)"
        echo
        echo "$TABLE"
}
if [[ -n ${BENCH_WRITE_RESULTS:-} ]]; then
        out=${BENCH_RESULTS_FILE:-$here/RESULTS.md}
        if [[ ! -e $out ]]; then
                # shellcheck disable=SC2016 # backquotes are Markdown here
                printf '# netcanary benchmark results\n\nWritten by `tests/bench/bench.sh` with `BENCH_WRITE_RESULTS=1`; newest last.\n' >"$out"
        fi
        {
                echo
                echo "## $(date -u +%Y-%m-%d) — $V_NC$([[ -n $SMOKE ]] && echo " (smoke run, not meaningful)")"
                echo
                echo "- machine: $MACHINE"
                echo "- versions: $V_NC; $V_BB; $V_OTHER"
                echo "- rounds: $ROUNDS; each cell: median [min–max] over the rounds"
                echo "- reproduce: \`ninja -C build && BENCH_WRITE_RESULTS=1 tests/bench/bench.sh\`" \
                        "(needs \`apt-get install prometheus-blackbox-exporter wrk unbound\`)"
                echo
                echo "$TABLE"
        } >>"$out"
        log "results appended to $out"
fi
if [[ -n $SMOKE ]]; then
        # The smoke only proves the suite produces every figure it was asked for.
        if [[ $ONLY == "cpu peak rss lat lag" ]] && grep -q '^figures missing: [^-]' <<<"$TABLE"; then
                fail "$(grep '^figures missing:' <<<"$TABLE")"
        fi
fi
if [[ -n ${BENCH_STRICT:-} ]] && grep -q 'MISSED' <<<"$TABLE"; then fail "target(s) missed"; fi
nc_finish
