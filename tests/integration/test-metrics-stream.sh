#!/usr/bin/env bash
# shellcheck disable=SC2154,SC2317 # PID_* are set by nc_start (printf -v); predicates are called through wait_for/check
# Scenario 10: a large /metrics is streamed (chunked, rendered piece by piece
# as the client reads, gzipped on the fly). 2,500 rows (~6 MB of text, more
# than the kernel buffers between server and client can hold):
# every row's series is there exactly once, plain and gzip carry the same
# series, promtool accepts the text, and clients that hang up mid-body or
# read slowly while a reload removes rows leave the daemon healthy.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
nc_init 10

HTTP=$(port 0)
RESP=$(port 1)
ROWS=2500
ports_free "$HTTP" "$RESP"
need_python

# write_config FILE N: N rows, all to the daemon's own TCP responder.
write_config() {
        "$PY" - "$1" "$2" "$HTTP" "$RESP" <<'PY'
import json, sys
path, rows, http, resp = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
cfg = {
    "agent": {"identity": "stream", "listen": "127.0.0.1:%s" % http, "responder": {"port": resp}},
    "defaults": {"interval": "10s", "timeout": "1s", "confirm": 1},
    "targets": {"t%04d" % i: {"tcp": {"host": "127.0.0.1", "port": resp}} for i in range(rows)},
    "matrix": [{"from": "*", "to": "t%04d" % i, "expect": "allow"} for i in range(rows)],
}
with open(path + ".tmp", "w") as f:
    json.dump(cfg, f)
PY
        mv "$1.tmp" "$1"
}
CFG=$NC_TMP/config.json
write_config "$CFG" "$ROWS"
nc_start d "$CFG"
wait_healthy "$HTTP" "$PID_d"
check "/readyz 200 once all $ROWS rows finished a round" wait_ready "$HTTP"

series_set() { grep -v '^#' | sed 's/ [^ ]*$//' | LC_ALL=C sort; }

curl -sS --max-time 30 --noproxy '*' -D "$NC_TMP/plain.head" -o "$NC_TMP/plain.txt" "$(url "$HTTP" /metrics)" ||
        fail "plain scrape failed"
bytes=$(wc -c <"$NC_TMP/plain.txt")
log "plain scrape: $bytes bytes"
if ((bytes > 1000000)); then pass "the scrape is large ($bytes bytes)"; else fail "scrape of $ROWS rows is only $bytes bytes"; fi
if grep -qi '^transfer-encoding: *chunked' "$NC_TMP/plain.head"; then
        pass "/metrics is streamed (Transfer-Encoding: chunked)"
else
        fail "/metrics not chunked: $(tr -d '\r' <"$NC_TMP/plain.head" | tr '\n' '|')"
fi
expect_eq "one probes_total series per row" "$(grep -c '^netcanary_probes_total{' "$NC_TMP/plain.txt")" "$ROWS"
expect_eq "one duration _count per row" "$(grep -c '^netcanary_probe_duration_seconds_count{' "$NC_TMP/plain.txt")" "$ROWS"
expect_eq "no series twice" "$(series_set <"$NC_TMP/plain.txt" | uniq -d | head -n 3)" ""
if command -v promtool >/dev/null 2>&1; then
        if out=$(promtool check metrics <"$NC_TMP/plain.txt" 2>&1); then
                pass "promtool check metrics accepts the streamed scrape"
        else
                fail "promtool check metrics: $(head -n 5 <<<"$out")"
        fi
fi
tail -c 1 "$NC_TMP/plain.txt" | od -An -c | grep -q '\\n' && pass "the body ends with a newline" ||
        fail "the body does not end with a newline"

curl -sS --max-time 30 --noproxy '*' -H 'Accept-Encoding: gzip' -D "$NC_TMP/gz.head" -o "$NC_TMP/gz.bin" \
        "$(url "$HTTP" /metrics)" || fail "gzip scrape failed"
if grep -qi '^content-encoding: *gzip' "$NC_TMP/gz.head"; then pass "gzip asked, gzip sent"; else fail "no Content-Encoding: gzip"; fi
if gunzip -c "$NC_TMP/gz.bin" >"$NC_TMP/gz.txt" 2>"$NC_TMP/gunzip.err"; then
        pass "the gzip body is one complete gzip stream ($(wc -c <"$NC_TMP/gz.bin") bytes)"
else
        fail "gunzip: $(cat "$NC_TMP/gunzip.err")"
fi
if diff <(series_set <"$NC_TMP/plain.txt") <(series_set <"$NC_TMP/gz.txt") >"$NC_TMP/series.diff"; then
        pass "gzip and plain scrapes carry the same series"
else
        fail "series differ between plain and gzip: $(head -n 6 "$NC_TMP/series.diff" | tr '\n' '|')"
fi

# Clients that hang up after the first bytes, and one that reads slowly while
# a reload removes most rows under the open scrape.
"$PY" - "$HTTP" 20 <<'PY' || fail "hang-up clients"
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n")
    s.recv(1024)
    s.close()
PY
check "healthy after 20 clients hung up mid-body" _healthz_ok "$HTTP"

# The slow reader reads 64 KiB, stops until the reload is applied (the rest
# of the body cannot all sit in the kernel's buffers: the server's cursor is
# mid-way), then reads to the end and writes the de-chunked body.
"$PY" - "$HTTP" "$NC_TMP/slow.txt" "$NC_TMP/go" <<'PY' >"$NC_TMP/slow.out" 2>&1 &
import os, socket, sys, time
port, out, go = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window: the server cannot run ahead
s.settimeout(20)
s.connect(("127.0.0.1", port))
s.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
start, raw = time.time(), b""
while time.time() - start < 40:
    chunk = s.recv(65536)
    if not chunk:
        break
    raw += chunk
    if len(raw) >= 65536:
        while not os.path.exists(go) and time.time() - start < 20:
            time.sleep(0.05)
head, _, rest = raw.partition(b"\r\n\r\n")
body, complete = b"", False
while rest:
    size_line, _, rest = rest.partition(b"\r\n")
    size = int(size_line, 16)
    if size == 0:
        complete = True
        break
    body += rest[:size]
    rest = rest[size + 2:]
open(out, "wb").write(body)
print("read %d bytes in %.1f s, last chunk %s" % (len(raw), time.time() - start, "seen" if complete else "MISSING"))
sys.exit(0 if complete else 1)
PY
slow=$!
sleep 1
write_config "$CFG" 10
kill -HUP "$PID_d"
check "the reload to 10 rows is applied" wait_for 10 "10 rows" mq_true "$HTTP" '.rows | length == 10'
touch "$NC_TMP/go"
if wait "$slow"; then
        pass "the slow scrape across the reload ended with the last chunk: $(cat "$NC_TMP/slow.out")"
else
        fail "the slow scrape across the reload: $(cat "$NC_TMP/slow.out")"
fi
expect_eq "the scrape across the reload has no series twice" "$(series_set <"$NC_TMP/slow.txt" | uniq -d | head -n 3)" ""
# Families render in order: the first went out before the reload with every
# row; the last per-row family (at ~85% of the body, past the ~4 MiB the
# kernel buffers hold) was rendered after it, with the 10 rows left.
first=$(grep -c '^netcanary_probes_total{' "$NC_TMP/slow.txt")
last=$(grep -c '^netcanary_last_probe_timestamp_seconds{' "$NC_TMP/slow.txt")
if ((last == ROWS)); then
        log "note: the kernel buffered the whole body before the reload (tcp_wmem $(cat /proc/sys/net/ipv4/tcp_wmem 2>/dev/null)); the cursor was past the end"
elif ((first == ROWS && last < ROWS)); then
        pass "the scrape across the reload: every row in its first family ($first), $last in its last"
else
        fail "the scrape across the reload: $first rows in netcanary_probes_total (want $ROWS: sent before the reload), $last in netcanary_last_probe_timestamp_seconds (want fewer: rendered after it)"
fi
if command -v promtool >/dev/null 2>&1; then
        if out=$(promtool check metrics <"$NC_TMP/slow.txt" 2>&1); then
                pass "promtool check metrics accepts the scrape across the reload"
        else
                fail "promtool check metrics (scrape across the reload): $(head -n 5 <<<"$out")"
        fi
fi
check "healthy after the reload under an open scrape" _healthz_ok "$HTTP"
expect_eq "scrape after the reload has 10 rows" \
        "$(scrape "$HTTP" | grep -c '^netcanary_probes_total{')" 10
check "daemon still running" _alive "$PID_d"
expect_unprivileged "$PID_d"
nc_finish
