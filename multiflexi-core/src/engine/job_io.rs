//! The engine's [`JobIo`]: persists Running, and owns the output path of one job.

use super::dispatcher::{JobWrite, JobWrites, JobWritten};
use crate::artifact::{ArtifactSink, detect_content_type, sanitize_name};
use crate::executor::{JobIo, RunHandle};
use crate::model::Job;
use crate::output::{CappedOutput, SecretMasker, text_copy};
use crate::store::{Begin, LeaseRef, OutputChunk, Store, Stream};
use crate::telemetry::{PhaseEvent, Telemetry};
use crate::{Clock, Error, Result};
use async_trait::async_trait;
use std::sync::Arc;
use std::sync::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::sync::CancellationToken;

/// Limits of the output path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutputLimits {
    /// Per-stream cap (head + tail kept).
    pub cap: usize,
    /// Bytes of each stream copied into the job row.
    pub text_copy: usize,
    /// Pending bytes that trigger a flush to the output log.
    pub flush_bytes: usize,
}

struct StreamState {
    masker: SecretMasker,
    capped: CappedOutput,
    masked: Vec<u8>,
}

impl StreamState {
    fn new(secrets: &[&str], cap: usize) -> Self {
        Self {
            masker: SecretMasker::new(secrets),
            capped: CappedOutput::new(cap),
            masked: Vec::new(),
        }
    }
}

struct OutputState {
    stdout: StreamState,
    stderr: StreamState,
    pending: Vec<OutputChunk>,
    pending_bytes: usize,
    seq: u64,
}

/// The [`JobIo`] the dispatcher hands to an executor for one job.
pub(crate) struct EngineJobIo {
    store: Arc<dyn Store>,
    artifacts: Arc<dyn ArtifactSink>,
    telemetry: Arc<dyn Telemetry>,
    clock: Arc<dyn Clock>,
    job: Job,
    limits: OutputLimits,
    writes: Arc<JobWrites>,
    /// Stopped when the Running write fails (the lease is gone or the store refused it).
    cancel: CancellationToken,
    output: Mutex<OutputState>,
    /// The Running write in flight: it resolves to the job as Running.
    begin: Mutex<Option<tokio::task::JoinHandle<Result<Job>>>>,
    started: Mutex<Option<Job>>,
}

/// What the output path produced once the job ended.
pub(crate) struct FinishedOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub stdout_copy: String,
    pub stderr_copy: String,
}

impl EngineJobIo {
    // One constructor call site (the dispatcher), which passes its own handles through.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        store: Arc<dyn Store>,
        artifacts: Arc<dyn ArtifactSink>,
        telemetry: Arc<dyn Telemetry>,
        clock: Arc<dyn Clock>,
        job: Job,
        limits: OutputLimits,
        writes: Arc<JobWrites>,
        cancel: CancellationToken,
    ) -> Self {
        let secrets = job.spec.env.secret_values();
        let output = OutputState {
            stdout: StreamState::new(&secrets, limits.cap),
            stderr: StreamState::new(&secrets, limits.cap),
            pending: Vec::new(),
            pending_bytes: 0,
            seq: 0,
        };
        Self {
            store,
            artifacts,
            telemetry,
            clock,
            job,
            limits,
            writes,
            cancel,
            output: Mutex::new(output),
            begin: Mutex::new(None),
            started: Mutex::new(None),
        }
    }

    /// The job as Running, once `started` was reported and stored. Waits for the Running write
    /// the executor's `started` queued; its error when that write failed.
    pub(crate) async fn started_job(&self) -> Result<Option<Job>> {
        let pending = self.begin.lock().unwrap().take();
        if let Some(write) = pending {
            let job = write
                .await
                .map_err(|e| Error::backend("store", false, format!("the Running write: {e}")))??;
            *self.started.lock().unwrap() = Some(job);
        }
        Ok(self.started.lock().unwrap().clone())
    }

    fn lease(&self) -> LeaseRef {
        LeaseRef::of(&self.job)
    }

    /// Masks and caps `bytes`, queues the head part for the output log; returns a batch to
    /// write when enough is pending.
    fn accept(&self, stream: Stream, bytes: &[u8]) -> Option<Vec<OutputChunk>> {
        let mut out = self.output.lock().unwrap();
        let state = &mut *out;
        let s = match stream {
            Stream::Stdout => &mut state.stdout,
            Stream::Stderr => &mut state.stderr,
        };
        s.masked.clear();
        s.masker.push(bytes, &mut s.masked);
        let kept = s.capped.push(&s.masked);
        if kept > 0 {
            let head = s.masked[..kept].to_vec();
            state.pending_bytes += head.len();
            match state.pending.last_mut() {
                Some(last) if last.stream == stream => last.bytes.extend_from_slice(&head),
                _ => {
                    state.seq += 1;
                    state.pending.push(OutputChunk {
                        job_id: self.job.id,
                        seq: state.seq,
                        stream,
                        bytes: head,
                    });
                }
            }
        }
        (state.pending_bytes >= self.limits.flush_bytes).then(|| take_pending(state))
    }

    /// Writes whatever output is pending to the output log (the live tail).
    pub(crate) async fn flush(&self) -> Result<()> {
        let batch = take_pending(&mut self.output.lock().unwrap());
        self.write(batch).await
    }

    async fn write(&self, batch: Vec<OutputChunk>) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.store.append_output(self.lease(), &batch).await
    }

    /// Appends an engine note to stderr (e.g. an executor error), through the same path.
    pub(crate) async fn note(&self, text: &str) -> Result<()> {
        self.stderr(text.as_bytes()).await
    }

    /// Flushes the maskers (held-back bytes) and the log; returns the capped contents.
    pub(crate) async fn finish(&self) -> Result<FinishedOutput> {
        let (batch, stdout, stderr) = {
            let mut out = self.output.lock().unwrap();
            let state = &mut *out;
            for stream in [Stream::Stdout, Stream::Stderr] {
                let s = match stream {
                    Stream::Stdout => &mut state.stdout,
                    Stream::Stderr => &mut state.stderr,
                };
                s.masked.clear();
                s.masker.finish(&mut s.masked);
                let kept = s.capped.push(&s.masked);
                if kept > 0 {
                    state.seq += 1;
                    let bytes = s.masked[..kept].to_vec();
                    state.pending_bytes += bytes.len();
                    state.pending.push(OutputChunk {
                        job_id: self.job.id,
                        seq: state.seq,
                        stream,
                        bytes,
                    });
                }
            }
            let batch = take_pending(state);
            let stdout = std::mem::replace(&mut state.stdout.capped, CappedOutput::new(0)).finish();
            let stderr = std::mem::replace(&mut state.stderr.capped, CappedOutput::new(0)).finish();
            (batch, stdout, stderr)
        };
        self.write(batch).await?;
        Ok(FinishedOutput {
            stdout_copy: text_copy(&stdout, self.limits.text_copy),
            stderr_copy: text_copy(&stderr, self.limits.text_copy),
            stdout,
            stderr,
        })
    }
}

fn take_pending(state: &mut OutputState) -> Vec<OutputChunk> {
    state.pending_bytes = 0;
    std::mem::take(&mut state.pending)
}

#[async_trait]
impl JobIo for EngineJobIo {
    async fn started(&self, handle: RunHandle) -> Result<()> {
        if self.begin.lock().unwrap().is_some() || self.started.lock().unwrap().is_some() {
            // Reported already: the job started once.
            return Ok(());
        }
        let begin = Begin::new(self.lease(), handle.pid, handle.external_id);
        // Batched with other jobs' starts: one transaction carries whatever is ready. The job
        // runs meanwhile (its slot is not held up by the write); its end is stored only after
        // the write (`started_job`), and a failed write stops it.
        let write = self.writes.enqueue(JobWrite::Begin(begin))?;
        let (telemetry, clock, cancel) = (
            self.telemetry.clone(),
            self.clock.clone(),
            self.cancel.clone(),
        );
        let task = tokio::spawn(async move {
            let r = match write.await {
                Ok(JobWritten::Begun(job)) => Ok(*job),
                Ok(JobWritten::Finished(_)) => {
                    Err(Error::conflict("a start came back as a finish"))
                }
                Err(e) => Err(e),
            };
            match &r {
                Ok(job) => telemetry.event(&PhaseEvent::of(job, clock.now())),
                Err(_) => cancel.cancel(),
            }
            r
        });
        *self.begin.lock().unwrap() = Some(task);
        Ok(())
    }

    async fn stdout(&self, bytes: &[u8]) -> Result<()> {
        match self.accept(Stream::Stdout, bytes) {
            Some(batch) => self.write(batch).await,
            None => Ok(()),
        }
    }

    async fn stderr(&self, bytes: &[u8]) -> Result<()> {
        match self.accept(Stream::Stderr, bytes) {
            Some(batch) => self.write(batch).await,
            None => Ok(()),
        }
    }

    async fn result_file(
        &self,
        name: &str,
        content: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<()> {
        let name = sanitize_name(name)?;
        if matches!(name.as_str(), "stdout.txt" | "stderr.txt") {
            return Err(Error::invalid(
                "artifact name",
                format!("{name:?} is reserved for the job's captured output"),
            ));
        }
        let mut head = Vec::with_capacity(8192);
        (&mut *content)
            .take(8192)
            .read_to_end(&mut head)
            .await
            .map_err(|e| Error::backend("artifact", false, e))?;
        let content_type = detect_content_type(&name, &head);
        let mut chained = head.as_slice().chain(content);
        self.artifacts
            .put(self.lease(), &name, &content_type, &mut chained)
            .await?;
        Ok(())
    }
}
