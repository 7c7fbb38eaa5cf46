#!/usr/bin/env bash
# Installs (if missing) schemathesis from PyPI into its own virtualenv, idempotently. The HTTP API
# test runs `st run` against a live server's /openapi.json with it (nothing is started here).
#
# Progress goes to stderr. On success stdout carries exactly:
#   MULTIFLEXI_TEST_SCHEMATHESIS=<venv>/bin/st
# so a caller can `eval "$(scripts/services/schemathesis.sh | sed 's/^/export /')"`.
#
# The virtualenv is MULTIFLEXI_SCHEMATHESIS_VENV, default /opt/multiflexi-schemathesis when it is
# writable (root, as on the project's machines and CI), else ~/.cache/multiflexi-schemathesis.
# Needs python3 with the venv module (Debian: python3-venv, installed with apt when missing and
# running as root).
set -euo pipefail

# The major version the test is written for (its CLI flags).
SPEC='schemathesis>=4,<5'

log() { printf '[schemathesis.sh] %s\n' "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

if [ -n "${MULTIFLEXI_SCHEMATHESIS_VENV:-}" ]; then
    VENV=$MULTIFLEXI_SCHEMATHESIS_VENV
elif [ -w /opt ] || { [ -d /opt/multiflexi-schemathesis ] && [ -w /opt/multiflexi-schemathesis ]; }; then
    VENV=/opt/multiflexi-schemathesis
else
    VENV="${XDG_CACHE_HOME:-$HOME/.cache}/multiflexi-schemathesis"
fi
ST="$VENV/bin/st"

if [ -x "$ST" ] && "$ST" --version >/dev/null 2>&1; then
    log "already installed: $("$ST" --version 2>/dev/null | head -n1) in $VENV"
else
    command -v python3 >/dev/null || die "python3 is missing (Debian: apt-get install python3 python3-venv)"
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        [ "$(id -u)" = 0 ] || die "python3 has no venv/ensurepip module; install python3-venv (as root)"
        log "installing python3-venv"
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 -q update >&2 || true
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 -q install -y python3-venv >&2 \
            || die "could not install python3-venv"
    fi
    log "creating the virtualenv $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV" >&2 || die "python3 -m venv $VENV failed"
    log "installing $SPEC from PyPI"
    ok=0
    for try in 1 2 3; do
        if "$VENV/bin/python" -m pip install -q "$SPEC" >&2; then
            ok=1
            break
        fi
        log "pip install failed (try $try); retrying"
        sleep 5
    done
    [ "$ok" = 1 ] || die "could not install $SPEC"
    [ -x "$ST" ] || die "$ST is missing after installing schemathesis"
    log "installed: $("$ST" --version 2>/dev/null | head -n1)"
fi

echo "MULTIFLEXI_TEST_SCHEMATHESIS=$ST"
