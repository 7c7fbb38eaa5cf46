use crate::environment::{EnvSources, prepare_spec};
use crate::ids::{JobId, RunTemplateId};
use crate::lifecycle::{Phase, Trigger};
use crate::model::{Environment, ExecutorKind, Job, NewJob, ScheduleCas};
use crate::store::{Store, TokenScope};
use crate::telemetry::{PhaseEvent, Telemetry};
use crate::tenancy::{EnvLayer, check_env_names, check_executor_choice};
use crate::{Clock, Error, Result};
use chrono::{DateTime, Utc};

/// A request to create (and schedule) one job of a run template.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobRequest {
    /// The template.
    pub runtemplate_id: RunTemplateId,
    /// What asks for it.
    pub trigger: Trigger,
    /// One-off environment overrides (highest precedence).
    pub env: Environment,
    /// Run on another executor than the template's.
    pub executor: Option<ExecutorKind>,
    /// When it becomes due (default: now; for scheduled jobs: slot + delay).
    pub after: Option<DateTime<Utc>>,
    /// The schedule slot (trigger `schedule` only).
    pub slot: Option<DateTime<Utc>>,
    /// Compare-and-swap on the template's `next_schedule` (trigger `schedule` only).
    pub cas: Option<ScheduleCas>,
    /// Client key making the request idempotent.
    pub idempotency_key: Option<String>,
    /// Who asks.
    pub launched_by: Option<String>,
    /// W3C `traceparent` of the caller's span (an API request); a new trace when absent.
    pub trace_context: Option<String>,
    /// Who asks, for [`crate::tenancy`]'s rules: the operator (the default: the CLI, the
    /// scheduler, an admin token) or a company token, which may not choose the executor and
    /// may set only the app's and its credentials' fields in `env`.
    pub scope: TokenScope,
}

impl JobRequest {
    /// An ad-hoc job of `runtemplate_id`, due now.
    pub fn ad_hoc(runtemplate_id: RunTemplateId, trigger: Trigger) -> Self {
        Self {
            runtemplate_id,
            trigger,
            env: Environment::new(),
            executor: None,
            after: None,
            slot: None,
            cas: None,
            idempotency_key: None,
            launched_by: None,
            trace_context: None,
            scope: TokenScope::Admin,
        }
    }

    /// Builder: one-off environment overrides.
    pub fn with_env(mut self, env: Environment) -> Self {
        self.env = env;
        self
    }

    /// Builder: who asks.
    pub fn launched_by(mut self, who: impl Into<String>) -> Self {
        self.launched_by = Some(who.into());
        self
    }

    /// Builder: who asks (see [`JobRequest::scope`]).
    pub fn for_scope(mut self, scope: TokenScope) -> Self {
        self.scope = scope;
        self
    }

    /// Builder: idempotency key.
    pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
}

/// Creates and schedules a job: loads the template with its app, company and credentials,
/// assembles the environment and command (frozen into the job), and writes the job and its
/// schedule row in one store transaction. Emits the Created and Scheduled events.
///
/// An ad-hoc job of an inactive template is refused with Conflict; a missing required field or
/// an app without the image its executor needs is InvalidInput.
pub async fn create_job(
    store: &dyn Store,
    clock: &dyn Clock,
    telemetry: &dyn Telemetry,
    request: JobRequest,
) -> Result<Job> {
    Ok(create_job_or_replay(store, clock, telemetry, request)
        .await?
        .job)
}

/// A job [`create_job_or_replay`] returned, and whether it was created earlier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedJob {
    /// The job.
    pub job: Job,
    /// True when the request's idempotency key had been used before: `job` is the job that
    /// first use created (possibly of another template), nothing new was written.
    pub replayed: bool,
}

/// [`create_job`], telling a new job from the replay of an idempotency key.
pub async fn create_job_or_replay(
    store: &dyn Store,
    clock: &dyn Clock,
    telemetry: &dyn Telemetry,
    request: JobRequest,
) -> Result<CreatedJob> {
    let prepared = prepare_job(store, clock, request).await?;
    let job = store.create_and_schedule(&prepared.new).await?;
    Ok(prepared.written(telemetry, job))
}

/// [`create_job_or_replay`] for many requests at once: each is prepared on its own, then every
/// prepared job is written by one set-wise [`JobQueue::create_many`](crate::store::JobQueue::create_many)
/// (one transaction). One result per request, in order; a request refused while prepared or
/// while written fails alone. The outer error is the store's (nothing was written).
pub async fn create_jobs(
    store: &dyn Store,
    clock: &dyn Clock,
    telemetry: &dyn Telemetry,
    requests: Vec<JobRequest>,
) -> Result<Vec<Result<CreatedJob>>> {
    let mut prepared = Vec::with_capacity(requests.len());
    for request in requests {
        prepared.push(prepare_job(store, clock, request).await);
    }
    let news: Vec<NewJob> = prepared
        .iter()
        .filter_map(|p| p.as_ref().ok().map(|p| p.new.clone()))
        .collect();
    let mut written = store.create_many(&news).await?.into_iter();
    Ok(prepared
        .into_iter()
        .map(|p| {
            let p = p?;
            let job = written.next().ok_or_else(|| {
                Error::backend("store", false, "create_many returned too few results")
            })??;
            Ok(p.written(telemetry, job))
        })
        .collect())
}

/// A job a request asks for, ready to be written: the template loaded with its app, company
/// and credentials, the checks of [`create_job`] passed, environment and command assembled.
struct PreparedJob {
    new: NewJob,
    /// When it was prepared (the clock's now).
    now: DateTime<Utc>,
    /// Whether the caller sent a trace context (else `new` carries a fresh random one).
    caller_trace: bool,
}

impl PreparedJob {
    /// The job the store returned for it: emits Created and Scheduled unless the request's
    /// idempotency key had been used before.
    fn written(self, telemetry: &dyn Telemetry, job: Job) -> CreatedJob {
        // An idempotent replay returns the first job, created earlier: no new phase change. A
        // fresh trace context is random, so a job carrying another one was not written now
        // (this does not depend on the store's clock agreeing with ours).
        let replayed = self.new.idempotency_key.is_some()
            && if self.caller_trace {
                job.created < self.now
            } else {
                job.trace_context != self.new.trace_context
            };
        if !replayed {
            emit_created(telemetry, &job);
        }
        CreatedJob { job, replayed }
    }
}

async fn prepare_job(
    store: &dyn Store,
    clock: &dyn Clock,
    request: JobRequest,
) -> Result<PreparedJob> {
    let mut template = store.get_runtemplate(request.runtemplate_id).await?;
    if !template.active && request.slot.is_none() {
        return Err(Error::conflict(format!(
            "run template {} ({}) is inactive; activate it before running it",
            template.id, template.name
        )));
    }
    check_executor_choice(
        request.scope,
        "executor",
        template.executor,
        request.executor,
    )?;
    if let Some(executor) = request.executor {
        template.executor = executor;
    }
    let app = store.get_app(template.app_id).await?;
    let company = store.get_company(template.company_id).await?;
    let mut credentials = Vec::with_capacity(template.credentials.len());
    for id in &template.credentials {
        credentials.push(store.get_credential(*id).await?);
    }
    let credential_fields: Vec<String> = credentials
        .iter()
        .flat_map(|c| c.fields.iter().map(|f| f.name.clone()))
        .collect();
    check_env_names(
        request.scope,
        &app,
        &credential_fields,
        EnvLayer::OneOff,
        "env",
        request.env.iter().map(|(k, _)| k),
    )?;
    let prepared = prepare_spec(&EnvSources::new(
        &app,
        &company,
        &credentials,
        &template,
        &request.env,
    ))?;
    for warning in &prepared.warnings {
        tracing::warn!(runtemplate_id = template.id.get(), "{warning}");
    }
    let now = clock.now();
    let mut new = NewJob::new(
        template.id,
        template.company_id,
        template.app_id,
        template.executor,
        prepared.spec,
        request.trigger,
        request.after.unwrap_or(now),
    );
    new.slot = request.slot;
    new.cas = request.cas;
    new.idempotency_key = request.idempotency_key;
    new.launched_by = request.launched_by;
    let caller_trace = request.trace_context.is_some();
    new.trace_context = Some(
        request
            .trace_context
            .unwrap_or_else(crate::telemetry::new_trace_context),
    );
    Ok(PreparedJob {
        new,
        now,
        caller_trace,
    })
}

/// A manual copy of a finished job (`job:retry`, `POST /job/{id}/retry`): the same frozen
/// command, environment and executor, trigger `manual`, `retry_of` the old job, due now. It is
/// not counted against the template's `max_retries`.
///
/// Conflict when the job is not finished yet or its template is inactive; NotFound when either
/// is unknown.
pub async fn copy_finished_job(
    store: &dyn Store,
    clock: &dyn Clock,
    telemetry: &dyn Telemetry,
    id: JobId,
    launched_by: &str,
) -> Result<Job> {
    let old = store.get_job(id).await?;
    if let Some(why) = &old.unreadable {
        // Its frozen environment cannot be read here: a copy would run without it.
        return Err(Error::conflict(format!("job {id} cannot be copied: {why}")));
    }
    if !old.phase.is_finished() {
        return Err(Error::conflict(format!(
            "job {id} is {}, not finished; only finished jobs can be retried (cancel it first)",
            old.phase
        )));
    }
    let template = store.get_runtemplate(old.runtemplate_id).await?;
    if !template.active {
        return Err(Error::conflict(format!(
            "run template {} ({}) is inactive; activate it before running it",
            template.id, template.name
        )));
    }
    let mut new = NewJob::new(
        old.runtemplate_id,
        old.company_id,
        old.app_id,
        old.executor,
        old.spec.clone(),
        Trigger::Manual,
        clock.now(),
    );
    new.retry_of = Some(old.id);
    new.launched_by = Some(launched_by.to_string());
    new.trace_context = Some(crate::telemetry::new_trace_context());
    let job = store.create_and_schedule(&new).await?;
    emit_created(telemetry, &job);
    Ok(job)
}

/// Emits Created then Scheduled for a job that was just created and scheduled in one step.
pub(crate) fn emit_created(telemetry: &dyn Telemetry, job: &Job) {
    let mut created = PhaseEvent::of(job, job.created);
    created.phase = Phase::Created;
    telemetry.event(&created);
    telemetry.event(&PhaseEvent::of(job, job.created));
}
