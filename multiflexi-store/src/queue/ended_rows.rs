//! The job rows of jobs that ended, each written once in its final state.
//!
//! Each ended row carries its own outcome, exit code, output copies and resource usage
//! (Native, Docker and Podman jobs each measure their own), so grouping a batch by equal
//! values gives one UPDATE per job there. On PostgreSQL one `UPDATE … FROM (VALUES …)`
//! writes them all, fenced by each row's expected phase (the rows are locked by the batch's
//! read); MySQL/MariaDB and SQLite keep the grouped UPDATEs.

use super::{Groups, fenced_changed, group};
use crate::entity::{Ts, job};
use crate::store::SqlStore;
use multiflexi_core::{Phase, Result};
use sea_orm::sea_query::Expr;
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

/// Parameters per row; PostgreSQL takes at most 65,535 in one statement.
const PER_ROW: usize = 11;
const ROWS_PER_STATEMENT: usize = 2_000;

/// What one grouped UPDATE sets: from phase, status, outcome, exit code, output copies, usage.
type EndedKey = (
    Phase,
    String,
    Option<String>,
    Option<i64>,
    String,
    String,
    (Option<i64>, Option<i64>, Option<bool>, Option<String>),
);

impl SqlStore {
    /// Writes each `(row, expected phase)`: phase `to`, the row's status, outcome, exit code,
    /// output copies and usage, `"end"` at `now` (and `preserved` when `to` is Preserved), no
    /// lease expiry. Conflict (transient) when a row is not in its expected phase.
    pub(super) async fn write_ended_rows<C: ConnectionTrait>(
        &self,
        c: &C,
        rows: &[(&job::Model, Phase)],
        to: Phase,
        now: Ts,
    ) -> Result<()> {
        if self.backend() != DbBackend::Postgres {
            return self.write_ended_groups(c, rows, to, now).await;
        }
        let preserved = if to == Phase::Preserved {
            "preserved = $1,"
        } else {
            ""
        };
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let mut values: Vec<Value> = Vec::with_capacity(2 + chunk.len() * PER_ROW);
            values.push(now.into());
            values.push(to.as_str().into());
            let mut tuples = Vec::with_capacity(chunk.len());
            for (row, from) in chunk {
                let base = values.len();
                let p = |i: usize, ty: &str| format!("${}::{ty}", base + i);
                tuples.push(format!(
                    "({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
                    p(1, "bigint"),
                    p(2, "text"),
                    p(3, "text"),
                    p(4, "text"),
                    p(5, "bigint"),
                    p(6, "text"),
                    p(7, "text"),
                    p(8, "bigint"),
                    p(9, "bigint"),
                    p(10, "boolean"),
                    p(11, "text"),
                ));
                values.push(row.id.into());
                values.push(from.as_str().into());
                values.push(row.status.clone().into());
                values.push(row.outcome.clone().into());
                values.push(row.exitcode.into());
                values.push(row.stdout.clone().into());
                values.push(row.stderr.clone().into());
                values.push(row.peak_memory_bytes.into());
                values.push(row.cpu_time_ms.into());
                values.push(row.memory_limit_hit.into());
                values.push(row.usage_note.clone().into());
            }
            let sql = format!(
                r#"UPDATE job SET phase = $2, status = v.status, outcome = v.outcome,
                    exitcode = v.exitcode, "end" = $1, lease_expires = NULL, stdout = v.stdout,
                    stderr = v.stderr, {preserved} peak_memory_bytes = v.peak,
                    cpu_time_ms = v.cpu, memory_limit_hit = v.hit, usage_note = v.note
                FROM (VALUES {}) AS v(id, from_phase, status, outcome, exitcode, stdout, stderr,
                    peak, cpu, hit, note)
                WHERE job.id = v.id AND job.phase = v.from_phase"#,
                tuples.join(", ")
            );
            let n = c
                .execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    sql,
                    values,
                ))
                .await
                .map_err(|e| self.dberr(e))?
                .rows_affected();
            fenced_changed(n, chunk.len())?;
        }
        Ok(())
    }

    /// [`SqlStore::write_ended_rows`] as one UPDATE per group of rows that end alike.
    async fn write_ended_groups<C: ConnectionTrait>(
        &self,
        c: &C,
        rows: &[(&job::Model, Phase)],
        to: Phase,
        now: Ts,
    ) -> Result<()> {
        let mut groups: Groups<EndedKey> = Vec::new();
        for (row, from) in rows {
            let usage = (
                row.peak_memory_bytes,
                row.cpu_time_ms,
                row.memory_limit_hit,
                row.usage_note.clone(),
            );
            let key = (
                *from,
                row.status.clone(),
                row.outcome.clone(),
                row.exitcode,
                row.stdout.clone(),
                row.stderr.clone(),
                usage,
            );
            group(&mut groups, key, row.id);
        }
        for ((from, status, outcome, exitcode, stdout, stderr, usage), ids) in &groups {
            let (peak, cpu, hit, note) = usage;
            self.update_jobs(c, ids, *from, |q| {
                let q = q
                    .col_expr(job::Column::Phase, Expr::value(to.as_str()))
                    .col_expr(job::Column::Status, Expr::value(status.as_str()))
                    .col_expr(job::Column::Outcome, Expr::value(outcome.clone()))
                    .col_expr(job::Column::Exitcode, Expr::value(*exitcode))
                    .col_expr(job::Column::End, Expr::value(Some(now)))
                    .col_expr(job::Column::LeaseExpires, Expr::value(Option::<Ts>::None))
                    .col_expr(job::Column::Stdout, Expr::value(stdout.as_str()))
                    .col_expr(job::Column::Stderr, Expr::value(stderr.as_str()))
                    .col_expr(job::Column::PeakMemoryBytes, Expr::value(*peak))
                    .col_expr(job::Column::CpuTimeMs, Expr::value(*cpu))
                    .col_expr(job::Column::MemoryLimitHit, Expr::value(*hit))
                    .col_expr(job::Column::UsageNote, Expr::value(note.clone()));
                if to == Phase::Preserved {
                    q.col_expr(job::Column::Preserved, Expr::value(Some(now)))
                } else {
                    q
                }
            })
            .await?;
        }
        Ok(())
    }
}
