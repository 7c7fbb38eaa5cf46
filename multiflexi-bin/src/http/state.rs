//! What every handler shares.

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
    /// Settings.
    pub options: HttpOptions,
    /// Where the phase events of jobs the API creates go.
    pub telemetry: Arc<dyn Telemetry>,
    /// The database backend's name for `GET /status` (`sqlite`, `postgres`, `mysql`, `memory`).
    pub database: String,
    /// The dispatcher running in this process (`multiflexi serve`), whose executor breakers
    /// `GET /status` shows.
    pub dispatcher: Option<multiflexi_core::engine::Dispatcher>,
}

impl HttpState {
    /// State over a store and its artifact sink, on the system clock, with default settings.
    pub fn new(store: Arc<dyn Store>, artifacts: Arc<dyn ArtifactSink>) -> Self {
        Self {
            store,
            artifacts,
            clock: Arc::new(multiflexi_core::SystemClock),
            options: HttpOptions::default(),
            telemetry: Arc::new(multiflexi_core::telemetry::NoopTelemetry),
            database: "unknown".into(),
            dispatcher: None,
        }
    }

    /// The application layer over this server's store, clock and telemetry: every handler that
    /// creates, changes or audits calls it.
    pub fn usecases(&self) -> crate::usecase::UseCases {
        crate::usecase::UseCases::new(
            self.store.clone(),
            self.clock.clone(),
            self.telemetry.clone(),
        )
    }

    /// Builder: the dispatcher of this process (its breakers show in `GET /status`).
    pub fn with_dispatcher(mut self, dispatcher: multiflexi_core::engine::Dispatcher) -> Self {
        self.dispatcher = Some(dispatcher);
        self
    }

    /// Builder: the telemetry sink of jobs the API creates.
    pub fn with_telemetry(mut self, telemetry: Arc<dyn Telemetry>) -> Self {
        self.telemetry = telemetry;
        self
    }

    /// Builder: the database backend's name shown by `GET /status`.
    pub fn with_database(mut self, name: impl Into<String>) -> Self {
        self.database = name.into();
        self
    }

    /// Builder: settings.
    pub fn with_options(mut self, options: HttpOptions) -> Self {
        self.options = options;
        self
    }

    /// Builder: the clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}
