#!/usr/bin/env bash
# The compose example (issue 23; deploy/compose/): builds its PostgreSQL image from the host's
# Debian postgresql-15 package (FROM scratch, scripts/package/rootfs.bash; no registry), brings
# deploy/compose/docker-compose.yml up with docker-compose 1.29.2 (PostgreSQL, scheduler, two
# executors, API), imports two apps through the CLI in the api container and runs a native job
# and a Docker job (executor-2, through the mounted engine socket) to Preserved; the API shows
# them. Takes everything down with its volumes at the end (the images stay: scripts/package.sh
# removes them).
#
# Usage: bash scripts/package/compose.sh IMAGE   (IMAGE: multiflexi-rs/multiflexi:VERSION, built
# by scripts/package/image.sh). Needs Docker and multiflexi-test/busybox:local
# (scripts/services/containers.sh).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=rootfs.bash
source "$repo/scripts/package/rootfs.bash"
image="$1"
pg_image=multiflexi-rs/postgres:15
busybox_image=multiflexi-test/busybox:local
project="multiflexi-compose-test-$$"
work="$(mktemp -d /tmp/multiflexi-compose.XXXXXX)"
fail() { echo "compose: FAIL: $*" >&2; exit 1; }
compose() {
  docker-compose --ansi never -p "$project" -f "$repo/deploy/compose/docker-compose.yml" \
    --env-file "$work/env" "$@"
}
cleanup() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ -e "$work/env" ]; then compose logs --tail 30 >&2 || true; fi
  if [ -e "$work/env" ]; then compose down -v --remove-orphans >/dev/null 2>&1 || true; fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
docker image inspect "$image" >/dev/null || fail "$image is missing (scripts/package/image.sh)"
docker image inspect "$busybox_image" >/dev/null ||
  fail "$busybox_image is missing (scripts/services/containers.sh)"
[ -x /usr/lib/postgresql/15/bin/postgres ] || fail "postgresql-15 is not installed"

echo "--- compose: $pg_image from the host's postgresql-15"
ctx="$work/postgres"
mkdir -p "$ctx/data"
chmod 0700 "$ctx/data"
rootfs_base "$ctx/rootfs" postgres:65533:/var/lib/postgresql
pgbin=/usr/lib/postgresql/15/bin
mapfile -t pglibs < <(find /usr/lib/postgresql/15/lib -maxdepth 1 -name '*.so' ! -name 'llvmjit*')
rootfs_elf "$ctx/rootfs" "$pgbin/postgres" "$pgbin/initdb" "$pgbin/pg_isready" "${pglibs[@]}"
tar -C / -cf - usr/share/postgresql/15 usr/share/zoneinfo | tar -C "$ctx/rootfs" -xf -
cp "$repo/deploy/compose/postgres/entrypoint.sh" "$ctx/"
docker build --quiet -f "$repo/deploy/compose/postgres/Containerfile" -t "$pg_image" "$ctx" >/dev/null

echo "--- compose: up"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cat >"$work/env" <<ENV
POSTGRES_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
MULTIFLEXI_MASTER_KEY=$(head -c 32 /dev/urandom | base64)
DOCKER_GID=$(stat -c %g /var/run/docker.sock)
MULTIFLEXI_HTTP_PORT=$port
MULTIFLEXI_IMAGE=$image
ENV
compose up -d >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; fail "docker-compose up"; }
cli() { compose exec -T -e RUST_LOG=warn api multiflexi-cli "$@"; }
for _ in $(seq 1 60); do
  curl -fsS "http://127.0.0.1:$port/api/VitexSoftware/MultiFlexi/1.0.0/ping" >/dev/null 2>&1 && break
  sleep 1
done
token="$(cli token:create --name compose-test --admin --format json | jq -r .secret)"
api() {
  curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/VitexSoftware/MultiFlexi/1.0.0$1"
}
api /ping >/dev/null || fail "the API does not answer on 127.0.0.1:$port"

# import_app NAME JSON: the app through the CLI in the api container; prints its id.
import_app() {
  compose exec -T api sh -c "cat >/tmp/$1.app.json" <<<"$2"
  cli application:import-json --file "/tmp/$1.app.json" --format json | jq -r '.files[0].app_id'
}
# run_job NAME APP EXECUTOR EXPECTED_STDOUT: a template, one job to Preserved; prints its id.
run_job() {
  local company template job phase out
  company="$(cli company:create --name "$1" --format json | jq -r .id)"
  template="$(cli run-template:create --name "$1" --app "$2" --company "$company" \
    --executor "$3" --format json | jq -r .id)"
  job="$(cli job:create --template "$template" --format json | jq -r .id)"
  for _ in $(seq 1 120); do
    phase="$(cli job:get --id "$job" --format json | jq -r .phase)"
    [ "$phase" = preserved ] && break
    sleep 1
  done
  [ "$phase" = preserved ] || fail "job $job ($1) is $phase, not preserved"
  out="$(cli job:get --id "$job" --format json | jq -r '(.exitcode|tostring)')"
  [ "$out" = 0 ] || fail "job $job ($1) exited $out"
  out="$(api "/job/$job" | jq -r '.stdout // empty')"
  if [ -z "$out" ]; then
    out="$(cli artifact:get "$(cli artifact:list --job "$job" --format json |
      jq -r '.[] | select(.filename == "stdout.txt") | .id')" --output - )"
  fi
  [[ "$out" == *"$4"* ]] || fail "job $job ($1) printed '$out', not '$4'"
  echo "compose: job $job ($1, $3) preserved, printed '$(echo "$out" | tr -d '\n')'" >&2
  echo "$job"
}

echo "--- compose: jobs"
native_app="$(import_app native '{"name": "Compose test: uid", "uuid": "3e9f2a1c-5b7d-4c8e-9f0a-1b2c3d4e5f60",
  "description": "Prints the uid the job runs as", "executable": "/bin/id", "cmdparams": "-u",
  "environment": {}}')"
docker_app="$(import_app docker '{"name": "Compose test: busybox", "uuid": "7a8b9c0d-1e2f-4a5b-8c6d-7e8f9a0b1c2d",
  "description": "Echo in a container", "executable": "/bin/busybox", "cmdparams": "echo hello-from-docker",
  "ociimage": "'"$busybox_image"'", "environment": {}}')"
run_job "native" "$native_app" Native 65532 >/dev/null
run_job "docker" "$docker_app" Docker hello-from-docker >/dev/null
api /jobs | jq -e 'length >= 2' >/dev/null || fail "the API lists fewer than two jobs"
echo "compose: the compose example passed"
