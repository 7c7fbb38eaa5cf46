//! Job cleanup: finished jobs older than some days go, with their output and artifacts; one
//! finished job goes on request (`job:delete`).

use super::audit::Action;
use super::{Caller, UseCases};
use chrono::{DateTime, Utc};
use multiflexi_core::model::Job;
use multiflexi_core::store::{CleanupOptions, CleanupReport};
use multiflexi_core::{CompanyId, Error, JobId, Result};

/// Which finished jobs to delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobCleanup {
    /// Those that ended more than this many days ago.
    pub older_than_days: u32,
    /// Only this company's (a company token: always its own).
    pub company: Option<CompanyId>,
    /// Count them, delete nothing.
    pub dry_run: bool,
}

impl JobCleanup {
    /// Finished jobs that ended more than `days` days ago, of every company.
    pub fn older_than(days: u32) -> JobCleanup {
        JobCleanup {
            older_than_days: days,
            company: None,
            dry_run: false,
        }
    }
}

/// What a cleanup deleted (or would).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanupDone {
    /// The cutoff: jobs that ended before it.
    pub ended_before: DateTime<Utc>,
    /// What went (or would).
    pub report: CleanupReport,
}

impl UseCases {
    /// Deletes finished jobs that ended before now minus the days (counts them on a dry run).
    pub async fn clean_up_jobs(&self, caller: &Caller, request: JobCleanup) -> Result<CleanupDone> {
        let ended_before = self
            .clock
            .now()
            .checked_sub_signed(chrono::Duration::days(i64::from(request.older_than_days)))
            .ok_or_else(|| {
                Error::invalid(
                    "days",
                    format!(
                        "{} days reaches before the earliest date; give fewer days",
                        request.older_than_days
                    ),
                )
            })?;
        let company = match (request.company, caller.scope.company()) {
            (Some(c), _) => {
                caller.check_sees(c, "company", c)?;
                self.store.get_company(c).await?;
                Some(c)
            }
            (None, own) => own,
        };
        let mut options = CleanupOptions::before(ended_before);
        options.company_id = company;
        options.dry_run = request.dry_run;
        let report = self.store.cleanup(&options).await?;
        if !request.dry_run {
            self.audit(
                caller,
                None,
                Action::JobCleanup,
                format!(
                    "{} jobs ended before {}{} deleted ({} artifacts, {} output chunks)",
                    report.jobs,
                    ended_before.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                    company
                        .map(|c| format!(" of company {c}"))
                        .unwrap_or_default(),
                    report.artifacts,
                    report.output_chunks
                ),
            )
            .await;
        }
        Ok(CleanupDone {
            ended_before,
            report,
        })
    }

    /// Deletes one finished job with its output, artifacts and actions (`job:delete`); a job
    /// that has not finished is refused (cancel it first), another company's is NotFound.
    pub async fn delete_job(&self, caller: &Caller, id: JobId) -> Result<(Job, CleanupReport)> {
        let job = self.store.get_job(id).await?;
        caller.check_sees(job.company_id, "job", id)?;
        if !job.phase.is_finished() {
            return Err(Error::conflict(format!(
                "job {id} is {}; only a finished job can be deleted: cancel it first \
                 (job:cancel {id}) or wait for it (job:wait {id})",
                job.phase
            )));
        }
        // Every finished job has ended by now; a day ahead covers clocks a little apart.
        let mut options = CleanupOptions::before(self.clock.now() + chrono::Duration::days(1));
        options.job_id = Some(id);
        let report = self.store.cleanup(&options).await?;
        if report.jobs == 0 {
            return Err(Error::not_found("job", id));
        }
        self.audit(
            caller,
            None,
            Action::JobDelete,
            format!(
                "job {id} of run template {} ({}) deleted ({} artifacts, {} output chunks)",
                job.runtemplate_id,
                job.status(),
                report.artifacts,
                report.output_chunks
            ),
        )
        .await;
        Ok((job, report))
    }
}
