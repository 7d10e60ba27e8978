#!/bin/bash
# Runs every benchmark binary (test/bench/bench_*.c, built by make) from the
# repository root and prints their "name: value unit" lines.
# Environment: DTK_BUILD (build directory), DTK_BENCH_FILTER (substring).
set -u
build=${DTK_BUILD:-build}
filter=${DTK_BENCH_FILTER:-}
rc=0
for b in "$build"/test/bench/bench_*; do
    [ -x "$b" ] || continue
    [[ -n "$filter" && "$b" != *"$filter"* ]] && continue
    echo "== $(basename "$b")"
    if ! "$b"; then
        echo "FAIL $b" >&2
        rc=1
    fi
done
exit $rc
