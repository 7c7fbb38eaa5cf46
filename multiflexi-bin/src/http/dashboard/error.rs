//! Error pages: the status code and one clear sentence, never a debug dump.

use super::layout::{self, Nav};
use super::session::Session;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;
use multiflexi_core::Error;

/// A page that could not be shown, or a request that was refused.
#[derive(Debug)]
pub(crate) struct PageError {
    status: StatusCode,
    message: String,
}

impl PageError {
    /// 404 (also what another company's data looks like to a company-scoped token).
    pub(crate) fn not_found(what: impl std::fmt::Display) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: format!("{what} was not found."),
        }
    }

    /// 403.
    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            message: message.into(),
        }
    }

    /// 400.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// What it says.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    /// The page, with the navigation of a signed-in session.
    pub(crate) fn for_session(self, session: &Session) -> Response {
        self.render(Some(session))
    }

    fn title(&self) -> &'static str {
        self.status.canonical_reason().unwrap_or("Error")
    }

    fn render(self, session: Option<&Session>) -> Response {
        let title = self.title();
        let body = html! {
            h1 { (self.status.as_u16()) " " (title) }
            p.alert.alert-danger role="alert" { (self.message) }
            p { a href="/" { "Back to the overview" } }
        };
        let page = match session {
            Some(s) => layout::page(s, title, Nav::None, body),
            None => layout::bare(title, body),
        };
        (self.status, page).into_response()
    }
}

impl From<Error> for PageError {
    fn from(e: Error) -> Self {
        let status = match &e {
            Error::NotFound { .. } => StatusCode::NOT_FOUND,
            Error::Forbidden { .. } => StatusCode::FORBIDDEN,
            Error::InvalidInput { .. } | Error::Unsupported { .. } => StatusCode::BAD_REQUEST,
            Error::AlreadyExists { .. }
            | Error::Conflict { .. }
            | Error::InvalidTransition { .. } => StatusCode::CONFLICT,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        };
        let message = if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!("dashboard: {e}");
            "The database is not available right now; try again in a moment.".to_string()
        } else {
            let m = e.to_string();
            if m.ends_with('.') { m } else { format!("{m}.") }
        };
        Self { status, message }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        self.render(None)
    }
}

/// A handler's result: a response, or an error page for the signed-in session.
pub(crate) type PageResult = Result<Response, Response>;

/// Turns a core result into a handler result with the session's error page.
pub(crate) trait OrPage<T> {
    /// The value, or the error page.
    fn or_page(self, session: &Session) -> Result<T, Response>;
}

impl<T> OrPage<T> for Result<T, Error> {
    fn or_page(self, session: &Session) -> Result<T, Response> {
        self.map_err(|e| PageError::from(e).for_session(session))
    }
}

impl<T> OrPage<T> for Result<T, PageError> {
    fn or_page(self, session: &Session) -> Result<T, Response> {
        self.map_err(|e| e.for_session(session))
    }
}
