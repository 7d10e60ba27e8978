#!/bin/bash
# Runs every test binary and end-to-end script and prints one closing line,
# "N passed, N failed", counted per test case (cmocka cases, and the
# "ok"/"not ok" lines of the shell tests).
# Environment: DTK_BUILD (build directory), DTK_TEST_ONLY=unit|integration,
# DTK_TEST_FILTER (substring of the test file names to run).
set -u
build=${DTK_BUILD:-build}
only=${DTK_TEST_ONLY:-}
filter=${DTK_TEST_FILTER:-}
export DTK_BUILD="$build"
export DTK_BIN="$PWD/$build/bin"
passed=0
failed=0
failed_names=()
logdir="$build/test-logs"
mkdir -p "$logdir"

run_one() {
    local name=$1; shift
    local log="$logdir/$(basename "$name").log"
    local start=$SECONDS rc p f
    "$@" >"$log" 2>&1
    rc=$?
    if grep -q '^\[==========\]' "$log"; then
        p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
        f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
    else
        p=$(grep -c '^ok ' "$log")
        f=$(grep -c '^not ok ' "$log")
    fi
    p=${p:-0}; f=${f:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1   # a crash or a harness failure counts as a failure
    fi
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$f" -ne 0 ]; then
        failed_names+=("$name")
        echo "FAIL $name ($p passed, $f failed, $((SECONDS - start))s; log $log)"
        grep -E '^(not ok|\[  FAILED  \]|\[  ERROR   \])|ERROR: |runtime error|Sanitizer' "$log" | head -20 | sed 's/^/    /'
    else
        echo "ok   $name ($p passed, $((SECONDS - start))s)"
    fi
}

if [ "$only" != integration ]; then
    for t in "$build"/test/unit/test_*; do
        [ -x "$t" ] || continue
        [[ -n "$filter" && "$t" != *"$filter"* ]] && continue
        run_one "$t" "$t"
    done
fi
if [ "$only" != unit ]; then
    for t in "$build"/test/integration/test_*; do
        [ -x "$t" ] || continue
        [[ -n "$filter" && "$t" != *"$filter"* ]] && continue
        run_one "$t" "$t"
    done
    for t in test/integration/it_*.sh; do
        [ -f "$t" ] || continue
        [[ -n "$filter" && "$t" != *"$filter"* ]] && continue
        run_one "$t" bash "$t"
    done
fi
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
