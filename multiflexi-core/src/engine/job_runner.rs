//! Runs one claimed job: waits for its slot, launches it, and stores its end — or gives it back
//! to the queue when it never started, or lets it go when its lease is gone.
//!
//! What happens to a job depends on who is at fault:
//! - its program ran: its exit (or timeout, cancel, OOM) is recorded, Completed and Preserved;
//! - the platform failed before the program started (engine down, image missing, work disk
//!   full): the job goes back to the queue, counted (`launch_failures`, with a bound, then
//!   `platform_error`), and the executor kind's breaker learns of it;
//! - the platform failed after it started (the engine died mid-run): `platform_error` (-1);
//! - its lease is gone or about to be: the job was killed; nothing is written (recovery records
//!   it `lost`, or puts it back in the queue).
//!
//! The end of a job is stored with retries until it lands or the lease is gone; meanwhile the
//! job keeps its lease (heartbeats) and its end waits in the spool.

use super::backoff::Backoff;
use super::dispatch_state::{Inner, Slot};
use super::job_factory::emit_created;
use super::job_io::{EngineJobIo, OutputLimits, lease_gone};
use super::job_writes::{JobWrite, JobWrites, JobWritten};
use super::leases::StopReason;
use super::spool::Spooled;
use crate::Error;
use crate::executor::LaunchSpec;
use crate::lifecycle::Outcome;
use crate::model::{Job, ResourceUsage};
use crate::store::{Completion, Finish, Finished, LeaseRef, Release, ReleaseReason, Released};
use crate::telemetry::PhaseEvent;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Runs one claimed job to its end (see the module docs).
pub(crate) async fn run_job(
    inner: &Arc<Inner>,
    writes: &Arc<JobWrites>,
    job: Job,
    cancel: CancellationToken,
    slot: Option<Slot>,
) {
    let id = job.id;
    let lease = LeaseRef::of(&job);
    let work_dir = inner
        .options
        .work_root
        .join(format!("job-{}-{}", job.id, job.lease_token));
    // Stopped while it waited for a slot, or its lease deadline passed meanwhile: never launched.
    let launchable = match slot {
        Some(_) => inner.leases.start_launch(lease),
        None => Err(inner.leases.reason(lease).unwrap_or(StopReason::LeaseLost)),
    };
    if let Err(reason) = launchable {
        drop(slot);
        match reason {
            StopReason::Draining => release(inner, &job, ReleaseReason::Draining).await,
            StopReason::Cancelled => {
                let completion = Completion::new(lease, Outcome::Cancelled, -1);
                finish(
                    inner,
                    writes,
                    &job,
                    Finish::new(completion, Vec::new(), Vec::new()),
                    None,
                )
                .await;
            }
            StopReason::LeaseLost | StopReason::LeaseExpiring => abandon(inner, &job, None).await,
        }
        return;
    }
    let Some(executor) = inner.executors.get(&job.executor).cloned() else {
        // The claim asks only for the kinds this dispatcher runs.
        release(
            inner,
            &job,
            ReleaseReason::LaunchFailed {
                message: format!("this executor daemon has no {} executor", job.executor),
            },
        )
        .await;
        return;
    };
    let uses_work_dir = inner.work_dir_kinds.contains(&job.executor);
    if let Err(e) = prepare_work_dir(uses_work_dir, &inner.options.work_root, &work_dir) {
        drop(slot);
        launch_failed(
            inner,
            writes,
            &job,
            &work_dir,
            format!(
                "cannot create the work directory {}: {e}",
                work_dir.display()
            ),
        )
        .await;
        return;
    }
    let io = EngineJobIo::new(
        inner.store.clone(),
        inner.artifacts.clone(),
        inner.telemetry.clone(),
        inner.clock.clone(),
        job.clone(),
        OutputLimits {
            cap: inner.options.output_cap,
            text_copy: inner.options.text_copy,
            flush_bytes: inner.options.flush_bytes,
            result_files: inner.options.result_files_max,
            result_bytes: inner.options.result_bytes_max,
        },
        writes.clone(),
        inner.leases.clone(),
    );
    let spec = launch_spec(&job, &inner.options.executor_id, work_dir.clone());
    let result = {
        let launch = executor.launch(&spec, &io, cancel.clone());
        tokio::pin!(launch);
        let mut flush = tokio::time::interval(inner.options.flush_interval);
        flush.tick().await;
        loop {
            tokio::select! {
                r = &mut launch => break r,
                _ = flush.tick() => io.flush(),
            }
        }
    };
    drop(slot);
    inner.leases.ended(lease);
    let reason = inner.leases.reason(lease);
    if reason.is_some_and(StopReason::is_lease) {
        // Killed before its lease could run out (or after the store said it is gone):
        // recovery records it as lost (or re-queues it); our writes would be fenced off.
        abandon(inner, &job, Some(&work_dir)).await;
        return;
    }
    let started = io.was_started();
    if let Err(e) = &result
        && !started
        && reason != Some(StopReason::Cancelled)
    {
        launch_failed(inner, writes, &job, &work_dir, e.to_string()).await;
        return;
    }
    if inner.breakers.success(job.executor) {
        inner.telemetry.executor_breaker(job.executor, false);
    }
    // The Running write the executor queued (retried until it lands): the end is stored after it.
    let begun = match io.started_job().await {
        Ok(begun) => begun,
        Err(e) => {
            tracing::warn!(
                job_id = id.get(),
                "the job's start was never stored, its lease is gone: {e}"
            );
            abandon(inner, &job, Some(&work_dir)).await;
            return;
        }
    };
    let usage = match &result {
        Ok(report) => report.resource_usage(),
        Err(_) => ResourceUsage::unknown("the executor failed before it could report"),
    };
    let (outcome, exitcode) = match &result {
        Ok(report) => {
            if begun.is_none() {
                // The executor reported no start (it ended before one): store it now.
                let _ = crate::executor::JobIo::started(&io, Default::default()).await;
                if let Err(e) = io.started_job().await {
                    tracing::warn!(job_id = id.get(), "the job's start was never stored: {e}");
                    abandon(inner, &job, Some(&work_dir)).await;
                    return;
                }
            }
            let mut outcome = report.outcome();
            if reason == Some(StopReason::Cancelled) && report.cancelled {
                outcome = Outcome::Cancelled;
            }
            (outcome, report.exitcode())
        }
        Err(e) if reason == Some(StopReason::Cancelled) && !started => {
            tracing::debug!(job_id = id.get(), "cancelled before start: {e}");
            (Outcome::Cancelled, -1)
        }
        Err(e) => {
            io.note(&format!(
                "\n[multiflexi: {} executor error: {e}]\n",
                job.executor
            ))
            .await;
            (Outcome::PlatformError, -1)
        }
    };
    let output = io.finish().await;
    let mut completion = Completion::new(lease, outcome, exitcode);
    completion.stdout = output.stdout_copy;
    completion.stderr = output.stderr_copy;
    completion.usage = usage;
    let end = Finish::new(completion, output.stdout, output.stderr);
    finish(inner, writes, &job, end, Some(&work_dir)).await;
}

/// Stores a job's end and reports it; removes the work directory.
async fn finish(
    inner: &Arc<Inner>,
    writes: &Arc<JobWrites>,
    job: &Job,
    end: Finish,
    work_dir: Option<&Path>,
) {
    let finished = store_finish(inner, writes, end, None).await;
    if let Some(dir) = work_dir {
        remove_work_dir(dir).await;
    }
    match finished {
        Some(finished) => report_finished(inner, &finished),
        None => inner.telemetry.lease_lost(job.id),
    }
}

/// Completed, output stored as stdout.txt / stderr.txt, Preserved: one step, batched with
/// other jobs' finishes, retried (backing off, spooled after the first failure) until it lands
/// or the lease is gone. `None` when it did not land (lease gone, or the daemon aborting: then
/// the end stays in the spool for the next start).
pub(crate) async fn store_finish(
    inner: &Arc<Inner>,
    writes: &Arc<JobWrites>,
    end: Finish,
    mut spooled: Option<Spooled>,
) -> Option<Finished> {
    let lease = end.completion.lease;
    let id = lease.job_id;
    let mut pending = end;
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
    loop {
        let failed = match writes.submit(JobWrite::Finish(pending)).await {
            Ok(JobWritten::Finished(f)) => {
                if let Some(s) = spooled.take() {
                    s.remove();
                }
                return Some(*f);
            }
            Ok(JobWritten::Begun(_)) => {
                tracing::error!(job_id = id.get(), "a finish came back as a start");
                return None;
            }
            Err(failed) => failed,
        };
        let Some(JobWrite::Finish(back)) = failed.item.map(|b| *b) else {
            tracing::warn!(
                job_id = id.get(),
                "the job's end was lost by the store batcher: {}",
                failed.error
            );
            return None;
        };
        pending = back;
        if lease_gone(&failed.error) || inner.leases.reason(lease) == Some(StopReason::LeaseLost) {
            tracing::warn!(
                job_id = id.get(),
                "the job's end was not stored: its lease is gone ({})",
                failed.error
            );
            if let Some(s) = spooled.take() {
                s.remove();
            }
            return None;
        }
        if spooled.is_none() {
            spooled = inner.spool.put(&pending);
        }
        tracing::warn!(
            job_id = id.get(),
            "storing the job's end failed (retrying; it waits in the spool): {}",
            failed.error
        );
        tokio::select! {
            _ = tokio::time::sleep(backoff.next_delay()) => {}
            _ = inner.stopping.cancelled() => {
                tracing::warn!(job_id = id.get(), "stopping with the job's end not stored; it stays in the spool for the next start");
                return None;
            }
        }
    }
}

/// Telemetry of a stored end: Completed (and the retry it created), then Preserved.
pub(crate) fn report_finished(inner: &Inner, finished: &Finished) {
    inner.counters.completed.fetch_add(1, Ordering::Relaxed);
    let now = inner.clock.now();
    inner
        .telemetry
        .event(&PhaseEvent::of(&finished.completed.job, now));
    if let Some(retry) = &finished.completed.retry {
        emit_created(&*inner.telemetry, retry);
    }
    match &finished.preserved {
        Ok(preserved) => inner.telemetry.event(&PhaseEvent::of(preserved, now)),
        Err(e) => tracing::warn!(
            job_id = finished.completed.job.id.get(),
            "the job completed but its output was not preserved: {e}"
        ),
    }
}

/// The launch failed before the program started: the platform's fault, not the job's. The job
/// goes back to the queue, or, at its last allowed failure, ends `platform_error` (-1) with the
/// reason on its stderr (Completed and Preserved like any end, then the retry rule).
async fn launch_failed(
    inner: &Arc<Inner>,
    writes: &Arc<JobWrites>,
    job: &Job,
    work_dir: &Path,
    message: String,
) {
    tracing::warn!(job_id = job.id.get(), executor = %job.executor, "the launch failed before the program started: {message}");
    if inner.breakers.failure(job.executor) {
        inner.telemetry.executor_breaker(job.executor, true);
    }
    let failures = job.launch_failures.saturating_add(1);
    if failures >= inner.options.max_launch_failures {
        let note = format!(
            "[multiflexi: the {} executor could not start the job ({failures} of {} tries failed before the program started): {message}]\n",
            job.executor, inner.options.max_launch_failures
        );
        let mut completion = Completion::new(LeaseRef::of(job), Outcome::PlatformError, -1);
        completion.stderr = note.clone();
        let end = Finish::new(completion, Vec::new(), note.into_bytes());
        finish(inner, writes, job, end, Some(work_dir)).await;
        return;
    }
    remove_work_dir(work_dir).await;
    release(inner, job, ReleaseReason::LaunchFailed { message }).await;
}

/// Gives a claimed job that never started back to the queue (due again after a back-off that
/// grows with its launch failures; at once when draining).
async fn release(inner: &Arc<Inner>, job: &Job, reason: ReleaseReason) {
    let retry_after = match reason {
        ReleaseReason::Draining => Duration::ZERO,
        _ => Duration::from_secs(1 << job.launch_failures.min(6)),
    };
    let request = Release::new(
        LeaseRef::of(job),
        reason,
        retry_after,
        inner.options.max_launch_failures,
    );
    let result = inner
        .store
        .release_many(std::slice::from_ref(&request))
        .await
        .and_then(|mut v| v.pop().unwrap_or_else(|| Err(Error::conflict("no result"))));
    let now = inner.clock.now();
    match result {
        Ok(Released::Requeued(job)) => {
            inner.counters.released.fetch_add(1, Ordering::Relaxed);
            inner.telemetry.lease_lost(job.id);
            inner.telemetry.event(&PhaseEvent::of(&job, now));
        }
        Ok(Released::Failed(completed)) => {
            inner.counters.completed.fetch_add(1, Ordering::Relaxed);
            inner.telemetry.event(&PhaseEvent::of(&completed.job, now));
            if let Some(retry) = &completed.retry {
                emit_created(&*inner.telemetry, retry);
            }
        }
        Err(e) => {
            // Its lease runs out and recovery puts it back in the queue.
            tracing::warn!(
                job_id = job.id.get(),
                "could not give the job back to the queue (its lease will expire instead): {e}"
            );
            inner.telemetry.lease_lost(job.id);
        }
    }
}

/// Lets a job go without a write: its lease is gone, or ran out before anything was stored.
async fn abandon(inner: &Inner, job: &Job, work_dir: Option<&Path>) {
    inner.counters.abandoned.fetch_add(1, Ordering::Relaxed);
    inner.telemetry.lease_lost(job.id);
    if let Some(dir) = work_dir {
        remove_work_dir(dir).await;
    }
}

/// Creates the job's work directory (the parent exists: `run` created it). A plain syscall, not
/// a blocking-pool round trip.
fn create_work_dir(root: &Path, dir: &Path) -> std::io::Result<()> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(_) => {
            std::fs::create_dir_all(root)?;
            std::fs::create_dir_all(dir)
        }
    }
}

/// The job's work directory, for an executor that uses one ([`Capability::WorkDir`](crate::executor::Capability::WorkDir)).
fn prepare_work_dir(uses_work_dir: bool, root: &Path, dir: &Path) -> std::io::Result<()> {
    if uses_work_dir {
        create_work_dir(root, dir)
    } else {
        Ok(())
    }
}

/// Removes the job's work directory: one syscall when it stayed empty (or was never made).
async fn remove_work_dir(dir: &Path) {
    if std::fs::remove_dir(dir).is_err_and(|e| e.kind() != std::io::ErrorKind::NotFound) {
        let _ = tokio::fs::remove_dir_all(dir).await;
    }
}

fn launch_spec(job: &Job, executor_id: &str, work_dir: PathBuf) -> LaunchSpec {
    let mut spec = LaunchSpec::new(job.spec.program.clone(), job.spec.args.clone(), work_dir);
    spec.job_id = job.id;
    spec.lease_token = job.lease_token;
    spec.runtemplate_id = job.runtemplate_id;
    spec.company_id = job.company_id;
    spec.app_id = job.app_id;
    spec.executor_id = executor_id.to_string();
    spec.env = job
        .spec
        .env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    spec.env
        .push(("MULTIFLEXI_JOB_ID".into(), job.id.to_string()));
    spec.image = job.spec.image.clone();
    spec.timeout = job.spec.timeout.map(|s| Duration::from_secs(u64::from(s)));
    spec.memory_limit_mb = job.spec.memory_limit_mb;
    spec.pids_max = job.spec.pids_max;
    spec.cpu_limit = job
        .spec
        .cpu_seconds
        .map(|s| Duration::from_secs(u64::from(s)));
    spec.container = job.spec.container.clone();
    spec.artifacts = job.spec.artifacts.clone();
    spec.timezone = job.spec.timezone.clone();
    spec.retry_of = job.retry_of;
    spec
}
