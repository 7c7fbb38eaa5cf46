#!/usr/bin/env bash
# What PostgreSQL alone can do with the rows a no-op job writes: the upper bound of any write path
# on this data model, with no client cost (docs/benchmarks/2026-12-07-postgres-ceiling.md).
#
# Usage:   scripts/pg-ceiling.sh postgres://USER:PASS@HOST:PORT/DB
# DB is created (USER needs CREATEDB) or emptied, migrated and seeded by one short run of the
# release load benchmark (target/release/multiflexi-loadbench; built if missing), then filled
# with CEILING_JOBS Scheduled jobs copied from a job the product wrote (benches/pg-ceiling/fill.sql)
# before each variant. Each variant runs pgbench for CEILING_SECONDS with CEILING_CLIENTS
# connections (the dispatcher's writes in flight), each looping over: claim up to CEILING_BATCH
# due jobs, end the ones it claimed (benches/pg-ceiling/functions.sql: one plan-cached statement
# each). Every connection runs with synchronous_commit = on, as the load benchmark does.
#
# Environment: CEILING_JOBS (400000), CEILING_SECONDS (15), CEILING_CLIENTS (4),
#   CEILING_BATCH (64), CEILING_VARIANTS (default "rows no-audit no-artifacts neither").
# Prints one line per variant: worked jobs/s, WAL bytes per job, pgbench's mean latency.
set -euo pipefail
cd "$(dirname "$0")/.."

url="${1:?usage: scripts/pg-ceiling.sh postgres://USER:PASS@HOST:PORT/DB}"
jobs="${CEILING_JOBS:-400000}"
seconds="${CEILING_SECONDS:-15}"
clients="${CEILING_CLIENTS:-4}"
batch="${CEILING_BATCH:-64}"
variants="${CEILING_VARIANTS:-rows no-audit no-artifacts neither}"

for tool in psql pgbench; do
    command -v "$tool" > /dev/null || { echo "pg-ceiling: $tool not found (postgresql-client)" >&2; exit 1; }
done
db="${url##*/}"
admin="${url%/*}/postgres"
# Re-created empty; an existing one keeps its name and loses its tables (an autovacuum worker
# of the last run may still be in it, which only a superuser could terminate).
if [[ "$(psql -At "$admin" -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" == 1 ]]; then
    psql -q "$url" -c 'DROP SCHEMA public CASCADE' -c 'CREATE SCHEMA public' 2> /dev/null
else
    psql -q "$admin" -c "CREATE DATABASE \"$db\""
fi
user="$(psql -At "$url" -c 'SELECT current_user')"
psql -q "$url" -c "ALTER ROLE \"$user\" IN DATABASE \"$db\" SET synchronous_commit = on"

bench=target/release/multiflexi-loadbench
[[ -x $bench ]] || cargo build --release -p multiflexi-benches --bin multiflexi-loadbench
echo "pg-ceiling: migrating and seeding $db with one short load benchmark run" >&2
"$bench" --store "$url" --n 100 --pickup-samples 1 > /dev/null
psql -q "$url" -f benches/pg-ceiling/functions.sql

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat > "$work/loop.sql" <<'EOF'
SELECT ceiling_claim('c' || :client_id, :batch, :audit);
SELECT ceiling_end('c' || :client_id, :audit, :artifacts);
EOF

echo "server: $(psql -At "$url" -c 'SHOW server_version'), synchronous_commit=$(psql -At "$url" -c 'SHOW synchronous_commit'), $(nproc) CPUs"
echo "clients=$clients batch=$batch seconds=$seconds jobs=$jobs"
for variant in $variants; do
    case $variant in
        rows) audit=true artifacts=true ;;
        no-audit) audit=false artifacts=true ;;
        no-artifacts) audit=true artifacts=false ;;
        neither) audit=false artifacts=false ;;
        *) echo "pg-ceiling: unknown variant '$variant' (rows, no-audit, no-artifacts, neither)" >&2; exit 2 ;;
    esac
    psql -q "$url" -v jobs="$jobs" -f benches/pg-ceiling/fill.sql > /dev/null
    before="$(psql -At "$url" -c 'SELECT pg_current_wal_lsn()')"
    pgbench -n -M prepared -c "$clients" -j 2 -T "$seconds" -D batch="$batch" -D audit="$audit" \
        -D artifacts="$artifacts" -f "$work/loop.sql" "$url" > "$work/pgbench.txt" 2>&1 || {
        cat "$work/pgbench.txt" >&2
        exit 1
    }
    read -r done wal < <(psql -At -F ' ' "$url" -c "SELECT count(*),
        pg_wal_lsn_diff(pg_current_wal_lsn(), '$before')::bigint FROM job WHERE phase = 'preserved'")
    (( done > 0 )) || { echo "pg-ceiling: variant $variant ended no job" >&2; exit 1; }
    latency="$(sed -n 's/^latency average = //p' "$work/pgbench.txt")"
    printf '%-13s worked_jobs_per_s=%-6d wal_bytes_per_job=%-5d loop_latency=%s\n' \
        "$variant" $(( done / seconds )) $(( wal / done )) "$latency"
done
