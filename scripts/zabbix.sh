#!/usr/bin/env bash
# The shipped Zabbix template (deploy/zabbix/) and our Zabbix sender against a real Zabbix 6.0
# server (Debian 12's packages), end to end:
#
#  1. builds multiflexi-scheduler, multiflexi-executor and multiflexi-cli (release);
#  2. installs zabbix-server-pgsql, zabbix-frontend-php, php-cli and php-pgsql when missing;
#  3. creates its own database (and role) on the local PostgreSQL 15 with the package's schema,
#     starts zabbix_server (CacheUpdateFrequency=1, trapper on loopback) and serves the
#     frontend's API with `php -S` on loopback;
#  4. imports deploy/zabbix/template_app_multiflexi.yaml with configuration.import and creates
#     two hosts linked to it: one a company's zabbix_host, one ZABBIX_HOST;
#  5. runs three jobs through the scheduler and executor daemons (SQLite), one that succeeds, one
#     that fails (exit code 3) and one that times out, with ZABBIX_SERVER pointing at the server;
#  6. reads the server's history (history.get) and checks for each job its phase values
#     (prepared, running, completed), exit code and duration on the right host, with clocks
#     within the job's own timestamps (scripts/zabbix/zabbix_api.py);
#  7. stops the daemons and zabbix_server, drops its database and role, removes its files.
#
# Steps 3–7 must take at most ZABBIX_CI_LIMIT seconds (default 300). Exits non-zero when anything
# is missing. Needs root (apt, PostgreSQL admin, the server's user). Progress on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

LIMIT="${ZABBIX_CI_LIMIT:-300}"
DB="multiflexi_zabbix_ci"
DB_USER="multiflexi_zabbix_ci"
DB_PASSWORD="multiflexi_zabbix_ci"
PG_PORT="${MULTIFLEXI_TEST_PG_PORT:-5432}"
FRONTEND_CONF=/etc/zabbix/zabbix.conf.php
TEMPLATE="$ROOT/deploy/zabbix/template_app_multiflexi.yaml"
API_PY="$ROOT/scripts/zabbix/zabbix_api.py"
COMPANY_HOST="mf-ci-acme"      # the first company's zabbix_host
DEFAULT_HOST="mf-ci-default"   # ZABBIX_HOST: the second company has no zabbix_host

log() { printf '[zabbix.sh] %s\n' "$*"; }
die() {
    log "FAIL: $*"
    exit 1
}
[ "$(id -u)" = 0 ] || die "run as root (installs packages, creates a database, starts zabbix_server)"
# One run at a time: they share the database name and the frontend's configuration file.
exec 9>/run/lock/multiflexi-zabbix-ci.lock
flock -w 600 9 || die "another scripts/zabbix.sh is still running"

# --- 1. the daemons ------------------------------------------------------------------------------
# ZABBIX_CI_BIN_DIR: use the binaries there instead (a local re-run without a build).
if [ -n "${ZABBIX_CI_BIN_DIR:-}" ]; then
    BIN="$ZABBIX_CI_BIN_DIR"
    log "using the daemons in $BIN (not built)"
else
    log "building the daemons (release)"
    cargo build --release -p multiflexi-bin \
        --bin multiflexi-scheduler --bin multiflexi-executor --bin multiflexi-cli \
        -p multiflexi-executors --bin multiflexi-job-supervisor
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"
fi
for b in multiflexi-scheduler multiflexi-executor multiflexi-cli multiflexi-job-supervisor; do
    [ -x "$BIN/$b" ] || die "$BIN/$b was not built"
done

# --- 2. packages ---------------------------------------------------------------------------------
apt_retry() {
    local try
    for try in 1 2 3 4 5 6 7 8 9 10; do
        if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 -q "$@"; then
            return 0
        fi
        log "apt-get $* failed (try $try); waiting for a concurrent install to finish"
        sleep 10
    done
    return 1
}
PACKAGES=(zabbix-server-pgsql zabbix-frontend-php php-cli php-pgsql python3)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    apt_retry update || die "apt-get update failed"
    # policy-rc.d keeps the packages' services (zabbix-server, apache2) from being started.
    policy=/usr/sbin/policy-rc.d
    created_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod +x "$policy"
        created_policy=1
    fi
    status=0
    apt_retry install -y --no-install-recommends "${missing[@]}" || status=$?
    [ "$created_policy" = 1 ] && rm -f "$policy"
    [ "$status" = 0 ] || die "could not install ${missing[*]}"
fi
ZBX_VERSION=$(dpkg-query -W -f='${Version}' zabbix-server-pgsql)
SCHEMA_DIR=/usr/share/zabbix-server-pgsql
for f in schema.sql.gz images.sql.gz data.sql.gz; do
    [ -f "$SCHEMA_DIR/$f" ] || die "$SCHEMA_DIR/$f is missing (zabbix-server-pgsql $ZBX_VERSION)"
done
if ! su postgres -c "psql -p $PG_PORT -tAc 'select 1'" >/dev/null 2>&1; then
    log "PostgreSQL is not running: starting it (scripts/services/databases.sh)"
    bash scripts/services/databases.sh >/dev/null
fi

# --- 3. the server -------------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/multiflexi-zabbix-ci.XXXXXX)
chmod 755 "$WORK"
ZBX_DIR="$WORK/zabbix"
mkdir -p "$ZBX_DIR" "$WORK/mf" "$WORK/jobs"
chown zabbix: "$ZBX_DIR"
# A free loopback port in 20000-32767 (zabbix_server's ListenPort must be below 32768).
free_port() {
    python3 -c '
import random, socket
for _ in range(200):
    port = random.randint(20000, 32767)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
else:
    raise SystemExit("no free port")'
}
TRAPPER_PORT=$(free_port)
API_PORT=$(free_port)
API_URL="http://127.0.0.1:$API_PORT"
PIDS=()
ZBX_PID=""
CREATED_FRONTEND_CONF=0
started=""

psql_admin() { su postgres -c "psql -q -p $PG_PORT -v ON_ERROR_STOP=1 $*"; }

cleanup() {
    local status=$?
    set +e
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if [ -n "$ZBX_PID" ]; then
        log "stopping zabbix_server (pid $ZBX_PID)"
        kill -TERM "$ZBX_PID" 2>/dev/null
        for _ in $(seq 1 100); do kill -0 "$ZBX_PID" 2>/dev/null || break; sleep 0.2; done
        if kill -0 "$ZBX_PID" 2>/dev/null; then
            log "zabbix_server did not stop within 20 s: killing its processes"
            pkill -KILL -P "$ZBX_PID" 2>/dev/null
            kill -KILL "$ZBX_PID" 2>/dev/null
        fi
        wait "$ZBX_PID" 2>/dev/null
    fi
    if [ "$status" != 0 ] && [ -f "$ZBX_DIR/zabbix_server.log" ]; then
        log "the last lines of the server's log:"
        tail -n 40 "$ZBX_DIR/zabbix_server.log"
    fi
    [ "$CREATED_FRONTEND_CONF" = 1 ] && rm -f "$FRONTEND_CONF"
    psql_admin "-c 'DROP DATABASE IF EXISTS $DB WITH (FORCE)'" >/dev/null 2>&1
    psql_admin "-c 'DROP ROLE IF EXISTS $DB_USER'" >/dev/null 2>&1
    rm -rf "$WORK"
    if [ -n "$started" ]; then
        log "Zabbix part took $(($(date +%s) - started)) s (limit $LIMIT s); server, database and files removed"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
started=$(date +%s)
over_limit() { [ $(($(date +%s) - started)) -gt "$LIMIT" ]; }

log "creating database $DB (zabbix-server-pgsql $ZBX_VERSION schema)"
psql_admin "-c 'DROP DATABASE IF EXISTS $DB WITH (FORCE)'" >/dev/null
psql_admin "-c 'DROP ROLE IF EXISTS $DB_USER'" >/dev/null
psql_admin "-c \"CREATE ROLE $DB_USER LOGIN PASSWORD '$DB_PASSWORD'\"" >/dev/null
psql_admin "-c 'CREATE DATABASE $DB OWNER $DB_USER'" >/dev/null
zcat "$SCHEMA_DIR/schema.sql.gz" "$SCHEMA_DIR/images.sql.gz" "$SCHEMA_DIR/data.sql.gz" |
    PGPASSWORD="$DB_PASSWORD" psql -q -h 127.0.0.1 -p "$PG_PORT" -U "$DB_USER" -d "$DB" \
        -v ON_ERROR_STOP=1 --single-transaction >/dev/null
log "schema loaded ($(($(date +%s) - started)) s)"

cat >"$ZBX_DIR/zabbix_server.conf" <<EOF
ListenIP=127.0.0.1
ListenPort=$TRAPPER_PORT
LogType=file
LogFile=$ZBX_DIR/zabbix_server.log
PidFile=$ZBX_DIR/zabbix_server.pid
SocketDir=$ZBX_DIR
DBHost=127.0.0.1
DBPort=$PG_PORT
DBName=$DB
DBUser=$DB_USER
DBPassword=$DB_PASSWORD
CacheUpdateFrequency=1
HousekeepingFrequency=0
StartPollers=1
StartPollersUnreachable=1
StartTrappers=2
StartPingers=0
StartDiscoverers=0
StartHTTPPollers=0
StartPreprocessors=1
StartLLDProcessors=1
StartDBSyncers=1
StartEscalators=1
StartAlerters=1
StartTimers=1
StartHistoryPollers=1
StartReportWriters=0
Timeout=4
EOF
log "starting zabbix_server (trapper 127.0.0.1:$TRAPPER_PORT)"
/usr/sbin/zabbix_server -f -c "$ZBX_DIR/zabbix_server.conf" &
ZBX_PID=$!
sleep 1
kill -0 "$ZBX_PID" 2>/dev/null || die "zabbix_server exited at once"

if [ -e "$FRONTEND_CONF" ]; then
    die "$FRONTEND_CONF exists (another Zabbix frontend is configured here); not touching it"
fi
cat >"$FRONTEND_CONF" <<EOF
<?php
\$DB['TYPE'] = 'POSTGRESQL';
\$DB['SERVER'] = '127.0.0.1';
\$DB['PORT'] = '$PG_PORT';
\$DB['DATABASE'] = '$DB';
\$DB['USER'] = '$DB_USER';
\$DB['PASSWORD'] = '$DB_PASSWORD';
\$DB['SCHEMA'] = '';
\$DB['ENCRYPTION'] = false;
\$DB['KEY_FILE'] = '';
\$DB['CERT_FILE'] = '';
\$DB['CA_FILE'] = '';
\$DB['VERIFY_HOST'] = false;
\$DB['CIPHER_LIST'] = '';
\$DB['VAULT_URL'] = '';
\$DB['VAULT_DB_PATH'] = '';
\$DB['VAULT_TOKEN'] = '';
\$DB['DOUBLE_IEEE754'] = true;
\$ZBX_SERVER = '127.0.0.1';
\$ZBX_SERVER_PORT = '$TRAPPER_PORT';
\$ZBX_SERVER_NAME = 'multiflexi-ci';
\$IMAGE_FORMAT_DEFAULT = IMAGE_FORMAT_PNG;
EOF
CREATED_FRONTEND_CONF=1
log "serving the frontend's API on $API_URL (php -S)"
php -S "127.0.0.1:$API_PORT" -t /usr/share/zabbix >"$WORK/php.log" 2>&1 &
PIDS+=($!)
python3 "$API_PY" wait "$API_URL"

# --- 4. template and hosts -----------------------------------------------------------------------
python3 "$API_PY" setup "$API_URL" "$TEMPLATE" "$COMPANY_HOST" "$DEFAULT_HOST"
# The server sees new hosts and items at its next configuration sync (CacheUpdateFrequency=1).
for _ in $(seq 1 30); do
    grep -q 'server #0 started \[main process\]' "$ZBX_DIR/zabbix_server.log" 2>/dev/null && break
    sleep 1
done
kill -0 "$ZBX_PID" 2>/dev/null || die "zabbix_server exited"
sleep 3

# --- 5. three jobs through the daemons ------------------------------------------------------------
export DATABASE_URL="sqlite://$WORK/mf/multiflexi.sqlite?mode=rwc"
export ZABBIX_SERVER="127.0.0.1:$TRAPPER_PORT"
export ZABBIX_HOST="$DEFAULT_HOST"
export MULTIFLEXI_CYCLE_PAUSE=1
export MULTIFLEXI_METRICS_ADDR=off
export RUST_LOG="${RUST_LOG:-info}"
# The CLI only sets up and reads: the jobs are created by the scheduler.
cli() { env -u ZABBIX_SERVER -u ZABBIX_HOST "$BIN/multiflexi-cli" "$@" --format json; }
json() { python3 -c 'import json,sys; print(json.load(sys.stdin)'"$1"')'; }

cat >"$WORK/app.json" <<'EOF'
{
  "name": "Exit with a code",
  "uuid": "7d3f9a52-2c5e-4d8b-9f61-0a4b2e6c1d77",
  "description": "Sleeps SECONDS, then exits with CODE (scripts/zabbix.sh).",
  "executable": "/bin/sh",
  "cmdparams": "-c \"sleep $0; exit $1\" {SECONDS} {CODE}",
  "environment": {
    "SECONDS": {"type": "string", "description": "seconds to sleep", "defval": "1", "required": true},
    "CODE": {"type": "string", "description": "exit code", "defval": "0", "required": true}
  }
}
EOF
cli application:import-json --file "$WORK/app.json" >/dev/null
APP=$(cli application:list | json '[0]["id"]')
ACME=$(cli company:create --name "Acme CI" --zabbix-host "$COMPANY_HOST" | json '["id"]')
OTHER=$(cli company:create --name "Other CI" | json '["id"]')
template() { # NAME COMPANY SECONDS CODE TIMEOUT
    cli run-template:create --name "$1" --app "$APP" --company "$2" --interv i \
        --config "SECONDS=$3" --config "CODE=$4" --timeout "$5" | json '["id"]'
}
T_OK=$(template "succeeds" "$ACME" 1 0 0)
T_FAIL=$(template "fails" "$ACME" 1 3 0)
T_SLOW=$(template "times out" "$OTHER" 20 0 2)
# Due in 3 s: the scheduler creates each template's job, the executor runs it.
when=$(date -u -d '+3 seconds' +%Y-%m-%dT%H:%M:%SZ)
for t in "$T_OK" "$T_FAIL" "$T_SLOW"; do
    cli run-template:next-schedule "$t" --when "$when" >/dev/null
done

log "starting multiflexi-scheduler and multiflexi-executor (ZABBIX_SERVER=$ZABBIX_SERVER)"
"$BIN/multiflexi-scheduler" >"$WORK/scheduler.log" 2>&1 &
PIDS+=($!)
MULTIFLEXI_EXECUTORS=Native MULTIFLEXI_WORK_DIR="$WORK/jobs" MULTIFLEXI_EXECUTOR_ID="zabbix-ci-$$" \
    "$BIN/multiflexi-executor" >"$WORK/executor.log" 2>&1 &
PIDS+=($!)

declare -A JOB
for t in "$T_OK" "$T_FAIL" "$T_SLOW"; do
    JOB[$t]=""
done
while :; do
    done_all=1
    for t in "$T_OK" "$T_FAIL" "$T_SLOW"; do
        if [ -z "${JOB[$t]}" ]; then
            JOB[$t]=$(cli job:list --template "$t" |
                python3 -c 'import json,sys; j=json.load(sys.stdin); print(min(x["id"] for x in j) if j else "")')
        fi
        if [ -z "${JOB[$t]}" ] || [ "$(cli job:get "${JOB[$t]}" | json '["phase"]')" != preserved ]; then
            done_all=0
        fi
    done
    [ "$done_all" = 1 ] && break
    if over_limit; then
        tail -n 20 "$WORK/scheduler.log" "$WORK/executor.log"
        die "the jobs did not finish within the limit"
    fi
    sleep 1
done
# No further slots: the templates are switched off before the next minute.
for t in "$T_OK" "$T_FAIL" "$T_SLOW"; do
    cli run-template:update "$t" --active false >/dev/null
done
python3 - "$WORK/jobs.json" "$COMPANY_HOST:${JOB[$T_OK]}" "$COMPANY_HOST:${JOB[$T_FAIL]}" \
    "$DEFAULT_HOST:${JOB[$T_SLOW]}" "$BIN/multiflexi-cli" <<'EOF'
import json, os, subprocess, sys
out, *pairs, cli = sys.argv[1:]
env = {k: v for k, v in os.environ.items() if not k.startswith("ZABBIX_")}
jobs = []
for pair in pairs:
    host, jid = pair.rsplit(":", 1)
    job = json.loads(subprocess.check_output([cli, "job:get", jid, "--format", "json"], env=env))
    jobs.append({"host": host, "job": job})
    print(f"job {jid}: {job['outcome']}, exit code {job['exitcode']}, on {host}")
json.dump(jobs, open(out, "w"))
EOF

# --- 6. the server's history -----------------------------------------------------------------------
# Values refused while the job's items did not exist yet are re-sent by the daemons: wait for them.
log "reading the server's history"
until python3 "$API_PY" check "$API_URL" "$WORK/jobs.json" >"$WORK/check.txt"; do
    if over_limit; then
        cat "$WORK/check.txt"
        grep -i zabbix "$WORK/scheduler.log" "$WORK/executor.log" | tail -n 20 || true
        die "values missing in Zabbix"
    fi
    sleep 2
done
cat "$WORK/check.txt"
grep -h -i 'zabbix' "$WORK/scheduler.log" "$WORK/executor.log" | tail -n 10 || true
over_limit && die "took longer than $LIMIT s"
log "PASS: every job's phases, exit code and duration are in Zabbix on the right host"
