# shellcheck shell=bash
# Helpers for netcanary's HTTP probe tests (issue 4, contract §7.2): the test
# server tests/http/server.py started by the test on loopback (or inside a
# network namespace the test made), netcanary pointed at it, assertions through
# `once --format json`, /metrics, /api/v1/matrix and /probe.
#
# Builds on tests/integration/lib.sh (fail/pass/fatal/skip, wait_for, nc_start,
# metric*, mq, expect_*, cleanup trap), sourced below.
#
# Network rule: every URL is http(s)://127.0.0.1:PORT. A host name that is not
# in /etc/hosts (tls.server_name "wrong.example") is only used inside a
# namespace made here, where nothing but lo exists: if netcanary (or curl) ever
# tried to resolve it, the query could not leave the namespace.
#
# Ports: the suite owns 19500-19599 ($HTTP_PORT_BASE overrides the start);
# `http_init SLOT` (0-8) gives a script the ten ports 19500+10*SLOT .. +9
# (`port 0` .. `port 9`), so the scripts run in parallel; 19590-19599 belong to
# tests/bench/http-latency.sh. Ports already taken by another process are a
# fatal error that says so (not mistaken for a netcanary bug).

# shellcheck source=../integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

HTTP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HTTP_NS=""        # namespace the server, netcanary and our curl run in ("" = host)
NSX=()            # command prefix that enters it: (ip netns exec NS) or ()
SRV_LOG=""        # request log of the test server
CA=""             # CA certificate (PEM) after make_certs

http_init() {
        local slot=$1
        nc_init 5
        NC_BASE=$((${HTTP_PORT_BASE:-19500} + slot * 10))
        log "http slot $slot: ports $NC_BASE-$((NC_BASE + 9))"
        need_python
        if declare -F ports_free >/dev/null; then
                ports_free $(seq "$NC_BASE" $((NC_BASE + 9)))
        fi
}

# ---------------------------------------------------------------- namespaces

# http_netns: a new namespace with only lo (up); later servers, netcanary runs
# and scrapes happen there. Returns 1 (no skip) when not possible: not root,
# no `ip netns`.
http_netns() {
        ((EUID == 0)) || return 1
        command -v ip >/dev/null 2>&1 || return 1
        local ns="nchttp-$$-$RANDOM"
        ip netns add "$ns" 2>"$NC_TMP/netns.err" || { log "ip netns add: $(cat "$NC_TMP/netns.err")"; return 1; }
        NC_NETNS+=("$ns")
        ip -n "$ns" link set lo up || fatal "cannot bring lo up in $ns"
        HTTP_NS=$ns
        NSX=(ip netns exec "$ns")
        NC_CURL=(ip netns exec "$ns" curl -sS --max-time 5 --noproxy '*')
        log "namespace $ns (lo only): server, netcanary and scrapes run there"
        return 0
}

# in_ns CMD...: runs CMD in our namespace, or here when there is none.
# (Background jobs use "${NSX[@]}" CMD & directly: a backgrounded function
# would be a subshell whose pid is not the server's.)
in_ns() { "${NSX[@]}" "$@"; }

# ---------------------------------------------------------------- certificates

# make_certs: a self-signed CA ($NC_TMP/ca.pem) and a server certificate it
# signed for localhost, 127.0.0.1 and ::1 ($NC_TMP/server.pem, server.key).
make_certs() {
        command -v openssl >/dev/null 2>&1 || fatal "openssl not installed"
        local d=$NC_TMP
        {
                openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
                        -keyout "$d/ca.key" -out "$d/ca.pem" -days 2 -subj "/CN=netcanary test CA" \
                        -addext "basicConstraints=critical,CA:TRUE" \
                        -addext "keyUsage=critical,keyCertSign,cRLSign" &&
                        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
                                -keyout "$d/server.key" -out "$d/server.csr" -subj "/CN=localhost" &&
                        printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
                                "basicConstraints=CA:FALSE" "extendedKeyUsage=serverAuth" >"$d/server.ext" &&
                        openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
                                -CAcreateserial -out "$d/server.pem" -days 2 -extfile "$d/server.ext"
        } >"$d/openssl.log" 2>&1 || fatal "openssl failed: $(tail -5 "$d/openssl.log")"
        openssl verify -CAfile "$d/ca.pem" "$d/server.pem" >>"$d/openssl.log" 2>&1 ||
                fatal "the generated server certificate does not verify: $(tail -3 "$d/openssl.log")"
        CA=$d/ca.pem
        log "certificates: CA $CA, server certificate for localhost/127.0.0.1/::1"
}

# ---------------------------------------------------------------- the test server

# start_server HTTP-PORT [HTTPS-PORT] [extra server.py args...]: server.py on
# 127.0.0.1 (in our namespace if any); HTTPS needs make_certs first. Requests
# are logged to $SRV_LOG.
start_server() {
        local hp=$1 sp=${2:-}
        shift
        [[ -n $sp ]] && shift
        local args=(--addr 127.0.0.1 --http-port "$hp" --lifetime 170)
        if [[ -n $sp ]]; then
                [[ -n $CA ]] || fatal "start_server with https: call make_certs first"
                args+=(--https-port "$sp" --cert "$NC_TMP/server.pem" --key "$NC_TMP/server.key")
        fi
        SRV_LOG=$NC_TMP/requests.txt
        : >"$SRV_LOG"
        local ready=$NC_TMP/server-$hp.ready
        rm -f "$ready"
        "${NSX[@]}" "$PY" "$HTTP_DIR/server.py" "${args[@]}" --log "$SRV_LOG" --ready "$ready" "$@" \
                >"$NC_TMP/server-$hp.log" 2>&1 &
        local pid=$!
        NC_HELPERS+=("$pid")
        wait_for 10 "test server on 127.0.0.1:$hp" _helper_ready "$ready" "$pid" || fatal "test server did not start"
        [[ -e $ready ]] || fatal "test server died: $(cat "$NC_TMP/server-$hp.log")"
        log "test server pid $pid: http 127.0.0.1:$hp${sp:+, https 127.0.0.1:$sp}"
}

# served PATTERN: the server logged a request line matching the ERE PATTERN
# ("METHOD PATH HOST").
served() { grep -Eq -- "$1" "$SRV_LOG"; }

# ---------------------------------------------------------------- netcanary

# write_config FILE LISTEN-PORT TIMEOUT TARGETS-JSON ROWS-JSON
write_config() {
        cat >"$1" <<JSON
{
  "agent": { "identity": "httptest", "listen": "127.0.0.1:$2", "responder": { "port": 0 } },
  "defaults": { "interval": "${INTERVAL:-2s}", "timeout": "$3", "confirm": 1 },
  "targets": $4,
  "matrix": $5
}
JSON
        # The network rule, enforced: every URL and host is a loopback literal.
        if jq -r '.targets[] | (.http.url // empty), (.tcp.host // empty), (.udp.host // empty)' "$1" |
                grep -Ev '^(https?://(127\.0\.0\.1|\[::1\])(:[0-9]+)?(/.*)?|127\.0\.0\.1|::1)$'; then
                fatal "config $1 names a host that is not a loopback literal (see above)"
        fi
}

# nc_once CONFIG: `netcanary once --format json` (bounded by 30 s) in our
# namespace; JSON in $ONCE, stderr in $ONCE.err, exit code in $RC.
nc_once() {
        ONCE=$NC_TMP/once-$((++_NC_ONCE_N)).json
        in_ns timeout 30 "$NETCANARY" once --config "$1" --format json >"$ONCE" 2>"$ONCE.err" </dev/null
        RC=$?
        if ! [[ -s $ONCE ]] || ! jq -e ".rows" "$ONCE" >/dev/null 2>&1; then
                fail "once --config $1: not a JSON report (rc $RC): $(head -c 300 "$ONCE") $(tail -3 "$ONCE.err")"
        fi
}
_NC_ONCE_N=0

# ofield TO JQ: a field of the row to TO in the last once report.
ofield() { jq -r --arg to "$1" "[.rows[] | select(.to == \$to)][0] | $2" "$ONCE" 2>/dev/null; }

# expect_row TO OUTCOME VERDICT MET MISMATCH: checks one row of the last once report.
expect_row() {
        local to=$1 got want
        got=$(ofield "$to" '[.addresses[0].outcome, .verdict, .met, .mismatch] | join(" ")')
        want="$2 $3 $4 $5"
        if [[ $got == "$want" ]]; then
                pass "$to: outcome/verdict/met/mismatch = $got"
        else
                fail "$to: outcome/verdict/met/mismatch = '$got', expected '$want' (row: $(ofield "$to" '. | tojson' | head -c 400))"
        fi
}

# nc_start_ns NAME CONFIG: like nc_start, in our namespace.
nc_start_ns() {
        local name=$1 cfg=$2
        shift 2
        "${NSX[@]}" "$NETCANARY" run --config "$cfg" --log-level debug "$@" >"$NC_TMP/$name.log" 2>&1 &
        local pid=$!
        NC_PIDS+=("$pid")
        printf -v "PID_$name" '%s' "$pid"
        log "started netcanary '$name' pid $pid (config $cfg${HTTP_NS:+, namespace $HTTP_NS})"
}

# probe_get LISTEN-PORT TARGET OUTFILE: GET /probe?target=TARGET; body -> OUTFILE,
# HTTP status printed.
probe_get() {
        "${NC_CURL[@]}" --max-time 10 -o "$3" -w '%{http_code}' -G --data-urlencode "target=$2" \
                "$(url "$1" /probe)" 2>"$3.err"
}

# pv FILE NAME [label=value ...]: value of a series in a /probe answer.
pv() {
        local f=$1
        shift
        metric_value "$@" <"$f"
}

# promtool_ok FILE: `promtool check metrics` accepts FILE with no output.
promtool_ok() {
        local out rc
        out=$(promtool check metrics <"$1" 2>&1)
        rc=$?
        if ((rc == 0)) && [[ -z $out ]]; then return 0; fi
        log "promtool check metrics (rc $rc): $out"
        return 1
}
