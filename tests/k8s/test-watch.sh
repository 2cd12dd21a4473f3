#!/usr/bin/env bash
# k8s-watch: the Kubernetes API client (src/k8s.c) against fake-apiserver.py.
#
#   test-watch.sh TEST-WATCH-BINARY
#
# Makes a CA and a server certificate for localhost/127.0.0.1/::1 with
# openssl and a token file in a fresh directory, starts the fake API server
# on loopback (first free port of 20500-20599), and runs the C test program,
# which drives the server's scenario through its control endpoint. Exit 77
# (skipped) without python3 or openssl.
set -euo pipefail

BIN=$1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3

[[ -x $PY ]] || { echo "skip: $PY not found"; exit 77; }
command -v openssl >/dev/null 2>&1 || { echo "skip: openssl not installed"; exit 77; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/nc-k8s.XXXXXX")
SRV_PID=""
cleanup() {
        if [[ -n $SRV_PID ]]; then
                kill "$SRV_PID" 2>/dev/null || true
                wait "$SRV_PID" 2>/dev/null || true
        fi
        rm -rf "$TMP"
}
trap cleanup EXIT

{
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
                -keyout "$TMP/ca.key" -out "$TMP/ca.pem" -days 2 -subj "/CN=netcanary k8s test CA" \
                -addext "basicConstraints=critical,CA:TRUE" \
                -addext "keyUsage=critical,keyCertSign,cRLSign" &&
                openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
                        -keyout "$TMP/server.key" -out "$TMP/server.csr" -subj "/CN=kube-apiserver" &&
                printf '%s\n' "subjectAltName=DNS:localhost,DNS:kubernetes.default.svc,IP:127.0.0.1,IP:::1" \
                        "basicConstraints=CA:FALSE" "extendedKeyUsage=serverAuth" >"$TMP/server.ext" &&
                openssl x509 -req -in "$TMP/server.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" \
                        -CAcreateserial -out "$TMP/server.pem" -days 2 -extfile "$TMP/server.ext" &&
                openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
                        -keyout "$TMP/other-ca.key" -out "$TMP/other-ca.pem" -days 2 -subj "/CN=some other CA"
} >"$TMP/openssl.log" 2>&1 || { echo "openssl failed:"; tail -5 "$TMP/openssl.log"; exit 1; }

# A token shaped like a projected service-account token (a JWT): three
# base64url parts. Same length as the ones the test rotates to.
TOKEN="eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6bmV0Y2FuYXJ5In0.c2lnbmF0dXJlLTAwMDA"
printf '%s\n' "$TOKEN" >"$TMP/token"

"$PY" "$HERE/fake-apiserver.py" --addr 127.0.0.1 --ports 20500-20599 \
        --cert "$TMP/server.pem" --key "$TMP/server.key" --token "$TOKEN" \
        --ready "$TMP/port" --lifetime 150 2>"$TMP/server.log" &
SRV_PID=$!

for _ in $(seq 100); do
        [[ -s $TMP/port ]] && break
        kill -0 "$SRV_PID" 2>/dev/null || { echo "fake-apiserver.py exited:"; cat "$TMP/server.log"; exit 1; }
        sleep 0.1
done
[[ -s $TMP/port ]] || { echo "fake-apiserver.py did not start"; cat "$TMP/server.log"; exit 1; }
PORT=$(cat "$TMP/port")
echo "fake API server on https://127.0.0.1:$PORT (pid $SRV_PID), files in $TMP"

rc=0
K8S_FAKE_PORT=$PORT K8S_FAKE_CA=$TMP/ca.pem K8S_FAKE_TOKEN_FILE=$TMP/token K8S_FAKE_DIR=$TMP \
        "$BIN" || rc=$?
if ((rc != 0)) && [[ -s $TMP/server.log ]]; then
        echo "--- fake-apiserver.py stderr"
        tail -50 "$TMP/server.log"
fi
exit "$rc"
