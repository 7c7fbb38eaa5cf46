//! `multiflexi-peers`: the load benchmark's throughput run (`multiflexi-loadbench --executor
//! noop`) done by other PostgreSQL job queues, for comparison. Resets the peer's own schema in
//! the given database, enqueues N no-op jobs with the peer's batched add (timed:
//! `enqueue_jobs_per_s`), works them with `parallel` jobs in flight and a handler that only
//! counts the job (timed until the database shows every job done: `worked_jobs_per_s`), checks
//! that every job ran exactly once, and prints ONE JSON line with the load benchmark's keys.

mod apalis_pg;
mod bare;
mod common;
mod graphile;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use common::{Executions, Run};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Peer {
    /// graphile_worker with its defaults.
    Graphile,
    /// graphile_worker with its local queue and batched completion.
    GraphileTuned,
    /// apalis with apalis-postgres, defaults.
    Apalis,
    /// One table, claims of 100 with SKIP LOCKED, batched deletes: the ceiling.
    Bare,
}

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::Graphile => "graphile",
            Peer::GraphileTuned => "graphile-tuned",
            Peer::Apalis => "apalis",
            Peer::Bare => "bare",
        }
    }
}

/// Throughput of other PostgreSQL job queues on the load benchmark's terms.
#[derive(Debug, Parser)]
#[command(name = "multiflexi-peers")]
struct Args {
    /// Which queue to measure.
    #[arg(long, value_enum)]
    peer: Peer,
    /// postgres://USER:PASS@HOST/DB; the peer drops and re-creates its own schema there.
    #[arg(long)]
    database_url: String,
    /// Jobs enqueued due now and worked off for the throughput figure.
    #[arg(long, default_value_t = 20_000)]
    n: usize,
    /// Jobs in flight at once (the worker's concurrency; the load benchmark's parallel limit).
    #[arg(long, default_value_t = 16)]
    parallel: usize,
    /// Jobs per batched add when the N jobs are enqueued (the load benchmark's default).
    #[arg(long, default_value_t = 500)]
    enqueue_batch: usize,
    /// graphile-tuned: jobs per local-queue fetch (the crate's default, and the bare queue's
    /// claim).
    #[arg(long, default_value_t = 100)]
    local_queue_size: usize,
    /// graphile-tuned: milliseconds completions are collected before one batched write (the
    /// crate recommends 1–5 and uses 5 in its own throughput benchmark).
    #[arg(long, default_value_t = 5)]
    complete_batch_delay_ms: u64,
    /// Seconds the work phase may take before the run fails (plain graphile needs about
    /// N / parallel seconds: see docs/benchmarks.md).
    #[arg(long, default_value_t = 1800)]
    timeout_s: u64,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if let Err(e) = main_inner(args).await {
        eprintln!("multiflexi-peers: {e:#}");
        std::process::exit(1);
    }
}

async fn main_inner(args: Args) -> anyhow::Result<()> {
    if args.n == 0 || args.parallel == 0 || args.enqueue_batch == 0 {
        bail!("--n, --parallel and --enqueue-batch must be at least 1");
    }
    // Default durability on every connection, whatever the role or database says: a role set up
    // for tests may carry `synchronous_commit = off`.
    let connect = PgConnectOptions::from_str(&args.database_url)
        .context("--database-url")?
        .options([("synchronous_commit", "on")]);
    let pool = PgPoolOptions::new()
        .max_connections(args.parallel as u32 + 4)
        .connect_with(connect)
        .await
        .context("cannot connect to --database-url")?;
    let synchronous_commit: String = sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(&pool)
        .await?;
    if synchronous_commit != "on" {
        bail!("synchronous_commit is {synchronous_commit}, the benchmark needs on");
    }
    let server_version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&pool)
        .await?;

    let run = Run {
        pool,
        n: args.n,
        parallel: args.parallel,
        enqueue_batch: args.enqueue_batch,
        timeout: Duration::from_secs(args.timeout_s),
    };
    let executions = Executions::new(args.n);
    let tuning = graphile::Tuning {
        local_queue_size: args.local_queue_size,
        complete_batch_delay: Duration::from_millis(args.complete_batch_delay_ms),
    };
    let timings = match args.peer {
        Peer::Graphile => graphile::run(&run, &executions, None).await?,
        Peer::GraphileTuned => graphile::run(&run, &executions, Some(tuning)).await?,
        Peer::Apalis => apalis_pg::run(&run, &executions).await?,
        Peer::Bare => bare::run(&run, &executions).await?,
    };
    executions.check_exactly_once()?;

    let mut report = serde_json::json!({
        "peer": args.peer.name(),
        "store": "postgres",
        "server_version": server_version,
        "synchronous_commit": synchronous_commit,
        "executor": "noop",
        "n": args.n,
        "parallel": args.parallel,
        "enqueue_batch": args.enqueue_batch,
        "enqueue_jobs_per_s": round(args.n as f64 / timings.enqueue_s),
        "worked_jobs_per_s": round(args.n as f64 / timings.worked_s),
        "peak_rss_mb": round(peak_rss_mb()),
    });
    if args.peer == Peer::GraphileTuned {
        report["local_queue_size"] = serde_json::json!(args.local_queue_size);
        report["complete_batch_delay_ms"] = serde_json::json!(args.complete_batch_delay_ms);
    }
    println!("{report}");
    Ok(())
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Peak resident memory of the process, MiB (as the load benchmark reports it).
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}
