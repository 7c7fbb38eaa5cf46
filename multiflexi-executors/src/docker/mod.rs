//! [`DockerExecutor`]: runs a job in a container through the Docker Engine API (bollard). The same
//! code drives Podman through its Docker-compatible socket.

mod archive;
mod hardening;
mod listing;
mod usage;
use hardening::WorkDirOwner;
pub use hardening::{DEFAULT_CONTAINER_USER, IMAGE_USER, parse_container_user};
use listing::list_labelled;
use usage::{JobParent, Measuring};

use crate::results::ResultMatcher;
use async_trait::async_trait;
use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::ResourcesUlimits;
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, KillContainerOptionsBuilder,
    RemoveContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use futures::StreamExt;
use multiflexi_core::executor::{
    Capabilities, Capability, ExitReport, JobIo, LaunchSpec, Leftover, RunHandle, Termination,
};
use multiflexi_core::{Error, Executor, ExecutorKind, JobId, Result};
use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

/// Label keys put on every container the executor creates.
pub mod labels {
    /// `"true"` on every container created by a multiflexi executor.
    pub const MANAGED: &str = "io.multiflexi.managed";
    /// The job id.
    pub const JOB_ID: &str = "io.multiflexi.job_id";
    /// The job's lease (fencing) token when it was launched.
    pub const LEASE_TOKEN: &str = "io.multiflexi.lease_token";
    /// The run template.
    pub const RUNTEMPLATE_ID: &str = "io.multiflexi.runtemplate_id";
    /// The company.
    pub const COMPANY_ID: &str = "io.multiflexi.company_id";
    /// The app.
    pub const APP_ID: &str = "io.multiflexi.app_id";
    /// The id of the executor daemon that launched it (what `reap` looks for).
    pub const EXECUTOR_ID: &str = "io.multiflexi.executor_id";
}

/// Settings of a [`DockerExecutor`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DockerConfig {
    /// `Docker` or `Podman`: the executor name jobs are routed by.
    pub kind: ExecutorKind,
    /// The engine's API socket: `unix:///var/run/docker.sock` (Docker) or
    /// `unix:///run/podman/podman.sock` (Podman).
    pub host: String,
    /// The job's work directory inside the container (and its HOME): an anonymous volume of the
    /// container's own (what the image has at that path is copied in), given to the job's user
    /// with mode 0700 before the job starts, removed with the container. Result files are
    /// collected from here. Default `/multiflexi/work`.
    pub container_work_dir: String,
    /// The user jobs run as: numeric `UID:GID` (see [`parse_container_user`]), or `None` for
    /// the image's own `USER`. Default [`DEFAULT_CONTAINER_USER`] (`65534:65534`, `nobody`).
    ///
    /// Docker gives a non-root user none of the capabilities an app declares (they stay in the
    /// bounding set only: Docker sets no ambient capabilities), so an app that needs one runs
    /// on Docker only as root (`0:0`, or an image whose `USER` is root); Podman makes them
    /// effective for any user.
    pub user: Option<String>,
    /// After SIGTERM (timeout, cancel), how long the container gets before SIGKILL. Default 5 s.
    pub kill_grace: Duration,
    /// Timeout of one short API request (create, start, inspect…). Default 120 s.
    pub request_timeout: Duration,
    /// The container's log driver. Default `none`: output is streamed through an attach
    /// connection (raw bytes, untouched), so the engine keeps no second copy on disk.
    pub log_driver: Option<String>,
}

impl DockerConfig {
    /// Settings for `kind` (`Docker` or `Podman`) at socket URL `host`.
    pub fn new(kind: ExecutorKind, host: impl Into<String>) -> Self {
        Self {
            kind,
            host: host.into(),
            container_work_dir: "/multiflexi/work".into(),
            user: Some(DEFAULT_CONTAINER_USER.into()),
            kill_grace: Duration::from_secs(5),
            request_timeout: Duration::from_secs(120),
            log_driver: Some("none".into()),
        }
    }

    /// Docker at its default socket.
    pub fn docker() -> Self {
        Self::new(ExecutorKind::Docker, "unix:///var/run/docker.sock")
    }

    /// Podman's Docker-compatible API at its default rootful socket.
    pub fn podman() -> Self {
        Self::new(ExecutorKind::Podman, "unix:///run/podman/podman.sock")
    }

    /// Builder: the grace between SIGTERM and SIGKILL.
    pub fn with_kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace;
        self
    }

    /// Builder: the user jobs run as (`UID:GID`), or `None` for the image's own `USER`.
    pub fn with_user(mut self, user: Option<String>) -> Self {
        self.user = user;
        self
    }

    /// Builder: the work directory inside the container.
    pub fn with_container_work_dir(mut self, dir: impl Into<String>) -> Self {
        self.container_work_dir = dir.into();
        self
    }
}

/// Runs jobs in containers (`ExecutorKind::Docker`, or `ExecutorKind::Podman` through Podman's
/// Docker-compatible API).
///
/// One launch: check the image is present locally (nothing is pulled) → create the container
/// (entrypoint = program, cmd = args, env = [`LaunchSpec::process_env`] with HOME = the container
/// work dir, the sandbox and limits below, [`labels`], name
/// `multiflexi-job-<job id>-<lease token>`) → give the work directory to the job's user (tar
/// archive upload) → attach to its stdout and stderr (before start, so no byte is missed) →
/// start → `started` with the container id → stream output as it arrives → wait (timeout and
/// cancel: SIGTERM, SIGKILL after the grace) → exit code, OOMKilled, CPU limit → copy the result
/// files out of the work directory (tar archive download) → remove the container and its
/// volume. The container is removed on every path, including errors, timeouts, cancellation and
/// a dropped launch future.
///
/// The sandbox: the configured user ([`DockerConfig::user`], default `65534:65534`), every
/// capability dropped but those the app declares, `no-new-privileges`, the job's memory limit
/// (swap included), pids limit and CPU-time limit (`RLIMIT_CPU`, per process), a read-only
/// root file system with a tmpfs `/tmp` when the app allows it. The job's environment (its
/// secrets included) is the container's environment: never in the image or a log (the log
/// driver is `none`), nor on the command line unless the app's parameters reference a secret,
/// but shown to anyone who may inspect containers on the engine.
///
/// Podman's Docker-compatible API, given any ulimit, drops the default ulimits of its
/// `containers.conf` and sets `nofile` and `nproc` to 1048576, which fails to start where the
/// engine may not raise its own limits that far. So before the first job with a CPU limit,
/// a Podman executor creates (and removes, never starts) one container without ulimits to read
/// the engine's defaults, and restates them beside `cpu`.
///
/// Resource usage: where the engine runs on this host with the `cgroupfs` cgroup driver, each
/// container is made inside a parent cgroup of the executor's, which outlives the container:
/// after the container is removed the executor reads the job's peak memory and CPU time there
/// and removes it (`usage.rs`). Elsewhere (a remote engine, the `systemd` driver, Podman with
/// its conmon in the container's cgroup parent) every report says why in
/// [`ExitReport::usage_unknown`]. OOMKilled comes from the engine's inspect.
///
/// The engine is connected lazily (at the first launch or reap), so building the executor never
/// fails; an unreachable engine is a retryable `Error::Backend`.
pub struct DockerExecutor {
    config: DockerConfig,
    client: OnceCell<Docker>,
    /// Podman's default ulimits (see above), read once.
    default_ulimits: OnceCell<Vec<ResourcesUlimits>>,
    /// How jobs' usage is measured with this engine, decided once.
    measuring: OnceCell<Measuring>,
}

impl fmt::Debug for DockerExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerExecutor")
            .field("config", &self.config)
            .field("connected", &self.client.initialized())
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Timeout,
    Cancel,
}

/// A container-engine failure, for `Error::Backend`'s source.
#[derive(Debug, thiserror::Error)]
enum EngineError {
    #[error("{what}: {source}")]
    Api {
        what: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error(
        "image {image:?} is not present on the {engine} engine at {host}; load or import it there \
         (images are never pulled)"
    )]
    ImageMissing {
        image: String,
        engine: ExecutorKind,
        host: String,
    },
    #[error("{0}")]
    Other(String),
}

impl DockerExecutor {
    /// An executor for the engine described by `config` (connected lazily).
    pub fn new(config: DockerConfig) -> Self {
        Self {
            config,
            client: OnceCell::new(),
            default_ulimits: OnceCell::new(),
            measuring: OnceCell::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &DockerConfig {
        &self.config
    }

    fn backend(&self) -> &'static str {
        match self.config.kind {
            ExecutorKind::Podman => "podman",
            _ => "docker",
        }
    }

    fn api_error(&self, what: impl Into<String>, source: bollard::errors::Error) -> Error {
        use bollard::errors::Error as B;
        let retryable = match &source {
            B::DockerResponseServerError { status_code, .. } => *status_code >= 500,
            B::JsonDataError { .. } | B::APIVersionParseError { .. } => false,
            _ => true,
        };
        Error::backend(
            self.backend(),
            retryable,
            EngineError::Api {
                what: what.into(),
                source,
            },
        )
    }

    /// The connected client (connects and negotiates the API version on first use).
    pub async fn client(&self) -> Result<&Docker> {
        self.client
            .get_or_try_init(|| async {
                let path = self
                    .config
                    .host
                    .strip_prefix("unix://")
                    .unwrap_or(&self.config.host);
                let docker = Docker::connect_with_unix(
                    path,
                    self.config.request_timeout.as_secs().max(1),
                    bollard::API_DEFAULT_VERSION,
                )
                .map_err(|e| self.api_error(format!("connecting to {}", self.config.host), e))?;
                docker
                    .negotiate_version()
                    .await
                    .map_err(|e| self.api_error(format!("connecting to {}", self.config.host), e))
            })
            .await
    }

    /// Ids of the containers labelled with `executor_id` (running or not).
    pub async fn containers_of(&self, executor_id: &str) -> Result<Vec<String>> {
        let docker = self.client().await?;
        let filters = HashMap::from([(
            "label".to_owned(),
            vec![format!("{}={executor_id}", labels::EXECUTOR_ID)],
        )]);
        let list = list_labelled(docker, &filters)
            .await
            .map_err(|e| self.api_error("listing containers", e))?;
        Ok(list.into_iter().filter_map(|c| c.id).collect())
    }

    /// Removes every container of job `job_id` (what is left of the run a retry replaces) and
    /// returns once they are gone: a retry never starts beside its predecessor.
    async fn remove_job_containers(&self, docker: &Docker, job_id: JobId) -> Result<()> {
        let filters = HashMap::from([(
            "label".to_owned(),
            vec![format!("{}={job_id}", labels::JOB_ID)],
        )]);
        let list = list_labelled(docker, &filters)
            .await
            .map_err(|e| self.api_error("listing containers", e))?;
        for id in list.into_iter().filter_map(|c| c.id) {
            tracing::info!(container = %id, job_id = %job_id, "removing the container of the job this retry replaces");
            remove(docker, &id)
                .await
                .map_err(|e| self.api_error(format!("removing container {id}"), e))?;
        }
        Ok(())
    }

    /// Writes file `name` (relative to the container work directory) with `content` into a
    /// container, through an archive upload.
    pub async fn put_file(&self, container: &str, name: &str, content: &[u8]) -> Result<()> {
        let docker = self.client().await?;
        let tar = archive::single_file_tar(name, content).map_err(|e| {
            Error::backend(self.backend(), false, EngineError::Other(e.to_string()))
        })?;
        docker
            .upload_to_container(
                container,
                Some(
                    UploadToContainerOptionsBuilder::default()
                        .path(&self.config.container_work_dir)
                        .build(),
                ),
                bollard::body_full(tar.into()),
            )
            .await
            .map_err(|e| self.api_error(format!("uploading {name} into {container}"), e))
    }

    /// How jobs' usage is measured with this engine (asked once; a failed question is asked
    /// again at the next job).
    async fn measuring(&self, docker: &Docker) -> Measuring {
        let decided = self
            .measuring
            .get_or_try_init(|| async {
                let info = docker.info().await?;
                let driver = info.cgroup_driver.map(|d| d.to_string()).unwrap_or_default();
                let version = info
                    .cgroup_version
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                let measuring = Measuring::decide(
                    &self.config.host,
                    &driver,
                    &version,
                    &crate::cgroup_mounts::cgroup_mounts(),
                );
                if let Measuring::Cannot(why) = &measuring {
                    tracing::warn!(engine = %self.config.host, "jobs' resource usage will not be known: {why}");
                }
                Ok::<_, bollard::errors::Error>(measuring)
            })
            .await;
        match decided {
            Ok(m) => m.clone(),
            Err(e) => Measuring::Cannot(format!(
                "the engine did not say which cgroup driver it uses: {e}"
            )),
        }
    }

    fn container_name(spec: &LaunchSpec) -> String {
        format!("multiflexi-job-{}-{}", spec.job_id, spec.lease_token)
    }

    fn labels(spec: &LaunchSpec) -> HashMap<String, String> {
        HashMap::from([
            (labels::MANAGED.to_owned(), "true".to_owned()),
            (labels::JOB_ID.to_owned(), spec.job_id.to_string()),
            (labels::LEASE_TOKEN.to_owned(), spec.lease_token.to_string()),
            (
                labels::RUNTEMPLATE_ID.to_owned(),
                spec.runtemplate_id.to_string(),
            ),
            (labels::COMPANY_ID.to_owned(), spec.company_id.to_string()),
            (labels::APP_ID.to_owned(), spec.app_id.to_string()),
            (labels::EXECUTOR_ID.to_owned(), spec.executor_id.clone()),
        ])
    }

    /// The ulimits to restate beside `cpu` (Podman; see the type's doc): read once from a
    /// container created without ulimits. Docker merges its defaults itself: none.
    async fn default_ulimits(&self, docker: &Docker, image: &str) -> Result<&[ResourcesUlimits]> {
        if self.config.kind != ExecutorKind::Podman {
            return Ok(&[]);
        }
        let list = self
            .default_ulimits
            .get_or_try_init(|| async {
                let body = bollard::models::ContainerCreateBody {
                    image: Some(image.to_owned()),
                    entrypoint: Some(vec!["/multiflexi-never-started".into()]),
                    labels: Some(HashMap::from([(
                        labels::MANAGED.to_owned(),
                        "ulimit-probe".to_owned(),
                    )])),
                    ..Default::default()
                };
                let id = docker
                    .create_container(None::<bollard::query_parameters::CreateContainerOptions>, body)
                    .await
                    .map_err(|e| self.api_error("creating the ulimit probe container", e))?
                    .id;
                let inspected = docker.inspect_container(&id, None).await;
                if let Err(e) = remove(docker, &id).await {
                    tracing::warn!(container = %id, error = %e, "could not remove the ulimit probe container");
                }
                let inspected = inspected
                    .map_err(|e| self.api_error("inspecting the ulimit probe container", e))?;
                let list: Vec<ResourcesUlimits> = inspected
                    .host_config
                    .and_then(|h| h.ulimits)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|u| {
                        let name = hardening::request_ulimit_name(u.name.as_deref()?);
                        (name != "cpu").then_some(ResourcesUlimits {
                            name: Some(name),
                            ..u
                        })
                    })
                    .collect();
                tracing::debug!(?list, "the engine's default ulimits");
                Ok::<_, Error>(list)
            })
            .await?;
        Ok(list)
    }
}

/// Removes the container (and then its parent cgroup) when the launch future is dropped before
/// its cleanup ran.
struct RemoveGuard {
    docker: Docker,
    id: String,
    parent: Option<JobParent>,
    armed: bool,
}

impl Drop for RemoveGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let docker = self.docker.clone();
            let id = std::mem::take(&mut self.id);
            let parent = self.parent.take();
            handle.spawn(async move {
                let _ = remove(&docker, &id).await;
                if let Some(parent) = parent {
                    parent.remove();
                }
            });
        }
    }
}

async fn remove(docker: &Docker, id: &str) -> std::result::Result<(), bollard::errors::Error> {
    match docker
        .remove_container(
            id,
            Some(
                RemoveContainerOptionsBuilder::default()
                    .force(true)
                    .v(true)
                    .build(),
            ),
        )
        .await
    {
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(()),
        r => r,
    }
}

async fn sleep_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// What a failed start means for the job: 127 / 126 as `docker run` reports them, or `None`
/// (a platform failure).
fn start_failure_code(message: &str) -> Option<i32> {
    let m = message.to_ascii_lowercase();
    if m.contains("permission denied")
        || m.contains("is a directory")
        || m.contains("not a directory") && m.contains("exec")
    {
        Some(126)
    } else if m.contains("executable file not found")
        || m.contains("no such file or directory")
        || m.contains("not found")
    {
        Some(127)
    } else {
        None
    }
}

#[async_trait]
impl Executor for DockerExecutor {
    fn kind(&self) -> ExecutorKind {
        self.config.kind
    }

    fn capabilities(&self) -> Capabilities {
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
    }

    async fn launch(
        &self,
        spec: &LaunchSpec,
        io: &dyn JobIo,
        cancel: CancellationToken,
    ) -> Result<ExitReport> {
        let image = spec
            .image
            .as_deref()
            .filter(|i| !i.is_empty())
            .ok_or_else(|| {
                Error::invalid(
                    "image",
                    "a container job needs an image (the app's ociimage)",
                )
            })?;
        let matcher = ResultMatcher::new(spec, Path::new(&self.config.container_work_dir))?;
        let docker = self.client().await?;

        let image_user = match docker.inspect_image(image).await {
            Ok(info) => info.config.and_then(|c| c.user),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                return Err(Error::backend(
                    self.backend(),
                    true,
                    EngineError::ImageMissing {
                        image: image.to_owned(),
                        engine: self.config.kind,
                        host: self.config.host.clone(),
                    },
                ));
            }
            Err(e) => return Err(self.api_error(format!("inspecting image {image:?}"), e)),
        };
        let owner = WorkDirOwner::of(self.config.user.as_deref(), image_user.as_deref());
        if self.config.kind == ExecutorKind::Docker
            && !spec.container.capabilities.is_empty()
            && !owner.is_root()
        {
            tracing::warn!(
                job_id = %spec.job_id,
                capabilities = ?spec.container.capabilities,
                "Docker gives a non-root container user none of the capabilities the app declares \
                 (bounding set only); the job runs without them"
            );
        }
        let base_ulimits = if spec.cpu_limit.is_some() {
            self.default_ulimits(docker, image).await?
        } else {
            &[]
        };

        if let Some(previous) = spec.retry_of {
            self.remove_job_containers(docker, previous).await?;
        }
        let name = Self::container_name(spec);
        let parent = match self.measuring(docker).await {
            Measuring::Cgroups(hierarchies) => JobParent::create(&hierarchies, &name),
            Measuring::Cannot(why) => Err(why),
        };
        let mut body = hardening::create_body(&self.config, spec, image, base_ulimits);
        if let (Ok(parent), Some(host)) = (&parent, body.host_config.as_mut()) {
            host.cgroup_parent = Some(parent.cgroup_parent().to_owned());
        }
        let created = docker
            .create_container(
                Some(CreateContainerOptionsBuilder::default().name(&name).build()),
                body,
            )
            .await
            .map_err(|e| {
                if let Ok(parent) = &parent {
                    parent.remove();
                }
                match e {
                    bollard::errors::Error::DockerResponseServerError {
                        status_code: 409,
                        message,
                    } => Error::conflict(format!("container {name} already exists: {message}")),
                    e => self.api_error(format!("creating container {name}"), e),
                }
            })?;
        let id = created.id;
        let (parent, no_parent) = match parent {
            Ok(p) => (Some(p), None),
            Err(why) => (None, Some(why)),
        };
        let mut guard = RemoveGuard {
            docker: docker.clone(),
            id: id.clone(),
            parent,
            armed: true,
        };

        let result = self
            .run(docker, &id, owner, spec, io, cancel, &matcher)
            .await;

        let removed = remove(docker, &id).await;
        guard.armed = false;
        if let Err(e) = removed {
            tracing::warn!(container = %id, error = %e, "could not remove a job's container; reap will");
        }
        // The container is gone: its parent cgroup holds the job's final figures.
        let usage = match guard.parent.take() {
            Some(parent) => {
                let usage = parent.usage();
                parent.remove();
                usage
            }
            None => Err(no_parent.unwrap_or_default()),
        };
        let mut report = result?;
        match usage {
            Ok((peak, cpu)) => report.set_usage(peak, cpu),
            Err(why) => report.set_usage_unknown(why),
        }
        Ok(report)
    }

    async fn leftovers(&self) -> Result<Vec<Leftover>> {
        let docker = self.client().await?;
        let filters = HashMap::from([(
            "label".to_owned(),
            vec![format!("{}=true", labels::MANAGED)],
        )]);
        let list = list_labelled(docker, &filters)
            .await
            .map_err(|e| self.api_error("listing containers", e))?;
        Ok(list
            .into_iter()
            .filter_map(|c| {
                let labels = c.labels.unwrap_or_default();
                let job_id = labels.get(labels::JOB_ID)?.parse().ok()?;
                let token = labels.get(labels::LEASE_TOKEN)?.parse().ok()?;
                let executor = labels.get(labels::EXECUTOR_ID).cloned().unwrap_or_default();
                Some(Leftover::new(JobId(job_id), token, executor, c.id?))
            })
            .collect())
    }

    async fn remove(&self, leftover: &Leftover) -> Result<()> {
        let docker = self.client().await?;
        let parent = docker
            .inspect_container(&leftover.handle, None)
            .await
            .ok()
            .and_then(|c| c.host_config?.cgroup_parent);
        remove(docker, &leftover.handle)
            .await
            .map_err(|e| self.api_error(format!("removing container {}", leftover.handle), e))?;
        if let (Some(path), Measuring::Cgroups(hierarchies)) =
            (parent, self.measuring(docker).await)
            && let Some(parent) = JobParent::existing(&hierarchies, &path)
        {
            parent.remove();
        }
        Ok(())
    }
}

impl DockerExecutor {
    /// The container could not be started: 127 / 126 (with the engine's reason on stderr) when
    /// the program cannot be executed, else a platform error.
    async fn start_failed(
        &self,
        id: &str,
        spec: &LaunchSpec,
        io: &dyn JobIo,
        doing: &str,
        e: bollard::errors::Error,
    ) -> Result<ExitReport> {
        let code = match &e {
            bollard::errors::Error::DockerResponseServerError { message, .. } => {
                start_failure_code(message).map(|c| (c, message.clone()))
            }
            _ => None,
        };
        let Some((code, message)) = code else {
            return Err(self.api_error(format!("{doing} container {id}"), e));
        };
        io.started(RunHandle {
            pid: None,
            external_id: Some(id.to_owned()),
        })
        .await?;
        io.stderr(format!("multiflexi: cannot execute {:?}: {message}\n", spec.program).as_bytes())
            .await?;
        Ok(ExitReport::exited(code))
    }

    /// Gives the work directory (a fresh volume, root's) to the job's user, mode 0700.
    async fn prepare_work_dir(&self, docker: &Docker, id: &str, owner: WorkDirOwner) -> Result<()> {
        let (uid, gid, by_engine) = match owner {
            WorkDirOwner::Ids(uid, gid) => (uid, gid, false),
            WorkDirOwner::ContainerUser(_) => (0, 0, true),
        };
        let tar = archive::work_dir_tar(uid, gid).map_err(|e| {
            Error::backend(self.backend(), false, EngineError::Other(e.to_string()))
        })?;
        let mut options =
            UploadToContainerOptionsBuilder::default().path(&self.config.container_work_dir);
        if by_engine {
            options = options.copy_uidgid("1");
        }
        docker
            .upload_to_container(id, Some(options.build()), bollard::body_full(tar.into()))
            .await
            .map_err(|e| self.api_error(format!("preparing the work directory of {id}"), e))
    }

    #[allow(clippy::too_many_arguments)]
    async fn run(
        &self,
        docker: &Docker,
        id: &str,
        owner: WorkDirOwner,
        spec: &LaunchSpec,
        io: &dyn JobIo,
        cancel: CancellationToken,
        matcher: &ResultMatcher,
    ) -> Result<ExitReport> {
        self.prepare_work_dir(docker, id, owner).await?;
        let attach = docker
            .attach_container(
                id,
                Some(
                    AttachContainerOptionsBuilder::default()
                        .stream(true)
                        .stdout(true)
                        .stderr(true)
                        .stdin(false)
                        .logs(false)
                        .build(),
                ),
            )
            .await;
        // Podman prepares (creates) the OCI container when attaching, so a program that cannot be
        // executed may fail here already; Docker fails at start.
        let mut output = match attach {
            Ok(a) => a.output,
            Err(e) => return self.start_failed(id, spec, io, "attaching to", e).await,
        };
        if let Err(e) = docker.start_container(id, None).await {
            return self.start_failed(id, spec, io, "starting", e).await;
        }
        io.started(RunHandle {
            pid: None,
            external_id: Some(id.to_owned()),
        })
        .await?;

        // Waiting may take as long as the job: no request timeout.
        let waiter = docker
            .clone()
            .with_timeout(Duration::from_secs(10 * 365 * 86_400));
        let mut wait = Box::pin(waiter.wait_container(id, None));

        let grace = self.config.kill_grace;
        let deadline = spec.timeout.map(|t| tokio::time::Instant::now() + t);
        let mut stop: Option<Stop> = None;
        let mut kill_at: Option<tokio::time::Instant> = None;
        let mut output_done = false;
        let mut io_error: Option<Error> = None;
        let kill = |signal: &'static str| async move {
            let _ = docker
                .kill_container(
                    id,
                    Some(
                        KillContainerOptionsBuilder::default()
                            .signal(signal)
                            .build(),
                    ),
                )
                .await;
        };

        let wait_code: std::result::Result<i64, bollard::errors::Error> = loop {
            let sleep_until = match (stop, kill_at, deadline) {
                (Some(_), Some(k), _) => Some(k),
                (None, _, Some(d)) => Some(d),
                _ => None,
            };
            tokio::select! {
                w = wait.next() => break match w {
                    Some(Ok(r)) => Ok(r.status_code),
                    Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
                    Some(Err(e)) => Err(e),
                    None => Err(bollard::errors::Error::DockerStreamError { error: "wait ended without a status".into() }),
                },
                item = output.next(), if !output_done => match item {
                    Some(Ok(item)) => forward(io, item, &mut io_error).await,
                    Some(Err(e)) => {
                        tracing::warn!(container = %id, error = %e, "attach stream failed");
                        output_done = true;
                    }
                    None => output_done = true,
                },
                _ = cancel.cancelled(), if stop.is_none() => {
                    stop = Some(Stop::Cancel);
                    if io.stop_now() {
                        kill("SIGKILL").await;
                    } else {
                        kill("SIGTERM").await;
                        kill_at = Some(tokio::time::Instant::now() + grace);
                    }
                }
                _ = sleep_opt(sleep_until) => {
                    if stop.is_none() {
                        stop = Some(Stop::Timeout);
                        kill("SIGTERM").await;
                        kill_at = Some(tokio::time::Instant::now() + grace);
                    } else {
                        kill("SIGKILL").await;
                        kill_at = None;
                    }
                }
            }
        };

        // The rest of the output (the attach stream ends once the container's pipes are drained).
        if !output_done {
            let drain = async {
                while let Some(item) = output.next().await {
                    match item {
                        Ok(item) => forward(io, item, &mut io_error).await,
                        Err(_) => break,
                    }
                }
            };
            if tokio::time::timeout(grace.max(Duration::from_secs(10)), drain)
                .await
                .is_err()
            {
                tracing::warn!(container = %id, "output did not end after the container exited");
            }
        }

        let state = docker
            .inspect_container(id, None)
            .await
            .map_err(|e| self.api_error(format!("inspecting container {id}"), e))?
            .state
            .unwrap_or_default();
        let code = match (state.exit_code, wait_code) {
            (Some(c), _) => c,
            (None, Ok(c)) => c,
            (None, Err(e)) => return Err(self.api_error(format!("waiting for container {id}"), e)),
        };
        let code = i32::try_from(code).unwrap_or(-1);
        // Docker reports OOMKilled; Podman on cgroup v1 does not (it cannot watch the OOM
        // event there), so a SIGKILL (137) that the executor did not send to a container with a
        // memory limit counts as an OOM kill too.
        let oom = state.oom_killed.unwrap_or(false)
            || (spec.memory_limit_mb.is_some() && code == 137 && stop.is_none());
        // RLIMIT_CPU kills with SIGKILL (soft = hard; the job's program is PID 1, which ignores
        // SIGXCPU) or, for a PID 1 that handles SIGXCPU and dies of it, SIGXCPU. The engine
        // does not say why a container died, so with a CPU limit set, a SIGKILL or SIGXCPU the
        // executor did not send and no OOM kill counts as the CPU limit. On Podman with cgroup
        // v1 a SIGKILL of a job that has both limits counts as OOM (above) first.
        let cpu_limited =
            spec.cpu_limit.is_some() && stop.is_none() && !oom && (code == 137 || code == 152);
        let killed = stop.is_some() || oom || cpu_limited;
        let mut report = if killed && code > 128 && code < 128 + 65 {
            ExitReport::signaled(code - 128)
        } else {
            ExitReport::exited(code)
        };
        report.timed_out = stop == Some(Stop::Timeout);
        report.cancelled = stop == Some(Stop::Cancel);
        report.oom = oom && report.termination != Termination::Exited(0);
        report.cpu_limited = cpu_limited;

        if let Some(e) = io_error {
            return Err(e);
        }
        if !matcher.is_empty() {
            archive::collect_result_files(docker, id, &self.config.container_work_dir, matcher, io)
                .await
                .map_err(|e| match e {
                    archive::CollectError::Api(e) => {
                        self.api_error(format!("copying result files out of {id}"), e)
                    }
                    archive::CollectError::Io(e) => Error::backend(self.backend(), true, e),
                    archive::CollectError::Job(e) => e,
                })?;
        }
        Ok(report)
    }
}

/// Hands one attach frame to `io`; after a `JobIo` error keeps consuming (so the container never
/// blocks on its output) and remembers the first error.
async fn forward(io: &dyn JobIo, item: LogOutput, io_error: &mut Option<Error>) {
    if io_error.is_some() {
        return;
    }
    let r = match item {
        LogOutput::StdOut { message } | LogOutput::Console { message } => io.stdout(&message).await,
        LogOutput::StdErr { message } => io.stderr(&message).await,
        LogOutput::StdIn { .. } => Ok(()),
    };
    if let Err(e) = r {
        *io_error = Some(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_failures_map_to_shell_codes() {
        assert_eq!(
            start_failure_code(
                "failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"/nope\": stat /nope: no such file or directory: unknown"
            ),
            Some(127)
        );
        assert_eq!(
            start_failure_code("exec: \"nope\": executable file not found in $PATH"),
            Some(127)
        );
        assert_eq!(
            start_failure_code("exec: \"/bin\": permission denied"),
            Some(126)
        );
        assert_eq!(start_failure_code("cgroup setup failed"), None);
    }

    #[tokio::test]
    async fn unreachable_engine_is_a_retryable_error() {
        let exec = DockerExecutor::new(DockerConfig::new(
            ExecutorKind::Docker,
            "unix:///nonexistent/multiflexi/docker.sock",
        ));
        let spec = {
            let mut s = LaunchSpec::new("/bin/true", vec![], "/tmp/x");
            s.image = Some("busybox".into());
            s
        };
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
        let err = exec
            .launch(&spec, &NoIo, CancellationToken::new())
            .await
            .unwrap_err();
        assert!(err.is_retryable(), "{err}");
        assert!(err.to_string().contains("docker.sock"), "{err}");
        let err = exec.reap("x").await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
    }
}
