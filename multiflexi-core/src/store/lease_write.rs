//! The fence of output and artifact writes: the same rule for every backend.

use super::LeaseRef;
use super::backend::fence_conflict;
use crate::lifecycle::{Outcome, Phase};

/// A write about a job that its lease holder makes besides phase changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeaseWrite {
    /// [`OutputLog::append_output`](super::OutputLog::append_output): while the job is Queued
    /// or Running.
    Output,
    /// [`ArtifactSink::put`](crate::ArtifactSink::put): while the job is Queued or Running, and
    /// once its holder completed it (the default [`finish_separately`](super::finish_separately)
    /// stores stdout.txt / stderr.txt after `complete_many`).
    Artifact,
}

impl LeaseWrite {
    /// The phases this write is accepted in (for the Conflict's message).
    pub fn phases(self) -> &'static [Phase] {
        match self {
            LeaseWrite::Output => &[Phase::Queued, Phase::Running],
            LeaseWrite::Artifact => &[Phase::Queued, Phase::Running, Phase::Completed],
        }
    }

    /// Checks a job's stored `lease_token`, `phase`, `outcome` and `exitcode` against the lease
    /// that writes: Conflict ([`fence_conflict`]) when the token moved on or the phase does not
    /// take this write.
    ///
    /// A Completed job takes artifacts only when its holder completed it: not when the store
    /// ended it on its own (recovery's `lost`, or a cancel without an exit code — every
    /// completion an executor reports carries one), so a fenced-off holder attaches nothing to a
    /// job recovery already closed.
    pub fn check(
        self,
        lease: LeaseRef,
        token: i64,
        phase: Phase,
        outcome: Option<Outcome>,
        exitcode: Option<i32>,
    ) -> crate::Result<()> {
        let accepted = match phase {
            Phase::Queued | Phase::Running => true,
            Phase::Completed => {
                self == LeaseWrite::Artifact && outcome != Some(Outcome::Lost) && exitcode.is_some()
            }
            _ => false,
        };
        if token == lease.lease_token && accepted {
            Ok(())
        } else {
            Err(fence_conflict(
                lease.job_id,
                self.phases(),
                lease.lease_token,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::JobId;

    const L: LeaseRef = LeaseRef {
        job_id: JobId(1),
        lease_token: 2,
    };

    #[test]
    fn output_only_while_queued_or_running() {
        for p in Phase::ALL {
            let ok = LeaseWrite::Output.check(L, 2, p, None, None).is_ok();
            assert_eq!(ok, matches!(p, Phase::Queued | Phase::Running), "{p}");
        }
        assert!(
            LeaseWrite::Output
                .check(L, 3, Phase::Running, None, None)
                .is_err()
        );
    }

    #[test]
    fn artifacts_also_after_the_holder_completed() {
        let w = LeaseWrite::Artifact;
        assert!(w.check(L, 2, Phase::Running, None, None).is_ok());
        assert!(
            w.check(L, 2, Phase::Completed, Some(Outcome::Failed), Some(2))
                .is_ok()
        );
        assert!(
            w.check(L, 1, Phase::Completed, Some(Outcome::Success), Some(0))
                .is_err()
        );
        assert!(
            w.check(L, 2, Phase::Completed, Some(Outcome::Lost), Some(-1))
                .is_err()
        );
        assert!(
            w.check(L, 2, Phase::Completed, Some(Outcome::Cancelled), None)
                .is_err()
        );
        for p in [Phase::Created, Phase::Scheduled, Phase::Preserved] {
            assert!(
                w.check(L, 2, p, Some(Outcome::Success), Some(0)).is_err(),
                "{p}"
            );
        }
    }
}
