//! The suite's own Docker engine (`scripts/chaos-dockerd.sh`: its own data root, exec root,
//! socket and pidfile, its own bridge without NAT, no iptables), which scenarios stop and start;
//! and the ledger of Docker jobs.
//!
//! Docker jobs cannot reach the host's files (the executor mounts nothing), and the jobs of the
//! scenarios do not use the network. So their ledger is
//! the engine's own event stream: `docker events` reports every container `start` and `die`
//! with its labels (the executor labels each container with its job id) and the exit code, in
//! the engine's order. A run of a job is the interval from its container's `start` to its
//! `die`; two runs of one slot whose intervals intersect are an overlap. Unlike polling, no
//! short overlap slips through; the stream is restarted with `--since` after the engine comes
//! back, so events are not lost across a restart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

/// The engine's API socket.
pub const SOCKET: &str = "unix:///run/multiflexi-chaos/docker.sock";
/// The label every container of a multiflexi executor carries.
pub const MANAGED_LABEL: &str = "io.multiflexi.managed=true";
/// The label with the job id.
pub const JOB_LABEL: &str = "io.multiflexi.job_id";
/// The test image (imported into this engine by the script).
pub const IMAGE: &str = "multiflexi-test/busybox:local";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/chaos-dockerd.sh")
}

async fn run_script(action: &str) -> Result<(), String> {
    let run = tokio::process::Command::new("bash")
        .arg(script())
        .arg(action)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .map_err(|_| format!("chaos-dockerd.sh {action} did not return within 90 s"))?
        .map_err(|e| format!("chaos-dockerd.sh {action}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "chaos-dockerd.sh {action} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Starts the engine (idempotent) and checks the image is there; fails, never skips.
pub async fn start() {
    run_script("start")
        .await
        .unwrap_or_else(|e| panic!("the chaos Docker engine is required: {e}"));
}

/// Stops the engine.
pub async fn stop() {
    run_script("stop")
        .await
        .unwrap_or_else(|e| panic!("stopping the chaos Docker engine: {e}"));
}

async fn docker(args: &[&str]) -> Result<String, String> {
    let out = tokio::process::Command::new("docker")
        .arg("-H")
        .arg(SOCKET)
        .args(args)
        .output()
        .await
        .map_err(|e| format!("docker {args:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Containers of multiflexi executors on the engine (running or not): `id name status`.
pub async fn managed_containers() -> Result<Vec<String>, String> {
    let out = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label={MANAGED_LABEL}"),
        "--format",
        "{{.ID}} {{.Names}} {{.Status}}",
    ])
    .await?;
    Ok(out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect())
}

/// Removes every managed container (scenario cleanup; synchronous, for `Drop`).
pub fn remove_managed_now() {
    let Ok(out) = std::process::Command::new("docker")
        .args(["-H", SOCKET, "ps", "-aq", "--filter"])
        .arg(format!("label={MANAGED_LABEL}"))
        .output()
    else {
        return;
    };
    for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        let _ = std::process::Command::new("docker")
            .args(["-H", SOCKET, "rm", "-f", id])
            .output();
    }
}

/// One container's run as the engine reported it.
#[derive(Debug, Clone)]
pub struct ContainerRun {
    pub container: String,
    pub job_id: i64,
    /// Unix time, nanoseconds.
    pub start: i128,
    /// When it died and its exit code.
    pub die: Option<(i128, i64)>,
}

/// The engine's start/die events of managed containers, collected while the scenario runs.
#[derive(Debug)]
pub struct Ledger {
    runs: Arc<Mutex<BTreeMap<String, ContainerRun>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Ledger {
    /// Follows the event stream from now on, reconnecting (with `--since` the last event seen)
    /// whenever the engine goes away.
    pub fn start() -> Ledger {
        let runs: Arc<Mutex<BTreeMap<String, ContainerRun>>> = Arc::default();
        let since = chrono::Utc::now().timestamp() - 1;
        let task = {
            let runs = runs.clone();
            tokio::spawn(async move {
                let mut since = since.to_string();
                loop {
                    let child = tokio::process::Command::new("docker")
                        .args(["-H", SOCKET, "events", "--since", &since])
                        .args(["--filter", "type=container"])
                        .args(["--filter", "event=start", "--filter", "event=die"])
                        .args(["--filter", &format!("label={MANAGED_LABEL}")])
                        .args(["--format", "{{json .}}"])
                        .stdout(std::process::Stdio::piped())
                        .stderr(std::process::Stdio::null())
                        .kill_on_drop(true)
                        .spawn();
                    if let Ok(mut child) = child {
                        let stdout = child.stdout.take().unwrap();
                        let mut lines = tokio::io::BufReader::new(stdout).lines();
                        while let Ok(Some(line)) = lines.next_line().await {
                            if let Some(at) = record(&runs, &line) {
                                // Resume from this second: duplicates are merged by id.
                                since = (at / 1_000_000_000).to_string();
                            }
                        }
                        let _ = child.wait().await;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            })
        };
        Ledger { runs, task }
    }

    /// Every container run seen so far.
    pub fn runs(&self) -> Vec<ContainerRun> {
        self.runs.lock().unwrap().values().cloned().collect()
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Folds one event line in; returns its time.
fn record(runs: &Mutex<BTreeMap<String, ContainerRun>>, line: &str) -> Option<i128> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let id = v["id"].as_str()?.to_string();
    let action = v["Action"].as_str()?;
    let at = v["timeNano"].as_i64()? as i128;
    let attrs = &v["Actor"]["Attributes"];
    let job_id: i64 = attrs[JOB_LABEL].as_str()?.parse().ok()?;
    let mut runs = runs.lock().unwrap();
    let run = runs.entry(id.clone()).or_insert(ContainerRun {
        container: id,
        job_id,
        start: at,
        die: None,
    });
    match action {
        "start" => run.start = run.start.min(at),
        "die" => {
            let code = attrs["exitCode"]
                .as_str()
                .and_then(|c| c.parse().ok())
                .unwrap_or(-1);
            run.die = Some((at, code));
        }
        _ => {}
    }
    Some(at)
}
