//! Store, telemetry and engine options from the configuration.

use super::args::RunArgs;
use super::db_wait;
use crate::config::{DatabaseConfig, EngineConfig};
use crate::database::{DatabaseSettings, KeyInUse, OpenOptions};
use anyhow::Context;
use multiflexi_core::engine::{DispatcherOptions, SchedulerOptions};
use multiflexi_store::SqlStore;
use std::sync::Arc;
use std::time::Duration;

/// An open store and what the operator should be told about it.
#[derive(Debug)]
pub struct Opened {
    /// The store (also the artifact sink).
    pub store: Arc<SqlStore>,
    /// The settings it was opened with (URL, SQLite file, key source).
    pub settings: DatabaseSettings,
    /// Whether the SQLite file was created now.
    pub created: bool,
    /// Where the master key came from.
    pub key: KeyInUse,
}

impl Opened {
    /// The URL with its password hidden.
    pub fn shown_url(&self) -> String {
        self.settings.shown_url()
    }
}

/// Opens a daemon's store on the configured database: resolves the settings once (URL, SQLite
/// file, master key), creates the key file beside a SQLite database and the database's
/// directory when `create` is set (as `multiflexi serve` does), then connects with back-off for
/// at most `wait`, migrating the schema.
pub async fn open(config: &DatabaseConfig, wait: Duration, create: bool) -> anyhow::Result<Opened> {
    let settings = DatabaseSettings::resolve(config)?;
    let mut created = false;
    if let Some(path) = &settings.sqlite_path {
        created = !path.exists();
        if create && let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the directory {}", dir.display()))?;
        }
    }
    let options = OpenOptions::daemon().creating_key_file(create);
    let opened = db_wait::open_with_backoff(&settings, options, wait).await?;
    Ok(Opened {
        store: opened.store,
        settings,
        created,
        key: opened.key,
    })
}

/// Checks `MULTIFLEXI_TIMEZONE`.
pub fn check_timezone(engine: &EngineConfig) -> anyhow::Result<()> {
    engine.timezone.parse::<chrono_tz::Tz>().map(|_| ()).map_err(|_| {
        anyhow::anyhow!(
            "MULTIFLEXI_TIMEZONE={:?} is not an IANA timezone name; use e.g. UTC, Europe/Prague, America/New_York",
            engine.timezone
        )
    })
}

/// Scheduler options from the configuration.
pub fn scheduler_options(engine: &EngineConfig) -> SchedulerOptions {
    SchedulerOptions::with_cycle_pause(engine.cycle_pause())
}

/// Dispatcher options from the configuration; an error names a setting that cannot work.
pub fn dispatcher_options(
    engine: &EngineConfig,
    run: &RunArgs,
) -> anyhow::Result<DispatcherOptions> {
    let mut o = DispatcherOptions::new(engine.executor_id(), engine.max_parallel);
    o.lease_ttl = engine.lease_ttl();
    if let Some(margin) = run.lease_margin_secs {
        if margin.saturating_mul(2) > engine.lease_ttl {
            anyhow::bail!(
                "MULTIFLEXI_LEASE_MARGIN={margin} is more than half of MULTIFLEXI_LEASE_TTL={}: jobs would be killed between two heartbeats; use at most {}",
                engine.lease_ttl,
                engine.lease_ttl / 2
            );
        }
        o.lease_margin = Some(Duration::from_secs(margin));
    }
    o.poll_interval = engine.cycle_pause();
    o.work_root = run.work_root();
    o.memory_limit_mb = engine.memory_limit();
    o.claim_ahead = run.claim_ahead;
    o.writes_in_flight = run.writes_in_flight.map(|k| k as usize);
    o.spool_dir = Some(run.state_dir().join("spool"));
    o.spool_max_bytes = run.spool_max_mb.saturating_mul(1 << 20);
    o.max_launch_failures = run.max_launch_failures.max(1);
    o.result_files_max = run.result_files_max;
    o.result_bytes_max = run.result_bytes_max_mb.saturating_mul(1 << 20);
    Ok(o)
}

/// Starts the telemetry sinks the environment asks for (OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT`
/// or `OTEL_ENABLED`, Zabbix when `ZABBIX_SERVER`, Prometheus `/metrics` on
/// `MULTIFLEXI_METRICS_ADDR` or `default_metrics_addr`), keeps the catalog names they report
/// fresh, and returns the stack; give `stack.telemetry()` to the engine and call
/// `stack.shutdown(…)` on exit. Phase lines are printed by the [`PhasePrinter`], so the stack
/// does not log them again.
///
/// [`PhasePrinter`]: super::printer::PhasePrinter
pub fn start_telemetry(
    service: &str,
    default_metrics_addr: Option<std::net::SocketAddr>,
    store: Arc<SqlStore>,
) -> anyhow::Result<crate::telemetry::TelemetryStack> {
    let mut config = crate::telemetry::TelemetryConfig::from_env(service, default_metrics_addr)?;
    config.log_phases = false;
    let stack = crate::telemetry::TelemetryStack::start(config)?;
    stack.spawn_catalog_refresh(store, Duration::from_secs(60));
    if let Some(addr) = stack.config().metrics_addr {
        tracing::info!("metrics: http://{addr}/metrics");
    }
    if stack.otlp().is_some() {
        tracing::info!("telemetry: exporting traces and metrics over OTLP");
    }
    if stack.zabbix().is_some() {
        tracing::info!("telemetry: sending job items to Zabbix");
    }
    stack.serve_metrics();
    Ok(stack)
}

/// Creates the state directory (mode 0700: it holds job records and spooled output).
pub fn prepare_state_dir(run: &RunArgs) -> anyhow::Result<std::path::PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let dir = run.state_dir();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create the state directory {}: {e}", dir.display()))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
        anyhow::anyhow!(
            "cannot make the state directory {} private: {e}",
            dir.display()
        )
    })?;
    Ok(dir)
}
