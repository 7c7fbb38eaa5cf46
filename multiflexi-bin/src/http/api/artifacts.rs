//! `GET /job/{id}/artifacts` and `GET /artifact/{id}` (the exact bytes, with their content type
//! and a safely quoted `Content-Disposition` filename).

use super::auth::Caller;
use super::error::{ApiResult, ErrorBody};
use super::extract::path_id;
use super::job_view::ArtifactView;
use super::jobs::visible_job;
use crate::http::HttpState;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use multiflexi_core::{ArtifactId, Error, JobId};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// A job's artifacts.
#[utoipa::path(get, path = "/job/{id}/artifacts", tag = "artifacts",
    params(("id" = i64, Path, description = "Job id")),
    responses(
        (status = 200, description = "Its artifacts", body = [ArtifactView]),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such job (or not this token's)", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<ArtifactView>>> {
    let id: JobId = path_id(&id)?;
    visible_job(&state, &caller, id).await?;
    let list = state.artifacts.list(id).await?;
    Ok(Json(list.iter().map(ArtifactView::of).collect()))
}

/// An artifact's content: bytes (a string of format `binary` in the OpenAPI document, which
/// generated clients read as a file, not as an array of numbers).
#[derive(Debug, utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct ArtifactBytes(#[allow(dead_code)] Vec<u8>);

/// One artifact's exact bytes.
#[utoipa::path(get, path = "/artifact/{id}", tag = "artifacts",
    params(("id" = i64, Path, description = "Artifact id")),
    responses(
        (status = 200, description = "The content, with its Content-Type and an attachment Content-Disposition",
            content((ArtifactBytes = "*/*")),
            headers(("Content-Disposition" = String, description = "attachment; filename=\"…\"; filename*=UTF-8''…"))),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such artifact (or not this token's)", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id: ArtifactId = path_id(&id)?;
    let artifact = state.artifacts.get(id).await?;
    // The job decides who may see it; a job that is gone leaves its artifact unreachable.
    match visible_job(&state, &caller, artifact.meta.job_id).await {
        Ok(_) => {}
        Err(e) if e.status == axum::http::StatusCode::NOT_FOUND => {
            return Err(Error::not_found(ArtifactId::ENTITY, id).into());
        }
        Err(e) => return Err(e),
    }
    let content_type = HeaderValue::from_str(&artifact.meta.content_type)
        .ok()
        .filter(|_| artifact.meta.content_type.contains('/'))
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&content_disposition(&artifact.meta.filename))
        .unwrap_or(HeaderValue::from_static("attachment"));
    let mut response = Body::from(artifact.content).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, content_type);
    h.insert(header::CONTENT_DISPOSITION, disposition);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(response)
}

/// Characters kept as they are in `filename*` (RFC 5987 attr-char).
const ATTR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `attachment` with an ASCII `filename` (quotes, backslashes, controls and non-ASCII replaced
/// by `_`) and the exact name as `filename*` (RFC 6266 / 5987). Only the last path component
/// of a result file's name (`out/report.json` → `report.json`) is offered.
pub fn content_disposition(name: &str) -> String {
    let base = name.rsplit('/').next().unwrap_or(name);
    let base = if base.is_empty() { "artifact" } else { base };
    let ascii: String = base
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        utf8_percent_encode(base, ATTR)
    )
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn quotes_names_safely() {
        assert_eq!(
            content_disposition("stdout.txt"),
            "attachment; filename=\"stdout.txt\"; filename*=UTF-8''stdout.txt"
        );
        assert_eq!(
            content_disposition("out/a \"b\"\r\nč.csv"),
            "attachment; filename=\"a _b___č.csv\"; filename*=UTF-8''a%20%22b%22%0D%0A%C4%8D.csv"
                .replace('č', "_")
        );
    }
}
