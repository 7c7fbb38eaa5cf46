//! Keeps up to `max_parallel` jobs running: claims, launches, heartbeats, completes, preserves.

use super::job_factory::emit_created;
use super::job_io::{EngineJobIo, OutputLimits};
use super::shutdown::Shutdown;
use super::throttle::process_rss_mb;
use crate::artifact::ArtifactSink;
use crate::executor::{Executor, JobIo, LaunchSpec};
use crate::ids::JobId;
use crate::lifecycle::Outcome;
use crate::model::{ExecutorKind, Job};
use crate::store::{
    Begin, ClaimOptions, Completion, Finish, Finished, HeartbeatStatus, LeaseRef, Store,
};
use crate::telemetry::{PhaseEvent, Telemetry};
use crate::{Clock, Error, Result};
use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How a dispatcher runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DispatcherOptions {
    /// This executor daemon's stable id (lease owner, container labels).
    pub executor_id: String,
    /// At most this many jobs at once (`MULTIFLEXI_MAX_PARALLEL`).
    pub max_parallel: usize,
    /// Lease time to live (`MULTIFLEXI_LEASE_TTL`); heartbeats every third of it.
    pub lease_ttl: Duration,
    /// Poll at least this often even without wake-ups (`MULTIFLEXI_CYCLE_PAUSE`).
    pub poll_interval: Duration,
    /// Per-job work directories are created below this.
    pub work_root: PathBuf,
    /// Per-stream output cap in bytes (head and tail kept).
    pub output_cap: usize,
    /// Bytes of each stream copied into the job row.
    pub text_copy: usize,
    /// Flush the live output log at least this often while a job prints.
    pub flush_interval: Duration,
    /// Or when this many bytes are pending.
    pub flush_bytes: usize,
    /// Stop claiming while this process's RSS is above this (`MULTIFLEXI_MEMORY_LIMIT_MB`).
    pub memory_limit_mb: Option<u64>,
    /// Claimed jobs kept ready beyond `max_parallel`: Queued and leased (heartbeats cover them),
    /// started in claim order as slots free, so a freed slot never waits for a claim round trip
    /// and claims overlap the begin / finish writes of running jobs. `None` = `max_parallel`;
    /// `Some(0)` claims only for free slots. Such a job waits at most for the jobs ahead of it
    /// here, and another executor daemon cannot take it meanwhile: with long jobs and several
    /// daemons sharing a queue, a small value spreads work more evenly. On drain they run like
    /// the running jobs; on abort (or a cancel request) they end `cancelled` without starting.
    ///
    /// `None` (the default) adapts: `max_parallel` while jobs hold their slots for a while, and
    /// [`SHORT_JOB_AHEAD`] × `max_parallel` while the recent jobs held them under
    /// [`SHORT_JOB`] on average (they start within milliseconds, so claiming deeper keeps
    /// nothing from other daemons and makes fewer, fuller claims).
    pub claim_ahead: Option<usize>,
}

impl Default for DispatcherOptions {
    fn default() -> Self {
        Self {
            executor_id: "multiflexi-executor".into(),
            max_parallel: 4,
            lease_ttl: Duration::from_secs(30),
            poll_interval: Duration::from_secs(10),
            work_root: std::env::temp_dir().join("multiflexi-jobs"),
            output_cap: 8 * 1024 * 1024,
            text_copy: 64 * 1024,
            flush_interval: Duration::from_millis(250),
            flush_bytes: 64 * 1024,
            memory_limit_mb: None,
            claim_ahead: None,
        }
    }
}

impl DispatcherOptions {
    /// Defaults with an executor id and a parallel limit.
    pub fn new(executor_id: impl Into<String>, max_parallel: usize) -> Self {
        Self {
            executor_id: executor_id.into(),
            max_parallel: max_parallel.max(1),
            ..Self::default()
        }
    }

    /// The claim-ahead depth in effect (see [`DispatcherOptions::claim_ahead`]), given the
    /// recent average slot time in µs (`None` = no job finished yet).
    fn ahead(&self, slot_time_us: Option<u64>) -> usize {
        match (self.claim_ahead, slot_time_us) {
            (Some(n), _) => n,
            (None, Some(us)) if us < SHORT_JOB.as_micros() as u64 => {
                SHORT_JOB_AHEAD * self.max_parallel
            }
            (None, _) => self.max_parallel,
        }
    }
}

/// Jobs holding their slot for less than this on average are short (see
/// [`DispatcherOptions::claim_ahead`]).
pub const SHORT_JOB: Duration = Duration::from_millis(5);

/// How many times `max_parallel` the default claim-ahead depth grows to for short jobs.
pub const SHORT_JOB_AHEAD: usize = 4;

/// A moving average of how long jobs hold their slot (µs; `u64::MAX` until the first one).
#[derive(Debug)]
struct SlotTime(AtomicU64);

impl SlotTime {
    fn new() -> Self {
        Self(AtomicU64::new(u64::MAX))
    }

    fn get(&self) -> Option<u64> {
        Some(self.0.load(Ordering::Relaxed)).filter(|&us| us != u64::MAX)
    }

    /// Folds one job's slot time in (weight 1/8).
    fn record(&self, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX - 1);
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some(if old == u64::MAX {
                    us
                } else {
                    old - old / 8 + us / 8
                })
            });
    }
}

/// Counters of what a dispatcher did (wake-up tests count polls instead of bounding time).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispatcherStats {
    /// Claim round trips.
    pub claims: u64,
    /// Jobs claimed.
    pub claimed: u64,
    /// Times the loop woke because the poll interval elapsed.
    pub poll_wakeups: u64,
    /// Times it woke because the store signalled new work or [`Dispatcher::notify`] was called.
    pub signal_wakeups: u64,
    /// Jobs that reached Completed through this dispatcher.
    pub completed: u64,
    /// Jobs it abandoned because their lease was lost.
    pub abandoned: u64,
}

#[derive(Debug, Default)]
struct Counters {
    claims: AtomicU64,
    claimed: AtomicU64,
    poll_wakeups: AtomicU64,
    signal_wakeups: AtomicU64,
    completed: AtomicU64,
    abandoned: AtomicU64,
}

type Reply<R> = oneshot::Sender<Result<R>>;

/// Collects one kind of store write from many jobs and hands whatever is ready to one store call
/// (one transaction): a request alone is flushed at once (no waiting for company), requests that
/// arrive while a flush is in flight go together in the next one.
#[derive(Debug)]
pub(crate) struct Batcher<T, R> {
    tx: mpsc::UnboundedSender<(T, Reply<R>)>,
}

impl<T: Send + 'static, R: Send + 'static> Batcher<T, R> {
    /// Spawns the flushing task; it ends when the last handle is dropped.
    pub(crate) fn spawn<F, Fut>(max: usize, flush: F) -> Self
    where
        F: Fn(Vec<T>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Vec<Result<R>>>> + Send + 'static,
    {
        let (tx, mut rx) = mpsc::unbounded_channel::<(T, Reply<R>)>();
        let max = max.max(1);
        tokio::spawn(async move {
            let mut items = Vec::new();
            let mut replies: Vec<Reply<R>> = Vec::new();
            while let Some((item, reply)) = rx.recv().await {
                items.push(item);
                replies.push(reply);
                // Jobs claimed together get here together: give the ones already woken a
                // scheduler pass to join (no timer, so a job alone is not held back).
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                    while items.len() < max {
                        match rx.try_recv() {
                            Ok((item, reply)) => {
                                items.push(item);
                                replies.push(reply);
                            }
                            Err(_) => break,
                        }
                    }
                }
                match flush(std::mem::take(&mut items)).await {
                    Ok(results) => {
                        let mut results = results.into_iter();
                        for reply in replies.drain(..) {
                            let r = results.next().unwrap_or_else(|| {
                                Err(Error::conflict(
                                    "the store returned fewer results than requests",
                                ))
                            });
                            let _ = reply.send(r);
                        }
                    }
                    Err(e) => {
                        let message = e.to_string();
                        let mut first = Some(e);
                        for reply in replies.drain(..) {
                            let err = first.take().unwrap_or_else(|| {
                                Error::backend(
                                    "store",
                                    false,
                                    format!("batched write failed: {message}"),
                                )
                            });
                            let _ = reply.send(Err(err));
                        }
                    }
                }
            }
        });
        Self { tx }
    }

    /// Queues `item` for the next flush and waits for its result.
    pub(crate) async fn submit(&self, item: T) -> Result<R> {
        self.enqueue(item)?.await
    }

    /// Queues `item` for the next flush; the returned future resolves to its result.
    pub(crate) fn enqueue(&self, item: T) -> Result<impl Future<Output = Result<R>> + use<T, R>> {
        let (reply, rx) = oneshot::channel();
        self.tx.send((item, reply)).map_err(|_| batcher_stopped())?;
        Ok(async move { rx.await.map_err(|_| batcher_stopped())? })
    }
}

fn batcher_stopped() -> Error {
    Error::backend("store", false, "the dispatcher's store batcher stopped")
}

/// A store write a running job hands to the dispatcher's batcher.
#[derive(Debug)]
pub(crate) enum JobWrite {
    /// Queued → Running.
    Begin(Begin),
    /// Completed, output stored, Preserved.
    Finish(Finish),
}

/// What a [`JobWrite`] did.
#[derive(Debug)]
pub(crate) enum JobWritten {
    /// The job as Running.
    Begun(Box<Job>),
    /// The job as Completed and Preserved.
    Finished(Box<Finished>),
}

/// The batched store writes of one dispatcher run: job starts and finishes (Completed, output
/// stored, Preserved) that are ready at the same time go to the store together
/// ([`crate::store::JobQueue::begin_and_finish_many`]: one transaction where the store can).
pub(crate) type JobWrites = Batcher<JobWrite, JobWritten>;

/// Largest batch one transaction carries.
const MAX_BATCH: usize = 256;

fn job_writes(store: &Arc<dyn Store>, artifacts: &Arc<dyn ArtifactSink>) -> JobWrites {
    let store = store.clone();
    let artifacts = artifacts.clone();
    Batcher::spawn(MAX_BATCH, move |writes: Vec<JobWrite>| {
        let store = store.clone();
        let artifacts = artifacts.clone();
        async move { write_jobs(&*store, &*artifacts, writes).await }
    })
}

/// Splits a batch into its starts and finishes, stores them, and puts the results back in
/// input order.
async fn write_jobs(
    store: &dyn Store,
    artifacts: &dyn ArtifactSink,
    writes: Vec<JobWrite>,
) -> Result<Vec<Result<JobWritten>>> {
    let mut starts = Vec::new();
    let mut finishes = Vec::new();
    let kinds: Vec<bool> = writes
        .into_iter()
        .map(|w| match w {
            JobWrite::Begin(b) => {
                starts.push(b);
                true
            }
            JobWrite::Finish(f) => {
                finishes.push(f);
                false
            }
        })
        .collect();
    let (begun, finished) = store
        .begin_and_finish_many(&starts, &finishes, artifacts)
        .await;
    let part_failed =
        |e: &Error| Error::backend("store", false, format!("batched write failed: {e}"));
    let mut begun = match begun {
        Ok(v) => v
            .into_iter()
            .map(|r| r.map(|j| JobWritten::Begun(Box::new(j))))
            .collect::<Vec<_>>(),
        Err(e) => starts.iter().map(|_| Err(part_failed(&e))).collect(),
    }
    .into_iter();
    let mut finished = match finished {
        Ok(v) => v
            .into_iter()
            .map(|r| r.map(|f| JobWritten::Finished(Box::new(f))))
            .collect::<Vec<_>>(),
        Err(e) => finishes.iter().map(|_| Err(part_failed(&e))).collect(),
    }
    .into_iter();
    let missing = || {
        Err(Error::conflict(
            "the store returned fewer results than requests",
        ))
    };
    Ok(kinds
        .into_iter()
        .map(|is_start| {
            if is_start {
                begun.next().unwrap_or_else(missing)
            } else {
                finished.next().unwrap_or_else(missing)
            }
        })
        .collect())
}

/// Why the engine cancelled a running job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopReason {
    Cancelled,
    LeaseLost,
}

#[derive(Debug)]
struct RunningJob {
    lease: LeaseRef,
    cancel: CancellationToken,
    reason: Option<StopReason>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn Store>,
    artifacts: Arc<dyn ArtifactSink>,
    executors: HashMap<ExecutorKind, Arc<dyn Executor>>,
    telemetry: Arc<dyn Telemetry>,
    clock: Arc<dyn Clock>,
    options: DispatcherOptions,
    running: Mutex<HashMap<JobId, RunningJob>>,
    /// Jobs whose executor has not returned yet (what `max_parallel` limits); the others in
    /// `running` are waiting for a slot or only storing their end.
    executing: AtomicUsize,
    /// Claimed jobs waiting for a slot (at most the claim-ahead depth beyond free slots).
    waiting: AtomicUsize,
    /// `max_parallel` permits: a job holds one while its executor runs.
    slots: Arc<Semaphore>,
    /// How long jobs held their slot lately (the adaptive claim-ahead depth).
    slot_time: SlotTime,
    wake: Notify,
    slot_freed: Notify,
    counters: Counters,
}

/// Runs jobs: claims due jobs in batches for the executor kinds it has, keeps up to
/// `max_parallel` running, persists every phase, and preserves their output.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

impl Dispatcher {
    /// A dispatcher over a store, an artifact sink and the executors it may use.
    pub fn new(
        store: Arc<dyn Store>,
        artifacts: Arc<dyn ArtifactSink>,
        executors: Vec<Arc<dyn Executor>>,
        telemetry: Arc<dyn Telemetry>,
        clock: Arc<dyn Clock>,
        options: DispatcherOptions,
    ) -> Self {
        let executors = executors.into_iter().map(|e| (e.kind(), e)).collect();
        let slots = Arc::new(Semaphore::new(options.max_parallel.max(1)));
        Self {
            inner: Arc::new(Inner {
                store,
                artifacts,
                executors,
                telemetry,
                clock,
                options,
                running: Mutex::new(HashMap::new()),
                executing: AtomicUsize::new(0),
                waiting: AtomicUsize::new(0),
                slots,
                slot_time: SlotTime::new(),
                wake: Notify::new(),
                slot_freed: Notify::new(),
                counters: Counters::default(),
            }),
        }
    }

    /// Wakes the loop at once (an in-process producer just scheduled a job).
    pub fn notify(&self) {
        self.inner.wake.notify_one();
    }

    /// What it did so far.
    pub fn stats(&self) -> DispatcherStats {
        let c = &self.inner.counters;
        DispatcherStats {
            claims: c.claims.load(Ordering::Relaxed),
            claimed: c.claimed.load(Ordering::Relaxed),
            poll_wakeups: c.poll_wakeups.load(Ordering::Relaxed),
            signal_wakeups: c.signal_wakeups.load(Ordering::Relaxed),
            completed: c.completed.load(Ordering::Relaxed),
            abandoned: c.abandoned.load(Ordering::Relaxed),
        }
    }

    /// Jobs this dispatcher holds now: claimed and waiting for a slot, running, or storing
    /// their end.
    pub fn running(&self) -> usize {
        self.inner.running.lock().unwrap().len()
    }

    /// Reaps what a previous incarnation of this executor left behind, then runs until
    /// `shutdown` drains (running jobs finish) or aborts (running jobs are cancelled).
    pub async fn run(&self, shutdown: Shutdown) -> Result<()> {
        let inner = &self.inner;
        for executor in inner.executors.values() {
            if let Err(e) = executor.reap(&inner.options.executor_id).await {
                tracing::warn!(executor = %executor.kind(), "reap failed: {e}");
            }
        }
        let mut kinds: Vec<ExecutorKind> = inner.executors.keys().copied().collect();
        kinds.sort();
        let writes = Arc::new(job_writes(&inner.store, &inner.artifacts));
        if let Err(e) = std::fs::create_dir_all(&inner.options.work_root) {
            tracing::warn!("cannot create {}: {e}", inner.options.work_root.display());
        }
        let mut signal = inner.store.work_signal();
        let mut tasks = JoinSet::new();
        let heartbeat = tokio::spawn(heartbeat_loop(self.inner.clone(), shutdown.clone()));
        let mut poll = tokio::time::interval(inner.options.poll_interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        poll.tick().await;
        // Whether the last claim filled every slot it asked for: due work is waiting.
        let mut backlog = false;
        loop {
            if shutdown.is_draining() {
                break;
            }
            while tasks.try_join_next().is_some() {}
            // A slot frees when the executor returns; the job's bookkeeping (Completed, output,
            // Preserved) then goes on in a batch while the next job runs. Up to `claim_ahead`
            // claimed jobs wait beyond the slots, ready to start the moment one frees, and at
            // most `max_parallel` more are storing their end.
            let parallel = inner.options.max_parallel;
            let window = parallel + inner.options.ahead(inner.slot_time.get());
            let outstanding =
                inner.executing.load(Ordering::Acquire) + inner.waiting.load(Ordering::Acquire);
            let free = window
                .saturating_sub(outstanding)
                .min((window + parallel).saturating_sub(self.running()));
            // With a backlog, claim when half the slots are free rather than one slot at a time
            // (jobs of a batch free their slots one after another): fewer, fuller claims.
            if backlog && outstanding > 0 && free < (parallel / 2).max(1) {
                tokio::select! {
                    _ = inner.slot_freed.notified() => continue,
                    _ = shutdown.draining() => break,
                }
            }
            let throttled = inner
                .options
                .memory_limit_mb
                .is_some_and(|limit| process_rss_mb().is_some_and(|rss| rss > limit));
            if free > 0 && !throttled {
                if let Some(rx) = signal.as_mut() {
                    rx.borrow_and_update();
                }
                let options =
                    ClaimOptions::new(inner.options.executor_id.clone(), kinds.clone(), free)
                        .with_lease_ttl(inner.options.lease_ttl);
                inner.counters.claims.fetch_add(1, Ordering::Relaxed);
                match inner.store.claim(&options).await {
                    Ok(jobs) => {
                        let full = jobs.len() == free;
                        backlog = full;
                        inner
                            .counters
                            .claimed
                            .fetch_add(jobs.len() as u64, Ordering::Relaxed);
                        for job in jobs {
                            self.spawn_job(&mut tasks, &writes, job);
                        }
                        if full {
                            // There may be more due work: claim again once a slot frees.
                            tokio::select! {
                                _ = inner.slot_freed.notified() => {
                                    settle().await;
                                    continue;
                                }
                                _ = shutdown.draining() => break,
                            }
                        }
                    }
                    Err(e) => {
                        backlog = false;
                        tracing::warn!("claim failed: {e}");
                    }
                }
            }
            tokio::select! {
                _ = shutdown.draining() => break,
                _ = inner.slot_freed.notified(), if free == 0 || throttled => settle().await,
                _ = inner.wake.notified() => {
                    inner.counters.signal_wakeups.fetch_add(1, Ordering::Relaxed);
                }
                changed = wait_signal(&mut signal) => {
                    if changed {
                        inner.counters.signal_wakeups.fetch_add(1, Ordering::Relaxed);
                    } else {
                        signal = None;
                    }
                }
                _ = poll.tick() => {
                    inner.counters.poll_wakeups.fetch_add(1, Ordering::Relaxed);
                    if let Err(e) = self.recover().await {
                        tracing::warn!("lease recovery failed: {e}");
                    }
                }
            }
        }
        // Drain: let running jobs finish, or cancel them when aborting.
        let abort_watch = {
            let inner = self.inner.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                shutdown.aborting().await;
                for job in inner.running.lock().unwrap().values_mut() {
                    job.reason.get_or_insert(StopReason::Cancelled);
                    job.cancel.cancel();
                }
            })
        };
        while tasks.join_next().await.is_some() {}
        drop(writes);
        abort_watch.abort();
        heartbeat.abort();
        Ok(())
    }

    /// Runs lease recovery once and reports retries it created.
    async fn recover(&self) -> Result<()> {
        let recovered = self.inner.store.recover_expired().await?;
        let now = self.inner.clock.now();
        for job in recovered.lost.iter().chain(&recovered.cancelled) {
            self.inner.telemetry.event(&PhaseEvent::of(job, now));
        }
        for job in &recovered.retries {
            emit_created(&*self.inner.telemetry, job);
        }
        Ok(())
    }

    fn spawn_job(&self, tasks: &mut JoinSet<()>, writes: &Arc<JobWrites>, job: Job) {
        let inner = self.inner.clone();
        let writes = writes.clone();
        let cancel = CancellationToken::new();
        inner.running.lock().unwrap().insert(
            job.id,
            RunningJob {
                lease: LeaseRef::of(&job),
                cancel: cancel.clone(),
                reason: None,
            },
        );
        inner
            .telemetry
            .event(&PhaseEvent::of(&job, inner.clock.now()));
        inner.waiting.fetch_add(1, Ordering::AcqRel);
        tasks.spawn(async move {
            let id = job.id;
            // Wait for a slot (in claim order: the semaphore is fair), unless the job is
            // cancelled or its lease lost first.
            let permit = tokio::select! {
                biased;
                permit = inner.slots.clone().acquire_owned() => permit.ok(),
                () = cancel.cancelled() => None,
            };
            let slot = permit.map(|permit| {
                inner.executing.fetch_add(1, Ordering::AcqRel);
                Slot {
                    inner: inner.clone(),
                    since: std::time::Instant::now(),
                    _permit: permit,
                }
            });
            inner.waiting.fetch_sub(1, Ordering::AcqRel);
            if let Err(e) = run_job(&inner, &writes, job, cancel, slot).await {
                tracing::warn!(job_id = id.get(), "job bookkeeping failed: {e}");
            }
            inner.running.lock().unwrap().remove(&id);
            inner.slot_freed.notify_one();
        });
    }
}

/// A job's parallel slot: freed (and the loop told) when dropped, once the executor returned.
struct Slot {
    inner: Arc<Inner>,
    since: std::time::Instant,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.inner.slot_time.record(self.since.elapsed());
        self.inner.executing.fetch_sub(1, Ordering::AcqRel);
        self.inner.slot_freed.notify_one();
    }
}

/// Jobs finished in one batch free their slots one task after another: let them all run before
/// counting free slots, so one claim fills them all instead of one claim per slot.
async fn settle() {
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
}

async fn wait_signal(signal: &mut Option<tokio::sync::watch::Receiver<u64>>) -> bool {
    match signal {
        Some(rx) => rx.changed().await.is_ok(),
        None => std::future::pending().await,
    }
}

async fn heartbeat_loop(inner: Arc<Inner>, shutdown: Shutdown) {
    let period = (inner.options.lease_ttl / 3).max(Duration::from_millis(10));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let leases: Vec<LeaseRef> = inner
            .running
            .lock()
            .unwrap()
            .values()
            .map(|r| r.lease)
            .collect();
        if leases.is_empty() {
            continue;
        }
        match inner
            .store
            .heartbeat(&leases, inner.options.lease_ttl)
            .await
        {
            Ok(statuses) => {
                let mut running = inner.running.lock().unwrap();
                for (lease, status) in leases.iter().zip(statuses) {
                    let Some(job) = running.get_mut(&lease.job_id) else {
                        continue;
                    };
                    let reason = match status {
                        HeartbeatStatus::Ok => continue,
                        HeartbeatStatus::Lost => StopReason::LeaseLost,
                        HeartbeatStatus::CancelRequested => StopReason::Cancelled,
                    };
                    job.reason.get_or_insert(reason);
                    job.cancel.cancel();
                }
            }
            Err(e) => tracing::warn!("heartbeat failed: {e}"),
        }
        if shutdown.is_aborting() {
            break;
        }
    }
}

fn stop_reason(inner: &Inner, id: JobId) -> Option<StopReason> {
    inner
        .running
        .lock()
        .unwrap()
        .get(&id)
        .and_then(|r| r.reason)
}

/// Runs one claimed job to Preserved.
/// Creates the job's work directory (the parent exists: `run` created it). A plain syscall, not
/// a blocking-pool round trip.
fn create_work_dir(root: &Path, dir: &Path) -> std::io::Result<()> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(_) => {
            std::fs::create_dir_all(root)?;
            std::fs::create_dir_all(dir)
        }
    }
}

/// The job's work directory, for an executor that uses one.
fn prepare_work_dir(executor: &dyn Executor, root: &Path, dir: &Path) -> std::io::Result<()> {
    if executor.uses_work_dir() {
        create_work_dir(root, dir)
    } else {
        Ok(())
    }
}

/// Removes the job's work directory: one syscall when it stayed empty (or was never made).
async fn remove_work_dir(dir: &Path) {
    if std::fs::remove_dir(dir).is_err_and(|e| e.kind() != std::io::ErrorKind::NotFound) {
        let _ = tokio::fs::remove_dir_all(dir).await;
    }
}

async fn run_job(
    inner: &Arc<Inner>,
    writes: &Arc<JobWrites>,
    job: Job,
    cancel: CancellationToken,
    slot: Option<Slot>,
) -> Result<()> {
    let lease = LeaseRef::of(&job);
    let work_dir = inner
        .options
        .work_root
        .join(format!("job-{}-{}", job.id, job.lease_token));
    let io = EngineJobIo::new(
        inner.store.clone(),
        inner.artifacts.clone(),
        inner.telemetry.clone(),
        inner.clock.clone(),
        job.clone(),
        OutputLimits {
            cap: inner.options.output_cap,
            text_copy: inner.options.text_copy,
            flush_bytes: inner.options.flush_bytes,
        },
        writes.clone(),
        cancel.clone(),
    );
    let result = match inner.executors.get(&job.executor) {
        // Cancelled (or its lease lost) while waiting for a slot: never launched.
        _ if slot.is_none() => Err(Error::conflict("stopped before it got a slot")),
        None => Err(Error::Unsupported {
            message: format!("this dispatcher has no {} executor", job.executor),
        }),
        Some(executor) => {
            match prepare_work_dir(&**executor, &inner.options.work_root, &work_dir) {
                Err(e) => Err(Error::backend("workdir", true, e)),
                Ok(()) => {
                    let spec = launch_spec(&job, &inner.options.executor_id, work_dir.clone());
                    let launch = executor.launch(&spec, &io, cancel.clone());
                    tokio::pin!(launch);
                    let mut flush = tokio::time::interval(inner.options.flush_interval);
                    flush.tick().await;
                    loop {
                        tokio::select! {
                            r = &mut launch => break r,
                            _ = flush.tick() => {
                                if let Err(e) = io.flush().await {
                                    tracing::warn!(job_id = job.id.get(), "output flush failed: {e}");
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    drop(slot);
    let reason = stop_reason(inner, job.id);
    if reason == Some(StopReason::LeaseLost) {
        // Recovery records it as lost (or re-queues it); our writes would be fenced off anyway.
        inner.counters.abandoned.fetch_add(1, Ordering::Relaxed);
        inner.telemetry.lease_lost(job.id);
        remove_work_dir(&work_dir).await;
        return Ok(());
    }
    // The Running write the executor queued: the end is stored after it, and its failure is
    // the job's (as when `started` itself fails).
    let begun = io.started_job().await;
    let started = matches!(begun, Ok(Some(_)));
    let result = match begun {
        Ok(_) => result,
        Err(e) => Err(e),
    };
    let (outcome, exitcode) = match &result {
        Ok(report) => {
            if !started {
                // Spawn failures (127/126) end without a process: it still ran, briefly.
                io.started(Default::default()).await?;
                io.started_job().await?;
            }
            let mut outcome = report.outcome();
            if reason == Some(StopReason::Cancelled) && report.cancelled {
                outcome = Outcome::Cancelled;
            }
            (outcome, report.exitcode())
        }
        Err(e) if reason == Some(StopReason::Cancelled) && !started => {
            tracing::debug!(job_id = job.id.get(), "cancelled before start: {e}");
            (Outcome::Cancelled, -1)
        }
        Err(e) => {
            io.note(&format!(
                "\n[multiflexi: {} executor error: {e}]\n",
                job.executor
            ))
            .await?;
            (Outcome::PlatformError, -1)
        }
    };
    let output = io.finish().await?;
    let mut completion = Completion::new(lease, outcome, exitcode);
    completion.stdout = output.stdout_copy;
    completion.stderr = output.stderr_copy;
    // Completed, output stored as stdout.txt / stderr.txt, Preserved: one step, batched with
    // other jobs' finishes.
    let finished = match writes
        .submit(JobWrite::Finish(Finish::new(
            completion,
            output.stdout,
            output.stderr,
        )))
        .await?
    {
        JobWritten::Finished(f) => *f,
        JobWritten::Begun(_) => return Err(Error::conflict("a finish came back as a start")),
    };
    let Finished {
        completed,
        preserved,
    } = finished;
    inner.counters.completed.fetch_add(1, Ordering::Relaxed);
    inner
        .telemetry
        .event(&PhaseEvent::of(&completed.job, inner.clock.now()));
    if let Some(retry) = &completed.retry {
        emit_created(&*inner.telemetry, retry);
    }
    remove_work_dir(&work_dir).await;
    let preserved = preserved?;
    inner
        .telemetry
        .event(&PhaseEvent::of(&preserved, inner.clock.now()));
    Ok(())
}

fn launch_spec(job: &Job, executor_id: &str, work_dir: PathBuf) -> LaunchSpec {
    let mut spec = LaunchSpec::new(job.spec.program.clone(), job.spec.args.clone(), work_dir);
    spec.job_id = job.id;
    spec.lease_token = job.lease_token;
    spec.runtemplate_id = job.runtemplate_id;
    spec.company_id = job.company_id;
    spec.app_id = job.app_id;
    spec.executor_id = executor_id.to_string();
    spec.env = job
        .spec
        .env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    spec.env
        .push(("MULTIFLEXI_JOB_ID".into(), job.id.to_string()));
    spec.image = job.spec.image.clone();
    spec.timeout = job.spec.timeout.map(|s| Duration::from_secs(u64::from(s)));
    spec.memory_limit_mb = job.spec.memory_limit_mb;
    spec.artifacts = job.spec.artifacts.clone();
    spec.timezone = job.spec.timezone.clone();
    spec.retry_of = job.retry_of;
    spec
}
