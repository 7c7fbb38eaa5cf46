//! Bulk copies of a finished job, for benchmarks that need a large history ("cost must not grow
//! with history"): not part of the lifecycle, and never called by the engine.

use crate::entity::job;
use crate::store::{SqlStore, in_tx};
use multiflexi_core::{Error, JobId, Phase, Result};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, Iterable, Statement};

/// Rows one INSERT … SELECT makes (MySQL's default recursion limit is 1,000).
const PER_STATEMENT: usize = 1000;
/// Jobs per transaction.
const PER_TRANSACTION: usize = 20_000;

impl SqlStore {
    /// Copies the Preserved job `source` `copies` times (same template, output, outcome and
    /// timestamps; new ids), each copy with the source's artifacts, output chunks and audit rows,
    /// in multi-row `INSERT … SELECT` statements and transactions of 20,000 jobs.
    ///
    /// For benchmarks: a database that looks like years of history, filled in seconds. It
    /// bypasses the lifecycle (no phase changes, no counters, no telemetry). The copies end
    /// when the source did: if the statistics fold has passed that hour, it is moved back to
    /// it (and the rollup rows from it on deleted), so the next fold counts the copies.
    pub async fn clone_finished_job(&self, source: JobId, copies: usize) -> Result<()> {
        let row = self.get_job_row(source).await?;
        if row.phase != Phase::Preserved.as_str() {
            return Err(Error::conflict(format!(
                "job {source} is {}, not preserved: only finished jobs are copied",
                row.phase
            )));
        }
        let backend = self.backend();
        let q = |name: &str| match backend {
            DbBackend::MySql => format!("`{name}`"),
            _ => format!("\"{name}\""),
        };
        let columns: Vec<String> = job::Column::iter()
            .map(|c| sea_orm::IdenStatic::as_str(&c).to_string())
            .filter(|c| c != "id")
            .collect();
        let insert_cols = columns.iter().map(|c| q(c)).collect::<Vec<_>>().join(", ");
        let select_cols = columns
            .iter()
            .map(|c| {
                if c == "idempotency_key" {
                    "NULL".to_string()
                } else {
                    format!("j.{}", q(c))
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let src = source.0;
        let end_us = row.end.map(|e| e.timestamp_micros());
        let mut done = 0;
        while done < copies {
            let k = PER_TRANSACTION.min(copies - done);
            in_tx!(self, |txn| {
                async {
                if let Some(end_us) = end_us {
                    // The copies end when the source did, maybe before the fold watermark.
                    crate::stats::rewind_fold(self, &txn, end_us).await?;
                }
                let base: i64 = txn
                    .query_one_raw(Statement::from_string(
                        backend,
                        "SELECT COALESCE(MAX(id), 0) FROM job",
                    ))
                    .await
                    .map_err(|e| self.dberr(e))?
                    .and_then(|r| r.try_get_by_index::<i64>(0).ok())
                    .unwrap_or(0);
                let mut left = k;
                while left > 0 {
                    let m = PER_STATEMENT.min(left);
                    let sql = format!(
                        "INSERT INTO job ({insert_cols}) \
                         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {m}) \
                         SELECT {select_cols} FROM job j, n WHERE j.id = {src}"
                    );
                    txn.execute_raw(Statement::from_string(backend, sql))
                        .await
                        .map_err(|e| self.dberr(e))?;
                    left -= m;
                }
                for sql in [
                    format!(
                        "INSERT INTO artifacts (job_id, filename, content_type, content, size, note, created) \
                         SELECT j.id, a.filename, a.content_type, a.content, a.size, a.note, a.created \
                         FROM job j, artifacts a WHERE j.id > {base} AND a.job_id = {src} ORDER BY j.id, a.id"
                    ),
                    format!(
                        "INSERT INTO job_output (job_id, seq, stream, bytes) \
                         SELECT j.id, o.seq, o.stream, o.bytes \
                         FROM job j, job_output o WHERE j.id > {base} AND o.job_id = {src} ORDER BY j.id, o.id"
                    ),
                    format!(
                        "INSERT INTO audit_log ({at}, job_id, actor, action, detail) \
                         SELECT a.{at}, j.id, a.actor, a.action, a.detail \
                         FROM job j, audit_log a WHERE j.id > {base} AND a.job_id = {src} ORDER BY j.id, a.id",
                        at = q("at")
                    ),
                ] {
                    txn.execute_raw(Statement::from_string(backend, sql))
                        .await
                        .map_err(|e| self.dberr(e))?;
                }
                Ok(())
            }
            .await
            })?;
            done += k;
        }
        Ok(())
    }

    async fn get_job_row(&self, id: JobId) -> Result<job::Model> {
        job::Entity::find_by_id(id.0)
            .one(self.db())
            .await
            .map_err(|e| self.dberr(e))?
            .ok_or_else(|| Error::not_found(JobId::ENTITY, id))
    }
}
