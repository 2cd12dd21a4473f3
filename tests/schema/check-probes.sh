#!/usr/bin/env bash
# Schema checks for the shipped example configs (probes/*.json).
#
# For every probes/*.json except the schema itself:
#   (a) strip comments and validate against probes/netcanary.schema.json
#       (tests/schema/validate.py, /usr/bin/python3 + python3-jsonschema);
#   (b) `$NETCANARY check --config FILE` must exit 0.
# Then negative cases, written into a temp dir: each must be rejected by BOTH
# the schema (validate.py exit 1) and `netcanary check` (exit 2, error naming
# the offending path). A control config (the same skeleton without a defect)
# must pass both, so the negatives fail for the defect and nothing else.
#
# Environment:
#   NETCANARY    path of the netcanary binary (meson sets it)
#   SOURCE_ROOT  the source tree (default: two levels above this script)
#   PYTHON3      default /usr/bin/python3 (Debian's, which has jsonschema)
#   SCHEMA_ONLY=1  skip the netcanary half (for editing the schema before the
#                  binary builds); never set by meson.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SOURCE_ROOT=${SOURCE_ROOT:-$(cd "$here/../.." && pwd)}
PYTHON3=${PYTHON3:-/usr/bin/python3}
SCHEMA_ONLY=${SCHEMA_ONLY:-0}
schema="$SOURCE_ROOT/probes/netcanary.schema.json"
validate="$here/validate.py"

failures=0
passes=0
pass() { passes=$((passes + 1)); printf 'PASS %s\n' "$*"; }
fail() { failures=$((failures + 1)); printf 'FAIL %s\n' "$*"; }
# Indent captured output under a FAIL line.
show() { [ -n "$1" ] && printf '%s\n' "$1" | sed 's/^/    | /'; }

if [ ! -x "$PYTHON3" ] || ! "$PYTHON3" -c 'import jsonschema' 2>/dev/null; then
        echo "FAIL setup: $PYTHON3 with the jsonschema module is required (apt-get install python3-jsonschema)"
        exit 1
fi
if [ "$SCHEMA_ONLY" != 1 ]; then
        if [ -z "${NETCANARY:-}" ] || [ ! -x "$NETCANARY" ]; then
                echo "FAIL setup: NETCANARY='${NETCANARY:-}' is not an executable (set SCHEMA_ONLY=1 to skip)"
                exit 1
        fi
fi
if [ ! -f "$schema" ]; then
        echo "FAIL setup: schema $schema not found"
        exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/netcanary-schema.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# schema_ok FILE LABEL: the file validates against the schema.
schema_ok() {
        local out
        if out=$("$PYTHON3" "$validate" "$schema" "$1" 2>&1); then
                pass "schema   $2"
        else
                fail "schema   $2 (expected valid)"
                show "$out"
        fi
}

# check_ok FILE LABEL: `netcanary check` accepts the file.
check_ok() {
        [ "$SCHEMA_ONLY" = 1 ] && { printf 'SKIP check    %s (SCHEMA_ONLY=1)\n' "$2"; return; }
        local out rc
        out=$("$NETCANARY" check --config "$1" 2>&1)
        rc=$?
        if [ "$rc" -eq 0 ]; then
                pass "check    $2"
        else
                fail "check    $2 (netcanary check exit $rc, expected 0)"
                show "$out"
        fi
}

# schema_rejects FILE LABEL WANT: validation fails and names WANT (a JSON path).
schema_rejects() {
        local out rc
        out=$("$PYTHON3" "$validate" "$schema" "$1" 2>&1)
        rc=$?
        if [ "$rc" -ne 1 ]; then
                fail "schema   $2 (validate.py exit $rc, expected 1: rejected)"
                show "$out"
        elif ! grep -qF -- "$3" <<<"$out"; then
                fail "schema   $2 (rejected, but no message names '$3')"
                show "$out"
        else
                pass "schema   $2 rejected"
        fi
}

# check_rejects FILE LABEL WANT: `netcanary check` exits 2 and its stderr names WANT.
check_rejects() {
        [ "$SCHEMA_ONLY" = 1 ] && { printf 'SKIP check    %s (SCHEMA_ONLY=1)\n' "$2"; return; }
        local err rc
        err=$("$NETCANARY" check --config "$1" 2>&1 >/dev/null)
        rc=$?
        if [ "$rc" -ne 2 ]; then
                fail "check    $2 (netcanary check exit $rc, expected 2)"
                show "$err"
        elif ! grep -qF -- "$3" <<<"$err"; then
                fail "check    $2 (exit 2, but stderr does not name '$3')"
                show "$err"
        else
                pass "check    $2 rejected"
        fi
}

# --- 1. the shipped examples ------------------------------------------------
shopt -s nullglob
examples=()
for f in "$SOURCE_ROOT"/probes/*.json; do
        [ "$f" -ef "$schema" ] && continue
        examples+=("$f")
done
if [ "${#examples[@]}" -eq 0 ]; then
        fail "examples: no probes/*.json besides the schema"
fi
for f in "${examples[@]}"; do
        label="probes/$(basename "$f")"
        schema_ok "$f" "$label"
        check_ok "$f" "$label"
done

# --- 2. control and negative cases -----------------------------------------
# One skeleton; each case replaces one placeholder with a defect. The control
# fills every placeholder with valid text, so it exercises the comment
# stripper too (a "//" and a "/*" inside strings must survive).
skeleton='// negative-case skeleton
{
  "agent": { "listen": "127.0.0.1:19890", "responder": { "port": 0 } },
  "defaults": { "interval": @INTERVAL@, "timeout": "1s", "confirm": 2 }, /* block comment */
  "targets": {
    "web": { "tcp": { "host": "127.0.0.1", "port": @PORT@ } },
    "echo": { @ECHO@ },
    "api": { "http": { "url": "http://127.0.0.1:8080/x//y/*z*/", "status": [200, "2xx"] } }
  },
  "matrix": [
    { "from": @FROM@, "to": "web", "expect": "allow"@EXTRA@ },
    { "from": "*", "to": "echo", "expect": "deny" },
    { "from": "tenant-a", "to": "api", "expect": "allow" }
  ]
}'

# make NAME INTERVAL PORT ECHO FROM EXTRA -> path of the written file
make_case() {
        local s=$skeleton
        s=${s//@INTERVAL@/$2}
        s=${s//@PORT@/$3}
        s=${s//@ECHO@/$4}
        s=${s//@FROM@/$5}
        s=${s//@EXTRA@/$6}
        printf '%s\n' "$s" >"$tmp/$1.json"
        printf '%s' "$tmp/$1.json"
}

ok_interval='"5s"'
ok_port='8080'
ok_echo='"udp": { "host": "127.0.0.1", "port": 9891 }'
ok_from='"tenant-a"'
ok_extra=''

f=$(make_case control "$ok_interval" "$ok_port" "$ok_echo" "$ok_from" "$ok_extra")
schema_ok "$f" "control config"
check_ok "$f" "control config"

# Every key of "agent" is optional (contract §2 gives defaults), so an agent
# block without "listen" must be accepted too.
f="$tmp/agent-without-listen.json"
cat >"$f" <<'EOF'
{
  "agent": { "identity": "tenant-a", "responder": { "port": 0 }, "max_in_flight": 16 },
  "targets": { "web": { "tcp": { "host": "127.0.0.1", "port": 8080 } } },
  "matrix": [ { "from": "tenant-a", "to": "web", "expect": "allow" } ]
}
EOF
schema_ok "$f" "control: agent block without listen"
check_ok "$f" "control: agent block without listen"

# A // comment on the last line with no newline after it: what a ConfigMap
# written with a "|-" block scalar (final newline stripped) delivers.
f="$tmp/final-comment-no-newline.json"
printf '%s\n%s' \
        '{ "targets": { "web": { "tcp": { "host": "127.0.0.1", "port": 8080 } } }, "matrix": [] }' \
        '// end of config' >"$f"
schema_ok "$f" "control: // comment on the last line, no final newline"
check_ok "$f" "control: // comment on the last line, no final newline"

# name | file | path the errors must name
negatives=(
        "unknown key (matrix[0].bogus)|$(make_case unknown-key "$ok_interval" "$ok_port" "$ok_echo" "$ok_from" ', "bogus": true')|matrix[0]"
        "bad duration \"15 seconds\"|$(make_case bad-duration '"15 seconds"' "$ok_port" "$ok_echo" "$ok_from" "$ok_extra")|defaults.interval"
        "port 70000|$(make_case port-70000 "$ok_interval" 70000 "$ok_echo" "$ok_from" "$ok_extra")|targets.web"
        "from with a space|$(make_case from-space "$ok_interval" "$ok_port" "$ok_echo" '"tenant a"' "$ok_extra")|matrix[0].from"
        "target with tcp and udp|$(make_case tcp-and-udp "$ok_interval" "$ok_port" "$ok_echo"', "tcp": { "host": "127.0.0.1", "port": 9891 }' "$ok_from" "$ok_extra")|targets.echo"
)
for n in "${negatives[@]}"; do
        IFS='|' read -r name file want <<<"$n"
        schema_rejects "$file" "negative: $name" "$want"
        check_rejects "$file" "negative: $name" "$want"
done

# Strings holding a NUL ("\u0000" in the JSON text): json-c cuts object keys
# there and netcanary reads C strings, so before it refused them "web\u0000x"
# was silently the target "web" its row names. Both must refuse them; the
# schema names the object or string, netcanary the path with the key as written.
# nul_case NAME SED-EXPRESSION: the control config edited by SED-EXPRESSION
# (an edit that matched nothing leaves the control, which both accept: the
# case fails).
nul_case() {
        local f="$tmp/nul-$1.json"
        sed "$2" "$tmp/control.json" >"$f"
        printf '%s' "$f"
}
nul_key='key contains a NUL character (\u0000)'
nul_str='string contains a NUL character (\u0000)'
# name | file | path the schema names | what netcanary check says
nul_negatives=(
        "target name with a NUL|$(nul_case name 's/"web": {/"web\\u0000x": {/')|targets|targets.web\u0000x: $nul_key"
        "host with a NUL|$(nul_case host 's/"host": "127.0.0.1", "port": 8080/"host": "127.0.0.1\\u0000.evil", "port": 8080/')|targets.web.tcp.host|targets.web.tcp.host: $nul_str"
        "url with a NUL|$(nul_case url 's|8080/x//y|8080/x\\u0000//y|')|targets.api.http.url|targets.api.http.url: $nul_str"
        "from with a NUL|$(nul_case from 's/"from": "tenant-a", "to": "web"/"from": "tenant-a\\u0000b", "to": "web"/')|matrix[0].from|matrix[0].from: $nul_str"
)
for n in "${nul_negatives[@]}"; do
        IFS='|' read -r name file schema_want check_want <<<"$n"
        schema_rejects "$file" "negative: $name" "$schema_want"
        check_rejects "$file" "negative: $name" "$check_want"
done

echo "schema checks: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
