//! `multiflexi-cli telemetry:test`: one test item to each configured sink, and what it answered.

use super::config::TelemetryConfig;
use super::otlp::{SharedReader, metric_exporter, resource, scope, span_data, span_exporter};
use chrono::Utc;
use multiflexi_core::telemetry::zabbix::{self, protocol::ZabbixItem};
use multiflexi_core::telemetry::{AttrValue, SpanRecord, TraceContext};
use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter as _;
use opentelemetry_sdk::metrics::reader::MetricReader as _;
use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SpanExporter as _;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What one sink answered to the test item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkReport {
    /// `zabbix`, `otlp-traces`, `otlp-metrics` or `prometheus`.
    pub sink: &'static str,
    /// Where it sends (server address, endpoint URL).
    pub target: String,
    /// Whether the peer accepted the test item.
    pub ok: bool,
    /// What it answered, or why it failed.
    pub detail: String,
}

impl fmt::Display for SinkReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<13} {:<4} {}  {}",
            self.sink,
            if self.ok { "ok" } else { "FAIL" },
            self.target,
            self.detail
        )
    }
}

/// Sends one test item to each sink `config` enables and reports what each answered (an empty
/// list when none is configured). Each check is bounded by its sink's timeout; none panics.
///
/// - Zabbix: `multiflexi.job.phase[0]` = `test` for `ZABBIX_HOST`; the server's `info` (a
///   `failed: 1` means the host or that trapper item does not exist there, while the server is
///   reachable).
/// - OTLP traces: one span `multiflexi.telemetry.test` in a fresh trace (its id in the detail).
/// - OTLP metrics: one counter `multiflexi.telemetry.test` = 1.
/// - Prometheus: `GET /metrics` on `MULTIFLEXI_METRICS_ADDR` (a running daemon's endpoint).
pub async fn test_sinks(config: &TelemetryConfig) -> Vec<SinkReport> {
    let mut reports = Vec::new();
    if let Some(z) = &config.zabbix {
        let item = ZabbixItem::new(
            z.default_host.clone(),
            "multiflexi.job.phase[0]",
            "test",
            Utc::now(),
        );
        let (ok, detail) = match zabbix::send(z, vec![item]).await {
            Ok(reply) => {
                let c = reply.counts();
                let hint = if c.failed > 0 {
                    format!(
                        " (reachable; host {:?} or its trapper item multiflexi.job.phase[0] does not exist there)",
                        z.default_host
                    )
                } else {
                    String::new()
                };
                (true, format!("server answered {:?}{hint}", reply.info))
            }
            Err(e) => (false, e.to_string()),
        };
        reports.push(SinkReport {
            sink: "zabbix",
            target: z.address(),
            ok,
            detail,
        });
    }
    if let Some(o) = &config.otlp {
        if let Some(endpoint) = &o.traces_endpoint {
            let (ok, detail) = match test_trace(config, o, endpoint).await {
                Ok(trace) => (true, format!("collector accepted span in trace {trace}")),
                Err(e) => (false, format!("{e:#}")),
            };
            reports.push(SinkReport {
                sink: "otlp-traces",
                target: format!("{endpoint} ({})", o.protocol.as_str()),
                ok,
                detail,
            });
        }
        if let Some(endpoint) = &o.metrics_endpoint {
            let (ok, detail) = match test_metrics(config, o, endpoint).await {
                Ok(()) => (
                    true,
                    "collector accepted counter multiflexi.telemetry.test".to_string(),
                ),
                Err(e) => (false, format!("{e:#}")),
            };
            reports.push(SinkReport {
                sink: "otlp-metrics",
                target: format!("{endpoint} ({})", o.protocol.as_str()),
                ok,
                detail,
            });
        }
    }
    if let Some(addr) = config.metrics_addr {
        let (ok, detail) = match scrape(addr, Duration::from_secs(5)).await {
            Ok(status) if status.contains(" 200 ") => (true, status),
            Ok(status) => (false, status),
            Err(e) => (
                false,
                format!("{e} (is a daemon running with MULTIFLEXI_METRICS_ADDR={addr}?)"),
            ),
        };
        reports.push(SinkReport {
            sink: "prometheus",
            target: format!("http://{addr}/metrics"),
            ok,
            detail,
        });
    }
    reports
}

async fn test_trace(
    config: &TelemetryConfig,
    o: &super::config::OtlpConfig,
    endpoint: &str,
) -> anyhow::Result<String> {
    let exporter = span_exporter(o, endpoint, &resource(&config.service_name))?;
    let ctx = TraceContext::random();
    let now = Utc::now();
    let record = SpanRecord {
        name: "multiflexi.telemetry.test",
        trace_id: ctx.trace_id,
        span_id: ctx.span_id,
        parent_span_id: None,
        start: now,
        end: now,
        attributes: vec![("test", AttrValue::Bool(true))],
        events: Vec::new(),
        error: None,
    };
    let batch = vec![span_data(record, &scope())];
    tokio::time::timeout(o.timeout * 2, exporter.export(batch))
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {:?}", o.timeout * 2))??;
    Ok(ctx.trace_id_hex())
}

async fn test_metrics(
    config: &TelemetryConfig,
    o: &super::config::OtlpConfig,
    endpoint: &str,
) -> anyhow::Result<()> {
    let exporter = metric_exporter(o, endpoint)?;
    let reader = SharedReader(Arc::new(
        ManualReader::builder()
            .with_temporality(exporter.temporality())
            .build(),
    ));
    let provider = SdkMeterProvider::builder()
        .with_resource(resource(&config.service_name))
        .with_reader(reader.clone())
        .build();
    provider
        .meter("multiflexi")
        .u64_counter("multiflexi.telemetry.test")
        .build()
        .add(1, &[KeyValue::new("test", true)]);
    let mut rm = ResourceMetrics::default();
    reader.collect(&mut rm)?;
    tokio::time::timeout(o.timeout * 2, exporter.export(&rm))
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {:?}", o.timeout * 2))??;
    Ok(())
}

/// `GET /metrics` over plain HTTP/1.0; returns the status line.
async fn scrape(addr: std::net::SocketAddr, timeout: Duration) -> std::io::Result<String> {
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        s.write_all(format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await?;
        let mut buf = Vec::new();
        s.take(64 * 1024).read_to_end(&mut buf).await?;
        let text = String::from_utf8_lossy(&buf);
        Ok(text.lines().next().unwrap_or_default().to_string())
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer"))?
}
