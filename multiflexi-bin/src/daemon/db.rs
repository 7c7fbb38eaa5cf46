//! Opening the store: the master key (variable, else the `multiflexi.key` file beside a SQLite
//! database), and waiting with capped exponential back-off for a database that is not up yet.

use anyhow::{Context, bail};
use multiflexi_store::{MasterKey, SqlStore, SqlStoreOptions, redact_url};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The key file's name, beside the SQLite database.
pub const KEY_FILE: &str = "multiflexi.key";

/// The longest pause between two connection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How long one probe of a database server may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The file of a `sqlite:` URL (`None` for `sqlite::memory:` and other databases).
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let lower = url.to_ascii_lowercase();
    if !lower.starts_with("sqlite:") || lower.contains(":memory:") || lower.contains("mode=memory")
    {
        return None;
    }
    let rest = &url["sqlite:".len()..];
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split(['?', '#']).next().unwrap_or("");
    (!path.is_empty()).then(|| PathBuf::from(path))
}

/// Where the master key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `MULTIFLEXI_MASTER_KEY` / `--master-key`.
    Variable,
    /// An existing key file.
    File(PathBuf),
    /// A key file created now.
    Created(PathBuf),
    /// No key: secrets cannot be stored.
    None,
}

/// The master key: the variable when set, else the key file beside the SQLite database (created
/// with mode 0600 when `create` is true and it does not exist yet).
pub fn master_key(
    variable: Option<&str>,
    sqlite: Option<&Path>,
    create: bool,
) -> anyhow::Result<(Option<MasterKey>, KeySource)> {
    if let Some(text) = variable.filter(|v| !v.trim().is_empty()) {
        let key = MasterKey::parse(text).map_err(anyhow::Error::from)?;
        return Ok((Some(key), KeySource::Variable));
    }
    let Some(db) = sqlite else {
        return Ok((None, KeySource::None));
    };
    let path = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let key = MasterKey::parse(&text)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("key file {}", path.display()))?;
            let mode = std::fs::metadata(&path).map_or(0o600, |m| m.permissions().mode());
            if mode & 0o077 != 0 {
                tracing::warn!(
                    "key file {} is readable by other users (mode {:o}); chmod 600 it",
                    path.display(),
                    mode & 0o777
                );
            }
            Ok((Some(key), KeySource::File(path)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let key = MasterKey::generate();
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("cannot create the key file {}", path.display()))?;
            // The mode given to open() is reduced by the umask; 0600 is what we promise.
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            writeln!(file, "{}", key.to_env_value())?;
            file.sync_all()?;
            Ok((Some(key), KeySource::Created(path)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((None, KeySource::None)),
        Err(e) => Err(e).with_context(|| format!("cannot read the key file {}", path.display())),
    }
}

/// Connects with `options` (migrating the schema). A server database that is not reachable yet
/// (not up, connection refused) is waited for first: probes with exponential back-off (1 s, 2 s,
/// 4 s … capped at [`MAX_BACKOFF`]), each failure logged, for at most `wait`. Other errors (bad
/// URL, newer schema, wrong password) fail at once. SQLite files are opened directly.
pub async fn connect_with_backoff(
    url: &str,
    options: SqlStoreOptions,
    wait: Duration,
) -> anyhow::Result<SqlStore> {
    let shown = redact_url(url);
    if !url.to_ascii_lowercase().starts_with("sqlite:") && !wait.is_zero() {
        wait_until_reachable(url, &shown, &options, wait).await?;
    }
    SqlStore::connect(url, options).await.map_err(|e| {
        if e.is_retryable() {
            anyhow::anyhow!("database {shown} is not reachable ({e})")
        } else {
            anyhow::anyhow!("cannot open database {shown}: {e}")
        }
    })
}

/// Probes until the database answers. A probe is a connection with a short timeout that does not
/// migrate: any answer that is not "unreachable" ends the wait (the real connection reports it).
async fn wait_until_reachable(
    url: &str,
    shown: &str,
    options: &SqlStoreOptions,
    wait: Duration,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut pause = Duration::from_secs(1);
    let mut attempt = 1u32;
    loop {
        let remaining = wait.saturating_sub(started.elapsed());
        let timeout = remaining.clamp(Duration::from_secs(1), PROBE_TIMEOUT);
        let probe = match tcp_probe(url, timeout).await {
            Err(e) => Err(e),
            Ok(()) => {
                let probe = options
                    .clone()
                    .with_migrate(false)
                    .with_acquire_timeout(timeout);
                match SqlStore::connect(url, probe).await {
                    Ok(store) => {
                        let _ = store.close().await;
                        Ok(())
                    }
                    Err(e) if e.is_retryable() => Err(e.to_string()),
                    // It answers; the real connection reports what is wrong.
                    Err(_) => Ok(()),
                }
            }
        };
        match probe {
            Ok(()) => break,
            Err(e) => {
                let waited = started.elapsed();
                if waited >= wait {
                    bail!(
                        "database {shown} is not reachable ({e}); gave up after {} s (--db-wait-secs / MULTIFLEXI_DB_WAIT)",
                        waited.as_secs()
                    );
                }
                tracing::warn!(
                    "database {shown} not reachable yet ({e}); attempt {attempt}, retrying in {} s",
                    pause.as_secs()
                );
                tokio::time::sleep(pause.min(wait - waited)).await;
                pause = (pause * 2).min(MAX_BACKOFF);
                attempt += 1;
            }
        }
    }
    if attempt > 1 {
        tracing::info!("database {shown} reachable after {attempt} attempts");
    }
    Ok(())
}

/// `host:port` of a server URL (`scheme://user:pass@host:port/db?…`), with the scheme's default
/// port; `None` when the URL names no TCP host (e.g. a Unix socket in the query).
pub fn server_address(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "postgres" | "postgresql" => 5432,
        "mysql" | "mariadb" => 3306,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.is_empty() {
        return None;
    }
    let has_port = match host_port.rfind(']') {
        Some(end) => host_port[end..].contains(':'),
        None => host_port.contains(':'),
    };
    Some(if has_port {
        host_port.to_string()
    } else {
        format!("{host_port}:{default_port}")
    })
}

/// Whether the server's TCP port accepts connections (the precise OS error when not).
async fn tcp_probe(url: &str, timeout: Duration) -> Result<(), String> {
    let Some(address) = server_address(url) else {
        return Ok(());
    };
    let probe = address.clone();
    let connect = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        use std::net::{TcpStream, ToSocketAddrs};
        let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
        for addr in probe.to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(_) => return Ok(()),
                Err(e) => last = e,
            }
        }
        Err(last)
    });
    match connect.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("{address}: {e}")),
        Err(e) => Err(format!("{address}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            sqlite_path("sqlite://multiflexi.sqlite?mode=rwc"),
            Some(PathBuf::from("multiflexi.sqlite"))
        );
        assert_eq!(
            sqlite_path("sqlite:///var/lib/multiflexi/db.sqlite?mode=rwc"),
            Some(PathBuf::from("/var/lib/multiflexi/db.sqlite"))
        );
        assert_eq!(
            sqlite_path("sqlite:data.db"),
            Some(PathBuf::from("data.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://u@h/db"), None);
    }

    #[test]
    fn server_addresses() {
        let a = |u| server_address(u);
        assert_eq!(
            a("postgres://u:p@db.example.com/x").as_deref(),
            Some("db.example.com:5432")
        );
        assert_eq!(a("mysql://u:p@h:3307/x").as_deref(), Some("h:3307"));
        assert_eq!(a("postgres://u:p@w@[::1]/x").as_deref(), Some("[::1]:5432"));
        assert_eq!(a("postgres://[::1]:6000/x").as_deref(), Some("[::1]:6000"));
        assert_eq!(a("postgres:///x?host=/run/postgresql"), None);
        assert_eq!(a("sqlite://x.sqlite"), None);
    }

    #[test]
    fn key_file_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.sqlite");
        let (k1, s1) = master_key(None, Some(&db), true).unwrap();
        let path = dir.path().join(KEY_FILE);
        assert_eq!(s1, KeySource::Created(path.clone()));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (k2, s2) = master_key(None, Some(&db), true).unwrap();
        assert_eq!(s2, KeySource::File(path));
        assert_eq!(k1.unwrap().id(), k2.unwrap().id());
        let (k3, s3) = master_key(None, Some(&dir.path().join("sub/y.sqlite")), false).unwrap();
        assert!(k3.is_none());
        assert_eq!(s3, KeySource::None);
    }
}
