use super::LeaseRef;
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

/// The InvalidInput of a batch holding a chunk of another job than its lease's.
pub fn check_chunks_of(lease: LeaseRef, chunks: &[OutputChunk]) -> Result<()> {
    match chunks.iter().find(|c| c.job_id != lease.job_id) {
        Some(c) => Err(crate::Error::invalid(
            "output chunk",
            format!(
                "chunk seq {} belongs to job {}, not to job {} whose lease writes the batch",
                c.seq, c.job_id, lease.job_id
            ),
        )),
        None => Ok(()),
    }
}

/// Output chunks as they arrive, for the live tail.
#[async_trait]
pub trait OutputLog: Send + Sync + Debug + 'static {
    /// Appends chunks of the job `lease` names (a batch, one transaction: all or nothing).
    ///
    /// Fenced like every write after a claim, in the same transaction as the insert: the job's
    /// `lease_token` must still be `lease.lease_token` and the job Queued or Running, else
    /// Conflict ([`fence_conflict`](super::backend::fence_conflict)); NotFound for an unknown job;
    /// InvalidInput when a chunk belongs to another job; AlreadyExists when a `seq` is taken.
    /// An empty batch writes nothing and checks nothing.
    async fn append_output(&self, lease: LeaseRef, chunks: &[OutputChunk]) -> Result<()>;
    /// Chunks of a job with `seq > after_seq`, in `seq` order, at most `limit`.
    async fn read_output(
        &self,
        job_id: JobId,
        after_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<OutputChunk>>;
}
