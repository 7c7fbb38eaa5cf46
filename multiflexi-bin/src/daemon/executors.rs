//! Which executors a process runs: the kinds `MULTIFLEXI_EXECUTORS` names, or by default those
//! it can reach (Native always; Docker / Podman when their API socket answers).

use super::args::RunArgs;
use crate::config::EngineConfig;
use anyhow::bail;
use multiflexi_core::{Executor, ExecutorKind};
use multiflexi_executors::{
    AzureConfig, AzureCredential, AzureExecutor, DockerConfig, DockerExecutor, JobUsers,
    KubernetesConfig, KubernetesExecutor, NativeConfig, NativeExecutor, parse_container_user,
};
use std::sync::Arc;
use std::time::Duration;

/// How long a socket probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// What was decided, for the start-up message.
#[derive(Debug)]
pub struct ExecutorSet {
    /// The executors, one per kind.
    pub executors: Vec<Arc<dyn Executor>>,
    /// One line per kind: what runs and why, or why not.
    pub notes: Vec<String>,
}

impl ExecutorSet {
    /// The kinds, comma separated.
    pub fn kinds(&self) -> String {
        self.executors
            .iter()
            .map(|e| e.kind().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The kinds to run: those `engine.executors` names (checked: this build must have them), or
/// `None` to discover them; also checks the executors' settings in `run` that can be checked
/// without side effects (the container user). Cheap; call it before opening anything.
pub fn plan(engine: &EngineConfig, run: &RunArgs) -> anyhow::Result<Option<Vec<ExecutorKind>>> {
    container_user(run)?;
    let mut kinds = engine.executor_kinds()?;
    if kinds.is_empty() {
        return Ok(None);
    }
    kinds.sort();
    kinds.dedup();
    for kind in &kinds {
        if !matches!(
            kind,
            ExecutorKind::Native
                | ExecutorKind::Docker
                | ExecutorKind::Podman
                | ExecutorKind::Kubernetes
                | ExecutorKind::Azure
        ) {
            bail!(
                "executor {kind} is not available in this build; allowed in MULTIFLEXI_EXECUTORS: Native, Docker, Podman, Kubernetes, Azure"
            );
        }
    }
    if kinds.contains(&ExecutorKind::Azure) {
        azure()?;
    }
    Ok(Some(kinds))
}

/// Builds the executors of a [`plan`]: the named kinds, or Native plus whichever container
/// engine answers.
pub async fn select(plan: Option<Vec<ExecutorKind>>, run: &RunArgs) -> anyhow::Result<ExecutorSet> {
    let discover = plan.is_none();
    let kinds = plan.unwrap_or_else(|| {
        vec![
            ExecutorKind::Native,
            ExecutorKind::Docker,
            ExecutorKind::Podman,
        ]
    });
    let mut set = ExecutorSet {
        executors: Vec::new(),
        notes: Vec::new(),
    };
    let container_user = container_user(run)?;
    for kind in kinds {
        match kind {
            ExecutorKind::Native => {
                let users = JobUsers::from_setting(&run.job_uids)
                    .map_err(|e| anyhow::anyhow!("MULTIFLEXI_JOB_UIDS: {e}"))?
                    .with_lock_dir(&run.job_uid_locks);
                if !users.separates() {
                    tracing::warn!("{}", users.describe());
                }
                users
                    .prepare_work_root(&run.work_root())
                    .map_err(|e| anyhow::anyhow!("MULTIFLEXI_WORK_DIR: {e}"))?;
                let config = NativeConfig::default()
                    .with_state_dir(run.state_dir().join("native"))
                    .with_job_users(users.clone());
                let native = NativeExecutor::new(config);
                if let Err(why) = native.job_supervisor() {
                    tracing::warn!("Native jobs cannot start: {why}");
                }
                set.notes.push(format!(
                    "Native: local processes; {}; limits: {}",
                    users.describe(),
                    native.cgroup_backend().describe()
                ));
                set.executors.push(Arc::new(native));
            }
            ExecutorKind::Docker | ExecutorKind::Podman => {
                let host = if kind == ExecutorKind::Docker {
                    &run.docker_host
                } else {
                    &run.podman_host
                };
                let user = container_user.clone();
                let described = user.as_deref().map_or_else(
                    || "the image's own user".to_owned(),
                    |u| format!("user {u}"),
                );
                let executor =
                    DockerExecutor::new(DockerConfig::new(kind, host.clone()).with_user(user));
                match probe(&executor, host).await {
                    Ok(()) => {
                        set.executors.push(Arc::new(executor));
                        set.notes
                            .push(format!("{kind}: {host}; jobs run as {described}"));
                    }
                    Err(why) if discover => {
                        tracing::debug!("{kind} not used: {why}");
                        set.notes.push(format!("{kind}: not used ({why})"));
                    }
                    Err(why) => {
                        // Asked for explicitly: run it anyway; its jobs end as platform_error
                        // (and are retried per their templates) until the engine is back.
                        tracing::warn!(
                            "{kind} engine at {host} does not answer ({why}); its jobs fail with platform_error until it does"
                        );
                        set.executors.push(Arc::new(executor));
                        set.notes.push(format!(
                            "{kind}: {host} (not answering yet: {why}); jobs run as {described}"
                        ));
                    }
                }
            }
            ExecutorKind::Kubernetes => {
                // Only when named: the cluster is inferred as kube does it (KUBECONFIG, or the
                // in-cluster service account); MULTIFLEXI_KUBERNETES_NAMESPACE overrides the
                // namespace, MULTIFLEXI_KUBERNETES_RUN_AS_USER the jobs' uid (a wrong value
                // stops the daemon here rather than failing every job). Connected lazily: an
                // unreachable API server fails jobs with platform_error (retried per their
                // templates), never the daemon.
                let mut config = KubernetesConfig::infer();
                if let Ok(ns) = std::env::var("MULTIFLEXI_KUBERNETES_NAMESPACE")
                    && !ns.trim().is_empty()
                {
                    config = config.with_namespace(ns.trim());
                }
                let uid = std::env::var("MULTIFLEXI_KUBERNETES_RUN_AS_USER").unwrap_or_default();
                let uid = KubernetesConfig::run_as_user_setting(&uid)
                    .map_err(|e| anyhow::anyhow!("MULTIFLEXI_KUBERNETES_RUN_AS_USER: {e}"))?;
                config = config.with_run_as_user(uid);
                let user = uid.map_or_else(
                    || "the image's user (non-root)".to_owned(),
                    |u| format!("uid {u}"),
                );
                set.executors
                    .push(Arc::new(KubernetesExecutor::new(config)));
                set.notes.push(format!(
                    "Kubernetes: batch/v1 Jobs through the cluster's API, pods as {user}"
                ));
            }
            ExecutorKind::Azure => {
                let (executor, note) = azure()?;
                set.executors.push(Arc::new(executor));
                set.notes.push(note);
            }
            other => bail!(
                "executor {other} is not available in this build; allowed in MULTIFLEXI_EXECUTORS: Native, Docker, Podman, Kubernetes, Azure"
            ),
        }
    }
    Ok(set)
}

/// The Azure executor, only when named: its settings from `AZURE_SUBSCRIPTION_ID`,
/// `AZURE_RESOURCE_GROUP`, `AZURE_LOCATION` and a service principal (`AZURE_TENANT_ID`,
/// `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`, `AZURE_AUTHORITY_HOST`) or a managed identity
/// (`MULTIFLEXI_AZURE_MANAGED_IDENTITY_ENDPOINT`), plus `MULTIFLEXI_AZURE_ARM_ENDPOINT`; what is
/// missing stops the daemon with what to set. Connected lazily: ARM unreachable fails jobs with
/// platform_error, never the daemon.
fn azure() -> anyhow::Result<(AzureExecutor, String)> {
    let config = AzureConfig::from_env()?;
    let who = match &config.credential {
        AzureCredential::ClientSecret { client_id, .. } => {
            format!("service principal {client_id}")
        }
        AzureCredential::ManagedIdentity { endpoint, .. } => {
            format!("managed identity via {endpoint}")
        }
        _ => "a credential".to_owned(),
    };
    let note = format!(
        "Azure: container groups in resource group {} ({}) through {}, as {who}",
        config.resource_group, config.location, config.arm_endpoint
    );
    Ok((AzureExecutor::new(config), note))
}

/// `MULTIFLEXI_CONTAINER_USER`: `Some("UID:GID")`, or `None` for the image's own user.
fn container_user(run: &RunArgs) -> anyhow::Result<Option<String>> {
    parse_container_user(&run.container_user)
        .map_err(|e| anyhow::anyhow!("MULTIFLEXI_CONTAINER_USER: {e}"))
}

async fn probe(executor: &DockerExecutor, host: &str) -> Result<(), String> {
    if let Some(path) = host.strip_prefix("unix://")
        && !std::path::Path::new(path).exists()
    {
        return Err(format!("no socket at {path}"));
    }
    match tokio::time::timeout(PROBE_TIMEOUT, executor.client()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
    }
}
