//! Kubernetes-specific cases: the capability set, the Secret and the Job, nothing left behind,
//! and each failure mode ending the launch with a clear message.

use super::{NS, setup, setup_full, setup_with};
use crate::fake_kube::{BROKEN_IMAGE, FakeKube, FakeOptions};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::DeleteParams;
use multiflexi_core::conformance::executor::{RecordingIo, TestPrograms};
use multiflexi_core::executor::{Capabilities, Capability, ExitReport, LaunchSpec};
use multiflexi_core::model::ContainerSecurity;
use multiflexi_core::{AppId, Error, Executor, ExecutorKind, Outcome};
use multiflexi_executors::{KubernetesConfig, KubernetesExecutor, labels};
use serde_json::json;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[test]
fn capabilities_are_exactly() {
    let exec = KubernetesExecutor::new(KubernetesConfig::default());
    assert_eq!(exec.kind(), ExecutorKind::Kubernetes);
    assert_eq!(
        exec.capabilities(),
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
    );
}

/// Waits until the fake holds nothing at all (no Job, Secret, Pod or live process).
async fn assert_nothing_left(fake: &FakeKube, after: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = fake.objects(None);
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "left after {after}: {left:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn launch(
    exec: &KubernetesExecutor,
    spec: &LaunchSpec,
    io: &RecordingIo,
    cancel: CancellationToken,
) -> multiflexi_core::Result<ExitReport> {
    multiflexi_core::conformance::executor::launch(exec, spec, io, cancel).await
}

/// An app with no `ociimage` is refused at launch, naming the app and the missing field, and
/// nothing is created.
#[tokio::test]
async fn launch_without_ociimage_is_refused() {
    let fake = FakeKube::start().await;
    let exec = KubernetesExecutor::new(super::config(&fake));
    let mut spec = LaunchSpec::new("/bin/busybox", vec!["true".into()], "/tmp/unused");
    spec.app_id = AppId(77);
    let io = RecordingIo::new();
    let err = launch(&exec, &spec, &io, CancellationToken::new())
        .await
        .expect_err("no image, no launch");
    match &err {
        Error::InvalidInput { field, message } => {
            assert_eq!(field, "ociimage");
            assert!(message.contains("app 77"), "{message}");
        }
        e => panic!("expected InvalidInput, got {e:?}"),
    }
    assert!(err.to_string().contains("ociimage"), "{err}");
    assert!(!err.is_retryable());
    assert!(io.snapshot().started.is_empty());
    assert!(fake.created_jobs().is_empty() && fake.created_secrets().is_empty());
}

/// The env travels in the Secret; the Job's spec holds no value of it. The Job has the shape
/// issue 7 asks for, and the job sees its variables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_holds_env_and_job_spec_holds_none() {
    let Some((exec, backend, programs)) = setup("secret_env").await else {
        return;
    };
    let secret_value = "s3cr3t-Value with spaces; and 'quotes'";
    let mut spec = programs.script("printf '%s|%s' \"$API_TOKEN\" \"$HOME\"; {t}pwd");
    spec.env.push(("API_TOKEN".into(), secret_value.into()));
    spec.timeout = Some(Duration::from_secs(90));
    spec.memory_limit_mb = Some(128);
    spec.app_id = AppId(5);
    let io = RecordingIo::new();
    let report = launch(&exec, &spec, &io, CancellationToken::new())
        .await
        .expect("runs");
    assert_eq!(report.exitcode(), 0, "{:?}", io.snapshot());
    let out = String::from_utf8_lossy(&io.snapshot().stdout()).into_owned();
    assert!(
        out.starts_with(&format!("{secret_value}|/multiflexi/work")),
        "{out}"
    );

    let fake = &backend.fake;
    let secrets = fake.created_secrets();
    let jobs = fake.created_jobs();
    assert_eq!((secrets.len(), jobs.len()), (1, 1));
    let data = secrets[0].data.clone().unwrap_or_default();
    assert_eq!(data["API_TOKEN"].0, secret_value.as_bytes());
    assert_eq!(data["TZ"].0, b"UTC");
    let job = &jobs[0];
    let json = serde_json::to_string(job).unwrap();
    assert!(
        !json.contains("s3cr3t"),
        "a value leaked into the Job: {json}"
    );
    let js = job.spec.as_ref().unwrap();
    assert_eq!(js.backoff_limit, Some(0));
    assert_eq!(js.active_deadline_seconds, Some(90));
    assert!(js.ttl_seconds_after_finished.is_some());
    let pod = js.template.spec.as_ref().unwrap();
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    let c = &pod.containers[0];
    assert!(c.env.is_none(), "no inline env: {:?}", c.env);
    assert_eq!(
        c.env_from.as_ref().unwrap()[0]
            .secret_ref
            .as_ref()
            .unwrap()
            .name,
        secrets[0].metadata.name.clone().unwrap()
    );
    assert_eq!(c.image.as_deref(), Some(crate::fake_kube::IMAGE));
    assert_eq!(c.command.as_ref().unwrap(), &vec![spec.program.clone()]);
    assert_eq!(c.args.as_ref().unwrap(), &spec.args);
    assert_eq!(
        c.resources.as_ref().unwrap().limits.as_ref().unwrap()["memory"].0,
        "128Mi"
    );
    let labels_ = job.metadata.labels.as_ref().unwrap();
    assert_eq!(labels_[labels::JOB_ID], spec.job_id.to_string());
    assert_eq!(labels_[labels::APP_ID], "5");
    assert_eq!(job.metadata.namespace.as_deref(), Some(NS));
    assert!(
        fake.unimplemented().is_empty(),
        "{:?}",
        fake.unimplemented()
    );
    assert_nothing_left(fake, "success").await;
}

/// The pod of every Job runs locked down (issue 15): never root, no privilege escalation, every
/// capability dropped but the app's, the runtime's seccomp profile, no service account token; a
/// read-only root file system with its own `/tmp` when the app allows it. Asserted on the Jobs
/// as the API server received them, in the API's own field names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_pod_security_context_as_submitted() {
    let Some((exec, backend, programs)) = setup("pod_security").await else {
        return;
    };
    let plain = programs.script("echo plain");
    let mut hardened = programs.script("echo hardened");
    hardened.container = ContainerSecurity::new()
        .with_capabilities(["NET_BIND_SERVICE", "cap_chown"])
        .unwrap()
        .with_read_only_root_fs(true);
    hardened.memory_limit_mb = Some(128);
    hardened.pids_max = Some(64);
    hardened.cpu_limit = Some(Duration::from_secs(30));
    for spec in [&plain, &hardened] {
        let io = RecordingIo::new();
        let report = launch(&exec, spec, &io, CancellationToken::new())
            .await
            .expect("runs");
        assert_eq!(report.outcome(), Outcome::Success, "{:?}", io.snapshot());
    }
    let fake = &backend.fake;
    let jobs = fake.created_jobs();
    assert_eq!(jobs.len(), 2);
    let pod_security = json!({
        "runAsNonRoot": true,
        "runAsUser": 65534,
        "runAsGroup": 65534,
        "fsGroup": 65534,
        "seccompProfile": {"type": "RuntimeDefault"},
    });
    let work = json!({"name": "work", "mountPath": "/multiflexi/work"});
    let work_volume = json!({"name": "work", "emptyDir": {}});

    let v = serde_json::to_value(&jobs[0]).unwrap();
    let pod = &v["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"], pod_security, "{pod}");
    assert_eq!(pod["automountServiceAccountToken"], json!(false));
    let c = &pod["containers"][0];
    assert_eq!(
        c["securityContext"],
        json!({
            "allowPrivilegeEscalation": false,
            "privileged": false,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": false,
        }),
        "{c}"
    );
    assert_eq!(pod["volumes"], json!([work_volume]));
    assert_eq!(c["volumeMounts"], json!([work]));

    let v = serde_json::to_value(&jobs[1]).unwrap();
    let pod = &v["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"], pod_security, "{pod}");
    assert_eq!(pod["automountServiceAccountToken"], json!(false));
    let c = &pod["containers"][0];
    assert_eq!(
        c["securityContext"],
        json!({
            "allowPrivilegeEscalation": false,
            "privileged": false,
            "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "CHOWN"]},
            "readOnlyRootFilesystem": true,
        }),
        "{c}"
    );
    assert_eq!(
        pod["volumes"],
        json!([work_volume, {"name": "tmp", "emptyDir": {}}])
    );
    assert_eq!(
        c["volumeMounts"],
        json!([work, {"name": "tmp", "mountPath": "/tmp"}])
    );
    // The memory limit as before; no pids or CPU-seconds limit is faked (the pod API has
    // neither).
    assert_eq!(
        c["resources"],
        json!({"limits": {"memory": "128Mi"}}),
        "{c}"
    );
    assert!(
        fake.unimplemented().is_empty(),
        "{:?}",
        fake.unimplemented()
    );
    assert_nothing_left(fake, "the hardened jobs").await;
}

/// With `run_as_user: None` the image's user decides, and the pod still says `runAsNonRoot`: the
/// kubelet refuses an image that runs as root (the fake's stand-in images do), and the launch
/// ends with a clear error instead of a job running as root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_user_root_is_refused_under_run_as_non_root() {
    let Some((exec, backend, programs)) =
        setup_with("image_user", |c| c.with_run_as_user(None)).await
    else {
        return;
    };
    let spec = programs.script("echo must-not-run");
    let err = expect_platform_error(&programs, &exec, &spec).await;
    assert_platform_error(
        &err,
        &[
            "CreateContainerConfigError",
            "runAsNonRoot and image will run as root",
        ],
    );
    let jobs = backend.fake.created_jobs();
    let v = serde_json::to_value(&jobs[0]).unwrap();
    assert_eq!(
        v["spec"]["template"]["spec"]["securityContext"],
        json!({"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}})
    );
    assert_nothing_left(&backend.fake, "a refused image user").await;
}

/// Success, failure, timeout and cancel each leave no Job, Secret, Pod or process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_left_after_success_failure_timeout_cancel() {
    let Some((exec, backend, programs)) = setup("nothing_left").await else {
        return;
    };
    let fake = &backend.fake;

    let io = RecordingIo::new();
    let r = launch(
        &exec,
        &programs.script("echo ok"),
        &io,
        CancellationToken::new(),
    )
    .await;
    assert_eq!(r.expect("success").outcome(), Outcome::Success);
    assert_nothing_left(fake, "success").await;

    let io = RecordingIo::new();
    let r = launch(
        &exec,
        &programs.script("exit 5"),
        &io,
        CancellationToken::new(),
    )
    .await;
    assert_eq!(r.expect("failure").exitcode(), 5);
    assert_nothing_left(fake, "failure").await;

    let io = RecordingIo::new();
    let mut spec = programs.script("{t}sleep 1000");
    spec.timeout = Some(Duration::from_secs(1));
    let r = launch(&exec, &spec, &io, CancellationToken::new()).await;
    assert_eq!(r.expect("timeout").outcome(), Outcome::Timeout);
    assert_nothing_left(fake, "timeout").await;

    let io = RecordingIo::new();
    let cancel = CancellationToken::new();
    let spec = programs.script("echo ready; {t}sleep 1000");
    let canceller = async {
        assert!(io.wait_for_stdout(programs.patience, b"ready").await);
        cancel.cancel();
    };
    let (r, ()) = tokio::join!(launch(&exec, &spec, &io, cancel.clone()), canceller);
    assert_eq!(r.expect("cancel").outcome(), Outcome::Cancelled);
    assert_nothing_left(fake, "cancel").await;
}

fn assert_platform_error(err: &Error, needles: &[&str]) {
    let text = err.to_string();
    assert!(
        matches!(
            err,
            Error::Backend {
                backend: "kubernetes",
                ..
            }
        ),
        "{err:?}"
    );
    for n in needles {
        assert!(text.contains(n), "{n:?} missing from: {text}");
    }
}

async fn expect_platform_error(
    programs: &TestPrograms,
    exec: &KubernetesExecutor,
    spec: &LaunchSpec,
) -> Error {
    let io = RecordingIo::new();
    let began = Instant::now();
    let err = launch(exec, spec, &io, CancellationToken::new())
        .await
        .expect_err("a platform error");
    assert!(
        began.elapsed() < programs.patience,
        "took {:?}",
        began.elapsed()
    );
    assert!(io.snapshot().started.is_empty(), "{:?}", io.snapshot());
    err
}

/// An image the registry does not have: a retryable error naming the image and the pull error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_pull_error_is_a_clear_retryable_error() {
    let Some((exec, backend, programs)) = setup("image_pull").await else {
        return;
    };
    let mut spec = programs.script("exit 0");
    spec.image = Some("multiflexi-test/no-such-image:missing".into());
    let err = expect_platform_error(&programs, &exec, &spec).await;
    assert_platform_error(
        &err,
        &[
            "multiflexi-test/no-such-image:missing",
            "cannot be pulled",
            "ImagePull",
        ],
    );
    assert!(err.is_retryable(), "{err}");
    assert_nothing_left(&backend.fake, "an image pull error").await;
}

/// A pod no node can take (it asks for more memory than the node has) ends the launch after the
/// unschedulable limit, with the scheduler's message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unschedulable_past_the_limit_is_a_clear_error() {
    let Some((exec, backend, programs)) = setup_with("unschedulable", |c| {
        c.with_unschedulable_limit(Duration::from_secs(2))
    })
    .await
    else {
        return;
    };
    let mut spec = programs.script("exit 0");
    spec.memory_limit_mb = Some(64 * 1024);
    let began = Instant::now();
    let err = expect_platform_error(&programs, &exec, &spec).await;
    assert!(began.elapsed() >= Duration::from_secs(2));
    assert_platform_error(&err, &["unschedulable", "Insufficient memory", "2s"]);
    assert!(err.is_retryable(), "{err}");
    assert_nothing_left(&backend.fake, "unschedulable").await;
}

/// The runtime cannot create the container: an error naming the reason and the runtime's message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_container_error_is_a_clear_error() {
    let Some((exec, backend, programs)) = setup("create_error").await else {
        return;
    };
    let mut spec = programs.script("exit 0");
    spec.image = Some(BROKEN_IMAGE.into());
    let err = expect_platform_error(&programs, &exec, &spec).await;
    assert_platform_error(&err, &["CreateContainerError", "no space left on device"]);
    assert_nothing_left(&backend.fake, "a container creation error").await;
}

async fn run_until_ready(
    exec: &KubernetesExecutor,
    programs: &TestPrograms,
    io: &RecordingIo,
    action: impl std::future::Future<Output = ()>,
) -> multiflexi_core::Result<ExitReport> {
    let spec = programs.script("echo ready; {t}sleep 1000");
    let act = async {
        assert!(
            io.wait_for_stdout(programs.patience, b"ready").await,
            "{:?}",
            io.snapshot()
        );
        action.await;
    };
    let (r, ()) = tokio::join!(launch(exec, &spec, io, CancellationToken::new()), act);
    r
}

/// Somebody deletes the Job (as `kubectl delete job` does, background propagation) while it
/// runs: a retryable error saying so, and nothing left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_deleted_from_outside_is_a_clear_error() {
    let Some((exec, backend, programs)) = setup("job_deleted").await else {
        return;
    };
    let fake = &backend.fake;
    let client = kube::Client::try_from(fake.client_config(NS)).unwrap();
    let jobs: Api<Job> = Api::namespaced(client, NS);
    let io = RecordingIo::new();
    let r = run_until_ready(&exec, &programs, &io, async {
        let name = fake.jobs()[0].metadata.name.clone().unwrap();
        jobs.delete(&name, &DeleteParams::background())
            .await
            .unwrap();
    })
    .await;
    let err = r.expect_err("the Job is gone");
    assert_platform_error(&err, &["deleted from outside", "Job multiflexi-job-"]);
    assert!(err.is_retryable());
    assert_eq!(io.snapshot().started.len(), 1);
    assert_nothing_left(fake, "the Job's deletion").await;
}

/// Somebody deletes the pod (eviction, `kubectl delete pod`): the same, naming the pod.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_deleted_from_outside_is_a_clear_error() {
    let Some((exec, backend, programs)) = setup("pod_deleted").await else {
        return;
    };
    let fake = &backend.fake;
    let client = kube::Client::try_from(fake.client_config(NS)).unwrap();
    let pods: Api<Pod> = Api::namespaced(client, NS);
    let io = RecordingIo::new();
    let r = run_until_ready(&exec, &programs, &io, async {
        let name = fake.pods()[0].metadata.name.clone().unwrap();
        pods.delete(&name, &DeleteParams::default()).await.unwrap();
    })
    .await;
    let err = r.expect_err("the pod is gone");
    assert_platform_error(&err, &["deleted from outside", "pod multiflexi-job-"]);
    assert_nothing_left(fake, "the pod's deletion").await;
}

/// No API server at all: launch and reap fail at once with retryable errors; nothing starts.
#[tokio::test]
async fn api_unreachable_is_a_retryable_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let exec = KubernetesExecutor::new(KubernetesConfig::with_client_config(kube::Config::new(
        url.parse().unwrap(),
    )));
    let mut spec = LaunchSpec::new("/bin/busybox", vec!["true".into()], "/tmp/unused");
    spec.image = Some(crate::fake_kube::IMAGE.into());
    let io = RecordingIo::new();
    let err = launch(&exec, &spec, &io, CancellationToken::new())
        .await
        .expect_err("unreachable");
    assert!(err.is_retryable(), "{err}");
    assert_platform_error(&err, &["creating Secret"]);
    assert!(io.snapshot().started.is_empty());
    let err = exec.reap("anyone").await.expect_err("unreachable");
    assert!(err.is_retryable(), "{err}");
}

/// The API server goes away while the job runs: after the request timeout the launch ends with
/// a retryable error (the engine records platform_error, -1). When it is back, the executor's
/// background cleanup deletes the Job (so the pod that still ran goes) and the Secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_lost_while_running_is_a_retryable_error() {
    let Some((exec, backend, programs)) = setup_with("api_lost", |mut c| {
        c.request_timeout = Duration::from_secs(2);
        c
    })
    .await
    else {
        return;
    };
    let io = RecordingIo::new();
    let began = Instant::now();
    let r = run_until_ready(&exec, &programs, &io, async {
        backend.fake.go_down();
    })
    .await;
    let err = r.expect_err("the API server is gone");
    assert!(err.is_retryable(), "{err}");
    assert_platform_error(&err, &["unreachable"]);
    assert!(began.elapsed() < programs.patience, "{:?}", began.elapsed());
    assert!(
        !backend.fake.objects(None).is_empty(),
        "the job is still there while the API server is away"
    );
    backend.fake.come_back().await;
    assert_nothing_left(&backend.fake, "the API server's return").await;
}

/// An executor id that is not a valid label value still works (hashed label) and reap finds
/// its objects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_executor_id_is_labelled_and_reaped() {
    let Some((exec, backend, programs)) = setup("odd_id").await else {
        return;
    };
    let io = RecordingIo::new();
    let mut spec = programs.script("echo alive; {t}sleep 1000");
    spec.executor_id = "Host Name/with:odd chars".into();
    let mut fut = exec.launch(&spec, &io, CancellationToken::new());
    tokio::select! {
        r = &mut fut => panic!("ended early: {r:?}"),
        seen = io.wait_for_stdout(programs.patience, b"alive") => assert!(seen),
    }
    std::mem::forget(fut);
    let objects = exec.objects_of(&spec.executor_id).await.unwrap();
    assert_eq!(objects.len(), 2, "{objects:?}");
    assert_eq!(exec.reap(&spec.executor_id).await.unwrap(), 2);
    assert_nothing_left(&backend.fake, "reap").await;
}

/// The Job controller's `activeDeadlineSeconds` kills the pod before the executor's own timer
/// (the cluster's clock runs ahead): still a timeout, not "deleted from outside".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_controller_deadline_is_a_timeout() {
    let options = FakeOptions {
        deadline_early: Duration::from_millis(2500),
        ..FakeOptions::default()
    };
    let Some((exec, backend, programs)) = setup_full("controller_deadline", options, |c| c).await
    else {
        return;
    };
    let io = RecordingIo::new();
    let mut spec = programs.script("echo ready; {t}sleep 1000");
    spec.timeout = Some(Duration::from_secs(4));
    let began = Instant::now();
    let report = launch(&exec, &spec, &io, CancellationToken::new())
        .await
        .expect("a timeout is a report");
    assert!(report.timed_out, "{report:?}");
    assert_eq!(report.outcome(), Outcome::Timeout);
    assert!(
        began.elapsed() < Duration::from_secs(4),
        "the controller's deadline (1.5 s) came first: {:?}",
        began.elapsed()
    );
    assert!(String::from_utf8_lossy(&io.snapshot().stdout()).contains("ready"));
    assert_nothing_left(&backend.fake, "the controller's deadline").await;
}
