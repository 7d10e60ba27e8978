#!/bin/bash
# Runs every benchmark binary (test/bench/bench_*.c) and prints its figures.
# Figures are medians or ratios measured on this machine; see each bench's
# header comment for what it measures.
set -u
build=${DTK_BUILD:-build}
export DTK_BIN="$PWD/$build/bin"
rc=0
for b in "$build"/test/bench/bench_*; do
    [ -x "$b" ] || continue
    [[ -n "${DTK_BENCH_FILTER:-}" && "$b" != *"$DTK_BENCH_FILTER"* ]] && continue
    echo "== $(basename "$b")"
    "$b" || { echo "FAILED: $b"; rc=1; }
done
exit $rc
