//! Actions after completion on SQL: the template's `on_success` / `on_failure` columns (JSON,
//! webhook secrets sealed) and [`ActionQueue`] over the `job_action` table.

use crate::crypto::SEALED_PREFIX;
use crate::entity::{job_action, ts, utc};
use crate::store::{SqlStore, in_tx};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use multiflexi_core::model::{Action, ActionState, JobAction};
use multiflexi_core::store::backend::action_conflict;
use multiflexi_core::store::{ActionLease, ActionQueue, ActionResult};
use multiflexi_core::{Error, JobId, Result, to_micros};
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, NotSet, QueryFilter, QueryOrder, QuerySelect, Set,
};
use std::time::Duration;

/// The sealing context of a webhook secret (template and `job_action` alike).
const ACTION_SECRET: &str = "runtemplate.action.secret";

fn plus(now: DateTime<Utc>, d: Duration) -> Result<DateTime<Utc>> {
    let d = chrono::Duration::from_std(d).map_err(|e| Error::invalid("duration", e.to_string()))?;
    Ok(to_micros(now + d))
}

impl SqlStore {
    /// A list as its column value: NULL when empty, else JSON with each webhook secret sealed.
    pub(crate) fn seal_actions(&self, list: &[Action]) -> Result<Option<String>> {
        if list.is_empty() {
            return Ok(None);
        }
        let mut sealed = Vec::with_capacity(list.len());
        for a in list {
            sealed.push(self.map_secret(a, true)?);
        }
        serde_json::to_string(&sealed)
            .map(Some)
            .map_err(|e| Error::invalid("actions", e.to_string()))
    }

    /// The actions with their webhook secrets opened.
    pub(crate) fn open_actions(&self, list: Vec<Action>) -> Result<Vec<Action>> {
        list.iter().map(|a| self.map_secret(a, false)).collect()
    }

    fn map_secret(&self, a: &Action, seal: bool) -> Result<Action> {
        let mut a = a.clone();
        if let Action::Webhook {
            secret: Some(s), ..
        } = &mut a
        {
            let is_sealed = s.starts_with(SEALED_PREFIX);
            if seal && !is_sealed {
                *s = self.inner.keys.seal_text(ACTION_SECRET, s)?;
            } else if !seal && is_sealed {
                *s = self.inner.keys.open_text(ACTION_SECRET, s)?;
            }
        }
        Ok(a)
    }

    /// Writes a completion's planned actions (inside the completion's transaction).
    pub(crate) async fn insert_actions_in<C: ConnectionTrait>(
        &self,
        c: &C,
        rows: &[JobAction],
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut models = Vec::with_capacity(rows.len());
        for r in rows {
            let settings = serde_json::to_string(&self.map_secret(&r.action, true)?)
                .map_err(|e| Error::invalid("actions", e.to_string()))?;
            models.push(job_action::ActiveModel {
                id: NotSet,
                job_id: Set(r.job_id.0),
                idx: Set(i32::try_from(r.idx).unwrap_or(i32::MAX)),
                kind: Set(r.action.kind().to_string()),
                settings: Set(settings),
                state: Set(r.state.as_str().to_string()),
                attempts: Set(i32::try_from(r.attempts).unwrap_or(i32::MAX)),
                last_error: Set(r.last_error.clone()),
                next_attempt_at: Set(ts(to_micros(r.next_attempt_at))),
                lease_owner: Set(None),
                lease_token: Set(0),
                lease_expires: Set(None),
                created: Set(ts(to_micros(r.created))),
                finished: Set(None),
            });
        }
        job_action::Entity::insert_many(models)
            .exec_without_returning(c)
            .await
            .map_err(|e| self.dberr(e))?;
        Ok(())
    }

    fn action_from_model(&self, m: job_action::Model) -> Result<JobAction> {
        let action: Action = serde_json::from_str(&m.settings)
            .map_err(|e| Error::invalid("job_action.settings", e.to_string()))?;
        let mut a = JobAction::planned(
            JobId(m.job_id),
            u32::try_from(m.idx).unwrap_or(0),
            self.map_secret(&action, false)?,
            utc(m.created),
        );
        a.id = m.id;
        a.state = ActionState::parse(&m.state)?;
        a.attempts = u32::try_from(m.attempts).unwrap_or(0);
        a.last_error = m.last_error;
        a.next_attempt_at = utc(m.next_attempt_at);
        a.lease_owner = m.lease_owner;
        a.lease_token = m.lease_token;
        a.lease_expires = m.lease_expires.map(utc);
        a.finished = m.finished.map(utc);
        Ok(a)
    }

    async fn action_row<C: ConnectionTrait>(&self, c: &C, id: i64) -> Result<job_action::Model> {
        job_action::Entity::find_by_id(id)
            .one(c)
            .await
            .map_err(|e| self.dberr(e))?
            .ok_or_else(|| Error::not_found("job_action", id))
    }
}

#[async_trait]
impl ActionQueue for SqlStore {
    async fn claim_actions(
        &self,
        owner: &str,
        limit: usize,
        ttl: Duration,
    ) -> Result<Vec<JobAction>> {
        let limit = u64::try_from(limit).unwrap_or(u64::MAX);
        // A read first: the runners of every daemon ask every few seconds, mostly to find
        // nothing, and on SQLite a claim transaction takes the database's one write turn.
        let now = self.now().await?;
        let any_due = due_actions(now)
            .one(self.db())
            .await
            .map_err(|e| self.dberr(e))?
            .is_some();
        if !any_due {
            return Ok(Vec::new());
        }
        let rows = in_tx!(self, |txn| async {
            let now = self.now().await?;
            let expires = plus(now, ttl)?;
            let due = due_actions(now)
                .limit(limit)
                .all(&txn)
                .await
                .map_err(|e| self.dberr(e))?;
            let mut claimed = Vec::with_capacity(due.len());
            for row in due {
                // Fenced by the token read: a concurrent claimer that took it first wins.
                let n = job_action::Entity::update_many()
                    .col_expr(
                        job_action::Column::LeaseOwner,
                        Expr::value(Some(owner.to_string())),
                    )
                    .col_expr(
                        job_action::Column::LeaseToken,
                        Expr::value(row.lease_token + 1),
                    )
                    .col_expr(
                        job_action::Column::LeaseExpires,
                        Expr::value(Some(ts(expires))),
                    )
                    .col_expr(job_action::Column::Attempts, Expr::value(row.attempts + 1))
                    .filter(job_action::Column::Id.eq(row.id))
                    .filter(job_action::Column::LeaseToken.eq(row.lease_token))
                    .filter(job_action::Column::State.eq(ActionState::Pending.as_str()))
                    .exec(&txn)
                    .await
                    .map_err(|e| self.dberr(e))?
                    .rows_affected;
                if n == 1 {
                    claimed.push(self.action_row(&txn, row.id).await?);
                }
            }
            Ok::<_, Error>(claimed)
        }
        .await)?;
        rows.into_iter()
            .map(|m| self.action_from_model(m))
            .collect()
    }

    async fn finish_action(&self, lease: ActionLease, result: &ActionResult) -> Result<JobAction> {
        let row = in_tx!(self, |txn| async {
            let now = self.now().await?;
            let state = result.state();
            let mut q = job_action::Entity::update_many()
                .col_expr(job_action::Column::State, Expr::value(state.as_str()))
                .col_expr(
                    job_action::Column::LeaseOwner,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(
                    job_action::Column::LeaseExpires,
                    Expr::value(Option::<crate::entity::Ts>::None),
                );
            if let ActionResult::Failed { error, retry_in } = result {
                q = q.col_expr(
                    job_action::Column::LastError,
                    Expr::value(Some(error.clone())),
                );
                if let Some(d) = retry_in {
                    q = q.col_expr(
                        job_action::Column::NextAttemptAt,
                        Expr::value(ts(plus(now, *d)?)),
                    );
                }
            }
            if state != ActionState::Pending {
                q = q.col_expr(job_action::Column::Finished, Expr::value(Some(ts(now))));
            }
            let n = q
                .filter(job_action::Column::Id.eq(lease.id))
                .filter(job_action::Column::LeaseToken.eq(lease.lease_token))
                .filter(job_action::Column::State.eq(ActionState::Pending.as_str()))
                .exec(&txn)
                .await
                .map_err(|e| self.dberr(e))?
                .rows_affected;
            if n != 1 {
                return Err(action_conflict(lease));
            }
            self.action_row(&txn, lease.id).await
        }
        .await)?;
        self.action_from_model(row)
    }

    async fn job_actions(&self, job: JobId) -> Result<Vec<JobAction>> {
        job_action::Entity::find()
            .filter(job_action::Column::JobId.eq(job.0))
            .order_by_asc(job_action::Column::Idx)
            .all(self.db())
            .await
            .map_err(|e| self.dberr(e))?
            .into_iter()
            .map(|m| self.action_from_model(m))
            .collect()
    }
}

/// The actions a runner may claim at `now`: pending, due, and not leased (or the lease expired);
/// oldest first.
fn due_actions(now: DateTime<Utc>) -> sea_orm::Select<job_action::Entity> {
    job_action::Entity::find()
        .filter(job_action::Column::State.eq(ActionState::Pending.as_str()))
        .filter(job_action::Column::NextAttemptAt.lte(ts(now)))
        .filter(
            Condition::any()
                .add(job_action::Column::LeaseExpires.is_null())
                .add(job_action::Column::LeaseExpires.lte(ts(now))),
        )
        .order_by_asc(job_action::Column::Id)
}
