//! The in-memory tables and the lifecycle steps shared by several trait calls.

use crate::clock::to_micros;
use crate::ids::{AppId, ArtifactId, CompanyId, CredentialId, JobId, RunTemplateId};
use crate::lifecycle::{
    CreationPlan, Event, Outcome, Phase, Reference, SlotKey, plan_completion, plan_creation,
};
use crate::model::{App, Artifact, Company, Credential, Job, NewJob, RunTemplate};
use crate::store::backend::fence_conflict;
use crate::store::{AccessToken, AuditEntry, Completed, LeaseRef, LeaseWrite, OutputChunk};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use tokio::sync::watch;

/// Every table of the store.
#[derive(Debug)]
pub(super) struct State {
    pub apps: BTreeMap<AppId, App>,
    pub companies: BTreeMap<CompanyId, Company>,
    pub credentials: BTreeMap<CredentialId, Credential>,
    pub templates: BTreeMap<RunTemplateId, RunTemplate>,
    pub jobs: BTreeMap<JobId, Job>,
    /// The `schedule` rows of Scheduled jobs, in claim order: (after, id).
    pub due: BTreeSet<(DateTime<Utc>, JobId)>,
    /// Unique (runtemplate, slot, attempt).
    pub slots: HashMap<SlotKey, JobId>,
    /// Unique idempotency keys.
    pub idempotency: HashMap<String, JobId>,
    /// `job_output`, per job by seq.
    pub output: HashMap<JobId, BTreeMap<u64, OutputChunk>>,
    pub audit: Vec<AuditEntry>,
    pub artifacts: BTreeMap<ArtifactId, Artifact>,
    /// Unique (job, filename).
    pub artifact_names: HashMap<(JobId, String), ArtifactId>,
    /// API tokens by id, each with the SHA-256 of its secret.
    pub tokens: BTreeMap<i64, (AccessToken, String)>,
    /// `job_action` rows by id.
    pub actions: BTreeMap<i64, crate::model::JobAction>,
    /// Retention policies by scope.
    pub retention: BTreeMap<crate::model::RetentionScope, crate::model::RetentionPolicy>,
    /// Last id handed out per table.
    pub last_id: LastIds,
    /// Bumped on every create and re-queue.
    pub signal: watch::Sender<u64>,
}

/// Last id handed out per table (ids start at 1 and never repeat).
#[derive(Debug, Default)]
pub(super) struct LastIds {
    pub app: i64,
    pub company: i64,
    pub credential: i64,
    pub template: i64,
    pub job: i64,
    pub audit: i64,
    pub artifact: i64,
    pub token: i64,
    pub action: i64,
}

/// The next id of a table.
pub(super) fn next_id(last: &mut i64) -> i64 {
    *last += 1;
    *last
}

impl State {
    pub fn new() -> Self {
        Self {
            apps: BTreeMap::new(),
            companies: BTreeMap::new(),
            credentials: BTreeMap::new(),
            templates: BTreeMap::new(),
            jobs: BTreeMap::new(),
            due: BTreeSet::new(),
            slots: HashMap::new(),
            idempotency: HashMap::new(),
            output: HashMap::new(),
            audit: Vec::new(),
            actions: BTreeMap::new(),
            retention: BTreeMap::new(),
            artifacts: BTreeMap::new(),
            artifact_names: HashMap::new(),
            tokens: BTreeMap::new(),
            last_id: LastIds::default(),
            signal: watch::Sender::new(0),
        }
    }

    /// Tells waiting dispatchers that a job may have become claimable.
    pub fn wake(&self) {
        self.signal.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Appends an audit row at `now`.
    pub fn audit(
        &mut self,
        now: DateTime<Utc>,
        job_id: Option<JobId>,
        actor: &str,
        action: &str,
        detail: String,
    ) {
        let id = next_id(&mut self.last_id.audit);
        self.audit.push(AuditEntry {
            id,
            at: now,
            job_id,
            actor: actor.to_string(),
            action: action.to_string(),
            detail,
        });
    }

    /// Appends the `phase:<phase>` row of a job that just changed phase.
    pub fn audit_phase(&mut self, now: DateTime<Utc>, job_id: JobId, actor: &str, detail: String) {
        let phase = self.jobs[&job_id].phase;
        self.audit(
            now,
            Some(job_id),
            actor,
            &crate::lifecycle::phase_action(phase),
            detail,
        );
    }

    /// The job or NotFound.
    pub fn job(&self, id: JobId) -> Result<&Job> {
        self.jobs
            .get(&id)
            .ok_or_else(|| Error::not_found(JobId::ENTITY, id))
    }

    /// Whether a template has a job with a slot that is not finished yet.
    pub fn outstanding(&self, template: RunTemplateId) -> Vec<JobId> {
        self.jobs
            .values()
            .filter(|j| j.runtemplate_id == template && j.slot.is_some() && !j.phase.is_finished())
            .map(|j| j.id)
            .collect()
    }

    /// Creates and schedules one job at `now` exactly as every store does (the
    /// [`CreationPlan`]): the same idempotency key returns the first job; InvalidInput,
    /// NotFound, AlreadyExists (slot taken) or Conflict (compare-and-swap) otherwise.
    pub fn create(&mut self, new: &NewJob, now: DateTime<Utc>) -> Result<Job> {
        if let Some(id) = new
            .idempotency_key
            .as_ref()
            .and_then(|k| self.idempotency.get(k))
        {
            return self.job(*id).cloned();
        }
        let plan = plan_creation(new, now)?;
        self.check_creation(&plan)?;
        Ok(self.insert_job(plan))
    }

    /// Checks what a store checks before it writes a creation plan, without changing anything.
    fn check_creation(&self, plan: &CreationPlan) -> Result<()> {
        plan.check(
            |r| match r {
                Reference::RetryOf(id) => self.jobs.contains_key(&id),
                Reference::Template(id) => self.templates.contains_key(&id),
                Reference::Company(id) => self.companies.contains_key(&id),
                Reference::App(id) => self.apps.contains_key(&id),
            },
            |k| self.slots.contains_key(k),
        )?;
        let current = self
            .templates
            .get(&plan.job.runtemplate_id)
            .and_then(|t| t.next_schedule);
        match plan.template.filter(|m| !m.holds(current)) {
            Some(marks) => Err(marks.conflict(current)),
            None => Ok(()),
        }
    }

    /// Writes a checked creation plan: the job, its due entry, the template's schedule marks
    /// and the audit row.
    fn insert_job(&mut self, plan: CreationPlan) -> Job {
        let id = JobId(next_id(&mut self.last_id.job));
        let mut job = plan.job.clone();
        job.id = id;
        if let Some(marks) = plan.template
            && let Some(t) = self.templates.get_mut(&marks.runtemplate_id)
        {
            t.next_schedule = marks.next_schedule;
            t.last_schedule = Some(marks.last_schedule);
        }
        if let Some(key) = plan.slot_key() {
            self.slots.insert(key, id);
        }
        if let Some(k) = &job.idempotency_key {
            self.idempotency.insert(k.clone(), id);
        }
        self.due.insert((job.after, id));
        self.jobs.insert(id, job.clone());
        self.audit(
            job.created,
            Some(id),
            &plan.actor,
            &plan.audit.action(),
            plan.audit.detail(),
        );
        self.wake();
        job
    }

    /// The fencing check of every write after a claim: the token must match, the event must be
    /// legal in the job's phase (else InvalidTransition), and the phase must be one of `expected`.
    pub fn fence(&self, lease: LeaseRef, expected: &[Phase], event: Event) -> Result<()> {
        let job = self.job(lease.job_id)?;
        if job.lease_token != lease.lease_token {
            return Err(fence_conflict(lease.job_id, expected, lease.lease_token));
        }
        job.phase.apply(event)?;
        if !expected.contains(&job.phase) {
            return Err(fence_conflict(lease.job_id, expected, lease.lease_token));
        }
        Ok(())
    }

    /// The fence of an output or artifact write (NotFound for an unknown job).
    pub fn lease_write(&self, lease: LeaseRef, write: LeaseWrite) -> Result<()> {
        let job = self.job(lease.job_id)?;
        write.check(lease, job.lease_token, job.phase, job.outcome, job.exitcode)
    }

    /// Moves a job to Completed with `outcome` and applies every side effect of completion in
    /// the same step: schedule row removed, template counter, `next_schedule`, the retry job,
    /// audit rows. The event must already be known to be legal.
    #[allow(clippy::too_many_arguments)]
    pub fn complete_job(
        &mut self,
        id: JobId,
        event: Event,
        exitcode: Option<i32>,
        stdout: Option<&str>,
        stderr: Option<&str>,
        now: DateTime<Utc>,
        actor: &str,
    ) -> Result<Completed> {
        let job = self
            .jobs
            .get_mut(&id)
            .ok_or_else(|| Error::not_found(JobId::ENTITY, id))?;
        let from = job.phase;
        let t = from.apply(event)?;
        let outcome = t.outcome.unwrap_or(Outcome::Lost);
        job.phase = t.to;
        job.outcome = Some(outcome);
        job.exitcode = exitcode;
        job.end = Some(now);
        job.lease_expires = None;
        if let Some(s) = stdout {
            job.stdout = s.to_string();
        }
        if let Some(s) = stderr {
            job.stderr = s.to_string();
        }
        let after = job.after;
        let job = job.clone();
        if from == Phase::Scheduled {
            self.due.remove(&(after, id));
        }
        self.audit_phase(
            now,
            id,
            actor,
            crate::lifecycle::PhaseAudit::Completed { outcome, exitcode }.detail(),
        );

        let mut retry = None;
        if let Some(template) = self.templates.get(&job.runtemplate_id) {
            let codes = self
                .apps
                .get(&job.app_id)
                .map(|a| a.exit_codes.clone())
                .unwrap_or_default();
            let plan =
                plan_completion(&job, template, &codes, outcome, exitcode.unwrap_or(-1), now);
            let template = self
                .templates
                .get_mut(&job.runtemplate_id)
                .expect("looked up above");
            if plan.success {
                template.successfull_jobs_count += 1;
            } else {
                template.failed_jobs_count += 1;
            }
            if let Some(next) = plan.next_schedule {
                template.next_schedule = Some(to_micros(next));
            }
            if let Some(new) = plan.retry {
                // A retry whose (slot, attempt) is somehow taken already is not created twice.
                retry = self.create(&new, now).ok();
            }
            for mut a in plan.actions {
                a.id = next_id(&mut self.last_id.action);
                self.actions.insert(a.id, a);
            }
        }
        Ok(Completed { job, retry })
    }

    /// Queued → Scheduled after an expired lease (no attempt counted, lease cleared).
    pub fn requeue(&mut self, id: JobId, now: DateTime<Utc>) -> Result<()> {
        let job = self
            .jobs
            .get_mut(&id)
            .ok_or_else(|| Error::not_found(JobId::ENTITY, id))?;
        job.phase = job.phase.apply(Event::LeaseExpired)?.to;
        let owner = job.lease_owner.take().unwrap_or_default();
        job.lease_expires = None;
        job.queued = None;
        let after = job.after;
        self.due.insert((after, id));
        self.audit_phase(
            now,
            id,
            "scheduler",
            format!("lease of {owner:?} expired before the job started"),
        );
        self.wake();
        Ok(())
    }

    /// Queued → Scheduled on its holder's release: due again at `after`, `launch_failures`
    /// stored, lease and `queued` cleared, token kept, one audit row by `actor`.
    pub fn release(
        &mut self,
        id: JobId,
        after: DateTime<Utc>,
        launch_failures: u32,
        actor: &str,
        detail: String,
        now: DateTime<Utc>,
    ) -> Result<Job> {
        let job = self
            .jobs
            .get_mut(&id)
            .ok_or_else(|| Error::not_found(JobId::ENTITY, id))?;
        job.phase = job.phase.apply(Event::Release)?.to;
        let before = job.after;
        job.after = after;
        job.launch_failures = launch_failures;
        job.lease_owner = None;
        job.lease_expires = None;
        job.queued = None;
        let job = job.clone();
        self.due.remove(&(before, id));
        self.due.insert((after, id));
        self.audit_phase(now, id, actor, detail);
        self.wake();
        Ok(job)
    }

    /// Deletes a job with its output and artifacts; returns (artifacts, output chunks) removed.
    pub fn delete_job(&mut self, id: JobId) -> (u64, u64) {
        let Some(job) = self.jobs.remove(&id) else {
            return (0, 0);
        };
        self.due.remove(&(job.after, id));
        if let Some(slot) = job.slot {
            let key = (job.runtemplate_id, slot, job.attempt);
            if self.slots.get(&key) == Some(&id) {
                self.slots.remove(&key);
            }
        }
        if let Some(k) = &job.idempotency_key
            && self.idempotency.get(k) == Some(&id)
        {
            self.idempotency.remove(k);
        }
        self.actions.retain(|_, a| a.job_id != id);
        self.delete_job_data(id)
    }

    /// Deletes a job's output and artifacts, keeping the job; returns (artifacts, output chunks).
    pub fn delete_job_data(&mut self, id: JobId) -> (u64, u64) {
        let chunks = self.output.remove(&id).map_or(0, |m| m.len() as u64);
        let ids: Vec<ArtifactId> = self
            .artifacts
            .values()
            .filter(|a| a.meta.job_id == id)
            .map(|a| a.meta.id)
            .collect();
        for aid in &ids {
            if let Some(a) = self.artifacts.remove(aid) {
                self.artifact_names.remove(&(id, a.meta.filename));
            }
        }
        (ids.len() as u64, chunks)
    }
}
