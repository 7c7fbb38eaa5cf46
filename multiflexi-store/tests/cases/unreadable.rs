//! A job whose environment was sealed with another master key: listed (marked unreadable),
//! never run, and it fails nothing else.

use super::{fixture, manual};
use crate::support::{Backend, Ctx};
use multiflexi_core::store::{AuditFilter, AuditLog, Catalog, ClaimOptions, JobFilter, JobQueue};
use multiflexi_core::{Clock, ExecutorKind, Outcome, Phase};
use multiflexi_store::entity::job;
use multiflexi_store::{MasterKey, SqlStore, SqlStoreOptions};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// The environment blob of a job created by a store sealing with `key` (in a database of its
/// own).
async fn sealed_with(key: &MasterKey, ctx: &Ctx) -> Vec<u8> {
    let other = SqlStore::connect(
        "sqlite::memory:",
        SqlStoreOptions::default()
            .with_master_key(key.clone())
            .with_clock(ctx.clock.clone()),
    )
    .await
    .unwrap();
    let fx = fixture(&other).await;
    let j = other
        .create_and_schedule(&manual(&fx, ctx.clock.now()))
        .await
        .unwrap();
    job::Entity::find_by_id(j.id.get())
        .one(other.connection())
        .await
        .unwrap()
        .expect("the row")
        .env
}

pub async fn unreadable_job_is_listed_and_never_run(ctx: &Ctx) {
    let s = ctx.store().await;
    let fx = fixture(&s).await;
    let now = ctx.clock.now();
    let good = s.create_and_schedule(&manual(&fx, now)).await.unwrap();
    let bad = s.create_and_schedule(&manual(&fx, now)).await.unwrap();
    // Re-encrypt one job's environment with another key.
    let other_key = MasterKey::generate();
    job::Entity::update_many()
        .col_expr(
            job::Column::Env,
            Expr::value(sealed_with(&other_key, ctx).await),
        )
        .filter(job::Column::Id.eq(bad.id.get()))
        .exec(s.connection())
        .await
        .unwrap();

    let listed = s.list_jobs(&JobFilter::default()).await.unwrap();
    assert_eq!(
        listed.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![bad.id, good.id],
        "both listed"
    );
    assert_eq!(listed[1], good, "the readable job is unaffected");
    let why = listed[0].unreadable.clone().expect("marked unreadable");
    assert!(
        why.contains(&format!("job {}", bad.id)) && why.contains(other_key.id()),
        "says which job and which key: {why}"
    );
    assert_eq!(
        (
            listed[0].phase,
            listed[0].command.as_str(),
            listed[0].created
        ),
        (Phase::Scheduled, bad.command.as_str(), bad.created),
        "the plain columns are still shown"
    );
    assert!(listed[0].spec.env.is_empty() && listed[0].spec.args.is_empty());
    assert_eq!(s.get_job(bad.id).await.unwrap(), listed[0]);

    // A claim hands out only the readable job; the unreadable one ends platform_error
    // (never run without its environment, never retried, never blocking the queue).
    let claim = ClaimOptions::new("executor-1", vec![ExecutorKind::Native], 10);
    let claimed = s.claim(&claim).await.unwrap();
    assert_eq!(
        claimed.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![good.id]
    );
    assert_eq!(claimed[0].spec, good.spec);
    let failed = s.get_job(bad.id).await.unwrap();
    assert_eq!(
        (failed.phase, failed.outcome, failed.exitcode),
        (Phase::Completed, Some(Outcome::PlatformError), Some(-1))
    );
    assert!(
        failed.stderr.contains("cannot be read") && failed.stderr.contains(other_key.id()),
        "{}",
        failed.stderr
    );
    assert!(failed.unreadable.is_some());
    assert_eq!(
        s.list_jobs(&JobFilter::default()).await.unwrap().len(),
        2,
        "no retry of a job that cannot be read"
    );
    let t = s.get_runtemplate(fx.template.id).await.unwrap();
    assert_eq!((t.successfull_jobs_count, t.failed_jobs_count), (0, 1));
    let actions: Vec<String> = s
        .list_audit(&AuditFilter::job(bad.id))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        ["phase:scheduled", "phase:queued", "phase:completed"]
    );
    assert!(s.claim(&claim).await.unwrap().is_empty(), "nothing left");

    // With the other key configured for reading, the same row is a whole job again.
    if ctx.backend != Backend::SqliteMemory {
        let both = ctx
            .store_with(ctx.options().with_old_key(other_key.clone()))
            .await;
        let j = both.get_job(bad.id).await.unwrap();
        assert_eq!(j.unreadable, None);
        assert_eq!(j.spec.env.get("TOKEN"), Some("s3cr3t-token"));
    }
}
