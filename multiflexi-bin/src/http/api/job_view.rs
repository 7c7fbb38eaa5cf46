//! How jobs and artifacts look in responses.

use super::env::{EnvVarView, env_view};
use chrono::{DateTime, Utc};
use multiflexi_core::exit_code;
use multiflexi_core::model::{ActionState, App, ArtifactMeta, Job, JobAction};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A job in lists.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobSummaryView {
    /// Its id.
    pub id: i64,
    /// The template it runs.
    pub runtemplate_id: i64,
    /// The company.
    pub company_id: i64,
    /// The app.
    pub app_id: i64,
    /// Executor kind.
    pub executor: String,
    /// Where it is: `scheduled`, `queued`, `running`, `completed`, `preserved`.
    pub phase: String,
    /// `scheduled`, `queued`, `running`, or the outcome once finished.
    pub status: String,
    /// How it ended (`success`, `warning`, `failed`, `not_executable`, `not_found`, `timeout`,
    /// `cancelled`, `oom`, `lost`, `platform_error`).
    pub outcome: Option<String>,
    /// Exit code (128+N for signal N; -1 for lost / platform_error).
    pub exitcode: Option<i32>,
    /// What created it: `schedule`, `manual`, `api`, `cli`, `retry`, `chained` (a `launch` action).
    pub trigger: String,
    /// 0 for the first attempt.
    pub attempt: u32,
    /// The job this one retries.
    pub retry_of: Option<i64>,
    /// The schedule slot (scheduled jobs and their retries).
    pub slot: Option<DateTime<Utc>>,
    /// When it is due.
    pub after: DateTime<Utc>,
    /// Created (and scheduled).
    pub created: DateTime<Utc>,
    /// Started running.
    pub begin: Option<DateTime<Utc>>,
    /// Ended.
    pub end: Option<DateTime<Utc>>,
    /// Who asked for it.
    pub launched_by: Option<String>,
    /// Why the stored job cannot be read (its environment sealed with another master key);
    /// `null` for every readable job. Such a job is listed but never run.
    pub unreadable: Option<String>,
}

impl JobSummaryView {
    /// The summary of `j`.
    pub fn of(j: &Job) -> Self {
        Self {
            id: j.id.get(),
            runtemplate_id: j.runtemplate_id.get(),
            company_id: j.company_id.get(),
            app_id: j.app_id.get(),
            executor: j.executor.as_str().to_string(),
            phase: j.phase.as_str().to_string(),
            status: j.status().to_string(),
            outcome: j.outcome.map(|o| o.as_str().to_string()),
            exitcode: j.exitcode,
            trigger: j.trigger.as_str().to_string(),
            attempt: j.attempt,
            retry_of: j.retry_of.map(|r| r.get()),
            slot: j.slot,
            after: j.after,
            created: j.created,
            begin: j.begin,
            end: j.end,
            launched_by: j.launched_by.clone(),
            unreadable: j.unreadable.clone(),
        }
    }
}

/// A phase the job reached, and when.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PhaseStamp {
    /// `created`, `scheduled`, `queued`, `running`, `completed`, `preserved`.
    pub phase: String,
    /// When it entered the phase.
    pub at: DateTime<Utc>,
}

/// The exit code and its meaning: the standard class (ARCHITECTURE §9) and the app's own words.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExitView {
    /// The exit code.
    pub code: Option<i32>,
    /// Status word (the outcome).
    pub status: String,
    /// The standard meaning.
    pub meaning: String,
    /// Dashboard colour class (`bg-success`, `bg-warning`, `bg-danger`, `bg-primary`, `bg-info`,
    /// `bg-secondary`).
    pub colour: String,
    /// What the app's `exitCodes` say about this code.
    pub app_description: Option<String>,
    /// The app's severity for this code.
    pub app_severity: Option<String>,
    /// Whether a retry is worth it.
    pub retry_hint: bool,
}

/// A stored artifact (`GET /artifact/{id}` returns its bytes).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ArtifactView {
    /// Its id.
    pub id: i64,
    /// The job that produced it.
    pub job_id: i64,
    /// File name (`stdout.txt`, `stderr.txt` or a result file's).
    pub filename: String,
    /// MIME type.
    pub content_type: String,
    /// Size in bytes.
    pub size: u64,
    /// A note (e.g. truncated at the size cap).
    pub note: Option<String>,
    /// When it was stored.
    pub created: DateTime<Utc>,
    /// Where to download it.
    pub url: String,
}

impl ArtifactView {
    /// The view of `a`.
    pub fn of(a: &ArtifactMeta) -> Self {
        Self {
            id: a.id.get(),
            job_id: a.job_id.get(),
            filename: a.filename.clone(),
            content_type: a.content_type.clone(),
            size: a.size,
            note: a.note.clone(),
            created: a.created,
            url: format!("{}/artifact/{}", super::BASE_PATH, a.id),
        }
    }
}

/// A job with everything known about it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobView {
    /// The summary fields.
    #[serde(flatten)]
    pub summary: JobSummaryView,
    /// The phases it reached, in order, with their timestamps.
    pub phases: Vec<PhaseStamp>,
    /// The exit code and its meaning (finished jobs).
    pub exit: Option<ExitView>,
    /// The command line, secrets redacted.
    pub command: String,
    /// Container image.
    pub image: Option<String>,
    /// Seconds it may run.
    pub timeout: Option<u32>,
    /// Memory limit in MiB.
    pub memory_limit_mb: Option<u32>,
    /// Limit on processes and threads alive at once.
    pub pids_max: Option<u32>,
    /// CPU time in seconds before it is killed.
    pub cpu_seconds: Option<u32>,
    /// Linux capabilities its container keeps (all others dropped).
    pub capabilities: Vec<String>,
    /// Whether its container's root file system is read-only.
    pub read_only_root_fs: bool,
    /// Its `TZ`.
    pub timezone: String,
    /// The environment it runs with (frozen at creation), secret values `***`.
    pub env: BTreeMap<String, EnvVarView>,
    /// Process id (native).
    pub pid: Option<i64>,
    /// Container id or pod name.
    pub external_id: Option<String>,
    /// The executor holding (or that held) its lease.
    pub lease_owner: Option<String>,
    /// When the lease runs out.
    pub lease_expires: Option<DateTime<Utc>>,
    /// Whether cancellation was requested.
    pub cancel_requested: bool,
    /// The client's idempotency key.
    pub idempotency_key: Option<String>,
    /// Its artifacts.
    pub artifacts: Vec<ArtifactView>,
    /// Where to read its output (Server-Sent Events while it runs, text after).
    pub output_url: String,
    /// Its actions after completion (the template's `on_success` or `on_failure` when it
    /// completed) and how each went; their failures never change the job's outcome.
    pub actions: Vec<JobActionView>,
    /// What it used while it ran (finished jobs; all `null` before).
    pub usage: UsageView,
}

/// A finished job's resource usage, as its executor measured it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageView {
    /// Peak memory in bytes (the job's cgroup, or its process's peak RSS).
    pub peak_memory_bytes: Option<u64>,
    /// CPU time, user + system, in milliseconds.
    pub cpu_time_ms: Option<u64>,
    /// Whether it was killed for exceeding its memory limit.
    pub memory_limit_hit: Option<bool>,
    /// Why the figures are missing, when the executor could not tell.
    pub unknown_reason: Option<String>,
}

impl UsageView {
    /// The usage recorded on `j`.
    pub fn of(j: &Job) -> Self {
        Self {
            peak_memory_bytes: j.usage.peak_memory_bytes,
            cpu_time_ms: j.usage.cpu_time_ms,
            memory_limit_hit: j.usage.memory_limit_hit,
            unknown_reason: j.usage.unknown_reason.clone(),
        }
    }
}

/// One action after a job's completion and its state.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobActionView {
    /// Its position in the template's list.
    pub index: u32,
    /// `webhook`, `launch`, `retry_later`, `deactivate` or `zabbix`.
    pub kind: String,
    /// Its settings (a webhook secret `***`).
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// `pending`, `done` or `failed` (gave up).
    pub state: String,
    /// Attempts so far.
    pub attempts: u32,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// When it is tried next (pending ones).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When it reached done or failed.
    pub finished: Option<DateTime<Utc>>,
    /// The `X-MultiFlexi-Delivery` id (and the idempotency key of what it creates).
    pub delivery_id: String,
}

impl JobActionView {
    /// The view of `a`.
    pub fn of(a: &JobAction) -> Self {
        Self {
            index: a.idx,
            kind: a.action.kind().to_string(),
            settings: serde_json::to_value(a.action.redacted(super::env::REDACTED))
                .unwrap_or_default(),
            state: a.state.as_str().to_string(),
            attempts: a.attempts,
            last_error: a.last_error.clone(),
            next_attempt_at: (a.state == ActionState::Pending).then_some(a.next_attempt_at),
            finished: a.finished,
            delivery_id: a.delivery_id(),
        }
    }
}

impl JobView {
    /// The full view of `j` (its app gives the exit-code descriptions).
    pub fn of(j: &Job, app: Option<&App>, artifacts: &[ArtifactMeta]) -> Self {
        let mut phases = vec![
            PhaseStamp {
                phase: "created".into(),
                at: j.created,
            },
            PhaseStamp {
                phase: "scheduled".into(),
                at: j.created,
            },
        ];
        for (name, at) in [
            ("queued", j.queued),
            ("running", j.begin),
            ("completed", j.end),
            ("preserved", j.preserved),
        ] {
            if let Some(at) = at {
                phases.push(PhaseStamp {
                    phase: name.into(),
                    at,
                });
            }
        }
        let exit = j.outcome.map(|o| {
            let d = exit_code::describe(o, j.exitcode, app, "en");
            ExitView {
                code: j.exitcode,
                status: d.class.status.to_string(),
                meaning: d.class.meaning.to_string(),
                colour: d.class.colour.to_string(),
                app_description: d.app_description,
                app_severity: d.app_severity,
                retry_hint: d.retry_hint,
            }
        });
        Self {
            summary: JobSummaryView::of(j),
            phases,
            exit,
            command: j.command.clone(),
            image: j.spec.image.clone(),
            timeout: j.spec.timeout,
            memory_limit_mb: j.spec.memory_limit_mb,
            pids_max: j.spec.pids_max,
            cpu_seconds: j.spec.cpu_seconds,
            capabilities: j.spec.container.capabilities.clone(),
            read_only_root_fs: j.spec.container.read_only_root_fs,
            timezone: j.spec.timezone.clone(),
            env: env_view(&j.spec.env),
            pid: j.pid,
            external_id: j.external_id.clone(),
            lease_owner: j.lease_owner.clone(),
            lease_expires: j.lease_expires,
            cancel_requested: j.cancel_requested,
            idempotency_key: j.idempotency_key.clone(),
            artifacts: artifacts.iter().map(ArtifactView::of).collect(),
            output_url: format!("{}/job/{}/output", super::BASE_PATH, j.id),
            actions: Vec::new(),
            usage: UsageView::of(j),
        }
    }
}
