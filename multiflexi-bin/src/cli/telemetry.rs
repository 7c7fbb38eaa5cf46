//! `telemetry:test` and `audit:list`.

use super::Ctx;
use super::output::{Report, table, ts};
use crate::telemetry::{TelemetryConfig, test_sinks};
use clap::Args;
use multiflexi_core::JobId;
use multiflexi_core::store::{AuditFilter, AuditLog as _};
use serde_json::json;

/// `telemetry:test`: one test item to each configured sink (Zabbix, OTLP, Prometheus), and what
/// each answered. Non-zero exit when any sink failed; nothing configured is not an error.
pub async fn test(ctx: &Ctx) -> anyhow::Result<Report> {
    let _ = ctx;
    let config = TelemetryConfig::from_env("multiflexi-cli", None)?;
    let reports = test_sinks(&config).await;
    if reports.is_empty() {
        return Ok(Report::new(
            "no telemetry sink is configured (set ZABBIX_SERVER, OTEL_EXPORTER_OTLP_ENDPOINT or MULTIFLEXI_METRICS_ADDR)",
            json!([]),
        ));
    }
    let text = reports
        .iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let json = json!(
        reports
            .iter()
            .map(|r| json!({"sink": r.sink, "target": r.target, "ok": r.ok, "detail": r.detail}))
            .collect::<Vec<_>>()
    );
    let failed: Vec<&str> = reports.iter().filter(|r| !r.ok).map(|r| r.sink).collect();
    let report = Report::new(text, json);
    Ok(if failed.is_empty() {
        report
    } else {
        report.failed(format!("telemetry sinks failed: {}", failed.join(", ")))
    })
}

/// Arguments of `audit:list`.
#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    /// Only this job's rows.
    #[arg(long, visible_alias = "job_id")]
    pub job: Option<i64>,
    /// Only rows at or after this instant (RFC 3339).
    #[arg(long)]
    pub since: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// At most this many rows (oldest first).
    #[arg(long, default_value_t = 100)]
    pub limit: u64,
}

/// `audit:list`: phase transitions and operator actions, oldest first.
pub async fn list(ctx: &Ctx, args: &AuditArgs) -> anyhow::Result<Report> {
    let store = ctx.store().await?;
    let mut filter = AuditFilter::default();
    filter.job_id = args.job.map(JobId);
    filter.since = args.since.map(|t| t.with_timezone(&chrono::Utc));
    filter.limit = Some(args.limit);
    let rows = store.list_audit(&filter).await?;
    let text = table(
        &["at", "job", "actor", "action", "detail"],
        &rows
            .iter()
            .map(|r| {
                vec![
                    ts(r.at),
                    r.job_id
                        .map(|j| j.to_string())
                        .unwrap_or_else(|| "-".into()),
                    r.actor.clone(),
                    r.action.clone(),
                    r.detail.clone(),
                ]
            })
            .collect::<Vec<_>>(),
    );
    Ok(Report::new(text, serde_json::to_value(&rows)?))
}
