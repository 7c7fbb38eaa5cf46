#!/usr/bin/env bash
# Installs (if missing) and starts the container engines the executor tests use, idempotently:
#   - Docker engine (apt docker.io), dockerd on unix:///var/run/docker.sock
#   - Podman 4.3 with runc (apt podman, runc), its Docker-compatible API service on
#     unix:///run/podman/podman.sock, configured by a containers.conf named by CONTAINERS_CONF
#   - the test image multiflexi-test/busybox:local (Docker) and
#     localhost/multiflexi-test/busybox:local (Podman), built from Debian's busybox-static
#     (no registry is reachable: nothing is pulled)
#
# Progress goes to stderr. On success stdout carries exactly:
#   MULTIFLEXI_TEST_DOCKER_HOST=unix:///var/run/docker.sock
#   MULTIFLEXI_TEST_PODMAN_HOST=unix:///run/podman/podman.sock
# so a caller can `eval "$(scripts/services/containers.sh | sed 's/^/export /')"`.
#
# Needs root (as on the project's machines and CI). Facts: ../../shared/SERVICES.md.
set -euo pipefail

DOCKER_SOCK=/var/run/docker.sock
PODMAN_SOCK=/run/podman/podman.sock
IMAGE=multiflexi-test/busybox:local
PODMAN_IMAGE=localhost/multiflexi-test/busybox:local
LOG_DIR=${MULTIFLEXI_SERVICES_LOG_DIR:-/var/log/multiflexi-services}
CONF_DIR=/etc/multiflexi
export CONTAINERS_CONF=${CONF_DIR}/containers.conf

log() { printf '[containers.sh] %s\n' "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

[ "$(id -u)" = 0 ] || die "must run as root (installs packages, starts dockerd and podman)"
mkdir -p "$LOG_DIR" "$CONF_DIR"
# The daemons inherit our working directory, and Podman's conmon writes files (e.g. `oom`) into
# it: never leave them in the caller's checkout.
mkdir -p /var/lib/multiflexi-services
cd /var/lib/multiflexi-services

# --- packages -------------------------------------------------------------------------------
APT_UPDATED=0
apt_retry() {
    # Another install may hold the dpkg / apt lists lock: wait for it (DPkg::Lock::Timeout),
    # and retry a few times should the lock still be contended.
    local try
    for try in 1 2 3 4 5 6 7 8 9 10; do
        if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 -q "$@" >&2; then
            return 0
        fi
        log "apt-get $* failed (try $try); waiting for a concurrent install to finish"
        sleep 10
    done
    return 1
}

ensure_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    if [ "$APT_UPDATED" = 0 ]; then
        log "apt-get update"
        apt_retry update || die "apt-get update failed"
        APT_UPDATED=1
    fi
    log "installing ${missing[*]}"
    apt_retry install -y --no-install-recommends "${missing[@]}" || die "could not install ${missing[*]}"
}

ensure_packages docker.io podman runc iptables
if [ ! -x /bin/busybox ]; then
    ensure_packages busybox-static
fi
[ -x /bin/busybox ] || die "/bin/busybox is missing after installing busybox-static"

# --- Podman configuration: runc (crun fails here), explicit ulimits, no systemd --------------
CONF_CHANGED=0
write_if_changed() {
    local path=$1 content=$2
    if [ ! -f "$path" ] || [ "$(cat "$path")" != "$content" ]; then
        printf '%s\n' "$content" >"$path"
        log "wrote $path"
        CONF_CHANGED=1
    fi
}
write_if_changed "$CONTAINERS_CONF" '# Written by scripts/services/containers.sh (multiflexi-rs test services).
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
# conmon stays out of the container'"'"'s cgroup parent, which holds only the job: the executor
# reads the job'"'"'s peak memory and CPU time there (multiflexi-executors/src/docker/usage.rs).
cgroups = "no-conmon"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"'

# --- wait helper -----------------------------------------------------------------------------
wait_for() {
    # wait_for <what> <seconds> <command...>
    local what=$1 secs=$2 i
    shift 2
    for ((i = 0; i < secs * 4; i++)); do
        if "$@" >/dev/null 2>&1; then
            log "$what is up"
            return 0
        fi
        sleep 0.25
    done
    return 1
}

ping_socket() { curl -sf --max-time 2 --unix-socket "$1" http://d/_ping >/dev/null 2>&1; }

# --- dockerd ---------------------------------------------------------------------------------
if ping_socket "$DOCKER_SOCK"; then
    log "dockerd already answers on $DOCKER_SOCK"
else
    log "starting dockerd"
    if [ -f /var/run/dockerd.pid ] && ! kill -0 "$(cat /var/run/dockerd.pid)" 2>/dev/null; then
        rm -f /var/run/dockerd.pid
    fi
    setsid nohup /usr/sbin/dockerd --data-root /var/lib/docker -H "unix://$DOCKER_SOCK" \
        --pidfile /var/run/dockerd.pid >>"$LOG_DIR/dockerd.log" 2>&1 </dev/null &
    wait_for dockerd 60 ping_socket "$DOCKER_SOCK" || {
        tail -n 30 "$LOG_DIR/dockerd.log" >&2 || true
        die "dockerd did not answer on $DOCKER_SOCK within 60 s (log: $LOG_DIR/dockerd.log)"
    }
fi

# --- podman API service ----------------------------------------------------------------------
# The service reads containers.conf when it starts: one started before the file changed is
# restarted.
if [ "$CONF_CHANGED" = 1 ] && ping_socket "$PODMAN_SOCK" && [ -f /run/podman/multiflexi-service.pid ]; then
    log "containers.conf changed: restarting the podman service"
    kill "$(cat /run/podman/multiflexi-service.pid)" 2>/dev/null || true
    for _ in $(seq 1 40); do ping_socket "$PODMAN_SOCK" || break; sleep 0.25; done
fi
if ping_socket "$PODMAN_SOCK"; then
    log "podman service already answers on $PODMAN_SOCK"
else
    log "starting podman system service"
    mkdir -p "$(dirname "$PODMAN_SOCK")"
    rm -f "$PODMAN_SOCK"
    setsid nohup podman system service --time=0 "unix://$PODMAN_SOCK" \
        >>"$LOG_DIR/podman.log" 2>&1 </dev/null &
    echo $! >/run/podman/multiflexi-service.pid
    wait_for "podman service" 60 ping_socket "$PODMAN_SOCK" || {
        tail -n 30 "$LOG_DIR/podman.log" >&2 || true
        die "podman service did not answer on $PODMAN_SOCK within 60 s (log: $LOG_DIR/podman.log)"
    }
fi

# --- test image ------------------------------------------------------------------------------
ROOTFS_TAR=""
rootfs_tar() {
    if [ -z "$ROOTFS_TAR" ]; then
        local dir
        dir=$(mktemp -d)
        mkdir -p "$dir/rootfs/bin" "$dir/rootfs/tmp" "$dir/rootfs/work"
        chmod 1777 "$dir/rootfs/tmp"
        cp /bin/busybox "$dir/rootfs/bin/busybox"
        tar -C "$dir/rootfs" -cf "$dir/busybox.tar" .
        ROOTFS_TAR="$dir/busybox.tar"
    fi
    printf '%s' "$ROOTFS_TAR"
}

if docker -H "unix://$DOCKER_SOCK" image inspect "$IMAGE" >/dev/null 2>&1; then
    log "docker image $IMAGE present"
else
    log "importing $IMAGE into docker"
    docker -H "unix://$DOCKER_SOCK" import "$(rootfs_tar)" "$IMAGE" >&2
fi

if podman image exists "$PODMAN_IMAGE"; then
    log "podman image $PODMAN_IMAGE present"
else
    log "importing $PODMAN_IMAGE into podman"
    podman import "$(rootfs_tar)" "$PODMAN_IMAGE" >&2
fi

if [ -n "$ROOTFS_TAR" ]; then
    rm -rf "$(dirname "$ROOTFS_TAR")"
fi

echo "MULTIFLEXI_TEST_DOCKER_HOST=unix://$DOCKER_SOCK"
echo "MULTIFLEXI_TEST_PODMAN_HOST=unix://$PODMAN_SOCK"
