//! Set-wise creation: `create_many` judges every job as `create_and_schedule` would, one after
//! the other, and writes the rest.

use super::StoreHarness;
use super::fixtures::*;
use crate::lifecycle::Phase;
use crate::store::{AuditFilter, JobFilter};
use crate::{JobId, RunTemplateId, Trigger};

/// One batch with every verdict: created jobs (each exactly the row `get_job` returns, ids
/// rising in input order, one `phase:scheduled` row each with the same detail text on every
/// backend), a stored idempotency key (that job), a key carried twice in the batch (the first
/// one's job), a slot taken earlier in the batch (AlreadyExists), a missing template
/// (NotFound), a missing retried job and an ad-hoc job with a slot (InvalidInput), and a
/// chain of compare-and-swaps on one template applied in order (the stale one Conflict).
pub async fn create_many_judges_each_job_on_its_own(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "many", |t| t).await;
    assert!(s.create_many(&[]).await.unwrap().is_empty());

    let mut keyed = adhoc(&fx, Trigger::Api, t0);
    keyed.idempotency_key = Some("k-stored".into());
    let stored = s.create_and_schedule(&keyed).await.unwrap();

    let (s1, s2, s3) = (t0 + secs(60), t0 + secs(120), t0 + secs(180));
    assert!(
        s.set_next_schedule(fx.template.id, None, Some(s1))
            .await
            .unwrap()
    );
    let mut no_template = adhoc(&fx, Trigger::Api, t0);
    no_template.runtemplate_id = RunTemplateId(987_654);
    let mut no_retried = adhoc(&fx, Trigger::Manual, t0);
    no_retried.retry_of = Some(JobId(987_654));
    let mut with_slot = adhoc(&fx, Trigger::Api, t0);
    with_slot.slot = Some(s1);
    let mut key_a = adhoc(&fx, Trigger::Api, t0 + secs(1));
    key_a.idempotency_key = Some("k-new".into());
    let mut key_b = adhoc(&fx, Trigger::Cli, t0 + secs(9));
    key_b.idempotency_key = Some("k-new".into());
    let mut by_scheduler = adhoc(&fx, Trigger::Cli, t0 + secs(2));
    by_scheduler.launched_by = None;
    let batch = vec![
        adhoc(&fx, Trigger::Api, t0),                    // 0 created
        keyed.clone(),                                   // 1 the stored job
        no_template,                                     // 2 NotFound
        slotted(&fx, s1, Some(cas(Some(s1), Some(s2)))), // 3 created
        slotted(&fx, s1, None),                          // 4 AlreadyExists (slot taken by 3)
        key_a,                                           // 5 created
        key_b,                                           // 6 the job of 5
        with_slot,                                       // 7 InvalidInput
        no_retried,                                      // 8 InvalidInput
        slotted(&fx, s2, Some(cas(Some(s2), Some(s3)))), // 9 created (after 3's swap)
        slotted(&fx, s3, Some(cas(Some(s1), None))),     // 10 Conflict (stale)
        by_scheduler,                                    // 11 created
    ];
    let now = advance(h, secs(3));
    let results = s.create_many(&batch).await.unwrap();
    assert_eq!(results.len(), batch.len(), "one result per input");

    let created: Vec<usize> = vec![0, 3, 5, 9, 11];
    let mut last = stored.id;
    for &i in &created {
        let job = results[i]
            .as_ref()
            .unwrap_or_else(|e| panic!("input {i}: {e}"));
        assert!(job.id > last, "input {i}: ids rise in input order");
        last = job.id;
        assert_eq!(job, &expected_new(&batch[i], job.id, now), "input {i}");
        assert_eq!(
            &s.get_job(job.id).await.unwrap(),
            job,
            "input {i} as stored"
        );
        assert_eq!(job.phase, Phase::Scheduled);
        let rows = s.list_audit(&AuditFilter::job(job.id)).await.unwrap();
        assert_eq!(rows.len(), 1, "input {i}: one audit row");
        let actor = batch[i].launched_by.as_deref().unwrap_or("scheduler");
        assert_eq!(
            (rows[0].action.as_str(), rows[0].actor.as_str(), rows[0].at),
            ("phase:scheduled", actor, now),
            "input {i}"
        );
        let slot = job
            .slot
            .map(|s| format!(" slot={}", s.to_rfc3339()))
            .unwrap_or_default();
        assert_eq!(
            rows[0].detail,
            format!(
                "trigger={} attempt=0 after={}{slot}",
                job.trigger,
                job.after.to_rfc3339()
            ),
            "input {i}"
        );
    }
    assert_eq!(results[1].as_ref().unwrap(), &stored);
    assert_eq!(results[6].as_ref().unwrap(), results[5].as_ref().unwrap());
    let want = [
        (2, "NotFound"),
        (4, "AlreadyExists"),
        (7, "InvalidInput"),
        (8, "InvalidInput"),
        (10, "Conflict"),
    ];
    for (i, kind_wanted) in want {
        match &results[i] {
            Ok(job) => panic!("input {i} was created: {job:?}"),
            Err(e) => assert_eq!(kind(e), kind_wanted, "input {i}: {e}"),
        }
    }
    let t = template(h, &fx).await;
    assert_eq!(
        (t.next_schedule, t.last_schedule),
        (Some(s3), Some(now)),
        "the swaps applied in input order"
    );
    let jobs = s.list_jobs(&JobFilter::default()).await.unwrap();
    assert_eq!(jobs.len(), 1 + created.len(), "nothing else was written");
    let slots: Vec<_> = jobs.iter().filter_map(|j| j.slot).collect();
    assert_eq!(slots.len(), 2, "{slots:?}");

    // The same batch again: every key and slot is stored now.
    let again = s.create_many(&batch[3..=6]).await.unwrap();
    for r in &again[..2] {
        let e = r.as_ref().expect_err("a stored slot");
        assert_eq!(kind(e), "AlreadyExists", "{e}");
    }
    assert_eq!(again[2].as_ref().unwrap(), results[5].as_ref().unwrap());
    assert_eq!(again[3].as_ref().unwrap(), results[5].as_ref().unwrap());
}
