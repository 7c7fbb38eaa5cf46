//! [`AzureExecutor`]: runs each job as an Azure Container Instances container group through
//! the ARM REST API (`api-version` 2023-05-01).
//!
//! Verified against a simulated ARM API server (the in-process fake of `tests/fake_azure`,
//! which plays ACI with local processes), never against a live Azure subscription.

mod arm;
mod cleanup;
mod config;
mod container_group;
mod error;
mod follow;
mod log_window;
mod names;
mod token;

pub use arm::API_VERSION;
pub use config::{AzureConfig, AzureCredential, DEFAULT_ARM_ENDPOINT, DEFAULT_AUTHORITY_HOST};
pub use container_group::HOME as JOB_HOME;
pub use names::{CONTAINER, group_name};

use arm::ArmClient;
use async_trait::async_trait;
use error::AzureError;
use follow::{Follow, Followed, Stop};
use multiflexi_core::executor::{
    Capabilities, Capability, ExitReport, JobIo, LaunchSpec, Leftover,
};
use multiflexi_core::{Error, Executor, ExecutorKind, JobId, Result};
use reqwest::Method;
use std::fmt;
use std::sync::Arc;
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

/// Why an Azure job's resource usage is unknown: what ACI offers is no job's peak or total.
pub const USAGE_UNKNOWN: &str = "Azure Container Instances reports no peak memory or CPU time of \
    a container: its instance view has none, and Azure Monitor's CpuUsage and MemoryUsage \
    metrics are one-minute averages of a running group";

/// Runs jobs as Azure Container Instances container groups (`ExecutorKind::Azure`).
///
/// One launch: refuse a spec without an image (`InvalidInput` naming `ociimage`) → delete what
/// is left of the job a retry replaces → `PUT` a container group (one Linux container with the
/// app's image, command = program + argv, the job's environment as secure environment
/// variables, CPU and memory requested and limited, restart policy `Never`, tags
/// `io.multiflexi.*` with the job id, lease token and executor id) → follow it by polling
/// (the creation's `Azure-AsyncOperation`, the group's `instanceView`, the container's log):
/// `started` with the group name once the container runs, new log content to stdout, the
/// exit code from the container's terminated state → `DELETE` the group (also after a
/// timeout, a cancellation or a platform failure; a dropped launch deletes it in the
/// background; `reap` deletes the groups tagged with a dead executor's id).
///
/// What ACI cannot do, so the executor does not claim it:
/// - stdout and stderr are one log (no `SeparateStreams`); the executor's own notes go to
///   stderr;
/// - the log API answers text, only the last 4 MB (no `LosslessOutput`): bytes that are not
///   UTF-8 arrive replaced, and output that scrolled out of the window between two polls is
///   lost (said on stderr). Logs are polled every [`AzureConfig::poll_interval`], not streamed;
/// - result files cannot be copied out of a container group through the API (no
///   `ResultFiles`);
/// - the memory limit is applied, but ACI's API names no OOM kill: such a job ends with its
///   exit code (137), not `oom` (no `MemoryLimit`);
/// - no pids limit or CPU-time budget;
/// - no resource usage: every report says why in [`ExitReport::usage_unknown`]
///   ([`USAGE_UNKNOWN`]).
///
/// ARM's 429 answers are retried after their `Retry-After`, 5xx and unanswered requests with
/// bounded back-off; when ARM stays unusable the launch fails with a retryable error (the
/// engine's `platform_error`), never as the job's own failure.
pub struct AzureExecutor {
    config: Arc<AzureConfig>,
    arm: OnceCell<Arc<ArmClient>>,
}

impl fmt::Debug for AzureExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureExecutor")
            .field("config", &self.config)
            .finish()
    }
}

impl AzureExecutor {
    /// An executor with these settings (the HTTP client is built at the first request).
    pub fn new(config: AzureConfig) -> Self {
        Self {
            config: Arc::new(config),
            arm: OnceCell::new(),
        }
    }

    /// From the `AZURE_*` / `MULTIFLEXI_AZURE_*` variables; an error that says what to set
    /// when they are missing ([`AzureConfig::from_env`]).
    pub fn from_env() -> Result<Self> {
        Ok(Self::new(AzureConfig::from_env()?))
    }

    /// From variables looked up by `var` ([`AzureConfig::from_lookup`]).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        Ok(Self::new(AzureConfig::from_lookup(var)?))
    }

    /// The settings.
    pub fn config(&self) -> &AzureConfig {
        &self.config
    }

    async fn arm(&self) -> Result<Arc<ArmClient>> {
        self.arm
            .get_or_try_init(|| async {
                self.config.validate()?;
                ArmClient::new(self.config.clone())
                    .map(Arc::new)
                    .map_err(AzureError::into_error)
            })
            .await
            .cloned()
    }

    /// Names of the container groups tagged with `executor_id` (what `reap` would delete).
    pub async fn groups_of(&self, executor_id: &str) -> Result<Vec<String>> {
        Ok(self
            .leftovers()
            .await?
            .into_iter()
            .filter(|l| l.executor_id == executor_id)
            .map(|l| l.handle)
            .collect())
    }

    /// Deletes the container groups of job `job_id` (what is left of the run a retry
    /// replaces) and returns once they are gone.
    async fn remove_job_groups(&self, arm: &ArmClient, job_id: JobId) -> Result<()> {
        for leftover in self.leftovers().await? {
            if leftover.job_id == job_id {
                tracing::info!(group = %leftover.handle, job_id = %job_id, "deleting the container group of the job this retry replaces");
                arm.delete_group(&leftover.handle)
                    .await
                    .map_err(AzureError::into_error)?;
            }
        }
        Ok(())
    }

    async fn create(
        &self,
        arm: &ArmClient,
        spec: &LaunchSpec,
        image: &str,
        name: &str,
    ) -> Result<Option<(String, bool)>> {
        let what = format!(
            "creating container group {name} in resource group {}",
            self.config.resource_group
        );
        let body = container_group::body(spec, image, &self.config)?;
        let reply = arm
            .send(&what, Method::PUT, &arm.group_url(name), Some(&body))
            .await
            .map_err(AzureError::into_error)?;
        match reply.status {
            200 | 201 => Ok(ArmClient::operation_url(&reply)),
            409 => Err(Error::conflict(format!(
                "{what}: {}",
                reply.error("it exists already")
            ))),
            _ => Err(reply.error(what).into_error()),
        }
    }

    /// One launch (see the type's doc), without the usage.
    async fn run(
        &self,
        spec: &LaunchSpec,
        io: &dyn JobIo,
        cancel: CancellationToken,
    ) -> Result<ExitReport> {
        let Some(image) = spec.image.as_deref().filter(|i| !i.trim().is_empty()) else {
            return Err(Error::invalid(
                "ociimage",
                "the Azure executor runs images: the app names no ociimage",
            ));
        };
        let began = tokio::time::Instant::now();
        if cancel.is_cancelled() {
            let mut report = ExitReport::signaled(15);
            report.cancelled = true;
            return Ok(report);
        }
        if !spec.artifacts.is_empty() {
            tracing::warn!(job_id = %spec.job_id, patterns = ?spec.artifacts,
                "the Azure executor cannot collect result files (ACI's API cannot copy files out)");
        }
        if spec.pids_max.is_some() || spec.cpu_limit.is_some() {
            tracing::warn!(job_id = %spec.job_id, pids_max = ?spec.pids_max, cpu_limit = ?spec.cpu_limit,
                "the Azure executor does not enforce a job's pids_max or cpu_seconds");
        }
        let arm = self.arm().await?;
        if let Some(previous) = spec.retry_of {
            self.remove_job_groups(&arm, previous).await?;
        }
        let name = names::group_name(spec);
        let mut guard = cleanup::Guard::new(arm.clone(), name.clone());
        let result = match self.create(&arm, spec, image, &name).await {
            Ok(operation) => {
                let mut follow = Follow {
                    arm: &arm,
                    group: name.clone(),
                    spec,
                    io,
                    poll_interval: self.config.poll_interval,
                    start_limit: self.config.start_limit,
                    operation,
                    began,
                };
                follow.run(&cancel).await
            }
            Err(e) => Err(e),
        };
        // Nothing is left behind: the group is deleted on every path, and the launch returns
        // once it is gone (a timed-out or cancelled job's process with it). When ARM cannot be
        // reached now, a background task keeps trying; `reap` is the last resort.
        let deleted = arm.delete_group(&name).await;
        guard.disarm();
        if let Err(e) = &deleted {
            tracing::warn!(group = %name, error = %e, "could not delete a job's container group; retrying in the background");
            cleanup::retry_in_background(arm.clone(), name.clone());
        }
        match result? {
            Followed::Ended(report) => Ok(report),
            Followed::Stop(stop) => {
                deleted.map_err(AzureError::into_error)?;
                let mut report = ExitReport::signaled(if stop == Stop::Timeout || io.stop_now() {
                    9
                } else {
                    15
                });
                match stop {
                    Stop::Timeout => report.timed_out = true,
                    Stop::Cancel => report.cancelled = true,
                }
                Ok(report)
            }
        }
    }
}

#[async_trait]
impl Executor for AzureExecutor {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Azure
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new([
            Capability::Streaming,
            Capability::Timeout,
            Capability::Cancel,
            Capability::EnvIsolation,
            Capability::Reap,
            Capability::Images,
        ])
    }

    async fn launch(
        &self,
        spec: &LaunchSpec,
        io: &dyn JobIo,
        cancel: CancellationToken,
    ) -> Result<ExitReport> {
        let mut report = self.run(spec, io, cancel).await?;
        report.set_usage_unknown(USAGE_UNKNOWN);
        Ok(report)
    }

    /// The container groups of every executor (tagged `io.multiflexi.managed=true`).
    async fn leftovers(&self) -> Result<Vec<Leftover>> {
        let arm = self.arm().await?;
        let groups = arm.list_groups().await.map_err(AzureError::into_error)?;
        Ok(groups
            .iter()
            .filter_map(|g| {
                let tags = &g["tags"];
                let tag = |k: &str| tags[k].as_str();
                if tag(crate::labels::MANAGED) != Some("true") {
                    return None;
                }
                let job_id = tag(crate::labels::JOB_ID)?.parse().ok()?;
                let token = tag(crate::labels::LEASE_TOKEN)?.parse().ok()?;
                let executor = tag(crate::labels::EXECUTOR_ID).unwrap_or_default();
                let name = g["name"].as_str()?;
                Some(Leftover::new(JobId(job_id), token, executor, name))
            })
            .collect())
    }

    async fn remove(&self, leftover: &Leftover) -> Result<()> {
        let arm = self.arm().await?;
        arm.delete_group(&leftover.handle)
            .await
            .map_err(AzureError::into_error)?;
        Ok(())
    }
}
