//! Run templates: create, update, get, list, delete; each shown with its next 5 slots, computed
//! by the core's schedule code in the template's timezone.

use super::auth::Caller;
use super::companies::location;
use super::env::{EnvInput, EnvVarView, env_view};
use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, QueryParams, path_id};
use crate::http::HttpState;
use crate::usecase::templates::{
    ConfigChange, NewTemplate, TemplateChange, TemplateSettings, actions_view,
};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use multiflexi_core::model::RunTemplate;
use multiflexi_core::store::RunTemplateFilter;
use multiflexi_core::{AppId, CompanyId, CredentialId, RunTemplateId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

/// How many upcoming slots a template view shows.
pub const NEXT_SLOTS: usize = 5;

/// A run template.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunTemplateView {
    /// Its id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// The app it runs.
    pub app_id: i64,
    /// The company it runs for.
    pub company_id: i64,
    /// Interval code (`i h d w m y n c`).
    pub interv: String,
    /// Cron expression (interval `c`).
    pub cron: Option<String>,
    /// IANA timezone of the schedule.
    pub timezone: String,
    /// Seconds added to each slot.
    pub delay: u32,
    /// The schedule in words.
    pub schedule: String,
    /// The next slots (due times: slot + delay) from now, in the template's timezone, RFC 3339
    /// with the local offset; empty for interval `n`.
    pub next_slots: Vec<String>,
    /// Executor kind (`Native`, `Docker`, `Podman`, `Kubernetes`, `Azure`).
    pub executor: String,
    /// Whether the scheduler considers it.
    pub active: bool,
    /// The next slot the scheduler will fire.
    pub next_schedule: Option<DateTime<Utc>>,
    /// When the scheduler last created a job for it.
    pub last_schedule: Option<DateTime<Utc>>,
    /// Completed jobs that succeeded.
    pub successfull_jobs_count: u64,
    /// Completed jobs that did not.
    pub failed_jobs_count: u64,
    /// Configuration values (secret ones `***`).
    pub config: BTreeMap<String, EnvVarView>,
    /// Credentials its jobs get.
    pub credentials: Vec<i64>,
    /// Retries after a failed attempt.
    pub max_retries: u32,
    /// Seconds between an attempt's end and its retry.
    pub retry_delay: u32,
    /// `fixed` or `exponential`.
    pub retry_backoff: String,
    /// Exit codes that are retried.
    pub retry_on_exit_codes: Vec<i32>,
    /// Seconds a job may run.
    pub timeout: Option<u32>,
    /// Per-job memory limit in MiB.
    pub memory_limit_mb: Option<u32>,
    /// Per-job limit on processes and threads alive at once.
    pub pids_max: Option<u32>,
    /// Per-job CPU time (user + system) before the job is killed, seconds.
    pub cpu_seconds: Option<u32>,
    /// `forbid`, `allow` or `replace`.
    pub concurrency_policy: String,
    /// `skip` or `once`.
    pub catchup: String,
    /// Actions after a successful job (webhook secrets `***`).
    #[schema(value_type = Vec<Object>)]
    pub on_success: serde_json::Value,
    /// Actions after any other outcome (webhook secrets `***`).
    #[schema(value_type = Vec<Object>)]
    pub on_failure: serde_json::Value,
    /// When it was created.
    pub created: Option<DateTime<Utc>>,
    /// When it was last changed.
    pub updated: Option<DateTime<Utc>>,
}

impl RunTemplateView {
    /// The view of `t` with its next slots after `now`.
    pub fn of(t: &RunTemplate, now: DateTime<Utc>) -> Self {
        let (schedule, next_slots) = match t.schedule() {
            Ok(s) => {
                let zone = s.timezone();
                let slots = s
                    .iter_after(now)
                    .take(NEXT_SLOTS)
                    .map(|slot| s.due_at(slot).with_timezone(&zone).to_rfc3339())
                    .collect();
                (s.describe(), slots)
            }
            Err(e) => (format!("invalid: {e}"), Vec::new()),
        };
        Self {
            id: t.id.get(),
            name: t.name.clone(),
            app_id: t.app_id.get(),
            company_id: t.company_id.get(),
            interv: t.interv.to_string(),
            cron: t.cron.clone(),
            timezone: t.timezone.clone(),
            delay: t.delay,
            schedule,
            next_slots,
            executor: t.executor.as_str().to_string(),
            active: t.active,
            next_schedule: t.next_schedule,
            last_schedule: t.last_schedule,
            successfull_jobs_count: t.successfull_jobs_count,
            failed_jobs_count: t.failed_jobs_count,
            config: env_view(&t.config),
            credentials: t.credentials.iter().map(|c| c.get()).collect(),
            max_retries: t.retry.max_retries,
            retry_delay: t.retry.retry_delay,
            retry_backoff: t.retry.retry_backoff.as_str().to_string(),
            retry_on_exit_codes: t.retry.retry_on_exit_codes.clone(),
            timeout: t.timeout,
            memory_limit_mb: t.memory_limit_mb,
            pids_max: t.pids_max,
            cpu_seconds: t.cpu_seconds,
            concurrency_policy: t.concurrency_policy.as_str().to_string(),
            catchup: t.catchup.as_str().to_string(),
            on_success: actions_view(&t.on_success),
            on_failure: actions_view(&t.on_failure),
            created: t.created,
            updated: t.updated,
        }
    }
}

/// `POST /runtemplates`: a new template (absent settings take their defaults).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunTemplateCreate {
    /// Its name.
    #[schema(min_length = 1)]
    pub name: String,
    /// The app it runs.
    pub app_id: i64,
    /// The company it runs for.
    pub company_id: i64,
    /// Interval code: `i` minutely, `h` hourly, `d` daily, `w` weekly, `m` monthly, `y` yearly,
    /// `n` disabled (default), `c` custom cron (implied by `cron`).
    #[schema(pattern = "^[ihdwmync]$")]
    pub interv: Option<String>,
    /// Cron expression (5 fields).
    pub cron: Option<String>,
    /// IANA timezone (default `MULTIFLEXI_TIMEZONE`, else UTC).
    pub timezone: Option<String>,
    /// Seconds added to each slot.
    pub delay: Option<u32>,
    /// `Native` (default), `Docker`, `Podman`, `Kubernetes`, `Azure`.
    #[schema(pattern = "^(Native|Docker|Podman|Kubernetes|Azure)$")]
    pub executor: Option<String>,
    /// Whether the scheduler considers it (default true).
    pub active: Option<bool>,
    /// Configuration values (`NAME: "value"` or `NAME: {value, secret}`; the app's secret
    /// fields are stored as secrets).
    pub config: Option<BTreeMap<String, EnvInput>>,
    /// Credentials (of the same company) whose values its jobs get.
    pub credentials: Option<Vec<i64>>,
    /// Retries after a failed attempt.
    pub max_retries: Option<u32>,
    /// Seconds between an attempt's end and its retry.
    pub retry_delay: Option<u32>,
    /// `fixed` or `exponential`.
    #[schema(pattern = "^(fixed|exponential)$")]
    pub retry_backoff: Option<String>,
    /// Exit codes that are retried (empty: the app's exitCodes decide).
    pub retry_on_exit_codes: Option<Vec<i32>>,
    /// Seconds a job may run (0: no limit).
    pub timeout: Option<u32>,
    /// Per-job memory limit in MiB (0: none).
    pub memory_limit_mb: Option<u32>,
    /// Per-job limit on processes and threads alive at once (0: none).
    pub pids_max: Option<u32>,
    /// Per-job CPU time in seconds before the job is killed (0: none).
    pub cpu_seconds: Option<u32>,
    /// `forbid` (default), `allow` or `replace`.
    #[schema(pattern = "^(forbid|allow|replace)$")]
    pub concurrency_policy: Option<String>,
    /// `skip` (default) or `once`.
    #[schema(pattern = "^(skip|once)$")]
    pub catchup: Option<String>,
    /// Actions after a successful job: `[{"kind": "webhook"|"launch"|"retry_later"|
    /// "deactivate"|"zabbix", …settings}]` (replaces the list; `[]` clears it; `"***"` as a
    /// webhook secret keeps the stored one).
    #[schema(value_type = Option<Vec<Object>>)]
    pub on_success: Option<serde_json::Value>,
    /// Actions after any other outcome, as `on_success`.
    #[schema(value_type = Option<Vec<Object>>)]
    pub on_failure: Option<serde_json::Value>,
}

/// `PATCH /runtemplate/{id}`: the fields to change; absent fields keep their value. In `config`,
/// a `null` value removes the variable (400 naming `config.NAME` when there is none), and
/// `"***"` for a secret keeps the stored secret.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunTemplateUpdate {
    /// New name.
    #[schema(min_length = 1)]
    pub name: Option<String>,
    /// Another app.
    pub app_id: Option<i64>,
    /// Another company.
    pub company_id: Option<i64>,
    /// Interval code.
    #[schema(pattern = "^[ihdwmync]$")]
    pub interv: Option<String>,
    /// Cron expression (implies interval `c`).
    pub cron: Option<String>,
    /// IANA timezone.
    pub timezone: Option<String>,
    /// Seconds added to each slot.
    pub delay: Option<u32>,
    /// Executor kind.
    #[schema(pattern = "^(Native|Docker|Podman|Kubernetes|Azure)$")]
    pub executor: Option<String>,
    /// Activate or deactivate.
    pub active: Option<bool>,
    /// Configuration values to set (`null` removes one).
    #[schema(value_type = Option<BTreeMap<String, EnvInput>>)]
    pub config: Option<BTreeMap<String, Option<EnvInput>>>,
    /// Credentials (replaces the list).
    pub credentials: Option<Vec<i64>>,
    /// Retries after a failed attempt.
    pub max_retries: Option<u32>,
    /// Seconds between an attempt's end and its retry.
    pub retry_delay: Option<u32>,
    /// `fixed` or `exponential`.
    #[schema(pattern = "^(fixed|exponential)$")]
    pub retry_backoff: Option<String>,
    /// Exit codes that are retried.
    pub retry_on_exit_codes: Option<Vec<i32>>,
    /// Seconds a job may run (0: no limit).
    pub timeout: Option<u32>,
    /// Per-job memory limit in MiB (0: none).
    pub memory_limit_mb: Option<u32>,
    /// Per-job limit on processes and threads alive at once (0: none).
    pub pids_max: Option<u32>,
    /// Per-job CPU time in seconds before the job is killed (0: none).
    pub cpu_seconds: Option<u32>,
    /// `forbid`, `allow` or `replace`.
    #[schema(pattern = "^(forbid|allow|replace)$")]
    pub concurrency_policy: Option<String>,
    /// `skip` or `once`.
    #[schema(pattern = "^(skip|once)$")]
    pub catchup: Option<String>,
    /// Actions after a successful job: `[{"kind": "webhook"|"launch"|"retry_later"|
    /// "deactivate"|"zabbix", …settings}]` (replaces the list; `[]` clears it; `"***"` as a
    /// webhook secret keeps the stored one).
    #[schema(value_type = Option<Vec<Object>>)]
    pub on_success: Option<serde_json::Value>,
    /// Actions after any other outcome, as `on_success`.
    #[schema(value_type = Option<Vec<Object>>)]
    pub on_failure: Option<serde_json::Value>,
}

impl From<RunTemplateCreate> for RunTemplateUpdate {
    fn from(c: RunTemplateCreate) -> Self {
        Self {
            name: Some(c.name),
            app_id: Some(c.app_id),
            company_id: Some(c.company_id),
            interv: c.interv,
            cron: c.cron,
            timezone: c.timezone,
            delay: c.delay,
            executor: c.executor,
            active: c.active,
            config: c
                .config
                .map(|m| m.into_iter().map(|(k, v)| (k, Some(v))).collect()),
            credentials: c.credentials,
            max_retries: c.max_retries,
            retry_delay: c.retry_delay,
            retry_backoff: c.retry_backoff,
            retry_on_exit_codes: c.retry_on_exit_codes,
            timeout: c.timeout,
            memory_limit_mb: c.memory_limit_mb,
            pids_max: c.pids_max,
            cpu_seconds: c.cpu_seconds,
            concurrency_policy: c.concurrency_policy,
            catchup: c.catchup,
            on_success: c.on_success,
            on_failure: c.on_failure,
        }
    }
}

/// The settings of a request as the run template use cases take them: in `config`, `None`
/// removes a value.
fn settings(s: &RunTemplateUpdate) -> TemplateSettings {
    let config = s
        .config
        .iter()
        .flatten()
        .map(|(k, v)| {
            let change = match v {
                None => ConfigChange::Remove,
                Some(v) => {
                    let (value, secret) = v.parts();
                    ConfigChange::Set {
                        value: value.to_string(),
                        secret,
                    }
                }
            };
            (k.clone(), change)
        })
        .collect();
    TemplateSettings {
        interv: s.interv.clone(),
        cron: s.cron.clone(),
        timezone: s.timezone.clone(),
        delay: s.delay,
        executor: s.executor.clone(),
        active: s.active,
        config,
        credentials: s
            .credentials
            .as_ref()
            .map(|c| c.iter().map(|id| CredentialId(*id)).collect()),
        max_retries: s.max_retries,
        retry_delay: s.retry_delay,
        retry_backoff: s.retry_backoff.clone(),
        retry_on_exit_codes: s.retry_on_exit_codes.clone(),
        timeout: s.timeout,
        memory_limit_mb: s.memory_limit_mb,
        pids_max: s.pids_max,
        cpu_seconds: s.cpu_seconds,
        concurrency_policy: s.concurrency_policy.clone(),
        catchup: s.catchup.clone(),
        on_success: s.on_success.clone(),
        on_failure: s.on_failure.clone(),
    }
}

/// Loads a template the caller may see (404 otherwise).
async fn visible(state: &HttpState, caller: &Caller, id: RunTemplateId) -> ApiResult<RunTemplate> {
    let t = state.store.get_runtemplate(id).await?;
    caller.check_company(t.company_id, "runtemplate", id)?;
    Ok(t)
}

/// Query of `GET /runtemplates`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RunTemplateQuery {
    /// Only this company's.
    company_id: Option<i64>,
    /// Only this app's.
    app_id: Option<i64>,
    /// Only active (true) or inactive (false) ones.
    active: Option<bool>,
}

/// Run templates (a company token: its own company's).
#[utoipa::path(get, path = "/runtemplates", tag = "runtemplates",
    params(RunTemplateQuery),
    responses(
        (status = 200, description = "Run templates", body = [RunTemplateView]),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<HttpState>,
    caller: Caller,
    mut q: QueryParams,
) -> ApiResult<Json<Vec<RunTemplateView>>> {
    let mut filter = RunTemplateFilter::default();
    filter.company_id = q.take::<i64>("company_id", "an integer")?.map(CompanyId);
    filter.app_id = q.take::<i64>("app_id", "an integer")?.map(AppId);
    filter.active = q.take::<bool>("active", "true or false")?;
    q.finish(&["company_id", "app_id", "active"])?;
    if let Some(own) = caller.company() {
        if filter.company_id.is_some_and(|c| c != own) {
            return Ok(Json(Vec::new()));
        }
        filter.company_id = Some(own);
    }
    let now = state.clock.now();
    let list = state.store.list_runtemplates(&filter).await?;
    Ok(Json(
        list.iter().map(|t| RunTemplateView::of(t, now)).collect(),
    ))
}

/// One run template with its next slots.
#[utoipa::path(get, path = "/runtemplate/{id}", tag = "runtemplates",
    params(("id" = i64, Path, description = "Run template id")),
    responses(
        (status = 200, description = "The run template", body = RunTemplateView),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such run template (or not this token's)", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<RunTemplateView>> {
    let id: RunTemplateId = path_id(&id)?;
    let t = visible(&state, &caller, id).await?;
    Ok(Json(RunTemplateView::of(&t, state.clock.now())))
}

/// Creates a run template (schedule, timezone, executor and credentials are checked first).
#[utoipa::path(post, path = "/runtemplates", tag = "runtemplates",
    request_body = RunTemplateCreate,
    responses(
        (status = 201, description = "Created", body = RunTemplateView,
            headers(("Location" = String, description = "The template's URL"))),
        (status = 400, description = "Bad input", body = ErrorBody),
        (status = 403, description = "Not allowed for this token: a company token choosing the executor, or an environment name it may not set", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such app or company", body = ErrorBody),
        (status = 409, description = "Conflict", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<HttpState>,
    caller: Caller,
    ApiJson(body): ApiJson<RunTemplateCreate>,
) -> ApiResult<(StatusCode, HeaderMap, Json<RunTemplateView>)> {
    let mut new = NewTemplate::new(
        body.name.clone(),
        AppId(body.app_id),
        CompanyId(body.company_id),
    );
    new.settings = settings(&body.into());
    let t = state
        .usecases()
        .create_template(&caller.as_caller(), new)
        .await?
        .template;
    Ok((
        StatusCode::CREATED,
        location(&format!("runtemplate/{}", t.id)),
        Json(RunTemplateView::of(&t, state.clock.now())),
    ))
}

/// Changes a run template: only the fields given (checked like a new one).
#[utoipa::path(patch, path = "/runtemplate/{id}", tag = "runtemplates",
    params(("id" = i64, Path, description = "Run template id")),
    request_body = RunTemplateUpdate,
    responses(
        (status = 200, description = "Updated", body = RunTemplateView),
        (status = 400, description = "Bad input", body = ErrorBody),
        (status = 403, description = "Not allowed for this token: a company token choosing the executor, or an environment name it may not set", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such run template, app or company", body = ErrorBody),
        (status = 409, description = "Conflict", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RunTemplateUpdate>,
) -> ApiResult<Json<RunTemplateView>> {
    let id: RunTemplateId = path_id(&id)?;
    let change = TemplateChange {
        name: body.name.clone(),
        app_id: body.app_id.map(AppId),
        company_id: body.company_id.map(CompanyId),
        settings: settings(&body),
    };
    let t = state
        .usecases()
        .update_template(&caller.as_caller(), id, change)
        .await?
        .template;
    Ok(Json(RunTemplateView::of(&t, state.clock.now())))
}

/// Deletes a run template (409 while it has unfinished jobs).
#[utoipa::path(delete, path = "/runtemplate/{id}", tag = "runtemplates",
    params(("id" = i64, Path, description = "Run template id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such run template (or not this token's)", body = ErrorBody),
        (status = 409, description = "It has unfinished jobs", body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: RunTemplateId = path_id(&id)?;
    state
        .usecases()
        .delete_template(&caller.as_caller(), id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
