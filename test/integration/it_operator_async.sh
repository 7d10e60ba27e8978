#!/bin/bash
# End to end, asynchronous and failing broker operations: the async plan
# (202 + last_operation polling with Retry-After), an operator SIGKILLed
# in the middle of an async provision resuming the same operation (the
# broker holds exactly one instance and got exactly one PUT), a failing
# provision with orphan mitigation and no re-provision loop, and leader
# election (lease held, released on SIGTERM), the broker down then back and
# --namespace. Processes are separate and
# stopped by PID in the EXIT trap.
set -u
cd "$(dirname "$0")/../.."
. test/integration/lib/apiserver.sh
. test/integration/lib/broker.sh

test_init
trap 'broker_stop; test_cleanup' EXIT
start_apiserver || { not_ok "dtk-apiserver starts"; finish; exit 1; }
broker_start || { not_ok "test broker starts"; finish; exit 1; }

OPLOG="$TEST_DIR/operator.log"
start_operator() {
    "$DTK_BIN/dtk-operator" --kubeconfig "$KUBECONFIG" --namespace default \
        "$@" --health-probe-bind-address 127.0.0.1:0 --metrics-bind-address 0 \
        --log-level debug 2>>"$OPLOG" &
    OPERATOR_PID=$!
    TEST_PIDS+=("$OPERATOR_PID")
}
k() { kubectl --request-timeout=30s "$@"; }
jp() { k get "$1" -o "jsonpath=$2" 2>/dev/null; }
state() { curl -s --max-time 5 "$BROKER_URL/test/state"; }
requests() { curl -s --max-time 5 "$BROKER_URL/test/requests"; }
cond_is() {
    [ "$(jp "$1" "{.status.conditions[?(@.type==\"$2\")].status}")" == "$3" ]
}

k apply -f crds/ >/dev/null
k create secret generic broker-auth --from-literal=username="$BROKER_USER" \
    --from-literal=password="$BROKER_PASSWORD" >/dev/null
start_operator
cat <<EOT | k apply -f - >/dev/null
apiVersion: dtk.io/v1alpha1
kind: Target
metadata: {name: local}
spec:
  brokers: [{name: main, url: "$BROKER_URL", authSecretRef: {name: broker-auth}}]
---
apiVersion: dtk.io/v1alpha1
kind: Assembly
metadata: {name: asyncdb}
spec:
  parameters: [{name: polls, type: integer, default: 1}]
  components:
  - name: db
    service: {class: dtk-test-db, plan: async, parameters: {polls: "\${parameters.polls}"}}
---
apiVersion: dtk.io/v1alpha1
kind: Assembly
metadata: {name: faildb}
spec:
  components:
  - name: db
    service: {class: dtk-test-db, plan: small, parameters: {fail: true}}
  - name: cache
    service: {class: dtk-test-db, plan: small, parameters: {size: "\${components.db.outputs.instanceID}"}}
EOT

# Only the watched namespace is reconciled.
k create namespace other >/dev/null
cat <<EOT | k apply -n other -f - >/dev/null
apiVersion: dtk.io/v1alpha1
kind: Assembly
metadata: {name: ignored}
spec:
  components: [{name: db, service: {class: dtk-test-db, plan: small}}]
EOT

# 1. Async plan: provision and bind through last_operation polling.
cat <<EOT | k apply -f - >/dev/null
apiVersion: dtk.io/v1alpha1
kind: ServiceInstance
metadata: {name: slow}
spec: {assemblyRef: {name: asyncdb}, targetRef: {name: local}}
EOT
check "async instance becomes Ready" k wait --for=condition=Ready si/slow --timeout=60s
iid=$(jp si/slow '{.status.components[0].instanceID}')
expect_eq "broker instance is ready" "ready" "$(state | jq -r --arg i "$iid" '.instances[$i].status')"
polls=$(requests | jq '[.requests[] | select(.path | test("last_operation"))] | length')
if [ "$polls" -ge 2 ]; then ok "last_operation was polled ($polls polls)"; else not_ok "last_operation was polled" "$polls"; fi
expect_eq "the operation id was sent percent-encoded" "true" \
    "$(requests | jq '[.requests[] | select(.path | test("service_instances/[^/]*/last_operation")) | .query | test("operation=[^&]*%")] | all')"
check "async binding Secret written" k get secret slow-db

# 2. SIGKILL mid async provision: the restarted operator resumes polling.
curl -s -X DELETE "$BROKER_URL/test/requests" >/dev/null
cat <<EOT | k apply -f - >/dev/null
apiVersion: dtk.io/v1alpha1
kind: ServiceInstance
metadata: {name: resume}
spec: {assemblyRef: {name: asyncdb}, targetRef: {name: local}, parameters: {polls: 4}}
EOT
check "async provision in flight" wait_for "polling" 30 \
    bash -c "[ \"\$(kubectl get si resume -o jsonpath='{.status.components[0].polling}')\" == true ]"
{ kill -9 "$OPERATOR_PID"; wait "$OPERATOR_PID"; } 2>/dev/null
start_operator
check "restarted operator finishes the provision" k wait --for=condition=Ready si/resume --timeout=90s
rid=$(jp si/resume '{.status.components[0].instanceID}')
expect_eq "exactly one PUT for the instance" "1" \
    "$(requests | jq --arg i "$rid" '[.requests[] | select(.method=="PUT" and (.path | endswith("service_instances/" + $i)))] | length')"
expect_eq "broker holds two instances (slow, resume)" "2" "$(state | jq '.instances | length')"

# 3. A failing provision: orphan mitigation, Failed, dependents Blocked,
#    no automatic re-provision.
curl -s -X DELETE "$BROKER_URL/test/requests" >/dev/null
cat <<EOT | k apply -f - >/dev/null
apiVersion: dtk.io/v1alpha1
kind: ServiceInstance
metadata: {name: broken}
spec: {assemblyRef: {name: faildb}, targetRef: {name: local}}
EOT
check "failing provision ends Failed" wait_for "Failed" 60 \
    bash -c "[ \"\$(kubectl get si broken -o jsonpath='{.status.phase}')\" == Failed ]"
fid=$(jp si/broken '{.status.components[?(@.name=="db")].instanceID}')
expect_eq "orphan mitigated: broker does not hold the failed instance" "null" \
    "$(state | jq -c --arg i "$fid" '.instances[$i]')"
expect_eq "dependent component is Blocked" "Blocked" "$(jp si/broken '{.status.components[?(@.name=="cache")].state}')"
expect_match "Ready message names the component and the broker answer" "component 'db'.*500" \
    "$(jp si/broken '{.status.conditions[?(@.type=="Ready")].message}')"
expect_eq "Stalled is True" "True" "$(jp si/broken '{.status.conditions[?(@.type=="Stalled")].status}')"
check "a Warning Event tells the user" bash -c "kubectl get events --field-selector involvedObject.name=broken -o jsonpath='{.items[*].reason}' | grep -q ProvisionFailed"
sleep 3
expect_eq "no re-provision loop (one PUT)" "1" \
    "$(requests | jq --arg i "$fid" '[.requests[] | select(.method=="PUT" and (.path | endswith("service_instances/" + $i)))] | length')"

# 4. Broker down, then back: the Target goes Ready=False, instances wait
#    without sending anything, and continue once the broker answers again.
curl -s -X POST -H 'Content-Type: application/json' "$BROKER_URL/test/faults" \
    -d '{"method":"GET","path":"/catalog","status":503,"times":-1,"body":{"description":"down for maintenance"}}' >/dev/null
k annotate target local dtk.io/refresh-requested-at=1 >/dev/null
check "broker down: target Ready False" wait_for "target down" 30 cond_is target/local Ready False
expect_match "target message names the broker and the failure" "broker 'main'.*503" \
    "$(jp target/local '{.status.conditions[?(@.type=="Ready")].message}')"
curl -s -X DELETE "$BROKER_URL/test/requests" >/dev/null
cat <<EOT | k apply -f - >/dev/null
apiVersion: dtk.io/v1alpha1
kind: ServiceInstance
metadata: {name: later}
spec: {assemblyRef: {name: asyncdb}, targetRef: {name: local}, parameters: {polls: 1}}
EOT
check "instance waits for the target" wait_for "TargetReady False" 30 cond_is si/later TargetReady False
expect_eq "nothing sent to the broker meanwhile" "0" \
    "$(requests | jq '[.requests[] | select(.path | startswith("/v2/service_instances"))] | length')"
curl -s -X DELETE "$BROKER_URL/test/faults" >/dev/null
k annotate target local dtk.io/refresh-requested-at=2 --overwrite >/dev/null
check "broker back: target Ready again" wait_for "target up" 30 cond_is target/local Ready True
check "the waiting instance converges" k wait --for=condition=Ready si/later --timeout=60s

# 5. Teardown polls async deletes; the broker ends empty.
k delete si slow resume broken later --timeout=90s >/dev/null
check "instances are gone" wait_for "gone" 60 bash -c "[ -z \"\$(kubectl get si -o name)\" ]"
expect_eq "broker holds no instance or binding" '0 0' "$(state | jq -r '"\(.instances|length) \(.bindings|length)"')"

expect_eq "objects outside --namespace are left alone" "" "$(k get -n other assembly ignored -o jsonpath='{.status}')"

# 6. Leader election: the lease is held, and SIGTERM releases it.
kill -TERM "$OPERATOR_PID"
wait "$OPERATOR_PID"
expect_eq "operator exits 0 on SIGTERM" "0" "$?"
start_operator --leader-elect --leader-election-namespace default
check "leader election: the lease is held" wait_for "lease" 30 \
    bash -c "[ -n \"\$(kubectl get lease dtk-operator-leader -o jsonpath='{.spec.holderIdentity}')\" ]"
kill -TERM "$OPERATOR_PID"
wait "$OPERATOR_PID"
expect_eq "leader exits 0 on SIGTERM" "0" "$?"
expect_eq "lease released on shutdown" "" "$(jp lease/dtk-operator-leader '{.spec.holderIdentity}')"
finish
