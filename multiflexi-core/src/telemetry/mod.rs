//! The [`Telemetry`] trait and the sinks that need nothing but `tracing`.

use crate::ids::{AppId, CompanyId, JobId, RunTemplateId};
use crate::lifecycle::{Outcome, Phase, Trigger};
use crate::model::{ExecutorKind, Job};
use chrono::{DateTime, Utc};
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

/// One phase change of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PhaseEvent {
    /// The job.
    pub job_id: JobId,
    /// Its template.
    pub runtemplate_id: RunTemplateId,
    /// Its company.
    pub company_id: CompanyId,
    /// Its app.
    pub app_id: AppId,
    /// Its executor kind.
    pub executor: ExecutorKind,
    /// Attempt number.
    pub attempt: u32,
    /// What created it.
    pub trigger: Trigger,
    /// The phase it entered.
    pub phase: Phase,
    /// Its outcome (Completed, Preserved).
    pub outcome: Option<Outcome>,
    /// Its exit code (Completed, Preserved).
    pub exitcode: Option<i32>,
    /// When.
    pub at: DateTime<Utc>,
    /// Run time so far, when it began.
    pub duration_ms: Option<i64>,
    /// The job's stored trace context.
    pub trace_context: Option<String>,
}

impl PhaseEvent {
    /// The event for `job` having just entered its current phase at `at`.
    pub fn of(job: &Job, at: DateTime<Utc>) -> Self {
        Self {
            job_id: job.id,
            runtemplate_id: job.runtemplate_id,
            company_id: job.company_id,
            app_id: job.app_id,
            executor: job.executor,
            attempt: job.attempt,
            trigger: job.trigger,
            phase: job.phase,
            outcome: job.outcome,
            exitcode: job.exitcode,
            at,
            duration_ms: job
                .begin
                .map(|b| (job.end.unwrap_or(at) - b).num_milliseconds()),
            trace_context: job.trace_context.clone(),
        }
    }
}

/// Receives phase events. Synchronous and cheap: sinks that do I/O buffer to a background task
/// and never block or fail a job.
pub trait Telemetry: Send + Sync + Debug + 'static {
    /// One phase change.
    fn event(&self, event: &PhaseEvent);
}

/// Discards everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopTelemetry;

impl Telemetry for NoopTelemetry {
    fn event(&self, _event: &PhaseEvent) {}
}

/// Emits one `tracing` event per phase change (target `multiflexi::job`).
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingTelemetry;

impl Telemetry for TracingTelemetry {
    fn event(&self, e: &PhaseEvent) {
        tracing::info!(
            target: "multiflexi::job",
            job_id = e.job_id.get(),
            runtemplate_id = e.runtemplate_id.get(),
            company_id = e.company_id.get(),
            app_id = e.app_id.get(),
            executor = e.executor.as_str(),
            attempt = e.attempt,
            trigger = e.trigger.as_str(),
            phase = e.phase.as_str(),
            outcome = e.outcome.map(|o| o.as_str()),
            exitcode = e.exitcode,
            "job {} {}",
            e.job_id,
            e.phase
        );
    }
}

/// Sends every event to several sinks.
#[derive(Debug, Default, Clone)]
pub struct FanoutTelemetry(pub Vec<Arc<dyn Telemetry>>);

impl Telemetry for FanoutTelemetry {
    fn event(&self, event: &PhaseEvent) {
        for sink in &self.0 {
            sink.event(event);
        }
    }
}

/// Keeps every event in memory (tests, the example program).
#[derive(Debug, Default)]
pub struct RecordingTelemetry {
    events: Mutex<Vec<PhaseEvent>>,
}

impl RecordingTelemetry {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything recorded so far.
    pub fn events(&self) -> Vec<PhaseEvent> {
        self.events.lock().unwrap().clone()
    }

    /// The phases one job went through, in order.
    pub fn phases_of(&self, job_id: JobId) -> Vec<Phase> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.job_id == job_id)
            .map(|e| e.phase)
            .collect()
    }
}

impl Telemetry for RecordingTelemetry {
    fn event(&self, event: &PhaseEvent) {
        self.events.lock().unwrap().push(event.clone());
    }
}
