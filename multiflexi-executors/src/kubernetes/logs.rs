//! The pod's log, streamed with `follow=true` while the container runs.
//!
//! Kubernetes keeps one log per container with stdout and stderr interleaved: everything goes to
//! the job's stdout (the executor lacks `Capability::SeparateStreams`).

use super::names::CONTAINER;
use futures::io::{AsyncBufRead, AsyncReadExt};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::LogParams;
use std::pin::Pin;

/// Bytes handed to `JobIo::stdout` at most per call.
pub const CHUNK: usize = 64 * 1024;

/// An open log stream.
pub struct LogStream {
    body: Pin<Box<dyn AsyncBufRead + Send>>,
    buf: Vec<u8>,
}

impl std::fmt::Debug for LogStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogStream")
    }
}

impl LogStream {
    /// Opens pod `name`'s log, following it until the container ends.
    pub async fn open(pods: &Api<Pod>, name: &str) -> kube::Result<Self> {
        let params = LogParams {
            container: Some(CONTAINER.to_owned()),
            follow: true,
            ..LogParams::default()
        };
        let body = pods.log_stream(name, &params).await?;
        Ok(Self {
            body: Box::pin(body),
            buf: vec![0; CHUNK],
        })
    }

    /// The next bytes; `Ok(None)` at the end (the container ended and its log was read).
    /// Cancel-safe: nothing is consumed unless it is returned.
    pub async fn next(&mut self) -> std::io::Result<Option<&[u8]>> {
        let n = self.body.read(&mut self.buf).await?;
        Ok((n > 0).then(|| &self.buf[..n]))
    }
}
