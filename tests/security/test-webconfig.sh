#!/usr/bin/env bash
# --web-config: TLS with client certificates and bcrypt basic auth on the
# HTTP server, hot-reloaded; and the daemon running as an unprivileged user.
# Traffic: 127.0.0.1 only, ports 20000-20019.
set -euo pipefail

: "${NETCANARY:?NETCANARY must point at the binary}"
PORT=20000
RESP=20001
tmp=$(mktemp -d /tmp/nctest-webconfig-XXXXXX)
chmod 755 "$tmp"
pid=
cleanup() {
        [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
        rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

fail() { echo "FAIL: $*" >&2; echo "--- daemon log" >&2; cat "$tmp/d.log" >&2 || true; exit 1; }
pass() { echo "ok: $*"; }

# Certificates: a CA, a server certificate for 127.0.0.1, a client certificate,
# and a client certificate from another CA.
cd "$tmp"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=nc-test-ca" -keyout ca.key -out ca.crt 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=nc-other-ca" -keyout other.key -out other.crt 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
        -keyout srv.key -out srv.csr 2>/dev/null
openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -copy_extensions copy \
        -out srv.crt 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=prometheus" -keyout cli.key -out cli.csr 2>/dev/null
openssl x509 -req -in cli.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out cli.crt 2>/dev/null
openssl x509 -req -in cli.csr -CA other.crt -CAkey other.key -CAcreateserial -days 2 -out bad.crt 2>/dev/null
hash=$(/usr/bin/python3 -W ignore -c 'import crypt; print(crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024)))')
chmod 644 ./*

cat > config.json <<JSON
{ "agent": { "listen": "127.0.0.1:$PORT", "responder": { "port": $RESP } },
  "defaults": { "interval": "1s", "timeout": "300ms" },
  "targets": { "self": { "tcp": { "host": "127.0.0.1", "port": $RESP } } },
  "matrix": [ { "from": "*", "to": "self", "expect": "allow" } ] }
JSON
cat > web.json <<JSON
{ "tls_server_config": { "cert_file": "srv.crt", "key_file": "srv.key", "client_ca_file": "ca.crt" },
  "basic_auth_users": { "prom": "$hash" } }
JSON

# A web config is read as strictly as the config: a user name holding a NUL
# ("pr\u0000om" would be the user "pr") and a repeated key are refused at
# start, each named with its path.
cat > web-bad.json <<JSON
{ "basic_auth_users": { "pr\\u0000om": "$hash" },
  "tls_server_config": { "cert_file": "srv.crt", "cert_file": "srv.crt", "key_file": "srv.key" } }
JSON
st=0
timeout 10 "$NETCANARY" run --config config.json --web-config web-bad.json > bad.log 2>&1 || st=$?
[ "$st" -eq 2 ] || { cat bad.log >&2; fail "a web config with a NUL and a repeated key: exit $st, want 2"; }
# (the log line escapes backslashes and quotes)
grep -qE 'basic_auth_users\.pr\\+u0000om: key contains a NUL character' bad.log ||
        { cat bad.log >&2; fail "the NUL in a user name is not named with its path"; }
grep -qE 'tls_server_config: duplicate key \\?"cert_file\\?"' bad.log ||
        { cat bad.log >&2; fail "the repeated key is not named with its path"; }
pass "web config: a NUL in a user name and a repeated key refused at start, with their paths"

# Unprivileged: nobody, no capabilities (setpriv drops the bounding set too).
run_as=()
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
        run_as=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all --)
        # A checkout under /root is not reachable by uid 65534: then run as root.
        if ! "${run_as[@]}" test -x "$NETCANARY"; then
                echo "note: uid 65534 cannot reach $NETCANARY; the daemon runs as root here"
                run_as=()
        fi
fi
"${run_as[@]}" "$NETCANARY" run --config config.json --web-config web.json > d.log 2>&1 &
pid=$!

code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true; }
ok_curl=(--cacert ca.crt --cert cli.crt --key cli.key -u prom:s3cret)
for _ in $(seq 50); do
        [ "$(code "${ok_curl[@]}" "https://127.0.0.1:$PORT/healthz")" = 200 ] && break
        kill -0 "$pid" 2>/dev/null || fail "daemon exited"
        sleep 0.1
done
[ "$(code "${ok_curl[@]}" "https://127.0.0.1:$PORT/healthz")" = 200 ] || fail "TLS + client cert + password not 200"
pass "TLS, client certificate and password: 200"

if [ ${#run_as[@]} -gt 0 ]; then
        uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
        capeff=$(awk '/^CapEff:/ {print $2}' "/proc/$pid/status")
        [ "$uid" = 65534 ] || fail "daemon runs as uid $uid, not 65534"
        [ "$capeff" = 0000000000000000 ] || fail "daemon has capabilities $capeff"
        pass "runs as uid 65534 with no capabilities"
fi

[ "$(code --cacert ca.crt -u prom:s3cret "https://127.0.0.1:$PORT/healthz")" = 403 ] ||
        fail "no client certificate must be 403"
pass "no client certificate: 403"
c=$(code --cacert ca.crt --cert bad.crt --key cli.key -u prom:s3cret "https://127.0.0.1:$PORT/healthz")
[ "$c" = 403 ] || [ "$c" = 000 ] || fail "a certificate of another CA must be refused, got $c"
pass "client certificate of another CA refused ($c)"
[ "$(code --cacert ca.crt --cert cli.crt --key cli.key "https://127.0.0.1:$PORT/metrics")" = 401 ] ||
        fail "no password must be 401"
[ "$(code --cacert ca.crt --cert cli.crt --key cli.key -u prom:wrong "https://127.0.0.1:$PORT/metrics")" = 401 ] ||
        fail "wrong password must be 401"
[ "$(code --cacert ca.crt --cert cli.crt --key cli.key -u nobody:s3cret "https://127.0.0.1:$PORT/metrics")" = 401 ] ||
        fail "unknown user must be 401"
pass "missing, wrong password and unknown user: 401"
curl -s -D - -o /dev/null --cacert ca.crt --cert cli.crt --key cli.key "https://127.0.0.1:$PORT/metrics" |
        grep -qi '^WWW-Authenticate: Basic' || fail "401 without a Basic challenge"
[ "$(code "http://127.0.0.1:$PORT/healthz")" != 200 ] || fail "plain HTTP must not be served"
pass "plain HTTP refused"
curl -s "${ok_curl[@]}" "https://127.0.0.1:$PORT/metrics" | grep -q '^netcanary_build_info' ||
        fail "/metrics over TLS lacks netcanary_build_info"

# Hot reload: a bad web config is refused and the old settings stay.
echo '{ "tls_server_config": { "cert_file": "missing.crt", "key_file": "srv.key" } }' > web.json.new
mv web.json.new web.json
kill -HUP "$pid"
for _ in $(seq 50); do grep -q 'web config reload rejected' d.log && break; sleep 0.1; done
grep -q 'web config reload rejected.*missing.crt' d.log || fail "bad web config not rejected with the file named"
[ "$(code "${ok_curl[@]}" "https://127.0.0.1:$PORT/healthz")" = 200 ] || fail "old web config not kept"
pass "bad web config rejected, old one kept"

# Hot reload: TLS off, basic auth on, applied on file change (no SIGHUP).
echo "{ \"basic_auth_users\": { \"prom\": \"$hash\" } }" > web.json.new
mv web.json.new web.json
for _ in $(seq 100); do
        [ "$(code -u prom:s3cret "http://127.0.0.1:$PORT/healthz")" = 200 ] && break
        sleep 0.1
done
[ "$(code -u prom:s3cret "http://127.0.0.1:$PORT/healthz")" = 200 ] || fail "new web config not applied on change"
[ "$(code "http://127.0.0.1:$PORT/healthz")" = 401 ] || fail "basic auth not enforced after reload"
pass "web config change applied without SIGHUP"

kill -TERM "$pid"
wait "$pid" && rc=0 || rc=$?
pid=
[ "$rc" = 0 ] || fail "exit code $rc after SIGTERM"
echo "PASS test-webconfig"
