//! [`DatabaseSettings`]: the database configuration of every binary, worked out once — the URL,
//! the SQLite file it names, where the master key comes from, and how long connecting may take.

use super::key_file::{key_file_for, read_key_file};
use crate::config::DatabaseConfig;
use multiflexi_store::{ALLOWED_URLS, MasterKey, is_database_url, redact_url};
use std::path::PathBuf;
use std::time::Duration;

/// How long a database server may take to accept a connection (checked before the pool opens)
/// before it counts as unreachable. A daemon waiting for its database tries again with back-off;
/// a CLI command fails. (Waiting for a free pooled connection while running is the store's
/// `SqlStoreOptions::acquire_timeout`, 30 s.)
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the master key that seals secrets comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// `MULTIFLEXI_MASTER_KEY` / `--master-key`.
    Variable(MasterKey),
    /// The key file beside the SQLite database.
    KeyFile {
        /// The file (absolute).
        path: PathBuf,
        /// Its key.
        key: MasterKey,
    },
    /// No key file beside the SQLite database yet: an open that may create it (`multiflexi
    /// serve`, the CLI) creates it there; other opens have no key.
    NoKeyFileYet(PathBuf),
    /// Not a SQLite file and no variable: secrets cannot be stored.
    None,
}

/// The database settings, resolved once from a [`DatabaseConfig`] and used by every open.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// The URL to connect to (DATABASE_URL, else built from DB_*, else the SQLite default).
    pub url: String,
    /// The SQLite database file the URL names, absolute (`None` for servers and in-memory
    /// databases).
    pub sqlite_path: Option<PathBuf>,
    /// Where the master key comes from.
    pub key: KeySource,
    /// How long connecting may take ([`CONNECT_TIMEOUT`]).
    pub connect_timeout: Duration,
}

impl DatabaseSettings {
    /// Works the settings out: the URL, the SQLite file and its key file, the master key.
    /// Errors name the setting, say what is wrong with it and what is allowed.
    pub fn resolve(config: &DatabaseConfig) -> anyhow::Result<Self> {
        let url = config.url()?;
        if !is_database_url(&url) {
            anyhow::bail!(
                "DATABASE_URL (--database-url) {:?} is not a database URL; {ALLOWED_URLS}",
                redact_url(&url)
            );
        }
        let sqlite_path =
            multiflexi_store::sqlite_path(&url).map(|p| std::path::absolute(&p).unwrap_or(p));
        let variable = config
            .master_key
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty());
        let key = match (variable, &sqlite_path) {
            // The store's own message names MULTIFLEXI_MASTER_KEY and the forms it takes.
            (Some(text), _) => {
                KeySource::Variable(MasterKey::parse(text).map_err(|e| anyhow::anyhow!("{e}"))?)
            }
            (None, Some(db)) => {
                let path = key_file_for(db);
                match read_key_file(&path)? {
                    Some(key) => KeySource::KeyFile { path, key },
                    None => KeySource::NoKeyFileYet(path),
                }
            }
            (None, None) => KeySource::None,
        };
        Ok(Self {
            url,
            sqlite_path,
            key,
            connect_timeout: CONNECT_TIMEOUT,
        })
    }

    /// The URL with its password hidden.
    pub fn shown_url(&self) -> String {
        redact_url(&self.url)
    }

    /// Where the master key comes from, in words (for `status`): never the key itself.
    pub fn describe_key(&self) -> String {
        match &self.key {
            KeySource::Variable(k) => format!("MULTIFLEXI_MASTER_KEY (key id {})", k.id()),
            KeySource::KeyFile { path, key } => {
                format!("key file {} (key id {})", path.display(), key.id())
            }
            KeySource::NoKeyFileYet(path) => format!(
                "none yet: the key file {} is created when the CLI first opens the database",
                path.display()
            ),
            KeySource::None => "none: secrets cannot be stored (set MULTIFLEXI_MASTER_KEY)".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: Option<&str>, key: Option<&str>) -> DatabaseConfig {
        DatabaseConfig {
            database_url: url.map(str::to_string),
            db_connection: None,
            db_host: "127.0.0.1".into(),
            db_port: None,
            db_database: "multiflexi".into(),
            db_username: None,
            db_password: None,
            master_key: key.map(str::to_string),
        }
    }

    #[test]
    fn sqlite_url_gives_the_absolute_file_and_its_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("m.sqlite");
        let url = format!("sqlite://{}?mode=rwc", db.display());
        let s = DatabaseSettings::resolve(&config(Some(&url), None)).unwrap();
        assert_eq!(s.url, url);
        assert_eq!(s.sqlite_path.as_deref(), Some(db.as_path()));
        assert_eq!(s.connect_timeout, CONNECT_TIMEOUT);
        let key_file = dir.path().join("multiflexi.key");
        assert!(
            matches!(&s.key, KeySource::NoKeyFileYet(p) if *p == key_file),
            "{:?}",
            s.key
        );
        assert!(
            s.describe_key().contains("none yet"),
            "{}",
            s.describe_key()
        );

        let key = MasterKey::generate();
        std::fs::write(&key_file, key.to_env_value()).unwrap();
        let s = DatabaseSettings::resolve(&config(Some(&url), None)).unwrap();
        assert!(
            matches!(&s.key, KeySource::KeyFile { path, key: k } if *path == key_file && k.id() == key.id()),
            "{:?}",
            s.key
        );

        // A relative path is made absolute against the working directory.
        let s = DatabaseSettings::resolve(&config(None, None)).unwrap();
        let expected = std::env::current_dir().unwrap().join("multiflexi.sqlite");
        assert_eq!(s.sqlite_path.as_deref(), Some(expected.as_path()));
    }

    #[test]
    fn the_variable_wins_over_the_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/m.sqlite?mode=rwc", dir.path().display());
        std::fs::write(dir.path().join("multiflexi.key"), "not a key either").unwrap();
        let key = MasterKey::generate();
        let s = DatabaseSettings::resolve(&config(Some(&url), Some(&key.to_env_value()))).unwrap();
        assert!(matches!(&s.key, KeySource::Variable(k) if k.id() == key.id()));
        assert!(s.describe_key().starts_with("MULTIFLEXI_MASTER_KEY"));
    }

    #[test]
    fn servers_and_memory_have_no_file_and_no_key_file() {
        let s = DatabaseSettings::resolve(&config(Some("postgres://u:secret@h/db"), None)).unwrap();
        assert_eq!(s.sqlite_path, None);
        assert!(matches!(s.key, KeySource::None));
        assert_eq!(s.shown_url(), "postgres://u:***@h/db");
        let s = DatabaseSettings::resolve(&config(Some("sqlite::memory:"), None)).unwrap();
        assert_eq!(s.sqlite_path, None);
        assert!(matches!(s.key, KeySource::None));
    }

    #[test]
    fn errors_name_the_setting_and_what_is_allowed() {
        let err = DatabaseSettings::resolve(&config(Some("oracle://u:secret@h/db"), None))
            .unwrap_err()
            .to_string();
        assert!(err.contains("DATABASE_URL"), "{err}");
        assert!(err.contains("sqlite://PATH?mode=rwc"), "{err}");
        assert!(!err.contains("secret"), "password shown: {err}");

        let err = DatabaseSettings::resolve(&config(Some("sqlite::memory:"), Some("short")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("MULTIFLEXI_MASTER_KEY is malformed"), "{err}");
        assert!(err.contains("64 hex digits or base64"), "{err}");

        let mut c = config(None, None);
        c.db_connection = Some("oracle".into());
        let err = DatabaseSettings::resolve(&c).unwrap_err().to_string();
        assert!(err.contains("DB_CONNECTION"), "{err}");
        assert!(err.contains("allowed: mysql, pgsql"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("multiflexi.key");
        std::fs::write(&key_file, "garbage").unwrap();
        let url = format!("sqlite://{}/m.sqlite?mode=rwc", dir.path().display());
        let err = DatabaseSettings::resolve(&config(Some(&url), None))
            .unwrap_err()
            .to_string();
        assert!(err.contains(&key_file.display().to_string()), "{err}");
        assert!(err.contains("MULTIFLEXI_MASTER_KEY"), "{err}");
    }
}
