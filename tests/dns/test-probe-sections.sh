#!/usr/bin/env bash
# /probe?module=dns counts the records of every section of the answer as
# blackbox_exporter does (probe_dns_answer_rrs, _authority_rrs,
# _additional_rrs): dns-responder.py answers with one A record, one NS in
# the authority section and two A records in the additional section (unbound
# adds no additional records to its local data). Ports 21230-21237
# (DNS_PORT_BASE 21230, slot 0).
DNS_PORT_BASE=${DNS_PORT_BASE:-21230}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
dns_init 0
PY=$(command -v python3) || fatal "python3 not installed"

RP=$(port 0)
API=$(port 7)
R="127.0.0.1:$RP"
"$PY" "$DNS_DIR/dns-responder.py" 127.0.0.1 "$RP" 0 "$NC_TMP/resp.ready" sections >"$NC_TMP/resp.log" 2>&1 &
RESP_PID=$!
NC_HELPERS+=("$RESP_PID")
wait_for 10 "responder" _helper_ready "$NC_TMP/resp.ready" "$RESP_PID" || fatal "responder did not start"
_alive "$RESP_PID" || fatal "responder died: $(cat "$NC_TMP/resp.log")"

TARGETS='{ "sections": { "dns": { "name": "www.nctest.example", "type": "A", "servers": ["'$R'"],
                                  "expect_addresses": ["192.0.2.10"] } } }'
dns_config "$NC_TMP/c.json" "$API" "$TARGETS" '[ { "from": "*", "to": "sections", "expect": "allow" } ]' \
        '{ "interval": "30s", "timeout": "500ms", "confirm": 1 }'
dns_start d "$NC_TMP/c.json"
wait_healthy "$API" "$PID_d"

PR=$NC_TMP/probe.txt
p() { probe_value "$PR" "$@"; }
expect_eq "/probe?module=dns&target=sections: HTTP status" "$(dns_probe "$API" sections "$PR")" 200
expect_eq "probe_success" "$(p probe_success)" 1
expect_eq "probe_dns_query_succeeded" "$(p probe_dns_query_succeeded)" 1
expect_eq "probe_dns_answer_rrs" "$(p probe_dns_answer_rrs)" 1
expect_eq "probe_dns_authority_rrs" "$(p probe_dns_authority_rrs)" 1
expect_eq "probe_dns_additional_rrs" "$(p probe_dns_additional_rrs)" 2
expect_eq "/probe?module=dns_udp&target=sections: HTTP status" "$(
        "${NC_CURL[@]}" -o /dev/null -w '%{http_code}' "$(url "$API" "/probe?module=dns_udp&target=sections")")" 200
expect_eq "/probe?module=dnsx&target=sections: HTTP status (unknown module)" "$(
        "${NC_CURL[@]}" -o /dev/null -w '%{http_code}' "$(url "$API" "/probe?module=dnsx&target=sections")")" 400

nc_finish
