//! Time is a fault too: the scheduler (the library's `Scheduler`, in process) on a manual
//! clock — the machine's clock is never stepped — through the DST transitions of three zones,
//! steps of the wall clock backwards and forwards, and downtime spanning a transition. It must
//! create exactly the slots `multiflexi-cli schedule:preview` lists for the window (minus
//! what the template's catch-up policy drops after a jump), none twice and none missing, on
//! SQLite and on the chaos PostgreSQL.
//!
//! The simulated scheduler wakes as the daemon does: at the earliest next slot it reported,
//! and at least every `MAX_SLEEP` of simulated time. A job it creates is claimed, started and
//! completed at once through the store (forbid: the next slot is computed at completion).
//! A jump of the clock (downtime, or a forward step of the wall clock) longer than the
//! missed-slot grace drops the slots it spans under catch-up `skip`, and all but the latest
//! under `once`; a step backwards drops and repeats nothing.

use crate::harness::{CLI, ROOT};
use crate::postgres::{Backend, Db};
use chrono::{DateTime, Duration as Span, Utc};
use multiflexi_core::engine::{Scheduler, SchedulerOptions};
use multiflexi_core::model::{CatchupPolicy, ConcurrencyPolicy};
use multiflexi_core::store::{Begin, Catalog as _, ClaimOptions, Completion, LeaseRef};
use multiflexi_core::telemetry::NoopTelemetry;
use multiflexi_core::{
    App, Clock, Company, ExecutorKind, ManualClock, Outcome, RunTemplate, Store,
};
use multiflexi_store::{MasterKey, SqlStore, SqlStoreOptions};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// The longest the simulated scheduler sleeps when no slot is due sooner.
const MAX_SLEEP: Span = Span::minutes(30);
/// The missed-slot grace (max(cycle pause, 60 s)).
const GRACE: Span = Span::seconds(60);

#[derive(Debug, Clone, Copy)]
enum Step {
    /// Let the clock run (the scheduler waking as it does) until this instant.
    Run(&'static str),
    /// The clock jumps forward to this instant (downtime, or a forward step of the wall clock).
    Jump(&'static str),
    /// The wall clock steps back this many minutes.
    Back(i64),
}

#[derive(Debug, Clone)]
struct Case {
    name: &'static str,
    zone: &'static str,
    cron: &'static str,
    catchup: CatchupPolicy,
    policy: ConcurrencyPolicy,
    from: &'static str,
    to: &'static str,
    steps: Vec<Step>,
}

fn case(
    name: &'static str,
    zone: &'static str,
    cron: &'static str,
    window: (&'static str, &'static str),
) -> Case {
    Case {
        name,
        zone,
        cron,
        catchup: CatchupPolicy::Skip,
        policy: ConcurrencyPolicy::Forbid,
        from: window.0,
        to: window.1,
        steps: Vec::new(),
    }
}

impl Case {
    fn steps(mut self, steps: &[Step]) -> Self {
        self.steps = steps.to_vec();
        self
    }
    fn once(mut self) -> Self {
        self.catchup = CatchupPolicy::Once;
        self
    }
    fn allow(mut self) -> Self {
        self.policy = ConcurrencyPolicy::Allow;
        self
    }
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .with_timezone(&Utc)
}

/// The cases: fall-back overlaps, spring-forward gaps, clock steps, downtime over a change.
fn cases() -> Vec<Case> {
    use Step::*;
    vec![
        // Europe/Prague, 2026-10-25 03:00 CEST -> 02:00 CET (01:00Z).
        case(
            "prague fall-back, fixed time, clock steps back 40 min",
            "Europe/Prague",
            "30 2 * * *",
            ("2026-10-23T12:00:00Z", "2026-10-26T06:00:00Z"),
        )
        .steps(&[Run("2026-10-25T00:45:00Z"), Back(40)]),
        case(
            "prague fall-back, hourly, downtime over the change, skip",
            "Europe/Prague",
            "0 * * * *",
            ("2026-10-24T20:00:00Z", "2026-10-25T05:00:00Z"),
        )
        .steps(&[Run("2026-10-24T23:30:00Z"), Jump("2026-10-25T02:10:00Z")]),
        case(
            "prague fall-back, hourly, downtime over the change, once",
            "Europe/Prague",
            "0 * * * *",
            ("2026-10-24T20:00:00Z", "2026-10-25T05:00:00Z"),
        )
        .steps(&[Run("2026-10-24T23:30:00Z"), Jump("2026-10-25T02:10:00Z")])
        .once(),
        // Europe/Prague, 2026-03-29 02:00 CET -> 03:00 CEST (01:00Z).
        case(
            "prague spring-forward, fixed time in the gap",
            "Europe/Prague",
            "30 2 * * *",
            ("2026-03-27T12:00:00Z", "2026-03-30T06:00:00Z"),
        ),
        case(
            "prague spring-forward, list in the gap, clock steps forward 40 min, once",
            "Europe/Prague",
            "15,45 2 * * *",
            ("2026-03-28T12:00:00Z", "2026-03-30T06:00:00Z"),
        )
        .steps(&[Run("2026-03-29T00:50:00Z"), Jump("2026-03-29T01:30:00Z")])
        .once(),
        // America/New_York, 2026-11-01 02:00 EDT -> 01:00 EST (06:00Z).
        case(
            "new york fall-back, fixed time, clock steps back 30 min",
            "America/New_York",
            "30 1 * * *",
            ("2026-10-31T00:00:00Z", "2026-11-02T12:00:00Z"),
        )
        .steps(&[Run("2026-11-01T05:45:00Z"), Back(30)]),
        case(
            "new york fall-back, every 20 min, clock steps forward 55 min, skip",
            "America/New_York",
            "*/20 * * * *",
            ("2026-11-01T04:00:00Z", "2026-11-01T08:00:00Z"),
        )
        .steps(&[Run("2026-11-01T05:50:00Z"), Jump("2026-11-01T06:45:00Z")]),
        // America/New_York, 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z).
        case(
            "new york spring-forward, fixed time in the gap",
            "America/New_York",
            "15 2 * * *",
            ("2026-03-07T00:00:00Z", "2026-03-09T12:00:00Z"),
        ),
        // Australia/Lord_Howe, 2026-04-05 02:00 +11 -> 01:30 +10:30 (04-04 15:00Z).
        case(
            "lord howe fall-back (30 min), fixed time, clock steps back 45 min",
            "Australia/Lord_Howe",
            "45 1 * * *",
            ("2026-04-03T12:00:00Z", "2026-04-05T18:00:00Z"),
        )
        .steps(&[Run("2026-04-04T15:20:00Z"), Back(45)]),
        case(
            "lord howe fall-back (30 min), every 15 min",
            "Australia/Lord_Howe",
            "*/15 * * * *",
            ("2026-04-04T13:00:00Z", "2026-04-04T17:00:00Z"),
        ),
        // Australia/Lord_Howe, 2026-10-04 02:00 +10:30 -> 02:30 +11 (10-03 15:30Z).
        case(
            "lord howe spring-forward, downtime over the change, once",
            "Australia/Lord_Howe",
            "15 2 * * *",
            ("2026-10-02T12:00:00Z", "2026-10-04T18:00:00Z"),
        )
        .steps(&[Run("2026-10-03T15:00:00Z"), Jump("2026-10-03T17:00:00Z")])
        .once(),
        // Last: its jobs are never completed (allow), so they must not meet a later case's claims.
        case(
            "prague fall-back, hourly, allow, clock steps back 90 min",
            "Europe/Prague",
            "0 * * * *",
            ("2026-10-24T21:00:00Z", "2026-10-25T04:00:00Z"),
        )
        .steps(&[Run("2026-10-25T01:30:00Z"), Back(90)])
        .allow(),
    ]
}

/// The slots `schedule:preview` lists after `from` (due times; the cases have no delay).
async fn preview(c: &Case) -> Vec<DateTime<Utc>> {
    let out = tokio::process::Command::new(CLI)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .args(["schedule:preview", "--cron", c.cron, "--timezone", c.zone])
        .args(["--from", c.from, "--count", "400", "--format", "json"])
        .output()
        .await
        .expect("multiflexi-cli schedule:preview");
    assert!(
        out.status.success(),
        "schedule:preview: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let to = at(c.to);
    v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| at(r.as_str().unwrap()))
        .filter(|t| *t <= to)
        .collect()
}

/// What the case must create: the preview, less what jumps drop by the catch-up policy.
fn expected(c: &Case, preview: &[DateTime<Utc>]) -> BTreeSet<DateTime<Utc>> {
    let mut keep: BTreeSet<DateTime<Utc>> = preview.iter().copied().collect();
    let mut now = at(c.from);
    for step in &c.steps {
        match *step {
            Step::Run(until) => now = now.max(at(until)),
            Step::Back(m) => now -= Span::minutes(m),
            Step::Jump(to) => {
                let to = at(to);
                let spanned: Vec<_> = preview
                    .iter()
                    .copied()
                    .filter(|t| *t > now && *t <= to)
                    .collect();
                if let Some(first) = spanned.first()
                    && to - *first > GRACE
                {
                    let kept = match c.catchup {
                        CatchupPolicy::Skip => None,
                        CatchupPolicy::Once => spanned.last().copied(),
                    };
                    for t in &spanned {
                        if Some(*t) != kept {
                            keep.remove(t);
                        }
                    }
                }
                now = to;
            }
        }
    }
    keep
}

/// Runs one case on `store`; returns the violations.
async fn run_case(store: &Arc<SqlStore>, clock: &Arc<ManualClock>, c: &Case) -> Vec<String> {
    let mut v = Vec::new();
    clock.set(at(c.from));
    let app = store
        .put_app(&App::new(format!("time {}", c.name), "/bin/true"))
        .await
        .unwrap();
    let company = store
        .create_company(&Company::new(format!("time {}", c.name)))
        .await
        .unwrap();
    let mut t = RunTemplate::new(app.id, company.id, c.name)
        .with_cron(c.cron)
        .with_timezone(c.zone);
    t.catchup = c.catchup;
    t.concurrency_policy = c.policy;
    let t = store.create_runtemplate(&t).await.unwrap();
    let dyn_store: Arc<dyn Store> = store.clone();
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let scheduler = Scheduler::new(
        dyn_store,
        Arc::new(NoopTelemetry),
        dyn_clock,
        SchedulerOptions::with_cycle_pause(Duration::from_secs(10)),
    );
    let mut created: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    let mut steps = c.steps.clone();
    steps.push(Step::Run(c.to));
    for step in steps {
        match step {
            Step::Back(m) => clock.set(clock.now() - Span::minutes(m)),
            Step::Jump(to) => clock.set(at(to)),
            Step::Run(until) => {
                let until = at(until);
                let mut guard = 0;
                loop {
                    guard += 1;
                    if guard > 20_000 {
                        v.push(format!("{}: the scheduler never settled", c.name));
                        break;
                    }
                    let report = match scheduler.tick().await {
                        Ok(r) => r,
                        Err(e) => {
                            v.push(format!("{}: tick at {} failed: {e}", c.name, clock.now()));
                            break;
                        }
                    };
                    let mut fresh = false;
                    for job in report.created.iter().filter(|j| j.runtemplate_id == t.id) {
                        fresh = true;
                        let slot = job.slot.unwrap_or(job.after);
                        if slot > clock.now() {
                            v.push(format!(
                                "{}: slot {slot} was created early, at {}",
                                c.name,
                                clock.now()
                            ));
                        }
                        created.push((slot, clock.now()));
                    }
                    if c.policy == ConcurrencyPolicy::Forbid && fresh {
                        if let Err(e) = complete_due(store, clock).await {
                            v.push(format!("{}: completing at {}: {e}", c.name, clock.now()));
                        }
                        continue;
                    }
                    let now = clock.now();
                    if now >= until {
                        break;
                    }
                    let mut next = now + MAX_SLEEP;
                    if let Some(wake) = report.next_wake.filter(|w| *w > now) {
                        next = next.min(wake);
                    }
                    clock.set(next.min(until));
                }
            }
        }
    }
    let mut deactivate = store.get_runtemplate(t.id).await.unwrap();
    deactivate.active = false;
    store.update_runtemplate(&deactivate).await.unwrap();

    let preview = preview(c).await;
    let expected = expected(c, &preview);
    let mut count: BTreeMap<DateTime<Utc>, usize> = BTreeMap::new();
    for (slot, _) in &created {
        *count.entry(*slot).or_default() += 1;
    }
    for (slot, n) in &count {
        if *n > 1 {
            v.push(format!("{}: slot {slot} created {n} times", c.name));
        }
    }
    let got: BTreeSet<_> = count.keys().copied().collect();
    let missing: Vec<_> = expected.difference(&got).collect();
    let extra: Vec<_> = got.difference(&expected).collect();
    if !missing.is_empty() || !extra.is_empty() {
        v.push(format!(
            "{} ({}, {}): slots missing {missing:?}, slots not in the preview (after catch-up) {extra:?}",
            c.name, c.zone, c.cron
        ));
    }
    eprintln!(
        "[time] {}: {} slots created, {} expected",
        c.name,
        got.len(),
        expected.len()
    );
    v
}

/// Claims, starts and completes (success) every due job.
async fn complete_due(
    store: &Arc<SqlStore>,
    clock: &Arc<ManualClock>,
) -> multiflexi_core::Result<()> {
    use multiflexi_core::store::JobQueue;
    let options = ClaimOptions::new("time-probe", vec![ExecutorKind::Native], 16)
        .with_lease_ttl(Duration::from_secs(600));
    let _ = clock;
    for job in store.claim(&options).await? {
        let lease = LeaseRef::of(&job);
        store
            .begin_many(&[Begin::new(lease, None, None)])
            .await?
            .remove(0)?;
        store
            .complete_many(&[Completion::new(lease, Outcome::Success, 0)])
            .await?
            .remove(0)?;
    }
    Ok(())
}

async fn run_all(name: &str, backend: Backend) {
    let dir = std::path::Path::new(ROOT).join(format!(
        "mfchaos-time-{}-{}",
        if backend == Backend::Postgres {
            "pg"
        } else {
            "sqlite"
        },
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let db = Db::create(
        backend,
        &format!("mfchaos_time_{}", std::process::id()),
        &dir,
    )
    .await;
    let clock = Arc::new(ManualClock::new(at("2026-01-01T00:00:00Z")));
    let store = Arc::new(
        SqlStore::connect(
            &db.url(),
            SqlStoreOptions::default()
                .with_master_key(MasterKey::generate())
                .with_clock(clock.clone() as Arc<dyn Clock>),
        )
        .await
        .unwrap_or_else(|e| panic!("open {}: {e}", db.url())),
    );
    let started = std::time::Instant::now();
    let mut violations = Vec::new();
    for c in cases() {
        violations.extend(run_case(&store, &clock, &c).await);
    }
    let secs = started.elapsed().as_secs_f64();
    drop(store);
    if violations.is_empty() {
        db.drop_now();
        let _ = std::fs::remove_dir_all(&dir);
        eprintln!("chaos: {name} passed in {secs:.1} s");
    } else {
        eprintln!("chaos: {name} FAILED in {secs:.1} s");
        panic!(
            "{} violation(s):\n  - {}",
            violations.len(),
            violations.join("\n  - ")
        );
    }
}

/// Time (the "Time is a fault too"; no numbered defect): DST in three zones, clock
/// steps both ways, downtime over a change, on SQLite.
///
/// Fixed in: guard, passed before the fixes (the schedule logic predates this issue).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "chaos suite: run with scripts/chaos.sh"]
async fn dst_and_clock_steps_sqlite() {
    run_all("dst_and_clock_steps_sqlite", Backend::Sqlite).await;
}

/// The same on the chaos PostgreSQL.
///
/// Fixed in: guard, passed before the fixes (the schedule logic predates this issue).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "chaos suite: run with scripts/chaos.sh"]
async fn dst_and_clock_steps_postgres() {
    run_all("dst_and_clock_steps_postgres", Backend::Postgres).await;
}
