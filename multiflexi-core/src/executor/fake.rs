use super::{Capabilities, Capability, Executor, ExitReport, JobIo, LaunchSpec, RunHandle};
use crate::model::ExecutorKind;
use crate::{Error, Result};
use async_trait::async_trait;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What one scripted run of the [`FakeExecutor`] does.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FakeRun {
    /// The exit code it ends with.
    pub exit_code: i32,
    /// stdout writes, in order (each one a separate `JobIo::stdout` call).
    pub stdout: Vec<Vec<u8>>,
    /// stderr writes, in order.
    pub stderr: Vec<Vec<u8>>,
    /// How long it "runs" (between start and exit).
    pub duration: Duration,
    /// Result files it leaves: (name, content).
    pub result_files: Vec<(String, Vec<u8>)>,
    /// Fail with a retryable platform error before starting.
    pub platform_error: bool,
    /// The usage it reports (peak bytes, CPU time); `None`: none, with the reason
    /// [`FakeRun::NO_USAGE`].
    pub usage: Option<(u64, Duration)>,
}

impl FakeRun {
    /// Exits with `code` at once, printing nothing.
    pub fn exit(code: i32) -> Self {
        Self {
            exit_code: code,
            stdout: Vec::new(),
            stderr: Vec::new(),
            duration: Duration::ZERO,
            result_files: Vec::new(),
            platform_error: false,
            usage: None,
        }
    }

    /// The reason a run without [`FakeRun::usage`] reports.
    pub const NO_USAGE: &'static str = "the fake executor runs no program";

    /// Builder: reports this usage (peak bytes, CPU time).
    pub fn using(mut self, peak_bytes: u64, cpu_time: Duration) -> Self {
        self.usage = Some((peak_bytes, cpu_time));
        self
    }

    /// The engine is unreachable.
    pub fn platform_error() -> Self {
        Self {
            platform_error: true,
            ..Self::exit(0)
        }
    }

    /// Builder: one stdout write.
    pub fn print(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdout.push(bytes.into());
        self
    }

    /// Builder: one stderr write.
    pub fn eprint(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stderr.push(bytes.into());
        self
    }

    /// Builder: run time.
    pub fn lasting(mut self, duration: Duration) -> Self {
        self.duration = duration;
        self
    }

    /// Builder: a result file.
    pub fn with_result_file(
        mut self,
        name: impl Into<String>,
        content: impl Into<Vec<u8>>,
    ) -> Self {
        self.result_files.push((name.into(), content.into()));
        self
    }
}

type Script = dyn Fn(&LaunchSpec) -> FakeRun + Send + Sync;

/// An executor whose runs a test scripts; it counts launches and the high-water mark of
/// concurrent runs, so parallelism limits can be asserted exactly.
#[derive(Clone)]
pub struct FakeExecutor {
    kind: ExecutorKind,
    script: Arc<Script>,
    running: Arc<AtomicUsize>,
    high_water: Arc<AtomicUsize>,
    launches: Arc<AtomicU64>,
    next_pid: Arc<AtomicI64>,
}

impl fmt::Debug for FakeExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeExecutor")
            .field("kind", &self.kind)
            .field("launches", &self.launches())
            .field("high_water", &self.high_water())
            .finish()
    }
}

impl FakeExecutor {
    /// A fake of `kind` whose every run is decided by `script`.
    pub fn new(
        kind: ExecutorKind,
        script: impl Fn(&LaunchSpec) -> FakeRun + Send + Sync + 'static,
    ) -> Self {
        Self {
            kind,
            script: Arc::new(script),
            running: Arc::new(AtomicUsize::new(0)),
            high_water: Arc::new(AtomicUsize::new(0)),
            launches: Arc::new(AtomicU64::new(0)),
            next_pid: Arc::new(AtomicI64::new(10_000)),
        }
    }

    /// A Native-kind fake whose runs all exit 0 at once.
    pub fn succeeding() -> Self {
        Self::new(ExecutorKind::Native, |_| FakeRun::exit(0))
    }

    /// The most runs that were ever in progress at once.
    pub fn high_water(&self) -> usize {
        self.high_water.load(Ordering::SeqCst)
    }

    /// Runs in progress now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Launches so far.
    pub fn launches(&self) -> u64 {
        self.launches.load(Ordering::SeqCst)
    }
}

struct RunningGuard<'a>(&'a AtomicUsize);

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl Executor for FakeExecutor {
    fn kind(&self) -> ExecutorKind {
        self.kind
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new([
            Capability::SeparateStreams,
            Capability::Streaming,
            Capability::LosslessOutput,
            Capability::Timeout,
            Capability::Cancel,
            Capability::ResultFiles,
            Capability::WorkDir,
        ])
    }

    async fn launch(
        &self,
        spec: &LaunchSpec,
        io: &dyn JobIo,
        cancel: CancellationToken,
    ) -> Result<ExitReport> {
        self.launches.fetch_add(1, Ordering::SeqCst);
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        let _guard = RunningGuard(&self.running);
        self.high_water.fetch_max(now, Ordering::SeqCst);
        let run = (self.script)(spec);
        if run.platform_error {
            return Err(Error::backend(
                "fake",
                true,
                std::io::Error::new(
                    std::io::ErrorKind::ConnectionRefused,
                    "fake engine unreachable",
                ),
            ));
        }
        io.started(RunHandle {
            pid: Some(self.next_pid.fetch_add(1, Ordering::SeqCst)),
            external_id: None,
        })
        .await?;
        for chunk in &run.stdout {
            io.stdout(chunk).await?;
        }
        for chunk in &run.stderr {
            io.stderr(chunk).await?;
        }
        let limit = spec.timeout.unwrap_or(Duration::MAX);
        let mut report = if run.duration.is_zero() {
            ExitReport::exited(run.exit_code)
        } else {
            tokio::select! {
                _ = tokio::time::sleep(run.duration.min(limit)) => {
                    if run.duration > limit {
                        let mut r = ExitReport::signaled(9);
                        r.timed_out = true;
                        r
                    } else {
                        ExitReport::exited(run.exit_code)
                    }
                }
                _ = cancel.cancelled() => {
                    let mut r = ExitReport::signaled(15);
                    r.cancelled = true;
                    r
                }
            }
        };
        if cancel.is_cancelled() && !report.cancelled && !report.timed_out {
            report = ExitReport::signaled(15);
            report.cancelled = true;
        }
        match run.usage {
            Some((peak, cpu)) => report.set_usage(peak, cpu),
            None => report.set_usage_unknown(FakeRun::NO_USAGE),
        }
        for (name, content) in &run.result_files {
            io.result_file(name, &mut content.as_slice()).await?;
        }
        Ok(report)
    }

    async fn reap(&self, _executor_id: &str) -> Result<u64> {
        Ok(0)
    }
}
