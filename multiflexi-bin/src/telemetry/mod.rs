//! Telemetry of the binaries: what `multiflexi serve`, `multiflexi-scheduler` and
//! `multiflexi-executor` build from the environment.
//!
//! [`TelemetryStack::start`] assembles, from a [`TelemetryConfig`] (`OTEL_*`, `ZABBIX_*`,
//! `MULTIFLEXI_METRICS_ADDR`), one [`Telemetry`] fan-out for the engine:
//!
//! - [`JobMetrics`] — always: the job metrics in memory, served as Prometheus text at
//!   `/metrics` ([`serve_metrics`]) and exported over OTLP;
//! - [`TracingTelemetry`] — phase lines in the log (unless `log_phases` is off);
//! - [`OtlpTelemetry`] — when OTLP is on: the job's `job.execute` trace and the metrics;
//! - [`ZabbixTelemetry`] — when `ZABBIX_SERVER` is set.
//!
//! Every sink that does I/O is behind a bounded queue; a dead or silent collector or Zabbix
//! server never blocks, slows or fails a job: what does not fit is dropped and counted
//! (`multiflexi_telemetry_dropped_total{sink}`).

mod check;
mod config;
mod otlp;
mod prometheus;

pub use check::{SinkReport, test_sinks};
pub use config::{ENV_HELP, OtlpConfig, OtlpProtocol, TelemetryConfig};
pub use otlp::{
    OtlpPipeline, OtlpTelemetry, metric_exporter, resource, scope, span_data, span_exporter,
};
pub use prometheus::{CONTENT_TYPE_TEXT, MetricsServer, serve_metrics};

use multiflexi_core::store::Catalog;
use multiflexi_core::telemetry::{
    CatalogNames, FanoutTelemetry, JOB_TARGET, JobMetrics, JobSpansOptions, Telemetry,
    TracingTelemetry, ZabbixTelemetry,
};
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

/// The telemetry of one process (see the module docs).
#[derive(Debug)]
pub struct TelemetryStack {
    config: TelemetryConfig,
    telemetry: Arc<FanoutTelemetry>,
    metrics: Arc<JobMetrics>,
    names: Arc<CatalogNames>,
    zabbix: Option<Arc<ZabbixTelemetry>>,
    otlp: Option<Arc<OtlpPipeline>>,
}

impl TelemetryStack {
    /// Builds the sinks `config` asks for and starts their background tasks.
    ///
    /// # Errors
    /// An invalid OTLP endpoint.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn start(config: TelemetryConfig) -> anyhow::Result<Self> {
        let metrics = JobMetrics::new();
        let names = CatalogNames::new();
        let mut fanout = FanoutTelemetry::default();
        fanout.push(metrics.clone());
        if config.log_phases {
            fanout.push(Arc::new(TracingTelemetry));
        }
        let otlp = match &config.otlp {
            Some(o) => {
                let mut spans = JobSpansOptions::default();
                spans.hold_completed = config.hold_completed;
                let p = Arc::new(OtlpPipeline::start(
                    o,
                    &config.service_name,
                    metrics.clone(),
                    spans,
                )?);
                fanout.push(p.telemetry());
                Some(p)
            }
            None => None,
        };
        let zabbix = config.zabbix.clone().map(|z| {
            let sink = Arc::new(ZabbixTelemetry::spawn(z, names.clone()));
            metrics.register_sink(sink.stats().clone());
            fanout.push(sink.clone());
            sink
        });
        Ok(Self {
            config,
            telemetry: Arc::new(fanout),
            metrics,
            names,
            zabbix,
            otlp,
        })
    }

    /// The sink to give the engine (`Scheduler::new`, `Dispatcher::new`, `create_job`).
    pub fn telemetry(&self) -> Arc<dyn Telemetry> {
        self.telemetry.clone()
    }

    /// The job metrics (for [`serve_metrics`]).
    pub fn metrics(&self) -> &Arc<JobMetrics> {
        &self.metrics
    }

    /// The catalog names the Zabbix sink looks up (company `zabbix_host`, LLD names).
    pub fn names(&self) -> &Arc<CatalogNames> {
        &self.names
    }

    /// Its configuration.
    pub fn config(&self) -> &TelemetryConfig {
        &self.config
    }

    /// The Zabbix sink, when on.
    pub fn zabbix(&self) -> Option<&Arc<ZabbixTelemetry>> {
        self.zabbix.as_ref()
    }

    /// The OTLP pipeline, when on.
    pub fn otlp(&self) -> Option<&Arc<OtlpPipeline>> {
        self.otlp.as_ref()
    }

    /// A `tracing` layer exporting the process's own spans (HTTP requests, store calls…) over
    /// OTLP, when traces are on. It skips the `multiflexi::job` target, whose job spans the
    /// OTLP sink exports itself with their cross-process ids.
    pub fn otel_layer<S>(&self) -> Option<Box<dyn Layer<S> + Send + Sync + 'static>>
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        let provider = self.otlp.as_ref()?.tracer_provider()?;
        let tracer = provider.tracer("multiflexi");
        let layer = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(tracing_subscriber::filter::filter_fn(|m| {
                m.target() != JOB_TARGET
            }));
        Some(Box::new(layer))
    }

    /// Serves `/metrics` when `MULTIFLEXI_METRICS_ADDR` (or the binary's default) is set.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn serve_metrics(&self) -> Option<JoinHandle<()>> {
        self.config
            .metrics_addr
            .map(|addr| serve_metrics(addr, self.metrics.clone()))
    }

    /// Keeps [`names`](Self::names) fresh from the catalog (now, then every `every`).
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn spawn_catalog_refresh<C: Catalog + ?Sized>(
        &self,
        catalog: Arc<C>,
        every: Duration,
    ) -> JoinHandle<()> {
        self.names.spawn_refresh(catalog, every)
    }

    /// Sends what is queued (and the job spans still held) and stops the background tasks;
    /// each sink waits at most `timeout`, then is abandoned. Call it once on exit.
    pub async fn shutdown(&self, timeout: Duration) {
        let otlp = async {
            if let Some(o) = &self.otlp {
                o.shutdown(timeout).await;
            }
        };
        let zabbix = async {
            if let Some(z) = &self.zabbix
                && !z.shutdown(timeout).await
            {
                tracing::warn!("zabbix: sending did not finish within {timeout:?}; abandoned");
            }
        };
        tokio::join!(otlp, zabbix);
    }
}

/// The W3C `traceparent` of the current `tracing` span as the OpenTelemetry layer sees it (None
/// without the layer or outside a span). The API passes
/// [`child_trace_context`](multiflexi_core::telemetry::child_trace_context)`(&it)` as the job's
/// trace context so the job's spans join the request's trace.
pub fn current_traceparent() -> Option<String> {
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags().to_u8()
        )
    })
}
