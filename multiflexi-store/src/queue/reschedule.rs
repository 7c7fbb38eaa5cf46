//! `reschedule` for [`SqlStore`]: a job still waiting in the queue (Created or Scheduled, its
//! schedule row not claimed) becomes due at another instant; the job's `after` and its schedule
//! row's move together in one transaction.

use super::phase_of;
use crate::entity::{job, schedule, ts};
use crate::store::{SqlStore, in_tx};
use chrono::{DateTime, Utc};
use multiflexi_core::model::Job;
use multiflexi_core::{Error, JobId, Phase, Result, to_micros};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter};

/// The refusal of a job that is no longer waiting.
pub(super) fn not_waiting(id: JobId, phase: Phase) -> Error {
    Error::conflict(format!(
        "job {id} is {phase}: only a job still waiting in the queue (scheduled, not yet claimed \
         by an executor) can be moved"
    ))
}

impl SqlStore {
    /// [`JobQueue::reschedule`](multiflexi_core::store::JobQueue::reschedule).
    pub(super) async fn reschedule_job(&self, id: JobId, after: DateTime<Utc>) -> Result<Job> {
        let after = ts(to_micros(after));
        let job = in_tx!(self, |txn| async {
            let row = self.job_row(&txn, id).await?;
            let phase = phase_of(&row)?;
            if !matches!(phase, Phase::Created | Phase::Scheduled) {
                return Err(not_waiting(id, phase));
            }
            let moved = schedule::Entity::update_many()
                .col_expr(schedule::Column::After, Expr::value(after))
                .filter(schedule::Column::JobId.eq(row.id))
                .filter(schedule::Column::Claimed.eq(false))
                .exec(&txn)
                .await
                .map_err(|e| self.dberr(e))?;
            if moved.rows_affected != 1 {
                return Err(not_waiting(id, Phase::Queued));
            }
            job::Entity::update_many()
                .col_expr(job::Column::After, Expr::value(after))
                .filter(job::Column::Id.eq(row.id))
                .filter(job::Column::Phase.eq(phase.as_str()))
                .exec(&txn)
                .await
                .map_err(|e| self.dberr(e))?;
            if txn.get_database_backend() == DbBackend::Postgres {
                txn.execute_unprepared(&format!("NOTIFY {}", crate::store::NOTIFY_CHANNEL))
                    .await
                    .map_err(|e| self.dberr(e))?;
            }
            self.job_in(&txn, row.id).await
        }
        .await)?;
        self.wake();
        Ok(job)
    }
}
