//! The bounded background queue every I/O sink sits behind.
//!
//! [`BoundedQueue::push`] never waits: when the queue is full (the peer is dead, slow or
//! black-holed and the worker is stuck on it) the item is dropped and counted in
//! [`SinkStats::dropped`]. A worker task ([`spawn_worker`]) takes items in batches and hands
//! them to a [`BatchSink`], which does the I/O.

use super::{PhaseEvent, Telemetry};
use async_trait::async_trait;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What one sink did: items dropped because its queue was full, items delivered, items the peer
/// refused or that failed to send. Exposed by [`JobMetrics`](super::JobMetrics) as
/// `multiflexi_telemetry_{dropped,sent,failed}_total{sink="…"}`.
#[derive(Debug, Default)]
pub struct SinkStats {
    name: String,
    dropped: AtomicU64,
    sent: AtomicU64,
    failed: AtomicU64,
}

impl SinkStats {
    /// Counters for the sink called `name` (`zabbix`, `otlp-traces`…).
    pub fn new(name: impl Into<String>) -> Arc<Self> {
        Arc::new(Self {
            name: name.into(),
            ..Self::default()
        })
    }

    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Items dropped because the queue was full (or the worker had stopped).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Items delivered (accepted by the peer).
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Items that failed to send or that the peer refused.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Counts `n` dropped items.
    pub fn add_dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts `n` delivered items.
    pub fn add_sent(&self, n: u64) {
        self.sent.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts `n` failed items.
    pub fn add_failed(&self, n: u64) {
        self.failed.fetch_add(n, Ordering::Relaxed);
    }
}

enum Msg<T> {
    Item(T),
    Flush(oneshot::Sender<()>),
}

/// The sending side of a bounded queue. Cloning shares the queue.
pub struct BoundedQueue<T> {
    tx: mpsc::Sender<Msg<T>>,
    stats: Arc<SinkStats>,
}

impl<T> Clone for BoundedQueue<T> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            stats: self.stats.clone(),
        }
    }
}

impl<T> fmt::Debug for BoundedQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedQueue")
            .field("sink", &self.stats.name)
            .field("capacity", &self.tx.max_capacity())
            .field("free", &self.tx.capacity())
            .field("dropped", &self.stats.dropped())
            .finish()
    }
}

impl<T: Send + 'static> BoundedQueue<T> {
    /// A queue holding at most `capacity` items (at least 1), counting into `stats`.
    pub fn new(stats: Arc<SinkStats>, capacity: usize) -> (Self, QueueReceiver<T>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Self { tx, stats }, QueueReceiver { rx })
    }

    /// Enqueues `item` without waiting; when the queue is full or closed the item is dropped,
    /// counted, and `false` returned.
    pub fn push(&self, item: T) -> bool {
        match self.tx.try_send(Msg::Item(item)) {
            Ok(()) => true,
            Err(_) => {
                self.stats.add_dropped(1);
                false
            }
        }
    }

    /// The sink's counters.
    pub fn stats(&self) -> &Arc<SinkStats> {
        &self.stats
    }

    /// Waits until the worker has handled everything pushed before this call (it waits for
    /// room in the queue, so a stuck worker makes it wait: bound it with a timeout). `false` if
    /// the worker has stopped.
    pub async fn flush(&self) -> bool {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).await.is_err() {
            return false;
        }
        rx.await.is_ok()
    }
}

/// The receiving side of a bounded queue.
#[derive(Debug)]
pub struct QueueReceiver<T> {
    rx: mpsc::Receiver<Msg<T>>,
}

impl<T> fmt::Debug for Msg<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Msg::Item(_) => f.write_str("Item"),
            Msg::Flush(_) => f.write_str("Flush"),
        }
    }
}

/// Flush requests to acknowledge once the batch they follow has been handled (on drop).
#[derive(Debug, Default)]
pub struct Acks(Vec<oneshot::Sender<()>>);

impl Drop for Acks {
    fn drop(&mut self) {
        for tx in self.0.drain(..) {
            let _ = tx.send(());
        }
    }
}

impl<T> QueueReceiver<T> {
    /// Waits for the next item, then takes up to `max - 1` more that are already queued.
    /// A flush request ends the batch; it is acknowledged when the returned [`Acks`] is dropped
    /// (after the batch has been handled). `None` once every sender is gone.
    pub async fn next_batch(&mut self, max: usize) -> Option<(Vec<T>, Acks)> {
        let first = self.rx.recv().await?;
        let mut items = Vec::new();
        let mut acks = Acks::default();
        match first {
            Msg::Item(i) => items.push(i),
            Msg::Flush(tx) => {
                acks.0.push(tx);
                return Some((items, acks));
            }
        }
        while items.len() < max.max(1) {
            match self.rx.try_recv() {
                Ok(Msg::Item(i)) => items.push(i),
                Ok(Msg::Flush(tx)) => {
                    acks.0.push(tx);
                    break;
                }
                Err(_) => break,
            }
        }
        Some((items, acks))
    }

    /// Takes everything queued now, without waiting (shutdown).
    pub fn drain_now(&mut self) -> (Vec<T>, Acks) {
        let mut items = Vec::new();
        let mut acks = Acks::default();
        while let Ok(m) = self.rx.try_recv() {
            match m {
                Msg::Item(i) => items.push(i),
                Msg::Flush(tx) => acks.0.push(tx),
            }
        }
        (items, acks)
    }
}

/// The I/O side of a queued sink: handles batches on the worker task.
#[async_trait]
pub trait BatchSink<T>: Send + 'static {
    /// Handles one batch (sends it). Errors are the sink's to count ([`SinkStats`]) and log;
    /// the worker goes on with the next batch.
    async fn handle(&mut self, batch: Vec<T>);

    /// How often [`tick`](Self::tick) runs while idle (None: never).
    fn tick_interval(&self) -> Option<Duration> {
        None
    }

    /// Periodic work (expiring held state).
    async fn tick(&mut self) {}

    /// Called once when the worker stops after draining (flush held state).
    async fn close(&mut self) {}
}

/// A running worker: stop it with [`shutdown`](Self::shutdown).
#[derive(Debug)]
pub struct WorkerHandle {
    stop: CancellationToken,
    join: JoinHandle<()>,
}

impl WorkerHandle {
    /// Asks the worker to handle what is queued now and stop; waits at most `timeout`, then
    /// aborts it (a worker stuck on a dead peer). Returns whether it stopped by itself.
    pub async fn shutdown(self, timeout: Duration) -> bool {
        self.stop.cancel();
        let abort = self.join.abort_handle();
        match tokio::time::timeout(timeout, self.join).await {
            Ok(_) => true,
            Err(_) => {
                abort.abort();
                false
            }
        }
    }
}

/// Spawns the worker task (on the current Tokio runtime) that feeds `sink` batches of at most
/// `max_batch` items.
///
/// # Panics
/// Outside a Tokio runtime.
pub fn spawn_worker<T, S>(mut rx: QueueReceiver<T>, mut sink: S, max_batch: usize) -> WorkerHandle
where
    T: Send + 'static,
    S: BatchSink<T>,
{
    let stop = CancellationToken::new();
    let token = stop.clone();
    let join = tokio::spawn(async move {
        let mut tick = sink.tick_interval().map(|p| {
            let mut i = tokio::time::interval(p);
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            i
        });
        loop {
            let ticked = async {
                match tick.as_mut() {
                    Some(i) => {
                        i.tick().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                biased;
                _ = token.cancelled() => break,
                next = rx.next_batch(max_batch) => match next {
                    Some((batch, acks)) => {
                        if !batch.is_empty() {
                            sink.handle(batch).await;
                        }
                        drop(acks);
                    }
                    None => break,
                },
                _ = ticked => sink.tick().await,
            }
        }
        let (mut rest, acks) = rx.drain_now();
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(max_batch.max(1)));
            sink.handle(rest).await;
            rest = tail;
        }
        sink.close().await;
        drop(acks);
    });
    WorkerHandle { stop, join }
}

/// A [`Telemetry`] sink that queues each event for a [`BatchSink`] of phase events: the
/// building block of every I/O sink ([`ZabbixTelemetry`](super::ZabbixTelemetry), the OTLP sink
/// in `multiflexi-bin`).
pub struct QueuedTelemetry {
    queue: BoundedQueue<PhaseEvent>,
    worker: Mutex<Option<WorkerHandle>>,
}

impl fmt::Debug for QueuedTelemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueuedTelemetry")
            .field("queue", &self.queue)
            .finish()
    }
}

impl QueuedTelemetry {
    /// Spawns the worker for `sink` behind a queue of `capacity` events, counting into `stats`.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn spawn<S: BatchSink<PhaseEvent>>(
        stats: Arc<SinkStats>,
        capacity: usize,
        max_batch: usize,
        sink: S,
    ) -> Self {
        let (queue, rx) = BoundedQueue::new(stats, capacity);
        let worker = spawn_worker(rx, sink, max_batch);
        Self {
            queue,
            worker: Mutex::new(Some(worker)),
        }
    }

    /// The sink's counters.
    pub fn stats(&self) -> &Arc<SinkStats> {
        self.queue.stats()
    }

    /// Waits until everything queued so far has been handled (bound it with a timeout).
    pub async fn flush(&self) -> bool {
        self.queue.flush().await
    }

    /// Stops the worker: handles what is queued (and flushes held state), waiting at most
    /// `timeout`. Later events are dropped and counted.
    pub async fn shutdown(&self, timeout: Duration) -> bool {
        let worker = self.worker.lock().unwrap().take();
        match worker {
            Some(w) => w.shutdown(timeout).await,
            None => true,
        }
    }
}

impl Telemetry for QueuedTelemetry {
    fn event(&self, event: &PhaseEvent) {
        self.queue.push(event.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Collect(Arc<Mutex<Vec<u32>>>, Option<Arc<tokio::sync::Notify>>);

    #[async_trait]
    impl BatchSink<u32> for Collect {
        async fn handle(&mut self, batch: Vec<u32>) {
            if let Some(gate) = &self.1 {
                gate.notified().await;
            }
            self.0.lock().unwrap().extend(batch);
        }
    }

    #[tokio::test]
    async fn delivers_in_order_and_flushes() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (q, rx) = BoundedQueue::new(SinkStats::new("t"), 1000);
        let w = spawn_worker(rx, Collect(seen.clone(), None), 7);
        for i in 0..100 {
            assert!(q.push(i));
        }
        assert!(q.flush().await);
        assert_eq!(*seen.lock().unwrap(), (0..100).collect::<Vec<_>>());
        assert_eq!(q.stats().dropped(), 0);
        assert!(w.shutdown(Duration::from_secs(5)).await);
    }

    #[tokio::test]
    async fn a_stuck_worker_drops_and_counts_never_waits() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(tokio::sync::Notify::new());
        let (q, rx) = BoundedQueue::new(SinkStats::new("stuck"), 4);
        let w = spawn_worker(rx, Collect(seen.clone(), Some(gate.clone())), 2);
        let mut accepted = 0;
        for i in 0..1000 {
            if q.push(i) {
                accepted += 1;
            }
        }
        // Capacity 4 plus at most one batch of 2 taken by the stuck worker.
        assert!(accepted <= 6, "{accepted}");
        assert_eq!(q.stats().dropped(), 1000 - accepted);
        // A stuck worker is aborted by shutdown.
        assert!(!w.shutdown(Duration::from_millis(50)).await);
    }
}
