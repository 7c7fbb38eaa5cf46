//! The [`ArtifactSink`] trait, artifact name sanitising, MIME detection and artifact path
//! patterns ([`PathPattern`]: globs, regular expressions and macros).

mod capped;
mod content_type;
mod name;
mod pattern;

pub use capped::{CappedContent, read_capped, read_limited};
pub use content_type::detect_content_type;
pub use name::sanitize_name;
pub use pattern::{PathPattern, PatternKind, classify};

use crate::Result;
use crate::ids::{ArtifactId, JobId};
use crate::model::{Artifact, ArtifactMeta};
use crate::store::LeaseRef;
use async_trait::async_trait;
use std::fmt::Debug;
use tokio::io::AsyncRead;

/// Default size cap of one artifact: 64 MiB. Content past it is dropped and the artifact's note says so.
pub const DEFAULT_ARTIFACT_CAP: u64 = 64 * 1024 * 1024;

/// A limit on one artifact below the sink's own cap (see [`ArtifactSink::put_limited`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactLimit {
    /// Bytes kept at most.
    pub bytes: u64,
    /// Why, for the note (e.g. "the job's result files reached their limit of 3 MiB").
    pub why: String,
}

/// Stores a job's artifacts: stdout.txt, stderr.txt and result files.
#[async_trait]
pub trait ArtifactSink: Send + Sync + Debug + 'static {
    /// Stores `content` as artifact `name` of the job `lease` names. Idempotent per (job,
    /// name): a second put replaces the first and returns the same id. `name` must already be
    /// sanitised ([`sanitize_name`]); content over the sink's cap is truncated with a note.
    ///
    /// Fenced in the same transaction as the write: the job's `lease_token` must still be
    /// `lease.lease_token` and the job Queued, Running, or Completed by its holder (see
    /// [`LeaseWrite::Artifact`](crate::store::LeaseWrite::Artifact)), else Conflict; NotFound
    /// for an unknown job.
    async fn put(
        &self,
        lease: LeaseRef,
        name: &str,
        content_type: &str,
        content: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<ArtifactId> {
        self.put_limited(lease, name, content_type, content, None)
            .await
    }

    /// [`ArtifactSink::put`] with a tighter limit than the sink's cap (the engine's per-job
    /// result-file limits): at most `limit.bytes` are kept, and when more was given the
    /// artifact's note says so, with `limit.why`.
    async fn put_limited(
        &self,
        lease: LeaseRef,
        name: &str,
        content_type: &str,
        content: &mut (dyn AsyncRead + Send + Unpin),
        limit: Option<&ArtifactLimit>,
    ) -> Result<ArtifactId>;

    /// The transactions this sink's writes run in, when it is a store's own artifact table
    /// (see [`WriteDomain`](crate::store::WriteDomain)); a wrapper forwards its inner sink's.
    /// `None` (the default): a sink of its own.
    fn write_domain(&self) -> Option<crate::store::WriteDomain> {
        None
    }

    /// A job's artifacts, by id.
    async fn list(&self, job_id: JobId) -> Result<Vec<ArtifactMeta>>;

    /// One artifact with its exact bytes.
    async fn get(&self, id: ArtifactId) -> Result<Artifact>;
}
