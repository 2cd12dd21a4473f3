# shellcheck shell=bash
# Helpers for netcanary's DNS tests (issue 3, contract §7.2/§7.3): a real unbound
# started by the test on loopback (or inside a network namespace the test
# made), netcanary pointed at it, assertions through `once --format json`,
# /metrics and /api/v1/matrix.
#
# Builds on tests/integration/lib.sh (fail/pass/fatal/skip, wait_for, nc_start,
# metric*, mq, expect_*), sourced below.
#
# Network rule: every DNS query goes to a server on loopback or inside a
# namespace created here. `dns_guard` refuses to run a config whose dns
# servers are not loopback literals (or "resolv.conf" outside a namespace with
# its own /etc/netns/NS/resolv.conf), or whose tcp/udp hosts are not IP
# literals: c-ares would otherwise ask the machine's resolver.
#
# Ports: the suite owns 19600-19699 ($DNS_PORT_BASE overrides the start);
# `dns_init SLOT` (0-11) gives the script the eight ports 19600+8*SLOT ..
# +7 (`port 0` .. `port 7`), so the scripts run in parallel. Scripts that run
# everything inside their own namespace use their ports there only.
#
# unbound: `unbound_start NAME PORT [NS] <<EXTRA` writes a config with the
# shared zone below plus EXTRA server: lines (stdin), runs `unbound -d` (in NS
# when given), waits until it serves, and registers it for teardown.
# unbound_stat NAME KEY reads one counter through unbound-control.

# shellcheck source=../integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

DNS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DNS_NETNS_ETC=()   # /etc/netns/<ns> directories we created
DNS_NS=""          # the namespace netcanary runs in ("" = host loopback)

dns_init() {
        local slot=$1
        nc_init 6
        NC_BASE=$((${DNS_PORT_BASE:-19600} + slot * 8))
        log "dns slot $slot: ports $NC_BASE-$((NC_BASE + 7))"
        command -v unbound >/dev/null 2>&1 || fatal "unbound not installed (apt-get install unbound)"
        command -v unbound-control >/dev/null 2>&1 || fatal "unbound-control not installed (apt-get install unbound)"
        trap dns_cleanup EXIT
}

# Stops everything, deletes our namespaces and their /etc/netns entries, then
# lets the integration cleanup remove the temporary directory.
dns_cleanup() {
        local rc=$?
        trap - EXIT
        if ((rc != 0 && rc != 77)); then
                nc_dump_logs
                NC_TMP_DUMPED=1
        fi
        nc_stop_pids "${NC_PIDS[@]}" "${NC_HELPERS[@]}"
        local ns d
        for ns in "${NC_NETNS[@]}"; do
                ip netns pids "$ns" 2>/dev/null | while read -r p; do kill -KILL "$p" 2>/dev/null; done
                ip netns del "$ns" 2>/dev/null
        done
        NC_NETNS=()
        for d in "${DNS_NETNS_ETC[@]}"; do
                rm -f "$d/resolv.conf"
                rmdir "$d" 2>/dev/null
        done
        # nc_cleanup (which removes $NC_TMP) would dump the logs a second time.
        if [[ -n ${NC_TMP_DUMPED:-} ]]; then nc_dump_logs() { :; }; fi
        (exit "$rc")
        nc_cleanup
}

# ---------------------------------------------------------------- namespaces

# dns_netns VAR [RESOLV.CONF-TEXT]: a new namespace with lo up; with a text,
# /etc/netns/<ns>/resolv.conf (bind-mounted over /etc/resolv.conf by
# `ip netns exec`) holds it. Skips when not root or without `ip netns`.
dns_netns() {
        local var=$1 text=${2:-}
        ((EUID == 0)) || skip "not root (network namespaces needed)"
        command -v ip >/dev/null 2>&1 || skip "iproute2 (ip) not installed"
        local ns="ncdns-$$-${#NC_NETNS[@]}-$RANDOM"
        ip netns add "$ns" 2>"$NC_TMP/netns.err" || skip "ip netns unavailable: $(cat "$NC_TMP/netns.err")"
        NC_NETNS+=("$ns")
        ip -n "$ns" link set lo up || fatal "cannot bring lo up in $ns"
        if [[ -n $text ]]; then
                [[ -e /etc/netns/$ns ]] && fatal "/etc/netns/$ns exists already"
                mkdir -p "/etc/netns/$ns" || fatal "cannot create /etc/netns/$ns"
                DNS_NETNS_ETC+=("/etc/netns/$ns")
                printf '%s\n' "$text" >"/etc/netns/$ns/resolv.conf"
                # The bind mount really happens: the namespace sees our file.
                local seen
                seen=$(ip netns exec "$ns" cat /etc/resolv.conf 2>/dev/null)
                [[ $seen == "$text" ]] || fatal "ip netns exec $ns does not show /etc/netns/$ns/resolv.conf (saw: $seen)"
        fi
        printf -v "$var" '%s' "$ns"
        log "namespace $ns${text:+ with resolv.conf: $(tr '\n' ';' <<<"$text")}"
}

# in_ns NS CMD...: runs CMD in NS, or here when NS is "".
in_ns() {
        local ns=$1
        shift
        if [[ -n $ns ]]; then ip netns exec "$ns" "$@"; else "$@"; fi
}

# dns_use_ns NS: later nc_start/dns_once/scrapes run in NS ("" = host).
dns_use_ns() {
        DNS_NS=$1
        if [[ -n $DNS_NS ]]; then
                NC_CURL=(ip netns exec "$DNS_NS" curl -sS --max-time 5 --noproxy '*')
        else
                NC_CURL=(curl -sS --max-time 5 --noproxy '*')
        fi
}

# ---------------------------------------------------------------- the network rule

_is_loopback_literal() {
        local s=$1
        [[ $s =~ ^127\.[0-9]+\.[0-9]+\.[0-9]+(:[0-9]+)?$ || $s == "::1" || $s =~ ^\[::1\](:[0-9]+)?$ ]]
}

# dns_guard CONFIG: fatal unless every DNS query the config can cause goes to
# loopback (or, inside our namespace with its own resolv.conf, to "resolv.conf").
dns_guard() {
        local cfg=$1 s
        [[ -n $cfg ]] || {
                # The embedded default asks the resolv.conf servers: only in our namespace.
                [[ -n $DNS_NS && -e /etc/netns/$DNS_NS/resolv.conf ]] ||
                        fatal "guard: the embedded default queries resolv.conf; run it only in a namespace of ours"
                return 0
        }
        jq -e . "$cfg" >/dev/null 2>&1 || fatal "guard: $cfg is not plain JSON"
        while IFS= read -r s; do
                [[ -z $s ]] && continue
                if [[ $s == resolv.conf ]]; then
                        [[ -n $DNS_NS && -e /etc/netns/$DNS_NS/resolv.conf ]] ||
                                fatal "guard: \"servers\": \"resolv.conf\" outside a namespace with its own resolv.conf"
                elif [[ -z $DNS_NS ]] && ! _is_loopback_literal "$s"; then
                        fatal "guard: dns server $s is not a loopback address"
                fi
        done < <(jq -r '.targets[] | .dns? | select(.) | (.servers // "resolv.conf") | if type == "array" then .[] else . end' "$cfg")
        while IFS= read -r s; do
                [[ -z $s ]] && continue
                [[ $s =~ ^[0-9.]+$ || $s == *:* ]] || fatal "guard: tcp/udp host $s is a name (would be resolved)"
                if [[ -z $DNS_NS ]] && ! _is_loopback_literal "$s"; then fatal "guard: host $s is not loopback"; fi
        done < <(jq -r '.targets[] | (.tcp? // .udp?) | select(.) | .host' "$cfg")
        jq -e '[.targets[] | .http? | select(.)] | length == 0' "$cfg" >/dev/null || fatal "guard: no http targets here"
}

# ---------------------------------------------------------------- netcanary

# dns_config FILE LISTEN-PORT TARGETS-JSON MATRIX-JSON [DEFAULTS-JSON]
dns_config() {
        local f=$1 lp=$2 targets=$3 matrix=$4
        local defaults=${5:-'{ "interval": "1s", "timeout": "500ms", "confirm": 1 }'}
        cat >"$f" <<JSON
{
  "agent": { "identity": "dnstest", "listen": "127.0.0.1:$lp", "responder": { "port": 0 } },
  "defaults": $defaults,
  "targets": $targets,
  "matrix": $matrix
}
JSON
        dns_guard "$f"
        if [[ -z $DNS_NS ]] && declare -F ports_free >/dev/null; then ports_free "$lp"; fi
}

# dns_once CONFIG OUT: one round (in DNS_NS), JSON to OUT, exit status in RC.
dns_once() {
        local cfg=$1 out=$2
        dns_guard "$cfg"
        in_ns "$DNS_NS" timeout 30 "$NETCANARY" once --config "$cfg" --format json >"$out" 2>"$out.err"
        RC=$?
        jq -e .rows "$out" >/dev/null 2>&1 ||
                fail "once output is not a JSON report (rc $RC): $(head -c 400 "$out") stderr: $(head -c 400 "$out.err")"
}

# dns_start NAME CONFIG|"" [ARGS...]: `netcanary run` (in DNS_NS); "" = embedded default.
dns_start() {
        local name=$1 cfg=$2
        shift 2
        dns_guard "$cfg"
        local args=(run --log-level debug "$@")
        [[ -n $cfg ]] && args+=(--config "$cfg")
        # No cluster here: the embedded default must not add the API server row.
        local cmd=(env -u KUBERNETES_SERVICE_HOST -u KUBERNETES_SERVICE_PORT timeout -k 2 175 "$NETCANARY" "${args[@]}")
        [[ -n $DNS_NS ]] && cmd=(ip netns exec "$DNS_NS" "${cmd[@]}")
        "${cmd[@]}" >"$NC_TMP/$name.log" 2>&1 &
        local pid=$!
        NC_PIDS+=("$pid")
        printf -v "PID_$name" '%s' "$pid"
        log "started netcanary '$name' pid $pid${DNS_NS:+ in $DNS_NS} (${cfg:-embedded default} $*)"
}

# rowq FILE TO FILTER: FILTER on the first row to TO of a report file.
rowq() { jq -r --arg t "$2" "[.rows[] | select(.to == \$t)][0] | $3" "$1"; }

# rows_done PORT N: every row of the daemon has completed at least N rounds.
rows_done() {
        [[ $(mq "$1" "[.rows[] | .rounds >= $2] | all" 2>/dev/null) == true ]]
}

# wait_rounds PORT N: bounded wait (20 s) for rows_done.
wait_rounds() {
        wait_for 20 "every row done $2 rounds (port $1)" rows_done "$1" "$2" ||
                fatal "rows did not complete $2 rounds: $(matrix "$1" | jq -c '[.rows[] | {to, rounds}]' 2>&1)"
}

# dns_probe PORT TARGET OUT: GET /probe?module=dns&target=TARGET (in DNS_NS),
# as a blackbox scrape config asks; body -> OUT, HTTP status printed.
dns_probe() {
        "${NC_CURL[@]}" --max-time 10 -o "$3" -w '%{http_code}' -G --data-urlencode module=dns \
                --data-urlencode "target=$2" "$(url "$1" /probe)" 2>"$3.err"
}

# probe_value FILE NAME [label=value ...]: a series of a /probe answer ("absent" if none).
probe_value() {
        local f=$1
        shift
        metric_value "$@" <"$f" || echo absent
}

# ---------------------------------------------------------------- unbound

# The zone every test server carries. "." static: nothing is ever recursed
# (unknown names are NXDOMAIN here); the forward zone's only server is on
# loopback, which unbound refuses to query (do-not-query-localhost: yes), so
# it answers SERVFAIL at once without sending a packet.
DNS_ZONE='
  local-zone: "." static
  local-zone: "nctest.example." static
  local-data: "nctest.example. SOA ns.nctest.example. hostmaster.nctest.example. 1 3600 600 86400 60"
  local-data: "www.nctest.example. A 192.0.2.10"
  local-data: "www.nctest.example. A 192.0.2.11"
  local-data: "web.nctest.example. A 192.0.2.10"
  local-data: "web.nctest.example. A 192.0.2.11"
  local-data: "www.nctest.example. AAAA 2001:db8::10"
  local-data: "www.nctest.example. AAAA 2001:db8::11"
  local-data: "alias.nctest.example. CNAME www.nctest.example."
  local-data: "_http._tcp.nctest.example. SRV 0 0 80 www.nctest.example."
  local-data: "txt.nctest.example. TXT \"netcanary\""
  local-data: "nctest.example. MX 10 www.nctest.example."
  local-data: "10.2.0.192.in-addr.arpa. PTR www.nctest.example."
  local-zone: "2.0.192.in-addr.arpa." static
  local-zone: "refused.nctest.example." refuse
  local-zone: "fail.nctest.example." transparent
  do-not-query-localhost: yes
forward-zone:
  name: "fail.nctest.example."
  forward-addr: 127.0.0.1@9
server:'

# unbound_start NAME PORT [NS] [ADDRS]: extra server: lines on stdin (may be
# empty). ADDRS: space-separated listen addresses (default "127.0.0.1").
unbound_start() {
        local name=$1 p=$2 ns=${3:-} addrs=${4:-127.0.0.1}
        local dir="$NC_TMP/unbound-$name" extra a
        mkdir -p "$dir"
        # Another process on our port is a clash, not a netcanary bug: say so.
        if [[ -z $ns ]] && declare -F ports_free >/dev/null; then ports_free "$p"; fi
        extra=$(cat)
        {
                echo "server:"
                for a in $addrs; do echo "  interface: $a@$p"; done
                cat <<EOF
  do-ip4: yes
  do-ip6: yes
  do-udp: yes
  do-tcp: yes
  username: ""
  chroot: ""
  pidfile: ""
  directory: "$dir"
  use-syslog: no
  logfile: ""
  log-time-ascii: yes
  verbosity: 1
  num-threads: 1
  so-reuseport: no
  module-config: "iterator"
  extended-statistics: yes
  access-control: 127.0.0.0/8 allow
  access-control: ::1/128 allow
  rrset-roundrobin: no
  minimal-responses: yes
EOF
                echo "$DNS_ZONE"
                echo "$extra"
                cat <<EOF
remote-control:
  control-enable: yes
  control-interface: "$dir/control.sock"
  control-use-cert: no
EOF
        } >"$dir/unbound.conf"
        unbound-checkconf "$dir/unbound.conf" >"$dir/checkconf.out" 2>&1 ||
                fatal "unbound config $name invalid: $(cat "$dir/checkconf.out")"
        # A simple command, so $! is unbound itself (`ip netns exec` execs it).
        # timeout(1): a last resort should the script itself be killed hard.
        local cmd=(timeout -k 2 175 unbound -d -c "$dir/unbound.conf")
        [[ -n $ns ]] && cmd=(ip netns exec "$ns" "${cmd[@]}")
        "${cmd[@]}" >"$NC_TMP/unbound-$name.log" 2>&1 &
        local pid=$!
        NC_HELPERS+=("$pid")
        printf -v "UNBOUND_PID_$name" '%s' "$pid"
        wait_for 10 "unbound $name serving" _unbound_up "$dir" "$pid" ||
                fatal "unbound $name did not start: $(tail -n 5 "$NC_TMP/unbound-$name.log")"
        _alive "$pid" || fatal "unbound $name exited: $(tail -n 5 "$NC_TMP/unbound-$name.log")"
        log "unbound '$name' pid $pid on ${addrs// /,} port $p${ns:+ in $ns}"
}

_unbound_up() {
        ! _alive "$2" && return 0
        unbound-control -c "$1/unbound.conf" status >/dev/null 2>&1
}

# unbound_stat NAME KEY: a counter from `unbound-control stats_noreset` (0 if absent).
unbound_stat() {
        local v
        v=$(unbound-control -c "$NC_TMP/unbound-$1/unbound.conf" stats_noreset 2>/dev/null |
                awk -F= -v k="$2" '$1 == k { print $2; exit }')
        echo "${v:-0}"
}

# ---------------------------------------------------------------- assertions

# dns_metric PORT NAME label=value...: like metric0 (absent series read as 0).
dns_metric() { metric0 "$@"; }

# bucket PORT SERVER NAME TYPE LE: cumulative count of the per-server lookup histogram.
bucket() {
        metric0 "$1" netcanary_dns_lookup_duration_seconds_bucket server="$2" name="$3" type="$4" le="$5"
}
