//! The API's one error shape, `{error, detail, field?}`, and how core errors map onto statuses.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use multiflexi_core::Error;
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable machine-readable code: `bad_request`, `unauthorized`, `forbidden`,
    /// `not_found`, `method_not_allowed`, `conflict`, `payload_too_large`,
    /// `unsupported_media_type`, `internal`, `unavailable`.
    pub error: String,
    /// What went wrong and, where it helps, what is allowed (never a secret value).
    pub detail: String,
    /// The request field (JSON path, query parameter or header) that was wrong, when one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// An error response: a status and an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body.
    pub body: ErrorBody,
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// An error with `status`, its code word and a detail.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                error: code_of(status).to_string(),
                detail: detail.into(),
                field: None,
            },
        }
    }

    /// 400 naming the field that was wrong.
    pub fn bad_field(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail).with_field(field)
    }

    /// 404 for `entity` `id` (also what a company token gets for another company's object).
    pub fn not_found(entity: &str, id: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("{entity} {id} not found"))
    }

    /// 403: the token's scope does not allow this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, detail)
    }

    /// Builder: the field that was wrong.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.body.field = Some(field.into());
        self
    }
}

/// The code word of a status.
pub fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::NOT_ACCEPTABLE => "not_acceptable",
        StatusCode::NOT_IMPLEMENTED => "not_implemented",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        StatusCode::GATEWAY_TIMEOUT => "timeout",
        s if s.is_client_error() => "bad_request",
        _ => "internal",
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match &e {
            Error::NotFound { .. } => Self::new(StatusCode::NOT_FOUND, e.to_string()),
            Error::AlreadyExists { .. } | Error::Conflict { .. } => {
                Self::new(StatusCode::CONFLICT, e.to_string())
            }
            Error::InvalidTransition { .. } => Self::new(StatusCode::CONFLICT, e.to_string()),
            Error::InvalidInput { field, message } => {
                Self::bad_field(field.clone(), format!("invalid {field}: {message}"))
            }
            Error::Forbidden { field, .. } => {
                Self::new(StatusCode::FORBIDDEN, e.to_string()).with_field(field.clone())
            }
            Error::Unsupported { .. } => Self::new(StatusCode::BAD_REQUEST, e.to_string()),
            Error::Timeout { .. } => Self::new(StatusCode::GATEWAY_TIMEOUT, e.to_string()),
            // Secrets that cannot be sealed or opened: the message names the key, never a value.
            Error::Backend {
                backend: "secrets",
                source,
                ..
            } => Self::new(StatusCode::INTERNAL_SERVER_ERROR, source.to_string()),
            _ => {
                // Backend failures may carry connection strings: log them, answer in general terms.
                tracing::error!("API request failed: {e}");
                let status = if e.is_retryable() {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::INTERNAL_SERVER_ERROR
                };
                Self::new(
                    status,
                    "the store failed; the request was not carried out (see the server log)",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let unauthorized = self.status == StatusCode::UNAUTHORIZED;
        let mut response = (self.status, Json(self.body)).into_response();
        if unauthorized {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"multiflexi\", Basic realm=\"multiflexi\""),
            );
        }
        response
    }
}
