//! One readable line per phase change: time, job id, template name, phase, exit code with its
//! outcome, duration.
//!
//! [`PhasePrinter::event`] only copies the event into a bounded channel; a background task looks
//! the template name up (cached per template, one store read on a miss) and prints, so a job is
//! never slowed down or failed by the printer. It holds each event up to 100 ms so that a job's
//! phases print in the order they happened (`event_order`).

use chrono::Local;
use multiflexi_core::RunTemplateId;
use multiflexi_core::{Phase, PhaseEvent, Store, Telemetry};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

use super::event_order::InOrder;

/// Where the lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrintTo {
    /// Standard output (the all-in-one in a terminal).
    Stdout,
    /// `tracing` at info level, target `multiflexi::job` (daemons under systemd).
    Log,
}

enum Msg {
    Event(Box<PhaseEvent>),
    Flush(oneshot::Sender<()>),
}

/// The phase-line printer (a [`Telemetry`] sink).
pub struct PhasePrinter {
    tx: mpsc::Sender<Msg>,
    dropped: Arc<AtomicU64>,
}

impl fmt::Debug for PhasePrinter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhasePrinter")
            .field("dropped", &self.dropped.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Events waiting to be printed before new ones are dropped (and counted).
const BACKLOG: usize = 4096;

impl PhasePrinter {
    /// Starts the printing task (needs a Tokio runtime).
    pub fn spawn(store: Arc<dyn Store>, to: PrintTo) -> Arc<Self> {
        let (tx, rx) = mpsc::channel(BACKLOG);
        let dropped = Arc::new(AtomicU64::new(0));
        tokio::spawn(print_loop(store, to, rx, dropped.clone()));
        Arc::new(Self { tx, dropped })
    }

    /// Waits until every event sent so far is printed.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

impl Telemetry for PhasePrinter {
    fn event(&self, event: &PhaseEvent) {
        if self
            .tx
            .try_send(Msg::Event(Box::new(event.clone())))
            .is_err()
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn print_loop(
    store: Arc<dyn Store>,
    to: PrintTo,
    mut rx: mpsc::Receiver<Msg>,
    dropped: Arc<AtomicU64>,
) {
    let mut names: HashMap<RunTemplateId, String> = HashMap::new();
    let mut held: InOrder<Box<PhaseEvent>> = InOrder::default();
    loop {
        let msg = match held.next_due() {
            Some(due) => tokio::select! {
                msg = rx.recv() => msg,
                _ = tokio::time::sleep_until(due.into()) => {
                    while let Some(e) = held.pop_ready(Instant::now()) {
                        print(&*store, to, &mut names, &dropped, &e).await;
                    }
                    continue;
                }
            },
            None => rx.recv().await,
        };
        match msg {
            Some(Msg::Event(e)) => {
                held.push(e.at, phase_rank(e.phase), Instant::now(), e);
                while let Some(e) = held.pop_ready(Instant::now()) {
                    print(&*store, to, &mut names, &dropped, &e).await;
                }
            }
            Some(Msg::Flush(done)) => {
                for e in held.drain() {
                    print(&*store, to, &mut names, &dropped, &e).await;
                }
                let _ = done.send(());
            }
            None => {
                for e in held.drain() {
                    print(&*store, to, &mut names, &dropped, &e).await;
                }
                return;
            }
        }
    }
}

/// A phase's place in the lifecycle (ties of the same instant: Created before Scheduled).
fn phase_rank(phase: Phase) -> u8 {
    match phase {
        Phase::Created => 0,
        Phase::Scheduled => 1,
        Phase::Queued => 2,
        Phase::Running => 3,
        Phase::Completed => 4,
        Phase::Preserved => 5,
    }
}

/// Prints one event's line (the template's name looked up once per template).
async fn print(
    store: &dyn Store,
    to: PrintTo,
    names: &mut HashMap<RunTemplateId, String>,
    dropped: &AtomicU64,
    event: &PhaseEvent,
) {
    let lost = dropped.swap(0, Ordering::Relaxed);
    if lost > 0 {
        emit(
            to,
            event,
            &format!("({lost} phase change(s) not shown: the printer fell behind)"),
        );
    }
    let id = event.runtemplate_id;
    let name = match names.get(&id) {
        Some(name) => name,
        None => {
            let name = match store.get_runtemplate(id).await {
                Ok(t) => t.name,
                Err(_) => format!("template {id}"),
            };
            names.entry(id).or_insert(name)
        }
    };
    emit(to, event, &format_line(event, name));
}

fn emit(to: PrintTo, event: &PhaseEvent, line: &str) {
    match to {
        PrintTo::Stdout => say!("{line}"),
        PrintTo::Log => tracing::info!(
            target: "multiflexi::job",
            job_id = event.job_id.get(),
            runtemplate_id = event.runtemplate_id.get(),
            phase = event.phase.as_str(),
            outcome = event.outcome.map(|o| o.as_str()),
            exitcode = event.exitcode,
            "{line}"
        ),
    }
}

/// `Scheduled`, `Preserved`, …
pub fn phase_title(phase: Phase) -> &'static str {
    match phase {
        Phase::Created => "Created",
        Phase::Scheduled => "Scheduled",
        Phase::Queued => "Queued",
        Phase::Running => "Running",
        Phase::Completed => "Completed",
        Phase::Preserved => "Preserved",
    }
}

/// `12 ms`, `3.4 s`, `2 min 05 s`.
pub fn human_duration(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        let s = ms / 1000;
        if s < 3600 {
            format!("{} min {:02} s", s / 60, s % 60)
        } else {
            format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
        }
    }
}

/// The line for one event (local time).
pub fn format_line(e: &PhaseEvent, template: &str) -> String {
    let at = e.at.with_timezone(&Local).format("%Y-%m-%d %H:%M:%S");
    let mut line = format!(
        "{at}  job {:<5} {:<30}  {:<9}",
        e.job_id.to_string(),
        template,
        phase_title(e.phase)
    );
    match e.phase {
        Phase::Created => {
            line.push_str(&format!("  ({}", e.trigger));
            if e.attempt > 1 {
                line.push_str(&format!(", attempt {}", e.attempt));
            }
            line.push(')');
        }
        Phase::Scheduled | Phase::Queued => {}
        Phase::Running => line.push_str(&format!("  on {}", e.executor)),
        Phase::Completed | Phase::Preserved => {
            match e.exitcode {
                Some(code) => line.push_str(&format!("  exit {code}")),
                None => line.push_str("  exit -"),
            }
            if let Some(o) = e.outcome {
                line.push_str(&format!(" {}", o.as_str().replace('_', " ")));
            }
            if let Some(ms) = e.duration_ms {
                line.push_str(&format!("  {}", human_duration(ms)));
            }
        }
    }
    line.truncate(line.trim_end().len());
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(human_duration(12), "12 ms");
        assert_eq!(human_duration(3400), "3.4 s");
        assert_eq!(human_duration(125_000), "2 min 05 s");
        assert_eq!(human_duration(3_725_000), "1 h 02 min");
        assert_eq!(human_duration(-5), "0 ms");
    }
}
