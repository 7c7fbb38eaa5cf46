//! The two objects of one job: a Secret with its environment and a `batch/v1` Job that runs it.

use super::config::KubernetesConfig;
use super::names;
use k8s_openapi::ByteString;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, EnvFromSource, PodSecurityContext, PodSpec,
    PodTemplateSpec, ResourceRequirements, SeccompProfile, Secret, SecretEnvSource,
    SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use multiflexi_core::executor::LaunchSpec;
use multiflexi_core::model::ContainerSecurity;
use multiflexi_core::{Error, Result};
use std::collections::BTreeMap;

/// Checks what the API server would refuse (or what would run wrongly) before anything is
/// created: the image (the app's `ociimage`), the program, the variable names (Secret keys
/// allow `[-._a-zA-Z0-9]`), the app's capabilities (Linux capability names, never `ALL`) and
/// the configured uid.
pub fn validate<'a>(spec: &'a LaunchSpec, config: &KubernetesConfig) -> Result<&'a str> {
    let image = spec
        .image
        .as_deref()
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .ok_or_else(|| {
            Error::invalid(
                "ociimage",
                format!(
                    "app {} has no container image (ociimage); the Kubernetes executor runs every \
                     job as a pod of the app's image: give the app an ociimage or run its \
                     template on the Native executor",
                    spec.app_id
                ),
            )
        })?;
    if spec.program.is_empty() {
        return Err(Error::invalid(
            "executable",
            format!("app {} has no executable to run", spec.app_id),
        ));
    }
    for c in &spec.container.capabilities {
        ContainerSecurity::capability(c).map_err(|e| match e {
            Error::InvalidInput { message, .. } => {
                Error::invalid("capabilities", format!("app {}: {message}", spec.app_id))
            }
            other => other,
        })?;
    }
    KubernetesConfig::check_run_as_user(config.run_as_user)?;
    for (name, _) in &spec.env {
        let ok = !name.is_empty()
            && name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
        if !ok {
            return Err(Error::invalid(
                format!("env.{name}"),
                "a Kubernetes job's variable names may contain only letters, digits, '-', '_' \
                 and '.' (they become keys of the job's Secret)",
            ));
        }
    }
    Ok(image)
}

fn meta(spec: &LaunchSpec, name: String, namespace: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(namespace.to_owned()),
        labels: Some(names::job_labels(spec)),
        annotations: Some(names::job_annotations(spec)),
        ..Default::default()
    }
}

/// The Secret holding the job's complete environment ([`LaunchSpec::process_env`] with HOME =
/// the container work directory). The Job refers to it with `envFrom`, so no value appears in
/// the Job's spec.
pub fn secret(spec: &LaunchSpec, config: &KubernetesConfig, namespace: &str) -> Secret {
    let data: BTreeMap<String, ByteString> = spec
        .process_env(&config.container_work_dir)
        .into_iter()
        .map(|(k, v)| (k, ByteString(v.into_bytes())))
        .collect();
    Secret {
        metadata: meta(spec, names::secret_name(spec), namespace),
        type_: Some("Opaque".into()),
        immutable: Some(true),
        data: Some(data),
        ..Default::default()
    }
}

/// The pod's security context: never root (`runAsNonRoot`, the kubelet checks the uid before it
/// starts the container), uid, gid and volume group [`KubernetesConfig::run_as_user`] (unset:
/// the image's `USER`), the runtime's default seccomp profile.
fn pod_security(config: &KubernetesConfig) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: config.run_as_user,
        run_as_group: config.run_as_user,
        fs_group: config.run_as_user,
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            localhost_profile: None,
        }),
        ..Default::default()
    }
}

/// The container's security context: not privileged, no privilege escalation
/// (`no_new_privs`), every capability dropped but the app's own
/// ([`ContainerSecurity::capabilities`], in their canonical names, which [`validate`] checked),
/// the root file system read-only when the app allows it.
///
/// Kubernetes has no ambient capabilities (kubernetes/kubernetes#56374): a non-root process
/// keeps an added capability across `execve` only when its program file carries it as a file
/// capability. With `SYS_ADMIN` among them `no_new_privs` is no real boundary (the API server
/// refuses the combination only in its `CAP_SYS_ADMIN` spelling).
fn container_security(spec: &LaunchSpec) -> SecurityContext {
    let add = spec.container.capabilities.clone();
    SecurityContext {
        allow_privilege_escalation: Some(false),
        privileged: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            add: (!add.is_empty()).then_some(add),
        }),
        read_only_root_filesystem: Some(spec.container.read_only_root_fs),
        ..Default::default()
    }
}

/// Whether the job needs its own writable `/tmp`: its root file system is read-only and the work
/// directory (an `emptyDir`, writable either way) is not `/tmp` itself.
fn needs_tmp_volume(spec: &LaunchSpec, config: &KubernetesConfig) -> bool {
    spec.container.read_only_root_fs && config.container_work_dir.trim_end_matches('/') != "/tmp"
}

fn resources(spec: &LaunchSpec, config: &KubernetesConfig) -> Option<ResourceRequirements> {
    let d = &config.default_resources;
    let mut limits = BTreeMap::new();
    let mut requests = BTreeMap::new();
    let memory_limit = spec.memory_limit_mb.or(d.memory_limit_mb);
    if let Some(mb) = memory_limit {
        limits.insert("memory".to_owned(), Quantity(format!("{mb}Mi")));
    }
    if let Some(mb) = d.memory_request_mb {
        let mb = memory_limit.map_or(mb, |l| mb.min(l));
        requests.insert("memory".to_owned(), Quantity(format!("{mb}Mi")));
    }
    if let Some(cpu) = &d.cpu_limit {
        limits.insert("cpu".to_owned(), Quantity(cpu.clone()));
    }
    if let Some(cpu) = &d.cpu_request {
        requests.insert("cpu".to_owned(), Quantity(cpu.clone()));
    }
    if limits.is_empty() && requests.is_empty() {
        return None;
    }
    Some(ResourceRequirements {
        limits: (!limits.is_empty()).then_some(limits),
        requests: (!requests.is_empty()).then_some(requests),
        ..Default::default()
    })
}

/// The Job: one pod, never retried by Kubernetes (`backoffLimit: 0`, `restartPolicy: Never`:
/// retries are the engine's), killed at the job's timeout (`activeDeadlineSeconds`), removed
/// after `ttlSecondsAfterFinished` if the executor did not remove it first. Its container runs
/// `image` with command = the program and args = its arguments (no shell), env from the Secret.
///
/// Locked down: the pod's security context (`pod_security`) and the container's
/// (`container_security`), no service account token, no service links. The work directory is an
/// `emptyDir` (writable even with a read-only root file system); a read-only root gets a second
/// `emptyDir` at `/tmp`.
/// Resources: the memory limit (the job's, else the default) and the configured requests and
/// CPU limit. Not here because the pod API has no field for them: the job's `pids_max` (a
/// kubelet setting, `podPidsLimit`, for every pod of the node) and its CPU-seconds budget
/// (`limits.cpu` is a rate, not a total; only the timeout bounds a job's CPU time).
pub fn job(spec: &LaunchSpec, image: &str, config: &KubernetesConfig, namespace: &str) -> Job {
    let work = &config.container_work_dir;
    let mut mounts = vec![VolumeMount {
        name: names::WORK_VOLUME.to_owned(),
        mount_path: work.clone(),
        ..Default::default()
    }];
    let mut volumes = vec![Volume {
        name: names::WORK_VOLUME.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Default::default()
    }];
    if needs_tmp_volume(spec, config) {
        mounts.push(VolumeMount {
            name: names::TMP_VOLUME.to_owned(),
            mount_path: "/tmp".to_owned(),
            ..Default::default()
        });
        volumes.push(Volume {
            name: names::TMP_VOLUME.to_owned(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        });
    }
    let container = Container {
        name: names::CONTAINER.to_owned(),
        image: Some(image.to_owned()),
        image_pull_policy: config.image_pull_policy.map(|p| p.as_str().to_owned()),
        command: Some(vec![spec.program.clone()]),
        args: (!spec.args.is_empty()).then(|| spec.args.clone()),
        working_dir: Some(work.clone()),
        env_from: Some(vec![EnvFromSource {
            secret_ref: Some(SecretEnvSource {
                name: names::secret_name(spec),
                optional: Some(false),
            }),
            ..Default::default()
        }]),
        resources: resources(spec, config),
        security_context: Some(container_security(spec)),
        volume_mounts: Some(mounts),
        ..Default::default()
    };
    let pod = PodSpec {
        restart_policy: Some("Never".into()),
        service_account_name: config.service_account.clone(),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        termination_grace_period_seconds: Some(
            i64::try_from(config.termination_grace.as_secs()).unwrap_or(i64::MAX),
        ),
        security_context: Some(pod_security(config)),
        containers: vec![container],
        volumes: Some(volumes),
        ..Default::default()
    };
    let deadline = spec.timeout.map(|t| {
        let secs = t.as_secs() + u64::from(t.subsec_nanos() > 0);
        i64::try_from(secs.max(1)).unwrap_or(i64::MAX)
    });
    Job {
        metadata: meta(spec, names::job_name(spec), namespace),
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            completions: Some(1),
            parallelism: Some(1),
            active_deadline_seconds: deadline,
            ttl_seconds_after_finished: Some(
                i32::try_from(config.ttl_after_finished.as_secs()).unwrap_or(i32::MAX),
            ),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(names::job_labels(spec)),
                    annotations: Some(names::job_annotations(spec)),
                    ..Default::default()
                }),
                spec: Some(pod),
            },
            ..Default::default()
        }),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubernetes::config::{ImagePullPolicy, JobResources};
    use multiflexi_core::{AppId, JobId};
    use std::time::Duration;

    fn spec() -> LaunchSpec {
        let mut s = LaunchSpec::new(
            "/app/run",
            vec!["--flag".into(), "a b; rm -rf /".into()],
            "/tmp/w",
        );
        s.job_id = JobId(12);
        s.lease_token = 4;
        s.app_id = AppId(5);
        s.executor_id = "ex-1".into();
        s.image = Some("registry.example/app:1.2".into());
        s.env = vec![("API_PASSWORD".into(), "hunter2".into())];
        s.timeout = Some(Duration::from_millis(2500));
        s.memory_limit_mb = Some(256);
        s.timezone = "Europe/Prague".into();
        s
    }

    #[test]
    fn job_shape() {
        let cfg = KubernetesConfig::default()
            .with_service_account("multiflexi-job")
            .with_image_pull_policy(ImagePullPolicy::IfNotPresent)
            .with_default_resources(
                JobResources::new()
                    .with_cpu(Some("100m"), Some("1"))
                    .with_memory_mb(Some(512), Some(1024)),
            );
        let s = spec();
        let job = job(&s, "registry.example/app:1.2", &cfg, "jobs");
        let js = job.spec.as_ref().unwrap();
        assert_eq!(js.backoff_limit, Some(0));
        assert_eq!(js.active_deadline_seconds, Some(3));
        assert_eq!(js.ttl_seconds_after_finished, Some(600));
        let pod = js.template.spec.as_ref().unwrap();
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        assert_eq!(pod.service_account_name.as_deref(), Some("multiflexi-job"));
        assert_eq!(pod.automount_service_account_token, Some(false));
        let c = &pod.containers[0];
        assert_eq!(c.image.as_deref(), Some("registry.example/app:1.2"));
        assert_eq!(c.command.as_deref(), Some(&["/app/run".to_owned()][..]));
        assert_eq!(c.args.as_ref().unwrap()[1], "a b; rm -rf /");
        assert_eq!(c.image_pull_policy.as_deref(), Some("IfNotPresent"));
        assert!(c.env.is_none());
        let r = c.resources.as_ref().unwrap();
        // The job's own limit wins over the default; the request is capped at it.
        assert_eq!(r.limits.as_ref().unwrap()["memory"].0, "256Mi");
        assert_eq!(r.requests.as_ref().unwrap()["memory"].0, "256Mi");
        assert_eq!(r.limits.as_ref().unwrap()["cpu"].0, "1");
        assert_eq!(
            c.env_from.as_ref().unwrap()[0]
                .secret_ref
                .as_ref()
                .unwrap()
                .name,
            "multiflexi-job-12-4-env"
        );
        assert_eq!(job.metadata.namespace.as_deref(), Some("jobs"));
        assert_eq!(
            job.metadata.labels.as_ref().unwrap()[crate::labels::JOB_ID],
            "12"
        );
    }

    #[test]
    fn secret_holds_env_and_job_none_of_it() {
        let cfg = KubernetesConfig::default();
        let s = spec();
        let secret = secret(&s, &cfg, "jobs");
        let data = secret.data.as_ref().unwrap();
        assert_eq!(data["API_PASSWORD"].0, b"hunter2");
        assert_eq!(data["HOME"].0, b"/multiflexi/work");
        assert_eq!(data["TZ"].0, b"Europe/Prague");
        let job = job(&s, "img", &cfg, "jobs");
        let text = format!("{job:?}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    fn pod_of(job: &Job) -> &PodSpec {
        job.spec.as_ref().unwrap().template.spec.as_ref().unwrap()
    }

    /// The Job of an app with these container needs, default settings.
    fn locked_down(caps: &[&str], read_only: bool) -> Job {
        let mut s = spec();
        s.container = ContainerSecurity::new()
            .with_capabilities(caps)
            .unwrap()
            .with_read_only_root_fs(read_only);
        job(&s, "img", &KubernetesConfig::default(), "jobs")
    }

    /// (volume name, emptyDir?) and (mount name, path, read-only?) of the pod.
    #[allow(clippy::type_complexity)]
    fn storage(pod: &PodSpec) -> (Vec<(String, bool)>, Vec<(String, String, bool)>) {
        let volumes = pod
            .volumes
            .iter()
            .flatten()
            .map(|v| (v.name.clone(), v.empty_dir.is_some()))
            .collect();
        let mounts = pod.containers[0]
            .volume_mounts
            .iter()
            .flatten()
            .map(|m| {
                (
                    m.name.clone(),
                    m.mount_path.clone(),
                    m.read_only.unwrap_or(false),
                )
            })
            .collect();
        (volumes, mounts)
    }

    fn assert_pod_security(pod: &PodSpec, uid: Option<i64>) {
        let psc = pod
            .security_context
            .as_ref()
            .expect("a pod securityContext");
        assert_eq!(psc.run_as_non_root, Some(true));
        assert_eq!(psc.run_as_user, uid);
        assert_eq!(psc.run_as_group, uid);
        assert_eq!(psc.fs_group, uid);
        let seccomp = psc.seccomp_profile.as_ref().expect("a seccomp profile");
        assert_eq!(seccomp.type_, "RuntimeDefault");
        assert_eq!(seccomp.localhost_profile, None);
        assert_eq!(pod.automount_service_account_token, Some(false));
        assert_eq!(pod.host_network, None);
        assert_eq!(pod.host_pid, None);
        assert_eq!(pod.host_ipc, None);
    }

    fn assert_container_security(c: &Container, add: Option<&[&str]>, read_only: bool) {
        let sc = c
            .security_context
            .as_ref()
            .expect("a container securityContext");
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(sc.privileged, Some(false));
        assert_eq!(sc.read_only_root_filesystem, Some(read_only));
        // Nothing at container level loosens the pod's settings.
        assert_eq!(sc.run_as_non_root, None);
        assert_eq!(sc.run_as_user, None);
        assert_eq!(sc.seccomp_profile, None);
        let caps = sc.capabilities.as_ref().expect("capabilities");
        assert_eq!(caps.drop.as_deref(), Some(&["ALL".to_owned()][..]));
        let want: Option<Vec<String>> = add.map(|a| a.iter().map(|s| (*s).to_owned()).collect());
        assert_eq!(caps.add, want);
    }

    #[test]
    fn app_without_capabilities_writable_root() {
        let j = locked_down(&[], false);
        let pod = pod_of(&j);
        assert_pod_security(pod, Some(65534));
        assert_container_security(&pod.containers[0], None, false);
        let (volumes, mounts) = storage(pod);
        assert_eq!(volumes, [("work".to_owned(), true)]);
        assert_eq!(
            mounts,
            [("work".to_owned(), "/multiflexi/work".to_owned(), false)]
        );
    }

    #[test]
    fn app_with_capabilities_read_only_root() {
        let j = locked_down(&["cap_net_bind_service", "CHOWN"], true);
        let pod = pod_of(&j);
        assert_pod_security(pod, Some(65534));
        assert_container_security(
            &pod.containers[0],
            Some(&["NET_BIND_SERVICE", "CHOWN"]),
            true,
        );
        // The work directory stays a writable emptyDir; /tmp gets one of its own.
        let (volumes, mounts) = storage(pod);
        assert_eq!(
            volumes,
            [("work".to_owned(), true), ("tmp".to_owned(), true)]
        );
        assert_eq!(
            mounts,
            [
                ("work".to_owned(), "/multiflexi/work".to_owned(), false),
                ("tmp".to_owned(), "/tmp".to_owned(), false),
            ]
        );
    }

    #[test]
    fn capabilities_without_read_only_and_read_only_without_capabilities() {
        let j = locked_down(&["NET_RAW"], false);
        let pod = pod_of(&j);
        assert_container_security(&pod.containers[0], Some(&["NET_RAW"]), false);
        assert_eq!(
            storage(pod).0.len(),
            1,
            "no /tmp volume when the root is writable"
        );
        let j = locked_down(&[], true);
        let pod = pod_of(&j);
        assert_container_security(&pod.containers[0], None, true);
        assert_eq!(storage(pod).1[1].1, "/tmp");
    }

    #[test]
    fn work_dir_at_tmp_gets_no_second_mount() {
        let mut s = spec();
        s.container = ContainerSecurity::new().with_read_only_root_fs(true);
        let cfg = KubernetesConfig {
            container_work_dir: "/tmp/".into(),
            ..KubernetesConfig::default()
        };
        let j = job(&s, "img", &cfg, "jobs");
        let (volumes, mounts) = storage(pod_of(&j));
        assert_eq!(volumes, [("work".to_owned(), true)]);
        assert_eq!(mounts, [("work".to_owned(), "/tmp/".to_owned(), false)]);
    }

    #[test]
    fn run_as_user_is_configurable_and_never_root() {
        let s = spec();
        let cfg = KubernetesConfig::default().with_run_as_user(Some(1234));
        assert_pod_security(pod_of(&job(&s, "img", &cfg, "jobs")), Some(1234));
        // The image decides the uid, but it still may not be root.
        let cfg = KubernetesConfig::default().with_run_as_user(None);
        assert_pod_security(pod_of(&job(&s, "img", &cfg, "jobs")), None);
        assert!(validate(&s, &cfg).is_ok());
        let cfg = KubernetesConfig::default().with_run_as_user(Some(0));
        match validate(&s, &cfg).unwrap_err() {
            Error::InvalidInput { field, message } => {
                assert_eq!(field, "run_as_user");
                assert!(message.contains("root"), "{message}");
            }
            e => panic!("{e:?}"),
        }
    }

    /// The pod API has no field for a pids limit or a CPU-time budget: none is faked.
    #[test]
    fn pids_and_cpu_seconds_are_not_in_the_manifest() {
        let mut s = spec();
        s.pids_max = Some(64);
        s.cpu_limit = Some(Duration::from_secs(30));
        let j = job(&s, "img", &KubernetesConfig::default(), "jobs");
        let r = pod_of(&j).containers[0].resources.clone().unwrap();
        assert_eq!(
            r.limits.unwrap().keys().collect::<Vec<_>>(),
            ["memory"],
            "only the memory limit"
        );
        assert_eq!(r.requests, None);
        let json = serde_json::to_string(&j).unwrap();
        assert!(!json.to_lowercase().contains("pids"), "{json}");
        assert_eq!(j.spec.as_ref().unwrap().active_deadline_seconds, Some(3));
    }

    #[test]
    fn validation_names_the_field() {
        let cfg = KubernetesConfig::default();
        let validate = |s: &LaunchSpec| validate(s, &cfg).map(str::to_owned);
        let mut s = spec();
        s.container.capabilities = vec!["ALL".into()];
        match validate(&s).unwrap_err() {
            Error::InvalidInput { field, message } => {
                assert_eq!(field, "capabilities");
                assert!(
                    message.contains("app 5") && message.contains("ALL"),
                    "{message}"
                );
            }
            e => panic!("{e:?}"),
        }
        let mut s = spec();
        s.image = None;
        match validate(&s).unwrap_err() {
            Error::InvalidInput { field, message } => {
                assert_eq!(field, "ociimage");
                assert!(message.contains("app 5"), "{message}");
            }
            e => panic!("{e:?}"),
        }
        s.image = Some("  ".into());
        assert!(validate(&s).is_err());
        let mut s = spec();
        s.env.push(("BAD NAME".into(), "x".into()));
        assert!(validate(&s).unwrap_err().to_string().contains("BAD NAME"));
        assert_eq!(validate(&spec()).unwrap(), "registry.example/app:1.2");
    }
}
