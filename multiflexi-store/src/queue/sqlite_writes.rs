//! Claim, begin and finish on a SQLite file through the [`SqliteWriter`]: each batch is one
//! transaction in one hand-off to the writer thread, with the same rows, fencing, audit texts and
//! results as the SeaORM path (which SQLite in memory, PostgreSQL and MySQL use, and which a
//! finish batch falls back to when a job in it needs its template: a retry, a new
//! `next_schedule`, or actions after completion).

use super::complete::as_preserved;
use super::{capped, claim_detail, completion_detail, fence_model, phase_action, start_detail};
use crate::convert::{i64_of, job_from_model};
use crate::deadline::plus;
use crate::entity::job;
use crate::sqlite_writer::{
    JOB_COLUMNS, SqliteWriter, insert_audit, job_by_id, job_model, map_sqlite, ts_from_text,
    ts_text,
};
use crate::store::{SqlStore, backoff, retry_tx};
use crate::template_counts::{CountDelta, add_delta};
use chrono::{DateTime, Utc};
use multiflexi_core::model::Job;
use multiflexi_core::store::backend::fence_conflict;
use multiflexi_core::store::{Begin, ClaimOptions, Completed, Finish, Finished};
use multiflexi_core::{Error, Event, Outcome, Phase, Result, to_micros};
use rusqlite::{Transaction, params};
use std::sync::Arc;

/// A finish batch the writer did not store because a job in it needs its template's plan.
struct NeedsPlan;

/// What the writer returns for one finish: the job as Completed and as Preserved.
type FinishedRows = (job::Model, job::Model);

impl SqlStore {
    /// The SQLite file's writer, when this store has one.
    pub(super) fn sqlite_writer(&self) -> Option<&SqliteWriter> {
        self.inner.sqlite_writer.as_ref()
    }

    /// Runs `body` as one writer transaction, at this process's write turn, retried on
    /// transient conflicts (another process holding the file's write lock past the busy timeout).
    async fn on_writer<T, F>(&self, writer: &SqliteWriter, body: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(&Transaction<'_>) -> Result<T> + Send + Sync + 'static,
    {
        let body = Arc::new(body);
        let mut attempt = 0;
        loop {
            let r = {
                let _turn = self.write_turn().await;
                let body = body.clone();
                writer.transaction(move |txn| body(txn)).await
            };
            match r {
                Err(e) if retry_tx(&e, attempt) => {
                    attempt += 1;
                    backoff(attempt).await;
                }
                other => return other,
            }
        }
    }

    /// Scheduled → Queued for up to `limit` due jobs: the schedule rows marked and picked, the
    /// jobs leased and read back, one audit row each. The claim's now (due rows, `queued`, the
    /// expiry) is read inside the transaction, once it holds the write lock.
    pub(super) async fn claim_on_writer(
        &self,
        writer: &SqliteWriter,
        options: &ClaimOptions,
        kinds: &[String],
        limit: u64,
    ) -> Result<Vec<multiflexi_core::model::Job>> {
        let to = Phase::Scheduled.apply(Event::Claim)?.to;
        let clock = self
            .local_clock()
            .ok_or_else(|| Error::backend("sqlite", false, "SQLite has no database clock"))?;
        let ttl = options.lease_ttl;
        let kinds = kinds.to_vec();
        let owner = options.owner.clone();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let keys = self.inner.keys.clone();
        self.on_writer(writer, move |txn| {
            let now = to_micros(clock.now());
            let expires = plus(now, ttl);
            let now_text = ts_text(now);
            let pick = format!(
                r#"UPDATE schedule SET claimed = 1 WHERE id IN (
                        SELECT id FROM schedule
                        WHERE claimed = 0 AND executor IN ({kinds}) AND "after" <= ?
                        ORDER BY "after", job_id LIMIT ?
                    ) RETURNING job_id, "after""#,
                kinds = vec!["?"; kinds.len()].join(", ")
            );
            let mut values: Vec<rusqlite::types::Value> =
                kinds.iter().map(|k| k.clone().into()).collect();
            values.push(now_text.clone().into());
            values.push(limit.into());
            let mut picked: Vec<(DateTime<chrono::FixedOffset>, i64)> = Vec::new();
            {
                let mut stmt = txn.prepare_cached(&pick).map_err(|e| map_sqlite(&e))?;
                let mut q = stmt
                    .query(rusqlite::params_from_iter(values))
                    .map_err(|e| map_sqlite(&e))?;
                while let Some(row) = q.next().map_err(|e| map_sqlite(&e))? {
                    let id: i64 = row.get(0).map_err(|e| map_sqlite(&e))?;
                    let after: String = row.get(1).map_err(|e| map_sqlite(&e))?;
                    picked.push((ts_from_text(&after)?, id));
                }
            }
            // Claim order: due time, then id (RETURNING order is unspecified).
            picked.sort_unstable();
            let expires_text = ts_text(expires);
            let mut rows = Vec::with_capacity(picked.len());
            let mut lease = txn
                .prepare_cached(&format!(
                    r#"UPDATE job SET phase = ?1, status = ?1, lease_token = lease_token + 1,
                            lease_owner = ?2, lease_expires = ?3, queued = ?4
                        WHERE id = ?5 AND phase = ?6 RETURNING {}"#,
                    *JOB_COLUMNS
                ))
                .map_err(|e| map_sqlite(&e))?;
            for (_, id) in picked {
                let mut q = lease
                    .query(params![
                        to.as_str(),
                        owner,
                        expires_text,
                        now_text,
                        id,
                        Phase::Scheduled.as_str()
                    ])
                    .map_err(|e| map_sqlite(&e))?;
                let Some(row) = q.next().map_err(|e| map_sqlite(&e))? else {
                    continue;
                };
                let row = job_model(row).map_err(|e| map_sqlite(&e))?;
                insert_audit(
                    txn,
                    &now_text,
                    id,
                    &phase_action(to),
                    &owner,
                    &claim_detail(row.lease_token, expires),
                )?;
                // A job that cannot be read comes back with `unreadable` set: the claim
                // completes it instead of handing it out (`SqlStore::hand_out`).
                rows.push(job_from_model(&keys, &row)?);
            }
            Ok(rows)
        })
        .await
    }

    /// Queued → Running for a batch: each start fenced, one UPDATE and one audit row each.
    pub(super) async fn begin_on_writer(
        &self,
        writer: &SqliteWriter,
        starts: &[Begin],
        now: DateTime<Utc>,
    ) -> Result<Vec<Result<multiflexi_core::model::Job>>> {
        let starts = starts.to_vec();
        let rows = self
            .on_writer(writer, move |txn| begin_batch(txn, &starts, now))
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| r.and_then(|m| job_from_model(&self.inner.keys, &m)))
            .collect())
    }

    /// Completed → Preserved for a batch whose jobs need no template plan (ad-hoc jobs that
    /// succeeded or were cancelled): each fenced, its row written once in its final state, its
    /// schedule row deleted, stdout.txt / stderr.txt upserted, both phase changes audited, the
    /// template counters summed. `None` when a job needs its template (nothing was written).
    pub(super) async fn finish_on_writer(
        &self,
        writer: &SqliteWriter,
        finishes: &[Finish],
        now: DateTime<Utc>,
        cap: usize,
    ) -> Result<Option<Vec<Result<Finished>>>> {
        let finishes = finishes.to_vec();
        let r = self
            .on_writer(writer, move |txn| finish_batch(txn, &finishes, now, cap))
            .await?;
        Ok(r.ok().map(|rows| self.finished_jobs(rows)))
    }

    /// [`SqlStore::begin_on_writer`] and [`SqlStore::finish_on_writer`] in ONE transaction.
    /// When a finish needs its template plan, the starts are still stored here and the
    /// finishes come back as `None` (nothing of them was written).
    pub(super) async fn begin_and_finish_on_writer(
        &self,
        writer: &SqliteWriter,
        starts: &[Begin],
        finishes: &[Finish],
        now: DateTime<Utc>,
        cap: usize,
    ) -> Result<(Vec<Result<Job>>, Option<Vec<Result<Finished>>>)> {
        let (starts, finishes) = (starts.to_vec(), finishes.to_vec());
        let (begun, finished) = self
            .on_writer(writer, move |txn| {
                // The starts are stored either way; `finish_batch` reads and plans every finish
                // before writing any, so finishes it hands back have written nothing.
                let begun = begin_batch(txn, &starts, now)?;
                let finished = finish_batch(txn, &finishes, now, cap)?;
                Ok((begun, finished))
            })
            .await?;
        let keys = &self.inner.keys;
        Ok((
            begun
                .into_iter()
                .map(|r| r.and_then(|m| job_from_model(keys, &m)))
                .collect(),
            finished.ok().map(|rows| self.finished_jobs(rows)),
        ))
    }

    /// The jobs of a stored finish batch: each decoded once, as Completed and as Preserved.
    fn finished_jobs(&self, rows: Vec<Result<FinishedRows>>) -> Vec<Result<Finished>> {
        let keys = &self.inner.keys;
        rows.into_iter()
            .map(|r| {
                let (completed, preserved) = r?;
                let job = job_from_model(keys, &completed)?;
                let preserved = as_preserved(&job, &preserved);
                Ok(Finished {
                    completed: Completed { job, retry: None },
                    preserved,
                })
            })
            .collect()
    }
}

/// Queued → Running for a batch: each start fenced, one UPDATE and one audit row each.
fn begin_batch(
    txn: &Transaction<'_>,
    starts: &[Begin],
    now: DateTime<Utc>,
) -> Result<Vec<Result<job::Model>>> {
    let to = Phase::Queued.apply(Event::Start)?.to;
    let now_text = ts_text(now);
    let mut out: Vec<Result<job::Model>> = Vec::with_capacity(starts.len());
    for b in starts {
        let row = job_by_id(txn, b.lease.job_id.0)?;
        if let Err(e) = fence_model(row.as_ref(), b.lease, &[Phase::Queued], Event::Start) {
            out.push(Err(e));
            continue;
        }
        let mut row = row.expect("fenced");
        let n = txn
            .prepare_cached(
                r#"UPDATE job SET phase = ?1, status = ?1, "begin" = ?2, pid = ?3,
                        external_id = ?4
                    WHERE id = ?5 AND lease_token = ?6 AND phase = ?7"#,
            )
            .and_then(|mut s| {
                s.execute(params![
                    to.as_str(),
                    now_text,
                    b.pid,
                    b.external_id,
                    row.id,
                    b.lease.lease_token,
                    Phase::Queued.as_str()
                ])
            })
            .map_err(|e| map_sqlite(&e))?;
        if n != 1 {
            return Err(changed_under_lock(row.id));
        }
        row.phase = to.as_str().to_string();
        row.status = to.as_str().to_string();
        row.begin = Some(crate::entity::ts(now));
        row.pid = b.pid;
        row.external_id = b.external_id.clone();
        insert_audit(
            txn,
            &now_text,
            row.id,
            &phase_action(to),
            row.lease_owner.as_deref().unwrap_or_default(),
            &start_detail(b.pid, b.external_id.as_deref()),
        )?;
        out.push(Ok(row));
    }
    Ok(out)
}

fn changed_under_lock(id: i64) -> Error {
    Error::conflict(format!(
        "{}job {id} changed phase inside the write transaction",
        crate::error::TRANSIENT
    ))
}

/// Whether the template has actions for a job that ended with `outcome` (on_success for
/// success, else on_failure).
fn has_actions(txn: &Transaction<'_>, template: i64, outcome: Outcome) -> Result<bool> {
    let sql = if outcome.counts_as_success() {
        "SELECT 1 FROM runtemplate WHERE id = ?1 AND on_success IS NOT NULL"
    } else {
        "SELECT 1 FROM runtemplate WHERE id = ?1 AND on_failure IS NOT NULL"
    };
    let mut st = txn.prepare_cached(sql).map_err(|e| map_sqlite(&e))?;
    st.exists([template]).map_err(|e| map_sqlite(&e))
}

type FinishOutcome = std::result::Result<Vec<Result<FinishedRows>>, NeedsPlan>;

fn finish_batch(
    txn: &Transaction<'_>,
    finishes: &[Finish],
    now: DateTime<Utc>,
    cap: usize,
) -> Result<FinishOutcome> {
    let now_text = ts_text(now);
    let preserved_phase = Phase::Completed.apply(Event::Preserve)?.to;
    // First every job's row, fence and plan, so that a batch handed back to the SeaORM path has
    // written nothing.
    let mut planned = Vec::with_capacity(finishes.len());
    let mut seen = std::collections::HashSet::with_capacity(finishes.len());
    // (template, success) → whether it has actions: asked once per template in the batch.
    let mut actions_asked = std::collections::HashMap::new();
    for f in finishes {
        let cpl = &f.completion;
        let event = Event::Complete(cpl.outcome);
        let expected = [Phase::Queued, Phase::Running];
        if !seen.insert(cpl.lease.job_id) {
            // Twice in one batch: the first one finishes it.
            planned.push(Err(fence_conflict(
                cpl.lease.job_id,
                &expected,
                cpl.lease.lease_token,
            )));
            continue;
        }
        let row = job_by_id(txn, cpl.lease.job_id.0)?;
        let p = fence_model(row.as_ref(), cpl.lease, &expected, event)
            .and_then(|from| Ok((from, from.apply(event)?)));
        match p {
            Ok((from, t)) => {
                let row = row.expect("fenced");
                let outcome = t.outcome.unwrap_or(Outcome::Lost);
                if row.slot.is_some() || !matches!(outcome, Outcome::Success | Outcome::Cancelled) {
                    // The template decides a retry or the next slot: the SeaORM path does that.
                    return Ok(Err(NeedsPlan));
                }
                let asks = (row.runtemplate_id, outcome.counts_as_success());
                let has = match actions_asked.get(&asks) {
                    Some(&has) => has,
                    None => {
                        let has = has_actions(txn, row.runtemplate_id, outcome)?;
                        actions_asked.insert(asks, has);
                        has
                    }
                };
                if has {
                    // Its `job_action` rows are written by the SeaORM path, in its transaction.
                    return Ok(Err(NeedsPlan));
                }
                planned.push(Ok((row, from, t.to, outcome)));
            }
            Err(e) => planned.push(Err(e)),
        }
    }
    let mut out = Vec::with_capacity(finishes.len());
    // per template: (successes, failures)
    let mut deltas: Vec<CountDelta> = Vec::new();
    for (f, p) in finishes.iter().zip(planned) {
        let cpl = &f.completion;
        let (mut row, from, to, outcome) = match p {
            Ok(p) => p,
            Err(e) => {
                out.push(Err(e));
                continue;
            }
        };
        let n = txn
            .prepare_cached(
                r#"UPDATE job SET phase = ?1, status = ?2, outcome = ?2, exitcode = ?3,
                    "end" = ?4, lease_expires = NULL, stdout = ?5, stderr = ?6, preserved = ?4,
                    peak_memory_bytes = ?10, cpu_time_ms = ?11, memory_limit_hit = ?12,
                    usage_note = ?13
                WHERE id = ?7 AND lease_token = ?8 AND phase = ?9"#,
            )
            .and_then(|mut s| {
                s.execute(params![
                    preserved_phase.as_str(),
                    outcome.as_str(),
                    i64::from(cpl.exitcode),
                    now_text,
                    cpl.stdout,
                    cpl.stderr,
                    row.id,
                    cpl.lease.lease_token,
                    from.as_str(),
                    cpl.usage.peak_memory_bytes.map(i64_of),
                    cpl.usage.cpu_time_ms.map(i64_of),
                    cpl.usage.memory_limit_hit,
                    cpl.usage.unknown_reason
                ])
            })
            .map_err(|e| map_sqlite(&e))?;
        if n != 1 {
            return Err(changed_under_lock(row.id));
        }
        txn.prepare_cached("DELETE FROM schedule WHERE job_id = ?1")
            .and_then(|mut s| s.execute([row.id]))
            .map_err(|e| map_sqlite(&e))?;
        for (name, bytes) in [("stdout.txt", &f.stdout), ("stderr.txt", &f.stderr)] {
            let (kept, note) = capped(bytes, cap);
            txn.prepare_cached(
                "INSERT INTO artifacts (job_id, filename, content_type, content, size, note, created)
                 VALUES (?1, ?2, 'text/plain', ?3, ?4, ?5, ?6)
                 ON CONFLICT (job_id, filename) DO UPDATE SET content_type = excluded.content_type,
                    content = excluded.content, size = excluded.size, note = excluded.note",
            )
            .and_then(|mut s| {
                s.execute(params![
                    row.id,
                    name,
                    kept,
                    i64::try_from(kept.len()).unwrap_or(i64::MAX),
                    note,
                    now_text
                ])
            })
            .map_err(|e| map_sqlite(&e))?;
        }
        let owner = row.lease_owner.clone();
        insert_audit(
            txn,
            &now_text,
            row.id,
            &phase_action(to),
            owner.as_deref().unwrap_or_default(),
            &completion_detail(outcome, cpl.exitcode),
        )?;
        insert_audit(
            txn,
            &now_text,
            row.id,
            &phase_action(preserved_phase),
            owner.as_deref().unwrap_or("scheduler"),
            "",
        )?;
        add_delta(&mut deltas, row.runtemplate_id, outcome.counts_as_success());
        row.phase = to.as_str().to_string();
        row.status = outcome.as_str().to_string();
        row.outcome = Some(outcome.as_str().to_string());
        row.exitcode = Some(i64::from(cpl.exitcode));
        row.end = Some(crate::entity::ts(now));
        row.lease_expires = None;
        row.stdout = cpl.stdout.clone();
        row.stderr = cpl.stderr.clone();
        super::usage_columns::usage_into_row(&mut row, &cpl.usage);
        let completed = row.clone();
        row.phase = preserved_phase.as_str().to_string();
        row.preserved = Some(crate::entity::ts(now));
        out.push(Ok((completed, row)));
    }
    // Counters as insert-only deltas, as every store writes them (`template_counts`).
    for (tid, ok, failed) in deltas {
        txn.prepare_cached(
            "INSERT INTO runtemplate_count (runtemplate_id, succeeded, failed) VALUES (?1, ?2, ?3)",
        )
        .and_then(|mut s| s.execute(params![tid, ok, failed]))
        .map_err(|e| map_sqlite(&e))?;
    }
    Ok(Ok(out))
}
