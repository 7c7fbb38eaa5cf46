//! The big one: two schedulers and three executors on one PostgreSQL, a job every few
//! seconds, PostgreSQL restarted twice and one executor killed.
//!
//! Cron is minute-granular (5 fields), so "a template every few seconds" is twelve templates
//! of `* * * * *` with `delay` 0, 2.5, …, 27.5 s (whole seconds: 0, 2, 5, 7, …): each minute
//! slot of template k runs at slot + delay k, a job every 2–3 s in the first half of each
//! minute, every one created by the schedulers' own path. The
//! first slot of each template is set a few seconds ahead with `run-template:next-schedule
//! --when` (the scheduler fires it as a slot; the template then follows its cron), so jobs
//! flow from the start instead of after the next full minute.

use crate::harness::{ExecutorCfg, Scenario, TemplateCfg, secs};
use crate::ledger::Expect;
use crate::postgres::{self, Backend};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Defects 1, 2, 3 and 4. Twelve every-minute templates (a job every 2–3 s, 6 s each, quiet:
/// no output, so no broken pipe stops a job whose executor died), two schedulers, three
/// executors (TTL 10 s, margin 3 s); PostgreSQL is restarted twice (about 3 s each) and the
/// executor running a job about 55 s in is killed with -9 (whichever of the three it is: which
/// executor wins a claim race is not the scenario's to choose), never to come back. Required:
/// every slot exists once and none is missing (consecutive minutes per template), has exactly one success, never overlaps, and runs a second time only where its
/// first run died with the killed executor; nothing else is `lost`, nothing `platform_error`.
///
/// Fixed in: b795489 (Native jobs die with their executor), 58b990b (database-clock leases, merged
/// in 9943be6) and f125416 (local lease deadline, retried writes). Fails at b795489's parent
/// 3387d14.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "chaos suite: run with scripts/chaos.sh"]
async fn two_schedulers_three_executors() {
    const TTL: u64 = 10;
    const RUN_FOR: Duration = Duration::from_secs(110);
    let s = Scenario::new("two_schedulers_three_executors", Backend::Postgres).await;
    let mut rts = Vec::new();
    for k in 0..12u32 {
        let delay = 5 * k / 2;
        let t = TemplateCfg::new(&format!("every minute +{delay}s"))
            .cron("* * * * *", delay)
            .retries(2)
            .config("CHAOS_SECS", 6)
            .config("CHAOS_MODE", "quiet");
        rts.push(s.template(t).await);
    }
    // The window starts at second 48 of a wall-clock minute, so the hand-set first slot (52 s)
    // and two cron minutes (+12 s and +72 s, the last job created by +100 s) fall inside it
    // whatever second the suite reached this line: 36 slots, not 24 or 36 by chance.
    let into_minute = {
        use chrono::Timelike;
        let now = chrono::Utc::now();
        f64::from(now.second()) + f64::from(now.nanosecond() % 1_000_000_000) / 1e9
    };
    tokio::time::sleep(Duration::from_secs_f64(
        (48.0 - into_minute).rem_euclid(60.0),
    ))
    .await;
    let first = (chrono::Utc::now() + chrono::Duration::seconds(4)).to_rfc3339();
    for rt in &rts {
        s.cli_ok(&[
            "run-template:next-schedule",
            &rt.to_string(),
            "--when",
            &first,
        ])
        .await;
    }
    let _s1 = s.scheduler("scheduler-1", TTL);
    let _s2 = s.scheduler("scheduler-2", TTL);
    let executors: Vec<(&'static str, _)> = ["exec-1", "exec-2", "exec-3"]
        .into_iter()
        .map(|id| {
            let cfg = ExecutorCfg::new(id, TTL).margin(3).parallel(2);
            (id, s.executor(cfg))
        })
        .collect();
    let t0 = Instant::now();
    let running = || {
        let s = &s;
        move || async move { s.jobs().await.iter().any(|j| j.phase == "running") }
    };

    tokio::time::sleep_until((t0 + secs(25)).into()).await;
    crate::harness::poll(secs(15), running()).await;
    s.note("restarting PostgreSQL (1 of 2)");
    let outage = postgres::outage(secs(1)).await;
    s.note(&format!(
        "PostgreSQL was down for {:.1} s",
        outage.as_secs_f64()
    ));

    // The executor to kill is whichever runs a job now: the claims are a race among the three
    // (each polls on its own phase), so waiting for a named one can wait for a minute or more.
    tokio::time::sleep_until((t0 + secs(55)).into()).await;
    s.must("an executor to run a job", secs(40), running())
        .await;
    let owner = s
        .jobs()
        .await
        .into_iter()
        .find(|j| j.phase == "running")
        .and_then(|j| j.lease_owner)
        .unwrap_or_else(|| s.fail("the running job has no lease owner"));
    let (killed, daemon) = executors
        .iter()
        .find(|(id, _)| *id == owner)
        .copied()
        .unwrap_or_else(|| s.fail(&format!("a job runs on {owner}, not one of the executors")));
    s.kill9(daemon);

    tokio::time::sleep_until((t0 + secs(80)).into()).await;
    crate::harness::poll(secs(15), running()).await;
    s.note("restarting PostgreSQL (2 of 2)");
    let outage = postgres::outage(secs(1)).await;
    s.note(&format!(
        "PostgreSQL was down for {:.1} s",
        outage.as_secs_f64()
    ));

    tokio::time::sleep_until((t0 + RUN_FOR).into()).await;
    for rt in &rts {
        s.cli_ok(&["run-template:update", &rt.to_string(), "--active", "false"])
            .await;
    }
    s.note("templates deactivated; waiting for the last jobs");
    s.wait("every job to end", secs(60), || async {
        s.jobs().await.iter().all(|j| j.ended())
    })
    .await;

    let jobs = s.jobs().await;
    let effects = s.effects();
    // Which executor ran a job: the lease owner its row keeps (a native job's parent process is
    // the executor's per-job supervisor, not the executor itself).
    let on_killed = |j: &crate::postgres::JobRow| j.lease_owner.as_deref() == Some(killed);
    // Every slot once, none missing: per template, slot → jobs; attempt 0 exactly once, and
    // the cron slots (after the first, set by hand) are consecutive minutes.
    let mut by_template: BTreeMap<i64, BTreeMap<chrono::DateTime<chrono::Utc>, Vec<_>>> =
        BTreeMap::new();
    for j in &jobs {
        let root = {
            let mut r = j;
            while let Some(p) = r.retry_of {
                match jobs.iter().find(|x| x.id == p) {
                    Some(x) => r = x,
                    None => break,
                }
            }
            r
        };
        match root.slot {
            Some(slot) => by_template
                .entry(j.runtemplate_id)
                .or_default()
                .entry(slot)
                .or_default()
                .push(j),
            None => s.violation(format!("job {} has no slot: {}", j.id, j.line())),
        }
    }
    let mut slots = 0;
    for (rt, by_slot) in &by_template {
        slots += by_slot.len();
        for (slot, js) in by_slot {
            let first_attempts = js.iter().filter(|j| j.attempt == 0).count();
            s.check(
                first_attempts == 1,
                format!(
                    "SLOT TWICE: template {rt} slot {slot} has {first_attempts} first attempts"
                ),
            );
            // A second run only where the first died with the killed executor.
            let mut runs: Vec<_> = js
                .iter()
                .flat_map(|j| {
                    effects
                        .starts(j.id)
                        .into_iter()
                        .map(move |e| (e.time, j, e.value))
                })
                .collect();
            runs.sort_by(|a, b| a.0.total_cmp(&b.0));
            for (_, j, ppid) in runs.iter().take(runs.len().saturating_sub(1)) {
                let died = effects.ends(j.id).is_empty();
                s.check(
                    on_killed(j) && died && j.outcome.as_deref() == Some("lost"),
                    format!(
                        "RAN AGAIN: template {rt} slot {slot} ran more than once although its run of job {} (on {}{}) did not die with {killed}: {}",
                        j.id,
                        s.daemon_name(*ppid).unwrap_or_else(|| format!("pid {ppid}")),
                        if died { "" } else { ", ran to its end" },
                        j.line()
                    ),
                );
            }
        }
        let cron_slots: Vec<_> = by_slot.keys().skip(1).collect();
        for pair in cron_slots.windows(2) {
            s.check(
                *pair[1] - *pair[0] == chrono::Duration::minutes(1),
                format!(
                    "SLOT MISSING: template {rt} jumps from {} to {}",
                    pair[0], pair[1]
                ),
            );
        }
    }
    s.note(&format!(
        "{slots} slots of {} templates, {} jobs",
        by_template.len(),
        jobs.len()
    ));
    s.check(
        slots >= 36,
        format!("setup: only {slots} slots ran in {} s", RUN_FOR.as_secs()),
    );
    for j in &jobs {
        if j.outcome.as_deref() == Some("lost") {
            s.check(
                on_killed(j) && !effects.starts(j.id).is_empty(),
                format!(
                    "LOST: job {} was lost but did not run on the killed {killed}: {}",
                    j.id,
                    j.line()
                ),
            );
        }
    }
    s.finish(
        Expect {
            short_faults: false,
            all_slots_succeed: true,
        },
        secs(30),
    )
    .await;
}
