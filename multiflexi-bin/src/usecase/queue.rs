//! Emptying the queue (upstream's `queue:truncate`): every job still waiting in it (phase
//! Scheduled) is cancelled through the lifecycle, so nothing is deleted and the scheduler then
//! computes the templates' next slots as after any cancelled job. A company token empties its
//! own company's part only. One `queue:truncate` audit row with the count (each job also gets its
//! `job:cancel` row); a dry run counts and changes nothing.

use super::audit::Action;
use super::{Caller, UseCases};
use multiflexi_core::store::{CancelResult, JobFilter};
use multiflexi_core::{JobId, Result};

/// Jobs read per query.
const PAGE: u64 = 1000;

/// What emptying the queue did (or would).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncated {
    /// Jobs waiting when it started.
    pub waiting: u64,
    /// The jobs cancelled (none on a dry run; a job an executor claimed meanwhile is not).
    pub cancelled: Vec<JobId>,
}

impl UseCases {
    /// Cancels every job waiting in the queue that the caller may see (`dry_run`: counts only).
    pub async fn truncate_queue(&self, caller: &Caller, dry_run: bool) -> Result<Truncated> {
        let mut waiting = Vec::new();
        let mut before: Option<JobId> = None;
        loop {
            let mut f = JobFilter::default();
            f.status = Some("scheduled".into());
            f.company_id = caller.scope.company();
            f.before_id = before;
            f.limit = Some(PAGE);
            let page = self.store.list_jobs(&f).await?;
            let n = page.len() as u64;
            before = page.last().map(|j| j.id);
            waiting.extend(page.into_iter().map(|j| j.id));
            if n < PAGE {
                break;
            }
        }
        let mut done = Truncated {
            waiting: waiting.len() as u64,
            cancelled: Vec::new(),
        };
        if dry_run {
            return Ok(done);
        }
        for id in waiting {
            if let CancelResult::Cancelled(_) = self.cancel_job(caller, id).await? {
                done.cancelled.push(id);
            }
        }
        self.audit(
            caller,
            None,
            Action::QueueTruncate,
            format!(
                "{} of {} waiting jobs cancelled",
                done.cancelled.len(),
                done.waiting
            ),
        )
        .await;
        Ok(done)
    }
}
