use super::detect_content_type;
use crate::{Error, Result};
use tokio::io::{AsyncRead, AsyncReadExt};

/// An artifact's content as a sink stores it: at most `cap` bytes, a note when more was given,
/// and the content type (detected when the caller gave none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CappedContent {
    /// The kept bytes.
    pub bytes: Vec<u8>,
    /// Set when content past the cap was dropped.
    pub note: Option<String>,
    /// The given content type, or the detected one.
    pub content_type: String,
}

/// Reads `content` keeping at most `cap` bytes (the rest is read and counted, not kept) — the
/// size-cap rule every [`ArtifactSink`](super::ArtifactSink) follows.
pub async fn read_capped(
    name: &str,
    content_type: &str,
    content: &mut (dyn AsyncRead + Send + Unpin),
    cap: u64,
) -> Result<CappedContent> {
    read_limited(name, content_type, content, cap, None).await
}

/// [`read_capped`] with an optional tighter limit (`limit`): the smaller bound applies, and the
/// note names the reason of the one that cut the content.
pub async fn read_limited(
    name: &str,
    content_type: &str,
    content: &mut (dyn AsyncRead + Send + Unpin),
    cap: u64,
    limit: Option<&super::ArtifactLimit>,
) -> Result<CappedContent> {
    let (cap, why) = match limit {
        Some(l) if l.bytes < cap => (l.bytes, l.why.as_str()),
        _ => (cap, "artifact size cap"),
    };
    let io_error = |e: std::io::Error| Error::backend("artifact", false, e);
    let mut bytes = Vec::new();
    (&mut *content)
        .take(cap)
        .read_to_end(&mut bytes)
        .await
        .map_err(io_error)?;
    let dropped = tokio::io::copy(content, &mut tokio::io::sink())
        .await
        .map_err(io_error)?;
    let note = (dropped > 0).then(|| {
        format!(
            "truncated: kept the first {cap} of {} bytes ({why})",
            cap + dropped
        )
    });
    let content_type = if content_type.is_empty() {
        detect_content_type(name, &bytes[..bytes.len().min(8192)])
    } else {
        content_type.to_string()
    };
    Ok(CappedContent {
        bytes,
        note,
        content_type,
    })
}
