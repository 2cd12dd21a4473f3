#!/usr/bin/env bash
# Soak: 1,000 rows, /metrics scraped in a tight loop, a reload every second
# alternating good and bad configs, a target flapping up and down. Bounded:
# SOAK_SECONDS (default 600; CI runs a short one). Passes when the resident
# memory is flat after warm-up, probe counters never go back, scheduler lag
# stays in budget, every reload was answered as it should, and the daemon
# exits 0 on SIGTERM. Traffic: 127.0.0.1 only, ports 20800-20899.
set -euo pipefail

: "${NETCANARY:?NETCANARY must point at the binary}"
SECONDS_TOTAL=${SOAK_SECONDS:-600}
WARMUP=${SOAK_WARMUP:-20}
LAG_P99_MAX=${SOAK_LAG_P99_MAX:-0.1}      # hard limit, seconds (the budget is 0.005: printed)
RSS_GROWTH_MAX_KB=${SOAK_RSS_GROWTH_MAX_KB:-1024}
LISTEN=20800 RESP=20801 FLAP=20802

tmp=$(mktemp -d /tmp/nctest-soak-XXXXXX)
pids=()
cleanup() {
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
        wait 2>/dev/null || true
        rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
log() { printf '[%s] %s\n' "$(date +%T)" "$*"; }
fail() { log "FAIL: $*"; tail -20 "$tmp/d.log" >&2 || true; exit 1; }

# Config: 1,000 rows over tcp/udp to the responder (allow), closed ports
# (deny) and the flapping listener (allow); interval 5 s so the rows keep the
# scheduler busy (200 rounds/s) without saturating a shared 2-core machine.
make_config() { # FILE INTERVAL
        /usr/bin/python3 - "$1" "$2" "$LISTEN" "$RESP" "$FLAP" <<'PY'
import json, sys
path, interval, listen, resp, flap = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
targets, matrix = {}, []
for i in range(1000):
    kind = i % 4
    if kind == 0:
        targets[f"t{i}"] = {"tcp": {"host": "127.0.0.1", "port": resp}}; expect = "allow"
    elif kind == 1:
        targets[f"t{i}"] = {"udp": {"host": "127.0.0.1", "port": resp}}; expect = "allow"
    elif kind == 2:
        targets[f"t{i}"] = {"tcp": {"host": "127.0.0.1", "port": 20850 + i % 40}}; expect = "deny"
    else:
        targets[f"t{i}"] = {"tcp": {"host": "127.0.0.1", "port": flap}}; expect = "allow"
    matrix.append({"from": "*", "to": f"t{i}", "expect": expect})
cfg = {"agent": {"listen": f"127.0.0.1:{listen}", "responder": {"port": resp}, "max_in_flight": 256},
       "defaults": {"interval": interval, "timeout": "500ms", "confirm": 2},
       "targets": targets, "matrix": matrix}
json.dump(cfg, open(path, "w"))
PY
}
make_config "$tmp/good-a.json" 5s
make_config "$tmp/good-b.json" 4s
echo '{ "targets": {}, "matrix": [ { "from": "*", "to": "nowhere", "expect": "allow" } ] }' > "$tmp/bad.json"
cp "$tmp/good-a.json" "$tmp/config.json"

"$NETCANARY" run --config "$tmp/config.json" > "$tmp/d.log" 2>&1 &
daemon=$!
pids+=("$daemon")
for _ in $(seq 100); do
        curl -sf -o /dev/null "http://127.0.0.1:$LISTEN/healthz" && break
        sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$LISTEN/healthz" || fail "daemon never answered"

# The flapping target: a listener that is up 2 s, down 2 s.
(
        end=$((SECONDS + SECONDS_TOTAL + 5))
        while [ "$SECONDS" -lt "$end" ]; do
                timeout 2 /usr/bin/python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(128)
while True:
    c, _ = s.accept(); c.close()' "$FLAP" 2>/dev/null || true
                sleep 2
        done
) &
pids+=($!)

# /metrics in a tight loop.
(
        end=$((SECONDS + SECONDS_TOTAL + 5))
        while [ "$SECONDS" -lt "$end" ]; do
                curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$LISTEN/metrics" || true
        done
) &
pids+=($!)

metric_sum() { # FILE NAME-REGEX
        awk -v re="$2" '$1 ~ re { s += $NF } END { printf "%.0f\n", s }' "$1"
}
lag_buckets() { # FILE -> "le count" lines
        awk '/^netcanary_scheduler_lag_seconds_bucket/ { match($0, /le="[^"]+"/); le = substr($0, RSTART + 4, RLENGTH - 5); print le, $NF }' "$1"
}

start=$SECONDS
reloads=0 good_reloads=0 bad_reloads=0
last_probes=0
rss_samples=()
curl -s "http://127.0.0.1:$LISTEN/metrics" > "$tmp/lag0.txt"
while [ $((SECONDS - start)) -lt "$SECONDS_TOTAL" ]; do
        sleep 1
        kill -0 "$daemon" 2>/dev/null || fail "daemon died"
        # Alternate: good A, bad, good B, bad, ...
        case $((reloads % 4)) in
                0) cp "$tmp/bad.json" "$tmp/config.json.new"; bad_reloads=$((bad_reloads + 1)) ;;
                1) cp "$tmp/good-b.json" "$tmp/config.json.new"; good_reloads=$((good_reloads + 1)) ;;
                2) cp "$tmp/bad.json" "$tmp/config.json.new"; bad_reloads=$((bad_reloads + 1)) ;;
                3) cp "$tmp/good-a.json" "$tmp/config.json.new"; good_reloads=$((good_reloads + 1)) ;;
        esac
        mv "$tmp/config.json.new" "$tmp/config.json"
        kill -HUP "$daemon"
        reloads=$((reloads + 1))
        curl -s --max-time 5 "http://127.0.0.1:$LISTEN/metrics" > "$tmp/m.txt" || continue
        probes=$(metric_sum "$tmp/m.txt" '^netcanary_probes_total')
        # Counters of rows that survive the reloads never go back.
        [ "$probes" -ge "$last_probes" ] || fail "netcanary_probes_total went back: $last_probes -> $probes"
        last_probes=$probes
        if [ $((SECONDS - start)) -ge "$WARMUP" ] && [ $(((SECONDS - start) % 5)) -eq 0 ]; then
                rss_samples+=("$(awk '/^VmRSS:/ {print $2}' "/proc/$daemon/status")")
        fi
done
curl -s "http://127.0.0.1:$LISTEN/metrics" > "$tmp/lag1.txt"

# Resident memory: flat after warm-up (the last samples against the first).
[ "${#rss_samples[@]}" -ge 2 ] || fail "too few RSS samples (SOAK_SECONDS too short for the warm-up?)"
first=${rss_samples[0]} last=${rss_samples[-1]} max=$first
for r in "${rss_samples[@]}"; do [ "$r" -gt "$max" ] && max=$r; done
log "RSS after warm-up: first ${first} kB, last ${last} kB, max ${max} kB (${#rss_samples[@]} samples)"
[ $((last - first)) -le "$RSS_GROWTH_MAX_KB" ] || fail "RSS grew by $((last - first)) kB (limit $RSS_GROWTH_MAX_KB kB)"

# Scheduler lag p99 over the run, from the histogram's deltas.
# Bucket lines come in ascending `le` order in both scrapes: pair them up.
p99=$(paste -d' ' <(lag_buckets "$tmp/lag0.txt") <(lag_buckets "$tmp/lag1.txt") | awk '
        { le[NR] = $1; d[NR] = $4 - $2; if ($1 == "+Inf") total = $4 - $2 }
        END {
                for (i = 1; i <= NR; i++) if (le[i] != "+Inf" && d[i] >= 0.99 * total) { print le[i]; exit }
                print "inf"
        }')
log "scheduler lag p99 <= ${p99} s over the run (budget 0.005 s; hard limit here ${LAG_P99_MAX} s)"
awk -v p="$p99" -v m="$LAG_P99_MAX" 'BEGIN { exit !(p != "inf" && p + 0 <= m + 0) }' ||
        fail "scheduler lag p99 ${p99} s exceeds ${LAG_P99_MAX} s"

# Every bad config refused, every good one applied.
rejected=$(grep -c 'config reload rejected' "$tmp/d.log" || true)
applied=$(grep -c 'msg="config reloaded"' "$tmp/d.log" || true)
log "reloads: $reloads ($good_reloads good, $bad_reloads bad); log: $applied applied, $rejected rejected"
[ "$rejected" -ge $((bad_reloads * 9 / 10)) ] || fail "only $rejected of $bad_reloads bad configs were rejected"
[ "$applied" -ge $((good_reloads * 9 / 10)) ] || fail "only $applied of $good_reloads good configs were applied"
log "probes finished: $last_probes"

kill -TERM "$daemon"
rc=0
wait "$daemon" || rc=$?
[ "$rc" = 0 ] || fail "exit code $rc after SIGTERM"
log "PASS soak (${SECONDS_TOTAL} s)"
