#!/usr/bin/env bash
# Fault: the config file goes bad under a running daemon (issue 10,
# Robustness: "the config file deleted, replaced by garbage, by a directory,
# by a huge file — the daemon keeps the last good config and says why").
#
# For each fault, starting from a good file (reload_successful 1): break the
# file, SIGHUP, then expect
#   - netcanary_config_last_reload_successful 0 (and "last_reload_successful":
#     false in /api/v1/matrix);
#   - a "config reload rejected" log line whose error names the problem;
#   - the rows of the last good config still probed (probes_total grows),
#     /healthz 200, the process alive;
# then the good file back + SIGHUP -> 1. Faults: deleted; garbage; a
# directory; 5 MiB (a valid config padded with spaces: only the size is
# wrong); a FIFO (must not block the daemon); a symlink to /dev/zero (must
# not read forever); a symlink loop; an empty file; a file without read
# permission (skipped as root).
# Ports: 127.0.0.1:19410 (HTTP), 19411 (responder); loopback only.
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
# The fault suite's block is 127.0.0.1:19400-19499: 2,000 below the blocks of
# lib.sh (NCTEST_PORT_BASE, default 21000), and moved along with them.
NCTEST_PORT_BASE=$((${NCTEST_PORT_BASE:-21000} - 2000))
nc_init 4

HTTP=$(port 10)
RESP=$(port 11)
ports_free "$HTTP" "$RESP"

good_config() {
        cat <<JSON
{
  "agent": { "identity": "cfgfault", "listen": "127.0.0.1:$HTTP", "responder": { "port": $RESP } },
  "defaults": { "interval": "500ms", "timeout": "200ms", "confirm": 1 },
  "targets": {
    "self-tcp": { "tcp": { "host": "127.0.0.1", "port": $RESP } },
    "self-udp": { "udp": { "host": "127.0.0.1", "port": $RESP } }
  },
  "matrix": [
    { "from": "*", "to": "self-tcp", "expect": "allow" },
    { "from": "*", "to": "self-udp", "expect": "allow" }
  ]
}
JSON
}

DIR=$NC_TMP/etc
mkdir -p "$DIR"
CFG=$DIR/config.json
good_config >"$NC_TMP/good.json"
cp "$NC_TMP/good.json" "$CFG"

nc_start d "$CFG"
PID_d=${PID_d:?} # set by nc_start
wait_healthy "$HTTP" "$PID_d"
check "good config: reload_successful 1" metric_is "$HTTP" '==' 1 netcanary_config_last_reload_successful
rows_met() { mq_true "$HTTP" '(.rows | length) == 2 and all(.rows[]; .met == true)'; }
check "good config: both rows met" wait_for 10 "rows met" rows_met

n_rejections() { grep -c 'config reload rejected' "$NC_TMP/d.log"; }
reload_ok() { metric_is "$HTTP" '==' 1 netcanary_config_last_reload_successful; }
reload_failed() { metric_is "$HTTP" '==' 0 netcanary_config_last_reload_successful; }

# restore: the good file back in place (whatever is there now), SIGHUP, 1 again.
restore() {
        chmod -R u+rwx "$CFG" 2>/dev/null
        rm -rf "$CFG"
        cp "$NC_TMP/good.json" "$CFG"
        kill -HUP "$PID_d"
        if wait_for 10 "reload_successful 1" reload_ok; then
                pass "$1: good file back -> reload_successful 1"
        else
                fail "$1: good file back, but reload_successful is $(metric "$HTTP" netcanary_config_last_reload_successful)"
        fi
}

# fault NAME PATTERN: after the file was broken, SIGHUP and check everything.
# PATTERN (an extended regex, case-insensitive) must match the error logged.
fault() {
        local name=$1 pattern=$2 before line p0
        before=$(n_rejections)
        p0=$(metric0 "$HTTP" netcanary_probes_total to=self-tcp outcome=connected)
        kill -HUP "$PID_d"
        more() { (($(n_rejections) > before)); }
        if wait_for 10 "a rejection logged" more; then
                line=$(grep 'config reload rejected' "$NC_TMP/d.log" | tail -n 1)
                if grep -qiE "$pattern" <<<"$line"; then
                        pass "$name: rejected, and the log says why"
                else
                        fail "$name: the rejection does not say why (want /$pattern/): $line"
                fi
        else
                fail "$name: no \"config reload rejected\" line after SIGHUP"
        fi
        if wait_for 5 "reload_successful 0" reload_failed; then pass "$name: reload_successful 0"; else
                fail "$name: reload_successful is $(metric "$HTTP" netcanary_config_last_reload_successful), expected 0"
        fi
        expect_eq "$name: matrix says last_reload_successful false" "$(mq "$HTTP" .config.last_reload_successful)" false
        expect_eq "$name: still 2 rows" "$(mq "$HTTP" '.rows | length')" 2
        check "$name: rows still probed" wait_for 5 "probes grow" \
                metric_is "$HTTP" '>' "$p0" netcanary_probes_total to=self-tcp outcome=connected
        check "$name: /healthz 200" _healthz_ok "$HTTP"
        check "$name: daemon alive" _alive "$PID_d"
        restore "$name"
}

# deleted
rm -f "$CFG"
fault "deleted" "no such file|cannot open"

# garbage
printf '{ "agent": { this is not json\n' >"$CFG"
fault "garbage" "invalid JSON"

# binary garbage with NUL bytes
head -c 4096 /dev/urandom >"$CFG"
fault "binary garbage" "NUL|invalid JSON|not a text file"

# empty file
: >"$CFG"
fault "empty file" "empty|invalid JSON|end of input"

# a directory
rm -f "$CFG"
mkdir "$CFG"
fault "directory" "directory"

# 5 MiB: a valid config padded with spaces, so only the size is wrong
{ cat "$NC_TMP/good.json"; head -c $((5 * 1024 * 1024)) /dev/zero | tr '\0' ' '; } >"$CFG"
fault "5 MiB file" "exceeds|too (big|large)|cap"

# a FIFO nobody writes to: opening or reading it must not block the daemon
rm -f "$CFG"
mkfifo "$CFG"
fault "FIFO" "regular file|fifo"

# a symlink to /dev/zero: must not be read forever
rm -f "$CFG"
ln -s /dev/zero "$CFG"
fault "symlink to /dev/zero" "regular file|exceeds|cap"

# a symlink loop
rm -f "$CFG"
ln -s "$(basename "$CFG")" "$CFG"
fault "symlink loop" "symbolic links|loop|cannot open"

# unreadable (root reads anything: skipped then)
if (($(id -u) != 0)); then
        chmod 000 "$CFG" 2>/dev/null || true
        rm -f "$CFG"
        cp "$NC_TMP/good.json" "$CFG"
        sed -i 's/500ms/400ms/' "$CFG"
        chmod 000 "$CFG"
        fault "unreadable" "permission denied"
else
        log "skip: unreadable file (running as root)"
fi

# After all of it: the last good config runs, and a new good one applies.
good_config | sed 's/"500ms"/"400ms"/' >"$CFG.tmp" && mv "$CFG.tmp" "$CFG"
kill -HUP "$PID_d"
check "a changed good config applies" wait_for 10 "reload ok" reload_ok
check "rows met at the end" wait_for 10 "rows met" rows_met
check "daemon alive at the end" _alive "$PID_d"

nc_finish
