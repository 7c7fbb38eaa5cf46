//! Aggregate statistics of finished jobs: what `job:stats`, its API twin and the dashboard's
//! charts show ([`JobStatistics`]).
//!
//! Which jobs count: finished ones (an `end` and an outcome) whose `end` is at or after the
//! query's `since`, of one run template or one app, optionally of one company only (a company
//! token sees its own company's jobs of a shared app). Days and hours are UTC, of the job's
//! `end`.
//!
//! What is measured, per job:
//! - duration: `end − begin` (jobs that never began have none);
//! - queue wait: `begin − max(after, created)`, the time from when the job was due (or created,
//!   if later) until it started — the `waited_seconds` of `job:get`;
//! - peak memory: the bytes the executor measured (`job.usage.peak_memory_bytes`), where it
//!   could.
//!
//! Percentiles are PostgreSQL's `percentile_cont` (linear interpolation between the two
//! nearest ranks, [`percentile_cont`]); every backend gives the same numbers while a window
//! holds at most [`EXACT_PERCENTILES_UP_TO`] jobs. Above that, a store that folds its history
//! ([`JobStatistics::fold_stats`]) may read them from merged histograms instead
//! ([`LogHistogram`](super::LogHistogram), within
//! [`RELATIVE_ERROR`](super::log_histogram::RELATIVE_ERROR) of the exact value) and says so in
//! [`JobStats::approximate`]. Counts by outcome and exit code are always exact.

use crate::Result;
use crate::ids::{AppId, CompanyId, JobId, RunTemplateId};
use crate::lifecycle::Outcome;
use crate::model::Job;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Timelike, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Debug;

/// The percentiles every aggregate reports.
pub const PERCENTILES: [f64; 3] = [0.5, 0.9, 0.99];

/// Windows of at most this many jobs get exact percentiles on every store.
pub const EXACT_PERCENTILES_UP_TO: u64 = 10_000;

/// Whose jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatsSubject {
    /// One run template's.
    Template(RunTemplateId),
    /// One app's (every template running it).
    App(AppId),
}

/// What to aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatsQuery {
    /// Whose jobs.
    pub subject: StatsSubject,
    /// Only this company's jobs (a company token's scope); `None`: every company's.
    pub company_id: Option<CompanyId>,
    /// Jobs that ended at or after this instant.
    pub since: DateTime<Utc>,
    /// The last this many finished jobs, one by one ([`JobStats::last`]); 0 for none.
    pub last: u32,
    /// Exact percentiles for windows of at most this many jobs ([`EXACT_PERCENTILES_UP_TO`]);
    /// a store with a rollup may read larger windows' from histograms ([`JobStats::approximate`]).
    pub exact_up_to: u64,
}

impl StatsQuery {
    /// Jobs of `subject` that ended at or after `since`, every company's, no job list.
    pub fn new(subject: StatsSubject, since: DateTime<Utc>) -> Self {
        Self {
            subject,
            company_id: None,
            since,
            last: 0,
            exact_up_to: EXACT_PERCENTILES_UP_TO,
        }
    }

    /// Whether `job` is one of the subject's (and the company's, when given), finished at or
    /// after `since`.
    pub fn covers(&self, job: &Job) -> bool {
        let subject = match self.subject {
            StatsSubject::Template(t) => job.runtemplate_id == t,
            StatsSubject::App(a) => job.app_id == a,
        };
        subject
            && self.company_id.is_none_or(|c| c == job.company_id)
            && job.outcome.is_some()
            && job.end.is_some_and(|e| e >= self.since)
    }
}

/// The 50th, 90th and 99th percentiles of one measure, and how many jobs had it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Jobs measured.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl Percentiles {
    /// The percentiles of `values` (any order); `None` when there are none.
    pub fn of(values: &mut [f64]) -> Option<Percentiles> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        Some(Percentiles {
            count: values.len() as u64,
            p50: percentile_cont(values, PERCENTILES[0]),
            p90: percentile_cont(values, PERCENTILES[1]),
            p99: percentile_cont(values, PERCENTILES[2]),
        })
    }

    /// Each value scaled by `factor` (microseconds to seconds).
    pub fn scaled(self, factor: f64) -> Percentiles {
        Percentiles {
            count: self.count,
            p50: self.p50 * factor,
            p90: self.p90 * factor,
            p99: self.p99 * factor,
        }
    }
}

/// The ranks (0-based, ascending) that [`percentile_cont`] reads for fraction `p` of `n`
/// values: the one below and the one above `p·(n−1)`, and how far between them.
pub fn percentile_ranks(n: u64, p: f64) -> (u64, u64, f64) {
    let pos = p * (n.saturating_sub(1)) as f64;
    let lo = pos.floor();
    let hi = pos.ceil();
    (lo as u64, hi as u64, pos - lo)
}

/// PostgreSQL's `percentile_cont(p)` of ascending `sorted` values: linear interpolation
/// between the two values nearest to rank `p·(n−1)`. `sorted` must not be empty.
pub fn percentile_cont(sorted: &[f64], p: f64) -> f64 {
    let (lo, hi, frac) = percentile_ranks(sorted.len() as u64, p);
    let (a, b) = (sorted[lo as usize], sorted[hi as usize]);
    a + (b - a) * frac
}

/// How many finished jobs ended with one outcome and exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OutcomeCount {
    /// The outcome.
    pub outcome: Outcome,
    /// The exit code (`None` for a job cancelled before it ran).
    pub exitcode: Option<i32>,
    /// Jobs.
    pub jobs: u64,
}

/// Counts and percentiles of a set of finished jobs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Aggregate {
    /// Jobs by outcome and exit code, sorted by (outcome, exit code).
    pub counts: Vec<OutcomeCount>,
    /// Run time, seconds.
    pub duration: Option<Percentiles>,
    /// Queue wait, seconds.
    pub queue_wait: Option<Percentiles>,
    /// Peak memory, bytes.
    pub peak_memory: Option<Percentiles>,
}

impl Aggregate {
    /// Jobs counted.
    pub fn jobs(&self) -> u64 {
        self.counts.iter().map(|c| c.jobs).sum()
    }

    /// Jobs by outcome.
    pub fn by_outcome(&self) -> BTreeMap<Outcome, u64> {
        let mut m = BTreeMap::new();
        for c in &self.counts {
            *m.entry(c.outcome).or_insert(0) += c.jobs;
        }
        m
    }

    /// Jobs by exit code (`None`: no exit code).
    pub fn by_exitcode(&self) -> BTreeMap<Option<i32>, u64> {
        let mut m = BTreeMap::new();
        for c in &self.counts {
            *m.entry(c.exitcode).or_insert(0) += c.jobs;
        }
        m
    }

    /// The aggregate of `jobs` (each finished), computed one by one: the reference the
    /// database's aggregate queries are held to.
    pub fn of_jobs<'a>(jobs: impl IntoIterator<Item = &'a Job>) -> Aggregate {
        let mut counts: BTreeMap<(Outcome, Option<i32>), u64> = BTreeMap::new();
        let (mut duration, mut wait, mut memory) = (Vec::new(), Vec::new(), Vec::new());
        for j in jobs {
            let Some(outcome) = j.outcome else { continue };
            *counts.entry((outcome, j.exitcode)).or_insert(0) += 1;
            let point = JobPoint::of(j);
            duration.extend(point.duration);
            wait.extend(point.queue_wait);
            memory.extend(point.peak_memory.map(|b| b as f64));
        }
        Aggregate {
            counts: counts
                .into_iter()
                .map(|((outcome, exitcode), jobs)| OutcomeCount {
                    outcome,
                    exitcode,
                    jobs,
                })
                .collect(),
            duration: Percentiles::of(&mut duration),
            queue_wait: Percentiles::of(&mut wait),
            peak_memory: Percentiles::of(&mut memory),
        }
    }
}

/// The aggregate of one UTC day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayStats {
    /// The day (UTC) the jobs ended.
    pub day: NaiveDate,
    /// Its jobs' counts and percentiles.
    #[serde(flatten)]
    pub stats: Aggregate,
}

/// One finished job's measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPoint {
    /// The job.
    pub id: JobId,
    /// When it ended.
    pub end: DateTime<Utc>,
    /// How.
    pub outcome: Outcome,
    /// Its exit code.
    pub exitcode: Option<i32>,
    /// Run time, seconds.
    pub duration: Option<f64>,
    /// Queue wait, seconds.
    pub queue_wait: Option<f64>,
    /// Peak memory, bytes.
    pub peak_memory: Option<u64>,
}

fn seconds(d: chrono::Duration) -> f64 {
    d.num_microseconds()
        .map_or(d.num_seconds() as f64, |us| us as f64 / 1e6)
}

impl JobPoint {
    /// A finished job's measures, from its own record.
    pub fn of(job: &Job) -> JobPoint {
        JobPoint {
            id: job.id,
            end: job.end.unwrap_or(job.created),
            outcome: job.outcome.unwrap_or(Outcome::Cancelled),
            exitcode: job.exitcode,
            duration: job.duration().map(seconds),
            queue_wait: job.begin.map(|b| seconds(b - job.after.max(job.created))),
            peak_memory: job.usage.peak_memory_bytes,
        }
    }
}

/// A subject's statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStats {
    /// Every counted job.
    pub total: Aggregate,
    /// Per UTC day, the days with jobs only, oldest first.
    pub days: Vec<DayStats>,
    /// The last [`StatsQuery::last`] finished jobs (any age), newest first (by end, then id).
    pub last: Vec<JobPoint>,
    /// Whether the percentiles come from merged histograms (within
    /// [`RELATIVE_ERROR`](super::log_histogram::RELATIVE_ERROR)) rather than from every job:
    /// only for windows of more than [`EXACT_PERCENTILES_UP_TO`] jobs.
    #[serde(default)]
    pub approximate: bool,
}

impl JobStats {
    /// The statistics of `jobs` for `query`, computed one job at a time (what the in-memory
    /// store does; the reference for the SQL stores).
    pub fn of_jobs(query: &StatsQuery, jobs: &[&Job]) -> JobStats {
        let counted: Vec<&Job> = jobs.iter().copied().filter(|j| query.covers(j)).collect();
        let mut by_day: BTreeMap<NaiveDate, Vec<&Job>> = BTreeMap::new();
        for j in &counted {
            if let Some(end) = j.end {
                by_day.entry(end.date_naive()).or_default().push(j);
            }
        }
        let mut all_time = query.clone();
        all_time.since = DateTime::<Utc>::MIN_UTC;
        let mut last: Vec<&Job> = jobs
            .iter()
            .copied()
            .filter(|j| all_time.covers(j))
            .collect();
        last.sort_by_key(|j| std::cmp::Reverse((j.end, j.id)));
        last.truncate(query.last as usize);
        JobStats {
            total: Aggregate::of_jobs(counted.iter().copied()),
            days: by_day
                .into_iter()
                .map(|(day, js)| DayStats {
                    day,
                    stats: Aggregate::of_jobs(js),
                })
                .collect(),
            last: last.into_iter().map(JobPoint::of).collect(),
            approximate: false,
        }
    }
}

/// Jobs that ended within one UTC hour with one outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct HourCount {
    /// The hour's start.
    pub hour: DateTime<Utc>,
    /// The outcome.
    pub outcome: Outcome,
    /// Jobs.
    pub jobs: u64,
}

/// The start of `t`'s UTC hour.
pub fn hour_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_nanosecond(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_minute(0))
        .unwrap_or(t)
}

/// Jobs per hour by outcome of `jobs` that ended at or after `since` (of `company` only, when
/// given), sorted by (hour, outcome): the reference for the SQL stores.
pub fn hourly_of_jobs(
    jobs: &[&Job],
    since: DateTime<Utc>,
    company: Option<CompanyId>,
) -> Vec<HourCount> {
    let mut m: BTreeMap<(DateTime<Utc>, Outcome), u64> = BTreeMap::new();
    for j in jobs {
        if let (Some(end), Some(outcome)) = (j.end, j.outcome)
            && end >= since
            && company.is_none_or(|c| c == j.company_id)
        {
            *m.entry((hour_of(end), outcome)).or_insert(0) += 1;
        }
    }
    m.into_iter()
        .map(|((hour, outcome), jobs)| HourCount {
            hour,
            outcome,
            jobs,
        })
        .collect()
}

/// Aggregate reads over finished jobs, computed by the backend (GROUP BY queries on the SQL
/// stores) so they stay fast with a long history.
#[async_trait]
pub trait JobStatistics: Send + Sync + Debug {
    /// The subject's counts and percentiles over the jobs that ended since `query.since`, per
    /// UTC day, and its last `query.last` finished jobs one by one.
    async fn job_stats(&self, query: &StatsQuery) -> Result<JobStats>;

    /// Jobs per UTC hour by outcome that ended at or after `since` (of `company` only, when
    /// given), sorted by (hour, outcome); hours without jobs are left out.
    async fn hourly_outcomes(
        &self,
        since: DateTime<Utc>,
        company: Option<CompanyId>,
    ) -> Result<Vec<HourCount>>;

    /// Folds the jobs that ended since the last fold (up to a short grace before now) into the
    /// store's per-hour rollup, so later reads of long windows read the rollup instead of every
    /// job; returns how many jobs it folded. Off the job lifecycle: the daemons call it
    /// periodically and a read calls it when much is left unfolded. Idempotent, and safe when
    /// two processes fold at once (one folds, the other finds nothing left). Stores without a
    /// rollup (the in-memory store) fold nothing.
    async fn fold_stats(&self) -> Result<u64> {
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_cont_interpolates_like_postgres() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        // PostgreSQL: percentile_cont(0.5) of 1..10 is 5.5, (0.9) is 9.1, (0.99) is 9.91.
        assert!((percentile_cont(&v, 0.5) - 5.5).abs() < 1e-12);
        assert!((percentile_cont(&v, 0.9) - 9.1).abs() < 1e-12);
        assert!((percentile_cont(&v, 0.99) - 9.91).abs() < 1e-12);
        assert_eq!(percentile_cont(&[7.0], 0.99), 7.0);
        assert_eq!(percentile_ranks(1, 0.5), (0, 0, 0.0));
    }

    #[test]
    fn percentiles_of_unsorted_values() {
        let mut v = vec![3.0, 1.0, 2.0];
        let p = Percentiles::of(&mut v).unwrap();
        assert_eq!((p.count, p.p50), (3, 2.0));
        assert!(Percentiles::of(&mut []).is_none());
    }

    #[test]
    fn hour_of_truncates() {
        let t = DateTime::parse_from_rfc3339("2026-01-05T10:59:59.999999Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            hour_of(t),
            DateTime::parse_from_rfc3339("2026-01-05T10:00:00Z")
                .unwrap()
                .to_utc()
        );
    }
}
