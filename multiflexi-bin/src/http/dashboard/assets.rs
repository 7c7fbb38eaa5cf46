//! The dashboard's one stylesheet and one script, served from the binary (no CDN).

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;

const CSS: &str = include_str!("dashboard.css");
const JS: &str = include_str!("dashboard.js");

/// `GET /assets/dashboard.css`.
pub(crate) async fn css() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=300"),
        ],
        CSS,
    )
}

/// `GET /assets/dashboard.js`.
pub(crate) async fn js() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=300"),
        ],
        JS,
    )
}
