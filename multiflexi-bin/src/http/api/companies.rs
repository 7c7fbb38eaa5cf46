//! Companies: list, get, create (`POST /companies` with `{name, …}`), delete. A company token sees
//! its own company only; creating and deleting companies needs an admin token.

use super::auth::Caller;
use super::env::{EnvInput, EnvVarView, env_view, to_environment};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, path_id};
use crate::http::HttpState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use chrono::{DateTime, Utc};
use multiflexi_core::CompanyId;
use multiflexi_core::model::Company;
use multiflexi_core::tenancy::check_company_env;
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

fn non_empty(field: &str, v: &str) -> ApiResult<String> {
    let t = v.trim();
    if t.is_empty() || t.contains('\0') {
        return Err(ApiError::bad_field(
            field,
            format!("invalid {field}: it is empty or holds a NUL character"),
        ));
    }
    Ok(t.to_string())
}

fn optional(field: &str, v: Option<&String>) -> ApiResult<Option<String>> {
    match v.map(|s| s.trim()) {
        None | Some("") => Ok(None),
        Some(s) => non_empty(field, s).map(Some),
    }
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
    caller.require_admin("creating companies")?;
    let mut c = Company::new(non_empty("name", &body.name)?);
    if let Some(slug) = &body.slug {
        let s = slug.trim();
        if s.is_empty()
            || !s
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err(ApiError::bad_field(
                "slug",
                format!("invalid slug: {slug:?}; use lower-case letters, digits, - and _"),
            ));
        }
        c.slug = s.to_string();
    }
    if c.slug.is_empty() {
        return Err(ApiError::bad_field(
            "slug",
            "the name has no letters or digits to derive a slug from; give a slug",
        ));
    }
    c.email = optional("email", body.email.as_ref())?;
    c.zabbix_host = optional("zabbix_host", body.zabbix_host.as_ref())?;
    c.enabled = body.enabled.unwrap_or(true);
    if let Some(env) = &body.environment {
        c.environment = to_environment("environment", env, |_| false)?;
        check_company_env(caller.scope, c.environment.iter().map(|(k, _)| k))?;
    }
    let c = state.store.create_company(&c).await?;
    caller
        .audit(
            &state,
            None,
            "company:create",
            format!("company {} \"{}\"", c.id, c.name),
        )
        .await;
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
    caller.check_company(id, "company", id)?;
    caller.require_admin("deleting companies")?;
    let c = state.store.get_company(id).await?;
    state.store.delete_company(id).await?;
    caller
        .audit(
            &state,
            None,
            "company:delete",
            format!("company {id} \"{}\"", c.name),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}
