//! The HTTP server inside `multiflexi serve` and as `multiflexi-api`: where it listens, and the
//! admin token a first start creates beside the database.

use crate::http::{self, HttpOptions, HttpState};
use anyhow::Context;
use clap::Args;
use multiflexi_core::engine::Shutdown;
use multiflexi_core::store::{AccessTokens, TokenScope};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tokio::task::JoinHandle;

/// File name of the admin token `multiflexi serve` creates beside the database.
pub const ADMIN_TOKEN_FILE: &str = "multiflexi.admin-token";

/// Settings of the HTTP server (API + dashboard).
#[derive(Debug, Clone, Args)]
pub struct HttpArgs {
    /// Address the API and the dashboard listen on (`off`: no HTTP server).
    #[arg(
        long,
        env = "MULTIFLEXI_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: String,
    /// Largest request body accepted, in bytes (larger ones get 413).
    #[arg(
        long,
        env = "MULTIFLEXI_HTTP_BODY_LIMIT",
        value_name = "BYTES",
        default_value_t = 1024 * 1024
    )]
    pub body_limit: usize,
    /// Mark the dashboard's session cookie Secure (serve it over HTTPS, e.g. behind a proxy).
    #[arg(long, env = "MULTIFLEXI_SECURE_COOKIES")]
    pub secure_cookies: bool,
}

impl HttpArgs {
    /// The address to listen on; `None` for `off`.
    pub fn address(&self) -> anyhow::Result<Option<SocketAddr>> {
        let raw = self.listen.trim();
        if raw.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        raw.parse().map(Some).map_err(|_| {
            anyhow::anyhow!(
                "--listen / MULTIFLEXI_LISTEN={raw:?} is not an address; use IP:PORT such as 127.0.0.1:8080 or 0.0.0.0:8080, or off"
            )
        })
    }

    /// The server settings.
    pub fn options(&self) -> HttpOptions {
        HttpOptions {
            body_limit: self.body_limit,
            secure_cookies: self.secure_cookies,
            ..HttpOptions::default()
        }
    }
}

/// Binds the address (a clear error when it is taken) and serves until `shutdown` drains.
pub async fn start(
    addr: SocketAddr,
    state: HttpState,
    shutdown: Shutdown,
) -> anyhow::Result<(SocketAddr, JoinHandle<std::io::Result<()>>)> {
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!(
            "cannot listen on {addr} (set --listen / MULTIFLEXI_LISTEN to another address, or off)"
        )
    })?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        http::serve(listener, state, async move { shutdown.draining().await }).await
    });
    Ok((bound, task))
}

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
    /// The file exists (it is not read: the operator keeps it).
    Existing(PathBuf),
    /// No file, but admin tokens exist already: none is created.
    Elsewhere,
}

/// On first start (no token file and no live admin token), makes an admin token and writes its
/// secret to `path` with mode 0600.
pub async fn ensure_admin_token(
    store: &dyn AccessTokens,
    path: &Path,
) -> anyhow::Result<AdminToken> {
    if path.exists() {
        return Ok(AdminToken::Existing(path.to_path_buf()));
    }
    let tokens = store.list_tokens().await?;
    if tokens
        .iter()
        .any(|t| t.scope == TokenScope::Admin && t.revoked.is_none())
    {
        return Ok(AdminToken::Elsewhere);
    }
    let name = (1..)
        .map(|i| {
            if i == 1 {
                "admin".to_string()
            } else {
                format!("admin-{i}")
            }
        })
        .find(|n| !tokens.iter().any(|t| &t.name == n))
        .unwrap_or_else(|| "admin".to_string());
    let issued = store.create_token(&name, TokenScope::Admin).await?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(path).and_then(|mut f| {
        f.write_all(format!("{}\n", issued.secret).as_bytes())?;
        f.sync_all()
    });
    if let Err(e) = written {
        // Nobody could read the secret: do not leave a live token behind.
        let _ = store.revoke_token(issued.token.id).await;
        return Err(e)
            .with_context(|| format!("cannot write the admin token file {}", path.display()));
    }
    Ok(AdminToken::Created(path.to_path_buf()))
}
