//! [`FanoutTelemetry`]: one event, several sinks.

use super::{PhaseEvent, Telemetry};
use std::sync::Arc;

/// Sends every event to several sinks, in order. Each sink is itself cheap (I/O sinks queue), so
/// one slow peer never delays the others.
#[derive(Debug, Default, Clone)]
pub struct FanoutTelemetry(pub Vec<Arc<dyn Telemetry>>);

impl FanoutTelemetry {
    /// A fan-out over `sinks`.
    pub fn new(sinks: Vec<Arc<dyn Telemetry>>) -> Self {
        Self(sinks)
    }

    /// Adds a sink.
    pub fn push(&mut self, sink: Arc<dyn Telemetry>) {
        self.0.push(sink);
    }

    /// How many sinks it feeds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it feeds none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Telemetry for FanoutTelemetry {
    fn event(&self, event: &PhaseEvent) {
        for sink in &self.0 {
            sink.event(event);
        }
    }

    fn lease_lost(&self, job_id: crate::ids::JobId) {
        for sink in &self.0 {
            sink.lease_lost(job_id);
        }
    }

    fn executor_breaker(&self, executor: crate::model::ExecutorKind, open: bool) {
        for sink in &self.0 {
            sink.executor_breaker(executor, open);
        }
    }

    fn action_attempt(&self, kind: &'static str, result: &'static str) {
        for sink in &self.0 {
            sink.action_attempt(kind, result);
        }
    }
}
