#!/usr/bin/env bash
# shellcheck disable=SC2154,SC2317 # PID_* are set by nc_start/start_* (printf -v); predicates are called through wait_for/check
# Scenario 9: the HTTP endpoints. Status codes, methods, content types, an
# oversized request header, a burst of parallel scrapes, the --listen override.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
nc_init 9

HTTP=$(port 0)
RESP=$(port 1)
HTTP_CLI=$(port 2)
ports_free "$HTTP" "$RESP" "$HTTP_CLI" "$(port 3)" "$(port 50)"
CFG=$NC_TMP/config.json
cat >"$CFG" <<JSON
{
  "agent": { "identity": "httptest", "listen": "127.0.0.1:$HTTP", "responder": { "port": $RESP } },
  "defaults": { "interval": "500ms", "timeout": "200ms" },
  "targets": { "self-tcp": { "tcp": { "host": "127.0.0.1", "port": $RESP } } },
  "matrix": [ { "from": "*", "to": "self-tcp", "expect": "allow" } ]
}
JSON

nc_start d "$CFG"
wait_healthy "$HTTP" "$PID_d"

expect_eq "GET /healthz" "$(http_code "$HTTP" /healthz)" 200
expect_eq "/healthz body" "$("${NC_CURL[@]}" "$(url "$HTTP" /healthz)" | tr -d '\r\n')" ok
check "/readyz 200 after the first round" wait_ready "$HTTP"
expect_eq "GET /nope" "$(http_code "$HTTP" /nope)" 404
expect_eq "GET /metrics/extra" "$(http_code "$HTTP" /metrics/extra)" 404
expect_eq "GET /" "$(http_code "$HTTP" /)" 200
expect_eq "GET /metrics" "$(http_code "$HTTP" /metrics)" 200
expect_eq "HEAD /metrics" "$(http_code "$HTTP" /metrics -I)" 200
expect_eq "POST /metrics" "$(http_code "$HTTP" /metrics -X POST --data x=1)" 405
expect_eq "PUT /api/v1/matrix" "$(http_code "$HTTP" /api/v1/matrix -X PUT --data '{}')" 405
expect_eq "DELETE /healthz" "$(http_code "$HTTP" /healthz -X DELETE)" 405
hdr=$("${NC_CURL[@]}" -o /dev/null -D - -X POST --data x=1 "$(url "$HTTP" /metrics)" | tr -d '\r')
if grep -qi '^allow:.*GET' <<<"$hdr"; then pass "405 carries an Allow header with GET"; else fail "405 without an Allow: GET header: $(tr '\n' '|' <<<"$hdr")"; fi

ct=$("${NC_CURL[@]}" -o /dev/null -w '%{content_type}' "$(url "$HTTP" /api/v1/matrix)")
if [[ $ct == application/json* ]]; then pass "/api/v1/matrix Content-Type ($ct)"; else fail "/api/v1/matrix Content-Type: '$ct'"; fi
check "/api/v1/matrix is valid JSON" bash -c "curl -sS --max-time 5 '$(url "$HTTP" /api/v1/matrix)' | jq -e '.rows | length == 1' >/dev/null"
# gzip'ed matrix is still JSON after decoding
check "/api/v1/matrix with gzip is valid JSON" bash -c "curl -sS --compressed --max-time 5 '$(url "$HTTP" /api/v1/matrix)' | jq -e . >/dev/null"
# a query string does not change routing
expect_eq "GET /healthz?x=1" "$(http_code "$HTTP" '/healthz?x=1')" 200

# 100 KB request header: refused with a 4xx, the daemon stays healthy
BIG=$(head -c 102400 /dev/zero | tr '\0' 'a')
code=$(curl -s --max-time 10 --noproxy '*' -o /dev/null -w '%{http_code}' -H "X-Big: $BIG" "$(url "$HTTP" /metrics)")
if [[ $code =~ ^4[0-9][0-9]$ ]]; then
        pass "100 KB header refused ($code)"
else
        fail "100 KB header: HTTP status '$code', expected 4xx (431/413/400)"
fi
check "healthy after the big header" _healthz_ok "$HTTP"
check "daemon alive after the big header" _alive "$PID_d"
# many headers totalling ~100 KB
args=()
for i in $(seq 1 200); do args+=(-H "X-H$i: $(head -c 500 /dev/zero | tr '\0' 'b')"); done
code=$(curl -s --max-time 10 --noproxy '*' -o /dev/null -w '%{http_code}' "${args[@]}" "$(url "$HTTP" /healthz)")
if [[ $code =~ ^4[0-9][0-9]$ ]]; then pass "200 x 500 B headers refused ($code)"; else fail "200 x 500 B headers: status '$code', expected 4xx"; fi
check "healthy after many headers" _healthz_ok "$HTTP"
# a very long URL
code=$(http_code "$HTTP" "/$(head -c 65536 /dev/zero | tr '\0' 'u')")
if [[ $code =~ ^4[0-9][0-9]$ ]]; then pass "64 KB URL refused ($code)"; else fail "64 KB URL: status '$code', expected 4xx"; fi
check "healthy after the long URL" _healthz_ok "$HTTP"

# a burst of 40 parallel scrapes: all answered 200
seq 1 40 | xargs -P 20 -I{} curl -s --max-time 10 --noproxy '*' -o /dev/null -w '%{http_code}\n' "$(url "$HTTP" /metrics)" >"$NC_TMP/burst.txt"
expect_eq "parallel scrapes answered 200" "$(sort "$NC_TMP/burst.txt" | uniq -c | awk '{ print $1 "x" $2 }' | tr '\n' ' ')" "40x200 "
check "healthy after the burst" _healthz_ok "$HTTP"

# a client that connects and says nothing does not block others
exec 7<>"/dev/tcp/127.0.0.1/$HTTP" || fail "could not open an idle connection"
expect_eq "GET /healthz while an idle connection is open" "$(http_code "$HTTP" /healthz)" 200
exec 7>&- 7<&-

# --listen on the command line overrides agent.listen
sed "s/\"responder\": { \"port\": $RESP }/\"responder\": { \"port\": 0 }/" "$CFG" >"$NC_TMP/config2.json"
nc_start cli "$NC_TMP/config2.json" --listen "127.0.0.1:$HTTP_CLI"
if wait_for 15 "/healthz on the --listen port" _healthy_or_dead "$HTTP_CLI" "$PID_cli" && _healthz_ok "$HTTP_CLI"; then
        pass "--listen 127.0.0.1:$HTTP_CLI overrides agent.listen"
else
        fail "--listen 127.0.0.1:$HTTP_CLI: no /healthz there ($(tail -n 3 "$NC_TMP/cli.log" | tr '\n' '|'))"
fi

# /readyz is 503 until the first round of every row is done: a row to a UDP
# server that never answers keeps the first round open for its 3 s timeout.
SILENT=$(port 50)
HTTP_R=$(port 3)
start_udp_server PID_silent 127.0.0.1 "$SILENT" silent
cat >"$NC_TMP/config3.json" <<JSON
{
  "agent": { "identity": "readytest", "listen": "127.0.0.1:$HTTP_R", "responder": { "port": 0 } },
  "defaults": { "interval": "5s", "timeout": "3s" },
  "targets": { "silent": { "udp": { "host": "127.0.0.1", "port": $SILENT } } },
  "matrix": [ { "from": "*", "to": "silent", "expect": "deny" } ]
}
JSON
nc_start ready "$NC_TMP/config3.json"
wait_healthy "$HTTP_R" "$PID_ready"
code=$(http_code "$HTTP_R" /readyz)
rounds_after=$(mq "$HTTP_R" '.rows[0].rounds')
if [[ $rounds_after == 0 ]]; then
        # the round was still open after /readyz answered: it had to say 503
        expect_eq "/readyz before the first round" "$code" 503
        expect_eq "matrix ready before the first round" "$(mq "$HTTP_R" .ready)" false
else
        log "the first round finished before /readyz was asked; the 503 check does not apply"
fi
check "/readyz 200 after the first round (timeout) is done" wait_ready "$HTTP_R"
expect_eq "silent row: outcome timeout" "$(mq "$HTTP_R" '.rows[0].addresses[0].outcome')" timeout

check "daemon still running" _alive "$PID_d"
nc_finish
