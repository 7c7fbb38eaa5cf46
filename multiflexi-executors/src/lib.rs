//! # multiflexi-executors
//!
//! Real [`Executor`](multiflexi_core::Executor)s for multiflexi-core:
//!
//! - [`NativeExecutor`]: a local process (tokio), in its own process group, with a cleared
//!   environment, a per-job work directory, timeouts and cancellation that reach grandchildren,
//!   optional memory limits (cgroup, else `RLIMIT_AS`), peak RSS and CPU time.
//! - [`DockerExecutor`]: a container through the Docker Engine API (bollard); the same code runs
//!   Podman through its Docker-compatible socket (`ExecutorKind::Podman`).
//!
//! Every executor passes the shared conformance suite of `multiflexi_core::conformance::executor`
//! (see `tests/executors.rs`).

mod docker;
mod native;
mod results;

pub use docker::{DockerConfig, DockerExecutor, labels};
pub use native::{MemoryBackend, NativeConfig, NativeExecutor};
pub use results::RESULT_FILE_VAR;
