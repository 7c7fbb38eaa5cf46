use crate::Result;
use crate::ids::JobId;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt::Debug;

/// One audit-log row: a phase transition or an operator action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuditEntry {
    /// Row id (assigned by the store; 0 before).
    pub id: i64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The job concerned, if any.
    pub job_id: Option<JobId>,
    /// Who did it (`scheduler`, an executor id, a user or token name).
    pub actor: String,
    /// What happened (`phase:queued`, `job:cancel`, `app:import`, …).
    pub action: String,
    /// Details (never secret values).
    pub detail: String,
}

impl AuditEntry {
    /// A new entry (the store sets `id`; `at` is the store's clock when left at the epoch).
    pub fn new(
        job_id: Option<JobId>,
        actor: impl Into<String>,
        action: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            id: 0,
            at: DateTime::<Utc>::UNIX_EPOCH,
            job_id,
            actor: actor.into(),
            action: action.into(),
            detail: detail.into(),
        }
    }
}

/// Which audit rows to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditFilter {
    /// Only this job's rows.
    pub job_id: Option<JobId>,
    /// Only rows at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// At most this many (oldest first).
    pub limit: Option<u64>,
}

impl AuditFilter {
    /// Rows of one job.
    pub fn job(job_id: JobId) -> Self {
        Self {
            job_id: Some(job_id),
            ..Self::default()
        }
    }
}

/// Append-only record of what happened.
#[async_trait]
pub trait AuditLog: Send + Sync + Debug + 'static {
    /// Appends one row.
    async fn append_audit(&self, entry: &AuditEntry) -> Result<()>;
    /// Rows matching the filter, oldest first (by time, then id).
    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>>;
}
