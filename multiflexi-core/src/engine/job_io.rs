//! The engine's [`JobIo`]: persists Running, and owns the output path of one job.
//!
//! Nothing the store does here can fail the job: the Running write is retried until it lands
//! or the lease is gone, live output is best effort (retried in the background, and what never
//! got through is still in stdout.txt / stderr.txt), and a result file that cannot be stored or
//! is over the job's limits is skipped or cut with a note. Only the lease decides: a write the
//! store refuses because the lease moved on stops the job at once.

use super::backoff::Backoff;
use super::job_writes::{JobWrite, JobWrites, JobWritten};
use super::leases::{Leases, StopReason};
use crate::artifact::{ArtifactLimit, ArtifactSink, detect_content_type, sanitize_name};
use crate::executor::{JobIo, RunHandle};
use crate::model::Job;
use crate::output::{CappedOutput, SecretMasker, text_copy};
use crate::store::{Begin, LeaseRef, OutputChunk, Store, Stream};
use crate::telemetry::{PhaseEvent, Telemetry};
use crate::{Clock, Error, Result};
use async_trait::async_trait;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::Notify;

/// Limits of the output path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutputLimits {
    /// Per-stream cap (head + tail kept).
    pub cap: usize,
    /// Bytes of each stream copied into the job row.
    pub text_copy: usize,
    /// Pending bytes that trigger a flush to the output log.
    pub flush_bytes: usize,
    /// Result files stored per job; later ones are skipped with a note.
    pub result_files: usize,
    /// Result-file bytes stored per job; a file past it is cut, later ones skipped, with a note.
    pub result_bytes: u64,
}

/// Whether a store error means the lease is gone (the write will never land).
pub(crate) fn lease_gone(e: &Error) -> bool {
    matches!(
        e,
        Error::Conflict { .. } | Error::InvalidTransition { .. } | Error::NotFound { .. }
    )
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
    result_files: usize,
    result_bytes: u64,
}

/// The live output log of one job: chunks wait here until the background writer gets them
/// into the store. Memory is bounded by the per-stream cap (only the head part goes live).
struct LiveLog {
    queue: Mutex<VecDeque<OutputChunk>>,
    more: Notify,
    closed: std::sync::atomic::AtomicBool,
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
    leases: Arc<Leases>,
    output: Mutex<OutputState>,
    live: Arc<LiveLog>,
    /// The live log's writer, spawned at the first flush that has output.
    writer: Mutex<Option<tokio::task::JoinHandle<()>>>,
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
    // One constructor call site (the job runner), which passes its own handles through.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        store: Arc<dyn Store>,
        artifacts: Arc<dyn ArtifactSink>,
        telemetry: Arc<dyn Telemetry>,
        clock: Arc<dyn Clock>,
        job: Job,
        limits: OutputLimits,
        writes: Arc<JobWrites>,
        leases: Arc<Leases>,
    ) -> Self {
        let secrets = job.spec.env.secret_values();
        let output = OutputState {
            stdout: StreamState::new(&secrets, limits.cap),
            stderr: StreamState::new(&secrets, limits.cap),
            pending: Vec::new(),
            pending_bytes: 0,
            seq: 0,
            result_files: 0,
            result_bytes: 0,
        };
        Self {
            store,
            artifacts,
            telemetry,
            clock,
            job,
            limits,
            writes,
            leases,
            output: Mutex::new(output),
            live: Arc::new(LiveLog {
                queue: Mutex::new(VecDeque::new()),
                more: Notify::new(),
                closed: std::sync::atomic::AtomicBool::new(false),
            }),
            writer: Mutex::new(None),
            begin: Mutex::new(None),
            started: Mutex::new(None),
        }
    }

    /// Whether the executor reported the job started.
    pub(crate) fn was_started(&self) -> bool {
        self.begin.lock().unwrap().is_some() || self.started.lock().unwrap().is_some()
    }

    /// The job as Running, once `started` was reported and stored. Waits for the Running write
    /// the executor's `started` queued (it retries until it lands); its error when the lease
    /// is gone.
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

    /// Masks and caps `bytes`, queues the head part for the output log; whether enough is
    /// pending to flush.
    fn accept(&self, stream: Stream, bytes: &[u8]) -> bool {
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
        state.pending_bytes >= self.limits.flush_bytes
    }

    /// Hands whatever output is pending to the live log's background writer (never waits for
    /// the store).
    pub(crate) fn flush(&self) {
        let batch = take_pending(&mut self.output.lock().unwrap());
        if batch.is_empty() {
            return;
        }
        self.live.queue.lock().unwrap().extend(batch);
        let mut writer = self.writer.lock().unwrap();
        if writer.is_none() {
            *writer = Some(tokio::spawn(write_live(
                self.live.clone(),
                self.store.clone(),
                self.leases.clone(),
                self.lease(),
            )));
        }
        self.live.more.notify_one();
    }

    /// Appends an engine note to stderr (e.g. an executor error), through the same path.
    pub(crate) async fn note(&self, text: &str) {
        if self.accept(Stream::Stderr, text.as_bytes()) {
            self.flush();
        }
    }

    /// Flushes the maskers (held-back bytes) and the live log (bounded: output the store did
    /// not take by then is still in the returned contents); returns the capped contents.
    pub(crate) async fn finish(&self) -> FinishedOutput {
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
        let writer = self.writer.lock().unwrap().take();
        match writer {
            // No live writer: write the little that is pending in line (one try).
            None if !batch.is_empty() => {
                if let Err(e) = self.store.append_output(self.lease(), &batch).await {
                    tracing::debug!(
                        job_id = self.job.id.get(),
                        "live output not stored ({e}); it is in the job's artifacts"
                    );
                }
            }
            None => {}
            Some(writer) => {
                self.live.queue.lock().unwrap().extend(batch);
                self.live
                    .closed
                    .store(true, std::sync::atomic::Ordering::Release);
                self.live.more.notify_one();
                let abort = writer.abort_handle();
                if tokio::time::timeout(Duration::from_secs(2), writer)
                    .await
                    .is_err()
                {
                    abort.abort();
                    tracing::debug!(
                        job_id = self.job.id.get(),
                        "live output still pending at the job's end; it is in the job's artifacts"
                    );
                }
            }
        }
        FinishedOutput {
            stdout_copy: text_copy(&stdout, self.limits.text_copy),
            stderr_copy: text_copy(&stderr, self.limits.text_copy),
            stdout,
            stderr,
        }
    }

    /// How many bytes of the next result file may be stored (`None`: skip it) and why not.
    fn result_room(&self, name: &str) -> std::result::Result<u64, String> {
        let mut out = self.output.lock().unwrap();
        if out.result_files >= self.limits.result_files {
            return Err(format!(
                "result file {name:?} skipped: the job's limit is {} result files",
                self.limits.result_files
            ));
        }
        let room = self.limits.result_bytes.saturating_sub(out.result_bytes);
        if room == 0 {
            return Err(format!(
                "result file {name:?} skipped: the job's result files reached their limit of {} bytes",
                self.limits.result_bytes
            ));
        }
        out.result_files += 1;
        Ok(room)
    }
}

fn take_pending(state: &mut OutputState) -> Vec<OutputChunk> {
    state.pending_bytes = 0;
    std::mem::take(&mut state.pending)
}

/// The live log's writer: appends what is queued, keeps it queued and tries again (backing
/// off) while the store fails, stops the job when the store says its lease is gone.
async fn write_live(
    live: Arc<LiveLog>,
    store: Arc<dyn Store>,
    leases: Arc<Leases>,
    lease: LeaseRef,
) {
    let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(5));
    loop {
        let batch: Vec<OutputChunk> = live.queue.lock().unwrap().drain(..).collect();
        let closed = live.closed.load(std::sync::atomic::Ordering::Acquire);
        if batch.is_empty() {
            if closed {
                return;
            }
            live.more.notified().await;
            continue;
        }
        match store.append_output(lease, &batch).await {
            Ok(()) => backoff.reset(),
            Err(e) if lease_gone(&e) => {
                tracing::warn!(
                    job_id = lease.job_id.get(),
                    "the store refused the job's output: its lease is gone ({e})"
                );
                leases.stop(lease, StopReason::LeaseLost);
                return;
            }
            Err(e) => {
                tracing::warn!(
                    job_id = lease.job_id.get(),
                    "live output not stored yet (retrying): {e}"
                );
                {
                    let mut queue = live.queue.lock().unwrap();
                    for chunk in batch.into_iter().rev() {
                        queue.push_front(chunk);
                    }
                }
                if closed {
                    // One last try at the job's end was all there was time for.
                    return;
                }
                tokio::time::sleep(backoff.next_delay()).await;
            }
        }
    }
}

#[async_trait]
impl JobIo for EngineJobIo {
    async fn started(&self, handle: RunHandle) -> Result<()> {
        if self.was_started() {
            // Reported already: the job started once.
            return Ok(());
        }
        let begin = Begin::new(self.lease(), handle.pid, handle.external_id);
        // Batched with other jobs' starts: one transaction carries whatever is ready. The job
        // runs meanwhile (its slot is not held up by the write); its end is stored only after
        // the write (`started_job`). A failed write is retried until it lands; only a lease
        // that is gone stops the job.
        let (writes, leases, telemetry, clock) = (
            self.writes.clone(),
            self.leases.clone(),
            self.telemetry.clone(),
            self.clock.clone(),
        );
        let task = tokio::spawn(async move {
            let lease = begin.lease;
            let id = lease.job_id;
            let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
            loop {
                let error = match writes.submit(JobWrite::Begin(begin.clone())).await {
                    Ok(JobWritten::Begun(job)) => {
                        telemetry.event(&PhaseEvent::of(&job, clock.now()));
                        return Ok(*job);
                    }
                    Ok(JobWritten::Finished(_)) => Error::conflict("a start came back as a finish"),
                    Err(failed) => failed.error,
                };
                if lease_gone(&error) {
                    leases.stop(lease, StopReason::LeaseLost);
                    return Err(error);
                }
                if let Some(reason) = leases.reason(lease).filter(|r| r.is_lease()) {
                    return Err(Error::conflict(format!(
                        "job {id}: the Running write did not land before the lease ended ({reason:?}): {error}"
                    )));
                }
                tracing::warn!(
                    job_id = id.get(),
                    "the Running write failed (retrying): {error}"
                );
                tokio::time::sleep(backoff.next_delay()).await;
            }
        });
        *self.begin.lock().unwrap() = Some(task);
        Ok(())
    }

    async fn stdout(&self, bytes: &[u8]) -> Result<()> {
        if self.accept(Stream::Stdout, bytes) {
            self.flush();
        }
        Ok(())
    }

    async fn stderr(&self, bytes: &[u8]) -> Result<()> {
        if self.accept(Stream::Stderr, bytes) {
            self.flush();
        }
        Ok(())
    }

    async fn result_file(
        &self,
        name: &str,
        content: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<()> {
        let name = match sanitize_name(name) {
            Ok(n) if matches!(n.as_str(), "stdout.txt" | "stderr.txt") => {
                self.note(&format!(
                    "\n[multiflexi: result file {n:?} skipped: the name is reserved for the job's captured output]\n"
                ))
                .await;
                return Ok(());
            }
            Ok(n) => n,
            Err(e) => {
                self.note(&format!("\n[multiflexi: result file skipped: {e}]\n"))
                    .await;
                return Ok(());
            }
        };
        let room = match self.result_room(&name) {
            Ok(room) => room,
            Err(why) => {
                self.note(&format!("\n[multiflexi: {why}]\n")).await;
                return Ok(());
            }
        };
        let mut head = Vec::with_capacity(8192);
        if let Err(e) = (&mut *content).take(8192).read_to_end(&mut head).await {
            self.note(&format!(
                "\n[multiflexi: result file {name:?} skipped: reading it failed: {e}]\n"
            ))
            .await;
            return Ok(());
        }
        let content_type = detect_content_type(&name, &head);
        let limit = ArtifactLimit {
            bytes: room,
            why: format!(
                "the job's result files reached their limit of {} bytes",
                self.limits.result_bytes
            ),
        };
        let mut chained = head.as_slice().chain(&mut *content);
        let mut counted = CountingReader::new(&mut chained);
        let stored = self
            .artifacts
            .put_limited(
                self.lease(),
                &name,
                &content_type,
                &mut counted,
                Some(&limit),
            )
            .await;
        let used = counted.count.min(room);
        self.output.lock().unwrap().result_bytes += used;
        match stored {
            Ok(_) => {}
            Err(e) if lease_gone(&e) => {
                self.leases.stop(self.lease(), StopReason::LeaseLost);
            }
            Err(e) => {
                self.note(&format!(
                    "\n[multiflexi: result file {name:?} not stored: {e}]\n"
                ))
                .await;
            }
        }
        Ok(())
    }

    fn stop_now(&self) -> bool {
        self.leases
            .reason(self.lease())
            .is_some_and(StopReason::is_lease)
    }
}

/// Counts the bytes read through it.
struct CountingReader<'a> {
    inner: &'a mut (dyn AsyncRead + Send + Unpin),
    count: u64,
}

impl<'a> CountingReader<'a> {
    fn new(inner: &'a mut (dyn AsyncRead + Send + Unpin)) -> Self {
        Self { inner, count: 0 }
    }
}

impl AsyncRead for CountingReader<'_> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = std::pin::Pin::new(&mut *self.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        self.count += read as u64;
        r
    }
}
