#!/usr/bin/env bash
# The project's test command (the README's): starts the services the integration tests need,
# exports where they are, and runs the whole workspace's tests. Extra arguments go to cargo test.
#
# With MULTIFLEXI_REQUIRE_INTEGRATION=1 (set by .ci/run) a service that cannot be started fails
# the run; without it, the tests of a missing service are skipped with a message.
# MULTIFLEXI_SKIP_SERVICES=1 runs the tests against whatever is already running.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${MULTIFLEXI_SKIP_SERVICES:-0}" != 1 ]; then
  if services_env=$(bash scripts/services.sh); then
    while IFS='=' read -r key value; do
      case "$key" in MULTIFLEXI_TEST_*) export "$key=$value" ;; esac
    done <<< "$services_env"
  elif [ "${MULTIFLEXI_REQUIRE_INTEGRATION:-0}" = 1 ]; then
    echo "test.sh: a required service could not be started" >&2
    exit 1
  else
    echo "test.sh: some services could not be started; their tests will be skipped" >&2
  fi
fi
# --no-fail-fast: one failing test binary does not hide the results of the others.
exec cargo test --workspace --no-fail-fast --features multiflexi-core/conformance "$@"
