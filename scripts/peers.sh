#!/usr/bin/env bash
# Measures the peers (benches/peers: graphile_worker plain and tuned, apalis, a bare SQL queue)
# and this project's load benchmark side by side, on the same PostgreSQL, with the same N and
# parallelism, alternated, and prints a table.
#
# Usage:   scripts/peers.sh postgres://USER:PASS@HOST:PORT/DB
# The peers reset their own schemas in DB (peers_graphile, apalis, peers_bare). Before each of
# its runs, multiflexi-loadbench gets a fresh database DB_loadbench beside it (dropped and
# re-created, so USER needs CREATEDB). Every connection runs with synchronous_commit = on, also
# when the role or database sets it off (scripts/services/databases.sh sets it off for the test
# role): the peers set it per connection and check it; DB_loadbench gets it as its
# role-in-database setting, checked before each run.
#
# Environment:
#   PEERS_N (20000), PEERS_PARALLEL (16): N and parallelism, the same for every kind.
#   PEERS_ROUNDS (1): each kind once; more alternate the kinds round after round.
#   PEERS_KINDS (default "graphile graphile-tuned apalis bare multiflexi"): plain graphile drains
#     the backlog at about PEERS_PARALLEL jobs/s (~21 minutes for 20,000 jobs), so leave it out
#     of repeated rounds.
#   PEERS_LOADBENCH: a multiflexi-loadbench binary to run instead of building this tree's (e.g. a
#     baseline build for a before/after table).
#   CARGO_TARGET_DIR (default: each crate's own target/), CARGO_BUILD_JOBS (cargo's own).
# The JSON lines go to stdout as they come and to target/peers-<time>.jsonl; the table follows.
set -euo pipefail
cd "$(dirname "$0")/.."

url="${1:?usage: scripts/peers.sh postgres://USER:PASS@HOST:PORT/DB}"
n="${PEERS_N:-20000}"
parallel="${PEERS_PARALLEL:-16}"
rounds="${PEERS_ROUNDS:-1}"
kinds="${PEERS_KINDS:-graphile graphile-tuned apalis bare multiflexi}"

# postgres://…/DB?params -> postgres://…/DB_loadbench?params
base="${url%%\?*}"
params="${url#"$base"}"
db="${base##*/}"
lb_db="${db}_loadbench"
lb_url="${base%/*}/${lb_db}${params}"

echo "peers.sh: building (release)" >&2
cargo build --release --manifest-path benches/peers/Cargo.toml
peers_bin="${CARGO_TARGET_DIR:-benches/peers/target}/release/multiflexi-peers"
if [ -n "${PEERS_LOADBENCH:-}" ]; then
    loadbench_bin="$PEERS_LOADBENCH"
else
    # the Native runs start their jobs with the job supervisor next to the loadbench
    cargo build --release -p multiflexi-benches --bin multiflexi-loadbench \
        -p multiflexi-executors --bin multiflexi-job-supervisor
    loadbench_bin="${CARGO_TARGET_DIR:-target}/release/multiflexi-loadbench"
fi

mkdir -p target
results="target/peers-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
: > "$results"

fresh_loadbench_db() {
    PGOPTIONS="-c client_min_messages=warning" psql -q -v ON_ERROR_STOP=1 "$url" \
        -c "DROP DATABASE IF EXISTS \"$lb_db\" WITH (FORCE)" \
        -c "CREATE DATABASE \"$lb_db\"" \
        -c "ALTER ROLE CURRENT_USER IN DATABASE \"$lb_db\" SET synchronous_commit = on" >&2
    lb_sc=$(psql -Atc 'SHOW synchronous_commit' "$lb_url")
    if [ "$lb_sc" != on ]; then
        echo "peers.sh: synchronous_commit is $lb_sc in $lb_db" >&2
        exit 1
    fi
}

for round in $(seq 1 "$rounds"); do
    for kind in $kinds; do
        echo "peers.sh: round $round: $kind" >&2
        if [ "$kind" = multiflexi ]; then
            fresh_loadbench_db
            # The load benchmark does not report synchronous_commit: the value a fresh connection
            # to its database got just before the run is added to its line.
            line=$("$loadbench_bin" --store "$lb_url" --executor noop --parallel "$parallel" --n "$n" \
                | LB_SC="$lb_sc" python3 -c 'import json,os,sys; r=json.loads(sys.stdin.read()); r["peer"]="multiflexi"; r["synchronous_commit"]=os.environ["LB_SC"]; print(json.dumps(r))')
        else
            line=$("$peers_bin" --peer "$kind" --database-url "$url" --parallel "$parallel" --n "$n")
        fi
        echo "$line" | tee -a "$results"
    done
done

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print()
print(f"| {'queue':<15} | {'enqueue jobs/s':>14} | {'worked jobs/s':>13} | synchronous_commit |")
print(f"|{'-'*17}|{'-'*16}|{'-'*15}|{'-'*20}|")
for r in rows:
    print(f"| {r['peer']:<15} | {r['enqueue_jobs_per_s']:>14,.0f} | {r['worked_jobs_per_s']:>13,.0f} | {r['synchronous_commit']:<18} |")
print(f"\nn = {rows[0]['n']}, parallel = {rows[0]['parallel']}; JSON lines in {sys.argv[1]}")
PY
