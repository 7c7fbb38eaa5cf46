//! The dispatcher's batched lifecycle writes: job starts (Queued → Running) and finishes
//! (Completed, output stored, Preserved) that are ready at the same time go to the store
//! together ([`JobQueue::begin_and_finish_many`]: one transaction where the store can).
//!
//! One job's bad row never fails the others: when the store refuses a whole batch (a
//! transaction aborted by one row), each write of it is tried again on its own.
//!
//! [`JobQueue::begin_and_finish_many`]: crate::store::JobQueue::begin_and_finish_many

use super::batcher::{Batcher, Failed, Outcome};
use crate::artifact::ArtifactSink;
use crate::model::Job;
use crate::store::{Begin, Finish, Finished, Store};
use crate::{Error, Result};
use std::sync::Arc;

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

/// The batched store writes of one dispatcher run.
pub(crate) type JobWrites = Batcher<JobWrite, JobWritten>;

/// Largest batch one transaction carries.
const MAX_BATCH: usize = 256;

/// The batcher of one dispatcher run.
pub(crate) fn job_writes(
    store: &Arc<dyn Store>,
    artifacts: &Arc<dyn ArtifactSink>,
    in_flight: usize,
) -> JobWrites {
    let store = store.clone();
    let artifacts = artifacts.clone();
    Batcher::spawn(MAX_BATCH, in_flight, move |writes: Vec<JobWrite>| {
        let store = store.clone();
        let artifacts = artifacts.clone();
        async move { write_jobs(&*store, &*artifacts, writes).await }
    })
}

/// Splits a batch into its starts and finishes, stores them, and puts the outcomes back in
/// input order. A write that failed comes back with its item.
async fn write_jobs(
    store: &dyn Store,
    artifacts: &dyn ArtifactSink,
    writes: Vec<JobWrite>,
) -> Vec<Outcome<JobWritten, JobWrite>> {
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
    let begun = match begun {
        Ok(v) => v,
        Err(e) if starts.len() > 1 => one_by_one_begins(store, &starts, &e).await,
        Err(e) => vec![Err(e)],
    };
    let finished = match finished {
        Ok(v) => v,
        Err(e) if finishes.len() > 1 => one_by_one_finishes(store, artifacts, &finishes, &e).await,
        Err(e) => vec![Err(e)],
    };
    let mut begun = pair(
        starts,
        begun,
        |j| JobWritten::Begun(Box::new(j)),
        JobWrite::Begin,
    );
    let mut finished = pair(
        finishes,
        finished,
        |f| JobWritten::Finished(Box::new(f)),
        JobWrite::Finish,
    );
    let missing = || {
        Err(Failed::lost(Error::conflict(
            "the store returned fewer results than requests",
        )))
    };
    kinds
        .into_iter()
        .map(|is_start| {
            if is_start {
                begun.next().unwrap_or_else(missing)
            } else {
                finished.next().unwrap_or_else(missing)
            }
        })
        .collect()
}

/// Each item with its result; a failed one gets its item back.
fn pair<I, O>(
    items: Vec<I>,
    results: Vec<Result<O>>,
    ok: impl Fn(O) -> JobWritten,
    back: impl Fn(I) -> JobWrite,
) -> std::vec::IntoIter<Outcome<JobWritten, JobWrite>> {
    let mut results = results.into_iter();
    items
        .into_iter()
        .map(|item| match results.next() {
            Some(Ok(o)) => Ok(ok(o)),
            Some(Err(error)) => Err(Failed {
                error,
                item: Some(Box::new(back(item))),
            }),
            None => Err(Failed {
                error: Error::conflict("the store returned fewer results than requests"),
                item: Some(Box::new(back(item))),
            }),
        })
        .collect::<Vec<_>>()
        .into_iter()
}

async fn one_by_one_begins(store: &dyn Store, starts: &[Begin], batch: &Error) -> Vec<Result<Job>> {
    tracing::warn!(
        "a batch of {} job starts failed ({batch}); storing each on its own",
        starts.len()
    );
    let mut out = Vec::with_capacity(starts.len());
    for start in starts {
        out.push(match store.begin_many(std::slice::from_ref(start)).await {
            Ok(mut v) => v.pop().unwrap_or_else(|| Err(Error::conflict("no result"))),
            Err(e) => Err(e),
        });
    }
    out
}

async fn one_by_one_finishes(
    store: &dyn Store,
    artifacts: &dyn ArtifactSink,
    finishes: &[Finish],
    batch: &Error,
) -> Vec<Result<Finished>> {
    tracing::warn!(
        "a batch of {} job finishes failed ({batch}); storing each on its own",
        finishes.len()
    );
    let mut out = Vec::with_capacity(finishes.len());
    for finish in finishes {
        out.push(
            match store
                .finish_many(std::slice::from_ref(finish), artifacts)
                .await
            {
                Ok(mut v) => v.pop().unwrap_or_else(|| Err(Error::conflict("no result"))),
                Err(e) => Err(e),
            },
        );
    }
    out
}
