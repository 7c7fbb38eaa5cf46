//! `multiflexi-executor`: claims due jobs for the executor kinds it runs and runs them to
//! Preserved.

use super::args::{RunArgs, WaitArgs};
use super::executors;
use super::printer::{PhasePrinter, PrintTo};
use super::signals::{self, LogNotice};
use super::wiring;
use crate::config::{DatabaseConfig, EngineConfig};
use clap::Parser;
use multiflexi_core::engine::{Dispatcher, Shutdown};
use multiflexi_core::telemetry::FanoutTelemetry;
use multiflexi_core::{ArtifactSink, Clock, Store, SystemClock, Telemetry};
use std::sync::Arc;
use std::time::Duration;

/// multiflexi-executor: claims due jobs and runs them (natively, in Docker or Podman) until their
/// output is preserved. Configured by flags or the environment variables below. SIGTERM / Ctrl-C: stop claiming and let running jobs finish; a second signal,
/// or the end of the grace period, cancels them.
#[derive(Debug, Clone, Parser)]
#[command(name = "multiflexi-executor", version, after_help = crate::daemon::AFTER_HELP)]
pub struct ExecutorArgs {
    #[command(flatten)]
    pub database: DatabaseConfig,
    #[command(flatten)]
    pub engine: EngineConfig,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Runs until SIGTERM / Ctrl-C.
pub async fn run(args: ExecutorArgs) -> anyhow::Result<()> {
    wiring::check_timezone(&args.engine)?;
    let plan = executors::plan(&args.engine, &args.run)?;
    let opened = wiring::open(&args.database, args.wait.db_wait(), false).await?;
    let set = executors::select(plan, &args.run).await?;
    let options = wiring::dispatcher_options(&args.engine, &args.run)?;
    wiring::prepare_state_dir(&args.run)?;
    tracing::info!(
        "multiflexi-executor {} as {:?}: database {}, executors {}, up to {} jobs at once, work dirs in {}",
        env!("CARGO_PKG_VERSION"),
        options.executor_id,
        opened.shown_url(),
        set.kinds(),
        options.max_parallel,
        options.work_root.display()
    );
    for note in &set.notes {
        tracing::info!("executor {note}");
    }
    let work_root = options.work_root.clone();
    let store: Arc<dyn Store> = opened.store.clone();
    let artifacts: Arc<dyn ArtifactSink> = opened.store.clone();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let printer = PhasePrinter::spawn(store.clone(), PrintTo::Log);
    let stack = wiring::start_telemetry("multiflexi-executor", None, opened.store.clone())?;
    let telemetry: Arc<dyn Telemetry> = Arc::new(FanoutTelemetry(vec![
        printer.clone() as Arc<dyn Telemetry>,
        stack.telemetry(),
    ]));
    let dispatcher = Dispatcher::new(
        store.clone(),
        artifacts,
        set.executors,
        telemetry.clone(),
        clock.clone(),
        options,
    );
    let shutdown = Shutdown::new();
    let actions = super::actions::spawn(
        store,
        clock,
        telemetry,
        &args.engine,
        stack.config().zabbix.clone(),
        shutdown.clone(),
    );
    let signals = {
        let d = dispatcher.clone();
        signals::spawn(
            shutdown.clone(),
            args.run.stop_grace(),
            Some(Box::new(move || d.running())),
            LogNotice,
        )?
    };
    let result = dispatcher.run(shutdown.clone()).await;
    shutdown.drain();
    let _ = actions.await;
    signals.abort();
    printer.flush().await;
    stack.shutdown(Duration::from_secs(5)).await;
    // Each job removed its own directory; remove the root too when nothing is left in it.
    let _ = std::fs::remove_dir(&work_root);
    result?;
    tracing::info!("stopped");
    Ok(())
}
