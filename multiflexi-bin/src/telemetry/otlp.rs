//! OTLP export: the job traces built by core's [`JobSpans`], the daemon's own `tracing` spans
//! (through `tracing-opentelemetry`), and the job metrics.
//!
//! Nothing here waits on the collector in a job's path: [`OtlpTelemetry::event`] updates the
//! in-memory span state and metric instruments and pushes finished spans into a bounded queue;
//! a worker task exports them in batches (each export bounded by the configured timeout).
//! Spans that do not fit are dropped and counted (`multiflexi.telemetry.dropped{sink="otlp-traces"}`).
//! Metrics are read by a manual reader and exported every `OTEL_METRIC_EXPORT_INTERVAL` by a
//! task of their own.

use super::config::{OtlpConfig, OtlpProtocol};
use anyhow::Context as _;
use multiflexi_core::PhaseEvent;
use multiflexi_core::lifecycle::{Outcome, Phase};
use multiflexi_core::telemetry::{
    AttrValue, BatchSink, BoundedQueue, JobMetrics, JobSpans, JobSpansOptions, SinkStats,
    SpanRecord, Telemetry, is_failure, spawn_worker,
};
use multiflexi_core::telemetry::{
    CPU_TIME_BUCKETS, DURATION_BUCKETS, MEMORY_PEAK_BUCKETS, QUEUE_WAIT_BUCKETS, WorkerHandle,
};
use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider as _};
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter as _;
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{
    InstrumentKind, ManualReader, Pipeline, SdkMeterProvider, Temporality,
};
use opentelemetry_sdk::trace::{
    SdkTracerProvider, Span, SpanData, SpanEvents, SpanExporter as _, SpanProcessor,
};
use std::fmt;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The OTLP resource of a process: `service.name` plus what `OTEL_RESOURCE_ATTRIBUTES` and the
/// SDK's detectors add.
pub fn resource(service_name: &str) -> Resource {
    Resource::builder()
        .with_service_name(service_name.to_string())
        .build()
}

/// The instrumentation scope of everything multiflexi exports.
pub fn scope() -> InstrumentationScope {
    InstrumentationScope::builder("multiflexi")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

/// TLS to the collector is not built in: refuse `https://` up front rather than failing every
/// export later.
fn plain_http(endpoint: &str) -> anyhow::Result<()> {
    if endpoint.trim().to_ascii_lowercase().starts_with("https://") {
        anyhow::bail!(
            "OTLP endpoint {endpoint}: TLS is not built into this multiflexi; send to a collector \
             over http:// (e.g. an OpenTelemetry Collector on the same host or network) that \
             forwards over TLS"
        );
    }
    Ok(())
}

/// Builds the span exporter for `endpoint`.
///
/// # Errors
/// An invalid endpoint; gRPC outside a Tokio runtime.
pub fn span_exporter(
    config: &OtlpConfig,
    endpoint: &str,
    resource: &Resource,
) -> anyhow::Result<opentelemetry_otlp::SpanExporter> {
    plain_http(endpoint)?;
    let mut exporter = match config.protocol {
        OtlpProtocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .with_timeout(config.timeout)
            .build(),
        OtlpProtocol::HttpProtobuf => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(endpoint)
            .with_timeout(config.timeout)
            .build(),
    }
    .with_context(|| format!("OTLP span exporter for {endpoint}"))?;
    exporter.set_resource(resource);
    Ok(exporter)
}

/// Builds the metric exporter for `endpoint` (cumulative temporality).
///
/// # Errors
/// An invalid endpoint; gRPC outside a Tokio runtime.
pub fn metric_exporter(
    config: &OtlpConfig,
    endpoint: &str,
) -> anyhow::Result<opentelemetry_otlp::MetricExporter> {
    plain_http(endpoint)?;
    match config.protocol {
        OtlpProtocol::Grpc => opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .with_timeout(config.timeout)
            .build(),
        OtlpProtocol::HttpProtobuf => opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(endpoint)
            .with_timeout(config.timeout)
            .build(),
    }
    .with_context(|| format!("OTLP metric exporter for {endpoint}"))
}

/// Converts a core span record to the SDK's span data.
pub fn span_data(r: SpanRecord, scope: &InstrumentationScope) -> SpanData {
    let kv = |attrs: Vec<(&'static str, AttrValue)>| -> Vec<KeyValue> {
        attrs
            .into_iter()
            .map(|(k, v)| match v {
                AttrValue::Int(i) => KeyValue::new(k, i),
                AttrValue::Str(s) => KeyValue::new(k, s),
                AttrValue::Bool(b) => KeyValue::new(k, b),
            })
            .collect()
    };
    let mut events = SpanEvents::default();
    events.events = r
        .events
        .into_iter()
        .map(|e| opentelemetry::trace::Event::new(e.name, e.at.into(), kv(e.attributes), 0))
        .collect();
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(r.trace_id),
            SpanId::from(r.span_id),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: r.parent_span_id.map_or(SpanId::INVALID, SpanId::from),
        parent_span_is_remote: r.parent_span_id.is_some(),
        span_kind: SpanKind::Internal,
        name: r.name.into(),
        start_time: r.start.into(),
        end_time: r.end.into(),
        attributes: kv(r.attributes),
        dropped_attributes_count: 0,
        events,
        links: Default::default(),
        status: match r.error {
            Some(description) => Status::error(description),
            None => Status::Unset,
        },
        instrumentation_scope: scope.clone(),
    }
}

/// A span processor for the SDK tracer provider (the `tracing-opentelemetry` layer's spans):
/// pushes ended spans into the same bounded queue as the job spans.
#[derive(Debug)]
struct QueueProcessor {
    queue: BoundedQueue<SpanData>,
}

impl SpanProcessor for QueueProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        self.queue.push(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Exports span batches; expires held job spans on its tick and flushes them when it stops.
struct SpanWorker {
    exporter: opentelemetry_otlp::SpanExporter,
    timeout: Duration,
    stats: Arc<SinkStats>,
    spans: Arc<Mutex<JobSpans>>,
    scope: InstrumentationScope,
    failing: u64,
}

impl SpanWorker {
    async fn export(&mut self, batch: Vec<SpanData>) {
        let n = batch.len() as u64;
        // The exporter has its own timeout; ours bounds retries and a stuck connection too.
        let result = tokio::time::timeout(self.timeout * 2, self.exporter.export(batch)).await;
        let error = match result {
            Ok(Ok(())) => {
                self.stats.add_sent(n);
                if self.failing > 0 {
                    tracing::info!("otlp: trace export recovered");
                }
                self.failing = 0;
                return;
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {:?}", self.timeout * 2),
        };
        self.stats.add_failed(n);
        if self.failing.is_multiple_of(100) {
            tracing::warn!(
                "otlp: {n} span(s) not exported: {error} ({} failure(s) in a row)",
                self.failing + 1
            );
        }
        self.failing += 1;
    }

    fn take(&self, f: impl FnOnce(&mut JobSpans, &mut Vec<SpanRecord>)) -> Vec<SpanData> {
        let mut out = Vec::new();
        f(&mut self.spans.lock().unwrap(), &mut out);
        out.into_iter().map(|r| span_data(r, &self.scope)).collect()
    }
}

#[async_trait::async_trait]
impl BatchSink<SpanData> for SpanWorker {
    async fn handle(&mut self, batch: Vec<SpanData>) {
        self.export(batch).await;
    }

    fn tick_interval(&self) -> Option<Duration> {
        Some(Duration::from_secs(1))
    }

    async fn tick(&mut self) {
        let expired = self.take(|s, out| s.expire(Instant::now(), out));
        if !expired.is_empty() {
            self.export(expired).await;
        }
    }

    async fn close(&mut self) {
        let rest = self.take(|s, out| s.flush(out));
        if !rest.is_empty() {
            self.export(rest).await;
        }
    }
}

/// The job metric instruments (see [`JobMetrics`] for names and labels).
struct Instruments {
    total: Counter<u64>,
    success: Counter<u64>,
    failed: Counter<u64>,
    duration: Histogram<f64>,
    queue_wait: Histogram<f64>,
    memory_peak: Histogram<f64>,
    cpu_time: Histogram<f64>,
}

impl Instruments {
    fn new(meter: &Meter, metrics: Arc<JobMetrics>) -> Self {
        let running = metrics.clone();
        meter
            .u64_observable_gauge("multiflexi.jobs.running")
            .with_description("Jobs running now that this process started.")
            .with_unit("{job}")
            .with_callback(move |o| {
                for (executor, n) in running.running() {
                    o.observe(n, &[KeyValue::new("executor", executor)]);
                }
            })
            .build();
        meter
            .u64_observable_counter("multiflexi.telemetry.dropped")
            .with_description("Telemetry items dropped because a sink's queue was full.")
            .with_unit("{item}")
            .with_callback(move |o| {
                for s in metrics.sinks() {
                    o.observe(s.dropped(), &[KeyValue::new("sink", s.name().to_string())]);
                }
            })
            .build();
        Self {
            total: meter
                .u64_counter("multiflexi.jobs.total")
                .with_description("Jobs completed, by outcome.")
                .with_unit("{job}")
                .build(),
            success: meter
                .u64_counter("multiflexi.jobs.success")
                .with_description("Jobs completed with outcome success.")
                .with_unit("{job}")
                .build(),
            failed: meter
                .u64_counter("multiflexi.jobs.failed")
                .with_description(
                    "Jobs completed with a failing outcome (not success, not warning).",
                )
                .with_unit("{job}")
                .build(),
            duration: meter
                .f64_histogram("multiflexi.job.duration")
                .with_description("Run time of completed jobs (begin to end).")
                .with_unit("s")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            queue_wait: meter
                .f64_histogram("multiflexi.job.queue_wait")
                .with_description("Time from due to claimed by an executor.")
                .with_unit("s")
                .with_boundaries(QUEUE_WAIT_BUCKETS.to_vec())
                .build(),
            memory_peak: meter
                .f64_histogram("multiflexi.job.memory_peak")
                .with_description("Peak memory of completed jobs whose executor measured it.")
                .with_unit("By")
                .with_boundaries(MEMORY_PEAK_BUCKETS.to_vec())
                .build(),
            cpu_time: meter
                .f64_histogram("multiflexi.job.cpu_time")
                .with_description(
                    "CPU time (user + system) of completed jobs whose executor measured it.",
                )
                .with_unit("s")
                .with_boundaries(CPU_TIME_BUCKETS.to_vec())
                .build(),
        }
    }

    fn record(&self, e: &PhaseEvent) {
        let mut attrs = vec![
            KeyValue::new("app", e.app_id.get()),
            KeyValue::new("company", e.company_id.get()),
            KeyValue::new("executor", e.executor.as_str()),
        ];
        match e.phase {
            Phase::Queued => {
                if let Some(w) = e.queue_wait() {
                    self.queue_wait
                        .record(w.num_milliseconds().max(0) as f64 / 1000.0, &attrs);
                }
            }
            Phase::Completed => {
                let Some(outcome) = e.outcome else { return };
                if outcome == Outcome::Success {
                    self.success.add(1, &attrs);
                }
                attrs.push(KeyValue::new("outcome", outcome.as_str()));
                self.total.add(1, &attrs);
                if is_failure(outcome) {
                    self.failed.add(1, &attrs);
                }
                if let Some(ms) = e.duration_ms.filter(|_| e.begin.is_some()) {
                    self.duration.record(ms.max(0) as f64 / 1000.0, &attrs);
                }
                if let Some(bytes) = e.usage.peak_memory_bytes {
                    self.memory_peak.record(bytes as f64, &attrs);
                }
                if let Some(ms) = e.usage.cpu_time_ms {
                    self.cpu_time.record(ms as f64 / 1000.0, &attrs);
                }
            }
            _ => {}
        }
    }
}

/// A manual reader shared between the meter provider and the export task.
#[derive(Debug, Clone)]
pub(crate) struct SharedReader(pub(crate) Arc<ManualReader>);

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline);
    }

    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(rm)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

async fn export_metrics(
    reader: &SharedReader,
    exporter: &opentelemetry_otlp::MetricExporter,
    timeout: Duration,
    stats: &SinkStats,
) {
    let mut rm = ResourceMetrics::default();
    if let Err(e) = reader.collect(&mut rm) {
        tracing::debug!("otlp: collecting metrics failed: {e}");
        return;
    }
    match tokio::time::timeout(timeout * 2, exporter.export(&rm)).await {
        Ok(Ok(())) => stats.add_sent(1),
        Ok(Err(e)) => {
            stats.add_failed(1);
            tracing::warn!("otlp: metrics export failed: {e}");
        }
        Err(_) => {
            stats.add_failed(1);
            tracing::warn!(
                "otlp: metrics export got no answer within {:?}",
                timeout * 2
            );
        }
    }
}

/// The [`Telemetry`] sink of OTLP export: job spans ([`JobSpans`]) and job metric instruments.
/// Cheap and non-blocking (see the module docs).
pub struct OtlpTelemetry {
    spans: Arc<Mutex<JobSpans>>,
    queue: Option<BoundedQueue<SpanData>>,
    scope: InstrumentationScope,
    instruments: Option<Instruments>,
}

impl fmt::Debug for OtlpTelemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpTelemetry")
            .field("queue", &self.queue)
            .field("metrics", &self.instruments.is_some())
            .finish()
    }
}

impl Telemetry for OtlpTelemetry {
    fn event(&self, event: &PhaseEvent) {
        if let Some(queue) = &self.queue {
            let mut out = Vec::new();
            self.spans
                .lock()
                .unwrap()
                .on_event(event, Instant::now(), &mut out);
            for r in out {
                queue.push(span_data(r, &self.scope));
            }
        }
        if let Some(i) = &self.instruments {
            i.record(event);
        }
    }

    fn lease_lost(&self, job_id: multiflexi_core::JobId) {
        if let Some(queue) = &self.queue {
            let mut out = Vec::new();
            self.spans.lock().unwrap().abandon(job_id, &mut out);
            for r in out {
                queue.push(span_data(r, &self.scope));
            }
        }
    }
}

/// OTLP export for one process: the job sink, the tracer provider for `tracing` spans, and the
/// background tasks.
pub struct OtlpPipeline {
    telemetry: Arc<OtlpTelemetry>,
    tracer_provider: Option<SdkTracerProvider>,
    meter_provider: Option<SdkMeterProvider>,
    span_worker: Mutex<Option<WorkerHandle>>,
    metrics_task: Mutex<Option<(CancellationToken, JoinHandle<()>)>>,
    traces_stats: Arc<SinkStats>,
    metrics_stats: Arc<SinkStats>,
}

impl fmt::Debug for OtlpPipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpPipeline")
            .field("telemetry", &self.telemetry)
            .finish_non_exhaustive()
    }
}

impl OtlpPipeline {
    /// Builds the exporters and starts the export tasks for a process named `service_name`;
    /// registers its sink counters (`otlp-traces`, `otlp-metrics`) with `metrics`, whose
    /// running gauge and dropped counters it also exports.
    ///
    /// # Errors
    /// An invalid endpoint.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn start(
        config: &OtlpConfig,
        service_name: &str,
        metrics: Arc<JobMetrics>,
        spans: JobSpansOptions,
    ) -> anyhow::Result<Self> {
        let resource = resource(service_name);
        let scope = scope();
        let traces_stats = SinkStats::new("otlp-traces");
        let metrics_stats = SinkStats::new("otlp-metrics");
        metrics.register_sink(traces_stats.clone());
        metrics.register_sink(metrics_stats.clone());
        let spans = Arc::new(Mutex::new(JobSpans::new(spans)));

        let (queue, span_worker, tracer_provider) = match &config.traces_endpoint {
            Some(endpoint) => {
                let exporter = span_exporter(config, endpoint, &resource)?;
                let (queue, rx) = BoundedQueue::new(traces_stats.clone(), config.queue_capacity);
                let worker = SpanWorker {
                    exporter,
                    timeout: config.timeout,
                    stats: traces_stats.clone(),
                    spans: spans.clone(),
                    scope: scope.clone(),
                    failing: 0,
                };
                let handle = spawn_worker(rx, worker, config.max_batch);
                let provider = SdkTracerProvider::builder()
                    .with_resource(resource.clone())
                    .with_span_processor(QueueProcessor {
                        queue: queue.clone(),
                    })
                    .build();
                (Some(queue), Some(handle), Some(provider))
            }
            None => (None, None, None),
        };

        let (instruments, meter_provider, metrics_task) = match &config.metrics_endpoint {
            Some(endpoint) => {
                let exporter = metric_exporter(config, endpoint)?;
                let reader = SharedReader(Arc::new(
                    ManualReader::builder()
                        .with_temporality(exporter.temporality())
                        .build(),
                ));
                let provider = SdkMeterProvider::builder()
                    .with_resource(resource)
                    .with_reader(reader.clone())
                    .build();
                let instruments = Instruments::new(&provider.meter("multiflexi"), metrics);
                let stop = CancellationToken::new();
                let token = stop.clone();
                let (interval, timeout, stats) = (
                    config.metrics_interval,
                    config.timeout,
                    metrics_stats.clone(),
                );
                let task = tokio::spawn(async move {
                    let mut tick = tokio::time::interval(interval);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    tick.tick().await;
                    loop {
                        tokio::select! {
                            _ = token.cancelled() => break,
                            _ = tick.tick() => export_metrics(&reader, &exporter, timeout, &stats).await,
                        }
                    }
                    export_metrics(&reader, &exporter, timeout, &stats).await;
                });
                (Some(instruments), Some(provider), Some((stop, task)))
            }
            None => (None, None, None),
        };

        Ok(Self {
            telemetry: Arc::new(OtlpTelemetry {
                spans,
                queue,
                scope,
                instruments,
            }),
            tracer_provider,
            meter_provider,
            span_worker: Mutex::new(span_worker),
            metrics_task: Mutex::new(metrics_task),
            traces_stats,
            metrics_stats,
        })
    }

    /// The job sink.
    pub fn telemetry(&self) -> Arc<OtlpTelemetry> {
        self.telemetry.clone()
    }

    /// The tracer provider for the `tracing-opentelemetry` layer (None when traces are off).
    pub fn tracer_provider(&self) -> Option<&SdkTracerProvider> {
        self.tracer_provider.as_ref()
    }

    /// The meter provider (None when metrics are off), for more instruments.
    pub fn meter_provider(&self) -> Option<&SdkMeterProvider> {
        self.meter_provider.as_ref()
    }

    /// Counters of the trace export.
    pub fn traces_stats(&self) -> &Arc<SinkStats> {
        &self.traces_stats
    }

    /// Counters of the metrics export (one item per export).
    pub fn metrics_stats(&self) -> &Arc<SinkStats> {
        &self.metrics_stats
    }

    /// Exports what is queued and held (job spans waiting for Preserved) and a last metrics
    /// snapshot, then stops; each part waits at most `timeout`, then is abandoned.
    pub async fn shutdown(&self, timeout: Duration) {
        let worker = self.span_worker.lock().unwrap().take();
        if let Some(w) = worker
            && !w.shutdown(timeout).await
        {
            tracing::warn!("otlp: trace export did not finish within {timeout:?}; abandoned");
        }
        let task = self.metrics_task.lock().unwrap().take();
        if let Some((stop, task)) = task {
            stop.cancel();
            let abort = task.abort_handle();
            if tokio::time::timeout(timeout, task).await.is_err() {
                abort.abort();
                tracing::warn!("otlp: metrics export did not finish within {timeout:?}; abandoned");
            }
        }
    }
}
