use super::*;
use crate::usecase::companies::NewCompany;
use multiflexi_core::model::{App, JobSpec, NewJob, RetentionPolicy, RetentionScope, RunTemplate};
use multiflexi_core::store::{
    Begin, Catalog as _, ClaimOptions, Completion, JobQueue as _, LeaseRef,
};
use multiflexi_core::{ExecutorKind, Outcome, Trigger};

/// Use cases on a manual clock, with one company, app and template, and `n` finished jobs
/// that ended at the clock's start.
pub(super) async fn with_finished_jobs(n: usize) -> (UseCases, Arc<ManualClock>, CompanyId) {
    let start = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let clock = Arc::new(ManualClock::new(start));
    let store = Arc::new(InMemoryStore::with_clock(clock.clone()));
    let u = UseCases::new(
        store.clone(),
        clock.clone(),
        Arc::new(multiflexi_core::telemetry::NoopTelemetry),
    );
    let c = u
        .create_company(&operator(), NewCompany::named("Acme"))
        .await
        .unwrap();
    let app = store
        .put_app(&App::new("probe", "/bin/true"))
        .await
        .unwrap();
    let t = store
        .create_runtemplate(&RunTemplate::new(app.id, c.id, "nightly"))
        .await
        .unwrap();
    for _ in 0..n {
        let new = NewJob::new(
            t.id,
            c.id,
            app.id,
            ExecutorKind::Native,
            JobSpec::new("/bin/true", vec![]),
            Trigger::Manual,
            start,
        );
        store.create_and_schedule(&new).await.unwrap();
        let job = store
            .claim(&ClaimOptions::new("x", vec![ExecutorKind::Native], 1))
            .await
            .unwrap()
            .remove(0);
        let job = store
            .begin_many(&[Begin::new(LeaseRef::of(&job), None, None)])
            .await
            .unwrap()
            .remove(0)
            .unwrap();
        store
            .complete_many(&[Completion::new(LeaseRef::of(&job), Outcome::Success, 0)])
            .await
            .unwrap()
            .remove(0)
            .unwrap();
    }
    (u, clock, c.id)
}

#[tokio::test]
async fn policies_are_admin_only_checked_and_audited() {
    let (u, _clock, company) = with_finished_jobs(0).await;
    let token = company_token(company);
    let p = RetentionPolicy::new(RetentionScope::Default, 30);
    assert_eq!(field_of(u.set_retention(&token, p.clone()).await), "token");
    assert_eq!(field_of(u.retention_policies(&token).await), "token");
    assert_eq!(field_of(u.run_retention(&token, true).await), "token");
    assert_eq!(
        field_of(
            u.set_retention(
                &operator(),
                RetentionPolicy::new(RetentionScope::Default, 0)
            )
            .await
        ),
        "days"
    );
    let ghost = RetentionScope::Company {
        company_id: CompanyId(99),
    };
    assert!(matches!(
        u.set_retention(&operator(), RetentionPolicy::new(ghost, 5))
            .await,
        Err(Error::NotFound { .. })
    ));
    let stored = u.set_retention(&operator(), p).await.unwrap();
    assert!(stored.updated.is_some());
    assert_eq!(u.retention_policies(&operator()).await.unwrap().len(), 1);
    u.unset_retention(&operator(), RetentionScope::Default)
        .await
        .unwrap();
    assert!(matches!(
        u.unset_retention(&operator(), RetentionScope::Default)
            .await,
        Err(Error::NotFound { .. })
    ));
    let actions: Vec<String> = audit_rows(&u).await.into_iter().map(|r| r.1).collect();
    assert_eq!(
        actions,
        ["company:create", "retention:set", "retention:unset"]
    );
}

#[tokio::test]
async fn a_run_deletes_in_batches_after_the_grace_and_audits_its_counts() {
    let (u, clock, company) = with_finished_jobs(3).await;
    let mut p = RetentionPolicy::new(
        RetentionScope::Company {
            company_id: company,
        },
        10,
    );
    p.grace_days = 1;
    u.set_retention(&operator(), p).await.unwrap();
    clock.advance(chrono::Duration::days(11));
    // The grace (1 day) counts from when it was set, 11 days ago: it is in effect.
    let dry = u.run_retention(&operator(), true).await.unwrap();
    assert_eq!(dry.policies.len(), 1);
    assert_eq!(dry.policies[0].counts.jobs, 3);
    assert!(!dry.policies[0].applied, "a dry run deletes nothing");
    assert_eq!(
        u.store()
            .list_jobs(&Default::default())
            .await
            .unwrap()
            .len(),
        3
    );

    let run = u.run_retention(&operator(), false).await.unwrap();
    assert!(run.policies[0].applied);
    assert_eq!(run.deleted().jobs, 3);
    assert!(
        u.store()
            .list_jobs(&Default::default())
            .await
            .unwrap()
            .is_empty()
    );
    let rows = audit_rows(&u).await;
    let last = rows.last().unwrap();
    assert_eq!(
        (last.0.as_str(), last.1.as_str()),
        ("alice", "retention:run")
    );
    assert!(last.2.contains("3 job(s)"), "{}", last.2);

    // Nothing left: a run that deletes nothing writes no audit row.
    let n = audit_rows(&u).await.len();
    u.run_retention(&operator(), false).await.unwrap();
    assert_eq!(audit_rows(&u).await.len(), n);
}

#[tokio::test]
async fn a_new_policy_waits_out_its_grace() {
    let (u, clock, _company) = with_finished_jobs(1).await;
    clock.advance(chrono::Duration::days(40));
    let mut p = RetentionPolicy::new(RetentionScope::Default, 30);
    p.grace_days = 2;
    u.set_retention(&operator(), p).await.unwrap();
    let run = u.run_retention(&operator(), false).await.unwrap();
    assert!(!run.policies[0].applied, "set just now: within its grace");
    assert_eq!(run.policies[0].counts.jobs, 1, "what it will delete");
    assert_eq!(
        u.store()
            .list_jobs(&Default::default())
            .await
            .unwrap()
            .len(),
        1
    );
    clock.advance(chrono::Duration::days(2));
    let run = u.run_retention(&operator(), false).await.unwrap();
    assert!(run.policies[0].applied);
    assert!(
        u.store()
            .list_jobs(&Default::default())
            .await
            .unwrap()
            .is_empty()
    );
}
