//! The database of every binary: its settings worked out once ([`DatabaseSettings::resolve`]:
//! the URL, the SQLite file, the master key's source, the connect timeout) and opening the store
//! they name ([`open`]: a daemon's store, or the light store of a one-shot command).
//!
//! - [`settings`]: [`DatabaseSettings`], [`KeySource`], [`CONNECT_TIMEOUT`];
//! - [`key_file`]: the key file beside a SQLite database;
//! - [`open`](mod@open): [`open`], [`OpenOptions`], [`OpenedStore`], [`is_retryable`].

pub mod key_file;
pub mod open;
pub mod settings;

pub use key_file::{KEY_FILE_NAME, key_file_for};
pub use open::{KeyInUse, OpenOptions, OpenedStore, Unreachable, is_retryable, open};
pub use settings::{CONNECT_TIMEOUT, DatabaseSettings, KeySource};

use crate::config::DatabaseConfig;
use multiflexi_store::SqlStore;
use std::sync::Arc;

/// Resolves `cfg` and opens (and migrates) the light store of a one-shot command; with
/// `create_key_file`, a SQLite database without a master key gets its key file. Callers that
/// hold [`DatabaseSettings`] already call [`open`].
pub async fn open_store(
    cfg: &DatabaseConfig,
    create_key_file: bool,
) -> anyhow::Result<Arc<SqlStore>> {
    open_store_with(
        cfg,
        OpenOptions::one_shot().creating_key_file(create_key_file),
    )
    .await
}

/// [`open_store`] with every option.
pub async fn open_store_with(
    cfg: &DatabaseConfig,
    options: OpenOptions,
) -> anyhow::Result<Arc<SqlStore>> {
    let settings = DatabaseSettings::resolve(cfg)?;
    Ok(open(&settings, options).await?.store)
}

/// Where the master key comes from, in words (for `status`): never the key itself.
/// ([`DatabaseSettings::describe_key`] of the resolved settings; an error says what is wrong.)
pub fn key_source(cfg: &DatabaseConfig) -> String {
    match DatabaseSettings::resolve(cfg) {
        Ok(settings) => settings.describe_key(),
        Err(e) => format!("unusable: {e:#}"),
    }
}
