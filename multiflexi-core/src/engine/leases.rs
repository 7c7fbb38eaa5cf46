//! The leases a dispatcher holds, each with a local deadline, and the two tasks that keep
//! them honest: heartbeats, and the watchdog that stops a job before its lease can run out.
//!
//! # The lease rule
//!
//! The store's clock decides when a lease expires: a claim or heartbeat sets the expiry to
//! the database's now (when the statement runs) + TTL. The executor cannot see that clock,
//! so it keeps its own, conservative deadline per lease on its monotonic clock:
//!
//! ```text
//! stop_at = (instant the claim or the last heartbeat that succeeded was SENT) + TTL − margin
//! ```
//!
//! The statement runs after it was sent, so the store's expiry is never earlier than
//! `sent + TTL` as long as both clocks run at the same rate. Past `stop_at` the dispatcher
//! never launches the job, and by `stop_at` it has killed it (at once: SIGKILL, `docker
//! kill`, a zero grace period), so another executor that recovers the lease after it expired
//! can only see a job whose process is gone. The margin covers the kill itself and a
//! difference in clock *rate* between the executor and the database (a few parts per
//! million on any working machine; not the clock offset, which does not matter). Heartbeats
//! run every TTL/5 and, after a failure, every half second: a fault shorter than
//! TTL − margin − TTL/5 never stops a job.

use crate::ids::JobId;
use crate::model::{ExecutorKind, Job};
use crate::store::{HeartbeatStatus, LeaseRef, Store};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Why the engine stopped a job it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// An operator asked to cancel it (the heartbeat said so), or the daemon is aborting.
    Cancelled,
    /// The store says the lease is gone (recovered, or the token moved on).
    LeaseLost,
    /// No heartbeat landed in time: the local deadline is here.
    LeaseExpiring,
    /// The daemon is draining and the job never started: it goes back to the queue.
    Draining,
}

impl StopReason {
    /// Whether the job must die at once (its lease is gone or about to be).
    pub(crate) fn is_lease(self) -> bool {
        matches!(self, StopReason::LeaseLost | StopReason::LeaseExpiring)
    }
}

/// Where a held job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Claimed, waiting for a slot.
    Waiting,
    /// Its executor runs it.
    Launched,
    /// Its executor returned; its end is being stored.
    Ended,
}

#[derive(Debug)]
struct Held {
    lease: LeaseRef,
    kind: ExecutorKind,
    cancel: CancellationToken,
    reason: Option<StopReason>,
    stop_at: Instant,
    stage: Stage,
}

/// The leases one dispatcher holds.
#[derive(Debug)]
pub(crate) struct Leases {
    held: Mutex<HashMap<LeaseRef, Held>>,
    ttl: Duration,
    margin: Duration,
    /// Wakes the heartbeats at once: a lease arrived with little time left.
    urgent: tokio::sync::Notify,
}

impl Leases {
    pub(crate) fn new(ttl: Duration, margin: Duration) -> Self {
        Self {
            held: Mutex::new(HashMap::new()),
            ttl,
            margin,
            urgent: tokio::sync::Notify::new(),
        }
    }

    /// The local deadline of a lease whose claim or heartbeat was sent at `sent`.
    fn deadline(&self, sent: Instant) -> Instant {
        sent + self.ttl.saturating_sub(self.margin)
    }

    /// How often heartbeats go out.
    pub(crate) fn heartbeat_period(&self) -> Duration {
        (self.ttl / 5).max(Duration::from_millis(10))
    }

    /// Starts holding a job claimed by a claim sent at `sent`; its cancel token.
    pub(crate) fn hold(&self, job: &Job, sent: Instant) -> CancellationToken {
        let cancel = CancellationToken::new();
        let stop_at = self.deadline(sent);
        if stop_at.saturating_duration_since(Instant::now()) < self.heartbeat_period() * 2 {
            // The claim took most of the lease: renew it now rather than at the next tick.
            self.urgent.notify_one();
        }
        self.held.lock().unwrap().insert(
            LeaseRef::of(job),
            Held {
                lease: LeaseRef::of(job),
                kind: job.executor,
                cancel: cancel.clone(),
                reason: None,
                stop_at,
                stage: Stage::Waiting,
            },
        );
        cancel
    }

    /// Holds a job whose process already ended (a finish replayed from the spool), so that
    /// heartbeats keep its lease while its end is stored.
    pub(crate) fn hold_ended(&self, lease: LeaseRef, kind: ExecutorKind) {
        self.held.lock().unwrap().insert(
            lease,
            Held {
                lease,
                kind,
                cancel: CancellationToken::new(),
                reason: None,
                stop_at: self.deadline(Instant::now()),
                stage: Stage::Ended,
            },
        );
    }

    /// Stops holding a job.
    pub(crate) fn forget(&self, lease: LeaseRef) {
        self.held.lock().unwrap().remove(&lease);
    }

    /// Why the job was stopped, if it was.
    pub(crate) fn reason(&self, lease: LeaseRef) -> Option<StopReason> {
        self.held.lock().unwrap().get(&lease).and_then(|h| h.reason)
    }

    /// Stops a job (the first reason wins); whether it is held.
    pub(crate) fn stop(&self, lease: LeaseRef, reason: StopReason) -> bool {
        let mut held = self.held.lock().unwrap();
        let Some(h) = held.get_mut(&lease) else {
            return false;
        };
        h.reason.get_or_insert(reason);
        h.cancel.cancel();
        true
    }

    /// A waiting job may start: `Ok` when it was not stopped and its deadline is ahead (it
    /// is then Launched), else why not.
    pub(crate) fn start_launch(&self, lease: LeaseRef) -> Result<(), StopReason> {
        let mut held = self.held.lock().unwrap();
        let Some(h) = held.get_mut(&lease) else {
            return Err(StopReason::LeaseLost);
        };
        if let Some(reason) = h.reason {
            return Err(reason);
        }
        if Instant::now() >= h.stop_at {
            h.reason = Some(StopReason::LeaseExpiring);
            return Err(StopReason::LeaseExpiring);
        }
        h.stage = Stage::Launched;
        Ok(())
    }

    /// The job's executor returned: the watchdog leaves it alone (nothing runs to stop), the
    /// heartbeats keep its lease while its end is stored.
    pub(crate) fn ended(&self, lease: LeaseRef) {
        if let Some(h) = self.held.lock().unwrap().get_mut(&lease) {
            h.stage = Stage::Ended;
        }
    }

    /// Every lease held.
    pub(crate) fn leases(&self) -> Vec<LeaseRef> {
        self.held
            .lock()
            .unwrap()
            .values()
            .map(|h| h.lease)
            .collect()
    }

    /// Whether this dispatcher holds `job_id` under `lease_token`.
    pub(crate) fn holds(&self, job_id: JobId, lease_token: i64) -> bool {
        self.held.lock().unwrap().contains_key(&LeaseRef {
            job_id,
            lease_token,
        })
    }

    /// How many jobs it holds.
    pub(crate) fn len(&self) -> usize {
        self.held.lock().unwrap().len()
    }

    /// How many held jobs of `kind` are waiting or running.
    pub(crate) fn active_of(&self, kind: ExecutorKind) -> usize {
        self.held
            .lock()
            .unwrap()
            .values()
            .filter(|h| h.kind == kind && h.stage != Stage::Ended)
            .count()
    }

    /// What a heartbeat sent at `sent` learned.
    fn renew(&self, sent: Instant, leases: &[LeaseRef], statuses: &[HeartbeatStatus]) {
        let stop_at = self.deadline(sent);
        let mut held = self.held.lock().unwrap();
        for (lease, status) in leases.iter().zip(statuses) {
            let Some(h) = held.get_mut(lease) else {
                continue;
            };
            let reason = match status {
                HeartbeatStatus::Ok => None,
                HeartbeatStatus::CancelRequested => Some(StopReason::Cancelled),
                HeartbeatStatus::Lost => Some(StopReason::LeaseLost),
            };
            if reason != Some(StopReason::LeaseLost) && h.stop_at < stop_at {
                h.stop_at = stop_at;
            }
            if let Some(reason) = reason {
                h.reason.get_or_insert(reason);
                h.cancel.cancel();
            }
        }
    }

    /// Stops every waiting or running job whose deadline is here; the next deadline.
    fn expire_due(&self, now: Instant) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        for (lease, h) in self.held.lock().unwrap().iter_mut() {
            if h.stage == Stage::Ended || h.reason.is_some_and(StopReason::is_lease) {
                continue;
            }
            if now >= h.stop_at {
                tracing::warn!(
                    job_id = lease.job_id.get(),
                    "no heartbeat landed within the lease: stopping the job before its lease can expire"
                );
                h.reason = Some(StopReason::LeaseExpiring);
                h.cancel.cancel();
            } else {
                next = Some(next.map_or(h.stop_at, |n| n.min(h.stop_at)));
            }
        }
        next
    }

    /// Drain: every job that has not started goes back to the queue.
    pub(crate) fn drain(&self) {
        for h in self.held.lock().unwrap().values_mut() {
            if h.stage == Stage::Waiting {
                h.reason.get_or_insert(StopReason::Draining);
                h.cancel.cancel();
            }
        }
    }

    /// Abort: running jobs are cancelled, waiting ones go back to the queue.
    pub(crate) fn abort(&self) {
        for h in self.held.lock().unwrap().values_mut() {
            match h.stage {
                Stage::Waiting => {
                    h.reason.get_or_insert(StopReason::Draining);
                }
                Stage::Launched => {
                    h.reason.get_or_insert(StopReason::Cancelled);
                }
                Stage::Ended => continue,
            }
            h.cancel.cancel();
        }
    }
}

/// Heartbeats in flight at most: a slow one is never abandoned (dropping a statement half-way
/// helps nobody), but the next ones do not wait for it.
const MAX_HEARTBEATS_IN_FLIGHT: usize = 3;

/// Sends heartbeats for every held lease: every TTL/5, at once when a new lease arrives with
/// little time left (its claim was slow), and half a second after one failed. Each heartbeat
/// runs to its end in its own task; one that succeeds renews the deadlines from the instant it
/// was sent.
pub(crate) async fn heartbeats(leases: std::sync::Arc<Leases>, store: std::sync::Arc<dyn Store>) {
    let period = leases.heartbeat_period();
    let retry = period.min(Duration::from_millis(500));
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<bool>();
    let mut in_flight = 0usize;
    let mut next = Instant::now() + period;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            () = leases.urgent.notified() => {}
            Some(ok) = done_rx.recv() => {
                in_flight -= 1;
                if !ok {
                    next = next.min(Instant::now() + retry);
                }
                continue;
            }
        }
        let held = leases.leases();
        if held.is_empty() || in_flight >= MAX_HEARTBEATS_IN_FLIGHT {
            next = Instant::now() + if held.is_empty() { period } else { retry };
            continue;
        }
        in_flight += 1;
        next = Instant::now() + period;
        let (leases, store, done) = (leases.clone(), store.clone(), done_tx.clone());
        tokio::spawn(async move {
            let sent = Instant::now();
            let ok = match store.heartbeat(&held, leases.ttl).await {
                Ok(statuses) => {
                    leases.renew(sent, &held, &statuses);
                    true
                }
                Err(e) => {
                    tracing::warn!("heartbeat failed (retrying): {e}");
                    false
                }
            };
            let _ = done.send(ok);
        });
    }
}

/// Stops jobs whose local deadline is here (see the module docs).
pub(crate) async fn watchdog(leases: std::sync::Arc<Leases>) {
    let period = leases.heartbeat_period();
    loop {
        let now = Instant::now();
        let next = leases
            .expire_due(now)
            .map_or(now + period, |n| n.min(now + period));
        tokio::time::sleep_until(next).await;
    }
}
