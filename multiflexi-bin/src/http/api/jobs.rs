//! Jobs: create (`POST /job/`, idempotent with `Idempotency-Key`), list with filters and cursor
//! pagination, get, cancel, retry.

use super::auth::Caller;
use super::companies::location;
use super::env::{EnvInput, to_variables};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, QueryParams, path_id};
use super::job_view::{JobSummaryView, JobView};
use crate::http::HttpState;
use crate::usecase::jobs::{JobOrder, is_reused_key};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use chrono::{DateTime, Utc};
use multiflexi_core::model::Job;
use multiflexi_core::store::{CancelResult, JobFilter};
use multiflexi_core::telemetry::{TraceContext, child_trace_context};
use multiflexi_core::{CompanyId, Error, JobId, RunTemplateId, Trigger};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

/// Default and largest page of `GET /jobs`.
pub const DEFAULT_PAGE: u64 = 50;
/// Largest page of `GET /jobs`.
pub const MAX_PAGE: u64 = 500;
/// Longest `Idempotency-Key` accepted.
pub const MAX_KEY_LEN: usize = crate::usecase::jobs::MAX_KEY_LEN;

/// `POST /job/`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobCreate {
    /// The run template to run.
    pub runtemplate_id: i64,
    /// When it becomes due (default now): `now`, an RFC 3339 instant, or `Y-m-d H:i:s` (a wall
    /// time in the server's `MULTIFLEXI_TIMEZONE`, else UTC), as upstream MultiFlexi takes it.
    #[schema(example = "2026-11-28 02:30:00")]
    pub scheduled: Option<String>,
    /// Run on another executor than the template's.
    #[schema(pattern = "^(Native|Docker|Podman|Kubernetes|Azure)$")]
    pub executor: Option<String>,
    /// One-off environment overrides (highest precedence): `NAME: "value"` or
    /// `NAME: {value, secret}`; the app's secret fields are stored as secrets.
    pub env: Option<BTreeMap<String, EnvInput>>,
}

/// Loads a job the caller may see (404 otherwise).
pub async fn visible_job(state: &HttpState, caller: &Caller, id: JobId) -> ApiResult<Job> {
    let job = state.store.get_job(id).await?;
    caller.check_company(job.company_id, "job", id)?;
    Ok(job)
}

/// The full view of a job (its app and artifacts looked up).
async fn full_view(state: &HttpState, job: &Job) -> ApiResult<JobView> {
    let app = state.store.get_app(job.app_id).await.ok();
    let artifacts = state.artifacts.list(job.id).await?;
    let mut view = JobView::of(job, app.as_ref(), &artifacts);
    view.actions = state
        .store
        .job_actions(job.id)
        .await?
        .iter()
        .map(super::job_view::JobActionView::of)
        .collect();
    Ok(view)
}

/// The `Idempotency-Key` header as sent (the use case checks it).
pub(crate) fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let s = v.to_str().map_err(|_| {
        ApiError::bad_field(
            "Idempotency-Key",
            "invalid Idempotency-Key: use visible ASCII characters",
        )
    })?;
    Ok(Some(s.to_string()))
}

/// A refusal of the idempotency key names the header.
pub(crate) fn key_error(e: Error) -> ApiError {
    match e {
        Error::InvalidInput { field, message } if field == "idempotency_key" => {
            ApiError::bad_field(
                "Idempotency-Key",
                format!("invalid Idempotency-Key: {message}"),
            )
        }
        e if is_reused_key(&e) => ApiError::from(e).with_field("Idempotency-Key"),
        e => e.into(),
    }
}

/// Creates and schedules a job of a run template (trigger `api`). With an `Idempotency-Key`
/// header, a repeated request returns the job the first one created (200); keys are per token. A
/// W3C `traceparent` header makes the job's spans continue the caller's trace.
#[utoipa::path(post, path = "/job/", tag = "jobs",
    request_body = JobCreate,
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 200, pattern = "^[!-~]([ -~]*[!-~])?$",
        description = "Makes the request idempotent: a retry with the same key (from the same token) returns the first job"),
        ("traceparent" = Option<String>, Header,
        description = "W3C trace context: the job's spans continue this trace (ignored when invalid)")),
    responses(
        (status = 201, description = "Created", body = JobView,
            headers(("Location" = String, description = "The job's URL"))),
        (status = 200, description = "The job an earlier request with the same Idempotency-Key created", body = JobView,
            headers(("Location" = String, description = "The job's URL"),
                     ("Idempotent-Replayed" = String, description = "true"))),
        (status = 400, description = "Bad input", body = ErrorBody),
        (status = 403, description = "Not allowed for this token: a company token choosing the executor, or an environment name it may not set", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such run template (or not this token's)", body = ErrorBody),
        (status = 409, description = "The template is inactive, or the key was used for another request", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<HttpState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<JobCreate>,
) -> ApiResult<(StatusCode, HeaderMap, Json<JobView>)> {
    let mut order = JobOrder::new(RunTemplateId(body.runtemplate_id), Trigger::Api);
    order.executor = body.executor.clone();
    order.scheduled = body.scheduled.clone();
    order.env = body.env.as_ref().map(to_variables).unwrap_or_default();
    // Keys are the caller's own: two tokens sending the same key make two jobs.
    order.idempotency_key = idempotency_key(&headers)?;
    order.idempotency_namespace = Some(format!("api:{}", caller.token_id));
    // A caller's W3C trace context: the job's spans continue the caller's trace (an invalid
    // header is ignored, as the W3C recommendation says).
    if let Some(parent) = headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.trim().parse::<TraceContext>().is_ok())
    {
        order.trace_context = Some(child_trace_context(parent.trim()));
    }
    let created = state
        .usecases()
        .create_job(&caller.as_caller(), order)
        .await
        .map_err(key_error)?;
    let job = created.job;
    let mut h = location(&format!("job/{}", job.id));
    let status = if created.replayed {
        h.insert("idempotent-replayed", HeaderValue::from_static("true"));
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, h, Json(full_view(&state, &job).await?)))
}

/// A page of jobs.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobPage {
    /// Jobs, newest first.
    pub jobs: Vec<JobSummaryView>,
    /// Pass as `cursor` to get the next (older) page; absent on the last page.
    pub next: Option<String>,
}

/// Query of `GET /jobs`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct JobQuery {
    /// Only jobs with this status: pending, scheduled, queued, running, success, warning,
    /// failed, not_executable, not_found, timeout, cancelled, oom, lost, platform_error.
    #[param(
        pattern = "^(pending|scheduled|queued|running|success|warning|failed|not_executable|not_found|timeout|cancelled|oom|lost|platform_error)$"
    )]
    status: Option<String>,
    /// Only this company's.
    company_id: Option<i64>,
    /// Only this run template's.
    runtemplate_id: Option<i64>,
    /// Only jobs created at or after this instant (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Page size (1–500, default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u64>,
    /// The `next` of the previous page.
    #[param(pattern = "^[0-9]+$")]
    cursor: Option<String>,
}

/// Jobs matching the filters, newest first, a page at a time (a company token: its own).
#[utoipa::path(get, path = "/jobs", tag = "jobs",
    params(JobQuery),
    responses(
        (status = 200, description = "A page of jobs", body = JobPage),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<HttpState>,
    caller: Caller,
    mut q: QueryParams,
) -> ApiResult<Json<JobPage>> {
    let mut filter = JobFilter::default();
    if let Some(s) = q.take::<String>("status", "a job status")? {
        filter.status = Some(Job::check_status_word(&s)?);
    }
    filter.company_id = q.take::<i64>("company_id", "an integer")?.map(CompanyId);
    filter.runtemplate_id = q
        .take::<i64>("runtemplate_id", "an integer")?
        .map(RunTemplateId);
    filter.since = q.take::<DateTime<Utc>>("since", "an RFC 3339 instant")?;
    let limit = q
        .take::<u64>("limit", "an integer from 1 to 500")?
        .unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_field(
            "limit",
            format!("invalid limit: {limit} is not from 1 to {MAX_PAGE}"),
        ));
    }
    if let Some(c) = q.take::<i64>("cursor", "a cursor from a previous page's next")? {
        filter.before_id = Some(JobId(c));
    }
    q.finish(&[
        "status",
        "company_id",
        "runtemplate_id",
        "since",
        "limit",
        "cursor",
    ])?;
    if let Some(own) = caller.company() {
        if filter.company_id.is_some_and(|c| c != own) {
            return Ok(Json(JobPage {
                jobs: Vec::new(),
                next: None,
            }));
        }
        filter.company_id = Some(own);
    }
    filter.limit = Some(limit + 1);
    let mut jobs = state.store.list_jobs(&filter).await?;
    let more = jobs.len() as u64 > limit;
    jobs.truncate(limit as usize);
    let next = if more {
        jobs.last().map(|j| j.id.to_string())
    } else {
        None
    };
    Ok(Json(JobPage {
        jobs: jobs.iter().map(JobSummaryView::of).collect(),
        next,
    }))
}

/// One job: phases with timestamps, outcome, exit code and its meaning, environment with
/// secrets redacted, artifacts.
#[utoipa::path(get, path = "/job/{id}", tag = "jobs",
    params(("id" = i64, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such job (or not this token's)", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<JobView>> {
    let id: JobId = path_id(&id)?;
    let job = visible_job(&state, &caller, id).await?;
    Ok(Json(full_view(&state, &job).await?))
}

/// What `POST /job/{id}/cancel` did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CancelView {
    /// `cancelled` (it had not started), `requested` (its executor will stop it) or
    /// `already_finished` (nothing changed).
    pub result: String,
    /// The job now.
    pub job: JobSummaryView,
}

/// Cancels a job: at once when it has not started, else asks its executor to stop it.
#[utoipa::path(post, path = "/job/{id}/cancel", tag = "jobs",
    params(("id" = i64, Path, description = "Job id")),
    responses(
        (status = 200, description = "What happened", body = CancelView),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such job (or not this token's)", body = ErrorBody),
    ))]
pub async fn cancel(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<CancelView>> {
    let id: JobId = path_id(&id)?;
    let cancelled = state.usecases().cancel_job(&caller.as_caller(), id).await?;
    let (result, job) = match cancelled {
        CancelResult::Cancelled(j) => ("cancelled", j),
        CancelResult::Requested(j) => ("requested", j),
        CancelResult::AlreadyFinished(j) => ("already_finished", j),
    };
    Ok(Json(CancelView {
        result: result.into(),
        job: JobSummaryView::of(&job),
    }))
}

/// Runs a finished job again: a copy with the same frozen command and environment (trigger
/// `manual`, `retry_of` the old job).
#[utoipa::path(post, path = "/job/{id}/retry", tag = "jobs",
    params(("id" = i64, Path, description = "Job id")),
    responses(
        (status = 201, description = "The new job", body = JobView,
            headers(("Location" = String, description = "The new job's URL"))),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such job (or not this token's)", body = ErrorBody),
        (status = 409, description = "Not finished yet, or its template is inactive", body = ErrorBody),
    ))]
pub async fn retry(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, HeaderMap, Json<JobView>)> {
    let id: JobId = path_id(&id)?;
    let job = state.usecases().retry_job(&caller.as_caller(), id).await?;
    Ok((
        StatusCode::CREATED,
        location(&format!("job/{}", job.id)),
        Json(full_view(&state, &job).await?),
    ))
}
