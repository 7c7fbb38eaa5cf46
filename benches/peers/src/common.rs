//! What every peer shares: the run's parameters, the record of which job ran how often, and the
//! wait until the database says every job is done.

use anyhow::bail;
use sqlx::PgPool;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The parameters of one run, the same for every peer.
#[derive(Debug, Clone)]
pub struct Run {
    /// Pool on the benchmark database (every connection with `synchronous_commit = on`).
    pub pool: PgPool,
    /// Jobs enqueued and worked.
    pub n: usize,
    /// Jobs in flight at once (the worker's concurrency).
    pub parallel: usize,
    /// Jobs per batched add while enqueuing.
    pub enqueue_batch: usize,
    /// How long the work phase may take before the run fails.
    pub timeout: Duration,
}

/// The two timed phases of a run.
#[derive(Debug, Clone, Copy)]
pub struct Timings {
    /// Seconds to enqueue all N jobs.
    pub enqueue_s: f64,
    /// Seconds from starting the workers until the database shows every job done.
    pub worked_s: f64,
}

/// How many times the handler ran each job (a job's payload is its index, `0..n`).
#[derive(Debug, Clone)]
pub struct Executions {
    runs: Arc<Vec<AtomicU32>>,
    total: Arc<AtomicU64>,
}

impl Executions {
    /// A record for jobs `0..n`, none run yet.
    pub fn new(n: usize) -> Self {
        Self {
            runs: Arc::new((0..n).map(|_| AtomicU32::new(0)).collect()),
            total: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The no-op handler of every peer: counts that job `index` ran. An index outside `0..n`
    /// (a payload the harness did not enqueue) is counted as a run of no job and fails the check.
    pub fn record(&self, index: u64) {
        if let Some(slot) = usize::try_from(index).ok().and_then(|i| self.runs.get(i)) {
            slot.fetch_add(1, Ordering::Relaxed);
        }
        self.total.fetch_add(1, Ordering::Relaxed);
    }

    /// Handler runs so far, of any job.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Fails unless every job ran exactly once and nothing else ran.
    pub fn check_exactly_once(&self) -> anyhow::Result<()> {
        let mut never = Vec::new();
        let mut twice = Vec::new();
        for (i, runs) in self.runs.iter().enumerate() {
            match runs.load(Ordering::Relaxed) {
                0 => never.push(i),
                1 => {}
                _ => twice.push(i),
            }
        }
        let total = self.total();
        if !never.is_empty() || !twice.is_empty() || total != self.runs.len() as u64 {
            bail!(
                "completion check failed: {} handler runs for {} jobs; {} jobs never ran \
                 (first: {:?}), {} ran more than once (first: {:?})",
                total,
                self.runs.len(),
                never.len(),
                &never[..never.len().min(5)],
                twice.len(),
                &twice[..twice.len().min(5)]
            );
        }
        Ok(())
    }
}

/// Waits until the handler has run N times (polled every 2 ms, as the load benchmark polls its
/// dispatcher's counter) and then until `not_done` — a count from the database of the jobs not
/// yet recorded as completed — is zero (polled every 5 ms; the load benchmark polls its store
/// every 20 ms, so the peers' figures err on the high side). Fails after `run.timeout`.
pub async fn wait_until_done<F, Fut>(
    run: &Run,
    executions: &Executions,
    started: Instant,
    mut not_done: F,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<i64>>,
{
    loop {
        if started.elapsed() > run.timeout {
            bail!(
                "timed out after {:?}: {} handler runs of {} jobs",
                run.timeout,
                executions.total(),
                run.n
            );
        }
        if executions.total() < run.n as u64 {
            tokio::time::sleep(Duration::from_millis(2)).await;
            continue;
        }
        let left = not_done().await?;
        if left == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Drops the named schema and everything in it (each peer keeps its tables in a schema of its
/// own, so a reset touches nothing else in the database).
pub async fn drop_schema(pool: &PgPool, schema: &'static str) -> anyhow::Result<()> {
    // The name is one of the peers' constants, never input.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE"
    )))
    .execute(pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Executions;

    #[test]
    fn exactly_once_passes_only_when_every_job_ran_once() {
        let e = Executions::new(3);
        for i in 0..3 {
            e.record(i);
        }
        assert!(e.check_exactly_once().is_ok());

        let twice = Executions::new(3);
        for i in [0, 1, 2, 1] {
            twice.record(i);
        }
        assert!(twice.check_exactly_once().is_err());

        let missing = Executions::new(3);
        for i in [0, 2] {
            missing.record(i);
        }
        assert!(missing.check_exactly_once().is_err());

        let stranger = Executions::new(3);
        for i in [0, 1, 2, 7] {
            stranger.record(i);
        }
        assert!(stranger.check_exactly_once().is_err());
    }
}
