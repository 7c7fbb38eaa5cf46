//! Azure-specific cases: the capability set, configuration, both credentials, ARM's faults,
//! the container group as sent, deletion on every path, reaping by tags, and what ACI's text
//! log with its 4 MB window does to output.

use super::{setup, setup_with};
use crate::fake_azure::{FakeOptions, Fault, RESOURCE_GROUP, SUBSCRIPTION};
use multiflexi_core::conformance::executor::RecordingIo;
use multiflexi_core::executor::{Capabilities, Capability, LaunchSpec};
use multiflexi_core::{Executor, ExecutorKind, Outcome};
use multiflexi_executors::{AzureConfig, AzureExecutor, azure_group_name, labels};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Waits until the fake holds nothing at all (no group, no live process) and saw no problem.
async fn assert_nothing_left(backend: &super::FakeBackend, after: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = backend.fake.objects(None);
        if left.is_empty() && backend.fake.live_processes().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "left after {after}: {left:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        backend.fake.problems(),
        Vec::<String>::new(),
        "after {after}"
    );
}

#[test]
fn capabilities_are_exactly() {
    let exec = AzureExecutor::new(AzureConfig::new(
        "sub",
        "rg",
        "westeurope",
        multiflexi_executors::AzureCredential::ManagedIdentity {
            endpoint: "http://127.0.0.1:9/token".into(),
            client_id: None,
        },
    ));
    assert_eq!(exec.kind(), ExecutorKind::Azure);
    assert_eq!(
        exec.capabilities(),
        Capabilities::new([
            Capability::Streaming,
            Capability::Timeout,
            Capability::Cancel,
            Capability::EnvIsolation,
            Capability::Reap,
            Capability::Images,
        ])
    );
}

#[test]
fn refuses_to_start_without_configuration() {
    let err = AzureExecutor::from_lookup(|_| None).unwrap_err();
    let text = err.to_string();
    for var in [
        "AZURE_SUBSCRIPTION_ID",
        "AZURE_RESOURCE_GROUP",
        "AZURE_LOCATION",
        "AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET",
        "MULTIFLEXI_AZURE_MANAGED_IDENTITY_ENDPOINT",
    ] {
        assert!(text.contains(var), "{var} not named: {text}");
    }
    assert!(!err.is_retryable());
    // Where and who, but no credential: the metadata address is not assumed.
    let only_where: HashMap<&str, &str> = [
        ("AZURE_SUBSCRIPTION_ID", "sub"),
        ("AZURE_RESOURCE_GROUP", "rg"),
        ("AZURE_LOCATION", "westeurope"),
        ("AZURE_CLIENT_ID", "a-user-assigned-identity"),
    ]
    .into();
    let err = AzureExecutor::from_lookup(|k| only_where.get(k).map(|v| (*v).to_owned()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("MULTIFLEXI_AZURE_MANAGED_IDENTITY_ENDPOINT")
            && err.contains("never contacted"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_identity_token_from_the_configured_endpoint() {
    let Some((_, backend, programs)) = setup("managed_identity").await else {
        return;
    };
    let fake = &backend.fake;
    let vars: HashMap<&str, String> = [
        ("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION.to_owned()),
        ("AZURE_RESOURCE_GROUP", RESOURCE_GROUP.to_owned()),
        ("AZURE_LOCATION", "westeurope".to_owned()),
        (
            "MULTIFLEXI_AZURE_MANAGED_IDENTITY_ENDPOINT",
            fake.identity_endpoint(),
        ),
        ("MULTIFLEXI_AZURE_ARM_ENDPOINT", fake.url()),
    ]
    .into();
    let exec = AzureExecutor::from_lookup(|k| vars.get(k).cloned()).expect("configured");
    let exec = AzureExecutor::new(
        exec.config()
            .clone()
            .with_poll_interval(Duration::from_millis(200)),
    );
    let io = RecordingIo::new();
    let report = exec
        .launch(
            &programs.script("echo via-identity"),
            &io,
            CancellationToken::new(),
        )
        .await
        .expect("launch");
    assert_eq!(report.exitcode(), 0, "{:?}", io.snapshot());
    assert_eq!(show(&io.snapshot().stdout()), "via-identity\n");
    assert_eq!(fake.tokens_issued(), 1, "one token, cached");
    assert_nothing_left(&backend, "a managed identity's job").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_requests_wait_for_retry_after() {
    let Some((exec, backend, programs)) = setup("throttled").await else {
        return;
    };
    backend
        .fake
        .inject(&[Fault::Throttle(1), Fault::Throttle(1)]);
    let io = RecordingIo::new();
    let report = exec
        .launch(
            &programs.script("echo after-429"),
            &io,
            CancellationToken::new(),
        )
        .await
        .expect("429s are retried, not failures");
    assert_eq!(report.exitcode(), 0);
    assert_eq!(show(&io.snapshot().stdout()), "after-429\n");
    assert_eq!(
        backend.fake.faults_served(),
        vec![Fault::Throttle(1), Fault::Throttle(1)]
    );
    // A retry before the Retry-After would be a recorded violation.
    assert_nothing_left(&backend, "throttling").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried() {
    let Some((exec, backend, programs)) = setup("server_errors").await else {
        return;
    };
    backend
        .fake
        .inject(&[Fault::Server(500), Fault::Server(503), Fault::Server(502)]);
    let io = RecordingIo::new();
    let report = exec
        .launch(
            &programs.script("echo after-5xx; exit 3"),
            &io,
            CancellationToken::new(),
        )
        .await
        .expect("5xx answers are retried, not failures");
    assert_eq!(report.exitcode(), 3);
    assert_eq!(report.outcome(), Outcome::Failed);
    assert_eq!(show(&io.snapshot().stdout()), "after-5xx\n");
    assert_eq!(backend.fake.faults_served().len(), 3);
    assert_nothing_left(&backend, "5xx faults").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lasting_outage_is_a_retryable_platform_error() {
    let Some((exec, backend, programs)) = setup("outage").await else {
        return;
    };
    backend.fake.set_down(true);
    let io = RecordingIo::new();
    let err = exec
        .launch(
            &programs.script("echo never"),
            &io,
            CancellationToken::new(),
        )
        .await
        .expect_err("ARM answering 503 throughout is the platform's failure");
    assert!(err.is_retryable(), "{err}");
    assert!(err.to_string().contains("503"), "{err}");
    assert!(io.snapshot().started.is_empty(), "nothing may start");
    backend.fake.set_down(false);
    assert_nothing_left(&backend, "an outage").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_image_is_a_clear_retryable_error() {
    let Some((exec, backend, programs)) = setup("missing_image").await else {
        return;
    };
    let mut spec = programs.script("echo never");
    spec.image = Some("multiflexi-test/no-such-image:missing".into());
    let io = RecordingIo::new();
    let err = exec
        .launch(&spec, &io, CancellationToken::new())
        .await
        .expect_err("an image that cannot be pulled is an error");
    assert!(err.is_retryable(), "{err}");
    assert!(
        err.to_string()
            .contains("multiflexi-test/no-such-image:missing"),
        "{err}"
    );
    assert!(io.snapshot().started.is_empty());
    assert_eq!(backend.fake.deleted(), vec![azure_group_name(&spec)]);
    assert_nothing_left(&backend, "a missing image").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_container_group_is_as_documented() {
    let Some((exec, backend, programs)) = setup("documented_body").await else {
        return;
    };
    let mut spec = programs.script("exit 0");
    spec.env.push(("API_PASSWORD".into(), "s3cret".into()));
    spec.memory_limit_mb = Some(300);
    spec.runtemplate_id = multiflexi_core::RunTemplateId(5);
    let report = exec
        .launch(&spec, &RecordingIo::new(), CancellationToken::new())
        .await
        .expect("launch");
    assert_eq!(report.exitcode(), 0);
    let created = backend.fake.created();
    assert_eq!(created.len(), 1);
    let b = &created[0];
    let p = &b["properties"];
    let c = &p["containers"][0]["properties"];
    assert_eq!(p["restartPolicy"], "Never");
    assert_eq!(p["osType"], "Linux");
    assert_eq!(b["location"], "westeurope");
    assert_eq!(c["image"], crate::fake_azure::IMAGE);
    assert_eq!(c["resources"]["requests"]["memoryInGB"], 0.3);
    assert_eq!(c["resources"]["limits"]["memoryInGB"], 0.3);
    assert_eq!(c["resources"]["requests"]["cpu"], 1.0);
    let secret = c["environmentVariables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "API_PASSWORD")
        .unwrap();
    assert_eq!(secret["secureValue"], "s3cret");
    assert!(secret.get("value").is_none());
    let tags = &b["tags"];
    assert_eq!(tags[labels::JOB_ID], spec.job_id.0.to_string());
    assert_eq!(tags[labels::LEASE_TOKEN], "7");
    assert_eq!(tags[labels::EXECUTOR_ID], programs.executor_id);
    assert_eq!(tags[labels::RUNTEMPLATE_ID], "5");
    assert_eq!(backend.fake.deleted(), vec![azure_group_name(&spec)]);
    assert_nothing_left(&backend, "a documented body").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_is_deleted_on_timeout_and_cancel() {
    let Some((exec, backend, programs)) = setup("delete_paths").await else {
        return;
    };
    let mut timed = programs.script("echo up; {t}sleep 1000");
    timed.timeout = Some(Duration::from_secs(1));
    let report = exec
        .launch(&timed, &RecordingIo::new(), CancellationToken::new())
        .await
        .expect("a timeout is a report");
    assert!(report.timed_out, "{report:?}");
    assert_eq!(report.outcome(), Outcome::Timeout);

    let cancelled = programs.script("echo up; {t}sleep 1000");
    let io = RecordingIo::new();
    let cancel = CancellationToken::new();
    let drive = async {
        assert!(io.wait_for_stdout(Duration::from_secs(30), b"up\n").await);
        cancel.cancel();
    };
    let (report, ()) = tokio::join!(exec.launch(&cancelled, &io, cancel.clone()), drive);
    let report = report.expect("a cancel is a report");
    assert!(report.cancelled, "{report:?}");
    assert_eq!(
        backend.fake.deleted(),
        vec![azure_group_name(&timed), azure_group_name(&cancelled)]
    );
    assert!(backend.fake.live_processes().is_empty());
    assert_nothing_left(&backend, "timeout and cancel").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leftovers_carry_job_lease_and_executor_from_tags() {
    let Some((exec, backend, programs)) = setup("leftovers").await else {
        return;
    };
    let mut spec = programs.script("echo alive; {t}sleep 1000");
    spec.lease_token = 41;
    let io = RecordingIo::new();
    let mut fut = exec.launch(&spec, &io, CancellationToken::new());
    tokio::select! {
        r = &mut fut => panic!("ended early: {r:?}"),
        seen = io.wait_for_stdout(Duration::from_secs(30), b"alive\n") => assert!(seen),
    }
    // The executor dies: no cleanup runs.
    std::mem::forget(fut);
    let left = exec.leftovers().await.expect("leftovers");
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].job_id, spec.job_id);
    assert_eq!(left[0].lease_token, 41);
    assert_eq!(left[0].executor_id, programs.executor_id);
    assert_eq!(left[0].handle, azure_group_name(&spec));
    assert_eq!(exec.reap("some-other-executor").await.expect("reap"), 0);
    assert_eq!(exec.reap(&programs.executor_id).await.expect("reap"), 1);
    assert_nothing_left(&backend, "reaping").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_removes_the_run_it_replaces() {
    let Some((exec, backend, programs)) = setup("retry_of").await else {
        return;
    };
    let first = programs.script("echo first; {t}sleep 1000");
    let io = RecordingIo::new();
    let mut fut = exec.launch(&first, &io, CancellationToken::new());
    tokio::select! {
        r = &mut fut => panic!("ended early: {r:?}"),
        seen = io.wait_for_stdout(Duration::from_secs(30), b"first\n") => assert!(seen),
    }
    std::mem::forget(fut);
    let mut retry = programs.script("echo second");
    retry.retry_of = Some(first.job_id);
    let io = RecordingIo::new();
    let report = exec
        .launch(&retry, &io, CancellationToken::new())
        .await
        .expect("the retry runs");
    assert_eq!(report.exitcode(), 0);
    assert_eq!(
        backend.fake.deleted(),
        vec![azure_group_name(&first), azure_group_name(&retry)],
        "the run it replaces goes first"
    );
    assert_nothing_left(&backend, "a retry").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_is_text_merged_into_stdout() {
    let Some((exec, backend, programs)) = setup("text_output").await else {
        return;
    };
    let io = RecordingIo::new();
    let spec = programs.script("printf 'a\\377b\\000c\\n'; echo to-stderr >&2");
    let report = exec
        .launch(&spec, &io, CancellationToken::new())
        .await
        .expect("launch");
    assert_eq!(report.exitcode(), 0);
    let rec = io.snapshot();
    // ACI answers the log as a JSON string: invalid UTF-8 arrives replaced, NUL survives,
    // both streams in one.
    assert_eq!(show(&rec.stdout()), "a\u{fffd}b\u{0}c\nto-stderr\n");
    assert!(rec.stderr().is_empty());
    assert_nothing_left(&backend, "text output").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_beyond_the_log_window_is_said_lost() {
    let Some((exec, backend, programs)) = setup_with("log_window", FakeOptions::default(), |c| {
        c.with_poll_interval(Duration::from_secs(1))
    })
    .await
    else {
        return;
    };
    let io = RecordingIo::new();
    // About 4.7 MB of distinct lines, then a last line.
    let spec = programs.script("{t}seq 1 700000; echo end");
    let report = exec
        .launch(&spec, &io, CancellationToken::new())
        .await
        .expect("launch");
    assert_eq!(report.exitcode(), 0);
    let rec = io.snapshot();
    let out = show(&rec.stdout());
    assert!(
        out.ends_with("699999\n700000\nend\n"),
        "the end is never lost"
    );
    let complete = out.starts_with("1\n2\n3\n") && out.len() > 4_700_000;
    let said = show(&rec.stderr()).contains("output before this point was lost");
    println!(
        "{} bytes arrived; complete: {complete}; loss said: {said}",
        out.len()
    );
    assert!(
        complete || said,
        "output was lost without a word ({} bytes arrived)",
        out.len()
    );
    assert_nothing_left(&backend, "a long log").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_without_an_image_is_refused() {
    let Some((exec, backend, _)) = setup("no_image").await else {
        return;
    };
    let spec = LaunchSpec::new("/bin/true", vec![], "/nonexistent");
    let err = exec
        .launch(&spec, &RecordingIo::new(), CancellationToken::new())
        .await
        .expect_err("no image");
    assert!(err.to_string().contains("ociimage"), "{err}");
    assert!(backend.fake.requests().is_empty());
}
