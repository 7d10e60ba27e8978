#!/bin/bash
# A private Docker Engine for the tests: its own socket, data root, exec root,
# bridge and TLS listener, all under one temporary directory, stopped by PID.
#
# Two ways to use it:
#
#   Sourced by a shell test:
#       . test/integration/lib/dockerd.sh
#       dtk_dockerd_start || { echo "SKIP: $DTK_DOCKERD_SKIP_REASON"; exit 0; }
#       trap dtk_dockerd_stop EXIT
#       docker -H "$DTK_DOCKER_HOST" run "$DTK_DOCKER_TEST_IMAGE" echo hi
#
#   Run by the C harness (test/support/dockerd.c) as a guardian process:
#       bash test/integration/lib/dockerd.sh serve
#   It prints key=value lines ending with "ready" (or "skip=<reason>") on
#   stdout, then waits until its stdin reaches end of file (the test process
#   closed the pipe or died) or it gets SIGTERM, and tears everything down.
#
# What works on a Debian bookworm VM as root (found by trying):
#   --iptables=false --ip-masq=false --ip-forward=false: this daemon never
#       touches the host's iptables, so it cannot disturb (or be disturbed by)
#       another dockerd that manages iptables; published ports still work on
#       127.0.0.1 through docker-proxy (--userland-proxy=true), and the
#       embedded DNS of user networks (127.0.0.11, set up inside the
#       container's namespace) still resolves aliases.
#   --bridge <own bridge>: dockerd only creates "docker0" by itself, so the
#       harness creates a bridge named dtkbr<pid> with a free 10.213.N.0/24
#       and deletes it afterwards; --default-address-pool 10.214.0.0/16 keeps
#       user networks away from the usual 172.17+ pools (dockerd still skips
#       subnets that overlap a host route).
#   --config-file <empty>: /etc/docker/daemon.json never applies.
#   --shutdown-timeout 2: teardown never waits 10 s per running container.
#
# Exported after dtk_dockerd_start succeeds:
#   DTK_DOCKERD_DIR, DTK_DOCKERD_PID, DTK_DOCKER_HOST (unix://...),
#   DTK_DOCKER_TLS_HOST (tcp://127.0.0.1:<port>, TLS with client
#   certificates), DTK_DOCKER_TLS_DIR (ca.pem, cert.pem, key.pem: the CA
#   and a client identity the engine accepts; wrong-ca.pem/wrong-cert.pem
#   (the same self-signed certificate) and wrong-key.pem: one it refuses),
#   DTK_DOCKER_TEST_IMAGE (busybox root filesystem imported locally).
#
# Sourced mode cleans up from the EXIT trap, which a SIGKILL skips; serve
# mode does not depend on the test process at all (its stdin closes).

DTK_DOCKER_TEST_IMAGE_NAME=${DTK_DOCKER_TEST_IMAGE_NAME:-dtk-test/busybox:latest}
DTK_DOCKERD_START_TIMEOUT=${DTK_DOCKERD_START_TIMEOUT:-60}

dtk__dockerd_log() {
    echo "dockerd.sh: $*" >&2
}

# The Engine API over the private socket with curl (a Go CLI start-up costs
# a second on a busy VM): dtk__dockerd_api METHOD PATH [curl args...]
dtk__dockerd_api() {
    local method=$1 path=$2
    shift 2
    curl -sf --max-time 60 --unix-socket "$DTK_DOCKERD_DIR/docker.sock" \
        -X "$method" "$@" "http://localhost/v1.41$path"
}

# Ids ("Id":"...") in an API answer, one per line.
dtk__dockerd_ids() {
    grep -o '"Id":"[0-9a-f]*"' | sed 's/"Id":"\(.*\)"/\1/'
}

# Checks what the machine must offer; sets DTK_DOCKERD_SKIP_REASON.
dtk__dockerd_preflight() {
    local c
    if [ "$(id -u)" -ne 0 ]; then
        DTK_DOCKERD_SKIP_REASON="dockerd needs root (uid $(id -u))"
        return 1
    fi
    for c in dockerd containerd runc docker-proxy ip openssl tar curl perl; do
        if ! command -v "$c" >/dev/null 2>&1; then
            DTK_DOCKERD_SKIP_REASON="'$c' not found (scripts/deps.sh test installs docker.io, iproute2, curl)"
            return 1
        fi
    done
    DTK__BUSYBOX=$(command -v busybox || true)
    if [ -z "$DTK__BUSYBOX" ] || ldd "$DTK__BUSYBOX" >/dev/null 2>&1; then
        DTK_DOCKERD_SKIP_REASON="a static busybox is needed (Debian package busybox-static)"
        return 1
    fi
    return 0
}

# Picks 10.213.N.0/24 that no host route covers or contains.
dtk__dockerd_pick_subnet() {
    local n i net
    n=$(( $$ % 250 ))
    for i in $(seq 0 249); do
        net="10.213.$(( (n + i) % 250 + 1 )).0/24"
        if [ -z "$(ip -4 route show match "$net" | grep -v '^default')" ] &&
           [ -z "$(ip -4 route show root "$net")" ]; then
            echo "$net"
            return 0
        fi
    done
    return 1
}

dtk__dockerd_free_port() {
    local p i
    for i in $(seq 1 50); do
        p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 30000 ))
        if ! ss -Htln "sport = :$p" | grep -q .; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# CA, server certificate for 127.0.0.1 and client certificate signed by it;
# plus a self-signed certificate that serves both as the "wrong CA" and as
# the "wrong client identity". Six openssl runs: process start-up is the
# cost on a busy VM.
dtk__dockerd_certs() {
    local d=$1 ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
    mkdir -p "$d" || return 1
    (
        set -e
        cd "$d"
        printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
        printf 'extendedKeyUsage=clientAuth\n' >client.ext
        # shellcheck disable=SC2086
        openssl req -x509 $ec -keyout ca-key.pem -out ca.pem -days 2 -subj /CN=dtk-test-ca 2>/dev/null
        # shellcheck disable=SC2086
        openssl req -new $ec -keyout server-key.pem -out server.csr -subj /CN=127.0.0.1 2>/dev/null
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
            -out server-cert.pem -days 2 -extfile server.ext 2>/dev/null
        # shellcheck disable=SC2086
        openssl req -new $ec -keyout key.pem -out client.csr -subj /CN=dtk-test-client 2>/dev/null
        openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
            -out cert.pem -days 2 -extfile client.ext 2>/dev/null
        # shellcheck disable=SC2086
        openssl req -x509 $ec -keyout wrong-key.pem -out wrong-cert.pem -days 2 \
            -subj /CN=dtk-wrong -addext extendedKeyUsage=clientAuth,serverAuth 2>/dev/null
        cp wrong-cert.pem wrong-ca.pem
    )
}

# A root filesystem with the static busybox and a link for every applet.
dtk__dockerd_image() {
    local root="$DTK_DOCKERD_DIR/rootfs" a
    mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/www" "$root/data" || return 1
    cp "$DTK__BUSYBOX" "$root/bin/busybox" || return 1
    # One link per applet, made by one process (perl-base is Essential in
    # Debian): forking ln 268 times costs seconds on a busy VM.
    (cd "$root/bin" && perl -e 'for (@ARGV) { next if $_ eq "busybox"; symlink("busybox", $_) or die "$_: $!\n" }' \
        $(./busybox --list)) || return 1
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
    chmod 1777 "$root/tmp"
    tar --numeric-owner --owner=0 --group=0 -C "$root" -cf "$DTK_DOCKERD_DIR/rootfs.tar" . || return 1
    # docker import: POST /images/create?fromSrc=- with the tar as body.
    dtk__dockerd_api POST "/images/create?fromSrc=-&repo=${DTK_DOCKER_TEST_IMAGE_NAME%:*}&tag=${DTK_DOCKER_TEST_IMAGE_NAME##*:}&changes=CMD%20%5B%22sh%22%5D" \
        -H 'Content-Type: application/x-tar' --data-binary "@$DTK_DOCKERD_DIR/rootfs.tar" \
        >"$DTK_DOCKERD_DIR/import.log" || return 1
    grep -q '"status":"sha256:' "$DTK_DOCKERD_DIR/import.log" || return 1
    rm -rf "$root" "$DTK_DOCKERD_DIR/rootfs.tar"
    DTK_DOCKER_TEST_IMAGE=$DTK_DOCKER_TEST_IMAGE_NAME
}

dtk__dockerd_fail() {
    DTK_DOCKERD_SKIP_REASON=$1
    if [ -n "${DTK_DOCKERD_DIR:-}" ] && [ -s "$DTK_DOCKERD_DIR/dockerd.log" ]; then
        DTK_DOCKERD_SKIP_REASON="$1; dockerd log: $(grep -E 'level=(error|fatal)|failed' "$DTK_DOCKERD_DIR/dockerd.log" | tail -3 | tr '\n' ' ')"
    fi
    dtk_dockerd_stop
    return 1
}

dtk_dockerd_start() {
    local subnet gw port deadline
    export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"
    DTK_DOCKERD_SKIP_REASON=""
    dtk__dockerd_preflight || return 1
    DTK_DOCKERD_DIR=$(mktemp -d /tmp/dtkd.XXXXXX) || {
        DTK_DOCKERD_SKIP_REASON="cannot create a temporary directory"
        return 1
    }
    DTK_DOCKER_HOST="unix://$DTK_DOCKERD_DIR/docker.sock"
    DTK_DOCKER_TLS_DIR="$DTK_DOCKERD_DIR/tls"
    DTK_DOCKERD_BRIDGE="dtkbr$$"
    subnet=$(dtk__dockerd_pick_subnet) || { dtk__dockerd_fail "no free subnet in 10.213.0.0/16"; return 1; }
    gw="${subnet%.0/24}.1"
    if ! ip link add name "$DTK_DOCKERD_BRIDGE" type bridge 2>"$DTK_DOCKERD_DIR/ip.err"; then
        dtk__dockerd_fail "cannot create bridge $DTK_DOCKERD_BRIDGE: $(head -1 "$DTK_DOCKERD_DIR/ip.err")"
        return 1
    fi
    DTK__BRIDGE_CREATED=1
    ip addr add "$gw/24" dev "$DTK_DOCKERD_BRIDGE" && ip link set "$DTK_DOCKERD_BRIDGE" up ||
        { dtk__dockerd_fail "cannot configure bridge $DTK_DOCKERD_BRIDGE"; return 1; }
    dtk__dockerd_certs "$DTK_DOCKER_TLS_DIR" || { dtk__dockerd_fail "openssl could not make test certificates"; return 1; }
    port=$(dtk__dockerd_free_port) || { dtk__dockerd_fail "no free TCP port"; return 1; }
    DTK_DOCKER_TLS_HOST="tcp://127.0.0.1:$port"
    echo '{}' >"$DTK_DOCKERD_DIR/daemon.json"
    dockerd --config-file "$DTK_DOCKERD_DIR/daemon.json" \
        --host "$DTK_DOCKER_HOST" --host "$DTK_DOCKER_TLS_HOST" \
        --tlsverify --tlscacert "$DTK_DOCKER_TLS_DIR/ca.pem" \
        --tlscert "$DTK_DOCKER_TLS_DIR/server-cert.pem" \
        --tlskey "$DTK_DOCKER_TLS_DIR/server-key.pem" \
        --data-root "$DTK_DOCKERD_DIR/data" --exec-root "$DTK_DOCKERD_DIR/exec" \
        --pidfile "$DTK_DOCKERD_DIR/docker.pid" \
        --bridge "$DTK_DOCKERD_BRIDGE" --iptables=false --ip-masq=false \
        --ip-forward=false --userland-proxy=true \
        --default-address-pool base=10.214.0.0/16,size=24 \
        --shutdown-timeout 2 --log-level warn \
        </dev/null >"$DTK_DOCKERD_DIR/dockerd.log" 2>&1 &
    DTK_DOCKERD_PID=$!
    deadline=$(( SECONDS + DTK_DOCKERD_START_TIMEOUT ))
    until curl -sf --max-time 2 --unix-socket "$DTK_DOCKERD_DIR/docker.sock" \
            http://localhost/_ping >/dev/null 2>&1; do
        if ! kill -0 "$DTK_DOCKERD_PID" 2>/dev/null; then
            dtk__dockerd_fail "dockerd exited during startup"
            return 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            dtk__dockerd_fail "dockerd did not answer within ${DTK_DOCKERD_START_TIMEOUT}s"
            return 1
        fi
        sleep 0.1
    done
    dtk__dockerd_image || { dtk__dockerd_fail "docker import of the busybox image failed"; return 1; }
    export DTK_DOCKERD_DIR DTK_DOCKERD_PID DTK_DOCKER_HOST DTK_DOCKER_TLS_HOST \
        DTK_DOCKER_TLS_DIR DTK_DOCKER_TEST_IMAGE
    return 0
}

# Idempotent; safe after a partial start.
dtk_dockerd_stop() {
    local pid dir=${DTK_DOCKERD_DIR:-} i ids bridges="" m
    [ -n "$dir" ] || return 0
    pid=${DTK_DOCKERD_PID:-}
    if [ -z "$pid" ] && [ -s "$dir/docker.pid" ]; then
        pid=$(cat "$dir/docker.pid")
    fi
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        # What the tests left behind: containers first (so shutdown does not
        # wait for them), then networks (their bridges would outlive dockerd).
        for i in $(dtk__dockerd_api GET "/containers/json?all=1" | dtk__dockerd_ids); do
            dtk__dockerd_api DELETE "/containers/$i?force=1&v=1" >/dev/null
        done
        for i in $(dtk__dockerd_api GET "/networks" | dtk__dockerd_ids); do
            bridges="$bridges br-${i:0:12}"
        done
        dtk__dockerd_api POST /networks/prune >/dev/null
        kill -TERM "$pid" 2>/dev/null
        for i in $(seq 1 300); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            dtk__dockerd_log "dockerd $pid did not stop in 30s; killing it"
            kill -KILL "$pid" 2>/dev/null
        fi
        wait "$pid" 2>/dev/null
    fi
    # Mounts a crashed daemon may have left (overlay, netns, shm).
    for m in $(awk -v d="$dir/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
        umount -l "$m" 2>/dev/null
    done
    for i in $bridges; do
        ip link del "$i" 2>/dev/null
    done
    if [ -n "${DTK__BRIDGE_CREATED:-}" ]; then
        ip link del "$DTK_DOCKERD_BRIDGE" 2>/dev/null
        DTK__BRIDGE_CREATED=""
    fi
    rm -rf "$dir"
    DTK_DOCKERD_DIR=""
    DTK_DOCKERD_PID=""
}

dtk__dockerd_serve() {
    local stopping=0
    # Teardown runs once: on end of stdin, or on SIGTERM/SIGINT/SIGHUP (the
    # C harness sets PR_SET_PDEATHSIG=SIGTERM in case its thread dies).
    trap 'if [ $stopping = 0 ]; then stopping=1; dtk_dockerd_stop; fi; exit 0' TERM INT HUP
    if ! dtk_dockerd_start; then
        echo "skip=$DTK_DOCKERD_SKIP_REASON"
        exit 0
    fi
    echo "dir=$DTK_DOCKERD_DIR"
    echo "host=$DTK_DOCKER_HOST"
    echo "tls_host=$DTK_DOCKER_TLS_HOST"
    echo "tls_dir=$DTK_DOCKER_TLS_DIR"
    echo "image=$DTK_DOCKER_TEST_IMAGE"
    echo "pid=$DTK_DOCKERD_PID"
    echo "ready"
    while read -r _; do :; done
    stopping=1
    trap '' TERM INT HUP
    dtk_dockerd_stop
    exit 0
}

if [ "${1:-}" = serve ]; then
    dtk__dockerd_serve
fi
