//! Claims: exclusivity under concurrency, executor kinds, limits, order, due time.

use super::StoreHarness;
use super::fixtures::*;
use crate::lifecycle::Phase;
use crate::model::ExecutorKind;
use crate::store::ClaimOptions;
use crate::{JobId, Trigger};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// 8 tasks claim concurrently (batches of 7) from 500 due jobs on one store: every job is
/// claimed exactly once, by the task whose claim returned it, with token 1.
pub async fn concurrent_claimers_claim_each_job_once(h: &StoreHarness) {
    const JOBS: usize = 500;
    const CLAIMERS: usize = 8;
    let t0 = start(h);
    let fx = seed(h, "claimers", |t| t).await;
    let mut created = BTreeSet::new();
    for i in 0..JOBS {
        let after = t0 - secs(1) + micros(i as i64);
        let j = h
            .store
            .create_and_schedule(&adhoc(&fx, Trigger::Api, after))
            .await
            .unwrap();
        created.insert(j.id);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(CLAIMERS));
    let mut tasks = Vec::new();
    for n in 0..CLAIMERS {
        let store = h.store.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let owner = format!("executor-{n}");
            let mut mine = Vec::new();
            barrier.wait().await;
            loop {
                let got = store.claim(&native(&owner, 7)).await.unwrap();
                if got.is_empty() {
                    break;
                }
                assert!(got.len() <= 7, "limit respected");
                for j in got {
                    assert_eq!(j.phase, Phase::Queued);
                    assert_eq!(j.lease_owner.as_deref(), Some(owner.as_str()));
                    assert_eq!(j.lease_token, 1);
                    mine.push(j.id);
                }
                tokio::task::yield_now().await;
            }
            (owner, mine)
        }));
    }
    let mut owner_of: BTreeMap<JobId, String> = BTreeMap::new();
    for t in tasks {
        let (owner, mine) = t.await.expect("claimer task");
        for id in mine {
            if let Some(other) = owner_of.insert(id, owner.clone()) {
                panic!("job {id} claimed twice: by {other} and by {owner}");
            }
        }
    }
    assert_eq!(
        owner_of.keys().copied().collect::<BTreeSet<_>>(),
        created,
        "every job claimed exactly once"
    );
    for (id, owner) in owner_of.iter().step_by(37) {
        let j = h.store.get_job(*id).await.unwrap();
        assert_eq!(
            (j.phase, j.lease_owner.as_deref(), j.lease_token),
            (Phase::Queued, Some(owner.as_str()), 1)
        );
    }
    let o = h.store.queue_overview().await.unwrap();
    assert_eq!((o.due, o.waiting, o.queued), (0, 0, JOBS as u64));
}

/// A claim returns only jobs of the executor kinds it asks for, at most `limit` of them.
pub async fn claim_only_requested_executor_kinds_up_to_limit(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "kinds", |t| t).await;
    let kinds = [
        ExecutorKind::Native,
        ExecutorKind::Docker,
        ExecutorKind::Podman,
        ExecutorKind::Docker,
        ExecutorKind::Native,
        ExecutorKind::Podman,
        ExecutorKind::Docker,
    ];
    let mut by_kind: BTreeMap<ExecutorKind, Vec<JobId>> = BTreeMap::new();
    for (i, k) in kinds.iter().enumerate() {
        let mut new = adhoc(&fx, Trigger::Manual, t0 - secs(10) + secs(i as i64));
        new.executor = *k;
        let j = s.create_and_schedule(&new).await.unwrap();
        assert_eq!(j.executor, *k);
        by_kind.entry(*k).or_default().push(j.id);
    }
    let claim = |kinds: Vec<ExecutorKind>, limit: usize| async move {
        s.claim(&ClaimOptions::new("executor-x", kinds, limit))
            .await
            .unwrap()
    };

    assert!(claim(vec![ExecutorKind::Kubernetes], 10).await.is_empty());
    assert!(claim(vec![], 10).await.is_empty(), "no kinds, no jobs");
    assert!(
        claim(vec![ExecutorKind::Docker], 0).await.is_empty(),
        "limit 0"
    );

    let got = claim(vec![ExecutorKind::Docker], 2).await;
    assert_eq!(
        got.iter().map(|j| j.id).collect::<Vec<_>>(),
        by_kind[&ExecutorKind::Docker][..2].to_vec(),
        "the two oldest Docker jobs"
    );
    assert!(got.iter().all(|j| j.executor == ExecutorKind::Docker));

    let got = claim(vec![ExecutorKind::Podman, ExecutorKind::Docker], 10).await;
    let mut want = vec![
        by_kind[&ExecutorKind::Podman][0],
        by_kind[&ExecutorKind::Podman][1],
        by_kind[&ExecutorKind::Docker][2],
    ];
    want.sort();
    let mut ids: Vec<JobId> = got.iter().map(|j| j.id).collect();
    ids.sort();
    assert_eq!(ids, want);
    assert!(
        claim(vec![ExecutorKind::Podman, ExecutorKind::Docker], 10)
            .await
            .is_empty()
    );

    let got = claim(vec![ExecutorKind::Native], 10).await;
    assert_eq!(
        got.iter().map(|j| j.id).collect::<Vec<_>>(),
        by_kind[&ExecutorKind::Native]
    );
    let o = s.queue_overview().await.unwrap();
    assert_eq!((o.due, o.queued), (0, kinds.len() as u64));
}

/// Claims take the oldest `after` first, then the lowest id.
pub async fn claim_oldest_after_first(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "order", |t| t).await;
    let offsets = [30, 10, 20, 10, 0, 20];
    let mut jobs = Vec::new();
    for off in offsets {
        let j = s
            .create_and_schedule(&adhoc(&fx, Trigger::Manual, t0 - secs(60) + secs(off)))
            .await
            .unwrap();
        jobs.push((j.after, j.id));
    }
    let mut want = jobs.clone();
    want.sort();
    let first = s.claim(&native("executor-1", 2)).await.unwrap();
    let rest = s.claim(&native("executor-1", 10)).await.unwrap();
    let got: Vec<_> = first.iter().chain(&rest).map(|j| (j.after, j.id)).collect();
    assert_eq!(got, want, "claimed in (after, id) order");
    assert_eq!(first.len(), 2);
}

/// A job is due when `after <= now`: one microsecond early it is not claimed.
pub async fn not_yet_due_jobs_not_claimed(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "due", |t| t).await;
    let later = s
        .create_and_schedule(&adhoc(&fx, Trigger::Manual, t0 + secs(30)))
        .await
        .unwrap();
    let far = s
        .create_and_schedule(&adhoc(&fx, Trigger::Manual, t0 + secs(3600)))
        .await
        .unwrap();
    assert!(s.claim(&native("executor-1", 10)).await.unwrap().is_empty());
    let o = s.queue_overview().await.unwrap();
    assert_eq!((o.due, o.waiting), (0, 2));

    advance(h, secs(30) - micros(1));
    assert!(
        s.claim(&native("executor-1", 10)).await.unwrap().is_empty(),
        "1 µs before it is due"
    );
    advance(h, micros(1));
    let o = s.queue_overview().await.unwrap();
    assert_eq!((o.due, o.waiting), (1, 1));
    let got = s.claim(&native("executor-1", 10)).await.unwrap();
    assert_eq!(got.iter().map(|j| j.id).collect::<Vec<_>>(), vec![later.id]);
    assert_eq!(s.get_job(far.id).await.unwrap().phase, Phase::Scheduled);
}

/// `next_due` counts down to the earliest unclaimed job of the kinds asked for, by the clock the
/// claim compares `after` with: claimed jobs and other kinds do not count, zero once it is due.
pub async fn next_due_counts_down_to_the_earliest_waiting_job(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "next-due", |t| t).await;
    let native_only = [ExecutorKind::Native];
    assert_eq!(s.next_due(&native_only).await.unwrap(), None, "no jobs");
    let mut docker = adhoc(&fx, Trigger::Manual, t0 + secs(10));
    docker.executor = ExecutorKind::Docker;
    s.create_and_schedule(&docker).await.unwrap();
    let later = s
        .create_and_schedule(&adhoc(&fx, Trigger::Manual, t0 + secs(30)))
        .await
        .unwrap();
    s.create_and_schedule(&adhoc(&fx, Trigger::Manual, t0 + secs(3600)))
        .await
        .unwrap();
    let due = |kinds: Vec<ExecutorKind>| async move { s.next_due(&kinds).await.unwrap() };
    let std_secs = std::time::Duration::from_secs;
    assert_eq!(due(vec![ExecutorKind::Native]).await, Some(std_secs(30)));
    assert_eq!(due(vec![ExecutorKind::Docker]).await, Some(std_secs(10)));
    assert_eq!(
        due(vec![ExecutorKind::Native, ExecutorKind::Docker]).await,
        Some(std_secs(10)),
        "the earliest of the kinds"
    );
    assert_eq!(due(vec![ExecutorKind::Podman]).await, None);
    assert_eq!(due(vec![]).await, None, "no kinds, no jobs");

    advance(h, secs(25));
    assert_eq!(due(vec![ExecutorKind::Native]).await, Some(std_secs(5)));
    assert_eq!(
        due(vec![ExecutorKind::Docker]).await,
        Some(std::time::Duration::ZERO),
        "due already"
    );
    advance(h, secs(5));
    let got = s.claim(&native("executor-1", 10)).await.unwrap();
    assert_eq!(got.iter().map(|j| j.id).collect::<Vec<_>>(), vec![later.id]);
    assert_eq!(
        due(vec![ExecutorKind::Native]).await,
        Some(std_secs(3600 - 30)),
        "a claimed job no longer waits"
    );
}

/// A job still waiting can be moved: into the past it is claimed at once, into the future no
/// claim sees it; a claimed job cannot be moved (Conflict), an unknown one is NotFound.
pub async fn reschedule_moves_only_waiting_jobs(h: &StoreHarness) {
    let t0 = start(h);
    let fx = seed(h, "moves", |t| t).await;
    let s = h.store.as_ref();
    let later = s
        .create_and_schedule(&adhoc(&fx, Trigger::Api, t0 + secs(3600)))
        .await
        .unwrap();
    let soon = s
        .create_and_schedule(&adhoc(&fx, Trigger::Api, t0 - secs(1)))
        .await
        .unwrap();
    // the due one goes to the future, the later one to the past (µs kept)
    let future = t0 + secs(7200) + micros(7);
    let moved = s.reschedule(soon.id, future).await.unwrap();
    assert_eq!((moved.after, moved.phase), (future, Phase::Scheduled));
    let past = t0 - secs(5) + micros(3);
    assert_eq!(s.reschedule(later.id, past).await.unwrap().after, past);
    assert_eq!(s.get_job(later.id).await.unwrap().after, past);
    let claimed = s.claim(&native("w", 10)).await.unwrap();
    let ids: Vec<JobId> = claimed.iter().map(|j| j.id).collect();
    assert_eq!(ids, [later.id], "only the job moved into the past is due");
    expect_err(
        s.reschedule(later.id, t0).await,
        "Conflict",
        "a claimed job",
    );
    expect_err(
        s.reschedule(JobId(987_654_321), t0).await,
        "NotFound",
        "an unknown job",
    );
    advance(h, secs(7201));
    let claimed = s.claim(&native("w", 10)).await.unwrap();
    assert_eq!(claimed.iter().map(|j| j.id).collect::<Vec<_>>(), [soon.id]);
}
