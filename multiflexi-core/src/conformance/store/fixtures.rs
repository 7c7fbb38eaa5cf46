//! Shared set-up and assertions of the store cases.

use super::{StoreHarness, start_instant};
use crate::lifecycle::{Outcome, Phase, RetryPolicy, Trigger};
use crate::model::{
    App, Company, Environment, ExecutorKind, Job, JobSpec, NewJob, RunTemplate, ScheduleCas,
};
use crate::schedule::IntervalCode;
use crate::store::{Begin, ClaimOptions, Completed, Completion, LeaseRef};
use crate::{Error, Result};
use chrono::{DateTime, Duration, Utc};
use std::fmt::Debug;

/// One app, one company and one template of theirs, as stored.
#[derive(Debug, Clone)]
pub(crate) struct Fx {
    pub app: App,
    pub company: Company,
    pub template: RunTemplate,
}

/// Sets the clock to the start instant and returns it.
pub(crate) fn start(h: &StoreHarness) -> DateTime<Utc> {
    h.clock.set(start_instant());
    start_instant()
}

/// The clock's current instant.
pub(crate) fn now(h: &StoreHarness) -> DateTime<Utc> {
    crate::Clock::now(h.clock.as_ref())
}

/// Moves the clock forward and returns the new instant.
pub(crate) fn advance(h: &StoreHarness, by: Duration) -> DateTime<Utc> {
    h.clock.advance(by);
    now(h)
}

pub(crate) fn secs(s: i64) -> Duration {
    Duration::seconds(s)
}

pub(crate) fn micros(us: i64) -> Duration {
    Duration::microseconds(us)
}

/// Stores an app and a company named `name` (slug `name` lower-cased, suffixed to stay unique)
/// and a minutely UTC template of theirs, changed by `f` before it is stored.
pub(crate) async fn seed(
    h: &StoreHarness,
    name: &str,
    f: impl FnOnce(RunTemplate) -> RunTemplate,
) -> Fx {
    let s = h.store.as_ref();
    let app = s
        .put_app(&App::new(format!("{name} app"), "/usr/bin/env").with_image("busybox:static"))
        .await
        .expect("put_app");
    let mut company = Company::new(name);
    company.slug = format!("{}-{}", company.slug, name.len());
    let company = s.create_company(&company).await.expect("create_company");
    let template = RunTemplate::new(app.id, company.id, format!("{name} template"))
        .with_interval(IntervalCode::Minutely);
    let template = s
        .create_runtemplate(&f(template))
        .await
        .expect("create_runtemplate");
    Fx {
        app,
        company,
        template,
    }
}

/// A minutely template with the given retry policy.
pub(crate) fn with_retry(retry: RetryPolicy) -> impl FnOnce(RunTemplate) -> RunTemplate {
    move |t| t.with_retry(retry)
}

/// What every test job runs: a secret in the environment and in argv (for redaction).
pub(crate) fn spec() -> JobSpec {
    let mut spec = JobSpec::new(
        "/usr/bin/env",
        vec!["printf".into(), "%s\\n".into(), "token=s3cret-Value".into()],
    );
    spec.env = Environment::new()
        .with("GREETING", "Hello, World")
        .with_secret("API_TOKEN", "s3cret-Value");
    spec.image = Some("busybox:static".into());
    spec.timeout = Some(60);
    spec.memory_limit_mb = Some(128);
    spec.pids_max = Some(32);
    spec.cpu_seconds = Some(20);
    spec.container = crate::model::ContainerSecurity::new()
        .with_capabilities(["NET_BIND_SERVICE"])
        .expect("a known capability")
        .with_read_only_root_fs(true);
    spec.artifacts = vec!["*.json".into(), "out/report.csv".into()];
    spec.timezone = "UTC".into();
    spec
}

/// An ad-hoc job of the fixture's template, due at `after`.
pub(crate) fn adhoc(fx: &Fx, trigger: Trigger, after: DateTime<Utc>) -> NewJob {
    let mut new = NewJob::new(
        fx.template.id,
        fx.company.id,
        fx.app.id,
        fx.template.executor,
        spec(),
        trigger,
        after,
    );
    new.launched_by = Some("alice".into());
    new
}

/// A scheduled job for `slot` (due at the slot), with an optional compare-and-swap.
pub(crate) fn slotted(fx: &Fx, slot: DateTime<Utc>, cas: Option<ScheduleCas>) -> NewJob {
    let mut new = adhoc(fx, Trigger::Schedule, slot);
    new.slot = Some(slot);
    new.launched_by = Some("scheduler".into());
    new.cas = cas;
    new
}

/// The scheduler's compare-and-swap.
pub(crate) fn cas(expected: Option<DateTime<Utc>>, set: Option<DateTime<Utc>>) -> ScheduleCas {
    ScheduleCas {
        expected_next: expected,
        set_next: set,
    }
}

/// The job row a freshly created `new` must be, with id `id`, created at `created`.
pub(crate) fn expected_new(new: &NewJob, id: crate::JobId, created: DateTime<Utc>) -> Job {
    Job {
        id,
        runtemplate_id: new.runtemplate_id,
        company_id: new.company_id,
        app_id: new.app_id,
        executor: new.executor,
        spec: new.spec.clone(),
        command: new.spec.redacted_command(),
        launched_by: new.launched_by.clone(),
        phase: Phase::Scheduled,
        outcome: None,
        trigger: new.trigger,
        slot: new.slot,
        attempt: new.attempt,
        retry_of: new.retry_of,
        after: new.after,
        exitcode: None,
        pid: None,
        external_id: None,
        lease_owner: None,
        lease_expires: None,
        lease_token: 0,
        cancel_requested: false,
        idempotency_key: new.idempotency_key.clone(),
        trace_context: new.trace_context.clone(),
        stdout: String::new(),
        stderr: String::new(),
        created,
        queued: None,
        begin: None,
        end: None,
        preserved: None,
        launch_failures: 0,
        unreadable: None,
        usage: crate::model::ResourceUsage::default(),
    }
}

/// The retry the rule must create for `job`, due at `after`, created at `created`.
pub(crate) fn expected_retry(
    job: &Job,
    id: crate::JobId,
    after: DateTime<Utc>,
    created: DateTime<Utc>,
) -> Job {
    let mut new = NewJob::new(
        job.runtemplate_id,
        job.company_id,
        job.app_id,
        job.executor,
        job.spec.clone(),
        Trigger::Retry,
        after,
    );
    new.slot = job.slot;
    new.attempt = job.attempt + 1;
    new.retry_of = Some(job.id);
    new.launched_by = job.launched_by.clone();
    new.trace_context = job.trace_context.clone();
    expected_new(&new, id, created)
}

/// Claim options for Native jobs with a 30 s lease.
pub(crate) fn native(owner: &str, limit: usize) -> ClaimOptions {
    ClaimOptions::new(owner, vec![ExecutorKind::Native], limit)
}

/// Claims exactly one due Native job (the oldest) for `owner`.
pub(crate) async fn claim_one(h: &StoreHarness, owner: &str) -> Job {
    let mut got = h.store.claim(&native(owner, 1)).await.expect("claim");
    assert_eq!(got.len(), 1, "expected one claimable job, got {got:?}");
    got.remove(0)
}

/// Queued → Running (no pid).
pub(crate) async fn begin(h: &StoreHarness, job: &Job) -> Job {
    let mut r = h
        .store
        .begin_many(&[Begin::new(LeaseRef::of(job), None, None)])
        .await
        .expect("begin_many");
    assert_eq!(r.len(), 1);
    r.remove(0).expect("begin")
}

/// Completes a job with `outcome` / `exitcode` under its lease.
pub(crate) async fn complete(
    h: &StoreHarness,
    job: &Job,
    outcome: Outcome,
    exitcode: i32,
) -> Completed {
    complete_with(h, Completion::new(LeaseRef::of(job), outcome, exitcode)).await
}

/// Completes one job.
pub(crate) async fn complete_with(h: &StoreHarness, c: Completion) -> Completed {
    let mut r = h.store.complete_many(&[c]).await.expect("complete_many");
    assert_eq!(r.len(), 1);
    r.remove(0).expect("complete")
}

/// Creates a due job, claims it (as the only due job) and starts it.
pub(crate) async fn running(h: &StoreHarness, new: &NewJob, owner: &str) -> Job {
    let job = h.store.create_and_schedule(new).await.expect("create");
    let claimed = claim_one(h, owner).await;
    assert_eq!(claimed.id, job.id, "the new job is the one claimed");
    begin(h, &claimed).await
}

/// Creates a due job and runs it to Completed with `outcome` / `exitcode`.
pub(crate) async fn finished(
    h: &StoreHarness,
    new: &NewJob,
    outcome: Outcome,
    exitcode: i32,
) -> Completed {
    let job = running(h, new, "executor-1").await;
    complete(h, &job, outcome, exitcode).await
}

/// The error's portable kind, for assertions.
pub(crate) fn kind(e: &Error) -> &'static str {
    match e {
        Error::NotFound { .. } => "NotFound",
        Error::AlreadyExists { .. } => "AlreadyExists",
        Error::Conflict { .. } => "Conflict",
        Error::InvalidTransition { .. } => "InvalidTransition",
        Error::InvalidInput { .. } => "InvalidInput",
        Error::Forbidden { .. } => "Forbidden",
        Error::Unsupported { .. } => "Unsupported",
        Error::Timeout { .. } => "Timeout",
        Error::Backend { .. } => "Backend",
    }
}

/// Asserts that `r` failed with the error kind `want`.
#[track_caller]
pub(crate) fn expect_err<T: Debug>(r: Result<T>, want: &str, what: &str) {
    match r {
        Ok(v) => panic!("{what}: expected {want}, got Ok({v:?})"),
        Err(e) => assert_eq!(kind(&e), want, "{what}: got {e}"),
    }
}

/// The template as stored now.
pub(crate) async fn template(h: &StoreHarness, fx: &Fx) -> RunTemplate {
    h.store
        .get_runtemplate(fx.template.id)
        .await
        .expect("get_runtemplate")
}

/// `(successfull_jobs_count, failed_jobs_count)` of the fixture's template.
pub(crate) async fn counters(h: &StoreHarness, fx: &Fx) -> (u64, u64) {
    let t = template(h, fx).await;
    (t.successfull_jobs_count, t.failed_jobs_count)
}

/// The `phase:*` audit rows of a job as (action, actor, at).
pub(crate) async fn phase_rows(
    h: &StoreHarness,
    job: crate::JobId,
) -> Vec<(String, String, DateTime<Utc>)> {
    h.store
        .list_audit(&crate::store::AuditFilter::job(job))
        .await
        .expect("list_audit")
        .into_iter()
        .filter(|e| e.action.starts_with("phase:"))
        .map(|e| (e.action, e.actor, e.at))
        .collect()
}
