#!/usr/bin/env bash
# HTTP probes, plain http on loopback, with `netcanary once --format json`:
#   200                          -> connected, allowed, allow row met
#   404 with status [200]        -> bad_response, verdict allowed (a packet got
#                                   through): an allow row is met, a deny row is
#                                   unexpected_allow (exit 1)
#   status ranges ("4xx", 404, default "2xx"), configured request headers,
#   HEAD (the server saw HEAD), redirects followed / not followed / a loop, body_regex match and miss, max_body_bytes
#   (a regex can only see the first max_body_bytes), a closed port (refused,
#   as for tcp targets).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
http_init 0

HP=$(port 0)
CLOSED=$(port 1)
LISTEN=$(port 2)
start_server "$HP"
H=http://127.0.0.1:$HP

TARGETS=$(
        cat <<JSON
{
  "ok":           { "http": { "url": "$H/ok" } },
  "ok-200":       { "http": { "url": "$H/ok", "status": [200] } },
  "nf-allow":     { "http": { "url": "$H/notfound", "status": [200] } },
  "nf-deny":      { "http": { "url": "$H/notfound", "status": [200] } },
  "nf-default":   { "http": { "url": "$H/notfound" } },
  "nf-4xx":       { "http": { "url": "$H/notfound", "status": ["4xx"] } },
  "nf-404":       { "http": { "url": "$H/notfound", "status": [200, 404] } },
  "hdr-set":      { "http": { "url": "$H/needs-header", "headers": { "X-Canary": "yes" } } },
  "hdr-missing":  { "http": { "url": "$H/needs-header" } },
  "head":         { "http": { "url": "$H/ok?m=head", "method": "HEAD" } },
  "re-match":     { "http": { "url": "$H/ok?m=re1", "body_regex": "hello from the (test|other) server" } },
  "re-miss":      { "http": { "url": "$H/ok?m=re2", "body_regex": "^goodbye" } },
  "cap-in":       { "http": { "url": "$H/big?m=cap1", "max_body_bytes": 1000, "body_regex": "^x{1000}$" } },
  "cap-beyond":   { "http": { "url": "$H/big?m=cap2", "max_body_bytes": 1000, "body_regex": "x{1001}" } },
  "nocap":        { "http": { "url": "$H/big?m=cap3", "body_regex": "x{1001}" } },
  "redir":        { "http": { "url": "$H/redirect", "follow_redirects": true, "status": [200] } },
  "redir-no":     { "http": { "url": "$H/redirect?no", "status": [200] } },
  "redir-no-2xx": { "http": { "url": "$H/redirect?no2" } },
  "redir-302":    { "http": { "url": "$H/redirect?302", "status": [302] } },
  "loop":         { "http": { "url": "$H/loop", "follow_redirects": true } },
  "closed":       { "http": { "url": "http://127.0.0.1:$CLOSED/ok" } }
}
JSON
)

# ------------------------------------------------------------ every row met
CFG=$NC_TMP/met.json
write_config "$CFG" "$LISTEN" 2s "$TARGETS" '[
  { "from": "*", "to": "ok",          "expect": "allow" },
  { "from": "*", "to": "ok-200",      "expect": "allow" },
  { "from": "*", "to": "nf-allow",    "expect": "allow" },
  { "from": "*", "to": "nf-default",  "expect": "allow" },
  { "from": "*", "to": "nf-4xx",      "expect": "allow" },
  { "from": "*", "to": "nf-404",      "expect": "allow" },
  { "from": "*", "to": "hdr-set",     "expect": "allow" },
  { "from": "*", "to": "hdr-missing", "expect": "allow" },
  { "from": "*", "to": "head",        "expect": "allow" },
  { "from": "*", "to": "re-match",    "expect": "allow" },
  { "from": "*", "to": "re-miss",     "expect": "allow" },
  { "from": "*", "to": "cap-in",      "expect": "allow" },
  { "from": "*", "to": "cap-beyond",  "expect": "allow" },
  { "from": "*", "to": "nocap",       "expect": "allow" },
  { "from": "*", "to": "redir",        "expect": "allow" },
  { "from": "*", "to": "redir-no",     "expect": "allow" },
  { "from": "*", "to": "redir-no-2xx", "expect": "allow" },
  { "from": "*", "to": "redir-302",    "expect": "allow" },
  { "from": "*", "to": "loop",         "expect": "allow" },
  { "from": "*", "to": "closed",      "expect": "deny" }
]'
nc_once "$CFG"
expect_eq "once, every row met: exit code" "$RC" 0
expect_eq "rows reported" "$(jq '.rows | length' "$ONCE")" 20
expect_eq "every http row supported" "$(jq -c '[.rows[].supported] | unique' "$ONCE")" "[true]"

expect_row ok connected allowed true none
expect_row ok-200 connected allowed true none
expect_eq "ok: address probed" "$(ofield ok '.addresses[0].address')" "127.0.0.1:$HP"
expect_num "ok: duration_seconds" "$(ofield ok '.addresses[0].duration_seconds')" '>' 0
# 404 while [200] is required: answered, not as required
expect_row nf-allow bad_response allowed true none
expect_row nf-default bad_response allowed true none
expect_row nf-4xx connected allowed true none
expect_row nf-404 connected allowed true none
# configured request headers are sent
expect_row hdr-set connected allowed true none
expect_row hdr-missing bad_response allowed true none
# HEAD
expect_row head connected allowed true none
check "the server saw HEAD /ok?m=head" served '^HEAD /ok\?m=head '
if served '^GET /ok\?m=head '; then fail "a GET was sent for the HEAD target"; else pass "no GET for the HEAD target"; fi
check "GET for the default method" served '^GET /ok '
check "Host header is the URL's host:port" served "^GET /ok 127\.0\.0\.1:$HP\$"
# body_regex
expect_row re-match connected allowed true none
expect_row re-miss bad_response allowed true none
# max_body_bytes: the regex sees the first 1000 bytes only
expect_row cap-in connected allowed true none
expect_row cap-beyond bad_response allowed true none
expect_row nocap connected allowed true none
# redirects: followed (to /ok: connected), not followed (302 is not in [200],
# nor in the default 2xx), 302 accepted explicitly, a loop (stops, 302 left)
expect_row redir connected allowed true none
expect_eq "redirect followed by the one row that follows (GET /ok?via=redirect)" "$(grep -c '^GET /ok?via=redirect ' "$SRV_LOG")" 1
expect_row redir-no bad_response allowed true none
expect_row redir-no-2xx bad_response allowed true none
expect_row redir-302 connected allowed true none
expect_row loop bad_response allowed true none
n=$(grep -c '^GET /loop ' "$SRV_LOG")
expect_eq "loop: requests sent (1 + 5 redirects followed)" "$n" 6
# no TCP connection: as for tcp targets
expect_row closed refused denied true none

# the log says why an answer was not as required
E=$ONCE.err
check "log: 404 not accepted (to=nf-allow, status=404)" \
        grep -Eq 'msg="http probe failed".* to=nf-allow .*status=404.*reason="[^"]*404' "$E"
check "log: body_regex miss (to=re-miss)" grep -Eq 'msg="http probe failed".* to=re-miss .*reason="[^"]*body_regex' "$E"
check "log: 403 without the header (to=hdr-missing)" grep -Eq 'msg="http probe failed".* to=hdr-missing .*status=403' "$E"
if grep -Eq 'msg="http probe failed".* to=ok ' "$E"; then fail "a 'http probe failed' line for the 200 row"; else pass "no failure logged for the 200 row"; fi

# ------------------------------------------------------------ deny rows that get an answer
CFG2=$NC_TMP/deny.json
write_config "$CFG2" "$LISTEN" 2s "$TARGETS" '[
  { "from": "*", "to": "nf-allow", "expect": "allow" },
  { "from": "*", "to": "nf-deny",  "expect": "deny" },
  { "from": "*", "to": "ok",       "expect": "deny" },
  { "from": "*", "to": "closed",   "expect": "deny" }
]'
nc_once "$CFG2"
expect_eq "once, deny rows answered: exit code" "$RC" 1
expect_row nf-allow bad_response allowed true none
expect_row nf-deny bad_response allowed false unexpected_allow
expect_row ok connected allowed false unexpected_allow
expect_row closed refused denied true none

nc_finish
