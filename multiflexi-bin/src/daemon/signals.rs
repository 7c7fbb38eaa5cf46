//! SIGTERM / SIGINT (Ctrl-C): once = drain, twice (or past the grace period) = abort.

use multiflexi_core::engine::Shutdown;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinHandle;

/// What the handler says when it acts (the all-in-one prints to the terminal, daemons log).
pub trait StopNotice: Send + Sync + 'static {
    /// A line for the operator.
    fn say(&self, line: &str);
}

/// Prints to stdout.
#[derive(Debug, Clone, Copy)]
pub struct PrintNotice;

impl StopNotice for PrintNotice {
    fn say(&self, line: &str) {
        say!("{line}");
    }
}

/// Logs through `tracing`.
#[derive(Debug, Clone, Copy)]
pub struct LogNotice;

impl StopNotice for LogNotice {
    fn say(&self, line: &str) {
        tracing::info!("{line}");
    }
}

/// Installs the handlers (before anything runs, so an early signal is not lost) and returns the
/// task that turns signals into `shutdown.drain()` / `shutdown.abort()`.
///
/// `running` reports how many jobs run (for the messages; `None` for a process that runs no
/// jobs, which stops at the first signal); `grace` bounds the drain when set.
pub fn spawn(
    shutdown: Shutdown,
    grace: Option<Duration>,
    running: Option<Box<dyn Fn() -> usize + Send>>,
    notice: impl StopNotice,
) -> std::io::Result<JoinHandle<()>> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(tokio::spawn(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        let Some(running) = running else {
            shutdown.abort();
            notice.say(&format!("{name} received: stopping"));
            return;
        };
        let n = running();
        shutdown.drain();
        if n == 0 {
            notice.say(&format!("{name} received: stopping (no job is running)"));
        } else {
            let then = match grace {
                Some(g) => format!("after {} s, or at a second signal", g.as_secs()),
                None => "at a second signal".to_string(),
            };
            notice.say(&format!(
                "{name} received: stopping; no new jobs are taken, {n} running job(s) may finish (cancelled {then})"
            ));
        }
        let reason = tokio::select! {
            _ = term.recv() => "second signal (SIGTERM)".to_string(),
            _ = int.recv() => "second signal (SIGINT)".to_string(),
            _ = sleep_or_forever(grace) => "grace period over".to_string(),
        };
        let n = running();
        shutdown.abort();
        if n > 0 {
            notice.say(&format!(
                "{reason}: cancelling {n} running job(s); they are recorded as cancelled"
            ));
        }
    }))
}

async fn sleep_or_forever(grace: Option<Duration>) {
    match grace {
        Some(g) => tokio::time::sleep(g).await,
        None => std::future::pending().await,
    }
}
