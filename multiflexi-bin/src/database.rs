//! The database of every binary: its settings worked out once ([`DatabaseSettings::resolve`]:
//! the URL, the SQLite file, the master key's source, the connect timeout) and opening the store
//! they name ([`open`]: a daemon's store, or the light store of a one-shot command).
//!
//! - [`settings`]: [`DatabaseSettings`], [`KeySource`], [`CONNECT_TIMEOUT`];
//! - [`key_file`]: the key file beside a SQLite database;
//! - [`key_init`]: `encryption:init` on that file (created, kept, or replaced on request);
//! - [`open`](mod@open): [`open`], [`OpenOptions`], [`OpenedStore`], [`is_retryable`].

pub mod key_file;
pub mod key_init;
pub mod open;
pub mod settings;

pub use key_file::{KEY_FILE_NAME, key_file_for};
pub use open::{KeyInUse, OpenOptions, OpenedStore, Unreachable, is_retryable, open};
pub use settings::{CONNECT_TIMEOUT, DatabaseSettings, KeySource};
