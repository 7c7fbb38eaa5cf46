//! [`JobStatistics`] for [`SqlStore`]: aggregate queries over the `job` table.
//!
//! Every query is bounded by an index (migration 9): a template's or an app's finished jobs
//! by `(runtemplate_id | app_id, "end", id)` (PostgreSQL: partial, finished jobs only), the
//! overview's last hours by `ix_job_end`. Counts are one `GROUP BY` (day, outcome, exit code).
//! Percentiles (run time, queue wait, peak memory):
//! - PostgreSQL: `percentile_cont(p) WITHIN GROUP (ORDER BY x)` per group;
//! - SQLite and MySQL/MariaDB (no `percentile_cont` on SQLite and MySQL): one window query
//!   per measure ranks the group's values (`ROW_NUMBER() OVER (PARTITION BY g ORDER BY x)`,
//!   `COUNT(*) OVER (PARTITION BY g)`) and returns only the rows around each percentile's rank
//!   (at most 12 rows a group); the interpolation is then PostgreSQL's
//!   ([`percentile_cont`](multiflexi_core::store::percentile_cont)). The database sorts the
//!   group's values (spilling to disk past its sort memory); what crosses the connection is
//!   bounded by the number of groups, never by the number of jobs.
//!
//! The last N jobs are read newest first by `("end", id)` from the same index (`LIMIT N`).
//!
//! With a long history the window is read from the rollup (migration 10, [`fold`]): finished
//! jobs folded per (template, app, company, UTC hour, outcome, exit code) with a count and a
//! [`LogHistogram`] per measure. A read takes the rollup rows of the window's whole hours and
//! reads the rest live from `job` ([`rollup`]: the window's partial first hour and whatever
//! ended after the fold watermark), folding first when more than
//! 10,000 finished jobs are unfolded. Counts stay exact. Percentiles stay exact (the queries
//! above, over the whole window) while the window holds at most `StatsQuery::exact_up_to`
//! jobs (10,000); above that they come from the merged histograms, within 2 %, and
//! `JobStats::approximate` says so.

mod dialect;
mod fold;
mod rollup;

#[cfg_attr(not(feature = "bench"), allow(unused_imports))]
pub(crate) use fold::rewind_fold;

use crate::entity::ts;
use crate::store::SqlStore;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use dialect::{Dialect, Params};
use fold::{Folded, HOUR_US};
use multiflexi_core::store::{
    Aggregate, DayStats, HourCount, JobPoint, JobStatistics, JobStats, LogHistogram, OutcomeCount,
    PERCENTILES, Percentiles, StatsQuery, StatsSubject, percentile_ranks,
};
use multiflexi_core::{CompanyId, Error, JobId, Outcome, Result, to_micros};
use rollup::{Cut, RolledUp};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, TransactionTrait};
use std::collections::BTreeMap;
use std::str::FromStr;

/// The group key of the whole window.
const ALL: &str = "all";

/// A measure the percentiles are taken of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Measure {
    Duration,
    Wait,
    Memory,
}

impl Measure {
    fn expr(self, d: Dialect) -> String {
        match self {
            Measure::Duration => d.duration_us(),
            Measure::Wait => d.wait_us(),
            Measure::Memory => d.col("peak_memory_bytes"),
        }
    }

    /// The condition of a job having the measure.
    fn present(self, d: Dialect) -> String {
        match self {
            Measure::Duration | Measure::Wait => format!("{} IS NOT NULL", d.col("begin")),
            Measure::Memory => format!("{} IS NOT NULL", d.col("peak_memory_bytes")),
        }
    }

    /// The factor from the stored unit to the reported one (µs to seconds; bytes stay).
    fn scale(self) -> f64 {
        match self {
            Measure::Duration | Measure::Wait => 1e-6,
            Measure::Memory => 1.0,
        }
    }

    /// Sets the measure's percentiles in `a`.
    fn set(self, a: &mut Aggregate, v: Option<Percentiles>) {
        match self {
            Measure::Duration => a.duration = v,
            Measure::Wait => a.queue_wait = v,
            Measure::Memory => a.peak_memory = v,
        }
    }

    /// The measure's histogram of folded jobs.
    fn of(self, f: &Folded) -> &LogHistogram {
        match self {
            Measure::Duration => &f.duration,
            Measure::Wait => &f.queue_wait,
            Measure::Memory => &f.peak_memory,
        }
    }
}

/// Every measure.
const MEASURES: [Measure; 3] = [Measure::Duration, Measure::Wait, Measure::Memory];

/// Jobs by (outcome, exit code).
type Counts = BTreeMap<(Outcome, Option<i32>), u64>;

fn outcome_counts(c: &Counts) -> Vec<OutcomeCount> {
    c.iter()
        .map(|((outcome, exitcode), jobs)| OutcomeCount {
            outcome: *outcome,
            exitcode: *exitcode,
            jobs: *jobs,
        })
        .collect()
}

/// The day key (`YYYY-MM-DD`, UTC) of `t`, as the queries' `day` expression gives it.
fn day_key(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

fn get<T: sea_orm::TryGetable>(row: &QueryResult, i: usize) -> Result<T> {
    row.try_get_by_index::<T>(i)
        .map_err(|e| Error::backend("sql", false, format!("statistics column {i}: {e:?}")))
}

fn day_of(key: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(key, "%Y-%m-%d")
        .map_err(|e| Error::backend("sql", false, format!("day {key:?}: {e}")))
}

fn outcome_of(s: &str) -> Result<Outcome> {
    Outcome::from_str(s).map_err(|e| Error::backend("sql", false, e.to_string()))
}

fn instant_of(us: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us)
        .ok_or_else(|| Error::backend("sql", false, format!("instant {us} µs out of range")))
}

/// Which of a subject's finished jobs a statement reads.
#[derive(Debug, Clone, Copy)]
enum Window<'a> {
    /// Those that ended at or after the query's `since`.
    Since,
    /// Those of the window not in the rollup (past the cut).
    Live(&'a Cut),
    /// All of them.
    Finished,
}

impl<'a> Window<'a> {
    /// The window's live part when something is folded, else all of it.
    fn of(cut: Option<&'a Cut>) -> Self {
        cut.map_or(Window::Since, Window::Live)
    }
}

impl SqlStore {
    fn dialect(&self) -> Dialect {
        Dialect {
            backend: self.backend(),
        }
    }

    async fn rows(&self, sql: String, p: Params) -> Result<Vec<QueryResult>> {
        self.window_rows(sql, p, false).await
    }

    /// [`Self::rows`] of a statement whose window is read partly from the rollup
    /// (`live`: its condition on `"end"` is [`Cut::live`]'s two ranges). The pool's sessions
    /// run without bitmap scans (the claim's plan, `store.rs`), and only a BitmapOr reads two
    /// ranges without scanning the table on PostgreSQL — a million-job table took 250 ms per
    /// statement by sequential scan, under 1 ms with it — so there the statement runs in a
    /// transaction that turns them on.
    async fn window_rows(&self, sql: String, p: Params, live: bool) -> Result<Vec<QueryResult>> {
        let statement = Statement::from_sql_and_values(self.backend(), sql, p.values);
        if !live || self.backend() != DbBackend::Postgres {
            return self
                .db()
                .query_all_raw(statement)
                .await
                .map_err(|e| self.dberr(e));
        }
        let txn = self.db().begin().await.map_err(|e| self.dberr(e))?;
        txn.execute_unprepared("SET LOCAL enable_bitmapscan = on")
            .await
            .map_err(|e| self.dberr(e))?;
        let rows = txn
            .query_all_raw(statement)
            .await
            .map_err(|e| self.dberr(e))?;
        txn.commit().await.map_err(|e| self.dberr(e))?;
        Ok(rows)
    }

    /// `WHERE` of the subject's (and company's) finished jobs of the window.
    fn scope(&self, q: &StatsQuery, window: Window<'_>, p: &mut Params) -> Result<String> {
        let d = self.dialect();
        let (col, id) = match q.subject {
            StatsSubject::Template(t) => ("runtemplate_id", t.0),
            StatsSubject::App(a) => ("app_id", a.0),
        };
        let mut w = format!("{} = {}", d.col(col), p.push(d, id));
        if let Some(c) = q.company_id {
            w += &format!(" AND company_id = {}", p.push(d, c.0));
        }
        match window {
            Window::Since => {
                w += &format!(
                    " AND {} >= {}",
                    d.col("end"),
                    p.push(d, ts(to_micros(q.since)))
                );
            }
            Window::Live(cut) => w += &format!(" AND {}", cut.live(d, p)?),
            Window::Finished => w += &format!(" AND {} IS NOT NULL", d.col("end")),
        }
        Ok(w + " AND outcome IS NOT NULL")
    }

    /// Counts by (day, outcome, exit code) of the window's jobs read live (past the `cut`; all
    /// of them without one).
    async fn counts(&self, q: &StatsQuery, cut: Option<&Cut>) -> Result<BTreeMap<String, Counts>> {
        let d = self.dialect();
        let mut p = Params::default();
        let w = self.scope(q, Window::of(cut), &mut p)?;
        let day = d.day();
        let sql = format!(
            "SELECT {day}, outcome, {}, {} FROM job WHERE {w} GROUP BY {day}, outcome, exitcode",
            d.int("exitcode"),
            d.int("COUNT(*)")
        );
        let mut out: BTreeMap<String, Counts> = BTreeMap::new();
        for row in self.window_rows(sql, p, cut.is_some()).await? {
            let day: String = get(&row, 0)?;
            let outcome = outcome_of(&get::<String>(&row, 1)?)?;
            let exitcode: Option<i64> = get(&row, 2)?;
            *out.entry(day)
                .or_default()
                .entry((outcome, exitcode.map(|c| c as i32)))
                .or_insert(0) += get::<i64>(&row, 3)? as u64;
        }
        Ok(out)
    }

    /// The measure's percentiles per day (`by_day`) or over the whole window (key [`ALL`]).
    async fn percentiles(
        &self,
        q: &StatsQuery,
        m: Measure,
        by_day: bool,
    ) -> Result<BTreeMap<String, Percentiles>> {
        let d = self.dialect();
        let mut p = Params::default();
        let w = self.scope(q, Window::Since, &mut p)?;
        let g = if by_day { d.day() } else { format!("'{ALL}'") };
        let x = m.expr(d);
        let base = format!(
            "SELECT {g} AS g, {x} AS x FROM job WHERE {w} AND {}",
            m.present(d)
        );
        let mut out = BTreeMap::new();
        if d.backend == DbBackend::Postgres {
            let pcts: Vec<String> = PERCENTILES
                .iter()
                .map(|p| {
                    format!(
                        "percentile_cont({p}) WITHIN GROUP (ORDER BY CAST(x AS DOUBLE PRECISION))"
                    )
                })
                .collect();
            let sql = format!(
                "SELECT g, CAST(COUNT(*) AS BIGINT), {} FROM ({base}) b GROUP BY g",
                pcts.join(", ")
            );
            for row in self.rows(sql, p).await? {
                let pc = Percentiles {
                    count: get::<i64>(&row, 1)? as u64,
                    p50: get(&row, 2)?,
                    p90: get(&row, 3)?,
                    p99: get(&row, 4)?,
                };
                out.insert(get::<String>(&row, 0)?, pc.scaled(m.scale()));
            }
            return Ok(out);
        }
        // Only the rows around each percentile's rank: floor(p·(n−1)) − 1 … + 2 (the float
        // arithmetic of the database and of Rust may differ in the last bit).
        let near: Vec<String> = PERCENTILES
            .iter()
            .map(|p| {
                let f = d.floor(&format!("{p} * (n - 1)"));
                format!("(rn >= {f} - 1 AND rn <= {f} + 2)")
            })
            .collect();
        let sql = format!(
            "SELECT g, n, rn, x FROM (SELECT g, {x}, {rn}, {n} FROM ({base}) b) r WHERE {near}",
            x = d.int("x") + " AS x",
            rn = d.int("ROW_NUMBER() OVER (PARTITION BY g ORDER BY x) - 1") + " AS rn",
            n = d.int("COUNT(*) OVER (PARTITION BY g)") + " AS n",
            near = near.join(" OR ")
        );
        let mut ranked: BTreeMap<String, (u64, BTreeMap<u64, f64>)> = BTreeMap::new();
        for row in self.rows(sql, p).await? {
            let e = ranked
                .entry(get::<String>(&row, 0)?)
                .or_insert((0, BTreeMap::new()));
            e.0 = get::<i64>(&row, 1)? as u64;
            e.1.insert(get::<i64>(&row, 2)? as u64, get::<i64>(&row, 3)? as f64);
        }
        for (g, (n, values)) in ranked {
            let at = |p: f64| -> Result<f64> {
                let (lo, hi, frac) = percentile_ranks(n, p);
                match (values.get(&lo), values.get(&hi)) {
                    (Some(a), Some(b)) => Ok(a + (b - a) * frac),
                    _ => Err(Error::backend(
                        "sql",
                        false,
                        format!("percentile {p} of {n}: ranks {lo}, {hi} not returned"),
                    )),
                }
            };
            let pc = Percentiles {
                count: n,
                p50: at(PERCENTILES[0])?,
                p90: at(PERCENTILES[1])?,
                p99: at(PERCENTILES[2])?,
            };
            out.insert(g, pc.scaled(m.scale()));
        }
        Ok(out)
    }

    /// The measures' histograms per day and over the window (key [`ALL`]): the rollup rows'
    /// merged with the values of the jobs read live.
    async fn histograms(
        &self,
        q: &StatsQuery,
        cut: Option<&Cut>,
        rolled: &[RolledUp],
    ) -> Result<BTreeMap<(String, Measure), LogHistogram>> {
        let mut out: BTreeMap<(String, Measure), LogHistogram> = BTreeMap::new();
        for r in rolled {
            let day = day_key(r.start());
            for m in MEASURES {
                for key in [day.clone(), ALL.to_string()] {
                    out.entry((key, m)).or_default().merge(m.of(&r.folded));
                }
            }
        }
        let d = self.dialect();
        let mut p = Params::default();
        let w = self.scope(q, Window::of(cut), &mut p)?;
        let sql = format!(
            "SELECT {}, {}, {}, {} FROM job WHERE {w}",
            d.day(),
            d.duration_us(),
            d.wait_us(),
            d.int("peak_memory_bytes")
        );
        for row in self.window_rows(sql, p, cut.is_some()).await? {
            let day: String = get(&row, 0)?;
            for (i, m) in MEASURES.into_iter().enumerate() {
                if let Some(v) = get::<Option<i64>>(&row, i + 1)? {
                    for key in [day.clone(), ALL.to_string()] {
                        out.entry((key, m)).or_default().add(v as f64);
                    }
                }
            }
        }
        Ok(out)
    }

    /// The last `q.last` finished jobs (any age), newest first.
    async fn last_jobs(&self, q: &StatsQuery) -> Result<Vec<JobPoint>> {
        if q.last == 0 {
            return Ok(Vec::new());
        }
        let d = self.dialect();
        let mut p = Params::default();
        let w = self.scope(q, Window::Finished, &mut p)?;
        let end = d.col("end");
        let sql = format!(
            "SELECT id, {}, outcome, {}, {}, {}, {} FROM job WHERE {w} ORDER BY {end} DESC, id DESC LIMIT {}",
            d.epoch_us("end"),
            d.int("exitcode"),
            d.duration_us(),
            d.wait_us(),
            d.int("peak_memory_bytes"),
            q.last
        );
        let mut out = Vec::new();
        for row in self.rows(sql, p).await? {
            out.push(JobPoint {
                id: JobId(get(&row, 0)?),
                end: instant_of(get(&row, 1)?)?,
                outcome: outcome_of(&get::<String>(&row, 2)?)?,
                exitcode: get::<Option<i64>>(&row, 3)?.map(|c| c as i32),
                duration: get::<Option<i64>>(&row, 4)?.map(|us| us as f64 / 1e6),
                queue_wait: get::<Option<i64>>(&row, 5)?.map(|us| us as f64 / 1e6),
                peak_memory: get::<Option<i64>>(&row, 6)?.map(|b| b.max(0) as u64),
            });
        }
        Ok(out)
    }
}

#[async_trait]
impl JobStatistics for SqlStore {
    async fn job_stats(&self, q: &StatsQuery) -> Result<JobStats> {
        let cut = self.cut(q.since).await?;
        let mut counts = self.counts(q, cut.as_ref()).await?;
        let rolled = match &cut {
            Some(c) => self.rolled_up(q, c).await?,
            None => Vec::new(),
        };
        for r in &rolled {
            *counts
                .entry(day_key(r.start()))
                .or_default()
                .entry((r.outcome, r.exitcode))
                .or_insert(0) += r.folded.jobs;
        }
        let mut days: BTreeMap<String, Aggregate> = counts
            .iter()
            .map(|(day, c)| {
                (
                    day.clone(),
                    Aggregate {
                        counts: outcome_counts(c),
                        ..Aggregate::default()
                    },
                )
            })
            .collect();
        let mut total_counts = Counts::new();
        for c in counts.values() {
            for (k, n) in c {
                *total_counts.entry(*k).or_insert(0) += n;
            }
        }
        let mut total = Aggregate {
            counts: outcome_counts(&total_counts),
            ..Aggregate::default()
        };
        let approximate = total.jobs() > q.exact_up_to;
        if approximate {
            let hists = self.histograms(q, cut.as_ref(), &rolled).await?;
            for ((key, m), h) in hists {
                let pc = h.percentiles(m.scale());
                let a = if key == ALL {
                    &mut total
                } else if let Some(a) = days.get_mut(&key) {
                    a
                } else {
                    continue;
                };
                m.set(a, pc);
            }
        } else if total.jobs() > 0 {
            for m in MEASURES {
                let mut all = self.percentiles(q, m, false).await?;
                let per_day = self.percentiles(q, m, true).await?;
                m.set(&mut total, all.remove(ALL));
                for (day, pc) in per_day {
                    if let Some(a) = days.get_mut(&day) {
                        m.set(a, Some(pc));
                    }
                }
            }
        }
        Ok(JobStats {
            total,
            days: days
                .into_iter()
                .map(|(day, stats)| {
                    Ok(DayStats {
                        day: day_of(&day)?,
                        stats,
                    })
                })
                .collect::<Result<Vec<_>>>()?,
            last: self.last_jobs(q).await?,
            approximate,
        })
    }

    async fn hourly_outcomes(
        &self,
        since: DateTime<Utc>,
        company: Option<CompanyId>,
    ) -> Result<Vec<HourCount>> {
        let d = self.dialect();
        let mut p = Params::default();
        let cut = self.cut(since).await?;
        let mut w = match &cut {
            Some(c) => c.live(d, &mut p)?,
            None => format!("{} >= {}", d.col("end"), p.push(d, ts(to_micros(since)))),
        };
        if let Some(c) = company {
            w += &format!(" AND company_id = {}", p.push(d, c.0));
        }
        let hour = d.hour();
        let sql = format!(
            "SELECT {hour}, outcome, {} FROM job WHERE {w} AND outcome IS NOT NULL GROUP BY {hour}, outcome",
            d.int("COUNT(*)")
        );
        let mut by_hour: BTreeMap<(DateTime<Utc>, Outcome), u64> = BTreeMap::new();
        if let Some(c) = &cut {
            for (hour, outcome, jobs) in self.rolled_up_hours(c, company).await? {
                *by_hour
                    .entry((instant_of(hour * HOUR_US)?, outcome))
                    .or_insert(0) += jobs;
            }
        }
        for row in self.window_rows(sql, p, cut.is_some()).await? {
            let key: String = get(&row, 0)?;
            let hour = NaiveDateTime::parse_from_str(
                &format!("{}:00", key.replace('T', " ")),
                "%Y-%m-%d %H:%M",
            )
            .map_err(|e| Error::backend("sql", false, format!("hour {key:?}: {e}")))?
            .and_utc();
            *by_hour
                .entry((hour, outcome_of(&get::<String>(&row, 1)?)?))
                .or_insert(0) += get::<i64>(&row, 2)? as u64;
        }
        Ok(by_hour
            .into_iter()
            .map(|((hour, outcome), jobs)| HourCount {
                hour,
                outcome,
                jobs,
            })
            .collect())
    }

    async fn fold_stats(&self) -> Result<u64> {
        self.fold().await
    }
}
