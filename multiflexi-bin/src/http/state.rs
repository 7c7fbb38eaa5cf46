//! What every handler shares.

use multiflexi_core::telemetry::NoopTelemetry;
use multiflexi_core::{ArtifactSink, Clock, Store, Telemetry};
use std::sync::Arc;

/// Settings of the HTTP server.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpOptions {
    /// Largest request body accepted, in bytes (413 above it).
    pub body_limit: usize,
    /// Mark the dashboard's session cookie `Secure` (set when served over HTTPS, directly or
    /// behind a proxy).
    pub secure_cookies: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            body_limit: 1024 * 1024,
            secure_cookies: false,
        }
    }
}

/// The state of the HTTP server: the store, the artifact sink and the settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpState {
    /// The durable record.
    pub store: Arc<dyn Store>,
    /// Where job artifacts are read from.
    pub artifacts: Arc<dyn ArtifactSink>,
    /// The clock (next slots, "last 24 hours").
    pub clock: Arc<dyn Clock>,
    /// Where the phase changes of jobs created over HTTP are reported (and their traces begin).
    pub telemetry: Arc<dyn Telemetry>,
    /// Settings.
    pub options: HttpOptions,
}

impl HttpState {
    /// State over a store and its artifact sink, on the system clock, with default settings.
    pub fn new(store: Arc<dyn Store>, artifacts: Arc<dyn ArtifactSink>) -> Self {
        Self {
            store,
            artifacts,
            clock: Arc::new(multiflexi_core::SystemClock),
            telemetry: Arc::new(NoopTelemetry),
            options: HttpOptions::default(),
        }
    }

    /// Builder: settings.
    pub fn with_options(mut self, options: HttpOptions) -> Self {
        self.options = options;
        self
    }

    /// Builder: the telemetry sink (the daemon's own, so that jobs created over HTTP are traced
    /// and printed like the others).
    pub fn with_telemetry(mut self, telemetry: Arc<dyn Telemetry>) -> Self {
        self.telemetry = telemetry;
        self
    }

    /// Builder: the clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}
