#!/bin/bash
# End to end: kubectl (v1.32) sends the built-in kinds of `kubectl create`
# as application/vnd.kubernetes.protobuf. dtk-apiserver must store them as
# the objects a JSON client would have created, and say clearly what it
# cannot decode. Prints "ok - ..." / "not ok - ..." per check; secret values
# are compared, never printed.
set -u

bin=${DTK_BIN:-$PWD/build/bin}
fixtures=$PWD/test/fixtures/proto
work=$(mktemp -d)
server_pid=""

cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT

failures=0
ok() { echo "ok - $1"; }
not_ok() {
    echo "not ok - $1"
    failures=$((failures + 1))
}
# check NAME EXPECTED ACTUAL: values are shown on failure only when
# SHOW is not "hidden".
check() {
    if [ "$2" = "$3" ]; then
        ok "$1"
    elif [ "${4:-}" = hidden ]; then
        not_ok "$1 (value differs)"
    else
        not_ok "$1 (expected '$2', got '$3')"
    fi
}

"$bin/dtk-apiserver" --address 127.0.0.1 --port 0 \
    --port-file "$work/port" --kubeconfig-out "$work/kubeconfig" \
    >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
    [ -s "$work/port" ] && [ -s "$work/kubeconfig" ] && break
    sleep 0.1
done
if ! [ -s "$work/port" ]; then
    not_ok "dtk-apiserver started (no port file after 30s)"
    sed 's/^/# /' "$work/server.log"
    exit 1
fi
port=$(cat "$work/port")
server=http://127.0.0.1:$port

k() {
    kubectl --kubeconfig "$work/kubeconfig" --cache-dir "$work/cache" \
        --request-timeout=30s "$@"
}
# k_ok NAME ARGS...: runs kubectl, reporting its failure (with its output).
k_ok() {
    local name=$1
    shift
    if k "$@" >"$work/out" 2>&1; then
        ok "$name"
    else
        not_ok "$name: $(tr '\n' ' ' <"$work/out")"
    fi
}
get() { k get "$@" 2>&1; }

secret_pw='it-pa55word-only-for-tests'
printf '\x00\x01\xfe\xff binary \x80' >"$work/blob.bin"

# Namespace.
k_ok "kubectl create namespace" create namespace it-proto
check "namespace stored" it-proto \
    "$(get namespace it-proto -o jsonpath='{.metadata.name}')"
check "namespace is Active" Active \
    "$(get namespace it-proto -o jsonpath='{.status.phase}')"
created=$(get namespace it-proto -o jsonpath='{.metadata.creationTimestamp}')
if [[ "$created" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$ ]]; then
    ok "namespace creationTimestamp set by the server"
else
    not_ok "namespace creationTimestamp set by the server (got '$created')"
fi

# Secret from literals: values come back base64 and decode to the input.
k_ok "kubectl create secret generic" create secret generic it-secret \
    -n it-proto --from-literal=user=admin --from-literal=password="$secret_pw"
check "secret password round-trips" "$secret_pw" \
    "$(get secret it-secret -n it-proto -o jsonpath='{.data.password}' |
        base64 -d 2>/dev/null)" hidden
check "secret user round-trips" admin \
    "$(get secret it-secret -n it-proto -o jsonpath='{.data.user}' |
        base64 -d 2>/dev/null)"
check "secret type defaulted" Opaque \
    "$(get secret it-secret -n it-proto -o jsonpath='{.type}')"

# Secret from a binary file with a custom type.
k_ok "kubectl create secret generic --from-file (binary)" create secret \
    generic it-blob -n it-proto --type=example.com/blob \
    --from-file=blob="$work/blob.bin"
get secret it-blob -n it-proto -o jsonpath='{.data.blob}' |
    base64 -d 2>/dev/null >"$work/blob.out"
if cmp -s "$work/blob.bin" "$work/blob.out"; then
    ok "binary secret value round-trips"
else
    not_ok "binary secret value round-trips"
fi
check "secret type kept" example.com/blob \
    "$(get secret it-blob -n it-proto -o jsonpath='{.type}')"

# ConfigMap: text in data, bytes in binaryData.
k_ok "kubectl create configmap" create configmap it-cm -n it-proto \
    --from-literal=greeting='hello world' --from-file=blob="$work/blob.bin"
check "configmap data" "hello world" \
    "$(get configmap it-cm -n it-proto -o jsonpath='{.data.greeting}')"
get configmap it-cm -n it-proto -o jsonpath='{.binaryData.blob}' |
    base64 -d 2>/dev/null >"$work/cm.out"
if cmp -s "$work/blob.bin" "$work/cm.out"; then
    ok "configmap binaryData round-trips"
else
    not_ok "configmap binaryData round-trips"
fi

# ServiceAccount.
k_ok "kubectl create serviceaccount" create serviceaccount it-sa -n it-proto
check "serviceaccount stored" it-sa \
    "$(get serviceaccount it-sa -n it-proto -o jsonpath='{.metadata.name}')"

# A second create is refused by the store, not by the decoder.
if k create secret generic it-secret -n it-proto \
    --from-literal=user=x >"$work/out" 2>&1; then
    not_ok "duplicate create refused"
elif grep -q 'already exists' "$work/out"; then
    ok "duplicate create refused as AlreadyExists"
else
    not_ok "duplicate create refused as AlreadyExists: $(cat "$work/out")"
fi

# PUT accepts protobuf too: replace the Secret captured from kubectl.
curl_pb() {
    curl -sS --max-time 30 -o "$work/body" -w '%{http_code}' -X "$1" \
        -H 'Content-Type: application/vnd.kubernetes.protobuf' \
        -H 'Accept: application/json' --data-binary "@$2" "$server$3"
}
code=$(curl_pb POST "$fixtures/secret.pb" /api/v1/namespaces/default/secrets)
check "protobuf POST of a captured Secret" 201 "$code"
code=$(curl_pb PUT "$fixtures/secret.pb" \
    /api/v1/namespaces/default/secrets/proto-secret)
check "protobuf PUT of the same Secret" 200 "$code"
check "replaced secret keeps its data" admin \
    "$(get secret proto-secret -n default -o jsonpath='{.data.user}' |
        base64 -d 2>/dev/null)"

# Bodies that cannot be decoded get a 400 that says why.
printf 'k8s\0\x0a\xff\xff\xff\xff\x0f' >"$work/garbage.pb"
code=$(curl_pb POST "$work/garbage.pb" /api/v1/namespaces/default/configmaps)
check "garbage protobuf body is a 400" 400 "$code"
if grep -q 'runtime.Unknown envelope could not be decoded' "$work/body"; then
    ok "garbage protobuf body is explained"
else
    not_ok "garbage protobuf body is explained: $(cat "$work/body")"
fi

# Stop the server here (the trap covers early exits) and check it exits
# cleanly: under `make asan` a leak in the decode path fails this.
kill "$server_pid" 2>/dev/null
wait "$server_pid"
rc=$?
server_pid=""
if [ "$rc" -eq 0 ] && ! grep -q Sanitizer "$work/server.log"; then
    ok "dtk-apiserver stops cleanly"
else
    not_ok "dtk-apiserver stops cleanly (exit $rc)"
    sed 's/^/# /' "$work/server.log" | tail -20
fi
exit $((failures > 0))
