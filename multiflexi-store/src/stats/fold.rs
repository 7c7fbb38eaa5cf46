//! The fold: finished jobs into `job_stats_rollup` (migration 10), off the job lifecycle.
//!
//! A fold reads the jobs that ended in [watermark, now − [`GRACE_SECONDS`]) once, in one
//! streamed query, and groups them per (template, app, company, UTC hour, outcome, exit code)
//! with a [`LogHistogram`] per measure. Then, in one transaction, it locks the
//! `job_stats_fold` row (`FOR UPDATE`; SQLite's `BEGIN IMMEDIATE` locks the whole database)
//! and, only if the watermark is still the one it read (compare and set), merges the groups of
//! the watermark's own hour into the rows an earlier fold wrote for it, inserts the rest and
//! moves the watermark. Of two folds at the same time one writes, the other finds the
//! watermark moved and writes nothing: no job is counted twice, none is left out.
//!
//! Jobs deleted by retention after they were folded stay counted (the rollup is the history's
//! statistics); the percentiles of a window small enough to be exact are read from the jobs
//! themselves, so they leave those out.

use super::dialect::{Dialect, Params};
use super::{get, instant_of};
use crate::entity::ts;
use crate::store::{SqlStore, in_tx};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use multiflexi_core::store::LogHistogram;
use multiflexi_core::{Error, Result};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement, StreamTrait, Value};
use std::collections::BTreeMap;

/// Jobs that ended less than this long ago wait for a later fold: a completion takes its
/// `end` from the clock before it commits, so a job may commit with an `end` a little before
/// a fold that ran in between. Seconds.
pub(super) const GRACE_SECONDS: i64 = 10;

/// A read folds first when more finished jobs than this are past the watermark.
pub(super) const FOLD_WHEN_UNFOLDED_OVER: u64 = 10_000;

/// One hour in µs.
pub(super) const HOUR_US: i64 = 3_600_000_000;

/// Rows one INSERT writes.
const ROWS_PER_INSERT: usize = 200;

/// What a rollup row is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    runtemplate_id: i64,
    app_id: i64,
    company_id: i64,
    hour: i64,
    outcome: String,
    exitcode: Option<i64>,
}

/// Folded jobs of one key.
#[derive(Debug, Clone, Default)]
pub(super) struct Folded {
    pub jobs: u64,
    pub duration: LogHistogram,
    pub queue_wait: LogHistogram,
    pub peak_memory: LogHistogram,
}

impl Folded {
    fn merge(&mut self, other: &Folded) {
        self.jobs += other.jobs;
        self.duration.merge(&other.duration);
        self.queue_wait.merge(&other.queue_wait);
        self.peak_memory.merge(&other.peak_memory);
    }

    /// A stored row's counts (columns jobs, duration, queue_wait, peak_memory from `first`).
    pub fn of_row(row: &sea_orm::QueryResult, first: usize) -> Result<Folded> {
        let hist = |i: usize| -> Result<LogHistogram> {
            let text: String = get(row, i)?;
            LogHistogram::decode(&text).ok_or_else(|| {
                Error::backend(
                    "sql",
                    false,
                    format!("rollup histogram {text:?} unreadable"),
                )
            })
        };
        Ok(Folded {
            jobs: get::<i64>(row, first)?.max(0) as u64,
            duration: hist(first + 1)?,
            queue_wait: hist(first + 2)?,
            peak_memory: hist(first + 3)?,
        })
    }
}

/// µs since the epoch of `t`.
pub(super) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// A timestamp parameter of µs since the epoch.
pub(super) fn ts_param(us: i64) -> Result<Value> {
    Ok(ts(instant_of(us)?).into())
}

/// The watermark read in `txn`, locking its row.
async fn locked_watermark(store: &SqlStore, txn: &DatabaseTransaction) -> Result<Option<i64>> {
    let backend = store.backend();
    let lock = if backend == DbBackend::Sqlite {
        ""
    } else {
        " FOR UPDATE"
    };
    let sql = format!("SELECT watermark_us FROM job_stats_fold WHERE id = 1{lock}");
    let row = txn
        .query_one_raw(Statement::from_string(backend, sql))
        .await
        .map_err(|e| store.dberr(e))?
        .ok_or_else(|| Error::backend("sql", false, "job_stats_fold has no row 1".to_string()))?;
    get::<Option<i64>>(&row, 0)
}

impl SqlStore {
    /// The fold watermark, µs since the epoch; `None` before the first fold.
    pub(super) async fn fold_watermark(&self) -> Result<Option<i64>> {
        let row = self
            .db()
            .query_one_raw(Statement::from_string(
                self.backend(),
                "SELECT watermark_us FROM job_stats_fold WHERE id = 1",
            ))
            .await
            .map_err(|e| self.dberr(e))?;
        match row {
            Some(r) => get::<Option<i64>>(&r, 0),
            None => Ok(None),
        }
    }

    /// Folds the jobs that ended since the watermark, up to now − [`GRACE_SECONDS`].
    pub(super) async fn fold(&self) -> Result<u64> {
        let upto = micros(self.now().await?) - GRACE_SECONDS * 1_000_000;
        let from = self.fold_watermark().await?;
        if from.is_some_and(|f| f >= upto) {
            return Ok(0);
        }
        let groups = self.read_unfolded(from, upto).await?;
        in_tx!(self, |txn| self.fold_in(&txn, from, upto, &groups).await)
    }

    /// Writes `groups` (the jobs that ended in [`from`, `upto`)) and moves the watermark from
    /// `from` to `upto`, unless another fold moved it meanwhile (then nothing: that fold
    /// counted them).
    async fn fold_in(
        &self,
        txn: &DatabaseTransaction,
        from: Option<i64>,
        upto: i64,
        groups: &BTreeMap<Key, Folded>,
    ) -> Result<u64> {
        let d = Dialect {
            backend: self.backend(),
        };
        if locked_watermark(self, txn).await? != from {
            return Ok(0);
        }
        let mut groups = groups.clone();
        let folded: u64 = groups.values().map(|g| g.jobs).sum();
        if let Some(f) = from
            && f.rem_euclid(HOUR_US) != 0
        {
            self.merge_boundary_hour(txn, d, f.div_euclid(HOUR_US), &mut groups)
                .await?;
        }
        self.insert_rows(txn, d, groups).await?;
        let mut p = Params::default();
        let sql = format!(
            "UPDATE job_stats_fold SET watermark_us = {} WHERE id = 1",
            p.push(d, upto)
        );
        txn.execute_raw(Statement::from_sql_and_values(d.backend, sql, p.values))
            .await
            .map_err(|e| self.dberr(e))?;
        Ok(folded)
    }

    /// The jobs that ended in [`from`, `upto`), grouped: one streamed query (outside the
    /// fold's transaction, so the write lock is held only for the writes), memory bounded by
    /// the number of groups.
    async fn read_unfolded(&self, from: Option<i64>, upto: i64) -> Result<BTreeMap<Key, Folded>> {
        let d = self.dialect();
        let end = d.col("end");
        let mut p = Params::default();
        let mut w = format!("{end} < {}", p.push(d, ts_param(upto)?));
        if let Some(f) = from {
            w += &format!(" AND {end} >= {}", p.push(d, ts_param(f)?));
        }
        let sql = format!(
            "SELECT runtemplate_id, app_id, company_id, {}, outcome, {}, {}, {}, {} \
             FROM job WHERE {w} AND outcome IS NOT NULL",
            d.epoch_us("end"),
            d.int("exitcode"),
            d.duration_us(),
            d.wait_us(),
            d.int("peak_memory_bytes"),
        );
        let mut groups: BTreeMap<Key, Folded> = BTreeMap::new();
        let mut rows = Box::pin(
            self.db()
                .stream_raw(Statement::from_sql_and_values(d.backend, sql, p.values))
                .await
                .map_err(|e| self.dberr(e))?,
        );
        while let Some(row) = rows.next().await {
            let row = row.map_err(|e| self.dberr(e))?;
            let key = Key {
                runtemplate_id: get(&row, 0)?,
                app_id: get(&row, 1)?,
                company_id: get(&row, 2)?,
                hour: get::<i64>(&row, 3)?.div_euclid(HOUR_US),
                outcome: get(&row, 4)?,
                exitcode: get(&row, 5)?,
            };
            let g = groups.entry(key).or_default();
            g.jobs += 1;
            if let Some(us) = get::<Option<i64>>(&row, 6)? {
                g.duration.add(us as f64);
            }
            if let Some(us) = get::<Option<i64>>(&row, 7)? {
                g.queue_wait.add(us as f64);
            }
            if let Some(bytes) = get::<Option<i64>>(&row, 8)? {
                g.peak_memory.add(bytes as f64);
            }
        }
        Ok(groups)
    }

    /// Merges the rows an earlier fold wrote for `hour` (the watermark's, folded in part)
    /// into `groups` of the same key, and deletes them (the merged rows are inserted anew).
    async fn merge_boundary_hour(
        &self,
        txn: &DatabaseTransaction,
        d: Dialect,
        hour: i64,
        groups: &mut BTreeMap<Key, Folded>,
    ) -> Result<()> {
        let mut p = Params::default();
        let sql = format!(
            "SELECT id, runtemplate_id, app_id, company_id, outcome, exitcode, jobs, duration, \
             queue_wait, peak_memory FROM job_stats_rollup WHERE hour = {}",
            p.push(d, hour)
        );
        let rows = txn
            .query_all_raw(Statement::from_sql_and_values(d.backend, sql, p.values))
            .await
            .map_err(|e| self.dberr(e))?;
        let mut merged = Vec::new();
        for row in &rows {
            let key = Key {
                runtemplate_id: get(row, 1)?,
                app_id: get(row, 2)?,
                company_id: get(row, 3)?,
                hour,
                outcome: get(row, 4)?,
                exitcode: get(row, 5)?,
            };
            if let Some(g) = groups.get_mut(&key) {
                g.merge(&Folded::of_row(row, 6)?);
                merged.push(get::<i64>(row, 0)?);
            }
        }
        for ids in merged.chunks(ROWS_PER_INSERT) {
            let list: Vec<String> = ids.iter().map(i64::to_string).collect();
            let sql = format!(
                "DELETE FROM job_stats_rollup WHERE id IN ({})",
                list.join(", ")
            );
            txn.execute_raw(Statement::from_string(d.backend, sql))
                .await
                .map_err(|e| self.dberr(e))?;
        }
        Ok(())
    }

    async fn insert_rows(
        &self,
        txn: &DatabaseTransaction,
        d: Dialect,
        groups: BTreeMap<Key, Folded>,
    ) -> Result<()> {
        let groups: Vec<(Key, Folded)> = groups.into_iter().collect();
        for chunk in groups.chunks(ROWS_PER_INSERT) {
            let mut p = Params::default();
            let mut values = Vec::new();
            for (k, g) in chunk {
                let cells = [
                    p.push(d, k.runtemplate_id),
                    p.push(d, k.app_id),
                    p.push(d, k.company_id),
                    p.push(d, k.hour),
                    p.push(d, k.outcome.clone()),
                    p.push(d, k.exitcode),
                    p.push(d, g.jobs as i64),
                    p.push(d, g.duration.encode()),
                    p.push(d, g.queue_wait.encode()),
                    p.push(d, g.peak_memory.encode()),
                ];
                values.push(format!("({})", cells.join(", ")));
            }
            let sql = format!(
                "INSERT INTO job_stats_rollup (runtemplate_id, app_id, company_id, hour, outcome, \
                 exitcode, jobs, duration, queue_wait, peak_memory) VALUES {}",
                values.join(", ")
            );
            txn.execute_raw(Statement::from_sql_and_values(d.backend, sql, p.values))
                .await
                .map_err(|e| self.dberr(e))?;
        }
        Ok(())
    }
}

/// Before jobs that ended at `end_us` are written after the fold may have passed them (the
/// benchmarks' bulk history copies): moves the watermark back to the start of that hour and
/// deletes the rollup rows from that hour on, in `txn`, so the next fold counts them (and
/// everything after them) again.
#[cfg_attr(not(feature = "bench"), allow(dead_code))]
pub(crate) async fn rewind_fold(
    store: &SqlStore,
    txn: &DatabaseTransaction,
    end_us: i64,
) -> Result<()> {
    let backend = store.backend();
    let hour = end_us.div_euclid(HOUR_US);
    match locked_watermark(store, txn).await? {
        Some(w) if w > hour * HOUR_US => {}
        _ => return Ok(()),
    }
    let d = Dialect { backend };
    let mut p = Params::default();
    let sql = format!(
        "UPDATE job_stats_fold SET watermark_us = {} WHERE id = 1",
        p.push(d, hour * HOUR_US)
    );
    txn.execute_raw(Statement::from_sql_and_values(backend, sql, p.values))
        .await
        .map_err(|e| store.dberr(e))?;
    let mut p = Params::default();
    let sql = format!(
        "DELETE FROM job_stats_rollup WHERE hour >= {}",
        p.push(d, hour)
    );
    txn.execute_raw(Statement::from_sql_and_values(backend, sql, p.values))
        .await
        .map_err(|e| store.dberr(e))?;
    Ok(())
}
