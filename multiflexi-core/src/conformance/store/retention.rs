//! Retention: cleanup by scope (company, app, exceptions), artifacts-only pruning, batches;
//! policies kept one per scope; the audit log pruned by age in batches.

use super::StoreHarness;
use super::fixtures::*;
use crate::lifecycle::Outcome;
use crate::model::{Job, RetentionPolicy, RetentionScope, RunTemplate};
use crate::store::{AuditEntry, AuditFilter, CleanupOptions, CleanupReport, JobFilter, LeaseRef};
use crate::{Error, Trigger};

async fn with_stdout(h: &StoreHarness, job: &Job) {
    let mut bytes: &[u8] = b"out";
    h.artifacts
        .put(LeaseRef::of(job), "stdout.txt", "text/plain", &mut bytes)
        .await
        .expect("put stdout.txt");
}

/// `cleanup` keeps to a company, an app, leaves out the excepted (company, app) patterns, deletes
/// only output and artifacts when asked (and does not pick those jobs again), and takes at most
/// `limit` jobs, the oldest first.
pub async fn cleanup_by_scope_exceptions_artifacts_only_and_batches(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let a = seed(h, "keep-a", |t| t).await;
    let b = seed(h, "keep-b", |t| t).await;
    let cross_t = s
        .create_runtemplate(&RunTemplate::new(b.app.id, a.company.id, "a runs b"))
        .await
        .unwrap();
    let cross = Fx {
        app: b.app.clone(),
        company: a.company.clone(),
        template: cross_t,
    };
    h.clock.set(t0 + secs(3600));
    let ja = finished(h, &adhoc(&a, Trigger::Manual, now(h)), Outcome::Success, 0)
        .await
        .job;
    with_stdout(h, &ja).await;
    let jx = finished(
        h,
        &adhoc(&cross, Trigger::Manual, now(h)),
        Outcome::Success,
        0,
    )
    .await
    .job;
    let jb = finished(h, &adhoc(&b, Trigger::Manual, now(h)), Outcome::Failed, 1)
        .await
        .job;
    h.clock.set(t0 + secs(36_000));
    let cutoff = t0 + secs(7200);

    let mut app_b = CleanupOptions::before(cutoff);
    app_b.app_id = Some(b.app.id);
    app_b.dry_run = true;
    assert_eq!(s.cleanup(&app_b).await.unwrap().jobs, 2, "app b: jx and jb");
    app_b.except = vec![(Some(a.company.id), None)];
    assert_eq!(
        s.cleanup(&app_b).await.unwrap().jobs,
        1,
        "app b without company a's jobs: jb"
    );
    app_b.except = vec![(Some(a.company.id), Some(b.app.id))];
    assert_eq!(s.cleanup(&app_b).await.unwrap().jobs, 1, "pair excepted");
    let mut not_b = CleanupOptions::before(cutoff);
    not_b.except = vec![(None, Some(b.app.id))];
    not_b.dry_run = true;
    assert_eq!(s.cleanup(&not_b).await.unwrap().jobs, 1, "only ja");

    let mut prune_a = CleanupOptions::before(cutoff);
    prune_a.company_id = Some(a.company.id);
    prune_a.artifacts_only = true;
    assert_eq!(
        s.cleanup(&prune_a).await.unwrap(),
        CleanupReport {
            jobs: 1,
            artifacts: 1,
            output_chunks: 0
        },
        "only ja still holds something"
    );
    let kept = s.get_job(ja.id).await.unwrap();
    assert_eq!(kept.outcome, Some(Outcome::Success), "the job row stays");
    assert!(h.artifacts.list(ja.id).await.unwrap().is_empty());
    assert_eq!(
        s.cleanup(&prune_a).await.unwrap(),
        CleanupReport::default(),
        "a pruned job is not picked again"
    );

    let mut batch = CleanupOptions::before(cutoff);
    batch.limit = Some(2);
    assert_eq!(s.cleanup(&batch).await.unwrap().jobs, 2);
    expect_err(s.get_job(ja.id).await, "NotFound", "the oldest goes first");
    expect_err(s.get_job(jx.id).await, "NotFound", "then the next");
    s.get_job(jb.id).await.unwrap();
    assert_eq!(s.cleanup(&batch).await.unwrap().jobs, 1);
    assert!(
        s.list_jobs(&JobFilter::default()).await.unwrap().is_empty(),
        "every finished job is gone"
    );
}

/// Policies are kept one per scope (set again: replaced), stamped with the store's clock,
/// checked, and removed; the audit log is pruned by age, the oldest first, `limit` at a time.
pub async fn retention_policies_one_per_scope_and_audit_pruning(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let a = seed(h, "policy-a", |t| t).await;
    let company = RetentionScope::Company {
        company_id: a.company.id,
    };
    s.put_retention_policy(&RetentionPolicy::new(RetentionScope::Default, 30))
        .await
        .unwrap();
    let mut p = RetentionPolicy::new(company, 7);
    p.artifacts_only = true;
    p.grace_days = 2;
    let stored = s.put_retention_policy(&p).await.unwrap();
    assert_eq!(stored.updated, Some(t0));
    assert!(stored.artifacts_only);
    h.clock.set(t0 + secs(60));
    s.put_retention_policy(&RetentionPolicy::new(RetentionScope::Default, 60))
        .await
        .unwrap();
    let listed = s.list_retention_policies().await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|p| (p.scope, p.days, p.grace_days, p.updated))
            .collect::<Vec<_>>(),
        [
            (RetentionScope::Default, 60, 0, Some(t0 + secs(60))),
            (company, 7, 2, Some(t0)),
        ]
    );
    let bad = s
        .put_retention_policy(&RetentionPolicy::new(RetentionScope::Audit, 0))
        .await;
    assert!(matches!(bad, Err(Error::InvalidInput { .. })), "{bad:?}");
    assert_eq!(
        s.delete_retention_policy(company)
            .await
            .unwrap()
            .map(|p| p.days),
        Some(7)
    );
    assert_eq!(s.delete_retention_policy(company).await.unwrap(), None);

    let day = secs(86_400);
    for back in [30, 20, 10] {
        let mut e = AuditEntry::new(None, "test", "test:old", format!("{back} days ago"));
        e.at = t0 - day * back;
        s.append_audit(&e).await.unwrap();
    }
    let before = t0 - day * 15;
    assert_eq!(s.prune_audit(before, 100, true).await.unwrap(), 2);
    assert_eq!(s.prune_audit(before, 1, false).await.unwrap(), 1);
    let left: Vec<String> = s
        .list_audit(&AuditFilter::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "test:old")
        .map(|e| e.detail)
        .collect();
    assert_eq!(
        left,
        ["20 days ago", "10 days ago"],
        "the oldest went first"
    );
    assert_eq!(s.prune_audit(before, 100, false).await.unwrap(), 1);
    assert_eq!(s.prune_audit(before, 100, false).await.unwrap(), 0);
}
