//! Opening the store that [`DatabaseSettings`] name: the key file created when asked, the server
//! probed first (so an unreachable one is named with the operating system's reason), and a clear
//! one-line error when the database cannot be used.
//!
//! Nothing here waits or retries: a daemon that must wait for its database adds its own back-off
//! around [`open`] (`daemon::db_wait`).

use super::key_file::{create_key_file_once, read_key_file};
use super::settings::{DatabaseSettings, KeySource};
use anyhow::bail;
use multiflexi_store::{MasterKey, SqlStore, SqlStoreOptions, redact_url, server_address};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How [`open`] opens the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenOptions {
    /// Create the key file beside a SQLite database when there is no master key (and say so
    /// on stderr).
    pub create_key_file: bool,
    /// Run pending migrations on connect (default true). When false, a database that is not migrated is
    /// refused with a message saying so.
    pub migrate: bool,
    /// The store a long-running process wants: on a SQLite file the writer thread with its
    /// checkpointer and a pool of 10. When false (one-shot commands), the light store:
    /// no writer thread, no checkpointer, a pool of two (`SqlStoreOptions::one_shot`).
    pub for_daemon: bool,
}

/// A one-shot command's store, migrated on open, no key file created.
impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            create_key_file: false,
            migrate: true,
            for_daemon: false,
        }
    }
}

impl OpenOptions {
    /// A one-shot command's store, migrated on open (the default).
    pub fn one_shot() -> Self {
        Self::default()
    }

    /// A daemon's store, migrated on open.
    pub fn daemon() -> Self {
        Self {
            for_daemon: true,
            ..Self::default()
        }
    }

    /// Builder: create the key file beside a SQLite database when there is no master key.
    pub fn creating_key_file(mut self, create: bool) -> Self {
        self.create_key_file = create;
        self
    }
}

/// Where the key of an opened store came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyInUse {
    /// `MULTIFLEXI_MASTER_KEY` / `--master-key`.
    Variable,
    /// The key file beside the SQLite database, which existed.
    File(PathBuf),
    /// The key file beside the SQLite database, created by this open.
    CreatedFile(PathBuf),
    /// No key: secrets cannot be stored.
    None,
}

/// An open store and where its key came from.
#[derive(Debug, Clone)]
pub struct OpenedStore {
    /// The store.
    pub store: Arc<SqlStore>,
    /// Where its master key came from.
    pub key: KeyInUse,
}

/// Opens (and, unless told not to, migrates) the store `settings` name.
///
/// The master key is [`DatabaseSettings::key`]; when there is no key file yet beside a SQLite
/// database and `create_key_file` is set, it is created (mode 0600) with a note on stderr (or,
/// when another process created it meanwhile, theirs is read). Without a key the store opens
/// without one: reading and writing secrets then fails with a message saying how to set one.
///
/// Errors are one line: which database (password hidden), what went wrong.
pub async fn open(
    settings: &DatabaseSettings,
    options: OpenOptions,
) -> anyhow::Result<OpenedStore> {
    if let Some(path) = &settings.sqlite_path {
        check_sqlite_dir(&settings.url, path)?;
    }
    let (key, key_in_use) = master_key(&settings.key, options.create_key_file)?;
    let mut store_options = SqlStoreOptions::default().with_migrate(options.migrate);
    if !options.for_daemon {
        store_options = store_options.one_shot();
    }
    if let Some(k) = key {
        store_options = store_options.with_master_key(k);
    }
    probe_server(&settings.url, settings.connect_timeout).await?;
    let store = SqlStore::connect(&settings.url, store_options)
        .await
        .map_err(|e| connect_error(&settings.url, e))?;
    Ok(OpenedStore {
        store: Arc::new(store),
        key: key_in_use,
    })
}

/// The key to open with and where it came from; creates the key file when asked and missing.
fn master_key(
    source: &KeySource,
    create_key_file: bool,
) -> anyhow::Result<(Option<MasterKey>, KeyInUse)> {
    Ok(match source {
        KeySource::Variable(k) => (Some(k.clone()), KeyInUse::Variable),
        KeySource::KeyFile { path, key } => (Some(key.clone()), KeyInUse::File(path.clone())),
        KeySource::None => (None, KeyInUse::None),
        // Another process may have created it since the settings were resolved.
        KeySource::NoKeyFileYet(path) => match read_key_file(path)? {
            Some(key) => (Some(key), KeyInUse::File(path.clone())),
            None if create_key_file => {
                let key = MasterKey::generate();
                if create_key_file_once(path, &key)? {
                    eprintln!(
                        "note: MULTIFLEXI_MASTER_KEY is not set; created the key file {} (mode \
                         0600) that encrypts secrets in this database; keep it with the database",
                        path.display()
                    );
                    (Some(key), KeyInUse::CreatedFile(path.clone()))
                } else {
                    // Another process created it first: use theirs.
                    (read_key_file(path)?, KeyInUse::File(path.clone()))
                }
            }
            None => (None, KeyInUse::None),
        },
    })
}

/// A SQLite file in a folder that does not exist cannot be created: say so plainly.
fn check_sqlite_dir(url: &str, path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        bail!(
            "cannot open the database {}: the folder {} does not exist; create it or set \
                 DATABASE_URL to sqlite://PATH?mode=rwc in an existing folder",
            redact_url(url),
            dir.display()
        );
    }
    Ok(())
}

/// Fails fast, with the operating system's reason, when a database server cannot be reached at
/// all (the connection pool would otherwise wait for its whole timeout and only say it timed out).
async fn probe_server(url: &str, timeout: Duration) -> anyhow::Result<()> {
    let Some((host, port)) = server_address(url) else {
        return Ok(());
    };
    let reason = match tokio::time::timeout(
        timeout,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(_)) => return Ok(()),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {} s", timeout.as_secs()),
    };
    Err(Unreachable(format!(
        "cannot reach the database {} at {host}:{port}: {reason}; check that the server runs and \
         that DATABASE_URL (or DB_HOST / DB_PORT) points at it",
        redact_url(url)
    ))
    .into())
}

/// The database server did not answer at all (connection refused, no route, no answer in time):
/// waiting and trying again may help.
#[derive(Debug)]
pub struct Unreachable(pub String);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreachable {}

/// Whether an error of [`open`] may go away by itself (a server that is not up yet, a timeout):
/// what a daemon retries with back-off. Bad URLs, keys and schemas are not.
pub fn is_retryable(e: &anyhow::Error) -> bool {
    e.downcast_ref::<Unreachable>().is_some()
        || e.downcast_ref::<multiflexi_core::Error>()
            .is_some_and(multiflexi_core::Error::is_retryable)
}

/// The store's error, named after the database when it does not say which (kept as the root
/// cause, so [`is_retryable`] can tell).
fn connect_error(url: &str, e: multiflexi_core::Error) -> anyhow::Error {
    let redacted = redact_url(url);
    if e.to_string().contains(&redacted) {
        anyhow::Error::from(e)
    } else {
        anyhow::Error::from(e).context(format!("cannot use the database {redacted}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DatabaseConfig;

    fn sqlite_settings(dir: &Path) -> DatabaseSettings {
        DatabaseSettings::resolve(&DatabaseConfig {
            database_url: Some(format!("sqlite://{}/m.sqlite?mode=rwc", dir.display())),
            db_connection: None,
            db_host: "127.0.0.1".into(),
            db_port: None,
            db_database: "multiflexi".into(),
            db_username: None,
            db_password: None,
            master_key: None,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn a_one_shot_open_starts_no_writer_thread_a_daemon_open_does() {
        let dir = tempfile::tempdir().unwrap();
        let settings = sqlite_settings(dir.path());
        let one_shot = open(&settings, OpenOptions::one_shot().creating_key_file(true))
            .await
            .unwrap();
        assert!(!one_shot.store.runs_writer_thread());
        let key_file = dir.path().join("multiflexi.key");
        assert_eq!(one_shot.key, KeyInUse::CreatedFile(key_file.clone()));
        // The settings were resolved before the file existed: it is read, not created again.
        let daemon = open(&settings, OpenOptions::daemon().creating_key_file(true))
            .await
            .unwrap();
        assert!(daemon.store.runs_writer_thread());
        assert_eq!(daemon.key, KeyInUse::File(key_file));
    }

    #[tokio::test]
    async fn unreachable_servers_are_retryable_bad_folders_are_not() {
        let err = Unreachable("x".into()).into();
        assert!(is_retryable(&err));
        assert!(!is_retryable(&anyhow::anyhow!("bad url")));
        let dir = tempfile::tempdir().unwrap();
        let settings = sqlite_settings(&dir.path().join("missing"));
        let err = open(&settings, OpenOptions::one_shot()).await.unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
        assert!(!is_retryable(&err));
    }
}
