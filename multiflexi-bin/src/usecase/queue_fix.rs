//! Repairing the queue (upstream's `queue:fix`): jobs whose executor lease expired are put back
//! or ended now, as the scheduler and the dispatcher do on their own every pass. There is no
//! schedule table apart from the jobs here, so no schedule row can lack its job.

use super::audit::Action;
use super::{Caller, UseCases};
use multiflexi_core::Result;
use multiflexi_core::engine::recover_expired_leases;
use multiflexi_core::store::Recovered;

impl UseCases {
    /// Recovers every expired lease now (admin only: it touches every company's jobs); audited
    /// with the counts when it changed something.
    pub async fn fix_queue(&self, caller: &Caller) -> Result<Recovered> {
        caller.require_admin("repairing the queue")?;
        let recovered =
            recover_expired_leases(&*self.store, &*self.clock, &*self.telemetry).await?;
        let changed = recovered.requeued.len()
            + recovered.lost.len()
            + recovered.cancelled.len()
            + recovered.retries.len();
        if changed > 0 {
            self.audit(
                caller,
                None,
                Action::QueueFix,
                format!(
                    "expired leases: {} jobs back in the queue, {} lost ({} retries made), {} \
                     cancelled",
                    recovered.requeued.len(),
                    recovered.lost.len(),
                    recovered.retries.len(),
                    recovered.cancelled.len()
                ),
            )
            .await;
        }
        Ok(recovered)
    }
}
