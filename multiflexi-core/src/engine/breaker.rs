//! A circuit breaker per executor kind: an executor whose engine is broken (Docker down, image
//! missing, work disk full) stops claiming that kind's jobs instead of failing them one after
//! another.
//!
//! After [`OPEN_AFTER`] launches in a row failed before their program started, the breaker
//! opens for a cool-down (1 s, doubling with each further failure, at most 60 s): no job of
//! that kind is claimed. Then one job is let through (half-open); its success closes the
//! breaker, its failure opens it again for longer.

use crate::model::ExecutorKind;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Launch failures in a row that open the breaker.
pub const OPEN_AFTER: u32 = 3;

const MAX_COOL_DOWN: Duration = Duration::from_secs(60);

/// How many jobs of a kind a claim may take now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Allowance {
    /// As many as there are slots.
    Any,
    /// One, to probe the engine.
    One,
    /// None: the breaker is open.
    None,
}

#[derive(Debug, Default, Clone, Copy)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
}

/// The state of one executor kind's breaker, for `/status` and the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BreakerState {
    /// The executor kind.
    pub executor: ExecutorKind,
    /// Whether no job of this kind is claimed now.
    pub open: bool,
    /// Launches in a row that failed before their program started.
    pub failures: u32,
}

/// The breakers of one dispatcher.
#[derive(Debug, Default)]
pub(crate) struct Breakers {
    states: Mutex<HashMap<ExecutorKind, State>>,
}

impl Breakers {
    /// How many jobs of `kind` may be claimed now.
    pub(crate) fn allowance(&self, kind: ExecutorKind) -> Allowance {
        let states = self.states.lock().unwrap();
        match states.get(&kind).and_then(|s| s.open_until) {
            None => Allowance::Any,
            Some(until) if Instant::now() < until => Allowance::None,
            Some(_) => Allowance::One,
        }
    }

    /// A launch of `kind` failed before its program started; whether the breaker is open now.
    pub(crate) fn failure(&self, kind: ExecutorKind) -> bool {
        let mut states = self.states.lock().unwrap();
        let s = states.entry(kind).or_default();
        s.failures = s.failures.saturating_add(1);
        if s.failures >= OPEN_AFTER {
            let doublings = (s.failures - OPEN_AFTER).min(6);
            let cool_down = (Duration::from_secs(1) * (1 << doublings)).min(MAX_COOL_DOWN);
            s.open_until = Some(Instant::now() + cool_down);
            tracing::warn!(
                executor = %kind,
                "{} launches in a row failed before their program started: not claiming {kind} jobs for {cool_down:?}",
                s.failures
            );
            return true;
        }
        false
    }

    /// A job of `kind` started; whether this closed an open (or half-open) breaker.
    pub(crate) fn success(&self, kind: ExecutorKind) -> bool {
        let mut states = self.states.lock().unwrap();
        match states.remove(&kind) {
            Some(s) if s.open_until.is_some() => {
                tracing::info!(executor = %kind, "a {kind} job started again: claiming {kind} jobs");
                true
            }
            _ => false,
        }
    }

    /// Every kind's state (kinds never failing are closed).
    pub(crate) fn states(&self, kinds: &[ExecutorKind]) -> Vec<BreakerState> {
        let states = self.states.lock().unwrap();
        let now = Instant::now();
        kinds
            .iter()
            .map(|&executor| {
                let s = states.get(&executor).copied().unwrap_or_default();
                BreakerState {
                    executor,
                    open: s.open_until.is_some_and(|u| now < u),
                    failures: s.failures,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn opens_after_failures_in_a_row_lets_one_through_then_closes_on_success() {
        let b = Breakers::default();
        let k = ExecutorKind::Docker;
        assert_eq!(b.allowance(k), Allowance::Any);
        assert!(!b.failure(k));
        assert!(!b.failure(k));
        assert_eq!(b.allowance(k), Allowance::Any);
        assert!(b.failure(k));
        assert_eq!(b.allowance(k), Allowance::None);
        assert!(b.states(&[k])[0].open);
        assert_eq!(b.allowance(ExecutorKind::Native), Allowance::Any);
        tokio::time::advance(Duration::from_millis(1001)).await;
        assert_eq!(b.allowance(k), Allowance::One);
        // The probe fails: open again, for longer.
        assert!(b.failure(k));
        tokio::time::advance(Duration::from_millis(1001)).await;
        assert_eq!(b.allowance(k), Allowance::None);
        tokio::time::advance(Duration::from_millis(1000)).await;
        assert_eq!(b.allowance(k), Allowance::One);
        assert!(b.success(k));
        assert_eq!(b.allowance(k), Allowance::Any);
        assert!(!b.states(&[k])[0].open);
    }
}
