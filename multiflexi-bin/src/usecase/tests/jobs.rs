// Settings are built a field at a time, as each case changes one.
#![allow(clippy::field_reassign_with_default)]

use super::templates::{own_rows, world};
use super::*;
use crate::usecase::cleanup::JobCleanup;
use crate::usecase::jobs::{JobOrder, is_reused_key};
use crate::usecase::templates::TemplateSettings;
use crate::usecase::variables::Variable;
use multiflexi_core::store::{CancelResult, ClaimOptions};
use multiflexi_core::{ExecutorKind, JobId, Phase, Trigger};

fn order(template: multiflexi_core::RunTemplateId) -> JobOrder {
    JobOrder::new(template, Trigger::Cli)
}

#[tokio::test]
async fn create_emits_created_and_scheduled_and_audits_without_secret_values() {
    let w = world().await;
    let t = w.template().await;
    let mut o = order(t.id);
    o.env = vec![
        Variable::plain("FORMAT", "csv"),
        Variable::plain("API_PASSWORD", "pw-SECRET-2"),
    ];
    let created = w.u.create_job(&operator(), o).await.unwrap();
    let job = created.job;
    assert!(!created.replayed);
    assert_eq!(job.trigger, Trigger::Cli);
    assert_eq!(job.launched_by.as_deref(), Some("alice"));
    assert!(
        job.spec.env.0["API_PASSWORD"].secret,
        "the app's password field is a secret"
    );
    // The telemetry the use cases carry hears of it (the CLI's too): Created, then Scheduled.
    assert_eq!(
        w.telemetry.phases_of(job.id),
        [Phase::Created, Phase::Scheduled]
    );
    let rows = own_rows(&w.u).await;
    let created_rows: Vec<_> = rows.iter().filter(|r| r.1 == "job:create").collect();
    assert_eq!(created_rows.len(), 1, "{rows:?}");
    assert!(created_rows[0].2.contains("API_PASSWORD"));
    assert!(
        rows.iter().all(|r| !r.2.contains("pw-SECRET-2")),
        "{rows:?}"
    );
}

#[tokio::test]
async fn bad_orders_are_refused_naming_the_field_and_write_nothing() {
    let w = world().await;
    let t = w.template().await;
    let mut bad_env = order(t.id);
    bad_env.env = vec![Variable::plain("A=B", "x")];
    assert_eq!(
        field_of(w.u.create_job(&operator(), bad_env).await),
        "env.A=B"
    );
    let mut nul = order(t.id);
    nul.env = vec![Variable::plain("FORMAT", "a\0b")];
    assert_eq!(
        field_of(w.u.create_job(&operator(), nul).await),
        "env.FORMAT"
    );
    let mut executor = order(t.id);
    executor.executor = Some("Mainframe".into());
    assert_eq!(
        field_of(w.u.create_job(&operator(), executor).await),
        "executor"
    );
    for key in ["", "   ", "a\u{7}b", &"k".repeat(201)] {
        let mut o = order(t.id);
        o.idempotency_key = Some(key.to_string());
        assert_eq!(
            field_of(w.u.create_job(&operator(), o).await),
            "idempotency_key"
        );
    }
    // A loader variable is refused for everyone.
    let mut loader = order(t.id);
    loader.env = vec![Variable::plain("LD_PRELOAD", "/x.so")];
    assert_eq!(
        field_of(w.u.create_job(&operator(), loader).await),
        "env.LD_PRELOAD"
    );
    assert!(matches!(
        w.u.create_job(&operator(), order(multiflexi_core::RunTemplateId(999)))
            .await,
        Err(Error::NotFound { .. })
    ));
    // An inactive template is not run.
    let mut s = TemplateSettings::default();
    s.active = Some(false);
    let off = w.template_as(&operator(), w.acme.id, s).await.unwrap();
    assert!(matches!(
        w.u.create_job(&operator(), order(off.id)).await,
        Err(Error::Conflict { .. })
    ));
    assert!(w.telemetry.events().is_empty(), "no job, no event");
    assert!(own_rows(&w.u).await.iter().all(|r| r.1 != "job:create"));
}

#[tokio::test]
async fn a_company_token_may_not_choose_the_executor_set_loader_or_foreign_names_or_see_others() {
    let w = world().await;
    let t = w.template().await;
    let theirs = w
        .template_as(&operator(), w.other.id, TemplateSettings::default())
        .await
        .unwrap();
    let token = company_token(w.acme.id);
    let mut docker = order(t.id);
    docker.executor = Some("Docker".into());
    assert_eq!(field_of(w.u.create_job(&token, docker).await), "executor");
    // Its template's own executor is not a choice.
    let mut native = order(t.id);
    native.executor = Some("Native".into());
    let job = w.u.create_job(&token, native).await.unwrap().job;
    assert_eq!(job.executor, ExecutorKind::Native);
    let mut loader = order(t.id);
    loader.env = vec![Variable::plain("LD_PRELOAD", "/x.so")];
    assert_eq!(
        field_of(w.u.create_job(&token, loader).await),
        "env.LD_PRELOAD"
    );
    let mut undeclared = order(t.id);
    undeclared.env = vec![Variable::plain("EXTRA", "x")];
    assert_eq!(
        field_of(w.u.create_job(&token, undeclared).await),
        "env.EXTRA"
    );
    assert!(matches!(
        w.u.create_job(&token, order(theirs.id)).await,
        Err(Error::NotFound { .. })
    ));
    // Another company's job: NotFound for cancel and retry, and left alone.
    let foreign =
        w.u.create_job(&operator(), order(theirs.id))
            .await
            .unwrap()
            .job;
    assert!(matches!(
        w.u.cancel_job(&token, foreign.id).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        w.u.retry_job(&token, foreign.id).await,
        Err(Error::NotFound { .. })
    ));
    let still = w.u.store().get_job(foreign.id).await.unwrap();
    assert_eq!(still.phase, Phase::Scheduled);
    let jobs =
        w.u.store()
            .list_jobs(&Default::default())
            .await
            .unwrap()
            .len();
    assert_eq!(jobs, 2, "only the two accepted jobs were written");
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_job_and_refuses_another_template() {
    let w = world().await;
    let t = w.template().await;
    let t2 = w.template().await;
    let keyed = |template, ns: Option<&str>| {
        let mut o = order(template);
        o.idempotency_key = Some(" order-17 ".into());
        o.idempotency_namespace = ns.map(str::to_string);
        o
    };
    let first =
        w.u.create_job(&operator(), keyed(t.id, None))
            .await
            .unwrap();
    let again =
        w.u.create_job(&operator(), keyed(t.id, None))
            .await
            .unwrap();
    assert_eq!(first.job.id, again.job.id);
    assert_eq!((first.replayed, again.replayed), (false, true));
    assert_eq!(
        w.telemetry.phases_of(first.job.id),
        [Phase::Created, Phase::Scheduled],
        "a replay emits nothing"
    );
    let refused = w.u.create_job(&operator(), keyed(t2.id, None)).await;
    assert!(
        matches!(&refused, Err(e) if is_reused_key(e)),
        "{refused:?}"
    );
    // Another namespace (another token) gets its own job.
    let other =
        w.u.create_job(&operator(), keyed(t.id, Some("api:7")))
            .await
            .unwrap();
    assert_ne!(other.job.id, first.job.id);
    let creates = own_rows(&w.u)
        .await
        .into_iter()
        .filter(|r| r.1 == "job:create")
        .count();
    assert_eq!(creates, 2, "one row per job made, none for the replay");
}

#[tokio::test]
async fn cancel_scheduled_running_and_finished_jobs() {
    let w = world().await;
    let t = w.template().await;
    let scheduled = w.u.create_job(&operator(), order(t.id)).await.unwrap().job;
    match w.u.cancel_job(&operator(), scheduled.id).await.unwrap() {
        CancelResult::Cancelled(j) => assert!(j.phase.is_finished()),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        w.u.cancel_job(&operator(), scheduled.id).await.unwrap(),
        CancelResult::AlreadyFinished(_)
    ));
    let queued = w.u.create_job(&operator(), order(t.id)).await.unwrap().job;
    let claimed =
        w.u.store()
            .claim(&ClaimOptions::new("x", vec![ExecutorKind::Native], 10))
            .await
            .unwrap();
    assert_eq!(claimed.len(), 1);
    match w.u.cancel_job(&operator(), queued.id).await.unwrap() {
        CancelResult::Requested(j) => assert!(j.cancel_requested),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        w.u.cancel_job(&operator(), JobId(999)).await,
        Err(Error::NotFound { .. })
    ));
    // One job:cancel row per cancel that did something (the store writes the requested one).
    let rows = audit_rows(&w.u).await;
    let cancels: Vec<_> = rows.iter().filter(|r| r.1 == "job:cancel").collect();
    assert_eq!(cancels.len(), 2, "{rows:?}");
    assert!(cancels.iter().all(|r| r.0 == "alice"));
}

#[tokio::test]
async fn retry_copies_finished_jobs_only() {
    let w = world().await;
    let t = w.template().await;
    let mut o = order(t.id);
    o.env = vec![Variable::plain("FORMAT", "csv")];
    let job = w.u.create_job(&operator(), o).await.unwrap().job;
    let refused = w.u.retry_job(&operator(), job.id).await;
    assert!(
        matches!(refused, Err(Error::Conflict { .. })),
        "{refused:?}"
    );
    w.u.cancel_job(&operator(), job.id).await.unwrap();
    let copy = w.u.retry_job(&operator(), job.id).await.unwrap();
    assert_eq!(copy.retry_of, Some(job.id));
    assert_eq!(copy.trigger, Trigger::Manual);
    assert_eq!(copy.command, job.command);
    assert_eq!(
        w.telemetry.phases_of(copy.id),
        [Phase::Created, Phase::Scheduled]
    );
    let rows =
        w.u.store()
            .list_audit(&multiflexi_core::store::AuditFilter::job(copy.id))
            .await
            .unwrap();
    let retries: Vec<_> = rows.iter().filter(|r| r.action == "job:retry").collect();
    assert_eq!(retries.len(), 1, "{rows:?}");
    assert_eq!(
        retries[0].detail,
        format!("job {} retries job {}", copy.id, job.id)
    );
}

#[tokio::test]
async fn cleanup_deletes_old_finished_jobs_of_the_callers_companies() {
    let w = world().await;
    let t = w.template().await;
    let theirs = w
        .template_as(&operator(), w.other.id, TemplateSettings::default())
        .await
        .unwrap();
    for template in [t.id, theirs.id] {
        let j =
            w.u.create_job(&operator(), order(template))
                .await
                .unwrap()
                .job;
        w.u.cancel_job(&operator(), j.id).await.unwrap();
    }
    w.clock.advance(chrono::Duration::days(3));
    let mut dry = JobCleanup::older_than(2);
    dry.dry_run = true;
    let counted = w.u.clean_up_jobs(&operator(), dry).await.unwrap();
    assert_eq!(counted.report.jobs, 2);
    assert!(own_rows(&w.u).await.iter().all(|r| r.1 != "job:cleanup"));
    // A company token cleans its own company's only; another company is NotFound.
    let token = company_token(w.acme.id);
    let mut foreign = JobCleanup::older_than(2);
    foreign.company = Some(w.other.id);
    assert!(matches!(
        w.u.clean_up_jobs(&token, foreign).await,
        Err(Error::NotFound { .. })
    ));
    let done =
        w.u.clean_up_jobs(&token, JobCleanup::older_than(2))
            .await
            .unwrap();
    assert_eq!(done.report.jobs, 1);
    let rest =
        w.u.clean_up_jobs(&operator(), JobCleanup::older_than(2))
            .await
            .unwrap();
    assert_eq!(rest.report.jobs, 1);
    let cleanups = own_rows(&w.u)
        .await
        .into_iter()
        .filter(|r| r.1 == "job:cleanup")
        .count();
    assert_eq!(cleanups, 2);
    // Days reaching before the calendar's start are refused, not a panic.
    assert_eq!(
        field_of(
            w.u.clean_up_jobs(&operator(), JobCleanup::older_than(u32::MAX))
                .await
        ),
        "days"
    );
}

#[tokio::test]
async fn delete_removes_one_finished_job_and_refuses_unfinished_or_foreign_ones() {
    let w = world().await;
    let t = w.template().await;
    let theirs = w
        .template_as(&operator(), w.other.id, TemplateSettings::default())
        .await
        .unwrap();
    let mine = w.u.create_job(&operator(), order(t.id)).await.unwrap().job;
    let kept = w.u.create_job(&operator(), order(t.id)).await.unwrap().job;
    let foreign =
        w.u.create_job(&operator(), order(theirs.id))
            .await
            .unwrap()
            .job;
    // Not finished: Conflict, nothing deleted.
    assert!(matches!(
        w.u.delete_job(&operator(), mine.id).await,
        Err(Error::Conflict { .. })
    ));
    for j in [mine.id, kept.id, foreign.id] {
        w.u.cancel_job(&operator(), j).await.unwrap();
    }
    // Another company's job does not exist for a company token.
    let token = company_token(w.acme.id);
    assert!(matches!(
        w.u.delete_job(&token, foreign.id).await,
        Err(Error::NotFound { .. })
    ));
    let (job, report) = w.u.delete_job(&token, mine.id).await.unwrap();
    assert_eq!((job.id, report.jobs), (mine.id, 1));
    assert!(matches!(
        w.u.store().get_job(mine.id).await,
        Err(Error::NotFound { .. })
    ));
    w.u.store()
        .get_job(kept.id)
        .await
        .expect("only the one job goes");
    assert!(matches!(
        w.u.delete_job(&operator(), mine.id).await,
        Err(Error::NotFound { .. })
    ));
    let rows = own_rows(&w.u).await;
    assert_eq!(rows.iter().filter(|r| r.1 == "job:delete").count(), 1);
}

#[tokio::test]
async fn truncate_cancels_the_waiting_jobs_the_caller_sees() {
    let w = world().await;
    let t = w.template().await;
    let theirs = w
        .template_as(&operator(), w.other.id, TemplateSettings::default())
        .await
        .unwrap();
    let mine = w.u.create_job(&operator(), order(t.id)).await.unwrap().job;
    let foreign =
        w.u.create_job(&operator(), order(theirs.id))
            .await
            .unwrap()
            .job;
    let token = company_token(w.acme.id);
    let dry = w.u.truncate_queue(&token, true).await.unwrap();
    assert_eq!((dry.waiting, dry.cancelled.len()), (1, 0));
    let done = w.u.truncate_queue(&token, false).await.unwrap();
    assert_eq!(done.cancelled, [mine.id], "its own company's only");
    let store = w.u.store();
    assert_eq!(store.get_job(mine.id).await.unwrap().status(), "cancelled");
    assert_eq!(
        store.get_job(foreign.id).await.unwrap().status(),
        "scheduled"
    );
    let all = w.u.truncate_queue(&operator(), false).await.unwrap();
    assert_eq!(all.cancelled, [foreign.id]);
    let rows = own_rows(&w.u).await;
    assert_eq!(rows.iter().filter(|r| r.1 == "queue:truncate").count(), 2);
}

#[tokio::test]
async fn update_moves_a_waiting_job_of_the_callers_company_only() {
    use crate::usecase::job_update::JobChange;
    let w = world().await;
    let t = w.template().await;
    let theirs = w
        .template_as(&operator(), w.other.id, TemplateSettings::default())
        .await
        .unwrap();
    let mine = w.u.create_job(&operator(), order(t.id)).await.unwrap().job;
    let foreign =
        w.u.create_job(&operator(), order(theirs.id))
            .await
            .unwrap()
            .job;
    let token = company_token(w.acme.id);
    let when = |s: &str| {
        let mut c = JobChange::default();
        c.scheduled = Some(s.to_string());
        c
    };
    // Another company's job does not exist for a company token; nothing moves.
    assert!(matches!(
        w.u.update_job(&token, foreign.id, when("2031-01-02T03:04:05Z"))
            .await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(
        w.u.store().get_job(foreign.id).await.unwrap().after,
        foreign.after
    );
    let moved =
        w.u.update_job(&token, mine.id, when("2031-01-02T03:04:05Z"))
            .await
            .unwrap();
    assert_eq!(moved.after.to_rfc3339(), "2031-01-02T03:04:05+00:00");
    // Its own executor is no change; another is refused naming the field.
    let mut same = when("now");
    same.executor = Some(mine.executor.as_str().to_string());
    w.u.update_job(&token, mine.id, same).await.unwrap();
    let mut other = when("now");
    other.executor = Some("Docker".into());
    assert_eq!(
        field_of(w.u.update_job(&token, mine.id, other).await),
        "executor"
    );
    let rows = own_rows(&w.u).await;
    assert_eq!(rows.iter().filter(|r| r.1 == "job:update").count(), 2);
}

#[tokio::test]
async fn clone_copies_a_template_of_the_callers_company_only_and_inactive() {
    let w = world().await;
    let t = w.template().await;
    let theirs = w
        .template_as(&operator(), w.other.id, TemplateSettings::default())
        .await
        .unwrap();
    let token = company_token(w.acme.id);
    assert!(matches!(
        w.u.clone_template(&token, theirs.id, None).await,
        Err(Error::NotFound { .. })
    ));
    let c =
        w.u.clone_template(&token, t.id, None)
            .await
            .unwrap()
            .template;
    assert_ne!(c.id, t.id);
    assert_eq!(c.company_id, t.company_id);
    assert_eq!(c.name, format!("{} Clone", t.name));
    assert!(!c.active);
    assert_eq!(
        field_of(w.u.clone_template(&token, t.id, Some("")).await),
        "name"
    );
}
