//! The JSON API under [`BASE_PATH`], as upstream MultiFlexi's.

use super::HttpState;
use axum::Router;

/// Where the API lives.
pub const BASE_PATH: &str = "/api/VitexSoftware/MultiFlexi/1.0.0";

/// The API's routes.
pub fn router(state: HttpState) -> Router {
    Router::new().with_state(state)
}
