#!/bin/bash
# Builds the OSB response-parser fuzz target with libFuzzer + ASan + UBSan
# and runs it for a bounded time (default 30 s).
# Usage: test/fuzz/run.sh [seconds]     (from anywhere; needs scripts/deps.sh fuzz)
# Output: build/fuzz/fuzz_osb; crashes land in build/fuzz/artifacts/.
# Ends with "1 passed, 0 failed" or "0 passed, 1 failed".
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-${DTK_FUZZ_SECONDS:-30}}
scripts/deps.sh fuzz
out=build/fuzz
mkdir -p "$out/corpus" "$out/artifacts"
srcs="test/fuzz/fuzz_osb.c pkg/osb/reply.c pkg/osb/classify.c \
pkg/osb/catalog.c pkg/osb/schema.c pkg/json/json.c pkg/base/alloc.c \
pkg/base/buf.c pkg/base/error.c pkg/base/log.c pkg/base/clock.c"
# shellcheck disable=SC2086
clang -std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -I. \
    $(pkg-config --cflags yajl) \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -o "$out/fuzz_osb" $srcs $(pkg-config --libs yajl) -lpthread
cp -n test/fuzz/corpus/* "$out/corpus/" 2>/dev/null || true
if "$out/fuzz_osb" "$out/corpus" -max_total_time="$seconds" \
    -max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$out/artifacts/" >"$out/fuzz.log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^#[0-9]+ +DONE' "$out/fuzz.log" | tail -2 || true
    echo "1 passed, 0 failed"
else
    tail -60 "$out/fuzz.log"
    echo "0 passed, 1 failed"
    exit 1
fi
