#!/usr/bin/env bash
# Runs one of the node scripts of tests/deploy (argument 1, relative to this
# directory) after making sure tests/deploy/node_modules holds exactly what
# package-lock.json pins: `npm ci` from the npm registry, once per lock file
# version (a stamp in node_modules remembers it), serialized with flock so
# parallel meson tests do not install over each other. Nothing is downloaded
# at test time once node_modules is in place (./dev.sh installs it up front).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

command -v node >/dev/null 2>&1 || { echo "FATAL: node not found (Node.js >= 18 with npm)" >&2; exit 1; }
command -v npm >/dev/null 2>&1 || { echo "FATAL: npm not found" >&2; exit 1; }

want=$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)
stamp=$here/node_modules/.netcanary-package-lock.sha256
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
        exec 9>"${TMPDIR:-/tmp}/netcanary-tests-deploy-npm.lock"
        flock -w 280 9 || { echo "FATAL: timed out waiting for another npm ci" >&2; exit 1; }
        if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
                echo "==> npm ci in $here" >&2
                (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) >&2
                echo "$want" >"$stamp"
        fi
        flock -u 9
fi

script=$1
shift
exec node "$here/$script" "$@"
