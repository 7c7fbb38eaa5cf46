//! The statistics fold run periodically by `multiflexi serve`, the scheduler daemon and the API
//! daemon ([`JobStatistics::fold_stats`](multiflexi_core::store::JobStatistics::fold_stats)):
//! finished jobs go into the per-hour rollup the trends are read from, off the job lifecycle.
//! Several processes may fold the same database; each fold takes only what is left.

use multiflexi_core::Store;
use multiflexi_core::engine::Shutdown;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Time between two folds.
pub const FOLD_INTERVAL: Duration = Duration::from_secs(60);

/// Folds now and then every [`FOLD_INTERVAL`] until `shutdown` drains.
pub fn spawn(store: Arc<dyn Store>, shutdown: Shutdown) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match store.fold_stats().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!("statistics: {n} finished jobs folded"),
                Err(e) => tracing::warn!(
                    "statistics fold failed (tried again in {} s): {e}",
                    FOLD_INTERVAL.as_secs()
                ),
            }
            tokio::select! {
                () = shutdown.draining() => return,
                () = tokio::time::sleep(FOLD_INTERVAL) => {}
            }
        }
    })
}
