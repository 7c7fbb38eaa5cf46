//! The HTTP server of `multiflexi serve` and `multiflexi-api`: the JSON API under
//! [`api::BASE_PATH`] (bearer tokens) and the server-rendered dashboard at `/` (a token kept in
//! an HttpOnly cookie). Both read and write through the same [`Store`](multiflexi_core::Store).

pub mod api;
pub mod dashboard;
mod state;

pub use state::{HttpOptions, HttpState};

use axum::Router;
use std::future::Future;

/// The whole application: the API and the dashboard.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .merge(api::router(state.clone()))
        .merge(dashboard::router(state))
}

/// Serves [`router`] on `listener` until `shutdown` resolves (then finishes open requests).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: HttpState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
