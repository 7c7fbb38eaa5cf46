//! Keeps up to `max_parallel` jobs running: claims, launches, heartbeats, completes, preserves.

use super::breaker::{Allowance, BreakerState, Breakers};
pub use super::dispatch_state::DispatcherStats;
use super::dispatch_state::{Counters, Inner, Slot, SlotTime};
pub use super::dispatcher_options::{
    DEFAULT_MAX_LAUNCH_FAILURES, DispatcherOptions, SHORT_JOB, SHORT_JOB_AHEAD,
};
use super::job_runner::{report_finished, run_job, store_finish};
use super::job_writes::{JobWrites, job_writes};
use super::leases::{Leases, heartbeats, watchdog};
use super::reaper::{reap_once, reap_periodically};
use super::shutdown::Shutdown;
use super::spool::Spool;
use super::throttle::process_rss_mb;
use crate::artifact::ArtifactSink;
use crate::executor::{Capability, Executor};
use crate::model::{ExecutorKind, Job};
use crate::store::{ClaimOptions, LeaseRef, Store};
use crate::telemetry::{PhaseEvent, Telemetry};
use crate::{Clock, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How soon a short claim that left a due job behind looks again (that job was held by another
/// claim, which usually takes it).
const DUE_RECHECK: Duration = Duration::from_secs(1);

/// What one claim pass found.
enum ClaimPass {
    /// It got every job it asked for: more may be due.
    Full,
    /// It got fewer; the earliest job of its kinds still waiting is due after `next_due`.
    Short { next_due: Option<Duration> },
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
        let work_dir_kinds = executors
            .iter()
            .filter(|e| e.capabilities().has(Capability::WorkDir))
            .map(|e| e.kind())
            .collect();
        let executors = executors.into_iter().map(|e| (e.kind(), e)).collect();
        let slots = Arc::new(Semaphore::new(options.max_parallel.max(1)));
        let leases = Arc::new(Leases::new(options.lease_ttl, options.margin()));
        let spool = Spool::new(
            options
                .spool_dir
                .as_ref()
                .map(|d| d.join(safe_dir_name(&options.executor_id))),
            options.spool_max_bytes,
        );
        Self {
            inner: Arc::new(Inner {
                store,
                artifacts,
                executors,
                work_dir_kinds,
                telemetry,
                clock,
                options,
                leases,
                breakers: Breakers::default(),
                spool,
                stopping: CancellationToken::new(),
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

    /// Wakes the loop at once. Only for a store without a work signal
    /// ([`JobQueue::work_signal`](crate::store::JobQueue::work_signal) returns `None`): a store
    /// that offers one (the SQL store, the in-memory store) wakes the dispatcher itself whenever
    /// a job is created or re-queued, in this process or (PostgreSQL) another, and that is the
    /// one wake-up path to use.
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
            due_wakeups: c.due_wakeups.load(Ordering::Relaxed),
            completed: c.completed.load(Ordering::Relaxed),
            abandoned: c.abandoned.load(Ordering::Relaxed),
            released: c.released.load(Ordering::Relaxed),
        }
    }

    /// Jobs this dispatcher holds now: claimed and waiting for a slot, running, or storing
    /// their end.
    pub fn running(&self) -> usize {
        self.inner.leases.len()
    }

    /// The circuit breaker of each executor kind it runs (open: no job of that kind is claimed
    /// now, because launches kept failing before their program started).
    pub fn breakers(&self) -> Vec<BreakerState> {
        let mut kinds: Vec<ExecutorKind> = self.inner.executors.keys().copied().collect();
        kinds.sort();
        self.inner.breakers.states(&kinds)
    }

    /// Replays job ends left in the spool, reaps what no live lease covers (a previous
    /// incarnation's containers among them), then runs until `shutdown` drains (claimed jobs
    /// that never started go back to the queue, running jobs finish) or aborts (running jobs
    /// are cancelled).
    pub async fn run(&self, shutdown: Shutdown) -> Result<()> {
        let inner = &self.inner;
        let mut kinds: Vec<ExecutorKind> = inner.executors.keys().copied().collect();
        kinds.sort();
        let executors: Vec<Arc<dyn Executor>> = inner.executors.values().cloned().collect();
        for executor in &executors {
            let pass = reap_once(
                &**executor,
                &*inner.store,
                &inner.leases,
                &inner.options.executor_id,
            );
            match tokio::time::timeout(Duration::from_secs(30), pass).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(executor = %executor.kind(), "reap failed: {e}"),
                Err(_) => {
                    tracing::warn!(executor = %executor.kind(), "reap did not finish in 30 s")
                }
            }
        }
        for &kind in &kinds {
            inner.telemetry.executor_breaker(kind, false);
        }
        let writes = Arc::new(job_writes(
            &inner.store,
            &inner.artifacts,
            inner
                .options
                .writes_in_flight
                .unwrap_or_else(|| inner.store.parallel_writes())
                .max(1),
        ));
        if let Err(e) = std::fs::create_dir_all(&inner.options.work_root) {
            tracing::warn!("cannot create {}: {e}", inner.options.work_root.display());
        }
        let mut signal = inner.store.work_signal();
        let mut tasks = JoinSet::new();
        self.replay_spool(&mut tasks, &writes, kinds.first().copied());
        let background = [
            tokio::spawn(heartbeats(inner.leases.clone(), inner.store.clone())),
            tokio::spawn(watchdog(inner.leases.clone())),
            tokio::spawn({
                let every = inner
                    .options
                    .reap_interval
                    .unwrap_or(inner.options.poll_interval);
                let reap = reap_periodically(
                    executors,
                    inner.store.clone(),
                    inner.leases.clone(),
                    inner.options.executor_id.clone(),
                    every,
                );
                async move {
                    tokio::time::sleep(every).await;
                    reap.await
                }
            }),
        ];
        let mut poll = tokio::time::interval(inner.options.poll_interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        poll.tick().await;
        // Whether the last claim filled every slot it asked for: due work is waiting.
        let mut backlog = false;
        // When the earliest job the last short claim left waiting becomes due.
        let mut due_at: Option<tokio::time::Instant> = None;
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
                due_at = None;
                match self.claim(&mut tasks, &writes, &kinds, free).await {
                    Ok(ClaimPass::Short { next_due }) => {
                        backlog = false;
                        // A job due later wakes the loop then; one due already that this
                        // claim did not get (another claim held it) is looked at again shortly.
                        // The poll still bounds the wait.
                        due_at = next_due
                            .map(|d| if d.is_zero() { DUE_RECHECK } else { d })
                            .filter(|d| *d < inner.options.poll_interval)
                            .map(|d| tokio::time::Instant::now() + d);
                    }
                    Ok(ClaimPass::Full) => {
                        backlog = true;
                        // There may be more due work: claim again once a slot frees.
                        tokio::select! {
                            _ = inner.slot_freed.notified() => {
                                settle().await;
                                continue;
                            }
                            _ = shutdown.draining() => break,
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
                _ = tokio::time::sleep_until(due_at.unwrap_or_else(tokio::time::Instant::now)), if due_at.is_some() => {
                    due_at = None;
                    inner.counters.due_wakeups.fetch_add(1, Ordering::Relaxed);
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
        // Drain: claimed jobs that never started go back to the queue at once; running jobs
        // finish, or are cancelled when aborting.
        inner.leases.drain();
        let abort_watch = {
            let inner = self.inner.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                shutdown.aborting().await;
                inner.leases.abort();
                inner.stopping.cancel();
            })
        };
        while tasks.join_next().await.is_some() {}
        drop(writes);
        abort_watch.abort();
        for task in background {
            task.abort();
        }
        Ok(())
    }

    /// Claims up to `free` due jobs of the kinds whose breaker lets them through (one job of a
    /// kind whose breaker is half-open), holds them and starts their tasks; whether the claim
    /// of the closed kinds came back full, and if not, when the next job of the kinds asked
    /// for becomes due.
    async fn claim(
        &self,
        tasks: &mut JoinSet<()>,
        writes: &Arc<JobWrites>,
        kinds: &[ExecutorKind],
        free: usize,
    ) -> Result<ClaimPass> {
        let inner = &self.inner;
        let mut any = Vec::new();
        let mut probes = Vec::new();
        for &kind in kinds {
            match inner.breakers.allowance(kind) {
                Allowance::Any => any.push(kind),
                Allowance::One if inner.leases.active_of(kind) == 0 => probes.push(kind),
                Allowance::One | Allowance::None => {}
            }
        }
        let mut full = false;
        let mut rounds: Vec<(Vec<ExecutorKind>, usize)> = Vec::new();
        if !any.is_empty() {
            rounds.push((any, free));
        }
        rounds.extend(probes.into_iter().map(|k| (vec![k], 1)));
        let mut left = free;
        let mut asked = Vec::new();
        for (i, (kinds, limit)) in rounds.into_iter().enumerate() {
            let limit = limit.min(left);
            if limit == 0 {
                break;
            }
            asked.extend(kinds.iter().copied());
            let options = ClaimOptions::new(inner.options.executor_id.clone(), kinds, limit)
                .with_lease_ttl(inner.options.lease_ttl);
            inner.counters.claims.fetch_add(1, Ordering::Relaxed);
            let sent = tokio::time::Instant::now();
            let jobs = inner.store.claim(&options).await?;
            if i == 0 {
                full = jobs.len() == limit;
            }
            left -= jobs.len();
            inner
                .counters
                .claimed
                .fetch_add(jobs.len() as u64, Ordering::Relaxed);
            for job in jobs {
                self.spawn_job(tasks, writes, job, sent);
            }
        }
        if full {
            return Ok(ClaimPass::Full);
        }
        let next_due = if asked.is_empty() {
            None
        } else {
            // Not knowing only costs the wait until the next poll.
            inner.store.next_due(&asked).await.unwrap_or_else(|e| {
                tracing::debug!("next due job unknown: {e}");
                None
            })
        };
        Ok(ClaimPass::Short { next_due })
    }

    /// Stores the job ends a previous run left in the spool (their leases are held meanwhile,
    /// so heartbeats keep them from being recovered).
    fn replay_spool(
        &self,
        tasks: &mut JoinSet<()>,
        writes: &Arc<JobWrites>,
        kind: Option<ExecutorKind>,
    ) {
        let Some(kind) = kind else { return };
        for (finish, spooled) in self.inner.spool.pending() {
            let lease = finish.completion.lease;
            tracing::info!(
                job_id = lease.job_id.get(),
                "storing a job's end left in the spool"
            );
            self.inner.leases.hold_ended(lease, kind);
            let inner = self.inner.clone();
            let writes = writes.clone();
            tasks.spawn(async move {
                if let Some(finished) = store_finish(&inner, &writes, finish, Some(spooled)).await {
                    report_finished(&inner, &finished);
                }
                inner.leases.forget(lease);
            });
        }
    }

    /// Runs lease recovery once and reports retries it created.
    async fn recover(&self) -> Result<()> {
        super::recover_expired_leases(
            &*self.inner.store,
            &*self.inner.clock,
            &*self.inner.telemetry,
        )
        .await?;
        Ok(())
    }

    fn spawn_job(
        &self,
        tasks: &mut JoinSet<()>,
        writes: &Arc<JobWrites>,
        job: Job,
        sent: tokio::time::Instant,
    ) {
        let inner = self.inner.clone();
        let writes = writes.clone();
        let cancel = inner.leases.hold(&job, sent);
        inner
            .telemetry
            .event(&PhaseEvent::of(&job, inner.clock.now()));
        inner.waiting.fetch_add(1, Ordering::AcqRel);
        tasks.spawn(async move {
            let lease = LeaseRef::of(&job);
            // Wait for a slot (in claim order: the semaphore is fair), unless the job is
            // stopped first (cancelled, lease lost or running out, draining).
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
            run_job(&inner, &writes, job, cancel, slot).await;
            inner.leases.forget(lease);
            inner.slot_freed.notify_one();
        });
    }
}

/// A directory name for an executor id (anything but `[A-Za-z0-9._-]` becomes `_`).
fn safe_dir_name(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() || safe.starts_with('.') {
        format!("_{safe}")
    } else {
        safe
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
