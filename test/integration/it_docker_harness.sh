#!/bin/bash
# The dockerd test harness itself (test/integration/lib/dockerd.sh):
# a published port answers on 127.0.0.1, and when the test process dies
# without cleaning up (SIGKILL) the guardian still stops dockerd by PID and
# leaves no directory, bridge or mount behind.
set -u
cd "$(dirname "$0")/../.." || exit 1

passed=0
failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1${2:+: $2}"; failed=$((failed + 1)); }
finish() {
    echo "# $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

work=$(mktemp -d /tmp/dtk-it-docker-XXXXXX)
holder=""
guardian=""
cleanup() {
    # Only what this script started, by PID.
    [ -n "$holder" ] && kill -KILL "$holder" 2>/dev/null
    if [ -n "$guardian" ]; then
        for _ in $(seq 600); do
            kill -0 "$guardian" 2>/dev/null || break
            sleep 0.1
        done
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# Stand-in for a test process: "sleep" holds the write end of the guardian's
# stdin, like the C harness's pipe. Killing it is the crash.
mkfifo "$work/ctl"
bash test/integration/lib/dockerd.sh serve <"$work/ctl" >"$work/report" &
guardian=$!
sleep 100000 >"$work/ctl" &
holder=$!

for _ in $(seq 1200); do
    grep -qE '^(ready|skip=)' "$work/report" 2>/dev/null && break
    kill -0 "$guardian" 2>/dev/null || break
    sleep 0.1
done
if grep -q '^skip=' "$work/report"; then
    echo "SKIP: dockerd cannot run on this machine: $(sed -n 's/^skip=//p' "$work/report")"
    exit 0
fi
if ! grep -q '^ready' "$work/report"; then
    not_ok "harness starts dockerd" "$(cat "$work/report")"
    finish
    exit 1
fi
ok "harness starts dockerd"

dir=$(sed -n 's/^dir=//p' "$work/report")
host=$(sed -n 's/^host=//p' "$work/report")
image=$(sed -n 's/^image=//p' "$work/report")
pid=$(sed -n 's/^pid=//p' "$work/report")
bridge="dtkbr$guardian" # the script names it after its own PID
sock="${host#unix://}"
api() { # METHOD PATH [curl args]: the Engine API (curl starts faster than the CLI)
    local m=$1 p=$2
    shift 2
    curl -sf --max-time 60 --unix-socket "$sock" -X "$m" "$@" "http://localhost/v1.41$p"
}

# A running container with a published port (teardown must cope with it),
# and a user network (its bridge must not outlive the engine).
cid=$(api POST /containers/create -H 'Content-Type: application/json' \
    -d "{\"Image\":\"$image\",\"Cmd\":[\"sh\",\"-c\",\"echo published > /www/index.html && exec httpd -f -p 8080 -h /www\"],\"ExposedPorts\":{\"8080/tcp\":{}},\"HostConfig\":{\"PortBindings\":{\"8080/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"\"}]}}}" |
    sed -n 's/.*"Id":"\([0-9a-f]*\)".*/\1/p')
api POST "/containers/$cid/start" >/dev/null
port=$(api GET "/containers/$cid/json" | grep -o '"HostPort":"[0-9][0-9]*"' | head -1 | grep -o '[0-9]*')
body=""
for _ in $(seq 100); do
    body=$(curl -s --max-time 2 "http://127.0.0.1:$port/" 2>/dev/null) && [ -n "$body" ] && break
    sleep 0.1
done
if [ "$body" = published ]; then
    ok "a published port answers on 127.0.0.1 (busybox httpd)"
else
    not_ok "a published port answers on 127.0.0.1" "port '$port' body '$body' ($cid)"
fi
netid=$(api POST /networks/create -H 'Content-Type: application/json' \
    -d '{"Name":"dtk-it-harness","CheckDuplicate":true}' |
    sed -n 's/.*"Id":"\([0-9a-f]*\)".*/\1/p')
netbridge="br-${netid:0:12}"
if ip -o link show "$bridge" >/dev/null 2>&1 &&
   ip -o link show "$netbridge" >/dev/null 2>&1; then
    ok "the engine runs on its own bridge $bridge (user network on $netbridge)"
else
    not_ok "the engine runs on its own bridge" "$bridge / $netbridge missing"
fi

# The test process dies without a word.
{ kill -KILL "$holder" && wait "$holder"; } 2>/dev/null
holder=""
for _ in $(seq 600); do
    kill -0 "$guardian" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$guardian" 2>/dev/null; then
    not_ok "the guardian finishes after the test process died"
else
    ok "the guardian finishes after the test process died"
fi
guardian=""
if kill -0 "$pid" 2>/dev/null; then
    not_ok "dockerd is stopped" "pid $pid still runs"
else
    ok "dockerd is stopped"
fi
if [ -e "$dir" ]; then
    not_ok "its directory is removed" "$dir"
else
    ok "its directory is removed"
fi
if grep -q " $dir/" /proc/self/mountinfo; then
    not_ok "no mount is left under it"
else
    ok "no mount is left under it"
fi
if ip -o link show "$bridge" >/dev/null 2>&1 ||
   ip -o link show "$netbridge" >/dev/null 2>&1; then
    not_ok "its bridges are removed" "$bridge or $netbridge still exists"
else
    ok "its bridges are removed"
fi
finish
