//! [`JobQueue`] for [`SqlStore`]: every lifecycle step is one transaction; every write after a
//! claim is fenced (`WHERE id = ? AND lease_token = ? AND phase = ?`).

use crate::convert::job_from_model;
use crate::deadline::Deadline;
use crate::entity::{Ts, ts};
use crate::entity::{artifacts, audit_log, job, job_output, schedule};
use crate::store::{SqlStore, in_tx};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use complete::{Ending, FencedBatch, as_preserved, fence_completions};
use detail_sql::PgDetail;
use multiflexi_core::artifact::ArtifactSink;
use multiflexi_core::lifecycle::{PhaseAudit, phase_action};
use multiflexi_core::model::{ExecutorKind, Job, NewJob, ResourceUsage};
use multiflexi_core::store::backend::{begin_then_finish, fence_conflict, finish_separately};
use multiflexi_core::store::{
    Begin, BegunAndFinished, CancelResult, ClaimOptions, CleanupOptions, CleanupReport, Completed,
    Completion, Finish, Finished, HeartbeatStatus, JobFilter, JobQueue, LeaseRef, QueueOverview,
    Recovered, Release, Released,
};
use multiflexi_core::{Error, Event, JobId, Outcome, Phase, Result, to_micros};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, OnConflict, Query};
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, Statement, UpdateMany, Value,
};
use std::collections::HashMap;
use std::time::Duration;
use usage_columns::usage_into_row;

fn phase_of(row: &job::Model) -> Result<Phase> {
    row.phase
        .parse::<Phase>()
        .map_err(|e| Error::backend("sql", false, format!("job {}: {e}", row.id)))
}

const CHUNK: usize = 500;

mod claim;
mod complete;
mod create;
mod detail_sql;
mod ended_rows;
mod release;
mod reschedule;
#[cfg(feature = "sqlite")]
mod sqlite_writes;
mod usage_columns;

impl SqlStore {
    fn locks(&self) -> bool {
        self.backend() != DbBackend::Sqlite
    }

    /// One `phase:<phase>` audit row.
    pub(crate) async fn audit_phase<C: ConnectionTrait>(
        &self,
        c: &C,
        now: DateTime<Utc>,
        job_id: i64,
        phase: Phase,
        actor: &str,
        detail: String,
    ) -> Result<()> {
        audit_log::Entity::insert(audit_log::ActiveModel {
            id: NotSet,
            at: Set(ts(now)),
            job_id: Set(Some(job_id)),
            actor: Set(actor.to_string()),
            action: Set(phase_action(phase)),
            detail: Set(detail),
        })
        .exec(c)
        .await
        .map_err(|e| self.dberr(e))?;
        Ok(())
    }

    /// The job row, locked for the rest of the transaction on PostgreSQL and MySQL.
    pub(crate) async fn job_row<C: ConnectionTrait>(&self, c: &C, id: JobId) -> Result<job::Model> {
        let mut q = job::Entity::find_by_id(id.0);
        if self.locks() {
            q = q.lock(LockType::Update);
        }
        q.one(c)
            .await
            .map_err(|e| self.dberr(e))?
            .ok_or_else(|| Error::not_found(JobId::ENTITY, id))
    }

    async fn job_in<C: ConnectionTrait>(&self, c: &C, id: i64) -> Result<Job> {
        let row = job::Entity::find_by_id(id)
            .one(c)
            .await
            .map_err(|e| self.dberr(e))?
            .ok_or_else(|| Error::not_found(JobId::ENTITY, id))?;
        job_from_model(&self.inner.keys, &row)
    }

    /// The fencing check: the token must match, the event must be legal in the job's phase
    /// (else InvalidTransition), and the phase must be one of `expected` (else Conflict).
    async fn fence<C: ConnectionTrait>(
        &self,
        c: &C,
        lease: LeaseRef,
        expected: &[Phase],
        event: Event,
    ) -> Result<job::Model> {
        let row = self.job_row(c, lease.job_id).await?;
        if row.lease_token != lease.lease_token {
            return Err(fence_conflict(lease.job_id, expected, lease.lease_token));
        }
        let phase = phase_of(&row)?;
        phase.apply(event)?;
        if !expected.contains(&phase) {
            return Err(fence_conflict(lease.job_id, expected, lease.lease_token));
        }
        Ok(row)
    }

    /// Moves one job to Completed and applies every side effect in the same transaction
    /// ([`SqlStore::end_jobs_in`] of one); the job as stored afterwards.
    #[allow(clippy::too_many_arguments)]
    async fn complete_in<C: ConnectionTrait>(
        &self,
        c: &C,
        row: job::Model,
        event: Event,
        exitcode: Option<i32>,
        stdout: Option<&str>,
        stderr: Option<&str>,
        usage: Option<&ResourceUsage>,
        now: DateTime<Utc>,
        actor: &str,
    ) -> Result<(Completed, bool)> {
        let ending = Ending {
            row,
            event,
            exitcode,
            stdout: stdout.map(str::to_string),
            stderr: stderr.map(str::to_string),
            usage: usage.cloned(),
            actor: actor.to_string(),
        };
        let (ended, woke) = self.end_jobs_in(c, vec![ending], now, false).await?;
        let ended = ended.into_iter().next().expect("one job ended");
        Ok((ended.completed, woke))
    }

    /// Runs `update` on job `id` only while it still holds `lease_token` and is in phase `from`:
    /// the fence of every single-job write after a claim. Conflict when it moved on.
    async fn update_fenced<C: ConnectionTrait>(
        &self,
        c: &C,
        update: UpdateMany<job::Entity>,
        id: JobId,
        lease_token: i64,
        from: Phase,
    ) -> Result<()> {
        let n = update
            .filter(job::Column::Id.eq(id.get()))
            .filter(job::Column::LeaseToken.eq(lease_token))
            .filter(job::Column::Phase.eq(from.as_str()))
            .exec(c)
            .await
            .map_err(|e| self.dberr(e))?
            .rows_affected;
        if n == 1 {
            Ok(())
        } else {
            Err(fence_conflict(id, &[from], lease_token))
        }
    }

    /// Completed → Preserved (fenced), with its audit row.
    async fn preserve_in<C: ConnectionTrait>(
        &self,
        txn: &C,
        lease: LeaseRef,
        now: DateTime<Utc>,
    ) -> Result<Job> {
        let row = self
            .fence(txn, lease, &[Phase::Completed], Event::Preserve)
            .await?;
        let to = Phase::Completed.apply(Event::Preserve)?.to;
        let q = job::Entity::update_many()
            .col_expr(job::Column::Phase, Expr::value(to.as_str()))
            .col_expr(job::Column::Preserved, Expr::value(Some(ts(now))));
        self.update_fenced(txn, q, JobId(row.id), lease.lease_token, Phase::Completed)
            .await?;
        let actor = row
            .lease_owner
            .clone()
            .unwrap_or_else(|| "scheduler".into());
        self.audit_phase(txn, now, row.id, to, &actor, String::new())
            .await?;
        self.job_in(txn, row.id).await
    }

    /// Queued → Scheduled after an expired lease (no attempt counted, lease cleared).
    async fn requeue_in<C: ConnectionTrait>(
        &self,
        c: &C,
        row: &job::Model,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let from = phase_of(row)?;
        let to = from.apply(Event::LeaseExpired)?.to;
        let q = job::Entity::update_many()
            .col_expr(job::Column::Phase, Expr::value(to.as_str()))
            .col_expr(job::Column::Status, Expr::value(to.as_str()))
            .col_expr(job::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(job::Column::LeaseExpires, Expr::value(Option::<Ts>::None))
            .col_expr(job::Column::Queued, Expr::value(Option::<Ts>::None));
        self.update_fenced(c, q, JobId(row.id), row.lease_token, from)
            .await?;
        schedule::Entity::update_many()
            .col_expr(schedule::Column::Claimed, Expr::value(false))
            .filter(schedule::Column::JobId.eq(row.id))
            .exec(c)
            .await
            .map_err(|e| self.dberr(e))?;
        self.audit_phase(
            c,
            now,
            row.id,
            to,
            "scheduler",
            format!(
                "lease of {:?} expired before the job started",
                row.lease_owner.clone().unwrap_or_default()
            ),
        )
        .await
    }
}

/// A `phase:<phase>` audit row, to insert with others in one statement.
fn audit_row(
    now: DateTime<Utc>,
    job_id: i64,
    phase: Phase,
    actor: String,
    detail: String,
) -> audit_log::ActiveModel {
    audit_log::ActiveModel {
        id: NotSet,
        at: Set(ts(now)),
        job_id: Set(Some(job_id)),
        actor: Set(actor),
        action: Set(phase_action(phase)),
        detail: Set(detail),
    }
}

/// The fencing check of [`SqlStore::fence`] on a row already read (and locked): returns the
/// job's phase.
fn fence_row(
    rows: &HashMap<i64, job::Model>,
    lease: LeaseRef,
    expected: &[Phase],
    event: Event,
) -> Result<Phase> {
    fence_model(rows.get(&lease.job_id.0), lease, expected, event)
}

/// [`fence_row`] of one row read (or not found).
fn fence_model(
    row: Option<&job::Model>,
    lease: LeaseRef,
    expected: &[Phase],
    event: Event,
) -> Result<Phase> {
    let row = row.ok_or_else(|| Error::not_found(JobId::ENTITY, lease.job_id))?;
    if row.lease_token != lease.lease_token {
        return Err(fence_conflict(lease.job_id, expected, lease.lease_token));
    }
    let phase = phase_of(row)?;
    phase.apply(event)?;
    if !expected.contains(&phase) {
        return Err(fence_conflict(lease.job_id, expected, lease.lease_token));
    }
    Ok(phase)
}

/// Ids grouped by what one UPDATE sets for them.
type Groups<K> = Vec<(K, Vec<i64>)>;
/// A start's pid and external id.
type StartKey = (Option<i64>, Option<String>);

/// Conflict (transient) unless a fenced UPDATE of `expected` locked rows changed all of them.
fn fenced_changed(n: u64, expected: usize) -> Result<()> {
    if n == expected as u64 {
        return Ok(());
    }
    Err(Error::conflict(format!(
        "{}{n} of {expected} fenced jobs changed phase under their lock",
        crate::error::TRANSIENT,
    )))
}

/// Groups ids by a key, keeping first-seen order of the keys.
fn group<K: PartialEq>(groups: &mut Vec<(K, Vec<i64>)>, key: K, id: i64) {
    match groups.iter_mut().find(|(k, _)| *k == key) {
        Some((_, ids)) => ids.push(id),
        None => groups.push((key, vec![id])),
    }
}

/// Rows of one multi-row artifact INSERT at most, and bytes of content.
const ARTIFACT_ROWS: usize = 200;
const ARTIFACT_BYTES: usize = 4 * 1024 * 1024;

impl SqlStore {
    /// The jobs of a batch, read in one statement (locked on PostgreSQL and MySQL, in id order).
    async fn rows_for_update<C: ConnectionTrait>(
        &self,
        c: &C,
        ids: impl Iterator<Item = i64>,
    ) -> Result<HashMap<i64, job::Model>> {
        let mut ids: Vec<i64> = ids.collect();
        ids.sort_unstable();
        ids.dedup();
        let mut rows = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let mut q = job::Entity::find()
                .filter(job::Column::Id.is_in(chunk.to_vec()))
                .order_by_asc(job::Column::Id);
            if self.locks() {
                q = q.lock(LockType::Update);
            }
            for r in q.all(c).await.map_err(|e| self.dberr(e))? {
                rows.insert(r.id, r);
            }
        }
        Ok(rows)
    }

    async fn insert_audit<C: ConnectionTrait>(
        &self,
        c: &C,
        rows: Vec<audit_log::ActiveModel>,
    ) -> Result<()> {
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<_> = rows.by_ref().take(CHUNK).collect();
            audit_log::Entity::insert_many(chunk)
                .exec(c)
                .await
                .map_err(|e| self.dberr(e))?;
        }
        Ok(())
    }

    /// `UPDATE job … WHERE id IN (ids) AND phase = from`; every row must change (the rows are
    /// locked and were fenced).
    async fn update_jobs<C: ConnectionTrait>(
        &self,
        c: &C,
        ids: &[i64],
        from: Phase,
        set: impl Fn(sea_orm::UpdateMany<job::Entity>) -> sea_orm::UpdateMany<job::Entity>,
    ) -> Result<()> {
        for chunk in ids.chunks(CHUNK) {
            let n = set(job::Entity::update_many())
                .filter(job::Column::Id.is_in(chunk.to_vec()))
                .filter(job::Column::Phase.eq(from.as_str()))
                .exec(c)
                .await
                .map_err(|e| self.dberr(e))?
                .rows_affected;
            fenced_changed(n, chunk.len())?;
        }
        Ok(())
    }

    /// `begin_many` for a batch: one locked read, one UPDATE per distinct (pid, external id),
    /// one multi-row audit INSERT.
    async fn begin_batch_in<C: ConnectionTrait>(
        &self,
        c: &C,
        starts: &[Begin],
        now: DateTime<Utc>,
    ) -> Result<Vec<Result<Job>>> {
        let mut rows = self
            .rows_for_update(c, starts.iter().map(|b| b.lease.job_id.0))
            .await?;
        let to = Phase::Queued.apply(Event::Start)?.to;
        let mut out: Vec<Result<i64>> = Vec::with_capacity(starts.len());
        let mut groups: Groups<StartKey> = Vec::new();
        let mut audit = Vec::with_capacity(starts.len());
        for b in starts {
            if let Err(e) = fence_row(&rows, b.lease, &[Phase::Queued], Event::Start) {
                out.push(Err(e));
                continue;
            }
            let Some(row) = rows.get_mut(&b.lease.job_id.0) else {
                out.push(Err(Error::not_found(JobId::ENTITY, b.lease.job_id)));
                continue;
            };
            row.phase = to.as_str().to_string();
            row.status = to.as_str().to_string();
            row.begin = Some(ts(now));
            row.pid = b.pid;
            row.external_id = b.external_id.clone();
            audit.push(audit_row(
                now,
                row.id,
                to,
                row.lease_owner.clone().unwrap_or_default(),
                start_detail(b.pid, b.external_id.as_deref()),
            ));
            group(&mut groups, (b.pid, b.external_id.clone()), row.id);
            out.push(Ok(row.id));
        }
        for ((pid, external_id), ids) in groups {
            self.update_jobs(c, &ids, Phase::Queued, |q| {
                q.col_expr(job::Column::Phase, Expr::value(to.as_str()))
                    .col_expr(job::Column::Status, Expr::value(to.as_str()))
                    .col_expr(job::Column::Begin, Expr::value(Some(ts(now))))
                    .col_expr(job::Column::Pid, Expr::value(pid))
                    .col_expr(job::Column::ExternalId, Expr::value(external_id.clone()))
            })
            .await?;
        }
        self.insert_audit(c, audit).await?;
        out.into_iter()
            .map(|r| r.and_then(|id| job_from_model(&self.inner.keys, &rows[&id])))
            .collect::<Vec<_>>()
            .into_iter()
            .map(Ok)
            .collect()
    }

    /// `finish_many` for a batch on this store's own artifacts: the jobs ended set-wise
    /// ([`SqlStore::end_jobs_in`], straight to Preserved), stdout.txt / stderr.txt inserted in
    /// multi-row INSERTs, in one transaction.
    async fn finish_batch_in<C: ConnectionTrait>(
        &self,
        c: &C,
        finishes: &[Finish],
        now: DateTime<Utc>,
        cap: usize,
    ) -> Result<(Vec<Result<Finished>>, bool)> {
        let mut rows = self
            .rows_for_update(c, finishes.iter().map(|f| f.completion.lease.job_id.0))
            .await?;
        let mut out: Vec<Option<Result<Finished>>> = (0..finishes.len()).map(|_| None).collect();
        let FencedBatch { endings, failed } =
            fence_completions(&mut rows, finishes.iter().map(|f| &f.completion));
        for (idx, e) in failed {
            out[idx] = Some(Err(e));
        }
        let (idxs, endings): (Vec<usize>, Vec<Ending>) = endings.into_iter().unzip();
        let (ended, woke) = self.end_jobs_in(c, endings, now, true).await?;

        // stdout.txt / stderr.txt: multi-row upserts (a same-named artifact is replaced).
        // A statement holds at most the cap's worth of content (one larger row alone), so it
        // fits under MySQL's max_allowed_packet, which the cap was fitted to.
        let names = ["stdout.txt", "stderr.txt"];
        let budget = ARTIFACT_BYTES.min(cap.max(1));
        let mut batch: Vec<artifacts::ActiveModel> = Vec::new();
        let mut batch_bytes = 0usize;
        for (&idx, e) in idxs.iter().zip(&ended) {
            let f = &finishes[idx];
            for (name, bytes) in [(names[0], &f.stdout), (names[1], &f.stderr)] {
                let (bytes, note) = capped(bytes, cap);
                let bytes = bytes.to_vec();
                if !batch.is_empty()
                    && (batch.len() >= ARTIFACT_ROWS || batch_bytes + bytes.len() > budget)
                {
                    self.insert_artifacts(c, std::mem::take(&mut batch)).await?;
                    batch_bytes = 0;
                }
                batch_bytes += bytes.len();
                batch.push(artifacts::ActiveModel {
                    id: NotSet,
                    job_id: Set(e.row.id),
                    filename: Set(name.to_string()),
                    content_type: Set("text/plain".to_string()),
                    size: Set(i64::try_from(bytes.len()).unwrap_or(i64::MAX)),
                    content: Set(bytes),
                    note: Set(note),
                    created: Set(ts(now)),
                });
            }
        }
        self.insert_artifacts(c, batch).await?;
        for (idx, e) in idxs.into_iter().zip(ended) {
            let preserved = as_preserved(&e.completed.job, &e.row);
            out[idx] = Some(Ok(Finished {
                completed: e.completed,
                preserved,
            }));
        }
        Ok((
            out.into_iter().map(|r| r.expect("every entry")).collect(),
            woke,
        ))
    }

    async fn insert_artifacts<C: ConnectionTrait>(
        &self,
        c: &C,
        batch: Vec<artifacts::ActiveModel>,
    ) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        artifacts::Entity::insert_many(batch)
            .on_conflict(
                OnConflict::columns([artifacts::Column::JobId, artifacts::Column::Filename])
                    .update_columns([
                        artifacts::Column::ContentType,
                        artifacts::Column::Content,
                        artifacts::Column::Size,
                        artifacts::Column::Note,
                    ])
                    .to_owned(),
            )
            .exec(c)
            .await
            .map_err(|e| match crate::error::classify(&e) {
                crate::error::Kind::Unique => Error::conflict(format!(
                    "{}an artifact was stored concurrently",
                    crate::error::TRANSIENT
                )),
                _ => self.dberr(e),
            })?;
        Ok(())
    }
}

impl SqlStore {
    /// Whether `artifacts` writes into this store's transactions (it declares this store's
    /// [`WriteDomain`](multiflexi_core::store::WriteDomain)): then a job's output can share its
    /// finish transaction.
    fn is_own_sink(&self, artifacts: &dyn ArtifactSink) -> bool {
        artifacts.write_domain() == Some(self.inner.domain)
    }

    /// `finish_many` on this store's own artifacts through SeaORM, in one transaction.
    async fn finish_in_tx(
        &self,
        finishes: &[Finish],
        now: DateTime<Utc>,
        cap: usize,
    ) -> Result<Vec<Result<Finished>>> {
        let (out, woke) = in_tx!(self, |txn| self
            .finish_batch_in(&txn, finishes, now, cap)
            .await)?;
        if woke {
            self.wake();
        }
        Ok(out)
    }
}

/// PostgreSQL: claim and begin as ONE statement each (data-modifying CTEs), so each is one
/// round trip and one implicit transaction.
impl SqlStore {
    /// Runs one self-contained statement (its own transaction), retried on transient errors.
    async fn one_statement_jobs(&self, sql: &str, values: Vec<Value>) -> Result<Vec<job::Model>> {
        let mut attempt: u32 = 0;
        loop {
            let stmt = Statement::from_sql_and_values(self.backend(), sql, values.clone());
            let r = job::Entity::find()
                .from_raw_sql(stmt)
                .all(self.db())
                .await
                .map_err(|e| self.dberr(e));
            match r {
                Err(e) if crate::store::retry_tx(&e, attempt) => {
                    attempt += 1;
                    crate::store::backoff(attempt).await;
                }
                other => break other,
            }
        }
    }

    /// The heartbeat as one statement (one round trip, no explicit transaction): the live
    /// leases' rows locked, then their expiry set from the database's clock, fenced by id,
    /// token and phase; a lease the statement did not return is lost.
    async fn heartbeat_pg(
        &self,
        leases: &[LeaseRef],
        ttl: Duration,
    ) -> Result<Vec<HeartbeatStatus>> {
        let mut alive: HashMap<(i64, i64), bool> = HashMap::with_capacity(leases.len());
        for chunk in leases.chunks(CHUNK) {
            let expires = self.deadline(ttl);
            let mut values: Vec<Value> = vec![
                match expires {
                    Deadline::At(t) => ts(t).into(),
                    Deadline::DbClockPlus(us) => us.into(),
                },
                Phase::Queued.as_str().into(),
                Phase::Running.as_str().into(),
            ];
            let expires_sql = match expires {
                Deadline::At(_) => "$1".to_string(),
                Deadline::DbClockPlus(_) => Deadline::sql(DbBackend::Postgres, "$1"),
            };
            let mut rows = Vec::with_capacity(chunk.len());
            for l in chunk {
                let n = values.len();
                rows.push(format!("(${}::bigint, ${}::bigint)", n + 1, n + 2));
                values.push(l.job_id.0.into());
                values.push(l.lease_token.into());
            }
            // Every row is locked before any is written: a CTE is evaluated lazily, row by
            // row as the UPDATE pulls it, so a plain `FOR UPDATE` CTE could write one lease,
            // then wait for another's lock while the first expiry ages. The aggregate consumes
            // (and so locks) all of them first; each expiry is then computed after the wait.
            // The rows are found by key (`= ANY`): joined to the list instead, the planner may
            // read every Queued and Running job through an index on phase (40 ms at 40,000
            // jobs, seen with auto_explain).
            let sql = format!(
                "WITH l(id, token) AS (VALUES {rows}), locked AS ( \
                     SELECT array_agg(s.id) AS ids FROM ( \
                       SELECT job.id FROM job \
                       WHERE job.id = ANY(ARRAY(SELECT id FROM l)) \
                         AND (job.id, job.lease_token) IN (SELECT id, token FROM l) \
                         AND job.phase IN ($2, $3) ORDER BY job.id FOR UPDATE OF job) s) \
                 UPDATE job SET lease_expires = {expires_sql} FROM locked \
                 WHERE job.id = ANY(locked.ids) \
                 RETURNING job.id, job.lease_token, job.cancel_requested",
                rows = rows.join(", ")
            );
            let stmt = Statement::from_sql_and_values(DbBackend::Postgres, &sql, values);
            let returned = self
                .db()
                .query_all_raw(stmt)
                .await
                .map_err(|e| self.dberr(e))?;
            for r in returned {
                let id: i64 = r.try_get("", "id").map_err(|e| self.dberr(e))?;
                let token: i64 = r.try_get("", "lease_token").map_err(|e| self.dberr(e))?;
                let cancel: bool = r
                    .try_get("", "cancel_requested")
                    .map_err(|e| self.dberr(e))?;
                alive.insert((id, token), cancel);
            }
        }
        Ok(leases
            .iter()
            .map(|l| match alive.get(&(l.job_id.0, l.lease_token)) {
                Some(true) => HeartbeatStatus::CancelRequested,
                Some(false) => HeartbeatStatus::Ok,
                None => HeartbeatStatus::Lost,
            })
            .collect())
    }

    /// `UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`, the schedule rows marked
    /// and the audit rows written by the same statement (their detail is
    /// [`PhaseAudit::write_queued`] rendered over the claimed rows). The expiry is the
    /// statement's own `clock_timestamp()` + ttl on the database's clock (or the injected
    /// clock's instant).
    async fn claim_pg(
        &self,
        options: &ClaimOptions,
        kinds: &[String],
        limit: u64,
        now: DateTime<Utc>,
    ) -> Result<Vec<Job>> {
        let to = Phase::Scheduled.apply(Event::Claim)?.to;
        let expires = self.deadline(options.lease_ttl);
        let mut values: Vec<Value> = vec![
            ts(now).into(),
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
            to.as_str().into(),
            options.owner.clone().into(),
            match expires {
                Deadline::At(t) => ts(t).into(),
                Deadline::DbClockPlus(us) => us.into(),
            },
            Phase::Scheduled.as_str().into(),
            phase_action(to).into(),
        ];
        let expires_sql = match expires {
            Deadline::At(_) => "$5".to_string(),
            Deadline::DbClockPlus(_) => Deadline::sql(DbBackend::Postgres, "$5"),
        };
        let kinds_sql: Vec<String> = kinds
            .iter()
            .enumerate()
            .map(|(i, _)| format!("${}", values.len() + 1 + i))
            .collect();
        values.extend(kinds.iter().map(|k| Value::from(k.clone())));
        let mut detail = PgDetail::default();
        PhaseAudit::write_queued(&mut detail, "c.lease_token", "c.lease_expires");
        // The picked rows are written by row version (a TID scan: the rows are locked, so the
        // version is theirs until the statement ends) and the jobs by key. Joined to `picked`
        // instead, the planner could — with statistics taken before a burst of creates, which
        // put one unclaimed row in the table — scan the whole schedule table once per picked
        // row: 100–250 ms per claim at 20,000 waiting jobs, a sixth of the throughput until
        // the backlog drained (five load benchmark runs in about sixty-five, seen with
        // auto_explain; docs/benchmarks.md, session 14).
        let sql = format!(
            r#"WITH picked AS (
                SELECT s.ctid AS row_version, s.job_id FROM schedule s
                WHERE s.claimed = FALSE AND s.executor IN ({kinds}) AND s."after" <= $1
                ORDER BY s."after", s.job_id LIMIT $2
                FOR UPDATE SKIP LOCKED
            ), marked AS (
                UPDATE schedule SET claimed = TRUE
                WHERE ctid = ANY(ARRAY(SELECT row_version FROM picked))
            ), claimed AS (
                UPDATE job SET phase = $3, status = $3, lease_token = job.lease_token + 1,
                    lease_owner = $4, lease_expires = {expires_sql}, queued = $1
                WHERE job.id = ANY(ARRAY(SELECT job_id FROM picked)) AND job.phase = $6
                RETURNING job.*
            ), audit AS (
                INSERT INTO audit_log (at, job_id, actor, action, detail)
                SELECT $1, c.id, $4, $7, {detail} FROM claimed c
            )
            SELECT * FROM claimed"#,
            kinds = kinds_sql.join(", "),
            detail = detail.sql()
        );
        let mut rows = self.one_statement_jobs(&sql, values).await?;
        rows.sort_by(|a, b| a.after.cmp(&b.after).then(a.id.cmp(&b.id)));
        rows.iter()
            .map(|r| job_from_model(&self.inner.keys, r))
            .collect()
    }

    /// `UPDATE job … FROM (VALUES …)` fenced by id, lease token and phase, with the audit rows,
    /// in one statement; the jobs it did not change are explained by a read of their rows.
    async fn begin_many_pg(
        &self,
        starts: &[Begin],
        now: DateTime<Utc>,
    ) -> Result<Vec<Result<Job>>> {
        let to = Phase::Queued.apply(Event::Start)?.to;
        let mut values: Vec<Value> = vec![
            ts(now).into(),
            to.as_str().into(),
            Phase::Queued.as_str().into(),
            phase_action(to).into(),
        ];
        let mut tuples = Vec::with_capacity(starts.len());
        // In job id order, the order every other batch write locks job rows in (heartbeats,
        // finishes): otherwise a start and a heartbeat of overlapping jobs can deadlock (seen:
        // PostgreSQL breaks it after deadlock_timeout, a second, and the retry succeeds).
        let mut in_order: Vec<&Begin> = starts.iter().collect();
        in_order.sort_by_key(|b| b.lease.job_id.0);
        for b in in_order {
            let n = values.len();
            tuples.push(format!(
                "(${}::bigint, ${}::bigint, ${}::bigint, ${}::text)",
                n + 1,
                n + 2,
                n + 3,
                n + 4
            ));
            values.push(b.lease.job_id.0.into());
            values.push(b.lease.lease_token.into());
            values.push(b.pid.into());
            values.push(b.external_id.clone().into());
        }
        let mut detail = PgDetail::default();
        PhaseAudit::write_running(&mut detail, "s.pid", "s.external_id");
        let sql = format!(
            r#"WITH v(id, token, pid, ext) AS (VALUES {tuples}
            ), started AS (
                UPDATE job SET phase = $2, status = $2, "begin" = $1, pid = v.pid,
                    external_id = v.ext
                FROM v WHERE job.id = v.id AND job.lease_token = v.token AND job.phase = $3
                RETURNING job.*
            ), audit AS (
                INSERT INTO audit_log (at, job_id, actor, action, detail)
                SELECT $1, s.id, COALESCE(s.lease_owner, ''), $4, {detail} FROM started s
            )
            SELECT * FROM started"#,
            tuples = tuples.join(", "),
            detail = detail.sql()
        );
        let started: HashMap<i64, job::Model> = self
            .one_statement_jobs(&sql, values)
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        // Jobs not started: the fencing check on their current rows says why.
        let missing: Vec<i64> = starts
            .iter()
            .map(|b| b.lease.job_id.0)
            .filter(|id| !started.contains_key(id))
            .collect();
        let current: HashMap<i64, job::Model> = if missing.is_empty() {
            HashMap::new()
        } else {
            job::Entity::find()
                .filter(job::Column::Id.is_in(missing))
                .all(self.db())
                .await
                .map_err(|e| self.dberr(e))?
                .into_iter()
                .map(|r| (r.id, r))
                .collect()
        };
        let mut seen = std::collections::HashSet::new();
        Ok(starts
            .iter()
            .map(|b| {
                let id = b.lease.job_id.0;
                match started.get(&id) {
                    // A second start of the same job in one batch finds it Running already.
                    Some(row) if row.lease_token == b.lease.lease_token && seen.insert(id) => {
                        job_from_model(&self.inner.keys, row)
                    }
                    Some(_) => {
                        let rows = HashMap::from([(id, started[&id].clone())]);
                        fence_row(&rows, b.lease, &[Phase::Queued], Event::Start).and(Err(
                            fence_conflict(b.lease.job_id, &[Phase::Queued], b.lease.lease_token),
                        ))
                    }
                    None => match fence_row(&current, b.lease, &[Phase::Queued], Event::Start) {
                        Err(e) => Err(e),
                        Ok(_) => Err(fence_conflict(
                            b.lease.job_id,
                            &[Phase::Queued],
                            b.lease.lease_token,
                        )),
                    },
                }
            })
            .collect())
    }
}

/// SQLite: the claim as `UPDATE … RETURNING` statements in one write transaction (schedule rows
/// marked and picked in one statement, the jobs leased and read back in another, the audit rows
/// in one INSERT).
impl SqlStore {
    async fn claim_sqlite(
        &self,
        options: &ClaimOptions,
        kinds: &[String],
        limit: u64,
        now: DateTime<Utc>,
    ) -> Result<Vec<Job>> {
        let to = Phase::Scheduled.apply(Event::Claim)?.to;
        let backend = self.backend();
        in_tx!(self, |txn| async {
            // Read once this transaction holds the write lock.
            let expires = match self.deadline(options.lease_ttl) {
                Deadline::At(t) => t,
                Deadline::DbClockPlus(_) => {
                    return Err(Error::backend(
                        "sqlite",
                        false,
                        "SQLite has no database clock",
                    ));
                }
            };
            let mut values: Vec<Value> = vec![true.into(), false.into()];
            values.extend(kinds.iter().map(|k| Value::from(k.clone())));
            values.push(ts(now).into());
            values.push(i64::try_from(limit).unwrap_or(i64::MAX).into());
            let sql = format!(
                r#"UPDATE schedule SET claimed = ? WHERE id IN (
                    SELECT id FROM schedule
                    WHERE claimed = ? AND executor IN ({kinds}) AND "after" <= ?
                    ORDER BY "after", job_id LIMIT ?
                ) RETURNING job_id, "after""#,
                kinds = vec!["?"; kinds.len()].join(", ")
            );
            let mut picked: Vec<(Ts, i64)> = Vec::new();
            for row in txn
                .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
                .await
                .map_err(|e| self.dberr(e))?
            {
                let id: i64 = row.try_get_by_index(0).map_err(|e| self.dberr(e))?;
                let after: Ts = row.try_get_by_index(1).map_err(|e| self.dberr(e))?;
                picked.push((after, id));
            }
            if picked.is_empty() {
                return Ok(Vec::new());
            }
            // Claim order: due time, then id (RETURNING order is unspecified).
            picked.sort_unstable();
            let mut rows: HashMap<i64, job::Model> = HashMap::with_capacity(picked.len());
            for chunk in picked.chunks(CHUNK) {
                let mut values: Vec<Value> = vec![
                    to.as_str().into(),
                    to.as_str().into(),
                    options.owner.clone().into(),
                    ts(expires).into(),
                    ts(now).into(),
                ];
                values.extend(chunk.iter().map(|(_, id)| Value::from(*id)));
                values.push(Phase::Scheduled.as_str().into());
                let sql = format!(
                    r#"UPDATE job SET phase = ?, status = ?, lease_token = lease_token + 1,
                        lease_owner = ?, lease_expires = ?, queued = ?
                    WHERE id IN ({ids}) AND phase = ? RETURNING *"#,
                    ids = vec!["?"; chunk.len()].join(", ")
                );
                for r in job::Entity::find()
                    .from_raw_sql(Statement::from_sql_and_values(backend, sql, values))
                    .all(&txn)
                    .await
                    .map_err(|e| self.dberr(e))?
                {
                    rows.insert(r.id, r);
                }
            }
            let mut out = Vec::with_capacity(rows.len());
            let mut audit = Vec::with_capacity(rows.len());
            for (_, id) in picked {
                let Some(row) = rows.get(&id) else { continue };
                audit.push(audit_row(
                    now,
                    id,
                    to,
                    options.owner.clone(),
                    claim_detail(row.lease_token, expires),
                ));
                out.push(job_from_model(&self.inner.keys, row)?);
            }
            self.insert_audit(&txn, audit).await?;
            Ok(out)
        }
        .await)
    }
}

#[async_trait]
impl JobQueue for SqlStore {
    async fn create_many(&self, news: &[NewJob]) -> Result<Vec<Result<Job>>> {
        if news.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now().await?;
        let out = match in_tx!(self, |txn| self.create_many_in(&txn, news, now).await) {
            // Another writer took a slot or key between the checks and the INSERT: one job at
            // a time, each judged against what is stored now.
            Err(Error::AlreadyExists { .. }) => {
                let mut out = Vec::with_capacity(news.len());
                for new in news {
                    out.push(self.create_one(new, now).await?);
                }
                out
            }
            other => other?,
        };
        if out.iter().any(Result::is_ok) {
            self.wake();
        }
        Ok(out)
    }

    async fn claim(&self, options: &ClaimOptions) -> Result<Vec<Job>> {
        if options.limit == 0 || options.executors.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now().await?;
        let kinds: Vec<String> = options
            .executors
            .iter()
            .map(|k| k.as_str().to_string())
            .collect();
        let limit = u64::try_from(options.limit).unwrap_or(u64::MAX);
        let claimed = if self.backend() == DbBackend::Postgres {
            self.claim_pg(options, &kinds, limit, now).await?
        } else if let Some(jobs) = self.claim_on_sqlite(options, &kinds, limit, now).await {
            jobs?
        } else {
            self.claim_mysql(options, &kinds, limit, now).await?
        };
        Ok(self.hand_out(claimed).await)
    }

    async fn next_due(&self, executors: &[ExecutorKind]) -> Result<Option<Duration>> {
        // One index lookup per kind (`ix_schedule_claim`: claimed, executor, after): a MIN over
        // an IN list would read every waiting row of the kinds.
        let mut earliest: Option<Ts> = None;
        for kind in executors {
            let first = schedule::Entity::find()
                .select_only()
                .column(schedule::Column::After)
                .filter(schedule::Column::Claimed.eq(false))
                .filter(schedule::Column::Executor.eq(kind.as_str()))
                .order_by_asc(schedule::Column::After)
                .limit(1)
                .into_tuple::<Ts>()
                .one(self.db())
                .await
                .map_err(|e| self.dberr(e))?;
            earliest = match (earliest, first) {
                (Some(a), Some(b)) => Some(std::cmp::min(a, b)),
                (a, b) => a.or(b),
            };
        }
        let Some(after) = earliest else {
            return Ok(None);
        };
        let now = self.now().await?;
        Ok(Some(
            (crate::entity::utc(after) - now)
                .to_std()
                .unwrap_or_default(),
        ))
    }

    async fn begin_many(&self, starts: &[Begin]) -> Result<Vec<Result<Job>>> {
        if starts.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now().await?;
        if self.backend() == DbBackend::Postgres {
            return self.begin_many_pg(starts, now).await;
        }
        #[cfg(feature = "sqlite")]
        if let Some(writer) = self.sqlite_writer() {
            return self.begin_on_writer(writer, starts, now).await;
        }
        in_tx!(self, |txn| self.begin_batch_in(&txn, starts, now).await)
    }

    async fn heartbeat(&self, leases: &[LeaseRef], ttl: Duration) -> Result<Vec<HeartbeatStatus>> {
        if leases.is_empty() {
            return Ok(Vec::new());
        }
        let backend = self.backend();
        if backend == DbBackend::Postgres {
            return self.heartbeat_pg(leases, ttl).await;
        }
        in_tx!(self, |txn| async {
            let rows = self
                .rows_for_update(&txn, leases.iter().map(|l| l.job_id.0))
                .await?;
            let live = |l: &LeaseRef| {
                rows.get(&l.job_id.0).filter(|r| {
                    r.lease_token == l.lease_token
                        && (r.phase == Phase::Queued.as_str() || r.phase == Phase::Running.as_str())
                })
            };
            let mut out = Vec::with_capacity(leases.len());
            let mut ids = Vec::with_capacity(leases.len());
            for l in leases {
                match live(l) {
                    Some(row) => {
                        ids.push(row.id);
                        out.push(if row.cancel_requested {
                            HeartbeatStatus::CancelRequested
                        } else {
                            HeartbeatStatus::Ok
                        });
                    }
                    None => out.push(HeartbeatStatus::Lost),
                }
            }
            // The rows are locked (the write lock on SQLite) and fenced above: the expiry is
            // taken from the store's clock now, not before the wait for them.
            let expires = self.deadline(ttl);
            for chunk in ids.chunks(CHUNK) {
                job::Entity::update_many()
                    .col_expr(job::Column::LeaseExpires, expires.expr(backend))
                    .filter(job::Column::Id.is_in(chunk.to_vec()))
                    .exec(&txn)
                    .await
                    .map_err(|e| self.dberr(e))?;
            }
            Ok(out)
        }
        .await)
    }

    async fn complete_many(&self, completions: &[Completion]) -> Result<Vec<Result<Completed>>> {
        let now = self.now().await?;
        let (out, woke) = in_tx!(self, |txn| async {
            let mut rows = self
                .rows_for_update(&txn, completions.iter().map(|c| c.lease.job_id.0))
                .await?;
            let FencedBatch { endings, failed } = fence_completions(&mut rows, completions.iter());
            let (idxs, endings): (Vec<usize>, Vec<Ending>) = endings.into_iter().unzip();
            let (ended, woke) = self.end_jobs_in(&txn, endings, now, false).await?;
            let mut out: Vec<Option<Result<Completed>>> =
                (0..completions.len()).map(|_| None).collect();
            for (idx, e) in failed {
                out[idx] = Some(Err(e));
            }
            for (idx, e) in idxs.into_iter().zip(ended) {
                out[idx] = Some(Ok(e.completed));
            }
            Ok((
                out.into_iter()
                    .map(|r| r.expect("every entry"))
                    .collect::<Vec<_>>(),
                woke,
            ))
        }
        .await)?;
        if woke {
            self.wake();
        }
        Ok(out)
    }

    async fn mark_preserved(&self, lease: LeaseRef) -> Result<Job> {
        let now = self.now().await?;
        in_tx!(self, |txn| self.preserve_in(&txn, lease, now).await)
    }

    async fn finish_many(
        &self,
        finishes: &[Finish],
        artifacts: &dyn ArtifactSink,
    ) -> Result<Vec<Result<Finished>>> {
        // Only when the output goes into this store's own transactions can it share one.
        if !self.is_own_sink(artifacts) {
            return finish_separately(self, finishes, artifacts).await;
        }
        if finishes.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now().await?;
        let cap = usize::try_from(self.inner.artifact_cap).unwrap_or(usize::MAX);
        #[cfg(feature = "sqlite")]
        if let Some(writer) = self.sqlite_writer()
            && let Some(out) = self.finish_on_writer(writer, finishes, now, cap).await?
        {
            return Ok(out);
        }
        self.finish_in_tx(finishes, now, cap).await
    }

    async fn begin_and_finish_many(
        &self,
        starts: &[Begin],
        finishes: &[Finish],
        artifacts: &dyn ArtifactSink,
    ) -> BegunAndFinished {
        #[cfg(feature = "sqlite")]
        if let Some(writer) = self.sqlite_writer()
            && self.is_own_sink(artifacts)
            && !starts.is_empty()
            && !finishes.is_empty()
        {
            let cap = usize::try_from(self.inner.artifact_cap).unwrap_or(usize::MAX);
            let stored = match self.now().await {
                Ok(now) => self
                    .begin_and_finish_on_writer(writer, starts, finishes, now, cap)
                    .await
                    .map(|r| (r, now)),
                Err(e) => Err(e),
            };
            return match stored {
                Ok(((begun, Some(finished)), _)) => (Ok(begun), Ok(finished)),
                // A finish needs its template: the general path, in its own transaction.
                Ok(((begun, None), now)) => {
                    (Ok(begun), self.finish_in_tx(finishes, now, cap).await)
                }
                Err(e) => {
                    let again = Error::backend("sqlite", false, e.to_string());
                    (Err(e), Err(again))
                }
            };
        }
        begin_then_finish(self, starts, finishes, artifacts).await
    }

    async fn release_many(&self, releases: &[Release]) -> Result<Vec<Result<Released>>> {
        self.release_batch(releases).await
    }

    async fn recover_expired(&self) -> Result<Recovered> {
        let now = self.now().await?;
        let rec = in_tx!(self, |txn| async {
            let mut q = job::Entity::find()
                .filter(job::Column::Phase.is_in([Phase::Queued.as_str(), Phase::Running.as_str()]))
                .filter(job::Column::LeaseExpires.lte(ts(now)))
                .order_by_asc(job::Column::Id);
            if self.inner.skip_locked && self.locks() {
                q = q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
            } else if self.locks() {
                q = q.lock(LockType::Update);
            }
            let rows = q.all(&txn).await.map_err(|e| self.dberr(e))?;
            let mut rec = Recovered::default();
            let mut endings = Vec::new();
            for row in rows {
                let (event, exitcode) = match phase_of(&row)? {
                    // An operator asked to cancel it: it never runs (again), and a Running one
                    // is not `lost` (nor retried) but cancelled.
                    _ if row.cancel_requested => (Event::Complete(Outcome::Cancelled), None),
                    Phase::Queued => {
                        self.requeue_in(&txn, &row, now).await?;
                        rec.requeued.push(JobId(row.id));
                        continue;
                    }
                    _ => (Event::LeaseExpired, Some(-1)),
                };
                endings.push(Ending {
                    row,
                    event,
                    exitcode,
                    stdout: None,
                    stderr: None,
                    usage: None,
                    actor: "scheduler".into(),
                });
            }
            let (ended, _) = self.end_jobs_in(&txn, endings, now, false).await?;
            for e in ended {
                if e.completed.job.outcome == Some(Outcome::Cancelled) {
                    rec.cancelled.push(e.completed.job);
                } else {
                    rec.lost.push(e.completed.job);
                    rec.retries.extend(e.completed.retry);
                }
            }
            Ok(rec)
        }
        .await)?;
        if !rec.requeued.is_empty() || !rec.retries.is_empty() {
            self.wake();
        }
        Ok(rec)
    }

    async fn reschedule(&self, id: JobId, after: DateTime<Utc>) -> Result<Job> {
        self.reschedule_job(id, after).await
    }

    async fn request_cancel(&self, id: JobId, actor: &str) -> Result<CancelResult> {
        let now = self.now().await?;
        in_tx!(self, |txn| async {
            let mut row = self.job_row(&txn, id).await?;
            match phase_of(&row)? {
                Phase::Created | Phase::Scheduled => {
                    job::Entity::update_many()
                        .col_expr(job::Column::CancelRequested, Expr::value(true))
                        .filter(job::Column::Id.eq(row.id))
                        .exec(&txn)
                        .await
                        .map_err(|e| self.dberr(e))?;
                    row.cancel_requested = true;
                    let (done, _) = self
                        .complete_in(
                            &txn,
                            row,
                            Event::Complete(Outcome::Cancelled),
                            None,
                            None,
                            None,
                            None,
                            now,
                            actor,
                        )
                        .await?;
                    Ok(CancelResult::Cancelled(done.job))
                }
                p @ (Phase::Queued | Phase::Running) => {
                    job::Entity::update_many()
                        .col_expr(job::Column::CancelRequested, Expr::value(true))
                        .filter(job::Column::Id.eq(row.id))
                        .exec(&txn)
                        .await
                        .map_err(|e| self.dberr(e))?;
                    audit_log::Entity::insert(audit_log::ActiveModel {
                        id: NotSet,
                        at: Set(ts(now)),
                        job_id: Set(Some(row.id)),
                        actor: Set(actor.to_string()),
                        action: Set("job:cancel".into()),
                        detail: Set(format!("requested while {p}")),
                    })
                    .exec(&txn)
                    .await
                    .map_err(|e| self.dberr(e))?;
                    Ok(CancelResult::Requested(self.job_in(&txn, row.id).await?))
                }
                Phase::Completed | Phase::Preserved => Ok(CancelResult::AlreadyFinished(
                    job_from_model(&self.inner.keys, &row)?,
                )),
            }
        }
        .await)
    }

    async fn cleanup(&self, options: &CleanupOptions) -> Result<CleanupReport> {
        let cutoff = to_micros(options.ended_before);
        in_tx!(self, |txn| async {
            let mut q = job::Entity::find()
                .filter(
                    job::Column::Phase
                        .is_in([Phase::Completed.as_str(), Phase::Preserved.as_str()]),
                )
                .filter(job::Column::End.lt(ts(cutoff)))
                .order_by_asc(job::Column::Id);
            if let Some(c) = options.company_id {
                q = q.filter(job::Column::CompanyId.eq(c.0));
            }
            if let Some(a) = options.app_id {
                q = q.filter(job::Column::AppId.eq(a.0));
            }
            if let Some(id) = options.job_id {
                q = q.filter(job::Column::Id.eq(id.0));
            }
            for (c, a) in &options.except {
                let mut matched = Condition::all();
                if let Some(c) = c {
                    matched = matched.add(job::Column::CompanyId.eq(c.0));
                }
                if let Some(a) = a {
                    matched = matched.add(job::Column::AppId.eq(a.0));
                }
                q = q.filter(matched.not());
            }
            if options.artifacts_only {
                // Only jobs that still hold output or artifacts: the rows that stay are not
                // picked again.
                q = q.filter(
                    Condition::any()
                        .add(
                            job::Column::Id.in_subquery(
                                Query::select()
                                    .column(artifacts::Column::JobId)
                                    .from(artifacts::Entity)
                                    .to_owned(),
                            ),
                        )
                        .add(
                            job::Column::Id.in_subquery(
                                Query::select()
                                    .column(job_output::Column::JobId)
                                    .from(job_output::Entity)
                                    .to_owned(),
                            ),
                        ),
                );
            }
            if let Some(limit) = options.limit {
                q = q.limit(limit);
            }
            let ids: Vec<i64> = q
                .select_only()
                .column(job::Column::Id)
                .into_tuple::<i64>()
                .all(&txn)
                .await
                .map_err(|e| self.dberr(e))?;
            let mut report = CleanupReport {
                jobs: ids.len() as u64,
                ..CleanupReport::default()
            };
            for chunk in ids.chunks(CHUNK) {
                let chunk = chunk.to_vec();
                report.artifacts += artifacts::Entity::find()
                    .filter(artifacts::Column::JobId.is_in(chunk.clone()))
                    .count(&txn)
                    .await
                    .map_err(|e| self.dberr(e))?;
                report.output_chunks += job_output::Entity::find()
                    .filter(job_output::Column::JobId.is_in(chunk.clone()))
                    .count(&txn)
                    .await
                    .map_err(|e| self.dberr(e))?;
                if !options.dry_run {
                    artifacts::Entity::delete_many()
                        .filter(artifacts::Column::JobId.is_in(chunk.clone()))
                        .exec(&txn)
                        .await
                        .map_err(|e| self.dberr(e))?;
                    job_output::Entity::delete_many()
                        .filter(job_output::Column::JobId.is_in(chunk.clone()))
                        .exec(&txn)
                        .await
                        .map_err(|e| self.dberr(e))?;
                    if options.artifacts_only {
                        continue;
                    }
                    crate::entity::job_action::Entity::delete_many()
                        .filter(crate::entity::job_action::Column::JobId.is_in(chunk.clone()))
                        .exec(&txn)
                        .await
                        .map_err(|e| self.dberr(e))?;
                    schedule::Entity::delete_many()
                        .filter(schedule::Column::JobId.is_in(chunk.clone()))
                        .exec(&txn)
                        .await
                        .map_err(|e| self.dberr(e))?;
                    job::Entity::delete_many()
                        .filter(job::Column::Id.is_in(chunk))
                        .exec(&txn)
                        .await
                        .map_err(|e| self.dberr(e))?;
                }
            }
            Ok(report)
        }
        .await)
    }

    async fn get_job(&self, id: JobId) -> Result<Job> {
        self.job_in(self.db(), id.0).await
    }

    async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>> {
        let mut q = job::Entity::find().order_by_desc(job::Column::Id);
        if let Some(s) = &filter.status {
            q = q.filter(job::Column::Status.eq(s.clone()));
        }
        if let Some(t) = filter.runtemplate_id {
            q = q.filter(job::Column::RuntemplateId.eq(t.0));
        }
        if let Some(c) = filter.company_id {
            q = q.filter(job::Column::CompanyId.eq(c.0));
        }
        if let Some(s) = filter.since {
            q = q.filter(job::Column::Created.gte(ts(to_micros(s))));
        }
        if let Some(b) = filter.before_id {
            q = q.filter(job::Column::Id.lt(b.0));
        }
        q = q.limit(filter.limit.unwrap_or(100));
        q.all(self.db())
            .await
            .map_err(|e| self.dberr(e))?
            .iter()
            .map(|r| job_from_model(&self.inner.keys, r))
            .collect()
    }

    async fn queue_overview(&self) -> Result<QueueOverview> {
        let now = self.now().await?;
        let counts: Vec<(String, i64)> = job::Entity::find()
            .select_only()
            .column(job::Column::Phase)
            .column_as(Expr::col(job::Column::Id).count(), "n")
            .group_by(job::Column::Phase)
            .into_tuple()
            .all(self.db())
            .await
            .map_err(|e| self.dberr(e))?;
        let due = job::Entity::find()
            .filter(job::Column::Phase.is_in([Phase::Created.as_str(), Phase::Scheduled.as_str()]))
            .filter(job::Column::After.lte(ts(now)))
            .count(self.db())
            .await
            .map_err(|e| self.dberr(e))?;
        let mut o = QueueOverview::default();
        let mut pending = 0u64;
        for (phase, n) in counts {
            let n = u64::try_from(n).unwrap_or(0);
            match phase.parse::<Phase>() {
                Ok(Phase::Created | Phase::Scheduled) => pending += n,
                Ok(Phase::Queued) => o.queued += n,
                Ok(Phase::Running) => o.running += n,
                Ok(Phase::Completed) => o.completed += n,
                Ok(Phase::Preserved) => o.preserved += n,
                Err(_) => {}
            }
        }
        o.due = due;
        o.waiting = pending.saturating_sub(due);
        Ok(o)
    }

    fn work_signal(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        Some(self.subscribe())
    }

    /// SQLite: 1 (one writer; measured: two batches in flight were 5–10 % slower). PostgreSQL
    /// and MySQL/MariaDB: 4 (measured on PostgreSQL with `synchronous_commit = on`: 13–20 %
    /// more jobs/s than 1; docs/benchmarks.md, session 11). Finishes of different batches
    /// share no row locks since template counters are insert-only deltas.
    fn parallel_writes(&self) -> usize {
        match self.backend() {
            sea_orm::DbBackend::Sqlite => 1,
            _ => 4,
        }
    }
}

/// The artifact size cap applied to in-memory output (as [`ArtifactSink::put`] applies it).
fn capped(bytes: &[u8], cap: usize) -> (&[u8], Option<String>) {
    if bytes.len() <= cap {
        return (bytes, None);
    }
    let note = format!(
        "truncated: kept the first {cap} of {} bytes (artifact size cap)",
        bytes.len()
    );
    (&bytes[..cap], Some(note))
}

/// The audit detail of a claim ([`PhaseAudit::Queued`]).
fn claim_detail(lease_token: i64, expires: DateTime<Utc>) -> String {
    PhaseAudit::Queued {
        lease_token,
        expires,
    }
    .detail()
}

/// The audit detail of a start ([`PhaseAudit::Running`]).
fn start_detail(pid: Option<i64>, external_id: Option<&str>) -> String {
    PhaseAudit::Running {
        pid,
        external_id: external_id.map(str::to_string),
    }
    .detail()
}

/// The audit detail of a completion ([`PhaseAudit::Completed`]).
fn completion_detail(outcome: Outcome, exitcode: i32) -> String {
    PhaseAudit::Completed {
        outcome,
        exitcode: Some(exitcode),
    }
    .detail()
}

/// Errors that abort the whole transaction (database failures), as opposed to per-job results
/// (fencing conflicts, invalid transitions, unknown jobs).
fn is_fatal(e: &Error) -> bool {
    matches!(e, Error::Backend { .. }) || crate::error::is_transient(e)
}
