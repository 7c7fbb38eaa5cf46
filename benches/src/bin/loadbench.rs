//! `multiflexi-loadbench`: enqueue N jobs due now, run the real dispatcher with a parallel
//! limit until all are Preserved, measure pickup latency on an idle dispatcher (and, with
//! `--cleanup N`, again while a retention run deletes N finished jobs), and print ONE JSON line.

use clap::{Parser, ValueEnum};
use multiflexi_benches::load::{
    CleanupLoad, ExecutorChoice, LoadConfig, prefill_history_bulk, run,
};
use multiflexi_core::store::JobQueue as _;
use multiflexi_store::{SqlStore, SqlStoreOptions, redact_url};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ExecutorArg {
    /// In-process executor that does nothing (pure lifecycle overhead).
    Noop,
    /// NativeExecutor running /bin/true.
    Native,
}

/// End-to-end load benchmark of the multiflexi lifecycle (real Dispatcher and Store code paths,
/// stdout.txt and stderr.txt preserved for every job, default database durability).
#[derive(Debug, Parser)]
#[command(name = "multiflexi-loadbench", version)]
struct Args {
    /// Store URL: sqlite://FILE?mode=rwc or postgres://USER:PASS@HOST/DB (migrated on start).
    #[arg(long)]
    store: String,
    /// Executor: noop (in-process, measures the lifecycle's own cost) or native (/bin/true).
    #[arg(long, value_enum, default_value = "noop")]
    executor: ExecutorArg,
    /// Jobs enqueued due now and worked off for the throughput figure.
    #[arg(long, default_value_t = 20_000)]
    n: usize,
    /// Jobs per set-wise create (`create_many`, the path the scheduler's due templates take)
    /// when the N jobs are enqueued; 1 creates them one transaction each.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    enqueue_batch: u64,
    /// The dispatcher's parallel limit (MULTIFLEXI_MAX_PARALLEL).
    #[arg(long, default_value_t = 16)]
    parallel: usize,
    /// Batches of job starts and finishes the dispatcher writes at once, each its own
    /// transaction (MULTIFLEXI_WRITES_IN_FLIGHT). Default: the store's (1 on SQLite, 4 on
    /// PostgreSQL and MySQL/MariaDB).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=64))]
    writes_in_flight: Option<u64>,
    /// Run templates the jobs are spread over (at least --parallel).
    #[arg(long, default_value_t = 16)]
    templates: usize,
    /// Jobs enqueued one at a time, 20 ms apart, into an idle dispatcher for pickup latency.
    #[arg(long, default_value_t = 200)]
    pickup_samples: usize,
    /// Finished jobs (with stdout.txt / stderr.txt and audit rows) put in the database before
    /// measuring, to show the cost does not grow with history. One goes through the lifecycle,
    /// the rest are bulk copies of it (multi-row INSERTs, 20,000 jobs per transaction); the
    /// pre-fill is not measured.
    #[arg(long, default_value_t = 0)]
    history: usize,
    /// Finished jobs of a company of their own (bulk copies, as --history) that a retention
    /// policy deletes while the pickup latency is measured a second time (the report's
    /// `cleanup_*` keys): how a large cleanup delays pickups.
    #[arg(long, default_value_t = 0)]
    cleanup: usize,
    /// Jobs per retention batch during --cleanup (as MULTIFLEXI_RETENTION_BATCH).
    #[arg(long, default_value_t = 50)]
    cleanup_batch: u64,
    /// Milliseconds between retention batches during --cleanup (as MULTIFLEXI_RETENTION_PAUSE_MS).
    #[arg(long, default_value_t = 20)]
    cleanup_pause_ms: u64,
    /// Check every job's phase and artifacts afterwards (default: a sample of 200).
    #[arg(long)]
    verify_all: bool,
    /// On a SQLite file: write through the connection pool on the generic path, without the
    /// dedicated rusqlite writer thread (`SqlStoreOptions::sqlite_writer = false`, as a
    /// one-shot CLI command), to measure what the writer buys.
    #[arg(long)]
    sqlite_without_writer: bool,
}

/// The daemons' allocator (`multiflexi-bin/src/allocator.rs`), so that the figures are theirs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let args = Args::parse();
    // The engine's and the store's warnings (a write retried, a lease lost) on stderr, so that a
    // run slower than its neighbours says why; RUST_LOG as everywhere (default: warn).
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = main_inner(args).await {
        eprintln!("multiflexi-loadbench: {e:#}");
        std::process::exit(1);
    }
}

async fn main_inner(args: Args) -> anyhow::Result<()> {
    let options = SqlStoreOptions::default().with_sqlite_writer(!args.sqlite_without_writer);
    let store = SqlStore::connect(&args.store, options)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open store {}: {e}", redact_url(&args.store)))?;
    let backend = store.backend_name();
    // The figures are for the default durability: a PostgreSQL commit waits for its WAL flush.
    let durability = store
        .durability()
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the durability settings: {e}"))?;
    if let Some((_, v)) = durability.iter().find(|(k, _)| k == "synchronous_commit")
        && v == "off"
    {
        anyhow::bail!(
            "PostgreSQL runs this role's commits with synchronous_commit=off (a commit does not \
             wait for its WAL flush), not the default the figures are for; set it for the \
             database: ALTER ROLE <role> IN DATABASE <db> SET synchronous_commit = on"
        );
    }
    // The history goes in first, in bulk (not through `run`'s one-job-at-a-time pre-fill).
    prefill_history_bulk(&store, args.history).await?;
    let cleanup = prefill_history_bulk(&store, args.cleanup)
        .await?
        .map(|company| CleanupLoad {
            company,
            jobs: args.cleanup,
            batch: args.cleanup_batch,
            pause: Duration::from_millis(args.cleanup_pause_ms),
        });
    let store = Arc::new(store);
    let config = LoadConfig {
        store: args.store.clone(),
        executor: match args.executor {
            ExecutorArg::Noop => ExecutorChoice::Noop,
            ExecutorArg::Native => ExecutorChoice::Native,
        },
        n: args.n,
        enqueue_batch: args.enqueue_batch as usize,
        parallel: args.parallel,
        writes_in_flight: args.writes_in_flight.map(|k| k as usize),
        templates: args.templates,
        pickup_samples: args.pickup_samples,
        history: 0,
        cleanup,
    };
    let writes_in_flight = config
        .writes_in_flight
        .unwrap_or_else(|| store.parallel_writes());
    let report = run(&config, store.clone(), store, backend, args.verify_all).await?;
    let mut json = report.to_json();
    json["writes_in_flight"] = writes_in_flight.into();
    json["durability"] = durability
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
        .into();
    println!("{json}");
    Ok(())
}
