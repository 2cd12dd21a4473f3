#!/usr/bin/env bash
# netcanary end-to-end policy testbed (contract §7.3, issue 5).
#
# Builds the nearest thing to a Kubernetes cluster that one machine can run,
# entirely inside network namespaces this script creates:
#
#   switch ns     a bridge, the "node network"; one veth per pod ns ends here.
#                 No veth reaches the root namespace, no pod has a default route:
#                 nothing can leave the testbed.
#   customer-a    tenant pod, netcanary agent (identity customer-a)
#   customer-b x2 tenant pods (so the headless name has two addresses), agents
#   platform      the shared "metrics service" (python3 http.server :8080) + agent
#   egress-gw     the one namespace allowed out: positive control for "internet"
#   dns           unbound serving svc.cluster.local (CoreDNS' part)
#   internet      203.0.113.10, a TCP/HTTP listener on :443
#   monitoring    Debian's prometheus scraping every agent each second, with the
#                 recording rule netcanary:expectation_verified and the alerts
#
# nftables inside each tenant and platform namespace play the NetworkPolicies
# (default-deny ingress and egress plus allow rules). The deny style says how a
# denial behaves: drop (Calico/Cilium default) | reset (TCP RST, ICMP
# port-unreachable for UDP) | icmp (ICMP admin-prohibited). The baseline runs
# with every style, scenarios 2-7 with one (E2E_SCENARIO_STYLE).
#
# Every assertion is a Prometheus query (its HTTP API, from the monitoring ns).
# Measured times (rule broken -> verdict flip in Prometheus, -> alert firing)
# are written to the log and summed up at the end.
#
# Environment:
#   NETCANARY            the netcanary binary (required)
#   E2E_MATRIX           the shared matrix (default: probes/e2e-scenario.json)
#   E2E_RULES            Prometheus rule file (default: deploy/prometheus/netcanary-rules.yml,
#                        the shipped rules with time compressed 60x: minutes become
#                        seconds, so 5m windows and `for` clauses fit 1 s intervals)
#   E2E_DENY_STYLES      denial styles the baseline runs with (default "drop reset icmp")
#   E2E_SCENARIO_STYLE   the style scenarios 2-7 run with (default drop)
#   E2E_KEEP_LOGS=DIR    copy every component's log to DIR at the end
#
# Agents run as uid 65534 with no capabilities (setpriv; as root when that uid
# cannot reach the binary). Needs root (exit 77 otherwise), iproute2, nftables,
# unbound, prometheus (+promtool), curl, jq, /usr/bin/python3, setpriv. Everything is torn down on exit,
# failure, Ctrl-C or SIGTERM; a second run right after works.

# shellcheck disable=SC2317 # functions are called indirectly (traps, wait_until)
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MATRIX=${E2E_MATRIX:-$HERE/../../probes/e2e-scenario.json}
RULES=${E2E_RULES:-}
DEPLOY_RULES=$HERE/../../deploy/prometheus/netcanary-rules.yml
DENY_STYLES=${E2E_DENY_STYLES:-drop reset icmp}
SCENARIO_STYLE=${E2E_SCENARIO_STYLE:-drop}
PY=/usr/bin/python3

START_MS=0
FAILS=0
TIMINGS=()

log() { printf '[%s] %s\n' "$(date +%H:%M:%S.%3N)" "$*"; }
pass() { log "ok:   $*"; }
fail() { log "FAIL: $*"; FAILS=$((FAILS + 1)); }
fatal() { log "FATAL: $*"; FAILS=$((FAILS + 1)); exit 1; }
now_ms() { local t; t=$(date +%s%N); echo $((t / 1000000)); }
timing() { TIMINGS+=("$*"); log "timing: $*"; }
section() { log "======== $* ========"; }

if ((EUID != 0)); then
        echo "SKIP: the e2e testbed needs root (network namespaces, nftables)"
        exit 77
fi
[[ -n ${NETCANARY:-} && -x ${NETCANARY:-} ]] || fatal "NETCANARY must name the netcanary binary (got '${NETCANARY:-}')"
for t in ip nft unbound unbound-checkconf prometheus promtool curl jq ss; do
        command -v "$t" >/dev/null 2>&1 || fatal "required tool '$t' not found (Debian: iproute2 nftables unbound prometheus curl jq)"
done
[[ -x $PY ]] || fatal "$PY not found (Debian: python3)"
[[ -r $MATRIX ]] || fatal "matrix $MATRIX not readable"
[[ -z $RULES || -r $RULES ]] || fatal "rules $RULES not readable"

# ------------------------------------------------------------------ the plan

P=nce2e-$$
NS_SW=$P-sw
NS_A=$P-a
NS_B1=$P-b1
NS_B2=$P-b2
NS_PLAT=$P-plat
NS_EGW=$P-egw
NS_DNS=$P-dns
NS_MON=$P-mon
NS_NET=$P-inet

POD_CIDR=10.244.0.0/16
IP_DNS=10.244.0.53
IP_A=10.244.1.10
IP_B1=10.244.2.10
IP_B2=10.244.2.11
IP_PLAT=10.244.3.10
IP_PLAT_DRIFT=10.244.3.99
IP_EGW=10.244.4.10
IP_MON=10.244.9.90
IP_K8S_API=10.244.0.1 # only a DNS record: kubernetes.default.svc.cluster.local
IP_NET=203.0.113.10   # the matrix's "internet" (TEST-NET-3), here a namespace on our bridge
NET_CIDR=203.0.113.0/24

AGENT_PORT=9890
RESPONDER_PORT=9891
SERVICE_PORT=8080
NET_PORT=443

STYLE=$SCENARIO_STYLE
TMP=""
NETNS=()             # namespaces we created, in creation order
ETC_NETNS_DIRS=()    # /etc/netns/<ns> directories we created
ETC_NETNS_MADE=0     # we created /etc/netns itself
declare -A PID=()    # component name -> pid
declare -A AGENT_NS=() AGENT_IP=() AGENT_ID=()
AGENT_MATRIX=""      # the matrix as the agents read it: a copy in $TMP
AGENT_AS=()          # prefix that runs agents as uid 65534 without capabilities
AGENTS=(a b1 b2 plat egw)
AGENT_NS=([a]=$NS_A [b1]=$NS_B1 [b2]=$NS_B2 [plat]=$NS_PLAT [egw]=$NS_EGW)
AGENT_IP=([a]=$IP_A [b1]=$IP_B1 [b2]=$IP_B2 [plat]=$IP_PLAT [egw]=$IP_EGW)
AGENT_ID=([a]=customer-a [b1]=customer-b [b2]=customer-b [plat]=platform [egw]=egress-gateway)

# ------------------------------------------------------------------ teardown

stop_pid() { # PID...: TERM, up to 3 s, KILL
        local pid deadline
        for pid in "$@"; do kill -TERM "$pid" 2>/dev/null; done
        deadline=$(($(now_ms) + 3000))
        for pid in "$@"; do
                while kill -0 "$pid" 2>/dev/null && (($(now_ms) < deadline)); do sleep 0.05; done
                kill -KILL "$pid" 2>/dev/null
                wait "$pid" 2>/dev/null
        done
        return 0
}

stop_component() { # NAME
        local pid=${PID[$1]:-}
        [[ -n $pid ]] || return 0
        stop_pid "$pid"
        unset "PID[$1]"
}

dump_logs() {
        local f
        [[ -n $TMP && -d $TMP ]] || return 0
        for f in "$TMP"/*.log; do
                [[ -e $f ]] || continue
                echo "----- last lines of $(basename "$f") -----"
                tail -n 30 "$f"
        done
}

cleanup() {
        local rc=$?
        trap - EXIT INT TERM
        if ((rc != 0 && rc != 77)); then dump_logs; fi
        if [[ -n ${E2E_KEEP_LOGS:-} && -n $TMP && -d $TMP ]]; then
                mkdir -p "$E2E_KEEP_LOGS" && cp "$TMP"/*.log "$E2E_KEEP_LOGS"/ 2>/dev/null
        fi
        local name ns i
        local pids=()
        for name in "${!PID[@]}"; do pids+=("${PID[$name]}"); done
        ((${#pids[@]})) && stop_pid "${pids[@]}"
        # Anything else still running inside our namespaces (all of it is ours).
        for ((i = ${#NETNS[@]} - 1; i >= 0; i--)); do
                ns=${NETNS[$i]}
                for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
                ip netns del "$ns" 2>/dev/null || log "warning: could not delete netns $ns"
        done
        for ns in "${ETC_NETNS_DIRS[@]}"; do rm -rf "/etc/netns/$ns"; done
        ((ETC_NETNS_MADE)) && rmdir /etc/netns 2>/dev/null
        [[ -n $TMP && -d $TMP ]] && rm -rf "$TMP"
        if ((rc == 0)); then log "teardown done"; else log "teardown done (exit $rc)"; fi
        exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

# ------------------------------------------------------------------ waiting

WAITED_MS=0
# wait_until SECONDS DESCRIPTION CMD [ARGS...]: polls CMD every 200 ms until it
# succeeds (status 0, WAITED_MS = time it took) or SECONDS pass (status 1).
wait_until() {
        local secs=$1 desc=$2
        shift 2
        local start deadline
        start=$(now_ms)
        deadline=$((start + secs * 1000))
        while :; do
                if "$@"; then
                        WAITED_MS=$(($(now_ms) - start))
                        return 0
                fi
                (($(now_ms) >= deadline)) && break
                sleep 0.2
        done
        WAITED_MS=$(($(now_ms) - start))
        log "timed out after ${secs}s waiting for: $desc"
        return 1
}

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# ------------------------------------------------------------------ Prometheus queries

PROM_URL="http://$IP_MON:9090"
mon_curl() { in_ns "$NS_MON" curl -sS --max-time 3 --noproxy '*' "$@"; }

# prom EXPR: the raw /api/v1/query answer.
prom() { mon_curl -G --data-urlencode "query=$1" "$PROM_URL/api/v1/query" 2>/dev/null; }
# pval EXPR: the value of the first result ("" if none or on error).
pval() { prom "$1" | jq -r 'if .status == "success" then (.data.result[0].value[1] // "") else "" end' 2>/dev/null; }
# pnum EXPR: like pval, but 0 when there is no result (for sums and counts).
pnum() { local v; v=$(pval "$1"); echo "${v:-0}"; }
# q_any EXPR: the query returns at least one series.
q_any() { [[ $(prom "$1" | jq -r '.data.result | length' 2>/dev/null) =~ ^[1-9] ]]; }
# q_none EXPR: the query succeeds and returns nothing.
q_none() { [[ $(prom "$1" | jq -r 'if .status == "success" then (.data.result | length) else "err" end' 2>/dev/null) == 0 ]]; }
# q_cmp EXPR OP NUMBER: the first value compares (false if there is none).
q_cmp() { local v; v=$(pval "$1"); [[ -n $v ]] && num "$2" "$v" "$3"; }
num() {
        awk -v a="$2" -v b="$3" -v op="$1" 'BEGIN {
                a += 0; b += 0
                if (op == "==") r = a == b; else if (op == "!=") r = a != b
                else if (op == "<") r = a < b; else if (op == "<=") r = a <= b
                else if (op == ">") r = a > b; else if (op == ">=") r = a >= b
                else exit 2
                exit r ? 0 : 1 }'
}
# series EXPR: one line per result, "from->to/protocol expect=.. instance=.. = value".
series() {
        prom "$1" | jq -r '.data.result[]? | "  " + ((.metric | to_entries | map(select(.key != "job" and .key != "__name__")) | map("\(.key)=\(.value)") | join(" "))) + " = " + .value[1]' 2>/dev/null
}

# check DESC CMD...: pass if CMD succeeds.
check() {
        local desc=$1
        shift
        if "$@"; then pass "$desc"; else fail "$desc"; fi
}

# ------------------------------------------------------------------ network

mkns() {
        ip netns add "$1" || fatal "ip netns add $1 failed"
        NETNS+=("$1")
        ip -n "$1" link set lo up
        # IPv4 only: no router solicitations or DAD noise on the bridge.
        in_ns "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
        return 0
}

# attach NS PORT ADDR/PREFIX: a veth from NS (eth0) to the switch's bridge.
attach() {
        local ns=$1 port=$2 cidr=$3
        ip -n "$NS_SW" link add "$port" type veth peer name eth0 netns "$ns" || fatal "veth $port <-> $ns failed"
        ip -n "$NS_SW" link set "$port" master br0 up || fatal "cannot enslave $port"
        ip -n "$ns" addr add "$cidr" dev eth0 || fatal "address $cidr in $ns failed"
        ip -n "$ns" link set eth0 up || fatal "eth0 up in $ns failed"
}

resolv_conf() { # NS: cluster DNS for processes started with `ip netns exec NS`
        local ns=$1
        if [[ ! -d /etc/netns ]]; then
                mkdir -p /etc/netns || fatal "cannot create /etc/netns"
                ETC_NETNS_MADE=1
        fi
        mkdir -p "/etc/netns/$ns" || fatal "cannot create /etc/netns/$ns"
        ETC_NETNS_DIRS+=("$ns")
        printf 'nameserver %s\nsearch svc.cluster.local\noptions ndots:5 timeout:1 attempts:1\n' "$IP_DNS" \
                >"/etc/netns/$ns/resolv.conf"
}

build_network() {
        local ns
        for ns in "$NS_SW" "$NS_A" "$NS_B1" "$NS_B2" "$NS_PLAT" "$NS_EGW" "$NS_DNS" "$NS_MON" "$NS_NET"; do
                mkns "$ns"
        done
        ip -n "$NS_SW" link add br0 type bridge || fatal "bridge in $NS_SW failed"
        ip -n "$NS_SW" link set br0 up
        attach "$NS_A" p-a "$IP_A/16"
        attach "$NS_B1" p-b1 "$IP_B1/16"
        attach "$NS_B2" p-b2 "$IP_B2/16"
        attach "$NS_PLAT" p-plat "$IP_PLAT/16"
        attach "$NS_EGW" p-egw "$IP_EGW/16"
        attach "$NS_DNS" p-dns "$IP_DNS/16"
        attach "$NS_MON" p-mon "$IP_MON/16"
        attach "$NS_NET" p-inet "$IP_NET/24"
        # The "internet" is on-link on the same bridge: a route to exactly that
        # /24 in every pod (no default route anywhere), and the way back.
        for ns in "$NS_A" "$NS_B1" "$NS_B2" "$NS_PLAT" "$NS_EGW"; do
                ip -n "$ns" route add "$NET_CIDR" dev eth0 || fatal "route to $NET_CIDR in $ns failed"
        done
        ip -n "$NS_NET" route add "$POD_CIDR" dev eth0 || fatal "route back from the internet ns failed"
        for ns in "$NS_A" "$NS_B1" "$NS_B2" "$NS_PLAT" "$NS_EGW"; do resolv_conf "$ns"; done
        log "network: bridge in $NS_SW; a=$IP_A b=$IP_B1,$IP_B2 platform=$IP_PLAT egress-gw=$IP_EGW dns=$IP_DNS monitoring=$IP_MON internet=$IP_NET"
}

# ------------------------------------------------------------------ policies (nftables)

# The denial statements for the current $STYLE.
deny_stmts() {
        case $STYLE in
        drop) echo '                drop' ;;
        reset)
                echo '                meta l4proto tcp reject with tcp reset'
                echo '                reject with icmpx type port-unreachable'
                ;;
        icmp) echo '                reject with icmpx type admin-prohibited' ;;
        *) fatal "unknown deny style '$STYLE' (drop|reset|icmp)" ;;
        esac
}

# One namespace's NetworkPolicies as an nftables table: default deny both ways
# after the given accept rules (one nft rule per line). Every namespace accepts
# loopback, the established/related packets (the RSTs and ICMP errors of a
# reject leave as ct "related", so the default deny does not swallow them),
# the monitoring scrape and cluster DNS.
netpol_table() { # INGRESS_RULES EGRESS_RULES
        cat <<EOF
table inet netpol {}
delete table inet netpol
table inet netpol {
        chain ingress {
                type filter hook input priority filter; policy accept;
                iif "lo" accept
                ct state established,related accept
                ip saddr $IP_MON tcp dport $AGENT_PORT accept
$(sed 's/^/                /' <<<"$1")
$(deny_stmts)
        }
        chain egress {
                type filter hook output priority filter; policy accept;
                oif "lo" accept
                ct state established,related accept
                ip daddr $IP_DNS udp dport 53 accept
                ip daddr $IP_DNS tcp dport 53 accept
$(sed 's/^/                /' <<<"$2")
$(deny_stmts)
        }
}
EOF
}

# Tenant namespaces. Ingress: platform's probes of the responder (TCP+UDP).
# Egress: the platform service, and the canary's probes of other responders
# (the target's ingress policy is what those test).
tenant_policy() {
        netpol_table "ip saddr $IP_PLAT tcp dport $RESPONDER_PORT accept
ip saddr $IP_PLAT udp dport $RESPONDER_PORT accept" \
                "ip daddr $IP_PLAT tcp dport $SERVICE_PORT accept
ip daddr $POD_CIDR tcp dport $RESPONDER_PORT accept
ip daddr $POD_CIDR udp dport $RESPONDER_PORT accept"
}

# Platform: ingress from every pod to its service; egress to DNS and the
# tenants' responders.
platform_policy() {
        netpol_table "ip saddr $POD_CIDR tcp dport $SERVICE_PORT accept" \
                "ip daddr $POD_CIDR tcp dport $RESPONDER_PORT accept
ip daddr $POD_CIDR udp dport $RESPONDER_PORT accept"
}

apply_policy() { # NS tenant|platform
        local ns=$1 kind=$2 err
        if ! err=$("${kind}_policy" | in_ns "$ns" nft -f - 2>&1); then
                fatal "nft policy ($kind, $STYLE) in $ns failed: $err"
        fi
}
flush_policy() { in_ns "$1" nft delete table inet netpol 2>/dev/null || true; }
apply_b() { apply_policy "$NS_B1" tenant && apply_policy "$NS_B2" tenant; }
apply_all() {
        apply_policy "$NS_A" tenant
        apply_b
        apply_policy "$NS_PLAT" platform
}

# ------------------------------------------------------------------ components

# start NAME NS CMD...: runs CMD in NS in the background, log in $TMP/NAME.log.
start() {
        local name=$1 ns=$2
        shift 2
        ip netns exec "$ns" "$@" >"$TMP/$name.log" 2>&1 &
        PID[$name]=$!
}
alive() { [[ -n ${PID[$1]:-} ]] && kill -0 "${PID[$1]}" 2>/dev/null; }
listening() { # NS PROTO(t|u) PORT
        [[ -n $(in_ns "$1" ss -Hln"$2" "sport = :$3" 2>/dev/null) ]]
}

start_dns() {
        start unbound "$NS_DNS" unbound -d -c "$TMP/unbound.conf"
        wait_until 15 "unbound listening on $IP_DNS:53" listening "$NS_DNS" u 53 ||
                fatal "unbound did not start: $(tail -n 5 "$TMP/unbound.log")"
}

write_unbound_conf() {
        cat >"$TMP/unbound.conf" <<EOF
server:
        interface: $IP_DNS
        port: 53
        do-ip4: yes
        do-ip6: no
        do-udp: yes
        do-tcp: yes
        access-control: 0.0.0.0/0 refuse
        access-control: $POD_CIDR allow
        username: ""
        chroot: ""
        directory: "$TMP"
        pidfile: "$TMP/unbound.pid"
        use-syslog: no
        logfile: ""
        verbosity: 1
        module-config: "iterator"
        do-not-query-localhost: yes
        # Nothing but the cluster zone: no forwarders, no recursion that could
        # leave (there is no route out anyway).
        local-zone: "svc.cluster.local." static
        local-data: "kubernetes.default.svc.cluster.local. 2 IN A $IP_K8S_API"
        local-data: "metrics-service.platform.svc.cluster.local. 2 IN A $IP_PLAT"
        local-data: "netcanary.platform.svc.cluster.local. 2 IN A $IP_PLAT"
        local-data: "netcanary.customer-a.svc.cluster.local. 2 IN A $IP_A"
        local-data: "netcanary.customer-b.svc.cluster.local. 2 IN A $IP_B1"
        local-data: "netcanary.customer-b.svc.cluster.local. 2 IN A $IP_B2"
        local-data: "netcanary.egress-gateway.svc.cluster.local. 2 IN A $IP_EGW"
remote-control:
        control-enable: no
EOF
        unbound-checkconf "$TMP/unbound.conf" >"$TMP/unbound-checkconf.out" 2>&1 ||
                fatal "unbound-checkconf: $(cat "$TMP/unbound-checkconf.out")"
}

write_prometheus_conf() {
        local k targets=""
        for k in "${AGENTS[@]}"; do targets+="'${AGENT_IP[$k]}:$AGENT_PORT', "; done
        cat >"$TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
rule_files:
  - $RULES
scrape_configs:
  - job_name: netcanary
    static_configs:
      - targets: [${targets%, }]
EOF
        promtool check config "$TMP/prometheus.yml" >"$TMP/promtool.out" 2>&1 ||
                fatal "promtool check config: $(cat "$TMP/promtool.out")"
}

prom_ready() { [[ $(mon_curl -o /dev/null -w '%{http_code}' "$PROM_URL/-/ready" 2>/dev/null) == 200 ]]; }

start_prometheus() {
        mkdir -p "$TMP/tsdb"
        start prometheus "$NS_MON" prometheus --config.file="$TMP/prometheus.yml" \
                --storage.tsdb.path="$TMP/tsdb" --storage.tsdb.retention.time=1h \
                --web.listen-address="$IP_MON:9090" --log.level=info
        wait_until 60 "prometheus ready" prom_ready || fatal "prometheus did not become ready"
}

# Agents run as uid 65534 with every capability dropped, as in a cluster
# (issue 10: "the e2e and integration tests run the agent under an
# unprivileged uid"). They read a copy of the matrix in $TMP (mode 755), since
# the checkout may sit where that uid cannot reach (/root); if the binary
# itself is out of its reach, agents run as root and the log says so.
setup_agent_user() {
        AGENT_MATRIX=$TMP/matrix.json
        cp "$MATRIX" "$AGENT_MATRIX" && chmod 644 "$AGENT_MATRIX" && chmod 755 "$TMP" ||
                fatal "cannot copy $MATRIX into $TMP"
        local drop=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all --)
        if ! command -v setpriv >/dev/null 2>&1; then
                log "note: setpriv not found (util-linux); agents run as root"
        elif "${drop[@]}" test -x "$NETCANARY" && "${drop[@]}" test -r "$AGENT_MATRIX"; then
                AGENT_AS=("${drop[@]}")
        else
                log "note: uid 65534 cannot reach $NETCANARY; agents run as root here"
        fi
}
start_agent() { # KEY
        local k=$1
        start "agent-$k" "${AGENT_NS[$k]}" "${AGENT_AS[@]}" "$NETCANARY" run --config "$AGENT_MATRIX" \
                --identity "${AGENT_ID[$k]}" --listen "0.0.0.0:$AGENT_PORT" --log-level info
}
# expect_agent_unprivileged KEY: the agent's process has uid 65534 and no
# effective, permitted or bounding capability (when AGENT_AS is in use).
expect_agent_unprivileged() {
        local k=$1 status
        ((${#AGENT_AS[@]} > 0)) || return 0
        status=$(awk '/^(Uid|CapEff|CapPrm|CapBnd):/ {printf "%s%s ", $1, $2}' "/proc/${PID[agent-$k]}/status" 2>/dev/null)
        if [[ $status == "Uid:65534 CapPrm:0000000000000000 CapEff:0000000000000000 CapBnd:0000000000000000 " ]]; then
                pass "agent $k runs as uid 65534 with no capabilities"
        else
                fail "agent $k: expected uid 65534 and no capabilities, /proc says: $status"
        fi
}
agent_http() { # KEY PATH -> http code
        mon_curl -o /dev/null -w '%{http_code}' "http://${AGENT_IP[$1]}:$AGENT_PORT$2" 2>/dev/null
}
agent_healthy() { ! alive "agent-$1" || [[ $(agent_http "$1" /healthz) == 200 ]]; }
agent_ready() { [[ $(agent_http "$1" /readyz) == 200 ]]; }
wait_agent() { # KEY
        local k=$1
        wait_until 15 "agent $k /healthz" agent_healthy "$k"
        alive "agent-$k" || fatal "agent $k (${AGENT_ID[$k]}) exited: $(tail -n 5 "$TMP/agent-$k.log")"
        wait_until 20 "agent $k /readyz" agent_ready "$k" || fail "agent $k (${AGENT_ID[$k]}) never ready"
        expect_agent_unprivileged "$k"
}

# A small HTTP server (GET /metrics -> 200) that does not log every probe's
# connect-and-reset as an exception.
write_httpd() {
        cat >"$TMP/httpd.py" <<'EOF'
import functools, http.server, sys
addr, port, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]
class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    def handle_error(self, request, client_address):
        pass
Server((addr, port), functools.partial(Handler, directory=root)).serve_forever()
EOF
}

start_services() {
        mkdir -p "$TMP/www"
        printf 'platform_up 1\n' >"$TMP/www/metrics"
        write_httpd
        start service "$NS_PLAT" "$PY" "$TMP/httpd.py" "$IP_PLAT" "$SERVICE_PORT" "$TMP/www"
        start internet "$NS_NET" "$PY" "$TMP/httpd.py" "$IP_NET" "$NET_PORT" "$TMP/www"
        wait_until 15 "platform service :$SERVICE_PORT" listening "$NS_PLAT" t "$SERVICE_PORT" ||
                fatal "platform service did not start: $(tail -n 5 "$TMP/service.log")"
        wait_until 15 "internet host :$NET_PORT" listening "$NS_NET" t "$NET_PORT" ||
                fatal "internet listener did not start: $(tail -n 5 "$TMP/internet.log")"
}

# ------------------------------------------------------------------ the steady state

DNS_PROBES=0
ROWSEL='protocol!="dns"'
EXPECTED_ROWS=0
EXPECTED_DENY=0

# all_good: every expected row is in Prometheus and met, every deny row verified
# by the recording rule, every agent scraped.
all_good() {
        [[ $(pnum 'count(up{job="netcanary"} == 1)') == "${#AGENTS[@]}" ]] || return 1
        [[ $(pnum "count(netcanary_expectation_met{$ROWSEL} == 1)") == "$EXPECTED_ROWS" ]] || return 1
        [[ $(pnum "count(netcanary_expectation_met{$ROWSEL})") == "$EXPECTED_ROWS" ]] || return 1
        [[ $(pnum 'count(netcanary:expectation_verified == 1)') == "$EXPECTED_DENY" ]] || return 1
}

explain_not_good() {
        log "not up:"
        series 'up{job="netcanary"} == 0'
        log "rows not met:"
        series "netcanary_expectation_met{$ROWSEL} == 0"
        log "deny rows not verified:"
        series 'netcanary:expectation_verified == 0'
        log "rows met: $(pnum "count(netcanary_expectation_met{$ROWSEL} == 1)") of $(pnum "count(netcanary_expectation_met{$ROWSEL})") (expected $EXPECTED_ROWS); verified $(pnum 'count(netcanary:expectation_verified == 1)') of $EXPECTED_DENY deny rows"
}

# wait_good SECONDS WHAT: the steady state comes back; returns its time.
wait_good() {
        if wait_until "$1" "every row met and every deny row verified ($2)" all_good; then
                pass "$2: all $EXPECTED_ROWS rows met, all $EXPECTED_DENY deny rows verified (${WAITED_MS} ms)"
                return 0
        fi
        fail "$2: steady state not reached within $1 s"
        explain_not_good
        return 1
}

# Rows each agent runs, from its own /api/v1/matrix.
count_rows() {
        local k n d total=0 deny=0 filter
        if ((DNS_PROBES)); then filter='true'; else filter='.protocol != "dns"'; fi
        for k in "${AGENTS[@]}"; do
                n=$(mon_curl "http://${AGENT_IP[$k]}:$AGENT_PORT/api/v1/matrix" | jq "[.rows[] | select($filter)] | length")
                d=$(mon_curl "http://${AGENT_IP[$k]}:$AGENT_PORT/api/v1/matrix" | jq "[.rows[] | select($filter) | select(.expect == \"deny\")] | length")
                [[ $n =~ ^[0-9]+$ && $d =~ ^[0-9]+$ ]] || fatal "agent $k: /api/v1/matrix unreadable"
                total=$((total + n))
                deny=$((deny + d))
        done
        EXPECTED_ROWS=$total
        EXPECTED_DENY=$deny
}

detect_dns_probes() {
        local body
        body=$(mon_curl "http://$IP_A:$AGENT_PORT/metrics")
        if grep -q '^netcanary_dns_responses_total{' <<<"$body"; then
                DNS_PROBES=1
                ROWSEL=''
                log "dns probes: present in this build (netcanary_dns_responses_total is exported); dns rows are asserted"
        else
                DNS_PROBES=0
                ROWSEL='protocol!="dns"'
                log "dns probes: netcanary_dns_responses_total not in the scrape; dns-row assertions SKIPPED (dns probes not in this build)"
        fi
}
dns_skip() { log "SKIPPED (dns probes not in this build): $*"; }

# ------------------------------------------------------------------ scenario helpers

# The expected outcomes of a customer-a probe behind each style:
# tenant ingress (customer-b) for tcp/udp, own egress for the internet.
expected_outcome() { # STYLE -> "tcp udp egress"
        case $1 in
        drop) echo "timeout timeout timeout" ;;
        reset) echo "refused refused refused" ;;
        icmp) echo "unreachable unreachable unreachable" ;;
        esac
}

outcome_seen() { # FROM TO OUTCOME: the outcome is counted now (Prometheus)
        q_any "increase(netcanary_probes_total{from=\"$1\",to=\"$2\",outcome=\"$3\"}[3s]) > 0"
}

# The value of a counter sum, as Prometheus has it now.
counter_sum() { pnum "sum($1)"; }
counter_grew() { num '>' "$(counter_sum "$1")" "$2"; }

alert_firing() { # ALERTNAME LABEL-MATCHERS
        q_any "ALERTS{alertname=\"$1\",alertstate=\"firing\",$2}"
}

# measure NAME DEADLINE DESC T0 CMD...: waits, logs the time since T0 (the break).
measure() {
        local name=$1 secs=$2 desc=$3 t0=$4
        shift 4
        if wait_until "$secs" "$desc" "$@"; then
                local ms=$(($(now_ms) - t0))
                pass "$desc"
                timing "$name: ${ms} ms"
                return 0
        fi
        fail "$desc (not within ${secs} s)"
        return 1
}

# ------------------------------------------------------------------ scenarios

scenario_baseline() { # STYLE
        STYLE=$1
        section "scenario 1: baseline, deny style '$STYLE'"
        apply_all
        local t0
        t0=$(now_ms)
        local want
        read -r -a want <<<"$(expected_outcome "$STYLE")"
        measure "baseline[$STYLE] customer-a->customer-b outcome ${want[0]}" 15 \
                "style $STYLE: customer-a -> customer-b (tcp) is seen as outcome=${want[0]}" "$t0" \
                outcome_seen customer-a customer-b "${want[0]}"
        measure "baseline[$STYLE] customer-a->customer-b-udp outcome ${want[1]}" 15 \
                "style $STYLE: customer-a -> customer-b-udp is seen as outcome=${want[1]}" "$t0" \
                outcome_seen customer-a customer-b-udp "${want[1]}"
        measure "baseline[$STYLE] customer-a->internet (egress) outcome ${want[2]}" 15 \
                "style $STYLE: customer-a -> internet (its own egress rule) is seen as outcome=${want[2]}" "$t0" \
                outcome_seen customer-a internet "${want[2]}"
        wait_good 30 "baseline ($STYLE)"
        check "style $STYLE: no deny row reads verdict=allowed" \
                q_none 'netcanary_verdict{expect="deny",verdict="allowed"} == 1'
        check "style $STYLE: no allow row reads verdict=denied" \
                q_none "netcanary_verdict{expect=\"allow\",verdict=\"denied\",$ROWSEL} == 1"
        if ((DNS_PROBES)); then
                check "style $STYLE: dns rows met" q_none 'netcanary_expectation_met{protocol="dns"} == 0'
        else
                dns_skip "baseline dns rows"
        fi
}

scenario_controller_crash() {
        section "scenario 2: policy controller crash, customer-b's rules flushed"
        local leak='netcanary_mismatches_total{from="customer-a",to=~"customer-b|customer-b-udp",mismatch="unexpected_allow"}'
        local before t0
        before=$(counter_sum "$leak")
        flush_policy "$NS_B1"
        flush_policy "$NS_B2"
        t0=$(now_ms)
        log "flushed nftables in $NS_B1 and $NS_B2 (unexpected_allow counter was $before)"
        measure "flush->expectation_met=0 customer-a->customer-b (Prometheus)" 15 \
                "expectation_met customer-a -> customer-b goes 0" "$t0" \
                q_any 'netcanary_expectation_met{from="customer-a",to="customer-b"} == 0'
        measure "flush->expectation_met=0 customer-a->customer-b-udp (Prometheus)" 15 \
                "expectation_met customer-a -> customer-b-udp goes 0" "$t0" \
                q_any 'netcanary_expectation_met{from="customer-a",to="customer-b-udp"} == 0'
        measure "flush->verdict=allowed customer-a->customer-b (Prometheus)" 15 \
                "verdict customer-a -> customer-b reads allowed" "$t0" \
                q_any 'netcanary_verdict{from="customer-a",to="customer-b",verdict="allowed"} == 1'
        measure "flush->unexpected_allow counted (Prometheus)" 15 \
                "netcanary_mismatches_total{mismatch=unexpected_allow} grows" "$t0" \
                counter_grew "$leak" "$before"
        measure "flush->alert NetcanaryUnexpectedAllow firing" 20 \
                "ALERTS NetcanaryUnexpectedAllow firing for customer-a -> customer-b" "$t0" \
                alert_firing NetcanaryUnexpectedAllow 'from="customer-a",to="customer-b"'
        measure "flush->deny rows unverified (recording rule)" 15 \
                "the leaking deny rows read not verified (netcanary:expectation_verified 0)" "$t0" \
                q_none 'netcanary:expectation_verified{from="customer-a",to=~"customer-b|customer-b-udp"} == 1'
        log "mismatch counters now: $(counter_sum "$leak") (were $before)"

        apply_b
        t0=$(now_ms)
        log "restored customer-b's policy"
        measure "restore->expectation_met=1 customer-a->customer-b (Prometheus)" 15 \
                "customer-a -> customer-b met again" "$t0" \
                q_none 'netcanary_expectation_met{from="customer-a",to=~"customer-b|customer-b-udp"} == 0'
        wait_good 20 "after restoring customer-b's policy"
}

scenario_transient_leak() {
        section "scenario 3: transient leak (~1 s open between scrapes)"
        local leak='netcanary_mismatches_total{from="customer-a",to=~"customer-b|customer-b-udp",mismatch="unexpected_allow"}'
        local before t0 t1
        # Start right after a scrape of customer-a, so the window sits between two.
        wait_until 5 "a fresh scrape" q_any "time() - timestamp(up{instance=\"$IP_A:$AGENT_PORT\"}) < 0.3"
        before=$(counter_sum "$leak")
        flush_policy "$NS_B1"
        flush_policy "$NS_B2"
        t0=$(now_ms)
        sleep 1
        apply_b
        t1=$(now_ms)
        log "customer-b's policy was open for $((t1 - t0)) ms (unexpected_allow counter was $before)"
        measure "transient leak->unexpected_allow counted (Prometheus)" 15 \
                "netcanary_mismatches_total records the ~1 s leak" "$t0" \
                counter_grew "$leak" "$before"
        log "unexpected_allow counter now $(counter_sum "$leak")"
        local flipped secs
        secs=$((($(now_ms) - t0) / 1000 + 1))
        flipped=$(pnum "max(max_over_time(netcanary_verdict{from=\"customer-a\",to=~\"customer-b|customer-b-udp\",verdict=\"allowed\"}[${secs}s]))")
        log "info: did the confirmed verdict gauge show the leak? $([[ $flipped == 1 ]] && echo yes || echo "no (confirm 2: only the counter saw it)")"
        wait_good 20 "after the transient leak"
}

scenario_label_drift() {
        section "scenario 4: label drift, platform's source address changes"
        local outage='netcanary_mismatches_total{from="platform",to=~"customer-a|customer-a-udp",mismatch="unexpected_deny"}'
        local before t0
        before=$(counter_sum "$outage")
        ip -n "$NS_PLAT" addr add "$IP_PLAT_DRIFT/16" dev eth0 || fatal "adding $IP_PLAT_DRIFT failed"
        ip -n "$NS_PLAT" route replace "$POD_CIDR" dev eth0 proto kernel scope link src "$IP_PLAT_DRIFT" ||
                fatal "making $IP_PLAT_DRIFT the preferred source failed"
        t0=$(now_ms)
        log "platform now talks from $IP_PLAT_DRIFT; the tenants' ingress still allows only $IP_PLAT"
        measure "drift->expectation_met=0 platform->customer-a (Prometheus)" 15 \
                "expectation_met platform -> customer-a goes 0" "$t0" \
                q_any 'netcanary_expectation_met{from="platform",to="customer-a"} == 0'
        measure "drift->verdict=denied platform->customer-a-udp (Prometheus)" 15 \
                "verdict platform -> customer-a-udp reads denied" "$t0" \
                q_any 'netcanary_verdict{from="platform",to="customer-a-udp",verdict="denied"} == 1'
        measure "drift->unexpected_deny counted (Prometheus)" 15 \
                "netcanary_mismatches_total{mismatch=unexpected_deny} grows for platform -> customer-a" "$t0" \
                counter_grew "$outage" "$before"
        measure "drift->alert NetcanaryUnexpectedDeny firing" 20 \
                "ALERTS NetcanaryUnexpectedDeny firing for platform -> customer-a" "$t0" \
                alert_firing NetcanaryUnexpectedDeny 'from="platform",to="customer-a"'
        measure "drift->customer-b->customer-a no longer verified" 20 \
                "deny row customer-b -> customer-a loses its positive control (not verified)" "$t0" \
                q_none 'netcanary:expectation_verified{from="customer-b",to="customer-a"} == 1'
        check "customer-b -> customer-a itself still reads met (denied)" \
                q_none 'netcanary_expectation_met{from="customer-b",to="customer-a"} == 0'
        check "no unexpected_allow anywhere during the drift" \
                q_none 'netcanary_verdict{expect="deny",verdict="allowed"} == 1'

        ip -n "$NS_PLAT" route replace "$POD_CIDR" dev eth0 proto kernel scope link src "$IP_PLAT"
        ip -n "$NS_PLAT" addr del "$IP_PLAT_DRIFT/16" dev eth0
        log "platform's source address restored"
        wait_good 25 "after restoring platform's address"
}

scenario_target_down() {
        section "scenario 5: target down, customer-b's agents stopped"
        stop_component agent-b1
        stop_component agent-b2
        local t0
        t0=$(now_ms)
        log "stopped both customer-b agents (responders gone)"
        measure "stop->platform->customer-b unexpected_deny (Prometheus)" 15 \
                "positive control platform -> customer-b goes unmet" "$t0" \
                q_any 'netcanary_expectation_met{from="platform",to="customer-b"} == 0'
        measure "stop->customer-a->customer-b not verified (recording rule)" 25 \
                "deny rows customer-a -> customer-b(-udp) no longer verified" "$t0" \
                q_none 'netcanary:expectation_verified{from="customer-a",to=~"customer-b|customer-b-udp"} == 1'
        check "both deny rows towards customer-b still exist in Prometheus (read 0, not absent)" \
                q_cmp 'count(netcanary:expectation_verified{from="customer-a",to=~"customer-b|customer-b-udp"} == 0)' '==' 2
        check "customer-a -> customer-b still reads met (a dead target looks denied: why verification matters)" \
                q_none 'netcanary_expectation_met{from="customer-a",to="customer-b"} == 0'
        check "Prometheus sees customer-b's agents down" \
                q_cmp "count(up{instance=~\"$IP_B1:$AGENT_PORT|$IP_B2:$AGENT_PORT\"} == 0)" '==' 2

        start_agent b1
        start_agent b2
        wait_agent b1
        wait_agent b2
        log "customer-b's agents restarted"
        wait_good 30 "after restarting customer-b's agents"
}

scenario_dns_down() {
        section "scenario 6: DNS down, unbound stopped"
        local name_rows='to!="internet",protocol!="dns"'
        local n_name mm_before mm_after t0
        n_name=$(pnum "count(netcanary_expectation_met{$name_rows})")
        mm_before=$(counter_sum 'netcanary_mismatches_total{protocol!="dns"}')
        stop_component unbound
        t0=$(now_ms)
        log "unbound stopped ($n_name rows need a name; mismatch counters sum $mm_before)"
        measure "dns down->all name rows inconclusive (Prometheus)" 20 \
                "every row that needs a name reads verdict=inconclusive" "$t0" \
                q_cmp "count(netcanary_verdict{$name_rows,verdict=\"inconclusive\"} == 1)" '==' "$n_name"
        sleep 2 # a few more rounds and scrapes in the failed state
        check "no name row reads met (no false met)" q_none "netcanary_expectation_met{$name_rows} == 1"
        check "no row reads verdict=allowed (no false allow)" q_none "netcanary_verdict{$name_rows,verdict=\"allowed\"} == 1"
        check "no name row reads verdict=denied" q_none "netcanary_verdict{$name_rows,verdict=\"denied\"} == 1"
        check "no deny row to a name is verified" \
                q_none 'netcanary:expectation_verified{to!="internet"} == 1'
        check "rows to an address (internet) are unaffected and met" \
                q_none 'netcanary_expectation_met{to="internet"} == 0'
        # The dns rows themselves are allow rows: DNS down is an outage for them
        # (unexpected_deny is their true report); every other row must count
        # no mismatch at all, neither allow nor deny.
        mm_after=$(counter_sum 'netcanary_mismatches_total{protocol!="dns"}')
        local secs=$((($(now_ms) - t0) / 1000))
        if num '==' "$mm_after" "$mm_before"; then
                pass "no mismatch counted by any tcp/udp row while DNS was down (sum stays $mm_after)"
        else
                fail "mismatches counted by tcp/udp rows while DNS was down: sum $mm_before -> $mm_after"
                series "increase(netcanary_mismatches_total{protocol!=\"dns\"}[${secs}s]) > 0"
        fi
        if ((DNS_PROBES)); then
                check "dns rows are not met" q_none 'netcanary_expectation_met{protocol="dns"} == 1'
                measure "dns down->dns failures counted" 15 "the dns rows count failed queries (rcode != NOERROR)" "$t0" \
                        q_any 'increase(netcanary_dns_responses_total{rcode!="NOERROR"}[5s]) > 0'
                log "dns responses by rcode during the outage:"
                series 'sum by (rcode) (increase(netcanary_dns_responses_total[10s]))'
                check "the dns rows count timeouts or refusals" \
                        q_any 'increase(netcanary_dns_responses_total{rcode=~"timeout|connection_refused"}[10s]) > 0'
                check "the dns rows never read verdict=allowed" \
                        q_none 'netcanary_verdict{protocol="dns",verdict="allowed"} == 1'
                log "dns rows now (allow rows: DNS down is an outage for them):"
                series 'netcanary_verdict{protocol="dns"} == 1'
        else
                dns_skip "dns rows during the outage"
        fi

        start_dns
        log "unbound restarted"
        wait_good 25 "after restarting DNS"
}

scenario_egress() {
        section "scenario 7: egress rule removed for customer-a"
        local leak='netcanary_mismatches_total{from="customer-a",to="internet",mismatch="unexpected_allow"}'
        local before t0 err
        before=$(counter_sum "$leak")
        err=$(in_ns "$NS_A" nft insert rule inet netpol egress ip daddr "$IP_NET" accept 2>&1) ||
                fatal "opening egress in $NS_A failed: $err"
        t0=$(now_ms)
        log "customer-a may now reach $IP_NET"
        measure "egress open->expectation_met=0 customer-a->internet (Prometheus)" 15 \
                "expectation_met customer-a -> internet goes 0" "$t0" \
                q_any 'netcanary_expectation_met{from="customer-a",to="internet"} == 0'
        measure "egress open->unexpected_allow counted (Prometheus)" 15 \
                "netcanary_mismatches_total{mismatch=unexpected_allow} grows for customer-a -> internet" "$t0" \
                counter_grew "$leak" "$before"
        measure "egress open->alert NetcanaryUnexpectedAllow firing" 20 \
                "ALERTS NetcanaryUnexpectedAllow firing for customer-a -> internet" "$t0" \
                alert_firing NetcanaryUnexpectedAllow 'from="customer-a",to="internet"'
        check "the other agents' internet rows stay met" \
                q_none 'netcanary_expectation_met{from!="customer-a",to="internet"} == 0'
        apply_policy "$NS_A" tenant
        log "customer-a's egress restored"
        wait_good 20 "after restoring customer-a's egress"
}

# ------------------------------------------------------------------ main

START_MS=$(now_ms)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/nce2e-$$-XXXXXX") || fatal "mktemp failed"
if [[ -z $RULES ]]; then
        # The shipped rules, 60x faster: [5m] -> [5s], [1h] -> [1m], 300 s -> 5 s, for: 5m -> 5s.
        RULES=$TMP/netcanary-rules-fast.yml
        sed -E -e 's/\[([0-9]+)m\]/[\1s]/g' -e 's/\[([0-9]+)h\]/[\1m]/g' \
                -e 's/(for: +[0-9]+)m/\1s/' -e 's/([<>] *(bool )?)300\b/\15/g' \
                "$DEPLOY_RULES" >"$RULES" || fatal "cannot compress $DEPLOY_RULES"
fi
log "netcanary e2e testbed: prefix $P, tmp $TMP"
log "binary $NETCANARY ($("$NETCANARY" --version 2>&1 | head -n 1)); matrix $MATRIX; rules $RULES"
log "deny styles for the baseline: $DENY_STYLES; scenarios 2-7 with: $SCENARIO_STYLE"
log "$(prometheus --version 2>&1 | head -n 1); $(unbound -V 2>&1 | head -n 1); $(nft --version)"

"$NETCANARY" check --config "$MATRIX" >"$TMP/check.out" 2>&1 || fatal "netcanary check rejects $MATRIX: $(cat "$TMP/check.out")"
promtool check rules "$RULES" >"$TMP/promtool-rules.out" 2>&1 || fatal "promtool check rules $RULES: $(cat "$TMP/promtool-rules.out")"

section "setup"
setup_agent_user
build_network
STYLE=$SCENARIO_STYLE
apply_all
write_unbound_conf
start_dns
start_services
for k in "${AGENTS[@]}"; do start_agent "$k"; done
for k in "${AGENTS[@]}"; do wait_agent "$k"; done
write_prometheus_conf
start_prometheus
log "setup took $(($(now_ms) - START_MS)) ms"

# The name resolution every agent relies on, checked once with glibc.
b_addrs=$(in_ns "$NS_A" "$PY" -c 'import socket; print(" ".join(sorted({a[4][0] for a in socket.getaddrinfo("netcanary.customer-b.svc.cluster.local", 9891, socket.AF_INET, socket.SOCK_STREAM)})))' 2>&1)
if [[ $b_addrs == "$IP_B1 $IP_B2" ]]; then
        pass "headless netcanary.customer-b.svc.cluster.local resolves to two pods from customer-a ($b_addrs)"
else
        fail "netcanary.customer-b.svc.cluster.local from customer-a: got '$b_addrs', expected '$IP_B1 $IP_B2'"
fi

code=$(in_ns "$NS_A" curl -sS --max-time 3 --noproxy '*' -o /dev/null -w '%{http_code}' \
        "http://metrics-service.platform.svc.cluster.local:$SERVICE_PORT/metrics" 2>&1)
if [[ $code == 200 ]]; then
        pass "customer-a gets 200 from http://metrics-service.platform.svc.cluster.local:$SERVICE_PORT/metrics"
else
        fail "customer-a -> platform service over HTTP: got '$code', expected 200"
fi

detect_dns_probes
count_rows
log "expecting $EXPECTED_ROWS rows in Prometheus ($EXPECTED_DENY deny rows) from ${#AGENTS[@]} agents"
wait_until 30 "every agent scraped" q_cmp 'count(up{job="netcanary"} == 1)' '==' "${#AGENTS[@]}" ||
        fail "Prometheus does not scrape all ${#AGENTS[@]} agents"

# Baseline: every style, the scenario style last (scenarios go on with it).
styles=()
for s in $DENY_STYLES; do [[ $s == "$SCENARIO_STYLE" ]] || styles+=("$s"); done
styles+=("$SCENARIO_STYLE")
for s in "${styles[@]}"; do scenario_baseline "$s"; done
STYLE=$SCENARIO_STYLE

scenario_controller_crash
scenario_transient_leak
scenario_label_drift
scenario_target_down
scenario_dns_down
scenario_egress

section "summary"
for t in "${TIMINGS[@]}"; do log "  $t"; done
log "total run time $(($(now_ms) - START_MS)) ms"
if ((FAILS > 0)); then
        log "e2e: $FAILS check(s) FAILED"
        exit 1
fi
log "e2e: all checks passed"
exit 0
