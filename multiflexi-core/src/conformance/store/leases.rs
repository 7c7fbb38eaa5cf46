//! Lease expiry and recovery, heartbeats, cancellation, the work signal.

use super::StoreHarness;
use super::fixtures::*;
use crate::lifecycle::{Outcome, Phase, RetryPolicy};
use crate::store::{CancelResult, HeartbeatStatus, LeaseRef, Recovered};
use crate::{JobId, Trigger};
use std::time::Duration as StdDuration;

const TTL: StdDuration = StdDuration::from_secs(30);

/// An expired Queued lease (the job never started) puts the job back to Scheduled: no attempt
/// counted, owner / expiry / queued time cleared, token kept; the next claim gets token 2.
/// A lease is expired when `lease_expires <= now`.
pub async fn expired_queued_lease_goes_back_to_scheduled(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "requeue", with_retry(RetryPolicy::new(3, 10))).await;
    let slot = t0;
    let job = s
        .create_and_schedule(&slotted(&fx, slot, Some(cas(None, None))))
        .await
        .unwrap();
    let claimed_at = advance(h, secs(1));
    let q = s
        .claim(&native("executor-a", 1).with_lease_ttl(TTL))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(q.lease_expires, Some(claimed_at + secs(30)));

    advance(h, secs(30) - micros(1));
    assert_eq!(
        s.recover_expired().await.unwrap(),
        Recovered::default(),
        "not expired yet"
    );
    assert_eq!(s.get_job(job.id).await.unwrap(), q);

    let at = advance(h, micros(1));
    let rec = s.recover_expired().await.unwrap();
    assert_eq!(
        rec,
        Recovered {
            requeued: vec![job.id],
            lost: vec![],
            retries: vec![],
            cancelled: vec![],
        }
    );
    let mut want = q.clone();
    want.phase = Phase::Scheduled;
    want.lease_owner = None;
    want.lease_expires = None;
    want.queued = None;
    assert_eq!(
        s.get_job(job.id).await.unwrap(),
        want,
        "back to Scheduled, lease cleared"
    );
    assert_eq!(want.lease_token, 1);
    assert_eq!(counters(h, &fx).await, (0, 0), "no attempt counted");
    assert_eq!(
        s.list_jobs(&Default::default()).await.unwrap().len(),
        1,
        "no retry"
    );
    let rows = phase_rows(h, job.id).await;
    assert_eq!(
        rows.last().unwrap(),
        &("phase:scheduled".to_string(), "scheduler".to_string(), at)
    );
    assert_eq!(
        s.recover_expired().await.unwrap(),
        Recovered::default(),
        "nothing twice"
    );

    let again = claim_one(h, "executor-b").await;
    assert_eq!(
        (
            again.id,
            again.lease_token,
            again.lease_owner.as_deref(),
            again.attempt
        ),
        (job.id, 2, Some("executor-b"), 0)
    );
    let r = begin(h, &again).await;
    complete(h, &r, Outcome::Success, 0).await;
    assert_eq!(counters(h, &fx).await, (1, 0));
}

/// An expired Running lease completes the job as `lost` with exit code -1 and applies the retry
/// rule; the chain's last lost attempt sets `next_schedule`.
pub async fn expired_running_lease_is_lost_and_retried(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "lost", with_retry(RetryPolicy::new(1, 10))).await;
    let slot = t0;
    assert!(
        s.set_next_schedule(fx.template.id, None, Some(slot))
            .await
            .unwrap()
    );
    let r = running(
        h,
        &slotted(&fx, slot, Some(cas(Some(slot), None))),
        "executor-a",
    )
    .await;
    assert_eq!(r.lease_expires, Some(t0 + secs(30)));

    advance(h, secs(30) - micros(1));
    assert_eq!(s.recover_expired().await.unwrap(), Recovered::default());
    let end = advance(h, micros(1));
    let rec = s.recover_expired().await.unwrap();
    let mut lost = r.clone();
    lost.phase = Phase::Completed;
    lost.outcome = Some(Outcome::Lost);
    lost.exitcode = Some(-1);
    lost.end = Some(end);
    lost.lease_expires = None;
    assert_eq!(rec.requeued, Vec::<JobId>::new());
    assert_eq!(rec.lost, vec![lost.clone()]);
    assert_eq!(rec.retries.len(), 1);
    let retry = rec.retries[0].clone();
    assert_eq!(retry, expected_retry(&lost, retry.id, end + secs(10), end));
    assert_eq!(s.get_job(r.id).await.unwrap(), lost);
    assert_eq!(s.get_job(retry.id).await.unwrap(), retry);
    assert_eq!(lost.status(), "lost");
    assert_eq!(counters(h, &fx).await, (0, 1));
    assert_eq!(
        template(h, &fx).await.next_schedule,
        None,
        "the retry chain goes on"
    );
    let rows = phase_rows(h, r.id).await;
    assert_eq!(
        rows.last().unwrap(),
        &("phase:completed".to_string(), "scheduler".to_string(), end)
    );
    assert_eq!(
        s.heartbeat(&[LeaseRef::of(&r)], TTL).await.unwrap(),
        vec![HeartbeatStatus::Lost],
        "the executor learns it lost the job"
    );

    // the retry is lost too: max_retries reached, the chain ends
    advance(h, secs(10));
    let q = claim_one(h, "executor-b").await;
    assert_eq!(q.id, retry.id);
    begin(h, &q).await;
    let end2 = advance(h, secs(30));
    let rec = s.recover_expired().await.unwrap();
    assert_eq!(rec.lost.len(), 1);
    assert_eq!(
        (
            rec.lost[0].id,
            rec.lost[0].outcome,
            rec.lost[0].exitcode,
            rec.lost[0].end
        ),
        (retry.id, Some(Outcome::Lost), Some(-1), Some(end2))
    );
    assert!(rec.retries.is_empty());
    assert_eq!(counters(h, &fx).await, (0, 2));
    assert_eq!(template(h, &fx).await.next_schedule, Some(slot + secs(60)));
}

/// Heartbeats extend the lease from now (past the old expiry nothing is recovered), report
/// CancelRequested once an operator asked, and Lost for a moved-on token, an unknown job or a
/// job that is no longer Queued/Running.
pub async fn heartbeat_extends_lease_and_reports_status(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "heartbeat", |t| t).await;
    s.create_and_schedule(&adhoc(&fx, Trigger::Manual, t0))
        .await
        .unwrap();
    let q = s
        .claim(&native("executor-a", 1).with_lease_ttl(TTL))
        .await
        .unwrap()
        .remove(0);
    let lease = LeaseRef::of(&q);
    let beat = advance(h, secs(20));
    assert_eq!(
        s.heartbeat(&[lease], TTL).await.unwrap(),
        vec![HeartbeatStatus::Ok]
    );
    assert_eq!(
        s.get_job(q.id).await.unwrap().lease_expires,
        Some(beat + secs(30))
    );
    advance(h, secs(20)); // past the first expiry (t0 + 30 s)
    assert_eq!(s.recover_expired().await.unwrap(), Recovered::default());
    let r = begin(h, &q).await;
    assert_eq!(r.phase, Phase::Running);

    let beat = advance(h, secs(9)); // the lease (t0 + 50 s) has not run out
    assert_eq!(
        s.heartbeat(&[lease], StdDuration::from_millis(90_500))
            .await
            .unwrap(),
        vec![HeartbeatStatus::Ok]
    );
    assert_eq!(
        s.get_job(q.id).await.unwrap().lease_expires,
        Some(beat + secs(90) + micros(500_000)),
        "the lease lasts the ttl given to this heartbeat"
    );
    advance(h, secs(60)); // past the previous expiry, within the new one
    assert_eq!(s.recover_expired().await.unwrap(), Recovered::default());

    let cancelled = s.request_cancel(q.id, "bob").await.unwrap();
    assert!(matches!(cancelled, CancelResult::Requested(ref j) if j.cancel_requested));
    let ghost = LeaseRef {
        job_id: JobId(987_654_321),
        lease_token: 1,
    };
    let stale = LeaseRef {
        job_id: q.id,
        lease_token: 0,
    };
    let beat = advance(h, secs(1));
    assert_eq!(
        s.heartbeat(&[lease, ghost, stale], TTL).await.unwrap(),
        vec![
            HeartbeatStatus::CancelRequested,
            HeartbeatStatus::Lost,
            HeartbeatStatus::Lost
        ],
        "one status per lease, in input order"
    );
    assert_eq!(
        s.get_job(q.id).await.unwrap().lease_expires,
        Some(beat + secs(30)),
        "CancelRequested extends the lease too"
    );
    complete(h, &r, Outcome::Cancelled, 143).await;
    assert_eq!(
        s.heartbeat(&[lease], TTL).await.unwrap(),
        vec![HeartbeatStatus::Lost]
    );
    assert!(s.heartbeat(&[], TTL).await.unwrap().is_empty());
}

/// Cancelling a Scheduled job completes it at once as `cancelled` (no exit code, counted as a
/// failure, `next_schedule` as for any completion, never retried); it can no longer be claimed.
pub async fn cancel_scheduled_job_completes_it(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "cancel", with_retry(RetryPolicy::new(3, 0))).await;
    let slot = t0;
    let job = s
        .create_and_schedule(&slotted(&fx, slot, Some(cas(None, None))))
        .await
        .unwrap();
    let at = advance(h, secs(2));
    let mut want = job.clone();
    want.phase = Phase::Completed;
    want.outcome = Some(Outcome::Cancelled);
    want.exitcode = None;
    want.end = Some(at);
    want.cancel_requested = true;
    assert_eq!(
        s.request_cancel(job.id, "bob").await.unwrap(),
        CancelResult::Cancelled(want.clone())
    );
    assert_eq!(s.get_job(job.id).await.unwrap(), want);
    assert_eq!(want.status(), "cancelled");
    assert_eq!(counters(h, &fx).await, (0, 1));
    assert_eq!(template(h, &fx).await.next_schedule, Some(slot + secs(60)));
    assert_eq!(
        s.list_jobs(&Default::default()).await.unwrap(),
        vec![want.clone()],
        "no retry"
    );
    assert!(s.claim(&native("executor-1", 10)).await.unwrap().is_empty());
    assert_eq!(
        phase_rows(h, job.id).await.last().unwrap(),
        &("phase:completed".to_string(), "bob".to_string(), at)
    );
    advance(h, secs(1));
    assert_eq!(
        s.request_cancel(job.id, "carol").await.unwrap(),
        CancelResult::AlreadyFinished(want.clone())
    );
    assert_eq!(s.get_job(job.id).await.unwrap(), want);
    assert_eq!(counters(h, &fx).await, (0, 1), "counted once");
    expect_err(
        s.request_cancel(JobId(987_654_321), "bob").await,
        "NotFound",
        "cancel of an unknown job",
    );
}

/// Cancelling a Queued or Running job only sets `cancel_requested` (the executor stops it and
/// completes it as `cancelled`); a finished job reports AlreadyFinished.
pub async fn cancel_queued_or_running_job_sets_flag(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "flag", |t| t).await;
    for start_it in [false, true] {
        s.create_and_schedule(&adhoc(&fx, Trigger::Api, t0))
            .await
            .unwrap();
        let mut job = claim_one(h, "executor-1").await;
        if start_it {
            job = begin(h, &job).await;
        }
        advance(h, secs(1));
        let mut want = job.clone();
        want.cancel_requested = true;
        assert_eq!(
            s.request_cancel(job.id, "bob").await.unwrap(),
            CancelResult::Requested(want.clone())
        );
        assert_eq!(
            s.get_job(job.id).await.unwrap(),
            want,
            "only the flag changed"
        );
        assert_eq!(
            s.request_cancel(job.id, "bob").await.unwrap(),
            CancelResult::Requested(want.clone()),
            "asking twice is fine"
        );
        assert_eq!(
            s.heartbeat(&[LeaseRef::of(&job)], TTL).await.unwrap(),
            vec![HeartbeatStatus::CancelRequested]
        );
        let done = complete(h, &job, Outcome::Cancelled, 143).await.job;
        assert_eq!(
            (
                done.phase,
                done.outcome,
                done.exitcode,
                done.cancel_requested
            ),
            (Phase::Completed, Some(Outcome::Cancelled), Some(143), true)
        );
        assert!(matches!(
            s.request_cancel(job.id, "bob").await.unwrap(),
            CancelResult::AlreadyFinished(j) if j == done
        ));
    }
    assert_eq!(counters(h, &fx).await, (0, 2));
}

/// A Queued job whose cancel was requested and whose lease then expires is not run later: it
/// ends Completed(cancelled) instead of going back to Scheduled.
pub async fn expired_queued_job_with_cancel_request_is_cancelled(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "cancelexp", with_retry(RetryPolicy::new(3, 0))).await;
    let job = s
        .create_and_schedule(&adhoc(&fx, Trigger::Manual, t0))
        .await
        .unwrap();
    claim_one(h, "executor-a").await;
    s.request_cancel(job.id, "bob").await.unwrap();
    let at = advance(h, secs(30));
    let rec = s.recover_expired().await.unwrap();
    assert!(rec.requeued.is_empty() && rec.lost.is_empty() && rec.retries.is_empty());
    let j = s.get_job(job.id).await.unwrap();
    // Reported, so that telemetry sees the job end.
    assert_eq!(rec.cancelled, std::slice::from_ref(&j));
    assert_eq!(
        (
            j.phase,
            j.outcome,
            j.exitcode,
            j.end,
            j.lease_expires,
            j.cancel_requested
        ),
        (
            Phase::Completed,
            Some(Outcome::Cancelled),
            None,
            Some(at),
            None,
            true
        )
    );
    assert_eq!(counters(h, &fx).await, (0, 1));
    assert!(s.claim(&native("executor-b", 10)).await.unwrap().is_empty());
    assert_eq!(
        s.list_jobs(&Default::default()).await.unwrap().len(),
        1,
        "no retry"
    );
}

/// When the backend offers a work signal, it changes on every create (retries included) and
/// on every re-queue, so a dispatcher that marked the value seen before claiming misses nothing.
pub async fn work_signal_changes_on_create_and_requeue(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "signal", with_retry(RetryPolicy::new(1, 0))).await;
    let Some(mut rx) = s.work_signal() else {
        return; // the backend polls
    };
    rx.borrow_and_update();
    assert!(!rx.has_changed().unwrap());
    s.create_and_schedule(&adhoc(&fx, Trigger::Manual, t0))
        .await
        .unwrap();
    assert!(rx.has_changed().unwrap(), "changed on create");
    rx.borrow_and_update();

    let q = claim_one(h, "executor-a").await;
    rx.borrow_and_update();
    advance(h, secs(30));
    s.recover_expired().await.unwrap();
    assert!(rx.has_changed().unwrap(), "changed on re-queue");
    rx.borrow_and_update();

    let q2 = claim_one(h, "executor-a").await;
    assert_eq!(q2.id, q.id);
    let r = begin(h, &q2).await;
    rx.borrow_and_update();
    complete(h, &r, Outcome::PlatformError, -1).await;
    assert!(
        rx.has_changed().unwrap(),
        "changed when the retry was created"
    );
    rx.borrow_and_update();

    // a receiver taken later sees later changes too
    let mut rx2 = s.work_signal().expect("still offered");
    rx2.borrow_and_update();
    s.create_and_schedule(&adhoc(&fx, Trigger::Api, t0))
        .await
        .unwrap();
    assert!(rx2.has_changed().unwrap());
    assert!(rx.has_changed().unwrap());
}

/// A Running job whose cancel was requested and whose lease then expires (its executor died
/// before it could stop it) ends Completed(cancelled) — not `lost`, never retried — and is
/// reported in `Recovered::cancelled`.
pub async fn expired_running_job_with_cancel_request_is_cancelled(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "cancelrun", with_retry(RetryPolicy::new(3, 0))).await;
    let slot = t0;
    assert!(
        s.set_next_schedule(fx.template.id, None, Some(slot))
            .await
            .unwrap()
    );
    let r = running(
        h,
        &slotted(&fx, slot, Some(cas(Some(slot), None))),
        "executor-a",
    )
    .await;
    s.request_cancel(r.id, "bob").await.unwrap();
    let at = advance(h, secs(30));
    let rec = s.recover_expired().await.unwrap();
    let mut want = r.clone();
    want.phase = Phase::Completed;
    want.outcome = Some(Outcome::Cancelled);
    want.exitcode = None;
    want.end = Some(at);
    want.lease_expires = None;
    want.cancel_requested = true;
    assert_eq!(
        rec,
        Recovered {
            requeued: vec![],
            lost: vec![],
            retries: vec![],
            cancelled: vec![want.clone()],
        }
    );
    assert_eq!(s.get_job(r.id).await.unwrap(), want);
    assert_eq!(counters(h, &fx).await, (0, 1));
    assert_eq!(
        s.list_jobs(&Default::default()).await.unwrap().len(),
        1,
        "no retry"
    );
    assert_eq!(
        template(h, &fx).await.next_schedule,
        Some(slot + secs(60)),
        "the chain ended: the next slot is set"
    );
    assert_eq!(
        phase_rows(h, r.id).await.last().unwrap(),
        &("phase:completed".to_string(), "scheduler".to_string(), at)
    );
    assert_eq!(
        s.heartbeat(&[LeaseRef::of(&r)], TTL).await.unwrap(),
        vec![HeartbeatStatus::Lost]
    );
    assert_eq!(s.recover_expired().await.unwrap(), Recovered::default());
}

/// The expiry a heartbeat or a claim sets counts from the store's now when the write executes:
/// read right after the call, `lease_expires >= now + ttl` (a few ms of slack for a store whose
/// clock moves on its own), never an instant computed before the store waited for anything.
pub async fn lease_expiry_counts_from_the_write(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "expiry", |t| t).await;
    let slack = chrono::Duration::milliseconds(50);
    s.create_and_schedule(&adhoc(&fx, Trigger::Manual, t0))
        .await
        .unwrap();
    let q = s
        .claim(&native("executor-a", 1).with_lease_ttl(TTL))
        .await
        .unwrap()
        .remove(0);
    let after_claim = now(h);
    assert!(q.lease_expires.unwrap() >= after_claim + secs(30) - slack);
    for (step, ttl) in [(secs(7), TTL), (micros(1), StdDuration::from_millis(1500))] {
        advance(h, step);
        let lease = LeaseRef::of(&q);
        assert_eq!(
            s.heartbeat(&[lease], ttl).await.unwrap(),
            vec![HeartbeatStatus::Ok]
        );
        let read_after = now(h);
        let expires = s.get_job(q.id).await.unwrap().lease_expires.unwrap();
        let ttl = chrono::Duration::from_std(ttl).unwrap();
        assert!(
            expires >= read_after + ttl - slack,
            "expiry {expires} set before the write (now {read_after}, ttl {ttl})"
        );
        assert!(expires <= read_after + ttl, "not longer than the ttl");
    }
}
