#!/usr/bin/env bash
# GET /probe?target=NAME: one probe of a configured target now, answered in
# blackbox_exporter's metric names (valid exposition: `promtool check metrics`
# prints nothing), and refused with HTTP 400 for a missing or unknown target
# (never an open proxy: a URL given as the target is not fetched).
# Covers: 200, HEAD (content length = the header, body length 0),
# max_body_bytes (body length == the cap, content length the header), chunked
# (content length -1), HTTP/1.0, redirect followed (probe_http_redirects 1)
# and not followed (302), a redirect loop (stops after 5), body_regex match and miss
# (probe_failed_due_to_regex), https (probe_http_ssl 1, tls phase > 0, TLS
# version, certificate expiry of what the peer sent and of the verified chain,
# none of the latter without verification), probe_ip_addr_hash, the module
# parameter (unknown: 400, of another protocol: 400), a slow
# target bounded by X-Prometheus-Scrape-Timeout-Seconds, tcp and udp targets.
# shellcheck disable=SC2154 # PID_<name> is set by nc_start/nc_start_ns (printf -v)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
http_init 3
command -v promtool >/dev/null 2>&1 || fatal "promtool not installed (prometheus)"

HP=$(port 0)
SP=$(port 1)
LISTEN=$(port 2)
CLOSED=$(port 3)
RESP=$(port 4)
make_certs
start_server "$HP" "$SP"
H=http://127.0.0.1:$HP
BODY_LEN=41 # len("netcanary-ok: hello from the test server\n")

# Two more TLS servers for the certificate chain metrics (ports 21220-21223):
# a CA expiring in 5 days signed a server certificate valid 30 days; server A
# sends the server certificate alone, server B the server certificate and the
# CA. probe_ssl_earliest_cert_expiry is the earliest NotAfter of what the peer
# sent (A: 30 days, B: 5 days); probe_ssl_last_chain_expiry_timestamp_seconds
# the earliest of the verified chain, trust anchor included (both: 5 days).
CHAIN_BASE=${CHAIN_PORT_BASE:-21220}
HA=$CHAIN_BASE SA=$((CHAIN_BASE + 1)) HB=$((CHAIN_BASE + 2)) SB=$((CHAIN_BASE + 3))
declare -F ports_free >/dev/null && ports_free "$HA" "$SA" "$HB" "$SB"
D=$NC_TMP
{
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$D/ca5.key" \
                -out "$D/ca5.pem" -days 5 -subj "/CN=netcanary 5-day CA" \
                -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" &&
                openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$D/leaf30.key" \
                        -out "$D/leaf30.csr" -subj "/CN=localhost" &&
                openssl x509 -req -in "$D/leaf30.csr" -CA "$D/ca5.pem" -CAkey "$D/ca5.key" -CAcreateserial \
                        -out "$D/leaf30.pem" -days 30 -extfile "$D/server.ext" &&
                cat "$D/leaf30.pem" "$D/ca5.pem" >"$D/leaf30-chain.pem"
} >>"$D/openssl.log" 2>&1 || fatal "openssl failed: $(tail -5 "$D/openssl.log")"
notafter() { date -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s; }
END_SERVER=$(notafter "$D/server.pem")
END_CA=$(notafter "$CA")
END_LEAF30=$(notafter "$D/leaf30.pem")
END_CA5=$(notafter "$D/ca5.pem")
start_chain_server() { # NAME HTTP-PORT HTTPS-PORT CERT
        local ready=$D/$1.ready
        "$PY" "$HTTP_DIR/server.py" --addr 127.0.0.1 --http-port "$2" --https-port "$3" --cert "$4" \
                --key "$D/leaf30.key" --lifetime 170 --ready "$ready" >"$D/$1.log" 2>&1 &
        local pid=$!
        NC_HELPERS+=("$pid")
        wait_for 10 "$1 on 127.0.0.1:$3" _helper_ready "$ready" "$pid" || fatal "$1 did not start"
        [[ -e $ready ]] || fatal "$1 died: $(cat "$D/$1.log")"
}
start_chain_server leaf-only "$HA" "$SA" "$D/leaf30.pem"
start_chain_server leaf-and-ca "$HB" "$SB" "$D/leaf30-chain.pem"
# blackbox_exporter's probe_ip_addr_hash: FNV-1a 32 of the address bytes (4 for IPv4).
fnv32a() { "$PY" -c 'import sys
h = 0x811c9dc5
for b in bytes(int(x) for x in sys.argv[1].split(".")):
    h = ((h ^ b) * 0x01000193) & 0xffffffff
print(h)' "$1"; }
HASH_LO=$(fnv32a 127.0.0.1)

CFG=$NC_TMP/probe.json
cat >"$CFG" <<JSON
{
  "agent": { "identity": "probetest", "listen": "127.0.0.1:$LISTEN", "responder": { "port": $RESP } },
  "defaults": { "interval": "30s", "timeout": "1s", "confirm": 1 },
  "targets": {
    "ok":         { "http": { "url": "$H/ok" } },
    "head":       { "http": { "url": "$H/ok?m=head", "method": "HEAD" } },
    "big":        { "http": { "url": "$H/big" } },
    "big-cap":    { "http": { "url": "$H/big?cap", "max_body_bytes": 1000 } },
    "redir":      { "http": { "url": "$H/redirect", "follow_redirects": true, "status": [200] } },
    "redir-no":   { "http": { "url": "$H/redirect?no", "status": [200] } },
    "loop":       { "http": { "url": "$H/loop", "follow_redirects": true } },
    "re-ok":      { "http": { "url": "$H/ok?re", "body_regex": "hello" } },
    "re-miss":    { "http": { "url": "$H/ok?miss", "body_regex": "^goodbye" } },
    "nf":         { "http": { "url": "$H/notfound", "status": [200] } },
    "slow":       { "http": { "url": "$H/slow" } },
    "https":      { "http": { "url": "https://127.0.0.1:$SP/ok", "tls": { "ca_file": "$CA" } } },
    "chunked":    { "http": { "url": "$H/chunked" } },
    "http10":     { "http": { "url": "$H/http10" } },
    "chain-a":    { "http": { "url": "https://127.0.0.1:$SA/ok", "tls": { "ca_file": "$D/ca5.pem" } } },
    "chain-b":    { "http": { "url": "https://127.0.0.1:$SB/ok", "tls": { "ca_file": "$D/ca5.pem" } } },
    "chain-insecure": { "http": { "url": "https://127.0.0.1:$SA/ok", "tls": { "insecure_skip_verify": true } } },
    "tcp-open":   { "tcp":  { "host": "127.0.0.1", "port": $HP } },
    "tcp-closed": { "tcp":  { "host": "127.0.0.1", "port": $CLOSED } },
    "udp-echo":   { "udp":  { "host": "127.0.0.1", "port": $RESP } }
  },
  "matrix": [
    { "from": "*", "to": "ok",         "expect": "allow" },
    { "from": "*", "to": "tcp-closed", "expect": "deny" }
  ]
}
JSON
nc_start d "$CFG"
wait_healthy "$LISTEN" "$PID_d"
wait_ready "$LISTEN" || fail "/readyz never 200"

# probe NAME: /probe?target=NAME into $P (file), status in $CODE; checks 200,
# Content-Type and promtool.
P=""
probe() {
        P=$NC_TMP/probe-$1.txt
        CODE=$(probe_get "$LISTEN" "$1" "$P")
        expect_eq "/probe?target=$1: HTTP status" "$CODE" 200
        if promtool_ok "$P"; then
                pass "/probe?target=$1: promtool check metrics has nothing to say"
        else
                fail "/probe?target=$1: promtool check metrics complained (above); answer: $(head -c 600 "$P")"
        fi
}
# val NAME [labels]: the value in the last /probe answer ("" if absent).
val() { pv "$P" "$@" || true; }

# ------------------------------------------------------------ 200
probe ok
ct=$("${NC_CURL[@]}" -o /dev/null -w '%{content_type}' "$(url "$LISTEN" /probe?target=ok)")
if [[ $ct == text/plain* ]]; then pass "/probe Content-Type ($ct)"; else fail "/probe Content-Type '$ct', expected text/plain"; fi
expect_eq "ok: probe_success" "$(val probe_success)" 1
expect_eq "ok: probe_http_status_code" "$(val probe_http_status_code)" 200
expect_eq "ok: probe_ip_protocol" "$(val probe_ip_protocol)" 4
expect_eq "ok: probe_http_ssl" "$(val probe_http_ssl)" 0
expect_eq "ok: probe_http_redirects" "$(val probe_http_redirects)" 0
expect_eq "ok: probe_http_content_length (the Content-Length header)" "$(val probe_http_content_length)" "$BODY_LEN"
expect_eq "ok: probe_http_uncompressed_body_length" "$(val probe_http_uncompressed_body_length)" "$BODY_LEN"
expect_eq "ok: probe_http_version" "$(val probe_http_version)" 1.1
expect_eq "ok: probe_ip_addr_hash (FNV-1a 32 of 127.0.0.1)" "$(val probe_ip_addr_hash)" "$HASH_LO"
if grep -Eq '^probe_(ssl|tls)_' "$P"; then fail "ok: probe_ssl_*/probe_tls_* in a plain http answer"; else pass "ok: no probe_ssl_*/probe_tls_* for plain http"; fi
expect_eq "ok: probe_failed_due_to_regex" "$(val probe_failed_due_to_regex)" 0
expect_num "ok: probe_duration_seconds" "$(val probe_duration_seconds)" '>' 0
expect_num "ok: probe_duration_seconds" "$(val probe_duration_seconds)" '<' 1
expect_num "ok: probe_dns_lookup_time_seconds" "$(val probe_dns_lookup_time_seconds)" '>=' 0
expect_eq "ok: probe_netcanary_addresses{outcome=connected}" "$(val probe_netcanary_addresses outcome=connected)" 1
expect_eq "ok: 5 probe_http_duration_seconds phases" "$(grep -c '^probe_http_duration_seconds{phase="\(resolve\|connect\|tls\|processing\|transfer\)"}' "$P")" 5
expect_eq "ok: tls phase of plain http" "$(val probe_http_duration_seconds phase=tls)" 0
expect_num "ok: processing phase" "$(val probe_http_duration_seconds phase=processing)" '>' 0
n0=$(grep -c '^GET /ok ' "$SRV_LOG")
probe ok
expect_eq "each /probe probes now (server requests +1)" "$(grep -c '^GET /ok ' "$SRV_LOG")" "$((n0 + 1))"

# ------------------------------------------------------------ HEAD, caps
probe head
expect_eq "head: probe_success" "$(val probe_success)" 1
expect_eq "head: probe_http_content_length (the header, as blackbox reads it)" "$(val probe_http_content_length)" "$BODY_LEN"
expect_eq "head: probe_http_uncompressed_body_length (no body)" "$(val probe_http_uncompressed_body_length)" 0
check "head: the server saw HEAD" served '^HEAD /ok\?m=head '
probe big
expect_eq "big: probe_http_content_length" "$(val probe_http_content_length)" 100000
expect_eq "big: probe_http_uncompressed_body_length (no cap below 100000)" "$(val probe_http_uncompressed_body_length)" 100000
probe big-cap
expect_eq "big-cap: probe_success (a capped read is not a failure)" "$(val probe_success)" 1
expect_eq "big-cap: probe_http_content_length (the header, not the bytes read)" "$(val probe_http_content_length)" 100000
expect_eq "big-cap: probe_http_uncompressed_body_length == max_body_bytes" "$(val probe_http_uncompressed_body_length)" 1000
probe chunked
expect_eq "chunked: probe_success" "$(val probe_success)" 1
expect_eq "chunked: probe_http_content_length (no Content-Length)" "$(val probe_http_content_length)" -1
expect_eq "chunked: probe_http_uncompressed_body_length" "$(val probe_http_uncompressed_body_length)" "$BODY_LEN"
probe http10
expect_eq "http10: probe_success" "$(val probe_success)" 1
expect_eq "http10: probe_http_version" "$(val probe_http_version)" 1

# ------------------------------------------------------------ redirects
probe redir
expect_eq "redir (followed): probe_success" "$(val probe_success)" 1
expect_eq "redir (followed): probe_http_redirects" "$(val probe_http_redirects)" 1
expect_eq "redir (followed): probe_http_status_code" "$(val probe_http_status_code)" 200
check "redir (followed): the server saw /redirect then /ok?via=redirect" \
        awk '/^GET \/redirect / { r = NR } /^GET \/ok\?via=redirect / && r && NR > r { ok = 1 } END { exit !ok }' "$SRV_LOG"
probe redir-no
expect_eq "redir-no: probe_success" "$(val probe_success)" 0
expect_eq "redir-no: probe_http_redirects" "$(val probe_http_redirects)" 0
expect_eq "redir-no: probe_http_status_code" "$(val probe_http_status_code)" 302
expect_eq "redir-no: outcome bad_response" "$(val probe_netcanary_addresses outcome=bad_response)" 1
probe loop
expect_eq "loop: probe_success" "$(val probe_success)" 0
expect_eq "loop: probe_http_redirects (stops after 5)" "$(val probe_http_redirects)" 5
expect_eq "loop: probe_http_status_code" "$(val probe_http_status_code)" 302

# ------------------------------------------------------------ body_regex, status
probe re-ok
expect_eq "re-ok: probe_success" "$(val probe_success)" 1
expect_eq "re-ok: probe_failed_due_to_regex" "$(val probe_failed_due_to_regex)" 0
probe re-miss
expect_eq "re-miss: probe_success" "$(val probe_success)" 0
expect_eq "re-miss: probe_failed_due_to_regex" "$(val probe_failed_due_to_regex)" 1
expect_eq "re-miss: probe_http_status_code" "$(val probe_http_status_code)" 200
probe nf
expect_eq "nf: probe_success" "$(val probe_success)" 0
expect_eq "nf: probe_http_status_code" "$(val probe_http_status_code)" 404
expect_eq "nf: probe_failed_due_to_regex" "$(val probe_failed_due_to_regex)" 0

# ------------------------------------------------------------ https
probe https
expect_eq "https: probe_success" "$(val probe_success)" 1
expect_eq "https: probe_http_ssl" "$(val probe_http_ssl)" 1
expect_num "https: tls phase" "$(val probe_http_duration_seconds phase=tls)" '>' 0
expect_eq "https: probe_ssl_earliest_cert_expiry == the server certificate's NotAfter" \
        "$(val probe_ssl_earliest_cert_expiry)" "$END_SERVER"
expect_eq "https: probe_ssl_last_chain_expiry_timestamp_seconds == min(server, CA)" \
        "$(val probe_ssl_last_chain_expiry_timestamp_seconds)" "$((END_SERVER < END_CA ? END_SERVER : END_CA))"
expect_eq "https: probe_tls_version_info{version=\"TLS 1.3\"}" "$(val probe_tls_version_info 'version=TLS 1.3')" 1
expect_eq "https: one probe_tls_version_info series" "$(grep -c '^probe_tls_version_info{' "$P")" 1
expect_eq "https: probe_http_version" "$(val probe_http_version)" 1.1
probe chain-a
expect_eq "chain-a (leaf sent alone): probe_success" "$(val probe_success)" 1
expect_eq "chain-a: probe_ssl_earliest_cert_expiry == the 30-day leaf (the CA was not sent)" \
        "$(val probe_ssl_earliest_cert_expiry)" "$END_LEAF30"
expect_eq "chain-a: probe_ssl_last_chain_expiry_timestamp_seconds == the 5-day CA (trust anchor)" \
        "$(val probe_ssl_last_chain_expiry_timestamp_seconds)" "$END_CA5"
probe chain-b
expect_eq "chain-b (leaf and CA sent): probe_ssl_earliest_cert_expiry == the 5-day CA" \
        "$(val probe_ssl_earliest_cert_expiry)" "$END_CA5"
expect_eq "chain-b: probe_ssl_last_chain_expiry_timestamp_seconds == the 5-day CA" \
        "$(val probe_ssl_last_chain_expiry_timestamp_seconds)" "$END_CA5"
probe chain-insecure
expect_eq "chain-insecure: probe_success" "$(val probe_success)" 1
expect_eq "chain-insecure: probe_ssl_earliest_cert_expiry (read without verification)" \
        "$(val probe_ssl_earliest_cert_expiry)" "$END_LEAF30"
if grep -q '^probe_ssl_last_chain_expiry_timestamp_seconds' "$P"; then
        fail "chain-insecure: a verified-chain expiry without verification"
else
        pass "chain-insecure: no probe_ssl_last_chain_expiry_timestamp_seconds (nothing verified)"
fi

# ------------------------------------------------------------ slow: the scrape timeout bounds the probe
t0=$(now_ms)
P=$NC_TMP/probe-slow-hdr.txt
CODE=$("${NC_CURL[@]}" --max-time 10 -o "$P" -w '%{http_code}' -H 'X-Prometheus-Scrape-Timeout-Seconds: 1' \
        "$(url "$LISTEN" /probe?target=slow)")
ms=$(($(now_ms) - t0))
expect_eq "slow (scrape timeout 1 s): HTTP status" "$CODE" 200
expect_eq "slow (scrape timeout 1 s): probe_success" "$(val probe_success)" 0
expect_eq "slow (scrape timeout 1 s): probe_http_status_code" "$(val probe_http_status_code)" 0
expect_eq "slow: outcome bad_response (TCP connected)" "$(val probe_netcanary_addresses outcome=bad_response)" 1
expect_num "slow (scrape timeout 1 s): probe_duration_seconds under the scrape timeout" "$(val probe_duration_seconds)" '<' 1
expect_num "slow (scrape timeout 1 s): answered in ms" "$ms" '<' 1000
probe slow
expect_num "slow (default timeout 1 s): probe_duration_seconds" "$(val probe_duration_seconds)" '>=' 0.95
expect_num "slow (default timeout 1 s): probe_duration_seconds" "$(val probe_duration_seconds)" '<' 2

# ------------------------------------------------------------ tcp and udp targets
probe tcp-open
expect_eq "tcp-open: probe_success" "$(val probe_success)" 1
expect_eq "tcp-open: probe_ip_protocol" "$(val probe_ip_protocol)" 4
expect_eq "tcp-open: probe_netcanary_addresses{outcome=connected}" "$(val probe_netcanary_addresses outcome=connected)" 1
expect_eq "tcp-open: probe_ip_addr_hash" "$(val probe_ip_addr_hash)" "$HASH_LO"
if grep -q '^probe_http_' "$P"; then fail "tcp-open: probe_http_* series in a tcp answer"; else pass "tcp-open: no probe_http_* series"; fi
probe tcp-closed
expect_eq "tcp-closed: probe_success" "$(val probe_success)" 0
expect_eq "tcp-closed: probe_netcanary_addresses{outcome=refused}" "$(val probe_netcanary_addresses outcome=refused)" 1
probe udp-echo
expect_eq "udp-echo: probe_success" "$(val probe_success)" 1

# ------------------------------------------------------------ refused: unknown, missing, a URL
B=$NC_TMP/bad.txt
expect_eq "/probe?target=nope: HTTP status" "$(probe_get "$LISTEN" nope "$B")" 400
check "/probe?target=nope: the answer says the target is unknown" grep -qi 'unknown target' "$B"
check "/probe?target=nope: the answer names it" grep -q 'nope' "$B"
if grep -q '^probe_success' "$B"; then fail "/probe?target=nope answered probe metrics"; else pass "/probe?target=nope: no probe metrics"; fi
expect_eq "/probe (no target): HTTP status" "$("${NC_CURL[@]}" -o "$B" -w '%{http_code}' "$(url "$LISTEN" /probe)")" 400
check "/probe (no target): the answer says target is needed" grep -qi 'target' "$B"
expect_eq "/probe?target= (empty): HTTP status" "$(probe_get "$LISTEN" "" "$B")" 400
LEAK="$H/leak-if-fetched"
expect_eq "/probe?target=<a URL>: HTTP status" "$(probe_get "$LISTEN" "$LEAK" "$B")" 400
expect_eq "/probe?target=127.0.0.1:$HP: HTTP status" "$(probe_get "$LISTEN" "127.0.0.1:$HP" "$B")" 400
# module= and other blackbox parameters do not open anything either
code=$("${NC_CURL[@]}" -o "$B" -w '%{http_code}' "$(url "$LISTEN" "/probe?module=http_2xx&target=$LEAK")")
expect_eq "/probe?module=http_2xx&target=<a URL>: HTTP status" "$code" 400
# module= as blackbox scrape configs pass it: its prober prefix must be the target's protocol
pm() { "${NC_CURL[@]}" -o "$B" -w '%{http_code}' -G --data-urlencode "module=$1" --data-urlencode "target=$2" \
        "$(url "$LISTEN" /probe)"; }
expect_eq "/probe?module=http_2xx&target=ok: HTTP status" "$(pm http_2xx ok)" 200
check "/probe?module=http_2xx&target=ok: probe metrics" grep -q '^probe_success 1' "$B"
expect_eq "/probe?module=http_post_2xx&target=ok: HTTP status (the target's config says how)" "$(pm http_post_2xx ok)" 200
expect_eq "/probe?module=http&target=ok: HTTP status" "$(pm http ok)" 200
expect_eq "/probe?module=&target=ok (empty): HTTP status" "$(pm '' ok)" 200
expect_eq "/probe?module=tcp_connect&target=tcp-open: HTTP status" "$(pm tcp_connect tcp-open)" 200
expect_eq "/probe?module=udp&target=udp-echo: HTTP status" "$(pm udp udp-echo)" 200
expect_eq "/probe?module=icmp&target=ok: HTTP status (unknown module)" "$(pm icmp ok)" 400
check "/probe?module=icmp: the answer says Unknown module, as blackbox does" grep -q '^Unknown module "icmp"' "$B"
if grep -q '^probe_success' "$B"; then fail "/probe?module=icmp answered probe metrics"; else pass "/probe?module=icmp: no probe metrics"; fi
expect_eq "/probe?module=ssh_banner&target=tcp-open: HTTP status" "$(pm ssh_banner tcp-open)" 400
expect_eq "/probe?module=httpx&target=ok: HTTP status (prefix must be whole)" "$(pm httpx ok)" 400
expect_eq "/probe?module=tcp_connect&target=ok: HTTP status (module of another protocol)" "$(pm tcp_connect ok)" 400
check "/probe?module=tcp_connect&target=ok: the answer names the target's protocol" grep -q 'http target' "$B"
expect_eq "/probe?module=icmp&target=nope: HTTP status" "$(pm icmp nope)" 400
if served 'leak-if-fetched'; then fail "a URL given to /probe was fetched (open proxy)"; else pass "no URL given to /probe was fetched"; fi
check "daemon healthy after the /probe requests" _healthz_ok "$LISTEN"

nc_finish
