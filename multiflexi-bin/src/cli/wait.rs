//! Waiting for a job: `job:wait ID`, and `--wait` on `job:create`. The job's phase changes go to
//! stderr, its stdout and stderr are streamed to ours as they arrive, and the command exits with
//! the job's exit status ([`multiflexi_core::exit_status`]: its own code, 75 lost or platform
//! error, 124 timeout, 130 cancelled; 3 when the wait's own `--timeout` is reached first, the job
//! going on). With `--format json` nothing is streamed: one JSON document when the wait ends.
//!
//! A read: the job and its output chunks are polled from the store every [`POLL`].

use super::Ctx;
use super::args::IdArg;
use super::output::{Format, Report};
use clap::Args;
use multiflexi_core::exit_status;
use multiflexi_core::model::Job;
use multiflexi_core::store::{JobQueue as _, OutputLog as _, Stream};
use multiflexi_core::{JobId, Phase};
use serde_json::{Value, json};
use std::io::Write;
use std::time::{Duration, Instant};

/// How often the store is asked.
pub const POLL: Duration = Duration::from_millis(250);
/// Output chunks read per query.
const CHUNKS_PER_READ: usize = 500;

/// `--wait` and `--timeout`, for a command that creates a job.
#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    /// Wait until the job ends: print its phase changes on stderr, stream its stdout and stderr,
    /// then exit with its exit status (its own code 0-255; 75 lost or platform_error; 124
    /// timeout; 130 cancelled; 3 when --timeout is reached first).
    #[arg(long)]
    pub wait: bool,
    /// With --wait: stop waiting after this many seconds (exit status 3; the job goes on).
    #[arg(long = "timeout", value_name = "SECONDS", requires = "wait")]
    pub timeout: Option<u64>,
}

/// `job:wait`.
#[derive(Debug, Args)]
pub struct JobWaitArgs {
    #[command(flatten)]
    pub id: IdArg,
    /// Stop waiting after this many seconds (exit status 3; the job goes on).
    #[arg(long = "timeout", value_name = "SECONDS")]
    pub timeout: Option<u64>,
}

/// `job:wait`.
pub async fn job_wait(ctx: &Ctx, a: &JobWaitArgs) -> anyhow::Result<Report> {
    wait(ctx, a.id.get()?, a.timeout).await
}

/// How a job stands, as one line: `running`, `completed: failed, exit code 3`.
fn phase_line(job: &Job) -> String {
    match (job.phase.is_finished(), job.outcome) {
        (true, Some(o)) => format!(
            "{}: {}, exit code {}",
            job.phase,
            o,
            job.exitcode
                .map_or_else(|| "-".to_string(), |c| c.to_string())
        ),
        _ => job.phase.to_string(),
    }
}

/// Writes a chunk to our stdout or stderr (a closed stream is not an error of the wait).
fn stream(stream: Stream, bytes: &[u8]) {
    let _ = match stream {
        Stream::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes).and_then(|()| out.flush())
        }
        Stream::Stderr => {
            let mut err = std::io::stderr().lock();
            err.write_all(bytes).and_then(|()| err.flush())
        }
    };
}

fn summary(job: &Job, exit: u8) -> Value {
    json!({
        "id": job.id,
        "runtemplate_id": job.runtemplate_id,
        "phase": job.phase.as_str(),
        "status": job.status(),
        "outcome": job.outcome.map(|o| o.as_str()),
        "exitcode": job.exitcode,
        "exit_status": exit,
        "stdout": job.stdout,
        "stderr": job.stderr,
    })
}

/// Waits for job `id` to end (at most `timeout` seconds): see the [module docs](self).
pub async fn wait(ctx: &Ctx, id: JobId, timeout: Option<u64>) -> anyhow::Result<Report> {
    let store = ctx.store().await?;
    let deadline = timeout.and_then(|s| Instant::now().checked_add(Duration::from_secs(s)));
    let text = ctx.format == Format::Text;
    let mut seen: Option<Phase> = None;
    let mut after: Option<u64> = None;
    loop {
        // The job first, then its output: a job seen finished has all its output written.
        let job = store.get_job(id).await?;
        loop {
            let chunks = store.read_output(id, after, CHUNKS_PER_READ).await?;
            for c in &chunks {
                if text {
                    stream(c.stream, &c.bytes);
                }
                after = Some(c.seq);
            }
            if chunks.len() < CHUNKS_PER_READ {
                break;
            }
        }
        if seen != Some(job.phase) {
            if text {
                eprintln!("job {id}: {}", phase_line(&job));
            }
            seen = Some(job.phase);
        }
        if let (true, Some(outcome)) = (job.phase.is_finished(), job.outcome) {
            let exit = exit_status::of_job(outcome, job.exitcode);
            let report = if text {
                Report::raw("")
            } else {
                Report::new(String::new(), summary(&job, exit))
            };
            return Ok(report.with_exit(exit));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let mut v = summary(&job, exit_status::WAIT_TIMED_OUT);
            if let Value::Object(m) = &mut v {
                m.insert("timed_out".into(), json!(true));
            }
            let report = if text {
                Report::raw("")
            } else {
                Report::new(String::new(), v)
            };
            return Ok(report
                .failed(format!(
                    "job {id} is still {} after {} s of waiting; it goes on \
                     (multiflexi-cli job:wait {id} waits again)",
                    job.phase,
                    timeout.unwrap_or(0)
                ))
                .with_exit(exit_status::WAIT_TIMED_OUT));
        }
        tokio::time::sleep(POLL).await;
    }
}
