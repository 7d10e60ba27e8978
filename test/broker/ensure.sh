#!/bin/sh
# Installs the test broker's npm dependencies into test/broker/node_modules,
# only when they are missing (idempotent; a second run does nothing and needs
# no network). Uses the committed package-lock.json (npm ci), falling back to
# npm install. Concurrent callers wait on a lock.
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
ready() {
    [ -f "$dir/node_modules/@sap/sbf/package.json" ] &&
        [ -f "$dir/node_modules/express/package.json" ]
}
ready && exit 0
if ! command -v npm >/dev/null 2>&1; then
    echo "ensure.sh: npm not found (scripts/deps.sh test installs it)" >&2
    exit 1
fi
exec 9>"$dir/.install.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
fi
ready && exit 0
cd "$dir"
echo "ensure.sh: installing the test broker's npm packages" >&2
if ! npm ci --no-audit --no-fund --loglevel=error >&2; then
    npm install --no-audit --no-fund --loglevel=error >&2
fi
ready
