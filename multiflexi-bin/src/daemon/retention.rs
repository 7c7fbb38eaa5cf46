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
    /// deletes in batches (--retention-batch), each its own short transaction.
    #[arg(
        long = "retention-interval",
        env = "MULTIFLEXI_RETENTION_INTERVAL",
        default_value_t = 3600,
        value_name = "SECS"
    )]
    pub interval: u64,
    /// Jobs (or audit rows) deleted per transaction by a retention run, 1 to 10000. Smaller
    /// batches hold the database's write lock for less time (on SQLite the whole database).
    #[arg(
        long = "retention-batch",
        env = "MULTIFLEXI_RETENTION_BATCH",
        default_value_t = 50,
        value_name = "JOBS",
        value_parser = clap::value_parser!(u64).range(1..=10_000)
    )]
    pub batch: u64,
    /// Milliseconds between two retention batches, 0 to 60000, for claims and heartbeats to
    /// get the write lock in between.
    #[arg(
        long = "retention-pause-ms",
        env = "MULTIFLEXI_RETENTION_PAUSE_MS",
        default_value_t = 20,
        value_name = "MS",
        value_parser = clap::value_parser!(u64).range(0..=60_000)
    )]
    pub pause_ms: u64,
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
            let mut options = RetentionOptions::new("retention");
            options.batch = self.batch;
            options.pause = Duration::from_millis(self.pause_ms);
            tokio::spawn(apply_retention_periodically(
                store,
                clock,
                options,
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
                "retention policies applied every {} s in batches of {} with {} ms pauses \
                 (multiflexi-cli retention:list)",
                self.interval, self.batch, self.pause_ms
            )
        }
    }
}
