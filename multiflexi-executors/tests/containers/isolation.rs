//! The isolation suite (issue 15) for container jobs, on the real Docker and Podman engines: a
//! hostile tenant's job, launched by the `DockerExecutor` with its sandbox, reports its user and
//! capabilities and tries to write outside its work directory, to chown a file (a capability),
//! to fork past its pids limit and to burn CPU past its CPU-time limit. Each attempt prints
//! `DENIED <errno>` or `LEAKED`, and the test asserts the errno, so an attempt that failed for
//! the wrong reason (a bad path: ENOENT) does not pass.
//!
//! The control: the same probe in a container the engine creates with its own defaults (no
//! user, default capabilities, no `no-new-privileges`, no limits) must print `LEAKED` for every
//! attempt and non-zero capabilities, proving the probe can see a leak. The memory limit is the
//! conformance suite's `memory_limit_oom` (each backend runs it); not repeated here.
//!
//! What an engine administrator still sees (README, Security): the secrets test asserts that
//! the job's environment is in the container's configuration (`docker inspect`) and not in its
//! command line or a log.

use super::containers::{ContainerBackend, host};
use bollard::container::LogOutput;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures::StreamExt;
use multiflexi_core::ExecutorKind;
use multiflexi_core::conformance::executor::{RecordingIo, TestPrograms, finish, run};
use multiflexi_core::executor::{LaunchSpec, Termination};
use multiflexi_core::lifecycle::Outcome;
use multiflexi_core::model::ContainerSecurity;
use multiflexi_core::{Executor, JobId};
use multiflexi_executors::{DockerConfig, DockerExecutor, labels};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const EPERM: &str = "DENIED 1";
const EAGAIN: &str = "DENIED 11";
const EACCES: &str = "DENIED 13";
const EROFS: &str = "DENIED 30";
const NO_CAPS: &str = "0000000000000000";
/// `CAP_CHOWN` (bit 0) alone.
const CHOWN_ONLY: &str = "0000000000000001";
/// The pids limit of the probe jobs; the fork attempt starts 64 processes.
const PIDS_MAX: u32 = 16;

/// The probe (busybox sh): one line per fact or attempt. An attempt's error message is mapped
/// back to its errno (busybox prints `strerror`); an unknown message prints `DENIED ? <msg>`,
/// which no expectation matches. The fork attempt comes last: its sleepers are killed, but
/// zombies may hold pids until the container ends.
const PROBE: &str = r#"
B=/bin/busybox
errno() { case "$1" in
  *"Operation not permitted"*) echo 1;;
  *"Resource temporarily unavailable"*) echo 11;;
  *"Permission denied"*) echo 13;;
  *"Read-only file system"*) echo 30;;
  *) echo "? $1";;
esac; }
attempt() { n=$1; shift; if out=$("$@" 2>&1); then echo "$n LEAKED"; else echo "$n DENIED $(errno "$out")"; fi; }
status() { $B sed -n "s/^$1:[[:space:]]*//p" /proc/self/status; }
echo "uid $($B id -u)"
echo "gid $($B id -g)"
echo "cap_eff $(status CapEff)"
echo "cap_bnd $(status CapBnd)"
echo "no_new_privs $(status NoNewPrivs)"
if $B touch mine 2>/dev/null; then echo "write_work ok"; else echo "write_work failed"; fi
if $B touch /tmp/mine 2>/dev/null; then echo "write_tmp ok"; else echo "write_tmp failed"; fi
echo probe > probe.txt
attempt write_root $B touch /escaped
attempt chown $B chown 1:1 mine
forks() { i=0; while [ $i -lt 64 ]; do $B sleep 30 >/dev/null 2>&1 & i=$((i+1)); done; }
attempt fork_past_pids forks
$B killall sleep >/dev/null 2>&1
true
"#;

/// An engine under test.
#[derive(Clone, Copy)]
pub struct Engine {
    pub kind: ExecutorKind,
    pub var: &'static str,
    pub image: &'static str,
}

impl Engine {
    fn is_docker(self) -> bool {
        self.kind == ExecutorKind::Docker
    }
}

/// The executor (with `config`'s user) and test programs of one case; `None` when the engine is
/// not configured (skip).
fn harness(
    engine: Engine,
    case: &str,
    user: Option<Option<&str>>,
) -> Option<(Arc<DockerExecutor>, TestPrograms)> {
    let host = host(engine.var)?;
    let mut config = DockerConfig::new(engine.kind, host).with_kill_grace(Duration::from_secs(1));
    if let Some(user) = user {
        config = config.with_user(user.map(str::to_owned));
    }
    let exec = Arc::new(DockerExecutor::new(config));
    let id = format!(
        "isolation-{}-{case}-{}",
        engine.kind.as_str().to_ascii_lowercase(),
        std::process::id()
    );
    let programs =
        TestPrograms::busybox(engine.image, id, Arc::new(ContainerBackend(exec.clone())));
    Some((exec, programs))
}

/// `key rest` lines as a map.
fn answers(stdout: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn probe_spec(programs: &TestPrograms) -> LaunchSpec {
    let mut spec = programs.script(PROBE);
    spec.pids_max = Some(PIDS_MAX);
    spec.artifacts = vec!["probe.txt".into()];
    spec
}

/// Runs the probe; returns its answers (asserting it ran to the end and its result file came
/// back, so the work directory was writable and collectable).
async fn probe(exec: &DockerExecutor, spec: &LaunchSpec) -> BTreeMap<String, String> {
    let io = RecordingIo::new();
    let report = run(exec, spec, &io).await;
    let rec = io.snapshot();
    let out = String::from_utf8_lossy(&rec.stdout()).into_owned();
    let err = String::from_utf8_lossy(&rec.stderr()).into_owned();
    assert_eq!(
        report.termination,
        Termination::Exited(0),
        "{report:?}\nstdout: {out}\nstderr: {err}"
    );
    assert_eq!(
        rec.result_files,
        vec![("probe.txt".to_owned(), b"probe\n".to_vec())],
        "stdout: {out}\nstderr: {err}"
    );
    answers(&rec.stdout())
}

fn expect(seen: &BTreeMap<String, String>, want: &[(&str, &str)]) {
    for (key, value) in want {
        assert_eq!(
            seen.get(*key).map(String::as_str),
            Some(*value),
            "{key}: {seen:?}"
        );
    }
}

/// The default sandbox: nobody, no capabilities (bounding set empty too), no privilege gains,
/// `/` not writable (EACCES: not root), chown refused (EPERM), forks stop at the pids limit
/// (EAGAIN); the work directory is the job's own.
pub async fn default_sandbox(engine: Engine) {
    let Some((exec, programs)) = harness(engine, "default", None) else {
        return;
    };
    let seen = probe(&exec, &probe_spec(&programs)).await;
    expect(
        &seen,
        &[
            ("uid", "65534"),
            ("gid", "65534"),
            ("cap_eff", NO_CAPS),
            ("cap_bnd", NO_CAPS),
            ("no_new_privs", "1"),
            ("write_work", "ok"),
            ("write_tmp", "ok"),
            ("write_root", EACCES),
            ("chown", EPERM),
            ("fork_past_pids", EAGAIN),
        ],
    );
    finish(&programs).await;
}

/// A read-only root file system: writing `/` fails with EROFS; the work directory (a volume)
/// and `/tmp` (a tmpfs) stay writable, result files still come back.
pub async fn read_only_root(engine: Engine) {
    let Some((exec, programs)) = harness(engine, "read_only", None) else {
        return;
    };
    let mut spec = probe_spec(&programs);
    spec.container = ContainerSecurity::new().with_read_only_root_fs(true);
    let seen = probe(&exec, &spec).await;
    expect(
        &seen,
        &[
            ("uid", "65534"),
            ("write_work", "ok"),
            ("write_tmp", "ok"),
            ("write_root", EROFS),
            ("chown", EPERM),
        ],
    );
    finish(&programs).await;
}

/// An app that declares `CHOWN` gets that one capability and no other. Podman makes it
/// effective for the non-root default user; Docker only for root (for a non-root user it stays
/// in the bounding set: Docker sets no ambient capabilities), so on Docker the declared case
/// runs as `0:0` too.
pub async fn declared_capability(engine: Engine) {
    let Some((exec, programs)) = harness(engine, "declared_cap", None) else {
        return;
    };
    let mut spec = probe_spec(&programs);
    spec.container = ContainerSecurity::new()
        .with_capabilities(["CHOWN"])
        .unwrap();
    let seen = probe(&exec, &spec).await;
    let (cap_eff, chown) = if engine.is_docker() {
        (NO_CAPS, EPERM)
    } else {
        (CHOWN_ONLY, "LEAKED")
    };
    expect(
        &seen,
        &[
            ("uid", "65534"),
            ("cap_eff", cap_eff),
            ("cap_bnd", CHOWN_ONLY),
            ("no_new_privs", "1"),
            ("chown", chown),
            ("write_root", EACCES),
        ],
    );
    finish(&programs).await;

    // As root the declared capability is effective on both engines, and still the only one.
    let Some((exec, programs)) = harness(engine, "declared_cap_root", Some(Some("0:0"))) else {
        return;
    };
    let mut spec = probe_spec(&programs);
    spec.container = ContainerSecurity::new()
        .with_capabilities(["CHOWN"])
        .unwrap();
    let seen = probe(&exec, &spec).await;
    expect(
        &seen,
        &[
            ("uid", "0"),
            ("cap_eff", CHOWN_ONLY),
            ("cap_bnd", CHOWN_ONLY),
            ("no_new_privs", "1"),
            ("chown", "LEAKED"),
            ("fork_past_pids", EAGAIN),
        ],
    );
    finish(&programs).await;
}

/// The configured user: a chosen `UID:GID` gets the work directory; `image` keeps the image's
/// own user (root in the test image), still without capabilities.
pub async fn configured_user(engine: Engine) {
    let Some((exec, programs)) = harness(engine, "user", Some(Some("1234:2345"))) else {
        return;
    };
    let seen = probe(&exec, &probe_spec(&programs)).await;
    expect(
        &seen,
        &[
            ("uid", "1234"),
            ("gid", "2345"),
            ("cap_eff", NO_CAPS),
            ("write_work", "ok"),
            ("write_root", EACCES),
        ],
    );
    finish(&programs).await;

    let Some((exec, programs)) = harness(engine, "image_user", Some(None)) else {
        return;
    };
    let seen = probe(&exec, &probe_spec(&programs)).await;
    expect(
        &seen,
        &[
            ("uid", "0"),
            ("cap_eff", NO_CAPS),
            ("cap_bnd", NO_CAPS),
            ("no_new_privs", "1"),
            ("write_work", "ok"),
            ("chown", EPERM),
            ("fork_past_pids", EAGAIN),
        ],
    );
    finish(&programs).await;
}

/// A busy loop past its CPU-time limit is killed and recorded as such, well before its
/// timeout; the control without the limit runs until the timeout.
pub async fn cpu_limit(engine: Engine) {
    let Some((exec, programs)) = harness(engine, "cpu", None) else {
        return;
    };
    let mut spec = programs.script("while :; do :; done");
    spec.cpu_limit = Some(Duration::from_secs(1));
    spec.timeout = Some(Duration::from_secs(60));
    let report = run(exec.as_ref(), &spec, &RecordingIo::new()).await;
    assert!(report.cpu_limited && !report.timed_out, "{report:?}");
    assert_eq!(report.termination, Termination::Signaled(9), "{report:?}");
    assert_eq!(report.outcome(), Outcome::CpuLimit);

    let mut spec = programs.script("while :; do :; done");
    spec.timeout = Some(Duration::from_secs(3));
    let report = run(exec.as_ref(), &spec, &RecordingIo::new()).await;
    assert!(report.timed_out && !report.cpu_limited, "{report:?}");
    finish(&programs).await;
}

/// Secrets are passed as the container's environment: not in its command line, not in a log
/// (log driver `none`), but in its configuration, which anyone who may inspect containers on
/// the engine reads (as the README says).
pub async fn secrets_reach_only_the_engine(engine: Engine) {
    let Some((exec, programs)) = harness(engine, "secrets", None) else {
        return;
    };
    let secret = format!("s3cret-{}", std::process::id());
    let mut spec = programs.script("echo started; exec /bin/busybox sleep 60");
    spec.env.push(("APP_PASSWORD".into(), secret.clone()));
    let io = Arc::new(RecordingIo::new());
    let cancel = CancellationToken::new();
    let job = {
        let (exec, spec, io, cancel) = (exec.clone(), spec.clone(), io.clone(), cancel.clone());
        tokio::spawn(async move { exec.launch(&spec, io.as_ref(), cancel).await })
    };
    assert!(
        io.wait_for_stdout(Duration::from_secs(60), b"started")
            .await
    );
    let id = io.snapshot().started[0].external_id.clone().unwrap();
    let docker = exec.client().await.unwrap();
    let inspected = docker.inspect_container(&id, None).await.unwrap();
    let config = inspected.config.unwrap();
    assert!(
        config
            .env
            .unwrap_or_default()
            .contains(&format!("APP_PASSWORD={secret}")),
        "the engine administrator sees the environment"
    );
    let argv = format!("{:?} {:?}", config.entrypoint, config.cmd);
    assert!(!argv.contains(&secret), "{argv}");
    let log_driver = inspected
        .host_config
        .and_then(|h| h.log_config)
        .and_then(|l| l.typ);
    assert_eq!(log_driver.as_deref(), Some("none"));
    let mut logs = docker.logs(
        &id,
        Some(
            LogsOptionsBuilder::default()
                .stdout(true)
                .stderr(true)
                .build(),
        ),
    );
    let mut logged = Vec::new();
    while let Some(Ok(chunk)) = logs.next().await {
        logged.extend_from_slice(&chunk.into_bytes());
    }
    assert!(
        !String::from_utf8_lossy(&logged).contains("started"),
        "the engine keeps no log: {logged:?}"
    );
    cancel.cancel();
    let report = job.await.unwrap().unwrap();
    assert!(report.cancelled, "{report:?}");
    finish(&programs).await;
}

/// The control: the same probe in a container with the engine's defaults leaks everything.
pub async fn engine_defaults_leak(engine: Engine) {
    let Some((exec, programs)) = harness(engine, "control", None) else {
        return;
    };
    let docker = exec.client().await.unwrap();
    let name = format!("multiflexi-isolation-control-{}", std::process::id());
    let body = ContainerCreateBody {
        image: Some(engine.image.to_owned()),
        entrypoint: Some(vec!["/bin/busybox".into()]),
        cmd: Some(vec!["sh".into(), "-c".into(), PROBE.into()]),
        working_dir: Some("/work".into()),
        labels: Some(
            [
                (labels::MANAGED.to_owned(), "true".to_owned()),
                (labels::JOB_ID.to_owned(), JobId(0).to_string()),
                (labels::EXECUTOR_ID.to_owned(), programs.executor_id.clone()),
            ]
            .into(),
        ),
        ..Default::default()
    };
    let id = docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(&name).build()),
            body,
        )
        .await
        .unwrap()
        .id;
    // Run it and read its output; remove it whatever happened.
    let ran = async {
        docker.start_container(&id, None).await?;
        let mut wait = docker.wait_container(&id, None);
        while let Some(w) = wait.next().await {
            w?;
        }
        let mut logs = docker.logs(
            &id,
            Some(
                LogsOptionsBuilder::default()
                    .stdout(true)
                    .stderr(true)
                    .build(),
            ),
        );
        let mut out = Vec::new();
        while let Some(chunk) = logs.next().await {
            if let LogOutput::StdOut { message } = chunk? {
                out.extend_from_slice(&message);
            }
        }
        Ok::<_, bollard::errors::Error>(out)
    }
    .await;
    docker
        .remove_container(
            &id,
            Some(
                RemoveContainerOptionsBuilder::default()
                    .force(true)
                    .v(true)
                    .build(),
            ),
        )
        .await
        .unwrap();
    let out = ran.unwrap();
    let seen = answers(&out);
    expect(
        &seen,
        &[
            ("uid", "0"),
            ("no_new_privs", "0"),
            ("write_root", "LEAKED"),
            ("chown", "LEAKED"),
            ("fork_past_pids", "LEAKED"),
        ],
    );
    for key in ["cap_eff", "cap_bnd"] {
        let caps = seen.get(key).map(String::as_str);
        assert!(
            caps.is_some_and(|c| c.len() == 16 && c != NO_CAPS),
            "{key}: {seen:?}"
        );
    }
    finish(&programs).await;
}

macro_rules! isolation_tests {
    ($engine:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn default_sandbox() {
            super::default_sandbox($engine).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn read_only_root() {
            super::read_only_root($engine).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn declared_capability() {
            super::declared_capability($engine).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn configured_user() {
            super::configured_user($engine).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn cpu_limit() {
            super::cpu_limit($engine).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn secrets_reach_only_the_engine() {
            super::secrets_reach_only_the_engine($engine).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn engine_defaults_leak() {
            super::engine_defaults_leak($engine).await;
        }
    };
}

mod docker {
    use super::*;

    isolation_tests!(Engine {
        kind: ExecutorKind::Docker,
        var: "MULTIFLEXI_TEST_DOCKER_HOST",
        image: "multiflexi-test/busybox:local",
    });
}

mod podman {
    use super::*;

    isolation_tests!(Engine {
        kind: ExecutorKind::Podman,
        var: "MULTIFLEXI_TEST_PODMAN_HOST",
        image: "localhost/multiflexi-test/busybox:local",
    });
}
