//! Jobs ending: the one SeaORM implementation behind every way a job reaches Completed — a
//! finish (its output stored by the caller in the same transaction, the job written straight
//! to Preserved), `complete_many`, a cancel, a lease that expired, a release that gave up, a job
//! that cannot be read. (The SQLite writer's finish of ad-hoc successes and cancels is the only
//! other, `sqlite_writes.rs`.)

use super::{CHUNK, audit_row, fence_row, phase_of, usage_into_row};
use crate::convert::{from_json, job_from_model, template_from_model};
use crate::entity::{Ts, apps, job, runtemplate, schedule, ts};
use crate::store::SqlStore;
use crate::template_counts::{CountDelta, add_delta};
use chrono::{DateTime, Utc};
use multiflexi_core::lifecycle::{CompletionPlan, PhaseAudit, plan_completion, planned_actions};
use multiflexi_core::model::{Environment, ExitCodeInfo, JobAction, ResourceUsage};
use multiflexi_core::store::backend::fence_conflict;
use multiflexi_core::store::{Completed, Completion};
use multiflexi_core::{Error, Event, JobId, Outcome, Phase, Result, to_micros};
use sea_orm::sea_query::{Expr, LockType};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::{BTreeMap, HashMap, HashSet};

/// One job to end: its row (fenced by the caller, and locked where the database locks), the
/// event that ends it, and what the completion records.
pub(super) struct Ending {
    pub(super) row: job::Model,
    pub(super) event: Event,
    /// `None` when it ended without one (a cancel before start).
    pub(super) exitcode: Option<i32>,
    /// The job row's output copies; `None` leaves them as they are.
    pub(super) stdout: Option<String>,
    pub(super) stderr: Option<String>,
    /// `None` leaves the usage columns as they are.
    pub(super) usage: Option<ResourceUsage>,
    /// Who the Completed audit row names.
    pub(super) actor: String,
}

/// The completions of a batch fenced against their rows (read for update, taken out of
/// `rows`): the endings to write, each with its index in the batch, and the others' errors (a
/// stale lease, another phase, an unknown job, or a job's later entries in the same batch).
pub(super) fn fence_completions<'a>(
    rows: &mut HashMap<i64, job::Model>,
    completions: impl Iterator<Item = &'a Completion>,
) -> FencedBatch {
    let expected = [Phase::Queued, Phase::Running];
    let mut endings = Vec::new();
    let mut failed = Vec::new();
    let mut ended = HashSet::new();
    for (idx, cpl) in completions.enumerate() {
        let event = Event::Complete(cpl.outcome);
        let id = cpl.lease.job_id;
        let row = if ended.contains(&id) {
            // Twice in one batch: the first one ends it.
            Err(fence_conflict(id, &expected, cpl.lease.lease_token))
        } else {
            fence_row(rows, cpl.lease, &expected, event).and_then(|_| {
                rows.remove(&id.0)
                    .ok_or_else(|| Error::not_found(JobId::ENTITY, id))
            })
        };
        match row {
            Ok(row) => {
                ended.insert(id);
                let actor = row.lease_owner.clone().unwrap_or_default();
                endings.push((
                    idx,
                    Ending {
                        row,
                        event,
                        exitcode: Some(cpl.exitcode),
                        stdout: Some(cpl.stdout.clone()),
                        stderr: Some(cpl.stderr.clone()),
                        usage: Some(cpl.usage.clone()),
                        actor,
                    },
                ));
            }
            Err(e) => failed.push((idx, e)),
        }
    }
    FencedBatch { endings, failed }
}

/// A batch of completions after [`fence_completions`].
pub(super) struct FencedBatch {
    /// The jobs to end, with their index in the batch.
    pub(super) endings: Vec<(usize, Ending)>,
    /// The others, with their index.
    pub(super) failed: Vec<(usize, Error)>,
}

/// A job written straight to Preserved, as Preserved: its Completed job one phase on (decoded
/// once — no second decryption of its environment).
pub(super) fn as_preserved(
    completed: &multiflexi_core::model::Job,
    row: &job::Model,
) -> Result<multiflexi_core::model::Job> {
    let mut job = completed.clone();
    job.phase = phase_of(row)?;
    job.preserved = row.preserved.map(crate::entity::utc);
    Ok(job)
}

/// A job as it ended.
pub(super) struct Ended {
    /// The job as Completed, and the retry its template planned.
    pub(super) completed: Completed,
    /// Its row as written (Preserved when the batch preserved).
    pub(super) row: job::Model,
}

/// An ending planned: its row already in its final state.
struct Planned {
    row: job::Model,
    from: Phase,
    outcome: Outcome,
    exitcode: Option<i32>,
    job: multiflexi_core::model::Job,
    retry: Option<multiflexi_core::model::Job>,
}

impl SqlStore {
    /// Ends every job of `endings` in this transaction: each row written once in its final
    /// state (Completed, or Preserved when `preserve` — the caller stores the output in the same
    /// transaction), its schedule row deleted, one audit row per phase change, then the
    /// templates' plans in input order (counters as deltas, `next_schedule`, actions, retries).
    /// Returns the jobs in input order and whether a retry was created (the work signal must
    /// change).
    pub(super) async fn end_jobs_in<C: ConnectionTrait>(
        &self,
        c: &C,
        endings: Vec<Ending>,
        now: DateTime<Utc>,
        preserve: bool,
    ) -> Result<(Vec<Ended>, bool)> {
        if endings.is_empty() {
            return Ok((Vec::new(), false));
        }
        let completed_phase = Phase::Completed;
        let preserved_phase = completed_phase.apply(Event::Preserve)?.to;
        let mut planned = Vec::with_capacity(endings.len());
        let mut audit = Vec::with_capacity(endings.len() * 2);
        for e in endings {
            let mut row = e.row;
            let from = phase_of(&row)?;
            let t = from.apply(e.event)?;
            let outcome = t.outcome.unwrap_or(Outcome::Lost);
            row.phase = t.to.as_str().to_string();
            row.status = outcome.as_str().to_string();
            row.outcome = Some(outcome.as_str().to_string());
            row.exitcode = e.exitcode.map(i64::from);
            row.end = Some(ts(now));
            row.lease_expires = None;
            if let Some(s) = e.stdout {
                row.stdout = s;
            }
            if let Some(s) = e.stderr {
                row.stderr = s;
            }
            if let Some(u) = &e.usage {
                usage_into_row(&mut row, u);
            }
            audit.push(audit_row(
                now,
                row.id,
                t.to,
                e.actor,
                PhaseAudit::Completed {
                    outcome,
                    exitcode: e.exitcode,
                }
                .detail(),
            ));
            let job = job_from_model(&self.inner.keys, &row)?;
            if preserve {
                row.phase = preserved_phase.as_str().to_string();
                row.preserved = Some(ts(now));
                audit.push(audit_row(
                    now,
                    row.id,
                    preserved_phase,
                    row.lease_owner
                        .clone()
                        .unwrap_or_else(|| "scheduler".into()),
                    String::new(),
                ));
            }
            planned.push(Planned {
                row,
                from,
                outcome,
                exitcode: e.exitcode,
                job,
                retry: None,
            });
        }
        let to = if preserve {
            preserved_phase
        } else {
            completed_phase
        };
        let rows: Vec<(&job::Model, Phase)> = planned.iter().map(|p| (&p.row, p.from)).collect();
        self.write_ended_rows(c, &rows, to, ts(now)).await?;
        let ids: Vec<i64> = planned.iter().map(|p| p.row.id).collect();
        for chunk in ids.chunks(CHUNK) {
            schedule::Entity::delete_many()
                .filter(schedule::Column::JobId.is_in(chunk.to_vec()))
                .exec(c)
                .await
                .map_err(|e| self.dberr(e))?;
        }
        self.insert_audit(c, audit).await?;
        let woke = self.apply_plans_in(c, &mut planned, now).await?;
        Ok((
            planned
                .into_iter()
                .map(|p| Ended {
                    completed: Completed {
                        job: p.job,
                        retry: p.retry,
                    },
                    row: p.row,
                })
                .collect(),
            woke,
        ))
    }

    /// The templates' side of the jobs that ended, in input order: counters as insert-only
    /// deltas, the new `next_schedule` per template (the last one planned winning), actions
    /// after completion, retries. An ad-hoc job (no slot) that succeeded or was cancelled never
    /// retries and never moves `next_schedule`: its plan needs neither the template row (not
    /// locked) nor the app's exit codes. Whether a retry was created.
    async fn apply_plans_in<C: ConnectionTrait>(
        &self,
        c: &C,
        done: &mut [Planned],
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let needs_plan = |d: &Planned| {
            d.job.slot.is_some() || !matches!(d.outcome, Outcome::Success | Outcome::Cancelled)
        };
        let mut tids: Vec<i64> = done
            .iter()
            .filter(|d| needs_plan(d))
            .map(|d| d.job.runtemplate_id.0)
            .collect();
        tids.sort_unstable();
        tids.dedup();
        let mut trows: HashMap<i64, runtemplate::Model> = HashMap::with_capacity(tids.len());
        for chunk in tids.chunks(CHUNK) {
            let mut q = runtemplate::Entity::find()
                .filter(runtemplate::Column::Id.is_in(chunk.to_vec()))
                .order_by_asc(runtemplate::Column::Id);
            if self.locks() {
                q = q.lock(LockType::Update);
            }
            for r in q.all(c).await.map_err(|e| self.dberr(e))? {
                trows.insert(r.id, r);
            }
        }
        // The other jobs' templates only when they have actions (no lock: only their lists are
        // read, and a list changed concurrently is as good as one changed just before).
        let mut other_tids: Vec<i64> = done
            .iter()
            .filter(|d| !needs_plan(d))
            .map(|d| d.job.runtemplate_id.0)
            .filter(|t| !trows.contains_key(t))
            .collect();
        other_tids.sort_unstable();
        other_tids.dedup();
        let mut action_trows: HashMap<i64, runtemplate::Model> = HashMap::new();
        for chunk in other_tids.chunks(CHUNK) {
            for r in runtemplate::Entity::find()
                .filter(runtemplate::Column::Id.is_in(chunk.to_vec()))
                .filter(
                    Condition::any()
                        .add(runtemplate::Column::OnSuccess.is_not_null())
                        .add(runtemplate::Column::OnFailure.is_not_null()),
                )
                .all(c)
                .await
                .map_err(|e| self.dberr(e))?
            {
                action_trows.insert(r.id, r);
            }
        }
        let mut app_ids: Vec<i64> = done
            .iter()
            .filter(|d| needs_plan(d))
            .map(|d| d.job.app_id.0)
            .collect();
        app_ids.sort_unstable();
        app_ids.dedup();
        let mut codes: HashMap<i64, BTreeMap<i32, ExitCodeInfo>> = HashMap::new();
        for chunk in app_ids.chunks(CHUNK) {
            for app in apps::Entity::find()
                .filter(apps::Column::Id.is_in(chunk.to_vec()))
                .all(c)
                .await
                .map_err(|e| self.dberr(e))?
            {
                codes.insert(app.id, from_json("app exit codes", &app.exit_codes)?);
            }
        }
        let no_codes = BTreeMap::new();
        let mut actions: Vec<JobAction> = Vec::new();
        let mut deltas: Vec<CountDelta> = Vec::new();
        let mut nexts: Vec<(i64, Ts)> = Vec::new();
        let mut woke = false;
        for d in done.iter_mut() {
            let tid = d.job.runtemplate_id.0;
            let plan = if needs_plan(d) {
                let Some(trow) = trows.get_mut(&tid) else {
                    continue;
                };
                let template = template_from_model(trow.clone(), Environment::new(), Vec::new())?;
                let app_codes = codes.get(&d.job.app_id.0).unwrap_or(&no_codes);
                let exitcode = d.exitcode.unwrap_or(-1);
                let plan = plan_completion(&d.job, &template, app_codes, d.outcome, exitcode, now);
                if let Some(next) = plan.next_schedule {
                    trow.next_schedule = Some(ts(to_micros(next)));
                }
                plan
            } else {
                let planned = match trows.get(&tid).or_else(|| action_trows.get(&tid)) {
                    Some(trow) => {
                        let template =
                            template_from_model(trow.clone(), Environment::new(), Vec::new())?;
                        planned_actions(&d.job, &template, d.outcome, now)
                    }
                    None => Vec::new(),
                };
                CompletionPlan {
                    success: d.outcome.counts_as_success(),
                    retry: None,
                    next_schedule: None,
                    actions: planned,
                }
            };
            actions.extend(plan.actions.iter().cloned());
            add_delta(&mut deltas, tid, plan.success);
            if let Some(next) = plan.next_schedule {
                let next = ts(to_micros(next));
                match nexts.iter_mut().find(|(t, _)| *t == tid) {
                    Some(entry) => entry.1 = next,
                    None => nexts.push((tid, next)),
                }
            }
            if let Some(new) = plan.retry {
                // A retry whose (slot, attempt) is somehow taken already is not created twice.
                d.retry = self.create_retry_in(c, new, now).await?;
                woke |= d.retry.is_some();
            }
        }
        self.insert_actions_in(c, &actions).await?;
        self.insert_count_deltas_in(c, &deltas).await?;
        let mut by_next: Vec<(Ts, Vec<i64>)> = Vec::new();
        for (tid, next) in nexts {
            super::group(&mut by_next, next, tid);
        }
        for (next, ids) in by_next {
            runtemplate::Entity::update_many()
                .col_expr(runtemplate::Column::NextSchedule, Expr::value(Some(next)))
                .filter(runtemplate::Column::Id.is_in(ids))
                .exec(c)
                .await
                .map_err(|e| self.dberr(e))?;
        }
        Ok(woke)
    }
}
