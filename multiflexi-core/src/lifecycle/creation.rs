//! Created + Scheduled as a write plan: what every store writes for a new job, decided once.

use super::{Event, Phase, PhaseAudit, Trigger};
use crate::clock::to_micros;
use crate::ids::{AppId, CompanyId, JobId, RunTemplateId};
use crate::model::{Job, NewJob, ResourceUsage};
use chrono::{DateTime, Utc};

/// The (template, slot, attempt) a scheduled job is unique by.
pub type SlotKey = (RunTemplateId, DateTime<Utc>, u32);

/// What a store writes to create and schedule one job, once the job's template, company, app
/// (and `retry_of` job) are known to exist and its slot and idempotency key are free: the job row
/// (its id assigned by the store), its schedule entry (`job.after`, `job.executor`), the
/// template's schedule marks, and one `phase:scheduled` audit row.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreationPlan {
    /// The job as stored, Scheduled, `id` 0 until the store assigns it; instants in whole
    /// microseconds.
    pub job: Job,
    /// The audit row's detail.
    pub audit: PhaseAudit,
    /// The audit row's actor: who launched it, else `scheduler`.
    pub actor: String,
    /// The template's schedule marks, for a job the scheduler created (trigger `schedule`).
    pub template: Option<TemplateMarks>,
}

/// What creating a scheduled job changes on its template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateMarks {
    /// The template.
    pub runtemplate_id: RunTemplateId,
    /// The compare-and-swap: `Some(expected)` writes only while `next_schedule` is `expected`
    /// (Conflict otherwise, [`TemplateMarks::conflict`]); `None` writes unconditionally.
    pub expected_next: Option<Option<DateTime<Utc>>>,
    /// The new `next_schedule`.
    pub next_schedule: Option<DateTime<Utc>>,
    /// The new `last_schedule`: the creation instant.
    pub last_schedule: DateTime<Utc>,
}

impl TemplateMarks {
    /// The Conflict of a compare-and-swap that found `seen` instead of the expected value.
    pub fn conflict(&self, seen: Option<DateTime<Utc>>) -> crate::Error {
        crate::Error::conflict(format!(
            "runtemplate {}: next_schedule is {:?}, the scheduler saw {:?}",
            self.runtemplate_id,
            seen,
            self.expected_next.flatten()
        ))
    }

    /// Whether the compare-and-swap holds for a template whose `next_schedule` is `current`.
    pub fn holds(&self, current: Option<DateTime<Utc>>) -> bool {
        self.expected_next.is_none_or(|e| e == current)
    }
}

/// A row a new job refers to, which must exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reference {
    /// The job it retries.
    RetryOf(JobId),
    /// Its template.
    Template(RunTemplateId),
    /// Its company.
    Company(CompanyId),
    /// Its app.
    App(AppId),
}

impl CreationPlan {
    /// The rows the job refers to, in the order [`CreationPlan::check`] judges them.
    pub fn references(&self) -> impl Iterator<Item = Reference> {
        let job = &self.job;
        job.retry_of.map(Reference::RetryOf).into_iter().chain([
            Reference::Template(job.runtemplate_id),
            Reference::Company(job.company_id),
            Reference::App(job.app_id),
        ])
    }

    /// The checks before the write, the same on every store: InvalidInput for a retried job
    /// that does not exist, NotFound for a missing template, company or app (in that order),
    /// AlreadyExists when its slot is taken. `exists` and `slot_taken` answer from the store
    /// (a slot taken by an earlier job of the same batch counts). The template's
    /// compare-and-swap is judged where it is written ([`TemplateMarks::holds`]).
    pub fn check(
        &self,
        exists: impl Fn(Reference) -> bool,
        slot_taken: impl Fn(&SlotKey) -> bool,
    ) -> crate::Result<()> {
        if let Some(r) = self.references().find(|r| !exists(*r)) {
            return Err(match r {
                Reference::RetryOf(id) => {
                    crate::Error::invalid("retry_of", format!("job {id} does not exist"))
                }
                Reference::Template(id) => crate::Error::not_found(RunTemplateId::ENTITY, id),
                Reference::Company(id) => crate::Error::not_found(CompanyId::ENTITY, id),
                Reference::App(id) => crate::Error::not_found(AppId::ENTITY, id),
            });
        }
        if self.slot_key().is_some_and(|k| slot_taken(&k)) {
            return Err(self.slot_taken());
        }
        Ok(())
    }

    /// The slot the job takes, if it has one.
    pub fn slot_key(&self) -> Option<SlotKey> {
        self.job
            .slot
            .map(|slot| (self.job.runtemplate_id, slot, self.job.attempt))
    }

    /// The AlreadyExists of a job whose slot is taken.
    pub fn slot_taken(&self) -> crate::Error {
        crate::Error::AlreadyExists {
            entity: JobId::ENTITY,
            key: format!(
                "runtemplate {} slot {} attempt {}",
                self.job.runtemplate_id,
                self.job.slot.map(|s| s.to_rfc3339()).unwrap_or_default(),
                self.job.attempt
            ),
        }
    }
}

/// Plans creating `new` at `now` (the store's clock). InvalidInput when the job breaks
/// [`NewJob::validate`].
pub fn plan_creation(new: &NewJob, now: DateTime<Utc>) -> crate::Result<CreationPlan> {
    new.validate()?;
    let now = to_micros(now);
    let after = to_micros(new.after);
    let slot = new.slot.map(to_micros);
    // Created → Scheduled in the same step; Created is never observed.
    let phase = Phase::Created.apply(Event::Schedule)?.to;
    let job = Job {
        id: JobId(0),
        runtemplate_id: new.runtemplate_id,
        company_id: new.company_id,
        app_id: new.app_id,
        executor: new.executor,
        spec: new.spec.clone(),
        command: new.spec.redacted_command(),
        launched_by: new.launched_by.clone(),
        phase,
        outcome: None,
        trigger: new.trigger,
        slot,
        attempt: new.attempt,
        retry_of: new.retry_of,
        after,
        exitcode: None,
        pid: None,
        external_id: None,
        lease_owner: None,
        lease_expires: None,
        lease_token: 0,
        cancel_requested: false,
        idempotency_key: new.idempotency_key.clone(),
        trace_context: new.trace_context.clone(),
        stdout: String::new(),
        stderr: String::new(),
        created: now,
        queued: None,
        begin: None,
        end: None,
        preserved: None,
        launch_failures: 0,
        usage: ResourceUsage::default(),
        unreadable: None,
    };
    let template = (new.trigger == Trigger::Schedule).then(|| TemplateMarks {
        runtemplate_id: new.runtemplate_id,
        expected_next: new.cas.map(|c| c.expected_next.map(to_micros)),
        next_schedule: new.cas.and_then(|c| c.set_next).map(to_micros),
        last_schedule: now,
    });
    Ok(CreationPlan {
        audit: PhaseAudit::Scheduled {
            trigger: new.trigger,
            attempt: new.attempt,
            after,
            slot,
        },
        actor: new
            .launched_by
            .clone()
            .unwrap_or_else(|| "scheduler".into()),
        template,
        job,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AppId, CompanyId};
    use crate::model::{ExecutorKind, JobSpec, ScheduleCas};
    use chrono::TimeZone;

    fn new_job(trigger: Trigger) -> NewJob {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        NewJob::new(
            RunTemplateId(1),
            CompanyId(2),
            AppId(3),
            ExecutorKind::Native,
            JobSpec::new("/bin/true", vec![]),
            trigger,
            at,
        )
    }

    #[test]
    fn an_api_job_is_scheduled_without_template_marks() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 1).unwrap();
        let mut new = new_job(Trigger::Api);
        new.launched_by = Some("alice".into());
        let plan = plan_creation(&new, now).unwrap();
        assert_eq!(plan.job.phase, Phase::Scheduled);
        assert_eq!(plan.job.created, now);
        assert_eq!(plan.actor, "alice");
        assert_eq!(plan.template, None);
        assert_eq!(plan.slot_key(), None);
        assert_eq!(plan.audit.action(), "phase:scheduled");
    }

    #[test]
    fn a_scheduled_job_carries_its_compare_and_swap() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 1).unwrap();
        let slot = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let next = Utc.with_ymd_and_hms(2026, 1, 1, 1, 0, 0).unwrap();
        let mut new = new_job(Trigger::Schedule);
        new.slot = Some(slot);
        new.cas = Some(ScheduleCas {
            expected_next: Some(slot),
            set_next: Some(next),
        });
        let plan = plan_creation(&new, now).unwrap();
        let marks = plan.template.unwrap();
        assert!(marks.holds(Some(slot)));
        assert!(!marks.holds(None));
        assert_eq!(marks.next_schedule, Some(next));
        assert_eq!(plan.actor, "scheduler");
        assert_eq!(plan.slot_key(), Some((RunTemplateId(1), slot, 0)));
        assert!(matches!(
            plan.slot_taken(),
            crate::Error::AlreadyExists { .. }
        ));
    }

    #[test]
    fn a_scheduled_job_without_slot_is_refused() {
        let err = plan_creation(&new_job(Trigger::Schedule), Utc::now()).unwrap_err();
        assert!(err.to_string().contains("slot"), "{err}");
    }
}
