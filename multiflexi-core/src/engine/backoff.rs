//! Delays between tries of a store write that must eventually land (a job's Running write, its
//! finish, its live output): exponential with jitter, from the `backon` crate, never giving up
//! on its own (the callers stop when the lease is gone).

use backon::{BackoffBuilder, ExponentialBuilder};
use std::time::Duration;

/// An endless sequence of growing delays, `min` to `max`.
#[derive(Debug)]
pub(crate) struct Backoff {
    builder: ExponentialBuilder,
    delays: backon::ExponentialBackoff,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        let builder = ExponentialBuilder::default()
            .with_min_delay(min)
            .with_max_delay(max)
            .with_jitter()
            .without_max_times();
        Self {
            delays: builder.build(),
            builder,
        }
    }

    /// The next delay.
    pub(crate) fn next_delay(&mut self) -> Duration {
        self.delays.next().unwrap_or_else(|| {
            self.delays = self.builder.build();
            self.delays.next().unwrap_or(Duration::from_secs(1))
        })
    }

    /// Starts again from the shortest delay (a try succeeded).
    pub(crate) fn reset(&mut self) {
        self.delays = self.builder.build();
    }
}
