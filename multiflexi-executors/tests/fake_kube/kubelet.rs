//! The fake's Job controller and kubelet: a Job gets one pod; the pod is scheduled (or not, when
//! it asks for more memory than the node has), its image "pulled" (images the fake does not know
//! fail with `ErrImagePull`, then `ImagePullBackOff`), its env resolved from the Secret named by
//! `envFrom`, and its container's command run as a LOCAL PROCESS (`/bin/busybox` stands in for
//! the image) in its own process group and work directory, stdout and stderr into one pipe that
//! becomes the pod's log. The exit status becomes the container's terminated state; a memory
//! limit is enforced by polling the group's RSS (`OOMKilled`, 137); deleting the pod sends SIGTERM
//! to the group, SIGKILL after `terminationGracePeriodSeconds`; the Job's
//! `activeDeadlineSeconds` deletes its pods and fails the Job with `DeadlineExceeded`.
//!
//! The pod's security settings are checked, not applied: `runAsNonRoot` against the uid (the
//! stand-in images run as root: without `runAsUser` the container is refused with
//! `CreateContainerConfigError`), while the process itself runs as the test's user with its
//! capabilities, its seccomp profile and a writable file system.

use super::Inner;
use super::state::{Key, PodRecord, now};
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, Pod, PodCondition, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The node's allocatable memory.
pub const NODE_MEMORY_BYTES: u64 = 16 << 30;
const NODE: &str = "fake-node-1";

/// A running (or finished) container: a local process group.
#[derive(Debug)]
pub struct Runtime {
    pub pgid: i32,
    pub dir: PathBuf,
    pub executor_label: String,
    pub log: Mutex<Vec<u8>>,
    pub log_changed: watch::Sender<u64>,
    pub log_done: AtomicBool,
    pub exited: AtomicBool,
    /// The terminated state was published.
    pub finished: AtomicBool,
    pub oom: AtomicBool,
}

impl Runtime {
    pub fn signal(&self, sig: Signal) {
        let _ = killpg(Pid::from_raw(self.pgid), sig);
    }

    fn append(&self, bytes: &[u8]) {
        self.log.lock().unwrap().extend_from_slice(bytes);
        self.log_changed.send_modify(|v| *v += 1);
    }
}

fn label(meta: &ObjectMeta, key: &str) -> String {
    meta.labels
        .as_ref()
        .and_then(|l| l.get(key))
        .cloned()
        .unwrap_or_default()
}

/// Parses a memory quantity (`256Mi`, `1G`, `1048576`) into bytes.
pub fn quantity_bytes(q: &str) -> Option<u64> {
    let units: &[(&str, u64)] = &[
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("k", 1000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
        ("T", 1_000_000_000_000),
    ];
    for (suffix, mult) in units {
        if let Some(n) = q.strip_suffix(suffix) {
            return n.parse::<u64>().ok().map(|n| n * mult);
        }
    }
    q.parse().ok()
}

const POD_SUFFIX: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The Job controller: creates the Job's pod and runs it; arms the deadline.
pub async fn run_job(inner: Arc<Inner>, job_key: Key) {
    let created = {
        let mut st = inner.state.lock().unwrap();
        let Some(job) = st.jobs.get(&job_key).cloned() else {
            return;
        };
        let n = st.bump();
        let suffix: String = (0..5)
            .map(|i| {
                let x = (n.wrapping_mul(2_654_435_761) >> (i * 5)) as usize;
                POD_SUFFIX[x % POD_SUFFIX.len()] as char
            })
            .collect();
        let name = format!("{}-{suffix}", job_key.1);
        let spec = job.spec.clone().unwrap_or_default();
        let template_meta = spec.template.metadata.clone().unwrap_or_default();
        let mut meta = ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(job_key.0.clone()),
            labels: template_meta.labels.clone(),
            annotations: template_meta.annotations.clone(),
            owner_references: Some(vec![OwnerReference {
                api_version: "batch/v1".into(),
                kind: "Job".into(),
                name: job_key.1.clone(),
                uid: job.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        };
        st.stamp_new(&mut meta);
        let pod = Pod {
            metadata: meta,
            spec: spec.template.spec.clone(),
            status: Some(PodStatus {
                phase: Some("Pending".into()),
                qos_class: Some("BestEffort".into()),
                ..Default::default()
            }),
        };
        let key = (job_key.0.clone(), name);
        st.pods
            .insert(key.clone(), PodRecord { pod, runtime: None });
        st.pod_event("ADDED", &key);
        st.update_job(&job_key, |j| {
            let status = j.status.get_or_insert_with(JobStatus::default);
            status.active = Some(1);
            status.start_time = Some(now());
        });
        Some((key, spec.active_deadline_seconds))
    };
    inner.notify();
    let Some((pod_key, deadline)) = created else {
        return;
    };
    if let Some(secs) = deadline {
        let inner = inner.clone();
        let job_key = job_key.clone();
        tokio::spawn(async move {
            let after = Duration::from_secs(secs.max(0) as u64)
                .saturating_sub(inner.options.deadline_early);
            tokio::time::sleep(after).await;
            deadline_exceeded(inner, job_key).await;
        });
    }
    run_pod(inner, pod_key, job_key).await;
}

async fn deadline_exceeded(inner: Arc<Inner>, job_key: Key) {
    let pods = {
        let mut st = inner.state.lock().unwrap();
        let Some(job) = st.jobs.get(&job_key) else {
            return;
        };
        let finished = job
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| !c.is_empty());
        if finished {
            return;
        }
        let uid = job.metadata.uid.clone().unwrap_or_default();
        st.update_job(&job_key, |j| {
            let status = j.status.get_or_insert_with(JobStatus::default);
            status.conditions = Some(vec![condition(
                "Failed",
                "DeadlineExceeded",
                "Job was active longer than specified deadline",
            )]);
            status.active = Some(0);
            status.failed = Some(1);
        });
        st.pods_of(&uid)
    };
    for key in pods {
        tokio::spawn(delete_pod(inner.clone(), key));
    }
}

fn condition(type_: &str, reason: &str, message: &str) -> JobCondition {
    JobCondition {
        type_: type_.into(),
        status: "True".into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_probe_time: Some(now()),
        last_transition_time: Some(now()),
    }
}

fn pod_condition(type_: &str, status: bool) -> PodCondition {
    PodCondition {
        type_: type_.into(),
        status: if status { "True" } else { "False" }.into(),
        last_transition_time: Some(now()),
        ..Default::default()
    }
}

/// Updates the pod (if it still exists) and publishes a MODIFIED event.
fn update_pod(inner: &Inner, key: &Key, f: impl FnOnce(&mut Pod)) -> bool {
    let found = {
        let mut st = inner.state.lock().unwrap();
        match st.pods.get_mut(key) {
            Some(rec) => {
                f(&mut rec.pod);
                st.pod_event("MODIFIED", key);
                true
            }
            None => false,
        }
    };
    inner.notify();
    found
}

fn container_state(pod: &mut Pod, image: &str, state: ContainerState, ready: bool) {
    let name = pod
        .spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .map(|c| c.name.clone())
        .unwrap_or_default();
    let status = pod.status.get_or_insert_with(PodStatus::default);
    status.container_statuses = Some(vec![ContainerStatus {
        name,
        image: image.into(),
        image_id: String::new(),
        ready,
        started: Some(state.running.is_some()),
        restart_count: 0,
        state: Some(state),
        ..Default::default()
    }]);
}

fn waiting(reason: &str, message: &str) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.into()),
            message: (!message.is_empty()).then(|| message.into()),
        }),
        ..Default::default()
    }
}

/// Marks the container terminated, the pod Succeeded/Failed and the Job complete/failed.
fn terminate(inner: &Inner, key: &Key, job_key: &Key, image: &str, t: ContainerStateTerminated) {
    let ok = t.exit_code == 0;
    update_pod(inner, key, |pod| {
        container_state(
            pod,
            image,
            ContainerState {
                terminated: Some(t),
                ..Default::default()
            },
            false,
        );
        let status = pod.status.get_or_insert_with(PodStatus::default);
        status.phase = Some(if ok { "Succeeded" } else { "Failed" }.into());
        status.conditions = Some(vec![
            pod_condition("PodScheduled", true),
            pod_condition("Initialized", true),
            pod_condition("Ready", false),
            pod_condition("ContainersReady", false),
        ]);
    });
    let mut st = inner.state.lock().unwrap();
    st.update_job(job_key, |j| {
        let status = j.status.get_or_insert_with(JobStatus::default);
        if status.conditions.as_ref().is_some_and(|c| !c.is_empty()) {
            return;
        }
        status.active = Some(0);
        if ok {
            status.succeeded = Some(1);
            status.completion_time = Some(now());
            status.conditions = Some(vec![condition("Complete", "", "")]);
        } else {
            status.failed = Some(1);
            status.conditions = Some(vec![condition(
                "Failed",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            )]);
        }
    });
}

fn start_error(message: String) -> ContainerStateTerminated {
    ContainerStateTerminated {
        exit_code: 128,
        reason: Some("StartError".into()),
        message: Some(format!(
            "failed to create containerd task: failed to create shim task: OCI runtime create \
             failed: runc create failed: unable to start container process: error during \
             container init: {message}: unknown"
        )),
        started_at: Some(now()),
        finished_at: Some(now()),
        ..Default::default()
    }
}

/// Finds the program as runc does: a path is used as it is, a bare name is looked up in the
/// container's PATH.
fn resolve(program: &str, path_var: &str) -> Result<PathBuf, String> {
    let check = |p: &Path| -> Result<(), String> {
        let meta = std::fs::metadata(p).map_err(|_| {
            format!(
                "exec: {program:?}: stat {}: no such file or directory",
                p.display()
            )
        })?;
        if meta.is_dir() || meta.permissions().mode() & 0o111 == 0 {
            return Err(format!("exec: {program:?}: permission denied"));
        }
        Ok(())
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        check(&p)?;
        return Ok(p);
    }
    for dir in path_var.split(':').filter(|d| !d.is_empty()) {
        let p = Path::new(dir).join(program);
        if p.is_file() && check(&p).is_ok() {
            return Ok(p);
        }
    }
    Err(format!(
        "exec: {program:?}: executable file not found in $PATH"
    ))
}

/// The variables the kubelet always gives a container (the API server's service).
fn service_env() -> Vec<(OsString, OsString)> {
    [
        ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
        ("KUBERNETES_SERVICE_PORT", "443"),
        ("KUBERNETES_SERVICE_PORT_HTTPS", "443"),
        ("KUBERNETES_PORT", "tcp://10.96.0.1:443"),
        ("KUBERNETES_PORT_443_TCP", "tcp://10.96.0.1:443"),
        ("KUBERNETES_PORT_443_TCP_PROTO", "tcp"),
        ("KUBERNETES_PORT_443_TCP_PORT", "443"),
        ("KUBERNETES_PORT_443_TCP_ADDR", "10.96.0.1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.into(), v.into()))
    .collect()
}

/// The kubelet's part: schedule, pull, create, start, wait.
async fn run_pod(inner: Arc<Inner>, key: Key, job_key: Key) {
    tokio::time::sleep(Duration::from_millis(20)).await;
    let Some(pod) = inner
        .state
        .lock()
        .unwrap()
        .pods
        .get(&key)
        .map(|r| r.pod.clone())
    else {
        return;
    };
    let spec = pod.spec.clone().unwrap_or_default();
    let Some(container) = spec.containers.first().cloned() else {
        return;
    };
    let image = container.image.clone().unwrap_or_default();
    let resources = container.resources.clone().unwrap_or_default();
    let mem =
        |m: &Option<BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>| {
            m.as_ref()
                .and_then(|m| m.get("memory"))
                .and_then(|q| quantity_bytes(&q.0))
        };
    let memory_limit = mem(&resources.limits);
    let memory_request = mem(&resources.requests).or(memory_limit);

    // Scheduling.
    if memory_request.is_some_and(|r| r > NODE_MEMORY_BYTES) {
        update_pod(&inner, &key, |pod| {
            let status = pod.status.get_or_insert_with(PodStatus::default);
            status.conditions = Some(vec![PodCondition {
                reason: Some("Unschedulable".into()),
                message: Some(
                    "0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes are \
                     available: 1 No preemption victims found for incoming pod."
                        .into(),
                ),
                ..pod_condition("PodScheduled", false)
            }]);
        });
        return;
    }
    update_pod(&inner, &key, |pod| {
        if let Some(s) = pod.spec.as_mut() {
            s.node_name = Some(NODE.into());
        }
        let status = pod.status.get_or_insert_with(PodStatus::default);
        status.conditions = Some(vec![pod_condition("PodScheduled", true)]);
        status.host_ip = Some("10.0.0.11".into());
        status.start_time = Some(now());
        container_state(pod, &image, waiting("ContainerCreating", ""), false);
    });
    tokio::time::sleep(Duration::from_millis(20)).await;

    // The image.
    if !inner.options.images.contains(&image) {
        update_pod(&inner, &key, |pod| {
            container_state(
                pod,
                &image,
                waiting(
                    "ErrImagePull",
                    &format!(
                        "rpc error: code = NotFound desc = failed to pull and unpack image \
                         \"{image}\": failed to resolve reference \"{image}\": {image}: not found"
                    ),
                ),
                false,
            );
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        update_pod(&inner, &key, |pod| {
            container_state(
                pod,
                &image,
                waiting(
                    "ImagePullBackOff",
                    &format!("Back-off pulling image \"{image}\""),
                ),
                false,
            );
        });
        return;
    }
    if inner.options.create_error_images.contains(&image) {
        update_pod(&inner, &key, |pod| {
            container_state(
                pod,
                &image,
                waiting(
                    "CreateContainerError",
                    "failed to create containerd container: failed to mount rootfs component: \
                     no space left on device",
                ),
                false,
            );
        });
        return;
    }

    // The kubelet's runAsNonRoot check, before the container is created. The stand-in images
    // have no USER, so they run as root unless the pod names a uid. (Only checked: the local
    // process runs as the test's own user, with its capabilities and a writable file system.)
    if let Some(why) = non_root_refusal(&spec, &container) {
        let message = format!(
            "{why} (pod: \"{}_{}({})\", container: {})",
            key.1,
            key.0,
            pod.metadata.uid.clone().unwrap_or_default(),
            container.name
        );
        update_pod(&inner, &key, |pod| {
            container_state(
                pod,
                &image,
                waiting("CreateContainerConfigError", &message),
                false,
            );
        });
        return;
    }

    // The environment: the API server's service, HOSTNAME, envFrom, env.
    let mut env = service_env();
    env.push(("HOSTNAME".into(), key.1.clone().into()));
    {
        let st = inner.state.lock().unwrap();
        for from in container.env_from.iter().flatten() {
            let Some(sref) = &from.secret_ref else {
                continue;
            };
            match st.secrets.get(&(key.0.clone(), sref.name.clone())) {
                Some(secret) => {
                    for (k, v) in secret.data.iter().flatten() {
                        let name = format!("{}{k}", from.prefix.clone().unwrap_or_default());
                        env.retain(|(n, _)| n != name.as_str());
                        env.push((name.into(), OsString::from_vec(v.0.clone())));
                    }
                }
                None if sref.optional == Some(true) => {}
                None => {
                    let message = format!("secret {:?} not found", sref.name);
                    drop(st);
                    update_pod(&inner, &key, |pod| {
                        container_state(
                            pod,
                            &image,
                            waiting("CreateContainerConfigError", &message),
                            false,
                        );
                    });
                    return;
                }
            }
        }
    }
    for e in container.env.iter().flatten() {
        if let Some(v) = &e.value {
            env.retain(|(n, _)| n != e.name.as_str());
            env.push((e.name.clone().into(), v.clone().into()));
        }
    }

    // The command (no image entrypoint: the stand-in image has none).
    let mut argv: Vec<String> = container.command.clone().unwrap_or_default();
    argv.extend(container.args.clone().unwrap_or_default());
    if argv.is_empty() {
        terminate(
            &inner,
            &key,
            &job_key,
            &image,
            start_error("no command specified".into()),
        );
        inner.notify();
        return;
    }
    let path_var = env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.to_string_lossy().into_owned())
        .unwrap_or_default();
    let program = match resolve(&argv[0], &path_var) {
        Ok(p) => p,
        Err(message) => {
            terminate(&inner, &key, &job_key, &image, start_error(message));
            inner.notify();
            return;
        }
    };

    let dir = inner.root.join(&key.0).join(&key.1);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        terminate(&inner, &key, &job_key, &image, start_error(e.to_string()));
        inner.notify();
        return;
    }
    let started = spawn(
        &program,
        &argv,
        env,
        &dir,
        &label(&pod.metadata, "io.multiflexi.executor_id"),
    );
    let (runtime, child, pipe) = match started {
        Ok(x) => x,
        Err(e) => {
            terminate(
                &inner,
                &key,
                &job_key,
                &image,
                start_error(format!("exec: {:?}: {e}", argv[0])),
            );
            inner.notify();
            return;
        }
    };
    let runtime = Arc::new(runtime);
    {
        let mut st = inner.state.lock().unwrap();
        st.runtimes.push(runtime.clone());
        if let Some(rec) = st.pods.get_mut(&key) {
            rec.runtime = Some(runtime.clone());
        }
    }
    let started_at = now();
    update_pod(&inner, &key, |pod| {
        container_state(
            pod,
            &image,
            ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(started_at.clone()),
                }),
                ..Default::default()
            },
            true,
        );
        let status = pod.status.get_or_insert_with(PodStatus::default);
        status.phase = Some("Running".into());
        status.pod_ip = Some("10.244.0.17".into());
        status.conditions = Some(vec![
            pod_condition("PodScheduled", true),
            pod_condition("Initialized", true),
            pod_condition("Ready", true),
            pod_condition("ContainersReady", true),
        ]);
    });

    // The process's life, on threads (blocking I/O and wait).
    let reader = {
        let rt = runtime.clone();
        std::thread::spawn(move || {
            let mut file = std::fs::File::from(pipe);
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match file.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => rt.append(&buf[..n]),
                }
            }
            rt.log_done.store(true, Ordering::SeqCst);
            rt.log_changed.send_modify(|v| *v += 1);
        })
    };
    if let Some(limit) = memory_limit {
        let rt = runtime.clone();
        std::thread::spawn(move || {
            while !rt.exited.load(Ordering::SeqCst) {
                if group_rss(rt.pgid) > limit {
                    rt.oom.store(true, Ordering::SeqCst);
                    rt.signal(Signal::SIGKILL);
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
    }
    let inner2 = inner.clone();
    std::thread::spawn(move || {
        let mut child = child;
        let status = child.wait();
        // The container's PID 1 is gone: the runtime kills the rest of the container.
        runtime.signal(Signal::SIGKILL);
        runtime.exited.store(true, Ordering::SeqCst);
        let _ = reader.join();
        let (code, signal) = match status {
            Ok(s) => match (s.code(), s.signal()) {
                (Some(c), _) => (c, None),
                (None, Some(sig)) => (128 + sig, Some(sig)),
                _ => (255, None),
            },
            Err(_) => (255, None),
        };
        let oom = runtime.oom.load(Ordering::SeqCst);
        let reason = if oom {
            "OOMKilled"
        } else if code == 0 {
            "Completed"
        } else {
            "Error"
        };
        let _ = signal;
        terminate(
            &inner2,
            &key,
            &job_key,
            &image,
            ContainerStateTerminated {
                exit_code: code,
                reason: Some(reason.into()),
                started_at: Some(started_at),
                finished_at: Some(now()),
                container_id: Some(format!("containerd://fake-{}", runtime.pgid)),
                ..Default::default()
            },
        );
        runtime.finished.store(true, Ordering::SeqCst);
        inner2.notify();
    });
}

/// Why the kubelet refuses to create the container under `runAsNonRoot` (its
/// `verifyRunAsNonRoot`, with the container's settings over the pod's), if it does.
fn non_root_refusal(
    spec: &k8s_openapi::api::core::v1::PodSpec,
    container: &k8s_openapi::api::core::v1::Container,
) -> Option<&'static str> {
    let pod_sc = spec.security_context.clone().unwrap_or_default();
    let sc = container.security_context.clone().unwrap_or_default();
    if !sc
        .run_as_non_root
        .or(pod_sc.run_as_non_root)
        .unwrap_or(false)
    {
        return None;
    }
    match sc.run_as_user.or(pod_sc.run_as_user) {
        Some(0) => Some("container's runAsUser breaks non-root policy"),
        Some(_) => None,
        // The image's user: root for every stand-in image.
        None => Some("container has runAsNonRoot and image will run as root"),
    }
}

type Spawned = (Runtime, std::process::Child, std::os::fd::OwnedFd);

fn spawn(
    program: &Path,
    argv: &[String],
    env: Vec<(OsString, OsString)>,
    dir: &Path,
    executor_label: &str,
) -> std::io::Result<Spawned> {
    let (read, write) = nix::unistd::pipe().map_err(std::io::Error::from)?;
    let mut cmd = Command::new(program);
    cmd.arg0(&argv[0])
        .args(&argv[1..])
        .env_clear()
        .envs(env)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(write.try_clone()?))
        .stderr(Stdio::from(write))
        .process_group(0);
    let child = cmd.spawn()?;
    let pgid = i32::try_from(child.id()).unwrap_or(i32::MAX);
    // `cmd` (holding the parent's copies of the write end) must go before the reader can see EOF.
    drop(cmd);
    Ok((
        Runtime {
            pgid,
            dir: dir.to_owned(),
            executor_label: executor_label.to_owned(),
            log: Mutex::new(Vec::new()),
            log_changed: watch::channel(0).0,
            log_done: AtomicBool::new(false),
            exited: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            oom: AtomicBool::new(false),
        },
        child,
        read,
    ))
}

/// Total resident memory of the processes in group `pgid`, bytes.
fn group_rss(pgid: i32) -> u64 {
    let mut total = 0;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        // state ppid pgrp …
        let pgrp = rest.split(' ').nth(2).and_then(|s| s.parse::<i32>().ok());
        if pgrp != Some(pgid) {
            continue;
        }
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if let Some(kb) = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            total += kb * 1024;
        }
    }
    total
}

/// Deletes a pod gracefully: deletion timestamp, SIGTERM to its container's group, SIGKILL after
/// the grace, then the pod object goes.
pub async fn delete_pod(inner: Arc<Inner>, key: Key) {
    let (runtime, grace) = {
        let mut st = inner.state.lock().unwrap();
        let Some(rec) = st.pods.get_mut(&key) else {
            return;
        };
        if rec.pod.metadata.deletion_timestamp.is_some() {
            return;
        }
        let grace = rec
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.termination_grace_period_seconds)
            .unwrap_or(30);
        rec.pod.metadata.deletion_timestamp = Some(now());
        rec.pod.metadata.deletion_grace_period_seconds = Some(grace);
        let runtime = rec.runtime.clone();
        st.pod_event("MODIFIED", &key);
        (runtime, grace)
    };
    inner.notify();
    if let Some(rt) = runtime {
        if !rt.exited.load(Ordering::SeqCst) {
            rt.signal(Signal::SIGTERM);
            let until = Instant::now() + Duration::from_secs(grace.max(0) as u64);
            while !rt.exited.load(Ordering::SeqCst) && Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if !rt.exited.load(Ordering::SeqCst) {
                rt.signal(Signal::SIGKILL);
            }
        }
        let until = Instant::now() + Duration::from_secs(10);
        while !rt.finished.load(Ordering::SeqCst) && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    inner.state.lock().unwrap().remove_pod(&key);
    inner.notify();
}

/// What a Job's deletion does to its pods.
pub async fn delete_job_pods(inner: Arc<Inner>, job: Job, foreground: bool) {
    let key: Key = (
        job.metadata.namespace.clone().unwrap_or_default(),
        job.metadata.name.clone().unwrap_or_default(),
    );
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let pods = inner.state.lock().unwrap().pods_of(&uid);
    let deletions: Vec<_> = pods
        .into_iter()
        .map(|k| tokio::spawn(delete_pod(inner.clone(), k)))
        .collect();
    for d in deletions {
        let _ = d.await;
    }
    if foreground {
        inner.state.lock().unwrap().jobs.remove(&key);
        inner.notify();
    }
}
