#!/usr/bin/env bash
# The run path needs only the build packages (issue "Ship it" §1): a fresh
# build directory, configured with the default -Dtests=auto while pkg-config
# sees only the .pc files that dev.sh's BUILD_PACKAGES and their dependencies
# install, must configure (without the test suites: no cmocka), build the
# daemon and run it; asking for -Dtests=enabled there must fail naming cmocka.
# On a Debian machine where every test package is installed this stands in for
# the fresh machine of `./dev.sh run`.
#
# Needs: dpkg, apt-cache (Debian), meson, ninja. Exit 77 (skip) without dpkg.
set -euo pipefail
SOURCE_ROOT=${SOURCE_ROOT:?SOURCE_ROOT must name the source tree}
command -v dpkg-query >/dev/null && command -v apt-cache >/dev/null || { echo "SKIP: not a Debian system"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/netcanary-build-pkgs.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# BUILD_PACKAGES=( ... ) as dev.sh defines it (one array over a few lines).
eval "$(sed -n '/^BUILD_PACKAGES=(/,/)/p' "$SOURCE_ROOT/dev.sh")"
[ "${#BUILD_PACKAGES[@]}" -gt 0 ] || fail "no BUILD_PACKAGES=(...) in dev.sh"
for p in "${BUILD_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
                fail "build package $p is not installed (dev.sh installs it)"
done

# The packages these pull in (Depends and Pre-Depends, recursively), as installed.
mapfile -t closure < <(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
        --no-breaks --no-replaces --no-enhances "${BUILD_PACKAGES[@]}" 2>/dev/null |
        grep -v '^[ <]' | sed 's/:.*//' | sort -u)
mkdir -p "$work/pkgconfig" "$work/bin"
n_pc=0
for p in "${closure[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || continue
        while read -r f; do
                case "$f" in */pkgconfig/*.pc) ;; *) continue ;; esac
                [ -f "$f" ] || continue
                ln -sf "$f" "$work/pkgconfig/$(basename "$f")"
                n_pc=$((n_pc + 1))
        done < <(dpkg -L "$p" 2>/dev/null)
done
echo "build packages: ${BUILD_PACKAGES[*]}"
echo "their closure: ${#closure[@]} packages, $n_pc pkg-config files"
[ ! -e "$work/pkgconfig/cmocka.pc" ] || fail "cmocka.pc is in the build packages' closure: the proof would prove nothing"

# meson also looks dependencies up with cmake: a cmake that does not work
# leaves pkg-config as the only way, so nothing outside the list is found.
printf '#!/bin/sh\necho "cmake hidden by tests/build" >&2\nexit 1\n' > "$work/bin/cmake"
chmod +x "$work/bin/cmake"
export PATH="$work/bin:$PATH" PKG_CONFIG_LIBDIR="$work/pkgconfig" PKG_CONFIG_PATH=

echo "--- meson setup (default options) with only those"
meson setup "$work/build" "$SOURCE_ROOT" --buildtype=release > "$work/setup.log" 2>&1 ||
        { cat "$work/setup.log"; fail "meson setup failed with only the build packages"; }
grep -q "tests not built" "$work/setup.log" || { cat "$work/setup.log"; fail "setup did not say the tests are not built"; }
ninja -C "$work/build" > "$work/ninja.log" 2>&1 || { tail -30 "$work/ninja.log"; fail "ninja failed"; }
[ ! -e "$work/build/tests" ] || fail "a tests/ build directory exists although cmocka is not visible"
"$work/build/src/netcanary" --version
"$work/build/src/netcanary" check --config "$SOURCE_ROOT/probes/seed-scenario.json" > /dev/null ||
        fail "the daemon built from the build packages rejects the seed scenario"

echo "--- -Dtests=enabled must fail there, naming cmocka"
if meson setup "$work/build-tests" "$SOURCE_ROOT" -Dtests=enabled > "$work/setup2.log" 2>&1; then
        fail "-Dtests=enabled configured without cmocka"
fi
grep -qi "cmocka" "$work/setup2.log" || { cat "$work/setup2.log"; fail "the error does not name cmocka"; }
echo "PASS: the daemon configures, builds and runs with only the build packages"
