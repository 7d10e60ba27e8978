# Shell harness for end-to-end tests (source it).
# start_apiserver [flags...]: runs dtk-apiserver on a free 127.0.0.1 port in
# $TEST_DIR, exports KUBECONFIG and APISERVER_URL; the EXIT trap set by
# test_init stops every process started here by PID.
# Results: ok "name" / not_ok "name" "why" print TAP-like lines the runner
# counts; finish prints the totals and sets the exit status.

: "${DTK_BIN:=$PWD/build/bin}"
TEST_PIDS=()
TEST_PASSED=0
TEST_FAILED=0

test_cleanup() {
    local pid
    for pid in "${TEST_PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "${TEST_PIDS[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if [ -n "${TEST_DIR:-}" ] && [ -z "${DTK_KEEP_TEST_DIRS:-}" ]; then
        rm -rf "$TEST_DIR"
    fi
}

test_init() {
    TEST_DIR=$(mktemp -d /tmp/dtk-it-XXXXXX)
    export HOME="$TEST_DIR/home"   # private kubectl discovery cache
    mkdir -p "$HOME"
    trap test_cleanup EXIT
}

start_apiserver() {
    local portfile="$TEST_DIR/apiserver.port"
    rm -f "$portfile"
    "$DTK_BIN/dtk-apiserver" --port 0 --port-file "$portfile" \
        --kubeconfig-out "$TEST_DIR/kubeconfig" "$@" \
        2>>"$TEST_DIR/apiserver.log" &
    APISERVER_PID=$!
    TEST_PIDS+=("$APISERVER_PID")
    for _ in $(seq 300); do
        if [ -s "$portfile" ] && curl -fsS "http://127.0.0.1:$(cat "$portfile")/healthz" >/dev/null 2>&1; then
            APISERVER_PORT=$(cat "$portfile")
            export APISERVER_URL="http://127.0.0.1:$APISERVER_PORT"
            export KUBECONFIG="$TEST_DIR/kubeconfig"
            return 0
        fi
        kill -0 "$APISERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "dtk-apiserver did not start; log:" >&2
    cat "$TEST_DIR/apiserver.log" >&2
    return 1
}

ok() { echo "ok - $1"; TEST_PASSED=$((TEST_PASSED + 1)); }
not_ok() { echo "not ok - $1${2:+: $2}"; TEST_FAILED=$((TEST_FAILED + 1)); }

# check "name" command...: ok when the command succeeds.
check() {
    local name=$1; shift
    local out
    if out=$("$@" 2>&1); then ok "$name"; else not_ok "$name" "$(echo "$out" | tail -3 | tr '\n' ' ')"; fi
}

# expect_eq "name" expected actual
expect_eq() {
    if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1" "expected '$2', got '$3'"; fi
}

# expect_match "name" regex actual
expect_match() {
    if [[ "$3" =~ $2 ]]; then ok "$1"; else not_ok "$1" "'$3' does not match '$2'"; fi
}

# wait_for "what" seconds command...: polls until the command succeeds.
wait_for() {
    local what=$1 secs=$2; shift 2
    local end=$((SECONDS + secs))
    while [ $SECONDS -lt $end ]; do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "timed out waiting for $what" >&2
    return 1
}

finish() {
    echo "# $TEST_PASSED passed, $TEST_FAILED failed"
    [ "$TEST_FAILED" -eq 0 ]
}
