//! [`Batcher`]: one kind of store write from many jobs, handed to the store together.

use crate::Error;
use std::future::Future;
use tokio::sync::{mpsc, oneshot};

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
/// company), requests that arrive while a flush is in flight go together in the next one. The
/// flush answers every item on its own, so one item's failure never fails the others.
#[derive(Debug)]
pub(crate) struct Batcher<T, R> {
    tx: mpsc::UnboundedSender<(T, Reply<R, T>)>,
}

impl<T: Send + 'static, R: Send + 'static> Batcher<T, R> {
    /// Spawns the flushing task; it ends when the last handle is dropped. `flush` returns one
    /// outcome per item, in order.
    pub(crate) fn spawn<F, Fut>(max: usize, flush: F) -> Self
    where
        F: Fn(Vec<T>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<Outcome<R, T>>> + Send + 'static,
    {
        let (tx, mut rx) = mpsc::unbounded_channel::<(T, Reply<R, T>)>();
        let max = max.max(1);
        tokio::spawn(async move {
            let mut items = Vec::new();
            let mut replies: Vec<Reply<R, T>> = Vec::new();
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
                let mut results = flush(std::mem::take(&mut items)).await.into_iter();
                for reply in replies.drain(..) {
                    let r = results.next().unwrap_or_else(|| {
                        Err(Failed::lost(Error::conflict(
                            "the store returned fewer results than requests",
                        )))
                    });
                    let _ = reply.send(r);
                }
            }
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

fn stopped() -> Error {
    Error::backend("store", true, "the dispatcher's store batcher stopped")
}
