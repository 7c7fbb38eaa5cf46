//! JSON bodies for the errors axum itself produces (405, 413, unknown paths) on API routes.

use super::error::{ErrorBody, code_of};
use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Middleware: an error response without a JSON body gets one, so every API error is
/// `{error, detail}` (`Allow` and other headers are kept).
pub async fn json_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let detail = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allow = parts
                .headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            format!("this method is not allowed here; allowed: {allow}")
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            "the request body is larger than the server accepts".to_string()
        }
        StatusCode::NOT_FOUND => "no such API endpoint".to_string(),
        _ if !text.is_empty() => text,
        _ => status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_string(),
    };
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = ErrorBody {
        error: code_of(status).to_string(),
        detail,
        field: None,
    };
    let mut out = (status, Json(body)).into_response();
    for (k, v) in parts.headers.iter() {
        if !out.headers().contains_key(k) {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

/// Any unknown path under the API's base path: a JSON 404.
pub async fn unknown_path() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(ErrorBody {
            error: "not_found".into(),
            detail: "no such API endpoint; GET /api/VitexSoftware/MultiFlexi/1.0.0/openapi.json lists them".into(),
            field: None,
        }),
    )
        .into_response()
}
