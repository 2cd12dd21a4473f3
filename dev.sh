#!/usr/bin/env bash
# netcanary's one entry point for people and CI (README "Quick start").
#
#   ./dev.sh run [netcanary args...]   install what is missing, build, run the daemon
#                                      (embedded default config unless --config is given)
#   ./dev.sh test                      install what is missing, build, run the whole test
#                                      suite, then again on an ASan+UBSan build; ends with
#                                      "N passed, N failed, N skipped" over both runs
#   ./dev.sh image                     install what is missing, build the container image
#                                      netcanary:<version> with buildah (deploy/image.sh)
#
# Packages come from Debian 12 with apt-get (as root, or through sudo). Nothing
# is downloaded at configure or test time.
set -euo pipefail
cd "$(dirname "$0")"

BUILD_DIR=${BUILD_DIR:-build}
ASAN_DIR=${ASAN_DIR:-build-asan}

# What `run` needs to configure and build the daemon (tests/build/ proves this list
# is enough: it configures a fresh build seeing only these packages' pkg-config files).
BUILD_PACKAGES=(gcc pkg-config meson ninja-build python3 libmicrohttpd-dev libc-ares-dev libcurl4-gnutls-dev
                libjson-c-dev zlib1g-dev libgnutls28-dev libcrypt-dev libyaml-dev)
# What `image` needs besides BUILD_PACKAGES: buildah builds it, podman stores and
# runs it (runc: the runtime deploy/podman/containers.conf names; catatonit: the
# pods' pause process), binutils strips, ca-certificates provides the CA bundle.
IMAGE_PACKAGES=(buildah podman runc catatonit binutils ca-certificates)
TEST_PACKAGES=(libcmocka-dev curl jq iproute2 nftables prometheus python3 python3-jsonschema unbound
               procps psmisc openssl nodejs chromium valgrind
               prometheus-blackbox-exporter wrk util-linux clang libclang-rt-14-dev
               strace "${IMAGE_PACKAGES[@]}" python3-yaml)

log() { printf '==> %s\n' "$*" >&2; }

ensure_packages() {
        local missing=() p
        for p in "$@"; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
        done
        [ ${#missing[@]} -eq 0 ] && return 0
        log "installing with apt-get: ${missing[*]}"
        local sudo=()
        [ "$(id -u)" -eq 0 ] || sudo=(sudo)
        export DEBIAN_FRONTEND=noninteractive
        "${sudo[@]}" apt-get update -qq
        # Package scripts must not start services (prometheus, unbound): the tests start their own.
        local policy=/usr/sbin/policy-rc.d created_policy=0
        if [ ! -e "$policy" ] && [ "$(id -u)" -eq 0 ]; then
                printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created_policy=1
        fi
        "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
        [ "$created_policy" -eq 0 ] || rm -f "$policy"
}

# build DIR [meson options...]: configures DIR when new; an existing DIR gets the
# options given (e.g. -Dtests=enabled after `run` configured it without cmocka).
build() {
        local dir=$1
        shift
        if [ ! -f "$dir/build.ninja" ]; then
                log "configuring $dir $*"
                meson setup "$dir" "$@" >&2
        elif [ $# -gt 0 ]; then
                meson configure "$dir" "$@" >&2
        fi
        log "building $dir"
        ninja -C "$dir" >&2
}

# Prints "N passed, N failed, N skipped" over the machine-readable logs of
# every test run given (a run that left no log counts as one failure).
summarize() {
        local passed=0 failed=0 skipped=0 logfile
        for logfile in "$@"; do
                if [ ! -s "$logfile" ]; then
                        echo "no test log: $logfile"
                        failed=$((failed + 1))
                        continue
                fi
                passed=$((passed + $(jq -s '[.[] | select(.result == "OK" or .result == "EXPECTEDFAIL")] | length' "$logfile")))
                failed=$((failed + $(jq -s '[.[] | select(.result == "FAIL" or .result == "TIMEOUT" or .result == "ERROR" or .result == "UNEXPECTEDPASS")] | length' "$logfile")))
                skipped=$((skipped + $(jq -s '[.[] | select(.result == "SKIP")] | length' "$logfile")))
                jq -r --arg run "$(basename "$(dirname "$(dirname "$logfile")")")" \
                        'select(.result != "OK" and .result != "SKIP" and .result != "EXPECTEDFAIL") | "failed: [\($run)] \(.name): \(.result)"' "$logfile"
        done
        echo "${passed} passed, ${failed} failed, ${skipped} skipped"
        [ "$failed" -eq 0 ]
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
run)
        ensure_packages "${BUILD_PACKAGES[@]}"
        build "$BUILD_DIR"
        log "starting netcanary (Ctrl-C stops it); metrics on http://127.0.0.1:9890/metrics"
        exec "$BUILD_DIR/src/netcanary" run "$@"
        ;;
test)
        ensure_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
        # The deploy tests validate manifests with npm's kubernetes-models (lock file pinned).
        if [ ! -d tests/deploy/node_modules ]; then
                log "installing the deploy tests' npm packages"
                npm ci --prefix tests/deploy --no-audit --no-fund >&2
        fi
        status=0
        build "$BUILD_DIR" -Dtests=enabled
        rm -f "$BUILD_DIR/meson-logs/testlog.json" "$ASAN_DIR/meson-logs/testlog.json"
        log "test suite (release build)"
        meson test -C "$BUILD_DIR" --print-errorlogs --num-processes 2 "$@" || status=$?
        # The same suites once more with AddressSanitizer and UBSan (not the
        # benchmarks, valgrind's memcheck, or the deploy artefacts, which do not
        # exercise the binary differently, the soak, whose budgets are for release
        # builds, the bounded fuzzing, whose clang build is ASan+UBSan already, or
        # the build-packages check, which builds its own release tree, or the
        # image, which holds deploy/image.sh's release binary either way).
        build "$ASAN_DIR" -Dtests=enabled -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
        log "test suite (ASan + UBSan build)"
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
                meson test -C "$ASAN_DIR" --print-errorlogs --num-processes 2 \
                --no-suite bench --no-suite memcheck --no-suite deploy --no-suite soak --no-suite fuzzing --no-suite build \
                --no-suite image "$@" || status=$?
        summarize "$BUILD_DIR/meson-logs/testlog.json" "$ASAN_DIR/meson-logs/testlog.json" || status=1
        exit "$status"
        ;;
image)
        ensure_packages "${BUILD_PACKAGES[@]}" "${IMAGE_PACKAGES[@]}"
        exec deploy/image.sh "$@"
        ;;
*)
        sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
esac
