use crate::Result;
use crate::artifact::ArtifactSink;
use crate::ids::{AppId, CompanyId, JobId, RunTemplateId};
use crate::lifecycle::{Outcome, Phase};
use crate::model::{ExecutorKind, Job, NewJob, ResourceUsage};
use crate::store::{Release, Released};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::fmt::Debug;
use std::time::Duration;

/// A job and the fencing token of the lease that is acting on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LeaseRef {
    /// The job.
    pub job_id: JobId,
    /// The token the claim returned.
    pub lease_token: i64,
}

impl LeaseRef {
    /// The lease a claimed job carries.
    pub fn of(job: &Job) -> Self {
        Self {
            job_id: job.id,
            lease_token: job.lease_token,
        }
    }
}

/// What a claim asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClaimOptions {
    /// At most this many jobs.
    pub limit: usize,
    /// Only jobs for these executor kinds.
    pub executors: Vec<ExecutorKind>,
    /// Who claims (the executor id).
    pub owner: String,
    /// How long the lease lasts without a heartbeat.
    pub lease_ttl: Duration,
}

impl ClaimOptions {
    /// A claim of up to `limit` jobs of `executors` by `owner`, 30 s lease.
    pub fn new(owner: impl Into<String>, executors: Vec<ExecutorKind>, limit: usize) -> Self {
        Self {
            limit,
            executors,
            owner: owner.into(),
            lease_ttl: Duration::from_secs(30),
        }
    }

    /// Builder: lease time to live.
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }
}

/// Queued → Running: the executor reported the job started.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Begin {
    /// The job and its lease.
    pub lease: LeaseRef,
    /// Process id (native).
    pub pid: Option<i64>,
    /// Container id / pod name.
    pub external_id: Option<String>,
}

impl Begin {
    /// A start report.
    pub fn new(lease: LeaseRef, pid: Option<i64>, external_id: Option<String>) -> Self {
        Self {
            lease,
            pid,
            external_id,
        }
    }
}

/// What a heartbeat learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeartbeatStatus {
    /// The lease was extended.
    Ok,
    /// The lease is gone (expired and recovered, or the token moved on): kill the job now.
    Lost,
    /// The lease was extended and an operator asked to cancel the job.
    CancelRequested,
}

/// Queued/Running → Completed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Completion {
    /// The job and its lease.
    pub lease: LeaseRef,
    /// How it ended.
    pub outcome: Outcome,
    /// Exit code (128+N for signal N; -1 for platform_error).
    pub exitcode: i32,
    /// Bounded text copy of stdout.
    pub stdout: String,
    /// Bounded text copy of stderr.
    pub stderr: String,
    /// What the job used while it ran.
    pub usage: ResourceUsage,
}

impl Completion {
    /// A completion without output copies.
    pub fn new(lease: LeaseRef, outcome: Outcome, exitcode: i32) -> Self {
        Self {
            lease,
            outcome,
            exitcode,
            stdout: String::new(),
            stderr: String::new(),
            usage: ResourceUsage::default(),
        }
    }
}

/// The completed job and the retry the rule created, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    /// The job, now Completed.
    pub job: Job,
    /// Its retry (a new Scheduled job), when the retry rule said so.
    pub retry: Option<Job>,
}

/// Completed → Preserved in one step: a job's completion and the captured output stored as its
/// `stdout.txt` / `stderr.txt` artifacts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finish {
    /// The completion (fenced like [`JobQueue::complete_many`]).
    pub completion: Completion,
    /// The capped, masked stdout, stored as `stdout.txt` (`text/plain`).
    pub stdout: Vec<u8>,
    /// The capped, masked stderr, stored as `stderr.txt` (`text/plain`).
    pub stderr: Vec<u8>,
}

impl Finish {
    /// A finish with the job's captured output.
    pub fn new(completion: Completion, stdout: Vec<u8>, stderr: Vec<u8>) -> Self {
        Self {
            completion,
            stdout,
            stderr,
        }
    }
}

/// What [`JobQueue::finish_many`] did for one job that completed.
#[derive(Debug)]
pub struct Finished {
    /// The completion (the job as Completed, and its retry).
    pub completed: Completed,
    /// The job as Preserved, or why storing the output / preserving failed (it stays Completed).
    pub preserved: crate::Result<Job>,
}

/// The default [`JobQueue::finish_many`]: `complete_many` for the batch, then per job two
/// [`ArtifactSink::put`] and [`JobQueue::mark_preserved`], each its own transaction.
pub async fn finish_separately<Q: JobQueue + ?Sized>(
    queue: &Q,
    finishes: &[Finish],
    artifacts: &dyn ArtifactSink,
) -> Result<Vec<Result<Finished>>> {
    let completions: Vec<Completion> = finishes.iter().map(|f| f.completion.clone()).collect();
    let done = queue.complete_many(&completions).await?;
    let mut out = Vec::with_capacity(finishes.len());
    for (f, r) in finishes.iter().zip(done) {
        let completed = match r {
            Ok(c) => c,
            Err(e) => {
                out.push(Err(e));
                continue;
            }
        };
        let lease = f.completion.lease;
        let preserved = async {
            artifacts
                .put(lease, "stdout.txt", "text/plain", &mut f.stdout.as_slice())
                .await?;
            artifacts
                .put(lease, "stderr.txt", "text/plain", &mut f.stderr.as_slice())
                .await?;
            queue.mark_preserved(lease).await
        }
        .await;
        out.push(Ok(Finished {
            completed,
            preserved,
        }));
    }
    Ok(out)
}

/// What [`JobQueue::begin_and_finish_many`] did: the `begin_many` part and the `finish_many`
/// part.
pub type BegunAndFinished = (Result<Vec<Result<Job>>>, Result<Vec<Result<Finished>>>);

/// The default [`JobQueue::begin_and_finish_many`]: `begin_many` of the starts, then
/// `finish_many` of the finishes (an empty part makes no call).
pub async fn begin_then_finish<Q: JobQueue + ?Sized>(
    queue: &Q,
    starts: &[Begin],
    finishes: &[Finish],
    artifacts: &dyn ArtifactSink,
) -> BegunAndFinished {
    let begun = if starts.is_empty() {
        Ok(Vec::new())
    } else {
        queue.begin_many(starts).await
    };
    let finished = if finishes.is_empty() {
        Ok(Vec::new())
    } else {
        queue.finish_many(finishes, artifacts).await
    };
    (begun, finished)
}

/// What a cancel request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelResult {
    /// It was only scheduled: now Completed(cancelled).
    Cancelled(Job),
    /// It is queued or running: `cancel_requested` is set and the executor will stop it.
    Requested(Job),
    /// It had already finished; nothing changed.
    AlreadyFinished(Job),
}

/// What lease recovery did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Queued jobs whose lease expired before they started: back to Scheduled.
    pub requeued: Vec<JobId>,
    /// Running jobs whose lease expired: Completed(lost, -1).
    pub lost: Vec<Job>,
    /// Retries created for lost jobs.
    pub retries: Vec<Job>,
    /// Queued or Running jobs whose lease expired after an operator asked to cancel them:
    /// Completed(cancelled, no exit code), never retried, never `lost`.
    pub cancelled: Vec<Job>,
}

/// Which jobs `cleanup` deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CleanupOptions {
    /// Finished jobs that ended before this instant.
    pub ended_before: DateTime<Utc>,
    /// Only this company's.
    pub company_id: Option<CompanyId>,
    /// Only this app's.
    pub app_id: Option<AppId>,
    /// Only this job (`job:delete`).
    pub job_id: Option<JobId>,
    /// Leave out the jobs these (company, app) patterns match, `None` matching any: where a more
    /// specific retention policy decides. `(Some(c), None)` is a company's jobs,
    /// `(None, Some(a))` an app's, `(Some(c), Some(a))` a company's jobs of an app.
    pub except: Vec<(Option<CompanyId>, Option<AppId>)>,
    /// Delete only the jobs' output and artifacts, keep the job rows (only jobs that still have
    /// some are counted).
    pub artifacts_only: bool,
    /// At most this many jobs, the oldest first (a small batch: a short transaction).
    pub limit: Option<u64>,
    /// Count, delete nothing.
    pub dry_run: bool,
}

impl CleanupOptions {
    /// Jobs that ended before `ended_before`.
    pub fn before(ended_before: DateTime<Utc>) -> Self {
        Self {
            ended_before,
            company_id: None,
            app_id: None,
            job_id: None,
            except: Vec::new(),
            artifacts_only: false,
            limit: None,
            dry_run: false,
        }
    }

    /// Whether a finished job of `company` and `app` is in these options' scope (the age and
    /// `artifacts_only` aside).
    pub fn covers(&self, company: CompanyId, app: AppId) -> bool {
        self.company_id.is_none_or(|c| c == company)
            && self.app_id.is_none_or(|a| a == app)
            && !self
                .except
                .iter()
                .any(|(c, a)| c.is_none_or(|c| c == company) && a.is_none_or(|a| a == app))
    }
}

/// What `cleanup` deleted (or would).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanupReport {
    /// Jobs.
    pub jobs: u64,
    /// Their artifacts.
    pub artifacts: u64,
    /// Their output chunks.
    pub output_chunks: u64,
}

/// Which jobs to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobFilter {
    /// Status word as [`Job::status`] gives it (`scheduled`, `running`, `success`, `failed`, …).
    pub status: Option<String>,
    /// Only this template's.
    pub runtemplate_id: Option<RunTemplateId>,
    /// Only this company's.
    pub company_id: Option<CompanyId>,
    /// Only jobs created at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Cursor: only jobs with an id below this one (newest first paging).
    pub before_id: Option<JobId>,
    /// At most this many (default 100).
    pub limit: Option<u64>,
}

/// Counts of jobs by phase.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueOverview {
    /// Scheduled and due now.
    pub due: u64,
    /// Scheduled for later.
    pub waiting: u64,
    /// Claimed, not started.
    pub queued: u64,
    /// Running.
    pub running: u64,
    /// Completed, artifacts not yet stored.
    pub completed: u64,
    /// Preserved.
    pub preserved: u64,
}

/// The job lifecycle.
#[async_trait]
pub trait JobQueue: Send + Sync + Debug + 'static {
    /// Created + Scheduled in one transaction. A second call with the same idempotency key returns
    /// the first job. A scheduled job (with a slot) is unique per (runtemplate, slot, attempt):
    /// AlreadyExists otherwise. With `cas`, the template's `next_schedule` must still equal
    /// `expected_next` (Conflict otherwise); it is then set to `set_next` and `last_schedule` to now.
    /// InvalidInput: a `schedule` job without a slot, an ad-hoc (`manual`/`api`/`cli`) job with
    /// one, or `cas` on a job whose trigger is not `schedule`.
    ///
    /// [`JobQueue::create_many`] of the one job.
    async fn create_and_schedule(&self, job: &NewJob) -> Result<Job> {
        self.create_many(std::slice::from_ref(job))
            .await?
            .into_iter()
            .next()
            .unwrap_or_else(|| {
                Err(crate::Error::backend(
                    "store",
                    false,
                    "create_many returned no result for one job",
                ))
            })
    }

    /// Created + Scheduled for every job, set-wise, in one transaction: what the scheduler's due
    /// templates and a burst of API calls go through. One result per input, in order; each job
    /// is judged as [`JobQueue::create_and_schedule`] describes (by
    /// [`plan_creation`](crate::lifecycle::plan_creation), the same rules on every backend), and
    /// a refused job (InvalidInput, NotFound, AlreadyExists, Conflict) fails only itself. A job
    /// whose idempotency key is stored already, or carried by an earlier job of `jobs`, returns
    /// that job. A database failure fails the call (nothing is written).
    async fn create_many(&self, jobs: &[NewJob]) -> Result<Vec<Result<Job>>>;

    /// Scheduled → Queued for up to `limit` due jobs (`after <= now`) of the requested executor
    /// kinds, oldest `after` first, in one round trip. Each claim increments the job's
    /// `lease_token` and sets owner and expiry (now + `lease_ttl` on the store's clock when the
    /// write executes). A due job the store cannot decode ([`Job::unreadable`]) is never handed
    /// out: it is completed as `platform_error` (-1, no retry, the reason in its stderr copy)
    /// and left out of the result, so it neither runs without its environment nor blocks the
    /// queue.
    async fn claim(&self, options: &ClaimOptions) -> Result<Vec<Job>>;

    /// How long until the earliest unclaimed Scheduled job of these executor kinds becomes due
    /// (its `after`), by the same clock [`JobQueue::claim`] compares `after` with: `None` when
    /// no such job waits, zero when one is due already. A dispatcher whose claim came back
    /// short sleeps until then (at most its poll interval), so a job created ahead of its time
    /// — a template's delay, a retry's backoff, a rescheduled job — starts when it is due rather
    /// than at the next poll.
    async fn next_due(&self, executors: &[ExecutorKind]) -> Result<Option<Duration>>;

    /// Queued → Running for each start report (fenced); one result per input.
    async fn begin_many(&self, starts: &[Begin]) -> Result<Vec<Result<Job>>>;

    /// Sets each live lease's expiry to now + `ttl`, `now` being the store's clock when the write
    /// executes (the database's clock inside the statement, after any wait for a connection or
    /// a lock); one status per input.
    async fn heartbeat(&self, leases: &[LeaseRef], ttl: Duration) -> Result<Vec<HeartbeatStatus>>;

    /// Queued/Running → Completed (fenced): outcome, exit code, end, output copies; schedule row
    /// deleted; template counter +1; `next_schedule` advanced for scheduled jobs; a retry created
    /// when the rule says so. One result per input.
    async fn complete_many(&self, completions: &[Completion]) -> Result<Vec<Result<Completed>>>;

    /// Completed → Preserved (fenced).
    async fn mark_preserved(&self, lease: LeaseRef) -> Result<Job>;

    /// For each finish: Queued/Running → Completed exactly as [`JobQueue::complete_many`], then
    /// its output stored as `stdout.txt` / `stderr.txt` in `artifacts` (replacing same-named
    /// ones, the sink's size cap applies), then Completed → Preserved — every phase change with
    /// its audit row. One result per input: `Err` when the completion failed (a fencing conflict
    /// on one job fails only that job); otherwise [`Finished::preserved`] says whether the job
    /// reached Preserved. Backends may do the whole batch in one transaction when `artifacts`
    /// declares their [`WriteDomain`](super::WriteDomain); the default is
    /// [`finish_separately`].
    async fn finish_many(
        &self,
        finishes: &[Finish],
        artifacts: &dyn ArtifactSink,
    ) -> Result<Vec<Result<Finished>>> {
        finish_separately(self, finishes, artifacts).await
    }

    /// Starts and finishes of different jobs, stored together: [`JobQueue::begin_many`] of
    /// `starts` then [`JobQueue::finish_many`] of `finishes`, with exactly their results (each
    /// part's own `Result`). Backends may write both in one transaction (the dispatcher sends
    /// the starts and ends that are ready at the same time here); the default makes the two
    /// calls.
    async fn begin_and_finish_many(
        &self,
        starts: &[Begin],
        finishes: &[Finish],
        artifacts: &dyn ArtifactSink,
    ) -> BegunAndFinished {
        begin_then_finish(self, starts, finishes, artifacts).await
    }

    /// Gives claimed jobs that never started back to the queue, in ONE transaction, one result
    /// per input (a fencing conflict on one fails only that one).
    ///
    /// Each release is fenced on (job, `lease_token`, Queued) — a stale token is Conflict, a job
    /// that already started is InvalidTransition — and then, per [`Release::plan`]:
    /// - Queued → Scheduled ([`Released::Requeued`]): lease owner and expiry and the `queued`
    ///   time cleared, the token kept, the schedule row unclaimed and due at the store's now +
    ///   `retry_after` (the job's `after` too), `launch_failures` stored (+1 for
    ///   [`ReleaseReason::LaunchFailed`](crate::store::ReleaseReason::LaunchFailed), unchanged
    ///   for `Draining`), one `phase:scheduled` audit row by the lease owner with the detail
    ///   [`release_audit_detail`](crate::store::backend::release_audit_detail); no attempt counted, the
    ///   template's counters untouched; the work signal changes;
    /// - when this launch failure reaches `max_launch_failures`: Queued → Completed
    ///   (`platform_error`, -1) exactly as [`JobQueue::complete_many`] (counters,
    ///   `next_schedule`, the retry rule), the failure as the stderr copy
    ///   ([`Released::Failed`]);
    /// - a job an operator asked to cancel is not put back to run: it ends Completed
    ///   (`cancelled`, no exit code), also [`Released::Failed`].
    async fn release_many(&self, releases: &[Release]) -> Result<Vec<Result<Released>>>;

    /// Expired Queued leases → Scheduled; expired Running leases → Completed(lost, -1) + retry
    /// rule. A job whose cancel was requested is never run again: expired Queued or Running, it
    /// ends Completed(cancelled, no exit code, no retry) and is reported in
    /// [`Recovered::cancelled`].
    async fn recover_expired(&self) -> Result<Recovered>;

    /// Cancels a Scheduled job at once; flags a Queued/Running one for its executor.
    async fn request_cancel(&self, id: JobId, actor: &str) -> Result<CancelResult>;
    /// Makes a job still waiting in the queue (Created or Scheduled: no executor has claimed
    /// it) due at `after` instead (µs precision); the job's `after` and its schedule row move
    /// together. Conflict in any other phase, NotFound for an unknown id. Audit rows are the
    /// caller's (the application layer writes `job:update`).
    async fn reschedule(&self, id: JobId, after: DateTime<Utc>) -> Result<Job>;

    /// Deletes finished jobs (and their schedule rows, output and artifacts) that ended before the cutoff.
    async fn cleanup(&self, options: &CleanupOptions) -> Result<CleanupReport>;

    /// One job; a row the store cannot decode comes back with [`Job::unreadable`] set.
    async fn get_job(&self, id: JobId) -> Result<Job>;

    /// Jobs matching the filter, newest first. A row the store cannot decode is listed with
    /// [`Job::unreadable`] set; it never fails the listing.
    async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>>;

    /// Counts by phase.
    async fn queue_overview(&self) -> Result<QueueOverview>;

    /// A signal that changes whenever a job may have become claimable (created, re-queued,
    /// released).
    /// Mark the current value seen before claiming and wait for a change after: nothing is lost.
    /// `None` when the backend cannot signal (the dispatcher then polls).
    fn work_signal(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }

    /// How many lifecycle write transactions (batches of starts and finishes) are worth
    /// running at once: 1 for a store that writes one transaction at a time (SQLite, in
    /// memory), more for a server database, where one batch's round trips and commit overlap
    /// the next one's. A wrapper around a store forwards it. The dispatcher's default for
    /// [`DispatcherOptions::writes_in_flight`](crate::DispatcherOptions::writes_in_flight).
    fn parallel_writes(&self) -> usize {
        1
    }
}

/// The Conflict every backend returns when a fenced write finds a stale token or another phase.
pub fn fence_conflict(job_id: JobId, expected: &[Phase], token: i64) -> crate::Error {
    let phases: Vec<&str> = expected.iter().map(|p| p.as_str()).collect();
    crate::Error::conflict(format!(
        "job {job_id}: lease token {token} is stale or the job is no longer {}",
        phases.join("/")
    ))
}
