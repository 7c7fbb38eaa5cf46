//! Jobs: create (idempotent with a key), cancel, retry.
//!
//! A job is made by the engine's job factory with this layer's telemetry, so a job emits its
//! Created and Scheduled events whoever asked for it. The tenant rules (a company token may not
//! choose the executor and may set only the app's and its credentials' fields in a one-off
//! environment; loader variables are refused for everyone) are
//! [`multiflexi_core::tenancy`]'s, applied by the factory with the caller's scope. Another
//! company's template or job does not exist for a company token.

use super::audit::Action;
use super::scheduled::{parse_scheduled, wall_timezone};
use super::variables::{Variable, check_variable};
use super::{Caller, UseCases};
use chrono::{DateTime, Utc};
use multiflexi_core::engine::{CreatedJob, JobRequest, copy_finished_job, create_job_or_replay};
use multiflexi_core::model::{Environment, ExecutorKind, Job};
use multiflexi_core::store::CancelResult;
use multiflexi_core::{AppId, Error, JobId, Result, RunTemplateId, Trigger};

/// Longest idempotency key accepted.
pub const MAX_KEY_LEN: usize = 200;

/// The start of the Conflict a reused idempotency key gets.
const KEY_REUSED: &str = "this idempotency key was already used for another request";

/// An order to run a template once.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct JobOrder {
    /// The run template.
    pub template: RunTemplateId,
    /// What asks for it (`cli`, `api`, `manual`).
    pub trigger: Trigger,
    /// One-off environment overrides (highest precedence).
    pub env: Vec<Variable>,
    /// Run on another executor than the template's (the operator's choice only).
    pub executor: Option<String>,
    /// When it becomes due (default now).
    pub after: Option<DateTime<Utc>>,
    /// When it becomes due, as a caller wrote it (`now`, RFC 3339, `Y-m-d H:i:s` in
    /// `MULTIFLEXI_TIMEZONE`); used when `after` is not given.
    pub scheduled: Option<String>,
    /// A key that makes the order idempotent: the same key again returns the first job.
    pub idempotency_key: Option<String>,
    /// Whose keys these are (`api:<token id>`): the same key from two namespaces makes two jobs.
    pub idempotency_namespace: Option<String>,
    /// W3C `traceparent` the job's spans continue.
    pub trace_context: Option<String>,
    /// The app the caller expects the template to run (upstream's `--app_id`): another is
    /// refused.
    pub app: Option<AppId>,
}

impl JobOrder {
    /// A job of `template`, due now, asked for by `trigger`, nothing overridden.
    pub fn new(template: RunTemplateId, trigger: Trigger) -> JobOrder {
        JobOrder {
            template,
            trigger,
            env: Vec::new(),
            executor: None,
            after: None,
            scheduled: None,
            idempotency_key: None,
            idempotency_namespace: None,
            trace_context: None,
            app: None,
        }
    }
}

/// The idempotency key rule: trimmed, not empty, at most [`MAX_KEY_LEN`] characters, no control
/// character.
pub fn check_idempotency_key(key: &str) -> Result<&str> {
    let k = key.trim();
    let why = if k.is_empty() {
        "it is empty; give any non-empty text".to_string()
    } else if k.chars().count() > MAX_KEY_LEN {
        format!("it is longer than {MAX_KEY_LEN} characters")
    } else if k.chars().any(char::is_control) {
        "it holds a control character; use printable text".to_string()
    } else {
        return Ok(k);
    };
    Err(Error::invalid("idempotency_key", why))
}

/// Whether `e` is the refusal of an idempotency key used before for another request.
pub fn is_reused_key(e: &Error) -> bool {
    matches!(e, Error::Conflict { message } if message.starts_with(KEY_REUSED))
}

impl UseCases {
    /// A job the caller may see (another company's is NotFound).
    pub(crate) async fn visible_job(&self, caller: &Caller, id: JobId) -> Result<Job> {
        let job = self.store.get_job(id).await?;
        caller.check_sees(job.company_id, "job", id)?;
        Ok(job)
    }

    /// Creates and schedules a job of a template. With an idempotency key, the same key again
    /// returns the first job (`replayed`); the key used for another template is Conflict.
    pub async fn create_job(&self, caller: &Caller, order: JobOrder) -> Result<CreatedJob> {
        let key = order
            .idempotency_key
            .as_deref()
            .map(check_idempotency_key)
            .transpose()?;
        let after = match (order.after, order.scheduled.as_deref()) {
            (Some(at), _) => Some(at),
            (None, Some(text)) => Some(parse_scheduled(text, wall_timezone()?, self.clock.now())?),
            (None, None) => None,
        };
        let template = self.store.get_runtemplate(order.template).await?;
        caller.check_sees(template.company_id, "runtemplate", order.template)?;
        if let Some(app) = order.app.filter(|a| *a != template.app_id) {
            return Err(Error::invalid(
                "app_id",
                format!(
                    "run template {} runs app {}, not app {app}; leave --app_id out or give {}",
                    template.id, template.app_id, template.app_id
                ),
            ));
        }
        let executor = order
            .executor
            .as_deref()
            .map(|e| {
                e.trim().parse::<ExecutorKind>().map_err(|e| match e {
                    Error::InvalidInput { message, .. } => Error::invalid("executor", message),
                    e => e,
                })
            })
            .transpose()?;
        let app = self.store.get_app(template.app_id).await?;
        let mut env = Environment::new();
        for v in &order.env {
            check_variable("env", &v.name, &v.value)?;
            if v.secret || app.config_is_secret(&v.name) {
                env.set_secret(v.name.clone(), v.value.clone());
            } else {
                env.set(v.name.clone(), v.value.clone());
            }
        }
        let names: Vec<String> = env.iter().map(|(k, _)| k.to_string()).collect();
        let mut request = JobRequest::ad_hoc(template.id, order.trigger)
            .with_env(env)
            .launched_by(caller.actor.clone())
            .for_scope(caller.scope);
        request.executor = executor;
        request.after = after;
        request.trace_context = order.trace_context;
        if let Some(k) = key {
            request = request.with_idempotency_key(match &order.idempotency_namespace {
                Some(ns) => format!("{ns}:{k}"),
                None => k.to_string(),
            });
        }
        let created =
            create_job_or_replay(&*self.store, &*self.clock, &*self.telemetry, request).await?;
        if created.replayed {
            if created.job.runtemplate_id != template.id {
                return Err(Error::conflict(format!(
                    "{KEY_REUSED} (a job of run template {}); use a new key",
                    created.job.runtemplate_id
                )));
            }
            return Ok(created);
        }
        let job = &created.job;
        self.audit(
            caller,
            Some(job.id),
            Action::JobCreate,
            format!(
                "job {} of run template {} (trigger {}, executor {}{})",
                job.id,
                job.runtemplate_id,
                job.trigger,
                job.executor,
                if names.is_empty() {
                    String::new()
                } else {
                    format!("; one-off environment: {}", names.join(", "))
                }
            ),
        )
        .await;
        Ok(created)
    }

    /// Cancels a job: at once when it has not started, else its executor is asked to stop it;
    /// a finished job is left alone.
    pub async fn cancel_job(&self, caller: &Caller, id: JobId) -> Result<CancelResult> {
        self.visible_job(caller, id).await?;
        let result = self.store.request_cancel(id, &caller.actor).await?;
        // The store audits a request to a queued or running job itself ("job:cancel"); a job
        // cancelled before it started only gets its phase row, so the action is named here.
        if let CancelResult::Cancelled(j) = &result {
            self.audit(
                caller,
                Some(j.id),
                Action::JobCancel,
                format!("job {} cancelled before it started", j.id),
            )
            .await;
        }
        Ok(result)
    }

    /// Runs a finished job again: a copy with the same frozen command and environment (trigger
    /// `manual`, `retry_of` the old job). Conflict while it is not finished or its template is
    /// inactive.
    pub async fn retry_job(&self, caller: &Caller, id: JobId) -> Result<Job> {
        self.visible_job(caller, id).await?;
        let job = copy_finished_job(
            &*self.store,
            &*self.clock,
            &*self.telemetry,
            id,
            &caller.actor,
        )
        .await?;
        self.audit(
            caller,
            Some(job.id),
            Action::JobRetry,
            format!("job {} retries job {id}", job.id),
        )
        .await;
        Ok(job)
    }
}
