#!/usr/bin/env bash
# Installs (when missing) and starts PostgreSQL 15 and MariaDB for the integration tests, idempotently.
#
# Usage:   eval "$(scripts/services/databases.sh)"   # or: scripts/services/databases.sh > env.txt
# Stdout:  exactly two lines,
#            MULTIFLEXI_TEST_POSTGRES_URL=postgres://…
#            MULTIFLEXI_TEST_MYSQL_URL=mysql://…
#          progress goes to stderr.
# The URLs name a role that may create databases (the MySQL URL names no database; the
# PostgreSQL one names the `postgres` maintenance database): each test run creates fresh databases with
# unique names (prefix `mf_test_`) and drops them at the end. Databases left behind by an
# interrupted run are dropped here.
#
# Facts this relies on (shared/SERVICES.md): Debian 12, root, no systemd; PostgreSQL 15 is
# preinstalled and started with pg_ctlcluster; MariaDB 10.11 comes from apt and is started with
# start-stop-daemon.
#
# Environment: MULTIFLEXI_TEST_DB_USER (default multiflexi_test), MULTIFLEXI_TEST_DB_PASSWORD
# (default multiflexi_test), MULTIFLEXI_TEST_PG_PORT (5432), MULTIFLEXI_TEST_MYSQL_PORT (3306).
set -euo pipefail

USER_NAME="${MULTIFLEXI_TEST_DB_USER:-multiflexi_test}"
PASSWORD="${MULTIFLEXI_TEST_DB_PASSWORD:-multiflexi_test}"
PG_PORT="${MULTIFLEXI_TEST_PG_PORT:-5432}"
MY_PORT="${MULTIFLEXI_TEST_MYSQL_PORT:-3306}"
PG_VERSION=15

log() { echo "[databases] $*" >&2; }
die() { echo "[databases] ERROR: $*" >&2; exit 1; }

if [ "$(id -u)" != 0 ]; then die "run as root (installs packages and starts servers)"; fi

APT_UPDATED=0
# apt-get with a wait when another install holds the dpkg/apt locks.
apt_run() {
    local tries=0
    while true; do
        if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 "$@" >&2; then
            return 0
        fi
        tries=$((tries + 1))
        if [ "$tries" -ge 10 ]; then die "apt-get $* failed $tries times"; fi
        log "apt-get $* failed (lock held by another install?); retrying in 10 s"
        sleep 10
    done
}
apt_install() {
    if [ "$APT_UPDATED" = 0 ]; then
        log "apt-get update"
        apt_run update -q
        APT_UPDATED=1
    fi
    log "installing $*"
    apt_run install -y -q "$@"
}

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
    local secs="$1" what="$2"; shift 2
    local i=0
    while ! "$@" >/dev/null 2>&1; do
        i=$((i + 1))
        if [ "$i" -ge $((secs * 5)) ]; then die "$what did not come up within ${secs}s"; fi
        sleep 0.2
    done
}

# ---------------------------------------------------------------- PostgreSQL
start_postgres() {
    if ! command -v pg_ctlcluster >/dev/null || [ ! -x "/usr/lib/postgresql/$PG_VERSION/bin/postgres" ]; then
        apt_install "postgresql-$PG_VERSION"
    fi
    if [ ! -d "/etc/postgresql/$PG_VERSION/main" ]; then
        log "creating cluster $PG_VERSION/main"
        pg_createcluster "$PG_VERSION" main -p "$PG_PORT" >&2
    fi
    if pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" '$1==v && $2=="main" {print $4}' | grep -q online; then
        log "PostgreSQL $PG_VERSION already running"
    else
        log "starting PostgreSQL $PG_VERSION"
        pg_ctlcluster "$PG_VERSION" main start >&2 || true
    fi
    wait_for 60 "PostgreSQL" su postgres -c "psql -p $PG_PORT -tAc 'select 1'"
    local port
    port=$(su postgres -c "psql -p $PG_PORT -tAc 'show port'")
    [ "$port" = "$PG_PORT" ] || die "PostgreSQL listens on $port, expected $PG_PORT"
    su postgres -c "psql -q -p $PG_PORT -v ON_ERROR_STOP=1" >&2 <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$USER_NAME') THEN
    CREATE ROLE "$USER_NAME" LOGIN CREATEDB PASSWORD '$PASSWORD';
  ELSE
    ALTER ROLE "$USER_NAME" LOGIN CREATEDB PASSWORD '$PASSWORD';
  END IF;
END
\$\$;
-- test databases need no durability
ALTER ROLE "$USER_NAME" SET synchronous_commit = off;
SQL
    # drop what an interrupted run left behind
    local stale
    stale=$(su postgres -c "psql -p $PG_PORT -tAc \"select datname from pg_database where datname like 'mf\\_test\\_%'\"")
    for db in $stale; do
        log "dropping stale PostgreSQL database $db"
        su postgres -c "psql -q -p $PG_PORT -c 'DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)'" >&2 || true
    done
    PGPASSWORD="$PASSWORD" psql -h 127.0.0.1 -p "$PG_PORT" -U "$USER_NAME" -d postgres -tAc 'select 1' >/dev/null \
        || die "cannot log in to PostgreSQL as $USER_NAME over TCP"
    log "PostgreSQL ready on 127.0.0.1:$PG_PORT"
}

# ---------------------------------------------------------------- MariaDB
mariadb_up() { mariadb --protocol=socket -S /run/mysqld/mysqld.sock -e 'select 1'; }

start_mariadb() {
    if ! command -v mariadbd >/dev/null && [ ! -x /usr/sbin/mariadbd ]; then
        apt_install mariadb-server
    fi
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
    if [ ! -d /var/lib/mysql/mysql ]; then
        log "initialising MariaDB data directory"
        mariadb-install-db --user=mysql --datadir=/var/lib/mysql >&2
    fi
    if mariadb_up >/dev/null 2>&1; then
        log "MariaDB already running"
    else
        log "starting MariaDB"
        start-stop-daemon --start --background --make-pidfile --pidfile /run/mysqld/test.pid \
            --chuid mysql --exec /usr/sbin/mariadbd -- \
            --datadir=/var/lib/mysql --socket=/run/mysqld/mysqld.sock \
            --bind-address=127.0.0.1 --port="$MY_PORT" \
            --max-allowed-packet=256M --max-connections=500 \
            --innodb-flush-log-at-trx-commit=2 --skip-name-resolve >&2
    fi
    wait_for 60 "MariaDB" mariadb_up
    mariadb --protocol=socket -S /run/mysqld/mysqld.sock >&2 <<SQL
CREATE USER IF NOT EXISTS '$USER_NAME'@'127.0.0.1' IDENTIFIED BY '$PASSWORD';
CREATE USER IF NOT EXISTS '$USER_NAME'@'localhost' IDENTIFIED BY '$PASSWORD';
ALTER USER '$USER_NAME'@'127.0.0.1' IDENTIFIED BY '$PASSWORD';
ALTER USER '$USER_NAME'@'localhost' IDENTIFIED BY '$PASSWORD';
GRANT ALL PRIVILEGES ON \`mf\\_test\\_%\`.* TO '$USER_NAME'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`mf\\_test\\_%\`.* TO '$USER_NAME'@'localhost';
FLUSH PRIVILEGES;
SQL
    local stale
    stale=$(mariadb --protocol=socket -S /run/mysqld/mysqld.sock -N -e "select schema_name from information_schema.schemata where schema_name like 'mf\\_test\\_%'")
    for db in $stale; do
        log "dropping stale MariaDB database $db"
        mariadb --protocol=socket -S /run/mysqld/mysqld.sock -e "DROP DATABASE IF EXISTS \`$db\`" >&2 || true
    done
    mariadb -h 127.0.0.1 -P "$MY_PORT" -u "$USER_NAME" -p"$PASSWORD" -e 'select 1' >/dev/null \
        || die "cannot log in to MariaDB as $USER_NAME over TCP"
    log "MariaDB $(mariadb --protocol=socket -S /run/mysqld/mysqld.sock -N -e 'select version()') ready on 127.0.0.1:$MY_PORT"
}

start_postgres
start_mariadb

echo "MULTIFLEXI_TEST_POSTGRES_URL=postgres://$USER_NAME:$PASSWORD@127.0.0.1:$PG_PORT/postgres"
echo "MULTIFLEXI_TEST_MYSQL_URL=mysql://$USER_NAME:$PASSWORD@127.0.0.1:$MY_PORT"
