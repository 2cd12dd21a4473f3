#!/usr/bin/env bash
# The loopback integration suite (tests/integration) with every netcanary
# process it starts (daemons, `once`, `check`) under valgrind memcheck.
# Passes when every script passes and every valgrind log ends with
# "ERROR SUMMARY: 0 errors": memory errors, and definite or indirect leaks
# (counted as errors), fail it; so does a process killed before valgrind
# could write its exit summary.
#
# Ports: the integration blocks moved to 23000-24099 (NCTEST_PORT_BASE), so
# this runs beside the integration suite itself. As root, daemons run as uid
# 65534 as in that suite when that uid can reach the binary.
set -uo pipefail

: "${NETCANARY:?NETCANARY must point at the binary}"
command -v valgrind >/dev/null || { echo "valgrind missing (apt-get install valgrind)"; exit 1; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
integration=$here/../integration
binary=$(readlink -f "$NETCANARY")
scripts=(selfcheck denied netns-timeout udp ipv6 confirm reload once http-endpoints metrics-stream)

tmp=$(mktemp -d /tmp/nctest-vgint-XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
mkdir "$tmp/logs" && chmod 1777 "$tmp/logs"  # written by uid 65534 too
cat >"$tmp/netcanary" <<WRAPPER
#!/bin/sh
exec valgrind --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
        --log-file="$tmp/logs/vg-%p.log" "$binary" "\$@"
WRAPPER
chmod 755 "$tmp/netcanary"

as_nobody=0
if [[ $EUID == 0 ]] && command -v setpriv >/dev/null &&
        setpriv --reuid=65534 --regid=65534 --clear-groups -- test -x "$binary"; then
        as_nobody=1
else
        echo "note: daemons run as $(id -un) (uid 65534 cannot reach $binary, or not root)"
fi

failed=0
for t in "${scripts[@]}"; do
        rm -f "$tmp/logs"/*
        start=$SECONDS
        NETCANARY=$tmp/netcanary NC_AS_NOBODY=$as_nobody NCTEST_PORT_BASE=23000 NC_STOP_GRACE_MS=20000 \
                bash "$integration/test-$t.sh" >"$tmp/$t.out" 2>&1
        rc=$?
        logs=("$tmp/logs"/vg-*.log)
        [[ -e ${logs[0]} ]] || logs=()
        unclean=()
        for f in "${logs[@]}"; do
                grep -q 'ERROR SUMMARY: 0 errors' "$f" || unclean+=("$f")
        done
        if ((rc == 77)); then
                echo "skip: $t ($(grep -m1 SKIP "$tmp/$t.out"))"
        elif ((rc != 0 || ${#unclean[@]} > 0 || ${#logs[@]} == 0)); then
                failed=1
                echo "FAIL: $t: script exit $rc, ${#logs[@]} processes under valgrind, ${#unclean[@]} without a clean summary"
                grep -E 'FAIL|FATAL' "$tmp/$t.out" | head -n 10
                for f in "${unclean[@]}"; do
                        echo "----- $f -----"
                        grep -v '^==[0-9]*== *$' "$f" | tail -n 60
                done
        else
                echo "ok:   $t under memcheck: ${#logs[@]} processes, every one 0 errors ($((SECONDS - start)) s)"
        fi
done
((failed == 0)) && echo "PASS test-integration-memcheck"
exit "$failed"
