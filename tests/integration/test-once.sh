#!/usr/bin/env bash
# shellcheck disable=SC2154,SC2317 # PID_* are set by nc_start/start_* (printf -v); predicates are called through wait_for/check
# Scenario 8: the command line. `once` exit codes and formats, `check`,
# `--version`, `--help`, unknown options.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
nc_init 8
need_python

OPEN=$(port 50)
CLOSED_A=$(port 51)
CLOSED_B=$(port 52)
ports_free "$OPEN" "$CLOSED_A" "$CLOSED_B"
start_tcp_listener PID_l 127.0.0.1 "$OPEN"

# config FILE ROWS-JSON
config() {
        cat >"$1" <<JSON
{
  "agent": { "identity": "oncetest", "listen": "127.0.0.1:$(port 90)", "responder": { "port": 0 } },
  "defaults": { "interval": "1s", "timeout": "300ms", "confirm": 2 },
  "targets": {
    "open-tcp":     { "tcp": { "host": "127.0.0.1", "port": $OPEN } },
    "closed-deny":  { "tcp": { "host": "127.0.0.1", "port": $CLOSED_A } },
    "closed-allow": { "tcp": { "host": "127.0.0.1", "port": $CLOSED_B } }
  },
  "matrix": $2
}
JSON
}
GOOD=$NC_TMP/good.json
MISMATCH=$NC_TMP/mismatch.json
BAD=$NC_TMP/bad.json
IDS=$NC_TMP/ids.json
config "$GOOD" '[ { "from": "*", "to": "open-tcp", "expect": "allow" },
                  { "from": "*", "to": "closed-deny", "expect": "deny" } ]'
config "$MISMATCH" '[ { "from": "*", "to": "open-tcp", "expect": "allow" },
                      { "from": "*", "to": "closed-deny", "expect": "deny" },
                      { "from": "*", "to": "closed-allow", "expect": "allow" } ]'
config "$BAD" '[ { "from": "*", "to": "open-tcp", "expect": "allow" },
                 { "from": "*", "to": "metrics-svc", "expect": "deny" } ]'
config "$IDS" '[ { "from": "alpha", "to": "open-tcp", "expect": "allow" },
                 { "from": "beta", "to": "closed-allow", "expect": "allow" },
                 { "from": "*", "to": "closed-deny", "expect": "deny" } ]'

# nc_cmd OUT ARGS... : runs netcanary (bounded by timeout 30), stdout -> OUT, stderr -> OUT.err; RC set
nc_cmd() {
        local out=$1
        shift
        timeout 30 "$NETCANARY" "$@" >"$out" 2>"$out.err" </dev/null
        RC=$?
}

# ------------------------------------------------------------ once: exit codes
nc_cmd "$NC_TMP/o1" once --config "$GOOD"
expect_eq "once, all met: exit code" "$RC" 0
nc_cmd "$NC_TMP/o2" once --config "$MISMATCH"
expect_eq "once, a mismatch: exit code" "$RC" 1
nc_cmd "$NC_TMP/o3" once --config "$BAD"
expect_eq "once, bad config: exit code" "$RC" 2
nc_cmd "$NC_TMP/o4" once --config "$NC_TMP/does-not-exist.json"
expect_eq "once, missing config file: exit code" "$RC" 2
check "once, missing config file: stderr names the file" grep -q 'does-not-exist.json' "$NC_TMP/o4.err"

# ------------------------------------------------------------ once: table
nc_cmd "$NC_TMP/t" once --config "$MISMATCH" --format table
expect_eq "once --format table: exit code" "$RC" 1
for t in open-tcp closed-deny closed-allow; do
        check "table mentions $t" grep -q -- "$t" "$NC_TMP/t"
done
# default format is the table
nc_cmd "$NC_TMP/t0" once --config "$GOOD"
check "default format mentions open-tcp" grep -q open-tcp "$NC_TMP/t0"

# ------------------------------------------------------------ once: json
nc_cmd "$NC_TMP/j" once --config "$MISMATCH" --format json
expect_eq "once --format json: exit code" "$RC" 1
if jq -e . "$NC_TMP/j" >/dev/null 2>&1; then
        pass "once --format json is valid JSON"
        J=$NC_TMP/j
        expect_eq "json: rows" "$(jq '.rows | length' "$J")" 3
        expect_eq "json: identity" "$(jq -r .identity "$J")" oncetest
        expect_eq "json: open-tcp met" "$(jq -r '.rows[] | select(.to == "open-tcp") | .met' "$J")" true
        expect_eq "json: open-tcp outcome" "$(jq -r '.rows[] | select(.to == "open-tcp") | .addresses[0].outcome' "$J")" connected
        expect_eq "json: closed-deny met" "$(jq -r '.rows[] | select(.to == "closed-deny") | .met' "$J")" true
        expect_eq "json: closed-deny outcome" "$(jq -r '.rows[] | select(.to == "closed-deny") | .addresses[0].outcome' "$J")" refused
        expect_eq "json: closed-allow met" "$(jq -r '.rows[] | select(.to == "closed-allow") | .met' "$J")" false
        expect_eq "json: closed-allow mismatch" "$(jq -r '.rows[] | select(.to == "closed-allow") | .mismatch' "$J")" unexpected_deny
        # one round: the first observed verdict is taken at once, despite confirm=2
        expect_eq "json: closed-allow verdict" "$(jq -r '.rows[] | select(.to == "closed-allow") | .verdict' "$J")" denied
        expect_eq "json: rounds == 1 for every row" "$(jq -c '[.rows[].rounds] | unique' "$J")" "[1]"
        expect_eq "json: config.source" "$(jq -r .config.source "$J")" "$MISMATCH"
else
        fail "once --format json is not valid JSON: $(head -c 400 "$NC_TMP/j")"
fi
# the JSON goes to stdout alone (logs to stderr)
nc_cmd "$NC_TMP/j2" once --config "$GOOD" --format json
expect_eq "once --format json (all met): exit code" "$RC" 0
check "once --format json (all met): valid JSON" jq -e '.rows | length == 2' "$NC_TMP/j2"

# ------------------------------------------------------------ once: junit
nc_cmd "$NC_TMP/x" once --config "$MISMATCH" --format junit
expect_eq "once --format junit: exit code" "$RC" 1
if "$PY" - "$NC_TMP/x" >"$NC_TMP/x.check" 2>&1 <<'EOF'
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = list(root.iter("testcase"))
assert len(cases) == 3, "expected 3 testcases, got %d" % len(cases)
failed = [c for c in cases if c.find("failure") is not None]
assert len(failed) == 1, "expected 1 testcase with <failure>, got %d" % len(failed)
f = failed[0]
text = " ".join(str(v) for v in f.attrib.values())
assert "closed-allow" in text, "the failing testcase is not closed-allow: %r" % f.attrib
for c in cases:
    if c is not f:
        assert "closed-allow" not in " ".join(str(v) for v in c.attrib.values())
suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
assert suites, "no <testsuite>"
print("ok", len(cases), "testcases")
EOF
then
        pass "junit: well-formed, 3 testcases, <failure> on closed-allow only"
else
        fail "junit: $(cat "$NC_TMP/x.check") -- document: $(head -c 600 "$NC_TMP/x")"
fi

# ------------------------------------------------------------ once --identity
nc_cmd "$NC_TMP/ia" once --config "$IDS" --identity alpha --format json
expect_eq "once --identity alpha: exit code" "$RC" 0
expect_eq "once --identity alpha: rows" "$(jq -c '[.rows[].to] | sort' "$NC_TMP/ia" 2>/dev/null)" '["closed-deny","open-tcp"]'
nc_cmd "$NC_TMP/ib" once --config "$IDS" --identity beta --format json
expect_eq "once --identity beta: exit code" "$RC" 1

# a row naming the identity wins over a "*" row with the same `to`
config "$NC_TMP/override.json" '[ { "from": "*", "to": "closed-deny", "expect": "deny" },
                                   { "from": "alpha", "to": "closed-deny", "expect": "allow" } ]'
nc_cmd "$NC_TMP/ov-a" once --config "$NC_TMP/override.json" --identity alpha --format json
expect_eq "identity row wins over '*' (alpha): exit code" "$RC" 1
expect_eq "identity row wins over '*' (alpha): one row, expect allow" \
        "$(jq -c '[.rows[] | {to, expect}]' "$NC_TMP/ov-a" 2>/dev/null)" '[{"to":"closed-deny","expect":"allow"}]'
nc_cmd "$NC_TMP/ov-g" once --config "$NC_TMP/override.json" --identity gamma --format json
expect_eq "'*' row for another identity (gamma): exit code" "$RC" 0
expect_eq "'*' row for another identity (gamma): one row, expect deny" \
        "$(jq -c '[.rows[] | {to, expect}]' "$NC_TMP/ov-g" 2>/dev/null)" '[{"to":"closed-deny","expect":"deny"}]'

# a row of a protocol this build does not probe yet: reported, never met
config "$NC_TMP/unsup.json" '[ { "from": "*", "to": "open-tcp", "expect": "allow" },
                               { "from": "*", "to": "local-dns", "expect": "deny" } ]'
sed -i "s|\"targets\": {|\"targets\": { \"local-dns\": { \"dns\": { \"name\": \"nothing.invalid\", \"type\": \"A\", \"servers\": [\"127.0.0.1:$CLOSED_A\"] } },|" "$NC_TMP/unsup.json"
nc_cmd "$NC_TMP/us" once --config "$NC_TMP/unsup.json" --format json
if [[ $(jq -r '.rows[] | select(.to == "local-dns") | .supported' "$NC_TMP/us" 2>/dev/null) == false ]]; then
        expect_eq "unsupported row: exit code (not met)" "$RC" 1
        expect_eq "unsupported row: met" "$(jq -r '.rows[] | select(.to == "local-dns") | .met' "$NC_TMP/us")" false
        expect_eq "unsupported row: open-tcp still met" "$(jq -r '.rows[] | select(.to == "open-tcp") | .met' "$NC_TMP/us")" true
else
        check "dns row to a closed loopback server: valid JSON report" jq -e '.rows | length == 2' "$NC_TMP/us"
        log "dns probes are implemented: the 'unsupported' checks do not apply"
fi

# ------------------------------------------------------------ check
nc_cmd "$NC_TMP/c1" check --config "$GOOD"
expect_eq "check good config: exit code" "$RC" 0
check "check prints the plan (mentions open-tcp)" grep -q open-tcp "$NC_TMP/c1"
nc_cmd "$NC_TMP/c2" check --config "$BAD"
expect_eq "check bad config: exit code" "$RC" 2
check "check bad config: stderr has the JSON path matrix[1].to" grep -qF 'matrix[1].to' "$NC_TMP/c2.err"
check "check bad config: stderr names the unknown target" grep -q 'metrics-svc' "$NC_TMP/c2.err"
# several errors are all reported
config "$NC_TMP/bad2.json" '[ { "from": "*", "to": "nope-1", "expect": "allow" },
                               { "from": "*", "to": "open-tcp", "expect": "maybe" },
                               { "from": "bad name!", "to": "open-tcp", "expect": "allow" } ]'
nc_cmd "$NC_TMP/c3" check --config "$NC_TMP/bad2.json"
expect_eq "check with 3 errors: exit code" "$RC" 2
check "check reports matrix[0].to" grep -qF 'matrix[0].to' "$NC_TMP/c3.err"
check "check reports matrix[1].expect" grep -qF 'matrix[1].expect' "$NC_TMP/c3.err"
check "check reports matrix[2].from" grep -qF 'matrix[2].from' "$NC_TMP/c3.err"
# unknown key
sed 's/"confirm": 2/"confirm": 2, "confrim": 3/' "$GOOD" >"$NC_TMP/bad3.json"
nc_cmd "$NC_TMP/c4" check --config "$NC_TMP/bad3.json"
expect_eq "check unknown key: exit code" "$RC" 2
check "check unknown key: path defaults.confrim" grep -qF 'defaults.confrim' "$NC_TMP/c4.err"
# timeout longer than interval
sed 's/"timeout": "300ms"/"timeout": "5s"/' "$GOOD" >"$NC_TMP/bad4.json"
nc_cmd "$NC_TMP/c5" check --config "$NC_TMP/bad4.json"
expect_eq "check timeout > interval: exit code" "$RC" 2
# the same from+to twice
config "$NC_TMP/dup.json" '[ { "from": "*", "to": "open-tcp", "expect": "allow" },
                              { "from": "*", "to": "open-tcp", "expect": "deny" } ]'
nc_cmd "$NC_TMP/c7" check --config "$NC_TMP/dup.json"
expect_eq "check duplicate from+to: exit code" "$RC" 2
check "check duplicate from+to: names matrix[1]" grep -qF 'matrix[1]' "$NC_TMP/c7.err"
# port out of range, zero duration
sed "s/\"port\": $OPEN }/\"port\": 70000 }/; s/\"interval\": \"1s\"/\"interval\": \"0s\"/" "$GOOD" >"$NC_TMP/bad5.json"
nc_cmd "$NC_TMP/c8" check --config "$NC_TMP/bad5.json"
expect_eq "check port 70000 + interval 0s: exit code" "$RC" 2
check "check reports targets.open-tcp.tcp.port" grep -qF 'targets.open-tcp.tcp.port' "$NC_TMP/c8.err"
check "check reports defaults.interval" grep -qF 'defaults.interval' "$NC_TMP/c8.err"
nc_cmd "$NC_TMP/c6" check --config "$NC_TMP/does-not-exist.json"
expect_eq "check missing file: exit code" "$RC" 2

# ------------------------------------------------------------ --version, --help, unknown option
nc_cmd "$NC_TMP/v" --version
expect_eq "--version: exit code" "$RC" 0
V=$(cat "$NC_TMP/v" "$NC_TMP/v.err")
for lib in c-ares curl microhttpd; do
        if grep -qi -- "$lib" <<<"$V"; then pass "--version mentions $lib"; else fail "--version does not mention $lib: $V"; fi
done
check "--version mentions 0.1.0" grep -q '0\.1\.0' <<<"$V"
nc_cmd "$NC_TMP/h" --help
expect_eq "--help: exit code" "$RC" 0
H=$(cat "$NC_TMP/h" "$NC_TMP/h.err")
for w in once check --config; do
        if grep -q -- "$w" <<<"$H"; then pass "--help mentions $w"; else fail "--help does not mention $w"; fi
done
nc_cmd "$NC_TMP/u" --definitely-not-an-option
expect_eq "unknown option: exit code" "$RC" 2
nc_cmd "$NC_TMP/u2" once --config "$GOOD" --format yaml
expect_eq "once --format yaml (unknown format): exit code" "$RC" 2
nc_cmd "$NC_TMP/u3" frobnicate
expect_eq "unknown command: exit code" "$RC" 2

nc_finish
