//! A run template's success and failure counters, kept off the template's row lock.
//!
//! A finish never updates `runtemplate`: it inserts one `runtemplate_count` row per template
//! of its batch (`succeeded`, `failed`), so two finishing transactions never wait for each
//! other on a template row (they did: measured in `docs/benchmarks.md`, session 10 — two
//! batches in flight ran slower than one because each waited for the other's commit on the
//! shared template rows). A template's counters are read in one statement as its row's plus
//! the sum of its deltas; `SqlStore::fold_count_deltas` (called by each retention run)
//! moves the deltas into the row so the delta table stays short.

use crate::entity::runtemplate_count;
use crate::store::{SqlStore, in_tx};
use multiflexi_core::{Error, Result};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, Set, Statement, Value};

/// One template's counter changes: (template id, successes, failures).
pub(crate) type CountDelta = (i64, i64, i64);

/// Adds `delta` to the deltas of `deltas` (one entry per template, in first-seen order).
pub(crate) fn add_delta(deltas: &mut Vec<CountDelta>, template: i64, success: bool) {
    let (ok, failed) = (i64::from(success), i64::from(!success));
    match deltas.iter_mut().find(|d| d.0 == template) {
        Some(d) => {
            d.1 += ok;
            d.2 += failed;
        }
        None => deltas.push((template, ok, failed)),
    }
}

/// `expr` (a `SUM` of BIGINTs) as a 64-bit integer: PostgreSQL and MySQL sum BIGINT into
/// NUMERIC / DECIMAL.
fn as_i64(backend: DbBackend, expr: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("CAST({expr} AS BIGINT)"),
        DbBackend::MySql => format!("CAST({expr} AS SIGNED)"),
        _ => expr.to_string(),
    }
}

/// A template's deltas of `col` summed (0 for none), the template id bound at `param`.
fn deltas_of(backend: DbBackend, col: &str, param: &str) -> String {
    as_i64(
        backend,
        &format!(
            "COALESCE((SELECT SUM({col}) FROM runtemplate_count d WHERE d.runtemplate_id = {param}), 0)"
        ),
    )
}

impl SqlStore {
    /// Inserts the counter deltas of one finishing transaction (nothing for no deltas).
    pub(crate) async fn insert_count_deltas_in<C: ConnectionTrait>(
        &self,
        c: &C,
        deltas: &[CountDelta],
    ) -> Result<()> {
        let rows: Vec<runtemplate_count::ActiveModel> = deltas
            .iter()
            .filter(|(_, ok, failed)| *ok != 0 || *failed != 0)
            .map(|&(tid, ok, failed)| runtemplate_count::ActiveModel {
                runtemplate_id: Set(tid),
                succeeded: Set(ok),
                failed: Set(failed),
                ..Default::default()
            })
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        runtemplate_count::Entity::insert_many(rows)
            .exec_without_returning(c)
            .await
            .map_err(|e| self.dberr(e))?;
        Ok(())
    }

    /// Template `id`'s counters (successes, failures): its row's plus its deltas, read in one
    /// statement (one snapshot, so a fold committing meanwhile is seen whole or not at all).
    pub(crate) async fn template_counts_in<C: ConnectionTrait>(
        &self,
        c: &C,
        id: i64,
    ) -> Result<Option<(u64, u64)>> {
        let backend = self.backend();
        let p = |n: usize| match backend {
            DbBackend::Postgres => format!("${n}"),
            _ => "?".to_string(),
        };
        let sql = format!(
            "SELECT successfull_jobs_count + {ok}, failed_jobs_count + {failed} \
             FROM runtemplate WHERE id = {id}",
            ok = deltas_of(backend, "succeeded", &p(1)),
            failed = deltas_of(backend, "failed", &p(2)),
            id = p(3),
        );
        let values: Vec<Value> = vec![id.into(), id.into(), id.into()];
        let Some(row) = c
            .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
            .await
            .map_err(|e| self.dberr(e))?
        else {
            return Ok(None);
        };
        let get = |i: usize| -> Result<u64> {
            let v: i64 = row.try_get_by_index(i).map_err(|e| {
                Error::backend("sql", false, format!("template counter column {i}: {e:?}"))
            })?;
            Ok(u64::try_from(v).unwrap_or(0))
        };
        Ok(Some((get(0)?, get(1)?)))
    }

    /// Moves every template's counter deltas into its row, one short transaction per
    /// template: the template row is locked first (PostgreSQL, MySQL/MariaDB) so two folds
    /// running at once add each delta once; deltas inserted meanwhile (larger ids) stay for
    /// the next fold. Returns the number of delta rows folded.
    pub(crate) async fn fold_count_deltas(&self) -> Result<u64> {
        let backend = self.backend();
        let templates: Vec<i64> = self
            .db()
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT DISTINCT runtemplate_id FROM runtemplate_count",
            ))
            .await
            .map_err(|e| self.dberr(e))?
            .iter()
            .map(|r| r.try_get_by_index::<i64>(0))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| self.dberr(e))?;
        let mut folded = 0u64;
        for tid in templates {
            folded += in_tx!(self, |txn| self.fold_one_in(&txn, tid).await)?;
        }
        Ok(folded)
    }

    async fn fold_one_in<C: ConnectionTrait>(&self, c: &C, tid: i64) -> Result<u64> {
        let backend = self.backend();
        let (lock, p1, p2, p3) = match backend {
            DbBackend::Postgres => (" FOR UPDATE", "$1", "$2", "$3"),
            DbBackend::MySql => (" FOR UPDATE", "?", "?", "?"),
            _ => ("", "?", "?", "?"),
        };
        let run =
            |sql: String, values: Vec<Value>| Statement::from_sql_and_values(backend, sql, values);
        // Lock the template row, then read the deltas: a fold that got the lock second sees
        // the first one's deletes.
        if c.query_one_raw(run(
            format!("SELECT id FROM runtemplate WHERE id = {p1}{lock}"),
            vec![tid.into()],
        ))
        .await
        .map_err(|e| self.dberr(e))?
        .is_none()
        {
            return Ok(0);
        }
        let sums = format!(
            "SELECT {ok}, {failed}, COALESCE(MAX(id), 0), COUNT(*) FROM runtemplate_count \
             WHERE runtemplate_id = {p1}",
            ok = as_i64(backend, "COALESCE(SUM(succeeded), 0)"),
            failed = as_i64(backend, "COALESCE(SUM(failed), 0)"),
        );
        let Some(row) = c
            .query_one_raw(run(sums, vec![tid.into()]))
            .await
            .map_err(|e| self.dberr(e))?
        else {
            return Ok(0);
        };
        let col = |i: usize| -> Result<i64> { row.try_get_by_index(i).map_err(|e| self.dberr(e)) };
        let (ok, failed, max_id, rows) = (col(0)?, col(1)?, col(2)?, col(3)?);
        if rows == 0 {
            return Ok(0);
        }
        c.execute_raw(run(
            format!(
                "UPDATE runtemplate SET successfull_jobs_count = successfull_jobs_count + {p1}, \
                 failed_jobs_count = failed_jobs_count + {p2} WHERE id = {p3}"
            ),
            vec![ok.into(), failed.into(), tid.into()],
        ))
        .await
        .map_err(|e| self.dberr(e))?;
        c.execute_raw(run(
            format!("DELETE FROM runtemplate_count WHERE runtemplate_id = {p1} AND id <= {p2}"),
            vec![tid.into(), max_id.into()],
        ))
        .await
        .map_err(|e| self.dberr(e))?;
        Ok(u64::try_from(rows).unwrap_or(0))
    }
}
