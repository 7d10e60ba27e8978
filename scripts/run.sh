#!/bin/bash
# `make run`: the quickstart on this machine with no cluster.
#
# Without KUBECONFIG it starts, on 127.0.0.1, the development API server
# (dtk-apiserver, data in build/run/data, fresh each run), the test Open
# Service Broker,
# and the operator (when it is built), applies the CRDs and the examples, and
# prints what to try next. Ctrl-C stops everything it started, by PID.
# With KUBECONFIG pointing at a real cluster it runs only the operator
# against that cluster.
set -u
cd "$(dirname "$0")/.."
BIN=${DTK_BUILD:-build}/bin
RUN=${DTK_RUN_DIR:-build/run}
PIDS=()
# A fresh state every run: the test broker keeps its instances in memory, so
# objects kept from an earlier run would point at broker state that is gone.
rm -rf "$RUN"
mkdir -p "$RUN"

stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null
    done
    echo "stopped."
}
trap stop_all EXIT
trap 'exit 0' INT TERM

if [ -n "${KUBECONFIG:-}" ]; then
    if [ ! -x "$BIN/dtk-operator" ]; then
        echo "run: the operator (cmd/dtk-operator) is not built yet" >&2
        exit 1
    fi
    exec "$BIN/dtk-operator" --kubeconfig "$KUBECONFIG"
fi

"$BIN/dtk-apiserver" --port 0 --port-file "$RUN/apiserver.port" \
    --kubeconfig-out "$RUN/kubeconfig" --data-dir "$RUN/data" \
    2>"$RUN/apiserver.log" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$RUN/apiserver.port" ] && break; sleep 0.05; done
export KUBECONFIG="$PWD/$RUN/kubeconfig"
kubectl apply -f crds/ >/dev/null || { echo "run: applying the CRDs failed" >&2; exit 1; }

. test/integration/lib/broker.sh
broker_start || exit 1
PIDS+=("$BROKER_PID")
kubectl create secret generic broker-auth --from-literal=username="$BROKER_USER" \
    --from-literal=password="$BROKER_PASSWORD" --dry-run=client -o yaml | kubectl apply -f - >/dev/null

if [ -x "$BIN/dtk-operator" ]; then
    "$BIN/dtk-operator" --kubeconfig "$KUBECONFIG" 2>"$RUN/operator.log" &
    PIDS+=($!)
    sed "s#BROKER_URL#$BROKER_URL#" deploy/examples/*.yaml | kubectl apply -f - >/dev/null
    kubectl wait --for=condition=Ready serviceinstance --all --timeout=60s
else
    echo "note: cmd/dtk-operator is not built in this version; the API server"
    echo "      and the broker run, the CRDs are installed."
fi
cat <<EOT

dtk-operator quickstart is running (Ctrl-C stops it):
  API server  $(cat "$RUN/apiserver.port" | sed 's/^/http:\/\/127.0.0.1:/')  (log $RUN/apiserver.log)
  broker      $BROKER_URL  (state: curl $BROKER_URL/test/state)

Try, in another shell:
  export KUBECONFIG=$KUBECONFIG
  kubectl get dtk
  kubectl api-resources --api-group=dtk.io
EOT
wait "${PIDS[0]}"
