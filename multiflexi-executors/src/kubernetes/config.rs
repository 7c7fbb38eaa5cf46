//! [`KubernetesConfig`]: where the API server is and how job pods are shaped.

use multiflexi_core::{Error, Result};
use std::fmt;
use std::time::Duration;

/// How a job's image is pulled (`imagePullPolicy` of its container).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImagePullPolicy {
    /// Pull on every start.
    Always,
    /// Pull when the node does not have the image.
    IfNotPresent,
    /// Never pull (the image must be on the node).
    Never,
}

impl ImagePullPolicy {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ImagePullPolicy::Always => "Always",
            ImagePullPolicy::IfNotPresent => "IfNotPresent",
            ImagePullPolicy::Never => "Never",
        }
    }
}

impl fmt::Display for ImagePullPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ImagePullPolicy {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "Always" => Ok(Self::Always),
            "IfNotPresent" => Ok(Self::IfNotPresent),
            "Never" => Ok(Self::Never),
            other => Err(Error::invalid(
                "image_pull_policy",
                format!("{other:?} is not a pull policy; allowed: Always, IfNotPresent, Never"),
            )),
        }
    }
}

/// Resources every job container gets unless the job says otherwise (the job's memory limit,
/// from its run template, wins over `memory_limit_mb`). Quantities in Kubernetes syntax for CPU
/// (`"250m"`, `"1"`), MiB for memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobResources {
    /// `requests.cpu`.
    pub cpu_request: Option<String>,
    /// `limits.cpu`.
    pub cpu_limit: Option<String>,
    /// `requests.memory`, MiB (capped at the memory limit).
    pub memory_request_mb: Option<u32>,
    /// `limits.memory`, MiB, for jobs whose template sets no memory limit.
    pub memory_limit_mb: Option<u32>,
}

impl JobResources {
    /// No requests, no limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builder: CPU request and limit (either may be `None`).
    pub fn with_cpu(mut self, request: Option<&str>, limit: Option<&str>) -> Self {
        self.cpu_request = request.map(str::to_owned);
        self.cpu_limit = limit.map(str::to_owned);
        self
    }

    /// Builder: memory request and default limit in MiB.
    pub fn with_memory_mb(mut self, request: Option<u32>, limit: Option<u32>) -> Self {
        self.memory_request_mb = request;
        self.memory_limit_mb = limit;
        self
    }
}

/// The highest uid the API server accepts in `runAsUser` (`math.MaxInt32`).
const MAX_UID: i64 = 2_147_483_647;

/// Settings of a [`KubernetesExecutor`](super::KubernetesExecutor).
#[derive(Clone)]
#[non_exhaustive]
pub struct KubernetesConfig {
    /// How to reach the API server. `None` (the default) infers it as kube and kubectl do:
    /// the kubeconfig named by `KUBECONFIG` or `~/.kube/config` (current context), else the
    /// in-cluster service account (`KUBERNETES_SERVICE_HOST` + the mounted token).
    pub client: Option<kube::Config>,
    /// The namespace jobs run in. `None`: the kubeconfig context's namespace, or the executor
    /// pod's own namespace in-cluster, else `default`.
    pub namespace: Option<String>,
    /// The service account job pods run as (`None`: the namespace's `default`). Its token is not
    /// mounted into job pods either way (`automountServiceAccountToken: false`): a job never
    /// gets credentials for the cluster's API.
    pub service_account: Option<String>,
    /// The uid job containers run as (`runAsUser`; also `runAsGroup` and `fsGroup`, so the work
    /// directory and `/tmp` volumes are the job's group's). Default 65534 (`nobody`). `None`:
    /// the image's `USER` decides; the pod still says `runAsNonRoot: true`, so the kubelet
    /// refuses to start an image whose user is root or a name rather than a number
    /// (`CreateContainerConfigError`). Must be 1..=2147483647 (see
    /// [`KubernetesConfig::run_as_user_setting`]).
    pub run_as_user: Option<i64>,
    /// `imagePullPolicy` of job containers (`None`: the cluster's default, `IfNotPresent` for
    /// tagged images).
    pub image_pull_policy: Option<ImagePullPolicy>,
    /// Default requests and limits of job containers.
    pub default_resources: JobResources,
    /// `ttlSecondsAfterFinished` of every Job: a backstop, since the executor deletes its Jobs
    /// itself. Default 10 minutes.
    pub ttl_after_finished: Duration,
    /// How long a pod may stay unschedulable before the job ends with a platform error.
    /// Default 5 minutes.
    pub unschedulable_limit: Duration,
    /// `terminationGracePeriodSeconds` of job pods: after a timeout or cancel deletes the Job,
    /// how long its container gets between SIGTERM and SIGKILL. Default 10 s.
    pub termination_grace: Duration,
    /// The job's work directory inside the container (an `emptyDir` volume, also its HOME).
    /// Default `/multiflexi/work`.
    pub container_work_dir: String,
    /// How often the executor checks its Job while following the pod (catches a Job deleted
    /// from outside even when no pod event arrives). Default 5 s.
    pub check_interval: Duration,
    /// Timeout of one short API request (create, get, delete, list). Default 30 s.
    pub request_timeout: Duration,
}

impl fmt::Debug for KubernetesConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubernetesConfig")
            .field(
                "cluster_url",
                &self.client.as_ref().map(|c| c.cluster_url.to_string()),
            )
            .field("namespace", &self.namespace)
            .field("service_account", &self.service_account)
            .field("run_as_user", &self.run_as_user)
            .field("image_pull_policy", &self.image_pull_policy)
            .field("default_resources", &self.default_resources)
            .field("ttl_after_finished", &self.ttl_after_finished)
            .field("unschedulable_limit", &self.unschedulable_limit)
            .field("termination_grace", &self.termination_grace)
            .field("container_work_dir", &self.container_work_dir)
            .field("check_interval", &self.check_interval)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

impl Default for KubernetesConfig {
    fn default() -> Self {
        Self {
            client: None,
            namespace: None,
            service_account: None,
            run_as_user: Some(Self::DEFAULT_RUN_AS_USER),
            image_pull_policy: None,
            default_resources: JobResources::default(),
            ttl_after_finished: Duration::from_secs(600),
            unschedulable_limit: Duration::from_secs(300),
            termination_grace: Duration::from_secs(10),
            container_work_dir: "/multiflexi/work".into(),
            check_interval: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl KubernetesConfig {
    /// The uid job containers run as unless configured otherwise: 65534, `nobody` on Debian,
    /// Ubuntu, Alpine and busybox images.
    pub const DEFAULT_RUN_AS_USER: i64 = 65534;

    /// Settings that infer the cluster from the environment (see [`KubernetesConfig::client`]).
    pub fn infer() -> Self {
        Self::default()
    }

    /// Settings for the API server described by `client` (e.g. `kube::Config::new(url)`).
    pub fn with_client_config(client: kube::Config) -> Self {
        Self {
            client: Some(client),
            ..Self::default()
        }
    }

    /// Builder: the namespace.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Builder: the service account of job pods.
    pub fn with_service_account(mut self, account: impl Into<String>) -> Self {
        self.service_account = Some(account.into());
        self
    }

    /// Builder: the uid job containers run as (`None`: the image's `USER`, still non-root).
    pub fn with_run_as_user(mut self, uid: Option<i64>) -> Self {
        self.run_as_user = uid;
        self
    }

    /// A `run_as_user` value from its text form (the daemon's
    /// `MULTIFLEXI_KUBERNETES_RUN_AS_USER`): empty → the default
    /// ([`KubernetesConfig::DEFAULT_RUN_AS_USER`]), `image` → `None` (the image's `USER`), a uid
    /// from 1 to 2147483647 → that uid. 0 is refused: job pods say `runAsNonRoot: true`, so the
    /// kubelet would refuse every one of them.
    pub fn run_as_user_setting(value: &str) -> Result<Option<i64>> {
        let v = value.trim();
        if v.is_empty() {
            return Ok(Some(Self::DEFAULT_RUN_AS_USER));
        }
        if v.eq_ignore_ascii_case("image") {
            return Ok(None);
        }
        let uid = v.parse::<i64>().map_err(|_| {
            Error::invalid(
                "run_as_user",
                format!(
                    "{v:?} is not a uid; allowed: a number from 1 to {MAX_UID}, or \"image\" to \
                     run as the image's (non-root, numeric) USER"
                ),
            )
        })?;
        Self::check_run_as_user(Some(uid))?;
        Ok(Some(uid))
    }

    /// Whether `uid` can be a job pod's `runAsUser`: 1..=2147483647 (0 is root, which
    /// `runAsNonRoot` forbids; the API server refuses the rest).
    pub fn check_run_as_user(uid: Option<i64>) -> Result<()> {
        match uid {
            None => Ok(()),
            Some(0) => Err(Error::invalid(
                "run_as_user",
                "0 is root: job pods run with runAsNonRoot: true, so the kubelet would refuse \
                 every job; choose a uid from 1 (default 65534)",
            )),
            Some(u) if !(1..=MAX_UID).contains(&u) => Err(Error::invalid(
                "run_as_user",
                format!("{u} is out of range; allowed: 1 to {MAX_UID}"),
            )),
            Some(_) => Ok(()),
        }
    }

    /// Builder: the image pull policy.
    pub fn with_image_pull_policy(mut self, policy: ImagePullPolicy) -> Self {
        self.image_pull_policy = Some(policy);
        self
    }

    /// Builder: default resources.
    pub fn with_default_resources(mut self, resources: JobResources) -> Self {
        self.default_resources = resources;
        self
    }

    /// Builder: `ttlSecondsAfterFinished`.
    pub fn with_ttl_after_finished(mut self, ttl: Duration) -> Self {
        self.ttl_after_finished = ttl;
        self
    }

    /// Builder: the unschedulable limit.
    pub fn with_unschedulable_limit(mut self, limit: Duration) -> Self {
        self.unschedulable_limit = limit;
        self
    }

    /// Builder: the termination grace of job pods.
    pub fn with_termination_grace(mut self, grace: Duration) -> Self {
        self.termination_grace = grace;
        self
    }

    /// Builder: the Job check interval.
    pub fn with_check_interval(mut self, interval: Duration) -> Self {
        self.check_interval = interval;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_round_trips_and_rejects_others() {
        for p in [
            ImagePullPolicy::Always,
            ImagePullPolicy::IfNotPresent,
            ImagePullPolicy::Never,
        ] {
            assert_eq!(p.as_str().parse::<ImagePullPolicy>().unwrap(), p);
        }
        let err = "sometimes".parse::<ImagePullPolicy>().unwrap_err();
        assert!(err.to_string().contains("IfNotPresent"), "{err}");
    }

    #[test]
    fn run_as_user_setting_parses_and_refuses_root() {
        assert_eq!(KubernetesConfig::default().run_as_user, Some(65534));
        let p = KubernetesConfig::run_as_user_setting;
        assert_eq!(p("").unwrap(), Some(65534));
        assert_eq!(p(" 1000 ").unwrap(), Some(1000));
        assert_eq!(p("2147483647").unwrap(), Some(2_147_483_647));
        assert_eq!(p("Image").unwrap(), None);
        for bad in ["0", "-1", "2147483648", "nobody", "1000:1000"] {
            match p(bad).unwrap_err() {
                Error::InvalidInput { field, message } => {
                    assert_eq!(field, "run_as_user", "{bad}");
                    assert!(
                        message.contains("root") || message.contains("allowed"),
                        "{bad}: {message}"
                    );
                }
                e => panic!("{bad}: {e:?}"),
            }
        }
        assert!(KubernetesConfig::check_run_as_user(None).is_ok());
        assert!(KubernetesConfig::check_run_as_user(Some(0)).is_err());
    }

    #[test]
    fn debug_does_not_print_credentials() {
        let mut cfg = kube::Config::new("https://10.0.0.1:6443".parse().unwrap());
        cfg.auth_info.token = Some("very-secret-token".to_owned().into());
        let text = format!("{:?}", KubernetesConfig::with_client_config(cfg));
        assert!(!text.contains("very-secret-token"), "{text}");
        assert!(text.contains("10.0.0.1"), "{text}");
    }
}
