//! Waiting for the database at a daemon's start: capped exponential back-off around
//! [`database::open`] (which probes a server before connecting).

use crate::database::{self, DatabaseSettings, OpenOptions, OpenedStore};
use anyhow::bail;
use std::time::{Duration, Instant};

/// The longest pause between two connection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Opens the store, retrying while the error is one that may go away by itself (server not up,
/// connection refused, no answer): pauses of 1 s, 2 s, 4 s … capped at [`MAX_BACKOFF`], each
/// logged, for at most `wait` in all; 0 tries once. Each attempt may take
/// [`DatabaseSettings::connect_timeout`]. Other errors (bad URL, key or schema) fail at once.
pub async fn open_with_backoff(
    settings: &DatabaseSettings,
    options: OpenOptions,
    wait: Duration,
) -> anyhow::Result<OpenedStore> {
    let started = Instant::now();
    let mut pause = Duration::from_secs(1);
    let mut attempt = 1u32;
    let opened = loop {
        match database::open(settings, options).await {
            Ok(opened) => break opened,
            Err(e) if database::is_retryable(&e) => {
                let waited = started.elapsed();
                if waited >= wait {
                    if wait.is_zero() {
                        return Err(e);
                    }
                    bail!(
                        "{e:#}; gave up after {} s (--db-wait-secs / MULTIFLEXI_DB_WAIT)",
                        waited.as_secs()
                    );
                }
                tracing::warn!(
                    "database not reachable yet: {e:#}; attempt {attempt}, retrying in {} s",
                    pause.as_secs()
                );
                tokio::time::sleep(pause.min(wait - waited)).await;
                pause = (pause * 2).min(MAX_BACKOFF);
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    };
    if attempt > 1 {
        tracing::info!("database reachable after {attempt} attempts");
    }
    Ok(opened)
}
