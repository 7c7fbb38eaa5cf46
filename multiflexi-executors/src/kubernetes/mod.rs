//! [`KubernetesExecutor`]: runs each job as a `batch/v1` Job through the Kubernetes API (kube).
//!
//! Verified against a simulated API server (the in-process fake of `tests/fake_kube`, which plays
//! the kubelet with local processes), not against a live cluster.

mod cleanup;
mod config;
mod error;
mod follow;
mod logs;
mod manifest;
pub mod names;
mod pod;
mod usage;

pub use config::{ImagePullPolicy, JobResources, KubernetesConfig};
pub use usage::{METRICS_API_SAMPLES_ONLY, NO_METRICS_API};

use async_trait::async_trait;
use cleanup::{Guard, Propagation};
use error::{KubeError, status_code};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use multiflexi_core::executor::{
    Capabilities, Capability, ExitReport, JobIo, LaunchSpec, Leftover,
};
use multiflexi_core::{Error, Executor, ExecutorKind, JobId, Result};
use std::fmt;
use std::future::Future;
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

/// Runs jobs as Kubernetes Jobs (`ExecutorKind::Kubernetes`).
///
/// One launch: refuse a spec without an image (`InvalidInput` naming `ociimage`) → create a
/// Secret with the job's whole environment → create a Job (`backoffLimit: 0`,
/// `restartPolicy: Never`, `activeDeadlineSeconds` = the timeout, `ttlSecondsAfterFinished`,
/// memory limit, labels `io.multiflexi.*`, image = the app's `ociimage`, command = program,
/// args = argv, `envFrom` the Secret: no value in the Job's spec) → follow its pod (list + watch
/// by the Job's controller uid): `started` with the pod name once the container runs, the log
/// streamed with `follow` to stdout (Kubernetes merges stdout and stderr), the exit code from
/// the container's terminated state (`OOMKilled` → oom) → delete the Job and the Secret.
///
/// The pod is locked down: `runAsNonRoot` as [`KubernetesConfig::run_as_user`] (default 65534,
/// also its group and `fsGroup`), seccomp `RuntimeDefault`, no privilege escalation, not
/// privileged, every capability dropped but the app's
/// ([`ContainerSecurity`](multiflexi_core::model::ContainerSecurity)), a read-only root file
/// system (with an `emptyDir` at `/tmp`) when the app allows it, no service account token. A
/// job's `pids_max` and CPU-seconds budget are not enforced (no pod field exists for either;
/// the timeout still bounds the job).
///
/// Failure modes end the launch instead of waiting forever: image pull errors, a pod
/// unschedulable for longer than [`KubernetesConfig::unschedulable_limit`], container creation
/// errors, the Job or its pod deleted from outside, the API server unreachable — each a
/// `Error::Backend` with the reason (retryable except configuration errors). A program that
/// cannot be executed is the job's failure: 127 / 126 with the runtime's message on stderr.
/// Timeout and cancel delete the Job with foreground propagation and wait until it (and so its
/// pod) is gone. The Secret is deleted on every path; a dropped launch future deletes both in the
/// background; `reap` deletes the Jobs and Secrets labelled with a dead executor's id.
///
/// Result files are not collected: the pod's filesystem goes with the pod (no
/// `Capability::ResultFiles`). Peak memory and CPU time are not reported: every report says
/// why in [`ExitReport::usage_unknown`] (the cluster has no metrics API, or its metrics API
/// has no peak or total of a finished pod; `usage.rs`).
///
/// The client is built lazily at the first launch or reap, so building the executor never
/// fails.
pub struct KubernetesExecutor {
    config: KubernetesConfig,
    client: OnceCell<Connection>,
    /// Why jobs' usage is unknown here (asked once, at the first job's end).
    metrics_reason: OnceCell<&'static str>,
}

struct Connection {
    client: Client,
    namespace: String,
    url: String,
}

impl fmt::Debug for KubernetesExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubernetesExecutor")
            .field("config", &self.config)
            .field("connected", &self.client.initialized())
            .finish()
    }
}

impl KubernetesExecutor {
    /// An executor with these settings (connected lazily).
    pub fn new(config: KubernetesConfig) -> Self {
        Self {
            config,
            client: OnceCell::new(),
            metrics_reason: OnceCell::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &KubernetesConfig {
        &self.config
    }

    /// The client and the namespace jobs run in.
    pub async fn client(&self) -> Result<(&Client, &str)> {
        let conn = self
            .client
            .get_or_try_init(|| async {
                let cfg = match &self.config.client {
                    Some(c) => c.clone(),
                    None => kube::Config::infer()
                        .await
                        .map_err(|e| KubeError::Config(e.to_string()).into_error())?,
                };
                let ns = self
                    .config
                    .namespace
                    .clone()
                    .unwrap_or_else(|| cfg.default_namespace.clone());
                let url = cfg.cluster_url.to_string();
                let client = Client::try_from(cfg)
                    .map_err(|e| KubeError::Config(e.to_string()).into_error())?;
                Ok::<_, Error>(Connection {
                    client,
                    namespace: ns,
                    url,
                })
            })
            .await?;
        Ok((&conn.client, conn.namespace.as_str()))
    }

    async fn apis(&self) -> Result<(Api<Job>, Api<Secret>, Api<Pod>)> {
        let (client, ns) = self.client().await?;
        Ok((
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        ))
    }

    /// A short API request, bounded by the request timeout.
    async fn request<T>(
        &self,
        what: impl Into<String>,
        fut: impl Future<Output = kube::Result<T>>,
    ) -> Result<T> {
        let what = what.into();
        match tokio::time::timeout(self.config.request_timeout, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) if status_code(&e) == Some(409) => {
                Err(Error::conflict(format!("{what}: it already exists ({e})")))
            }
            Ok(Err(e)) => Err(error::api(what, e)),
            Err(_) => Err(KubeError::RequestTimeout {
                what,
                url: self.client.get().map(|c| c.url.clone()).unwrap_or_default(),
                after: self.config.request_timeout,
            }
            .into_error()),
        }
    }

    /// Deletes the Jobs (killing their pods at once) and Secrets of job `job_id` — what is left
    /// of the run a retry replaces — and returns once the Jobs are gone (or the wait ran out:
    /// then an error, and the retry goes back to the queue).
    async fn remove_job_objects(
        &self,
        jobs: &Api<Job>,
        secrets: &Api<Secret>,
        job_id: JobId,
    ) -> Result<()> {
        let lp = ListParams::default().labels(&format!("{}={}", crate::labels::JOB_ID, job_id));
        let listed = self.request("listing Jobs", jobs.list(&lp)).await?;
        let until = tokio::time::Instant::now()
            + self.config.termination_grace
            + self.config.request_timeout;
        for j in listed.items {
            let name = j.metadata.name.unwrap_or_default();
            tracing::info!(job = %name, job_id = %job_id, "deleting the Job of the job this retry replaces");
            cleanup::delete_job(jobs, &name, Propagation::ForegroundNow).await?;
            cleanup::delete_secret(secrets, &format!("{name}-env")).await?;
            while cleanup::job_exists(jobs, &name).await? {
                if tokio::time::Instant::now() >= until {
                    return Err(Error::backend(
                        "kubernetes",
                        true,
                        format!("Job {name} of the job this retry replaces is not gone yet"),
                    ));
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
        Ok(())
    }

    /// Why a job's resource usage is unknown on this cluster (see `usage.rs`).
    async fn usage_unknown(&self) -> String {
        let Ok((client, _)) = self.client().await else {
            return "the cluster could not be reached to ask for its metrics API".into();
        };
        let asked = self
            .metrics_reason
            .get_or_try_init(|| self.request_timeout_as_reason(usage::reason(client)))
            .await;
        match asked {
            Ok(reason) => (*reason).to_owned(),
            Err(reason) => reason,
        }
    }

    /// `fut`, or after the request timeout the reason that it did not answer.
    async fn request_timeout_as_reason<T>(
        &self,
        fut: impl Future<Output = std::result::Result<T, String>>,
    ) -> std::result::Result<T, String> {
        tokio::time::timeout(self.config.request_timeout, fut)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "the API server did not say within {:?} whether it has a metrics API",
                    self.config.request_timeout
                ))
            })
    }

    /// Names of the Jobs and Secrets labelled with `executor_id` (what `reap` would delete).
    pub async fn objects_of(&self, executor_id: &str) -> Result<Vec<String>> {
        let (jobs, secrets, _) = self.apis().await?;
        let lp = ListParams::default().labels(&names::executor_selector(executor_id));
        let mut out = Vec::new();
        for j in self.request("listing Jobs", jobs.list(&lp)).await?.items {
            out.push(format!("job/{}", j.metadata.name.unwrap_or_default()));
        }
        for s in self
            .request("listing Secrets", secrets.list(&lp))
            .await?
            .items
        {
            out.push(format!("secret/{}", s.metadata.name.unwrap_or_default()));
        }
        Ok(out)
    }
}

#[async_trait]
impl Executor for KubernetesExecutor {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Kubernetes
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new([
            Capability::Streaming,
            Capability::LosslessOutput,
            Capability::Timeout,
            Capability::Cancel,
            Capability::MemoryLimit,
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
        let image = manifest::validate(spec, &self.config)?.to_owned();
        let began = tokio::time::Instant::now();
        if cancel.is_cancelled() {
            // Nothing was created; the job never started.
            let mut report = ExitReport::signaled(15);
            report.cancelled = true;
            report.set_usage_unknown("the job was cancelled before it started");
            return Ok(report);
        }
        if !spec.artifacts.is_empty() {
            tracing::warn!(
                job_id = %spec.job_id,
                patterns = ?spec.artifacts,
                "the Kubernetes executor does not collect result files"
            );
        }
        if spec.pids_max.is_some() || spec.cpu_limit.is_some() {
            // No pod field exists for either: the pids limit is the kubelet's (podPidsLimit, per
            // node), `limits.cpu` is a rate; only the timeout bounds the CPU time.
            tracing::warn!(
                job_id = %spec.job_id,
                pids_max = ?spec.pids_max,
                cpu_limit = ?spec.cpu_limit,
                "the Kubernetes executor does not enforce a job's pids_max or cpu_seconds"
            );
        }
        let (jobs, secrets, pods) = self.apis().await?;
        if let Some(previous) = spec.retry_of {
            self.remove_job_objects(&jobs, &secrets, previous).await?;
        }
        let ns = self.client().await?.1.to_owned();
        let job_name = names::job_name(spec);
        let secret_name = names::secret_name(spec);

        self.request(
            format!("creating Secret {secret_name} in namespace {ns}"),
            secrets.create(
                &PostParams::default(),
                &manifest::secret(spec, &self.config, &ns),
            ),
        )
        .await?;
        let mut guard = Guard::new(&jobs, &secrets, job_name.clone(), secret_name.clone());
        let created = self
            .request(
                format!("creating Job {job_name} in namespace {ns}"),
                jobs.create(
                    &PostParams::default(),
                    &manifest::job(spec, &image, &self.config, &ns),
                ),
            )
            .await;
        let result = match created {
            Ok(job) => {
                let follow = follow::Follow {
                    pods,
                    jobs: jobs.clone(),
                    job_name: job_name.clone(),
                    job_uid: job.metadata.uid.unwrap_or_default(),
                    image,
                    spec,
                    io,
                    config: &self.config,
                    began,
                };
                follow.run(cancel).await
            }
            Err(e) => Err(e),
        };

        // Nothing is left behind: the Job (its pod has ended, or it is gone already) and the
        // Secret, on every path. When the API server cannot be reached now, a background task
        // keeps trying (the pod may still run and must not outlive the launch); `reap` is the
        // last resort.
        let job_deleted = cleanup::delete_job(&jobs, &job_name, Propagation::Background).await;
        let secret_deleted = cleanup::delete_secret(&secrets, &secret_name).await;
        if let Err(e) = job_deleted.as_ref().and(secret_deleted.as_ref()) {
            tracing::warn!(job = %job_name, error = %e, "could not delete a job's Job or Secret; retrying in the background");
            cleanup::retry_in_background(jobs, secrets, job_name, secret_name);
        }
        guard.disarm();
        let mut report = result?;
        report.set_usage_unknown(self.usage_unknown().await);
        Ok(report)
    }

    /// Jobs (`job/<name>`) and Secrets (`secret/<name>`) of every executor: a Secret holds a
    /// job's environment, so one left without its Job is a leftover too.
    async fn leftovers(&self) -> Result<Vec<Leftover>> {
        let (jobs, secrets, _) = self.apis().await?;
        let lp = ListParams::default().labels(&format!("{}=true", crate::labels::MANAGED));
        let leftover = |kind: &str, meta: kube::api::ObjectMeta| {
            let labels = meta.labels.unwrap_or_default();
            let job_id = labels.get(crate::labels::JOB_ID)?.parse().ok()?;
            let token = labels.get(crate::labels::LEASE_TOKEN)?.parse().ok()?;
            let executor = meta
                .annotations
                .unwrap_or_default()
                .get(names::EXECUTOR_ID_ANNOTATION)
                .cloned()
                .unwrap_or_default();
            let handle = format!("{kind}/{}", meta.name?);
            Some(Leftover::new(JobId(job_id), token, executor, handle))
        };
        let mut out: Vec<Leftover> = self
            .request("listing Jobs", jobs.list(&lp))
            .await?
            .items
            .into_iter()
            .filter_map(|j| leftover("job", j.metadata))
            .collect();
        out.extend(
            self.request("listing Secrets", secrets.list(&lp))
                .await?
                .items
                .into_iter()
                .filter_map(|s| leftover("secret", s.metadata)),
        );
        Ok(out)
    }

    async fn remove(&self, leftover: &Leftover) -> Result<()> {
        let (jobs, secrets, _) = self.apis().await?;
        match leftover.handle.split_once('/') {
            Some(("job", name)) => {
                cleanup::delete_job(&jobs, name, Propagation::Background).await?;
            }
            Some(("secret", name)) => {
                cleanup::delete_secret(&secrets, name).await?;
            }
            _ => {
                return Err(Error::invalid(
                    "leftover",
                    format!(
                        "{:?} is not a Job or Secret of this executor",
                        leftover.handle
                    ),
                ));
            }
        }
        Ok(())
    }
}
