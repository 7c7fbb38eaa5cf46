//! The server-rendered dashboard at `/`.
//!
//! Every page is plain HTML that works without JavaScript; one small script (served from
//! `/assets/dashboard.js`) only enhances it: the live output tail of a running job and the
//! overview's periodic refresh.
//!
//! - Sign-in: `/login` takes an API token (checked with
//!   [`AccessTokens::authenticate`](multiflexi_core::store::AccessTokens::authenticate)) and keeps
//!   it in the `HttpOnly; SameSite=Strict` cookie [`session::SESSION_COOKIE`] (`Secure` when
//!   [`HttpOptions::secure_cookies`](super::HttpOptions) is set). Every other page redirects to it
//!   without a valid cookie; a revoked token signs out at once.
//! - CSRF: every POST form carries a token derived from the session secret with HMAC-SHA256 and
//!   is refused (403) without it or from another origin ([`csrf`]).
//! - Scope: a company-scoped token sees its own company only; anything else is 404.

// Handlers answer `Result<Response, Response>` (an error page is a response too), as axum
// handlers usually do; boxing every error page would buy nothing.
#![allow(clippy::result_large_err)]

mod assets;
mod charts;
mod csrf;
mod error;
mod layout;
mod pages;
mod scope;
mod session;

pub use session::SESSION_COOKIE;

use super::HttpState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use std::sync::Arc;

/// What the dashboard's handlers share: the server's state plus a per-process key that signs
/// the sign-in form's CSRF token (there is no session yet to derive it from).
#[derive(Debug, Clone)]
pub(crate) struct DashState {
    pub(crate) http: HttpState,
    pub(crate) login_key: Arc<[u8; 32]>,
}

/// The dashboard's routes.
pub fn router(state: HttpState) -> Router {
    let body_limit = state.options.body_limit;
    let state = DashState {
        http: state,
        login_key: Arc::new(csrf::random_key()),
    };
    Router::new()
        .route("/", get(pages::overview::page))
        .route(
            "/login",
            get(session::login_page).post(session::login_submit),
        )
        .route("/logout", post(session::logout))
        .route("/jobs", get(pages::jobs::page))
        .route("/jobs/{id}", get(pages::job::page))
        .route("/jobs/{id}/output", get(pages::job::output))
        .route("/jobs/{id}/cancel", post(pages::job::cancel))
        .route("/jobs/{id}/retry", post(pages::job::retry))
        .route("/jobs/{id}/artifacts/{artifact}", get(pages::job::download))
        .route("/runtemplates", get(pages::templates::list))
        .route("/runtemplates/execute", post(pages::bulk_execute::execute))
        .route(
            "/runtemplates/execute-form",
            post(pages::bulk_execute::form),
        )
        .route(
            "/runtemplates/{id}/execute-with",
            post(pages::templates::execute_with),
        )
        .route("/runtemplates/{id}", get(pages::templates::detail))
        .route(
            "/runtemplates/{id}/execute",
            post(pages::templates::execute),
        )
        .route(
            "/runtemplates/{id}/active",
            post(pages::templates::set_active),
        )
        .route(
            "/runtemplates/{id}/actions",
            post(pages::templates::set_actions),
        )
        .route("/retention", get(pages::retention::page))
        .route("/apps", get(pages::apps::list))
        .route("/apps/import", post(pages::apps::import))
        .route("/apps/{id}", get(pages::apps::detail))
        .route(
            "/companies",
            get(pages::companies::list).post(pages::companies::create),
        )
        .route("/assets/dashboard.css", get(assets::css))
        .route("/assets/dashboard.js", get(assets::js))
        .layer(axum::middleware::from_fn(layout::security_headers))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}
