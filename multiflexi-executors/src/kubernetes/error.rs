//! The executor's own failures, converted to [`multiflexi_core::Error`] at the boundary.

use multiflexi_core::Error;
use std::time::Duration;

/// The backend name in `Error::Backend`.
pub const BACKEND: &str = "kubernetes";

/// Why a Kubernetes job could not run (the job's own failure is an exit report instead).
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// An API request failed.
    #[error("{what}: {source}")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
    /// An API request did not answer in time.
    #[error("{what}: the API server at {url} did not answer within {after:?}")]
    RequestTimeout {
        what: String,
        url: String,
        after: Duration,
    },
    /// The client configuration could not be inferred.
    #[error(
        "no Kubernetes cluster configured: {0} (set KUBECONFIG, or run the executor in a pod \
         with a service account)"
    )]
    Config(String),
    /// The image cannot be pulled.
    #[error("pod {pod}: image {image:?} cannot be pulled ({reason}): {message}")]
    ImagePull {
        pod: String,
        image: String,
        reason: String,
        message: String,
    },
    /// No node can take the pod.
    #[error("pod {pod} stayed unschedulable for longer than {limit:?}: {message}")]
    Unschedulable {
        pod: String,
        limit: Duration,
        message: String,
    },
    /// The container could not be created.
    #[error("pod {pod}: the container could not be created ({reason}): {message}")]
    CreateContainer {
        pod: String,
        reason: String,
        message: String,
    },
    /// Somebody else deleted the Job (or its pod) while the job ran.
    #[error("{what} was deleted from outside while the job ran{detail}")]
    DeletedFromOutside { what: String, detail: String },
    /// The pod ended without a container exit (evicted, node lost…).
    #[error("pod {pod} ended without its container finishing ({reason}): {message}")]
    PodFailed {
        pod: String,
        reason: String,
        message: String,
    },
}

impl KubeError {
    /// Whether a later retry of the same job may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            KubeError::Api { source, .. } => api_retryable(source),
            KubeError::Config(_) => false,
            KubeError::CreateContainer { reason, .. } => reason != "CreateContainerConfigError",
            KubeError::RequestTimeout { .. }
            | KubeError::ImagePull { .. }
            | KubeError::Unschedulable { .. }
            | KubeError::DeletedFromOutside { .. }
            | KubeError::PodFailed { .. } => true,
        }
    }

    /// Into the core's error.
    pub fn into_error(self) -> Error {
        let retryable = self.is_retryable();
        Error::backend(BACKEND, retryable, self)
    }
}

/// An API error's HTTP status, if it was an answer of the API server.
pub fn status_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

fn api_retryable(e: &kube::Error) -> bool {
    match e {
        // 409 Conflict, 429 Too Many Requests, 5xx: the server or a race; 4xx otherwise: our
        // request is wrong (or forbidden) and will stay so.
        kube::Error::Api(s) => s.code == 409 || s.code == 429 || s.code >= 500,
        kube::Error::SerdeError(_)
        | kube::Error::BuildRequest(_)
        | kube::Error::HttpError(_)
        | kube::Error::InferConfig(_)
        | kube::Error::InferKubeconfig(_) => false,
        // Connection refused / reset, TLS, auth token refresh: the platform.
        _ => true,
    }
}

/// `Error::Backend` for a failed API request.
pub fn api(what: impl Into<String>, source: kube::Error) -> Error {
    KubeError::Api {
        what: what.into(),
        source,
    }
    .into_error()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(kube::core::Status {
            code,
            ..Default::default()
        }))
    }

    #[test]
    fn retryable_classes() {
        assert!(api("x", status(503)).is_retryable());
        assert!(api("x", status(429)).is_retryable());
        assert!(!api("x", status(403)).is_retryable());
        assert!(!api("x", status(422)).is_retryable());
        assert!(
            KubeError::ImagePull {
                pod: "p".into(),
                image: "i".into(),
                reason: "ErrImagePull".into(),
                message: "m".into()
            }
            .into_error()
            .is_retryable()
        );
        let e = KubeError::CreateContainer {
            pod: "p".into(),
            reason: "CreateContainerConfigError".into(),
            message: "secret \"x\" not found".into(),
        }
        .into_error();
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("secret \"x\" not found"), "{e}");
    }
}
