#!/usr/bin/env bash
# The Debian package as an operator meets it (issue 23): installs DEB (apt), checks what it put
# where (user, modes, conffile, stripped binaries), `systemd-analyze verify`s its units, runs the
# daemons from the installed paths as their units would (scripts/package/unit.bash: the unit's
# user, groups and capabilities through setpriv; no systemd is PID 1 here), on SQLite (all in one)
# an app is imported and a job runs to Preserved as a job user of its own; upgrades to
# DEB_UPGRADE and reinstalls it (data, key, admin token and the edited conffile kept; the split
# units run a second job on the same database); then on PostgreSQL (own role and database on the
# main cluster); purges at the end and checks that nothing is left. Exits non-zero on any miss.
#
# Usage: bash scripts/package/deb.sh DEB DEB_UPGRADE   (DEB_UPGRADE: a higher version of DEB)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=unit.bash
source "$here/unit.bash"
deb="$(realpath "$1")"
deb_upgrade="$(realpath "$2")"
units=/lib/systemd/system
state=/var/lib/multiflexi
env_file=/etc/multiflexi/multiflexi.env
pg_db=multiflexi_pkg_$$
work="$(mktemp -d /tmp/multiflexi-pkg.XXXXXX)"
chmod 0755 "$work"
pids=()

fail() { echo "package: FAIL: $*" >&2; exit 1; }
step() { echo "--- package: $*"; }

stop_daemons() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  local rc=$?
  stop_daemons
  if [ "$rc" -ne 0 ]; then
    for log in "$work"/*.log; do [ -e "$log" ] && { echo "== $log"; tail -n 40 "$log"; }; done
  fi
  if dpkg-query -W -f='${Status}' multiflexi 2>/dev/null | grep -q installed; then
    apt-get purge -y -q multiflexi >/dev/null || true
  fi
  su postgres -c "psql -q -c 'DROP DATABASE IF EXISTS $pg_db' -c 'DROP ROLE IF EXISTS $pg_db'" \
    >/dev/null 2>&1 || true
  if [ -e "$work/run-multiflexi.saved" ]; then
    rm -rf /run/multiflexi
    mv "$work/run-multiflexi.saved" /run/multiflexi
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

# wait_until SECONDS WHAT COMMAND...: COMMAND succeeds within SECONDS, else fail.
wait_until() {
  local deadline=$(( $(date +%s) + $1 )) what="$2"; shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "timed out waiting for $what"
    sleep 0.5
  done
}
start() {
  unit_start "$units/$1.service" "$work/$1.$2.log"
  pids+=("$UNIT_PID")
}
# The CLI as the scheduler unit's user, environment and working directory.
cli() { unit_run "$units/multiflexi-scheduler.service" multiflexi-cli "$@"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
api() { curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/VitexSoftware/MultiFlexi/1.0.0$1"; }
set_env() {  # the conffile as an operator edits it: the package's comments, then our settings
  { grep '^#' "$env_file" | grep -v '^# package test' || true
    echo "# package test"
    printf '%s\n' "$@"; } >"$work/env.new"
  cat "$work/env.new" >"$env_file"
}

# run_job NAME: a company and a run template of the uid app, one job to its end (--wait);
# checks that it ran as a job user of MULTIFLEXI_JOB_UIDS and ended Preserved. Prints its id.
run_job() {
  local company template job uid phase
  company=$(cli company:create --name "$1" --format json | jq -r .id)
  template=$(cli run-template:create --name "uid $1" --app "$app" --company "$company" \
    --format json | jq -r .id)
  job=$(cli job:create --template "$template" --format json | jq -r .id)
  wait_until 120 "job $job to be preserved" job_is_preserved "$job"
  uid=$(cli artifact:get "$(artifact_id "$job" stdout.txt)" --output - | tr -d '[:space:]')
  if ! { [ "$uid" -ge 61000 ] && [ "$uid" -le 61999 ]; }; then
    fail "job $job ran as uid '$uid', not a job user of 61000-61999"
  fi
  phase=$(cli job:get --id "$job" --format json | jq -r '.phase + " " + (.exitcode|tostring)')
  [ "$phase" = "preserved 0" ] || fail "job $job: $phase"
  echo "package: job $job ($1) ran as uid $uid and is preserved" >&2
  echo "$job"
}
job_is_preserved() { [ "$(cli job:get --id "$1" --format json | jq -r .phase)" = preserved ]; }
artifact_id() { cli artifact:list --job "$1" --format json | jq -r ".[] | select(.filename == \"$2\") | .id"; }

step "preconditions"
for tool in jq curl setpriv systemd-analyze readelf; do
  command -v "$tool" >/dev/null || fail "$tool is missing (scripts/package.sh installs it)"
done
! dpkg-query -W multiflexi >/dev/null 2>&1 || fail "multiflexi is already installed: purge it first"
! getent passwd multiflexi >/dev/null || fail "a multiflexi user exists already"
[ ! -e "$state" ] || fail "$state exists already"
# A /run/multiflexi left by daemons run as root before (CI's test and chaos phases hold their job
# uid locks there): systemd makes a unit's RuntimeDirectory= fresh and removes it at stop, so the
# leftover is kept aside while the package runs and put back at the end.
if [ -e /run/multiflexi ]; then
  mv /run/multiflexi "$work/run-multiflexi.saved"
fi

step "install $(basename "$deb")"
apt-get install -y -q "$deb" >"$work/apt-install.log"
[ -x /usr/bin/multiflexi ] || fail "/usr/bin/multiflexi is missing"
[ -x /usr/bin/multiflexi-job-supervisor ] || fail "/usr/bin/multiflexi-job-supervisor (the Native executor's job supervisor) is missing"
! readelf -S --wide /usr/bin/multiflexi | grep -Eq '\.debug_(info|line|str) ' || fail "/usr/bin/multiflexi is not stripped"
echo "package: /usr/bin/multiflexi $(( $(stat -c %s /usr/bin/multiflexi) / 1024 )) KiB"
for bin in multiflexi multiflexi-scheduler multiflexi-executor multiflexi-api multiflexi-cli; do
  [ "$bin" = multiflexi ] || [ "$(readlink "/usr/bin/$bin")" = multiflexi ] ||
    fail "/usr/bin/$bin is not a link to multiflexi"
  [ "$("/usr/bin/$bin" --version)" = "$bin $(dpkg-deb -f "$deb" Version | sed 's/-[^-]*$//')" ] ||
    fail "$bin --version: $("/usr/bin/$bin" --version)"
done
echo "package: Installed-Size $(dpkg-query -W -f='${Installed-Size}' multiflexi) KiB"
[ "$(getent passwd multiflexi | cut -d: -f6,7)" = "$state:/usr/sbin/nologin" ] ||
  fail "multiflexi user: $(getent passwd multiflexi)"
[ "$(stat -c '%a %U' "$state")" = "711 multiflexi" ] || fail "$state: $(stat -c '%a %U' "$state")"
[ "$(stat -c '%a %U %G' "$env_file")" = "640 root multiflexi" ] ||
  fail "$env_file: $(stat -c '%a %U %G' "$env_file")"
dpkg-query -W -f='${Conffiles}' multiflexi | grep -q " $env_file " || fail "$env_file is not a conffile"

step "systemd-analyze verify"
systemd-analyze verify "$units"/multiflexi.service "$units"/multiflexi-scheduler.service \
  "$units"/multiflexi-executor.service "$units"/multiflexi-api.service

step "SQLite: multiflexi.service (all in one)"
port=$(free_port)
common=(MULTIFLEXI_LISTEN="127.0.0.1:$port" MULTIFLEXI_CYCLE_PAUSE=1 MULTIFLEXI_EXECUTORS=Native
  MULTIFLEXI_METRICS_ADDR=off)
set_env "${common[@]}" MULTIFLEXI_EXECUTOR_ID="pkg-serve-$$"
cat >"$work/uid.app.json" <<'JSON'
{"name": "Package test: job uid", "uuid": "6c1b1f0e-8d0a-4b8e-9a55-3f0c9a2d7e11",
 "description": "Prints the uid the job runs as", "executable": "/usr/bin/id", "cmdparams": "-u",
 "environment": {}}
JSON
chmod 0644 "$work/uid.app.json"
start multiflexi sqlite
wait_until 60 "the admin token" test -s "$state/multiflexi.admin-token"
wait_until 30 "the HTTP API" curl -fsS "http://127.0.0.1:$port/api/VitexSoftware/MultiFlexi/1.0.0/ping"
token=$(cat "$state/multiflexi.admin-token")
app=$(cli application:import-json --file "$work/uid.app.json" --format json | jq -r '.files[0].app_id')
[ "$(cli application:import-json --file /usr/share/multiflexi/apps --format json | jq -r .imported)" = 2 ] ||
  fail "the shipped example apps do not import"
job1=$(run_job "SQLite all-in-one")
api "/job/$job1" | jq -e '.id == '"$job1" >/dev/null || fail "the API does not show job $job1"
for f in multiflexi.sqlite multiflexi.key multiflexi.admin-token; do
  [ "$(stat -c '%a %U' "$state/$f")" = "600 multiflexi" ] || fail "$f: $(stat -c '%a %U' "$state/$f")"
done
stop_daemons

step "upgrade to $(basename "$deb_upgrade") and reinstall"
before=$(sha256sum "$state/multiflexi.key" "$state/multiflexi.admin-token" "$env_file")
uid_before=$(id -u multiflexi)
apt-get install -y -q "$deb_upgrade" >"$work/apt-upgrade.log"
apt-get install -y -q --reinstall "$deb_upgrade" >"$work/apt-reinstall.log"
[ "$(dpkg-query -W -f='${Version}' multiflexi)" = "$(dpkg-deb -f "$deb_upgrade" Version)" ] ||
  fail "the upgrade did not install $(dpkg-deb -f "$deb_upgrade" Version)"
[ "$(sha256sum "$state/multiflexi.key" "$state/multiflexi.admin-token" "$env_file")" = "$before" ] ||
  fail "the upgrade changed the key file, the admin token or the edited $env_file"
[ "$(id -u multiflexi)" = "$uid_before" ] || fail "the upgrade changed the multiflexi uid"

step "SQLite after the upgrade: the split units"
set_env "${common[@]}" MULTIFLEXI_EXECUTOR_ID="pkg-split-$$"
start multiflexi-scheduler sqlite
start multiflexi-executor sqlite
start multiflexi-api sqlite
wait_until 30 "the HTTP API" api /ping
cli job:get --id "$job1" --format json | jq -e '.phase == "preserved"' >/dev/null ||
  fail "job $job1 is gone after the upgrade"
job2=$(run_job "SQLite split")
api /jobs | jq -e "[.. | objects | select(.id? == $job2)] | length > 0" >/dev/null ||
  fail "the API does not list job $job2"
stop_daemons

step "PostgreSQL: the split units"
pg_password=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
su postgres -c "psql -q -v ON_ERROR_STOP=1" <<SQL
CREATE ROLE $pg_db LOGIN PASSWORD '$pg_password';
CREATE DATABASE $pg_db OWNER $pg_db;
SQL
set_env "${common[@]}" MULTIFLEXI_EXECUTOR_ID="pkg-pg-$$" \
  "DATABASE_URL=postgres://$pg_db:$pg_password@127.0.0.1:5432/$pg_db" \
  "MULTIFLEXI_MASTER_KEY=$(head -c 32 /dev/urandom | base64)"
# Migrate once first: daemons that start together on an empty PostgreSQL database race in the
# migrations (the losers exit 1; systemd's Restart=on-failure starts them again 10 s later).
cli migrate >/dev/null
start multiflexi-scheduler pg
start multiflexi-executor pg
start multiflexi-api pg
token=$(cli token:create --name package-test --admin --format json | jq -r .secret)
wait_until 30 "the HTTP API" api /ping
app=$(cli application:import-json --file "$work/uid.app.json" --format json | jq -r '.files[0].app_id')
job3=$(run_job "PostgreSQL split")
api "/job/$job3" | jq -e '.id == '"$job3" >/dev/null || fail "the API does not show job $job3"
stop_daemons

step "purge"
apt-get purge -y -q multiflexi >"$work/apt-purge.log"
! dpkg-query -W -f='${Status}' multiflexi 2>/dev/null | grep -q installed || fail "still installed"
if [ -d /etc/multiflexi ]; then  # other files there (scripts/services/containers.sh puts one)
  [ ! -e "$env_file" ] || fail "$env_file is left after purge"
  [ "$(stat -c '%a %U %G' /etc/multiflexi)" = "755 root root" ] ||
    fail "/etc/multiflexi after purge: $(stat -c '%a %U %G' /etc/multiflexi)"
fi
for path in "$state" /run/multiflexi /usr/bin/multiflexi /usr/bin/multiflexi-cli \
  "$units/multiflexi.service" "$units/multiflexi-executor.service"; do
  [ ! -e "$path" ] || fail "$path is left after purge"
done
! getent passwd multiflexi >/dev/null || fail "the multiflexi user is left after purge"
! getent group multiflexi >/dev/null || fail "the multiflexi group is left after purge"
echo "package: the Debian package passed"
