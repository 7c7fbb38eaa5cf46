//! Telemetry configuration from the environment (ARCHITECTURE §10): `OTEL_*`, `ZABBIX_*`,
//! `MULTIFLEXI_METRICS_ADDR`.

use anyhow::{Context as _, bail};
use multiflexi_core::telemetry::ZabbixConfig;
use std::net::SocketAddr;
use std::time::Duration;

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// gRPC (`grpc`, default port 4317).
    Grpc,
    /// Protobuf over HTTP (`http/protobuf`, default port 4318): the specification's default.
    HttpProtobuf,
}

impl OtlpProtocol {
    /// The `OTEL_EXPORTER_OTLP_PROTOCOL` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OtlpProtocol::Grpc => "grpc",
            OtlpProtocol::HttpProtobuf => "http/protobuf",
        }
    }

    fn parse(s: &str) -> anyhow::Result<Self> {
        match s.trim() {
            "grpc" => Ok(OtlpProtocol::Grpc),
            "http/protobuf" | "http" => Ok(OtlpProtocol::HttpProtobuf),
            "http/json" => bail!(
                "OTEL_EXPORTER_OTLP_PROTOCOL=http/json is not supported; use http/protobuf or grpc"
            ),
            other => bail!(
                "OTEL_EXPORTER_OTLP_PROTOCOL={other:?} is not supported; use http/protobuf or grpc"
            ),
        }
    }
}

/// Where and how OTLP traces and metrics go.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OtlpConfig {
    /// Transport.
    pub protocol: OtlpProtocol,
    /// Full traces URL (`…/v1/traces` for HTTP); None: traces off (`OTEL_TRACES_EXPORTER=none`).
    pub traces_endpoint: Option<String>,
    /// Full metrics URL (`…/v1/metrics` for HTTP); None: metrics off
    /// (`OTEL_METRICS_EXPORTER=none`).
    pub metrics_endpoint: Option<String>,
    /// Export timeout (`OTEL_EXPORTER_OTLP_TIMEOUT`, ms, default 10 s).
    pub timeout: Duration,
    /// Metrics export interval (`OTEL_METRIC_EXPORT_INTERVAL`, ms, default 60 s).
    pub metrics_interval: Duration,
    /// Spans queued at most before new ones are dropped and counted (default 4,096).
    pub queue_capacity: usize,
    /// Spans per export at most (default 512).
    pub max_batch: usize,
}

impl OtlpConfig {
    /// HTTP/protobuf export to a collector at `base` (e.g. `http://127.0.0.1:4318`).
    pub fn http(base: &str) -> Self {
        Self::with_endpoint(OtlpProtocol::HttpProtobuf, base)
    }

    /// gRPC export to a collector at `endpoint` (e.g. `http://127.0.0.1:4317`).
    pub fn grpc(endpoint: &str) -> Self {
        Self::with_endpoint(OtlpProtocol::Grpc, endpoint)
    }

    fn with_endpoint(protocol: OtlpProtocol, base: &str) -> Self {
        Self {
            protocol,
            traces_endpoint: Some(signal_url(protocol, base, "traces")),
            metrics_endpoint: Some(signal_url(protocol, base, "metrics")),
            timeout: Duration::from_secs(10),
            metrics_interval: Duration::from_secs(60),
            queue_capacity: 4096,
            max_batch: 512,
        }
    }
}

fn signal_url(protocol: OtlpProtocol, base: &str, signal: &str) -> String {
    match protocol {
        OtlpProtocol::Grpc => base.trim().to_string(),
        OtlpProtocol::HttpProtobuf => format!("{}/v1/{signal}", base.trim().trim_end_matches('/')),
    }
}

/// Everything the telemetry of one binary needs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TelemetryConfig {
    /// `service.name` of the OTLP resource (`OTEL_SERVICE_NAME`, else `service.name` in
    /// `OTEL_RESOURCE_ATTRIBUTES`, else the binary's default such as `multiflexi-executor`).
    /// The other `OTEL_RESOURCE_ATTRIBUTES` are added by the SDK's resource detector.
    pub service_name: String,
    /// OTLP export, when on.
    pub otlp: Option<OtlpConfig>,
    /// The Zabbix sender, when `ZABBIX_SERVER` is set.
    pub zabbix: Option<ZabbixConfig>,
    /// The Prometheus `/metrics` address (`MULTIFLEXI_METRICS_ADDR`).
    pub metrics_addr: Option<SocketAddr>,
    /// Whether phase events are also logged through `tracing` ([`TracingTelemetry`], target
    /// `multiflexi::job`; default on).
    ///
    /// [`TracingTelemetry`]: multiflexi_core::telemetry::TracingTelemetry
    pub log_phases: bool,
    /// How long `job.execute` waits for a job's Preserved event after its Completed one.
    pub hold_completed: Duration,
}

impl TelemetryConfig {
    /// Nothing exported: metrics kept in memory, phases logged.
    pub fn new(service_name: impl Into<String>) -> Self {
        Self {
            service_name: service_name.into(),
            otlp: None,
            zabbix: None,
            metrics_addr: None,
            log_phases: true,
            hold_completed: Duration::from_secs(60),
        }
    }

    /// From the process environment. `default_service_name` names the binary
    /// (`multiflexi-scheduler`, `multiflexi-executor`, `multiflexi`); `default_metrics_addr` is
    /// where `/metrics` listens when `MULTIFLEXI_METRICS_ADDR` is unset (None for the daemons,
    /// loopback for `multiflexi serve`).
    pub fn from_env(
        default_service_name: &str,
        default_metrics_addr: Option<SocketAddr>,
    ) -> anyhow::Result<Self> {
        Self::from_lookup(default_service_name, default_metrics_addr, |k| {
            std::env::var(k).ok()
        })
    }

    /// [`from_env`](Self::from_env) reading variables through `var`.
    ///
    /// - OTLP is on when `OTEL_EXPORTER_OTLP_ENDPOINT` (or a per-signal
    ///   `OTEL_EXPORTER_OTLP_{TRACES,METRICS}_ENDPOINT`) is set, or when upstream's
    ///   `OTEL_ENABLED` is true (then with the default endpoint, `http://localhost:4318` or
    ///   `http://localhost:4317` for gRPC); `OTEL_ENABLED=false` or `OTEL_SDK_DISABLED=true`
    ///   turn it off; `OTEL_TRACES_EXPORTER=none` / `OTEL_METRICS_EXPORTER=none` turn off one
    ///   signal. `OTEL_EXPORTER_OTLP_HEADERS` is read by the exporter itself.
    /// - `MULTIFLEXI_METRICS_ADDR`: `host:port`; `off` (or empty) disables.
    pub fn from_lookup(
        default_service_name: &str,
        default_metrics_addr: Option<SocketAddr>,
        var: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let get = |k: &str| {
            var(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let flag = |k: &str| -> anyhow::Result<Option<bool>> {
            match get(k).map(|v| v.to_ascii_lowercase()) {
                None => Ok(None),
                Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => Ok(Some(true)),
                Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => Ok(Some(false)),
                Some(v) => bail!("{k}={v:?} is not a boolean (true or false)"),
            }
        };
        // OTEL_SERVICE_NAME wins over a service.name in OTEL_RESOURCE_ATTRIBUTES, which wins
        // over the binary's default.
        let from_attributes = get("OTEL_RESOURCE_ATTRIBUTES").and_then(|attrs| {
            attrs.split(',').find_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                (k.trim() == "service.name" && !v.trim().is_empty()).then(|| v.trim().to_string())
            })
        });
        let mut c = Self::new(
            get("OTEL_SERVICE_NAME")
                .or(from_attributes)
                .unwrap_or_else(|| default_service_name.to_string()),
        );
        let protocol = match get("OTEL_EXPORTER_OTLP_PROTOCOL") {
            Some(p) => OtlpProtocol::parse(&p)?,
            None => OtlpProtocol::HttpProtobuf,
        };
        let base = get("OTEL_EXPORTER_OTLP_ENDPOINT");
        let traces = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
        let metrics = get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT");
        let disabled =
            flag("OTEL_SDK_DISABLED")? == Some(true) || flag("OTEL_ENABLED")? == Some(false);
        let wanted = base.is_some()
            || traces.is_some()
            || metrics.is_some()
            || flag("OTEL_ENABLED")? == Some(true);
        if wanted && !disabled {
            let base = base.unwrap_or_else(|| match protocol {
                OtlpProtocol::Grpc => "http://localhost:4317".into(),
                OtlpProtocol::HttpProtobuf => "http://localhost:4318".into(),
            });
            let mut o = OtlpConfig::with_endpoint(protocol, &base);
            if let Some(t) = traces {
                o.traces_endpoint = Some(t);
            }
            if let Some(m) = metrics {
                o.metrics_endpoint = Some(m);
            }
            if get("OTEL_TRACES_EXPORTER").as_deref() == Some("none") {
                o.traces_endpoint = None;
            }
            if get("OTEL_METRICS_EXPORTER").as_deref() == Some("none") {
                o.metrics_endpoint = None;
            }
            if let Some(ms) = get("OTEL_EXPORTER_OTLP_TIMEOUT") {
                o.timeout = Duration::from_millis(
                    ms.parse()
                        .with_context(|| format!("OTEL_EXPORTER_OTLP_TIMEOUT={ms:?}"))?,
                );
            }
            if let Some(ms) = get("OTEL_METRIC_EXPORT_INTERVAL") {
                let ms: u64 = ms
                    .parse()
                    .with_context(|| format!("OTEL_METRIC_EXPORT_INTERVAL={ms:?}"))?;
                o.metrics_interval = Duration::from_millis(ms.max(100));
            }
            c.otlp = Some(o);
        }
        c.zabbix = ZabbixConfig::from_vars(
            get("ZABBIX_SERVER").as_deref(),
            get("ZABBIX_PORT").as_deref(),
            get("ZABBIX_HOST").as_deref(),
        )?;
        c.metrics_addr = match var("MULTIFLEXI_METRICS_ADDR").map(|v| v.trim().to_string()) {
            None => default_metrics_addr,
            Some(v) if v.is_empty() || v.eq_ignore_ascii_case("off") => None,
            Some(v) => Some(
                v.parse()
                    .with_context(|| format!("MULTIFLEXI_METRICS_ADDR={v:?} is not host:port"))?,
            ),
        };
        Ok(c)
    }
}

/// The variables [`TelemetryConfig::from_env`] reads, with their meaning (for `--help`).
pub const ENV_HELP: &str = "\
Telemetry:
  OTEL_EXPORTER_OTLP_ENDPOINT   OTLP collector (traces + metrics); unset: OTLP off
  OTEL_EXPORTER_OTLP_PROTOCOL   http/protobuf (default) or grpc
  OTEL_ENABLED                  true: OTLP on with the default endpoint; false: off
  OTEL_SERVICE_NAME             service.name (default: the binary's name)
  OTEL_RESOURCE_ATTRIBUTES      extra resource attributes, k=v,k2=v2
  OTEL_EXPORTER_OTLP_HEADERS    headers for the collector, k=v,k2=v2
  OTEL_EXPORTER_OTLP_TIMEOUT    export timeout, ms (default 10000)
  OTEL_METRIC_EXPORT_INTERVAL   metrics export interval, ms (default 60000)
  ZABBIX_SERVER                 Zabbix server or proxy, host[:port] (default port 10051); unset: off
  ZABBIX_HOST                   host reported for companies without zabbix_host (default: host name)
  MULTIFLEXI_METRICS_ADDR       Prometheus /metrics address, host:port, or off";

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)]) -> anyhow::Result<TelemetryConfig> {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        TelemetryConfig::from_lookup("multiflexi-test", None, |k| m.get(k).cloned())
    }

    #[test]
    fn otlp_is_off_unless_asked_for() {
        let c = cfg(&[]).unwrap();
        assert!(c.otlp.is_none() && c.zabbix.is_none() && c.metrics_addr.is_none());
        assert_eq!(c.service_name, "multiflexi-test");
        let c = cfg(&[("OTEL_ENABLED", "true")]).unwrap();
        assert_eq!(
            c.otlp.unwrap().traces_endpoint.as_deref(),
            Some("http://localhost:4318/v1/traces")
        );
        let c = cfg(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_ENABLED", "false"),
        ])
        .unwrap();
        assert!(c.otlp.is_none());
        let c = cfg(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_SDK_DISABLED", "true"),
        ])
        .unwrap();
        assert!(c.otlp.is_none());
    }

    #[test]
    fn endpoints_protocols_and_names() {
        let c = cfg(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/"),
            ("OTEL_SERVICE_NAME", "sched-a"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ])
        .unwrap();
        let o = c.otlp.unwrap();
        assert_eq!(c.service_name, "sched-a");
        assert_eq!(o.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(
            o.traces_endpoint.as_deref(),
            Some("http://c:4318/v1/traces")
        );
        assert_eq!(o.metrics_endpoint, None);
        assert_eq!(o.timeout, Duration::from_millis(2500));
        let c = cfg(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:4317"),
        ])
        .unwrap();
        let o = c.otlp.unwrap();
        assert_eq!(o.protocol, OtlpProtocol::Grpc);
        assert_eq!(o.traces_endpoint.as_deref(), Some("http://t:4317"));
        assert_eq!(o.metrics_endpoint.as_deref(), Some("http://c:4317"));
        let named = |vars: &[(&str, &str)]| cfg(vars).unwrap().service_name;
        assert_eq!(
            named(&[(
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=prod,service.name=from-attrs"
            )]),
            "from-attrs"
        );
        assert_eq!(
            named(&[
                ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs"),
                ("OTEL_SERVICE_NAME", "from-env")
            ]),
            "from-env"
        );
        assert!(cfg(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]).is_err());
        assert!(cfg(&[("OTEL_ENABLED", "maybe")]).is_err());
    }

    #[test]
    fn zabbix_and_metrics_addr() {
        let c = cfg(&[
            ("ZABBIX_SERVER", "zbx:10052"),
            ("ZABBIX_HOST", "multiflexi-prod"),
            ("MULTIFLEXI_METRICS_ADDR", "127.0.0.1:9464"),
        ])
        .unwrap();
        let z = c.zabbix.unwrap();
        assert_eq!(
            (z.address(), z.default_host.as_str()),
            ("zbx:10052".into(), "multiflexi-prod")
        );
        assert_eq!(c.metrics_addr, Some("127.0.0.1:9464".parse().unwrap()));
        let serve_default = Some("127.0.0.1:9464".parse().unwrap());
        let off = TelemetryConfig::from_lookup("s", serve_default, |k| {
            (k == "MULTIFLEXI_METRICS_ADDR").then(|| "off".to_string())
        })
        .unwrap();
        assert_eq!(off.metrics_addr, None);
        let default = TelemetryConfig::from_lookup("s", serve_default, |_| None).unwrap();
        assert_eq!(default.metrics_addr, serve_default);
        assert!(cfg(&[("MULTIFLEXI_METRICS_ADDR", "nope")]).is_err());
    }
}
