//! Reading database URLs: which backend, which SQLite file, which server, and the URL with its
//! password hidden. The one parser of these URLs: the binaries resolve their settings with it and
//! the store opens its SQLite writer on the file it names.

use multiflexi_core::{Error, Result};
use percent_encoding::percent_decode_str;
use sea_orm::DbBackend;
use std::path::PathBuf;

/// The backend a URL names and the URL as the driver takes it (`mariadb://` becomes `mysql://`).
pub(crate) fn detect_backend(url: &str) -> Result<(DbBackend, String)> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("sqlite:") {
        #[cfg(feature = "sqlite")]
        return Ok((DbBackend::Sqlite, url.to_string()));
        #[cfg(not(feature = "sqlite"))]
        return Err(Error::Unsupported {
            message: "this build has no SQLite support (cargo feature `sqlite`)".into(),
        });
    }
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        return Ok((DbBackend::Postgres, url.to_string()));
        #[cfg(not(feature = "postgres"))]
        return Err(Error::Unsupported {
            message: "this build has no PostgreSQL support (cargo feature `postgres`)".into(),
        });
    }
    if lower.starts_with("mysql://") || lower.starts_with("mariadb://") {
        #[cfg(feature = "mysql")]
        return Ok((
            DbBackend::MySql,
            format!("mysql://{}", url.split_once("://").map_or("", |(_, r)| r)),
        ));
        #[cfg(not(feature = "mysql"))]
        return Err(Error::Unsupported {
            message: "this build has no MySQL/MariaDB support (cargo feature `mysql`)".into(),
        });
    }
    Err(Error::invalid(
        "database url",
        format!(
            "{:?} is not a database URL; {ALLOWED_URLS}",
            redact_url(url)
        ),
    ))
}

/// What a database URL may look like (for error messages).
pub const ALLOWED_URLS: &str = "use sqlite://PATH?mode=rwc, sqlite::memory:, \
postgres://USER:PASSWORD@HOST/DB or mysql://USER:PASSWORD@HOST/DB (mariadb:// too)";

/// Whether `url` names a backend this store knows (`sqlite:`, `postgres://`, `postgresql://`,
/// `mysql://`, `mariadb://`), compiled in or not.
pub fn is_database_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    [
        "sqlite:",
        "postgres://",
        "postgresql://",
        "mysql://",
        "mariadb://",
    ]
    .iter()
    .any(|scheme| lower.starts_with(scheme))
}

/// The SQLite database file a URL names, read as the SQLite driver reads it; `None` for other
/// backends and for in-memory databases.
///
/// `sqlite://multiflexi.sqlite?mode=rwc` → `multiflexi.sqlite`; `sqlite:///var/lib/m.db` →
/// `/var/lib/m.db`; `sqlite:data.db` → `data.db`; `sqlite://my%20db.sqlite` → `my db.sqlite`;
/// `sqlite::memory:` and `sqlite://x.db?mode=memory` → `None`.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let scheme = url.get(..7)?;
    if !scheme.eq_ignore_ascii_case("sqlite:") {
        return None;
    }
    let rest = &url[7..];
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" || query.split('&').any(|kv| kv == "mode=memory") {
        return None;
    }
    let decoded = percent_decode_str(path)
        .decode_utf8()
        .map_or_else(|_| path.to_string(), |p| p.into_owned());
    Some(PathBuf::from(decoded))
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

/// The URL with its password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths_as_the_driver_reads_them() {
        let p = |u: &str| sqlite_path(u).map(|p| p.to_string_lossy().into_owned());
        assert_eq!(
            p("sqlite://multiflexi.sqlite?mode=rwc").as_deref(),
            Some("multiflexi.sqlite")
        );
        assert_eq!(
            p("sqlite:///var/lib/m.db").as_deref(),
            Some("/var/lib/m.db")
        );
        assert_eq!(p("SQLite:data.db").as_deref(), Some("data.db"));
        assert_eq!(
            p("sqlite://my%20db.sqlite?mode=rwc").as_deref(),
            Some("my db.sqlite")
        );
        assert_eq!(p("sqlite::memory:"), None);
        assert_eq!(p("sqlite://:memory:"), None);
        assert_eq!(p("sqlite://x.db?mode=memory"), None);
        assert_eq!(p("sqlite://"), None);
        assert_eq!(p("postgres://u:p@h/db"), None);
        assert_eq!(p("sqlit"), None);
    }

    #[test]
    fn server_addresses_and_redaction() {
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
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert!(is_database_url("MariaDB://h/db"));
        assert!(!is_database_url("oracle://h/db"));
    }
}
