//! The server-rendered dashboard at `/`.

use super::HttpState;
use axum::Router;

/// The dashboard's routes.
pub fn router(state: HttpState) -> Router {
    Router::new().with_state(state)
}
