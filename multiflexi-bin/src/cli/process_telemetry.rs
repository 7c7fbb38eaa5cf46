//! The telemetry of one CLI process: started on the first use case from the environment
//! (`OTEL_*`, `ZABBIX_*`) so that a job the CLI creates emits its events like one made by the
//! API; nothing is started when neither OTLP nor Zabbix is configured. [`finish`] sends what the
//! sinks still hold before the process exits.

use crate::telemetry::{TelemetryConfig, TelemetryStack};
use multiflexi_core::Telemetry;
use multiflexi_core::store::Catalog;
use multiflexi_core::telemetry::NoopTelemetry;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

/// How long [`finish`] waits for each sink.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// This process's sinks, `None` when none is configured.
static STACK: OnceCell<Option<TelemetryStack>> = OnceCell::const_new();

/// The sinks `config` asks for, for a one-shot command: nothing is started unless OTLP or
/// Zabbix is configured (the CLI serves no `/metrics` and prints no phase lines).
pub fn start_cli_telemetry(mut config: TelemetryConfig) -> anyhow::Result<Option<TelemetryStack>> {
    if config.otlp.is_none() && config.zabbix.is_none() {
        return Ok(None);
    }
    config.log_phases = false;
    config.metrics_addr = None;
    Ok(Some(TelemetryStack::start(config)?))
}

/// The telemetry for this process's use cases, started on first use; `catalog` gives the names
/// Zabbix reports under. A monitoring misconfiguration is a warning, never a refused command
/// (`telemetry:test` shows what each sink answers).
pub async fn telemetry<C: Catalog + ?Sized>(catalog: &C) -> Arc<dyn Telemetry> {
    let stack = STACK
        .get_or_init(|| async {
            let stack = TelemetryConfig::from_env("multiflexi-cli", None)
                .and_then(start_cli_telemetry)
                .unwrap_or_else(|e| {
                    tracing::warn!("telemetry is off for this command: {e:#}");
                    None
                });
            if let Some(s) = &stack
                && s.zabbix().is_some()
                && let Err(e) = s.names().refresh(catalog).await
            {
                tracing::warn!("telemetry: reading catalog names failed: {e}");
            }
            stack
        })
        .await;
    match stack {
        Some(s) => s.telemetry(),
        None => Arc::new(NoopTelemetry),
    }
}

/// Sends what the sinks hold (each waits at most [`FLUSH_TIMEOUT`]) and stops them.
pub async fn finish() {
    if let Some(Some(stack)) = STACK.get() {
        stack.shutdown(FLUSH_TIMEOUT).await;
    }
}

#[cfg(test)]
mod tests {
    use super::start_cli_telemetry;
    use crate::telemetry::TelemetryConfig;
    use multiflexi_core::telemetry::ZabbixConfig;

    #[test]
    fn nothing_configured_starts_nothing() {
        let mut c = TelemetryConfig::new("multiflexi-cli");
        c.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
        assert!(start_cli_telemetry(c).unwrap().is_none());
    }

    #[tokio::test]
    async fn zabbix_starts_a_stack_without_metrics_server_or_phase_lines() {
        let mut c = TelemetryConfig::new("multiflexi-cli");
        c.zabbix = Some(ZabbixConfig::new("127.0.0.1:1", "cli-host").unwrap());
        c.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
        let stack = start_cli_telemetry(c).unwrap().expect("a stack");
        assert!(stack.zabbix().is_some());
        assert_eq!(stack.config().metrics_addr, None);
        assert!(!stack.config().log_phases);
        stack.shutdown(std::time::Duration::from_millis(100)).await;
    }
}
