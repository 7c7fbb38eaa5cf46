//! `GET /runtemplate/{id}/stats` and `GET /app/{id}/stats`: a subject's job statistics as
//! JSON ([`stats_json`], the shape `job:stats --format json` prints too).

use super::auth::Caller;
use super::error::{ApiResult, ErrorBody};
use super::extract::{QueryParams, path_id};
use crate::http::HttpState;
use crate::usecase::stats::{DEFAULT_DAYS, SubjectStats};
use axum::Json;
use axum::extract::{Path, State};
use multiflexi_core::store::{Aggregate, JobPoint, Percentiles, StatsSubject};
use multiflexi_core::{AppId, RunTemplateId};
use serde_json::{Map, Value, json};
use utoipa::IntoParams;

/// Jobs listed one by one when the query does not say.
const DEFAULT_LAST: u32 = 50;

fn percentiles(p: Option<Percentiles>) -> Value {
    p.map_or(
        Value::Null,
        |p| json!({ "count": p.count, "p50": p.p50, "p90": p.p90, "p99": p.p99 }),
    )
}

/// Counts and percentiles of one aggregate.
fn aggregate_json(a: &Aggregate) -> Map<String, Value> {
    let by_outcome: Map<String, Value> = a
        .by_outcome()
        .into_iter()
        .map(|(o, n)| (o.as_str().to_string(), json!(n)))
        .collect();
    let by_exitcode: Map<String, Value> = a
        .by_exitcode()
        .into_iter()
        .map(|(c, n)| (c.map_or("none".to_string(), |c| c.to_string()), json!(n)))
        .collect();
    let mut m = Map::new();
    m.insert("jobs".into(), json!(a.jobs()));
    m.insert("by_outcome".into(), Value::Object(by_outcome));
    m.insert("by_exitcode".into(), Value::Object(by_exitcode));
    m.insert("duration_seconds".into(), percentiles(a.duration));
    m.insert("queue_wait_seconds".into(), percentiles(a.queue_wait));
    m.insert("peak_memory_bytes".into(), percentiles(a.peak_memory));
    m
}

fn point_json(p: &JobPoint) -> Value {
    json!({
        "id": p.id,
        "end": p.end,
        "outcome": p.outcome.as_str(),
        "exitcode": p.exitcode,
        "duration_seconds": p.duration,
        "queue_wait_seconds": p.queue_wait,
        "peak_memory_bytes": p.peak_memory,
    })
}

/// A subject's statistics as JSON: the window, the totals, per day, the last jobs.
pub fn stats_json(s: &SubjectStats) -> Value {
    let (kind, id) = match s.subject {
        StatsSubject::Template(t) => ("runtemplate_id", t.0),
        StatsSubject::App(a) => ("app_id", a.0),
    };
    let mut m = Map::new();
    m.insert(kind.into(), json!(id));
    m.insert("name".into(), json!(s.name));
    m.insert("company_id".into(), json!(s.company_id));
    m.insert("days".into(), json!(s.days));
    m.insert("since".into(), json!(s.since));
    m.insert("limits".into(), json!(s.limits));
    m.extend(aggregate_json(&s.stats.total));
    m.insert("percentiles_approximate".into(), json!(s.stats.approximate));
    m.insert(
        "per_day".into(),
        Value::Array(
            s.stats
                .days
                .iter()
                .map(|d| {
                    let mut a = Map::new();
                    a.insert("day".into(), json!(d.day));
                    a.extend(aggregate_json(&d.stats));
                    Value::Object(a)
                })
                .collect(),
        ),
    );
    m.insert(
        "last".into(),
        Value::Array(s.stats.last.iter().map(point_json).collect()),
    );
    Value::Object(m)
}

/// Query of the stats endpoints.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct StatsQueryParams {
    /// Jobs that ended in the last this many days (1–366, default 30).
    #[param(minimum = 1, maximum = 366)]
    days: Option<u32>,
    /// The last this many finished jobs listed one by one (0–1000, default 50).
    #[param(minimum = 0, maximum = 1000)]
    last: Option<u32>,
}

async fn stats(
    state: &HttpState,
    caller: &Caller,
    subject: StatsSubject,
    mut q: QueryParams,
) -> ApiResult<Json<Value>> {
    let days = q
        .take::<u32>("days", "an integer from 1 to 366")?
        .unwrap_or(DEFAULT_DAYS);
    let last = q
        .take::<u32>("last", "an integer from 0 to 1000")?
        .unwrap_or(DEFAULT_LAST);
    q.finish(&["days", "last"])?;
    let s = state
        .usecases()
        .job_stats(&caller.as_caller(), subject, days, last)
        .await?;
    Ok(Json(stats_json(&s)))
}

/// A run template's job statistics: counts by outcome and exit code, duration, queue-wait and
/// peak-memory percentiles (p50, p90, p99), per UTC day, and its last jobs.
#[utoipa::path(get, path = "/runtemplate/{id}/stats", tag = "runtemplates",
    params(("id" = i64, Path, description = "Run template id"), StatsQueryParams),
    responses(
        (status = 200, description = "The statistics", body = Object),
        (status = 400, description = "Bad id or query", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such run template (or not this token's)", body = ErrorBody),
    ))]
pub async fn template_stats(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    let id: RunTemplateId = path_id(&id)?;
    stats(&state, &caller, StatsSubject::Template(id), q).await
}

/// An app's job statistics over every template running it (a company token: its company's
/// jobs only), as `/runtemplate/{id}/stats`.
#[utoipa::path(get, path = "/app/{id}/stats", tag = "apps",
    params(("id" = i64, Path, description = "App id"), StatsQueryParams),
    responses(
        (status = 200, description = "The statistics", body = Object),
        (status = 400, description = "Bad id or query", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such app", body = ErrorBody),
    ))]
pub async fn app_stats(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    let id: AppId = path_id(&id)?;
    stats(&state, &caller, StatsSubject::App(id), q).await
}
