//! The long-running processes: `multiflexi serve` (scheduler + dispatcher in one process),
//! `multiflexi-scheduler`, `multiflexi-executor` and `multiflexi-api`. The binaries are thin
//! `main`s over [`serve::run`], [`scheduler::run`], [`executor::run`] and [`api::run`].
//!
//! - [`signals`]: SIGTERM / Ctrl-C once = drain, twice (or past the grace period) = abort;
//! - [`wiring`]: store + telemetry + engine options from the configuration;
//! - [`printer`]: the one-line-per-phase-change telemetry sink;
//! - [`db_wait`]: waiting for the database at start, with back-off;
//! - [`executors`]: which executor kinds a process runs (configured or discovered);
//! - [`demo`]: the example apps, company and templates of `serve --demo`;
//! - [`http`]: the API + dashboard server;
//! - [`admin_token`]: the admin token beside the database (made on a first start, checked after).

/// `println!` that never panics: a closed stdout (`multiflexi serve | head`) must not stop the
/// printer or the signal handler.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::daemon::write_stdout(format_args!($($arg)*))
    };
}

pub mod actions;
pub mod admin_token;
pub mod api;
pub mod args;
pub mod db_wait;
pub mod demo;
mod event_order;
pub mod executor;
pub mod executors;
mod hardening;
pub mod http;
pub mod printer;
pub mod retention;
pub mod scheduler;
pub mod serve;
pub mod signals;
pub mod stats_fold;
pub mod wiring;

use std::future::Future;
use std::io::IsTerminal;

/// Shown under every daemon's `--help`.
pub const AFTER_HELP: &str = "Without DATABASE_URL and DB_CONNECTION the database is \
sqlite://multiflexi.sqlite?mode=rwc (./multiflexi.sqlite). Without MULTIFLEXI_MASTER_KEY the key \
is read from multiflexi.key beside a SQLite database (`multiflexi serve` creates it). Logging: \
RUST_LOG (e.g. RUST_LOG=debug). deploy/systemd/multiflexi.env.example lists every variable.";
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// Logs to stderr through `tracing-subscriber`; `RUST_LOG` wins over `default_filter`.
pub fn init_logging(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Runs `body` on a multi-threaded runtime; an error becomes one line on stderr
/// (`<name>: <error: cause: cause>`) and exit code 1.
pub fn main_with<F>(name: &str, body: F) -> ExitCode
where
    F: Future<Output = anyhow::Result<()>>,
{
    hardening::harden(name);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{name}: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(body) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Writes one line to stdout, ignoring errors (see `say!`).
pub fn write_stdout(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
