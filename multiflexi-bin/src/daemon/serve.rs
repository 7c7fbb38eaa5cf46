//! `multiflexi serve`: scheduler and dispatcher in one process, on the embedded SQLite default.

use super::admin_token::{self, AdminToken};
use super::args::{RunArgs, WaitArgs};
use super::http::{self as http_server, HttpArgs};
use super::printer::{PhasePrinter, PrintTo};
use super::retention::RetentionArgs;
use super::signals::{self, PrintNotice};
use super::wiring;
use super::{demo, executors};
use crate::config::{DEFAULT_DATABASE_URL, DatabaseConfig, EngineConfig};
use crate::database::KeyInUse;
use clap::Args;
use multiflexi_core::engine::{Dispatcher, Scheduler, Shutdown};
use multiflexi_core::telemetry::FanoutTelemetry;
use multiflexi_core::{ArtifactSink, Clock, Store, SystemClock, Telemetry};
use std::sync::Arc;

/// `multiflexi serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Import the example apps (examples/apps/), create a demo company and two run templates
    /// (one every minute, one run at once) and start a job, so jobs reach Preserved within a
    /// minute. Safe to repeat: nothing is duplicated.
    #[arg(long)]
    pub demo: bool,
    #[command(flatten)]
    pub database: DatabaseConfig,
    #[command(flatten)]
    pub engine: EngineConfig,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub retention: RetentionArgs,
}

/// Runs until SIGTERM / Ctrl-C (drain; a second signal or the grace period cancels running jobs).
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    wiring::check_timezone(&args.engine)?;
    let listen = args.http.address()?;
    let plan = executors::plan(&args.engine, &args.run)?;
    let opened = wiring::open(&args.database, args.wait.db_wait(), true).await?;
    let set = executors::select(plan, &args.run).await?;
    let options = wiring::dispatcher_options(&args.engine, &args.run)?;
    wiring::prepare_state_dir(&args.run)?;

    say!(
        "multiflexi {}: scheduler and executor in one process",
        env!("CARGO_PKG_VERSION")
    );
    match &opened.settings.sqlite_path {
        Some(path) => say!(
            "Database:   {} (SQLite, {})",
            path.display(),
            if opened.created {
                "created and migrated now"
            } else {
                "existing, migrated"
            }
        ),
        None => say!(
            "Database:   {} ({})",
            opened.shown_url(),
            opened.store.backend_name()
        ),
    }
    match &opened.key {
        KeyInUse::Variable => say!("Master key: from MULTIFLEXI_MASTER_KEY"),
        KeyInUse::File(p) => say!("Master key: {}", p.display()),
        KeyInUse::CreatedFile(p) => say!(
            "Master key: created {} (mode 0600); it encrypts the secrets in the database: keep it with the database, or set MULTIFLEXI_MASTER_KEY to its content instead",
            p.display()
        ),
        KeyInUse::None => say!(
            "Master key: none (set MULTIFLEXI_MASTER_KEY to store secrets; openssl rand -base64 32)"
        ),
    }
    let cli_env = match args.database.database_url.as_deref() {
        Some(u) if !u.trim().is_empty() && u.trim() != DEFAULT_DATABASE_URL => {
            " (with the same DATABASE_URL)"
        }
        _ => "",
    };
    say!(
        "Artifacts:  in the database (stdout.txt, stderr.txt and result files of every job); list them with `multiflexi-cli artifact:list --job N`, save one with `multiflexi-cli artifact:get ID --output FILE`{cli_env}"
    );
    say!(
        "Work dirs:  {} (one per job, removed once it is preserved)",
        options.work_root.display()
    );
    say!("Executors:  {}", set.notes.join("; "));

    let store: Arc<dyn Store> = opened.store.clone();
    let artifacts: Arc<dyn ArtifactSink> = opened.store.clone();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let printer = PhasePrinter::spawn(store.clone(), PrintTo::Stdout);
    let stack = wiring::start_telemetry(
        "multiflexi",
        Some(std::net::SocketAddr::from(([127, 0, 0, 1], 9464))),
        opened.store.clone(),
    )?;
    if let Some(addr) = stack.config().metrics_addr {
        say!("Metrics:    http://{addr}/metrics (MULTIFLEXI_METRICS_ADDR=off disables)");
    }
    let telemetry: Arc<dyn Telemetry> = Arc::new(FanoutTelemetry(vec![
        printer.clone() as Arc<dyn Telemetry>,
        stack.telemetry(),
    ]));
    let max_parallel = options.max_parallel;
    let work_root = options.work_root.clone();
    let dispatcher = Dispatcher::new(
        store.clone(),
        artifacts,
        set.executors,
        telemetry.clone(),
        clock.clone(),
        options,
    );
    let scheduler = Scheduler::new(
        store.clone(),
        telemetry.clone(),
        clock.clone(),
        wiring::scheduler_options(&args.engine),
    );

    let shutdown = Shutdown::new();
    let signals = {
        let d = dispatcher.clone();
        signals::spawn(
            shutdown.clone(),
            args.run.stop_grace(),
            Some(Box::new(move || d.running())),
            PrintNotice,
        )?
    };

    let http_task = match listen {
        Some(addr) => {
            let state = crate::http::HttpState::new(store.clone(), opened.store.clone())
                .with_clock(clock.clone())
                .with_telemetry(telemetry.clone())
                .with_database(opened.store.backend_name())
                .with_dispatcher(dispatcher.clone())
                .with_options(args.http.options());
            let (bound, task) = http_server::start(addr, state, shutdown.clone()).await?;
            say!(
                "Dashboard:  http://{bound}/ ; API: http://{bound}{}/ (Authorization: Bearer <token>)",
                crate::http::api::BASE_PATH
            );
            let token_path = admin_token::admin_token_path(opened.settings.sqlite_path.as_deref());
            match admin_token::ensure_admin_token(&*store, &token_path).await? {
                AdminToken::Created(p) => say!(
                    "Admin token: created {} (mode 0600); log in with its content: cat {}",
                    p.display(),
                    p.display()
                ),
                AdminToken::Replaced(p) => say!(
                    "Admin token: {} held a token this database does not know (left from an earlier database?); replaced with a new admin token (mode 0600); log in with its content: cat {}",
                    p.display(),
                    p.display()
                ),
                AdminToken::Existing(p) => say!(
                    "Admin token: in {} (log in with its content: cat {})",
                    p.display(),
                    p.display()
                ),
                AdminToken::Elsewhere => say!(
                    "Admin token: admin tokens exist already; make another with `multiflexi-cli token:create --name NAME --admin`"
                ),
            }
            Some(task)
        }
        None => {
            say!("Dashboard:  off (--listen off)");
            None
        }
    };

    if args.demo {
        let demo = demo::setup(&*store, &*clock, &*telemetry, &args.engine.timezone).await?;
        let apps: Vec<String> = demo
            .apps
            .iter()
            .map(|a| format!("{:?}", a.display_name()))
            .collect();
        say!(
            "Demo:       apps {}; company {:?} (id {}); template {} {:?} runs every minute; template {} {:?} has no schedule{}",
            apps.join(", "),
            demo.company.name,
            demo.company.id,
            demo.every_minute.id,
            demo.every_minute.name,
            demo.at_once.id,
            demo.at_once.name,
            match &demo.job {
                Some(job) => format!(" and runs now as job {}", job.id),
                None => String::new(),
            }
        );
    }
    say!("Retention:  {}", args.retention.describe());
    say!(
        "Running:    up to {max_parallel} jobs at once, scheduler pass at least every {} s. Ctrl-C stops: running jobs finish first, a second Ctrl-C cancels them.",
        args.engine.cycle_pause().as_secs()
    );
    printer.flush().await;

    let scheduler_task = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move { scheduler.run(shutdown).await })
    };
    let retention_task = args
        .retention
        .spawn(store.clone(), clock.clone(), shutdown.clone());
    let fold_task = super::stats_fold::spawn(store.clone(), shutdown.clone());
    let actions_task = super::actions::spawn(
        store.clone(),
        clock.clone(),
        telemetry.clone(),
        &args.engine,
        stack.config().zabbix.clone(),
        shutdown.clone(),
    );
    let result = dispatcher.run(shutdown.clone()).await;
    // The dispatcher only returns on a stop request, or on an error: stop the scheduler too.
    shutdown.drain();
    let scheduled = scheduler_task.await;
    if let Some(task) = retention_task {
        let _ = task.await;
    }
    let _ = actions_task.await;
    let _ = fold_task.await;
    if let Some(task) = http_task {
        // Open requests (a live output tail) get a moment to finish, then the server stops.
        if let Ok(Ok(Err(e))) = tokio::time::timeout(std::time::Duration::from_secs(5), task).await
        {
            tracing::warn!("the HTTP server stopped with an error: {e}");
        }
    }
    signals.abort();
    printer.flush().await;
    stack.shutdown(std::time::Duration::from_secs(5)).await;
    // Each job removed its own directory; remove the root too when nothing is left in it.
    let _ = std::fs::remove_dir(&work_root);
    result?;
    scheduled??;
    say!("Stopped cleanly.");
    Ok(())
}
