use super::{ContainerSecurity, Environment, ExecutorKind, ResourceUsage};
use crate::ids::{AppId, CompanyId, JobId, RunTemplateId};
use crate::lifecycle::{Outcome, Phase, Trigger};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What to run, frozen when the job is created (later edits of app or template do not change it).
///
/// `args` and `env` may hold secrets: stores encrypt them together at rest.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JobSpec {
    /// The program (the app's executable).
    pub program: String,
    /// Its arguments (cmdparams split, then macros substituted — never a shell string).
    pub args: Vec<String>,
    /// The assembled environment (all five layers, with `MULTIFLEXI_*`).
    pub env: Environment,
    /// Container image, for container executors.
    pub image: Option<String>,
    /// Seconds before the job is killed.
    pub timeout: Option<u32>,
    /// Memory limit in MiB.
    pub memory_limit_mb: Option<u32>,
    /// Limit on processes and threads alive at once.
    #[serde(default)]
    pub pids_max: Option<u32>,
    /// CPU time (user + system) before the job is killed, seconds.
    #[serde(default)]
    pub cpu_seconds: Option<u32>,
    /// What the app needs from a container sandbox.
    #[serde(default)]
    pub container: ContainerSecurity,
    /// Result-file patterns (relative to the job's work directory).
    pub artifacts: Vec<String>,
    /// IANA timezone given to the job as `TZ`.
    pub timezone: String,
}

impl JobSpec {
    /// A spec running `program` with `args`.
    pub fn new(program: impl Into<String>, args: Vec<String>) -> Self {
        Self {
            program: program.into(),
            args,
            timezone: "UTC".into(),
            ..Self::default()
        }
    }

    /// The command line for display, with secret values replaced by `***`.
    pub fn redacted_command(&self) -> String {
        let secrets = self.env.secret_values();
        let mut parts = Vec::with_capacity(self.args.len() + 1);
        parts.push(self.program.clone());
        for a in &self.args {
            let mut a = a.clone();
            for s in &secrets {
                a = a.replace(s, "***");
            }
            parts.push(a);
        }
        shell_words::join(parts)
    }
}

/// Compare-and-swap guard the scheduler puts on job creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleCas {
    /// The template's `next_schedule` as the scheduler saw it; creation fails with Conflict if it changed.
    pub expected_next: Option<DateTime<Utc>>,
    /// The value to set (None for `forbid`: the completion sets it).
    pub set_next: Option<DateTime<Utc>>,
}

/// Everything needed to create and schedule a job (one transaction).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NewJob {
    /// The template it runs.
    pub runtemplate_id: RunTemplateId,
    /// Copied from the template.
    pub company_id: CompanyId,
    /// Copied from the template.
    pub app_id: AppId,
    /// Which executor kind runs it.
    pub executor: ExecutorKind,
    /// What to run.
    pub spec: JobSpec,
    /// Who asked for it (user, token name, `scheduler`).
    pub launched_by: Option<String>,
    /// What created it.
    pub trigger: Trigger,
    /// The instant the schedule fired (scheduled jobs and their retries only).
    pub slot: Option<DateTime<Utc>>,
    /// 0 for the first attempt, n for the n-th retry.
    pub attempt: u32,
    /// The job this one retries.
    pub retry_of: Option<JobId>,
    /// When it becomes due.
    pub after: DateTime<Utc>,
    /// A client's key: a second create with the same key returns the first job.
    pub idempotency_key: Option<String>,
    /// Serialized trace context of the span that created it.
    pub trace_context: Option<String>,
    /// The scheduler's compare-and-swap on the template (trigger `schedule` only).
    pub cas: Option<ScheduleCas>,
}

impl NewJob {
    /// An ad-hoc job due at `after`.
    pub fn new(
        runtemplate_id: RunTemplateId,
        company_id: CompanyId,
        app_id: AppId,
        executor: ExecutorKind,
        spec: JobSpec,
        trigger: Trigger,
        after: DateTime<Utc>,
    ) -> Self {
        Self {
            runtemplate_id,
            company_id,
            app_id,
            executor,
            spec,
            launched_by: None,
            trigger,
            slot: None,
            attempt: 0,
            retry_of: None,
            after,
            idempotency_key: None,
            trace_context: None,
            cas: None,
        }
    }
}

impl NewJob {
    /// The rules every store checks before it writes: a `schedule` job carries its slot, an
    /// ad-hoc job (`manual`, `api`, `cli`) has none, and only `schedule` jobs carry a
    /// compare-and-swap. Retries keep the slot of the job they retry (or none).
    pub fn validate(&self) -> crate::Result<()> {
        match (self.trigger, self.slot) {
            (Trigger::Schedule, None) => {
                return Err(crate::Error::invalid(
                    "slot",
                    "a job with trigger schedule needs the slot it was created for",
                ));
            }
            (Trigger::Manual | Trigger::Api | Trigger::Cli | Trigger::Chained, Some(_)) => {
                return Err(crate::Error::invalid(
                    "slot",
                    format!(
                        "ad-hoc jobs (trigger {}) have no slot; only schedule and retry jobs do",
                        self.trigger
                    ),
                ));
            }
            _ => {}
        }
        if self.cas.is_some() && self.trigger != Trigger::Schedule {
            return Err(crate::Error::invalid(
                "cas",
                format!(
                    "only jobs with trigger schedule carry a compare-and-swap, not {}",
                    self.trigger
                ),
            ));
        }
        Ok(())
    }
}

/// A job: one run of a template, from creation to preserved artifacts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// The template it runs.
    pub runtemplate_id: RunTemplateId,
    /// The company.
    pub company_id: CompanyId,
    /// The app.
    pub app_id: AppId,
    /// Which executor kind runs it.
    pub executor: ExecutorKind,
    /// What it runs (frozen at creation).
    pub spec: JobSpec,
    /// The command line for display, secrets redacted.
    pub command: String,
    /// Who asked for it.
    pub launched_by: Option<String>,
    /// Where it is.
    pub phase: Phase,
    /// How it ended (Completed and Preserved only).
    pub outcome: Option<Outcome>,
    /// What created it.
    pub trigger: Trigger,
    /// The schedule slot (scheduled jobs and their retries).
    pub slot: Option<DateTime<Utc>>,
    /// 0 for the first attempt.
    pub attempt: u32,
    /// The job this one retries.
    pub retry_of: Option<JobId>,
    /// When it is due (the `schedule` row's `after`).
    pub after: DateTime<Utc>,
    /// Exit code; 128+N when killed by signal N; -1 for lost / platform_error.
    pub exitcode: Option<i32>,
    /// Process id (native).
    pub pid: Option<i64>,
    /// Container id or pod name.
    pub external_id: Option<String>,
    /// The executor holding the lease.
    pub lease_owner: Option<String>,
    /// When the lease runs out.
    pub lease_expires: Option<DateTime<Utc>>,
    /// Fencing token: incremented by every claim.
    pub lease_token: i64,
    /// An operator asked to cancel it.
    pub cancel_requested: bool,
    /// The client's idempotency key.
    pub idempotency_key: Option<String>,
    /// Serialized trace context.
    pub trace_context: Option<String>,
    /// Bounded text copy of stdout (lossy UTF-8).
    pub stdout: String,
    /// Bounded text copy of stderr (lossy UTF-8).
    pub stderr: String,
    /// Created (and scheduled: same transaction).
    pub created: DateTime<Utc>,
    /// Claimed.
    pub queued: Option<DateTime<Utc>>,
    /// Started running.
    pub begin: Option<DateTime<Utc>>,
    /// Completed.
    pub end: Option<DateTime<Utc>>,
    /// Artifacts stored.
    pub preserved: Option<DateTime<Utc>>,
    /// Launches that failed before the application started (the job was released back to the
    /// queue each time; at the bound it completes as `platform_error`). Not attempts: a retry
    /// starts again at 0.
    #[serde(default)]
    pub launch_failures: u32,
    /// What the job used while it ran (set with its completion).
    #[serde(default)]
    pub usage: ResourceUsage,
    /// Why the stored row could not be read back (for example its environment was sealed with a
    /// master key this process does not have), `None` for every readable job. An unreadable job
    /// still lists with its id, phase, timestamps and the other plain columns, but its `spec`
    /// is empty: it is never handed out to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

impl Job {
    /// The seed-style status word: `scheduled`, `queued`, `running`, or the outcome once finished.
    pub fn status(&self) -> &'static str {
        match (self.phase, self.outcome) {
            (Phase::Created, _) => "pending",
            (Phase::Completed | Phase::Preserved, Some(o)) => o.as_str(),
            (p, _) => p.as_str(),
        }
    }

    /// Every word [`Job::status`] gives: `pending`, `scheduled`, `queued`, `running`, then the
    /// outcomes.
    pub fn status_words() -> Vec<&'static str> {
        let mut s = vec!["pending", "scheduled", "queued", "running"];
        s.extend(crate::Outcome::ALL.iter().map(|o| o.as_str()));
        s
    }

    /// A status word as a filter takes it (any case), refused unless [`Job::status`] can give
    /// it; the refusal lists the words allowed.
    pub fn check_status_word(word: &str) -> crate::Result<String> {
        let w = word.trim().to_ascii_lowercase();
        let allowed = Job::status_words();
        if allowed.contains(&w.as_str()) {
            Ok(w)
        } else {
            Err(crate::Error::invalid(
                "status",
                format!("{w:?} is not a job status; allowed: {}", allowed.join(", ")),
            ))
        }
    }

    /// Run time, when it began and ended.
    pub fn duration(&self) -> Option<chrono::Duration> {
        Some(self.end? - self.begin?)
    }
}
