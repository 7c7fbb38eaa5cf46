//! graphile_worker (the Rust crate): jobs added in batches with `WorkerUtils::add_jobs`, worked
//! by one `Worker` with `concurrency = parallel`. A completed job is deleted from
//! `_private_jobs`, so "done" is an empty table (a job that failed stays there with its error).
//!
//! Plain: the crate's defaults (each of the `parallel` job slots fetches its own job, each
//! completion is its own statement). In 0.14.1 a slot fetches one job per signal — a poll tick
//! (`poll_interval`, 1 s by default) or a `jobs:insert` notification — and not again when its
//! job is done, so a backlog enqueued before the worker starts drains at about `parallel` jobs
//! per second. Tuned: the two throughput options the crate documents —
//! a local queue (`WorkerOptions::local_queue`: jobs are fetched in batches and handed out
//! in-process) and batched completion (`complete_job_batch_delay`: completions are collected
//! and written together after a short delay).

use crate::common::{Executions, Run, Timings, drop_schema, wait_until_done};
use anyhow::Context;
use graphile_worker::{
    IntoTaskHandlerResult, JobSpec, LocalQueueConfig, TaskHandler, WorkerContext, WorkerOptions,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SCHEMA: &str = "peers_graphile"; // spelled out in the count below too

/// The tuned options (see the module's doc).
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// Jobs one local-queue fetch takes (`LocalQueueConfig::size`).
    pub local_queue_size: usize,
    /// How long completions are collected before one batched write.
    pub complete_batch_delay: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct NoopJob {
    index: u64,
}

impl TaskHandler for NoopJob {
    const IDENTIFIER: &'static str = "noop";

    async fn run(self, ctx: WorkerContext) -> impl IntoTaskHandlerResult {
        match ctx.get_ext::<Executions>() {
            Some(executions) => {
                executions.record(self.index);
                Ok(())
            }
            None => Err("the Executions extension is missing".to_string()),
        }
    }
}

pub async fn run(
    run: &Run,
    executions: &Executions,
    tuning: Option<Tuning>,
) -> anyhow::Result<Timings> {
    drop_schema(&run.pool, SCHEMA).await?;
    let mut options = WorkerOptions::default()
        .schema(SCHEMA)
        .pg_pool(run.pool.clone())
        .concurrency(run.parallel)
        .listen_os_shutdown_signals(false)
        .add_extension(executions.clone())
        .define_job::<NoopJob>();
    if let Some(t) = tuning {
        options = options
            .local_queue(LocalQueueConfig::default().with_size(t.local_queue_size))
            .complete_job_batch_delay(t.complete_batch_delay);
    }
    // init() migrates the (fresh) schema; not timed.
    let worker = Arc::new(options.init().await.context("graphile_worker init")?);
    let utils = worker.create_utils();

    let spec = JobSpec::default();
    let started = Instant::now();
    for first in (0..run.n).step_by(run.enqueue_batch) {
        let batch: Vec<(NoopJob, &JobSpec)> = (first..run.n.min(first + run.enqueue_batch))
            .map(|i| (NoopJob { index: i as u64 }, &spec))
            .collect();
        let added = utils.add_jobs::<NoopJob>(&batch).await?;
        anyhow::ensure!(
            added.len() == batch.len(),
            "add_jobs added {} of {}",
            added.len(),
            batch.len()
        );
    }
    let enqueue_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let handle = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run().await }
    });
    let count = "SELECT count(*) FROM peers_graphile._private_jobs";
    wait_until_done(run, executions, started, || async {
        Ok(sqlx::query_scalar::<_, i64>(count)
            .fetch_one(&run.pool)
            .await?)
    })
    .await?;
    let worked_s = started.elapsed().as_secs_f64();
    worker.request_shutdown();
    handle.await?.context("graphile_worker run")?;
    Ok(Timings {
        enqueue_s,
        worked_s,
    })
}
