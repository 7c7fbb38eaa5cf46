#!/usr/bin/env bash
# Installs (if missing) into its own virtualenv, idempotently:
# - multiflexi-client==1.1.0, upstream MultiFlexi's published Python API client, which the
#   e2e test `upstream_client` drives unmodified against a live server (tests/e2e/upstream_client.py);
# - openapi-python-client, with which the same test generates a client from our own OpenAPI
#   document and calls the server through it.
#
# Progress goes to stderr. On success stdout carries exactly:
#   MULTIFLEXI_TEST_PYTHON_CLIENT=<venv>/bin/python
# The virtualenv is MULTIFLEXI_CLIENT_VENV, default /opt/multiflexi-client when /opt is
# writable (root, as on CI), else ~/.cache/multiflexi-client.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
VENV_LOG_NAME=multiflexi-client.sh
# shellcheck source=venv.bash
. "$here/venv.bash"

# Pinned: the published client the compatibility is promised for.
CLIENT='multiflexi-client==1.1.0'
GENERATOR='openapi-python-client>=0.24,<1'

VENV=$(venv_dir multiflexi-client "${MULTIFLEXI_CLIENT_VENV:-}")
PY="$VENV/bin/python"

installed() {
    "$PY" - <<'PY' >/dev/null 2>&1
import importlib.metadata as m, shutil, sys, os
assert m.version("multiflexi-client") == "1.1.0"
m.version("openapi-python-client")
assert os.path.exists(os.path.join(os.path.dirname(sys.executable), "openapi-python-client"))
PY
}

if installed; then
    venv_log "already installed in $VENV"
else
    venv_install "$VENV" "$CLIENT" "$GENERATOR" || exit 1
    installed || { venv_log "ERROR: $CLIENT or $GENERATOR is missing after installing"; exit 1; }
    venv_log "installed $CLIENT and $("$VENV/bin/openapi-python-client" --version 2>/dev/null | head -n1)"
fi

echo "MULTIFLEXI_TEST_PYTHON_CLIENT=$PY"
