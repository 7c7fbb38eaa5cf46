//! Companies: list, get, create (`POST /companies` with `{name, …}`), delete. A company token sees
//! its own company only; creating and deleting companies needs an admin token.

use super::auth::Caller;
use super::env::{EnvInput, EnvVarView, env_view, to_environment};
use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, path_id};
use crate::http::HttpState;
use crate::usecase::companies::NewCompany;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use chrono::{DateTime, Utc};
use multiflexi_core::CompanyId;
use multiflexi_core::model::Company;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A company.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CompanyView {
    /// Its id.
    pub id: i64,
    /// Name (unique, case-sensitive).
    pub name: String,
    /// URL-safe short name (unique).
    pub slug: String,
    /// Contact e-mail.
    pub email: Option<String>,
    /// The Zabbix host its jobs report under.
    pub zabbix_host: Option<String>,
    /// Whether its templates run.
    pub enabled: bool,
    /// Company-wide environment (secret values `***`).
    pub environment: BTreeMap<String, EnvVarView>,
    /// When it was created.
    pub created: Option<DateTime<Utc>>,
    /// When it was last changed.
    pub updated: Option<DateTime<Utc>>,
}

impl CompanyView {
    /// The view of `c`.
    pub fn of(c: &Company) -> Self {
        Self {
            id: c.id.get(),
            name: c.name.clone(),
            slug: c.slug.clone(),
            email: c.email.clone(),
            zabbix_host: c.zabbix_host.clone(),
            enabled: c.enabled,
            environment: env_view(&c.environment),
            created: c.created,
            updated: c.updated,
        }
    }
}

/// `POST /companies`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyCreate {
    /// Name (unique, case-sensitive).
    #[schema(min_length = 1)]
    pub name: String,
    /// URL-safe short name: lower-case letters, digits, `-` and `_` (derived from the name when absent).
    #[schema(pattern = "^[a-z0-9_-]+$")]
    pub slug: Option<String>,
    /// Contact e-mail.
    pub email: Option<String>,
    /// The Zabbix host its jobs report under.
    pub zabbix_host: Option<String>,
    /// Whether its templates run (default true).
    pub enabled: Option<bool>,
    /// Company-wide environment: `NAME: "value"` or `NAME: {value, secret}`.
    pub environment: Option<BTreeMap<String, EnvInput>>,
}

/// Companies (a company token: its own).
#[utoipa::path(get, path = "/companies", tag = "companies",
    responses(
        (status = 200, description = "Companies", body = [CompanyView]),
        (status = 401, description = "No or bad token", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<HttpState>,
    caller: Caller,
) -> ApiResult<Json<Vec<CompanyView>>> {
    let companies = state.store.list_companies().await?;
    Ok(Json(
        companies
            .iter()
            .filter(|c| caller.scope.sees_company(c.id))
            .map(CompanyView::of)
            .collect(),
    ))
}

/// One company.
#[utoipa::path(get, path = "/company/{id}", tag = "companies",
    params(("id" = i64, Path, description = "Company id")),
    responses(
        (status = 200, description = "The company", body = CompanyView),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such company (or not this token's)", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<CompanyView>> {
    let id: CompanyId = path_id(&id)?;
    caller.check_company(id, "company", id)?;
    Ok(Json(CompanyView::of(&state.store.get_company(id).await?)))
}

/// Creates a company. Admin only.
#[utoipa::path(post, path = "/companies", tag = "companies",
    request_body = CompanyCreate,
    responses(
        (status = 201, description = "Created", body = CompanyView,
            headers(("Location" = String, description = "The company's URL"))),
        (status = 400, description = "Bad input", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Not an admin token", body = ErrorBody),
        (status = 409, description = "Name or slug taken", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<HttpState>,
    caller: Caller,
    ApiJson(body): ApiJson<CompanyCreate>,
) -> ApiResult<(StatusCode, HeaderMap, Json<CompanyView>)> {
    let mut new = NewCompany::named(body.name);
    new.slug = body.slug;
    new.email = body.email;
    new.zabbix_host = body.zabbix_host;
    new.enabled = body.enabled;
    if let Some(env) = &body.environment {
        new.environment = Some(to_environment("environment", env, |_| false)?);
    }
    let c = state
        .usecases()
        .create_company(&caller.as_caller(), new)
        .await?;
    Ok((
        StatusCode::CREATED,
        location(&format!("company/{}", c.id)),
        Json(CompanyView::of(&c)),
    ))
}

/// A `Location` header for `rest` under the base path.
pub fn location(rest: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("{}/{rest}", super::BASE_PATH)) {
        h.insert(header::LOCATION, v);
    }
    h
}

/// Deletes a company (409 while templates or credentials belong to it). Admin only.
#[utoipa::path(delete, path = "/company/{id}", tag = "companies",
    params(("id" = i64, Path, description = "Company id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Not an admin token", body = ErrorBody),
        (status = 404, description = "No such company", body = ErrorBody),
        (status = 409, description = "Templates or credentials belong to it", body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: CompanyId = path_id(&id)?;
    state
        .usecases()
        .delete_company(&caller.as_caller(), id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
