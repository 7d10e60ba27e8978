#!/bin/bash
# End to end: dtk-apiserver, the @sap/sbf test broker and dtk-operator as
# separate processes (stopped by PID in the EXIT trap, also on failure),
# driven with kubectl. Service components only (containers: part 2).
# Credentials are compared, never printed.
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
    "$DTK_BIN/dtk-operator" --kubeconfig "$KUBECONFIG" --workers 2 \
        --health-probe-bind-address 127.0.0.1:0 --metrics-bind-address 0 \
        --log-level debug 2>>"$OPLOG" &
    OPERATOR_PID=$!
    TEST_PIDS+=("$OPERATOR_PID")
}
k() { kubectl --request-timeout=30s "$@"; }
jp() { k get "$1" -o "jsonpath=$2" 2>/dev/null; }
state() { curl -s --max-time 5 "$BROKER_URL/test/state"; }
cond_is() { # kind/name type status
    [ "$(jp "$1" "{.status.conditions[?(@.type==\"$2\")].status}")" == "$3" ]
}
secret_key() { # secret key
    k get secret "$1" -o "jsonpath={.data.$2}" | base64 -d
}

check "CRDs apply" k apply -f crds/
k create secret generic broker-auth --from-literal=username="$BROKER_USER" \
    --from-literal=password="$BROKER_PASSWORD" >/dev/null
start_operator
sed "s#BROKER_URL#$BROKER_URL#" deploy/examples/*.yaml | k apply -f - >/dev/null

# 1. Target: catalog published, Ready.
check "target becomes Ready" k wait --for=condition=Ready target/local --timeout=60s
expect_eq "target publishes the allowed catalog" "dtk-test-db" \
    "$(jp target/local '{.status.catalog[0].services[*].name}')"
expect_eq "catalog lists the plans" "small async unbindable" \
    "$(jp target/local '{.status.catalog[0].services[0].plans[*].name}')"

# 2. The example instance converges: provision + bind + Secret.
check "assembly is Ready with its revision" k wait --for=condition=Ready assembly/database --timeout=30s
check "serviceinstance becomes Ready" k wait --for=condition=Ready serviceinstance/demo --timeout=60s
iid=$(jp serviceinstance/demo '{.status.components[0].instanceID}')
bid=$(jp serviceinstance/demo '{.status.components[0].bindingID}')
expect_match "instance id is a UUID in status" '^[0-9a-f-]{36}$' "$iid"
expect_eq "broker holds the instance with the merged parameters" '{"replicas":2,"size":"small"}' \
    "$(state | jq -c --arg i "$iid" '.instances[$i].parameters')"
uri=$(secret_key demo-db uri)
expect_eq "binding Secret demo-db holds the broker's credentials" "testdb://127.0.0.1:5432/$bid" "$uri"
expect_eq "binding Secret has servicebinding.io type" "dtk-test-db" "$(secret_key demo-db type)"
expect_eq "aggregated Secret named in status.binding" "demo-binding" "$(jp serviceinstance/demo '{.status.binding.name}')"
if [ "$(secret_key demo-binding uri)" == "$uri" ]; then ok "aggregated Secret carries the credentials"; else not_ok "aggregated Secret carries the credentials"; fi
expect_eq "sensitive output is redacted in status" "(sensitive)" "$(jp serviceinstance/demo '{.status.outputs.uri}')"
expect_eq "plain output resolved" "$iid" "$(jp serviceinstance/demo '{.status.outputs.db}')"
expect_eq "Secret is controlled by the instance" "ServiceInstance true" \
    "$(jp secret/demo-db '{.metadata.ownerReferences[0].kind} {.metadata.ownerReferences[0].controller}')"
pw=$(secret_key demo-db password)
if k get serviceinstance demo -o yaml | grep -qF "$pw" || grep -qF "$pw" "$OPLOG" \
    || k get events -o yaml | grep -qF "$pw"; then
    not_ok "no credential in status, events or logs"
else
    ok "no credential in status, events or logs"
fi
rv=$(jp serviceinstance/demo '{.metadata.resourceVersion}')
sleep 2
expect_eq "no status write when nothing changed" "$rv" "$(jp serviceinstance/demo '{.metadata.resourceVersion}')"

# 3. A parameter change reaches the broker as an update.
curl -s -X DELETE "$BROKER_URL/test/requests" >/dev/null
k patch serviceinstance demo --type merge -p '{"spec":{"parameters":{"replicas":3}}}' >/dev/null
check "update reaches the broker" wait_for "replicas 3" 30 \
    bash -c "curl -s $BROKER_URL/test/state | jq -e '.instances[\"$iid\"].parameters.replicas == 3'"
expect_eq "update sent as PATCH with previous_values" "PATCH plan-sync" \
    "$(curl -s "$BROKER_URL/test/requests" | jq -r '[.requests[] | select(.method=="PATCH")][0] | "\(.method) \(.body.previous_values.plan_id)"')"
check "instance Ready again at generation 2" wait_for "observedGeneration 2" 30 \
    bash -c "[ \"\$(kubectl get si demo -o jsonpath='{.status.observedGeneration} {.status.phase}')\" == '2 Ready' ]"

# 4. Manual converge policy: staged with a plan until asked.
cat <<EOT | k apply -f - >/dev/null
apiVersion: dtk.io/v1alpha1
kind: ServiceInstance
metadata: {name: manual}
spec:
  assemblyRef: {name: database}
  targetRef: {name: local}
  convergePolicy: Manual
EOT
check "manual instance is Staged" wait_for "phase Staged" 30 \
    bash -c "[ \"\$(kubectl get si manual -o jsonpath='{.status.phase}')\" == Staged ]"
expect_eq "staged plan says create" "db create" \
    "$(jp serviceinstance/manual '{.status.plan[0].component} {.status.plan[0].action}')"
expect_eq "nothing provisioned while staged" "1" "$(state | jq '.instances | length')"
k annotate serviceinstance manual dtk.io/converge-requested-at=now-1 >/dev/null
check "converge request converges the manual instance" k wait --for=condition=Ready serviceinstance/manual --timeout=60s
expect_eq "lastHandledConvergeRequest echoes the annotation" "now-1" \
    "$(jp serviceinstance/manual '{.status.lastHandledConvergeRequest}')"
expect_eq "broker now holds two instances" "2" "$(state | jq '.instances | length')"

# 5. An Assembly edit raises UpdateAvailable and changes nothing while Pinned.
rev=$(jp serviceinstance/demo '{.status.assemblyRevision}')
k patch assembly database --type json \
    -p '[{"op":"replace","path":"/spec/components/0/service/parameters/size","value":"large"}]' >/dev/null
check "pinned instance raises UpdateAvailable" wait_for "UpdateAvailable" 30 cond_is serviceinstance/demo UpdateAvailable True
expect_eq "pinned revision unchanged" "$rev" "$(jp serviceinstance/demo '{.status.assemblyRevision}')"
expect_eq "broker parameters unchanged while pinned" '"small"' \
    "$(state | jq -c --arg i "$iid" '.instances[$i].parameters.size')"
check "ControllerRevision snapshot exists" k get controllerrevision "demo-$rev"
k annotate serviceinstance demo dtk.io/upgrade-requested-at=up-1 >/dev/null
check "upgrade request takes the new revision" wait_for "new revision" 30 \
    bash -c "[ \"\$(kubectl get si demo -o jsonpath='{.status.assemblyRevision}')\" != '$rev' ]"
check "the new revision reaches the broker" wait_for "size large" 30 \
    bash -c "curl -s $BROKER_URL/test/state | jq -e '.instances[\"$iid\"].parameters.size == \"large\"'"

# 6. Bad input gives clear conditions.
cat <<EOT | k apply -f - >/dev/null
apiVersion: dtk.io/v1alpha1
kind: ServiceInstance
metadata: {name: bad}
spec:
  assemblyRef: {name: database}
  targetRef: {name: local}
  parameters: {size: huge}
---
apiVersion: dtk.io/v1alpha1
kind: ServiceInstance
metadata: {name: nosecret}
spec:
  assemblyRef: {name: database}
  targetRef: {name: local}
  parametersFrom: [{secretKeyRef: {name: missing-secret, key: size}}]
---
apiVersion: dtk.io/v1alpha1
kind: ServiceInstance
metadata: {name: notarget}
spec:
  assemblyRef: {name: database}
  targetRef: {name: nowhere}
EOT
cat <<EOT | k apply -f - >/dev/null
apiVersion: dtk.io/v1alpha1
kind: Assembly
metadata: {name: cyclic}
spec:
  components:
  - {name: a, service: {class: dtk-test-db, plan: small}, dependsOn: [b]}
  - {name: b, service: {class: dtk-test-db, plan: small}, dependsOn: [a]}
---
apiVersion: dtk.io/v1alpha1
kind: ServiceInstance
metadata: {name: oncyclic}
spec:
  assemblyRef: {name: cyclic}
  targetRef: {name: local}
EOT
check "invalid assembly: Ready False" wait_for "cyclic" 30 cond_is assembly/cyclic Ready False
expect_match "assembly message names the cycle" "cycle" \
    "$(jp assembly/cyclic '{.status.conditions[?(@.type=="Ready")].message}')"
check "instance on an invalid assembly: AssemblyResolved False" wait_for "oncyclic" 30 \
    cond_is serviceinstance/oncyclic AssemblyResolved False
expect_eq "reason InvalidAssembly" "InvalidAssembly" \
    "$(jp serviceinstance/oncyclic '{.status.conditions[?(@.type=="AssemblyResolved")].reason}')"
# Container components are staged and reported, not silently skipped.
cat <<EOT | k apply -f - >/dev/null
apiVersion: dtk.io/v1alpha1
kind: Assembly
metadata: {name: withweb}
spec:
  components:
  - {name: db, service: {class: dtk-test-db, plan: small}}
  - {name: web, container: {image: "busybox:1", env: {DB: "\${components.db.credentials.uri}"}}}
---
apiVersion: dtk.io/v1alpha1
kind: ServiceInstance
metadata: {name: web}
spec:
  assemblyRef: {name: withweb}
  targetRef: {name: local}
EOT
check "container component: Ready False ContainersNotSupported" wait_for "web" 60 bash -c \
    "[ \"\$(kubectl get si web -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].reason}')\" == ContainersNotSupported ]"
expect_match "message says containers need part 2" "component 'web': container components need operator part 2" \
    "$(jp serviceinstance/web '{.status.conditions[?(@.type=="Ready")].message}')"
expect_eq "the service component still converged" "Ready" "$(jp serviceinstance/web '{.status.components[?(@.name=="db")].state}')"
expect_eq "the plan lists the container" "web create" \
    "$(jp serviceinstance/web '{.status.plan[1].component} {.status.plan[1].action}')"
# A new revision without a component deletes it (plan action delete).
wdb=$(jp serviceinstance/web '{.status.components[?(@.name=="db")].instanceID}')
k patch assembly withweb --type merge \
    -p '{"spec":{"components":[{"name":"db2","service":{"class":"dtk-test-db","plan":"small"}}]}}' >/dev/null
k annotate serviceinstance web dtk.io/upgrade-requested-at=up-1 >/dev/null
check "upgraded instance converges without the container" k wait --for=condition=Ready serviceinstance/web --timeout=60s
expect_eq "removed component deprovisioned at the broker" "null" "$(state | jq -c --arg i "$wdb" '.instances[$i]')"
check "removed component's Secret is deleted" wait_for "web-db gone" 30 bash -c "! kubectl get secret web-db >/dev/null 2>&1"
expect_eq "status lists only the new component" "db2" "$(jp serviceinstance/web '{.status.components[*].name}')"
check "invalid parameter: ParametersValid False" wait_for "bad" 30 cond_is serviceinstance/bad ParametersValid False
expect_match "message names the parameter" "parameter size" \
    "$(jp serviceinstance/bad '{.status.conditions[?(@.type=="Ready")].message}')"
expect_eq "invalid parameters stall" "True" "$(jp serviceinstance/bad '{.status.conditions[?(@.type=="Stalled")].status}')"
check "missing Secret: ParametersValid False" wait_for "nosecret" 30 cond_is serviceinstance/nosecret ParametersValid False
expect_match "message names the Secret" "secret 'missing-secret' not found" \
    "$(jp serviceinstance/nosecret '{.status.conditions[?(@.type=="ParametersValid")].message}')"
check "missing Target: TargetReady False" wait_for "notarget" 30 cond_is serviceinstance/notarget TargetReady False
expect_match "message names the Target" "target 'nowhere' not found" \
    "$(jp serviceinstance/notarget '{.status.conditions[?(@.type=="TargetReady")].message}')"
k create secret generic missing-secret --from-literal=size=large >/dev/null
check "creating the Secret unblocks the instance" k wait --for=condition=Ready serviceinstance/nosecret --timeout=60s

expect_eq "catalog not fetched again for instance events" "0" \
    "$(curl -s "$BROKER_URL/test/requests" | jq '[.requests[] | select(.path == "/v2/catalog")] | length')"

# A Target with a wrong password: Ready False, no credential in the message.
k create secret generic wrong-auth --from-literal=username=broker \
    --from-literal=password=not-the-password-42 >/dev/null
cat <<EOT | k apply -f - >/dev/null
apiVersion: dtk.io/v1alpha1
kind: Target
metadata: {name: wrong}
spec:
  brokers: [{name: main, url: "$BROKER_URL", authSecretRef: {name: wrong-auth}}]
EOT
check "wrong credentials: target Ready False" wait_for "wrong" 30 cond_is target/wrong Ready False
msg=$(jp target/wrong '{.status.conditions[?(@.type=="Ready")].message}')
expect_match "message names the broker and the refusal" "broker 'main'.*401" "$msg"
if [[ "$msg" == *not-the-password-42* ]]; then not_ok "no password in the message"; else ok "no password in the message"; fi

# 7. Layering: an instance staged on another instance; the parent waits
#    for its children. deletionPolicy Orphan forgets the broker resources.
cat <<EOT | k apply -f - >/dev/null
apiVersion: dtk.io/v1alpha1
kind: ServiceInstance
metadata: {name: child}
spec:
  assemblyRef: {name: database}
  targetRef: {kind: ServiceInstance, name: demo}
---
apiVersion: dtk.io/v1alpha1
kind: ServiceInstance
metadata: {name: keep}
spec:
  assemblyRef: {name: database}
  targetRef: {name: local}
  deletionPolicy: Orphan
EOT
check "layered instance becomes Ready on its parent" k wait --for=condition=Ready serviceinstance/child --timeout=60s
check "orphan-policy instance becomes Ready" k wait --for=condition=Ready serviceinstance/keep --timeout=60s
kid=$(jp serviceinstance/keep '{.status.components[0].instanceID}')
kbid=$(jp serviceinstance/keep '{.status.components[0].bindingID}')
k delete serviceinstance keep --timeout=30s >/dev/null
expect_eq "Orphan: the broker keeps the instance after delete" "ready" \
    "$(state | jq -r --arg i "$kid" '.instances[$i].status')"
# Clean the orphan up by hand, as its owner would.
osb() { curl -s -o /dev/null -w '%{http_code}' -u "$BROKER_USER:$BROKER_PASSWORD" -H 'X-Broker-API-Version: 2.17' -X DELETE "$BROKER_URL/v2/service_instances/$1?service_id=svc-db&plan_id=plan-sync"; }
curl -s -o /dev/null -u "$BROKER_USER:$BROKER_PASSWORD" -H 'X-Broker-API-Version: 2.17' -X DELETE \
    "$BROKER_URL/v2/service_instances/$kid/service_bindings/$kbid?service_id=svc-db&plan_id=plan-sync"
expect_eq "orphaned instance removed by hand" "200" "$(osb "$kid")"
k delete serviceinstance demo --wait=false >/dev/null
check "parent with children: deletion waits" wait_for "ChildrenExist" 30 \
    bash -c "[ \"\$(kubectl get si demo -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].reason}')\" == ChildrenExist ]"
k delete serviceinstance child --timeout=60s >/dev/null

# 8. Deletion: a Target in use waits; instances tear down.
k delete target local --wait=false >/dev/null
check "target in use: deletion waits with InUse" wait_for "InUse" 30 cond_is target/local InUse True
expect_match "InUse lists the instances" "manual" "$(jp target/local '{.status.conditions[?(@.type=="InUse")].message}')"
k delete serviceinstance demo manual bad nosecret notarget oncyclic web --ignore-not-found --timeout=60s >/dev/null
check "instances are gone" wait_for "instances gone" 30 \
    bash -c "[ -z \"\$(kubectl get si -o name)\" ]"
expect_eq "broker holds no instance or binding" '0 0' "$(state | jq -r '"\(.instances|length) \(.bindings|length)"')"
check "binding Secrets are garbage-collected" wait_for "secrets gone" 30 \
    bash -c "! kubectl get secret demo-db demo-binding manual-db >/dev/null 2>&1"
check "unused target is deleted" wait_for "target gone" 30 \
    bash -c "! kubectl get target local >/dev/null 2>&1"

# 9. SIGTERM: the operator stops cleanly and promptly.
start=$SECONDS
kill -TERM "$OPERATOR_PID"
wait "$OPERATOR_PID"
rc=$?
expect_eq "operator exits 0 on SIGTERM" "0" "$rc"
if [ $((SECONDS - start)) -le 30 ]; then ok "shutdown within 30 s"; else not_ok "shutdown within 30 s"; fi
if grep -q 'level=error' "$OPLOG" && grep 'level=error' "$OPLOG" | grep -qv 'reconcile\|Reconciler error'; then
    not_ok "no unexpected error lines" "$(grep 'level=error' "$OPLOG" | head -3)"
else
    ok "no unexpected error lines"
fi
finish
