#!/usr/bin/env bash
# Search-list expansion with ndots, as a pod's libc does it. Inside a network
# namespace of ours whose resolv.conf (/etc/netns/NS/resolv.conf) reads
#   nameserver 127.0.0.1
#   search a.svc.cluster.local svc.cluster.local cluster.local
#   options ndots:5
# with unbound on 127.0.0.1:53 there serving cluster.local:
#  - "kubernetes.default" (1 dot < 5): search domains first;
#    kubernetes.default.a.svc.cluster.local is NXDOMAIN, then
#    kubernetes.default.svc.cluster.local answers -> 2 queries
#  - "kubernetes.default.svc.cluster.local" (4 dots < 5): three NXDOMAIN
#    search names, then as-is -> 4 queries (the classic ndots:5 cost)
#  - "web.shop.team.corp.cluster.local" (5 dots): as-is first -> 1 query
#  - "kubernetes.default.svc.cluster.local." (absolute): 1 query
#  - "ghost.default" (exists nowhere): 3 search names + as-is, all NXDOMAIN ->
#    4 queries, final rcode NXDOMAIN (expected here -> connected)
#  - without via_search, "kubernetes" is asked as-is: NXDOMAIN
#  - "servers": ["127.0.0.1"] (no port) means port 53
# netcanary_dns_search_queries{name} reports them; responses_total counts
# each query's rcode; outcomes are connected with the expected address.
# Needs root and `ip netns`; skips (77) otherwise.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
dns_init 7

dns_netns NS "nameserver 127.0.0.1
search a.svc.cluster.local svc.cluster.local cluster.local
options ndots:5"
dns_use_ns "$NS"
API=$(port 7)
unbound_start cluster 53 "$NS" <<'EOF2'
  local-zone: "cluster.local." static
  local-data: "cluster.local. SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 30"
  local-data: "kubernetes.default.svc.cluster.local. A 10.96.0.1"
  local-data: "web.shop.team.corp.cluster.local. A 10.96.0.2"
EOF2

TARGETS='{
  "short": { "dns": { "name": "kubernetes.default", "type": "A", "servers": "resolv.conf", "via_search": true,
                      "expect_addresses": ["10.96.0.1"] } },
  "fqdn4": { "dns": { "name": "kubernetes.default.svc.cluster.local", "type": "A", "servers": "resolv.conf",
                      "via_search": true, "expect_addresses": ["10.96.0.1"] } },
  "deep":  { "dns": { "name": "web.shop.team.corp.cluster.local", "type": "A", "servers": "resolv.conf",
                      "via_search": true, "expect_addresses": ["10.96.0.2"] } },
  "abs":   { "dns": { "name": "kubernetes.default.svc.cluster.local.", "type": "A", "servers": "resolv.conf",
                      "via_search": true, "expect_addresses": ["10.96.0.1"] } },
  "ghost": { "dns": { "name": "ghost.default", "type": "A", "servers": "resolv.conf", "via_search": true,
                      "expect_rcode": "NXDOMAIN" } },
  "plain": { "dns": { "name": "kubernetes", "type": "A", "servers": "resolv.conf",
                      "expect_rcode": "NXDOMAIN" } },
  "noport": { "dns": { "name": "web.shop.team.corp.cluster.local", "type": "A", "servers": ["127.0.0.1"],
                       "expect_addresses": ["10.96.0.2"] } }
}'
MATRIX='[
  { "from": "*", "to": "short", "expect": "allow" },
  { "from": "*", "to": "fqdn4", "expect": "allow" },
  { "from": "*", "to": "deep",  "expect": "allow" },
  { "from": "*", "to": "abs",   "expect": "allow" },
  { "from": "*", "to": "ghost", "expect": "allow" },
  { "from": "*", "to": "plain", "expect": "allow" },
  { "from": "*", "to": "noport", "expect": "allow" }
]'
# A long interval: one round, then metrics and matrix read without a race.
dns_config "$NC_TMP/c.json" "$API" "$TARGETS" "$MATRIX" '{ "interval": "20s", "timeout": "1s", "confirm": 1 }'

dns_once "$NC_TMP/c.json" "$NC_TMP/once.out"
O=$NC_TMP/once.out
expect_eq "once exit status" "$RC" 0
for t in short fqdn4 deep abs; do
        expect_eq "$t outcome" "$(rowq "$O" "$t" '.addresses[0].outcome')" connected
        expect_eq "$t server (from the namespace's resolv.conf)" "$(rowq "$O" "$t" '.addresses[0].address')" 127.0.0.1:53
done
expect_eq "plain (no via_search): the bare name is NXDOMAIN" "$(rowq "$O" plain '.addresses[0].outcome')" connected
expect_eq "ghost (NXDOMAIN everywhere, expected) outcome" "$(rowq "$O" ghost '.addresses[0].outcome')" connected
expect_eq "noport outcome" "$(rowq "$O" noport '.addresses[0].outcome')" connected
expect_eq "noport server (port 53 by default)" "$(rowq "$O" noport '.addresses[0].address')" 127.0.0.1:53

dns_start d "$NC_TMP/c.json"
wait_healthy "$API" "$PID_d"
wait_rounds "$API" 1
M=$NC_TMP/metrics.txt
scrape "$API" >"$M" || fatal "scrape failed"
v() { metric_value "$@" <"$M" || echo none; }
expect_eq "search_queries{kubernetes.default}" "$(v netcanary_dns_search_queries name=kubernetes.default)" 2
expect_eq "search_queries{kubernetes.default.svc.cluster.local} (ndots:5 cost)" \
        "$(v netcanary_dns_search_queries name=kubernetes.default.svc.cluster.local)" 4
expect_eq "search_queries{web.shop.team.corp.cluster.local} (5 dots)" \
        "$(v netcanary_dns_search_queries name=web.shop.team.corp.cluster.local)" 1
expect_eq "search_queries{kubernetes.default.svc.cluster.local.} (absolute)" \
        "$(v netcanary_dns_search_queries name=kubernetes.default.svc.cluster.local.)" 1
expect_eq "search_queries{ghost.default} (every name NXDOMAIN)" "$(v netcanary_dns_search_queries name=ghost.default)" 4
R=(server=127.0.0.1:53 name=kubernetes.default type=A)
r=$(mq "$API" '[.rows[] | select(.to == "short")][0].rounds')
expect_eq "responses_total{kubernetes.default,NXDOMAIN} == rounds" "$(v netcanary_dns_responses_total "${R[@]}" rcode=NXDOMAIN)" "$r"
expect_eq "responses_total{kubernetes.default,NOERROR} == rounds" "$(v netcanary_dns_responses_total "${R[@]}" rcode=NOERROR)" "$r"
r4=$(mq "$API" '[.rows[] | select(.to == "fqdn4")][0].rounds')
expect_eq "responses_total{fqdn4,NXDOMAIN} == 3 x rounds" \
        "$(v netcanary_dns_responses_total server=127.0.0.1:53 name=kubernetes.default.svc.cluster.local type=A rcode=NXDOMAIN)" \
        "$((3 * r4))"
expect_eq "no search_queries for a target without via_search" \
        "$(grep -c '^netcanary_dns_search_queries{' "$M")" 5
# unbound saw the expansion: for every round of "short" one query for the
# first search name, and NXDOMAINs from short (1), fqdn4 (3) and plain (1)
expect_num "unbound answered NXDOMAIN for the search names" "$(unbound_stat cluster num.answer.rcode.NXDOMAIN)" '>=' 5

nc_finish
