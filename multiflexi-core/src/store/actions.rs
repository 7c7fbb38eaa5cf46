//! [`ActionQueue`]: the `job_action` rows a completion wrote, claimed and leased like jobs.
//!
//! Contracts (checked by the conformance suite): a completion writes its template's actions for
//! its outcome in the same transaction as Completed; a claim hands each due pending row to
//! exactly one caller (lease owner, `lease_token + 1`, expiry, `attempts + 1`); a row whose lease
//! expired is claimable again; a result is written only while the caller still holds the lease
//! (`id`, `lease_token`, state `pending`), else Conflict.

use crate::ids::JobId;
use crate::model::{ActionState, JobAction};
use crate::{Error, Result};
use async_trait::async_trait;
use std::fmt::Debug;
use std::time::Duration;

/// Attempts of one action before it is `failed`.
pub const MAX_ACTION_ATTEMPTS: u32 = 5;
/// The first back-off after a failed attempt; doubled per attempt.
pub const ACTION_BACKOFF_BASE: Duration = Duration::from_secs(5);
/// The longest back-off.
pub const ACTION_BACKOFF_CAP: Duration = Duration::from_secs(600);

/// A claimed action: its row and the fencing token of the claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ActionLease {
    /// `job_action` row id.
    pub id: i64,
    /// The token the claim set.
    pub lease_token: i64,
}

impl JobAction {
    /// The lease this row was claimed with.
    pub fn lease(&self) -> ActionLease {
        ActionLease {
            id: self.id,
            lease_token: self.lease_token,
        }
    }
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ActionResult {
    /// Carried out: state `done`.
    Done,
    /// Failed: pending again after `retry_in`, or `failed` when `retry_in` is None.
    Failed {
        /// Why (kept as `last_error`).
        error: String,
        /// When to try again.
        retry_in: Option<Duration>,
    },
}

impl ActionResult {
    /// The back-off rule: after attempt `attempts` (1-based) failed, try again after
    /// base × 2^(attempts−1) (capped), until [`MAX_ACTION_ATTEMPTS`]; then give up.
    pub fn failed(error: impl Into<String>, attempts: u32) -> Self {
        let retry_in = (attempts < MAX_ACTION_ATTEMPTS).then(|| {
            let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(16));
            ACTION_BACKOFF_BASE
                .saturating_mul(factor)
                .min(ACTION_BACKOFF_CAP)
        });
        ActionResult::Failed {
            error: error.into(),
            retry_in,
        }
    }

    /// The state the row moves to.
    pub fn state(&self) -> ActionState {
        match self {
            ActionResult::Done => ActionState::Done,
            ActionResult::Failed { retry_in: None, .. } => ActionState::Failed,
            ActionResult::Failed { .. } => ActionState::Pending,
        }
    }
}

/// The Conflict of a result written without the lease.
pub fn action_conflict(lease: ActionLease) -> Error {
    Error::Conflict {
        message: format!(
            "job_action {} is no longer pending under lease token {}",
            lease.id, lease.lease_token
        ),
    }
}

/// The durable queue of actions after completion.
#[async_trait]
pub trait ActionQueue: Send + Sync + Debug {
    /// Claims up to `limit` pending actions that are due (`next_attempt_at <= now`) and not
    /// leased (or whose lease expired): each to exactly one caller, with `owner`, a new
    /// `lease_token`, an expiry `ttl` from now and one more attempt. In `id` order.
    async fn claim_actions(
        &self,
        owner: &str,
        limit: usize,
        ttl: Duration,
    ) -> Result<Vec<JobAction>>;

    /// Records `result` of a claimed action, fenced by its lease; Conflict when the lease was
    /// taken over or the row is no longer pending. Returns the row as stored.
    async fn finish_action(&self, lease: ActionLease, result: &ActionResult) -> Result<JobAction>;

    /// The actions of `job`, in list order.
    async fn job_actions(&self, job: JobId) -> Result<Vec<JobAction>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_then_gives_up() {
        let d = |n| match ActionResult::failed("x", n) {
            ActionResult::Failed { retry_in, .. } => retry_in,
            ActionResult::Done => unreachable!(),
        };
        assert_eq!(d(1), Some(Duration::from_secs(5)));
        assert_eq!(d(2), Some(Duration::from_secs(10)));
        assert_eq!(d(4), Some(Duration::from_secs(40)));
        assert_eq!(d(MAX_ACTION_ATTEMPTS), None);
        assert_eq!(
            ActionResult::failed("x", MAX_ACTION_ATTEMPTS).state(),
            ActionState::Failed
        );
    }
}
