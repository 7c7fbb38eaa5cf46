//! `/retention`: the retention policies (admin tokens only) and a run now.

use super::auth::Caller;
use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, QueryParams};
use crate::http::HttpState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use multiflexi_core::engine::RetentionReport;
use multiflexi_core::model::{RetentionPolicy, RetentionScope};
use multiflexi_core::{AppId, CompanyId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// One retention policy.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RetentionPolicyView {
    /// `default`, `audit`, `company:ID`, `app:ID` or `company:ID/app:ID`.
    pub scope: String,
    /// Finished jobs (or audit rows) older than this many days go.
    pub days: u32,
    /// Only the jobs' output and artifacts go; the job rows stay.
    pub artifacts_only: bool,
    /// Days after it was set before it deletes anything.
    pub grace_days: u32,
    /// When it was set.
    pub updated: Option<DateTime<Utc>>,
    /// When it starts deleting.
    pub effective_from: Option<DateTime<Utc>>,
}

impl RetentionPolicyView {
    fn of(p: &RetentionPolicy) -> Self {
        Self {
            scope: p.scope.key(),
            days: p.days,
            artifacts_only: p.artifacts_only,
            grace_days: p.grace_days,
            updated: p.updated,
            effective_from: p.effective_from(),
        }
    }
}

/// `PUT /retention`: the policy of a scope (a company, an app, both, the audit log, or with
/// none of them the default).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionSet {
    /// A company's jobs.
    pub company_id: Option<i64>,
    /// An app's jobs (with `company_id`: that company's jobs of that app).
    pub app_id: Option<i64>,
    /// The audit log's rows (alone).
    #[serde(default)]
    pub audit: bool,
    /// Days (1–36500).
    #[schema(minimum = 1, maximum = 36500)]
    pub days: u32,
    /// Delete only output and artifacts.
    #[serde(default)]
    pub artifacts_only: bool,
    /// Days after setting before it deletes anything (default 0).
    #[serde(default)]
    #[schema(maximum = 36500)]
    pub grace_days: u32,
}

/// What one policy deleted in a run (or would delete).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RetentionPassView {
    /// The policy.
    pub policy: RetentionPolicyView,
    /// Whether it deleted (false: a dry run, or within its grace).
    pub applied: bool,
    /// Jobs (for the audit log's policy: audit rows).
    pub jobs: u64,
    /// Artifacts.
    pub artifacts: u64,
    /// Output chunks.
    pub output_chunks: u64,
}

/// `POST /retention/run`'s answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RetentionRunView {
    /// Whether it only counted.
    pub dry_run: bool,
    /// Policy by policy, the most specific first, the audit log's last.
    pub policies: Vec<RetentionPassView>,
}

impl RetentionRunView {
    fn of(r: &RetentionReport, dry_run: bool) -> Self {
        Self {
            dry_run,
            policies: r
                .policies
                .iter()
                .map(|p| RetentionPassView {
                    policy: RetentionPolicyView::of(&p.policy),
                    applied: p.applied,
                    jobs: p.counts.jobs,
                    artifacts: p.counts.artifacts,
                    output_chunks: p.counts.output_chunks,
                })
                .collect(),
        }
    }
}

/// Query naming a policy's scope.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ScopeQuery {
    /// A company's policy.
    company_id: Option<i64>,
    /// An app's policy (with `company_id`: that pair's).
    app_id: Option<i64>,
    /// The audit log's policy.
    audit: Option<bool>,
}

/// Query of `POST /retention/run`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RunQuery {
    /// Count only; delete nothing.
    dry_run: Option<bool>,
}

fn scope(company: Option<i64>, app: Option<i64>, audit: bool) -> ApiResult<RetentionScope> {
    Ok(RetentionScope::of(
        company.map(CompanyId),
        app.map(AppId),
        audit,
    )?)
}

/// The retention policies (none: nothing is deleted automatically). Admin only.
#[utoipa::path(get, path = "/retention", tag = "retention",
    responses(
        (status = 200, description = "Policies, the default first", body = [RetentionPolicyView]),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Not an admin token", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<HttpState>,
    caller: Caller,
) -> ApiResult<Json<Vec<RetentionPolicyView>>> {
    let policies = state
        .usecases()
        .retention_policies(&caller.as_caller())
        .await?;
    Ok(Json(policies.iter().map(RetentionPolicyView::of).collect()))
}

/// Sets the policy of a scope (replacing it). Admin only.
#[utoipa::path(put, path = "/retention", tag = "retention",
    request_body = RetentionSet,
    responses(
        (status = 200, description = "The policy as stored", body = RetentionPolicyView),
        (status = 400, description = "Bad input", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Not an admin token", body = ErrorBody),
        (status = 404, description = "No such company or app", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
    ))]
pub async fn set(
    State(state): State<HttpState>,
    caller: Caller,
    ApiJson(body): ApiJson<RetentionSet>,
) -> ApiResult<Json<RetentionPolicyView>> {
    let mut policy =
        RetentionPolicy::new(scope(body.company_id, body.app_id, body.audit)?, body.days);
    policy.artifacts_only = body.artifacts_only;
    policy.grace_days = body.grace_days;
    let p = state
        .usecases()
        .set_retention(&caller.as_caller(), policy)
        .await?;
    Ok(Json(RetentionPolicyView::of(&p)))
}

/// Removes the policy of a scope. Admin only.
#[utoipa::path(delete, path = "/retention", tag = "retention",
    params(ScopeQuery),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Not an admin token", body = ErrorBody),
        (status = 404, description = "No policy for that scope", body = ErrorBody),
    ))]
pub async fn unset(
    State(state): State<HttpState>,
    caller: Caller,
    mut q: QueryParams,
) -> ApiResult<StatusCode> {
    let company = q.take::<i64>("company_id", "an integer")?;
    let app = q.take::<i64>("app_id", "an integer")?;
    let audit = q.take::<bool>("audit", "true or false")?.unwrap_or(false);
    q.finish(&["company_id", "app_id", "audit"])?;
    state
        .usecases()
        .unset_retention(&caller.as_caller(), scope(company, app, audit)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Applies the policies now in small batches (or counts, with `dry_run=true`). Admin only.
#[utoipa::path(post, path = "/retention/run", tag = "retention",
    params(RunQuery),
    responses(
        (status = 200, description = "What each policy deleted (or would delete)", body = RetentionRunView),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Not an admin token", body = ErrorBody),
    ))]
pub async fn run(
    State(state): State<HttpState>,
    caller: Caller,
    mut q: QueryParams,
) -> ApiResult<Json<RetentionRunView>> {
    let dry_run = q.take::<bool>("dry_run", "true or false")?.unwrap_or(false);
    q.finish(&["dry_run"])?;
    let r = state
        .usecases()
        .run_retention(&caller.as_caller(), dry_run)
        .await?;
    Ok(Json(RetentionRunView::of(&r, dry_run)))
}
