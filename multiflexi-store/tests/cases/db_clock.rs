//! Lease expiries (and a released job's due time) come from the store's clock when the write
//! executes: on the database's clock, a heartbeat that had to wait for a lock still extends the
//! lease by the whole ttl from the moment it wrote.

use super::{claim, fixture, manual};
use crate::support::{Backend, Ctx};
use chrono::{DateTime, Duration as Cd, Utc};
use multiflexi_core::store::{
    HeartbeatStatus, JobQueue, LeaseRef, Release, ReleaseReason, Released,
};
use multiflexi_store::SqlStore;
use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use std::time::Duration;

/// The database's now (this host's for SQLite).
async fn db_now(db: &DatabaseConnection) -> DateTime<Utc> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)"
        }
        DbBackend::MySql => "SELECT CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED)",
        _ => return Utc::now(),
    };
    let us: i64 = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    DateTime::from_timestamp_micros(us).unwrap()
}

/// Holds what the store's next write to job `id` must wait for: the row's lock (PostgreSQL,
/// MySQL), the file's write lock (SQLite file) or the pool's only connection (SQLite memory).
async fn hold(
    ctx: &Ctx,
    s: &SqlStore,
    id: i64,
) -> (Option<DatabaseConnection>, DatabaseTransaction) {
    match ctx.backend {
        Backend::SqliteMemory => (None, s.connection().begin().await.unwrap()),
        Backend::SqliteFile | Backend::SqliteFileOneShot => {
            let other = Database::connect(ctx.url.clone()).await.unwrap();
            let opts = TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            };
            let txn = other.begin_with_options(opts).await.unwrap();
            (Some(other), txn)
        }
        Backend::Postgres | Backend::Mariadb => {
            let other = Database::connect(ctx.url.clone()).await.unwrap();
            let txn = other.begin().await.unwrap();
            txn.execute_unprepared(&format!("SELECT id FROM job WHERE id = {id} FOR UPDATE"))
                .await
                .unwrap();
            (Some(other), txn)
        }
    }
}

pub async fn lease_expiry_from_the_database_clock(ctx: &Ctx) {
    let s = ctx.store_with(ctx.options_db_clock()).await;
    let probe = Database::connect(ctx.url.clone()).await.ok();
    let clock_of = |s: &SqlStore| match &probe {
        Some(p) if ctx.backend != Backend::SqliteMemory => p.clone(),
        _ => s.connection().clone(),
    };
    let fx = fixture(&s).await;
    let ttl = Cd::seconds(30);
    let slack = Cd::milliseconds(500);
    s.create_and_schedule(&manual(&fx, Utc::now() - Cd::minutes(5)))
        .await
        .unwrap();

    // the claim's expiry: the database's now + ttl
    let before = db_now(&clock_of(&s)).await;
    let q = s.claim(&claim("executor-1", 1)).await.unwrap().remove(0);
    let after = db_now(&clock_of(&s)).await;
    let expires = q.lease_expires.unwrap();
    assert!(
        expires >= before + ttl - Cd::milliseconds(5)
            && expires <= after + ttl + Cd::milliseconds(5),
        "claim: {before} .. {after} + 30 s, got {expires}"
    );

    // a heartbeat that waits 1.5 s for the job's row still gets the whole ttl from its write
    let (conn, held) = hold(ctx, &s, q.id.get()).await;
    let beat = {
        let s = s.clone();
        let lease = LeaseRef::of(&q);
        tokio::spawn(async move { s.heartbeat(&[lease], Duration::from_secs(30)).await })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!beat.is_finished(), "the heartbeat waits for the held lock");
    held.rollback().await.unwrap();
    drop(conn);
    assert_eq!(beat.await.unwrap().unwrap(), vec![HeartbeatStatus::Ok]);
    let now = db_now(&clock_of(&s)).await;
    let expires = s.get_job(q.id).await.unwrap().lease_expires.unwrap();
    assert!(
        expires >= now + ttl - slack,
        "the expiry {expires} was computed before the wait (now {now}, ttl 30 s)"
    );
    assert!(
        expires <= now + ttl + Cd::milliseconds(5),
        "{expires} vs {now} + 30 s"
    );

    // a release is due again retry_after from the database's now
    let before = db_now(&clock_of(&s)).await;
    let r = Release::new(
        LeaseRef::of(&q),
        ReleaseReason::Draining,
        Duration::from_secs(20),
        3,
    );
    let Ok(Released::Requeued(j)) = s.release_many(&[r]).await.unwrap().remove(0) else {
        panic!("requeued");
    };
    let after = db_now(&clock_of(&s)).await;
    assert!(
        j.after >= before + Cd::seconds(20) - Cd::milliseconds(5)
            && j.after <= after + Cd::seconds(20) + Cd::milliseconds(5),
        "due {} not within {before} .. {after} + 20 s",
        j.after
    );
    assert!(
        s.claim(&claim("executor-1", 1)).await.unwrap().is_empty(),
        "not due yet: the schedule row moved too"
    );
}
