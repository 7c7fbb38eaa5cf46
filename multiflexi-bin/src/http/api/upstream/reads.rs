//! The upstream read paths: each a new caller of the same store reads as our routes, scoped to
//! the token the same way (another company's objects are 404 or absent from lists).

use super::paging::{Paging, take_limit};
use super::routes::{Matched, ROUTES};
use super::views::{self, UpJob};
use crate::http::HttpState;
use crate::http::api::auth::Caller;
use crate::http::api::error::{ApiError, ApiResult};
use crate::http::api::extract::{QueryParams, path_id};
use crate::http::api::jobs::visible_job;
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::{header, request::Parts};
use axum::response::{IntoResponse, Response};
use multiflexi_core::store::{JobFilter, RunTemplateFilter};
use multiflexi_core::{AppId, CompanyId, CredentialId, JobId, RunTemplateId};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Default `limit` of `jobs.json` (the catalogs are listed whole by default).
pub const JOBS_DEFAULT_LIMIT: u64 = 100;
/// Largest `offset + limit` of `jobs.json` (newest first, read from the store in one go).
pub const JOBS_MAX_WINDOW: u64 = 10_000;

async fn query(parts: &mut Parts) -> ApiResult<QueryParams> {
    QueryParams::from_request_parts(parts, &()).await
}

async fn caller(state: &HttpState, parts: &mut Parts) -> ApiResult<Caller> {
    Caller::from_request_parts(parts, state).await
}

/// The query of a single-object path: `limit` is accepted (the client may send it) and unused.
async fn single_query(parts: &mut Parts) -> ApiResult<()> {
    let mut q = query(parts).await?;
    take_limit(&mut q)?;
    q.finish(&["limit"])
}

async fn list_query(parts: &mut Parts) -> ApiResult<Paging> {
    let mut q = query(parts).await?;
    let paging = Paging::take(&mut q)?;
    q.finish(&["limit", "offset", "order"])?;
    Ok(paging)
}

fn id_of(m: &Matched) -> &str {
    m.id.as_deref().unwrap_or("")
}

fn json(v: impl serde::Serialize) -> ApiResult<Response> {
    Ok(Json(v).into_response())
}

/// `index.json`: the upstream paths and how each is served here.
pub async fn index(parts: &mut Parts) -> ApiResult<Response> {
    single_query(parts).await?;
    let rows: Vec<Value> = ROUTES
        .iter()
        .map(|r| {
            json!({"method": r.method, "path": r.path, "kind": r.kind.as_str(),
                   "ours": r.ours, "note": r.note})
        })
        .collect();
    json(json!({"paths": rows, "openapi": format!("{}/openapi.json", super::BASE_PATH)}))
}

/// `ping.json` (no token needed).
pub async fn ping(state: &HttpState, parts: &mut Parts) -> ApiResult<Response> {
    single_query(parts).await?;
    Ok(crate::http::api::system::ping(State(state.clone()))
        .await
        .into_response())
}

/// `status.json`: upstream's counts, scoped to the token; without a token (the client sends
/// none here) only the database, daemon and time.
pub async fn status(state: &HttpState, parts: &mut Parts) -> ApiResult<Response> {
    single_query(parts).await?;
    let who = if parts.headers.contains_key(header::AUTHORIZATION) {
        Some(caller(state, parts).await?)
    } else {
        None
    };
    let daemon = if state.dispatcher.is_some() {
        "running in this process"
    } else {
        "separate (multiflexi-executor)"
    };
    let mut body = json!({
        "database": state.database,
        "daemon": daemon,
        "timestamp": state.clock.now(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    if let Some(c) = who {
        let s = &state.store;
        let companies = s
            .list_companies()
            .await?
            .iter()
            .filter(|x| c.scope.sees_company(x.id))
            .count();
        let mut f = RunTemplateFilter::default();
        f.company_id = c.company();
        let templates = s.list_runtemplates(&f).await?.len();
        let credentials = s.list_credentials(c.company()).await?.len();
        body["companies"] = json!(companies);
        body["apps"] = json!(s.list_apps().await?.len());
        body["runtemplates"] = json!(templates);
        body["credentials"] = json!(credentials);
    }
    json(body)
}

/// `apps.json` (every token sees the app catalog, as on `GET /apps`).
pub async fn apps(state: &HttpState, parts: &mut Parts) -> ApiResult<Response> {
    caller(state, parts).await?;
    let paging = list_query(parts).await?;
    let list = state.store.list_apps().await?;
    json(paging.apply(list.iter().map(views::app).collect())?)
}

/// `app/{id}.json`.
pub async fn app(state: &HttpState, parts: &mut Parts, m: &Matched) -> ApiResult<Response> {
    caller(state, parts).await?;
    let id: AppId = path_id(id_of(m))?;
    single_query(parts).await?;
    json(views::app(&state.store.get_app(id).await?))
}

/// `companies.json` (a company token: its own).
pub async fn companies(state: &HttpState, parts: &mut Parts) -> ApiResult<Response> {
    let c = caller(state, parts).await?;
    let paging = list_query(parts).await?;
    let list = state.store.list_companies().await?;
    let items = list
        .iter()
        .filter(|x| c.scope.sees_company(x.id))
        .map(views::company)
        .collect();
    json(paging.apply(items)?)
}

/// `company/{id}.json`.
pub async fn company(state: &HttpState, parts: &mut Parts, m: &Matched) -> ApiResult<Response> {
    let c = caller(state, parts).await?;
    let id: CompanyId = path_id(id_of(m))?;
    single_query(parts).await?;
    c.check_company(id, "company", id)?;
    json(views::company(&state.store.get_company(id).await?))
}

/// `runtemplates.json` (a company token: its own company's).
pub async fn templates(state: &HttpState, parts: &mut Parts) -> ApiResult<Response> {
    let c = caller(state, parts).await?;
    let paging = list_query(parts).await?;
    let mut f = RunTemplateFilter::default();
    f.company_id = c.company();
    let list = state.store.list_runtemplates(&f).await?;
    json(paging.apply(list.iter().map(views::runtemplate).collect())?)
}

/// `runtemplate/{id}.json`.
pub async fn template(state: &HttpState, parts: &mut Parts, m: &Matched) -> ApiResult<Response> {
    let c = caller(state, parts).await?;
    let id: RunTemplateId = path_id(id_of(m))?;
    single_query(parts).await?;
    let t = state.store.get_runtemplate(id).await?;
    c.check_company(t.company_id, "runtemplate", id)?;
    json(views::runtemplate(&t))
}

/// `credentials.json` (a company token: its own company's).
pub async fn credentials(state: &HttpState, parts: &mut Parts) -> ApiResult<Response> {
    let c = caller(state, parts).await?;
    let paging = list_query(parts).await?;
    let list = state.store.list_credentials(c.company()).await?;
    json(paging.apply(list.iter().map(views::credential).collect())?)
}

/// `credential/{id}.json` (the client's `token` query parameter is ignored).
pub async fn credential(state: &HttpState, parts: &mut Parts, m: &Matched) -> ApiResult<Response> {
    let c = caller(state, parts).await?;
    let id: CredentialId = path_id(id_of(m))?;
    let mut q = query(parts).await?;
    take_limit(&mut q)?;
    q.take::<String>("token", "text")?;
    q.finish(&["limit", "token"])?;
    let cred = state.store.get_credential(id).await?;
    c.check_company(cred.company_id, "credential", id)?;
    json(views::credential(&cred))
}

/// `jobs.json`: newest first (`order` `-id`, the default; the store pages jobs by id
/// downwards), `offset + limit` at most [`JOBS_MAX_WINDOW`].
pub async fn jobs(state: &HttpState, parts: &mut Parts) -> ApiResult<Response> {
    let c = caller(state, parts).await?;
    let paging = list_query(parts).await?;
    if let Some((field, descending)) = &paging.order
        && (field != "id" || !descending)
    {
        return Err(ApiError::bad_field(
            "order",
            "invalid order: jobs are listed newest first; allowed: -id",
        ));
    }
    let limit = paging.limit.unwrap_or(JOBS_DEFAULT_LIMIT);
    let window = paging.offset.saturating_add(limit);
    if window > JOBS_MAX_WINDOW {
        return Err(ApiError::bad_field(
            "offset",
            format!("invalid offset: offset + limit may be at most {JOBS_MAX_WINDOW}"),
        ));
    }
    let mut f = JobFilter::default();
    f.company_id = c.company();
    f.limit = Some(window);
    let list = state.store.list_jobs(&f).await?;
    let apps: BTreeMap<AppId, _> = state
        .store
        .list_apps()
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    let items: Vec<UpJob> = list
        .iter()
        .skip(usize::try_from(paging.offset).unwrap_or(usize::MAX))
        .map(|j| UpJob::of(j, apps.get(&j.app_id)))
        .collect();
    json(items)
}

/// `job/{id}.json`.
pub async fn job(state: &HttpState, parts: &mut Parts, m: &Matched) -> ApiResult<Response> {
    let c = caller(state, parts).await?;
    let id: JobId = path_id(id_of(m))?;
    single_query(parts).await?;
    let j = visible_job(state, &c, id).await?;
    let app = state.store.get_app(j.app_id).await.ok();
    json(UpJob::of(&j, app.as_ref()))
}

/// `jobs/status.json`: one entry counted from the visible run templates' job counters and
/// the unfinished jobs (the client sends no token here; one is needed).
pub async fn jobs_status(state: &HttpState, parts: &mut Parts) -> ApiResult<Response> {
    let c = caller(state, parts).await?;
    single_query(parts).await?;
    let mut f = RunTemplateFilter::default();
    f.company_id = c.company();
    let templates = state.store.list_runtemplates(&f).await?;
    let successful: u64 = templates.iter().map(|t| t.successfull_jobs_count).sum();
    let failed: u64 = templates.iter().map(|t| t.failed_jobs_count).sum();
    let mut incomplete = 0u64;
    for status in ["scheduled", "queued", "running"] {
        let mut jf = JobFilter::default();
        jf.company_id = c.company();
        jf.status = Some(status.into());
        jf.limit = Some(JOBS_MAX_WINDOW);
        incomplete += state.store.list_jobs(&jf).await?.len() as u64;
    }
    json(vec![json!({
        "timestamp": state.clock.now(),
        "successful_jobs": successful,
        "failed_jobs": failed,
        "incomplete_jobs": incomplete,
        "total_applications": state.store.list_apps().await?.len(),
        "repeated_jobs": null,
        "total_jobs": successful + failed + incomplete,
    })])
}
