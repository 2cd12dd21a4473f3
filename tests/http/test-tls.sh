#!/usr/bin/env bash
# HTTPS probes against the test server with a CA and certificate openssl
# generates here (for localhost, 127.0.0.1, ::1):
#   ca_file                              -> connected
#   ca_file + tls.server_name localhost  -> connected (name checked: localhost)
#   ca_file + tls.server_name wrong.example
#                                        -> bad_response, the log says why (TLS)
#   no ca_file (system CAs only)         -> bad_response, the log says why (TLS)
#   insecure_skip_verify                 -> connected (also with the wrong name)
#   https to a plain-http port, to a server that closes at once, to one that
#   never speaks (handshake stalls past the timeout)
#                                        -> bad_response: TCP connected, verdict
#                                           allowed
#   http and https to a port whose SYNs nftables drops (namespace + nft only)
#                                        -> timeout, verdict denied: no TCP
#                                           connection, as for tcp targets
# Then a daemon: the "http probe failed" line with reason="TLS: ..." is logged
# once per change of reason (not every round).
#
# Runs in a network namespace with only lo (root): the name "wrong.example" is
# only ever a TLS name there; if it were looked up, the query could not leave.
# Without root, everything runs on the host's loopback except the two
# wrong.example rows (skipped, logged).
# shellcheck disable=SC2154 # PID_<name> is set by nc_start/nc_start_ns (printf -v)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
http_init 2

HP=$(port 0)
SP=$(port 1)
LISTEN=$(port 2)
HOLD=$(port 3)
CLOSE=$(port 4)
DROP=$(port 5)

DROPS=0
if http_netns; then
        WRONG=1
        if command -v nft >/dev/null 2>&1 &&
                printf 'table ip nchttp {\n chain input {\n  type filter hook input priority 0; policy accept;\n  tcp dport %s drop\n }\n}\n' "$DROP" |
                ip netns exec "$HTTP_NS" nft -f - 2>"$NC_TMP/nft.err"; then
                DROPS=1
        else
                log "no nftables in the namespace ($(cat "$NC_TMP/nft.err" 2>/dev/null)): the dropped-SYN rows are skipped"
        fi
else
        WRONG=0
        log "not root or no 'ip netns': the tls.server_name \"wrong.example\" and dropped-SYN rows are skipped (the network rule)"
fi
make_certs
start_server "$HP" "$SP" --hold-port "$HOLD"
# accept-and-close listener, in the namespace too
"${NSX[@]}" "$PY" -c '
import signal, socket, sys
signal.alarm(170)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
open(sys.argv[2], "w").close()
while True:
    c, _ = s.accept(); c.close()
' "$CLOSE" "$NC_TMP/close.ready" >"$NC_TMP/close.out" 2>&1 &
NC_HELPERS+=("$!")
wait_for 10 "accept-and-close listener" test -e "$NC_TMP/close.ready" || fatal "accept-and-close listener did not start"

S=https://127.0.0.1:$SP
TARGETS=$(
        cat <<JSON
{
  "tls-ca":        { "http": { "url": "$S/ok?t=ca", "tls": { "ca_file": "$CA" } } },
  "tls-name-ok":   { "http": { "url": "$S/ok?t=name", "tls": { "ca_file": "$CA", "server_name": "localhost" } } },
  "tls-noca":      { "http": { "url": "$S/ok?t=noca" } },
  "tls-insecure":  { "http": { "url": "$S/ok?t=insecure", "tls": { "insecure_skip_verify": true } } },
  "tls-to-plain":  { "http": { "url": "https://127.0.0.1:$HP/ok", "tls": { "ca_file": "$CA" } } },
  "tls-hangup":    { "http": { "url": "https://127.0.0.1:$CLOSE/", "tls": { "ca_file": "$CA" } } },
  "tls-stall":     { "http": { "url": "https://127.0.0.1:$HOLD/", "tls": { "ca_file": "$CA" } } },
  "plain":         { "http": { "url": "http://127.0.0.1:$HP/ok?t=plain" } }
JSON
        if ((WRONG)); then
                cat <<JSON
  , "tls-wrong":   { "http": { "url": "$S/ok?t=wrong", "tls": { "ca_file": "$CA", "server_name": "wrong.example" } } }
  , "tls-wrong-insecure": { "http": { "url": "$S/ok?t=wrong-insecure",
                      "tls": { "ca_file": "$CA", "server_name": "wrong.example", "insecure_skip_verify": true } } }
JSON
        fi
        if ((DROPS)); then
                cat <<JSON
  , "drop-http":  { "http": { "url": "http://127.0.0.1:$DROP/" } }
  , "drop-https": { "http": { "url": "https://127.0.0.1:$DROP/", "tls": { "ca_file": "$CA" } } }
JSON
        fi
        echo "}"
)
ROWS='[
  { "from": "*", "to": "tls-ca",       "expect": "allow" },
  { "from": "*", "to": "tls-name-ok",  "expect": "allow" },
  { "from": "*", "to": "tls-noca",     "expect": "allow" },
  { "from": "*", "to": "tls-insecure", "expect": "allow" },
  { "from": "*", "to": "tls-to-plain", "expect": "allow" },
  { "from": "*", "to": "tls-hangup",   "expect": "allow" },
  { "from": "*", "to": "tls-stall",    "expect": "allow", "timeout": "500ms" },
  { "from": "*", "to": "plain",        "expect": "allow" }'
if ((WRONG)); then
        ROWS+=',
  { "from": "*", "to": "tls-wrong",          "expect": "allow" },
  { "from": "*", "to": "tls-wrong-insecure", "expect": "allow" }'
fi
if ((DROPS)); then
        ROWS+=',
  { "from": "*", "to": "drop-http",  "expect": "deny", "timeout": "300ms" },
  { "from": "*", "to": "drop-https", "expect": "deny", "timeout": "300ms" }'
fi
ROWS+=' ]'
CFG=$NC_TMP/tls.json
write_config "$CFG" "$LISTEN" 2s "$TARGETS" "$ROWS"

# ------------------------------------------------------------ once
nc_once "$CFG"
expect_eq "once: exit code (every row met)" "$RC" 0
expect_row tls-ca connected allowed true none
expect_row tls-name-ok connected allowed true none
expect_row tls-noca bad_response allowed true none
expect_row tls-insecure connected allowed true none
expect_row tls-to-plain bad_response allowed true none
expect_row tls-hangup bad_response allowed true none
expect_row tls-stall bad_response allowed true none
expect_num "tls-stall: duration_seconds reaches the 500 ms timeout" "$(ofield tls-stall '.addresses[0].duration_seconds')" '>=' 0.45
expect_row plain connected allowed true none
check "tls-ca: the request went through TLS (server logged it)" served "^GET /ok\?t=ca 127\.0\.0\.1:$SP\$"
# with server_name the TLS name changes, the Host header stays the URL's
check "tls-name-ok: Host header is the URL's host:port" served "^GET /ok\?t=name 127\.0\.0\.1:$SP\$"
if served '\?t=noca'; then fail "tls-noca: a request was sent despite the unverified certificate"; else pass "tls-noca: no request sent over the unverified connection"; fi

E=$ONCE.err
check "log: tls-noca says TLS and why (certificate)" \
        grep -Eq 'msg="http probe failed".* to=tls-noca .*outcome=bad_response.*reason="TLS: [^"]*(certificate|issuer)' "$E"
check "log: tls-to-plain says TLS" grep -Eq 'msg="http probe failed".* to=tls-to-plain .*reason="TLS: ' "$E"
if ((WRONG)); then
        expect_row tls-wrong bad_response allowed true none
        expect_row tls-wrong-insecure connected allowed true none
        check "log: tls-wrong says TLS and why (the name)" \
                grep -Eq 'msg="http probe failed".* to=tls-wrong .*outcome=bad_response.*reason="TLS: [^"]*(wrong\.example|name)' "$E"
        if served '\?t=wrong '; then fail "tls-wrong: a request was sent despite the name mismatch"; else pass "tls-wrong: no request sent"; fi
        check "tls-wrong-insecure: request sent, Host is the URL's" served "^GET /ok\?t=wrong-insecure 127\.0\.0\.1:$SP\$"
fi
if ((DROPS)); then
        expect_row drop-http timeout denied true none
        expect_row drop-https timeout denied true none
fi
for to in tls-noca tls-to-plain tls-wrong; do
        ((WRONG)) || [[ $to != tls-wrong ]] || continue
        log "$to: $(grep -Eo "to=$to .*" "$E" | head -1)"
done

# ------------------------------------------------------------ daemon: log once per reason
CFG2=$NC_TMP/tls-daemon.json
# Generous: under ASan on a loaded 2-core machine a TLS handshake can take 300 ms.
INTERVAL=1s write_config "$CFG2" "$LISTEN" 900ms "$TARGETS" "$(jq -c 'map(del(.timeout))' <<<"$ROWS")"
nc_start_ns d "$CFG2"
wait_healthy "$LISTEN" "$PID_d"
three_rounds() { mq_true "$LISTEN" '[.rows[] | .rounds >= 3] | all'; }
wait_for 20 "3 rounds of every row" three_rounds || fail "rows did not reach 3 rounds: $(mq "$LISTEN" '[.rows[] | {to, rounds}]' | tr -d ' \n')"
DL=$NC_TMP/d.log
for to in tls-noca tls-to-plain $( ((WRONG)) && echo tls-wrong); do
        n=$(grep -Ec "msg=\"http probe failed\".* to=$to " "$DL")
        expect_eq "daemon: 'http probe failed' logged once (not every round) for $to over >= 3 rounds" "$n" 1
        n=$(grep -Ec "msg=\"http probe failed\".* to=$to .*reason=\"TLS: " "$DL")
        expect_eq "daemon: that line for $to has reason=\"TLS: ...\"" "$n" 1
done
nc_finish
