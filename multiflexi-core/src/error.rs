//! The one error type that crosses the crate boundary.

use std::fmt;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors with portable meaning: every backend maps its own failures onto these.
///
/// A job's own failure (non-zero exit, timeout, …) is an [`Outcome`](crate::Outcome), never an `Error`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The entity does not exist.
    #[error("{entity} {id} not found")]
    NotFound {
        /// What was looked up (`job`, `app`, …).
        entity: &'static str,
        /// The identifier that was looked up.
        id: String,
    },
    /// A unique key is already taken.
    #[error("{entity} already exists: {key}")]
    AlreadyExists {
        /// Which entity.
        entity: &'static str,
        /// The key that collided.
        key: String,
    },
    /// A concurrent writer won (stale fencing token, compare-and-swap mismatch).
    #[error("conflict: {message}")]
    Conflict {
        /// What collided.
        message: String,
    },
    /// A lifecycle transition that the state machine does not allow.
    #[error("invalid transition: {event} is not allowed in phase {from}")]
    InvalidTransition {
        /// The phase the job was in.
        from: crate::Phase,
        /// The event that was applied.
        event: String,
    },
    /// Bad input: names the field, what was wrong and what is allowed.
    #[error("invalid {field}: {message}")]
    InvalidInput {
        /// The field (or path) that was wrong.
        field: String,
        /// What was wrong and what is allowed.
        message: String,
    },
    /// The caller may not do this (a company token choosing the executor, an environment name
    /// it may not set): names the field, what was refused and who may do it.
    #[error("forbidden {field}: {message}")]
    Forbidden {
        /// The field (or path) that was refused.
        field: String,
        /// What was refused and why.
        message: String,
    },
    /// The backend cannot do this.
    #[error("unsupported: {message}")]
    Unsupported {
        /// What is not supported.
        message: String,
    },
    /// An operation ran out of time.
    #[error("timed out: {message}")]
    Timeout {
        /// What timed out.
        message: String,
    },
    /// A backend failure (database, container engine, API server).
    #[error("{backend} error: {source}")]
    Backend {
        /// Which backend (`sqlite`, `docker`, …).
        backend: &'static str,
        /// Whether retrying the same call later may succeed.
        retryable: bool,
        /// The backend's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl Error {
    /// Whether a retry of the same operation may succeed (a platform that is down, a timeout).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Timeout { .. } => true,
            Error::Backend { retryable, .. } => *retryable,
            _ => false,
        }
    }

    /// Shorthand for [`Error::NotFound`].
    pub fn not_found(entity: &'static str, id: impl fmt::Display) -> Self {
        Error::NotFound {
            entity,
            id: id.to_string(),
        }
    }

    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::Forbidden`].
    pub fn forbidden(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Forbidden {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::Conflict`].
    pub fn conflict(message: impl Into<String>) -> Self {
        Error::Conflict {
            message: message.into(),
        }
    }

    /// Shorthand for a [`Error::Backend`] error.
    pub fn backend(
        backend: &'static str,
        retryable: bool,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Error::Backend {
            backend,
            retryable,
            source: source.into(),
        }
    }
}
