//! [`Batcher`]: one kind of store write from many jobs, handed to the store together.

use crate::Error;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;

/// A write that did not land: why, and the item back (for a retry), when it came back.
#[derive(Debug)]
pub(crate) struct Failed<T> {
    /// What went wrong.
    pub error: Error,
    /// The write, when the flush handed it back.
    pub item: Option<Box<T>>,
}

impl<T> Failed<T> {
    /// A failure without the item (the batcher stopped, or the store lost it).
    pub(crate) fn lost(error: Error) -> Self {
        Self { error, item: None }
    }
}

/// What one write of a batch came to.
pub(crate) type Outcome<R, T> = Result<R, Failed<T>>;

type Reply<R, T> = oneshot::Sender<Outcome<R, T>>;

/// Collects one kind of store write from many jobs and hands whatever is ready to one flush
/// (one transaction where the store can): a request alone is flushed at once (no waiting for
/// company), requests that arrive while `in_flight` flushes are running go together in the
/// next one. The flush answers every item on its own, so one item's failure never fails the
/// others. An item's reply comes when its own flush ends, so a job never submits its next
/// write before the previous one landed (its writes never overtake each other).
#[derive(Debug)]
pub(crate) struct Batcher<T, R> {
    tx: mpsc::UnboundedSender<(T, Reply<R, T>)>,
}

impl<T: Send + 'static, R: Send + 'static> Batcher<T, R> {
    /// Spawns the flushing task; it ends when the last handle is dropped (after the flushes
    /// in flight). `flush` returns one outcome per item, in order; at most `in_flight` flushes
    /// run at once.
    pub(crate) fn spawn<F, Fut>(max: usize, in_flight: usize, flush: F) -> Self
    where
        F: Fn(Vec<T>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<Outcome<R, T>>> + Send + 'static,
    {
        let (tx, mut rx) = mpsc::unbounded_channel::<(T, Reply<R, T>)>();
        let max = max.max(1);
        let slots = Arc::new(Semaphore::new(in_flight.max(1)));
        tokio::spawn(async move {
            let mut flushes = JoinSet::new();
            while let Some((item, reply)) = rx.recv().await {
                let mut items = vec![item];
                let mut replies = vec![reply];
                // Every slot busy: what arrives meanwhile joins this batch.
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    break;
                };
                // Jobs claimed together (or answered together by the flush that just ended)
                // get here together: give the ones already woken a scheduler pass to join (no
                // timer, so a job alone is not held back).
                for _ in 0..3 {
                    take_ready(&mut rx, &mut items, &mut replies, max);
                    tokio::task::yield_now().await;
                }
                take_ready(&mut rx, &mut items, &mut replies, max);
                let written = flush(items);
                flushes.spawn(async move {
                    let mut results = written.await.into_iter();
                    for reply in replies {
                        let r = results.next().unwrap_or_else(|| {
                            Err(Failed::lost(Error::conflict(
                                "the store returned fewer results than requests",
                            )))
                        });
                        let _ = reply.send(r);
                    }
                    // The slot frees after the answers, so the jobs they wake can join the
                    // next batch.
                    drop(slot);
                });
                while flushes.try_join_next().is_some() {}
            }
            while flushes.join_next().await.is_some() {}
        });
        Self { tx }
    }

    /// Queues `item` for the next flush and waits for its outcome.
    pub(crate) async fn submit(&self, item: T) -> Outcome<R, T> {
        match self.enqueue(item) {
            Ok(pending) => pending.await,
            Err(failed) => Err(failed),
        }
    }

    /// Queues `item` for the next flush; the returned future resolves to its outcome.
    pub(crate) fn enqueue(
        &self,
        item: T,
    ) -> Result<impl Future<Output = Outcome<R, T>> + use<T, R>, Failed<T>> {
        let (reply, rx) = oneshot::channel();
        self.tx.send((item, reply)).map_err(|e| Failed {
            error: stopped(),
            item: Some(Box::new(e.0.0)),
        })?;
        Ok(async move { rx.await.unwrap_or_else(|_| Err(Failed::lost(stopped()))) })
    }
}

/// Moves what is already queued into the batch, up to `max` items.
fn take_ready<T, R>(
    rx: &mut mpsc::UnboundedReceiver<(T, Reply<R, T>)>,
    items: &mut Vec<T>,
    replies: &mut Vec<Reply<R, T>>,
    max: usize,
) {
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

fn stopped() -> Error {
    Error::backend("store", true, "the dispatcher's store batcher stopped")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// A batcher of `in_flight` slots, batches of one, whose flush answers `item * 10` after
    /// waiting (at most 0.2 s) until `peak_wanted` flushes have run at once; returns it and the
    /// peak of flushes seen running at once.
    fn counting(in_flight: usize, peak_wanted: usize) -> (Batcher<u32, u32>, Arc<AtomicUsize>) {
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let batcher = Batcher::spawn(1, in_flight, {
            let peak = peak.clone();
            move |items: Vec<u32>| {
                let (running, peak) = (running.clone(), peak.clone());
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    for _ in 0..40 {
                        if peak.load(Ordering::SeqCst) >= peak_wanted {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    running.fetch_sub(1, Ordering::SeqCst);
                    items.into_iter().map(|i| Ok(i * 10)).collect()
                }
            }
        });
        (batcher, peak)
    }

    /// With two flushes allowed in flight, a flush that waits for a second one to start does
    /// not block it; every item gets its own answer.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn flushes_overlap_up_to_the_limit_and_answer_each_item() {
        let (batcher, peak) = counting(2, 2);
        let (a, b, c) = tokio::join!(batcher.submit(1), batcher.submit(2), batcher.submit(3));
        assert_eq!((a.unwrap(), b.unwrap(), c.unwrap()), (10, 20, 30));
        assert_eq!(peak.load(Ordering::SeqCst), 2, "two flushes ran at once");
    }

    /// With one flush in flight, flushes never overlap (each waits a little for a second one
    /// that must not come).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_in_flight_never_overlaps() {
        let (batcher, peak) = counting(1, 2);
        let (a, b, c) = tokio::join!(batcher.submit(1), batcher.submit(2), batcher.submit(3));
        assert_eq!((a.unwrap(), b.unwrap(), c.unwrap()), (10, 20, 30));
        assert_eq!(peak.load(Ordering::SeqCst), 1);
    }
}
