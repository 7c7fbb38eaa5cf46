#!/usr/bin/env bash
# The chaos suite (issue 14): the real daemons under injected faults.
#
#   scripts/chaos.sh [--repeat N] [TEST FILTER...]
#
# Sets up what the suite needs, idempotently, apart from everything the other suites use:
#   - PostgreSQL cluster 15/chaos on 127.0.0.1:5440 (pg_createcluster), role multiflexi_chaos
#     with a password (CREATEDB); scenarios create a database each and restart this cluster;
#   - the suite's own Docker engine (scripts/chaos-dockerd.sh: own data root, exec root, socket
#     unix:///run/multiflexi-chaos/docker.sock, pidfile, bridge mfxchaos0, no iptables) with the busybox
#     test image imported into it; scenarios stop and start it;
# then builds the binaries and runs
#   cargo test -p multiflexi-bin --test chaos -- --ignored --test-threads=1
# N times (default 1), stopping at the first failing repetition. Prints each scenario's time.
# A missing service fails the run (the suite never skips). Needs root. The whole suite should
# take at most 12 minutes per repetition.
set -euo pipefail
cd "$(dirname "$0")/.."

REPEAT=1
FILTER=()
while [ $# -gt 0 ]; do
    case "$1" in
        --repeat) REPEAT="$2"; shift 2 ;;
        --repeat=*) REPEAT="${1#--repeat=}"; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) FILTER+=("$1"); shift ;;
    esac
done

PG_VERSION=15
PG_CLUSTER=chaos
PG_PORT=5440
PG_USER=multiflexi_chaos
PG_PASSWORD=multiflexi_chaos

log() { printf '[chaos.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (creates a PostgreSQL cluster, starts dockerd, mounts tmpfs)"

APT_UPDATED=0
# ensure_command COMMAND PACKAGE: installs PACKAGE (Debian) only when COMMAND is missing.
ensure_command() {
    command -v "$1" >/dev/null 2>&1 && return 0
    [ -x "/usr/sbin/$1" ] && return 0
    if [ "$APT_UPDATED" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 -q update >&2 || die "apt-get update failed"
        APT_UPDATED=1
    fi
    log "installing $2 (for $1)"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 -q install -y --no-install-recommends "$2" >&2 \
        || die "could not install $2"
}

# --- tools the scenarios use ------------------------------------------------------------------
ensure_command pg_ctlcluster "postgresql-$PG_VERSION"
ensure_command psql "postgresql-client-$PG_VERSION"
ensure_command flock util-linux
ensure_command setsid util-linux
ensure_command pgrep procps
ensure_command dockerd docker.io
ensure_command docker docker.io
ensure_command busybox busybox-static
ensure_command curl curl
[ -x "/usr/lib/postgresql/$PG_VERSION/bin/postgres" ] || die "PostgreSQL $PG_VERSION server binaries are missing"

# --- PostgreSQL cluster 15/chaos ----------------------------------------------------------------
if [ ! -d "/etc/postgresql/$PG_VERSION/$PG_CLUSTER" ]; then
    log "creating cluster $PG_VERSION/$PG_CLUSTER on port $PG_PORT"
    pg_createcluster "$PG_VERSION" "$PG_CLUSTER" -p "$PG_PORT" >&2
    # three daemons with their pools, two schedulers and the test: room for all of them
    pg_conftool "$PG_VERSION" "$PG_CLUSTER" set max_connections 300 >&2
fi
if ! pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1==v && $2==c {print $4}' | grep -q online; then
    log "starting cluster $PG_VERSION/$PG_CLUSTER"
    pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start >&2
fi
for _ in $(seq 1 120); do
    su postgres -c "psql -p $PG_PORT -tAc 'select 1'" >/dev/null 2>&1 && break
    sleep 0.25
done
su postgres -c "psql -p $PG_PORT -tAc 'select 1'" >/dev/null 2>&1 || die "cluster $PG_VERSION/$PG_CLUSTER does not answer"
su postgres -c "psql -q -p $PG_PORT -v ON_ERROR_STOP=1" >&2 <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE "$PG_USER" LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  ELSE
    ALTER ROLE "$PG_USER" LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  END IF;
END
\$\$;
SQL
# databases that failed scenarios kept for inspection
for db in $(su postgres -c "psql -p $PG_PORT -tAc \"select datname from pg_database where datname like 'mfchaos\\_%'\""); do
    su postgres -c "psql -q -p $PG_PORT -c 'DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)'" >&2 || true
done
export MULTIFLEXI_CHAOS_PG_URL="postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/postgres"
PGPASSWORD="$PG_PASSWORD" psql -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc 'select 1' >/dev/null \
    || die "cannot log in to the chaos cluster as $PG_USER over TCP"
log "PostgreSQL $PG_VERSION/$PG_CLUSTER ready on 127.0.0.1:$PG_PORT"

# --- the suite's own Docker engine ----------------------------------------------------------------
bash scripts/chaos-dockerd.sh start
trap 'bash scripts/chaos-dockerd.sh stop || true' EXIT

# leftovers of interrupted runs (scenario directories, tmpfs mounts)
if [ -d /tmp/multiflexi-chaos ]; then
    { grep -o ' /tmp/multiflexi-chaos/[^ ]*' /proc/mounts || true; } | while read -r m; do umount -l "$m" || true; done
    rm -rf /tmp/multiflexi-chaos
fi

# --- build ------------------------------------------------------------------------------------------
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
log "building the binaries and the chaos test"
# The same package selection and features as scripts/test.sh, so that CI reuses its build
# instead of compiling the dependency stack a second time with other features.
CARGO_SELECT=(--workspace --features multiflexi-core/conformance)
cargo build --bins "${CARGO_SELECT[@]}"
cargo test "${CARGO_SELECT[@]}" --test chaos --no-run

# --- run --------------------------------------------------------------------------------------------
OUT=$(mktemp -d)
for rep in $(seq 1 "$REPEAT"); do
    log "repetition $rep of $REPEAT"
    start=$(date +%s)
    set +e
    cargo test "${CARGO_SELECT[@]}" --test chaos -- --ignored --test-threads=1 --nocapture "${FILTER[@]}" \
        2>&1 | tee "$OUT/rep-$rep.log"
    status=${PIPESTATUS[0]}
    set -e
    echo "=== chaos repetition $rep: scenario times"
    grep -E '^chaos: ' "$OUT/rep-$rep.log" || true
    echo "=== chaos repetition $rep took $(( $(date +%s) - start )) s (status $status)"
    if [ "$status" != 0 ]; then
        log "repetition $rep failed (full output: $OUT/rep-$rep.log)"
        exit "$status"
    fi
done
log "all $REPEAT repetition(s) passed"
