//! Actions after completion: `job_action` rows written with Completed on every finish path,
//! claimed exclusively, leased, fenced, backed off.

use super::StoreHarness;
use super::fixtures::*;
use crate::RunTemplateId;
use crate::lifecycle::{Outcome, Trigger};
use crate::model::{Action, ActionState, JobAction, RunTemplate};
use crate::store::{ActionResult, Begin, Completion, Finish, LeaseRef, MAX_ACTION_ATTEMPTS};
use std::time::Duration as StdDuration;

fn webhook() -> Action {
    Action::Webhook {
        url: "http://127.0.0.1:9/hook".into(),
        timeout_s: 5,
        secret: Some("hmac-s3cret".into()),
        include_stdout: true,
    }
}

fn with_actions(t: RunTemplate) -> RunTemplate {
    let mut t = t;
    t.on_success = vec![
        webhook(),
        Action::Launch {
            template_id: RunTemplateId(t.id.0.max(1)),
        },
    ];
    t.on_failure = vec![
        Action::Deactivate,
        Action::RetryLater { after_s: 30 },
        Action::Zabbix {
            key: "job.failed".into(),
            value: Some("{outcome}".into()),
        },
    ];
    t
}

async fn begin_all(h: &StoreHarness, jobs: &[crate::Job]) {
    let starts: Vec<Begin> = jobs
        .iter()
        .map(|j| Begin::new(LeaseRef::of(j), None, None))
        .collect();
    let r = h.store.begin_many(&starts).await.expect("begin_many");
    assert!(r.iter().all(|r| r.is_ok()), "{r:?}");
}

fn kinds(rows: &[JobAction]) -> Vec<&'static str> {
    rows.iter().map(|a| a.action.kind()).collect()
}

#[track_caller]
fn all_pending(rows: &[JobAction], job: crate::JobId, at: chrono::DateTime<chrono::Utc>) {
    for (i, a) in rows.iter().enumerate() {
        assert_eq!(a.job_id, job);
        assert_eq!(a.idx as usize, i);
        assert_eq!(a.state, ActionState::Pending);
        assert_eq!(a.attempts, 0);
        assert_eq!(a.last_error, None);
        assert_eq!(a.next_attempt_at, at);
        assert_eq!(a.lease_owner, None);
    }
}

/// Every way a job completes writes the template's actions for its outcome (`on_success` for
/// success, `on_failure` for anything else) with Completed: one by one, in a finish batch (ad-hoc
/// and slotted, success and failure), by recovery (`lost`) — and a template without actions
/// writes none. The settings round-trip, the webhook secret included.
pub async fn completion_writes_actions_for_its_outcome(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "actions", with_actions).await;
    let plain = seed(h, "plain", |t| t).await;
    let stored = template(h, &fx).await;
    assert_eq!(
        stored.on_success, fx.template.on_success,
        "on_success round-trips"
    );
    assert_eq!(
        stored.on_failure, fx.template.on_failure,
        "on_failure round-trips"
    );
    assert_eq!(stored.on_success[0], webhook(), "the secret round-trips");

    // one by one: success
    let c = finished(h, &adhoc(&fx, Trigger::Cli, t0), Outcome::Success, 0).await;
    let rows = s.job_actions(c.job.id).await.unwrap();
    assert_eq!(kinds(&rows), ["webhook", "launch"]);
    assert_eq!(rows[0].action, webhook());
    all_pending(&rows, c.job.id, c.job.end.unwrap());

    // a batch: ad-hoc success, ad-hoc failure, slotted success, a job of a template without any
    let ttl = StdDuration::from_secs(10);
    let t1 = advance(h, secs(1));
    let a = s
        .create_and_schedule(&adhoc(&fx, Trigger::Api, t1))
        .await
        .unwrap();
    let b = s
        .create_and_schedule(&adhoc(&fx, Trigger::Manual, t1))
        .await
        .unwrap();
    let slot = t1;
    let d = s
        .create_and_schedule(&slotted(&fx, slot, None))
        .await
        .unwrap();
    let e = s
        .create_and_schedule(&adhoc(&plain, Trigger::Cli, t1))
        .await
        .unwrap();
    let jobs = s
        .claim(&native("executor-a", 10).with_lease_ttl(ttl))
        .await
        .unwrap();
    assert_eq!(jobs.len(), 4);
    begin_all(h, &jobs).await;
    let lease = |id| LeaseRef::of(jobs.iter().find(|j| j.id == id).expect("claimed"));
    let t2 = advance(h, secs(1));
    let fin = |id, o, x| Finish::new(Completion::new(lease(id), o, x), Vec::new(), Vec::new());
    let r = s
        .finish_many(
            &[
                fin(a.id, Outcome::Success, 0),
                fin(b.id, Outcome::Failed, 2),
                fin(d.id, Outcome::Success, 0),
                fin(e.id, Outcome::Success, 0),
            ],
            h.artifacts.as_ref(),
        )
        .await
        .unwrap();
    assert!(r.iter().all(|r| r.is_ok()), "{r:?}");
    for (id, want) in [
        (a.id, vec!["webhook", "launch"]),
        (b.id, vec!["deactivate", "retry_later", "zabbix"]),
        (d.id, vec!["webhook", "launch"]),
        (e.id, vec![]),
    ] {
        let rows = s.job_actions(id).await.unwrap();
        assert_eq!(kinds(&rows), want, "job {id}");
        all_pending(&rows, id, t2);
    }

    // a batch of only ad-hoc successes and cancels (a store's fastest finish path)
    let t3 = advance(h, secs(1));
    let f = s
        .create_and_schedule(&adhoc(&fx, Trigger::Cli, t3))
        .await
        .unwrap();
    let g = s
        .create_and_schedule(&adhoc(&fx, Trigger::Cli, t3))
        .await
        .unwrap();
    let jobs = s
        .claim(&native("executor-a", 10).with_lease_ttl(ttl))
        .await
        .unwrap();
    assert_eq!(jobs.len(), 2);
    begin_all(h, &jobs).await;
    let r = s
        .finish_many(
            &[
                Finish::new(
                    Completion::new(LeaseRef::of(&jobs[0]), Outcome::Success, 0),
                    Vec::new(),
                    Vec::new(),
                ),
                Finish::new(
                    Completion::new(LeaseRef::of(&jobs[1]), Outcome::Cancelled, 137),
                    Vec::new(),
                    Vec::new(),
                ),
            ],
            h.artifacts.as_ref(),
        )
        .await
        .unwrap();
    assert!(r.iter().all(|r| r.is_ok()), "{r:?}");
    let (ok, cancelled) = if jobs[0].id == f.id {
        (f.id, g.id)
    } else {
        (g.id, f.id)
    };
    assert_eq!(
        kinds(&s.job_actions(ok).await.unwrap()),
        ["webhook", "launch"]
    );
    assert_eq!(
        kinds(&s.job_actions(cancelled).await.unwrap()),
        ["deactivate", "retry_later", "zabbix"],
        "cancelled is not success"
    );

    // recovery: a Running job whose lease expired ends lost → on_failure
    let t4 = advance(h, secs(1));
    let lost = running(h, &adhoc(&fx, Trigger::Cli, t4), "executor-gone").await;
    advance(h, secs(60));
    let rec = s.recover_expired().await.unwrap();
    assert_eq!(rec.lost.len(), 1);
    assert_eq!(
        kinds(&s.job_actions(lost.id).await.unwrap()),
        ["deactivate", "retry_later", "zabbix"]
    );
}

/// A due action goes to exactly one of two concurrent claimers, with owner, a new token, an
/// expiry and one more attempt; it is not handed out again while leased; once the lease expired
/// another runner takes it over (token + 1) and the first runner's result is Conflict.
pub async fn actions_are_claimed_once_and_fenced(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "claim actions", with_actions).await;
    let c = finished(h, &adhoc(&fx, Trigger::Cli, t0), Outcome::Success, 0).await;
    let ttl = StdDuration::from_secs(30);
    let (x, y) = tokio::join!(
        s.claim_actions("runner-x", 10, ttl),
        s.claim_actions("runner-y", 10, ttl)
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    let mut ids: Vec<i64> = x.iter().chain(&y).map(|a| a.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 2, "each action claimed once: {x:?} {y:?}");
    assert_eq!(x.len() + y.len(), 2);
    let claimed: Vec<JobAction> = x.into_iter().chain(y).collect();
    let now0 = now(h);
    for a in &claimed {
        assert_eq!(a.job_id, c.job.id);
        assert_eq!(a.attempts, 1);
        assert_eq!(a.state, ActionState::Pending);
        assert!(a.lease_owner.is_some());
        assert_eq!(a.lease_expires, Some(now0 + secs(30)));
    }
    assert!(
        s.claim_actions("runner-z", 10, ttl)
            .await
            .unwrap()
            .is_empty()
    );

    // limit
    advance(h, secs(30));
    let one = s.claim_actions("runner-z", 1, ttl).await.unwrap();
    assert_eq!(
        one.len(),
        1,
        "an expired lease is claimable again, up to the limit"
    );
    let first = claimed.iter().find(|a| a.id == one[0].id).unwrap();
    assert_eq!(one[0].lease_token, first.lease_token + 1);
    assert_eq!(one[0].attempts, 2);
    assert_eq!(one[0].lease_owner.as_deref(), Some("runner-z"));

    // the old holder's result is fenced off
    expect_err(
        s.finish_action(first.lease(), &ActionResult::Done).await,
        "Conflict",
        "a result under a taken-over lease",
    );
    let done = s
        .finish_action(one[0].lease(), &ActionResult::Done)
        .await
        .unwrap();
    assert_eq!(done.state, ActionState::Done);
    assert_eq!(done.finished, Some(now(h)));
    assert_eq!(done.lease_owner, None);
    expect_err(
        s.finish_action(one[0].lease(), &ActionResult::Done).await,
        "Conflict",
        "a second result",
    );
    let rows = s.job_actions(c.job.id).await.unwrap();
    assert_eq!(
        rows[done.idx as usize], done,
        "job_actions reads what finish_action returned"
    );
}

/// A failed attempt is pending again after the back-off (not claimable before), keeps its
/// error, and after the last attempt the action is `failed`; none of it touches the job.
pub async fn failed_actions_back_off_then_fail(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "failing actions", with_actions).await;
    let c = finished(h, &adhoc(&fx, Trigger::Cli, t0), Outcome::Failed, 3).await;
    let ttl = StdDuration::from_secs(30);
    // take all three, then fail the first one repeatedly; finish the others
    let all = s.claim_actions("runner", 10, ttl).await.unwrap();
    assert_eq!(all.len(), 3);
    for a in &all[1..] {
        s.finish_action(a.lease(), &ActionResult::Done)
            .await
            .unwrap();
    }
    let mut a = all[0].clone();
    for attempt in 1..=MAX_ACTION_ATTEMPTS {
        assert_eq!(a.attempts, attempt);
        let result = ActionResult::failed(format!("boom {attempt}"), a.attempts);
        let after = s.finish_action(a.lease(), &result).await.unwrap();
        assert_eq!(
            after.last_error.as_deref(),
            Some(format!("boom {attempt}").as_str())
        );
        let ActionResult::Failed { retry_in, .. } = result else {
            unreachable!()
        };
        match retry_in {
            Some(d) => {
                assert_eq!(after.state, ActionState::Pending);
                let d = chrono::Duration::from_std(d).unwrap();
                assert_eq!(after.next_attempt_at, now(h) + d);
                advance(h, d - secs(1));
                assert!(
                    s.claim_actions("runner", 10, ttl).await.unwrap().is_empty(),
                    "not before its back-off"
                );
                advance(h, secs(1));
                let mut got = s.claim_actions("runner", 10, ttl).await.unwrap();
                assert_eq!(got.len(), 1);
                a = got.remove(0);
            }
            None => {
                assert_eq!(attempt, MAX_ACTION_ATTEMPTS);
                assert_eq!(after.state, ActionState::Failed);
                assert_eq!(after.finished, Some(now(h)));
            }
        }
    }
    advance(h, secs(3600));
    assert!(s.claim_actions("runner", 10, ttl).await.unwrap().is_empty());
    let job = s.get_job(c.job.id).await.unwrap();
    assert_eq!(
        job.outcome,
        Some(Outcome::Failed),
        "the job's outcome is untouched"
    );
    assert_eq!(job.exitcode, Some(3));
}
