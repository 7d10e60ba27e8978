# Shell harness for end-to-end scripts: the @sap/sbf test broker on
# 127.0.0.1. Source it from the repository root, then:
#
#   broker_start            # sets BROKER_PID BROKER_PORT BROKER_URL
#                           # BROKER_USER BROKER_PASSWORD BROKER_DIR
#   trap broker_stop EXIT   # always stop it by PID, also on failure
#   curl -s "$BROKER_URL/test/state"
#
# Options (environment, before broker_start): BROKER_TOKEN (also accept
# this bearer token), BROKER_TLS_CERT/BROKER_TLS_KEY (serve HTTPS).
# The broker also watches this shell's PID and exits when it is gone.
# Never print BROKER_PASSWORD.

broker_start() {
    local deadline port
    sh test/broker/ensure.sh || return 1
    BROKER_DIR=$(mktemp -d /tmp/dtk-broker-XXXXXX)
    BROKER_USER=broker
    BROKER_PASSWORD="pw-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    local args=(--port 0 --port-file "$BROKER_DIR/port" --parent-pid "$$")
    local scheme=http
    if [ -n "${BROKER_TLS_CERT:-}" ]; then
        args+=(--tls-cert "$BROKER_TLS_CERT" --tls-key "$BROKER_TLS_KEY")
        scheme=https
    fi
    DTK_BROKER_PASSWORD="$BROKER_PASSWORD" DTK_BROKER_TOKEN="${BROKER_TOKEN:-}" \
        node test/broker/server.js "${args[@]}" >"$BROKER_DIR/broker.log" 2>&1 &
    BROKER_PID=$!
    deadline=$((SECONDS + 60))
    while [ ! -s "$BROKER_DIR/port" ]; do
        if ! kill -0 "$BROKER_PID" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
            echo "broker.sh: the test broker did not start" >&2
            cat "$BROKER_DIR/broker.log" >&2
            broker_stop
            return 1
        fi
        sleep 0.1
    done
    port=$(cat "$BROKER_DIR/port")
    BROKER_PORT=$port
    BROKER_URL="$scheme://127.0.0.1:$port"
    until curl -ksf -o /dev/null --max-time 2 "$BROKER_URL/health"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "broker.sh: the test broker is not healthy" >&2
            broker_stop
            return 1
        fi
        sleep 0.1
    done
    export BROKER_PID BROKER_PORT BROKER_URL BROKER_USER BROKER_PASSWORD BROKER_DIR
}

broker_stop() {
    local i
    if [ -n "${BROKER_PID:-}" ]; then
        kill "$BROKER_PID" 2>/dev/null || true
        for i in $(seq 1 50); do
            kill -0 "$BROKER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$BROKER_PID" 2>/dev/null || true
        wait "$BROKER_PID" 2>/dev/null || true
        BROKER_PID=
    fi
    if [ -n "${BROKER_DIR:-}" ]; then
        rm -rf "$BROKER_DIR"
        BROKER_DIR=
    fi
}
