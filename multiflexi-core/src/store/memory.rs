//! [`InMemoryStore`]: the reference [`Store`](crate::Store) and [`ArtifactSink`](crate::ArtifactSink).
//!
//! Everything lives behind one [`std::sync::Mutex`]: every trait call takes it once, does its
//! whole step (phase change, schedule row, counters, `next_schedule`, retry job, audit row) and
//! releases it before returning, so each call is one atomic step exactly like one SQL
//! transaction. The lock is never held across an `.await`.
//!
//! The SQL stores must behave exactly like this one; the store conformance suite
//! ([`crate::conformance::store`], feature `conformance`) checks both.

mod actions;
mod artifacts;
mod catalog;
mod output;
mod queue;
mod retention;
mod state;
mod stats;
mod tokens;

use crate::artifact::DEFAULT_ARTIFACT_CAP;
use crate::clock::{Clock, SystemClock, to_micros};
use chrono::{DateTime, Utc};
use state::State;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A complete, in-process [`Store`](crate::Store) and [`ArtifactSink`](crate::ArtifactSink).
///
/// It is the reference implementation every SQL store is held to, and what tests and embedders
/// use when nothing needs to survive the process. Time comes from the injected [`Clock`]: with a
/// [`ManualClock`](crate::ManualClock), lease expiry and retries are tested without sleeping.
///
/// ```
/// # tokio_test_block_on(async {
/// use multiflexi_core::{InMemoryStore, Store};
/// use std::sync::Arc;
/// let store: Arc<dyn Store> = Arc::new(InMemoryStore::new());
/// assert!(store.list_apps().await.unwrap().is_empty());
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
pub struct InMemoryStore {
    clock: Arc<dyn Clock>,
    artifact_cap: u64,
    state: Mutex<State>,
}

impl InMemoryStore {
    /// An empty store on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// An empty store on `clock` (a [`ManualClock`](crate::ManualClock) in tests).
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            artifact_cap: DEFAULT_ARTIFACT_CAP,
            state: Mutex::new(State::new()),
        }
    }

    /// Builder: the size cap of one artifact in bytes (default [`DEFAULT_ARTIFACT_CAP`]).
    /// Content past the cap is dropped and the artifact's note says how much was kept.
    pub fn with_artifact_cap(mut self, cap: u64) -> Self {
        self.artifact_cap = cap;
        self
    }

    /// The size cap of one artifact in bytes.
    pub fn artifact_cap(&self) -> u64 {
        self.artifact_cap
    }

    /// The store's clock, truncated to microseconds.
    fn now(&self) -> DateTime<Utc> {
        to_micros(self.clock.now())
    }

    /// The whole state (one atomic step). A panic in an earlier step does not poison the store.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for InMemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for InMemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("InMemoryStore");
        d.field("clock", &self.clock)
            .field("artifact_cap", &self.artifact_cap);
        // never block (or deadlock) a Debug print on the store's lock
        if let Ok(st) = self.state.try_lock() {
            d.field("apps", &st.apps.len())
                .field("companies", &st.companies.len())
                .field("runtemplates", &st.templates.len())
                .field("jobs", &st.jobs.len())
                .field("artifacts", &st.artifacts.len());
        }
        d.finish_non_exhaustive()
    }
}
