#!/bin/sh
# Installs the Debian packages the build and the tests need, only when one is
# missing (idempotent: a machine that has them all runs no apt-get at all).
# Usage: scripts/deps.sh build|test|fuzz
set -eu

build_pkgs="gcc make pkg-config libcurl4-openssl-dev libyajl-dev libyaml-dev \
libmicrohttpd-dev libcmocka-dev libssl-dev protobuf-c-compiler libprotobuf-c-dev"
test_pkgs="curl docker.io busybox-static iproute2"
fuzz_pkgs="clang libclang-rt-14-dev"

case "${1:-build}" in
build) want="$build_pkgs" ;;
test) want="$build_pkgs $test_pkgs" ;;
fuzz) want="$build_pkgs $fuzz_pkgs" ;;
*) echo "deps.sh: unknown set '$1' (expected build, test or fuzz)" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
    esac
done
# Node.js may come from another repository (NodeSource ships npm inside its
# nodejs package), so the commands are checked rather than Debian's names.
if [ "${1:-build}" = test ] && ! command -v npm >/dev/null 2>&1; then
    missing="$missing nodejs npm"
fi
[ -z "$missing" ] && exit 0

echo "deps.sh: installing$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
if ! $SUDO apt-get install -y --no-install-recommends $missing >/dev/null; then
    $SUDO apt-get update >/dev/null
    # shellcheck disable=SC2086
    $SUDO apt-get install -y --no-install-recommends $missing >/dev/null
fi
