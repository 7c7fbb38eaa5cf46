use crate::Result;
use crate::ids::JobId;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::fmt::{self, Debug};

/// Which output stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    /// `stdout` or `stderr`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A piece of a job's output, as it arrived (raw bytes, after masking).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputChunk {
    /// The job.
    pub job_id: JobId,
    /// Sequence number, increasing per job across both streams.
    pub seq: u64,
    /// Which stream.
    pub stream: Stream,
    /// The bytes (may hold NUL and invalid UTF-8).
    pub bytes: Vec<u8>,
}

/// Output chunks as they arrive, for the live tail.
#[async_trait]
pub trait OutputLog: Send + Sync + Debug + 'static {
    /// Appends chunks (a batch, one transaction).
    async fn append_output(&self, chunks: &[OutputChunk]) -> Result<()>;
    /// Chunks of a job with `seq > after_seq`, in `seq` order, at most `limit`.
    async fn read_output(
        &self,
        job_id: JobId,
        after_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<OutputChunk>>;
}
