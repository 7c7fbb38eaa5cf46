//! The [`Executor`] trait: runs one job and reports facts through [`JobIo`].
//!
//! Executors push raw bytes and report what happened; the engine does masking, caps, storage and
//! the lifecycle. A job's own failure (non-zero exit, timeout) is an [`ExitReport`], not an error;
//! a platform failure (engine unreachable, image missing) is `Err` (retryable where it may pass),
//! recorded as `platform_error` (-1).

mod capabilities;
mod fake;
mod launch;

pub use capabilities::{Capabilities, Capability};
pub use fake::{FakeExecutor, FakeRun};
pub use launch::{DEFAULT_PATH, ExitReport, LaunchSpec, RunHandle, Termination};

use crate::Result;
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

    /// Whether its jobs use `LaunchSpec::work_dir` (a process's working directory, result
    /// files, a bind mount). The dispatcher creates the directory before `launch` and removes it
    /// after only when this is true; an in-process executor that runs no program says false.
    fn uses_work_dir(&self) -> bool {
        true
    }

    /// Removes what a dead executor with this id left behind (containers, Kubernetes Jobs).
    /// Returns how many things were removed.
    async fn reap(&self, executor_id: &str) -> Result<u64>;
}
