//! A native job dies with its executor process, even when that executor never comes back: the
//! test runs a NativeExecutor in a child process (this test binary again, in "executor" mode),
//! starts a job whose shell leaves a `setsid` grandchild behind, kills the executor process
//! with SIGKILL and waits for every process carrying the job's marker to be gone.

use multiflexi_core::conformance::executor::RecordingIo;
use multiflexi_core::executor::LaunchSpec;
use multiflexi_core::{Executor, JobId};
use multiflexi_executors::{NativeConfig, NativeExecutor};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const CHILD_MODE: &str = "MULTIFLEXI_TEST_SUPERVISOR_CHILD";

/// Pids of live (not zombie) processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit_once(") ").map(|(_, r)| r.starts_with('Z')))
            .unwrap_or(true);
        if !zombie && String::from_utf8_lossy(&cmdline).contains(marker) {
            found.push(pid);
        }
    }
    found
}

/// In the child process: run one job that never ends, until killed.
async fn run_executor(marker: &str, state: &str, work: &str) {
    let executor = NativeExecutor::new(NativeConfig::default().with_state_dir(state));
    // Each `sh -c '…; :' NAME` stays alive with NAME (the marker) in its command line.
    let script = format!(
        "setsid sh -c 'sleep 300; :' {marker}-escaped & sh -c 'sleep 300; :' {marker}-main; wait"
    );
    let mut spec = LaunchSpec::new(
        "/bin/sh",
        vec!["-c".into(), script, marker.into()],
        std::path::PathBuf::from(work),
    );
    spec.job_id = JobId(1);
    spec.executor_id = "supervisor-test".into();
    let io = RecordingIo::default();
    let r = executor.launch(&spec, &io, CancellationToken::new()).await;
    eprintln!("child executor: launch returned {r:?}");
}

#[tokio::test]
async fn native_job_dies_with_its_executor_even_when_it_never_comes_back() {
    if let Ok(marker) = std::env::var(CHILD_MODE) {
        let state = std::env::var("STATE").unwrap();
        let work = std::env::var("WORK").unwrap();
        run_executor(&marker, &state, &work).await;
        return;
    }
    let marker = format!("mf-supervisor-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let mut executor = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "native_supervisor::native_job_dies_with_its_executor_even_when_it_never_comes_back",
            "--nocapture",
        ])
        .env(CHILD_MODE, &marker)
        .env("STATE", dir.path().join("state"))
        .env("WORK", dir.path().join("work"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Both the job's main process and its setsid grandchild run.
    let started = Instant::now();
    while processes_with(&format!("{marker}-escaped")).is_empty()
        || processes_with(&format!("{marker}-main")).is_empty()
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the job did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    executor.kill().unwrap(); // SIGKILL: no clean-up code of the executor runs
    executor.wait().unwrap();
    // Without a cgroup (no permission to make one) a setsid() child escapes: only the job's
    // process group is killed then.
    let cgroup = NativeExecutor::default().cgroup_backend().is_cgroup();
    let watched = if cgroup {
        marker.clone()
    } else {
        format!("{marker}-main")
    };
    let killed = Instant::now();
    loop {
        let left = processes_with(&watched);
        if left.is_empty() {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(5),
            "processes of the job outlived its executor: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for pid in processes_with(&marker) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// The executor starts the job supervisor program with `posix_spawn`, not a forked copy of
/// itself: the job's parent runs `multiflexi-job-supervisor`, is a child of the executor's
/// process, and has an empty environment (the job's travels on the launch channel).
#[tokio::test]
async fn a_job_starts_under_the_supervisor_program_not_a_copy_of_the_executor() {
    let dir = tempfile::tempdir().unwrap();
    let executor =
        NativeExecutor::new(NativeConfig::default().with_state_dir(dir.path().join("state")));
    let supervisor = std::fs::canonicalize(env!("CARGO_BIN_EXE_multiflexi-job-supervisor"))
        .expect("the supervisor program is built with the tests");
    assert_eq!(
        executor
            .job_supervisor()
            .map(std::fs::canonicalize)
            .unwrap()
            .unwrap(),
        supervisor
    );
    let script = "readlink /proc/$PPID/exe; cut -d' ' -f4 /proc/$PPID/stat; \
                  wc -c < /proc/$PPID/environ; echo \"$MARK\"";
    let mut spec = LaunchSpec::new(
        "/bin/sh",
        vec!["-c".into(), script.into()],
        dir.path().join("work"),
    );
    spec.env = vec![("MARK".into(), "the job's own variable".into())];
    spec.job_id = JobId(2);
    spec.executor_id = "supervisor-test".into();
    let io = RecordingIo::default();
    let report = executor
        .launch(&spec, &io, CancellationToken::new())
        .await
        .unwrap();
    let out = String::from_utf8(io.snapshot().stdout()).unwrap();
    assert_eq!(
        report.termination,
        multiflexi_core::executor::Termination::Exited(0),
        "{out}"
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            supervisor.to_str().unwrap(),
            &std::process::id().to_string(),
            "0",
            "the job's own variable"
        ],
        "stderr: {}",
        String::from_utf8_lossy(&io.snapshot().stderr())
    );
}

/// Without its supervisor program a Native executor starts nothing, and says where it looked
/// and how to name the program.
#[tokio::test]
async fn a_missing_supervisor_program_fails_the_launch_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-supervisor");
    let executor = NativeExecutor::new(
        NativeConfig::default()
            .with_state_dir(dir.path().join("state"))
            .with_job_supervisor(&missing),
    );
    let mut spec = LaunchSpec::new("/bin/true", vec![], dir.path().join("work"));
    spec.job_id = JobId(3);
    let io = RecordingIo::default();
    let err = executor
        .launch(&spec, &io, CancellationToken::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&missing.display().to_string()), "{err}");
    assert!(err.contains("NativeConfig::job_supervisor"), "{err}");
    assert!(io.snapshot().started.is_empty(), "nothing was started");
}
