#!/usr/bin/env bash
# The container image (issue 23; deploy/container/Containerfile): FROM scratch with the Debian
# package's binaries (CI's release build, stripped), the libraries ldd lists for them and
# busybox (scripts/package/rootfs.bash); no registry, no compile stage. Runs it once: --version
# of each daemon, the non-root user, and `serve` until the health check (the binary itself)
# says healthy. Prints the image's size. The image stays (scripts/package.sh removes it at its
# end; the compose test uses it).
#
# Usage: bash scripts/package/image.sh DEB   (DEB: the multiflexi_*.deb whose binaries to copy)
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=rootfs.bash
source "$repo/scripts/package/rootfs.bash"
deb="$(realpath "$1")"
version="$(dpkg-deb -f "$deb" Version)"
version="${version%-*}"
image="multiflexi-rs/multiflexi:$version"
container="multiflexi-image-test-$$"
work="$(mktemp -d /tmp/multiflexi-image.XXXXXX)"
fail() { echo "image: FAIL: $*" >&2; exit 1; }
cleanup() {
  local rc=$?
  if [ "$rc" -ne 0 ] && docker inspect "$container" >/dev/null 2>&1; then
    docker logs --tail 40 "$container" >&2 || true
  fi
  docker rm -f -v "$container" >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

echo "--- image: $image (FROM scratch: the binaries, what ldd lists, busybox)"
mkdir -p "$work/context/bin" "$work/context/state"
chmod 0711 "$work/context/state"
dpkg-deb -x "$deb" "$work/package"
cp -a "$work/package/usr/bin/." "$work/context/bin/"
rootfs_base "$work/context/rootfs" multiflexi:65532:/var/lib/multiflexi
rootfs_elf "$work/context/rootfs" "$work"/package/usr/bin/multiflexi*
rm -rf "$work/context/rootfs$work"   # the binaries themselves go to /usr/bin (bin/)
docker build --quiet -f "$repo/deploy/container/Containerfile" -t "$image" "$work/context" >/dev/null

echo "--- image: run once"
for daemon in scheduler executor api cli; do
  out="$(docker run --rm "$image" "$daemon" --version)"
  [[ "$out" == *" $version" ]] || fail "$daemon --version said '$out'"
done
[ "$(docker run --rm --entrypoint /bin/id "$image" -u)" = 65532 ] || fail "the image does not run as uid 65532"
docker run -d --name "$container" --health-interval 2s --health-start-period 60s "$image" serve \
  >/dev/null
for _ in $(seq 1 60); do
  status="$(docker inspect --format '{{.State.Health.Status}}' "$container")"
  [ "$status" = healthy ] && break
  [ "$(docker inspect --format '{{.State.Running}}' "$container")" = true ] ||
    fail "serve exited in the container"
  sleep 1
done
[ "$status" = healthy ] || fail "the health check says '$status'"
echo "image: $image is healthy; size $(( $(docker image inspect --format '{{.Size}}' "$image") / 1000000 )) MB"
