#!/bin/bash
# `make lint`: the house rules a grep can check (STYLE.md), then clang-tidy
# with .clang-tidy when LINT_TIDY=1 (slow). `make check-deps` runs only the
# include-direction rules.
set -u
cd "$(dirname "$0")/.."
fail=0
report() { echo "lint: $1"; echo "$2" | sed 's/^/    /'; fail=1; }

deps() {
    local out
    out=$(git grep -nE '#include "(controller|cmd)/' -- 'pkg/*.c' 'pkg/*.h')
    [ -n "$out" ] && report "pkg/ must not include controller/ or cmd/" "$out"
    out=$(git grep -nE '#include "cmd/' -- 'controller/*.c' 'controller/*.h')
    [ -n "$out" ] && report "controller/ must not include cmd/" "$out"
    out=$(git grep -nE '#include "pkg/([a-z]+)/[a-z_]+_int\.h"' -- '*.c' '*.h' |
        awk -F: '{ split($1, p, "/"); m = $3; sub(/.*#include "pkg\//, "", m); sub(/\/.*/, "", m);
                   if (!(p[1] == "pkg" && p[2] == m)) print }')
    [ -n "$out" ] && report "a module's _int.h is private to its folder" "$out"
    out=$(git grep -nE '#include <(curl|microhttpd)' -- '*.c' '*.h' | grep -vE '^pkg/(http|httpserver)/')
    [ -n "$out" ] && report "libcurl/libmicrohttpd only in pkg/http and pkg/httpserver" "$out"
}

deps
if [ "${1:-}" != deps ]; then
    out=$(git grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|strncpy)\(' -- '*.c' '*.h' | grep -v '^pkg/base/')
    [ -n "$out" ] && report "banned functions (STYLE.md)" "$out"
    out=$(git grep -nE '(^|[^_a-z])(malloc|calloc|realloc|free|strdup)\(' -- '*.c' | grep -vE '^pkg/base/alloc\.c|dtk_(malloc|calloc|realloc|free|strdup)|_free\(|yajl|curl_|MHD_|protobuf_c|//|/\*|^\S+:\s*\*')
    [ -n "$out" ] && report "raw allocator calls outside pkg/base" "$out"
    out=$(git grep -nE '(^|[^_a-z])exit\(' -- 'pkg/*.c' 'controller/*.c')
    [ -n "$out" ] && report "exit() outside cmd/" "$out"
    if [ "${LINT_TIDY:-}" = 1 ]; then
        make -s all >/dev/null || fail=1
        clang-tidy --quiet $(git ls-files 'pkg/*.c' 'controller/*.c' 'cmd/*.c') -- \
            -std=c11 -D_POSIX_C_SOURCE=200809L -I. -Ibuild/gen \
            $(pkg-config --cflags libcurl yajl yaml-0.1 libmicrohttpd openssl) || fail=1
    fi
fi
[ "$fail" -eq 0 ] && echo "lint: ok"
exit "$fail"
