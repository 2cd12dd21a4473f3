#!/usr/bin/env bash
# shellcheck disable=SC2154,SC2317 # PID_* are set by nc_start/start_* (printf -v); predicates are called through wait_for/check
# Scenario 3: policy enforcement that drops or rejects, inside a private network
# namespace (its own loopback), with `netcanary once`:
#   drop                           -> outcome timeout,     verdict denied
#   reject icmp admin-prohibited   -> outcome unreachable, verdict denied
# deny rows there are met (exit 0); an allow row there is a mismatch (exit 1).
# Needs root and `ip netns`; skips (77) otherwise.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
nc_init 3

((EUID == 0)) || skip "not root"
command -v ip >/dev/null 2>&1 || skip "iproute2 (ip) not installed"
command -v nft >/dev/null 2>&1 || fatal "nft not installed (nftables)"

NS=nctest-$$-t
ip netns add "$NS" 2>"$NC_TMP/netns.err" || skip "ip netns unavailable: $(cat "$NC_TMP/netns.err")"
NC_NETNS+=("$NS")
ip -n "$NS" link set lo up || fatal "cannot bring lo up in $NS"

DROP=$(port 50)    # tcp+udp dropped
REJ=$(port 51)     # tcp+udp rejected with icmp admin-prohibited
OPEN=$(port 52)    # a listener, allowed (sanity: the namespace itself works)

ip netns exec "$NS" nft -f - <<NFT 2>"$NC_TMP/nft.err" || fatal "nft rules in $NS failed: $(cat "$NC_TMP/nft.err")"
table ip nctest {
        chain input {
                type filter hook input priority 0; policy accept;
                iif "lo" tcp dport $DROP drop
                iif "lo" udp dport $DROP drop
                iif "lo" tcp dport $REJ reject with icmp type admin-prohibited
                iif "lo" udp dport $REJ reject with icmp type admin-prohibited
        }
}
NFT
log "nftables in $NS: $(ip netns exec "$NS" nft list ruleset | tr -s ' \n\t' ' ')"

# A TCP listener inside the namespace for the positive row.
need_python
ip netns exec "$NS" "$PY" -c '
import signal, socket, sys
signal.alarm(120)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
open(sys.argv[2], "w").close()
while True:
    c, _ = s.accept(); c.close()
' "$OPEN" "$NC_TMP/open.ready" >"$NC_TMP/listener.out" 2>&1 &
NC_HELPERS+=("$!")
wait_for 10 "listener in $NS" test -e "$NC_TMP/open.ready" || fatal "listener in $NS did not start"

# write_config FILE ROWS-JSON
write_config() {
        cat >"$1" <<JSON
{
  "agent": { "identity": "nstest", "listen": "127.0.0.1:$(port 90)", "responder": { "port": 0 } },
  "defaults": { "interval": "1s", "timeout": "300ms", "confirm": 1 },
  "targets": {
    "dropped-tcp":  { "tcp": { "host": "127.0.0.1", "port": $DROP } },
    "dropped-udp":  { "udp": { "host": "127.0.0.1", "port": $DROP } },
    "rejected-tcp": { "tcp": { "host": "127.0.0.1", "port": $REJ } },
    "rejected-udp": { "udp": { "host": "127.0.0.1", "port": $REJ } },
    "open-tcp":     { "tcp": { "host": "127.0.0.1", "port": $OPEN } }
  },
  "matrix": $2
}
JSON
}

# run_once CONFIG OUTFILE -> sets RC
run_once() {
        ip netns exec "$NS" timeout 20 "$NETCANARY" once --config "$1" --format json >"$2" 2>"$2.err"
        RC=$?
        if ! jq -e . "$2" >/dev/null 2>&1; then
                fail "once output is not JSON: $(head -c 500 "$2") stderr: $(head -c 500 "$2.err")"
        fi
}

rowq() { jq -r --arg t "$2" "[.rows[] | select(.to == \$t)][0] | $3" "$1"; }

# 1) deny rows behind drop and reject: all met, exit 0
write_config "$NC_TMP/deny.json" '[
    { "from": "*", "to": "dropped-tcp",  "expect": "deny" },
    { "from": "*", "to": "dropped-udp",  "expect": "deny" },
    { "from": "*", "to": "rejected-tcp", "expect": "deny" },
    { "from": "*", "to": "rejected-udp", "expect": "deny" },
    { "from": "*", "to": "open-tcp",     "expect": "allow" } ]'
run_once "$NC_TMP/deny.json" "$NC_TMP/deny.out"
expect_eq "once (deny rows behind drop/reject) exit code" "$RC" 0
O=$NC_TMP/deny.out
expect_eq "rows in report" "$(jq '.rows | length' "$O")" 5
expect_eq "dropped-tcp outcome" "$(rowq "$O" dropped-tcp '.addresses[0].outcome')" timeout
expect_eq "dropped-tcp verdict" "$(rowq "$O" dropped-tcp .verdict)" denied
expect_eq "dropped-tcp met" "$(rowq "$O" dropped-tcp .met)" true
expect_eq "dropped-udp outcome" "$(rowq "$O" dropped-udp '.addresses[0].outcome')" timeout
expect_eq "dropped-udp verdict" "$(rowq "$O" dropped-udp .verdict)" denied
expect_eq "rejected-tcp outcome" "$(rowq "$O" rejected-tcp '.addresses[0].outcome')" unreachable
expect_eq "rejected-tcp verdict" "$(rowq "$O" rejected-tcp .verdict)" denied
expect_eq "rejected-tcp met" "$(rowq "$O" rejected-tcp .met)" true
expect_eq "rejected-udp outcome" "$(rowq "$O" rejected-udp '.addresses[0].outcome')" unreachable
expect_eq "rejected-udp verdict" "$(rowq "$O" rejected-udp .verdict)" denied
expect_eq "open-tcp outcome (namespace works)" "$(rowq "$O" open-tcp '.addresses[0].outcome')" connected
expect_eq "open-tcp met" "$(rowq "$O" open-tcp .met)" true
# the timeout honours the configured 300ms (a generous upper bound, not a timing assertion on the kernel)
d=$(rowq "$O" dropped-tcp '.addresses[0].duration_seconds')
expect_num "dropped-tcp duration_seconds >= 0.2" "$d" '>=' 0.2
expect_num "dropped-tcp duration_seconds < 5" "$d" '<' 5

# 2) an allow row to the dropped port: a mismatch, exit 1
write_config "$NC_TMP/allow.json" '[
    { "from": "*", "to": "dropped-tcp",  "expect": "allow" },
    { "from": "*", "to": "rejected-tcp", "expect": "deny" } ]'
run_once "$NC_TMP/allow.json" "$NC_TMP/allow.out"
expect_eq "once (allow row behind drop) exit code" "$RC" 1
O=$NC_TMP/allow.out
expect_eq "dropped-tcp (allow) outcome" "$(rowq "$O" dropped-tcp '.addresses[0].outcome')" timeout
expect_eq "dropped-tcp (allow) met" "$(rowq "$O" dropped-tcp .met)" false
expect_eq "dropped-tcp (allow) mismatch" "$(rowq "$O" dropped-tcp .mismatch)" unexpected_deny
expect_eq "rejected-tcp (deny) still met" "$(rowq "$O" rejected-tcp .met)" true

# 3) an allow row to the rejected port: unreachable, exit 1
write_config "$NC_TMP/allow2.json" '[ { "from": "*", "to": "rejected-udp", "expect": "allow" } ]'
run_once "$NC_TMP/allow2.json" "$NC_TMP/allow2.out"
expect_eq "once (allow row behind reject) exit code" "$RC" 1
expect_eq "rejected-udp (allow) outcome" "$(rowq "$NC_TMP/allow2.out" rejected-udp '.addresses[0].outcome')" unreachable
expect_eq "rejected-udp (allow) mismatch" "$(rowq "$NC_TMP/allow2.out" rejected-udp .mismatch)" unexpected_deny

nc_finish
