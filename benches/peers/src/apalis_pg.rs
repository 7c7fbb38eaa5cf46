//! apalis with its PostgreSQL backend (`apalis-postgres`): jobs added in batches with
//! `TaskSink::push_bulk` (one multi-row INSERT per batch), worked by one worker with the
//! backend's defaults (fetches of `batch_size` = 10, acknowledgements written in batches by the
//! backend) and `concurrency(parallel)` in-flight jobs. A completed job stays in `apalis.jobs`
//! with status `Done`.

use crate::common::{Executions, Run, Timings, drop_schema, wait_until_done};
use anyhow::{Context, ensure};
use apalis::prelude::*;
use apalis_postgres::PostgresStorage;
use serde::{Deserialize, Serialize};
use std::time::Instant;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct NoopJob {
    index: u64,
}

async fn noop(job: NoopJob, executions: Data<Executions>) -> Result<(), BoxDynError> {
    executions.record(job.index);
    Ok(())
}

pub async fn run(run: &Run, executions: &Executions) -> anyhow::Result<Timings> {
    // The backend keeps everything, its migration table too, in the schema `apalis`.
    drop_schema(&run.pool, "apalis").await?;
    PostgresStorage::<()>::setup(&run.pool)
        .await
        .context("apalis-postgres setup")?;
    let mut storage = PostgresStorage::<NoopJob>::new(&run.pool);
    let queue = storage.config().queue.to_string();

    let started = Instant::now();
    for first in (0..run.n).step_by(run.enqueue_batch) {
        let batch: Vec<NoopJob> = (first..run.n.min(first + run.enqueue_batch))
            .map(|i| NoopJob { index: i as u64 })
            .collect();
        storage.push_bulk(batch).await?;
    }
    let enqueue_s = started.elapsed().as_secs_f64();

    let counts = "SELECT count(*), count(*) FILTER (WHERE status = 'Done')
                  FROM apalis.jobs WHERE job_type = $1";
    let (added, _): (i64, i64) = sqlx::query_as(counts)
        .bind(&queue)
        .fetch_one(&run.pool)
        .await?;
    ensure!(
        added == run.n as i64,
        "push_bulk added {added} of {} jobs",
        run.n
    );

    let worker = WorkerBuilder::new("peers-apalis")
        .backend(storage)
        .data(executions.clone())
        .concurrency(run.parallel)
        .build(noop);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let started = Instant::now();
    let handle =
        tokio::spawn(worker.run_until(async move { stopped.await.map_err(std::io::Error::other) }));
    wait_until_done(run, executions, started, || async {
        let (_, done): (i64, i64) = sqlx::query_as(counts)
            .bind(&queue)
            .fetch_one(&run.pool)
            .await?;
        Ok(run.n as i64 - done)
    })
    .await?;
    let worked_s = started.elapsed().as_secs_f64();
    let _ = stop.send(());
    handle.await?.context("apalis worker")?;
    Ok(Timings {
        enqueue_s,
        worked_s,
    })
}
