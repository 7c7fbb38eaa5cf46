//! Concurrency: independent stores (separate pools, as separate processes would have) racing.

use super::{fixture, manual};
use crate::support::Ctx;
use chrono::{Duration as Cd, Utc};
use multiflexi_core::store::{Begin, Catalog, ClaimOptions, Completion, JobQueue, LeaseRef};
use multiflexi_core::{ExecutorKind, JobId, Outcome};
use multiflexi_store::SqlStore;
use sea_orm::ConnectionTrait;
use std::collections::HashSet;
use std::time::Duration;

const JOBS: usize = 2000;
const HANDLES: usize = 4;

async fn count(s: &SqlStore, sql: &str) -> i64 {
    s.connection()
        .query_one_raw(sea_orm::Statement::from_string(
            s.connection().get_database_backend(),
            sql,
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap()
}

/// 4 independent stores claim from 2,000 due jobs at once: every job is claimed exactly once
/// and completed exactly once, as the database records afterwards.
pub async fn cross_process_race(ctx: &Ctx) {
    let setup = ctx.store_with(ctx.options_db_clock()).await;
    let fx = fixture(&setup).await;
    let due = Utc::now() - Cd::minutes(5);
    let mut creators = Vec::new();
    for part in 0..HANDLES {
        let s = setup.clone();
        let n = manual(&fx, due);
        creators.push(tokio::spawn(async move {
            for _ in 0..JOBS / HANDLES {
                s.create_and_schedule(&n).await.unwrap();
            }
            part
        }));
    }
    for c in creators {
        c.await.unwrap();
    }
    let mut handles = Vec::new();
    for _ in 0..HANDLES {
        handles.push(
            ctx.store_with(ctx.options_db_clock().with_max_connections(3))
                .await,
        );
    }
    let mut tasks = Vec::new();
    for (i, s) in handles.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let owner = format!("exec-{i}");
            let mut mine = Vec::new();
            loop {
                let jobs = s
                    .claim(
                        &ClaimOptions::new(owner.clone(), vec![ExecutorKind::Native], 25)
                            .with_lease_ttl(Duration::from_secs(600)),
                    )
                    .await
                    .unwrap();
                if jobs.is_empty() {
                    if s.queue_overview().await.unwrap().due == 0 {
                        break;
                    }
                    continue;
                }
                let starts: Vec<Begin> = jobs
                    .iter()
                    .map(|j| Begin::new(LeaseRef::of(j), Some(1), None))
                    .collect();
                for r in s.begin_many(&starts).await.unwrap() {
                    r.unwrap();
                }
                let done: Vec<Completion> = jobs
                    .iter()
                    .map(|j| Completion::new(LeaseRef::of(j), Outcome::Success, 0))
                    .collect();
                for r in s.complete_many(&done).await.unwrap() {
                    r.unwrap();
                }
                mine.extend(jobs.iter().map(|j| j.id));
            }
            mine
        }));
    }
    let mut all: Vec<JobId> = Vec::new();
    let mut per_handle = Vec::new();
    for t in tasks {
        let mine = t.await.unwrap();
        per_handle.push(mine.len());
        all.extend(mine);
    }
    let unique: HashSet<JobId> = all.iter().copied().collect();
    assert_eq!(all.len(), JOBS, "claims per handle: {per_handle:?}");
    assert_eq!(unique.len(), JOBS);
    eprintln!("{:?}: claims per handle {per_handle:?}", ctx.backend);
    // SQLite has one writer at a time and its busy handler is not fair, so one handle may win
    // every round there; the servers must really share the work.
    if !matches!(
        ctx.backend,
        crate::support::Backend::SqliteFile | crate::support::Backend::SqliteFileOneShot
    ) {
        assert!(
            per_handle.iter().filter(|n| **n > 0).count() >= 2,
            "the handles really raced: {per_handle:?}"
        );
    }
    // asserted from the database
    let jobs = JOBS as i64;
    assert_eq!(count(&setup, "SELECT COUNT(*) FROM job").await, jobs);
    assert_eq!(
        count(
            &setup,
            "SELECT COUNT(*) FROM job WHERE phase = 'completed' AND lease_token = 1 AND outcome = 'success'"
        )
        .await,
        jobs
    );
    for action in ["phase:queued", "phase:running", "phase:completed"] {
        assert_eq!(
            count(
                &setup,
                &format!("SELECT COUNT(*) FROM audit_log WHERE action = '{action}'")
            )
            .await,
            jobs,
            "{action}"
        );
        assert_eq!(
            count(
                &setup,
                &format!(
                    "SELECT COUNT(*) FROM (SELECT job_id FROM audit_log WHERE action = '{action}' GROUP BY job_id HAVING COUNT(*) <> 1) x"
                )
            )
            .await,
            0,
            "{action} exactly once per job"
        );
    }
    assert_eq!(count(&setup, "SELECT COUNT(*) FROM schedule").await, 0);
    // The counter: the template row's plus its insert-only deltas, as the store reads it,
    // and the same after the deltas are folded into the row.
    let counted = || async {
        setup
            .get_runtemplate(fx.template.id)
            .await
            .expect("template")
            .successfull_jobs_count
    };
    assert_eq!(counted().await, JOBS as u64);
    assert!(
        count(&setup, "SELECT COUNT(*) FROM runtemplate_count").await > 0,
        "finishes count as deltas, not as updates of the template row"
    );
    setup.fold_template_counts().await.expect("fold");
    assert_eq!(
        count(&setup, "SELECT COUNT(*) FROM runtemplate_count").await,
        0
    );
    assert_eq!(
        count(
            &setup,
            &format!(
                "SELECT successfull_jobs_count FROM runtemplate WHERE id = {}",
                fx.template.id
            )
        )
        .await,
        jobs
    );
    assert_eq!(counted().await, JOBS as u64);
}

/// PostgreSQL: jobs created by another process 1–20 ms apart wake an idle dispatcher whose
/// poll interval is 60 s through LISTEN/NOTIFY; a lost wake-up would show as a poll.
pub async fn no_lost_wakeups(ctx: &Ctx) {
    const N: usize = 60;
    const POLL: Duration = Duration::from_secs(60);
    let producer = ctx.store_with(ctx.options_db_clock()).await;
    let fx = fixture(&producer).await;
    let waiter = ctx.store_with(ctx.options_db_clock()).await;
    let mut rx = waiter.work_signal().expect("PostgreSQL signals work");
    let dispatcher = tokio::spawn(async move {
        let mut polls = 0u32;
        let mut signalled_waits = 0u32;
        let mut done = 0usize;
        while done < N {
            // mark seen BEFORE claiming: a NOTIFY during the claim is not lost
            rx.borrow_and_update();
            let jobs = waiter
                .claim(&ClaimOptions::new("waiter", vec![ExecutorKind::Native], 10))
                .await
                .unwrap();
            if jobs.is_empty() {
                tokio::select! {
                    r = rx.changed() => { r.unwrap(); signalled_waits += 1; }
                    _ = tokio::time::sleep(POLL) => { polls += 1; }
                }
                continue;
            }
            let leases: Vec<LeaseRef> = jobs.iter().map(LeaseRef::of).collect();
            let starts: Vec<Begin> = leases.iter().map(|l| Begin::new(*l, None, None)).collect();
            waiter.begin_many(&starts).await.unwrap();
            let ends: Vec<Completion> = leases
                .iter()
                .map(|l| Completion::new(*l, Outcome::Success, 0))
                .collect();
            waiter.complete_many(&ends).await.unwrap();
            done += jobs.len();
        }
        (polls, signalled_waits)
    });
    // let the dispatcher go idle first
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut r = 0x9e37_79b9u32;
    for _ in 0..N {
        r ^= r << 13;
        r ^= r >> 17;
        r ^= r << 5;
        tokio::time::sleep(Duration::from_millis(u64::from(1 + r % 20))).await;
        producer
            .create_and_schedule(&manual(&fx, Utc::now() - Cd::seconds(5)))
            .await
            .unwrap();
    }
    // every job must start long before the first poll could fire
    let (polls, signalled) = tokio::time::timeout(Duration::from_secs(45), dispatcher)
        .await
        .expect("a job waited for the 60 s poll: a wake-up was lost")
        .unwrap();
    assert_eq!(polls, 0);
    assert!(signalled > 0, "the dispatcher was woken by notifications");
}

/// PostgreSQL: when the LISTEN connection is killed, the store reconnects, wakes its waiters
/// (a notification may have been missed) and keeps delivering notifications.
pub async fn listen_reconnects(ctx: &Ctx) {
    let producer = ctx.store_with(ctx.options_db_clock()).await;
    let fx = fixture(&producer).await;
    let waiter = ctx.store_with(ctx.options_db_clock()).await;
    let mut rx = waiter.work_signal().expect("PostgreSQL signals work");
    // wait until both stores' LISTEN connections are up
    let listening = "SELECT COUNT(*) FROM pg_stat_activity \
         WHERE datname = current_database() AND query ILIKE 'LISTEN%'";
    let mut tries = 0;
    while count(&waiter, listening).await < 2 {
        tries += 1;
        assert!(tries < 300, "the LISTEN connections never came up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rx.borrow_and_update();
    let killed = count(
        &waiter,
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
    )
    .await;
    assert!(
        killed >= 2,
        "both stores' LISTEN connections found: {killed}"
    );
    // woken by the reconnect
    tokio::time::timeout(Duration::from_secs(30), rx.changed())
        .await
        .expect("the listener reconnects and wakes waiters")
        .unwrap();
    // and notifications flow again: a create by the other store is signalled
    rx.borrow_and_update();
    producer
        .create_and_schedule(&manual(&fx, Utc::now()))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), rx.changed())
        .await
        .expect("no notification after the reconnect")
        .unwrap();
}
