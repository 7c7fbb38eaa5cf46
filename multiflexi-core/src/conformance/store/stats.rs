//! Aggregate statistics: the store's counts and percentiles (run time, queue wait, peak
//! memory) equal what the jobs' own records give, per subject, company, day and hour.

use super::StoreHarness;
use super::fixtures::*;
use crate::lifecycle::Outcome;
use crate::model::{Job, ResourceUsage, RunTemplate};
use crate::store::log_histogram::RELATIVE_ERROR;
use crate::store::{
    Completion, JobFilter, JobStats, LeaseRef, Percentiles, StatsQuery, StatsSubject,
};
use crate::{JobId, Trigger};
use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use std::collections::BTreeMap;

/// Runs one job of `fx`'s template through the lifecycle: due `delay` after creation, waiting
/// `wait` after that, running `run`, ending with `(outcome, exit code, peak memory)`.
async fn run_job(
    h: &StoreHarness,
    fx: &Fx,
    delay: Duration,
    wait: Duration,
    run: Duration,
    (outcome, exitcode, memory): (Outcome, i32, Option<u64>),
) -> JobId {
    let due = now(h) + delay;
    let job = h
        .store
        .create_and_schedule(&adhoc(fx, Trigger::Manual, due))
        .await
        .expect("create");
    advance(h, delay + wait);
    let claimed = claim_one(h, "stats").await;
    assert_eq!(claimed.id, job.id);
    let running = begin(h, &claimed).await;
    advance(h, run);
    let mut c = Completion::new(LeaseRef::of(&running), outcome, exitcode);
    if let Some(bytes) = memory {
        c.usage = ResourceUsage::measured(Some(bytes), Some(5), false);
    } else {
        c.usage = ResourceUsage::unknown("not measured in this case");
    }
    complete_with(h, c).await;
    job.id
}

/// PostgreSQL's percentile_cont, written out again for the check.
fn pct(sorted: &[f64], p: f64) -> f64 {
    let pos = p * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - pos.floor())
}

/// `rel`: the relative error allowed (0 for exact percentiles).
fn expect_percentiles(got: Option<Percentiles>, mut values: Vec<f64>, rel: f64, what: &str) {
    if values.is_empty() {
        assert_eq!(got, None, "{what}: no job has it");
        return;
    }
    values.sort_by(f64::total_cmp);
    let got = got.unwrap_or_else(|| panic!("{what}: percentiles expected"));
    assert_eq!(got.count, values.len() as u64, "{what}: jobs measured");
    for (p, g) in [(0.5, got.p50), (0.9, got.p90), (0.99, got.p99)] {
        let want = pct(&values, p);
        assert!(
            (g - want).abs() < 1e-6 + want.abs() * rel,
            "{what} p{}: store says {g}, the jobs say {want}",
            p * 100.0
        );
    }
}

fn micros_secs(d: Duration) -> f64 {
    d.num_microseconds().expect("a short duration") as f64 / 1e6
}

/// Checks one aggregate against the jobs it covers.
fn expect_aggregate(got: &crate::store::Aggregate, jobs: &[&Job], rel: f64, what: &str) {
    let mut counts: BTreeMap<(Outcome, Option<i32>), u64> = BTreeMap::new();
    for j in jobs {
        *counts
            .entry((j.outcome.expect("finished"), j.exitcode))
            .or_insert(0) += 1;
    }
    let got_counts: BTreeMap<(Outcome, Option<i32>), u64> = got
        .counts
        .iter()
        .map(|c| ((c.outcome, c.exitcode), c.jobs))
        .collect();
    assert_eq!(
        got_counts, counts,
        "{what}: counts by outcome and exit code"
    );
    assert_eq!(got.jobs(), jobs.len() as u64, "{what}: jobs");
    let durations = jobs
        .iter()
        .filter_map(|j| Some(micros_secs(j.end? - j.begin?)))
        .collect();
    expect_percentiles(got.duration, durations, rel, &format!("{what}: duration"));
    let waits = jobs
        .iter()
        .filter_map(|j| Some(micros_secs(j.begin? - j.after.max(j.created))))
        .collect();
    expect_percentiles(got.queue_wait, waits, rel, &format!("{what}: queue wait"));
    let memory = jobs
        .iter()
        .filter_map(|j| j.usage.peak_memory_bytes.map(|b| b as f64))
        .collect();
    expect_percentiles(
        got.peak_memory,
        memory,
        rel,
        &format!("{what}: peak memory"),
    );
}

/// Checks a whole [`JobStats`] against the jobs `covered` (those the query counts) and
/// `newest` (the subject's finished jobs, newest first, any age).
fn expect_stats(got: &JobStats, covered: &[&Job], newest: &[&Job], last: usize, what: &str) {
    let rel = if got.approximate { RELATIVE_ERROR } else { 0.0 };
    expect_aggregate(&got.total, covered, rel, what);
    let mut days: BTreeMap<NaiveDate, Vec<&Job>> = BTreeMap::new();
    for j in covered {
        days.entry(j.end.expect("finished").date_naive())
            .or_default()
            .push(*j);
    }
    let got_days: Vec<NaiveDate> = got.days.iter().map(|d| d.day).collect();
    let want_days: Vec<NaiveDate> = days.keys().copied().collect();
    assert_eq!(got_days, want_days, "{what}: days with jobs, oldest first");
    for d in &got.days {
        expect_aggregate(
            &d.stats,
            &days[&d.day],
            rel,
            &format!("{what} on {}", d.day),
        );
    }
    let got_last: Vec<JobId> = got.last.iter().map(|p| p.id).collect();
    let want_last: Vec<JobId> = newest.iter().take(last).map(|j| j.id).collect();
    assert_eq!(
        got_last, want_last,
        "{what}: the last {last} jobs, newest first"
    );
    for (p, j) in got.last.iter().zip(newest) {
        assert_eq!(
            (p.end, p.outcome, p.exitcode, p.peak_memory),
            (
                j.end.unwrap(),
                j.outcome.unwrap(),
                j.exitcode,
                j.usage.peak_memory_bytes
            ),
            "{what}: job {}",
            j.id
        );
        let d = micros_secs(j.end.unwrap() - j.begin.unwrap_or(j.end.unwrap()));
        if j.begin.is_some() {
            assert!(
                (p.duration.unwrap() - d).abs() < 1e-6,
                "{what}: job {}",
                j.id
            );
        } else {
            assert_eq!(p.duration, None, "{what}: job {} never ran", j.id);
        }
    }
}

/// `job_stats` and `hourly_outcomes` equal the jobs' own records: counts by outcome and exit
/// code, duration and queue-wait percentiles (µs exact), per UTC day (a job counts on the day
/// it ended), only the subject's and the company's jobs, only those that ended since the
/// cut-off; the last N jobs newest first; jobs per hour by outcome.
pub async fn stats_equal_the_jobs_own_records(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "stats", |t| t).await;
    let other = seed(h, "other", |t| t).await;
    // A second company running the same app: counted for the app, not for the template.
    let cross = s
        .create_runtemplate(&RunTemplate::new(
            fx.app.id,
            other.company.id,
            "other runs it",
        ))
        .await
        .expect("create_runtemplate");
    let cross = Fx {
        app: fx.app.clone(),
        company: other.company.clone(),
        template: cross,
    };

    // Day 1 (before the cut-off).
    let old = run_job(
        h,
        &fx,
        secs(0),
        secs(3),
        secs(40),
        (Outcome::Success, 0, Some(1 << 20)),
    )
    .await;
    // Day 2: varied waits (some due later than created), run times with microseconds, codes.
    h.clock.set(t0 + Duration::days(1));
    let since = now(h);
    // (due after, wait µs, run µs, outcome, exit code, peak memory): one job not measured.
    let plan: [(i64, i64, i64, Outcome, i32, Option<u64>); 9] = [
        (
            0,
            1_250_003,
            10_000_017,
            Outcome::Success,
            0,
            Some(41 << 20),
        ),
        (
            5,
            2_000_000,
            12_500_001,
            Outcome::Success,
            0,
            Some(3_000_001),
        ),
        (0, 17, 7_000_333, Outcome::Warning, 1, None),
        (0, 400_000, 61_000_000, Outcome::Failed, 2, Some(7)),
        (
            30,
            9_999_999,
            3_000_000,
            Outcome::Failed,
            255,
            Some(1 << 30),
        ),
        (0, 0, 1, Outcome::NotFound, 127, Some(123_456_789)),
        (0, 5_000_000, 20_000_000, Outcome::Success, 0, Some(2 << 20)),
        (0, 123_456, 45_678_901, Outcome::Timeout, 137, Some(999)),
        (0, 3, 9_000_000, Outcome::Success, 0, Some(64 << 20)),
    ];
    for (delay, wait, run, outcome, code, memory) in plan {
        run_job(
            h,
            &fx,
            secs(delay),
            micros(wait),
            micros(run),
            (outcome, code, memory),
        )
        .await;
        advance(h, secs(600));
    }
    // Cancelled before it ran: counted, no duration or wait.
    let waiting = s
        .create_and_schedule(&adhoc(&fx, Trigger::Manual, now(h) + secs(3600)))
        .await
        .expect("create");
    s.request_cancel(waiting.id, "alice").await.expect("cancel");
    // Ends just after midnight: counted on day 3.
    h.clock
        .set(t0 + Duration::days(2) - Duration::hours(10) - secs(5));
    let day3 = (Outcome::Success, 0, Some(5 << 20));
    run_job(h, &fx, secs(0), secs(1), secs(10), day3).await;
    let failed = (Outcome::Failed, 3, Some(9 << 20));
    run_job(h, &cross, secs(0), secs(2), secs(20), failed).await;
    run_job(h, &other, secs(0), secs(2), secs(20), day3).await;
    // Not finished: never counted.
    s.create_and_schedule(&adhoc(&fx, Trigger::Manual, now(h)))
        .await
        .expect("create");

    let all = JobFilter {
        limit: Some(1000),
        ..JobFilter::default()
    };
    let jobs = s.list_jobs(&all).await.expect("list_jobs");
    let finished = |j: &&Job| j.end.is_some() && j.outcome.is_some();
    let mut newest: Vec<&Job> = jobs.iter().filter(finished).collect();
    newest.sort_by_key(|j| std::cmp::Reverse((j.end, j.id)));

    // The template, since day 2, the last 4 jobs.
    let mut q = StatsQuery::new(StatsSubject::Template(fx.template.id), since);
    q.last = 4;
    let got = s.job_stats(&q).await.expect("job_stats");
    let of_template: Vec<&Job> = newest
        .iter()
        .copied()
        .filter(|j| j.runtemplate_id == fx.template.id)
        .collect();
    let covered: Vec<&Job> = of_template
        .iter()
        .copied()
        .filter(|j| j.end.unwrap() >= since)
        .collect();
    assert_eq!(
        covered.len(),
        11,
        "nine on day 2, the cancelled one, one on day 3"
    );
    assert!(!covered.iter().any(|j| j.id == old));
    expect_stats(&got, &covered, &of_template, 4, "template");
    assert_eq!(got.days.len(), 2, "day 2 and day 3");
    assert_eq!(got.total.by_outcome()[&Outcome::Success], 5);
    assert_eq!(got.total.by_exitcode()[&Some(0)], 5);
    assert_eq!(got.total.by_exitcode()[&None], 1, "the cancelled job");

    // The app, every company: the other company's job of the app counts, not its other app's.
    let mut q = StatsQuery::new(StatsSubject::App(fx.app.id), t0);
    q.last = 100;
    let got = s.job_stats(&q).await.expect("job_stats");
    let of_app: Vec<&Job> = newest
        .iter()
        .copied()
        .filter(|j| j.app_id == fx.app.id)
        .collect();
    assert_eq!(of_app.len(), 13);
    expect_stats(&got, &of_app, &of_app, 100, "app");

    // The app, one company only (a company token's view).
    q.company_id = Some(other.company.id);
    let got = s.job_stats(&q).await.expect("job_stats");
    let of_cross: Vec<&Job> = of_app
        .iter()
        .copied()
        .filter(|j| j.company_id == other.company.id)
        .collect();
    assert_eq!(of_cross.len(), 1);
    expect_stats(&got, &of_cross, &of_cross, 100, "app, other company");

    // Nothing: a template without finished jobs.
    let got = s
        .job_stats(&StatsQuery::new(
            StatsSubject::Template(other.template.id),
            now(h) + secs(1),
        ))
        .await
        .expect("job_stats");
    assert_eq!(got.total.jobs(), 0);
    assert!(got.days.is_empty() && got.last.is_empty());
    assert_eq!(got.total.duration, None);

    // Jobs per hour by outcome, every company and one.
    for company in [None, Some(other.company.id)] {
        expect_hourly(h, &newest, since, company).await;
    }
}

/// `hourly_outcomes(since, company)` equals the jobs' own records.
async fn expect_hourly(
    h: &StoreHarness,
    newest: &[&Job],
    since: DateTime<Utc>,
    company: Option<crate::CompanyId>,
) {
    let got = h
        .store
        .hourly_outcomes(since, company)
        .await
        .expect("hourly_outcomes");
    let mut want: BTreeMap<(DateTime<Utc>, Outcome), u64> = BTreeMap::new();
    for j in newest {
        let end = j.end.unwrap();
        if end >= since && company.is_none_or(|c| c == j.company_id) {
            let hour = end
                .with_minute(0)
                .and_then(|t| t.with_second(0))
                .and_then(|t| t.with_nanosecond(0))
                .unwrap();
            *want.entry((hour, j.outcome.unwrap())).or_insert(0) += 1;
        }
    }
    let got: BTreeMap<(DateTime<Utc>, Outcome), u64> =
        got.iter().map(|c| ((c.hour, c.outcome), c.jobs)).collect();
    assert_eq!(got, want, "jobs per hour, company {company:?}");
}

/// Folding into a rollup ([`JobStatistics::fold_stats`](crate::store::JobStatistics)) changes
/// no count: jobs folded, then more jobs (some in the hour the fold stopped in, some of a
/// window's partial first hour), two folds at once from two handles (together they fold each
/// job once; a store without a rollup folds none), a third that finds nothing, and jobs not
/// folded yet: `job_stats` and `hourly_outcomes` still equal the jobs' records, the counts
/// exactly, the percentiles exactly or, when the store says they are approximate, within
/// [`RELATIVE_ERROR`]. Jobs deleted by retention are not part of this case: a SQL store's
/// rollup keeps counting them (documented on the fold), the in-memory store forgets them.
pub async fn stats_fold_keeps_counts_exact(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.clone();
    let fx = seed(h, "folded", |t| t).await;
    let other = seed(h, "other", |t| t).await;
    let cross = s
        .create_runtemplate(&RunTemplate::new(
            fx.app.id,
            other.company.id,
            "other runs it",
        ))
        .await
        .expect("create_runtemplate");
    let cross = Fx {
        app: fx.app.clone(),
        company: other.company.clone(),
        template: cross,
    };
    let job = |i: i64, outcome: Outcome, code: i32| {
        (
            micros(1_000 + i * 7_919),
            micros(2_000_000 + i * i * 104_729),
            (outcome, code, Some(((i as u64) + 1) << 20)),
        )
    };
    let mut since = t0;
    h.clock.set(t0 + Duration::days(1));
    for i in 0..6 {
        let (wait, run, end) = job(i, Outcome::Success, 0);
        let f = if i == 4 { &cross } else { &fx };
        run_job(h, f, secs(0), wait, run, end).await;
        if i == 2 {
            // A window that starts inside this hour, after some of its jobs.
            since = now(h) + secs(1);
        }
        advance(h, secs(500));
    }
    // Around midnight: the last hour of one day, the first of the next.
    h.clock
        .set(t0 + Duration::days(2) - Duration::hours(10) - secs(300));
    for i in 6..9 {
        let (wait, run, end) = job(i, Outcome::Failed, (i % 3) as i32 + 1);
        run_job(h, &fx, secs(0), wait, run, end).await;
        advance(h, secs(240));
    }
    advance(h, secs(60));
    let first = s.fold_stats().await.expect("fold_stats");
    assert!(
        first == 0 || first == 9,
        "the first fold takes every finished job or none (no rollup): {first}"
    );
    // More jobs in the hour the fold stopped in, one of another company's template.
    for i in 9..13 {
        // Job 10 has job 8's key and hour: the second fold merges it into job 8's row.
        let (outcome, code) = if i == 10 {
            (Outcome::Failed, 3)
        } else {
            (Outcome::Warning, 1)
        };
        let (wait, run, end) = job(i, outcome, code);
        let f = if i == 11 { &other } else { &fx };
        run_job(h, f, secs(0), wait, run, end).await;
        advance(h, secs(30));
    }
    advance(h, secs(60));
    let second = s.clone();
    let (a, b) = tokio::join!(s.fold_stats(), second.fold_stats());
    let (a, b) = (a.expect("fold_stats"), b.expect("fold_stats"));
    assert!(
        (first == 0 && a + b == 0) || (first == 9 && a + b == 4),
        "two folds at once take the four new jobs once: {a} + {b}"
    );
    assert_eq!(s.fold_stats().await.expect("fold_stats"), 0, "nothing left");
    // Not folded yet: ends now, within the fold's grace.
    let (wait, run, end) = job(13, Outcome::Timeout, 137);
    run_job(h, &fx, secs(0), wait, run, end).await;
    assert_eq!(s.fold_stats().await.expect("fold_stats"), 0, "too recent");

    let all = JobFilter {
        limit: Some(1000),
        ..JobFilter::default()
    };
    let jobs = s.list_jobs(&all).await.expect("list_jobs");
    let mut newest: Vec<&Job> = jobs
        .iter()
        .filter(|j| j.end.is_some() && j.outcome.is_some())
        .collect();
    newest.sort_by_key(|j| std::cmp::Reverse((j.end, j.id)));
    assert_eq!(newest.len(), 14);
    let of = |pick: &dyn Fn(&Job) -> bool| -> Vec<&Job> {
        newest.iter().copied().filter(|j| pick(j)).collect()
    };
    for exact_up_to in [crate::store::EXACT_PERCENTILES_UP_TO, 0] {
        let mut q = StatsQuery::new(StatsSubject::Template(fx.template.id), since);
        q.last = 5;
        q.exact_up_to = exact_up_to;
        let got = s.job_stats(&q).await.expect("job_stats");
        let of_template = of(&|j| j.runtemplate_id == fx.template.id);
        let covered: Vec<&Job> = of_template
            .iter()
            .copied()
            .filter(|j| j.end.unwrap() >= since)
            .collect();
        assert_eq!(covered.len(), 9, "template since {since}");
        if exact_up_to > 0 {
            assert!(!got.approximate, "nine jobs: exact percentiles");
        }
        expect_stats(&got, &covered, &of_template, 5, "template");

        let mut q = StatsQuery::new(StatsSubject::App(fx.app.id), t0);
        q.last = 100;
        q.exact_up_to = exact_up_to;
        let got = s.job_stats(&q).await.expect("job_stats");
        let of_app = of(&|j| j.app_id == fx.app.id);
        assert_eq!(of_app.len(), 13);
        expect_stats(&got, &of_app, &of_app, 100, "app");
        q.company_id = Some(other.company.id);
        let got = s.job_stats(&q).await.expect("job_stats");
        let of_cross = of(&|j| j.app_id == fx.app.id && j.company_id == other.company.id);
        assert_eq!(of_cross.len(), 1);
        expect_stats(&got, &of_cross, &of_cross, 100, "app, other company");
    }
    for company in [None, Some(other.company.id)] {
        for from in [t0, since] {
            expect_hourly(h, &newest, from, company).await;
        }
    }
}
