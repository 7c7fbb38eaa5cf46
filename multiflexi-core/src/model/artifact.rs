use crate::ids::{ArtifactId, JobId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What is known of a stored artifact without its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ArtifactMeta {
    /// Its id.
    pub id: ArtifactId,
    /// The job that produced it.
    pub job_id: JobId,
    /// File name (sanitised; `stdout.txt`, `stderr.txt` or the result file's name).
    pub filename: String,
    /// Detected MIME type.
    pub content_type: String,
    /// Size in bytes.
    pub size: u64,
    /// A note (e.g. that the content was truncated at the size cap).
    pub note: Option<String>,
    /// When it was stored.
    pub created: DateTime<Utc>,
}

/// An artifact with its content (bytes, never text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Its metadata.
    pub meta: ArtifactMeta,
    /// The exact bytes.
    pub content: Vec<u8>,
}
