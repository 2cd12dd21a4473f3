#!/usr/bin/env bash
# Fuzzes every libFuzzer target for a bounded time (issue 10: "a CI job fuzzes
# each target for a short bounded time").
#
#   tests/fuzz/run-fuzzers.sh [TARGET...]       default: every target
#
# Environment:
#   FUZZ_SECONDS   seconds per target (default 60)
#   FUZZ_BUILDDIR  clang build directory (default <source>/build-fuzz); made
#                  when missing: CC=clang, -Db_sanitize=address,undefined,
#                  -Db_lundef=false, and -Dc_args=-fsanitize=fuzzer-no-link so
#                  the library itself is coverage-instrumented (without it
#                  libFuzzer only sees the harness). Warnings stay errors: the
#                  code builds clean with clang as with gcc.
#   FUZZ_WORKDIR   where new corpus entries, logs and crash reproducers go
#                  (default: a new mktemp -d; kept, its path is printed)
#   FUZZ_ARGS      extra libFuzzer arguments (e.g. "-jobs=2 -workers=2")
#   FUZZ_EXIT_NO_CLANG  exit status when clang is missing (default 2; the
#                  suite's bounded run sets 77, meson's "skipped")
#
# Exit status: 0 no crash, 1 a target crashed / leaked / timed out (the
# reproducer's path and how to replay it are printed), 2 setup failure.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
seconds=${FUZZ_SECONDS:-60}
builddir=${FUZZ_BUILDDIR:-$src/build-fuzz}
all_targets=(config exposition udp-echo listen-addr http k8s-objects netpol yamljson)
targets=("$@")
((${#targets[@]} > 0)) || targets=("${all_targets[@]}")

die() { echo "run-fuzzers: $*" >&2; exit 2; }

if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds == 0)); then
        die "FUZZ_SECONDS must be a positive integer, not '$seconds'"
fi
if ! command -v clang >/dev/null; then
        # 77: meson's "skipped" when run as the suite's bounded fuzzing test.
        echo "run-fuzzers: clang not found (Debian: apt-get install -y clang libclang-rt-14-dev)" >&2
        exit "${FUZZ_EXIT_NO_CLANG:-2}"
fi
for tool in meson ninja; do command -v "$tool" >/dev/null || die "$tool is required"; done

if [[ ! -f $builddir/build.ninja ]]; then
        echo "run-fuzzers: configuring $builddir" >&2
        CC=clang meson setup "$builddir" "$src" \
                -Db_sanitize=address,undefined -Db_lundef=false \
                -Dc_args=-fsanitize=fuzzer-no-link >"${TMPDIR:-/tmp}/run-fuzzers-setup.$$.log" 2>&1 ||
                { cat "${TMPDIR:-/tmp}/run-fuzzers-setup.$$.log" >&2; die "meson setup failed"; }
        rm -f "${TMPDIR:-/tmp}/run-fuzzers-setup.$$.log"
fi
fuzz_bins=()
for t in "${targets[@]}"; do
        [[ -d $here/corpus/$t ]] || die "unknown target '$t' (targets: ${all_targets[*]})"
        fuzz_bins+=("tests/fuzz/fuzz-$t")
done
ninja -C "$builddir" "${fuzz_bins[@]}" >&2 ||
        die "build failed (is subdir('fuzz') in tests/meson.build, and does clang link -fsanitize=fuzzer?)"

work=${FUZZ_WORKDIR:-$(mktemp -d "${TMPDIR:-/tmp}/netcanary-fuzz-XXXXXX")}
mkdir -p "$work" || die "cannot make $work"

# UBSan findings are crashes too; leaks are reported by LeakSanitizer.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
# fuzz-http probes loopback only: never through a proxy from the environment.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

# Per-target input size caps: big enough for the server's 32 KiB request
# limit and for multi-KiB configs.
max_len() {
        case $1 in
        http | config | k8s-objects | netpol | yamljson) echo 65536 ;;
        exposition) echo 8192 ;;
        *) echo 512 ;;
        esac
}

failed=0
summary=()
for t in "${targets[@]}"; do
        bin=$builddir/tests/fuzz/fuzz-$t
        [[ -x $bin ]] || die "$bin was not built (clang without libFuzzer?)"
        mkdir -p "$work/$t/new" "$work/$t/artifacts"
        dict=()
        [[ -f $here/$t.dict ]] && dict=(-dict="$here/$t.dict")
        echo "run-fuzzers: fuzzing $t for ${seconds}s (new corpus: $work/$t/new)" >&2
        # shellcheck disable=SC2086 # FUZZ_ARGS is a list of words
        "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -max_len="$(max_len "$t")" \
                -print_final_stats=1 -artifact_prefix="$work/$t/artifacts/" "${dict[@]}" ${FUZZ_ARGS:-} \
                "$work/$t/new" "$here/corpus/$t" >"$work/$t/fuzz.log" 2>&1
        rc=$?
        execs=$(awk '/stat::number_of_executed_units/ { n += $NF } END { print n + 0 }' "$work/$t/fuzz.log")
        new=$(find "$work/$t/new" -type f | wc -l)
        crashes=$(find "$work/$t/artifacts" -type f | wc -l)
        if ((rc != 0 || crashes > 0)); then
                failed=1
                summary+=("$t: FAILED (exit $rc) after $execs runs; see $work/$t/fuzz.log")
                echo "run-fuzzers: $t FAILED (exit $rc); last lines of its log:" >&2
                grep -v '^ts=' "$work/$t/fuzz.log" | tail -n 60 >&2
                for f in "$work/$t/artifacts"/*; do
                        [[ -e $f ]] || continue
                        echo "run-fuzzers: reproducer $f; replay with:" >&2
                        echo "    $bin $f" >&2
                        echo "    $builddir/tests/fuzz/fuzz-$t-standalone $f   # also under gdb or valgrind" >&2
                done
        else
                summary+=("$t: ok, ${seconds}s, $execs runs, $new new corpus entries")
        fi
done

echo "run-fuzzers: results (work directory $work):" >&2
printf '  %s\n' "${summary[@]}" >&2
exit "$failed"
