//! Resource usage in the executor conformance suite: every report carries the job's usage
//! (peak memory and CPU time) or the reason the executor cannot tell it, and an executor that
//! declares [`Capability::ResourceUsage`] carries figures that follow what the job did.

use super::{RecordingIo, TestPrograms, assert_exit, assert_started_once, lacks, run};
use crate::executor::{Capability, Executor, ExitReport};

/// The memory the allocating job touches: 40 MiB.
pub const ALLOCATED: u64 = 40 << 20;

/// Every report: figures (peak > 0 and a CPU time, no reason) or a non-empty reason (and no
/// figures). Checked on every report a case gets.
pub fn assert_usage_shape(report: &ExitReport, case: &str) {
    match (
        &report.usage_unknown,
        report.peak_rss_bytes,
        report.cpu_time,
    ) {
        (None, Some(peak), Some(_)) if peak > 0 => {}
        (Some(why), None, None) if !why.trim().is_empty() => {}
        _ => panic!(
            "{case}: the usage must be figures (peak > 0 and CPU time) or a reason, got {report:?}"
        ),
    }
}

/// A job that ran: figures exactly when the executor declares [`Capability::ResourceUsage`],
/// else the reason it cannot tell them.
pub fn assert_measured(exec: &dyn Executor, report: &ExitReport, case: &str) {
    assert_usage_shape(report, case);
    if exec.capabilities().has(Capability::ResourceUsage) {
        assert!(
            report.usage_unknown.is_none(),
            "{case}: declares ResourceUsage but could not tell the usage: {report:?}"
        );
    } else {
        assert!(
            report.usage_unknown.is_some(),
            "{case}: reports figures without declaring ResourceUsage: {report:?}"
        );
    }
}

/// A job that allocates and touches [`ALLOCATED`] bytes (`dd` with a buffer that size, read
/// full from `/dev/zero`) is reported with a peak of at least that, while a job that allocates
/// nothing is reported below it: the figure is the job's own.
pub async fn peak_memory_reported(exec: &dyn Executor, programs: &TestPrograms) {
    let io = RecordingIo::new();
    let small = run(exec, &programs.script("echo small"), &io).await;
    assert_exit(&small, 0, &io.snapshot(), "peak_memory_reported");
    assert_measured(exec, &small, "peak_memory_reported (small job)");
    if lacks(exec, "peak_memory_reported", &[Capability::ResourceUsage]) {
        return;
    }
    let io = RecordingIo::new();
    let spec = programs.script(&format!(
        "{{t}}dd if=/dev/zero of=/dev/null bs={ALLOCATED} count=1 2>/dev/null && echo allocated"
    ));
    let report = run(exec, &spec, &io).await;
    let rec = io.snapshot();
    assert_started_once(&rec, "peak_memory_reported");
    assert_exit(&report, 0, &rec, "peak_memory_reported");
    assert_eq!(String::from_utf8_lossy(&rec.stdout()), "allocated\n");
    assert_measured(exec, &report, "peak_memory_reported");
    let peak = report.peak_rss_bytes.unwrap_or_default();
    println!(
        "{}: a job allocating nothing: {:?} bytes, {:?}; a job touching {ALLOCATED} bytes: {peak} bytes, {:?}",
        exec.kind(),
        small.peak_rss_bytes,
        small.cpu_time,
        report.cpu_time
    );
    assert!(
        peak >= ALLOCATED,
        "the job touched {ALLOCATED} bytes but the peak was {peak}: {report:?}"
    );
    let small_peak = small.peak_rss_bytes.unwrap_or_default();
    assert!(
        small_peak < ALLOCATED,
        "a job that allocates nothing peaked at {small_peak} bytes (not the job's own figure?)"
    );
}

/// A job killed at its memory limit (`memory_limit_oom`): its peak reached the limit's
/// neighbourhood and not far past it, where the executor reports usage.
pub fn assert_peak_at_limit(exec: &dyn Executor, report: &ExitReport, limit_bytes: u64) {
    assert_measured(exec, report, "memory_limit_oom");
    let Some(peak) = report.peak_rss_bytes else {
        return;
    };
    assert!(
        peak >= limit_bytes / 2 && peak <= limit_bytes + (16 << 20),
        "memory_limit_oom: killed at a limit of {limit_bytes} bytes with a peak of {peak}: {report:?}"
    );
}
