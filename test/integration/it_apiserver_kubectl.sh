#!/bin/bash
# dtk-apiserver driven by real kubectl: CRDs from YAML, apply, schema
# rejections, watch events, the status subresource, finalizers, wait and
# printer columns.
set -u
cd "$(dirname "$0")/../.."
. test/integration/lib/apiserver.sh
test_init
start_apiserver --bookmark-interval 1 || exit 1
F=test/fixtures/apiserver
K() { kubectl --request-timeout=10s "$@"; }

check "CRD applies from YAML" K apply -f $F/gadgets-crd.yaml
check "CRD becomes Established" K wait --for condition=established --timeout=10s crd/gadgets.test.dtk.io
out=$(K api-resources --api-group=test.dtk.io --no-headers 2>&1)
expect_match "discovery lists the new resource with its short name" 'gadgets +gd +test.dtk.io/v1 +true +Gadget' "$out"

cat > "$TEST_DIR/g1.yaml" <<'Y'
apiVersion: test.dtk.io/v1
kind: Gadget
metadata: {name: g1}
spec: {size: 3}
Y
check "a valid custom resource applies" K apply -f "$TEST_DIR/g1.yaml"
expect_eq "the schema default is applied" "red" "$(K get gadget g1 -o jsonpath='{.spec.color}')"

cat > "$TEST_DIR/bad.yaml" <<'Y'
apiVersion: test.dtk.io/v1
kind: Gadget
metadata: {name: bad}
spec: {size: 0, color: green}
Y
out=$(K apply -f "$TEST_DIR/bad.yaml" 2>&1)
expect_match "a schema violation is rejected with the field named" 'spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1' "$out"
expect_match "an enum violation names the supported values" 'spec.color: Unsupported value: "green": supported values: "red", "blue"' "$out"

cat > "$TEST_DIR/unknown.yaml" <<'Y'
apiVersion: test.dtk.io/v1
kind: Gadget
metadata: {name: unknown}
spec: {size: 2, flavour: x}
Y
out=$(K apply -f "$TEST_DIR/unknown.yaml" 2>&1)
expect_match "strict field validation refuses unknown fields" 'unknown field "spec.flavour"' "$out"
check "without strict validation unknown fields are pruned" K apply --validate=false -f "$TEST_DIR/unknown.yaml"
expect_eq "the pruned field is gone" "" "$(K get gadget unknown -o jsonpath='{.spec.flavour}')"

# A watch with event types, running while we change things.
K get gadgets -w --output-watch-events > "$TEST_DIR/watch.out" 2>&1 &
WATCH_PID=$!
TEST_PIDS+=("$WATCH_PID")
sleep 1
check "the status subresource can be patched" K patch gadget g1 --subresource=status --type=merge -p '{"status":{"conditions":[{"type":"Ready","status":"True","reason":"Done"}]}}'
check "kubectl wait sees the condition" K wait --for=condition=Ready --timeout=10s gadget/g1
out=$(K get gadgets 2>&1)
expect_match "printer columns show spec and status fields" 'g1 +3 +red +True +[0-9]+s' "$out"
out=$(K get dtk 2>&1)
expect_match "the category lists the resource" 'g1 +3 +red' "$out"

check "a finalizer can be added" K patch gadget g1 --type=merge -p '{"metadata":{"finalizers":["test.dtk.io/hold"]}}'
K delete gadget g1 --wait=false >/dev/null 2>&1
ts=$(K get gadget g1 -o jsonpath='{.metadata.deletionTimestamp}' 2>&1)
expect_match "delete with a finalizer only marks the object" '^[0-9]{4}-' "$ts"
check "removing the finalizer completes the deletion" K patch gadget g1 --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]'
wait_for "g1 to disappear" 10 bash -c "! kubectl get gadget g1 >/dev/null 2>&1"
expect_eq "the object is gone" "1" "$(K get gadget g1 >/dev/null 2>&1; echo $?)"
sleep 1
kill "$WATCH_PID" 2>/dev/null
wait "$WATCH_PID" 2>/dev/null
w=$(cat "$TEST_DIR/watch.out")
expect_match "the watch saw the object added" 'ADDED +g1 ' "$w"
expect_match "the watch saw the status change" 'MODIFIED +g1 +3 +red +True' "$w"
expect_match "the watch saw the deletion" 'DELETED +g1 ' "$w"

check "a label selector lists by label" K label gadget unknown tier=web
expect_eq "selector match" "unknown" "$(K get gadgets -l 'tier in (web,db)' -o jsonpath='{.items[*].metadata.name}')"
expect_eq "selector non-match" "" "$(K get gadgets -l 'tier!=web' -o jsonpath='{.items[*].metadata.name}')"

check "a ConfigMap applies" K apply -f - <<'Y'
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {a: "1", b: "2"}
Y
check "re-applying without a key removes it (strategic merge patch)" K apply -f - <<'Y'
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {a: "1"}
Y
expect_eq "the removed key is gone" '{"a":"1"}' "$(K get cm cfg -o jsonpath='{.data}')"

check "the CRD can be deleted" K delete crd gadgets.test.dtk.io --timeout=20s
out=$(K get gadgets 2>&1)
expect_match "the resource is no longer served" "doesn't have a resource type|the server could not find" "$out"
finish
