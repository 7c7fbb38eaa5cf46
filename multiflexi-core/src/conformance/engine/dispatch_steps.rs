//! Engine scenarios about what the dispatcher does around a launch: the Running write that goes
//! on while the job runs, and the per-job work directory.

use super::{options, run_one_with, seed_templates};
use crate::executor::{
    Capabilities, Capability, ExitReport, JobIo, LaunchSpec, RunHandle, Termination,
};
use crate::lifecycle::Outcome;
use crate::model::{App, ExecutorKind};
use crate::store::Store;
use crate::{ArtifactSink, Executor, ManualClock, Result};
use async_trait::async_trait;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What [`LeaseStealer`] saw of each launch.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Seen {
    /// Launches whose token fired (the engine stopped them).
    stopped: usize,
    /// Launches that ran to their end.
    finished: usize,
}

/// Its first launch expires its own lease (the clock moves past the TTL and lease recovery
/// runs) before reporting `started`, so that Running write is fenced off; it then waits for
/// the engine to stop it. Later launches exit 0 at once.
#[derive(Debug)]
struct LeaseStealer {
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    ttl: Duration,
    launches: AtomicUsize,
    seen: Mutex<Seen>,
}

#[async_trait]
impl Executor for LeaseStealer {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Native
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    async fn launch(
        &self,
        _spec: &LaunchSpec,
        io: &dyn JobIo,
        cancel: CancellationToken,
    ) -> Result<ExitReport> {
        if self.launches.fetch_add(1, Ordering::SeqCst) > 0 {
            io.started(RunHandle::default()).await?;
            self.seen.lock().unwrap().finished += 1;
            return Ok(ExitReport::exited(0));
        }
        let past_ttl = self.ttl + Duration::from_secs(1);
        self.clock
            .advance(chrono::Duration::from_std(past_ttl).expect("a small duration"));
        let recovered = self.store.recover_expired().await?;
        assert_eq!(
            recovered.requeued.len(),
            1,
            "the job went back to Scheduled"
        );
        io.started(RunHandle::default()).await?;
        tokio::select! {
            () = cancel.cancelled() => {
                self.seen.lock().unwrap().stopped += 1;
                let mut report = ExitReport::exited(0);
                report.termination = Termination::Signaled(15);
                report.cancelled = true;
                Ok(report)
            }
            () = tokio::time::sleep(Duration::from_secs(60)) => {
                self.seen.lock().unwrap().finished += 1;
                Ok(ExitReport::exited(0))
            }
        }
    }

    async fn reap(&self, _executor_id: &str) -> Result<u64> {
        Ok(0)
    }
}

/// A job whose Running write fails (its lease was recovered between claim and start) is stopped
/// at once rather than left running unrecorded: the executor's token fires. The job, back in
/// Scheduled, is claimed again and runs to Preserved(success).
pub async fn failed_running_write_stops_the_job(
    store: Arc<dyn Store>,
    artifacts: Arc<dyn ArtifactSink>,
    clock: Arc<ManualClock>,
) {
    let templates = seed_templates(&*store, App::new("engine-begin-fenced", "/bin/fake"), 1).await;
    let mut opts = options(1);
    opts.lease_ttl = Duration::from_secs(30);
    let stealer = Arc::new(LeaseStealer {
        store: store.clone(),
        clock: clock.clone(),
        ttl: opts.lease_ttl,
        launches: AtomicUsize::new(0),
        seen: Mutex::new(Seen::default()),
    });
    let done = run_one_with(
        &store,
        &artifacts,
        stealer.clone(),
        templates[0].id,
        opts,
        clock,
    )
    .await;
    assert_eq!(
        *stealer.seen.lock().unwrap(),
        Seen {
            stopped: 1,
            finished: 1
        },
        "the fenced-off run was stopped, the second claim ran to its end"
    );
    assert_eq!(done.outcome, Some(Outcome::Success));
    assert_eq!(done.lease_token, 2, "claimed twice");
}

/// Records whether `LaunchSpec::work_dir` existed while it ran.
#[derive(Debug)]
struct WorkDirProbe {
    uses: bool,
    existed: Mutex<Vec<bool>>,
}

#[async_trait]
impl Executor for WorkDirProbe {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Native
    }

    fn capabilities(&self) -> Capabilities {
        if self.uses {
            Capabilities::new([Capability::WorkDir])
        } else {
            Capabilities::default()
        }
    }

    async fn launch(
        &self,
        spec: &LaunchSpec,
        io: &dyn JobIo,
        _cancel: CancellationToken,
    ) -> Result<ExitReport> {
        self.existed.lock().unwrap().push(spec.work_dir.is_dir());
        io.started(RunHandle::default()).await?;
        Ok(ExitReport::exited(0))
    }

    async fn reap(&self, _executor_id: &str) -> Result<u64> {
        Ok(0)
    }
}

/// The dispatcher makes a job's work directory for an executor that uses one (and removes it
/// after), and none for an in-process executor that says it uses none.
pub async fn work_dir_only_for_executors_that_use_one(
    store: Arc<dyn Store>,
    artifacts: Arc<dyn ArtifactSink>,
    clock: Arc<ManualClock>,
) {
    let templates = seed_templates(&*store, App::new("engine-work-dir", "/bin/fake"), 1).await;
    for uses in [true, false] {
        let probe = Arc::new(WorkDirProbe {
            uses,
            existed: Mutex::new(Vec::new()),
        });
        let mut opts = options(1);
        // Its own root: other scenarios in this process make job-1-1 … under the shared one.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        opts.work_root = opts.work_root.join(format!("probe-{nanos}"));
        let root = opts.work_root.clone();
        let job = run_one_with(
            &store,
            &artifacts,
            probe.clone(),
            templates[0].id,
            opts,
            clock.clone(),
        )
        .await;
        assert_eq!(
            *probe.existed.lock().unwrap(),
            vec![uses],
            "Capability::WorkDir = {uses}"
        );
        let dir = root.join(format!("job-{}-{}", job.id, job.lease_token));
        assert!(!dir.exists(), "{} was left behind", dir.display());
        let _ = std::fs::remove_dir(&root);
    }
}

/// Reports `started` twice, then exits 0.
#[derive(Debug)]
struct StartsTwice;

#[async_trait]
impl Executor for StartsTwice {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Native
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    async fn launch(
        &self,
        _spec: &LaunchSpec,
        io: &dyn JobIo,
        _cancel: CancellationToken,
    ) -> Result<ExitReport> {
        io.started(RunHandle {
            pid: Some(41),
            external_id: None,
        })
        .await?;
        io.started(RunHandle {
            pid: Some(42),
            external_id: None,
        })
        .await?;
        Ok(ExitReport::exited(0))
    }

    async fn reap(&self, _executor_id: &str) -> Result<u64> {
        Ok(0)
    }
}

/// A job starts once: a second `started` report from its executor changes nothing (the first
/// pid stays) and the job ends as its process did.
pub async fn second_started_report_is_ignored(
    store: Arc<dyn Store>,
    artifacts: Arc<dyn ArtifactSink>,
    clock: Arc<ManualClock>,
) {
    let templates = seed_templates(&*store, App::new("engine-starts-twice", "/bin/fake"), 1).await;
    let done = run_one_with(
        &store,
        &artifacts,
        Arc::new(StartsTwice),
        templates[0].id,
        options(1),
        clock,
    )
    .await;
    assert_eq!(done.outcome, Some(Outcome::Success));
    assert_eq!(done.pid, Some(41));
}
