//! The retention policies applied periodically by the scheduler daemon and `multiflexi serve`
//! (`multiflexi_core::engine::apply_retention_periodically`).

use clap::Args;
use multiflexi_core::engine::{RetentionOptions, Shutdown, apply_retention_periodically};
use multiflexi_core::{Clock, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// When the retention policies are applied.
#[derive(Debug, Clone, Args)]
pub struct RetentionArgs {
    /// Seconds between two applications of the retention policies (`multiflexi-cli
    /// retention:set`; without a policy nothing is deleted); 0 turns them off here. Each run
    /// deletes in batches of 500 jobs, each its own short transaction.
    #[arg(
        long = "retention-interval",
        env = "MULTIFLEXI_RETENTION_INTERVAL",
        default_value_t = 3600,
        value_name = "SECS"
    )]
    pub interval: u64,
}

impl RetentionArgs {
    /// Starts applying the policies every interval until `shutdown` drains (`None` when off).
    pub fn spawn(
        &self,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        shutdown: Shutdown,
    ) -> Option<JoinHandle<()>> {
        (self.interval > 0).then(|| {
            tokio::spawn(apply_retention_periodically(
                store,
                clock,
                RetentionOptions::new("retention"),
                Duration::from_secs(self.interval),
                shutdown,
            ))
        })
    }

    /// One line for the start-up banner.
    pub fn describe(&self) -> String {
        if self.interval == 0 {
            "retention policies not applied here (MULTIFLEXI_RETENTION_INTERVAL=0)".into()
        } else {
            format!(
                "retention policies applied every {} s (multiflexi-cli retention:list)",
                self.interval
            )
        }
    }
}
