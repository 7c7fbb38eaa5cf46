//! The executor's own failures, converted to [`multiflexi_core::Error`] at the boundary.

use multiflexi_core::Error;
use std::time::Duration;

/// The backend name in `Error::Backend`.
pub const BACKEND: &str = "azure";

/// Why an Azure job could not run (the job's own failure is an exit report instead).
#[derive(Debug, thiserror::Error)]
pub enum AzureError {
    /// No answer (connection refused, reset, TLS, the request timed out).
    #[error("{what}: no answer from {url}: {source}")]
    Unreachable {
        what: String,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// ARM (or the token endpoint) answered with an error status.
    #[error("{what}: HTTP {status} {code}: {message}")]
    Status {
        what: String,
        status: u16,
        code: String,
        message: String,
    },
    /// An answer that is not what the API documents.
    #[error("{what}: unexpected answer: {message}")]
    BadReply { what: String, message: String },
    /// A long-running operation (creation, deletion) ended `Failed` or `Canceled`.
    #[error("{what}: the operation ended {status}: {message}")]
    OperationFailed {
        what: String,
        status: String,
        message: String,
    },
    /// The container did not start in time.
    #[error("container group {group}: its container did not start within {limit:?} ({detail})")]
    NotStarted {
        group: String,
        limit: Duration,
        detail: String,
    },
    /// Somebody else deleted the container group while the job ran.
    #[error("container group {group} was deleted from outside while the job ran")]
    DeletedFromOutside { group: String },
    /// A URL in an answer (`Azure-AsyncOperation`, `Location`) points away from the configured
    /// ARM endpoint: the token is not sent there.
    #[error("{what}: {url} is not under the configured ARM endpoint {arm}")]
    ForeignUrl {
        what: String,
        url: String,
        arm: String,
    },
}

impl AzureError {
    /// Whether a later retry of the same job may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            AzureError::Status { status, .. } => is_transient(*status),
            AzureError::ForeignUrl { .. } => false,
            AzureError::Unreachable { .. }
            | AzureError::BadReply { .. }
            | AzureError::OperationFailed { .. }
            | AzureError::NotStarted { .. }
            | AzureError::DeletedFromOutside { .. } => true,
        }
    }

    /// Into the core's error.
    pub fn into_error(self) -> Error {
        let retryable = self.is_retryable();
        Error::backend(BACKEND, retryable, self)
    }
}

/// 408, 429 and 5xx: the service or the network, worth another attempt; other 4xx: the request
/// (or the credentials) is wrong and will stay so.
pub fn is_transient(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_classes() {
        let status = |s: u16| AzureError::Status {
            what: "x".into(),
            status: s,
            code: "C".into(),
            message: "m".into(),
        };
        assert!(status(503).into_error().is_retryable());
        assert!(status(429).into_error().is_retryable());
        assert!(!status(403).into_error().is_retryable());
        assert!(!status(400).into_error().is_retryable());
        let e = AzureError::ForeignUrl {
            what: "w".into(),
            url: "https://evil.example/".into(),
            arm: "https://management.azure.com".into(),
        }
        .into_error();
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("evil.example"), "{e}");
    }
}
