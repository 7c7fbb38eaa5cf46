//! `release_many`: claimed jobs that never started go back to the queue.

use super::StoreHarness;
use super::fixtures::*;
use crate::lifecycle::{Outcome, Phase, RetryPolicy};
use crate::model::Job;
use crate::store::{AuditFilter, HeartbeatStatus, LeaseRef, Release, ReleaseReason, Released};
use crate::{JobId, Trigger};
use chrono::{DateTime, Utc};
use std::time::Duration as StdDuration;

fn launch_failed(job: &Job, retry_after: u64, max: u32) -> Release {
    Release::new(
        LeaseRef::of(job),
        ReleaseReason::LaunchFailed {
            message: "image busybox:static is missing".into(),
        },
        StdDuration::from_secs(retry_after),
        max,
    )
}

fn draining(lease: LeaseRef) -> Release {
    Release::new(lease, ReleaseReason::Draining, StdDuration::ZERO, 5)
}

/// Releases one job and returns what the store did.
async fn release_one(h: &StoreHarness, r: Release) -> Released {
    let mut out = h.store.release_many(&[r]).await.expect("release_many");
    assert_eq!(out.len(), 1);
    out.remove(0).expect("release")
}

/// The last audit row of a job: (action, actor, at, detail).
async fn last_audit(h: &StoreHarness, job: JobId) -> (String, String, DateTime<Utc>, String) {
    let e = h
        .store
        .list_audit(&AuditFilter::job(job))
        .await
        .unwrap()
        .pop()
        .expect("an audit row");
    (e.action, e.actor, e.at, e.detail)
}

/// A launch that failed before the application started puts the job back to Scheduled, due
/// `retry_after` from now: lease cleared, token kept, `launch_failures` + 1, no attempt counted,
/// one `phase:scheduled` row by the holder saying why; the failure that reaches the bound
/// completes it as `platform_error` (-1) exactly as a completion does (counter, retry rule).
pub async fn release_after_failed_launch_requeues_up_to_the_bound(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "release", with_retry(RetryPolicy::new(1, 10))).await;
    let job = s
        .create_and_schedule(&slotted(&fx, t0, Some(cas(None, None))))
        .await
        .unwrap();
    let mut signal = s.work_signal();
    let mut q = claim_one(h, "exec-1").await;
    for failure in 1..=2u32 {
        if let Some(rx) = signal.as_mut() {
            rx.borrow_and_update();
        }
        let at = advance(h, secs(1));
        let Released::Requeued(back) = release_one(h, launch_failed(&q, 10, 3)).await else {
            panic!("failure {failure} of 3 requeues the job");
        };
        let mut want = q.clone();
        want.phase = Phase::Scheduled;
        want.lease_owner = None;
        want.lease_expires = None;
        want.queued = None;
        want.after = at + secs(10);
        want.launch_failures = failure;
        assert_eq!(back, want, "failure {failure}");
        assert_eq!(s.get_job(job.id).await.unwrap(), want);
        assert_eq!(
            last_audit(h, job.id).await,
            (
                "phase:scheduled".to_string(),
                "exec-1".to_string(),
                at,
                format!(
                    "released by \"exec-1\": launch failed: image busybox:static is missing (failure {failure} of 3)"
                )
            )
        );
        if let Some(rx) = signal.as_ref() {
            assert!(rx.has_changed().unwrap(), "a release wakes the dispatchers");
        }
        assert_eq!(
            s.heartbeat(&[LeaseRef::of(&q)], StdDuration::from_secs(30))
                .await
                .unwrap(),
            vec![HeartbeatStatus::Lost],
            "the released lease is gone"
        );
        assert_eq!(counters(h, &fx).await, (0, 0), "no attempt counted");
        advance(h, secs(10) - micros(1));
        assert!(
            s.claim(&native("exec-1", 10)).await.unwrap().is_empty(),
            "not due before retry_after"
        );
        advance(h, micros(1));
        q = claim_one(h, "exec-1").await;
        assert_eq!(
            (q.id, q.lease_token, q.attempt, q.launch_failures),
            (job.id, i64::from(failure) + 1, 0, failure)
        );
    }

    let end = advance(h, secs(1));
    let Released::Failed(done) = release_one(h, launch_failed(&q, 10, 3)).await else {
        panic!("the third failure of three completes the job");
    };
    let j = &done.job;
    assert_eq!(
        (j.phase, j.outcome, j.exitcode, j.end, j.lease_expires),
        (
            Phase::Completed,
            Some(Outcome::PlatformError),
            Some(-1),
            Some(end),
            None
        )
    );
    assert_eq!(
        (j.launch_failures, j.lease_owner.as_deref(), j.lease_token),
        (3, Some("exec-1"), 3)
    );
    assert!(
        j.stderr
            .contains("launch failed: image busybox:static is missing (failure 3 of 3)"),
        "the stderr copy says why: {:?}",
        j.stderr
    );
    assert_eq!(&s.get_job(job.id).await.unwrap(), j);
    assert_eq!(counters(h, &fx).await, (0, 1));
    let retry = done.retry.expect("platform_error follows the retry rule");
    assert_eq!(retry, expected_retry(j, retry.id, end + secs(10), end));
    assert_eq!(retry.launch_failures, 0, "a retry starts counting anew");
    assert_eq!(
        template(h, &fx).await.next_schedule,
        None,
        "the chain goes on"
    );
    assert_eq!(
        last_audit(h, job.id).await,
        (
            "phase:completed".to_string(),
            "exec-1".to_string(),
            end,
            "outcome=platform_error exitcode=-1".to_string()
        )
    );
}

/// One transaction, one result per input: a draining release puts the job back at once and
/// never counts; a stale token is Conflict, a started job InvalidTransition, an unknown job
/// NotFound, a second release of the same job InvalidTransition, and a job an operator asked to
/// cancel ends `cancelled` instead of going back to the queue.
pub async fn release_batch_fences_each_job_and_draining_never_counts(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "drain", |t| t).await;
    assert!(s.release_many(&[]).await.unwrap().is_empty());
    for _ in 0..4 {
        s.create_and_schedule(&adhoc(&fx, Trigger::Manual, t0))
            .await
            .unwrap();
    }
    let claimed = s.claim(&native("executor-1", 4)).await.unwrap();
    let [a, b, c, d] = <[Job; 4]>::try_from(claimed).expect("four jobs");
    // a failed to launch once before (counted), then was claimed again
    let Released::Requeued(_) = release_one(h, launch_failed(&a, 0, 5)).await else {
        panic!("failure 1 of 5 requeues");
    };
    let a = claim_one(h, "executor-1").await;
    assert_eq!(a.launch_failures, 1);
    let c = begin(h, &c).await;
    s.request_cancel(d.id, "bob").await.unwrap();

    let at = advance(h, secs(2));
    let stale = LeaseRef {
        job_id: b.id,
        lease_token: 0,
    };
    let ghost = LeaseRef {
        job_id: JobId(987_654_321),
        lease_token: 1,
    };
    let out = s
        .release_many(&[
            draining(LeaseRef::of(&a)),
            draining(stale),
            draining(LeaseRef::of(&c)),
            draining(LeaseRef::of(&d)),
            draining(ghost),
            draining(LeaseRef::of(&a)),
        ])
        .await
        .unwrap();
    assert_eq!(out.len(), 6);
    let mut out = out.into_iter();
    match out.next().unwrap() {
        Ok(Released::Requeued(j)) => {
            assert_eq!(
                (j.phase, j.after, j.launch_failures, j.lease_owner),
                (Phase::Scheduled, at, 1, None),
                "draining: due at once, not counted"
            );
        }
        other => panic!("draining a: {other:?}"),
    }
    expect_err(out.next().unwrap(), "Conflict", "a stale token");
    expect_err(out.next().unwrap(), "InvalidTransition", "a started job");
    match out.next().unwrap() {
        Ok(Released::Failed(done)) => {
            let j = done.job;
            assert_eq!(
                (j.id, j.phase, j.outcome, j.exitcode, j.cancel_requested),
                (d.id, Phase::Completed, Some(Outcome::Cancelled), None, true)
            );
            assert!(done.retry.is_none());
        }
        other => panic!("a job whose cancel was requested: {other:?}"),
    }
    expect_err(out.next().unwrap(), "NotFound", "an unknown job");
    expect_err(
        out.next().unwrap(),
        "InvalidTransition",
        "the same job twice in one batch",
    );
    assert_eq!(
        last_audit(h, a.id).await,
        (
            "phase:scheduled".to_string(),
            "executor-1".to_string(),
            at,
            "released by \"executor-1\": executor draining".to_string()
        )
    );
    assert_eq!(
        s.get_job(b.id).await.unwrap(),
        b,
        "the stale release changed nothing"
    );
    assert_eq!(
        s.get_job(c.id).await.unwrap(),
        c,
        "a started job keeps running"
    );
    assert_eq!(counters(h, &fx).await, (0, 1), "only the cancel is counted");
    let again = claim_one(h, "executor-2").await;
    assert_eq!((again.id, again.lease_token), (a.id, 3));
}
