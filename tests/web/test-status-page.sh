#!/usr/bin/env bash
# The status page (issue 8) in a real browser.
#
# A daemon on loopback with met, mismatching (unexpected allow and deny),
# unverified and inconclusive rows (a name that does not resolve, a link-local
# address without scope), and DNS rows against a tiny local DNS server. Debian's
# headless Chromium loads "/"; the rendered DOM must show each row's state
# text, the header, the detail pane and the DNS panel; screenshots are kept.
# curl checks the Content-Security-Policy and the types; the net-log proves the
# page requested nothing outside its origin. A fixture server then feeds the
# same page two identities, hostile strings, a failing and a flapping API.
#
# Everything runs in a private network namespace (the script re-executes itself
# under `unshare`): Chromium talks to Google's update and time services on its
# own even with --disable-background-networking, and c-ares asks the servers of
# /etc/resolv.conf. In the namespace only its own loopback exists, and
# resolv.conf points at a port nobody listens on, so nothing leaves the
# machine. Skips (77) when no namespace can be made; fails without chromium.
#
# Screenshots: $NETCANARY_ARTIFACTS, else <build>/tests/artifacts (from the
# path of $NETCANARY), else tests/artifacts; their paths are printed.
# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2317 # helpers below run indirectly, through wait_for and check
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $CHROMIUM ]]; then
        echo "FATAL: chromium not found. The status page test needs Debian's chromium:" >&2
        echo "       apt-get install -y --no-install-recommends chromium" >&2
        exit 1
fi

if [[ ${NC_WEB_NETNS:-} != 1 ]]; then
        if ((EUID == 0)); then ns_args=(--net --mount); else ns_args=(--user --map-root-user --net --mount); fi
        if command -v unshare >/dev/null 2>&1 && unshare "${ns_args[@]}" true 2>/dev/null; then
                NC_WEB_NETNS=1 exec unshare "${ns_args[@]}" bash "${BASH_SOURCE[0]}" "$@"
        fi
        echo "SKIP: cannot create a private network namespace (unshare ${ns_args[*]}); without one" \
                "headless Chromium would reach the internet" >&2
        exit 77
fi

# shellcheck source=../integration/lib.sh
source "$HERE/../integration/lib.sh"
nc_init 8
need_python

command -v ip >/dev/null 2>&1 || fatal "iproute2 (ip) not installed"
ip link set lo up || fatal "cannot bring lo up in the private network namespace"
# Name lookups go to 127.0.0.1:53 of this namespace, where nothing listens.
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$NC_TMP/resolv.conf"
if mount --bind "$NC_TMP/resolv.conf" /etc/resolv.conf 2>"$NC_TMP/mount.err"; then
        log "resolv.conf in this mount namespace: nameserver 127.0.0.1"
else
        log "note: could not bind-mount resolv.conf ($(cat "$NC_TMP/mount.err")); lookups still cannot leave the namespace"
fi

if [[ -n ${NETCANARY_ARTIFACTS:-} ]]; then
        ART=$NETCANARY_ARTIFACTS
elif [[ -d $(dirname "$NETCANARY")/../meson-info ]]; then
        ART=$(cd "$(dirname "$NETCANARY")/.." && pwd)/tests/artifacts
else
        ART=$HERE/../artifacts
fi
mkdir -p "$ART" || fatal "cannot create the artefact directory $ART"
ART=$(cd "$ART" && pwd)
SRC_WEB=$HERE/../../src/web

HTTP=$(port 0)     # the daemon's HTTP server
RESP=$(port 1)     # its responder (TCP accept + UDP echo)
CLOSED=$(port 2)   # nothing listens: refused
RST=$(port 3)      # nothing listens; one target counts a RST as reachable
NOCTL=$(port 4)    # nothing listens, and no allow row to it
NXPORT=$(port 5)
LLPORT=$(port 6)
DNS_OK=$(port 7)   # dns-server.py
DNS_DEAD=$(port 8) # nothing listens
FIX_OK=$(port 10)
FIX_NODNS=$(port 11)
FIX_FAIL=$(port 12)
FIX_STALE=$(port 13)
BASE=http://127.0.0.1:$HTTP

# ---------------------------------------------------------------- helpers

# chrome ARGS...: headless Chromium with a fresh profile, killed after 60 s.
chrome() {
        local prof
        prof=$(mktemp -d "$NC_TMP/chromium-profile-XXXXXX")
        timeout -k 5 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
                --disable-background-networking --disable-component-update --disable-sync \
                --user-data-dir="$prof" --enable-logging=stderr --v=0 "$@"
}

# load NAME URL [VIRTUAL_MS]: the DOM after VIRTUAL_MS of virtual time ->
# $NC_TMP/NAME.html, its summary -> NAME.json, console -> NAME.err, net-log -> NAME.netlog.json
load() {
        local name=$1 u=$2 budget=${3:-5000} rc
        chrome --virtual-time-budget="$budget" --log-net-log="$NC_TMP/$name.netlog.json" \
                --dump-dom "$u" >"$NC_TMP/$name.html" 2>"$NC_TMP/$name.err"
        rc=$?
        ((rc == 0)) || fail "chromium --dump-dom $u exited $rc: $(grep -v -i dbus "$NC_TMP/$name.err" | tail -n 5)"
        "$PY" "$HERE/dom-extract.py" <"$NC_TMP/$name.html" >"$NC_TMP/$name.json" ||
                fatal "cannot parse the DOM chromium dumped for $u: $(head -c 300 "$NC_TMP/$name.html")"
        log "loaded $u ($(wc -c <"$NC_TMP/$name.html") bytes of DOM)"
}

# shot FILE WxH URL [VIRTUAL_MS]: a screenshot into $ART.
shot() {
        local file=$ART/$1 size=$2 u=$3 budget=${4:-5000} rc
        rm -f "$file"
        chrome --virtual-time-budget="$budget" --hide-scrollbars --window-size="$size" \
                --screenshot="$file" "$u" >"$NC_TMP/shot.out" 2>&1
        rc=$?
        if ((rc == 0)) && [[ -s $file ]] && [[ $(head -c 4 "$file" | od -An -c | tr -d ' ') == '211PNG' ]]; then
                pass "screenshot $size of $u: $file ($(wc -c <"$file") bytes)"
                echo "screenshot: $file"
        else
                fail "screenshot $size of $u failed (exit $rc): $(grep -v -i dbus "$NC_TMP/shot.out" | tail -n 3)"
        fi
}

dq() { jq -r "$2" "$NC_TMP/$1.json"; }

# expect_has DESC HAYSTACK NEEDLE
expect_has() {
        if [[ $2 == *"$3"* ]]; then pass "$1"; else fail "$1: '$3' not in '$2'"; fi
}

# console_clean NAME: no CSP violation and no script error in Chromium's log.
console_clean() {
        local bad
        bad=$(grep -E "Refused to|Content Security Policy|Uncaught|CONSOLE.*[Ee]rror" "$NC_TMP/$1.err")
        if [[ -z $bad ]]; then pass "$1: no CSP violation or script error in the console"; else fail "$1: console: $bad"; fi
}

# same_origin_only NAME ORIGIN: the page requested nothing outside ORIGIN.
same_origin_only() {
        local name=$1 origin=$2 reqs
        reqs=$("$PY" "$HERE/netlog-requests.py" "$NC_TMP/$name.netlog.json" "$origin") ||
                { fail "$name: cannot read the net-log"; return; }
        local foreign
        foreign=$(grep '^FOREIGN ' <<<"$reqs")
        if [[ -z $foreign ]]; then pass "$name: no request outside $origin"; else fail "$name: requests outside $origin: $foreign"; fi
        local p
        for p in / /app.js /style.css /api/v1/matrix; do
                if grep -qxF "PAGE $origin$p" <<<"$reqs"; then pass "$name: requested $p"; else fail "$name: no request for $p in the net-log: $(tr '\n' ' ' <<<"$reqs")"; fi
        done
        log "$name: $(grep -c '^BROWSER ' <<<"$reqs") request(s) by Chromium itself (not the page; no route out of the namespace)"
}

# What the page must show for a row (same rules as app.js classify()).
JQ_STATE='def state: if .supported == false then "unsupported" elif .mismatch == "unexpected_allow" then "leak"
  elif .mismatch == "unexpected_deny" then "blocked" elif .met then (if .verified then "met" else "unverified" end)
  elif .verdict == "unknown" then "pending" else "inconclusive" end;
def state_text: {met: "✓ met", unverified: "~ unverified", leak: "✗ LEAK", blocked: "✗ blocked",
  inconclusive: "? inconclusive", pending: "… pending", unsupported: "– unsupported"}[state];'

# ---------------------------------------------------------------- the daemon

"$PY" "$HERE/dns-server.py" "$DNS_OK" 10.96.0.1 "$NC_TMP/dns.ready" >"$NC_TMP/dns-server.log" 2>&1 &
NC_HELPERS+=("$!")
wait_for 10 "dns-server.py" test -e "$NC_TMP/dns.ready" || fatal "dns-server.py did not start: $(cat "$NC_TMP/dns-server.log")"

CFG=$NC_TMP/config.json
write_config() {
        cat >"$CFG" <<JSON
{
  "agent": { "identity": "webtest", "listen": "127.0.0.1:$HTTP", "responder": { "port": $RESP } },
  "defaults": { "interval": "1s", "timeout": "400ms", "confirm": 1 },
  "targets": {
    "self-tcp":     { "tcp": { "host": "127.0.0.1", "port": $RESP } },
    "self-udp":     { "udp": { "host": "127.0.0.1", "port": $RESP } },
    "leak-tcp":     { "tcp": { "host": "127.0.0.1", "port": $RESP } },
    "closed-tcp":   { "tcp": { "host": "127.0.0.1", "port": $CLOSED } },
    "rst-ok":       { "tcp": { "host": "127.0.0.1", "port": $RST }, "refused_means": "allowed" },
    "rst-deny":     { "tcp": { "host": "127.0.0.1", "port": $RST } },
    "no-control":   { "tcp": { "host": "127.0.0.1", "port": $NOCTL } },
    "unresolvable": { "tcp": { "host": "does-not-exist.invalid", "port": $NXPORT } },
    "link-local":   { "tcp": { "host": "fe80::1", "port": $LLPORT } },
    "cluster-dns":  { "dns": { "name": "kubernetes.default.svc.cluster.local", "type": "A", "servers": ["127.0.0.1:$DNS_OK"] } },
    "dead-dns":     { "dns": { "name": "kubernetes.default.svc.cluster.local", "type": "A", "servers": ["127.0.0.1:$DNS_DEAD"] } }
  },
  "matrix": [
    { "from": "*", "to": "self-tcp",     "expect": "allow" },
    { "from": "*", "to": "self-udp",     "expect": "allow" },
    { "from": "*", "to": "leak-tcp",     "expect": "deny" },
    { "from": "*", "to": "closed-tcp",   "expect": "allow" },
    { "from": "*", "to": "rst-ok",       "expect": "allow" },
    { "from": "*", "to": "rst-deny",     "expect": "deny" },
    { "from": "*", "to": "no-control",   "expect": "deny" },
    { "from": "*", "to": "unresolvable", "expect": "deny" },
    { "from": "*", "to": "link-local",   "expect": "allow" },
    { "from": "*", "to": "cluster-dns",  "expect": "allow" },
    { "from": "*", "to": "dead-dns",     "expect": "allow" }
  ]
}
JSON
}
write_config
nc_start d "$CFG"
# shellcheck disable=SC2154 # PID_d is set by nc_start
wait_healthy "$HTTP" "$PID_d"
wait_ready "$HTTP" || fatal "/readyz never became 200: $(http_code "$HTTP" /readyz)"

# The state each TCP/UDP row must reach (DNS rows are checked against the API).
declare -A WANT=(
        [self-tcp]=met [self-udp]=met [leak-tcp]=leak [closed-tcp]=blocked [rst-ok]=met
        [rst-deny]=met [no-control]=unverified [unresolvable]=inconclusive [link-local]=inconclusive
)
api_states() { matrix "$HTTP" | jq -r "$JQ_STATE"' .rows[] | "\(.to)=\(state)"' | sort; }
want_states() { local k; for k in "${!WANT[@]}"; do echo "$k=${WANT[$k]}"; done | sort; }
_states_settled() { [[ $(api_states | grep -v -e '^cluster-dns=' -e '^dead-dns=') == "$(want_states)" ]]; }
wait_for 15 "every row in its expected state" _states_settled ||
        fail "rows did not reach their states: got $(api_states | tr '\n' ' ') want $(want_states | tr '\n' ' ')"
expect_eq "unresolvable: outcome dns_error (the lookup stayed in the namespace)" \
        "$(row_field "$HTTP" unresolvable '.addresses[0].outcome')" dns_error
expect_eq "link-local: outcome local_error" "$(row_field "$HTTP" link-local '.addresses[0].outcome')" local_error
matrix "$HTTP" >"$NC_TMP/api.json"
log "API states: $(jq -r "$JQ_STATE"' [.rows[] | "\(.to)=\(state)"] | join(" ")' "$NC_TMP/api.json")"

# ---------------------------------------------------------------- HTTP: CSP, types, embedding

hdrs=$("${NC_CURL[@]}" -D - -o "$NC_TMP/index.served" "$BASE/" | tr -d '\r')
expect_eq "GET / status" "$(head -n 1 <<<"$hdrs" | awk '{ print $2 }')" 200
ct=$(grep -i '^content-type:' <<<"$hdrs" | head -n 1 | cut -d' ' -f2-)
if [[ $ct == text/html* ]]; then pass "/ Content-Type ($ct)"; else fail "/ Content-Type: '$ct', expected text/html"; fi
csp=$(grep -i '^content-security-policy:' <<<"$hdrs" | head -n 1 | cut -d' ' -f2-)
if [[ -n $csp ]]; then pass "/ has a Content-Security-Policy header ($csp)"; else fail "/ has no Content-Security-Policy header: $(tr '\n' '|' <<<"$hdrs")"; fi
for d in "default-src 'none'" "script-src 'self'" "style-src 'self'" "connect-src 'self'" \
        "base-uri 'none'" "form-action 'none'" "frame-ancestors 'none'"; do
        expect_has "CSP contains $d" "$csp" "$d"
done
for bad in unsafe-inline unsafe-eval '*' 'http:' 'https:'; do
        if [[ $csp == *"$bad"* ]]; then fail "CSP allows $bad: $csp"; else pass "CSP does not allow $bad"; fi
done

asset_check() {
        local path=$1 want_ct=$2 file=$3 h
        h=$("${NC_CURL[@]}" -D - -o "$NC_TMP/asset.body" "$BASE$path" | tr -d '\r')
        local c
        c=$(grep -i '^content-type:' <<<"$h" | head -n 1 | cut -d' ' -f2-)
        if [[ $c == "$want_ct"* ]]; then pass "$path Content-Type ($c)"; else fail "$path Content-Type: '$c', expected $want_ct"; fi
        if grep -qi '^content-security-policy:' <<<"$h"; then pass "$path carries the CSP"; else fail "$path has no CSP header"; fi
        if [[ -f $SRC_WEB/$file ]]; then
                if cmp -s "$NC_TMP/asset.body" "$SRC_WEB/$file"; then pass "$path is src/web/$file byte for byte"; else fail "$path differs from src/web/$file"; fi
        fi
        mkdir -p "$NC_TMP/assets"
        cp "$NC_TMP/asset.body" "$NC_TMP/assets/$file"
}
asset_check / text/html index.html
asset_check /index.html text/html index.html
asset_check /app.js text/javascript app.js
asset_check /style.css text/css style.css
asset_check /favicon.svg image/svg+xml favicon.svg
check "gzip'ed / decodes to the page" cmp -s <("${NC_CURL[@]}" --compressed "$BASE/") "$NC_TMP/assets/index.html"
expect_eq "HEAD /" "$(http_code "$HTTP" / -I)" 200
expect_eq "GET /nope.css" "$(http_code "$HTTP" /nope.css)" 404

# No absolute URL, no other origin, no inline code in what the page is made of.
A=$NC_TMP/assets
hits=$(grep -EiHn 'https?:' "$A/index.html" "$A/app.js" "$A/style.css")
if [[ -z $hits ]]; then pass "no http(s): URL in the HTML, JS or CSS"; else fail "absolute URLs: $hits"; fi
hits=$(grep -EioHn "(src|href|action|srcset|poster|data)[[:space:]]*=[[:space:]]*[\"']?[[:space:]]*(//|[a-z][a-z0-9+.-]*:)" "$A/index.html")
if [[ -z $hits ]]; then pass "every src/href in the HTML is relative to the page"; else fail "src/href to another origin or scheme: $hits"; fi
hits=$(grep -EioHn "<script[^>]*>[^<[:space:]]|<style|[[:space:]]on[a-z]+[[:space:]]*=|[[:space:]]style[[:space:]]*=" "$A/index.html")
if [[ -z $hits ]]; then pass "no inline script, style or event handler in the HTML"; else fail "inline code in the HTML: $hits"; fi
hits=$(grep -EiHn "url\(|@import" "$A/style.css")
if [[ -z $hits ]]; then pass "the CSS loads nothing (no url(), no @import)"; else fail "the CSS loads: $hits"; fi
hits=$(grep -EHn "[\"'\`]//|XMLHttpRequest|WebSocket|EventSource|sendBeacon|importScripts|innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function" "$A/app.js")
if [[ -z $hits ]]; then pass "app.js: one fetch() to its own API, no HTML sinks, no eval"; else fail "app.js uses: $hits"; fi

# ---------------------------------------------------------------- the page, rendered

load page "$BASE/"
console_clean page
same_origin_only page "$BASE"

expect_eq "header: identity" "$(dq page .identity)" webtest
expect_eq "header: version" "$(dq page .version)" "$(jq -r .version "$NC_TMP/api.json")"
expect_has "header: config state" "$(dq page .config)" "✓ ok"
expect_eq "header: no config error" "$(dq page .config_error.hidden)" true
expect_has "header: ready" "$(dq page .ready)" "✓ ready"
if [[ $(dq page .updated) =~ ^[0-9]{2}:[0-9]{2}:[0-9]{2}$ ]]; then pass "header: updated $(dq page .updated)"; else fail "header: updated '$(dq page .updated)'"; fi
expect_eq "no error banner" "$(dq page .banner.hidden)" true
expect_eq "one identity column" "$(dq page '.froms | join(",")')" webtest
expect_eq "one cell per row" "$(dq page '.cells | length')" "$(jq '.rows | length' "$NC_TMP/api.json")"

declare -A TEXT=([met]="✓ met" [unverified]="~ unverified" [leak]="✗ LEAK" [blocked]="✗ blocked"
        [inconclusive]="? inconclusive" [pending]="… pending" [unsupported]="– unsupported")
for to in "${!WANT[@]}"; do
        st=${WANT[$to]}
        expect_eq "cell webtest/$to shows" "$(dq page ".cells[\"webtest/$to\"].text")" "${TEXT[$st]}"
        expect_eq "cell webtest/$to state" "$(dq page ".cells[\"webtest/$to\"].state")" "$st"
done
# Every row, DNS included, as the API says at this moment.
while IFS=$'\t' read -r to st text expect verdict; do
        expect_eq "cell webtest/$to matches the API" "$(dq page ".cells[\"webtest/$to\"].text")" "$text"
        [[ $verdict == unknown ]] && continue
        expect_has "cell webtest/$to shows expected vs observed" "$(dq page ".cells[\"webtest/$to\"].ev")" \
                "expect $expect · saw $verdict"
done < <(jq -r "$JQ_STATE"' .rows[] | [.to, state, state_text, .expect, .verdict] | @tsv' "$NC_TMP/api.json")
expect_has "cells show outcome and latency" "$(dq page '.cells["webtest/self-tcp"].lat')" "connected · "
expect_has "cells show outcome and latency" "$(dq page '.cells["webtest/self-tcp"].lat')" " ms"
expect_eq "inconclusive cell shows its outcome, no latency" "$(dq page '.cells["webtest/unresolvable"].lat')" dns_error
expect_has "cell tooltip has the last change" "$(dq page '.cells["webtest/leak-tcp"].title')" "Last change:"
expect_has "summary counts the leak" "$(dq page .summary)" "1 ✗ LEAK"
expect_has "title flags the mismatches" "$(dq page .title)" "netcanary webtest"
if [[ $(dq page .title) == "✗ "* ]]; then pass "title starts with ✗ ($(dq page .title))"; else fail "title: $(dq page .title)"; fi

# Detail pane: nothing pinned, so it shows the worst row (the leak).
expect_eq "detail shows the worst row" "$(dq page .detail.key)" webtest/leak-tcp
expect_eq "detail: address" "$(dq page '.detail.addresses[0][0]')" "127.0.0.1:$RESP"
expect_eq "detail: outcome, verdict marked as breaking the row" "$(dq page '.detail.addresses[0][1]')" "connected✗ allowed"
expect_has "detail: latency in ms" "$(dq page '.detail.addresses[0][2]')" " ms"
expect_has "detail: last change" "$(dq page .detail.text)" "last change"

# DNS panel: a card per DNS row, one line per server, with outcome and latency.
expect_eq "DNS panel is not empty" "$(dq page .dns.empty)" false
expect_eq "DNS panel: one card per dns row" "$(dq page '[.dns.targets[].to] | join(",")')" \
        "$(jq -r '[.rows[] | select(.protocol == "dns") | .to] | join(",")' "$NC_TMP/api.json")"
while IFS=$'\t' read -r to text addr outcome; do
        card=$(jq -c --arg t "$to" '.dns.targets[] | select(.to == $t)' "$NC_TMP/page.json")
        expect_has "DNS panel: $to state" "$(jq -r .head <<<"$card")" "$text"
        line=$(jq -r --arg a "$addr" '[.servers[] | select(.[0] == $a) | join(" | ")] | first // ""' <<<"$card")
        expect_has "DNS panel: $to server $addr outcome" "$line" "$addr | $outcome"
        expect_has "DNS panel: $to server $addr latency" "$line" " ms"
done < <(jq -r "$JQ_STATE"' .rows[] | select(.protocol == "dns") | state_text as $s | .to as $t | .addresses[] | [$t, $s, .address, .outcome] | @tsv' "$NC_TMP/api.json")
expect_eq "DNS panel: cluster-dns answered by dns-server.py" "$(dq page '.dns.targets[] | select(.to == "cluster-dns") | .servers[0][1]')" connected

expect_eq "no inline script in the DOM" "$(dq page .elements.inline_scripts)" 0
expect_eq "no style attribute in the DOM" "$(dq page .elements.style_attrs)" 0
expect_eq "no event-handler attribute in the DOM" "$(dq page .elements.event_attrs)" 0

# A pinned cell (URL hash) opens in the detail pane.
load pinned "$BASE/#webtest%2Fclosed-tcp"
expect_eq "hash pins closed-tcp" "$(dq pinned .detail.key)" webtest/closed-tcp
expect_has "closed-tcp detail: refused" "$(dq pinned .detail.text)" "refused"
expect_has "closed-tcp detail: the error text" "$(dq pinned .detail.text)" "Connection refused"
load pinned2 "$BASE/#webtest%2Funresolvable"
expect_has "unresolvable detail: dns_error" "$(dq pinned2 .detail.text)" "dns_error"
expect_has "unresolvable detail: explanation" "$(dq pinned2 .detail.text)" "not a match"

shot status-1200x900.png 1200,900 "$BASE/"
shot status-390x844.png 390,844 "$BASE/"
# The whole page at phone width (headless Chromium cannot capture a scrolled page).
shot status-390x2600-full.png 390,2600 "$BASE/"

# ---------------------------------------------------------------- a rejected reload shows in the header

jq '.agent.bogus = 1' "$CFG" >"$NC_TMP/bad.json" && mv "$NC_TMP/bad.json" "$CFG"
kill -HUP "$PID_d"
_reload_failed() { mq_true "$HTTP" '.config.last_reload_successful == false'; }
wait_for 10 "the bad config to be rejected" _reload_failed || fail "reload of a bad config not reported as failed"
err=$(mq "$HTTP" .config.last_reload_error)
load reload "$BASE/"
expect_has "header: reload failed" "$(dq reload .config)" "✗ reload failed"
expect_eq "config error shown" "$(dq reload .config_error.hidden)" false
expect_has "config error text" "$(dq reload .config_error.text)" "$err"
expect_eq "old matrix still shown" "$(dq reload '.cells | length')" "$(jq '.rows | length' "$NC_TMP/api.json")"
shot reload-failed-1200x900.png 1200,900 "$BASE/"

# ---------------------------------------------------------------- fixtures: two identities, hostile text, failing API

FIX=$HERE/fixture-matrix.json
jq '.rows |= map(select(.protocol != "dns"))' "$FIX" >"$NC_TMP/fixture-nodns.json"
start_fixture() {
        local p=$1 mode=$2 m=$3
        "$PY" "$HERE/fixture-server.py" "$A" "$p" "$mode" "$m" "$NC_TMP/fixture-$p.ready" >"$NC_TMP/fixture-$p.log" 2>&1 &
        NC_HELPERS+=("$!")
        wait_for 10 "fixture server $p" test -e "$NC_TMP/fixture-$p.ready" ||
                fatal "fixture server $p did not start: $(cat "$NC_TMP/fixture-$p.log")"
}
start_fixture "$FIX_OK" ok "$FIX"
start_fixture "$FIX_NODNS" ok "$NC_TMP/fixture-nodns.json"
start_fixture "$FIX_FAIL" fail "$FIX"
start_fixture "$FIX_STALE" stale "$FIX"

FBASE=http://127.0.0.1:$FIX_OK
load fix "$FBASE/"
console_clean fix
same_origin_only fix "$FBASE"
expect_eq "fixture: identities across" "$(dq fix '.froms | join(",")')" tenant-a,tenant-b
XSS='<img src=x onerror=alert(1)>'
for kv in "tenant-a/platform-api|✓ met" "tenant-b/platform-api|✗ blocked" "tenant-a/tenant-b|~ unverified" \
        "tenant-b/tenant-a|✗ LEAK" "tenant-a/$XSS|? inconclusive" "tenant-a/metrics-http|– unsupported" \
        "tenant-b/internet|… pending" "tenant-a/cluster-dns|✓ met" "tenant-b/cluster-dns|✗ blocked"; do
        k=${kv%%|*}
        expect_eq "fixture: cell $k" "$(jq -r --arg k "$k" '.cells[$k].text' "$NC_TMP/fix.json")" "${kv#*|}"
done
expect_has "fixture: flapping row shows the last probe" "$(dq fix '.cells["tenant-b/cluster-dns"].ev')" "(last probe: allowed)"
expect_eq "fixture: mixed outcomes summarised" "$(dq fix '.cells["tenant-b/tenant-a"].lat')" "1 timeout, 1 connected, 1 refused · max 2.00 s"
expect_eq "fixture: unsupported row not probed" "$(dq fix '.cells["tenant-a/metrics-http"].ev')" "expect allow · not probed"
expect_has "fixture: missing combination is an empty cell" "$(dq fix '.none_cells | join(",")')" "tenant-b/$XSS"
expect_eq "fixture: hostile name rendered as text, no <img>" "$(dq fix .elements.img)" 0
expect_eq "fixture: hostile config error rendered as text, no <b>" "$(dq fix .elements.b)" 0
expect_eq "fixture: only app.js runs" "$(dq fix '.elements.script_srcs | join(",")')" app.js
expect_has "fixture: config reload failed" "$(dq fix .config)" "✗ reload failed"
expect_has "fixture: config error as text" "$(dq fix .config_error.text)" 'unknown target "<b>bad</b>"'
expect_eq "fixture: detail on the worst row" "$(dq fix .detail.key)" tenant-b/tenant-a
expect_eq "fixture: detail lists 3 addresses" "$(dq fix '.detail.addresses | length')" 3
expect_eq "fixture: the address that breaks the row" "$(dq fix '[.detail.addresses[] | select(.[1] | contains("✗ allowed")) | .[0]] | join(",")')" 10.244.3.4:9891
expect_eq "fixture: DNS cards" "$(dq fix '[.dns.targets[] | .head] | join(" / ")')" \
        "cluster-dns✓ metfrom tenant-a · expect allow / cluster-dns✗ blockedfrom tenant-b · expect allow"
expect_eq "fixture: DNS per-server latency" "$(dq fix '.dns.targets[0].servers | map(join(" ")) | join(" / ")')" \
        "10.96.0.10:53 connected 12.3 ms / 10.244.0.5:53 connected 2.10 ms"
expect_eq "fixture: DNS failing server" "$(dq fix '.dns.targets[1].servers[0] | join(" ")')" "10.96.0.10:53 timeout 2.00 s"
load fixxss "$FBASE/#tenant-a%2F%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E"
expect_has "fixture: hostile error text shown as text" "$(dq fixxss .detail.text)" "<script>alert(2)</script>"
expect_eq "fixture: no injected script" "$(dq fixxss .elements.inline_scripts)" 0
expect_eq "fixture: no injected img" "$(dq fixxss .elements.img)" 0
shot fixture-1200x900.png 1200,900 "$FBASE/"
shot fixture-390x844.png 390,844 "$FBASE/"

load nodns "http://127.0.0.1:$FIX_NODNS/"
expect_eq "no DNS rows: panel says so" "$(dq nodns .dns.text)" "no DNS targets"

load failing "http://127.0.0.1:$FIX_FAIL/"
expect_eq "API down: banner shown" "$(dq failing .banner.hidden)" false
expect_has "API down: banner says why" "$(dq failing .banner.text)" "cannot load the matrix"
expect_has "API down: banner has the status" "$(dq failing .banner.text)" "503"
expect_has "API down: updated says failing" "$(dq failing .updated)" "failing"

# The first fetch answers, the refresh 5 s later fails: data stays, marked stale.
load stale "http://127.0.0.1:$FIX_STALE/" 12000
expect_eq "stale: banner shown" "$(dq stale .banner.hidden)" false
expect_has "stale: banner says stale" "$(dq stale .banner.text)" "Stale"
expect_has "stale: page marked stale" "$(dq stale .main_class)" stale
expect_eq "stale: last data still shown" "$(dq stale '.cells | length')" "$(jq '.rows | length' "$FIX")"
shot stale-1200x900.png 1200,900 "http://127.0.0.1:$FIX_STALE/" 12000

check "daemon still running" _alive "$PID_d"
log "screenshots in $ART"
nc_finish
