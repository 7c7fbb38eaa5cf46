#!/usr/bin/env bash
# The chaos suite's own Docker engine, apart from the machine's (the suite stops and starts it):
#   scripts/chaos-dockerd.sh start   start it (idempotent) and import the busybox test image
#   scripts/chaos-dockerd.sh stop    stop it (SIGTERM to the pid in its pidfile, then wait)
#   scripts/chaos-dockerd.sh status  exit 0 when it answers
# Its own --data-root, --exec-root, socket and pidfile, its own bridge (mfxchaos0, no NAT) and no
# iptables rules, so it never touches the machine's network or the other suites' engine. (Not
# --bridge=none: with it, dockerd deletes the machine's docker0, which the main engine needs.)
# Needs root and dockerd (scripts/services/containers.sh installs docker.io).
set -euo pipefail
RUN=/run/multiflexi-chaos
SOCK=$RUN/docker.sock
PIDFILE=$RUN/dockerd.pid
DATA=/var/lib/multiflexi-chaos/docker
EXEC=$RUN/docker-exec
LOG=/var/log/multiflexi-chaos-dockerd.log
IMAGE=multiflexi-test/busybox:local
BRIDGE=mfxchaos0
BRIDGE_ADDR=172.31.251.1/24

log() { printf '[chaos-dockerd] %s\n' "$*" >&2; }
ping_socket() { curl -sf --max-time 2 --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; }

start() {
    mkdir -p "$RUN" "$DATA" "$EXEC"
    if ping_socket; then
        log "already answers on $SOCK"
    else
        if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
            log "pid $(cat "$PIDFILE") exists but does not answer yet"
        else
            rm -f "$PIDFILE" "$SOCK"
            if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
                ip link add "$BRIDGE" type bridge
                ip addr add "$BRIDGE_ADDR" dev "$BRIDGE"
            fi
            ip link set "$BRIDGE" up
            # from a directory of its own (containerd/runc may drop files into the cwd), and
            # holding none of our descriptors (a caller waiting for our output must not wait
            # for dockerd)
            cd "$RUN"
            setsid nohup /usr/sbin/dockerd --data-root "$DATA" --exec-root "$EXEC" \
                -H "unix://$SOCK" --pidfile "$PIDFILE" --bridge="$BRIDGE" --iptables=false \
                --ip6tables=false --ip-forward=false --ip-masq=false \
                >>"$LOG" 2>&1 </dev/null &
            cd - >/dev/null
        fi
        for _ in $(seq 1 240); do
            ping_socket && break
            sleep 0.25
        done
        ping_socket || { tail -n 30 "$LOG" >&2; log "ERROR: no answer on $SOCK within 60 s"; exit 1; }
        log "answers on $SOCK"
    fi
    if ! docker -H "unix://$SOCK" image inspect "$IMAGE" >/dev/null 2>&1; then
        [ -x /bin/busybox ] || { log "ERROR: /bin/busybox is missing (apt-get install busybox-static)"; exit 1; }
        local dir
        dir=$(mktemp -d)
        mkdir -p "$dir/rootfs/bin" "$dir/rootfs/tmp" "$dir/rootfs/work"
        chmod 1777 "$dir/rootfs/tmp"
        cp /bin/busybox "$dir/rootfs/bin/busybox"
        ln -s busybox "$dir/rootfs/bin/sh"
        tar -C "$dir/rootfs" -cf "$dir/busybox.tar" .
        docker -H "unix://$SOCK" import "$dir/busybox.tar" "$IMAGE" >&2
        rm -rf "$dir"
        log "imported $IMAGE"
    fi
}

stop() {
    if [ -f "$PIDFILE" ]; then
        local pid
        pid=$(cat "$PIDFILE")
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid"
            for _ in $(seq 1 120); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.25
            done
            if kill -0 "$pid" 2>/dev/null; then
                log "dockerd $pid still runs after 30 s: SIGKILL"
                kill -KILL "$pid" || true
            fi
        fi
        rm -f "$PIDFILE"
    fi
    log "stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) ping_socket ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
