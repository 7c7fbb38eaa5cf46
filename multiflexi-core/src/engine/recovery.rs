//! Lease recovery with its telemetry: the one place the scheduler, the dispatcher and
//! `queue:fix` recover expired leases through.

use super::job_factory::emit_created;
use crate::store::{JobQueue, Recovered};
use crate::telemetry::{PhaseEvent, Telemetry};
use crate::{Clock, Result};

/// Runs [`JobQueue::recover_expired`] once and reports what changed: a phase event for each job
/// that ended (lost or cancelled), Created + Scheduled for each retry it made.
pub async fn recover_expired_leases(
    store: &dyn JobQueue,
    clock: &dyn Clock,
    telemetry: &dyn Telemetry,
) -> Result<Recovered> {
    let recovered = store.recover_expired().await?;
    let now = clock.now();
    for job in recovered.lost.iter().chain(&recovered.cancelled) {
        telemetry.event(&PhaseEvent::of(job, now));
    }
    for job in &recovered.retries {
        emit_created(telemetry, job);
    }
    Ok(recovered)
}
