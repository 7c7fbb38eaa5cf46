//! `multiflexi-api`: the HTTP API and the dashboard on their own, over the shared database (the
//! scheduler and executors run elsewhere). The same server runs inside `multiflexi serve`.

use super::args::WaitArgs;
use super::http::{self as http_server, HttpArgs};
use super::signals::{self, LogNotice};
use super::wiring;
use crate::config::DatabaseConfig;
use crate::http::HttpState;
use clap::Parser;
use multiflexi_core::Store;
use multiflexi_core::engine::Shutdown;
use std::sync::Arc;

/// `multiflexi-api`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "multiflexi-api",
    version,
    about = "Serve the MultiFlexi HTTP API (bearer tokens: multiflexi-cli token:create) and the web dashboard",
    after_help = crate::daemon::AFTER_HELP
)]
pub struct ApiArgs {
    #[command(flatten)]
    pub database: DatabaseConfig,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// Serves until SIGTERM / Ctrl-C.
pub async fn run(args: ApiArgs) -> anyhow::Result<()> {
    let Some(addr) = args.http.address()? else {
        anyhow::bail!(
            "multiflexi-api with --listen off would serve nothing; give an address such as 127.0.0.1:8080"
        );
    };
    let opened = wiring::open(&args.database, args.wait.db_wait(), false).await?;
    let store: Arc<dyn Store> = opened.store.clone();
    let stack = wiring::start_telemetry("multiflexi-api", None, opened.store.clone())?;
    let shutdown = Shutdown::new();
    let fold = super::stats_fold::spawn(store.clone(), shutdown.clone());
    let state = HttpState::new(store, opened.store.clone())
        .with_telemetry(stack.telemetry())
        .with_database(opened.store.backend_name())
        .with_options(args.http.options());
    let signals = signals::spawn(shutdown.clone(), None, None, LogNotice)?;
    let (bound, task) = http_server::start(addr, state, shutdown.clone()).await?;
    tracing::info!(
        "multiflexi-api {}: database {}, dashboard http://{bound}/, API http://{bound}{}/; tokens: multiflexi-cli token:create --name NAME --admin",
        env!("CARGO_PKG_VERSION"),
        opened.shown_url(),
        crate::http::api::BASE_PATH
    );
    let served = task.await;
    shutdown.drain();
    let _ = fold.await;
    signals.abort();
    stack.shutdown(std::time::Duration::from_secs(5)).await;
    served??;
    tracing::info!("stopped");
    Ok(())
}
