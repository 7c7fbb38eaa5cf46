//! Rows ↔ core model.

use crate::crypto::Keyring;
use crate::entity::{apps, job, ts, ts_opt, utc, utc_opt};
use multiflexi_core::lifecycle::{Outcome, Phase, RetryBackoff, RetryPolicy, Trigger};
use multiflexi_core::model::{
    App, CatchupPolicy, ConcurrencyPolicy, Environment, ExecutorKind, Job, JobSpec, LocalizedText,
    ResourceUsage, RunTemplate,
};
use multiflexi_core::schedule::IntervalCode;
use multiflexi_core::{AppId, CompanyId, Error, JobId, Result, RunTemplateId};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Associated data of the sealed job blob.
pub(crate) const JOB_ENV_CONTEXT: &str = "job.env";

pub(crate) fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("model values serialise")
}

pub(crate) fn from_json<T: DeserializeOwned>(what: &str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| {
        Error::backend(
            "sql",
            false,
            format!("stored {what} is not valid JSON for its type: {e}"),
        )
    })
}

fn parse<T: std::str::FromStr<Err = Error>>(what: &str, s: &str) -> Result<T> {
    s.parse::<T>()
        .map_err(|e| Error::backend("sql", false, format!("stored {what} {s:?} is invalid: {e}")))
}

fn u32_of(what: &str, v: i64) -> Result<u32> {
    u32::try_from(v)
        .map_err(|_| Error::backend("sql", false, format!("stored {what} {v} is out of range")))
}

/// The secret part of a job spec, sealed as one blob.
#[derive(Serialize, Deserialize)]
pub(crate) struct SealedSpec {
    pub env: Environment,
    pub args: Vec<String>,
}

pub(crate) fn seal_spec(keys: &Keyring, spec: &JobSpec) -> Result<Vec<u8>> {
    let plain = serde_json::to_vec(&SealedSpec {
        env: spec.env.clone(),
        args: spec.args.clone(),
    })
    .expect("specs serialise");
    let has_secrets = spec.env.0.values().any(|v| v.secret);
    Ok(keys.seal_job(JOB_ENV_CONTEXT, &plain, has_secrets)?)
}

// ------------------------------------------------------------------ apps

pub(crate) fn app_to_model(app: &App) -> apps::Model {
    apps::Model {
        id: app.id.0,
        uuid: app.uuid.clone(),
        name: app.name.text().to_string(),
        name_i18n: to_json(&app.name),
        description: to_json(&app.description),
        version: app.version.clone(),
        executable: app.executable.clone(),
        cmdparams: app.cmdparams.clone(),
        ociimage: app.ociimage.clone(),
        setup: app.setup.clone(),
        homepage: app.homepage.clone(),
        tags: to_json(&app.tags),
        requirements: to_json(&app.requirements),
        environment: to_json(&app.environment),
        artifacts: to_json(&app.artifacts),
        exit_codes: to_json(&app.exit_codes),
        enabled: app.enabled,
        container: to_json(&app.container),
        created: ts_opt(app.created),
        updated: ts_opt(app.updated),
    }
}

pub(crate) fn app_from_model(m: apps::Model) -> Result<App> {
    let name: LocalizedText = from_json("app name", &m.name_i18n)?;
    let mut app = App::new("", m.executable);
    app.id = AppId(m.id);
    app.uuid = m.uuid;
    app.name = name;
    app.description = from_json("app description", &m.description)?;
    app.version = m.version;
    app.cmdparams = m.cmdparams;
    app.ociimage = m.ociimage;
    app.setup = m.setup;
    app.homepage = m.homepage;
    app.tags = from_json("app tags", &m.tags)?;
    app.requirements = from_json("app requirements", &m.requirements)?;
    app.environment = from_json("app environment", &m.environment)?;
    app.artifacts = from_json("app artifacts", &m.artifacts)?;
    app.exit_codes = from_json("app exit codes", &m.exit_codes)?;
    app.enabled = m.enabled;
    app.container = from_json("app container security", &m.container)?;
    app.created = utc_opt(m.created);
    app.updated = utc_opt(m.updated);
    Ok(app)
}

// ------------------------------------------------------------------ runtemplate

pub(crate) fn template_from_model(
    m: crate::entity::runtemplate::Model,
    config: Environment,
    credentials: Vec<multiflexi_core::CredentialId>,
) -> Result<RunTemplate> {
    let mut t = RunTemplate::new(AppId(m.app_id), CompanyId(m.company_id), m.name);
    t.id = RunTemplateId(m.id);
    t.interv = parse::<IntervalCode>("interv", &m.interv)?;
    t.cron = m.cron;
    t.timezone = m.timezone;
    t.delay = u32_of("delay", m.delay)?;
    t.executor = parse::<ExecutorKind>("executor", &m.executor)?;
    t.active = m.active;
    t.next_schedule = utc_opt(m.next_schedule);
    t.last_schedule = utc_opt(m.last_schedule);
    t.successfull_jobs_count = m.successfull_jobs_count.max(0) as u64;
    t.failed_jobs_count = m.failed_jobs_count.max(0) as u64;
    t.config = config;
    t.credentials = credentials;
    let mut retry = RetryPolicy::new(
        u32_of("max_retries", m.max_retries)?,
        u32_of("retry_delay", m.retry_delay)?,
    );
    retry.retry_backoff = parse::<RetryBackoff>("retry_backoff", &m.retry_backoff)?;
    retry.retry_on_exit_codes = from_json("retry_on_exit_codes", &m.retry_on_exit_codes)?;
    t.retry = retry;
    t.timeout = m.timeout.map(|v| u32_of("timeout", v)).transpose()?;
    t.memory_limit_mb = m
        .memory_limit_mb
        .map(|v| u32_of("memory_limit_mb", v))
        .transpose()?;
    t.pids_max = m.pids_max.map(|v| u32_of("pids_max", v)).transpose()?;
    t.cpu_seconds = m
        .cpu_seconds
        .map(|v| u32_of("cpu_seconds", v))
        .transpose()?;
    t.concurrency_policy = parse::<ConcurrencyPolicy>("concurrency_policy", &m.concurrency_policy)?;
    t.catchup = parse::<CatchupPolicy>("catchup", &m.catchup)?;
    t.created = utc_opt(m.created);
    t.updated = utc_opt(m.updated);
    // Webhook secrets stay sealed here; the catalog opens them (SqlStore::open_actions).
    t.on_success = match &m.on_success {
        Some(j) => from_json("on_success", j)?,
        None => Vec::new(),
    };
    t.on_failure = match &m.on_failure {
        Some(j) => from_json("on_failure", j)?,
        None => Vec::new(),
    };
    Ok(t)
}

// ------------------------------------------------------------------ job

/// Everything of a [`Job`], serialised field by field: `Job` is `#[non_exhaustive]` and has no
/// public constructor, so it is built through its `Deserialize` impl.
#[derive(Serialize)]
struct JobFields<'a> {
    id: JobId,
    runtemplate_id: RunTemplateId,
    company_id: CompanyId,
    app_id: AppId,
    executor: ExecutorKind,
    spec: &'a JobSpec,
    command: &'a str,
    launched_by: &'a Option<String>,
    phase: Phase,
    outcome: Option<Outcome>,
    trigger: Trigger,
    slot: Option<chrono::DateTime<chrono::Utc>>,
    attempt: u32,
    retry_of: Option<JobId>,
    after: chrono::DateTime<chrono::Utc>,
    exitcode: Option<i32>,
    pid: Option<i64>,
    external_id: &'a Option<String>,
    lease_owner: &'a Option<String>,
    lease_expires: Option<chrono::DateTime<chrono::Utc>>,
    lease_token: i64,
    cancel_requested: bool,
    idempotency_key: &'a Option<String>,
    trace_context: &'a Option<String>,
    stdout: &'a str,
    stderr: &'a str,
    created: chrono::DateTime<chrono::Utc>,
    queued: Option<chrono::DateTime<chrono::Utc>>,
    begin: Option<chrono::DateTime<chrono::Utc>>,
    end: Option<chrono::DateTime<chrono::Utc>>,
    preserved: Option<chrono::DateTime<chrono::Utc>>,
    launch_failures: u32,
    unreadable: Option<String>,
    usage: ResourceUsage,
}

/// The row of a job about to be inserted (its id assigned by the database): every column from
/// the job, the environment and argv sealed.
pub(crate) fn job_to_active_model(keys: &Keyring, job: &Job) -> Result<job::ActiveModel> {
    use sea_orm::ActiveValue::{NotSet, Set};
    let spec = &job.spec;
    Ok(job::ActiveModel {
        id: NotSet,
        runtemplate_id: Set(job.runtemplate_id.0),
        company_id: Set(job.company_id.0),
        app_id: Set(job.app_id.0),
        executor: Set(job.executor.as_str().to_string()),
        program: Set(spec.program.clone()),
        image: Set(spec.image.clone()),
        timeout: Set(spec.timeout.map(i64::from)),
        memory_limit_mb: Set(spec.memory_limit_mb.map(i64::from)),
        artifact_patterns: Set(to_json(&spec.artifacts)),
        timezone: Set(spec.timezone.clone()),
        env: Set(seal_spec(keys, spec)?),
        command: Set(job.command.clone()),
        launched_by: Set(job.launched_by.clone()),
        phase: Set(job.phase.as_str().to_string()),
        status: Set(job.phase.as_str().to_string()),
        outcome: Set(job.outcome.map(|o| o.as_str().to_string())),
        trigger: Set(job.trigger.as_str().to_string()),
        slot: Set(ts_opt(job.slot)),
        attempt: Set(i64::from(job.attempt)),
        retry_of: Set(job.retry_of.map(|j| j.0)),
        after: Set(ts(job.after)),
        exitcode: Set(job.exitcode.map(i64::from)),
        pid: Set(job.pid),
        external_id: Set(job.external_id.clone()),
        lease_owner: Set(job.lease_owner.clone()),
        lease_expires: Set(ts_opt(job.lease_expires)),
        lease_token: Set(job.lease_token),
        cancel_requested: Set(job.cancel_requested),
        idempotency_key: Set(job.idempotency_key.clone()),
        trace_context: Set(job.trace_context.clone()),
        stdout: Set(job.stdout.clone()),
        stderr: Set(job.stderr.clone()),
        created: Set(ts(job.created)),
        scheduled: Set(Some(ts(job.created))),
        queued: Set(ts_opt(job.queued)),
        begin: Set(ts_opt(job.begin)),
        end: Set(ts_opt(job.end)),
        preserved: Set(ts_opt(job.preserved)),
        launch_failures: Set(i32::try_from(job.launch_failures).unwrap_or(i32::MAX)),
        pids_max: Set(spec.pids_max.map(i64::from)),
        cpu_seconds: Set(spec.cpu_seconds.map(i64::from)),
        container: Set(to_json(&spec.container)),
        peak_memory_bytes: Set(job.usage.peak_memory_bytes.map(i64_of)),
        cpu_time_ms: Set(job.usage.cpu_time_ms.map(i64_of)),
        memory_limit_hit: Set(job.usage.memory_limit_hit),
        usage_note: Set(job.usage.unknown_reason.clone()),
    })
}

/// A byte count or duration as the signed column it is stored in (saturating).
pub(crate) fn i64_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A job's resource usage as its row stores it.
pub(crate) fn usage_of(m: &job::Model) -> ResourceUsage {
    let mut usage = ResourceUsage::default();
    usage.peak_memory_bytes = m.peak_memory_bytes.and_then(|n| u64::try_from(n).ok());
    usage.cpu_time_ms = m.cpu_time_ms.and_then(|n| u64::try_from(n).ok());
    usage.memory_limit_hit = m.memory_limit_hit;
    usage.unknown_reason = m.usage_note.clone();
    usage
}

/// The job of a row. A row whose spec cannot be read back (its environment sealed with a key
/// this process does not have, or altered) is still a job: `unreadable` says why and its spec
/// holds only the plain columns — it is listed, never run.
pub(crate) fn job_from_model(keys: &Keyring, m: &job::Model) -> Result<Job> {
    let (spec, unreadable) = match spec_from_model(keys, m) {
        Ok(spec) => (spec, None),
        Err(why) => {
            let mut spec = JobSpec::new(m.program.clone(), Vec::new());
            spec.image = m.image.clone();
            spec.timezone = m.timezone.clone();
            (spec, Some(why))
        }
    };
    job_with_spec(m, &spec, unreadable)
}

/// The frozen spec of a row (environment and argv opened), or why it cannot be read.
fn spec_from_model(keys: &Keyring, m: &job::Model) -> std::result::Result<JobSpec, String> {
    let what = format!("the environment of job {}", m.id);
    let plain = keys
        .open_job(JOB_ENV_CONTEXT, &m.env)
        .map_err(|e| match e {
            crate::crypto::SecretError::UnknownKey {
                key_id, configured, ..
            } => crate::crypto::SecretError::UnknownKey {
                what: what.clone(),
                key_id,
                configured,
            },
            crate::crypto::SecretError::Decrypt(_) => {
                crate::crypto::SecretError::Decrypt(what.clone())
            }
            other => other,
        })
        .map_err(|e| e.to_string())?;
    let sealed: SealedSpec =
        serde_json::from_slice(&plain).map_err(|e| format!("{what} is not valid: {e}"))?;
    let mut spec = JobSpec::new(m.program.clone(), sealed.args);
    spec.env = sealed.env;
    spec.image = m.image.clone();
    let plain_err = |e: Error| format!("job {}: {e}", m.id);
    spec.timeout = m
        .timeout
        .map(|v| u32_of("timeout", v))
        .transpose()
        .map_err(plain_err)?;
    spec.memory_limit_mb = m
        .memory_limit_mb
        .map(|v| u32_of("memory_limit_mb", v))
        .transpose()
        .map_err(plain_err)?;
    spec.pids_max = m
        .pids_max
        .map(|v| u32_of("pids_max", v))
        .transpose()
        .map_err(plain_err)?;
    spec.cpu_seconds = m
        .cpu_seconds
        .map(|v| u32_of("cpu_seconds", v))
        .transpose()
        .map_err(plain_err)?;
    spec.container = from_json("job container security", &m.container).map_err(plain_err)?;
    spec.artifacts = from_json("job artifact patterns", &m.artifact_patterns).map_err(plain_err)?;
    spec.timezone = m.timezone.clone();
    Ok(spec)
}

/// The job of a row with its spec already read.
fn job_with_spec(m: &job::Model, spec: &JobSpec, unreadable: Option<String>) -> Result<Job> {
    let fields = JobFields {
        id: JobId(m.id),
        runtemplate_id: RunTemplateId(m.runtemplate_id),
        company_id: CompanyId(m.company_id),
        app_id: AppId(m.app_id),
        executor: parse("executor", &m.executor)?,
        spec,
        command: &m.command,
        launched_by: &m.launched_by,
        phase: parse("phase", &m.phase)?,
        outcome: m
            .outcome
            .as_deref()
            .map(|o| parse("outcome", o))
            .transpose()?,
        trigger: parse("trigger", &m.trigger)?,
        slot: utc_opt(m.slot),
        attempt: u32_of("attempt", m.attempt)?,
        retry_of: m.retry_of.map(JobId),
        after: utc(m.after),
        exitcode: m
            .exitcode
            .map(|c| {
                i32::try_from(c).map_err(|_| {
                    Error::backend("sql", false, format!("stored exitcode {c} is out of range"))
                })
            })
            .transpose()?,
        pid: m.pid,
        external_id: &m.external_id,
        lease_owner: &m.lease_owner,
        lease_expires: utc_opt(m.lease_expires),
        lease_token: m.lease_token,
        cancel_requested: m.cancel_requested,
        idempotency_key: &m.idempotency_key,
        trace_context: &m.trace_context,
        stdout: &m.stdout,
        stderr: &m.stderr,
        created: utc(m.created),
        queued: utc_opt(m.queued),
        begin: utc_opt(m.begin),
        end: utc_opt(m.end),
        preserved: utc_opt(m.preserved),
        launch_failures: u32::try_from(m.launch_failures).unwrap_or(0),
        unreadable,
        usage: usage_of(m),
    };
    let value = serde_json::to_value(&fields).expect("job fields serialise");
    serde_json::from_value(value)
        .map_err(|e| Error::backend("sql", false, format!("job {} cannot be read: {e}", m.id)))
}
