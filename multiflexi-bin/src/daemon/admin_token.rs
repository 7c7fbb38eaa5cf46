//! The admin token `multiflexi serve` keeps beside the database: made on the first start, and
//! made again when the file left there is unknown to the database (a file from an earlier
//! database beside a new one would otherwise be announced as valid and answer 401).

use anyhow::Context;
use multiflexi_core::store::{AccessTokens, IssuedToken, TokenScope};
use std::io::Write;
use std::path::{Path, PathBuf};

/// File name of the admin token `multiflexi serve` creates beside the database.
pub const ADMIN_TOKEN_FILE: &str = "multiflexi.admin-token";

/// Where the admin token file lives: beside a SQLite database, else in the working directory.
pub fn admin_token_path(sqlite: Option<&Path>) -> PathBuf {
    match sqlite.and_then(Path::parent) {
        Some(dir) => dir.join(ADMIN_TOKEN_FILE),
        None => PathBuf::from(ADMIN_TOKEN_FILE),
    }
}

/// What [`ensure_admin_token`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminToken {
    /// Created now: a new admin token, its secret written to this file (mode 0600).
    Created(PathBuf),
    /// The file holds a live token of this database; kept as it is.
    Existing(PathBuf),
    /// The file held a secret this database does not know (or a revoked token's): a new admin
    /// token replaced it (mode 0600).
    Replaced(PathBuf),
    /// No file, but admin tokens exist already: none is created.
    Elsewhere,
}

/// On first start (no token file and no live admin token), makes an admin token and writes its
/// secret to `path` with mode 0600. A file that is there already is checked against the
/// database: a secret it does not know (left beside a new database, or revoked) is replaced by a
/// new admin token's.
pub async fn ensure_admin_token(
    store: &dyn AccessTokens,
    path: &Path,
) -> anyhow::Result<AdminToken> {
    let tokens = store.list_tokens().await?;
    if path.exists() {
        let secret = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the admin token file {}", path.display()))?;
        if store.authenticate(secret.trim()).await?.is_some() {
            return Ok(AdminToken::Existing(path.to_path_buf()));
        }
        let issued = store
            .create_token(&free_name(&tokens), TokenScope::Admin)
            .await?;
        write_secret(store, &issued, path, true).await?;
        return Ok(AdminToken::Replaced(path.to_path_buf()));
    }
    if tokens
        .iter()
        .any(|t| t.scope == TokenScope::Admin && t.revoked.is_none())
    {
        return Ok(AdminToken::Elsewhere);
    }
    let issued = store
        .create_token(&free_name(&tokens), TokenScope::Admin)
        .await?;
    write_secret(store, &issued, path, false).await?;
    Ok(AdminToken::Created(path.to_path_buf()))
}

/// `admin`, else the first free `admin-N`.
fn free_name(tokens: &[multiflexi_core::store::AccessToken]) -> String {
    (1..)
        .map(|i| {
            if i == 1 {
                "admin".to_string()
            } else {
                format!("admin-{i}")
            }
        })
        .find(|n| !tokens.iter().any(|t| &t.name == n))
        .unwrap_or_else(|| "admin".to_string())
}

/// Writes the secret (mode 0600): a new file, or (`replace`) a temporary file renamed over the
/// old one so that no reader sees half a secret. On failure the token is revoked: nobody could
/// read its secret.
async fn write_secret(
    store: &dyn AccessTokens,
    issued: &IssuedToken,
    path: &Path,
    replace: bool,
) -> anyhow::Result<()> {
    let target = if replace {
        let mut name = path.as_os_str().to_owned();
        name.push(".new");
        PathBuf::from(name)
    } else {
        path.to_path_buf()
    };
    if replace {
        let _ = std::fs::remove_file(&target);
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options
        .open(&target)
        .and_then(|mut f| {
            f.write_all(format!("{}\n", issued.secret).as_bytes())?;
            f.sync_all()
        })
        .and_then(|()| {
            if replace {
                std::fs::rename(&target, path)
            } else {
                Ok(())
            }
        });
    if let Err(e) = written {
        let _ = store.revoke_token(issued.token.id).await;
        if replace {
            let _ = std::fs::remove_file(&target);
        }
        return Err(e)
            .with_context(|| format!("cannot write the admin token file {}", path.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use multiflexi_core::InMemoryStore;

    #[tokio::test]
    async fn first_start_creates_and_a_second_keeps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(ADMIN_TOKEN_FILE);
        let store = InMemoryStore::new();
        assert_eq!(
            ensure_admin_token(&store, &path).await.unwrap(),
            AdminToken::Created(path.clone())
        );
        let secret = std::fs::read_to_string(&path).unwrap();
        let token = store.authenticate(secret.trim()).await.unwrap().unwrap();
        assert_eq!(token.scope, TokenScope::Admin);
        assert_eq!(
            ensure_admin_token(&store, &path).await.unwrap(),
            AdminToken::Existing(path.clone())
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), secret);
        assert_eq!(store.list_tokens().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_file_left_from_another_database_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(ADMIN_TOKEN_FILE);
        let old = InMemoryStore::new();
        ensure_admin_token(&old, &path).await.unwrap();
        let stale = std::fs::read_to_string(&path).unwrap();

        let fresh = InMemoryStore::new();
        assert_eq!(
            ensure_admin_token(&fresh, &path).await.unwrap(),
            AdminToken::Replaced(path.clone())
        );
        let secret = std::fs::read_to_string(&path).unwrap();
        assert_ne!(secret, stale);
        let token = fresh.authenticate(secret.trim()).await.unwrap().unwrap();
        assert_eq!(
            (token.scope, token.name.as_str()),
            (TokenScope::Admin, "admin")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert!(!dir.path().join("multiflexi.admin-token.new").exists());
    }

    #[tokio::test]
    async fn a_revoked_token_in_the_file_is_replaced_under_a_free_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(ADMIN_TOKEN_FILE);
        let store = InMemoryStore::new();
        ensure_admin_token(&store, &path).await.unwrap();
        let first = store.list_tokens().await.unwrap()[0].id;
        store.revoke_token(first).await.unwrap();
        assert_eq!(
            ensure_admin_token(&store, &path).await.unwrap(),
            AdminToken::Replaced(path.clone())
        );
        let secret = std::fs::read_to_string(&path).unwrap();
        let token = store.authenticate(secret.trim()).await.unwrap().unwrap();
        assert_eq!(token.name, "admin-2");
    }
}
