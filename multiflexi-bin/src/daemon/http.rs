//! The HTTP server inside `multiflexi serve` and as `multiflexi-api`: where it listens. The
//! admin token a first start creates beside the database is [`super::admin_token`]'s.

use crate::http::{self, HttpOptions, HttpState};
use anyhow::Context;
use clap::Args;
use multiflexi_core::engine::Shutdown;
use std::net::SocketAddr;
use tokio::task::JoinHandle;

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
