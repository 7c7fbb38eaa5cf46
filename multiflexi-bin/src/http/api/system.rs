//! `GET /ping` and `GET /status`.

use super::auth::Caller;
use super::error::ApiResult;
use crate::http::HttpState;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use multiflexi_core::Phase;
use multiflexi_core::store::JobFilter;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// How far back an executor counts as "seen recently".
pub const EXECUTOR_WINDOW_MINUTES: i64 = 10;

/// `GET /ping`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Pong {
    /// Always `pong`.
    pub ping: String,
    /// The server's time.
    pub time: DateTime<Utc>,
}

/// Answers `pong`; needs no token (a liveness probe).
#[utoipa::path(get, path = "/ping", tag = "system", security(()),
    responses((status = 200, description = "The server is up", body = Pong)))]
pub async fn ping(State(state): State<HttpState>) -> Json<Pong> {
    Json(Pong {
        ping: "pong".into(),
        time: state.clock.now(),
    })
}

/// Jobs by phase.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueueView {
    /// Scheduled and due now.
    pub due: u64,
    /// Scheduled for later.
    pub waiting: u64,
    /// Claimed by an executor, not started.
    pub queued: u64,
    /// Running.
    pub running: u64,
    /// Completed, artifacts not yet stored.
    pub completed: u64,
    /// Preserved.
    pub preserved: u64,
}

/// An executor that held a lease recently.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExecutorSeen {
    /// Its id (`MULTIFLEXI_EXECUTOR_ID`, the lease owner).
    pub id: String,
    /// The latest claim, start or end of one of its jobs.
    pub last_seen: DateTime<Utc>,
    /// Jobs it holds now (queued or running).
    pub active_jobs: u64,
}

/// The circuit breaker of one executor kind of the dispatcher in this process.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BreakerView {
    /// The executor kind (`Native`, `Docker`, `Podman`, `Kubernetes`).
    pub executor: String,
    /// Whether no job of this kind is claimed now: launches kept failing before their
    /// program started (engine down, image missing, work disk full).
    pub open: bool,
    /// Launches in a row that failed before their program started.
    pub failures: u32,
}

/// `GET /status`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusView {
    /// The server's version.
    pub version: String,
    /// The database backend (`sqlite`, `postgres`, `mysql`).
    pub database: String,
    /// Jobs waiting to run: due + queued.
    pub queue_depth: u64,
    /// Jobs by phase.
    pub queue: QueueView,
    /// Executors that claimed, started or finished a job in the last `executor_window_minutes`
    /// minutes, or hold a job now (lease owners of queued/running jobs and of the 500 newest jobs).
    pub executors: Vec<ExecutorSeen>,
    /// The window of `executors`, in minutes.
    pub executor_window_minutes: i64,
    /// The executor kinds of the dispatcher running in this process (`multiflexi serve`;
    /// empty for `multiflexi-api`, whose executors run elsewhere: see their
    /// `multiflexi_executor_breaker_open` metric) and whether each one's breaker is open.
    pub executor_breakers: Vec<BreakerView>,
    /// The server's time.
    pub time: DateTime<Utc>,
}

/// Version, database, queue depth and the executors seen recently.
#[utoipa::path(get, path = "/status", tag = "system",
    responses(
        (status = 200, description = "Server status", body = StatusView),
        (status = 401, description = "No or bad token", body = super::error::ErrorBody),
    ))]
pub async fn status(
    State(state): State<HttpState>,
    _caller: Caller,
) -> ApiResult<Json<StatusView>> {
    let q = state.store.queue_overview().await?;
    let now = state.clock.now();
    let since = now - Duration::minutes(EXECUTOR_WINDOW_MINUTES);
    let mut seen: BTreeMap<String, ExecutorSeen> = BTreeMap::new();
    let mut jobs = Vec::new();
    for status in ["queued", "running"] {
        let mut f = JobFilter::default();
        f.status = Some(status.into());
        f.limit = Some(1000);
        jobs.extend(state.store.list_jobs(&f).await?);
    }
    let mut recent = JobFilter::default();
    recent.limit = Some(500);
    jobs.extend(state.store.list_jobs(&recent).await?);
    let mut counted = std::collections::BTreeSet::new();
    for j in &jobs {
        let Some(owner) = &j.lease_owner else {
            continue;
        };
        let active = matches!(j.phase, Phase::Queued | Phase::Running);
        let last = [j.queued, j.begin, j.end].into_iter().flatten().max();
        let Some(last) = last else { continue };
        if !active && last < since {
            continue;
        }
        let e = seen.entry(owner.clone()).or_insert_with(|| ExecutorSeen {
            id: owner.clone(),
            last_seen: last,
            active_jobs: 0,
        });
        e.last_seen = e.last_seen.max(last);
        if active && counted.insert(j.id) {
            e.active_jobs += 1;
        }
    }
    Ok(Json(StatusView {
        version: env!("CARGO_PKG_VERSION").to_string(),
        database: state.database.clone(),
        queue_depth: q.due + q.queued,
        queue: QueueView {
            due: q.due,
            waiting: q.waiting,
            queued: q.queued,
            running: q.running,
            completed: q.completed,
            preserved: q.preserved,
        },
        executors: seen.into_values().collect(),
        executor_window_minutes: EXECUTOR_WINDOW_MINUTES,
        executor_breakers: state
            .dispatcher
            .iter()
            .flat_map(|d| d.breakers())
            .map(|b| BreakerView {
                executor: b.executor.as_str().to_string(),
                open: b.open,
                failures: b.failures,
            })
            .collect(),
        time: now,
    }))
}
