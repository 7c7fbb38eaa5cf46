//! The KubernetesExecutor against the fake API server of `tests/fake_kube` (no cluster runs
//! here): the shared executor conformance suite as `kubernetes::*`, the exact capability set,
//! the failure modes and what the Secret and the Job hold (`cases`), and the manifests of
//! `deploy/kubernetes/` (`manifests`).
//!
//! The fake runs job commands as local processes of `/bin/busybox` (Debian's busybox-static,
//! installed by `scripts/services/containers.sh`); without it these tests skip with a message,
//! unless `MULTIFLEXI_REQUIRE_INTEGRATION=1`, when they fail.

mod cases;
mod manifests;
mod usage;

use super::{executor_id, integration_required};
use crate::fake_kube::{FakeKube, FakeOptions, IMAGE};
use async_trait::async_trait;
use multiflexi_core::conformance::executor::{TestBackend, TestPrograms};
use multiflexi_core::executor::{LaunchSpec, RunHandle};
use multiflexi_core::{Error, Executor, Result};
use multiflexi_executors::{KubernetesConfig, KubernetesExecutor, kubernetes_names};
use std::sync::Arc;
use std::time::Duration;

/// The namespace the tests' jobs run in.
pub const NS: &str = "multiflexi-jobs";

/// Variables the kubelet itself gives every container (not the daemon's).
pub const KUBELET_ENV: &[&str] = &[
    "HOSTNAME",
    "KUBERNETES_SERVICE_HOST",
    "KUBERNETES_SERVICE_PORT",
    "KUBERNETES_SERVICE_PORT_HTTPS",
    "KUBERNETES_PORT",
    "KUBERNETES_PORT_443_TCP",
    "KUBERNETES_PORT_443_TCP_PROTO",
    "KUBERNETES_PORT_443_TCP_PORT",
    "KUBERNETES_PORT_443_TCP_ADDR",
];

/// The fake as the suite's backend: leftovers are the Jobs, Secrets, Pods and live container
/// processes labelled with the case's executor id; `put_file` writes into the pod's work
/// directory.
#[derive(Debug)]
pub struct FakeBackend {
    pub fake: FakeKube,
}

#[async_trait]
impl TestBackend for FakeBackend {
    async fn put_file(
        &self,
        _spec: &LaunchSpec,
        handle: &RunHandle,
        name: &str,
        content: &[u8],
    ) -> Result<()> {
        let pod = handle.external_id.as_deref().expect("a pod name");
        self.fake
            .put_file(pod, name, content)
            .map_err(|e| Error::backend("test", false, e))
    }

    async fn leftovers(&self, executor_id: &str) -> Result<Vec<String>> {
        let mut left = self
            .fake
            .objects(Some(&kubernetes_names::executor_label(executor_id)));
        // A request the fake does not serve would be a gap in what these tests verify.
        left.extend(
            self.fake
                .unimplemented()
                .into_iter()
                .map(|r| format!("unimplemented API request {r}")),
        );
        Ok(left)
    }
}

/// Whether the stand-in for the image is there; `false` (skip) after saying why, a failure when
/// integration tests are required.
pub fn busybox_present() -> bool {
    if std::path::Path::new("/bin/busybox").exists() {
        return true;
    }
    assert!(
        !integration_required(),
        "/bin/busybox is missing and MULTIFLEXI_REQUIRE_INTEGRATION=1: install busybox-static \
         (scripts/services/containers.sh does)"
    );
    println!("skipping: /bin/busybox is missing (apt-get install busybox-static)");
    false
}

/// The settings the tests use: short grace and intervals.
pub fn config(fake: &FakeKube) -> KubernetesConfig {
    KubernetesConfig::with_client_config(fake.client_config(NS))
        .with_termination_grace(Duration::from_secs(1))
        .with_check_interval(Duration::from_millis(500))
        .with_unschedulable_limit(Duration::from_secs(20))
}

/// A fake, an executor pointed at it and the suite's programs for `case`.
pub async fn setup(
    case: &str,
) -> Option<(Arc<KubernetesExecutor>, Arc<FakeBackend>, TestPrograms)> {
    setup_with(case, |c| c).await
}

/// [`setup`] with the executor's settings adjusted.
pub async fn setup_with(
    case: &str,
    adjust: impl FnOnce(KubernetesConfig) -> KubernetesConfig,
) -> Option<(Arc<KubernetesExecutor>, Arc<FakeBackend>, TestPrograms)> {
    setup_full(case, FakeOptions::default(), adjust).await
}

/// [`setup`] with the fake's options and the executor's settings adjusted.
pub async fn setup_full(
    case: &str,
    options: FakeOptions,
    adjust: impl FnOnce(KubernetesConfig) -> KubernetesConfig,
) -> Option<(Arc<KubernetesExecutor>, Arc<FakeBackend>, TestPrograms)> {
    if !busybox_present() {
        return None;
    }
    let fake = FakeKube::start_with(options).await;
    let exec = Arc::new(KubernetesExecutor::new(adjust(config(&fake))));
    let backend = Arc::new(FakeBackend { fake });
    let mut programs = TestPrograms::busybox(IMAGE, executor_id("k8s", case), backend.clone());
    programs.engine_env = KUBELET_ENV.iter().map(|s| (*s).to_owned()).collect();
    programs.patience = Duration::from_secs(30);
    Some((exec, backend, programs))
}

async fn harness(case: &'static str) -> Option<(Arc<dyn Executor>, TestPrograms)> {
    let (exec, _, programs) = setup(case).await?;
    Some((exec, programs))
}

multiflexi_core::executor_conformance_tests!(harness);
