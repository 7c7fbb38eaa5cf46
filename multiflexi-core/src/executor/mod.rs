//! The [`Executor`] trait: runs one job and reports facts through [`JobIo`].
//!
//! Executors push raw bytes and report what happened; the engine does masking, caps, storage and
//! the lifecycle. A job's own failure (non-zero exit, timeout) is an [`ExitReport`], not an error;
//! a platform failure (engine unreachable, image missing) is `Err` (retryable where it may pass),
//! recorded as `platform_error` (-1).

mod capabilities;
mod fake;
mod launch;
mod usage;

pub use capabilities::{Capabilities, Capability};
pub use fake::{FakeExecutor, FakeRun};
pub use launch::{DEFAULT_PATH, ExitReport, LaunchSpec, RunHandle, Termination};

use crate::Result;
use crate::ids::JobId;
use crate::model::ExecutorKind;
use async_trait::async_trait;
use std::fmt::Debug;
use tokio::io::AsyncRead;
use tokio_util::sync::CancellationToken;

/// The engine's handle for one running job.
#[async_trait]
pub trait JobIo: Send + Sync {
    /// The process / container / pod exists: recorded as Running. The engine batches the write
    /// with other jobs' starts and lets the job run meanwhile; it stores the job's end only after
    /// that write, and stops the job (cancels its token) if the write fails.
    async fn started(&self, handle: RunHandle) -> Result<()>;
    /// Raw stdout bytes as they arrive.
    async fn stdout(&self, bytes: &[u8]) -> Result<()>;
    /// Raw stderr bytes as they arrive.
    async fn stderr(&self, bytes: &[u8]) -> Result<()>;
    /// A result file the job left in its work directory; `name` is relative to it.
    async fn result_file(
        &self,
        name: &str,
        content: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<()>;
    /// Whether the job must die at once rather than gracefully. Read it when `cancel` fires:
    /// true when the engine stops the job because its lease is about to run out (another
    /// executor may soon run the job again), so SIGKILL / `docker kill` / a zero grace period
    /// instead of TERM and a grace.
    fn stop_now(&self) -> bool {
        false
    }
}

/// What an executor started for a job that can outlive the process that started it (a
/// container, a Kubernetes Job, a native job's process group whose executor died), with the
/// lease it was started under (from its labels or records).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Leftover {
    /// The job it ran.
    pub job_id: JobId,
    /// The job's lease token when it was started.
    pub lease_token: i64,
    /// The executor daemon that started it.
    pub executor_id: String,
    /// What it is, for [`Executor::remove`] and for logs (container id, Job name, pid).
    pub handle: String,
}

impl Leftover {
    /// A leftover of job `job_id` started under `lease_token` by `executor_id`.
    pub fn new(
        job_id: JobId,
        lease_token: i64,
        executor_id: impl Into<String>,
        handle: impl Into<String>,
    ) -> Self {
        Self {
            job_id,
            lease_token,
            executor_id: executor_id.into(),
            handle: handle.into(),
        }
    }
}

/// Runs jobs of one [`ExecutorKind`].
#[async_trait]
pub trait Executor: Send + Sync + Debug + 'static {
    /// Which kind of job it runs.
    fn kind(&self) -> ExecutorKind;

    /// What it can do; each backend's tests assert the exact set.
    fn capabilities(&self) -> Capabilities;

    /// Runs the job to its end. Reports `started` as soon as the job exists, streams output, hands
    /// over result files, and returns how it ended. When `cancel` fires it stops the job (TERM,
    /// then KILL after a grace) and returns a report with `cancelled` set.
    async fn launch(
        &self,
        spec: &LaunchSpec,
        io: &dyn JobIo,
        cancel: CancellationToken,
    ) -> Result<ExitReport>;

    /// Everything of this kind that runs, or was left, for jobs: the engine removes those
    /// whose job is no longer leased under the same token (the job ended, or its lease was
    /// recovered), whichever executor started them. The default: nothing outlives `launch`.
    async fn leftovers(&self) -> Result<Vec<Leftover>> {
        Ok(Vec::new())
    }

    /// Stops and removes one leftover (its processes, container or Kubernetes Job). Gone
    /// already is success.
    async fn remove(&self, leftover: &Leftover) -> Result<()> {
        let _ = leftover;
        Ok(())
    }

    /// Removes what a dead executor with this id left behind: its [`Executor::leftovers`].
    /// Returns how many things were removed.
    async fn reap(&self, executor_id: &str) -> Result<u64> {
        let mut removed = 0;
        for leftover in self.leftovers().await? {
            if leftover.executor_id == executor_id {
                self.remove(&leftover).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}
