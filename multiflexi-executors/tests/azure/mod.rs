//! The AzureExecutor against the fake ARM server of `tests/fake_azure` (no Azure subscription
//! is reachable here): the shared executor conformance suite as `azure::*`, the exact
//! capability set, the faults (429 with `Retry-After`, 5xx, an outage), deletion on every path,
//! reaping by tags, both credentials, and the refusal to start without configuration
//! (`cases`).
//!
//! The fake runs container commands as local processes of `/bin/busybox` (Debian's
//! busybox-static, installed by `scripts/services/containers.sh`); without it these tests skip
//! with a message, unless `MULTIFLEXI_REQUIRE_INTEGRATION=1`, when they fail.

mod cases;

use super::{executor_id, integration_required};
use crate::fake_azure::{
    CLIENT_ID, CLIENT_SECRET, FakeAzure, FakeOptions, IMAGE, RESOURCE_GROUP, SUBSCRIPTION, TENANT,
};
use async_trait::async_trait;
use multiflexi_core::conformance::executor::{TestBackend, TestPrograms};
use multiflexi_core::executor::{LaunchSpec, RunHandle};
use multiflexi_core::{Error, Executor, Result};
use multiflexi_executors::{AzureConfig, AzureCredential, AzureExecutor};
use std::sync::Arc;
use std::time::Duration;

/// The fake as the suite's backend: leftovers are the container groups tagged with the case's
/// executor id and their live processes, plus every request the fake does not implement or
/// that broke a rule; `put_file` writes into the container's working directory.
#[derive(Debug)]
pub struct FakeBackend {
    pub fake: FakeAzure,
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
        let group = handle
            .external_id
            .as_deref()
            .expect("a container group name");
        self.fake
            .put_file(group, name, content)
            .map_err(|e| Error::backend("test", false, e))
    }

    async fn leftovers(&self, executor_id: &str) -> Result<Vec<String>> {
        let mut left = self.fake.objects(Some(executor_id));
        left.extend(self.fake.problems());
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

/// A service principal's settings pointed at the fake: short polls, few quick retries.
pub fn config(fake: &FakeAzure) -> AzureConfig {
    AzureConfig::new(
        SUBSCRIPTION,
        RESOURCE_GROUP,
        "westeurope",
        AzureCredential::ClientSecret {
            tenant_id: TENANT.into(),
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            authority_host: fake.url(),
        },
    )
    .with_arm_endpoint(fake.url())
    .with_poll_interval(Duration::from_millis(200))
    .with_retries(4, Duration::from_secs(2))
    .with_start_limit(Duration::from_secs(20))
}

/// A fake, an executor pointed at it and the suite's programs for `case`.
pub async fn setup(case: &str) -> Option<(Arc<AzureExecutor>, Arc<FakeBackend>, TestPrograms)> {
    setup_with(case, FakeOptions::default(), |c| c).await
}

/// [`setup`] with the fake's options and the executor's settings adjusted.
pub async fn setup_with(
    case: &str,
    options: FakeOptions,
    adjust: impl FnOnce(AzureConfig) -> AzureConfig,
) -> Option<(Arc<AzureExecutor>, Arc<FakeBackend>, TestPrograms)> {
    if !busybox_present() {
        return None;
    }
    let fake = FakeAzure::start_with(options).await;
    let exec = Arc::new(AzureExecutor::new(adjust(config(&fake))));
    let backend = Arc::new(FakeBackend { fake });
    let mut programs = TestPrograms::busybox(IMAGE, executor_id("azure", case), backend.clone());
    // ACI adds no variables of its own to a container here (the fake adds none).
    programs.engine_env = Vec::new();
    programs.patience = Duration::from_secs(30);
    Some((exec, backend, programs))
}

async fn harness(case: &'static str) -> Option<(Arc<dyn Executor>, TestPrograms)> {
    let (exec, _, programs) = setup(case).await?;
    Some((exec, programs))
}

multiflexi_core::executor_conformance_tests!(harness);
