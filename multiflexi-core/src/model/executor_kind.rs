use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which executor runs a job (the seed's executor names).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[non_exhaustive]
pub enum ExecutorKind {
    /// A local process.
    #[default]
    Native,
    /// A Docker container.
    Docker,
    /// A Podman container (through Podman's Docker-compatible API).
    Podman,
    /// A Kubernetes batch/v1 Job.
    Kubernetes,
    /// An Azure Container Instances container group.
    Azure,
}

impl ExecutorKind {
    /// Every kind.
    pub const ALL: [ExecutorKind; 5] = [
        ExecutorKind::Native,
        ExecutorKind::Docker,
        ExecutorKind::Podman,
        ExecutorKind::Kubernetes,
        ExecutorKind::Azure,
    ];

    /// The seed's spelling (`Native`, `Docker`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutorKind::Native => "Native",
            ExecutorKind::Docker => "Docker",
            ExecutorKind::Podman => "Podman",
            ExecutorKind::Kubernetes => "Kubernetes",
            ExecutorKind::Azure => "Azure",
        }
    }

    /// Whether jobs of this kind run an OCI image (and so need the app's `ociimage`).
    pub fn needs_image(self) -> bool {
        !matches!(self, ExecutorKind::Native)
    }
}

impl fmt::Display for ExecutorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExecutorKind {
    type Err = crate::Error;
    /// Case-insensitive: `native`, `Native` and `NATIVE` are the same.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ExecutorKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                crate::Error::invalid(
                    "executor",
                    format!("{s:?} is not an executor; allowed: Native, Docker, Podman, Kubernetes, Azure"),
                )
            })
    }
}
