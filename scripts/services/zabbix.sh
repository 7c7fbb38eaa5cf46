#!/usr/bin/env bash
# Installs (if missing) the real `zabbix_sender` the telemetry tests compare our Zabbix sender
# protocol against, idempotently. Debian ships it in the zabbix-agent package (nothing is started:
# the tests run their own in-process trapper).
#
# Progress goes to stderr. On success stdout carries exactly:
#   MULTIFLEXI_TEST_ZABBIX_SENDER=/usr/bin/zabbix_sender
# so a caller can `eval "$(scripts/services/zabbix.sh | sed 's/^/export /')"`.
#
# Needs root (as on the project's machines and CI).
set -euo pipefail

SENDER=/usr/bin/zabbix_sender

log() { printf '[zabbix.sh] %s\n' "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

apt_retry() {
    # Another install may hold the dpkg / apt lists lock: wait for it, retry a few times.
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

if [ -x "$SENDER" ]; then
    log "zabbix_sender already installed: $("$SENDER" -V 2>/dev/null | head -n1)"
else
    [ "$(id -u)" = 0 ] || die "must run as root to install zabbix-agent"
    log "apt-get update"
    apt_retry update || die "apt-get update failed"
    log "installing zabbix-agent (ships zabbix_sender)"
    # policy-rc.d keeps the package's agent service from being started.
    policy=/usr/sbin/policy-rc.d
    created_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod +x "$policy"
        created_policy=1
    fi
    status=0
    apt_retry install -y --no-install-recommends zabbix-agent || status=$?
    [ "$created_policy" = 1 ] && rm -f "$policy"
    [ "$status" = 0 ] || die "could not install zabbix-agent"
    [ -x "$SENDER" ] || die "$SENDER is missing after installing zabbix-agent"
    log "installed: $("$SENDER" -V 2>/dev/null | head -n1)"
fi

echo "MULTIFLEXI_TEST_ZABBIX_SENDER=$SENDER"
