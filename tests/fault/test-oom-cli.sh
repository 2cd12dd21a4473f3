#!/usr/bin/env bash
# Fault: out-of-memory in whole netcanary processes (issue 10, Robustness).
# libfailmalloc.so (failmalloc.c, LD_PRELOAD) makes the n-th allocation of
# the process fail, for n = 1..K where K is what a clean run allocates:
#   netcanary check --config <the contract's example>
#       exit 0 with exactly the clean run's output, or exit 2 with a message
#       on stderr; never a signal, never a partial plan with exit 0
#   netcanary once --config <loopback rows> --format table|json|junit
#       exit 0 or 1 with a complete report (table summary line, JSON with
#       every row, closed JUnit XML), or exit 2 with a message on stderr;
#       never a signal, never an empty or cut report with exit 0/1
# json-c's own allocations are spared (FAILMALLOC_SPARE=libjson-c): json-c
# 0.16 crashes on a failed strdup() inside its tokener (see failmalloc.h).
# `check` is tested at every point; `once` allocates about 2,200 times, so
# by default every 3rd point with the table report and every 11th with json
# and junit (about 100 s in all).
#   FAULT_STRIDE_CLI=s   test every s-th point of every `once` run instead
# Ports: 127.0.0.1:19430-19433 (responder and closed ports); loopback only.
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
# The fault suite's block is 127.0.0.1:19400-19499: 2,000 below the blocks of
# lib.sh (NCTEST_PORT_BASE, default 21000), and moved along with them.
NCTEST_PORT_BASE=$((${NCTEST_PORT_BASE:-21000} - 2000))
nc_init 4

[[ -n ${FAILMALLOC_LIB:-} && -f $FAILMALLOC_LIB ]] || fatal "FAILMALLOC_LIB (path of libfailmalloc.so) is not set"
ports_free "$(port 30)" "$(port 31)" "$(port 32)" "$(port 33)"

cat >"$NC_TMP/design.json" <<'JSON'
{
  "agent": {
    "identity": "customer-a",          // default: $NETCANARY_IDENTITY, $POD_NAMESPACE, "local"
    "listen": "0.0.0.0:9890",          // /metrics, /healthz, /readyz, /api/v1/matrix, /
    "responder": { "port": 9891 }      // TCP accept + UDP echo on this port; 0 disables
  },
  "defaults": { "interval": "15s", "timeout": "2s", "confirm": 2 },
  "targets": {
    "platform-metrics": { "http": { "url": "http://metrics-service.platform.svc.cluster.local:8080/metrics", "status": [200] } },
    "customer-b":       { "tcp":  { "host": "netcanary.customer-b.svc.cluster.local", "port": 9891, "each_address": true } },
    "customer-b-udp":   { "udp":  { "host": "netcanary.customer-b.svc.cluster.local", "port": 9891 } },
    "internet":         { "tcp":  { "host": "203.0.113.10", "port": 443 } },   // in a cluster only
    "cluster-dns":      { "dns":  { "name": "kubernetes.default.svc.cluster.local", "type": "A", "servers": "resolv.conf" } }
  },
  "matrix": [
    { "from": "customer-a", "to": "platform-metrics", "expect": "allow" },
    { "from": "customer-a", "to": "customer-b",       "expect": "deny"  },
    { "from": "*",          "to": "internet",         "expect": "deny"  },
    { "from": "*",          "to": "cluster-dns",      "expect": "allow" }
  ]
}
JSON

cat >"$NC_TMP/once.json" <<JSON
{
  "agent": { "identity": "oomcli", "responder": { "port": $(port 30) } },
  "defaults": { "interval": "5s", "timeout": "300ms", "confirm": 1 },
  "targets": {
    "self-tcp":    { "tcp":  { "host": "127.0.0.1", "port": $(port 30) } },
    "self-udp":    { "udp":  { "host": "127.0.0.1", "port": $(port 30) } },
    "closed-tcp":  { "tcp":  { "host": "127.0.0.1", "port": $(port 31) } },
    "closed-http": { "http": { "url": "http://127.0.0.1:$(port 32)/x" } },
    "closed-dns":  { "dns":  { "name": "example.test", "type": "A", "servers": ["127.0.0.1:$(port 33)"] } }
  },
  "matrix": [
    { "from": "*", "to": "self-tcp",    "expect": "allow" },
    { "from": "*", "to": "self-udp",    "expect": "allow" },
    { "from": "*", "to": "closed-tcp",  "expect": "deny" },
    { "from": "*", "to": "closed-http", "expect": "deny" },
    { "from": "*", "to": "closed-dns",  "expect": "deny" }
  ]
}
JSON
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

# fm_run N ARGS...: runs netcanary with allocation N failing (0 = none);
# sets RC, and FM_ALLOCS/FM_FIRED from the report.
fm_run() {
        local n=$1
        shift
        rm -f "$NC_TMP/fm.report"
        # Only netcanary gets the library (not timeout: it would fail and report too).
        timeout 20 env FAILMALLOC_NTH="$n" FAILMALLOC_SPARE=libjson-c FAILMALLOC_REPORT="$NC_TMP/fm.report" \
                LD_PRELOAD="$FAILMALLOC_LIB" "$NETCANARY" "$@" >"$NC_TMP/out" 2>"$NC_TMP/err"
        RC=$?
        FM_ALLOCS=$(sed -n 's/.*allocations=\([0-9]*\).*/\1/p' "$NC_TMP/fm.report" 2>/dev/null)
        FM_FIRED=$(sed -n 's/.*fired=\([01]\).*/\1/p' "$NC_TMP/fm.report" 2>/dev/null)
}

# Output validators: complete_X succeeds when $NC_TMP/out is a whole report.
complete_check() { cmp -s "$NC_TMP/out" "$NC_TMP/clean.out"; }
complete_table() { grep -qE '^5 rows: ' "$NC_TMP/out"; }
complete_json() { jq -e '(.rows | length) == 5' "$NC_TMP/out" >/dev/null 2>&1; }
complete_junit() { grep -q '</testsuites>' "$NC_TMP/out"; }

# sweep NAME STRIDE OK-CODES VALIDATOR ARGS...: every STRIDE-th failure point
# of a run. Exit codes other than OK-CODES, signals and timeouts fail; so do
# exit 2 without a message, and a success exit whose output VALIDATOR rejects.
sweep() {
        local name=$1 stride=$2 okcodes=$3 validator=$4
        shift 4
        fm_run 0 "$@"
        local k=${FM_ALLOCS:-0}
        cp "$NC_TMP/out" "$NC_TMP/clean.out"
        if [[ ! $okcodes =~ (^| )$RC( |$) ]] || ((k == 0)) || ! "$validator"; then
                fail "$name: a clean run exited $RC with $k allocations seen: $(head -c 300 "$NC_TMP/err")"
                return
        fi
        local n points=0 bad=0 codes="" why
        declare -A seen=()
        for ((n = 1; n <= k + 5; n += stride)); do
                fm_run "$n" "$@"
                [[ $FM_FIRED == 1 ]] || { ((n > k)) && break; continue; }
                points=$((points + 1))
                seen[$RC]=$((${seen[$RC]:-0} + 1))
                why=""
                if ((RC >= 124)) || [[ ! $okcodes =~ (^| )$RC( |$) ]]; then
                        why="exit $RC: $(tail -n 3 "$NC_TMP/err" | tr '\n' ' ')"
                elif ((RC == 2)) && [[ ! -s $NC_TMP/err ]]; then
                        why="exit 2 without a word on stderr"
                elif ((RC != 2)) && ! "$validator"; then
                        why="exit $RC with an incomplete report ($(wc -c <"$NC_TMP/out") bytes on stdout)"
                fi
                if [[ -n $why ]]; then
                        bad=$((bad + 1))
                        ((bad <= 5)) && log "$name: allocation $n of $k failed -> $why"
                fi
        done
        for n in "${!seen[@]}"; do codes+=" exit $n: ${seen[$n]}x"; done
        if ((bad == 0)); then
                pass "$name: $points failure points of $k allocations (stride $stride);$codes"
        else
                fail "$name: $bad of $points failure points ended badly;$codes"
        fi
}

sweep "check" 1 "0 2" complete_check check --config "$NC_TMP/design.json"
sweep "once (table)" "${FAULT_STRIDE_CLI:-3}" "0 1 2" complete_table once --config "$NC_TMP/once.json"
sweep "once (json)" "${FAULT_STRIDE_CLI:-11}" "0 1 2" complete_json once --config "$NC_TMP/once.json" --format json
sweep "once (junit)" "${FAULT_STRIDE_CLI:-11}" "0 1 2" complete_junit once --config "$NC_TMP/once.json" --format junit

nc_finish
