//! Waiting for the database: capped exponential back-off around [`crate::database`]'s
//! `open_store_with` (which resolves the URL and the master key / key file and probes a server
//! before connecting).

use crate::config::DatabaseConfig;
use crate::database::{self, OpenOptions};
use anyhow::bail;
use multiflexi_store::SqlStore;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest pause between two connection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How long one attempt may take to connect (also the pool's wait for a free connection while
/// the daemon runs).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the master key came from (for the all-in-one's start-up lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `MULTIFLEXI_MASTER_KEY` / `--master-key`.
    Variable,
    /// The key file beside the SQLite database, which existed.
    File(PathBuf),
    /// The key file beside the SQLite database, created now.
    Created(PathBuf),
    /// No key: secrets cannot be stored.
    None,
}

/// Opens the store, retrying while the error is one that may go away by itself (server not up,
/// connection refused, no answer): pauses of 1 s, 2 s, 4 s … capped at [`MAX_BACKOFF`], each
/// logged, for at most `wait` in all; 0 tries once. Other errors (bad URL, key or schema) fail
/// at once. Returns the store and where its key came from.
pub async fn open_with_backoff(
    config: &DatabaseConfig,
    create_key_file: bool,
    wait: Duration,
) -> anyhow::Result<(Arc<SqlStore>, KeySource)> {
    let key_file = config
        .url()
        .ok()
        .as_deref()
        .and_then(database::sqlite_path)
        .map(|db| database::key_file_for(&db))
        .map(|p| std::path::absolute(&p).unwrap_or(p));
    let key_file_existed = key_file.as_deref().is_some_and(|p| p.exists());
    let options = OpenOptions {
        create_key_file,
        migrate: true,
        connect_timeout: CONNECT_TIMEOUT,
    };
    let started = Instant::now();
    let mut pause = Duration::from_secs(1);
    let mut attempt = 1u32;
    let store = loop {
        match database::open_store_with(config, options).await {
            Ok(store) => break store,
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
    let has_variable = config
        .master_key
        .as_deref()
        .is_some_and(|k| !k.trim().is_empty());
    let source = match key_file {
        _ if has_variable => KeySource::Variable,
        Some(path) if path.exists() && key_file_existed => KeySource::File(path),
        Some(path) if path.exists() => KeySource::Created(path),
        _ => KeySource::None,
    };
    Ok((store, source))
}
