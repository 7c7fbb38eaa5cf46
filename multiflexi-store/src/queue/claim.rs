//! The claim's dispatch to its per-backend statement, the MySQL/MariaDB claim, and what a
//! claim does with a job it cannot decode.

use super::{claim_detail, phase_action};
use crate::convert::job_from_model;
use crate::entity::{audit_log, job, schedule, ts, utc};
use crate::store::{SqlStore, in_tx};
use chrono::{DateTime, Utc};
use multiflexi_core::model::Job;
use multiflexi_core::store::{ClaimOptions, LeaseRef};
use multiflexi_core::{Error, Event, Outcome, Phase, Result};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use std::collections::HashMap;

impl SqlStore {
    /// SQLite's claim: on the file's writer thread, or through SeaORM in memory. `None` on
    /// other backends.
    pub(super) async fn claim_on_sqlite(
        &self,
        options: &ClaimOptions,
        kinds: &[String],
        limit: u64,
        now: DateTime<Utc>,
    ) -> Option<Result<Vec<Job>>> {
        #[cfg(feature = "sqlite")]
        if let Some(writer) = self.sqlite_writer() {
            return Some(self.claim_on_writer(writer, options, kinds, limit).await);
        }
        if self.backend() == DbBackend::Sqlite {
            return Some(self.claim_sqlite(options, kinds, limit, now).await);
        }
        None
    }

    /// MySQL/MariaDB: the due schedule rows locked (`SKIP LOCKED` where the server has it),
    /// marked, their jobs leased and read back, one audit row each, in one transaction.
    pub(super) async fn claim_mysql(
        &self,
        options: &ClaimOptions,
        kinds: &[String],
        limit: u64,
        now: DateTime<Utc>,
    ) -> Result<Vec<Job>> {
        let to = Phase::Scheduled.apply(Event::Claim)?.to;
        let backend = self.backend();
        in_tx!(self, |txn| async {
            let mut q = schedule::Entity::find()
                .filter(schedule::Column::Claimed.eq(false))
                .filter(schedule::Column::Executor.is_in(kinds.to_vec()))
                .filter(schedule::Column::After.lte(ts(now)))
                .order_by_asc(schedule::Column::After)
                .order_by_asc(schedule::Column::JobId)
                .limit(limit);
            if self.inner.skip_locked && self.locks() {
                q = q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
            } else if self.locks() {
                q = q.lock(LockType::Update);
            }
            let picked: Vec<i64> = q
                .all(&txn)
                .await
                .map_err(|e| self.dberr(e))?
                .into_iter()
                .map(|s| s.job_id)
                .collect();
            if picked.is_empty() {
                return Ok(Vec::new());
            }
            // The schedule rows are locked: the expiry counts from here.
            let expires = self.deadline(options.lease_ttl);
            schedule::Entity::update_many()
                .col_expr(schedule::Column::Claimed, Expr::value(true))
                .filter(schedule::Column::JobId.is_in(picked.clone()))
                .exec(&txn)
                .await
                .map_err(|e| self.dberr(e))?;
            job::Entity::update_many()
                .col_expr(job::Column::Phase, Expr::value(to.as_str()))
                .col_expr(job::Column::Status, Expr::value(to.as_str()))
                .col_expr(
                    job::Column::LeaseToken,
                    Expr::col(job::Column::LeaseToken).add(1),
                )
                .col_expr(
                    job::Column::LeaseOwner,
                    Expr::value(Some(options.owner.clone())),
                )
                .col_expr(job::Column::LeaseExpires, expires.expr(backend))
                .col_expr(job::Column::Queued, Expr::value(Some(ts(now))))
                .filter(job::Column::Id.is_in(picked.clone()))
                .filter(job::Column::Phase.eq(Phase::Scheduled.as_str()))
                .exec(&txn)
                .await
                .map_err(|e| self.dberr(e))?;
            let rows: HashMap<i64, job::Model> = job::Entity::find()
                .filter(job::Column::Id.is_in(picked.clone()))
                .all(&txn)
                .await
                .map_err(|e| self.dberr(e))?
                .into_iter()
                .map(|r| (r.id, r))
                .collect();
            let mut out = Vec::with_capacity(picked.len());
            let mut audit = Vec::with_capacity(picked.len());
            for id in picked {
                let Some(row) = rows.get(&id) else { continue };
                if row.phase != to.as_str()
                    || row.lease_owner.as_deref() != Some(options.owner.as_str())
                    || row.queued.map(utc) != Some(now)
                {
                    continue;
                }
                audit.push(audit_log::ActiveModel {
                    id: NotSet,
                    at: Set(ts(now)),
                    job_id: Set(Some(id)),
                    actor: Set(options.owner.clone()),
                    action: Set(phase_action(to)),
                    detail: Set(claim_detail(
                        row.lease_token,
                        row.lease_expires.map_or(now, utc),
                    )),
                });
                out.push(job_from_model(&self.inner.keys, row)?);
            }
            if !audit.is_empty() {
                audit_log::Entity::insert_many(audit)
                    .exec(&txn)
                    .await
                    .map_err(|e| self.dberr(e))?;
            }
            Ok(out)
        }
        .await)
    }

    /// The claimed jobs a dispatcher may run. A job the store cannot decode (its environment
    /// sealed with a key this process does not have) is never handed out: it is completed as
    /// `platform_error` (-1, no retry, the reason in its stderr copy) under the lease just
    /// taken. Should that write fail, the job stays Queued under that lease, and recovery puts
    /// it back when the lease expires; the readable jobs are handed out either way.
    pub(super) async fn hand_out(&self, claimed: Vec<Job>) -> Vec<Job> {
        let (bad, good): (Vec<Job>, Vec<Job>) =
            claimed.into_iter().partition(|j| j.unreadable.is_some());
        if !bad.is_empty()
            && let Err(e) = self.fail_unreadable(&bad).await
        {
            tracing::warn!(
                jobs = ?bad.iter().map(|j| j.id).collect::<Vec<_>>(),
                "claimed jobs that cannot be read stay queued until their lease expires: {e}"
            );
        }
        good
    }

    async fn fail_unreadable(&self, jobs: &[Job]) -> Result<()> {
        let now = self.now().await?;
        let woke = in_tx!(self, |txn| async {
            let mut woke = false;
            for j in jobs {
                let event = Event::Complete(Outcome::PlatformError);
                let row = match self
                    .fence(&txn, LeaseRef::of(j), &[Phase::Queued], event)
                    .await
                {
                    Ok(row) => row,
                    // Moved on meanwhile (another write got there first): nothing to do.
                    Err(Error::Conflict { .. } | Error::InvalidTransition { .. }) => continue,
                    Err(e) => return Err(e),
                };
                let actor = row.lease_owner.clone().unwrap_or_default();
                let why = format!(
                    "not run: job {} cannot be read: {}",
                    j.id,
                    j.unreadable.as_deref().unwrap_or_default()
                );
                let (_, w) = self
                    .complete_in(
                        &txn,
                        row,
                        event,
                        Some(-1),
                        None,
                        Some(&why),
                        None,
                        now,
                        &actor,
                    )
                    .await?;
                woke |= w;
            }
            Ok(woke)
        }
        .await)?;
        if woke {
            self.wake();
        }
        Ok(())
    }
}
