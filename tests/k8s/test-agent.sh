#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers are called through wait_for and _snap_pred
# k8s-agent: the daemon's Kubernetes integration end to end (issue 7), against
# agent-apiserver.py (fake-apiserver.py plus withheld lists) over HTTPS with a
# CA this script makes, reached through `netcanary run --kubeconfig FILE`.
#
#   NETCANARY=build/src/netcanary tests/k8s/test-agent.sh
#
# What runs, all on 127.0.0.1 / 127.0.0.x (Linux routes 127/8 to lo), ports
# 20700-20799 only:
#   20700-20709  the fake API server (first free port)
#   20710        netcanary: /metrics, /readyz, /api/v1/matrix
#   20711        netcanary's responder (TCP accept + UDP echo, on every address)
#   20712        nothing listens: the tenant Service's closed endpoint
#   20713        nothing listens: a decoy port of the tenant slices
#   20720        two unbound instances, on 127.0.0.2 and 127.0.0.3: the two
#                "CoreDNS pods" of kube-system/kube-dns (one EndpointSlice,
#                port "dns"/UDP)
#   20721        nothing listens: kube-dns's "dns-tcp" port in the slice (a
#                daemon that took the wrong port would measure a dead server)
# Decoys that must never be probed: 127.0.0.8 (a kube-dns Service in another
# namespace), 127.0.0.9 (another Service of kube-system).
#
# The scenario, each step asserted through /metrics and /api/v1/matrix:
#   1. every list withheld: /readyz 503 while the daemon waits for them;
#      EndpointSlices released: rows run, /readyz still 503 (the audit's
#      watches have not synced); everything released: /readyz 200.
#   2. both DNS endpoints measured separately (server label and row address
#      "IP:PORT", each unbound really queried), no decoy anywhere.
#   3. the tenant Service row (port by NAME, two slices with different port
#      numbers) probes both ready endpoints: one connected, one refused; the
#      udp row (port by NUMBER) only the endpoint that has that number.
#   4. audit: default_deny per namespace and direction (0/0 for the PCI
#      namespace that lacks a default-deny policy), networkpolicy_info with
#      the hash of each policy's spec (FNV-1a 64 of canonical JSON, computed
#      here independently).
#   5. watch events: a DNS endpoint goes terminating (MODIFIED) -> one server
#      left, that unbound no longer queried; a new slice (ADDED) -> two; the
#      slice deleted (DELETED) -> one. The closed tenant endpoint goes
#      not-ready -> one address, row met.
#   6. policies: a deny-all added to the PCI namespace flips egress to 1 but
#      not ingress (an all-pods allow-all-ingress policy cancels it); deleting
#      that allow-all flips ingress; a label-only change keeps the hash, a
#      spec change replaces it; a namespace added/deleted gains/loses its
#      series.
#   7. 410 Gone: a change made while the daemon "missed" it, then compaction:
#      every watch relists, the missed change shows, nothing else moves
#      during the relist (sampled), watch errors unchanged.
#   8. dropped connections: every watch stream cut mid-chunk -> watch errors
#      counted per resource; the watches resume and later events still apply.
# Needs: python3, openssl, unbound + unbound-control, jq, curl.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../integration/lib.sh
source "$HERE/../integration/lib.sh"

# ---------------------------------------------------------------- setup

[[ -n ${NETCANARY:-} ]] || fatal "NETCANARY is not set (path of the netcanary binary)"
[[ -x $NETCANARY ]] || fatal "NETCANARY=$NETCANARY is not executable"
NETCANARY=$(realpath "$NETCANARY")   # the daemon runs from / (relative kubeconfig paths)
[[ -x $PY ]] || skip "$PY not found"
for t in openssl unbound unbound-control curl jq awk ss; do
        command -v "$t" >/dev/null 2>&1 || skip "$t not installed"
done

NC_BASE=20700
NC_TMP=$(mktemp -d "${TMPDIR:-/tmp}/nctest-k8s-agent-$$-XXXXXX") || fatal "mktemp failed"
trap nc_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
T=$NC_TMP
log "test $(basename "$0"): ports 20700-20799, tmp $T, binary $NETCANARY"

API=$(port 10)       # netcanary's HTTP server
RESP=$(port 11)      # netcanary's responder
CLOSED=$(port 12)    # nothing listens
DECOY=$(port 13)     # nothing listens
DNSP=$(port 20)      # both unbound instances (127.0.0.2, 127.0.0.3)
DNSTCP=$(port 21)    # nothing listens
ports_free "$API" "$RESP" "$CLOSED" "$DECOY" "$DNSP" "$DNSTCP"

DNS_A="127.0.0.2:$DNSP"
DNS_B="127.0.0.3:$DNSP"
SVC_OK="127.0.0.1:$RESP"
SVC_CLOSED="127.0.0.4:$CLOSED"
QNAME=kubernetes.default.svc.cluster.local

# -- TLS: a CA and the API server's certificate; a kubeconfig-style file
# whose paths are relative to its own directory.
KDIR=$T/kube
mkdir -p "$KDIR"
{
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
                -keyout "$T/ca.key" -out "$KDIR/ca.pem" -days 2 -subj "/CN=netcanary k8s-agent test CA" \
                -addext "basicConstraints=critical,CA:TRUE" \
                -addext "keyUsage=critical,keyCertSign,cRLSign" &&
                openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
                        -keyout "$T/server.key" -out "$T/server.csr" -subj "/CN=kube-apiserver" &&
                printf '%s\n' "subjectAltName=DNS:localhost,DNS:kubernetes.default.svc,IP:127.0.0.1" \
                        "basicConstraints=CA:FALSE" "extendedKeyUsage=serverAuth" >"$T/server.ext" &&
                openssl x509 -req -in "$T/server.csr" -CA "$KDIR/ca.pem" -CAkey "$T/ca.key" \
                        -CAcreateserial -out "$T/server.pem" -days 2 -extfile "$T/server.ext"
} >"$T/openssl.out" 2>&1 || fatal "openssl failed: $(tail -5 "$T/openssl.out")"
TOKEN="eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6bmV0Y2FuYXJ5OmF1ZGl0In0.c2lnbmF0dXJlLWFnZW50"
printf '%s\n' "$TOKEN" >"$KDIR/token"

# -- the fake API server
"$PY" "$HERE/agent-apiserver.py" --addr 127.0.0.1 --ports "$(port 0)-$(port 9)" \
        --cert "$T/server.pem" --key "$T/server.key" --token "$TOKEN" \
        --ready "$T/apiserver.port" --lifetime 175 >"$T/apiserver.log" 2>&1 &
APISRV_PID=$!
NC_HELPERS+=("$APISRV_PID")
wait_for 10 "fake API server" _helper_ready "$T/apiserver.port" "$APISRV_PID" || fatal "agent-apiserver.py did not start"
[[ -s $T/apiserver.port ]] || fatal "agent-apiserver.py exited: $(tail -5 "$T/apiserver.log")"
KPORT=$(cat "$T/apiserver.port")
log "fake API server https://127.0.0.1:$KPORT (pid $APISRV_PID)"
cat >"$KDIR/kubeconfig.json" <<JSON
{ "server": "https://127.0.0.1:$KPORT", "ca_file": "ca.pem", "token_file": "token" }
JSON

# ctl JSON: one control operation; fatal unless the server says ok.
ctl() {
        local out
        out=$(curl -sS --max-time 10 --noproxy '*' --cacert "$KDIR/ca.pem" -H 'Content-Type: application/json' \
                --data-binary "$1" "https://127.0.0.1:$KPORT/_ctl" 2>&1) ||
                fatal "control $1 failed: $out"
        [[ $(jq -r .ok <<<"$out" 2>/dev/null) == true ]] || fatal "control $1: $out"
        CTL_OUT=$out
}
kput() { ctl "$(jq -cn --arg r "$1" --argjson o "$2" '{op: "put", resource: $r, object: $o}')"; }
kput_silent() { ctl "$(jq -cn --arg r "$1" --argjson o "$2" '{op: "put", resource: $r, object: $o, silent: true}')"; }
kdel() { ctl "$(jq -cn --arg r "$1" --arg ns "$2" --arg n "$3" '{op: "delete", resource: $r, namespace: (if $ns == "" then null else $ns end), name: $n}')"; }
kstats() { curl -sS --max-time 10 --noproxy '*' --cacert "$KDIR/ca.pem" "https://127.0.0.1:$KPORT/_stats"; }

# -- two unbound instances: the CoreDNS pods
unbound_up() {
        local name=$1 addr=$2 dir=$T/unbound-$1
        mkdir -p "$dir"
        cat >"$dir/unbound.conf" <<EOF
server:
  interface: $addr@$DNSP
  do-ip4: yes
  do-ip6: no
  do-udp: yes
  do-tcp: yes
  username: ""
  chroot: ""
  pidfile: ""
  directory: "$dir"
  use-syslog: no
  logfile: ""
  verbosity: 1
  num-threads: 1
  so-reuseport: no
  module-config: "iterator"
  access-control: 127.0.0.0/8 allow
  minimal-responses: yes
  do-not-query-localhost: yes
  local-zone: "." static
  local-zone: "cluster.local." static
  local-data: "cluster.local. SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 3600 600 86400 30"
  local-data: "$QNAME. A 10.96.0.1"
remote-control:
  control-enable: yes
  control-interface: "$dir/control.sock"
  control-use-cert: no
EOF
        unbound-checkconf "$dir/unbound.conf" >"$dir/checkconf.out" 2>&1 ||
                fatal "unbound config $name invalid: $(cat "$dir/checkconf.out")"
        timeout -k 2 175 unbound -d -c "$dir/unbound.conf" >"$T/unbound-$name.log" 2>&1 &
        local pid=$!
        NC_HELPERS+=("$pid")
        wait_for 10 "unbound $name" _unbound_serving "$dir" "$pid" || fatal "unbound $name did not start"
        _alive "$pid" || fatal "unbound $name exited: $(tail -5 "$T/unbound-$name.log")"
        log "unbound $name pid $pid on $addr@$DNSP"
}
_unbound_serving() { ! _alive "$2" || unbound-control -c "$1/unbound.conf" status >/dev/null 2>&1; }
# unbound_queries NAME: queries that instance has answered so far.
unbound_queries() {
        local v
        v=$(unbound-control -c "$T/unbound-$1/unbound.conf" stats_noreset 2>/dev/null |
                awk -F= '$1 == "total.num.queries" { print $2; exit }')
        echo "${v:-0}"
}
unbound_up a 127.0.0.2
unbound_up b 127.0.0.3

# ---------------------------------------------------------------- API objects
# Shaped like what kube-apiserver serves (the fake server fills in uid,
# resourceVersion, creationTimestamp, generation, managedFields).

ns_obj() {
        jq -cn --arg n "$1" --arg team "${2:-platform}" \
                '{metadata: {name: $n, labels: {team: $team}}, spec: {finalizers: ["kubernetes"]}, status: {phase: "Active"}}'
}

# ep IP READY TERMINATING POD: one endpoint of a slice
ep() {
        jq -cn --arg ip "$1" --argjson ready "$2" --argjson term "$3" --arg pod "$4" '{
                addresses: [$ip],
                conditions: {ready: $ready, serving: ($ready or $term), terminating: $term},
                nodeName: ("node-" + ($ip | split(".") | .[3])),
                targetRef: {kind: "Pod", namespace: "x", name: $pod, uid: ("0000-" + $pod)},
                zone: "zone-a"}'
}

# slice NS NAME SERVICE PORTS-JSON ENDPOINT-JSON...
slice() {
        local ns=$1 name=$2 svc=$3 ports=$4
        shift 4
        local eps
        eps=$(printf '%s\n' "$@" | jq -cs --arg ns "$ns" 'map(.targetRef.namespace = $ns)')
        jq -cn --arg ns "$ns" --arg name "$name" --arg svc "$svc" --argjson ports "$ports" --argjson eps "$eps" '{
                metadata: {name: $name, namespace: $ns, generateName: ($svc + "-"),
                           labels: {"kubernetes.io/service-name": $svc,
                                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
                           annotations: {"endpoints.kubernetes.io/last-change-trigger-time": "2024-05-01T10:00:00Z"},
                           ownerReferences: [{apiVersion: "v1", kind: "Service", name: $svc, uid: ("svc-" + $svc),
                                              controller: true, blockOwnerDeletion: true}]},
                addressType: "IPv4", endpoints: $eps, ports: $ports}'
}

# policy NS NAME SPEC-JSON [LABELS-JSON]
policy() {
        local labels=${4:-'{}'}
        jq -cn --arg ns "$1" --arg n "$2" --argjson spec "$3" --argjson labels "$labels" \
                '{metadata: {name: $n, namespace: $ns, labels: $labels}, spec: $spec}'
}

# spec_hash SPEC-JSON: 16 hex digits of FNV-1a 64 over the canonical JSON of
# the spec (keys sorted, no whitespace), the way include/k8s_objects.h defines
# the networkpolicy_info hash. Computed here, not by netcanary.
spec_hash() {
        printf '%s' "$1" | "$PY" -c '
import json, sys
b = json.dumps(json.load(sys.stdin), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
h = 0xcbf29ce484222325
for c in b:
    h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
print("%016x" % h)'
}

DNS_PORTS=$(jq -cn --argjson d "$DNSP" --argjson t "$DNSTCP" \
        '[{name: "dns-tcp", protocol: "TCP", port: $t}, {name: "dns", protocol: "UDP", port: $d},
          {name: "metrics", protocol: "TCP", port: 9153}]')
KD1_BOTH=$(slice kube-system kube-dns-7xk2p kube-dns "$DNS_PORTS" \
        "$(ep 127.0.0.2 true false coredns-5d78c9869d-abcde)" "$(ep 127.0.0.3 true false coredns-5d78c9869d-fghij)")
KD1_B_TERMINATING=$(slice kube-system kube-dns-7xk2p kube-dns "$DNS_PORTS" \
        "$(ep 127.0.0.2 true false coredns-5d78c9869d-abcde)" "$(ep 127.0.0.3 false true coredns-5d78c9869d-fghij)")
KD2_B=$(slice kube-system kube-dns-9qwzt kube-dns "$DNS_PORTS" "$(ep 127.0.0.3 true false coredns-5d78c9869d-klmno)")
# Decoys: a kube-dns Service in another namespace, another Service of kube-system.
DECOY_NS=$(slice customer-a kube-dns-zz9xq kube-dns "$DNS_PORTS" "$(ep 127.0.0.8 true false fake-dns-1)")
DECOY_SVC=$(slice kube-system metrics-server-4hh2k metrics-server "$DNS_PORTS" "$(ep 127.0.0.9 true false metrics-server-1)")

# The tenant Service customer-b/netcanary: two slices (mid-rollout the
# "canary" port has different numbers), the decoy "metrics" port first.
T1_PORTS=$(jq -cn --argjson r "$RESP" --argjson d "$DECOY" \
        '[{name: "metrics", protocol: "TCP", port: $d}, {name: "canary", protocol: "TCP", port: $r},
          {name: "canary-udp", protocol: "UDP", port: $r}]')
T2_PORTS=$(jq -cn --argjson c "$CLOSED" --argjson d "$DECOY" \
        '[{name: "metrics", protocol: "TCP", port: $d}, {name: "canary", protocol: "TCP", port: $c}]')
TS1=$(slice customer-b netcanary-h7m2x netcanary "$T1_PORTS" "$(ep 127.0.0.1 true false netcanary-agent-1)")
TS2=$(slice customer-b netcanary-q4r8z netcanary "$T2_PORTS" "$(ep 127.0.0.4 true false netcanary-agent-2)")
TS2_NOTREADY=$(slice customer-b netcanary-q4r8z netcanary "$T2_PORTS" "$(ep 127.0.0.4 false false netcanary-agent-2)")

# Policies. Specs as the API server stores them (policyTypes defaulted).
DENY_ALL='{"podSelector":{},"policyTypes":["Ingress","Egress"]}'
DENY_ALL_BUT_DNS='{"podSelector":{},"policyTypes":["Ingress","Egress"],"egress":[{"to":[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"kube-system"}},"podSelector":{"matchLabels":{"k8s-app":"kube-dns"}}}],"ports":[{"protocol":"UDP","port":53},{"protocol":"TCP","port":53}]}]}'
DENY_ALL_B2='{"podSelector":{},"policyTypes":["Ingress","Egress"],"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"platform"}}}]}]}'
ALLOW_FROM_PLATFORM='{"podSelector":{},"policyTypes":["Ingress"],"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"platform"}}}],"ports":[{"protocol":"TCP","port":9891},{"protocol":"UDP","port":9891}]}]}'
PLATFORM_DENY='{"podSelector":{},"policyTypes":["Ingress","Egress"],"ingress":[{"from":[{"namespaceSelector":{}}]}]}'
PCI_APP='{"podSelector":{"matchLabels":{"app":"payments"}},"policyTypes":["Ingress","Egress"],"ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"gateway"}}}]}],"egress":[{"to":[{"ipBlock":{"cidr":"10.20.0.0/16"}}]}]}'
PCI_ALLOW_ALL_INGRESS='{"podSelector":{},"policyTypes":["Ingress"],"ingress":[{}]}'

# -- the cluster before the daemon starts
for n in kube-system platform customer-a customer-b payments-pci; do kput namespaces "$(ns_obj "$n")"; done
kput endpointslices "$KD1_BOTH"
kput endpointslices "$DECOY_NS"
kput endpointslices "$DECOY_SVC"
kput endpointslices "$TS1"
kput endpointslices "$TS2"
kput networkpolicies "$(policy customer-a default-deny-all "$DENY_ALL")"
kput networkpolicies "$(policy customer-b default-deny-all "$DENY_ALL")"
kput networkpolicies "$(policy customer-b allow-from-platform "$ALLOW_FROM_PLATFORM")"
kput networkpolicies "$(policy platform default-deny "$PLATFORM_DENY")"
kput networkpolicies "$(policy kube-system default-deny-all "$DENY_ALL")"
# The PCI finding: policies, but none denying by default (one selects only
# some pods; one selects all pods but allows all ingress).
kput networkpolicies "$(policy payments-pci payments-app "$PCI_APP")"
kput networkpolicies "$(policy payments-pci allow-all-ingress "$PCI_ALLOW_ALL_INGRESS")"

# ---------------------------------------------------------------- netcanary

cat >"$T/config.json" <<JSON
{
  "agent": { "identity": "platform", "listen": "127.0.0.1:$API", "responder": { "port": $RESP } },
  "defaults": { "interval": "1s", "timeout": "500ms", "confirm": 1 },
  "kubernetes": { "audit": true },
  "targets": {
    "cluster-dns": { "dns": { "name": "$QNAME", "type": "A", "servers": "kubernetes:kube-system/kube-dns",
                              "expect_addresses": ["10.96.0.1"] } },
    "tenant-b":     { "tcp": { "service": "customer-b/netcanary", "port": "canary" } },
    "tenant-b-udp": { "udp": { "service": "customer-b/netcanary", "port": $RESP } }
  },
  "matrix": [
    { "from": "*", "to": "cluster-dns",  "expect": "allow" },
    { "from": "*", "to": "tenant-b",     "expect": "allow" },
    { "from": "*", "to": "tenant-b-udp", "expect": "allow" }
  ]
}
JSON

"$NETCANARY" check --config "$T/config.json" >"$T/check.out" 2>&1
rc=$?
((rc == 0)) || fatal "netcanary check refuses the config (exit $rc): $(head -c 600 "$T/check.out")"
pass "netcanary check accepts kubernetes servers, service targets and the audit switch"

# Every list withheld: the daemon starts before anything is known.
ctl '{"op": "hold", "resources": ["endpointslices", "namespaces", "networkpolicies"], "on": true}'

(cd / && exec env -u KUBERNETES_SERVICE_HOST -u KUBERNETES_SERVICE_PORT timeout -k 2 175 \
        "$NETCANARY" run --config "$T/config.json" --kubeconfig "$KDIR/kubeconfig.json" --log-level debug) \
        >"$T/netcanary.log" 2>&1 &
NC_PID=$!
NC_PIDS+=("$NC_PID")
# NC_PID is timeout(1) (the last-resort bound); the daemon is its child.
_daemon_child() { DAEMON_PID=$(pgrep -P "$NC_PID" -x netcanary | head -1); [[ -n $DAEMON_PID ]]; }
DAEMON_PID=""
wait_for 5 "the daemon process" _daemon_child || fatal "no netcanary child under pid $NC_PID"
log "netcanary pid $DAEMON_PID (under timeout pid $NC_PID)"
wait_healthy "$API" "$NC_PID"

# -- metric helpers on one scrape

# series NAME LABEL... < exposition: one line per series, "v1 v2 ... value",
# sorted (a missing label prints "-").
series() {
        local name=$1
        shift
        awk -v name="$name" -v labels="$*" '
                BEGIN { n = split(labels, L, " ") }
                index($0, name "{") == 1 {
                        rest = substr($0, length(name) + 2)
                        e = index(rest, "} ")
                        lbl = "," substr(rest, 1, e - 1)
                        split(substr(rest, e + 2), val, " ")
                        out = ""
                        for (i = 1; i <= n; i++) {
                                k = "," L[i] "=\""
                                p = index(lbl, k)
                                if (p == 0) v = "-"
                                else { s = substr(lbl, p + length(k)); v = substr(s, 1, index(s, "\"") - 1) }
                                out = out v " "
                        }
                        print out (val[1] + 0)
                }' | sort
}
snap() { scrape "$API" >"$T/m.txt" 2>/dev/null || : >"$T/m.txt"; }
# sv NAME label=value...: value of one series of the last snap, "" if absent
sv() { metric_value "$@" <"$T/m.txt" 2>/dev/null; }
sv0() { local v; v=$(sv "$@") && echo "$v" || echo 0; }

# row addresses, sorted, space separated
row_addrs() { row_field "$API" "$1" '[.addresses[].address] | sort | join(" ")' 2>/dev/null; }
_row_addrs_are() { [[ $(row_addrs "$1") == "$2" ]]; }
# wait_more_rounds N: every row completes N more rounds
wait_more_rounds() {
        local want cur
        cur=$(mq "$API" '[.rows[].rounds] | min' 2>/dev/null)
        [[ $cur =~ ^[0-9]+$ ]] || cur=0
        want=$((cur + $1))
        wait_for 15 "every row $want rounds" rows_at_least "$want" || fail "rows did not reach $want rounds"
}
rows_at_least() { [[ $(mq "$API" "[.rows[] | .rounds >= $1] | all" 2>/dev/null) == true ]]; }

# expect_wait SECS DESC CMD...: wait_for, and a pass line when it holds.
expect_wait() {
        local secs=$1 desc=$2
        shift 2
        wait_for "$secs" "$desc" "$@" || return 1
        pass "$desc"
}

held() { ctl '{"op": "held"}'; jq -r --arg r "$1" '.held[$r]' <<<"$CTL_OUT"; }
_held_all() { (($(held endpointslices) >= 1 && $(held namespaces) >= 1 && $(held networkpolicies) >= 1)); }

# ---------------------------------------------------------------- 1. readiness

expect_wait 10 "the daemon's lists of all three resources waiting at the server" _held_all ||
        fail "not every list was requested: held $(ctl '{"op": "held"}'; echo "$CTL_OUT")"
n503=0
for _ in 1 2 3 4 5; do
        [[ $(http_code "$API" /readyz) == 503 ]] && n503=$((n503 + 1))
        sleep 0.2
done
expect_eq "/readyz 503 while every list is withheld (5 samples)" "$n503" 5
expect_eq "matrix ready=false while every list is withheld" "$(mq "$API" .ready)" false

ctl '{"op": "hold", "resources": ["endpointslices"], "on": false}'
expect_wait 15 "both DNS endpoints in the dns row" _row_addrs_are cluster-dns "$DNS_A $DNS_B" ||
        fail "dns row addresses after the EndpointSlices list: '$(row_addrs cluster-dns)'"
expect_wait 15 "every row done 2 rounds" rows_at_least 2 || fail "rows did not run with the EndpointSlices synced"
expect_num "audit lists still withheld (namespaces)" "$(held namespaces)" '>=' 1
expect_eq "/readyz 503 while the audit's watches have not synced (rows have run)" "$(http_code "$API" /readyz)" 503

ctl '{"op": "hold", "resources": ["namespaces", "networkpolicies"], "on": false}'
if wait_ready "$API"; then pass "/readyz 200 once every watch has synced"; else fail "/readyz never 200 after every list was served"; fi

# ---------------------------------------------------------------- 2. DNS from EndpointSlices

wait_more_rounds 2
snap
expect_eq "dns row: one address per kube-dns endpoint, IP:PORT of port \"dns\"/UDP" "$(row_addrs cluster-dns)" "$DNS_A $DNS_B"
for s in "$DNS_A" "$DNS_B"; do
        expect_eq "dns row: $s answered" \
                "$(row_field "$API" cluster-dns "[.addresses[] | select(.address == \"$s\")][0].outcome")" connected
        expect_num "responses_total{server=$s,rcode=NOERROR}" \
                "$(sv0 netcanary_dns_responses_total server="$s" name="$QNAME" type=A rcode=NOERROR)" '>=' 2
        expect_num "lookup histogram of server $s observed" \
                "$(sv0 netcanary_dns_lookup_duration_seconds_count server="$s" name="$QNAME" type=A)" '>=' 2
done
expect_eq "dns server labels: exactly the two endpoints" \
        "$(series netcanary_dns_lookup_duration_seconds_count server <"$T/m.txt" | awk '{ print $1 }' | tr '\n' ' ')" \
        "$DNS_A $DNS_B "
expect_num "unbound a (127.0.0.2) really queried" "$(unbound_queries a)" '>=' 2
expect_num "unbound b (127.0.0.3) really queried" "$(unbound_queries b)" '>=' 2
expect_eq "target_addresses{cluster-dns,allowed}" "$(sv0 netcanary_target_addresses to=cluster-dns verdict=allowed)" 2
decoys=$(grep -E '127\.0\.0\.[89]|:'"$DNSTCP"'\b|:9153\b' "$T/m.txt"; mq "$API" '.rows[].addresses[].address' | grep -E '127\.0\.0\.[89]|:'"$DNSTCP"'$|:9153$|:'"$DECOY"'$')
expect_eq "no decoy endpoint (other namespace, other Service, other port) anywhere" "$decoys" ""

# ---------------------------------------------------------------- 3. Service targets

expect_eq "tenant-b (port by name): every ready endpoint, each slice's own port number" \
        "$(row_addrs tenant-b)" "$SVC_OK $SVC_CLOSED"
expect_eq "tenant-b: the responder endpoint connected" \
        "$(row_field "$API" tenant-b "[.addresses[] | select(.address == \"$SVC_OK\")][0].outcome")" connected
expect_eq "tenant-b: the closed endpoint refused" \
        "$(row_field "$API" tenant-b "[.addresses[] | select(.address == \"$SVC_CLOSED\")][0].outcome")" refused
expect_eq "tenant-b: one denied endpoint fails the allow row (met=false)" "$(row_field "$API" tenant-b .met)" false
expect_eq "target_addresses{tenant-b,allowed}" "$(sv0 netcanary_target_addresses to=tenant-b verdict=allowed)" 1
expect_eq "target_addresses{tenant-b,denied}" "$(sv0 netcanary_target_addresses to=tenant-b verdict=denied)" 1
expect_eq "tenant-b-udp (port by number): only the endpoint with that port" "$(row_addrs tenant-b-udp)" "$SVC_OK"
expect_eq "tenant-b-udp: echo received" \
        "$(row_field "$API" tenant-b-udp '.addresses[0].outcome')" connected

# ---------------------------------------------------------------- 4. audit

DD_EXPECTED="customer-a egress 1
customer-a ingress 1
customer-b egress 1
customer-b ingress 1
kube-system egress 1
kube-system ingress 1
payments-pci egress 0
payments-pci ingress 0
platform egress 1
platform ingress 1"
dd() { series netcanary_namespace_default_deny namespace direction <"$T/m.txt"; }
expect_eq "default_deny: one series per namespace and direction, PCI namespace 0/0" "$(dd)" "$DD_EXPECTED"

H_DENY_ALL=$(spec_hash "$DENY_ALL")
H_ALLOW_PLATFORM=$(spec_hash "$ALLOW_FROM_PLATFORM")
H_PLATFORM=$(spec_hash "$PLATFORM_DENY")
H_PCI_APP=$(spec_hash "$PCI_APP")
H_PCI_ALLOW=$(spec_hash "$PCI_ALLOW_ALL_INGRESS")
info_expected() {
        printf '%s\n' "$@" | sort
}
INFO_EXPECTED=$(info_expected \
        "customer-a default-deny-all $H_DENY_ALL 1" \
        "customer-b allow-from-platform $H_ALLOW_PLATFORM 1" \
        "customer-b default-deny-all $H_DENY_ALL 1" \
        "kube-system default-deny-all $H_DENY_ALL 1" \
        "payments-pci allow-all-ingress $H_PCI_ALLOW 1" \
        "payments-pci payments-app $H_PCI_APP 1" \
        "platform default-deny $H_PLATFORM 1")
info() { series netcanary_networkpolicy_info namespace name hash <"$T/m.txt"; }
expect_eq "networkpolicy_info: one series per policy, hash = FNV-1a of the canonical spec" "$(info)" "$INFO_EXPECTED"
for r in endpointslices namespaces networkpolicies; do
        expect_eq "watch_errors_total{$r} 0 in normal operation" "$(sv0 netcanary_kubernetes_watch_errors_total resource=$r)" 0
done

# ---------------------------------------------------------------- 5. endpoint changes

# wait_snap SECS DESC PRED: scrape until PRED (run on the snapshot) holds.
_snap_pred() { snap; "$@"; }
dd_is() { [[ $(series netcanary_namespace_default_deny namespace direction <"$T/m.txt" | grep "^$1 $2 ") == "$1 $2 $3" ]]; }
dd_absent() { series netcanary_namespace_default_deny namespace <"$T/m.txt" | awk -v ns="$1" '$1 == ns { f = 1 } END { exit f }'; }
info_hash() { series netcanary_networkpolicy_info namespace name hash <"$T/m.txt" | awk -v ns="$1" -v n="$2" '$1 == ns && $2 == n { print $3 }' | tr '\n' ' ' | sed 's/ $//'; }
_info_hash_is() { [[ $(info_hash "$1" "$2") == "$3" ]]; }

kput endpointslices "$KD1_B_TERMINATING"
if wait_for 10 "MODIFIED: 127.0.0.3 terminating -> one DNS server" _row_addrs_are cluster-dns "$DNS_A"; then
        pass "MODIFIED slice (endpoint terminating): only $DNS_A left in the dns row"
else
        fail "MODIFIED slice: dns row addresses '$(row_addrs cluster-dns)', want '$DNS_A'"
fi
wait_more_rounds 1
qb=$(unbound_queries b)
wait_more_rounds 3
expect_eq "unbound b (removed endpoint) no longer queried over 3 rounds" "$(unbound_queries b)" "$qb"
expect_eq "dns row still answered by $DNS_A" "$(row_field "$API" cluster-dns '.addresses[0].outcome')" connected

kput endpointslices "$KD2_B"
if wait_for 10 "ADDED: a second slice brings 127.0.0.3 back" _row_addrs_are cluster-dns "$DNS_A $DNS_B"; then
        pass "ADDED slice: both DNS servers measured again"
else
        fail "ADDED slice: dns row addresses '$(row_addrs cluster-dns)'"
fi
kdel endpointslices kube-system kube-dns-9qwzt
if wait_for 10 "DELETED: that slice goes away" _row_addrs_are cluster-dns "$DNS_A"; then
        pass "DELETED slice: one DNS server again"
else
        fail "DELETED slice: dns row addresses '$(row_addrs cluster-dns)'"
fi

kput endpointslices "$TS2_NOTREADY"
if wait_for 10 "tenant endpoint not ready -> one address" _row_addrs_are tenant-b "$SVC_OK"; then
        pass "tenant-b: the not-ready endpoint is no longer probed"
else
        fail "tenant-b addresses '$(row_addrs tenant-b)', want '$SVC_OK'"
fi
expect_wait 10 "tenant-b met" mq_true "$API" '[.rows[] | select(.to == "tenant-b")][0].met' ||
        fail "tenant-b not met with only the responder endpoint left"

# ---------------------------------------------------------------- 6. policy changes

kput networkpolicies "$(policy payments-pci default-deny-all "$DENY_ALL")"
expect_wait 10 "PCI egress default-deny after ADDED policy" _snap_pred dd_is payments-pci egress 1 ||
        fail "payments-pci egress default_deny: $(dd | grep payments-pci | tr '\n' ';')"
expect_eq "payments-pci ingress stays 0 (an all-pods allow-all-ingress cancels the deny-all)" \
        "$(dd | grep '^payments-pci ingress ')" "payments-pci ingress 0"
expect_eq "networkpolicy_info of the new policy" "$(info_hash payments-pci default-deny-all)" "$H_DENY_ALL"

kdel networkpolicies payments-pci allow-all-ingress
expect_wait 10 "PCI ingress default-deny after the allow-all is DELETED" _snap_pred dd_is payments-pci ingress 1 ||
        fail "payments-pci ingress default_deny: $(dd | grep payments-pci | tr '\n' ';')"
expect_eq "networkpolicy_info of the deleted policy gone" "$(info_hash payments-pci allow-all-ingress)" ""

# A label-only change: new resourceVersion, same spec, same hash.
kput networkpolicies "$(policy customer-a default-deny-all "$DENY_ALL" '{"owner":"team-a"}')"
LBL_RV=$(jq -r .rv <<<"$CTL_OUT")
wait_more_rounds 2
snap
expect_eq "label-only MODIFIED keeps the hash" "$(info_hash customer-a default-deny-all)" "$H_DENY_ALL"
H_BUT_DNS=$(spec_hash "$DENY_ALL_BUT_DNS")
[[ $H_BUT_DNS != "$H_DENY_ALL" ]] || fatal "test bug: equal hashes for different specs"
kput networkpolicies "$(policy customer-a default-deny-all "$DENY_ALL_BUT_DNS" '{"owner":"team-a"}')"
if wait_for 10 "spec MODIFIED -> new hash" _snap_pred _info_hash_is customer-a default-deny-all "$H_BUT_DNS"; then
        pass "spec change: networkpolicy_info hash replaced ($H_DENY_ALL -> $H_BUT_DNS, one series)"
else
        fail "spec change: customer-a/default-deny-all hash(es) '$(info_hash customer-a default-deny-all)', want '$H_BUT_DNS' (label change was rv $LBL_RV)"
fi
expect_eq "customer-a still default-deny both ways (a DNS-only egress rule allows not all)" \
        "$(dd | grep '^customer-a ' | tr '\n' ';')" "customer-a egress 1;customer-a ingress 1;"

kput namespaces "$(ns_obj scratch dev)"
expect_wait 10 "ADDED namespace gains its series" _snap_pred dd_is scratch ingress 0 ||
        fail "namespace scratch: $(dd | grep scratch | tr '\n' ';')"
expect_eq "ADDED namespace: egress 0 too" "$(dd | grep '^scratch egress ')" "scratch egress 0"
kdel namespaces "" scratch
expect_wait 10 "DELETED namespace loses its series" _snap_pred dd_absent scratch ||
        fail "namespace scratch still exported after DELETED: $(dd | grep scratch | tr '\n' ';')"

# ---------------------------------------------------------------- 7. 410 Gone

snap
DD_NOW=$(dd)
INFO_NOW=$(info)
DD_WANT=$(sed -e 's/^payments-pci egress 0$/payments-pci egress 1/' -e 's/^payments-pci ingress 0$/payments-pci ingress 1/' <<<"$DD_EXPECTED")
expect_eq "default_deny before the 410 (PCI fixed by now)" "$DD_NOW" "$DD_WANT"
declare -A ERR0
for r in endpointslices namespaces networkpolicies; do ERR0[$r]=$(sv0 netcanary_kubernetes_watch_errors_total resource=$r); done
L0=$(kstats | jq .lists)
G0=$(kstats | jq .gone)

# A change the daemon misses (no watch event), then compaction: every watch is
# behind the compacted resourceVersion and gets ERROR 410; only a relist can
# show the change.
kput_silent networkpolicies "$(policy customer-b default-deny-all "$DENY_ALL_B2")"
H_B2=$(spec_hash "$DENY_ALL_B2")
ctl '{"op": "compact"}'
bad=0 samples=0
# 4 s of samples, and at least 5 of them however slow a loaded machine takes
# each (bounded at 20 s).
deadline=$(($(now_ms) + 4000)) hard_deadline=$(($(now_ms) + 20000))
while { (($(now_ms) < deadline)) || ((samples < 5)); } && (($(now_ms) < hard_deadline)); do
        snap
        [[ -s $T/m.txt ]] || { bad=$((bad + 1)); continue; }
        samples=$((samples + 1))
        # Nothing but customer-b/default-deny-all's hash may change.
        if [[ $(dd) != "$DD_WANT" ]]; then
                bad=$((bad + 1))
                log "during the relist: default_deny $(dd | tr '\n' ';')"
        fi
        other_now=$(info | grep -v '^customer-b default-deny-all ')
        other_before=$(grep -v '^customer-b default-deny-all ' <<<"$INFO_NOW")
        h=$(info_hash customer-b default-deny-all)
        if [[ $other_now != "$other_before" || ($h != "$H_DENY_ALL" && $h != "$H_B2") ]]; then
                bad=$((bad + 1))
                log "during the relist: networkpolicy_info $(info | tr '\n' ';')"
        fi
        a=$(row_addrs cluster-dns)
        if [[ $a != "$DNS_A" ]]; then
                bad=$((bad + 1))
                log "during the relist: dns row addresses '$a'"
        fi
        sleep 0.15
done
expect_num "samples taken during the relist" "$samples" '>=' 5
expect_eq "410 relist: metrics and rows undisturbed in every sample" "$bad" 0
expect_wait 10 "relist applied the missed change" _snap_pred _info_hash_is customer-b default-deny-all "$H_B2" ||
        fail "the change missed before the 410 never showed: hash '$(info_hash customer-b default-deny-all)', want $H_B2"
expect_num "410s served (one per watch at least)" "$(($(kstats | jq .gone) - G0))" '>=' 3
expect_num "relists made (lists after the 410s)" "$(($(kstats | jq .lists) - L0))" '>=' 3
snap
for r in endpointslices namespaces networkpolicies; do
        expect_eq "410 Gone is not a watch error ($r)" "$(sv0 netcanary_kubernetes_watch_errors_total resource=$r)" "${ERR0[$r]}"
done
expect_eq "/readyz 200 after the relist" "$(http_code "$API" /readyz)" 200

# ---------------------------------------------------------------- 8. dropped connections

W0=$(kstats | jq .watches)
ctl '{"op": "drop"}'
_errs_counted() {
        snap
        local r
        for r in endpointslices namespaces networkpolicies; do
                num '>=' "$(sv0 netcanary_kubernetes_watch_errors_total resource="$r")" $((ERR0[$r] + 1)) || return 1
        done
}
if wait_for 15 "watch errors counted for every resource after the drop" _errs_counted; then
        pass "dropped streams counted in watch_errors_total for all three resources"
else
        fail "watch_errors_total after the drop: $(grep '^netcanary_kubernetes_watch_errors_total' "$T/m.txt" | tr '\n' ';')"
fi
_rewatched() { (($(kstats | jq .watches) >= W0 + 3)); }
expect_wait 15 "the watches resumed" _rewatched || fail "no new watch requests after the drop"
kput endpointslices "$KD2_B"
if wait_for 15 "an ADDED slice after the drop still applies" _row_addrs_are cluster-dns "$DNS_A $DNS_B"; then
        pass "after the drop, events apply again (two DNS servers)"
else
        fail "after the drop: dns row addresses '$(row_addrs cluster-dns)'"
fi
kdel networkpolicies payments-pci default-deny-all
expect_wait 10 "after the drop, a DELETED policy applies" _snap_pred dd_is payments-pci egress 0 ||
        fail "payments-pci egress after deleting its deny-all: $(dd | grep payments-pci | tr '\n' ';')"

# ---------------------------------------------------------------- the end

_alive "$NC_PID" || fail "netcanary exited during the test"
kill -TERM "$DAEMON_PID" 2>/dev/null
wait_for 5 "netcanary exits on SIGTERM" _exited "$NC_PID" || fail "netcanary still running 5 s after SIGTERM"
wait "$NC_PID" 2>/dev/null
rc=$?
nc_forget_pid "$NC_PID"
expect_eq "netcanary exit status after SIGTERM (a sanitizer report makes it non-zero)" "$rc" 0
san=$(grep -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/netcanary.log" | head -3)
expect_eq "no sanitizer report in the daemon's log" "$san" ""
nc_finish
