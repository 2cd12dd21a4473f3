#!/usr/bin/env bash
# The embedded default (no --config) inside a network namespace of ours whose
# resolv.conf names our unbound: the default matrix's resolv-conf-dns row asks
# every resolv.conf nameserver for ". NS" and must be met, next to the
# responder self-checks. unbound serves "." itself (static zone with an NS
# record), so nothing is ever recursed.
# Needs root and `ip netns`; skips (77) otherwise.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
dns_init 9

dns_netns NS "nameserver 127.0.0.1"
dns_use_ns "$NS"
API=$(port 7)
unbound_start root 53 "$NS" <<'EOF2'
  local-data: ". NS a.root-servers.net."
  local-data: ". SOA a.root-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400"
EOF2

dns_start d "" --listen "127.0.0.1:$API"
wait_healthy "$API" "$PID_d"
check "/readyz 200 (first round of every default row done)" wait_ready "$API"
expect_eq "default config source" "$(mq "$API" '.config.source')" "<embedded default>"
expect_eq "resolv-conf-dns row present" "$(mq "$API" '[.rows[] | select(.to == "resolv-conf-dns")] | length')" 1
expect_eq "resolv-conf-dns protocol" "$(row_field "$API" resolv-conf-dns .protocol)" dns
expect_eq "resolv-conf-dns supported" "$(row_field "$API" resolv-conf-dns .supported)" true
expect_eq "resolv-conf-dns server" "$(row_field "$API" resolv-conf-dns '.addresses[0].address')" 127.0.0.1:53
expect_eq "resolv-conf-dns outcome" "$(row_field "$API" resolv-conf-dns '.addresses[0].outcome')" connected
expect_eq "resolv-conf-dns met" "$(row_field "$API" resolv-conf-dns .met)" true
expect_eq "every default row met" "$(mq "$API" '[.rows[] | .met] | all')" true
M=$NC_TMP/metrics.txt
scrape "$API" >"$M" || fatal "scrape failed"
v() { metric_value "$@" <"$M" || echo 0; }
expect_num "responses_total{127.0.0.1:53,.,NS,NOERROR}" \
        "$(v netcanary_dns_responses_total server=127.0.0.1:53 name=. type=NS rcode=NOERROR)" '>=' 1
expect_num "lookup histogram{127.0.0.1:53,.,NS}" \
        "$(v netcanary_dns_lookup_duration_seconds_count server=127.0.0.1:53 name=. type=NS)" '>=' 1
expect_num "unbound answered the NS query" "$(unbound_stat root num.query.type.NS)" '>=' 1

nc_finish
