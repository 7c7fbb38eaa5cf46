//! Credentials: list, get, create, delete. Secret values are never returned (`value` is `***`).

use super::auth::Caller;
use super::companies::location;
use super::env::REDACTED;
use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, QueryParams, path_id};
use crate::http::HttpState;
use crate::usecase::credentials::NewCredential;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use multiflexi_core::model::Credential;
use multiflexi_core::{CompanyId, CredentialId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// One value of a credential as responses show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CredentialFieldView {
    /// The environment variable it provides.
    pub name: String,
    /// The value, `***` when secret.
    pub value: String,
    /// Whether it is secret.
    pub secret: bool,
}

/// A credential.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CredentialView {
    /// Its id.
    pub id: i64,
    /// The company that owns it.
    pub company_id: i64,
    /// Name (unique per company).
    pub name: String,
    /// Credential type (`AbraFlexi`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Its values (secret ones redacted).
    pub fields: Vec<CredentialFieldView>,
}

impl CredentialView {
    /// The view of `c`, secret values redacted.
    pub fn of(c: &Credential) -> Self {
        Self {
            id: c.id.get(),
            company_id: c.company_id.get(),
            name: c.name.clone(),
            kind: c.kind.clone(),
            fields: c
                .fields
                .iter()
                .map(|f| CredentialFieldView {
                    name: f.name.clone(),
                    value: if f.secret {
                        REDACTED.into()
                    } else {
                        f.value.clone()
                    },
                    secret: f.secret,
                })
                .collect(),
        }
    }
}

/// One value of a new credential.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialFieldInput {
    /// The environment variable it provides.
    #[schema(pattern = "^[A-Za-z_][A-Za-z0-9_]*$")]
    pub name: String,
    /// The value.
    pub value: String,
    /// Whether it is secret (default false).
    #[serde(default)]
    pub secret: bool,
}

/// `POST /credentials`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialCreate {
    /// The company that owns it.
    pub company_id: i64,
    /// Name (unique per company).
    #[schema(min_length = 1)]
    pub name: String,
    /// Credential type.
    #[serde(rename = "type")]
    #[schema(min_length = 1)]
    pub kind: String,
    /// Its values.
    #[serde(default)]
    pub fields: Vec<CredentialFieldInput>,
}

/// Query of `GET /credentials`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CredentialQuery {
    /// Only this company's.
    company_id: Option<i64>,
}

/// Credentials (a company token: its own company's).
#[utoipa::path(get, path = "/credentials", tag = "credentials",
    params(CredentialQuery),
    responses(
        (status = 200, description = "Credentials, secret values redacted", body = [CredentialView]),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<HttpState>,
    caller: Caller,
    mut q: QueryParams,
) -> ApiResult<Json<Vec<CredentialView>>> {
    let company: Option<CompanyId> = q.take::<i64>("company_id", "an integer")?.map(CompanyId);
    q.finish(&["company_id"])?;
    let filter = match (caller.company(), company) {
        (Some(own), Some(c)) if own != c => return Ok(Json(Vec::new())),
        (Some(own), _) => Some(own),
        (None, c) => c,
    };
    let list = state.store.list_credentials(filter).await?;
    Ok(Json(list.iter().map(CredentialView::of).collect()))
}

/// One credential.
#[utoipa::path(get, path = "/credential/{id}", tag = "credentials",
    params(("id" = i64, Path, description = "Credential id")),
    responses(
        (status = 200, description = "The credential, secret values redacted", body = CredentialView),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such credential (or not this token's)", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<CredentialView>> {
    let id: CredentialId = path_id(&id)?;
    let c = state.store.get_credential(id).await?;
    caller.check_company(c.company_id, "credential", id)?;
    Ok(Json(CredentialView::of(&c)))
}

/// Creates a credential for a company (a company token: its own).
#[utoipa::path(post, path = "/credentials", tag = "credentials",
    request_body = CredentialCreate,
    responses(
        (status = 201, description = "Created", body = CredentialView,
            headers(("Location" = String, description = "The credential's URL"))),
        (status = 400, description = "Bad input", body = ErrorBody),
        (status = 403, description = "Not allowed for this token: a company token choosing the executor, or an environment name it may not set", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such company", body = ErrorBody),
        (status = 409, description = "Name taken in that company", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<HttpState>,
    caller: Caller,
    ApiJson(body): ApiJson<CredentialCreate>,
) -> ApiResult<(StatusCode, HeaderMap, Json<CredentialView>)> {
    let mut new = NewCredential::new(CompanyId(body.company_id), body.name, body.kind);
    new.fields = body
        .fields
        .into_iter()
        .map(|f| (f.name, f.value, f.secret))
        .collect();
    let c = state
        .usecases()
        .create_credential(&caller.as_caller(), new)
        .await?;
    Ok((
        StatusCode::CREATED,
        location(&format!("credential/{}", c.id)),
        Json(CredentialView::of(&c)),
    ))
}

/// Deletes a credential (409 while run templates use it).
#[utoipa::path(delete, path = "/credential/{id}", tag = "credentials",
    params(("id" = i64, Path, description = "Credential id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such credential (or not this token's)", body = ErrorBody),
        (status = 409, description = "Run templates use it", body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: CredentialId = path_id(&id)?;
    state
        .usecases()
        .delete_credential(&caller.as_caller(), id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
