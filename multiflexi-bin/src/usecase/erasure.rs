//! Erasing a company (GDPR): its templates stop, its unstarted jobs are cancelled, and then its
//! finished jobs (with output and artifacts), templates, credentials and the company itself are
//! deleted, jobs in small batches. A company already deleted can still be erased: whatever is
//! left under its id goes.

use super::audit::Action;
use super::{Caller, UseCases};
use multiflexi_core::store::{CancelResult, CleanupOptions, JobFilter, RunTemplateFilter};
use multiflexi_core::{CompanyId, Error, Result};

/// What an erasure deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erasure {
    /// Jobs (with their output chunks and artifacts, counted below).
    pub jobs: u64,
    /// Artifacts.
    pub artifacts: u64,
    /// Output chunks.
    pub output_chunks: u64,
    /// Run templates.
    pub templates: u64,
    /// Credentials.
    pub credentials: u64,
    /// Whether the company row itself was there to delete.
    pub company: bool,
}

/// Jobs per cleanup transaction.
const BATCH: u64 = 500;

impl UseCases {
    /// Erases company `id` (see the module docs). While a job of it is still queued or
    /// running (its cancel is requested), nothing but the stop and the cancels happens and the
    /// answer is Conflict: erase again once they have ended.
    pub async fn erase_company(&self, caller: &Caller, id: CompanyId) -> Result<Erasure> {
        caller.require_admin("erasing companies")?;
        let mut filter = RunTemplateFilter::default();
        filter.company_id = Some(id);
        let templates = self.store.list_runtemplates(&filter).await?;
        for t in templates.iter().filter(|t| t.active) {
            let mut stopped = t.clone();
            stopped.active = false;
            self.store.update_runtemplate(&stopped).await?;
        }
        let mut running = 0u64;
        let mut page = JobFilter::default();
        page.company_id = Some(id);
        page.limit = Some(500);
        loop {
            let jobs = self.store.list_jobs(&page).await?;
            let Some(last) = jobs.last() else { break };
            page.before_id = Some(last.id);
            for job in jobs.iter().filter(|j| !j.phase.is_finished()) {
                if let CancelResult::Requested(_) =
                    self.store.request_cancel(job.id, &caller.actor).await?
                {
                    running += 1;
                }
            }
        }
        if running > 0 {
            return Err(Error::conflict(format!(
                "{running} job(s) of company {id} are still queued or running; their cancel is \
                 requested and its templates are stopped: erase again once they have ended"
            )));
        }
        let mut erased = Erasure::default();
        let mut cleanup = CleanupOptions::before(self.clock.now() + chrono::Duration::days(36_500));
        cleanup.company_id = Some(id);
        cleanup.limit = Some(BATCH);
        loop {
            let r = self.store.cleanup(&cleanup).await?;
            erased.jobs += r.jobs;
            erased.artifacts += r.artifacts;
            erased.output_chunks += r.output_chunks;
            if r.jobs < BATCH {
                break;
            }
        }
        for t in &templates {
            self.store.delete_runtemplate(t.id).await?;
            erased.templates += 1;
        }
        for c in self.store.list_credentials(Some(id)).await? {
            self.store.delete_credential(c.id).await?;
            erased.credentials += 1;
        }
        erased.company = match self.store.delete_company(id).await {
            Ok(()) => true,
            Err(Error::NotFound { .. }) => false,
            Err(e) => return Err(e),
        };
        self.audit(
            caller,
            None,
            Action::CompanyErase,
            format!(
                "company {id}: {} job(s), {} artifact(s), {} output chunk(s), {} template(s), {} \
                 credential(s){}",
                erased.jobs,
                erased.artifacts,
                erased.output_chunks,
                erased.templates,
                erased.credentials,
                if erased.company {
                    ", the company"
                } else {
                    " (the company row was already gone)"
                }
            ),
        )
        .await;
        Ok(erased)
    }
}
