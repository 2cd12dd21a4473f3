#!/usr/bin/env bash
# netcanary under valgrind memcheck: every probe type against local servers,
# the daemon's endpoints, /probe, good and bad reloads, and SIGTERM. Passes
# when valgrind reports no error and no definite/indirect leak.
# /probe of an https target reads the peer's certificates (GnuTLS) under
# memcheck too. Traffic: 127.0.0.1 and ::1 only, ports 20600-20619 and
# 21240-21241 (the TLS server).
set -euo pipefail

: "${NETCANARY:?NETCANARY must point at the binary}"
command -v valgrind >/dev/null || { echo "valgrind missing (apt-get install valgrind)"; exit 1; }
command -v unbound >/dev/null || { echo "unbound missing"; exit 1; }

LISTEN=20600 RESP=20601 HTTP=20602 DNS=20603 CLOSED=20604 TLS_HTTP=21240 TLS=21241
tmp=$(mktemp -d /tmp/nctest-memcheck-XXXXXX)
pids=()
cleanup() {
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
        wait 2>/dev/null || true
        rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*" >&2; exit 1; }

vg=(valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99)

# Local servers: HTTP (python), DNS (unbound).
mkdir "$tmp/www" && echo "hello memcheck" > "$tmp/www/index.html"
(cd "$tmp/www" && exec /usr/bin/python3 -m http.server "$HTTP" --bind 127.0.0.1) > "$tmp/http.log" 2>&1 &
pids+=($!)
cat > "$tmp/unbound.conf" <<CONF
server:
  interface: 127.0.0.1@$DNS
  port: $DNS
  username: ""
  chroot: ""
  directory: "$tmp"
  pidfile: ""
  use-syslog: no
  do-daemonize: no
  module-config: "iterator"
  access-control: 127.0.0.0/8 allow
  local-zone: "memcheck.test." static
  local-data: "a.memcheck.test. 5 IN A 10.1.2.3"
CONF
unbound -d -c "$tmp/unbound.conf" > "$tmp/unbound.log" 2>&1 &
pids+=($!)
# A TLS server (tests/http/server.py) with a CA and certificate made here.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
{
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$tmp/ca.key" \
                -out "$tmp/ca.pem" -days 2 -subj "/CN=memcheck CA" \
                -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" &&
                openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$tmp/server.key" \
                        -out "$tmp/server.csr" -subj "/CN=localhost" &&
                printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > "$tmp/server.ext" &&
                openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial \
                        -out "$tmp/server.pem" -days 2 -extfile "$tmp/server.ext"
} > "$tmp/openssl.log" 2>&1 || { cat "$tmp/openssl.log" >&2; fail "openssl"; }
/usr/bin/python3 "$here/../http/server.py" --addr 127.0.0.1 --http-port "$TLS_HTTP" --https-port "$TLS" \
        --cert "$tmp/server.pem" --key "$tmp/server.key" --lifetime 170 > "$tmp/tls.log" 2>&1 &
pids+=($!)

cat > "$tmp/config.json" <<CONF
{ "agent": { "listen": "127.0.0.1:$LISTEN", "responder": { "port": $RESP } },
  "defaults": { "interval": "1s", "timeout": "900ms", "confirm": 1 },
  "targets": {
    "tcp4": { "tcp": { "host": "127.0.0.1", "port": $RESP } },
    "tcp6": { "tcp": { "host": "::1", "port": $RESP } },
    "udp4": { "udp": { "host": "127.0.0.1", "port": $RESP } },
    "closed": { "tcp": { "host": "127.0.0.1", "port": $CLOSED } },
    "closed-udp": { "udp": { "host": "127.0.0.1", "port": $CLOSED } },
    "name": { "tcp": { "host": "localhost", "port": $RESP } },
    "web": { "http": { "url": "http://127.0.0.1:$HTTP/", "body_regex": "hello" } },
    "web404": { "http": { "url": "http://127.0.0.1:$HTTP/nope", "status": [200] } },
    "dns": { "dns": { "name": "a.memcheck.test", "servers": ["127.0.0.1:$DNS"], "expect_addresses": ["10.1.2.3"] } },
    "nx": { "dns": { "name": "b.memcheck.test", "servers": ["127.0.0.1:$DNS"], "expect_rcode": "NXDOMAIN" } },
    "tls": { "http": { "url": "https://127.0.0.1:$TLS/ok", "tls": { "ca_file": "$tmp/ca.pem" } } },
    "tls-insecure": { "http": { "url": "https://127.0.0.1:$TLS/ok", "tls": { "insecure_skip_verify": true } } }
  },
  "matrix": [
    { "from": "*", "to": "tcp4", "expect": "allow" }, { "from": "*", "to": "tcp6", "expect": "allow" },
    { "from": "*", "to": "udp4", "expect": "allow" }, { "from": "*", "to": "closed", "expect": "deny" },
    { "from": "*", "to": "closed-udp", "expect": "deny" }, { "from": "*", "to": "name", "expect": "allow" },
    { "from": "*", "to": "web", "expect": "allow" }, { "from": "*", "to": "web404", "expect": "allow" },
    { "from": "*", "to": "dns", "expect": "allow" }, { "from": "*", "to": "nx", "expect": "allow" }
  ] }
CONF
for _ in $(seq 50); do
        curl -s -o /dev/null "http://127.0.0.1:$HTTP/" && break
        sleep 0.1
done

# 1. once: one round of every probe type (exit 0 or 1 is the verdict; 99 is valgrind's).
rc=0
"${vg[@]}" "$NETCANARY" once --config "$tmp/config.json" --format json > "$tmp/once.json" 2> "$tmp/once.vg" || rc=$?
if [ "$rc" != 0 ] && [ "$rc" != 1 ]; then cat "$tmp/once.vg" >&2; fail "once under memcheck exited $rc"; fi
jq -e '.rows | length == 10' "$tmp/once.json" > /dev/null || fail "once did not report 10 rows"
echo "ok: once under memcheck (exit $rc)"

# 2. the daemon: scrapes, matrix, /probe, reloads (changed, bad, restored), SIGTERM.
"${vg[@]}" "$NETCANARY" run --config "$tmp/config.json" > /dev/null 2> "$tmp/run.vg" &
daemon=$!
pids+=("$daemon")
ready=0
for _ in $(seq 150); do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$LISTEN/readyz")" = 200 ]; then
                ready=1
                break
        fi
        kill -0 "$daemon" 2>/dev/null || { cat "$tmp/run.vg" >&2; fail "daemon under valgrind exited"; }
        sleep 0.2
done
[ "$ready" = 1 ] || fail "daemon under valgrind never became ready"
for path in /metrics /api/v1/matrix / /app.js "/probe?target=web" "/probe?target=dns" "/probe?target=udp4" \
            "/probe?target=nope" "/probe?module=icmp&target=web" "/probe?module=tcp_connect&target=web" \
            /healthz /nope; do
        curl -s -o /dev/null "http://127.0.0.1:$LISTEN$path"
done
# A handshake under valgrind can outlast the 900 ms timeout: a few tries each (bounded).
for t in tls tls-insecure; do
        for _ in 1 2 3 4 5; do
                curl -s -o "$tmp/probe-$t.txt" "http://127.0.0.1:$LISTEN/probe?module=http_2xx&target=$t"
                grep -q '^probe_ssl_earliest_cert_expiry [1-9]' "$tmp/probe-$t.txt" && break
        done
        grep -q '^probe_ssl_earliest_cert_expiry [1-9]' "$tmp/probe-$t.txt" ||
                { cat "$tmp/probe-$t.txt" >&2; fail "/probe?target=$t under memcheck: no certificate expiry"; }
done
curl -s -o /dev/null -H 'Accept-Encoding: gzip' "http://127.0.0.1:$LISTEN/metrics"
# /metrics is streamed: a HEAD never reads the stream, these clients hang up after its first bytes.
curl -s -o /dev/null -I "http://127.0.0.1:$LISTEN/metrics"
/usr/bin/python3 - "$LISTEN" <<'PY'
import socket, sys
for encoding in (b"identity", b"gzip"):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: m\r\nAccept-Encoding: " + encoding + b"\r\n\r\n")
    s.recv(512)
    s.close()
PY
cp "$tmp/config.json" "$tmp/good.json"
sed 's/"interval": "1s"/"interval": "2s"/' "$tmp/good.json" > "$tmp/config.json"
kill -HUP "$daemon"; sleep 2
echo '{ "targets": {}, "matrix": [ { "from": "*", "to": "missing", "expect": "allow" } ] }' > "$tmp/config.json"
kill -HUP "$daemon"; sleep 1
cp "$tmp/good.json" "$tmp/config.json"
kill -HUP "$daemon"; sleep 3
curl -s -o /dev/null "http://127.0.0.1:$LISTEN/metrics"
# SIGTERM while a scrape is open: a client with a small window reads a little and holds on.
/usr/bin/python3 - "$LISTEN" <<'PY' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
s.settimeout(10)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /metrics HTTP/1.1\r\nHost: m\r\n\r\n")
s.recv(512)
time.sleep(6)
PY
holder=$!
pids+=("$holder")
sleep 1
kill -TERM "$daemon"
rc=0
wait "$daemon" || rc=$?
[ "$rc" = 0 ] || { cat "$tmp/run.vg" >&2; fail "daemon under memcheck exited $rc (99 = valgrind errors)"; }
echo "ok: daemon under memcheck: endpoints, streamed scrapes cut short, /probe (https certificates too), reloads, SIGTERM during a scrape"
echo "PASS test-memcheck"
