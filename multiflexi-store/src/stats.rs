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

mod dialect;

use crate::entity::ts;
use crate::store::SqlStore;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use dialect::{Dialect, Params};
use multiflexi_core::store::{
    Aggregate, DayStats, HourCount, JobPoint, JobStatistics, JobStats, OutcomeCount, PERCENTILES,
    Percentiles, StatsQuery, StatsSubject, percentile_ranks,
};
use multiflexi_core::{CompanyId, Error, JobId, Outcome, Result, to_micros};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement};
use std::collections::BTreeMap;
use std::str::FromStr;

/// The group key of the whole window.
const ALL: &str = "all";

/// A measure the percentiles are taken of.
#[derive(Debug, Clone, Copy)]
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

impl SqlStore {
    fn dialect(&self) -> Dialect {
        Dialect {
            backend: self.backend(),
        }
    }

    async fn rows(&self, sql: String, p: Params) -> Result<Vec<QueryResult>> {
        self.db()
            .query_all_raw(Statement::from_sql_and_values(
                self.backend(),
                sql,
                p.values,
            ))
            .await
            .map_err(|e| self.dberr(e))
    }

    /// `WHERE` of the subject's (and company's) finished jobs, ended since `since` when given.
    fn scope(&self, q: &StatsQuery, since: bool, p: &mut Params) -> String {
        let d = self.dialect();
        let (col, id) = match q.subject {
            StatsSubject::Template(t) => ("runtemplate_id", t.0),
            StatsSubject::App(a) => ("app_id", a.0),
        };
        let mut w = format!("{} = {}", d.col(col), p.push(d, id));
        if let Some(c) = q.company_id {
            w += &format!(" AND company_id = {}", p.push(d, c.0));
        }
        if since {
            w += &format!(
                " AND {} >= {}",
                d.col("end"),
                p.push(d, ts(to_micros(q.since)))
            );
        } else {
            w += &format!(" AND {} IS NOT NULL", d.col("end"));
        }
        w + " AND outcome IS NOT NULL"
    }

    /// Counts by (day, outcome, exit code).
    async fn counts(&self, q: &StatsQuery) -> Result<BTreeMap<String, Vec<OutcomeCount>>> {
        let d = self.dialect();
        let mut p = Params::default();
        let w = self.scope(q, true, &mut p);
        let day = d.day();
        let sql = format!(
            "SELECT {day}, outcome, {}, {} FROM job WHERE {w} GROUP BY {day}, outcome, exitcode",
            d.int("exitcode"),
            d.int("COUNT(*)")
        );
        let mut out: BTreeMap<String, Vec<OutcomeCount>> = BTreeMap::new();
        for row in self.rows(sql, p).await? {
            let day: String = get(&row, 0)?;
            let outcome = outcome_of(&get::<String>(&row, 1)?)?;
            let exitcode: Option<i64> = get(&row, 2)?;
            out.entry(day).or_default().push(OutcomeCount {
                outcome,
                exitcode: exitcode.map(|c| c as i32),
                jobs: get::<i64>(&row, 3)? as u64,
            });
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
        let w = self.scope(q, true, &mut p);
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

    /// The last `q.last` finished jobs (any age), newest first.
    async fn last_jobs(&self, q: &StatsQuery) -> Result<Vec<JobPoint>> {
        if q.last == 0 {
            return Ok(Vec::new());
        }
        let d = self.dialect();
        let mut p = Params::default();
        let w = self.scope(q, false, &mut p);
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
        let counts = self.counts(q).await?;
        let mut days: BTreeMap<String, Aggregate> = counts
            .into_iter()
            .map(|(day, mut counts)| {
                counts.sort();
                (
                    day,
                    Aggregate {
                        counts,
                        ..Aggregate::default()
                    },
                )
            })
            .collect();
        let mut total_counts: BTreeMap<(Outcome, Option<i32>), u64> = BTreeMap::new();
        for a in days.values() {
            for c in &a.counts {
                *total_counts.entry((c.outcome, c.exitcode)).or_insert(0) += c.jobs;
            }
        }
        let mut total = Aggregate {
            counts: total_counts
                .into_iter()
                .map(|((outcome, exitcode), jobs)| OutcomeCount {
                    outcome,
                    exitcode,
                    jobs,
                })
                .collect(),
            ..Aggregate::default()
        };
        if total.jobs() > 0 {
            for m in [Measure::Duration, Measure::Wait, Measure::Memory] {
                let mut all = self.percentiles(q, m, false).await?;
                let per_day = self.percentiles(q, m, true).await?;
                let set = |a: &mut Aggregate, v: Option<Percentiles>| match m {
                    Measure::Duration => a.duration = v,
                    Measure::Wait => a.queue_wait = v,
                    Measure::Memory => a.peak_memory = v,
                };
                set(&mut total, all.remove(ALL));
                for (day, pc) in per_day {
                    if let Some(a) = days.get_mut(&day) {
                        set(a, Some(pc));
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
        })
    }

    async fn hourly_outcomes(
        &self,
        since: DateTime<Utc>,
        company: Option<CompanyId>,
    ) -> Result<Vec<HourCount>> {
        let d = self.dialect();
        let mut p = Params::default();
        let mut w = format!("{} >= {}", d.col("end"), p.push(d, ts(to_micros(since))));
        if let Some(c) = company {
            w += &format!(" AND company_id = {}", p.push(d, c.0));
        }
        let hour = d.hour();
        let sql = format!(
            "SELECT {hour}, outcome, {} FROM job WHERE {w} AND outcome IS NOT NULL GROUP BY {hour}, outcome",
            d.int("COUNT(*)")
        );
        let mut out = Vec::new();
        for row in self.rows(sql, p).await? {
            let key: String = get(&row, 0)?;
            let hour = NaiveDateTime::parse_from_str(
                &format!("{}:00", key.replace('T', " ")),
                "%Y-%m-%d %H:%M",
            )
            .map_err(|e| Error::backend("sql", false, format!("hour {key:?}: {e}")))?
            .and_utc();
            out.push(HourCount {
                hour,
                outcome: outcome_of(&get::<String>(&row, 1)?)?,
                jobs: get::<i64>(&row, 2)? as u64,
            });
        }
        out.sort();
        Ok(out)
    }
}
