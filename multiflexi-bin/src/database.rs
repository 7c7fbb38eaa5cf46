//! Opening the store from [`DatabaseConfig`]: the URL, the master key (from
//! `MULTIFLEXI_MASTER_KEY` or the key file beside a SQLite database) and a clear one-line error
//! when the database cannot be reached.
//!
//! Nothing here waits or retries: a daemon that must wait for its database adds its own back-off
//! around [`open_store`].

use crate::config::DatabaseConfig;
use anyhow::{Context, bail};
use multiflexi_store::{MasterKey, SqlStore, SqlStoreOptions, redact_url};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The name of the key file kept beside a SQLite database when `MULTIFLEXI_MASTER_KEY` is unset.
pub const KEY_FILE_NAME: &str = "multiflexi.key";

/// How long connecting may take before the database counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How [`open_store_with`] connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenOptions {
    /// Create the key file beside a SQLite database when there is no master key (and say so
    /// on stderr).
    pub create_key_file: bool,
    /// Run pending migrations on connect (default true). When false, a database that is not
    /// migrated is refused with a message saying so.
    pub migrate: bool,
    /// How long connecting may take.
    pub connect_timeout: Duration,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            create_key_file: false,
            migrate: true,
            connect_timeout: CONNECT_TIMEOUT,
        }
    }
}

/// Opens (and migrates) the store `cfg` names.
///
/// The master key is `MULTIFLEXI_MASTER_KEY` (`cfg.master_key`); when it is unset and the
/// database is a SQLite file, the key file `multiflexi.key` beside it is read, or, with
/// `create_key_file`, created (mode 0600) with a note on stderr. Without either, the store opens
/// without a key: reading and writing secrets then fails with a message saying how to set one.
///
/// Errors are one line: which database (password hidden), what went wrong.
pub async fn open_store(
    cfg: &DatabaseConfig,
    create_key_file: bool,
) -> anyhow::Result<Arc<SqlStore>> {
    open_store_with(
        cfg,
        OpenOptions {
            create_key_file,
            ..OpenOptions::default()
        },
    )
    .await
}

/// [`open_store`] with every option.
pub async fn open_store_with(
    cfg: &DatabaseConfig,
    options: OpenOptions,
) -> anyhow::Result<Arc<SqlStore>> {
    let url = cfg.url()?;
    if let Some(path) = sqlite_path(&url) {
        check_sqlite_dir(&url, &path)?;
    }
    let key = resolve_key(cfg, &url, options.create_key_file)?;
    let mut store_options = SqlStoreOptions::default()
        .with_acquire_timeout(options.connect_timeout)
        .with_migrate(options.migrate);
    if let Some(k) = key {
        store_options = store_options.with_master_key(k);
    }
    probe_server(&url, options.connect_timeout).await?;
    let store = SqlStore::connect(&url, store_options)
        .await
        .map_err(|e| connect_error(&url, e))?;
    Ok(Arc::new(store))
}

/// Where the master key comes from, in words (for `status`): never the key itself.
pub fn key_source(cfg: &DatabaseConfig) -> String {
    if let Some(text) = cfg.master_key.as_deref().filter(|k| !k.trim().is_empty()) {
        return match MasterKey::parse(text) {
            Ok(k) => format!("MULTIFLEXI_MASTER_KEY (key id {})", k.id()),
            Err(e) => format!("MULTIFLEXI_MASTER_KEY, unusable: {e}"),
        };
    }
    let Some(db) = cfg.url().ok().as_deref().and_then(sqlite_path) else {
        return "none: secrets cannot be stored (set MULTIFLEXI_MASTER_KEY)".to_string();
    };
    let path = key_file_for(&db);
    match std::fs::read_to_string(&path).map(|t| MasterKey::parse(&t)) {
        Ok(Ok(k)) => format!("key file {} (key id {})", path.display(), k.id()),
        Ok(Err(e)) => format!("key file {}, unusable: {e}", path.display()),
        Err(_) => format!(
            "none yet: the key file {} is created when the CLI first opens the database",
            path.display()
        ),
    }
}

/// The SQLite database file a URL names (`None` for other backends and in-memory databases).
///
/// `sqlite://multiflexi.sqlite?mode=rwc` → `multiflexi.sqlite`; `sqlite:///var/lib/m.db` →
/// `/var/lib/m.db`; `sqlite:data.db` → `data.db`.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let lower = url.to_ascii_lowercase();
    if !lower.starts_with("sqlite:") {
        return None;
    }
    let rest = &url["sqlite:".len()..];
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, q),
        None => (rest, ""),
    };
    if path.is_empty()
        || path.contains(":memory:")
        || query.split('&').any(|kv| kv == "mode=memory")
    {
        return None;
    }
    Some(PathBuf::from(path))
}

/// The key file beside a SQLite database file.
pub fn key_file_for(db_path: &Path) -> PathBuf {
    match db_path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(KEY_FILE_NAME),
        _ => PathBuf::from(KEY_FILE_NAME),
    }
}

fn resolve_key(
    cfg: &DatabaseConfig,
    url: &str,
    create_key_file: bool,
) -> anyhow::Result<Option<MasterKey>> {
    if let Some(text) = cfg.master_key.as_deref().filter(|k| !k.trim().is_empty()) {
        return MasterKey::parse(text)
            .map(Some)
            .map_err(|e| anyhow::anyhow!("{e}"));
    }
    let Some(db) = sqlite_path(url) else {
        return Ok(None);
    };
    let path = key_file_for(&db);
    match read_key_file(&path)? {
        Some(key) => Ok(Some(key)),
        None if create_key_file => {
            let key = MasterKey::generate();
            if create_key_file_once(&path, &key)? {
                eprintln!(
                    "note: MULTIFLEXI_MASTER_KEY is not set; created the key file {} (mode 0600) \
                     that encrypts secrets in this database; keep it with the database",
                    path.display()
                );
                Ok(Some(key))
            } else {
                // Another process created it first: use theirs.
                read_key_file(&path)
            }
        }
        None => Ok(None),
    }
}

/// The key in `path`; `None` when there is no such file.
fn read_key_file(path: &Path) -> anyhow::Result<Option<MasterKey>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let key = MasterKey::parse(&text).map_err(|e| {
                anyhow::anyhow!("the key file {} is not a master key: {e}", path.display())
            })?;
            warn_if_readable_by_others(path);
            Ok(Some(key))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => bail!("cannot read the key file {}: {e}", path.display()),
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            eprintln!(
                "warning: the key file {} can be read by other users; chmod 600 it",
                path.display()
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// Creates the key file with its content in one step (written to a temporary file, then linked
/// into place, which fails when the file exists). Returns false when another process created it
/// first.
fn create_key_file_once(path: &Path, key: &MasterKey) -> anyhow::Result<bool> {
    let tmp = path.with_file_name(format!(".{KEY_FILE_NAME}.{}.tmp", std::process::id()));
    let linked = write_key(&tmp, key, false).and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    let created = match linked {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            // A file system without hard links: create the file itself.
            write_key(path, key, true)
        }
        other => other,
    };
    match created {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot create the key file {}", path.display())),
    }
}

/// Writes the key to `path` with mode 0600 (`create_new`: fail when it exists).
fn write_key(path: &Path, key: &MasterKey, create_new: bool) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if create_new {
        options.create_new(true);
    } else {
        options.create(true).truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(format!("{}\n", key.to_env_value()).as_bytes())?;
    file.sync_all()
}

/// A SQLite file in a folder that does not exist cannot be created: say so plainly.
fn check_sqlite_dir(url: &str, path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            bail!(
                "cannot open the database {}: the folder {} does not exist; create it or set \
                 DATABASE_URL to sqlite://PATH?mode=rwc in an existing folder",
                redact_url(url),
                dir.display()
            );
        }
    }
    Ok(())
}

/// The host and port of a server URL (`postgres://u:p@host:5432/db`, `mysql://[::1]/db`), with
/// the engine's default port; `None` for SQLite, and for URLs without a host (Unix sockets).
pub fn server_address(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "postgres" | "postgresql" => 5432,
        "mysql" | "mariadb" => 3306,
        _ => return None,
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if hostport.is_empty() {
        return None;
    }
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        (h, after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default_port,
    };
    (!host.is_empty()).then(|| (host.to_string(), port))
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

/// Whether an error of [`open_store`] may go away by itself (a server that is not up yet, a
/// timeout): what a daemon retries with back-off. Bad URLs, keys and schemas are not.
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

    #[test]
    fn sqlite_paths() {
        let p = |u: &str| sqlite_path(u).map(|p| p.to_string_lossy().into_owned());
        assert_eq!(
            p("sqlite://multiflexi.sqlite?mode=rwc").as_deref(),
            Some("multiflexi.sqlite")
        );
        assert_eq!(
            p("sqlite:///var/lib/m.db").as_deref(),
            Some("/var/lib/m.db")
        );
        assert_eq!(p("sqlite:data.db").as_deref(), Some("data.db"));
        assert_eq!(p("sqlite::memory:"), None);
        assert_eq!(p("sqlite://x.db?mode=memory"), None);
        assert_eq!(p("postgres://u:p@h/db"), None);
        assert_eq!(
            key_file_for(Path::new("/var/lib/m.db")),
            Path::new("/var/lib/multiflexi.key")
        );
        assert_eq!(
            server_address("postgres://u:p@db.example:5433/x?sslmode=disable"),
            Some(("db.example".to_string(), 5433))
        );
        assert_eq!(
            server_address("mysql://u@[::1]/x"),
            Some(("::1".to_string(), 3306))
        );
        assert_eq!(server_address("postgres:///x?host=/run/postgresql"), None);
        assert_eq!(server_address("sqlite://m.db"), None);
        assert!(is_retryable(&Unreachable("x".into()).into()));
        assert!(!is_retryable(&anyhow::anyhow!("bad url")));
        assert_eq!(key_file_for(Path::new("m.db")), Path::new("multiflexi.key"));
    }
}
