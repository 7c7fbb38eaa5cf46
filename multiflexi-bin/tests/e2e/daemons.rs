//! The daemons end to end: the real `multiflexi`, `multiflexi-scheduler` and
//! `multiflexi-executor` binaries on SQLite files in temporary directories, watched through
//! `SqlStore` from the test or driven by the real `multiflexi-cli`; and the engine in process (SqlStore + NativeExecutor) running an app
//! that writes a JSON result file.
//!
//! Waits are bounded (a test fails instead of hanging); nothing asserts how long anything took.

use multiflexi_core::app_json::{parse_app, validate};
use multiflexi_core::engine::{Dispatcher, DispatcherOptions, JobRequest, Shutdown, create_job};
use multiflexi_core::store::{AccessTokens, Catalog, JobFilter, JobQueue, TokenScope};
use multiflexi_core::telemetry::{NoopTelemetry, RecordingTelemetry};
use multiflexi_core::{
    App, ArtifactSink, Company, Job, JobId, Outcome, Phase, RunTemplate, SystemClock, Trigger,
};
use multiflexi_executors::{NativeConfig, NativeExecutor};
use multiflexi_store::{MasterKey, SqlStore, SqlStoreOptions};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MULTIFLEXI: &str = env!("CARGO_BIN_EXE_multiflexi");
const SCHEDULER: &str = env!("CARGO_BIN_EXE_multiflexi-scheduler");
const EXECUTOR: &str = env!("CARGO_BIN_EXE_multiflexi-executor");
const CLI: &str = env!("CARGO_BIN_EXE_multiflexi-cli");

/// Upper bound of every wait (a stuck test fails instead of hanging CI).
const LIMIT: Duration = Duration::from_secs(120);

fn apps_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/apps")
}

/// A child process that is killed if the test fails before stopping it; its stdout and stderr
/// go to files (no pipe can fill up).
pub(crate) struct Daemon {
    name: &'static str,
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Daemon {
    pub(crate) fn spawn(name: &'static str, mut cmd: Command, dir: &Path) -> Daemon {
        let out = dir.join(format!("{name}.stdout"));
        let err = dir.join(format!("{name}.stderr"));
        cmd.stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap());
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Daemon {
            name,
            child,
            out,
            err,
        }
    }

    pub(crate) fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }

    fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub(crate) fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    pub(crate) async fn wait_exit(&mut self) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < LIMIT,
                "{} did not exit\nstdout:\n{}\nstderr:\n{}",
                self.name,
                self.stdout(),
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) fn context(&self) -> String {
        self.logs().context()
    }

    fn logs(&self) -> Logs {
        Logs(self.name, self.out.clone(), self.err.clone())
    }
}

/// Where a daemon's output goes (for failure messages, without borrowing the daemon).
#[derive(Clone)]
struct Logs(&'static str, PathBuf, PathBuf);

impl Logs {
    fn context(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "{} stdout:\n{}\n{} stderr:\n{}",
            self.0,
            read(&self.1),
            self.0,
            read(&self.2)
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A command with a clean environment: nothing of the test runner's DATABASE_URL, DB_* or
/// MULTIFLEXI_* settings leaks in.
pub(crate) fn command(program: &str, dir: &Path) -> Command {
    // Jobs run as their own users (the tests run as root): they must be able to enter the
    // test's directory to reach their work directories below it.
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711));
    // The daemons start Native jobs with the supervisor program next to them.
    crate::job_supervisor::path();
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("TMPDIR", dir)
        .current_dir(dir);
    cmd
}

/// Polls `probe` until it yields a value (bounded by [`LIMIT`]).
pub(crate) async fn wait_for<T, F, Fut>(what: &str, context: impl Fn() -> String, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            started.elapsed() < LIMIT,
            "gave up waiting for {what}\n{}",
            context()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

pub(crate) async fn open_store(db: &Path, key: MasterKey) -> SqlStore {
    SqlStore::connect(
        &sqlite_url(db),
        SqlStoreOptions::default().with_master_key(key),
    )
    .await
    .unwrap()
}

async fn job(store: &SqlStore, id: JobId) -> Job {
    store.get_job(id).await.unwrap()
}

async fn artifact(store: &SqlStore, id: JobId, name: &str) -> Option<Vec<u8>> {
    let meta = store
        .list(id)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.filename == name)?;
    Some(store.get(meta.id).await.unwrap().content)
}

async fn setup_template(store: &SqlStore, app: App, name: &str) -> RunTemplate {
    let app = store.put_app(&app).await.unwrap();
    let company = match store
        .list_companies()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.name == "Test company")
    {
        Some(c) => c,
        None => store
            .create_company(&Company::new("Test company"))
            .await
            .unwrap(),
    };
    store
        .create_runtemplate(&RunTemplate::new(app.id, company.id, name))
        .await
        .unwrap()
}

async fn start_job(store: &SqlStore, template: &RunTemplate) -> Job {
    create_job(
        store,
        &SystemClock,
        &NoopTelemetry,
        JobRequest::ad_hoc(template.id, Trigger::Cli),
    )
    .await
    .unwrap()
}

fn system_report_app() -> App {
    let bytes = std::fs::read(apps_dir().join("system-report.multiflexi.app.json")).unwrap();
    parse_app(&bytes).unwrap().app
}

/// Checks the report the system-report app wrote for `job`.
fn check_report(bytes: &[u8], job: JobId) {
    let report: serde_json::Value = serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("report.json is not JSON ({e}): {bytes:?}"));
    assert_eq!(report["job_id"], serde_json::json!(job.get()), "{report}");
    assert_eq!(report["title"], "MultiFlexi demo report", "{report}");
    let generated = report["generated"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(generated).is_ok(),
        "{report}"
    );
}

#[test]
fn demo_apps_are_valid_and_import_without_warnings() {
    let mut n = 0;
    for entry in std::fs::read_dir(apps_dir()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(validate(&bytes), [], "{}", path.display());
        let imported = parse_app(&bytes).unwrap();
        assert_eq!(imported.warnings, [], "{}", path.display());
        assert!(imported.app.uuid.is_some(), "{}: no uuid", path.display());
        n += 1;
    }
    assert_eq!(n, multiflexi_bin::daemon::demo::APPS.len());
}

/// The README quick start: `multiflexi serve --demo` in a fresh directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_on_a_fresh_directory() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut cmd = command(MULTIFLEXI, dir);
    cmd.args(["serve", "--demo", "--listen", "127.0.0.1:0", "--work-dir"])
        .arg(dir.join("jobs"))
        .env("MULTIFLEXI_EXECUTORS", "Native")
        .env(
            "MULTIFLEXI_EXECUTOR_ID",
            format!("test-serve-{}", std::process::id()),
        );
    let mut serve = Daemon::spawn("multiflexi", cmd, dir);

    let db = dir.join("multiflexi.sqlite");
    let key_file = dir.join("multiflexi.key");
    // The key file is written before the database is opened, the banner after it is migrated.
    wait_for(
        "the start-up banner",
        || serve.context(),
        || async { serve.stdout().contains("Running:").then_some(()) },
    )
    .await;
    assert!(db.exists());
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "key file mode");
    let key = MasterKey::parse(&std::fs::read_to_string(&key_file).unwrap()).unwrap();
    let banner = serve.stdout();
    assert!(
        banner.contains(&format!("Master key: created {}", key_file.display())),
        "{banner}"
    );
    assert!(
        banner.contains(&format!("Database:   {}", db.display())),
        "{banner}"
    );
    assert!(
        banner.contains("multiflexi-cli artifact:list --job N"),
        "{banner}"
    );
    // The dashboard and the API listen; the first start made an admin token, mode 0600.
    assert!(banner.contains("Dashboard:  http://127.0.0.1:"), "{banner}");
    let token_file = dir.join("multiflexi.admin-token");
    assert!(
        banner.contains(&format!(
            "Admin token: created {} (mode 0600)",
            token_file.display()
        )),
        "{banner}"
    );
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "admin token file mode");
    let secret = std::fs::read_to_string(&token_file).unwrap();
    let base = banner
        .split("Dashboard:  ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    // Signing in to the dashboard with the file's token lands on the overview.
    let web = super::server::http_client()
        .cookie_store(true)
        .build()
        .unwrap();
    let login = web.get(format!("{base}/login")).send().await.unwrap();
    assert_eq!(login.status(), 200);
    let page = login.text().await.unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no CSRF field on the login page: {page}"));
    let overview = web
        .post(format!("{base}/login"))
        .header("Origin", &base)
        .form(&[("token", secret.trim()), ("csrf", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(overview.status(), 200);
    let page = overview.text().await.unwrap();
    assert!(
        page.contains("Overview") && page.contains("admin"),
        "{page}"
    );
    // The API answers the same token; without it, 401.
    let api = format!("{base}/api/VitexSoftware/MultiFlexi/1.0.0");
    let status: serde_json::Value = web
        .get(format!("{api}/status"))
        .bearer_auth(secret.trim())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["database"], "sqlite", "{status}");
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"), "{status}");
    let denied = web.get(format!("{api}/jobs")).send().await.unwrap();
    assert_eq!(denied.status(), 401);

    let store = open_store(&db, key).await;
    let admin = store.authenticate(secret.trim()).await.unwrap().unwrap();
    assert_eq!(admin.scope, TokenScope::Admin);
    assert_eq!(store.list_tokens().await.unwrap().len(), 1);
    let done = wait_for(
        "the demo's manual job to reach Preserved",
        || serve.context(),
        || async {
            let jobs = store.list_jobs(&JobFilter::default()).await.unwrap();
            jobs.into_iter()
                .find(|j| j.trigger == Trigger::Manual && j.phase == Phase::Preserved)
        },
    )
    .await;
    assert_eq!(done.outcome, Some(Outcome::Success), "{done:?}");
    assert_eq!(done.exitcode, Some(0));
    let mut names: Vec<String> = store
        .list(done.id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.filename)
        .collect();
    names.sort();
    assert_eq!(names, ["report.json", "stderr.txt", "stdout.txt"]);
    check_report(
        &artifact(&store, done.id, "report.json").await.unwrap(),
        done.id,
    );
    // One readable line per phase: time, job, template, phase (exit code, outcome, duration).
    let prefix = format!("job {:<5} Demo: system report", done.id);
    let phases = [
        "Created",
        "Scheduled",
        "Queued",
        "Running",
        "Completed",
        "Preserved",
    ];
    let lines = wait_for(
        "the Preserved line on stdout",
        || serve.context(),
        || async {
            let out = serve.stdout();
            let lines: Vec<String> = out
                .lines()
                .filter(|l| l.contains(&prefix))
                .map(str::to_string)
                .collect();
            (lines.len() == phases.len()).then_some(lines)
        },
    )
    .await;
    for (line, phase) in lines.iter().zip(phases) {
        assert!(line.contains(phase), "{line} should be {phase}");
    }
    assert!(lines[0].ends_with("(manual)"), "{}", lines[0]);
    assert!(
        lines[5].contains("Preserved  exit 0 success"),
        "{}",
        lines[5]
    );

    serve.signal(Signal::SIGTERM);
    let status = serve.wait_exit().await;
    assert!(status.success(), "{status:?}\n{}", serve.context());
    let out = serve.stdout();
    assert!(out.contains("SIGTERM received: stopping"), "{out}");
    assert!(out.trim_end().ends_with("Stopped cleanly."), "{out}");
    // A second start keeps the token file and makes no other token.
    let mut cmd = command(MULTIFLEXI, dir);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--work-dir"])
        .arg(dir.join("jobs"))
        .env("MULTIFLEXI_EXECUTORS", "Native");
    let mut again = Daemon::spawn("multiflexi", cmd, dir);
    wait_for(
        "the second start's banner",
        || again.context(),
        || async { again.stdout().contains("Running:").then_some(()) },
    )
    .await;
    assert!(
        again
            .stdout()
            .contains(&format!("Admin token: in {}", token_file.display())),
        "{}",
        again.context()
    );
    again.signal(Signal::SIGTERM);
    assert!(again.wait_exit().await.success(), "{}", again.context());
    assert_eq!(store.list_tokens().await.unwrap().len(), 1);
    assert_eq!(std::fs::read_to_string(&token_file).unwrap(), secret);

    // Nothing on stderr but the key-file note.
    let stderr = serve.stderr();
    assert!(
        stderr
            .lines()
            .all(|l| l.starts_with("note: MULTIFLEXI_MASTER_KEY is not set; created the key file")),
        "{stderr}"
    );
}

/// Two daemons, two processes, one SQLite file (WAL): the executor runs a job created through
/// the store; the scheduler computes the next slot of a minutely template; the first SIGTERM
/// drains (a running job goes on), the second cancels it, recorded as cancelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_and_executor_daemons_share_a_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = dir.join("shared.sqlite");
    let key = MasterKey::generate();
    let store = open_store(&db, key.clone()).await;

    let echo = setup_template(
        &store,
        App::new("echo", "/bin/echo").with_cmdparams("hello from the executor daemon"),
        "echo once",
    )
    .await;
    let minutely = {
        let t = setup_template(&store, App::new("date", "/bin/date"), "date every minute").await;
        let mut t = t;
        t.interv = multiflexi_core::schedule::IntervalCode::Minutely;
        store.update_runtemplate(&t).await.unwrap()
    };
    let sleeper = setup_template(
        &store,
        App::new("sleep", "/bin/sleep").with_cmdparams("300"),
        "sleep long",
    )
    .await;
    let first = start_job(&store, &echo).await;

    let daemon = |program: &str| {
        let mut cmd = command(program, dir);
        cmd.env("DATABASE_URL", sqlite_url(&db))
            .env("MULTIFLEXI_MASTER_KEY", key.to_env_value())
            .env("MULTIFLEXI_CYCLE_PAUSE", "1")
            .env("RUST_LOG", "info");
        cmd
    };
    let mut scheduler = Daemon::spawn("multiflexi-scheduler", daemon(SCHEDULER), dir);
    let mut cmd = daemon(EXECUTOR);
    cmd.env("MULTIFLEXI_EXECUTORS", "Native")
        .env(
            "MULTIFLEXI_EXECUTOR_ID",
            format!("test-executor-{}", std::process::id()),
        )
        .env("MULTIFLEXI_WORK_DIR", dir.join("jobs"));
    let mut executor = Daemon::spawn("multiflexi-executor", cmd, dir);
    let logs = (scheduler.logs(), executor.logs());
    let context = || format!("{}\n{}", logs.0.context(), logs.1.context());

    let done = wait_for("the job to reach Preserved", context, || async {
        let j = job(&store, first.id).await;
        (j.phase == Phase::Preserved).then_some(j)
    })
    .await;
    assert_eq!(done.outcome, Some(Outcome::Success));
    assert_eq!(
        artifact(&store, first.id, "stdout.txt").await.as_deref(),
        Some(&b"hello from the executor daemon\n"[..])
    );
    assert_eq!(
        artifact(&store, first.id, "stderr.txt").await.as_deref(),
        Some(&b""[..])
    );
    wait_for("the scheduler to plan the next slot", context, || async {
        store
            .get_runtemplate(minutely.id)
            .await
            .unwrap()
            .next_schedule
    })
    .await;

    // Drain, then cancel.
    let long = start_job(&store, &sleeper).await;
    wait_for("the long job to run", context, || async {
        (job(&store, long.id).await.phase == Phase::Running).then_some(())
    })
    .await;
    executor.signal(Signal::SIGTERM);
    wait_for("the drain notice", context, || async {
        executor
            .stderr()
            .contains("SIGTERM received: stopping; no new jobs are taken, 1 running job(s)")
            .then_some(())
    })
    .await;
    assert!(executor.is_running(), "{}", executor.context());
    assert_eq!(job(&store, long.id).await.phase, Phase::Running);
    executor.signal(Signal::SIGTERM);
    let status = executor.wait_exit().await;
    assert!(status.success(), "{status:?}\n{}", executor.context());
    let cancelled = job(&store, long.id).await;
    assert_eq!(cancelled.outcome, Some(Outcome::Cancelled), "{cancelled:?}");
    assert_eq!(cancelled.phase, Phase::Preserved, "{cancelled:?}");
    assert!(
        executor.stderr().contains("cancelling 1 running job(s)"),
        "{}",
        executor.context()
    );

    scheduler.signal(Signal::SIGTERM);
    let status = scheduler.wait_exit().await;
    assert!(status.success(), "{status:?}\n{}", scheduler.context());
}

/// One SIGTERM and a short MULTIFLEXI_STOP_GRACE: the running job is cancelled when the grace
/// period ends, recorded as cancelled with its output preserved, and the daemon exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executor_cancels_running_jobs_when_the_stop_grace_ends() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = dir.join("grace.sqlite");
    let key = MasterKey::generate();
    let store = open_store(&db, key.clone()).await;
    let sleeper = setup_template(
        &store,
        App::new("sleep", "/bin/sleep").with_cmdparams("300"),
        "sleep long",
    )
    .await;
    let long = start_job(&store, &sleeper).await;
    let mut cmd = command(EXECUTOR, dir);
    cmd.env("DATABASE_URL", sqlite_url(&db))
        .env("MULTIFLEXI_MASTER_KEY", key.to_env_value())
        .env("MULTIFLEXI_EXECUTORS", "Native")
        .env(
            "MULTIFLEXI_EXECUTOR_ID",
            format!("test-grace-{}", std::process::id()),
        )
        .env("MULTIFLEXI_STOP_GRACE", "1")
        .env("RUST_LOG", "info");
    let mut executor = Daemon::spawn("multiflexi-executor", cmd, dir);
    let logs = executor.logs();
    wait_for(
        "the job to run",
        || logs.context(),
        || async { (job(&store, long.id).await.phase == Phase::Running).then_some(()) },
    )
    .await;
    executor.signal(Signal::SIGTERM);
    let status = executor.wait_exit().await;
    assert!(status.success(), "{status:?}\n{}", executor.context());
    let cancelled = job(&store, long.id).await;
    assert_eq!(cancelled.outcome, Some(Outcome::Cancelled), "{cancelled:?}");
    assert_eq!(cancelled.phase, Phase::Preserved, "{cancelled:?}");
    assert!(artifact(&store, long.id, "stdout.txt").await.is_some());
    let stderr = executor.stderr();
    assert!(
        stderr.contains("grace period over: cancelling 1 running job(s)"),
        "{stderr}"
    );
    // The default work root was private to the process and is gone.
    let pid = executor.child.id();
    assert!(!dir.join(format!("multiflexi-jobs-{pid}")).exists());
}

/// Issue 4's end-to-end case: engine + SqlStore (SQLite file) + NativeExecutor run an app that
/// writes a JSON result file; the job ends Preserved with stdout.txt, stderr.txt and the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_sqlstore_native_preserves_a_json_result_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("engine.sqlite");
    let store = Arc::new(open_store(&db, MasterKey::generate()).await);
    let template = setup_template(&store, system_report_app(), "report").await;

    let telemetry = Arc::new(RecordingTelemetry::new());
    let native = NativeExecutor::new(
        NativeConfig::default()
            .with_state_dir(dir.path().join("st"))
            .with_job_supervisor(crate::job_supervisor::path()),
    );
    let mut options = DispatcherOptions::new("engine-e2e", 2);
    options.work_root = dir.path().join("jobs");
    options.poll_interval = Duration::from_secs(1);
    let dispatcher = Dispatcher::new(
        store.clone(),
        store.clone(),
        vec![Arc::new(native)],
        telemetry.clone(),
        Arc::new(SystemClock),
        options,
    );
    // Created before the dispatcher runs: its Created event is recorded before any claim.
    let created = create_job(
        &*store,
        &SystemClock,
        &*telemetry,
        JobRequest::ad_hoc(template.id, Trigger::Manual),
    )
    .await
    .unwrap();
    let shutdown = Shutdown::new();
    let running = {
        let (d, s) = (dispatcher.clone(), shutdown.clone());
        tokio::spawn(async move { d.run(s).await })
    };
    let done = wait_for("Preserved", String::new, || async {
        let j = job(&store, created.id).await;
        (j.phase == Phase::Preserved).then_some(j)
    })
    .await;
    shutdown.drain();
    running.await.unwrap().unwrap();

    assert_eq!(done.outcome, Some(Outcome::Success), "{done:?}");
    assert_eq!(done.exitcode, Some(0));
    assert_eq!(
        telemetry.phases_of(created.id),
        [
            Phase::Created,
            Phase::Scheduled,
            Phase::Queued,
            Phase::Running,
            Phase::Completed,
            Phase::Preserved
        ]
    );
    let metas = store.list(created.id).await.unwrap();
    let mut names: Vec<&str> = metas.iter().map(|a| a.filename.as_str()).collect();
    names.sort();
    assert_eq!(names, ["report.json", "stderr.txt", "stdout.txt"]);
    let report = metas.iter().find(|a| a.filename == "report.json").unwrap();
    assert_eq!(report.content_type, "application/json");
    check_report(
        &artifact(&store, created.id, "report.json").await.unwrap(),
        created.id,
    );
    assert_eq!(
        artifact(&store, created.id, "stdout.txt").await.unwrap(),
        format!("report for job {} written to report.json\n", created.id).as_bytes()
    );
    assert_eq!(
        artifact(&store, created.id, "stderr.txt").await.unwrap(),
        b"system-report: stderr is kept apart from stdout\n"
    );
    // The work directory is gone once the job is preserved.
    let left: Vec<_> = std::fs::read_dir(dir.path().join("jobs"))
        .map(|d| d.collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

/// Bad input: one clear line on stderr, non-zero exit, no panic or debug dump.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configuration_gives_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let unreachable = "postgres://multiflexi:hunter2@127.0.0.1:1/multiflexi";
    /// Program, arguments, environment, the start of the expected line.
    type Case<'a> = (&'a str, &'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case<'_>; 7] = [
        (
            SCHEDULER,
            &["--db-wait-secs", "1"],
            &[("DATABASE_URL", unreachable), ("RUST_LOG", "off")],
            "multiflexi-scheduler: cannot reach the database postgres://multiflexi:***@127.0.0.1:1/multiflexi at 127.0.0.1:1",
        ),
        (
            EXECUTOR,
            &["--db-wait-secs", "1"],
            &[("DATABASE_URL", unreachable), ("RUST_LOG", "off")],
            "multiflexi-executor: cannot reach the database postgres://multiflexi:***@127.0.0.1:1/multiflexi at 127.0.0.1:1",
        ),
        (
            MULTIFLEXI,
            &["serve", "--demo", "--db-wait-secs", "1"],
            &[("DATABASE_URL", unreachable)],
            "multiflexi: cannot reach the database postgres://multiflexi:***@127.0.0.1:1/multiflexi at 127.0.0.1:1",
        ),
        (
            SCHEDULER,
            &[],
            &[("MULTIFLEXI_TIMEZONE", "Mars/Olympus_Mons")],
            "multiflexi-scheduler: MULTIFLEXI_TIMEZONE=\"Mars/Olympus_Mons\" is not an IANA timezone",
        ),
        (
            EXECUTOR,
            &["--executors", "Native,Azure"],
            &[],
            "multiflexi-executor: invalid Azure executor configuration: set AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP, AZURE_LOCATION; set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET",
        ),
        (
            MULTIFLEXI,
            &["serve", "--executors", "Docker"],
            &[("MULTIFLEXI_CONTAINER_USER", "nobody"), ("RUST_LOG", "off")],
            "multiflexi: MULTIFLEXI_CONTAINER_USER: \"nobody\" is not a container user; allowed: UID or UID:GID",
        ),
        (
            MULTIFLEXI,
            &["serve", "--listen", "localhost"],
            &[],
            "multiflexi: --listen / MULTIFLEXI_LISTEN=\"localhost\" is not an address; use IP:PORT",
        ),
    ];
    for (program, args, env, expected) in cases {
        let mut cmd = command(program, dir);
        cmd.args(args).envs(env.iter().copied());
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{program} {args:?}: {stderr}");
        // One line, after the logged back-off retries (if logging is on).
        let lines: Vec<&str> = stderr.lines().collect();
        let (last, retries) = lines.split_last().unwrap();
        assert!(last.starts_with(expected), "{program} {args:?}: {stderr}");
        assert!(
            retries.iter().all(|l| l.contains("not reachable yet")),
            "{program} {args:?}: {stderr}"
        );
        assert!(!stderr.contains("hunter2"), "password shown: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }

    // The database wait retries with back-off, each retry logged, before giving up.
    let mut cmd = command(SCHEDULER, dir);
    cmd.args(["--db-wait-secs", "2"])
        .env("DATABASE_URL", unreachable)
        .env("RUST_LOG", "warn");
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("not reachable yet") && stderr.contains("retrying in 1 s"),
        "{stderr}"
    );
    assert!(
        stderr
            .trim_end()
            .lines()
            .last()
            .unwrap()
            .contains("gave up after")
    );

    // No subcommand: help, non-zero.
    let out = command(MULTIFLEXI, dir).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("serve"));
    // --help lists the variables with their defaults.
    let out = command(EXECUTOR, dir).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "DATABASE_URL",
        "DB_CONNECTION",
        "MULTIFLEXI_CYCLE_PAUSE=] [default: 10]",
        "MULTIFLEXI_MAX_PARALLEL=] [default: 4]",
        "MULTIFLEXI_MEMORY_LIMIT_MB",
        "MULTIFLEXI_TIMEZONE=] [default: UTC]",
        "MULTIFLEXI_LEASE_TTL=] [default: 30]",
        "MULTIFLEXI_EXECUTOR_ID",
        "MULTIFLEXI_EXECUTORS",
        "MULTIFLEXI_DB_WAIT",
        "MULTIFLEXI_STOP_GRACE",
        "MULTIFLEXI_CLAIM_AHEAD",
    ] {
        assert!(help.contains(var), "{var} missing from --help:\n{help}");
    }
}

/// The operator's path end to end, with no store calls from the test: `multiflexi-cli` imports an
/// app, creates a company with a secret, a template and a job; the real `multiflexi-executor`
/// runs it; the CLI shows it Preserved, hands back stdout.txt byte-exact (the secret masked),
/// retries it, and cancels a running job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_commands_drive_the_executor_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = dir.join("ops.sqlite");
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
        dir.join("greet.json"),
        r#"{"name": "greet", "description": "prints a greeting", "executable": "printf",
            "cmdparams": "'%s to %s\n' {GREETING} {API_TOKEN}",
            "environment": {"GREETING": {"type": "string", "description": "what to say"},
                            "API_TOKEN": {"type": "password", "description": "a secret"}}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("nap.json"),
        r#"{"name": "nap", "description": "sleeps", "executable": "sleep", "cmdparams": "300"}"#,
    )
    .unwrap();
    cli(&["application:import-json", "--file", "greet.json"]);
    cli(&["application:import-json", "--file", "nap.json"]);
    std::fs::write(
        dir.join("three.json"),
        r#"{"name": "three", "description": "says so, exits 3", "executable": "sh",
            "cmdparams": "-c 'echo partial; echo trouble >&2; exit 3'"}"#,
    )
    .unwrap();
    cli(&["application:import-json", "--file", "three.json"]);
    let company = cli(&["company:create", "--name", "Ops"])["id"].to_string();
    let secret = "s3cr3t-value-42";
    let out = with_db(CLI)
        .args(["company:env-set", "--id", &company, "GREETING=hello"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let greet = cli(&[
        "run-template:create",
        "--name",
        "greet",
        "--app",
        "1",
        "--company",
        &company,
        "--executor",
        "Native",
        "--config",
        &format!("API_TOKEN={secret}"),
    ])["id"]
        .to_string();
    let nap = cli(&[
        "run-template:create",
        "--name",
        "nap",
        "--app",
        "2",
        "--company",
        &company,
        "--executor",
        "Native",
    ])["id"]
        .to_string();
    let first = cli(&["job:create", "--template", &greet])["id"].to_string();

    let mut cmd = with_db(EXECUTOR);
    cmd.env("MULTIFLEXI_EXECUTORS", "Native")
        .env("MULTIFLEXI_CYCLE_PAUSE", "1")
        .env(
            "MULTIFLEXI_EXECUTOR_ID",
            format!("test-cli-executor-{}", std::process::id()),
        )
        .env("MULTIFLEXI_WORK_DIR", dir.join("jobs"))
        .env("RUST_LOG", "info");
    let mut executor = Daemon::spawn("multiflexi-executor", cmd, dir);
    let preserved = |id: String| {
        let cli = &cli;
        let executor = &executor;
        async move {
            wait_for(
                "the job to reach Preserved (job:get)",
                || executor.context(),
                || {
                    let j = cli(&["job:get", &id]);
                    async move { (j["phase"] == "preserved").then_some(j) }
                },
            )
            .await
        }
    };
    let done = preserved(first.clone()).await;
    assert_eq!(done["exitcode"], 0, "{done}");
    assert_eq!(done["status"], "success", "{done}");
    // What the job used, as the Native executor measured it, stored with its completion.
    let usage = &done["usage"];
    assert!(
        usage["peak_memory_bytes"].as_u64().is_some_and(|b| b > 0),
        "{done}"
    );
    assert!(usage["cpu_time_ms"].is_u64(), "{done}");
    assert_eq!(usage["memory_limit_hit"], false, "{done}");
    let artifacts = cli(&["artifact:list", "--job", &first]);
    let stdout_id = artifacts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["filename"] == "stdout.txt")
        .map(|a| a["id"].to_string())
        .expect("stdout.txt");
    let out = with_db(CLI)
        .args(["artifact:get", &stdout_id, "--output", "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello to ***\n",
        "the secret is masked in the artifact"
    );
    let shown = cli(&["job:get", &first]).to_string();
    assert!(!shown.contains(secret), "job:get shows the secret: {shown}");

    // job:retry: a manual copy runs too, with the same frozen command.
    let retry = cli(&["job:retry", &first])["id"].to_string();
    assert_ne!(retry, first);
    let again = preserved(retry).await;
    assert_eq!(again["exitcode"], 0, "{again}");

    // job:create --wait / run-template:schedule --wait with the real executor: the job's output
    // streamed (masked) to the command's own, its exit status the command's.
    let out = with_db(CLI)
        .args([
            "job:create",
            "--template",
            &greet,
            "--wait",
            "--timeout",
            "120",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{out:?}\n{}",
        executor.context()
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello to ***\n",
        "{err}"
    );
    assert!(err.contains(": success, exit code 0"), "{err}");
    let three = cli(&[
        "run-template:create",
        "--name",
        "three",
        "--app",
        "3",
        "--company",
        &company,
        "--executor",
        "Native",
    ])["id"]
        .to_string();
    let out = with_db(CLI)
        .args([
            "run-template:schedule",
            "--id",
            &three,
            "--wait",
            "--timeout",
            "120",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{out:?}\n{}",
        executor.context()
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "partial\n", "{err}");
    assert!(err.contains("trouble"), "{err}");

    // job:cancel of a running job: the executor stops it, recorded as cancelled.
    let long = cli(&["job:create", "--template", &nap])["id"].to_string();
    wait_for(
        "the long job to run",
        || executor.context(),
        || {
            let j = cli(&["job:get", &long]);
            async move { (j["phase"] == "running").then_some(()) }
        },
    )
    .await;
    cli(&["job:cancel", &long]);
    let cancelled = preserved(long).await;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");

    executor.signal(Signal::SIGTERM);
    let status = executor.wait_exit().await;
    assert!(status.success(), "{status:?}\n{}", executor.context());
}

/// `multiflexi serve` applies the retention policies by itself (MULTIFLEXI_RETENTION_INTERVAL)
/// while a job keeps running: the finished jobs older than the policy go with their output and
/// artifacts, the running job is not touched and ends as it would (its heartbeats were never
/// held up long enough to lose it), and the run writes one audit row with its counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_applies_retention_while_jobs_keep_running() {
    use multiflexi_core::model::{RetentionPolicy, RetentionScope};
    use multiflexi_core::store::{AuditFilter, AuditLog as _, RetentionPolicies as _};
    use multiflexi_store::entity::{job, ts};
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut cmd = command(MULTIFLEXI, dir);
    cmd.args(["serve", "--listen", "off"])
        .env("MULTIFLEXI_EXECUTORS", "Native")
        .env("MULTIFLEXI_CYCLE_PAUSE", "1")
        .env("MULTIFLEXI_RETENTION_INTERVAL", "1")
        .env("MULTIFLEXI_METRICS_ADDR", "off");
    let serve = Daemon::spawn("multiflexi", cmd, dir);
    wait_for(
        "the start-up banner",
        || serve.context(),
        || async { serve.stdout().contains("Running:").then_some(()) },
    )
    .await;
    assert!(
        serve
            .stdout()
            .contains("Retention:  retention policies applied every 1 s"),
        "{}",
        serve.context()
    );
    let key =
        MasterKey::parse(&std::fs::read_to_string(dir.join("multiflexi.key")).unwrap()).unwrap();
    let store = open_store(&dir.join("multiflexi.sqlite"), key).await;
    let echo = setup_template(
        &store,
        App::new("echo", "/bin/echo").with_cmdparams("kept for a while"),
        "echo",
    )
    .await;
    let mut old = Vec::new();
    for _ in 0..12 {
        old.push(start_job(&store, &echo).await.id);
    }
    for id in &old {
        wait_for(
            &format!("job {id} to reach Preserved"),
            || serve.context(),
            || async {
                (store.get_job(*id).await.unwrap().phase == Phase::Preserved).then_some(())
            },
        )
        .await;
    }
    // They ended ten days ago, as far as the database knows.
    let ended = chrono::Utc::now() - chrono::Duration::days(10);
    job::Entity::update_many()
        .col_expr(job::Column::End, Expr::value(ts(ended)))
        .filter(job::Column::Id.is_in(old.iter().map(|j| j.get()).collect::<Vec<_>>()))
        .exec(store.connection())
        .await
        .unwrap();
    let sleeper = setup_template(
        &store,
        App::new("sleeper", "/bin/sleep").with_cmdparams("6"),
        "sleeper",
    )
    .await;
    let running = start_job(&store, &sleeper).await;
    wait_for(
        "the long job to run",
        || serve.context(),
        || async {
            (store.get_job(running.id).await.unwrap().phase == Phase::Running).then_some(())
        },
    )
    .await;
    let fresh = start_job(&store, &echo).await;

    store
        .put_retention_policy(&RetentionPolicy::new(RetentionScope::Default, 7))
        .await
        .unwrap();
    wait_for(
        "the old jobs to be deleted",
        || serve.context(),
        || async {
            let left = store.list_jobs(&JobFilter::default()).await.unwrap();
            left.iter().all(|j| !old.contains(&j.id)).then_some(())
        },
    )
    .await;
    for id in &old {
        match store.list(*id).await {
            Ok(artifacts) => assert!(artifacts.is_empty(), "artifacts of {id}"),
            Err(e) => assert!(matches!(e, multiflexi_core::Error::NotFound { .. }), "{e}"),
        }
    }
    let done = wait_for(
        "the long job to end",
        || serve.context(),
        || async {
            let j = store.get_job(running.id).await.unwrap();
            (j.phase == Phase::Preserved).then_some(j)
        },
    )
    .await;
    assert_eq!(done.outcome, Some(Outcome::Success), "{done:?}");
    let fresh = store.get_job(fresh.id).await.unwrap();
    assert!(fresh.phase.is_finished(), "the new job is kept: {fresh:?}");
    let runs: Vec<_> = store
        .list_audit(&AuditFilter::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "retention:run")
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].actor, "retention");
    assert!(runs[0].detail.contains("12 job(s)"), "{}", runs[0].detail);
}
