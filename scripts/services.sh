#!/usr/bin/env bash
# Installs (when missing) and starts every service the integration tests use, idempotently:
# PostgreSQL and MariaDB (scripts/services/databases.sh), Docker and Podman
# (scripts/services/containers.sh), and the Python tools of the API tests (schemathesis.sh,
# multiflexi-client.sh). Progress goes to stderr; stdout carries only KEY=VALUE lines
# (MULTIFLEXI_TEST_*) for the caller to export. Exits non-zero when a service cannot be started.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
for script in "$here"/services/*.sh; do
  [ -e "$script" ] || continue
  start=$(date +%s)
  echo "services: running $(basename "$script")" >&2
  bash "$script"
  echo "services: $(basename "$script") done in $(( $(date +%s) - start )) s" >&2
done
