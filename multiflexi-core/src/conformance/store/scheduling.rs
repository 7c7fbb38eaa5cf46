//! Slots, the scheduler's compare-and-swap, `next_schedule` / `last_schedule`, counters, retries.

use super::StoreHarness;
use super::fixtures::*;
use crate::lifecycle::{Outcome, RetryBackoff, RetryPolicy};
use crate::model::{App, ExitCodeInfo};
use crate::schedule::IntervalCode;
use crate::store::{Begin, Completion, Finish, JobFilter, LeaseRef};
use crate::{Error, Trigger};
use std::sync::Arc;

/// Many schedulers race `create_and_schedule` for the same slot with the same compare-and-swap:
/// exactly one wins; the others get AlreadyExists or Conflict; one job exists.
pub async fn one_job_per_slot_under_concurrent_schedulers(h: &StoreHarness) {
    const SCHEDULERS: usize = 16;
    let t0 = start(h);
    let fx = seed(h, "race", |t| t).await;
    let slot = t0 + secs(60);
    assert!(
        h.store
            .set_next_schedule(fx.template.id, None, Some(slot))
            .await
            .unwrap()
    );
    let now = advance(h, secs(60) + micros(3));
    let barrier = Arc::new(tokio::sync::Barrier::new(SCHEDULERS));
    let mut tasks = Vec::new();
    for n in 0..SCHEDULERS {
        let store = h.store.clone();
        let barrier = barrier.clone();
        let mut new = slotted(&fx, slot, Some(cas(Some(slot), None)));
        new.launched_by = Some(format!("scheduler-{n}"));
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store.create_and_schedule(&new).await
        }));
    }
    let mut won = Vec::new();
    for t in tasks {
        match t.await.expect("scheduler task") {
            Ok(job) => won.push(job),
            Err(Error::AlreadyExists { .. } | Error::Conflict { .. }) => {}
            Err(e) => panic!("a losing scheduler got {e}"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one scheduler wins the slot");
    let jobs = h.store.list_jobs(&JobFilter::default()).await.unwrap();
    assert_eq!(jobs, won);
    let t = template(h, &fx).await;
    assert_eq!((t.next_schedule, t.last_schedule), (None, Some(now)));
    assert_eq!(
        phase_rows(h, won[0].id).await.len(),
        1,
        "one audit row for the one job"
    );
}

/// A compare-and-swap that no longer matches fails with Conflict and creates nothing; a taken
/// (template, slot, attempt) fails with AlreadyExists; the same slot with the next attempt, or
/// on another template, is fine.
pub async fn schedule_cas_mismatch_creates_nothing(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "cas", |t| t).await;
    let other = seed(h, "othercas", |t| t).await;
    let slot = t0 + secs(60);
    assert!(
        s.set_next_schedule(fx.template.id, None, Some(slot))
            .await
            .unwrap()
    );
    let before = template(h, &fx).await;

    for seen in [None, Some(slot - secs(60)), Some(slot + micros(1))] {
        expect_err(
            s.create_and_schedule(&slotted(&fx, slot, Some(cas(seen, None))))
                .await,
            "Conflict",
            "a stale compare-and-swap",
        );
    }
    assert!(s.list_jobs(&JobFilter::default()).await.unwrap().is_empty());
    assert_eq!(template(h, &fx).await, before, "the template is untouched");

    let now = advance(h, secs(60));
    let next = slot + secs(60);
    let first = s
        .create_and_schedule(&slotted(&fx, slot, Some(cas(Some(slot), Some(next)))))
        .await
        .unwrap();
    let t = template(h, &fx).await;
    assert_eq!((t.next_schedule, t.last_schedule), (Some(next), Some(now)));

    // the slot is taken whatever the compare-and-swap says
    expect_err(
        s.create_and_schedule(&slotted(&fx, slot, Some(cas(Some(next), None))))
            .await,
        "AlreadyExists",
        "the same (template, slot, attempt) twice",
    );
    expect_err(
        s.create_and_schedule(&slotted(&fx, slot, None)).await,
        "AlreadyExists",
        "the same (template, slot, attempt) twice without CAS",
    );
    assert_eq!(
        template(h, &fx).await,
        t,
        "a failed create changes nothing on the template"
    );

    // the next attempt of the same slot, and the same slot on another template
    let mut retry = slotted(&fx, slot, None);
    retry.trigger = Trigger::Retry;
    retry.attempt = 1;
    retry.retry_of = Some(first.id);
    let r = s.create_and_schedule(&retry).await.unwrap();
    assert_eq!((r.slot, r.attempt), (Some(slot), 1));
    let o = s
        .create_and_schedule(&slotted(&other, slot, None))
        .await
        .unwrap();
    assert_eq!(o.slot, Some(slot));
    assert_eq!(
        template(h, &fx).await,
        t,
        "a retry does not touch next/last schedule"
    );
    assert_eq!(s.list_jobs(&JobFilter::default()).await.unwrap().len(), 3);
}

/// `schedule` jobs need a slot; ad-hoc jobs have none; only `schedule` jobs carry a CAS; the
/// template, company and app must exist.
pub async fn create_validates_trigger_slot_and_cas(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "validate", |t| t).await;
    let mut no_slot = slotted(&fx, t0, None);
    no_slot.slot = None;
    expect_err(
        s.create_and_schedule(&no_slot).await,
        "InvalidInput",
        "schedule without slot",
    );
    for trigger in [Trigger::Manual, Trigger::Api, Trigger::Cli] {
        let mut with_slot = adhoc(&fx, trigger, t0);
        with_slot.slot = Some(t0);
        expect_err(
            s.create_and_schedule(&with_slot).await,
            "InvalidInput",
            "ad-hoc job with a slot",
        );
        let mut with_cas = adhoc(&fx, trigger, t0);
        with_cas.cas = Some(cas(None, None));
        expect_err(
            s.create_and_schedule(&with_cas).await,
            "InvalidInput",
            "ad-hoc job with a compare-and-swap",
        );
    }
    let mut bad = adhoc(&fx, Trigger::Manual, t0);
    bad.runtemplate_id = crate::RunTemplateId(987_654_321);
    expect_err(
        s.create_and_schedule(&bad).await,
        "NotFound",
        "unknown template",
    );
    assert!(s.list_jobs(&JobFilter::default()).await.unwrap().is_empty());
    assert_eq!(template(h, &fx).await, fx.template);
}

/// Ad-hoc jobs (manual, api, cli) never touch `next_schedule` / `last_schedule`, whether they
/// succeed, fail or are cancelled; they do count.
pub async fn adhoc_jobs_leave_schedule_alone(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let next = t0 + secs(120);
    let last = t0 - secs(3600) + micros(5);
    let fx = seed(h, "adhoc", |mut t| {
        t.next_schedule = Some(next);
        t.last_schedule = Some(last);
        t.retry = RetryPolicy::new(3, 0);
        t
    })
    .await;
    assert_eq!(
        (fx.template.next_schedule, fx.template.last_schedule),
        (Some(next), Some(last))
    );
    let ok = finished(h, &adhoc(&fx, Trigger::Manual, t0), Outcome::Success, 0).await;
    assert_eq!((ok.job.slot, ok.retry.as_ref()), (None, None));
    advance(h, secs(1));
    let bad = finished(h, &adhoc(&fx, Trigger::Api, now(h)), Outcome::Failed, 2).await;
    assert!(bad.retry.is_none());
    advance(h, secs(1));
    let lost = finished(
        h,
        &adhoc(&fx, Trigger::Cli, now(h)),
        Outcome::PlatformError,
        -1,
    )
    .await;
    let retry = lost.retry.expect("platform errors are retried");
    assert_eq!(
        (retry.slot, retry.trigger, retry.attempt),
        (None, Trigger::Retry, 1)
    );
    s.request_cancel(retry.id, "bob").await.unwrap();
    let t = template(h, &fx).await;
    assert_eq!(
        (t.next_schedule, t.last_schedule),
        (Some(next), Some(last)),
        "ad-hoc jobs leave next/last schedule alone"
    );
    assert_eq!((t.successfull_jobs_count, t.failed_jobs_count), (1, 3));
}

/// A scheduled job's completion counts (success vs. everything else) and sets `next_schedule` to
/// the next slot after its own slot, unless the scheduler already set one.
pub async fn completion_updates_counters_and_next_schedule(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "hourly", |t| t.with_cron("0 * * * *")).await;
    let hour = secs(3600);
    let mut slot = t0 + hour; // 11:00
    assert!(
        s.set_next_schedule(fx.template.id, None, Some(slot))
            .await
            .unwrap()
    );
    let cases = [
        (Outcome::Success, 0, (1, 0)),
        (Outcome::Failed, 2, (1, 1)),
        (Outcome::Warning, 1, (1, 2)),
        (Outcome::Timeout, 137, (1, 3)),
        (Outcome::Success, 0, (2, 3)),
    ];
    for (outcome, code, want) in cases {
        let created = advance(h, hour + micros(17));
        let job = running(
            h,
            &slotted(&fx, slot, Some(cas(Some(slot), None))),
            "executor-1",
        )
        .await;
        let t = template(h, &fx).await;
        assert_eq!((t.next_schedule, t.last_schedule), (None, Some(created)));
        advance(h, secs(5));
        complete(h, &job, outcome, code).await;
        let t = template(h, &fx).await;
        assert_eq!(
            (t.successfull_jobs_count, t.failed_jobs_count),
            want,
            "counters after {outcome}"
        );
        assert_eq!(t.next_schedule, Some(slot + hour), "next slot after {slot}");
        assert_eq!(t.last_schedule, Some(created));
        slot += hour;
    }

    // `allow`-style: the scheduler already set the next slot; completion keeps it
    let later = slot + hour;
    advance(h, hour);
    let job = running(
        h,
        &slotted(&fx, slot, Some(cas(Some(slot), Some(later)))),
        "executor-1",
    )
    .await;
    complete(h, &job, Outcome::Success, 0).await;
    assert_eq!(template(h, &fx).await.next_schedule, Some(later));
}

/// The retry rule: same slot, `attempt + 1`, `retry_of`, trigger `retry`, due at
/// `end + delay × 2^(attempt-1)`, not before; none past `max_retries`; `next_schedule` stays NULL
/// until the chain ends.
pub async fn retry_chain_follows_policy(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let policy = RetryPolicy {
        retry_backoff: RetryBackoff::Exponential,
        retry_on_exit_codes: vec![3],
        ..RetryPolicy::new(2, 60)
    };
    let fx = seed(h, "retry", with_retry(policy)).await;
    let slot = t0 + secs(60);
    assert!(
        s.set_next_schedule(fx.template.id, None, Some(slot))
            .await
            .unwrap()
    );
    advance(h, secs(60));
    let mut new = slotted(&fx, slot, Some(cas(Some(slot), None)));
    new.trace_context = Some("trace-1".into());
    let mut job = running(h, &new, "executor-1").await;

    for (attempt, delay) in [(0u32, 60i64), (1, 120)] {
        let end = advance(h, secs(7));
        let done = complete(h, &job, Outcome::Failed, 3).await;
        assert_eq!(done.job.attempt, attempt);
        let retry = done.retry.expect("exit code 3 is retried");
        assert_eq!(
            retry,
            expected_retry(&done.job, retry.id, end + secs(delay), end),
            "retry of attempt {attempt}"
        );
        assert_eq!(s.get_job(retry.id).await.unwrap(), retry);
        assert!(!retry.command.contains("s3cret-Value"));
        assert_eq!(template(h, &fx).await.next_schedule, None, "chain not over");
        assert_eq!(
            s.schedulable_runtemplates().await.unwrap()[0].outstanding,
            vec![retry.id]
        );
        advance(h, secs(delay) - micros(1));
        assert!(
            s.claim(&native("executor-1", 10)).await.unwrap().is_empty(),
            "the retry is not due before end + delay"
        );
        advance(h, micros(1));
        let q = claim_one(h, "executor-1").await;
        assert_eq!(q.id, retry.id);
        job = begin(h, &q).await;
    }
    advance(h, secs(7));
    let done = complete(h, &job, Outcome::Failed, 3).await;
    assert_eq!(done.job.attempt, 2);
    assert_eq!(done.retry, None, "no retry past max_retries");
    let t = template(h, &fx).await;
    assert_eq!(
        t.next_schedule,
        Some(slot + secs(60)),
        "chain over: next slot after the slot"
    );
    assert_eq!((t.successfull_jobs_count, t.failed_jobs_count), (0, 3));
    assert!(
        s.schedulable_runtemplates().await.unwrap()[0]
            .outstanding
            .is_empty()
    );

    // a code outside retry_on_exit_codes is not retried even with attempts left
    let slot2 = slot + secs(60);
    let done = finished(
        h,
        &slotted(&fx, slot2, Some(cas(Some(slot2), None))),
        Outcome::Failed,
        4,
    )
    .await;
    assert_eq!(done.retry, None);
    assert_eq!(template(h, &fx).await.next_schedule, Some(slot2 + secs(60)));
}

/// With no `retry_on_exit_codes`, the app's `exitCodes[code].retry` decides; success and cancel
/// never retry; an ad-hoc job's retry has no slot.
pub async fn retry_uses_app_exit_code_flags(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "appcodes", with_retry(RetryPolicy::new(1, 30))).await;
    let mut app: App = fx.app.clone();
    app.exit_codes
        .insert(5, ExitCodeInfo::new("temporary", true));
    app.exit_codes
        .insert(6, ExitCodeInfo::new("permanent", false));
    app.exit_codes.insert(0, ExitCodeInfo::new("fine", true));
    s.put_app(&app).await.unwrap();

    let none = finished(h, &adhoc(&fx, Trigger::Manual, t0), Outcome::Failed, 6).await;
    assert_eq!(none.retry, None, "exitCodes[6].retry is false");
    let none = finished(h, &adhoc(&fx, Trigger::Manual, t0), Outcome::Failed, 7).await;
    assert_eq!(none.retry, None, "exit code 7 is not described");
    let none = finished(h, &adhoc(&fx, Trigger::Manual, t0), Outcome::Success, 0).await;
    assert_eq!(none.retry, None, "success never retries");
    let end = advance(h, secs(1));
    let done = finished(h, &adhoc(&fx, Trigger::Manual, end), Outcome::Failed, 5).await;
    let retry = done.retry.clone().expect("exitCodes[5].retry is true");
    assert_eq!(
        retry,
        expected_retry(&done.job, retry.id, end + secs(30), end)
    );
    assert_eq!(retry.slot, None);
    assert_eq!(counters(h, &fx).await, (1, 3));
}

/// Active templates with an interval other than `n`, each with its slot-carrying jobs that are
/// not finished yet, oldest first.
pub async fn schedulable_runtemplates_with_outstanding_jobs(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let a = seed(h, "sched-a", |t| t).await;
    let inactive = seed(h, "sched-b", |mut t| {
        t.active = false;
        t
    })
    .await;
    let disabled = seed(h, "sched-c", |t| t.with_interval(IntervalCode::Disabled)).await;
    let d = seed(h, "sched-d", |t| t.with_cron("*/5 * * * *")).await;
    let got = s.schedulable_runtemplates().await.unwrap();
    assert_eq!(
        got.iter().map(|g| g.template.clone()).collect::<Vec<_>>(),
        vec![a.template.clone(), d.template.clone()]
    );
    assert!(got.iter().all(|g| g.outstanding.is_empty()));

    let j1 = s.create_and_schedule(&slotted(&a, t0, None)).await.unwrap();
    let j2 = s
        .create_and_schedule(&slotted(&a, t0 + secs(60), None))
        .await
        .unwrap();
    s.create_and_schedule(&adhoc(&a, Trigger::Manual, t0))
        .await
        .unwrap();
    s.create_and_schedule(&slotted(&inactive, t0, None))
        .await
        .unwrap();
    s.create_and_schedule(&slotted(&disabled, t0, None))
        .await
        .unwrap();
    let got = s.schedulable_runtemplates().await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].template.id, a.template.id);
    assert_eq!(
        got[0].outstanding,
        vec![j1.id, j2.id],
        "slot jobs only, oldest first"
    );
    assert_eq!(got[0].template.last_schedule, Some(t0));
    assert!(got[1].outstanding.is_empty());

    let q = claim_one(h, "executor-1").await;
    assert_eq!(q.id, j1.id);
    let r = begin(h, &q).await;
    assert_eq!(
        s.schedulable_runtemplates().await.unwrap()[0].outstanding,
        vec![j1.id, j2.id]
    );
    complete(h, &r, Outcome::Success, 0).await;
    assert_eq!(
        s.schedulable_runtemplates().await.unwrap()[0].outstanding,
        vec![j2.id]
    );
    s.request_cancel(j2.id, "bob").await.unwrap();
    assert!(
        s.schedulable_runtemplates().await.unwrap()[0]
            .outstanding
            .is_empty()
    );
}

/// `set_next_schedule` is a compare-and-swap on the stored value (NULL included).
pub async fn set_next_schedule_compare_and_swap(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "setnext", |t| t).await;
    let id = fx.template.id;
    let a = t0 + secs(60) + micros(1);
    let b = t0 + secs(120);
    assert!(
        !s.set_next_schedule(id, Some(a), Some(b)).await.unwrap(),
        "stored is NULL"
    );
    assert_eq!(template(h, &fx).await.next_schedule, None);
    assert!(s.set_next_schedule(id, None, Some(a)).await.unwrap());
    assert_eq!(template(h, &fx).await.next_schedule, Some(a));
    assert!(!s.set_next_schedule(id, None, Some(b)).await.unwrap());
    assert!(
        !s.set_next_schedule(id, Some(a + micros(1)), Some(b))
            .await
            .unwrap()
    );
    assert_eq!(template(h, &fx).await.next_schedule, Some(a));
    assert!(s.set_next_schedule(id, Some(a), Some(b)).await.unwrap());
    assert!(s.set_next_schedule(id, Some(b), None).await.unwrap());
    assert_eq!(template(h, &fx).await.next_schedule, None);
    expect_err(
        s.set_next_schedule(crate::RunTemplateId(987_654_321), None, Some(a))
            .await,
        "NotFound",
        "unknown template",
    );
    let t = template(h, &fx).await;
    assert_eq!(
        (
            t.last_schedule,
            t.successfull_jobs_count,
            t.failed_jobs_count
        ),
        (None, 0, 0)
    );
}

/// A template's counters count every finish once, whether the finishes come in one batch, in
/// two batches at once or one by one, and read the same before and after
/// [`Catalog::fold_template_counts`](crate::store::Catalog::fold_template_counts) — two folds
/// at once included; an update of the template (carrying stale counters) never changes them.
pub async fn counters_hold_through_concurrent_finishes_and_folds(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "counted", |t| t).await;
    for i in 0..7 {
        s.create_and_schedule(&adhoc(&fx, Trigger::Cli, t0 + micros(i)))
            .await
            .unwrap();
    }
    advance(h, secs(1));
    let jobs = s.claim(&native("executor-1", 7)).await.unwrap();
    assert_eq!(jobs.len(), 7);
    let begins: Vec<Begin> = jobs
        .iter()
        .map(|j| Begin::new(LeaseRef::of(j), None, None))
        .collect();
    assert!(
        s.begin_many(&begins)
            .await
            .unwrap()
            .iter()
            .all(|r| r.is_ok())
    );
    advance(h, secs(1));
    let finish = |j: &crate::model::Job, outcome: Outcome, code: i32| {
        Finish::new(
            Completion::new(LeaseRef::of(j), outcome, code),
            Vec::new(),
            Vec::new(),
        )
    };
    let first = [
        finish(&jobs[0], Outcome::Success, 0),
        finish(&jobs[1], Outcome::Failed, 1),
        finish(&jobs[2], Outcome::Success, 0),
    ];
    let second = [
        finish(&jobs[3], Outcome::Success, 0),
        finish(&jobs[4], Outcome::Failed, 2),
        finish(&jobs[5], Outcome::Success, 0),
    ];
    let (a, b) = tokio::join!(
        s.finish_many(&first, h.artifacts.as_ref()),
        s.finish_many(&second, h.artifacts.as_ref()),
    );
    assert!(
        a.unwrap()
            .iter()
            .chain(b.unwrap().iter())
            .all(|r| r.is_ok())
    );
    assert_eq!(counters(h, &fx).await, (4, 2), "two batches at once");

    // An update carrying stale counters leaves them alone.
    let mut edit = template(h, &fx).await;
    edit.successfull_jobs_count = 0;
    edit.failed_jobs_count = 0;
    edit.name = "counted, renamed".into();
    s.update_runtemplate(&edit).await.unwrap();
    assert_eq!(counters(h, &fx).await, (4, 2), "after an update");

    let (f1, f2) = tokio::join!(s.fold_template_counts(), s.fold_template_counts());
    f1.unwrap();
    f2.unwrap();
    assert_eq!(counters(h, &fx).await, (4, 2), "after two folds at once");

    complete(h, &jobs[6], Outcome::Timeout, 124).await;
    assert_eq!(counters(h, &fx).await, (4, 3), "one more after the fold");
    s.fold_template_counts().await.unwrap();
    assert_eq!(s.fold_template_counts().await.unwrap(), 0, "nothing left");
    assert_eq!(counters(h, &fx).await, (4, 3), "after folding again");
}
