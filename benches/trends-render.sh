#!/bin/sh
# A run template's dashboard page with a long history (issue 25): the load benchmark fills the
# database (--history N bulk copies of one finished job, all of ONE template, plus --n jobs
# spread over 16 templates), then multiflexi-api serves the dashboard over it and curl times
# each page three times after one warm-up request. Prints how long the first statistics read
# took (it folds the history into the rollup first), then one line per page: the path and the
# three times in seconds.
#
#   benches/trends-render.sh 'sqlite:///tmp/trends.sqlite?mode=rwc' 1000000
#   benches/trends-render.sh 'postgres://USER:PASS@HOST/DB' 1000000   # DB fresh, synchronous_commit=on
#
# Binaries: $CARGO_TARGET_DIR/release (default target/release) multiflexi-loadbench and
# multiflexi (cargo build --release -p multiflexi-benches -p multiflexi-bin).
set -eu
url=$1
history=${2:-1000000}
bin=${CARGO_TARGET_DIR:-target}/release
port=${PORT:-18425}
export DATABASE_URL="$url"
export MULTIFLEXI_MASTER_KEY
MULTIFLEXI_MASTER_KEY=$(head -c 32 /dev/urandom | base64)

"$bin/multiflexi-loadbench" --store "$url" --history "$history" --n 1000 --pickup-samples 10 >&2
# The first statistics read finds the million unfolded and folds them into the per-hour rollup
# first (what a daemon's periodic fold does otherwise): timed here, once.
started=$(date +%s%N)
"$bin/multiflexi" cli job:stats --template 1 --format json >/dev/null
echo "first job:stats (folds the history first): $(( ($(date +%s%N) - started) / 1000000 )) ms"
secret=$("$bin/multiflexi" cli token:create --name "render-bench-$$" --admin --format json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
"$bin/multiflexi" api --listen "127.0.0.1:$port" >/dev/null 2>&1 &
api=$!
trap 'kill $api' EXIT
base="http://127.0.0.1:$port"
until curl -fs "$base/api/VitexSoftware/MultiFlexi/1.0.0/ping" >/dev/null; do sleep 0.2; done
# Template 1 holds the history (the worst case: all of its jobs in today's window); template 2
# is one of the throughput run's (about 60 jobs among the million); app 1 runs template 1;
# / is the overview (jobs per hour).
for path in /runtemplates/1 /runtemplates/2 /apps/1 /; do
    curl -fs -o /dev/null -H "Cookie: mfx_session=$secret" "$base$path"
    times=""
    for _ in 1 2 3; do
        t=$(curl -fs -o /dev/null -w '%{time_total}' -H "Cookie: mfx_session=$secret" "$base$path")
        times="$times $t"
    done
    echo "$path:$times"
done
