//! Turns due run-template slots into jobs.

use super::job_factory::{JobRequest, create_jobs};
use super::shutdown::Shutdown;
use crate::lifecycle::Trigger;
use crate::model::{CatchupPolicy, ConcurrencyPolicy, Environment, Job, ScheduleCas};
use crate::store::{AuditEntry, SchedulableTemplate, Store, TokenScope};
use crate::telemetry::Telemetry;
use crate::{Clock, Error, Result};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

/// How a scheduler runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SchedulerOptions {
    /// Wake at least this often (`MULTIFLEXI_CYCLE_PAUSE`), also to notice edited templates.
    pub cycle_pause: Duration,
    /// A due slot counts as missed only when it is older than this (max(cycle pause, 60 s)).
    pub grace: Duration,
    /// Recorded as `launched_by` and in the audit log.
    pub actor: String,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        Self::with_cycle_pause(Duration::from_secs(10))
    }
}

impl SchedulerOptions {
    /// Options for a cycle pause; the grace is max(cycle pause, 60 s).
    pub fn with_cycle_pause(cycle_pause: Duration) -> Self {
        Self {
            cycle_pause,
            grace: cycle_pause.max(Duration::from_secs(60)),
            actor: "scheduler".into(),
        }
    }
}

/// What one scheduler pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Jobs it created.
    pub created: Vec<Job>,
    /// Missed slots it skipped (catch-up `skip`).
    pub skipped: u64,
    /// The earliest `next_schedule` among the templates afterwards.
    pub next_wake: Option<DateTime<Utc>>,
}

impl TickReport {
    /// Wake no later than `at`.
    fn wake(&mut self, at: Option<DateTime<Utc>>) {
        if let Some(at) = at {
            self.next_wake = Some(self.next_wake.map_or(at, |w| w.min(at)));
        }
    }
}

/// A template's due slot, whose job the pass creates.
struct DueSlot {
    request: JobRequest,
    schedule: crate::schedule::Schedule,
    /// The template's `next_schedule` that was due.
    due: DateTime<Utc>,
    /// The slot the job runs for (`due`, or the latest missed one under catch-up `once`).
    slot: DateTime<Utc>,
    /// The template's `next_schedule` once the job is written.
    set_next: Option<DateTime<Utc>>,
}

fn log_failure(id: crate::RunTemplateId, e: Error) {
    match e {
        // Another scheduler won the race for this slot.
        Error::AlreadyExists { .. } | Error::Conflict { .. } => {}
        e => tracing::warn!(runtemplate_id = id.get(), "scheduling failed: {e}"),
    }
}

/// For each active template whose `next_schedule` is due, creates and schedules its job (unique
/// slot key + compare-and-swap, so several schedulers never create a slot twice); computes
/// `next_schedule` when it is NULL and nothing is outstanding; applies the catch-up and
/// concurrency policies. Also runs lease recovery.
#[derive(Debug, Clone)]
pub struct Scheduler {
    store: Arc<dyn Store>,
    telemetry: Arc<dyn Telemetry>,
    clock: Arc<dyn Clock>,
    options: SchedulerOptions,
}

impl Scheduler {
    /// A scheduler over a store.
    pub fn new(
        store: Arc<dyn Store>,
        telemetry: Arc<dyn Telemetry>,
        clock: Arc<dyn Clock>,
        options: SchedulerOptions,
    ) -> Self {
        Self {
            store,
            telemetry,
            clock,
            options,
        }
    }

    /// One pass over every schedulable template.
    pub async fn tick(&self) -> Result<TickReport> {
        let mut report = TickReport::default();
        super::recover_expired_leases(&*self.store, &*self.clock, &*self.telemetry).await?;
        let mut due = Vec::new();
        for entry in self.store.schedulable_runtemplates().await? {
            let id = entry.template.id;
            match self.tick_template(&entry, &mut report).await {
                Ok(Some(slot)) => due.push(slot),
                Ok(None) => {}
                Err(e) => log_failure(id, e),
            }
        }
        // Every due slot's job in one set-wise write (each judged on its own).
        let requests = due.iter().map(|d| d.request.clone()).collect();
        let results = create_jobs(&*self.store, &*self.clock, &*self.telemetry, requests).await?;
        for (slot, result) in due.into_iter().zip(results) {
            let id = slot.request.runtemplate_id;
            if let Err(e) = self.written(slot, result, &mut report).await {
                log_failure(id, e);
            }
        }
        Ok(report)
    }

    /// What became of one due slot's job.
    async fn written(
        &self,
        due: DueSlot,
        result: Result<super::job_factory::CreatedJob>,
        report: &mut TickReport,
    ) -> Result<()> {
        match result {
            Ok(created) => {
                report.wake(due.set_next);
                report.created.push(created.job);
                Ok(())
            }
            Err(e @ Error::InvalidInput { .. }) => {
                // The template cannot produce a job (e.g. a required field is missing): record
                // it and move past this slot instead of retrying it every cycle.
                let id = due.request.runtemplate_id;
                let next = due.schedule.next_after(due.slot);
                self.store
                    .set_next_schedule(id, Some(due.due), next)
                    .await?;
                self.audit(id, format!("slot {} not run: {e}", due.slot))
                    .await;
                report.wake(next);
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Applies one template's schedule up to its job: the slot whose job is to be created, if
    /// any (the caller writes every template's in one batch).
    async fn tick_template(
        &self,
        entry: &SchedulableTemplate,
        report: &mut TickReport,
    ) -> Result<Option<DueSlot>> {
        let t = &entry.template;
        let schedule = t.schedule()?;
        let now = self.clock.now();
        let Some(due) = t.next_schedule else {
            if entry.outstanding.is_empty() {
                let next = schedule.next_after(now);
                if self.store.set_next_schedule(t.id, None, next).await? {
                    report.wake(next);
                }
            }
            return Ok(None);
        };
        if due > now {
            report.wake(Some(due));
            return Ok(None);
        }
        let missed = (now - due).to_std().unwrap_or_default() > self.options.grace;
        let slot = if missed {
            match t.catchup {
                CatchupPolicy::Skip => {
                    let next = schedule.next_after(now);
                    if self.store.set_next_schedule(t.id, Some(due), next).await? {
                        report.skipped += 1;
                        self.audit(t.id, format!("missed slot {due} skipped (catch-up: skip)"))
                            .await;
                        report.wake(next);
                    }
                    return Ok(None);
                }
                CatchupPolicy::Once => schedule
                    .latest_at_or_before(due, now)
                    .unwrap_or(due)
                    .max(due),
            }
        } else {
            due
        };
        if !entry.outstanding.is_empty() {
            match t.concurrency_policy {
                ConcurrencyPolicy::Forbid => return Ok(None),
                ConcurrencyPolicy::Allow => {}
                ConcurrencyPolicy::Replace => {
                    for job in &entry.outstanding {
                        self.store.request_cancel(*job, &self.options.actor).await?;
                    }
                }
            }
        }
        let set_next = match t.concurrency_policy {
            ConcurrencyPolicy::Forbid => None,
            ConcurrencyPolicy::Allow | ConcurrencyPolicy::Replace => schedule.next_after(slot),
        };
        let request = JobRequest {
            runtemplate_id: t.id,
            trigger: Trigger::Schedule,
            env: Environment::new(),
            executor: None,
            after: Some(slot + schedule.delay()),
            slot: Some(slot),
            cas: Some(ScheduleCas {
                expected_next: Some(due),
                set_next,
            }),
            idempotency_key: None,
            launched_by: Some(self.options.actor.clone()),
            trace_context: None,
            // The scheduler runs the template as stored: no override to judge.
            scope: TokenScope::Admin,
        };
        Ok(Some(DueSlot {
            request,
            schedule,
            due,
            slot,
            set_next,
        }))
    }

    async fn audit(&self, id: crate::RunTemplateId, detail: String) {
        let entry = AuditEntry::new(
            None,
            self.options.actor.clone(),
            format!("runtemplate:{id}:schedule"),
            detail,
        );
        if let Err(e) = self.store.append_audit(&entry).await {
            tracing::warn!("audit write failed: {e}");
        }
    }

    /// Runs passes until `shutdown` drains, sleeping until the earliest next slot (at most the
    /// cycle pause) in between.
    pub async fn run(&self, shutdown: Shutdown) -> Result<()> {
        loop {
            let report = match self.tick().await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!("scheduler pass failed: {e}");
                    TickReport::default()
                }
            };
            let mut sleep = self.options.cycle_pause;
            if let Some(at) = report.next_wake {
                let until = (at - self.clock.now()).to_std().unwrap_or_default();
                sleep = sleep.min(until);
            }
            tokio::select! {
                _ = shutdown.draining() => return Ok(()),
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }
}
