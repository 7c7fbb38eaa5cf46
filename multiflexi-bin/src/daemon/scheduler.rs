//! `multiflexi-scheduler`: turns due run templates into jobs; recovers expired leases.

use super::args::WaitArgs;
use super::printer::{PhasePrinter, PrintTo};
use super::retention::RetentionArgs;
use super::signals::{self, LogNotice};
use super::wiring;
use crate::config::{DatabaseConfig, EngineConfig};
use clap::Parser;
use multiflexi_core::engine::{Scheduler, Shutdown};
use multiflexi_core::telemetry::FanoutTelemetry;
use multiflexi_core::{Clock, Store, SystemClock, Telemetry};
use std::sync::Arc;
use std::time::Duration;

/// multiflexi-scheduler: creates the jobs of due run templates and recovers expired leases.
/// Configured by flags or the environment variables below; stops at SIGTERM / Ctrl-C.
#[derive(Debug, Clone, Parser)]
#[command(name = "multiflexi-scheduler", version, after_help = crate::daemon::AFTER_HELP)]
pub struct SchedulerArgs {
    #[command(flatten)]
    pub database: DatabaseConfig,
    #[command(flatten)]
    pub engine: EngineConfig,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub retention: RetentionArgs,
}

/// Runs until SIGTERM / Ctrl-C.
pub async fn run(args: SchedulerArgs) -> anyhow::Result<()> {
    wiring::check_timezone(&args.engine)?;
    let opened = wiring::open(&args.database, args.wait.db_wait(), false).await?;
    tracing::info!(
        "multiflexi-scheduler {}: database {}, scheduler pass at least every {} s",
        env!("CARGO_PKG_VERSION"),
        opened.shown_url(),
        args.engine.cycle_pause().as_secs()
    );
    let store: Arc<dyn Store> = opened.store.clone();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let printer = PhasePrinter::spawn(store.clone(), PrintTo::Log);
    let stack = wiring::start_telemetry("multiflexi-scheduler", None, opened.store.clone())?;
    let telemetry: Arc<dyn Telemetry> = Arc::new(FanoutTelemetry(vec![
        printer.clone() as Arc<dyn Telemetry>,
        stack.telemetry(),
    ]));
    let scheduler = Scheduler::new(
        store.clone(),
        telemetry,
        clock.clone(),
        wiring::scheduler_options(&args.engine),
    );
    tracing::info!("{}", args.retention.describe());
    let shutdown = Shutdown::new();
    let signals = signals::spawn(shutdown.clone(), None, None, LogNotice)?;
    let fold = super::stats_fold::spawn(store.clone(), shutdown.clone());
    let retention = args.retention.spawn(store, clock, shutdown.clone());
    let result = scheduler.run(shutdown.clone()).await;
    shutdown.drain();
    if let Some(task) = retention {
        let _ = task.await;
    }
    let _ = fold.await;
    signals.abort();
    printer.flush().await;
    stack.shutdown(Duration::from_secs(5)).await;
    result?;
    tracing::info!("stopped");
    Ok(())
}
