//! `GET /audit`: the audit log (admin tokens only).

use super::auth::Caller;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::QueryParams;
use crate::http::HttpState;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use multiflexi_core::JobId;
use multiflexi_core::store::AuditFilter;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

/// One audit-log row.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditView {
    /// Row id.
    pub id: i64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The job concerned.
    pub job_id: Option<i64>,
    /// Who did it (`scheduler`, an executor id, a token name, a user).
    pub actor: String,
    /// What happened (`phase:queued`, `job:cancel`, `app:import`, …).
    pub action: String,
    /// Details (never secret values).
    pub detail: String,
}

/// Query of `GET /audit`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct AuditQuery {
    /// Only this job's rows.
    job_id: Option<i64>,
    /// Only rows at or after this instant (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// At most this many, oldest first (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u64>,
}

/// Audit-log rows, oldest first. Admin only.
#[utoipa::path(get, path = "/audit", tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "Rows", body = [AuditView]),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Not an admin token", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<HttpState>,
    caller: Caller,
    mut q: QueryParams,
) -> ApiResult<Json<Vec<AuditView>>> {
    let mut filter = AuditFilter::default();
    filter.job_id = q.take::<i64>("job_id", "an integer")?.map(JobId);
    filter.since = q.take::<DateTime<Utc>>("since", "an RFC 3339 instant")?;
    let limit = q
        .take::<u64>("limit", "an integer from 1 to 1000")?
        .unwrap_or(100);
    q.finish(&["job_id", "since", "limit"])?;
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_field(
            "limit",
            format!("invalid limit: {limit} is not from 1 to 1000"),
        ));
    }
    caller.require_admin("reading the audit log")?;
    filter.limit = Some(limit);
    let rows = state.store.list_audit(&filter).await?;
    Ok(Json(
        rows.iter()
            .map(|r| AuditView {
                id: r.id,
                at: r.at,
                job_id: r.job_id.map(|j| j.get()),
                actor: r.actor.clone(),
                action: r.action.clone(),
                detail: r.detail.clone(),
            })
            .collect(),
    ))
}
