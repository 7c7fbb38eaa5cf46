//! # multiflexi-executors
//!
//! Real [`Executor`](multiflexi_core::Executor)s for multiflexi-core:
//!
//! - [`NativeExecutor`]: a local process (tokio), in its own process group, with a cleared
//!   environment, a per-job work directory, timeouts and cancellation that reach grandchildren,
//!   optional memory limits (cgroup, else `RLIMIT_AS`), peak RSS and CPU time.
//! - [`DockerExecutor`]: a container through the Docker Engine API (bollard); the same code runs
//!   Podman through its Docker-compatible socket (`ExecutorKind::Podman`).
//! - [`KubernetesExecutor`] (feature `kubernetes`, on by default): a `batch/v1` Job through the
//!   Kubernetes API (kube), its environment in a Secret; verified against a simulated API server
//!   (`tests/fake_kube`), not a live cluster.
//! - [`AzureExecutor`] (feature `azure`, on by default): an Azure Container Instances container
//!   group through the ARM REST API; verified against a simulated ARM server
//!   (`tests/fake_azure`), never a live subscription.
//!
//! Every executor passes the shared conformance suite of `multiflexi_core::conformance::executor`
//! (see `tests/executors.rs`).

#[cfg(feature = "azure")]
mod azure;
mod cgroup_mounts;
mod docker;
#[cfg(feature = "kubernetes-client")]
mod kubernetes;
mod native;
mod results;

#[cfg(feature = "azure")]
pub use azure::{
    API_VERSION as AZURE_API_VERSION, AzureConfig, AzureCredential, AzureExecutor,
    CONTAINER as AZURE_CONTAINER, DEFAULT_ARM_ENDPOINT, DEFAULT_AUTHORITY_HOST,
    JOB_HOME as AZURE_JOB_HOME, USAGE_UNKNOWN as AZURE_USAGE_UNKNOWN,
    group_name as azure_group_name,
};
pub use docker::{
    DEFAULT_CONTAINER_USER, DockerConfig, DockerExecutor, IMAGE_USER, labels, parse_container_user,
};
#[cfg(feature = "kubernetes-client")]
pub use kubernetes::{
    ImagePullPolicy, JobResources, KubernetesConfig, KubernetesExecutor,
    METRICS_API_SAMPLES_ONLY as KUBERNETES_METRICS_API_SAMPLES_ONLY,
    NO_METRICS_API as KUBERNETES_NO_METRICS_API, names as kubernetes_names,
};
#[doc(hidden)]
pub use native::job_supervisor_main;
pub use native::{
    CgroupBackend, Controller, DEFAULT_JOB_UID_LOCKS, DEFAULT_JOB_UIDS, JOB_SUPERVISOR_ENV,
    JOB_SUPERVISOR_FILE_NAME, JobUsers, NativeConfig, NativeExecutor, parse_uid_range,
};
pub use results::RESULT_FILE_VAR;
