#!/usr/bin/env bash
# DNS latency benchmark (issue 3, contract §6): is the latency netcanary reports
# for a DNS server the network round trip, or does it add loop overhead?
# Goal: netcanary's median within 20 µs of a bare UDP round trip on the same
# local server.
#
# Method
#  1. Start unbound on 127.0.0.1 (tests/dns/lib.sh: one thread, local zone,
#     nothing recursed) and send it a few hundred warm-up queries.
#  2. netcanary: $ROWS dns rows, all "www.nctest.example A" to that server,
#     every $INTERVAL, for $SECS seconds. Its histogram buckets (0.1 ms,
#     0.25 ms, ...) are far too coarse for a 20 µs comparison, so per-probe
#     durations are read instead: /api/v1/matrix is polled every 2 x INTERVAL
#     and each row's addresses[0].duration_seconds (µs resolution) is taken
#     once per round (deduplicated by the row's "rounds" counter); only
#     outcome=connected probes count. That is the number netcanary feeds into
#     netcanary_dns_lookup_duration_seconds: from building the query to the
#     answer handled in the loop. Polling much faster perturbs what it
#     measures (the HTTP thread competes for the CPU: polling every 3 ms moved
#     netcanary's p90 from ~90 µs to ~300 µs on a 2-CPU machine); polling
#     slower only loses samples, which is why several rows are probed.
#  3. At the same time, dns-rtt (tests/bench/dns-rtt.c) sends the same query
#     bytes (A, no EDNS, RD) to the same server over one connected UDP socket,
#     timed send() to recv() on CLOCK_MONOTONIC, one query every
#     INTERVAL/ROWS: netcanary's own query rate. Running both at once gives
#     both the same background load and the same CPU idle/wake-up behaviour
#     (measured one after the other, with different query rates, the two
#     medians differed by ±40 µs from run to run on a busy machine); on
#     loopback the two streams rarely meet in the server (~50 µs of work every
#     few ms).
#  4. Print median / p90 / min of both, and netcanary minus bare. The figures
#     are informative: the script exits 0 whatever they are, unless
#     BENCH_STRICT=1 (then 1 when the median gap exceeds 20 µs).
#
# Usage: NETCANARY=build/src/netcanary DNS_RTT=build/tests/bench/dns-rtt \
#          tests/bench/dns-latency.sh
# Knobs: SECS (10), INTERVAL (20ms), ROWS (4), BENCH_SMOKE=1 (2 s, only checks
# that figures come out: the meson test in suite 'bench'), BENCH_STRICT=1,
# DNS_PORT_BASE (see tests/dns/lib.sh). Ports: slot 11 of the dns block
# (19688-19695). Loopback only.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${NETCANARY:=$root/build/src/netcanary}"
: "${DNS_RTT:=$root/build/tests/bench/dns-rtt}"
export NETCANARY
source "$root/tests/dns/lib.sh"
dns_init 11
need_python
[[ -x $DNS_RTT ]] || fatal "DNS_RTT=$DNS_RTT is not executable (ninja -C build tests/bench/dns-rtt)"

SECS=${SECS:-10}
INTERVAL=${INTERVAL:-20ms}
ROWS=${ROWS:-4}
if [[ -n ${BENCH_SMOKE:-} ]]; then SECS=2; fi
[[ $SECS =~ ^[0-9]+$ && $INTERVAL =~ ^([0-9]+)ms$ ]] || fatal "SECS in seconds, INTERVAL in ms (e.g. 20ms)"
INTERVAL_MS=${BASH_REMATCH[1]}
((INTERVAL_MS >= 5 && ROWS >= 1 && ROWS <= 50 && SECS >= 1)) || fatal "want INTERVAL >= 5ms, 1 <= ROWS <= 50, SECS >= 1"
GAP_US=$((INTERVAL_MS * 1000 / ROWS))
RTT_COUNT=$((SECS * 1000000 / GAP_US))

DNS=$(port 0)
API=$(port 7)
S="127.0.0.1:$DNS"
NAME=www.nctest.example
if declare -F ports_free >/dev/null; then ports_free "$DNS" "$API"; fi
unbound_start bench "$DNS" </dev/null
"$DNS_RTT" 127.0.0.1 "$DNS" "$NAME" 300 0 >/dev/null 2>&1 || fatal "unbound does not answer $NAME"

targets="{" matrix="["
for ((i = 0; i < ROWS; i++)); do
        if ((i > 0)); then targets+="," matrix+=","; fi
        targets+="\"bench-$i\": { \"dns\": { \"name\": \"$NAME\", \"type\": \"A\", \"servers\": [\"$S\"] } }"
        matrix+="{ \"from\": \"*\", \"to\": \"bench-$i\", \"expect\": \"allow\" }"
done
targets+="}" matrix+="]"
dns_config "$NC_TMP/bench.json" "$API" "$targets" "$matrix" \
        "{ \"interval\": \"$INTERVAL\", \"timeout\": \"$INTERVAL\", \"confirm\": 1 }"

dns_start d "$NC_TMP/bench.json" --log-level warn
wait_healthy "$API" "$PID_d"
wait_rounds "$API" 2

log "sampling for ${SECS}s: netcanary $ROWS row(s) every $INTERVAL; dns-rtt one query every ${GAP_US}µs"
"$DNS_RTT" 127.0.0.1 "$DNS" "$NAME" "$RTT_COUNT" "$GAP_US" >"$NC_TMP/bare.us" 2>"$NC_TMP/rtt.err" &
RTT_PID=$!
NC_HELPERS+=("$RTT_PID")
"$PY" - "$API" "$SECS" "$((INTERVAL_MS * 2))" >"$NC_TMP/netcanary.us" 2>"$NC_TMP/poll.err" <<'PYEOF'
import json, sys, time, urllib.request
port, secs, poll_ms = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
url = "http://127.0.0.1:%d/api/v1/matrix" % port
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
seen, outcomes = {}, {}
end = time.monotonic() + secs
polls = 0
while time.monotonic() < end:
    doc = json.load(opener.open(url, timeout=5))
    polls += 1
    for row in doc["rows"]:
        key = (row["index"], row["rounds"])
        if key in seen or not row.get("addresses"):
            continue
        a = row["addresses"][0]
        outcomes[a["outcome"]] = outcomes.get(a["outcome"], 0) + 1
        seen[key] = a["duration_seconds"] * 1e6 if a["outcome"] == "connected" else None
    time.sleep(poll_ms / 1000.0)
for v in seen.values():
    if v is not None:
        print("%.3f" % v)
print("%d polls, %d probes seen, outcomes %s" % (polls, len(seen), json.dumps(outcomes, sort_keys=True)),
      file=sys.stderr)
PYEOF
poll_rc=$?
((poll_rc == 0)) || fatal "polling /api/v1/matrix failed: $(tail -n 5 "$NC_TMP/poll.err")"
log "netcanary: $(cat "$NC_TMP/poll.err")"
nc_stop_pids "$PID_d"
nc_forget_pid "$PID_d"
wait_for 30 "dns-rtt to finish" _exited "$RTT_PID" || fatal "dns-rtt did not finish"
wait "$RTT_PID" || fatal "dns-rtt failed: $(cat "$NC_TMP/rtt.err")"
nc_forget_pid "$RTT_PID"
log "$(cat "$NC_TMP/rtt.err")"
N=$(wc -l <"$NC_TMP/netcanary.us")
((N >= 10)) || fatal "only $N netcanary samples"

"$PY" - "$NC_TMP/netcanary.us" "$NC_TMP/bare.us" "${BENCH_STRICT:-}" "$INTERVAL_MS" <<'PYEOF'
import sys
def load(p):
    return sorted(float(l) for l in open(p) if l.strip())
def q(v, f):
    return v[min(len(v) - 1, int(f * len(v)))]
nc, bare = load(sys.argv[1]), load(sys.argv[2])
if not nc or not bare:
    print("no samples"); sys.exit(1)
print("%-32s %8s %10s %10s %10s %10s" % ("", "samples", "median", "p90", "min", "max"))
for name, v in (("netcanary (matrix duration)", nc), ("bare UDP round trip (dns-rtt)", bare)):
    print("%-32s %8d %8.1fus %8.1fus %8.1fus %8.0fus" % (name, len(v), q(v, .5), q(v, .9), v[0], v[-1]))
d50, d90 = q(nc, .5) - q(bare, .5), q(nc, .9) - q(bare, .9)
print("%-32s %8s %+8.1fus %+8.1fus %+8.1fus" % ("difference", "", d50, d90, nc[0] - bare[0]))
ok = d50 <= 20.0
late = sum(x > float(sys.argv[4]) * 1000 for x in bare)
print("bare round trips slower than the %s ms probe timeout: %d (netcanary would call them timeouts)"
      % (sys.argv[4], late))
print("goal (median within 20 us): %s" % ("met" if ok else "MISSED"))
sys.exit(1 if (sys.argv[3] and not ok) else 0)
PYEOF
rc=$?
((rc == 0)) || fail "median difference above 20 µs (BENCH_STRICT=1) or no figures"
nc_finish
