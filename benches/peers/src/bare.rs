//! The bare SQL queue, a ceiling: one table, one index (its primary key), nothing a job does
//! not need. Jobs are added with one multi-row INSERT per batch; one claimer takes up to 100
//! queued jobs per statement (`UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT 100)
//! RETURNING`) and hands them to `parallel` workers over a bounded channel; one completer
//! deletes finished jobs in batches (every id that finished while the previous DELETE
//! committed). Each statement is its own transaction, committed with `synchronous_commit = on`.

use crate::common::{Executions, Run, Timings, drop_schema, wait_until_done};
use anyhow::{Context, bail, ensure};
use sqlx::PgPool;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, mpsc};

const SCHEMA: &str = "peers_bare"; // spelled out in the statements below too
const CLAIM: i64 = 100;

async fn reset(pool: &PgPool) -> anyhow::Result<()> {
    drop_schema(pool, SCHEMA).await?;
    sqlx::query("CREATE SCHEMA peers_bare")
        .execute(pool)
        .await?;
    // state: 0 queued, 1 running; a completed job is deleted.
    sqlx::query(
        "CREATE TABLE peers_bare.jobs (
             id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             state smallint NOT NULL DEFAULT 0,
             attempts integer NOT NULL DEFAULT 0,
             locked_at timestamptz,
             payload jsonb NOT NULL
         )",
    )
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn run(run: &Run, executions: &Executions) -> anyhow::Result<Timings> {
    reset(&run.pool).await?;
    let pool = &run.pool;

    let insert = "INSERT INTO peers_bare.jobs (payload)
                  SELECT jsonb_build_object('index', i) FROM unnest($1::bigint[]) AS i";
    let started = Instant::now();
    for first in (0..run.n).step_by(run.enqueue_batch) {
        let batch: Vec<i64> = (first..run.n.min(first + run.enqueue_batch))
            .map(|i| i as i64)
            .collect();
        let added = sqlx::query(insert).bind(&batch).execute(pool).await?;
        ensure!(added.rows_affected() == batch.len() as u64, "short insert");
    }
    let enqueue_s = started.elapsed().as_secs_f64();

    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    // At most CLAIM jobs wait in the channel, so at most CLAIM + parallel + one claim are held.
    let (job_tx, job_rx) = mpsc::channel::<(i64, u64)>(CLAIM as usize);
    let (done_tx, done_rx) = mpsc::unbounded_channel::<i64>();
    let mut claimer = tokio::spawn(claim_loop(pool.clone(), job_tx, stop.clone()));
    let job_rx = Arc::new(Mutex::new(job_rx));
    let workers: Vec<_> = (0..run.parallel)
        .map(|_| {
            let (job_rx, done_tx, executions) =
                (job_rx.clone(), done_tx.clone(), executions.clone());
            tokio::spawn(async move {
                loop {
                    let next = job_rx.lock().await.recv().await;
                    let Some((id, index)) = next else { break };
                    executions.record(index); // the no-op handler
                    if done_tx.send(id).is_err() {
                        break;
                    }
                }
            })
        })
        .collect();
    drop(done_tx);
    let mut completer = tokio::spawn(complete_loop(pool.clone(), done_rx));

    let count = "SELECT count(*) FROM peers_bare.jobs";
    tokio::select! {
        waited = wait_until_done(run, executions, started, || async {
            Ok(sqlx::query_scalar::<_, i64>(count).fetch_one(pool).await?)
        }) => waited?,
        ended = &mut claimer => bail!("the claimer stopped early: {:?}", ended?),
        ended = &mut completer => bail!("the completer stopped early: {:?}", ended?),
    }
    let worked_s = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    claimer.await??; // drops the job sender: the workers end, then the completer
    for w in workers {
        w.await?;
    }
    completer.await??;
    Ok(Timings {
        enqueue_s,
        worked_s,
    })
}

/// Claims up to CLAIM queued jobs per statement until `stop`; polls every 10 ms when none is
/// queued.
async fn claim_loop(
    pool: PgPool,
    jobs: mpsc::Sender<(i64, u64)>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let claim = "UPDATE peers_bare.jobs SET state = 1, attempts = attempts + 1, locked_at = now()
                 WHERE id IN (SELECT id FROM peers_bare.jobs WHERE state = 0 ORDER BY id
                              FOR UPDATE SKIP LOCKED LIMIT $1)
                 RETURNING id, (payload->>'index')::bigint";
    while !stop.load(Ordering::Relaxed) {
        let claimed: Vec<(i64, i64)> = sqlx::query_as(claim).bind(CLAIM).fetch_all(&pool).await?;
        if claimed.is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        for (id, index) in claimed {
            let index = u64::try_from(index).context("negative job index")?;
            jobs.send((id, index)).await.context("workers gone")?;
        }
    }
    Ok(())
}

/// Deletes finished jobs: waits for one id, takes every other id already waiting, deletes them
/// all in one statement, and checks that each was a running job of this queue.
async fn complete_loop(pool: PgPool, mut done: mpsc::UnboundedReceiver<i64>) -> anyhow::Result<()> {
    let delete = "DELETE FROM peers_bare.jobs WHERE id = ANY($1) AND state = 1";
    let mut ids = Vec::new();
    while let Some(first) = done.recv().await {
        ids.clear();
        ids.push(first);
        while let Ok(id) = done.try_recv() {
            ids.push(id);
        }
        let deleted = sqlx::query(delete).bind(&ids).execute(&pool).await?;
        ensure!(
            deleted.rows_affected() == ids.len() as u64,
            "completed {} jobs but deleted {} running rows",
            ids.len(),
            deleted.rows_affected()
        );
    }
    Ok(())
}
