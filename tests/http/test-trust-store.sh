#!/usr/bin/env bash
# HTTPS probes do not rescan the system trust store: with libcurl-gnutls,
# curl's built-in CAPATH (/etc/ssl/certs) was loaded file by file on every
# handshake, also when the target names its own tls.ca_file (TLS phase ~33 ms
# instead of ~1.5 ms). strace counts the files the daemon opens under
# /etc/ssl/certs during N rounds of https rows:
#   ca_file rows        -> nothing under /etc/ssl/certs is opened at all
#   system-CA rows      -> only the system CA bundle file (one per handshake),
#                          never the directory's individual certificates
# and with SSL_CERT_FILE naming a bundle that holds the test CA, the
# system-CA row verifies the server through it (nothing else opened). The TLS
# phases are logged, not judged (strace and a shared machine slow them).
# Ports 21200-21209 (HTTP_PORT_BASE 21200, slot 0). Needs strace.
# shellcheck disable=SC2154 # PID_<name> is set by nc_start (printf -v)
HTTP_PORT_BASE=${HTTP_PORT_BASE:-21200}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
http_init 0
command -v strace >/dev/null 2>&1 || fatal "strace not installed"
[[ -d /etc/ssl/certs ]] || skip "no /etc/ssl/certs on this machine"
ndir=$(find /etc/ssl/certs -maxdepth 1 \( -type f -o -type l \) | wc -l)
((ndir > 1)) || skip "/etc/ssl/certs holds no certificates to rescan ($ndir entries)"

HP=$(port 0)
SP=$(port 1)
LISTEN=$(port 2)
make_certs
start_server "$HP" "$SP"
S=https://127.0.0.1:$SP
N=5

TARGETS=$(jq -n --arg s "$S" --arg ca "$CA" '{
  "ca":     { "http": { "url": ($s + "/ok?t=ca"), "tls": { "ca_file": $ca } } },
  "system": { "http": { "url": ($s + "/ok?t=system") } }
}')
ROWS='[ { "from": "*", "to": "ca", "expect": "allow" }, { "from": "*", "to": "system", "expect": "allow" } ]'
CFG=$NC_TMP/trust.json
INTERVAL=1s write_config "$CFG" "$LISTEN" 900ms "$TARGETS" "$ROWS"

# traced_run NAME [ENV=VALUE...]: the daemon under strace (open, connect) until
# both rows did N rounds; sets ROUNDS_CA, ROUNDS_SYS, OUT_CA, OUT_SYS, TLS_CA,
# TLS_SYS (tls phase of the last round, s), BUNDLE_OPENS (opens of the file
# SSL_CERT_FILE names, or of /etc/ssl/certs/ca-certificates.crt), CA_OPENS
# (of the test CA, the ca_file), HANDSHAKES (connections to the TLS server)
# and CERTS_OPENS (opens of any other file under /etc/ssl/certs).
traced_run() {
        local name=$1 trace=$NC_TMP/strace-$1.txt pid
        shift
        env "$@" strace -f -qq -e trace=openat,open,connect -e signal=none -o "$trace" \
                "$NETCANARY" run --config "$CFG" --log-level debug >"$NC_TMP/$name.log" 2>&1 &
        pid=$!
        NC_PIDS+=("$pid")
        wait_healthy "$LISTEN" "$pid"
        enough() { mq_true "$LISTEN" "[.rows[] | .rounds >= $N] | all"; }
        wait_for 40 "$name: $N rounds of both rows" enough ||
                fail "$name: rows did not reach $N rounds: $(mq "$LISTEN" '[.rows[] | {to, rounds}]' | tr -d ' \n')"
        ROUNDS_CA=$(row_field "$LISTEN" ca .rounds)
        ROUNDS_SYS=$(row_field "$LISTEN" system .rounds)
        OUT_CA=$(row_field "$LISTEN" ca '.addresses[0].outcome')
        OUT_SYS=$(row_field "$LISTEN" system '.addresses[0].outcome')
        local m=$NC_TMP/metrics-$name.txt
        scrape "$LISTEN" >"$m"
        TLS_CA=$(metric_value netcanary_http_phase_duration_seconds to=ca phase=tls <"$m" || echo "")
        TLS_SYS=$(metric_value netcanary_http_phase_duration_seconds to=system phase=tls <"$m" || echo "")
        # SIGTERM to the daemon itself (strace's child): strace then exits with it.
        kill -TERM "$(pgrep -P "$pid" | head -1)" 2>/dev/null || kill -TERM "$pid"
        wait_for 10 "$name: daemon exit" _exited "$pid" || fatal "$name: daemon did not stop"
        local bundle=/etc/ssl/certs/ca-certificates.crt opens
        for kv in "$@"; do [[ $kv == SSL_CERT_FILE=* ]] && bundle=${kv#SSL_CERT_FILE=}; done
        opens=$(grep -E 'open(at)?\(' "$trace" | grep -Ev '= -1 ' || true)
        BUNDLE_OPENS=$(grep -cF "\"$bundle\"" <<<"$opens" || true)
        CA_OPENS=$(grep -cF "\"$CA\"" <<<"$opens" || true)
        HANDSHAKES=$(grep -c "connect(.*htons($SP)" "$trace" || true)
        CERTS_OPENS=$(grep -E '"/etc/ssl/certs/[^"]+"' <<<"$opens" | grep -vcF "\"$bundle\"" || true)
        log "$name: $ROUNDS_CA + $ROUNDS_SYS rounds seen, $HANDSHAKES connections to the TLS server traced:" \
                "$CA_OPENS opens of the ca_file, $BUNDLE_OPENS of $bundle, $CERTS_OPENS of other files" \
                "under /etc/ssl/certs ($ndir there): $(grep -Eo '"/etc/ssl/certs/[^"]+"' <<<"$opens" |
                        grep -vF "\"$bundle\"" | head -3 | tr '\n' ' ')"
        log "$name: tls phase of the last round: ca row ${TLS_CA:-?} s, system row ${TLS_SYS:-?} s"
}

# ---- the machine's trust store: the test CA is not in it
traced_run default -u SSL_CERT_FILE
expect_eq "default: ca row outcome" "$OUT_CA" connected
expect_eq "default: system row outcome (the test CA is not a system CA)" "$OUT_SYS" bad_response
expect_eq "default: no single certificate file of /etc/ssl/certs opened (no CA directory rescan) over $((ROUNDS_CA + ROUNDS_SYS)) handshakes" \
        "$CERTS_OPENS" 0
# One CA file per handshake (+1: the config check may open the ca_file).
expect_num "default: CA files opened <= handshakes + 1" "$((CA_OPENS + BUNDLE_OPENS))" '<=' "$((HANDSHAKES + 1))"
if [[ -e /etc/ssl/certs/ca-certificates.crt ]]; then
        expect_num "default: the system bundle is what system-CA handshakes read" "$BUNDLE_OPENS" '>=' "$ROUNDS_SYS"
fi

# ---- SSL_CERT_FILE: a system bundle that holds the test CA verifies the server
SYSB=$NC_TMP/system-bundle.pem
{ [[ -r /etc/ssl/certs/ca-certificates.crt ]] && cat /etc/ssl/certs/ca-certificates.crt; cat "$CA"; } >"$SYSB"
traced_run bundle SSL_CERT_FILE="$SYSB"
expect_eq "SSL_CERT_FILE: ca row outcome" "$OUT_CA" connected
expect_eq "SSL_CERT_FILE: system row outcome (verified through the bundle)" "$OUT_SYS" connected
expect_eq "SSL_CERT_FILE: nothing under /etc/ssl/certs opened" "$CERTS_OPENS" 0
expect_num "SSL_CERT_FILE: CA files opened <= handshakes + 1" "$((CA_OPENS + BUNDLE_OPENS))" '<=' "$((HANDSHAKES + 1))"
expect_num "SSL_CERT_FILE: the bundle is what system-CA handshakes read" "$BUNDLE_OPENS" '>=' "$ROUNDS_SYS"
# (The whole bundle, ~150 certificates, is still parsed per system-CA
# handshake: libcurl-gnutls 7.88 has no CA cache, CAINFO_BLOB or
# SSL_CTX_FUNCTION.)
nc_finish
