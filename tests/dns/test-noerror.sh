#!/usr/bin/env bash
# NOERROR answers from a real unbound on loopback:
#  - expect_addresses all present          -> outcome connected, allow row met
#  - one expected address missing          -> outcome bad_response; the server
#    answered, so the verdict is allowed and the allow row is still met;
#    netcanary_dns_responses_total{rcode="NOERROR"} counts the answer
#  - a deny row to an answering server     -> unexpected_allow, `once` exits 1
#  - types SRV, CNAME, TXT, PTR, MX reach the server as those types (unbound's
#    own per-type counters) and NOERROR counts per type
#  - /probe?module=dns: blackbox_exporter's DNS series (query succeeded,
#    answer/authority/additional record counts, duration by phase, the
#    lookup of the target = 0 as the server is an address, the server's
#    address hash)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
dns_init 0

DNS=$(port 0)
API=$(port 7)
S="127.0.0.1:$DNS"
unbound_start main "$DNS" </dev/null

TARGETS='{
  "www-ok":      { "dns": { "name": "www.nctest.example", "type": "A", "servers": ["'$S'"],
                            "expect_addresses": ["192.0.2.10", "192.0.2.11"] } },
  "web-missing": { "dns": { "name": "web.nctest.example", "type": "A", "servers": ["'$S'"],
                            "expect_addresses": ["192.0.2.10", "192.0.2.99"] } },
  "srv":   { "dns": { "name": "_http._tcp.nctest.example", "type": "SRV",   "servers": ["'$S'"] } },
  "cname": { "dns": { "name": "alias.nctest.example",      "type": "CNAME", "servers": ["'$S'"] } },
  "txt":   { "dns": { "name": "txt.nctest.example",        "type": "TXT",   "servers": ["'$S'"] } },
  "ptr":   { "dns": { "name": "10.2.0.192.in-addr.arpa",   "type": "PTR",   "servers": ["'$S'"] } },
  "mx":    { "dns": { "name": "nctest.example",            "type": "MX",    "servers": ["'$S'"] } }
}'
MATRIX='[
  { "from": "*", "to": "www-ok",      "expect": "allow" },
  { "from": "*", "to": "web-missing", "expect": "allow" },
  { "from": "*", "to": "srv",   "expect": "allow" },
  { "from": "*", "to": "cname", "expect": "allow" },
  { "from": "*", "to": "txt",   "expect": "allow" },
  { "from": "*", "to": "ptr",   "expect": "allow" },
  { "from": "*", "to": "mx",    "expect": "allow" }
]'
dns_config "$NC_TMP/allow.json" "$API" "$TARGETS" "$MATRIX"

# ---- once: outcomes and exit status
dns_once "$NC_TMP/allow.json" "$NC_TMP/allow.out"
O=$NC_TMP/allow.out
expect_eq "once exit status (all allow rows met)" "$RC" 0
expect_eq "www-ok address" "$(rowq "$O" www-ok '.addresses[0].address')" "$S"
expect_eq "www-ok outcome" "$(rowq "$O" www-ok '.addresses[0].outcome')" connected
expect_eq "www-ok verdict" "$(rowq "$O" www-ok .verdict)" allowed
expect_eq "www-ok met" "$(rowq "$O" www-ok .met)" true
expect_eq "web-missing outcome (192.0.2.99 not in the answer)" "$(rowq "$O" web-missing '.addresses[0].outcome')" bad_response
expect_eq "web-missing verdict (the server answered)" "$(rowq "$O" web-missing '.addresses[0].verdict')" allowed
expect_eq "web-missing allow row met" "$(rowq "$O" web-missing .met)" true
for t in srv cname txt ptr mx; do
        expect_eq "$t outcome" "$(rowq "$O" "$t" '.addresses[0].outcome')" connected
done
for ty in SRV CNAME TXT PTR MX; do
        expect_num "unbound saw a $ty query" "$(unbound_stat main "num.query.type.$ty")" '>=' 1
done

# ---- a deny row to the same answering server: the leak shows, exit 1
dns_config "$NC_TMP/deny.json" "$API" "$TARGETS" '[ { "from": "*", "to": "www-ok", "expect": "deny" } ]'
dns_once "$NC_TMP/deny.json" "$NC_TMP/deny.out"
expect_eq "once exit status (deny row to an answering server)" "$RC" 1
expect_eq "deny row mismatch" "$(rowq "$NC_TMP/deny.out" www-ok .mismatch)" unexpected_allow

# ---- run: metrics
dns_start d "$NC_TMP/allow.json"
wait_healthy "$API" "$PID_d"
wait_rounds "$API" 2
expect_eq "matrix: web-missing outcome" "$(row_field "$API" web-missing '.addresses[0].outcome')" bad_response
expect_eq "matrix: web-missing met" "$(row_field "$API" web-missing .met)" true
M=$NC_TMP/metrics.txt
scrape "$API" >"$M" || fatal "scrape failed"
v() { metric_value "$@" <"$M" || echo 0; }
W=(server="$S" name=www.nctest.example type=A)
B=(server="$S" name=web.nctest.example type=A)
expect_num "responses_total{www,NOERROR}" "$(v netcanary_dns_responses_total "${W[@]}" rcode=NOERROR)" '>=' 2
expect_num "responses_total{web (missing address),NOERROR}" "$(v netcanary_dns_responses_total "${B[@]}" rcode=NOERROR)" '>=' 2
expect_eq "responses_total{web,NXDOMAIN} absent" "$(v netcanary_dns_responses_total "${B[@]}" rcode=NXDOMAIN)" 0
expect_num "lookup histogram count (www)" "$(v netcanary_dns_lookup_duration_seconds_count "${W[@]}")" '>=' 2
expect_num "lookup histogram count (web, bad_response is still an answer)" \
        "$(v netcanary_dns_lookup_duration_seconds_count "${B[@]}")" '>=' 2
expect_num "lookup histogram le=5 bucket == count (www)" "$(v netcanary_dns_lookup_duration_seconds_bucket "${W[@]}" le=5)" \
        '==' "$(v netcanary_dns_lookup_duration_seconds_count "${W[@]}")"
expect_num "loopback lookups under 2.5 s (le=2.5 bucket, www)" \
        "$(v netcanary_dns_lookup_duration_seconds_bucket "${W[@]}" le=2.5)" '>=' 2
for ty in SRV CNAME TXT PTR MX; do
        expect_num "responses_total{type=$ty,NOERROR}" "$(v netcanary_dns_responses_total server="$S" type="$ty" rcode=NOERROR)" '>=' 1
done
expect_num "probes_total{web-missing,bad_response}" \
        "$(v netcanary_probes_total to=web-missing protocol=dns outcome=bad_response)" '>=' 2
expect_eq "expectation_met{web-missing}" "$(v netcanary_expectation_met to=web-missing)" 1
expect_eq "verdict{www-ok,allowed}" "$(v netcanary_verdict to=www-ok verdict=allowed)" 1

# ---- /probe in blackbox_exporter's names
PR=$NC_TMP/probe-www.txt
expect_eq "/probe?module=dns&target=www-ok: HTTP status" "$(dns_probe "$API" www-ok "$PR")" 200
p() { probe_value "$PR" "$@"; }
expect_eq "www-ok: probe_success" "$(p probe_success)" 1
expect_eq "www-ok: probe_dns_query_succeeded" "$(p probe_dns_query_succeeded)" 1
expect_eq "www-ok: probe_dns_answer_rrs (two A records)" "$(p probe_dns_answer_rrs)" 2
expect_eq "www-ok: probe_dns_authority_rrs" "$(p probe_dns_authority_rrs)" 0
expect_eq "www-ok: probe_dns_additional_rrs" "$(p probe_dns_additional_rrs)" 0
expect_eq "www-ok: probe_dns_lookup_time_seconds (the server is an address: nothing to look up)" \
        "$(p probe_dns_lookup_time_seconds)" 0
expect_eq "www-ok: probe_dns_duration_seconds{phase=resolve}" "$(p probe_dns_duration_seconds phase=resolve)" 0
expect_num "www-ok: probe_dns_duration_seconds{phase=request} (the query)" \
        "$(p probe_dns_duration_seconds phase=request)" '>' 0
expect_num "www-ok: probe_dns_duration_seconds{phase=request} under the probe's duration" \
        "$(p probe_dns_duration_seconds phase=request)" '<=' "$(p probe_duration_seconds)"
expect_eq "www-ok: probe_ip_protocol (the server's)" "$(p probe_ip_protocol)" 4
expect_eq "www-ok: probe_ip_addr_hash (FNV-1a 32 of 127.0.0.1)" "$(p probe_ip_addr_hash)" 3668918509
PR=$NC_TMP/probe-mx.txt
expect_eq "/probe?module=dns&target=mx: HTTP status" "$(dns_probe "$API" mx "$PR")" 200
expect_eq "mx: probe_dns_answer_rrs" "$(p probe_dns_answer_rrs)" 1
PR=$NC_TMP/probe-missing.txt
expect_eq "/probe?module=dns&target=web-missing: HTTP status" "$(dns_probe "$API" web-missing "$PR")" 200
expect_eq "web-missing: probe_success (an expected address is missing)" "$(p probe_success)" 0
expect_eq "web-missing: probe_dns_query_succeeded (the query was answered)" "$(p probe_dns_query_succeeded)" 1
expect_eq "web-missing: probe_dns_answer_rrs" "$(p probe_dns_answer_rrs)" 2
B=$NC_TMP/probe-bad.txt
code=$("${NC_CURL[@]}" -o "$B" -w '%{http_code}' "$(url "$API" "/probe?module=http_2xx&target=www-ok")")
expect_eq "/probe?module=http_2xx&target=www-ok (a dns target): HTTP status" "$code" 400

nc_finish
