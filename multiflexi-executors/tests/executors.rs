//! The executor conformance suite on every backend of this crate: `native::*`, `docker::*`,
//! `podman::*`, `kubernetes::*` and `azure::*` run the same cases (from `multiflexi_core::conformance::executor`), and each module
//! asserts its executor's exact capability set. `container_isolation::*` is the isolation suite
//! of container jobs (issue 15; `containers/isolation.rs`).
//!
//! Docker and Podman need running engines with the busybox test image:
//! `eval "$(scripts/services/containers.sh | sed 's/^/export /')"` sets
//! `MULTIFLEXI_TEST_DOCKER_HOST` and `MULTIFLEXI_TEST_PODMAN_HOST`. Without them the container
//! tests skip with a message, unless `MULTIFLEXI_REQUIRE_INTEGRATION=1`, when they fail.

use async_trait::async_trait;
use multiflexi_core::conformance::executor::{MARKER_VAR, TestBackend, TestPrograms};
use multiflexi_core::executor::{Capabilities, Capability, LaunchSpec, RunHandle};
use multiflexi_core::{Error, Executor, Result};
use std::sync::Arc;
use std::time::Duration;

fn integration_required() -> bool {
    std::env::var("MULTIFLEXI_REQUIRE_INTEGRATION").as_deref() == Ok("1")
}

/// A unique executor id per case (and per test process).
fn executor_id(backend: &str, case: &str) -> String {
    format!("conformance-{backend}-{case}-{}", std::process::id())
}

#[path = "native/supervisor.rs"]
mod native_supervisor;

#[path = "native/rlimits.rs"]
mod native_rlimits;

#[path = "native/usage.rs"]
mod native_usage;

mod native {
    use super::*;
    use multiflexi_executors::{NativeConfig, NativeExecutor};

    /// Native jobs' leftovers: live (non-zombie) processes whose environment carries the case's
    /// marker variable; put_file writes into the host work directory.
    #[derive(Debug)]
    struct NativeBackend;

    #[async_trait]
    impl TestBackend for NativeBackend {
        async fn put_file(
            &self,
            spec: &LaunchSpec,
            _handle: &RunHandle,
            name: &str,
            content: &[u8],
        ) -> Result<()> {
            let tmp = spec.work_dir.join(format!(".{name}.tmp"));
            let write = async {
                tokio::fs::write(&tmp, content).await?;
                tokio::fs::rename(&tmp, spec.work_dir.join(name)).await
            };
            write.await.map_err(|e| Error::backend("test", false, e))
        }

        async fn leftovers(&self, executor_id: &str) -> Result<Vec<String>> {
            let needle = format!("{MARKER_VAR}={executor_id}\0").into_bytes();
            let mut left = Vec::new();
            let Ok(dir) = std::fs::read_dir("/proc") else {
                return Ok(left);
            };
            for entry in dir.flatten() {
                let Some(pid) = entry
                    .file_name()
                    .to_str()
                    .and_then(|s| s.parse::<u32>().ok())
                else {
                    continue;
                };
                let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
                    continue;
                };
                if !environ.windows(needle.len()).any(|w| w == needle) {
                    continue;
                }
                let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
                let state = stat.rsplit_once(") ").map(|(_, r)| r.chars().next());
                if state == Some(Some('Z')) || stat.is_empty() {
                    continue;
                }
                let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                left.push(format!(
                    "pid {pid}: {}",
                    String::from_utf8_lossy(&cmdline).replace('\0', " ")
                ));
            }
            Ok(left)
        }
    }

    fn executor() -> NativeExecutor {
        NativeExecutor::new(NativeConfig::default().with_kill_grace(Duration::from_millis(500)))
    }

    async fn harness(case: &'static str) -> Option<(Arc<dyn Executor>, TestPrograms)> {
        let programs = TestPrograms::host(executor_id("native", case), Arc::new(NativeBackend));
        Some((Arc::new(executor()), programs))
    }

    multiflexi_core::executor_conformance_tests!(harness);

    /// Which mechanism enforces each limit here. Where the integration services are required
    /// (CI, as root), every limit must be carried by a cgroup: a machine that silently fell back
    /// to rlimits fails here rather than passing the limit cases by skipping them.
    #[test]
    fn limits_are_enforced_by_cgroups_and_claimed_exactly() {
        let exec = executor();
        let cgroups = exec.cgroup_backend();
        println!("native job limits: {}", cgroups.describe());
        if std::env::var_os("MULTIFLEXI_REQUIRE_INTEGRATION").is_some() {
            assert!(
                cgroups.limits_memory() && cgroups.limits_pids() && cgroups.counts_cpu(),
                "{cgroups:?}: {}",
                cgroups.describe()
            );
        }
        let memory = if cgroups.limits_memory() {
            Capability::MemoryLimit
        } else {
            Capability::MemoryLimitBestEffort
        };
        let mut want = Capabilities::new([
            Capability::SeparateStreams,
            Capability::LosslessOutput,
            Capability::Streaming,
            Capability::Timeout,
            Capability::Cancel,
            Capability::ResultFiles,
            memory,
            Capability::EnvIsolation,
            Capability::ResourceUsage,
            Capability::Reap,
            Capability::HostPrograms,
            Capability::WorkDir,
        ]);
        if cgroups.limits_pids() {
            want.insert(Capability::PidsLimit);
        }
        if cgroups.counts_cpu() {
            want.insert(Capability::CpuTimeLimit);
        }
        assert_eq!(exec.capabilities(), want);
    }
}

/// Docker and Podman share everything but the socket, the kind and the image name.
mod containers {
    use super::*;
    use multiflexi_core::ExecutorKind;
    use multiflexi_core::executor::JobIo;
    use multiflexi_executors::{DockerConfig, DockerExecutor};
    use tokio_util::sync::CancellationToken;

    #[derive(Debug)]
    pub struct ContainerBackend(pub Arc<DockerExecutor>);

    #[async_trait]
    impl TestBackend for ContainerBackend {
        async fn put_file(
            &self,
            _spec: &LaunchSpec,
            handle: &RunHandle,
            name: &str,
            content: &[u8],
        ) -> Result<()> {
            let id = handle.external_id.as_deref().expect("a container id");
            self.0.put_file(id, name, content).await
        }

        async fn leftovers(&self, executor_id: &str) -> Result<Vec<String>> {
            self.0.containers_of(executor_id).await
        }
    }

    pub fn executor(kind: ExecutorKind, host: &str) -> DockerExecutor {
        DockerExecutor::new(DockerConfig::new(kind, host).with_kill_grace(Duration::from_secs(1)))
    }

    /// The engine's socket URL from `var`; `None` (skip) when unset, a failure when integration
    /// tests are required.
    pub fn host(var: &str) -> Option<String> {
        match std::env::var(var) {
            Ok(h) if !h.is_empty() => Some(h),
            _ => {
                assert!(
                    !integration_required(),
                    "{var} is not set and MULTIFLEXI_REQUIRE_INTEGRATION=1: \
                     run scripts/services/containers.sh and export what it prints"
                );
                println!("skipping: {var} is not set (run scripts/services/containers.sh)");
                None
            }
        }
    }

    pub async fn harness(
        kind: ExecutorKind,
        var: &str,
        image: &str,
        case: &'static str,
    ) -> Option<(Arc<dyn Executor>, TestPrograms)> {
        let host = host(var)?;
        let exec = Arc::new(executor(kind, &host));
        let id = executor_id(&kind.as_str().to_ascii_lowercase(), case);
        let mut programs =
            TestPrograms::busybox(image, id, Arc::new(ContainerBackend(exec.clone())));
        if kind == ExecutorKind::Podman {
            // Podman always sets these itself (TERM=xterm even without a terminal).
            programs
                .engine_env
                .extend(["TERM".to_owned(), "container".to_owned()]);
        }
        Some((exec, programs))
    }

    pub fn assert_capabilities(kind: ExecutorKind) {
        let exec = executor(kind, "unix:///nonexistent.sock");
        assert_eq!(exec.kind(), kind);
        assert_eq!(
            exec.capabilities(),
            Capabilities::new([
                Capability::SeparateStreams,
                Capability::LosslessOutput,
                Capability::Streaming,
                Capability::Timeout,
                Capability::Cancel,
                Capability::ResultFiles,
                Capability::MemoryLimit,
                Capability::EnvIsolation,
                Capability::ResourceUsage,
                Capability::Reap,
                Capability::Images,
            ])
        );
    }

    #[derive(Debug)]
    struct NoIo;

    #[async_trait]
    impl JobIo for NoIo {
        async fn started(&self, _: RunHandle) -> Result<()> {
            panic!("nothing may start")
        }
        async fn stdout(&self, _: &[u8]) -> Result<()> {
            Ok(())
        }
        async fn stderr(&self, _: &[u8]) -> Result<()> {
            Ok(())
        }
        async fn result_file(
            &self,
            _: &str,
            _: &mut (dyn tokio::io::AsyncRead + Send + Unpin),
        ) -> Result<()> {
            Ok(())
        }
    }

    /// An image that is not on the engine: a retryable error naming it, and no container.
    pub async fn missing_image_is_a_clear_retryable_error(kind: ExecutorKind, var: &str) {
        let Some(host) = host(var) else { return };
        let exec = executor(kind, &host);
        let mut spec = LaunchSpec::new("/bin/busybox", vec!["true".into()], "/tmp/unused");
        spec.image = Some("multiflexi-test/no-such-image:missing".into());
        spec.executor_id = executor_id(kind.as_str(), "missing_image");
        let err = exec
            .launch(&spec, &NoIo, CancellationToken::new())
            .await
            .expect_err("a missing image is an error");
        assert!(err.is_retryable(), "{err}");
        assert!(
            err.to_string()
                .contains("multiflexi-test/no-such-image:missing"),
            "{err}"
        );
        assert!(
            exec.containers_of(&spec.executor_id)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

/// The isolation suite on Docker and Podman: `container_isolation::docker::*`, `::podman::*`.
#[path = "containers/isolation.rs"]
mod container_isolation;

mod docker {
    use super::*;
    use multiflexi_core::ExecutorKind;

    const VAR: &str = "MULTIFLEXI_TEST_DOCKER_HOST";
    const IMAGE: &str = "multiflexi-test/busybox:local";

    async fn harness(case: &'static str) -> Option<(Arc<dyn Executor>, TestPrograms)> {
        containers::harness(ExecutorKind::Docker, VAR, IMAGE, case).await
    }

    multiflexi_core::executor_conformance_tests!(harness);

    #[test]
    fn capabilities_are_exactly() {
        containers::assert_capabilities(ExecutorKind::Docker);
    }

    #[tokio::test]
    async fn missing_image_is_a_clear_retryable_error() {
        containers::missing_image_is_a_clear_retryable_error(ExecutorKind::Docker, VAR).await;
    }
}

mod podman {
    use super::*;
    use multiflexi_core::ExecutorKind;

    const VAR: &str = "MULTIFLEXI_TEST_PODMAN_HOST";
    const IMAGE: &str = "localhost/multiflexi-test/busybox:local";

    async fn harness(case: &'static str) -> Option<(Arc<dyn Executor>, TestPrograms)> {
        containers::harness(ExecutorKind::Podman, VAR, IMAGE, case).await
    }

    multiflexi_core::executor_conformance_tests!(harness);

    #[test]
    fn capabilities_are_exactly() {
        containers::assert_capabilities(ExecutorKind::Podman);
    }

    #[tokio::test]
    async fn missing_image_is_a_clear_retryable_error() {
        containers::missing_image_is_a_clear_retryable_error(ExecutorKind::Podman, VAR).await;
    }
}

#[cfg(feature = "kubernetes-client")]
mod fake_kube;

#[cfg(feature = "kubernetes-client")]
mod kubernetes;

#[cfg(feature = "azure")]
mod fake_azure;

#[cfg(feature = "azure")]
mod azure;
