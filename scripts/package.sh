#!/usr/bin/env bash
# The packaging CI phase (issue 23; README "Install"): builds the release binaries once, then
#   1. the Debian package (cargo-deb; metadata in multiflexi-bin/Cargo.toml) at two revisions,
#      and scripts/package/deb.sh installs, exercises, upgrades and purges it;
#   2. the container image (scripts/package/image.sh: deploy/container/), built and run once;
#   3. the compose example (scripts/package/compose.sh: deploy/compose/), up, one job, down.
# Installs what it needs (cargo-deb, jq, curl, systemd-analyze, docker-compose) and starts
# PostgreSQL, Docker and the busybox test image through scripts/services/. Needs root. Exits non-zero on any miss;
# the machine is left as it was (the package purged, its role and database dropped, the images
# and containers removed).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
target="${CARGO_TARGET_DIR:-$PWD/target}"
out="$target/debian"
timed() {
  local start; start=$(date +%s)
  echo "== package.sh: $1"; shift
  "$@"
  echo "== package.sh: took $(( $(date +%s) - start )) s"
}

[ "$(id -u)" = 0 ] || { echo "scripts/package.sh needs root (apt, setpriv, users)" >&2; exit 1; }

install_tools() {
  local -a missing=()
  command -v jq >/dev/null || missing+=(jq)
  command -v curl >/dev/null || missing+=(curl)
  command -v readelf >/dev/null || missing+=(binutils)
  command -v setpriv >/dev/null || missing+=(util-linux)
  command -v systemd-analyze >/dev/null || missing+=(systemd)
  command -v docker-compose >/dev/null || missing+=(docker-compose)
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  fi
  if ! cargo deb --version >/dev/null 2>&1; then
    cargo install cargo-deb --locked --version '^3'
  fi
  bash scripts/services/databases.sh >/dev/null
  bash scripts/services/containers.sh >/dev/null
}

build() {
  # the multi-call binary and the Native executor's job supervisor
  cargo build --release -p multiflexi-bin --bin multiflexi \
    -p multiflexi-executors --bin multiflexi-job-supervisor
  rm -rf "$out"
  # Revision 2 is the upgrade scripts/package/deb.sh installs over revision 1 (--fast: gzip).
  cargo deb -p multiflexi-bin --no-build --strip --output "$out/1/"
  cargo deb -p multiflexi-bin --no-build --strip --fast --deb-revision 2 --output "$out/2/"
  ls -l "$out"/1 "$out"/2
}

timed "tools and services" install_tools
timed "release build and Debian packages" build
deb="$(echo "$out"/1/multiflexi_*.deb)"
version="$(dpkg-deb -f "$deb" Version)"
image="multiflexi-rs/multiflexi:${version%-*}"
remove_images() {
  docker image rm -f "$image" multiflexi-rs/postgres:15 >/dev/null 2>&1 || true
}
trap remove_images EXIT
timed "Debian package test (scripts/package/deb.sh)" \
  bash scripts/package/deb.sh "$deb" "$out"/2/multiflexi_*.deb
timed "container image (scripts/package/image.sh)" bash scripts/package/image.sh "$deb"
timed "compose example (scripts/package/compose.sh)" bash scripts/package/compose.sh "$image"
