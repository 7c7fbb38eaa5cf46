//! Daemons and scenarios: the real binaries started as child processes, a scenario's
//! directory, marker, database, CLI calls, waits, the final checks, and the cleanup that kills
//! whatever a scenario started (also when it fails half-way).

use crate::dockerd::{self, Ledger};
use crate::ledger::{self, Effects, Expect, Observed};
use crate::postgres::{ArtifactRow, Backend, Db, JobRow};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub const SCHEDULER: &str = env!("CARGO_BIN_EXE_multiflexi-scheduler");
pub const EXECUTOR: &str = env!("CARGO_BIN_EXE_multiflexi-executor");
pub const CLI: &str = env!("CARGO_BIN_EXE_multiflexi-cli");

/// Where scenario directories go (each named by its marker).
pub const ROOT: &str = "/tmp/multiflexi-chaos";

/// What the daemons log.
const RUST_LOG: &str = "info,sqlx=warn,sea_orm=warn";

/// A daemon process; killed (SIGKILL) when dropped if it still runs.
#[derive(Debug)]
pub struct Daemon {
    pub name: String,
    child: Child,
    out: PathBuf,
    err: PathBuf,
    /// Killed or stopped by the scenario on purpose (not expected alive at the end).
    pub ended_on_purpose: bool,
}

impl Daemon {
    fn spawn(name: &str, mut cmd: Command, dir: &Path) -> Daemon {
        let out = dir.join(format!("{name}.stdout"));
        let err = dir.join(format!("{name}.stderr"));
        cmd.stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .current_dir(dir);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Daemon {
            name: name.to_string(),
            child,
            out,
            err,
            ended_on_purpose: false,
        }
    }

    /// Its pid.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn signal(&self, signal: Signal) {
        let _ = kill(Pid::from_raw(self.pid()), signal);
    }

    /// Whether it still runs (reaps it when it exited).
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last `n` lines of its stderr and stdout.
    pub fn tail(&self, n: usize) -> String {
        let tail = |p: &Path| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        };
        format!(
            "--- {} (pid {}) stderr:\n{}\n--- {} stdout:\n{}",
            self.name,
            self.pid(),
            tail(&self.err),
            self.name,
            tail(&self.out)
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.alive() {
            self.signal(Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// A handle on a daemon of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaemonId(usize);

/// How an executor daemon is started.
#[derive(Debug, Clone)]
pub struct ExecutorCfg {
    /// `MULTIFLEXI_EXECUTOR_ID` (also the daemon's name in messages).
    pub id: String,
    /// `MULTIFLEXI_LEASE_TTL`, seconds.
    pub ttl: u64,
    /// `MULTIFLEXI_LEASE_MARGIN`, seconds.
    pub margin: u64,
    /// `MULTIFLEXI_MAX_PARALLEL`.
    pub max_parallel: usize,
    /// `MULTIFLEXI_CLAIM_AHEAD` (`None`: the daemon's default).
    pub claim_ahead: Option<usize>,
    /// Database URL instead of the scenario's (a proxy's).
    pub db_url: Option<String>,
    /// `MULTIFLEXI_WORK_DIR` instead of `<dir>/work-<id>`.
    pub work_dir: Option<PathBuf>,
    /// `MULTIFLEXI_EXECUTORS`.
    pub kinds: String,
    /// More environment.
    pub env: Vec<(String, String)>,
}

impl ExecutorCfg {
    /// Native, 2 in parallel, nothing claimed ahead, margin ttl/5 (at least 1 s).
    pub fn new(id: &str, ttl: u64) -> Self {
        Self {
            id: id.into(),
            ttl,
            margin: (ttl / 5).max(1),
            max_parallel: 2,
            claim_ahead: Some(0),
            db_url: None,
            work_dir: None,
            kinds: "Native".into(),
            env: Vec::new(),
        }
    }

    pub fn margin(mut self, secs: u64) -> Self {
        self.margin = secs;
        self
    }

    pub fn parallel(mut self, n: usize) -> Self {
        self.max_parallel = n;
        self
    }

    pub fn ahead(mut self, n: usize) -> Self {
        self.claim_ahead = Some(n);
        self
    }

    pub fn via(mut self, url: String) -> Self {
        self.db_url = Some(url);
        self
    }

    pub fn work_dir(mut self, dir: PathBuf) -> Self {
        self.work_dir = Some(dir);
        self
    }

    pub fn kinds(mut self, kinds: &str) -> Self {
        self.kinds = kinds.into();
        self
    }

    pub fn env(mut self, k: &str, v: impl ToString) -> Self {
        self.env.push((k.into(), v.to_string()));
        self
    }
}

/// How a run template is made.
#[derive(Debug, Clone)]
pub struct TemplateCfg {
    pub name: String,
    /// Runs on the Docker executor (busybox image) instead of Native.
    pub docker: bool,
    pub cron: Option<String>,
    pub delay: u32,
    pub max_retries: u32,
    pub retry_delay: u32,
    /// Template configuration (`CHAOS_*` values for scheduled jobs).
    pub config: Vec<(String, String)>,
}

impl TemplateCfg {
    /// Native, on demand, two retries after a platform fault, 1 s apart.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            docker: false,
            cron: None,
            delay: 0,
            max_retries: 2,
            retry_delay: 1,
            config: Vec::new(),
        }
    }

    pub fn docker(mut self) -> Self {
        self.docker = true;
        self
    }

    pub fn cron(mut self, cron: &str, delay: u32) -> Self {
        self.cron = Some(cron.into());
        self.delay = delay;
        self
    }

    pub fn retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    pub fn config(mut self, k: &str, v: impl ToString) -> Self {
        self.config.push((k.into(), v.to_string()));
        self
    }
}

/// One scenario: its directory (named by its marker), database, daemons and findings.
#[derive(Debug)]
pub struct Scenario {
    pub name: &'static str,
    pub marker: String,
    pub dir: PathBuf,
    pub db: Db,
    pub key: String,
    pub effects_log: PathBuf,
    daemons: Mutex<Vec<Daemon>>,
    roots: Mutex<BTreeMap<i64, String>>,
    mounts: Mutex<Vec<PathBuf>>,
    ledger: Mutex<Option<Ledger>>,
    violations: Mutex<Vec<String>>,
    app: i64,
    docker_app: Mutex<Option<i64>>,
    company: i64,
    started: Instant,
    passed: AtomicBool,
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).expect("random bytes");
    hex::encode(b)
}

/// Polls `probe` every 250 ms until it holds or `limit` passes; whether it held.
pub async fn poll<F, Fut>(limit: Duration, mut probe: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if probe().await {
            return true;
        }
        if started.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

impl Scenario {
    /// A fresh scenario: directory, job program, database (migrated by the CLI), the job app
    /// and a company.
    pub async fn new(name: &'static str, backend: Backend) -> Scenario {
        let marker = format!("mfchaos-{}-{}", name.replace('_', "-"), random_hex(3));
        let dir = Path::new(ROOT).join(&marker);
        for d in ["bin", "locks"] {
            std::fs::create_dir_all(dir.join(d)).expect("scenario directory");
        }
        let effects_log = dir.join("effects.log");
        std::fs::write(&effects_log, "").unwrap();
        let script = ledger::write_job_program(&dir.join("bin"), &effects_log, &dir.join("locks"));
        let db = Db::create(backend, &marker, &dir).await;
        let mut s = Scenario {
            name,
            marker: marker.clone(),
            dir: dir.clone(),
            db,
            key: random_hex(32),
            effects_log,
            daemons: Mutex::default(),
            roots: Mutex::default(),
            mounts: Mutex::default(),
            ledger: Mutex::default(),
            violations: Mutex::default(),
            app: 0,
            docker_app: Mutex::default(),
            company: 0,
            started: Instant::now(),
            passed: AtomicBool::new(false),
        };
        s.note(&format!(
            "directory {}, database {}",
            dir.display(),
            multiflexi_store::redact_url(&s.db.url())
        ));
        let app = serde_json::json!({
            "name": "chaos job",
            "description": "The chaos suite's job: logs start and end, holds its slot's lock",
            "executable": "/bin/sh",
            "cmdparams": format!("{} {marker}", script.display()),
            "environment": app_fields(),
            "artifacts": [{"name": "results", "path": "result-*.bin"}],
        });
        s.app = s.import_app("app-native.json", &app).await;
        s.company = id_of(
            &s.cli_ok(&["company:create", "--name", "Chaos company"])
                .await,
        );
        s
    }

    /// Prints a line with the scenario's clock.
    pub fn note(&self, line: &str) {
        eprintln!(
            "[{} +{:6.1}s] {line}",
            self.name,
            self.started.elapsed().as_secs_f64()
        );
    }

    /// Records a violation (the scenario goes on; [`Scenario::finish`] reports them all).
    pub fn violation(&self, what: impl Into<String>) {
        let what = what.into();
        self.note(&format!("VIOLATION: {what}"));
        self.violations.lock().unwrap().push(what);
    }

    /// Records a violation unless `ok`.
    pub fn check(&self, ok: bool, what: impl Into<String>) {
        if !ok {
            self.violation(what);
        }
    }

    async fn import_app(&self, file: &str, app: &Value) -> i64 {
        let path = self.dir.join(file);
        std::fs::write(&path, serde_json::to_vec_pretty(app).unwrap()).unwrap();
        let out = self
            .cli_ok(&[
                "application:import-json",
                "--file",
                &path.display().to_string(),
            ])
            .await;
        out["files"][0]["app_id"]
            .as_i64()
            .unwrap_or_else(|| panic!("import gave no app id: {out}"))
    }

    /// The Docker job app (imported on first use); starts the suite's engine and its ledger.
    pub async fn docker_app(&self) -> i64 {
        if let Some(id) = *self.docker_app.lock().unwrap() {
            return id;
        }
        dockerd::start().await;
        {
            let mut ledger = self.ledger.lock().unwrap();
            if ledger.is_none() {
                *ledger = Some(Ledger::start());
            }
        }
        let app = serde_json::json!({
            "name": "chaos docker job",
            "description": "The chaos suite's Docker job (its ledger is the engine's event stream)",
            "executable": "/bin/busybox",
            "cmdparams": format!("sh -c '{}' {}", ledger::DOCKER_SCRIPT, self.marker),
            "ociimage": dockerd::IMAGE,
            "environment": app_fields(),
        });
        let id = self.import_app("app-docker.json", &app).await;
        *self.docker_app.lock().unwrap() = Some(id);
        id
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.dir)
            .env("TMPDIR", &self.dir)
            .env("USER", "chaos")
            .env("RUST_LOG", RUST_LOG)
            .env("MULTIFLEXI_MASTER_KEY", &self.key);
        cmd
    }

    /// Runs `multiflexi-cli <args> --format json` (on the scenario's database unless `url`).
    pub async fn cli_with(
        &self,
        url: Option<&str>,
        key: &str,
        args: &[&str],
    ) -> Result<Value, String> {
        let mut cmd = tokio::process::Command::from(self.command(CLI));
        cmd.env(
            "DATABASE_URL",
            url.map_or_else(|| self.db.url(), str::to_string),
        )
        .env("MULTIFLEXI_MASTER_KEY", key)
        .current_dir(&self.dir)
        .args(args)
        .args(["--format", "json"]);
        let out = cmd.output().await.map_err(|e| format!("{CLI}: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!(
                "multiflexi-cli {} failed ({}): {}{}",
                args.join(" "),
                out.status,
                stdout,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        serde_json::from_str(&stdout).map_err(|e| {
            format!(
                "multiflexi-cli {}: not JSON ({e}): {stdout}",
                args.join(" ")
            )
        })
    }

    /// [`Scenario::cli_with`] on the scenario's database and key.
    pub async fn cli(&self, args: &[&str]) -> Result<Value, String> {
        self.cli_with(None, &self.key.clone(), args).await
    }

    /// A CLI call that must succeed (retried for 20 s while the database restarts).
    pub async fn cli_ok(&self, args: &[&str]) -> Value {
        let started = Instant::now();
        loop {
            match self.cli(args).await {
                Ok(v) => return v,
                Err(e) if started.elapsed() > Duration::from_secs(20) => self.fail(&e),
                Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
            }
        }
    }

    /// Creates a run template.
    pub async fn template(&self, t: TemplateCfg) -> i64 {
        let app = if t.docker {
            self.docker_app().await
        } else {
            self.app
        };
        let (app, company) = (app.to_string(), self.company.to_string());
        let (retries, delay, rdelay) = (
            t.max_retries.to_string(),
            t.delay.to_string(),
            t.retry_delay.to_string(),
        );
        let mut args: Vec<String> = [
            "run-template:create",
            "--name",
            &t.name,
            "--app",
            &app,
            "--company",
            &company,
            "--executor",
            if t.docker { "Docker" } else { "Native" },
            "--max-retries",
            &retries,
            "--retry-delay",
            &rdelay,
            "--delay",
            &delay,
            "--concurrency-policy",
            "forbid",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(cron) = &t.cron {
            args.extend(["--cron".to_string(), cron.clone()]);
        }
        for (k, v) in &t.config {
            args.extend(["--config".to_string(), format!("{k}={v}")]);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        id_of(&self.cli_ok(&refs).await)
    }

    /// Creates an ad-hoc job of template `rt` for slot `slot` (`CHAOS_SLOT`) with `env`.
    pub async fn job(&self, rt: i64, slot: &str, env: &[(&str, String)]) -> i64 {
        let rt = rt.to_string();
        let mut args: Vec<String> = vec![
            "job:create".into(),
            "--template".into(),
            rt,
            "--env".into(),
            format!("CHAOS_SLOT={slot}"),
        ];
        for (k, v) in env {
            args.extend(["--env".to_string(), format!("{k}={v}")]);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let id = id_of(&self.cli_ok(&refs).await);
        self.roots.lock().unwrap().insert(id, slot.to_string());
        id
    }

    /// Starts an executor daemon.
    pub fn executor(&self, cfg: ExecutorCfg) -> DaemonId {
        let work = cfg
            .work_dir
            .clone()
            .unwrap_or_else(|| self.dir.join(format!("work-{}", cfg.id)));
        let mut cmd = self.command(EXECUTOR);
        cmd.env(
            "DATABASE_URL",
            cfg.db_url.clone().unwrap_or_else(|| self.db.url()),
        )
        .env("MULTIFLEXI_EXECUTOR_ID", &cfg.id)
        // The chaos jobs write the scenario's side-effect log and lock files: they run as the
        // daemon's user (isolation has its own suite).
        .env("MULTIFLEXI_JOB_UIDS", "off")
        .env("MULTIFLEXI_LEASE_TTL", cfg.ttl.to_string())
        .env("MULTIFLEXI_LEASE_MARGIN", cfg.margin.to_string())
        .env("MULTIFLEXI_MAX_PARALLEL", cfg.max_parallel.to_string())
        .env("MULTIFLEXI_CYCLE_PAUSE", "1")
        .env("MULTIFLEXI_WORK_DIR", work)
        .env(
            "MULTIFLEXI_STATE_DIR",
            self.dir.join(format!("state-{}", cfg.id)),
        )
        .env("MULTIFLEXI_EXECUTORS", &cfg.kinds)
        .env("MULTIFLEXI_DOCKER_HOST", dockerd::SOCKET)
        .env("MULTIFLEXI_MAX_LAUNCH_FAILURES", "50")
        .env("MULTIFLEXI_STOP_GRACE", "0")
        .env("MULTIFLEXI_DB_WAIT", "300");
        if let Some(n) = cfg.claim_ahead {
            cmd.env("MULTIFLEXI_CLAIM_AHEAD", n.to_string());
        }
        for (k, v) in &cfg.env {
            cmd.env(k, v);
        }
        self.add(Daemon::spawn(&cfg.id, cmd, &self.dir))
    }

    /// Starts a scheduler daemon.
    pub fn scheduler(&self, id: &str, ttl: u64) -> DaemonId {
        let mut cmd = self.command(SCHEDULER);
        cmd.env("DATABASE_URL", self.db.url())
            .env("MULTIFLEXI_LEASE_TTL", ttl.to_string())
            .env("MULTIFLEXI_CYCLE_PAUSE", "1")
            .env("MULTIFLEXI_DB_WAIT", "300");
        self.add(Daemon::spawn(id, cmd, &self.dir))
    }

    fn add(&self, d: Daemon) -> DaemonId {
        self.note(&format!("started {} (pid {})", d.name, d.pid()));
        let mut daemons = self.daemons.lock().unwrap();
        daemons.push(d);
        DaemonId(daemons.len() - 1)
    }

    /// Which daemon has `pid`.
    pub fn daemon_name(&self, pid: i64) -> Option<String> {
        self.daemons
            .lock()
            .unwrap()
            .iter()
            .find(|d| i64::from(d.pid()) == pid)
            .map(|d| d.name.clone())
    }

    /// Whether a daemon still runs.
    pub fn alive(&self, d: DaemonId) -> bool {
        self.daemons.lock().unwrap()[d.0].alive()
    }

    /// `kill -9` (and reaps it).
    pub fn kill9(&self, d: DaemonId) {
        let mut daemons = self.daemons.lock().unwrap();
        let daemon = &mut daemons[d.0];
        daemon.signal(Signal::SIGKILL);
        let _ = daemon.child.wait();
        daemon.ended_on_purpose = true;
        self.note(&format!("kill -9 {} (pid {})", daemon.name, daemon.pid()));
    }

    /// Sends SIGTERM; `last` marks the daemon as expected to exit.
    pub fn sigterm(&self, d: DaemonId, last: bool) {
        let mut daemons = self.daemons.lock().unwrap();
        let daemon = &mut daemons[d.0];
        daemon.signal(Signal::SIGTERM);
        daemon.ended_on_purpose |= last;
        self.note(&format!("SIGTERM {} (pid {})", daemon.name, daemon.pid()));
    }

    /// Every job row (panics with context when the database cannot be read for 20 s).
    pub async fn jobs(&self) -> Vec<JobRow> {
        match self.db.jobs().await {
            Ok(j) => j,
            Err(e) => self.fail(&format!("reading jobs: {e}")),
        }
    }

    /// One job row.
    pub async fn job_row(&self, id: i64) -> JobRow {
        self.jobs()
            .await
            .into_iter()
            .find(|j| j.id == id)
            .unwrap_or_else(|| self.fail(&format!("job {id} does not exist")))
    }

    /// Every artifact row.
    pub async fn artifacts(&self) -> Vec<ArtifactRow> {
        match self.db.artifacts().await {
            Ok(a) => a,
            Err(e) => self.fail(&format!("reading artifacts: {e}")),
        }
    }

    /// The side-effect log so far.
    pub fn effects(&self) -> Effects {
        Effects::read(&self.effects_log)
    }

    /// Waits until `probe` holds; on timeout records a violation `what` and returns false.
    pub async fn wait<F, Fut>(&self, what: &str, limit: Duration, probe: F) -> bool
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let ok = poll(limit, probe).await;
        if !ok {
            self.violation(format!("TIMEOUT after {} s: {what}", limit.as_secs()));
        }
        ok
    }

    /// Waits until `probe` holds, or fails the scenario at once (a setup step).
    pub async fn must<F, Fut>(&self, what: &str, limit: Duration, probe: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        if !poll(limit, probe).await {
            self.fail(&format!(
                "gave up after {} s waiting for {what}",
                limit.as_secs()
            ));
        }
    }

    /// Waits until jobs `ids` are Running (begin recorded, or a start in the ledger).
    pub async fn must_run(&self, ids: &[i64], limit: Duration) {
        let what = format!("jobs {ids:?} to run");
        self.must(&what, limit, || async {
            let effects = self.effects();
            let containers = self.containers();
            ids.iter().all(|id| {
                !effects.starts(*id).is_empty() || containers.iter().any(|c| c.job_id == *id)
            })
        })
        .await;
    }

    /// Container runs seen by the ledger.
    pub fn containers(&self) -> Vec<dockerd::ContainerRun> {
        self.ledger
            .lock()
            .unwrap()
            .as_ref()
            .map(Ledger::runs)
            .unwrap_or_default()
    }

    /// Processes carrying the marker: `pid command`.
    pub fn marker_processes(&self) -> Vec<String> {
        let out = Command::new("pgrep")
            .args(["-a", "-f", &self.marker])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        out.lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Mounts a small tmpfs at `<dir>/<name>` and fills it (blocks and inodes).
    pub fn full_tmpfs(&self, name: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::create_dir_all(&path).unwrap();
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                "size=256k,nr_inodes=32,mode=0755",
                "tmpfs",
            ])
            .arg(&path)
            .status()
            .expect("mount");
        assert!(status.success(), "mount tmpfs on {}", path.display());
        self.mounts.lock().unwrap().push(path.clone());
        let mut i = 0;
        while std::fs::write(path.join(format!("fill-{i}")), vec![b'x'; 64 * 1024]).is_ok() {
            i += 1;
            assert!(i < 10_000, "tmpfs never filled up");
        }
        while std::fs::write(path.join(format!("inode-{i}")), b"").is_ok() {
            i += 1;
            assert!(i < 10_000, "tmpfs inodes never ran out");
        }
        path
    }

    /// Reads a Prometheus sample `name{labels}` from `addr`.
    pub async fn metric(&self, addr: &str, sample: &str) -> Option<f64> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let body = reqwest::get(format!("http://{addr}/metrics"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        body.lines()
            .find(|l| l.starts_with(sample))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    /// Records a violation unless job `id`'s stdout.txt holds every line its program printed
    /// (`job <id> line <n>` for n < `lines`): output written while the database misbehaved
    /// must not go missing.
    pub async fn check_stdout_complete(&self, id: i64, lines: usize) {
        let stdout = match self.db.artifact_content(id, "stdout.txt").await {
            Ok(b) => b,
            Err(e) => return self.violation(format!("OUTPUT LOST: job {id}: {e}")),
        };
        let text = String::from_utf8_lossy(&stdout);
        let missing: Vec<usize> = (0..lines)
            .filter(|n| !text.contains(&format!("job {id} line {n}\n")))
            .collect();
        self.check(
            missing.is_empty(),
            format!("OUTPUT LOST: stdout.txt of job {id} lacks lines {missing:?}"),
        );
    }

    /// Fails the scenario now, with context.
    pub fn fail(&self, why: &str) -> ! {
        panic!("{}: {why}\n{}", self.name, self.context())
    }

    fn context(&self) -> String {
        let mut c = String::new();
        let effects = std::fs::read_to_string(&self.effects_log).unwrap_or_default();
        let lines: Vec<&str> = effects.lines().collect();
        c.push_str(&format!(
            "--- side-effect log ({} lines, last 40):\n{}\n",
            lines.len(),
            lines[lines.len().saturating_sub(40)..].join("\n")
        ));
        for d in self.daemons.lock().unwrap().iter() {
            c.push_str(&d.tail(25));
            c.push('\n');
        }
        c.push_str(&format!("--- scenario directory: {}\n", self.dir.display()));
        c
    }

    /// Waits (at most `settle`) until every job ended, then checks the rules every scenario
    /// ends with plus the violations recorded so far; panics listing them all.
    pub async fn finish(&self, expect: Expect, settle: Duration) {
        poll(settle, || async {
            self.db
                .jobs()
                .await
                .is_ok_and(|jobs| jobs.iter().all(JobRow::ended))
        })
        .await;
        let observed = Observed {
            jobs: self.jobs().await,
            artifacts: self.artifacts().await,
            effects: self.effects(),
            containers: self.containers(),
            roots: self.roots.lock().unwrap().clone(),
        };
        let mut violations = self.violations.lock().unwrap().clone();
        violations.extend(ledger::check(&observed, expect));
        // No orphan: nothing of a job outlives it (a few seconds for teardown).
        let t = Instant::now();
        let orphans = loop {
            let found = self.marker_processes();
            if found.is_empty() || t.elapsed() > Duration::from_secs(5) {
                break found;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        for o in &orphans {
            violations.push(format!("ORPHAN process: {o}"));
        }
        if self.docker_app.lock().unwrap().is_some() {
            let t = Instant::now();
            let left = loop {
                let found = dockerd::managed_containers().await.unwrap_or_default();
                if found.is_empty() || t.elapsed() > Duration::from_secs(10) {
                    break found;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            };
            for c in &left {
                violations.push(format!("ORPHAN container: {c}"));
            }
        }
        for d in self.daemons.lock().unwrap().iter_mut() {
            if !d.ended_on_purpose && !d.alive() {
                violations.push(format!("DAEMON DIED: {} (pid {})", d.name, d.pid()));
            }
        }
        let summary = format!(
            "{} jobs, {} starts, {} ends, {} lost, {} platform_error, {} successes",
            observed.jobs.len(),
            observed.effects.of("start").count() + observed.containers.len(),
            observed.effects.of("end").count()
                + observed
                    .containers
                    .iter()
                    .filter(|c| c.die.is_some())
                    .count(),
            count(&observed.jobs, "lost"),
            count(&observed.jobs, "platform_error"),
            count(&observed.jobs, "success"),
        );
        self.note(&summary);
        if violations.is_empty() {
            self.passed.store(true, Ordering::Relaxed);
            return;
        }
        let jobs: Vec<String> = observed.jobs.iter().map(JobRow::line).collect();
        panic!(
            "{}: {} violation(s):\n  - {}\n--- jobs:\n{}\n{}",
            self.name,
            violations.len(),
            violations.join("\n  - "),
            jobs.join("\n"),
            self.context()
        );
    }
}

fn count(jobs: &[JobRow], outcome: &str) -> usize {
    jobs.iter()
        .filter(|j| j.outcome.as_deref() == Some(outcome))
        .count()
}

impl Drop for Scenario {
    fn drop(&mut self) {
        let passed = self.passed.load(Ordering::Relaxed);
        // Daemons first (their Drop kills them), then whatever their jobs left.
        self.daemons.lock().unwrap().clear();
        for _ in 0..3 {
            for line in self.marker_processes() {
                if let Some(pid) = line.split_whitespace().next().and_then(|p| p.parse().ok()) {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if self.docker_app.lock().unwrap().is_some() {
            dockerd::remove_managed_now();
        }
        self.ledger.lock().unwrap().take();
        for m in self.mounts.lock().unwrap().drain(..) {
            let _ = Command::new("umount").arg("-l").arg(&m).status();
        }
        let secs = self.started.elapsed().as_secs_f64();
        if passed {
            self.db.drop_now();
            let _ = std::fs::remove_dir_all(&self.dir);
            eprintln!("chaos: {} passed in {secs:.1} s", self.name);
        } else {
            eprintln!(
                "chaos: {} FAILED in {secs:.1} s (kept {} and its database for inspection)",
                self.name,
                self.dir.display()
            );
        }
    }
}

/// The app's fields: the `CHAOS_*` knobs with their defaults.
fn app_fields() -> Value {
    let field = |defval: &str, description: &str| {
        serde_json::json!({"type": "string", "defval": defval, "required": false,
                           "description": description, "category": "Behavior"})
    };
    serde_json::json!({
        "CHAOS_SLOT": field("sched", "slot key of an ad-hoc job"),
        "CHAOS_SECS": field("2", "seconds of work"),
        "CHAOS_EXIT": field("0", "exit code"),
        "CHAOS_MODE": field("work", "work | quiet | flood | setsid | results"),
    })
}

/// The `id` of a CLI answer.
pub fn id_of(v: &Value) -> i64 {
    v["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no id in CLI answer: {v}"))
}

/// Seconds as a `Duration`.
pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}
