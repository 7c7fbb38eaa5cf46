//! `release_many` for [`SqlStore`]: claimed jobs that never started go back to the queue (or,
//! at the bound of launch failures, complete as `platform_error`), each fenced, all in one
//! transaction.

use super::{is_fatal, phase_of};
use crate::entity::{job, schedule};
use crate::store::{SqlStore, in_tx};
use chrono::{DateTime, Utc};
use multiflexi_core::model::Job;
use multiflexi_core::store::backend::release_audit_detail;
use multiflexi_core::store::{Release, ReleasePlan, Released};
use multiflexi_core::{Event, JobId, Outcome, Phase, Result};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter};

impl SqlStore {
    /// [`JobQueue::release_many`](multiflexi_core::store::JobQueue::release_many).
    pub(super) async fn release_batch(
        &self,
        releases: &[Release],
    ) -> Result<Vec<Result<Released>>> {
        if releases.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now().await?;
        let (out, woke) = in_tx!(self, |txn| async {
            let mut out = Vec::with_capacity(releases.len());
            let mut woke = false;
            for r in releases {
                match self.release_in(&txn, r, now).await {
                    Err(e) if is_fatal(&e) => return Err(e),
                    Ok((done, w)) => {
                        woke |= w;
                        out.push(Ok(done));
                    }
                    Err(e) => out.push(Err(e)),
                }
            }
            Ok((out, woke))
        }
        .await)?;
        if woke {
            self.wake();
        }
        Ok(out)
    }

    /// One release inside the batch's transaction; whether the work signal must change.
    async fn release_in<C: ConnectionTrait>(
        &self,
        c: &C,
        r: &Release,
        now: DateTime<Utc>,
    ) -> Result<(Released, bool)> {
        let mut row = self
            .fence(c, r.lease, &[Phase::Queued], Event::Release)
            .await?;
        let owner = row.lease_owner.clone().unwrap_or_default();
        if row.cancel_requested {
            // An operator asked to cancel it: never put back to run.
            let event = Event::Complete(Outcome::Cancelled);
            let (done, woke) = self
                .complete_in(c, row, event, None, None, None, None, now, &owner)
                .await?;
            return Ok((Released::Failed(done), woke));
        }
        let failures = u32::try_from(row.launch_failures).unwrap_or(0);
        match r.plan(failures) {
            ReleasePlan::Requeue {
                launch_failures,
                detail,
            } => {
                let job = self
                    .requeue_released(c, &row, r, launch_failures, &owner, detail, now)
                    .await?;
                Ok((Released::Requeued(job), true))
            }
            ReleasePlan::Fail {
                launch_failures,
                stderr,
            } => {
                let q = job::Entity::update_many().col_expr(
                    job::Column::LaunchFailures,
                    Expr::value(failures_col(launch_failures)),
                );
                self.update_fenced(c, q, JobId(row.id), row.lease_token, Phase::Queued)
                    .await?;
                row.launch_failures = failures_col(launch_failures);
                let event = Event::Complete(Outcome::PlatformError);
                let (done, woke) = self
                    .complete_in(
                        c,
                        row,
                        event,
                        Some(-1),
                        None,
                        Some(&stderr),
                        None,
                        now,
                        &owner,
                    )
                    .await?;
                Ok((Released::Failed(done), woke))
            }
        }
    }

    /// Queued → Scheduled: due at now + `retry_after` (the job's `after` and its schedule row's,
    /// unclaimed), lease and `queued` cleared, token kept, `launch_failures` stored, the audit
    /// row by the holder, and on PostgreSQL a NOTIFY for dispatchers elsewhere.
    #[allow(clippy::too_many_arguments)]
    async fn requeue_released<C: ConnectionTrait>(
        &self,
        c: &C,
        row: &job::Model,
        r: &Release,
        launch_failures: u32,
        owner: &str,
        why: String,
        now: DateTime<Utc>,
    ) -> Result<Job> {
        let from = phase_of(row)?;
        let to = from.apply(Event::Release)?.to;
        let backend = self.backend();
        // The job row is locked: the due time counts from here.
        let due = self.deadline(r.retry_after);
        let q = job::Entity::update_many()
            .col_expr(job::Column::Phase, Expr::value(to.as_str()))
            .col_expr(job::Column::Status, Expr::value(to.as_str()))
            .col_expr(job::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(
                job::Column::LeaseExpires,
                Expr::value(Option::<crate::entity::Ts>::None),
            )
            .col_expr(
                job::Column::Queued,
                Expr::value(Option::<crate::entity::Ts>::None),
            )
            .col_expr(job::Column::After, due.expr(backend))
            .col_expr(
                job::Column::LaunchFailures,
                Expr::value(failures_col(launch_failures)),
            );
        self.update_fenced(c, q, JobId(row.id), row.lease_token, from)
            .await?;
        let after = job::Entity::find_by_id(row.id)
            .one(c)
            .await
            .map_err(|e| self.dberr(e))?
            .map(|j| j.after)
            .unwrap_or(row.after);
        schedule::Entity::update_many()
            .col_expr(schedule::Column::Claimed, Expr::value(false))
            .col_expr(schedule::Column::After, Expr::value(after))
            .filter(schedule::Column::JobId.eq(row.id))
            .exec(c)
            .await
            .map_err(|e| self.dberr(e))?;
        self.audit_phase(c, now, row.id, to, owner, release_audit_detail(owner, &why))
            .await?;
        if backend == DbBackend::Postgres {
            c.execute_unprepared(&format!("NOTIFY {}", crate::store::NOTIFY_CHANNEL))
                .await
                .map_err(|e| self.dberr(e))?;
        }
        self.job_in(c, row.id).await
    }
}

/// `launch_failures` as its column value.
fn failures_col(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}
