#!/usr/bin/env bash
# Time and memory of `netcanary policy matrix` (issue 16) on synthetic
# clusters from policy-gen.py: for each size, the table and the JSON format
# (wall, user and system seconds, peak RSS, output bytes), median of 3 runs.
#
#   tests/bench/policy-matrix.sh            300/100, 1000/200, 5000/500 (table only)
#   BENCH_SMOKE=1 tests/bench/policy-matrix.sh    30 pods / 10 policies, one run
#
# NETCANARY: the binary (default build/src/netcanary). Needs python3 and GNU time
# (/usr/bin/time); skips (77) without them. Prints a markdown table.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NETCANARY=${NETCANARY:-$HERE/../../build/src/netcanary}
[[ -x /usr/bin/time ]] || { echo "skip: GNU time (/usr/bin/time) not installed"; exit 77; }
command -v python3 >/dev/null || { echo "skip: python3 not installed"; exit 77; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/nc-policy-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

if [[ ${BENCH_SMOKE:-0} == 1 ]]; then
        sizes=("30 10 table,json")
        runs=1
else
        sizes=("300 100 table,json" "1000 200 table,json" "5000 500 table")
        runs=3
fi

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo "| pods | policies | format | pairs | wall s | user s | sys s | peak RSS KiB | output bytes |"
echo "|---:|---:|---|---:|---:|---:|---:|---:|---:|"
for size in "${sizes[@]}"; do
        read -r pods pols formats <<<"$size"
        objects=$TMP/cluster-$pods-$pols.json
        python3 "$HERE/policy-gen.py" "$pods" "$pols" "$objects"
        for fmt in ${formats//,/ }; do
                : >"$TMP/times"
                for ((i = 0; i < runs; i++)); do
                        /usr/bin/time -o "$TMP/t" -f "%e %U %S %M" \
                                "$NETCANARY" policy matrix --objects "$objects" --port 8080 --protocol TCP \
                                --format "$fmt" >"$TMP/out"
                        cat "$TMP/t" >>"$TMP/times"
                done
                bytes=$(wc -c <"$TMP/out")
                if [[ $fmt == json ]]; then
                        rows=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["rows"]))' "$TMP/out")
                        ((rows == pods * pods)) || { echo "error: $rows rows, want $((pods * pods))" >&2; exit 1; }
                fi
                printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$pods" "$pols" "$fmt" "$((pods * pods))" \
                        "$(awk '{print $1}' "$TMP/times" | median)" "$(awk '{print $2}' "$TMP/times" | median)" \
                        "$(awk '{print $3}' "$TMP/times" | median)" "$(awk '{print $4}' "$TMP/times" | median)" "$bytes"
        done
done
echo
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); $("$NETCANARY" --version)"
