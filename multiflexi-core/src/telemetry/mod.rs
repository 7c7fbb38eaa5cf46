//! The [`Telemetry`] trait, the [`PhaseEvent`] every phase change emits, and the sinks that need
//! no exporter library.
//!
//! | sink | what it does | I/O |
//! |---|---|---|
//! | [`NoopTelemetry`] | nothing | – |
//! | [`RecordingTelemetry`] | keeps events in memory (tests, examples) | – |
//! | [`TracingTelemetry`] | a `tracing` span `job.execute` per event with one event inside | – |
//! | [`JobMetrics`] | counters, histograms and the running gauge; Prometheus text | – |
//! | [`ZabbixTelemetry`] | Zabbix sender protocol over TCP, batched | behind a [`BoundedQueue`] |
//! | [`FanoutTelemetry`] | sends every event to several sinks | – |
//!
//! Every sink is synchronous and cheap: a sink that does I/O only pushes into a bounded queue
//! (`try_send`) and a background task does the I/O, so a dead, slow or black-holed peer never
//! blocks, slows or fails a job; what does not fit is counted as dropped ([`SinkStats`]) and
//! exposed as `multiflexi_telemetry_dropped_total` by [`JobMetrics`].
//!
//! ## Traces across processes
//!
//! A job's trace is identified by its stored `trace_context` (a W3C `traceparent`, see
//! [`new_trace_context`]) or, for a job created without one, by a context derived from its id
//! and creation time that every process computes alike ([`JobTrace::of`]). [`JobSpans`] turns a
//! process's phase events into exporter-neutral [`SpanRecord`]s: the `job.execute` span (the
//! whole lifecycle, one event per phase at the stored timestamps) and one segment span per
//! process (`job.create` where it was created, `job.run` where it ran). `multiflexi-bin` exports
//! them over OTLP; this crate depends on no exporter.

mod catalog;
mod fanout;
mod metrics;
mod queue;
mod spans;
mod trace_context;
mod tracing_sink;
pub mod zabbix;

pub use catalog::{CatalogNames, CompanyNames};
pub use fanout::FanoutTelemetry;
pub use metrics::{
    CPU_TIME_BUCKETS, DURATION_BUCKETS, JobMetrics, MEMORY_PEAK_BUCKETS, QUEUE_WAIT_BUCKETS,
    is_failure,
};
pub use queue::{
    Acks, BatchSink, BoundedQueue, QueueReceiver, QueuedTelemetry, SinkStats, WorkerHandle,
    spawn_worker,
};
pub use spans::{AttrValue, JobSpans, JobSpansOptions, SpanEventRecord, SpanRecord};
pub use trace_context::{JobTrace, TraceContext, child_trace_context, new_trace_context};
pub use tracing_sink::{JOB_TARGET, TracingTelemetry};
pub use zabbix::{ZabbixConfig, ZabbixTelemetry};

use crate::ids::{AppId, CompanyId, JobId, RunTemplateId};
use crate::lifecycle::{Outcome, Phase, Trigger};
use crate::model::{ExecutorKind, Job, ResourceUsage};
use chrono::{DateTime, Utc};
use std::fmt::Debug;
use std::sync::Mutex;

/// One phase change of one job.
///
/// Besides the phase it entered, it carries the job's timeline as stored (created, due, claimed,
/// began, ended, preserved) so that whichever process emits the last phase can describe the
/// whole lifecycle with exact timestamps.
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
    /// When the job was created (and scheduled: same transaction).
    pub created: DateTime<Utc>,
    /// When it became due (the schedule row's `after`).
    pub after: DateTime<Utc>,
    /// When an executor claimed it.
    pub queued: Option<DateTime<Utc>>,
    /// When it began running.
    pub begin: Option<DateTime<Utc>>,
    /// When it completed.
    pub end: Option<DateTime<Utc>>,
    /// When its artifacts were stored.
    pub preserved: Option<DateTime<Utc>>,
    /// What it used while it ran (Completed, Preserved).
    pub usage: ResourceUsage,
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
            created: job.created,
            after: job.after,
            queued: job.queued,
            begin: job.begin,
            end: job.end,
            preserved: job.preserved,
            usage: job.usage.clone(),
        }
    }

    /// How long it waited between becoming due and being claimed (Queued and later phases).
    pub fn queue_wait(&self) -> Option<chrono::Duration> {
        self.queued
            .map(|q| (q - self.after).max(chrono::Duration::zero()))
    }

    /// The same event for another phase (the Created event of a job created and scheduled in
    /// one step is its Scheduled event with `phase = Created`).
    pub fn with_phase(mut self, phase: Phase) -> Self {
        self.phase = phase;
        self
    }
}

/// Receives phase events. Synchronous and cheap: sinks that do I/O buffer to a background task
/// and never block or fail a job.
pub trait Telemetry: Send + Sync + Debug + 'static {
    /// One phase change.
    fn event(&self, event: &PhaseEvent);

    /// This process stopped following `job` without a phase change of its own: its lease was
    /// lost (another process records the job as lost, or re-queues it). Sinks drop what they
    /// hold for it (the running gauge, an open trace segment). Default: nothing.
    fn lease_lost(&self, job_id: JobId) {
        let _ = job_id;
    }

    /// An executor kind's circuit breaker opened (launches kept failing before their program
    /// started: no job of that kind is claimed for a while) or closed again. Default: nothing.
    fn executor_breaker(&self, executor: crate::model::ExecutorKind, open: bool) {
        let _ = (executor, open);
    }

    /// An attempt of an action after completion ended: `kind` (`webhook`, `launch`, …) and
    /// `result` (`done`, `retry`: failed and tried again later, `failed`: given up). Default:
    /// nothing.
    fn action_attempt(&self, kind: &'static str, result: &'static str) {
        let _ = (kind, result);
    }
}

/// Discards everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopTelemetry;

impl Telemetry for NoopTelemetry {
    fn event(&self, _event: &PhaseEvent) {}
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

/// The host name of this machine (for `ZABBIX_HOST`'s default), without a libc call:
/// `HOSTNAME`, else `/proc/sys/kernel/hostname`, else `/etc/hostname`, else `localhost`.
pub fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}
