//! Upstream's create and update paths (`POST /job/`, `/app/`, `/company/`, `/runtemplate`,
//! `/runtemplate/{id}.json`): each parses upstream's body and makes one call to the application
//! layer (`crate::usecase`) with the token's caller, as our own routes do, then answers 201 in
//! upstream's shape (what the client parses for these operations).

use super::paging::take_limit;
use super::routes::Matched;
use super::views::{self, UpJob};
use crate::http::HttpState;
use crate::http::api::auth::Caller;
use crate::http::api::companies::location;
use crate::http::api::error::{ApiError, ApiResult};
use crate::http::api::extract::{QueryParams, parse_json, path_id};
use crate::http::api::jobs::{idempotency_key, key_error};
use crate::usecase::companies::{CompanyChange, NewCompany};
use crate::usecase::jobs::JobOrder;
use crate::usecase::scheduled::wall_timezone;
use crate::usecase::templates::{NewTemplate, TemplateChange, TemplateSettings};
use crate::usecase::variables::Variable;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use multiflexi_core::{AppId, CompanyId, RunTemplateId, Trigger};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The body, after the server's size limit; empty is `{}`, anything else must be JSON.
async fn body_of<T: DeserializeOwned>(
    state: &HttpState,
    parts: &Parts,
    body: Body,
) -> ApiResult<T> {
    let req = Request::from_parts(parts.clone(), body);
    let bytes = Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is larger than the server accepts",
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "could not read the request body")
        }
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return parse_json(b"{}");
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "the body must be JSON with Content-Type: application/json, not {content_type:?}"
            ),
        )
        .with_field("Content-Type"));
    }
    parse_json(&bytes)
}

async fn prelude(state: &HttpState, parts: &mut Parts) -> ApiResult<(Caller, QueryParams)> {
    let caller = Caller::from_request_parts(parts, state).await?;
    let mut q = QueryParams::from_request_parts(parts, &()).await?;
    take_limit(&mut q)?;
    Ok((caller, q))
}

fn created(location_rest: &str, body: Value) -> Response {
    (StatusCode::CREATED, location(location_rest), Json(body)).into_response()
}

/// A value upstream takes as text (`KEY => VALUE` of `env`): strings, numbers, booleans.
fn scalar_text(field: &str, v: &Value) -> ApiResult<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(if *b { "1" } else { "0" }.to_string()),
        _ => Err(ApiError::bad_field(
            field,
            format!("invalid {field}: give text, a number or a boolean"),
        )),
    }
}

/// `active` as upstream writes it: `true`/`false` or `1`/`0`.
fn flag(field: &str, v: &Value) -> ApiResult<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_i64() == Some(1) => Ok(true),
        Value::Number(n) if n.as_i64() == Some(0) => Ok(false),
        _ => Err(ApiError::bad_field(
            field,
            format!("invalid {field}: give true/false or 1/0"),
        )),
    }
}

/// `POST /job/` as upstream documents it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobBody {
    runtemplate_id: Option<i64>,
    scheduled: Option<String>,
    executor: Option<String>,
    env: Option<BTreeMap<String, Value>>,
}

/// `POST /job/` with HTTP Basic: creates and schedules a job of a run template through the
/// same use case as our `POST /job/`, and answers 201 with the job in the client's `Job` shape
/// plus upstream's `job_id`, `scheduled` (`Y-m-d H:i:s` in `MULTIFLEXI_TIMEZONE`) and
/// `schedule_type`. With an `Idempotency-Key` a repeat returns the first job, also as 201
/// (the client parses only 201 here), marked `Idempotent-Replayed: true`.
pub async fn job(state: &HttpState, mut parts: Parts, body: Body) -> ApiResult<Response> {
    let (caller, mut q) = prelude(state, &mut parts).await?;
    let query_template = q.take::<i64>("runtemplate_id", "an integer")?;
    if q.take::<i64>("jobId", "an integer")?.is_some() {
        return Err(ApiError::bad_field(
            "jobId",
            "jobs are not updated through the API: send runtemplate_id to run a template, or POST /job/{id}/retry to run a job again",
        ));
    }
    q.finish(&["runtemplate_id", "jobId", "limit"])?;
    let b: JobBody = body_of(state, &parts, body).await?;
    let template = b.runtemplate_id.or(query_template).ok_or_else(|| {
        ApiError::bad_field(
            "runtemplate_id",
            "missing runtemplate_id: give the run template to run in the body (or the query)",
        )
    })?;
    let mut order = JobOrder::new(RunTemplateId(template), Trigger::Api);
    order.executor = b.executor;
    order.scheduled = b.scheduled;
    for (name, value) in b.env.iter().flatten() {
        order.env.push(Variable::plain(
            name.clone(),
            scalar_text(&format!("env.{name}"), value)?,
        ));
    }
    order.idempotency_key = idempotency_key(&parts.headers)?;
    order.idempotency_namespace = Some(format!("api:{}", caller.token_id));
    let done = state
        .usecases()
        .create_job(&caller.as_caller(), order)
        .await
        .map_err(key_error)?;
    let j = done.job;
    let app = state.store.get_app(j.app_id).await.ok();
    let mut view = serde_json::to_value(UpJob::of(&j, app.as_ref()))
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let zone = wall_timezone().unwrap_or(chrono_tz::UTC);
    let immediate = j.after <= j.created + chrono::Duration::seconds(5);
    view["job_id"] = json!(j.id.get());
    view["scheduled"] = json!(
        j.after
            .with_timezone(&zone)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    );
    view["schedule_type"] = json!(if immediate { "adhoc" } else { "cli" });
    let mut response = created(&format!("job/{}", j.id), view);
    if done.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// `POST /app/`: the body is app JSON, imported as `POST /apps` does (same uuid, else name,
/// updates); admin only.
pub async fn app(state: &HttpState, mut parts: Parts, body: Body) -> ApiResult<Response> {
    let (caller, mut q) = prelude(state, &mut parts).await?;
    if q.take::<i64>("appId", "an integer")?.is_some() {
        return Err(ApiError::bad_field(
            "appId",
            "appId is not used: the app is found by the uuid (else the name) in the body",
        ));
    }
    q.finish(&["appId", "limit"])?;
    let definition: Value = body_of(state, &parts, body).await?;
    if definition.as_object().is_some_and(|o| o.is_empty()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "the body must be an application definition (MultiFlexi app JSON)",
        ));
    }
    let bytes = serde_json::to_vec(&definition)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let imported = state
        .usecases()
        .import_app(&caller.as_caller(), &bytes, "the API")
        .await?;
    Ok(created(
        &format!("app/{}", imported.app.id),
        views::app(&imported.app),
    ))
}

/// `POST /company/`'s body: the client's `Company` fields this server stores.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompanyBody {
    name: Option<String>,
    /// Our slug.
    code: Option<String>,
    email: Option<String>,
    enabled: Option<bool>,
}

/// `POST /company/`: creates a company, or with `companyId` changes that one; admin only.
pub async fn company(state: &HttpState, mut parts: Parts, body: Body) -> ApiResult<Response> {
    let (caller, mut q) = prelude(state, &mut parts).await?;
    let id = q.take::<i64>("companyId", "an integer")?.map(CompanyId);
    q.finish(&["companyId", "limit"])?;
    let b: CompanyBody = body_of(state, &parts, body).await?;
    let uc = state.usecases();
    let c = match id {
        Some(id) => {
            let change = CompanyChange {
                name: b.name,
                slug: b.code,
                email: b.email,
                enabled: b.enabled,
                ..CompanyChange::default()
            };
            uc.update_company(&caller.as_caller(), id, change).await?
        }
        None => {
            let name = b.name.ok_or_else(|| {
                ApiError::bad_field("name", "missing name: a new company needs a name")
            })?;
            let mut new = NewCompany::named(name);
            new.slug = b.code;
            new.email = b.email;
            new.enabled = b.enabled;
            uc.create_company(&caller.as_caller(), new).await?
        }
    };
    Ok(created(&format!("company/{}", c.id), views::company(&c)))
}

/// A run template as upstream's bodies give it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateBody {
    id: Option<i64>,
    name: Option<String>,
    app_id: Option<i64>,
    company_id: Option<i64>,
    interv: Option<String>,
    cron: Option<String>,
    delay: Option<u32>,
    executor: Option<String>,
    active: Option<Value>,
    timezone: Option<String>,
    note: Option<String>,
}

impl TemplateBody {
    fn settings(&self) -> ApiResult<TemplateSettings> {
        if self.note.as_deref().is_some_and(|n| !n.trim().is_empty()) {
            return Err(ApiError::bad_field(
                "note",
                "invalid note: run templates have no notes here",
            ));
        }
        Ok(TemplateSettings {
            interv: self.interv.clone(),
            cron: self.cron.clone(),
            delay: self.delay,
            executor: self.executor.clone(),
            timezone: self.timezone.clone(),
            active: self
                .active
                .as_ref()
                .map(|v| flag("active", v))
                .transpose()?,
            ..TemplateSettings::default()
        })
    }
}

async fn update_template(
    state: &HttpState,
    caller: &Caller,
    id: RunTemplateId,
    b: &TemplateBody,
) -> ApiResult<Response> {
    let change = TemplateChange {
        name: b.name.clone(),
        app_id: b.app_id.map(AppId),
        company_id: b.company_id.map(CompanyId),
        settings: b.settings()?,
    };
    let saved = state
        .usecases()
        .update_template(&caller.as_caller(), id, change)
        .await?;
    let t = saved.template;
    Ok(created(
        &format!("runtemplate/{}", t.id),
        views::runtemplate(&t),
    ))
}

/// `POST /runtemplate`: creates a run template, or with `runTemplateId` changes that one.
pub async fn template(state: &HttpState, mut parts: Parts, body: Body) -> ApiResult<Response> {
    let (caller, mut q) = prelude(state, &mut parts).await?;
    let id = q
        .take::<i64>("runTemplateId", "an integer")?
        .map(RunTemplateId);
    q.finish(&["runTemplateId", "limit"])?;
    let b: TemplateBody = body_of(state, &parts, body).await?;
    if let Some(id) = id {
        return update_template(state, &caller, id, &b).await;
    }
    let missing =
        |f: &str| ApiError::bad_field(f, format!("missing {f}: a new run template needs it"));
    let mut new = NewTemplate::new(
        b.name.clone().ok_or_else(|| missing("name"))?,
        AppId(b.app_id.ok_or_else(|| missing("app_id"))?),
        CompanyId(b.company_id.ok_or_else(|| missing("company_id"))?),
    );
    new.settings = b.settings()?;
    let saved = state
        .usecases()
        .create_template(&caller.as_caller(), new)
        .await?;
    let t = saved.template;
    Ok(created(
        &format!("runtemplate/{}", t.id),
        views::runtemplate(&t),
    ))
}

/// `POST /runtemplate/{id}.json`: update by POST; the body's `id` must be the path's.
pub async fn template_update(
    state: &HttpState,
    mut parts: Parts,
    body: Body,
    m: &Matched,
) -> ApiResult<Response> {
    let (caller, q) = prelude(state, &mut parts).await?;
    let id: RunTemplateId = path_id(m.id.as_deref().unwrap_or(""))?;
    q.finish(&["limit"])?;
    let b: TemplateBody = body_of(state, &parts, body).await?;
    if b.id != Some(id.get()) {
        return Err(ApiError::bad_field(
            "id",
            format!("invalid id: the body's id must be the path's, {id}"),
        ));
    }
    update_template(state, &caller, id, &b).await
}
