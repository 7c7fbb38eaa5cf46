//! Actions after completion end to end: templates given actions by the real `multiflexi-cli`,
//! jobs run by the real `multiflexi-executor`, webhooks received by a real HTTP server in the
//! test (its signature checked independently, a 500 answered first and the delivery retried),
//! a chained job run through the daemon.

use crate::daemons::{Daemon, command, open_store, wait_for};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use multiflexi_core::model::ActionState;
use multiflexi_core::store::{ActionQueue, JobFilter, JobQueue};
use multiflexi_core::{JobId, Outcome, Phase, RunTemplateId, Trigger};
use multiflexi_store::MasterKey;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::{Arc, Mutex};

const EXECUTOR: &str = env!("CARGO_BIN_EXE_multiflexi-executor");
const CLI: &str = env!("CARGO_BIN_EXE_multiflexi-cli");

/// One delivery as received: (delivery id, signature header, body).
type Delivery = (String, Option<String>, Vec<u8>);

/// What the receiver got, in order.
#[derive(Default)]
struct Received {
    requests: Mutex<Vec<Delivery>>,
}

async fn hook(State(r): State<Arc<Received>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let mut got = r.requests.lock().unwrap();
    got.push((
        h("x-multiflexi-delivery").unwrap_or_default(),
        h("x-multiflexi-signature"),
        body.to_vec(),
    ));
    // The first delivery fails: the action must be tried again.
    if got.len() == 1 {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    }
}

/// HMAC-SHA256 written out here (RFC 2104), independent of the code under test.
fn hmac_hex(key: &[u8], msg: &[u8]) -> String {
    let mut k = [0u8; 64];
    k[..key.len()].copy_from_slice(key);
    let ipad: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x36)
        .chain(msg.iter().copied())
        .collect();
    let inner = Sha256::digest(&ipad);
    let opad: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x5c)
        .chain(inner.iter().copied())
        .collect();
    hex::encode(Sha256::digest(&opad))
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// A failing job's `on_failure` actions through the executor daemon: the webhook is delivered
/// (first answered 500, then delivered again with the same delivery id and a valid signature),
/// the `launch` creates exactly one chained job that runs with the parent's id, outcome and
/// exit code in its environment; `job:get` shows each action's state; a bad action list is
/// refused naming the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_actions_run_through_the_executor_daemon() {
    let received = Arc::new(Received::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(received.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = dir.join("actions.sqlite");
    let key = MasterKey::generate();
    let with_db = |program: &str| {
        let mut cmd = command(program, dir);
        cmd.env("DATABASE_URL", sqlite_url(&db))
            .env("MULTIFLEXI_MASTER_KEY", key.to_env_value());
        cmd
    };
    let cli = |args: &[&str]| -> serde_json::Value {
        let out = with_db(CLI)
            .args(args)
            .args(["--format", "json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
    };
    std::fs::write(
        dir.join("fail.json"),
        r#"{"name": "fail", "description": "exits 3", "executable": "sh", "cmdparams": "-c 'echo failing; exit 3'"}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("child.json"),
        r#"{"name": "child", "description": "prints its parent", "executable": "sh",
            "cmdparams": "-c 'echo parent=$MULTIFLEXI_PARENT_JOB_ID outcome=$MULTIFLEXI_PARENT_OUTCOME code=$MULTIFLEXI_PARENT_EXITCODE'"}"#,
    )
    .unwrap();
    cli(&["application:import-json", "--file", "fail.json"]);
    cli(&["application:import-json", "--file", "child.json"]);
    let company = cli(&["company:create", "--name", "Hooks"])["id"].to_string();
    let create = |name: &str, app: &str| {
        cli(&[
            "run-template:create",
            "--name",
            name,
            "--app",
            app,
            "--company",
            &company,
            "--executor",
            "Native",
        ])["id"]
            .as_i64()
            .unwrap()
    };
    let parent = create("parent", "1");
    let child = create("child", "2");
    let secret = "hook-s3cret";
    let url = format!("http://127.0.0.1:{port}/hook");

    // Refusals name the field and what is allowed.
    let out = with_db(CLI)
        .args([
            "run-template:update",
            "--id",
            &parent.to_string(),
            "--on-failure",
            r#"[{"kind":"webhook","url":"ftp://x"}]"#,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("on_failure[0].url"), "{err}");
    let out = with_db(CLI)
        .args([
            "run-template:update",
            "--id",
            &parent.to_string(),
            "--on-failure",
            "{nope",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("on_failure"));

    // One flag per action.
    let t = cli(&[
        "run-template:update",
        "--id",
        &parent.to_string(),
        "--on-failure",
        &format!(
            r#"{{"kind":"webhook","url":"{url}","secret":"{secret}","include_stdout":true,"timeout_s":5}}"#
        ),
        "--on-failure",
        &format!(r#"{{"kind":"launch","template_id":{child}}}"#),
    ]);
    let shown = t["on_failure"].to_string();
    assert!(!shown.contains(secret), "the secret is redacted: {shown}");
    assert!(shown.contains("***"), "{shown}");
    let got = cli(&["run-template:get", "--id", &parent.to_string()]);
    assert_eq!(got["on_failure"][1]["kind"], "launch");

    let job_id = cli(&["job:create", "--template", &parent.to_string()])["id"]
        .as_i64()
        .unwrap();
    let mut cmd = with_db(EXECUTOR);
    cmd.env("MULTIFLEXI_EXECUTORS", "Native")
        .env("MULTIFLEXI_CYCLE_PAUSE", "1")
        .env(
            "MULTIFLEXI_EXECUTOR_ID",
            format!("actions-executor-{}", std::process::id()),
        )
        .env("MULTIFLEXI_WORK_DIR", dir.join("jobs"))
        .env("RUST_LOG", "info");
    let executor = Daemon::spawn("multiflexi-executor", cmd, dir);
    let context = || executor.context();

    let store = open_store(&db, key.clone()).await;
    let id = JobId(job_id);
    let actions = wait_for("both actions to be done", context, || async {
        let rows = store.job_actions(id).await.unwrap();
        (rows.len() == 2 && rows.iter().all(|r| r.state == ActionState::Done)).then_some(rows)
    })
    .await;
    assert_eq!(
        actions[0].attempts, 2,
        "the webhook was tried again after the 500"
    );
    assert!(
        actions[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("HTTP 500")),
        "{actions:?}"
    );
    let parent_job = store.get_job(id).await.unwrap();
    assert_eq!(
        parent_job.outcome,
        Some(Outcome::Failed),
        "untouched by its actions"
    );
    assert_eq!(parent_job.exitcode, Some(3));

    let requests = received.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 2, "one 500, one success");
    for (delivery, signature, body) in &requests {
        assert_eq!(delivery, &format!("job-{job_id}-action-0"));
        assert_eq!(
            signature.as_deref(),
            Some(format!("sha256={}", hmac_hex(secret.as_bytes(), body)).as_str())
        );
        let v: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["job_id"], job_id);
        assert_eq!(v["runtemplate_id"], parent);
        assert_eq!(v["outcome"], "failed");
        assert_eq!(v["exitcode"], 3);
        assert_eq!(v["stdout"], "failing\n");
        assert!(
            v["artifacts_url"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/job/{job_id}/artifacts"))
        );
    }

    // The chained job ran once, with its parent in its environment.
    let chained = wait_for("the chained job to be preserved", context, || async {
        let mut filter = JobFilter::default();
        filter.runtemplate_id = Some(RunTemplateId(child));
        let jobs = store.list_jobs(&filter).await.unwrap();
        (jobs.len() == 1 && jobs[0].phase == Phase::Preserved).then(|| jobs[0].clone())
    })
    .await;
    assert_eq!(chained.trigger, Trigger::Chained);
    assert_eq!(chained.outcome, Some(Outcome::Success));
    assert_eq!(
        chained.stdout,
        format!("parent={job_id} outcome=failed code=3\n")
    );

    // job:get shows the actions.
    let shown = cli(&["job:get", "--id", &job_id.to_string()]);
    let a = shown["actions"].as_array().unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!(a[0]["kind"], "webhook");
    assert_eq!(a[0]["state"], "done");
    assert_eq!(a[0]["attempts"], 2);
    assert_eq!(a[1]["kind"], "launch");
    assert!(!a[0]["settings"].to_string().contains(secret));

    drop(executor);
    server.abort();
}

/// The receiver of [`executor_killed_during_actions`]: the first delivery never gets an answer
/// (its executor is killed meanwhile); later ones get 200.
#[derive(Default)]
struct Hanging {
    received: Received,
    first: tokio::sync::Notify,
}

async fn hanging_hook(
    State(r): State<Arc<Hanging>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let n = {
        let mut got = r.received.requests.lock().unwrap();
        got.push((
            h("x-multiflexi-delivery").unwrap_or_default(),
            h("x-multiflexi-signature"),
            body.to_vec(),
        ));
        got.len()
    };
    if n == 1 {
        r.first.notify_one();
        tokio::time::sleep(std::time::Duration::from_secs(300)).await;
    }
    StatusCode::OK
}

/// Chaos: executor A finishes a job, carries out its `launch` action and is killed with -9 in
/// the middle of delivering its webhook; executor B takes the webhook over once A's lease ran
/// out. Required: exactly one chained job; the webhook arrives again, every delivery with the
/// same delivery id and a valid signature; both actions end `done`; the job's outcome stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executor_killed_during_actions() {
    let hook = Arc::new(Hanging::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new()
        .route("/hook", post(hanging_hook))
        .with_state(hook.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = dir.join("chaos-actions.sqlite");
    let key = MasterKey::generate();
    let store = open_store(&db, key.clone()).await;
    use multiflexi_core::store::Catalog;
    let app = store
        .put_app(&multiflexi_core::App::new("fail", "/bin/false"))
        .await
        .unwrap();
    let child_app = store
        .put_app(&multiflexi_core::App::new("true", "/bin/true"))
        .await
        .unwrap();
    let company = store
        .create_company(&multiflexi_core::Company::new("Chaos hooks"))
        .await
        .unwrap();
    let child = store
        .create_runtemplate(&multiflexi_core::RunTemplate::new(
            child_app.id,
            company.id,
            "child",
        ))
        .await
        .unwrap();
    let mut parent = multiflexi_core::RunTemplate::new(app.id, company.id, "parent");
    parent.on_failure = vec![
        multiflexi_core::model::Action::Launch {
            template_id: child.id,
        },
        serde_json::from_value(serde_json::json!({
            "kind": "webhook",
            "url": format!("http://127.0.0.1:{port}/hook"),
            "secret": "k",
            "timeout_s": 120
        }))
        .unwrap(),
    ];
    let parent = store.create_runtemplate(&parent).await.unwrap();
    let job = multiflexi_core::engine::create_job(
        &store,
        &multiflexi_core::SystemClock,
        &multiflexi_core::telemetry::NoopTelemetry,
        multiflexi_core::engine::JobRequest::ad_hoc(parent.id, Trigger::Cli),
    )
    .await
    .unwrap();

    let executor = |id: &str| {
        let mut cmd = command(EXECUTOR, dir);
        cmd.env("DATABASE_URL", sqlite_url(&db))
            .env("MULTIFLEXI_MASTER_KEY", key.to_env_value())
            .env("MULTIFLEXI_EXECUTORS", "Native")
            .env("MULTIFLEXI_CYCLE_PAUSE", "1")
            .env("MULTIFLEXI_LEASE_TTL", "10")
            .env(
                "MULTIFLEXI_EXECUTOR_ID",
                format!("{id}-{}", std::process::id()),
            )
            .env("MULTIFLEXI_WORK_DIR", dir.join(id))
            .env("RUST_LOG", "info");
        cmd
    };
    let a = Daemon::spawn("executor-a", executor("exec-a"), dir);
    let waited =
        tokio::time::timeout(std::time::Duration::from_secs(60), hook.first.notified()).await;
    assert!(
        waited.is_ok(),
        "no webhook delivery from A\n{}",
        a.context()
    );
    a.signal(nix::sys::signal::Signal::SIGKILL);
    let mut a = a;
    a.wait_exit().await;
    let b = Daemon::spawn("executor-b", executor("exec-b"), dir);
    let context = || format!("{}\n{}", a.context(), b.context());
    let rows = wait_for("B to finish the actions", context, || async {
        let rows = store.job_actions(job.id).await.unwrap();
        rows.iter()
            .all(|r| r.state == ActionState::Done)
            .then_some(rows)
    })
    .await;
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0].attempts, 1,
        "the launch was done once, by A: {rows:?}"
    );
    assert!(
        rows[1].attempts >= 2,
        "the webhook was taken over: {rows:?}"
    );

    let mut filter = JobFilter::default();
    filter.runtemplate_id = Some(child.id);
    let chained = store.list_jobs(&filter).await.unwrap();
    assert_eq!(chained.len(), 1, "exactly one chained job: {chained:?}");
    assert_eq!(chained[0].trigger, Trigger::Chained);

    let requests = hook.received.requests.lock().unwrap().clone();
    assert!(requests.len() >= 2, "{requests:?}");
    for (delivery, signature, body) in &requests {
        assert_eq!(delivery, &format!("job-{}-action-1", job.id.0));
        assert_eq!(
            signature.as_deref(),
            Some(format!("sha256={}", hmac_hex(b"k", body)).as_str())
        );
    }
    let parent_job = store.get_job(job.id).await.unwrap();
    assert_eq!(
        parent_job.outcome,
        Some(Outcome::Warning),
        "untouched by its actions"
    );
    drop(b);
    server.abort();
}
