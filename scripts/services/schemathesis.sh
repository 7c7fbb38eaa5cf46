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

here="$(cd "$(dirname "$0")" && pwd)"
VENV_LOG_NAME=schemathesis.sh
# shellcheck source=venv.bash
. "$here/venv.bash"

VENV=$(venv_dir multiflexi-schemathesis "${MULTIFLEXI_SCHEMATHESIS_VENV:-}")
ST="$VENV/bin/st"

if [ -x "$ST" ] && "$ST" --version >/dev/null 2>&1; then
    venv_log "already installed: $("$ST" --version 2>/dev/null | head -n1) in $VENV"
else
    venv_install "$VENV" "$SPEC" || exit 1
    [ -x "$ST" ] || { venv_log "ERROR: $ST is missing after installing schemathesis"; exit 1; }
    venv_log "installed: $("$ST" --version 2>/dev/null | head -n1)"
fi

echo "MULTIFLEXI_TEST_SCHEMATHESIS=$ST"
