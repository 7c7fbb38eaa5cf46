//! `prune --jobs --keep N`: the newest N finished jobs stay, older finished ones go with their
//! output and artifacts (upstream's prune, counted in jobs rather than days).

use super::audit::Action;
use super::{Caller, UseCases};
use multiflexi_core::store::{CleanupOptions, CleanupReport, JobFilter};
use multiflexi_core::{Error, JobId, Result};

/// Jobs listed per page while looking for the ones past the kept N.
const PAGE: u64 = 500;

/// What `prune --jobs` deleted (or would, on a dry run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pruned {
    /// Finished jobs kept (at most the N asked for).
    pub kept: u64,
    /// The jobs that went (or would), newest first.
    pub deleted: Vec<JobId>,
    /// Their artifacts and output chunks.
    pub report: CleanupReport,
}

impl UseCases {
    /// Keeps the `keep` newest finished jobs (by id) and deletes the older finished ones; jobs
    /// not finished are never touched. A company token prunes its own company's jobs only.
    pub async fn prune_jobs(&self, caller: &Caller, keep: u64, dry_run: bool) -> Result<Pruned> {
        if keep == 0 {
            return Err(Error::invalid(
                "keep",
                "--keep 0 would delete every finished job; give how many of the newest to keep \
                 (1 or more), or use job:cleanup --days N",
            ));
        }
        let mut filter = JobFilter::default();
        filter.company_id = caller.scope.company();
        filter.limit = Some(PAGE);
        let mut kept = 0u64;
        let mut doomed = Vec::new();
        loop {
            let page = self.store.list_jobs(&filter).await?;
            let Some(last) = page.last() else { break };
            filter.before_id = Some(last.id);
            for job in page.iter().filter(|j| j.phase.is_finished()) {
                if kept < keep {
                    kept += 1;
                } else {
                    doomed.push(job.id);
                }
            }
            if (page.len() as u64) < PAGE {
                break;
            }
        }
        let mut report = CleanupReport::default();
        if !dry_run {
            // Every finished job has ended by now; a day ahead covers clocks a little apart.
            let cutoff = self.clock.now() + chrono::Duration::days(1);
            for id in &doomed {
                let mut options = CleanupOptions::before(cutoff);
                options.job_id = Some(*id);
                let r = self.store.cleanup(&options).await?;
                report.jobs += r.jobs;
                report.artifacts += r.artifacts;
                report.output_chunks += r.output_chunks;
            }
            self.audit(
                caller,
                None,
                Action::Prune,
                format!(
                    "kept the {kept} newest finished jobs, deleted {} older ones ({} artifacts, \
                     {} output chunks)",
                    report.jobs, report.artifacts, report.output_chunks
                ),
            )
            .await;
        }
        Ok(Pruned {
            kept,
            deleted: doomed,
            report,
        })
    }
}
