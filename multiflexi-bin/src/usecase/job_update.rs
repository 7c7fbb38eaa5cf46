//! Changing a job (upstream's `job:update`), the part that fits a lifecycle whose phases the
//! engine owns: a job still waiting in the queue can be made due at another time. What a job
//! froze when it was made (its template, app and executor, all in its environment) is refused
//! with the way to get it: cancel the job and create another.

use super::audit::Action;
use super::scheduled::{parse_scheduled, wall_timezone};
use super::{Caller, UseCases};
use multiflexi_core::model::{ExecutorKind, Job};
use multiflexi_core::{AppId, Error, JobId, Result, RunTemplateId};

/// What `job:update` is given; `None` leaves a field alone. A value equal to the job's own is
/// no change (so a playbook may send the whole job back).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct JobChange {
    /// When it is due: `now`, an RFC 3339 instant or `Y-m-d H:i:s` in `MULTIFLEXI_TIMEZONE`.
    pub scheduled: Option<String>,
    /// The executor it runs on (only its own).
    pub executor: Option<String>,
    /// Its run template (only its own).
    pub runtemplate_id: Option<RunTemplateId>,
    /// Its app (only its own).
    pub app_id: Option<AppId>,
}

/// How to get a job with other frozen settings.
fn make_another(job: &Job) -> String {
    format!(
        "cancel it (job:cancel {}) and create one with what you need (job:create \
         --runtemplate_id {} --executor KIND --scheduled TIME)",
        job.id, job.runtemplate_id
    )
}

impl UseCases {
    /// Makes a job that is still waiting in the queue due at `change.scheduled` (one
    /// `job:update` audit row). Another company's job is NotFound; a job an executor has
    /// claimed, or that has ended, is a Conflict; another template, app or executor is
    /// InvalidInput naming the field and the way to get it.
    pub async fn update_job(&self, caller: &Caller, id: JobId, change: JobChange) -> Result<Job> {
        let job = self.visible_job(caller, id).await?;
        if let Some(t) = change.runtemplate_id.filter(|t| *t != job.runtemplate_id) {
            return Err(Error::invalid(
                "runtemplate_id",
                format!(
                    "job {id} was made from run template {}, not {t}; a job keeps its template: {}",
                    job.runtemplate_id,
                    make_another(&job)
                ),
            ));
        }
        if let Some(a) = change.app_id.filter(|a| *a != job.app_id) {
            return Err(Error::invalid(
                "app_id",
                format!(
                    "job {id} runs app {}, not {a}; a job keeps its app: {}",
                    job.app_id,
                    make_another(&job)
                ),
            ));
        }
        if let Some(raw) = &change.executor {
            let kind = raw.trim().parse::<ExecutorKind>().map_err(|e| match e {
                Error::InvalidInput { message, .. } => Error::invalid("executor", message),
                e => e,
            })?;
            if kind != job.executor {
                return Err(Error::invalid(
                    "executor",
                    format!(
                        "job {id} runs on {}; the executor is frozen into a job's environment \
                         when it is made, so it cannot change: {}",
                        job.executor,
                        make_another(&job)
                    ),
                ));
            }
        }
        let Some(raw) = change.scheduled.as_deref() else {
            return Err(Error::invalid(
                "scheduled",
                "nothing to change: --scheduled (when a waiting job is due) is what a job's \
                 update changes; its template, app and executor are its own",
            ));
        };
        let when = parse_scheduled(raw, wall_timezone()?, self.clock.now())?;
        let before = job.after;
        let job = self.store.reschedule(id, when).await?;
        self.audit(
            caller,
            Some(id),
            Action::JobUpdate,
            format!(
                "job {id} due at {} (was {})",
                job.after.to_rfc3339(),
                before.to_rfc3339()
            ),
        )
        .await;
        Ok(job)
    }
}
