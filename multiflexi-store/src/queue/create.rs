//! Created + Scheduled, set-wise: the creation plans of many jobs
//! ([`plan_creation`], the rules every backend shares) written with a fixed handful of
//! statements whatever their number — one lookup of idempotency keys, one existence check of
//! templates, companies, apps and retried jobs, one lookup of taken slots, then multi-row
//! INSERTs of the job rows (`RETURNING id`), their schedule rows and their audit rows. Only a
//! scheduled job's compare-and-swap on its template is a statement of its own.
//!
//! `create_and_schedule`, `create_many`, and the retries a completion creates all come here.

use crate::convert::{job_from_model, job_to_active_model};
use crate::entity::{audit_log, job, runtemplate, schedule, ts, ts_opt, utc};
use crate::store::{SqlStore, in_tx};
use chrono::{DateTime, Utc};
use multiflexi_core::lifecycle::{CreationPlan, Reference, SlotKey, plan_creation};
use multiflexi_core::model::{Job, NewJob};
use multiflexi_core::{AppId, CompanyId, Error, JobId, Result, RunTemplateId};
use sea_orm::ActiveValue::NotSet;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect,
    QueryTrait, Set, Statement,
};
use std::collections::{HashMap, HashSet};

/// Job rows per multi-row INSERT (about 40 columns: 4,000 parameters, under every database's
/// limit).
const JOB_ROWS: usize = 100;
/// Schedule and audit rows per multi-row INSERT, and slots per lookup.
const ROWS: usize = 500;

/// Where one input stands while the batch is judged.
enum Item {
    /// Refused: its result.
    Refused(Error),
    /// Its idempotency key is stored already: that job.
    Existing(Box<Job>),
    /// Its idempotency key is carried by the earlier input at this index, which is created.
    SameKeyAs(usize),
    /// To be written.
    Planned(Box<CreationPlan>),
}

/// Which of the rows a batch refers to exist.
#[derive(Default)]
struct Known(HashSet<Reference>);

impl Known {
    fn has(&self, r: Reference) -> bool {
        self.0.contains(&r)
    }
}

impl SqlStore {
    /// Created + Scheduled for each of `news` at `now`, in the transaction `c`; one result per
    /// input (see [`JobQueue::create_many`](multiflexi_core::store::JobQueue::create_many)).
    /// AlreadyExists as the call's error when another writer took a slot or idempotency key
    /// between the checks and the INSERT (the caller then creates one job at a time).
    pub(crate) async fn create_many_in<C: ConnectionTrait>(
        &self,
        c: &C,
        news: &[NewJob],
        now: DateTime<Utc>,
    ) -> Result<Vec<Result<Job>>> {
        let stored = self.jobs_by_idempotency_key(c, news).await?;
        let mut items: Vec<Item> = news
            .iter()
            .map(
                |new| match new.idempotency_key.as_ref().and_then(|k| stored.get(k)) {
                    Some(job) => Item::Existing(Box::new(job.clone())),
                    None => match plan_creation(new, now) {
                        Ok(plan) => Item::Planned(Box::new(plan)),
                        Err(e) => Item::Refused(e),
                    },
                },
            )
            .collect();
        let known = self.known_ids(c, &items).await?;
        let mut taken = self.taken_slots(c, &items).await?;
        // In input order, as if one job were created after the other.
        let mut keys: HashMap<String, usize> = HashMap::new();
        for (i, item) in items.iter_mut().enumerate() {
            let Item::Planned(plan) = item else {
                continue;
            };
            if let Some(&first) = plan.job.idempotency_key.as_ref().and_then(|k| keys.get(k)) {
                *item = Item::SameKeyAs(first);
                continue;
            }
            let verdict = match plan.check(|r| known.has(r), |k| taken.contains(k)) {
                Err(e) => Err(e),
                Ok(()) => self.mark_template(c, plan).await?,
            };
            match verdict {
                Err(e) => *item = Item::Refused(e),
                Ok(()) => {
                    taken.extend(plan.slot_key());
                    if let Some(k) = &plan.job.idempotency_key {
                        keys.insert(k.clone(), i);
                    }
                }
            }
        }
        let ids = self.insert_planned(c, &items).await?;
        let mut created: HashMap<usize, Job> = HashMap::new();
        for (i, id) in ids {
            if let Item::Planned(plan) = &items[i] {
                let mut job = plan.job.clone();
                job.id = JobId(id);
                created.insert(i, job);
            }
        }
        if !created.is_empty() && self.backend() == DbBackend::Postgres {
            c.execute_unprepared(&format!("NOTIFY {}", crate::store::NOTIFY_CHANNEL))
                .await
                .map_err(|e| self.dberr(e))?;
        }
        Ok(items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Item::Refused(e) => Err(e),
                Item::Existing(job) => Ok(*job),
                Item::SameKeyAs(first) => created.get(&first).cloned().ok_or_else(|| {
                    Error::backend(
                        self.inner.name,
                        false,
                        "the first job of a key was not created",
                    )
                }),
                Item::Planned(_) => created.get(&i).cloned().ok_or_else(|| {
                    Error::backend(self.inner.name, false, "an INSERT returned too few ids")
                }),
            })
            .collect())
    }

    /// One job in a transaction of its own, after a batch met another writer: the stored job
    /// when its idempotency key was taken meanwhile. A database failure is the call's error.
    pub(crate) async fn create_one(&self, new: &NewJob, now: DateTime<Utc>) -> Result<Result<Job>> {
        let one = std::slice::from_ref(new);
        match in_tx!(self, |txn| self.create_many_in(&txn, one, now).await) {
            Ok(mut results) => Ok(results.pop().unwrap_or_else(|| {
                Err(Error::backend(
                    self.inner.name,
                    false,
                    "no result for one job",
                ))
            })),
            Err(Error::AlreadyExists { .. }) => {
                if let Some(job) = self
                    .jobs_by_idempotency_key(self.db(), one)
                    .await?
                    .into_values()
                    .next()
                {
                    return Ok(Ok(job));
                }
                Ok(Err(match (&new.idempotency_key, plan_creation(new, now)) {
                    (Some(k), _) => Error::AlreadyExists {
                        entity: JobId::ENTITY,
                        key: format!("idempotency key {k:?} (or its slot)"),
                    },
                    (None, Ok(plan)) => plan.slot_taken(),
                    (None, Err(e)) => e,
                }))
            }
            Err(e) => Err(e),
        }
    }

    /// The retry a completion plans, created in the completion's transaction; `None` when it is
    /// refused (its slot and attempt somehow taken already: never created twice).
    pub(crate) async fn create_retry_in<C: ConnectionTrait>(
        &self,
        c: &C,
        retry: NewJob,
        now: DateTime<Utc>,
    ) -> Result<Option<Job>> {
        let mut results = self
            .create_many_in(c, std::slice::from_ref(&retry), now)
            .await?;
        Ok(results.pop().and_then(Result::ok))
    }

    /// The stored jobs carrying the idempotency keys of `news`, by key.
    async fn jobs_by_idempotency_key<C: ConnectionTrait>(
        &self,
        c: &C,
        news: &[NewJob],
    ) -> Result<HashMap<String, Job>> {
        let keys: HashSet<&String> = news
            .iter()
            .filter_map(|n| n.idempotency_key.as_ref())
            .collect();
        let mut out = HashMap::new();
        if keys.is_empty() {
            return Ok(out);
        }
        let rows = job::Entity::find()
            .filter(job::Column::IdempotencyKey.is_in(keys))
            .all(c)
            .await
            .map_err(|e| self.dberr(e))?;
        for row in rows {
            if let Some(k) = row.idempotency_key.clone() {
                out.insert(k, job_from_model(&self.inner.keys, &row)?);
            }
        }
        Ok(out)
    }

    /// Which of the templates, companies, apps and retried jobs the planned jobs name exist:
    /// one statement (integer ids only, written into it).
    async fn known_ids<C: ConnectionTrait>(&self, c: &C, items: &[Item]) -> Result<Known> {
        // Per table: the ids wanted.
        let mut wanted: [HashSet<i64>; 4] = Default::default();
        for item in items {
            if let Item::Planned(plan) = item {
                for r in plan.references() {
                    let (table, id) = table_of(r);
                    wanted[table].insert(id);
                }
            }
        }
        let bigint = if self.backend() == DbBackend::MySql {
            "SIGNED"
        } else {
            "BIGINT"
        };
        let parts: Vec<String> = TABLES
            .iter()
            .zip(&wanted)
            .enumerate()
            .filter(|(_, (_, ids))| !ids.is_empty())
            .map(|(k, (table, ids))| {
                let list: Vec<String> = ids.iter().map(i64::to_string).collect();
                format!(
                    "SELECT CAST({k} AS {bigint}) AS k, CAST(id AS {bigint}) AS id FROM {table} \
                     WHERE id IN ({})",
                    list.join(", ")
                )
            })
            .collect();
        let mut known = Known::default();
        if parts.is_empty() {
            return Ok(known);
        }
        let rows = c
            .query_all_raw(Statement::from_string(
                self.backend(),
                parts.join(" UNION ALL "),
            ))
            .await
            .map_err(|e| self.dberr(e))?;
        for row in rows {
            let k: i64 = row.try_get_by_index(0).map_err(|e| self.dberr(e))?;
            let id: i64 = row.try_get_by_index(1).map_err(|e| self.dberr(e))?;
            known.0.insert(match k {
                0 => Reference::RetryOf(JobId(id)),
                1 => Reference::Template(RunTemplateId(id)),
                2 => Reference::Company(CompanyId(id)),
                _ => Reference::App(AppId(id)),
            });
        }
        Ok(known)
    }

    /// The slots of the planned jobs that stored jobs hold already.
    async fn taken_slots<C: ConnectionTrait>(
        &self,
        c: &C,
        items: &[Item],
    ) -> Result<HashSet<SlotKey>> {
        let wanted: Vec<SlotKey> = items
            .iter()
            .filter_map(|item| match item {
                Item::Planned(plan) => plan.slot_key(),
                _ => None,
            })
            .collect();
        let mut taken = HashSet::new();
        for chunk in wanted.chunks(ROWS) {
            let mut any = Condition::any();
            for (template, slot, attempt) in chunk {
                any = any.add(
                    Condition::all()
                        .add(job::Column::RuntemplateId.eq(template.0))
                        .add(job::Column::Slot.eq(ts(*slot)))
                        .add(job::Column::Attempt.eq(i64::from(*attempt))),
                );
            }
            let rows: Vec<(i64, Option<crate::entity::Ts>, i64)> = job::Entity::find()
                .select_only()
                .column(job::Column::RuntemplateId)
                .column(job::Column::Slot)
                .column(job::Column::Attempt)
                .filter(any)
                .into_tuple()
                .all(c)
                .await
                .map_err(|e| self.dberr(e))?;
            for (template, slot, attempt) in rows {
                if let (Some(slot), Ok(attempt)) = (slot, u32::try_from(attempt)) {
                    taken.insert((RunTemplateId(template), utc(slot), attempt));
                }
            }
        }
        Ok(taken)
    }

    /// A scheduled job's marks on its template, with its compare-and-swap: `Ok(Err(Conflict))`
    /// when `next_schedule` moved.
    async fn mark_template<C: ConnectionTrait>(
        &self,
        c: &C,
        plan: &CreationPlan,
    ) -> Result<Result<()>> {
        let Some(marks) = plan.template else {
            return Ok(Ok(()));
        };
        let mut q = runtemplate::Entity::update_many()
            .col_expr(
                runtemplate::Column::NextSchedule,
                Expr::value(ts_opt(marks.next_schedule)),
            )
            .col_expr(
                runtemplate::Column::LastSchedule,
                Expr::value(Some(ts(marks.last_schedule))),
            )
            .filter(runtemplate::Column::Id.eq(marks.runtemplate_id.0));
        q = match marks.expected_next {
            None => q,
            Some(None) => q.filter(runtemplate::Column::NextSchedule.is_null()),
            Some(Some(e)) => q.filter(runtemplate::Column::NextSchedule.eq(ts(e))),
        };
        if q.exec(c).await.map_err(|e| self.dberr(e))?.rows_affected > 0 {
            return Ok(Ok(()));
        }
        let seen = runtemplate::Entity::find_by_id(marks.runtemplate_id.0)
            .one(c)
            .await
            .map_err(|e| self.dberr(e))?
            .map(|t| t.next_schedule.map(utc));
        Ok(Err(match seen {
            Some(seen) => marks.conflict(seen),
            None => Error::not_found(RunTemplateId::ENTITY, marks.runtemplate_id),
        }))
    }

    /// Inserts the job rows of the planned items (multi-row, `RETURNING id` where the database
    /// has it, else one row per statement), then their schedule and audit rows; returns
    /// (item index, job id).
    async fn insert_planned<C: ConnectionTrait>(
        &self,
        c: &C,
        items: &[Item],
    ) -> Result<Vec<(usize, i64)>> {
        let planned: Vec<(usize, &CreationPlan)> = items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| match item {
                Item::Planned(plan) => Some((i, &**plan)),
                _ => None,
            })
            .collect();
        let mut ids = Vec::with_capacity(planned.len());
        for chunk in planned.chunks(JOB_ROWS) {
            let models = chunk
                .iter()
                .map(|(_, plan)| job_to_active_model(&self.inner.keys, &plan.job))
                .collect::<Result<Vec<_>>>()?;
            let mut chunk_ids = if self.inner.returning {
                let mut st = self
                    .backend()
                    .build(&job::Entity::insert_many(models).into_query());
                st.sql.push_str(" RETURNING id");
                let rows = c
                    .query_all_raw(st)
                    .await
                    .map_err(|e| self.insert_error(e))?;
                rows.iter()
                    .map(|r| r.try_get_by_index::<i64>(0).map_err(|e| self.dberr(e)))
                    .collect::<Result<Vec<i64>>>()?
            } else {
                let mut out = Vec::with_capacity(models.len());
                for m in models {
                    let r = job::Entity::insert(m)
                        .exec(c)
                        .await
                        .map_err(|e| self.insert_error(e))?;
                    out.push(r.last_insert_id);
                }
                out
            };
            if chunk_ids.len() != chunk.len() {
                return Err(Error::backend(
                    self.inner.name,
                    false,
                    format!(
                        "{} job rows inserted, {} ids returned",
                        chunk.len(),
                        chunk_ids.len()
                    ),
                ));
            }
            // Ids are handed out in the order of the VALUES rows on every database.
            chunk_ids.sort_unstable();
            ids.extend(chunk.iter().map(|(i, _)| *i).zip(chunk_ids));
        }
        let by_index: HashMap<usize, &CreationPlan> = planned.iter().copied().collect();
        for chunk in ids.chunks(ROWS) {
            let rows = chunk.iter().map(|(i, id)| {
                let job = &by_index[i].job;
                schedule::ActiveModel {
                    id: NotSet,
                    job_id: Set(*id),
                    after: Set(ts(job.after)),
                    executor: Set(job.executor.as_str().to_string()),
                    claimed: Set(false),
                }
            });
            schedule::Entity::insert_many(rows)
                .exec_without_returning(c)
                .await
                .map_err(|e| self.dberr(e))?;
            let audits = chunk.iter().map(|(i, id)| {
                let plan = by_index[i];
                audit_log::ActiveModel {
                    id: NotSet,
                    at: Set(ts(plan.job.created)),
                    job_id: Set(Some(*id)),
                    actor: Set(plan.actor.clone()),
                    action: Set(plan.audit.action()),
                    detail: Set(plan.audit.detail()),
                }
            });
            audit_log::Entity::insert_many(audits)
                .exec_without_returning(c)
                .await
                .map_err(|e| self.dberr(e))?;
        }
        Ok(ids)
    }

    /// A failed job INSERT: AlreadyExists for a unique violation (a slot or idempotency key
    /// taken since the checks), else the database error.
    fn insert_error(&self, e: sea_orm::DbErr) -> Error {
        match crate::error::classify(&e) {
            crate::error::Kind::Unique => Error::AlreadyExists {
                entity: JobId::ENTITY,
                key: "a slot or idempotency key taken by another writer".into(),
            },
            _ => self.dberr(e),
        }
    }
}

/// The tables [`Reference`]s point into, by index.
const TABLES: [&str; 4] = ["job", "runtemplate", "company", "apps"];

/// A reference's table index (into [`TABLES`]) and id.
fn table_of(r: Reference) -> (usize, i64) {
    match r {
        Reference::RetryOf(id) => (0, id.0),
        Reference::Template(id) => (1, id.0),
        Reference::Company(id) => (2, id.0),
        Reference::App(id) => (3, id.0),
    }
}
