#!/usr/bin/env bash
# shellcheck disable=SC2154,SC2317 # PID_* are set by nc_start/start_* (printf -v); predicates are called through wait_for/check
# Scenario 6: `confirm` hysteresis. confirm=3 on an allow row to a listener we
# control. When the listener stops, every denied round is counted in
# netcanary_mismatches_total at once, but the verdict gauge flips to denied only
# on the 3rd consecutive denied round. Reasoned on the matrix's round counts,
# never on wall-clock time.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
nc_init 6

HTTP=$(port 0)
RESP=$(port 1)
LST=$(port 50)
CONFIRM=3
ports_free "$HTTP" "$RESP" "$LST"

start_tcp_listener PID_l 127.0.0.1 "$LST"

CFG=$NC_TMP/config.json
cat >"$CFG" <<JSON
{
  "agent": { "identity": "conftest", "listen": "127.0.0.1:$HTTP", "responder": { "port": $RESP } },
  "defaults": { "interval": "1s", "timeout": "300ms", "confirm": 2 },
  "targets": { "ctl": { "tcp": { "host": "127.0.0.1", "port": $LST } } },
  "matrix": [ { "from": "*", "to": "ctl", "expect": "allow", "confirm": $CONFIRM } ]
}
JSON

nc_start d "$CFG"
wait_healthy "$HTTP" "$PID_d"

# snapshot -> "rounds observed verdict unexpected_deny met"
snapshot() {
        matrix "$HTTP" | jq -r '.rows[0] | "\(.rounds) \(.observed) \(.verdict) \(.mismatches.unexpected_deny) \(.met)"'
}
met_allowed() { [[ $(snapshot 2>/dev/null) =~ ^[0-9]+\ allowed\ allowed\ 0\ true$ ]]; }
wait_for 15 "row met with the listener up" met_allowed || fatal "row never met with the listener up: $(snapshot)"
pass "listener up: verdict allowed, met, no mismatch"
check "verdict{allowed} == 1 before the stop" metric_is "$HTTP" '==' 1 netcanary_verdict to=ctl verdict=allowed

# ---- stop the listener: denied rounds start
stop_helper "$PID_l"
log "listener stopped"

SNAPS=$NC_TMP/snaps.txt
: >"$SNAPS"
saw_pre_flip_matrix=0 saw_pre_flip_metrics=0 flipped=0
deadline=$(($(now_ms) + 15000))
for ((i = 0; i < 400; i++)); do
        s=$(snapshot) || s=""
        [[ -n $s ]] && echo "$s" >>"$SNAPS"
        read -r _ observed verdict ud _ <<<"$s"
        if [[ ${verdict:-} == allowed && ${observed:-} == denied ]] && num '>=' "${ud:-0}" 1; then
                saw_pre_flip_matrix=1
        fi
        S=$(scrape "$HTTP")
        va=$(metric_value netcanary_verdict to=ctl verdict=allowed <<<"$S")
        mt=$(metric_value netcanary_mismatches_total to=ctl mismatch=unexpected_deny <<<"$S" || echo 0)
        if [[ $va == 1 ]] && num '>=' "${mt:-0}" 1; then saw_pre_flip_metrics=1; fi
        if [[ ${verdict:-} == denied ]]; then flipped=1; break; fi
        (($(now_ms) < deadline)) || break
        sleep 0.05
done
log "snapshots (rounds observed verdict unexpected_deny met):"
sort -u -n "$SNAPS" | sed 's/^/    /' >&2

((flipped)) || fatal "the verdict never flipped to denied within 15 s"
pass "verdict flipped to denied"
if ((saw_pre_flip_matrix)); then
        pass "matrix: observed denied, mismatch counted, verdict still allowed (hysteresis)"
else
        fail "never saw observed=denied with verdict still allowed and unexpected_deny >= 1 in the matrix"
fi
if ((saw_pre_flip_metrics)); then
        pass "metrics: mismatches_total{unexpected_deny} >= 1 while verdict{allowed} == 1"
else
        fail "never saw mismatches_total{unexpected_deny} >= 1 while netcanary_verdict{verdict=allowed} == 1"
fi

# Analysis on rounds: no flip before CONFIRM mismatching rounds, flip at the CONFIRM-th.
awk -v c=$CONFIRM '
        $3 == "allowed" && $4 + 0 >= c { printf "verdict still allowed after %d mismatching rounds (rounds=%d)\n", $4, $1; bad = 1 }
        END { exit bad }' "$SNAPS" >"$NC_TMP/late.txt"
if [[ -s $NC_TMP/late.txt ]]; then fail "flip too late: $(cat "$NC_TMP/late.txt")"; else pass "no snapshot shows allowed after $CONFIRM mismatches"; fi
first_denied=$(awk '$3 == "denied" { print; exit }' "$SNAPS")
read -r f_rounds _ _ f_ud _ <<<"$first_denied"
prev_rounds=$(awk -v r="$f_rounds" '$1 + 0 < r + 0 { last = $1 } END { print last + 0 }' "$SNAPS")
expect_num "unexpected_deny at the flip (no flip before $CONFIRM rounds)" "$f_ud" '>=' $CONFIRM
if ((prev_rounds == f_rounds - 1)); then
        # we saw the round right before the flip: the flip is exactly the CONFIRM-th
        expect_eq "unexpected_deny at the flip (flip on the ${CONFIRM}rd denied round)" "$f_ud" $CONFIRM
fi

# After the flip: gauges agree.
S=$(scrape "$HTTP")
expect_eq "verdict{denied} after the flip" "$(metric_value netcanary_verdict to=ctl verdict=denied <<<"$S")" 1
expect_eq "verdict{allowed} after the flip" "$(metric_value netcanary_verdict to=ctl verdict=allowed <<<"$S")" 0
expect_eq "expectation_met after the flip" "$(metric_value netcanary_expectation_met to=ctl expect=allow <<<"$S")" 0

# Every mismatching round is counted: delta(unexpected_deny) == delta(rounds).
read -r ra _ _ uda _ <<<"$(snapshot)"
two_more() { local r; read -r r _ <<<"$(snapshot)"; ((r >= ra + 2)); }
wait_for 10 "two more rounds" two_more || fail "no further rounds after the flip"
read -r rb _ vb udb _ <<<"$(snapshot)"
expect_eq "mismatch delta == round delta ($ra->$rb)" "$((udb - uda))" "$((rb - ra))"
expect_eq "verdict stays denied" "$vb" denied
mt=$(metric "$HTTP" netcanary_mismatches_total to=ctl mismatch=unexpected_deny)
expect_num "mismatches_total{unexpected_deny} counts every denied round" "$mt" '>=' "$udb"

# ---- restart the listener: the verdict returns to allowed, again only after CONFIRM rounds
start_tcp_listener PID_l2 127.0.0.1 "$LST"
saw_recovering=0 recovered=0
deadline=$(($(now_ms) + 15000))
for ((i = 0; i < 400; i++)); do
        read -r _ observed verdict _ _ <<<"$(snapshot)"
        [[ ${observed:-} == allowed && ${verdict:-} == denied ]] && saw_recovering=1
        if [[ ${verdict:-} == allowed ]]; then recovered=1; break; fi
        (($(now_ms) < deadline)) || break
        sleep 0.05
done
if ((recovered)); then pass "verdict back to allowed after the listener returned"; else fail "verdict never returned to allowed"; fi
if ((saw_recovering)); then pass "recovery also waits for confirm (observed allowed, verdict denied seen)"; else fail "recovery flipped at once (never saw observed allowed while verdict denied)"; fi
check "expectation_met back to 1" wait_for 5 "met 1" metric_is "$HTTP" '==' 1 netcanary_expectation_met to=ctl

check "daemon still running" _alive "$PID_d"
nc_finish
