#!/usr/bin/env bash
# Installs (if missing) headless Chromium and its WebDriver, chromium-driver, for the dashboard's
# browser test, idempotently (Debian packages `chromium` and `chromium-driver`). Nothing is
# started: the test runs chromedriver on a free port and Chromium with a fresh profile itself.
#
# Progress goes to stderr. On success stdout carries exactly:
#   MULTIFLEXI_TEST_CHROMEDRIVER=/usr/bin/chromedriver
#   MULTIFLEXI_TEST_CHROMIUM=/usr/bin/chromium
# so a caller can `eval "$(scripts/services/chromium.sh | sed 's/^/export /')"`.
#
# Needs root to install (as on the project's machines and CI). Facts: ../../shared/SERVICES.md.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver

log() { printf '[chromium.sh] %s\n' "$*" >&2; }
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

if [ -x "$CHROMIUM" ] && [ -x "$CHROMEDRIVER" ]; then
    log "already installed: $("$CHROMIUM" --version 2>/dev/null | head -n1)"
else
    [ "$(id -u)" = 0 ] || die "must run as root to install chromium and chromium-driver"
    log "apt-get update"
    apt_retry update || die "apt-get update failed"
    log "installing chromium and chromium-driver"
    apt_retry install -y --no-install-recommends chromium chromium-driver \
        || die "could not install chromium and chromium-driver"
    [ -x "$CHROMIUM" ] || die "$CHROMIUM is missing after the install"
    [ -x "$CHROMEDRIVER" ] || die "$CHROMEDRIVER is missing after the install"
    log "installed: $("$CHROMIUM" --version 2>/dev/null | head -n1)"
fi
"$CHROMEDRIVER" --version >/dev/null 2>&1 || die "$CHROMEDRIVER does not run"

echo "MULTIFLEXI_TEST_CHROMEDRIVER=$CHROMEDRIVER"
echo "MULTIFLEXI_TEST_CHROMIUM=$CHROMIUM"
