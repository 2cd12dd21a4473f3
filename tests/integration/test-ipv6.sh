#!/usr/bin/env bash
# shellcheck disable=SC2154,SC2317 # PID_* are set by nc_start/start_* (printf -v); predicates are called through wait_for/check
# Scenario 5: IPv6 loopback. TCP and UDP rows to the responder on ::1 are
# connected; addresses are shown as [::1]:port; a closed ::1 port is refused;
# the HTTP endpoint listens on [::1] when asked to.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
nc_init 5

if [[ ! -e /proc/net/if_inet6 ]] || ! grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6; then
        skip "no ::1 on this host"
fi

HTTP=$(port 0)
RESP=$(port 1)
CLOSED=$(port 50)
HTTP6=$(port 2)
ports_free "$HTTP" "$RESP" "$CLOSED" "$HTTP6"
CFG=$NC_TMP/config.json
cat >"$CFG" <<JSON
{
  "agent": { "identity": "v6test", "listen": "127.0.0.1:$HTTP", "responder": { "port": $RESP } },
  "defaults": { "interval": "500ms", "timeout": "200ms" },
  "targets": {
    "v6-tcp":    { "tcp": { "host": "::1", "port": $RESP } },
    "v6-udp":    { "udp": { "host": "::1", "port": $RESP } },
    "v6-closed": { "tcp": { "host": "::1", "port": $CLOSED } }
  },
  "matrix": [
    { "from": "*", "to": "v6-tcp",    "expect": "allow" },
    { "from": "*", "to": "v6-udp",    "expect": "allow" },
    { "from": "*", "to": "v6-closed", "expect": "deny" }
  ]
}
JSON

nc_start d "$CFG"
wait_healthy "$HTTP" "$PID_d"
all_met() { mq_true "$HTTP" '(.rows | length) == 3 and ([.rows[].met] | all)'; }
wait_for 15 "all rows met" all_met || fail "not all rows met: $(matrix "$HTTP" | jq -c '[.rows[] | {to, met, addresses}]')"

M=$(matrix "$HTTP")
rq() { jq -r --arg t "$1" "[.rows[] | select(.to == \$t)][0] | $2" <<<"$M"; }
expect_eq "v6-tcp outcome" "$(rq v6-tcp '.addresses[0].outcome')" connected
expect_eq "v6-tcp address" "$(rq v6-tcp '.addresses[0].address')" "[::1]:$RESP"
expect_eq "v6-tcp met" "$(rq v6-tcp .met)" true
expect_eq "v6-udp outcome" "$(rq v6-udp '.addresses[0].outcome')" connected
expect_eq "v6-udp address" "$(rq v6-udp '.addresses[0].address')" "[::1]:$RESP"
expect_eq "v6-udp met" "$(rq v6-udp .met)" true
expect_eq "v6-closed outcome" "$(rq v6-closed '.addresses[0].outcome')" refused
expect_eq "v6-closed address" "$(rq v6-closed '.addresses[0].address')" "[::1]:$CLOSED"
expect_eq "v6-closed met" "$(rq v6-closed .met)" true

S=$(scrape "$HTTP")
expect_num "probes_total{v6-tcp,connected}" "$(metric_value netcanary_probes_total to=v6-tcp outcome=connected <<<"$S")" '>=' 1
expect_num "probes_total{v6-udp,connected}" "$(metric_value netcanary_probes_total to=v6-udp outcome=connected <<<"$S")" '>=' 1
# labels never carry an address
if grep -q '::1' <<<"$S"; then
        fail "an IPv6 address leaked into a metric label: $(grep '::1' <<<"$S" | head -3)"
else
        pass "no address in metric labels"
fi

# The HTTP server on [::1] (the --listen override, bracketed form)
# (a second daemon: its own config without a responder, listen overridden on the command line)
sed "s/\"responder\": { \"port\": $RESP }/\"responder\": { \"port\": 0 }/" "$CFG" >"$NC_TMP/config6.json"
grep -q '"responder": { "port": 0 }' "$NC_TMP/config6.json" || fatal "could not write config6.json"
nc_start d6 "$NC_TMP/config6.json" --listen "[::1]:$HTTP6" --identity v6test-b
healthy6() { [[ $("${NC_CURL[@]}" -g -o /dev/null -w '%{http_code}' "http://[::1]:$HTTP6/healthz" 2>/dev/null) == 200 ]]; }
if wait_for 15 "/healthz on [::1]:$HTTP6" healthy6; then
        pass "--listen [::1]:port serves /healthz over IPv6"
else
        fail "--listen [::1]:$HTTP6: /healthz not reachable over IPv6 (log: $(tail -n 5 "$NC_TMP/d6.log" | tr '\n' '|'))"
fi

check "daemon still running" _alive "$PID_d"
nc_finish
