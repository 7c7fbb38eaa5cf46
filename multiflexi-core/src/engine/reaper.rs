//! Removes containers, Kubernetes Jobs and native process groups that no live lease covers,
//! whichever executor started them: at start-up and then periodically.
//!
//! A leftover is removed when its job is no longer leased under the token it was started with
//! (the job ended, was recovered as lost, or was claimed again), or when this executor id
//! started it and this dispatcher does not hold it (a previous incarnation's). A leftover whose
//! job is still leased under its token belongs to a live executor, or to a dead one whose
//! lease has not been recovered yet: the next pass after the recovery removes it.

use super::leases::Leases;
use crate::executor::{Executor, Leftover};
use crate::lifecycle::Phase;
use crate::store::Store;
use crate::{Error, Result};
use std::sync::Arc;

/// One reaping pass over one executor; how many leftovers it removed.
pub(crate) async fn reap_once(
    executor: &dyn Executor,
    store: &dyn Store,
    leases: &Leases,
    own_id: &str,
) -> Result<u64> {
    let mut removed = 0;
    for leftover in executor.leftovers().await? {
        if leases.holds(leftover.job_id, leftover.lease_token) {
            continue;
        }
        if leftover.executor_id != own_id && still_leased(store, &leftover).await? {
            continue;
        }
        tracing::info!(
            executor = %executor.kind(),
            job_id = leftover.job_id.get(),
            started_by = %leftover.executor_id,
            what = %leftover.handle,
            "removing what a job left behind: no live lease covers it"
        );
        match executor.remove(&leftover).await {
            Ok(()) => removed += 1,
            Err(e) => tracing::warn!(what = %leftover.handle, "could not remove a leftover: {e}"),
        }
    }
    Ok(removed)
}

/// Whether the leftover's job is still leased under the token it was started with.
async fn still_leased(store: &dyn Store, leftover: &Leftover) -> Result<bool> {
    match store.get_job(leftover.job_id).await {
        Ok(job) => Ok(matches!(job.phase, Phase::Queued | Phase::Running)
            && job.lease_token == leftover.lease_token),
        Err(Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Reaps every executor now and then every `every` (errors are logged: a dead engine is
/// reported by its launches, not here).
pub(crate) async fn reap_periodically(
    executors: Vec<Arc<dyn Executor>>,
    store: Arc<dyn Store>,
    leases: Arc<Leases>,
    own_id: String,
    every: std::time::Duration,
) {
    let mut tick = tokio::time::interval(every.max(std::time::Duration::from_millis(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = vec![false; executors.len()];
    loop {
        tick.tick().await;
        for (i, executor) in executors.iter().enumerate() {
            match reap_once(&**executor, &*store, &leases, &own_id).await {
                Ok(_) => failing[i] = false,
                Err(e) if !failing[i] => {
                    failing[i] = true;
                    tracing::warn!(executor = %executor.kind(), "reaping failed: {e}");
                }
                Err(e) => tracing::debug!(executor = %executor.kind(), "reaping failed: {e}"),
            }
        }
    }
}
