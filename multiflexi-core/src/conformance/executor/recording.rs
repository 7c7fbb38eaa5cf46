//! [`RecordingIo`]: a [`JobIo`] that records what an executor reports, for the conformance cases.

use crate::Result;
use crate::executor::{JobIo, RunHandle};
use async_trait::async_trait;
use std::sync::Mutex;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;

/// Which stream a chunk came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// stdout.
    Stdout,
    /// stderr.
    Stderr,
}

/// Everything a [`RecordingIo`] saw, in order.
#[derive(Debug, Default, Clone)]
#[non_exhaustive]
pub struct Recorded {
    /// Every `started` call, in order (a conforming executor makes at most one).
    pub started: Vec<RunHandle>,
    /// Output chunks in arrival order (empty when only counting).
    pub chunks: Vec<(Stream, Vec<u8>)>,
    /// stdout bytes seen.
    pub stdout_bytes: u64,
    /// stderr bytes seen.
    pub stderr_bytes: u64,
    /// Number of output calls.
    pub output_calls: u64,
    /// The largest single output chunk.
    pub max_chunk: usize,
    /// Output that arrived before `started` (a conforming executor reports `started` first).
    pub output_before_started: bool,
    /// Result files: (name, content), in the order handed over.
    pub result_files: Vec<(String, Vec<u8>)>,
}

impl Recorded {
    /// All stdout bytes, concatenated.
    pub fn stdout(&self) -> Vec<u8> {
        self.stream(Stream::Stdout)
    }

    /// All stderr bytes, concatenated.
    pub fn stderr(&self) -> Vec<u8> {
        self.stream(Stream::Stderr)
    }

    fn stream(&self, which: Stream) -> Vec<u8> {
        self.chunks
            .iter()
            .filter(|(s, _)| *s == which)
            .flat_map(|(_, b)| b.iter().copied())
            .collect()
    }
}

/// A [`JobIo`] that records everything (or, for huge outputs, only counts bytes) and lets a test
/// wait until a condition on what it recorded holds.
#[derive(Debug)]
pub struct RecordingIo {
    keep_output: bool,
    state: Mutex<Recorded>,
    version: watch::Sender<u64>,
}

impl Default for RecordingIo {
    fn default() -> Self {
        Self::new()
    }
}

impl RecordingIo {
    /// Records output chunks.
    pub fn new() -> Self {
        Self {
            keep_output: true,
            state: Mutex::new(Recorded::default()),
            version: watch::channel(0).0,
        }
    }

    /// Only counts output bytes (memory stays bounded however much the job prints).
    pub fn counting() -> Self {
        Self {
            keep_output: false,
            ..Self::new()
        }
    }

    /// A copy of what was recorded so far.
    pub fn snapshot(&self) -> Recorded {
        self.state.lock().unwrap().clone()
    }

    /// Waits until `cond` holds on what was recorded, at most `patience`. Returns whether it held.
    pub async fn wait_until(&self, patience: Duration, cond: impl Fn(&Recorded) -> bool) -> bool {
        let mut rx = self.version.subscribe();
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            if cond(&self.state.lock().unwrap()) {
                return true;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => return cond(&self.state.lock().unwrap()),
            }
        }
    }

    /// Waits until stdout contains `needle`.
    pub async fn wait_for_stdout(&self, patience: Duration, needle: &[u8]) -> bool {
        self.wait_until(patience, |r| {
            r.stdout().windows(needle.len()).any(|w| w == needle)
        })
        .await
    }

    /// Waits until `started` was reported; returns its handle.
    pub async fn wait_started(&self, patience: Duration) -> Option<RunHandle> {
        self.wait_until(patience, |r| !r.started.is_empty()).await;
        self.snapshot().started.first().cloned()
    }

    fn bump(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    fn output(&self, stream: Stream, bytes: &[u8]) {
        {
            let mut s = self.state.lock().unwrap();
            if s.started.is_empty() {
                s.output_before_started = true;
            }
            match stream {
                Stream::Stdout => s.stdout_bytes += bytes.len() as u64,
                Stream::Stderr => s.stderr_bytes += bytes.len() as u64,
            }
            s.output_calls += 1;
            s.max_chunk = s.max_chunk.max(bytes.len());
            if self.keep_output && !bytes.is_empty() {
                s.chunks.push((stream, bytes.to_vec()));
            }
        }
        self.bump();
    }
}

#[async_trait]
impl JobIo for RecordingIo {
    async fn started(&self, handle: RunHandle) -> Result<()> {
        self.state.lock().unwrap().started.push(handle);
        self.bump();
        Ok(())
    }

    async fn stdout(&self, bytes: &[u8]) -> Result<()> {
        self.output(Stream::Stdout, bytes);
        Ok(())
    }

    async fn stderr(&self, bytes: &[u8]) -> Result<()> {
        self.output(Stream::Stderr, bytes);
        Ok(())
    }

    async fn result_file(
        &self,
        name: &str,
        content: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<()> {
        let mut buf = Vec::new();
        content
            .read_to_end(&mut buf)
            .await
            .map_err(|e| crate::Error::backend("conformance", false, e))?;
        self.state
            .lock()
            .unwrap()
            .result_files
            .push((name.to_owned(), buf));
        self.bump();
        Ok(())
    }
}
