//! What one dispatcher run shares with its job tasks: the store, executors and options, the
//! leases it holds, its parallel slots and its counters. The claim loop
//! ([`super::dispatcher`]) and the job runner ([`super::job_runner`]) both read it; neither
//! imports the other's internals.

use super::breaker::Breakers;
use super::dispatcher_options::DispatcherOptions;
use super::leases::Leases;
use super::spool::Spool;
use crate::Clock;
use crate::artifact::ArtifactSink;
use crate::executor::Executor;
use crate::model::ExecutorKind;
use crate::store::Store;
use crate::telemetry::Telemetry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// A moving average of how long jobs hold their slot (µs; `u64::MAX` until the first one).
#[derive(Debug)]
pub(crate) struct SlotTime(AtomicU64);

impl SlotTime {
    pub(crate) fn new() -> Self {
        Self(AtomicU64::new(u64::MAX))
    }

    pub(crate) fn get(&self) -> Option<u64> {
        Some(self.0.load(Ordering::Relaxed)).filter(|&us| us != u64::MAX)
    }

    /// Folds one job's slot time in (weight 1/8).
    pub(crate) fn record(&self, took: Duration) {
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
    /// Times it woke because the store signalled new work or [`Dispatcher::notify`](super::Dispatcher::notify) was called.
    pub signal_wakeups: u64,
    /// Times it woke because a job that was created ahead of its time became due
    /// ([`JobQueue::next_due`](crate::store::JobQueue::next_due)).
    pub due_wakeups: u64,
    /// Jobs that reached Completed through this dispatcher.
    pub completed: u64,
    /// Jobs it abandoned because their lease was lost (or ran out locally).
    pub abandoned: u64,
    /// Claimed jobs it gave back to the queue (launch failed before start, or draining).
    pub released: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) claims: AtomicU64,
    pub(crate) claimed: AtomicU64,
    pub(crate) poll_wakeups: AtomicU64,
    pub(crate) signal_wakeups: AtomicU64,
    pub(crate) due_wakeups: AtomicU64,
    pub(crate) completed: AtomicU64,
    pub(crate) abandoned: AtomicU64,
    pub(crate) released: AtomicU64,
}

/// What one dispatcher run shares with its job tasks.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) artifacts: Arc<dyn ArtifactSink>,
    pub(crate) executors: HashMap<ExecutorKind, Arc<dyn Executor>>,
    /// The kinds whose executor runs jobs in a work directory ([`Capability::WorkDir`]), asked
    /// once here rather than per job.
    pub(crate) work_dir_kinds: HashSet<ExecutorKind>,
    pub(crate) telemetry: Arc<dyn Telemetry>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) options: DispatcherOptions,
    /// The leases it holds: claimed jobs, from the claim until their end is stored.
    pub(crate) leases: Arc<Leases>,
    /// Executor kinds whose launches keep failing before their program starts.
    pub(crate) breakers: Breakers,
    /// Where job ends wait while the store cannot take them.
    pub(crate) spool: Spool,
    /// Cancelled when the daemon aborts: pending finishes stop retrying (they stay spooled).
    pub(crate) stopping: CancellationToken,
    /// Jobs whose executor has not returned yet (what `max_parallel` limits); the others held
    /// are waiting for a slot or only storing their end.
    pub(crate) executing: AtomicUsize,
    /// Claimed jobs waiting for a slot (at most the claim-ahead depth beyond free slots).
    pub(crate) waiting: AtomicUsize,
    /// `max_parallel` permits: a job holds one while its executor runs.
    pub(crate) slots: Arc<Semaphore>,
    /// How long jobs held their slot lately (the adaptive claim-ahead depth).
    pub(crate) slot_time: SlotTime,
    pub(crate) wake: Notify,
    pub(crate) slot_freed: Notify,
    pub(crate) counters: Counters,
}

/// A job's parallel slot: freed (and the loop told) when dropped, once the executor returned.
pub(crate) struct Slot {
    pub(crate) inner: Arc<Inner>,
    pub(crate) since: std::time::Instant,
    pub(crate) _permit: OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.inner.slot_time.record(self.since.elapsed());
        self.inner.executing.fetch_sub(1, Ordering::AcqRel);
        self.inner.slot_freed.notify_one();
    }
}
