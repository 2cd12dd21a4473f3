#!/usr/bin/env bash
# shellcheck disable=SC2154,SC2317 # PID_* are set by nc_start/start_* (printf -v); predicates are called through wait_for/check
# Scenario 2: closed ports (nothing listens, the kernel answers RST).
#  - expect deny on a closed port: outcome refused, verdict denied, met 1
#  - expect allow on a closed port: unexpected_deny, counted in mismatches_total
#  - "refused_means": "allowed" turns the RST into an allowed verdict
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
nc_init 2

HTTP=$(port 0)
RESP=$(port 1)
CLOSED_DENY=$(port 50)
CLOSED_ALLOW=$(port 51)
CLOSED_RMA=$(port 52)
ports_free "$HTTP" "$RESP" "$CLOSED_DENY" "$CLOSED_ALLOW" "$CLOSED_RMA"
CFG=$NC_TMP/config.json
cat >"$CFG" <<JSON
{
  "agent": { "identity": "denytest", "listen": "127.0.0.1:$HTTP", "responder": { "port": $RESP } },
  "defaults": { "interval": "500ms", "timeout": "200ms", "confirm": 1 },
  "targets": {
    "closed-deny":  { "tcp": { "host": "127.0.0.1", "port": $CLOSED_DENY } },
    "closed-allow": { "tcp": { "host": "127.0.0.1", "port": $CLOSED_ALLOW } },
    "closed-rma":   { "tcp": { "host": "127.0.0.1", "port": $CLOSED_RMA }, "refused_means": "allowed" }
  },
  "matrix": [
    { "from": "*", "to": "closed-deny",  "expect": "deny" },
    { "from": "*", "to": "closed-allow", "expect": "allow" },
    { "from": "*", "to": "closed-rma",   "expect": "allow" }
  ]
}
JSON

nc_start d "$CFG"
wait_healthy "$HTTP" "$PID_d"
check "/readyz 200 after the first round" wait_ready "$HTTP"

probed() { mq_true "$HTTP" '(.rows | length) == 3 and ([.rows[].rounds >= 1] | all)'; }
wait_for 15 "every row probed once" probed || fail "rows never probed: $(matrix "$HTTP" | jq -c .)"

M=$(matrix "$HTTP")
rowj() { jq -c --arg t "$1" '.rows[] | select(.to == $t)' <<<"$M"; }

# expect deny on a closed port
r=$(rowj closed-deny)
expect_eq "closed-deny outcome" "$(jq -r '.addresses[0].outcome' <<<"$r")" refused
expect_eq "closed-deny address verdict" "$(jq -r '.addresses[0].verdict' <<<"$r")" denied
expect_eq "closed-deny verdict" "$(jq -r .verdict <<<"$r")" denied
expect_eq "closed-deny met" "$(jq -r .met <<<"$r")" true
expect_eq "closed-deny mismatch" "$(jq -r .mismatch <<<"$r")" none
expect_eq "closed-deny expect" "$(jq -r .expect <<<"$r")" deny
# nothing in this agent reaches 127.0.0.1:$CLOSED_DENY: no positive control
expect_eq "closed-deny verified (no positive control)" "$(jq -r .verified <<<"$r")" false
expect_eq "closed-deny address" "$(jq -r '.addresses[0].address' <<<"$r")" "127.0.0.1:$CLOSED_DENY"

# expect allow on a closed port
r=$(rowj closed-allow)
expect_eq "closed-allow outcome" "$(jq -r '.addresses[0].outcome' <<<"$r")" refused
expect_eq "closed-allow verdict" "$(jq -r .verdict <<<"$r")" denied
expect_eq "closed-allow met" "$(jq -r .met <<<"$r")" false
expect_eq "closed-allow mismatch" "$(jq -r .mismatch <<<"$r")" unexpected_deny
expect_num "closed-allow mismatches.unexpected_deny" "$(jq -r .mismatches.unexpected_deny <<<"$r")" '>=' 1
expect_eq "closed-allow mismatches.unexpected_allow" "$(jq -r .mismatches.unexpected_allow <<<"$r")" 0

# refused_means allowed
r=$(rowj closed-rma)
expect_eq "closed-rma outcome" "$(jq -r '.addresses[0].outcome' <<<"$r")" refused
expect_eq "closed-rma verdict (refused_means allowed)" "$(jq -r .verdict <<<"$r")" allowed
expect_eq "closed-rma met" "$(jq -r .met <<<"$r")" true

S=$(scrape "$HTTP")
mv_() { metric_value "$@" <<<"$S"; }
expect_eq "expectation_met{closed-deny}" "$(mv_ netcanary_expectation_met from=denytest to=closed-deny protocol=tcp expect=deny)" 1
expect_eq "verdict{closed-deny,denied}" "$(mv_ netcanary_verdict to=closed-deny expect=deny verdict=denied)" 1
expect_eq "verdict{closed-deny,allowed}" "$(mv_ netcanary_verdict to=closed-deny verdict=allowed)" 0
expect_num "probes_total{closed-deny,refused}" "$(mv_ netcanary_probes_total to=closed-deny outcome=refused)" '>=' 1
expect_eq "expectation_verified{closed-deny}" "$(mv_ netcanary_expectation_verified to=closed-deny)" 0
expect_eq "expectation_met{closed-allow}" "$(mv_ netcanary_expectation_met to=closed-allow expect=allow)" 0
expect_eq "verdict{closed-allow,denied}" "$(mv_ netcanary_verdict to=closed-allow verdict=denied)" 1
m1=$(mv_ netcanary_mismatches_total from=denytest to=closed-allow protocol=tcp mismatch=unexpected_deny)
expect_num "mismatches_total{closed-allow,unexpected_deny}" "${m1:-}" '>=' 1
ua=$(mv_ netcanary_mismatches_total to=closed-allow mismatch=unexpected_allow || echo 0)
expect_eq "mismatches_total{closed-allow,unexpected_allow}" "${ua:-0}" 0
cd_=$(mv_ netcanary_mismatches_total to=closed-deny mismatch=unexpected_allow || echo 0)
expect_eq "mismatches_total{closed-deny,unexpected_allow}" "${cd_:-0}" 0
expect_eq "expectation_met{closed-rma}" "$(mv_ netcanary_expectation_met to=closed-rma)" 1
expect_eq "verdict{closed-rma,allowed}" "$(mv_ netcanary_verdict to=closed-rma verdict=allowed)" 1

# every mismatching round is counted: the counter keeps growing
check "mismatches_total{closed-allow,unexpected_deny} grows" \
        wait_for 10 "mismatch counter grows" metric_is "$HTTP" '>' "${m1:-0}" netcanary_mismatches_total to=closed-allow mismatch=unexpected_deny
# ... and agrees with the matrix's count and rounds (one mismatch per round)
r=$(matrix "$HTTP" | jq -c '.rows[] | select(.to == "closed-allow")')
expect_eq "closed-allow: unexpected_deny count == rounds" "$(jq -r .mismatches.unexpected_deny <<<"$r")" "$(jq -r .rounds <<<"$r")"

check "daemon still running" _alive "$PID_d"
nc_finish
