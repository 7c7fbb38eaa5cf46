//! The two objects of one job: a Secret with its environment and a `batch/v1` Job that runs it.

use super::config::KubernetesConfig;
use super::names;
use k8s_openapi::ByteString;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, EnvFromSource, PodSpec, PodTemplateSpec, ResourceRequirements,
    Secret, SecretEnvSource, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use multiflexi_core::executor::LaunchSpec;
use multiflexi_core::{Error, Result};
use std::collections::BTreeMap;

/// Checks what the API server would refuse (or what would run wrongly) before anything is
/// created: the image (the app's `ociimage`), the program, and the variable names (Secret keys
/// allow `[-._a-zA-Z0-9]`).
pub fn validate(spec: &LaunchSpec) -> Result<&str> {
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
pub fn job(spec: &LaunchSpec, image: &str, config: &KubernetesConfig, namespace: &str) -> Job {
    let work = &config.container_work_dir;
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
        volume_mounts: Some(vec![VolumeMount {
            name: names::WORK_VOLUME.to_owned(),
            mount_path: work.clone(),
            ..Default::default()
        }]),
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
        containers: vec![container],
        volumes: Some(vec![Volume {
            name: names::WORK_VOLUME.to_owned(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        }]),
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

    #[test]
    fn validation_names_the_field() {
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
