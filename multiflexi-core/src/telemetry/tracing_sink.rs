//! [`TracingTelemetry`]: phase events as `tracing` spans and events.

use super::{JobTrace, PhaseEvent, Telemetry};

/// Emits, for each phase change, a `tracing` span `job.execute` (target `multiflexi::job`) with
/// the job's attributes — job_id, runtemplate_id, company_id, app_id, executor, attempt,
/// trigger — and its trace ids (`trace_id`, `span_id`, `traceparent` of the job's
/// `job.execute` span, see [`JobTrace`]), and inside it one event named after the phase with
/// outcome, exit code and duration.
///
/// The span is the process-local view of the job: log lines carry the job's ids and trace id,
/// so logs and the exported trace correlate. The exported, cross-process `job.execute` span is
/// built by [`JobSpans`](super::JobSpans) (the OTLP sink in `multiflexi-bin`), which is why an
/// OpenTelemetry `tracing` layer should skip the `multiflexi::job` target.
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingTelemetry;

/// The `tracing` target of [`TracingTelemetry`]'s spans and events.
pub const JOB_TARGET: &str = "multiflexi::job";

impl Telemetry for TracingTelemetry {
    fn event(&self, e: &PhaseEvent) {
        let ids = JobTrace::of(e);
        let span = tracing::info_span!(
            target: "multiflexi::job",
            "job.execute",
            job_id = e.job_id.get(),
            runtemplate_id = e.runtemplate_id.get(),
            company_id = e.company_id.get(),
            app_id = e.app_id.get(),
            executor = e.executor.as_str(),
            attempt = e.attempt,
            trigger = e.trigger.as_str(),
            trace_id = %format_args!("{:032x}", ids.trace_id),
            span_id = %format_args!("{:016x}", ids.span_id),
            traceparent = %ids.traceparent(),
        );
        let _entered = span.enter();
        tracing::info!(
            target: "multiflexi::job",
            phase = e.phase.as_str(),
            outcome = e.outcome.map(|o| o.as_str()),
            exitcode = e.exitcode,
            duration_ms = e.duration_ms,
            "job {} {}",
            e.job_id,
            e.phase
        );
    }
}
