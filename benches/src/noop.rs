//! An in-process executor that does nothing: the load benchmark's measure of pure lifecycle overhead.

use async_trait::async_trait;
use multiflexi_core::executor::{Capabilities, ExitReport, JobIo, LaunchSpec, RunHandle};
use multiflexi_core::{Executor, ExecutorKind, Result};
use tokio_util::sync::CancellationToken;

/// Reports the job started and exits 0 at once, printing nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopExecutor;

#[async_trait]
impl Executor for NoopExecutor {
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
        io.started(RunHandle::default()).await?;
        Ok(ExitReport::exited(0))
    }

    async fn reap(&self, _executor_id: &str) -> Result<u64> {
        Ok(0)
    }
}
