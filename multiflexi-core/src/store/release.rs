//! Giving a claimed job back before it started: [`Release`], [`JobQueue::release_many`].
//!
//! [`JobQueue::release_many`]: super::JobQueue::release_many

use super::{Completed, LeaseRef};
use crate::model::Job;
use std::time::Duration;

/// Why an executor gives a claimed (Queued) job back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseReason {
    /// The launch failed before the application started (engine unreachable, image missing,
    /// work disk full…): the platform's fault, not the job's. Counted in the job's
    /// `launch_failures`.
    LaunchFailed {
        /// What went wrong (kept in the audit row).
        message: String,
    },
    /// The executor is shutting down and never started the job. Never counted.
    Draining,
}

/// One claimed job to give back to the queue (see [`JobQueue::release_many`]).
///
/// [`JobQueue::release_many`]: super::JobQueue::release_many
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Release {
    /// The job and the lease its claim returned.
    pub lease: LeaseRef,
    /// Why.
    pub reason: ReleaseReason,
    /// How long from the store's now until the job is due again.
    pub retry_after: Duration,
    /// The bound of launch failures: the failure that brings `launch_failures` to this number
    /// completes the job as `platform_error` instead (0 and 1 both mean the first failure).
    pub max_launch_failures: u32,
}

impl Release {
    /// A release of `lease` for `reason`, due again `retry_after` from now.
    pub fn new(
        lease: LeaseRef,
        reason: ReleaseReason,
        retry_after: Duration,
        max_launch_failures: u32,
    ) -> Self {
        Self {
            lease,
            reason,
            retry_after,
            max_launch_failures,
        }
    }

    /// What releasing a job that has failed to launch `launch_failures` times so far does: the
    /// same rule for every backend.
    pub fn plan(&self, launch_failures: u32) -> ReleasePlan {
        match &self.reason {
            ReleaseReason::Draining => ReleasePlan::Requeue {
                launch_failures,
                detail: self.detail(launch_failures),
            },
            ReleaseReason::LaunchFailed { .. } => {
                let n = launch_failures.saturating_add(1);
                let detail = self.detail(n);
                if n >= self.max_launch_failures {
                    ReleasePlan::Fail {
                        launch_failures: n,
                        stderr: detail,
                    }
                } else {
                    ReleasePlan::Requeue {
                        launch_failures: n,
                        detail,
                    }
                }
            }
        }
    }

    /// `launch failed: <message> (failure n of max)` or `executor draining`.
    fn detail(&self, failure: u32) -> String {
        match &self.reason {
            ReleaseReason::LaunchFailed { message } => format!(
                "launch failed: {message} (failure {failure} of {})",
                self.max_launch_failures.max(1)
            ),
            ReleaseReason::Draining => "executor draining".to_string(),
        }
    }
}

/// What a store does for one [`Release`] whose fence held (see [`Release::plan`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleasePlan {
    /// Queued → Scheduled, due at now + `retry_after`, with `launch_failures` stored.
    Requeue {
        /// The job's new `launch_failures`.
        launch_failures: u32,
        /// Why, for the audit row: see [`release_audit_detail`].
        detail: String,
    },
    /// Queued → Completed(`platform_error`, -1) exactly as a completion, with `launch_failures`
    /// stored and `stderr` as the job's stderr copy.
    Fail {
        /// The job's new `launch_failures` (the bound).
        launch_failures: u32,
        /// The job's stderr copy: why it never ran.
        stderr: String,
    },
}

/// The detail of the `phase:scheduled` audit row of a requeue: `released by "<owner>": <why>`.
pub fn release_audit_detail(owner: &str, why: &str) -> String {
    format!("released by {owner:?}: {why}")
}

/// What [`JobQueue::release_many`] did for one job.
///
/// [`JobQueue::release_many`]: super::JobQueue::release_many
// Short-lived (one per release, returned and matched at once): not worth a Box in the API.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Released {
    /// Back to Scheduled, due again after `retry_after`.
    Requeued(Job),
    /// It ended instead: Completed(`platform_error`, -1) when this failure reached
    /// `max_launch_failures` (with its retry, if the rule made one), or Completed(`cancelled`)
    /// when an operator had asked to cancel it (a cancelled job is never put back to run).
    Failed(Completed),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::JobId;

    fn lease() -> LeaseRef {
        LeaseRef {
            job_id: JobId(7),
            lease_token: 3,
        }
    }

    fn failed(max: u32) -> Release {
        Release::new(
            lease(),
            ReleaseReason::LaunchFailed {
                message: "image missing".into(),
            },
            Duration::from_secs(10),
            max,
        )
    }

    #[test]
    fn launch_failures_count_up_to_the_bound() {
        assert_eq!(
            failed(5).plan(1),
            ReleasePlan::Requeue {
                launch_failures: 2,
                detail: "launch failed: image missing (failure 2 of 5)".into()
            }
        );
        assert_eq!(
            failed(5).plan(4),
            ReleasePlan::Fail {
                launch_failures: 5,
                stderr: "launch failed: image missing (failure 5 of 5)".into()
            }
        );
        for max in [0, 1] {
            assert!(matches!(
                failed(max).plan(0),
                ReleasePlan::Fail {
                    launch_failures: 1,
                    ..
                }
            ));
        }
        assert!(matches!(failed(3).plan(u32::MAX), ReleasePlan::Fail { .. }));
    }

    #[test]
    fn draining_never_counts() {
        let r = Release::new(lease(), ReleaseReason::Draining, Duration::ZERO, 1);
        assert_eq!(
            r.plan(3),
            ReleasePlan::Requeue {
                launch_failures: 3,
                detail: "executor draining".into()
            }
        );
    }

    #[test]
    fn audit_detail_names_the_owner() {
        assert_eq!(
            release_audit_detail("exec-1", "executor draining"),
            "released by \"exec-1\": executor draining"
        );
    }
}
