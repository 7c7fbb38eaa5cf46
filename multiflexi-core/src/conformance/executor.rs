//! Executor conformance cases: every executor (Native, Docker, Podman, Kubernetes…) runs the same
//! cases under its own test names.
//!
//! Each case is a `pub async fn(&dyn Executor, &TestPrograms)`. [`TestPrograms`] describes what the
//! backend can run (host binaries, or the busybox test image with `/bin/busybox <applet>`) and gives
//! the suite a few hooks into the backend ([`TestBackend`]): putting a file into a running job's work
//! directory (the streaming case unblocks its job that way) and listing what of a test is still
//! alive (processes, containers). A case that needs a [`Capability`] the executor lacks is a no-op
//! that prints why; each backend's test file also asserts its exact capability set, so declaring
//! fewer capabilities cannot silently skip cases.
//!
//! Expand every case into named `#[tokio::test]`s with
//! [`executor_conformance_tests!`](crate::executor_conformance_tests):
//!
//! ```ignore
//! mod native {
//!     // async fn harness(case: &'static str) -> Option<(Arc<dyn Executor>, TestPrograms)>
//!     // (None: skip, after printing why)
//!     multiflexi_core::executor_conformance_tests!(super::native_harness);
//! }
//! ```
//!
//! The backend crate needs `tokio` (macros, rt-multi-thread) among its dev-dependencies. Every case
//! gets a unique `executor_id` (passed to the harness through the case name); after the case the
//! generated test asserts that [`TestBackend::leftovers`] finds nothing of it.

mod recording;
mod usage;

pub use recording::{Recorded, RecordingIo, Stream};
pub use usage::{
    ALLOCATED, assert_measured, assert_peak_at_limit, assert_usage_shape, peak_memory_reported,
};

use crate::Result;
use crate::executor::{Capability, Executor, ExitReport, LaunchSpec, RunHandle, Termination};
use crate::ids::JobId;
use crate::lifecycle::Outcome;
use async_trait::async_trait;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Hooks into the backend that the cases need besides the [`Executor`] itself.
#[async_trait]
pub trait TestBackend: Send + Sync + fmt::Debug {
    /// Creates file `name` (relative) with `content` in the work directory of the running job
    /// `handle` of `spec` (host path for Native, inside the container for Docker/Podman).
    async fn put_file(
        &self,
        spec: &LaunchSpec,
        handle: &RunHandle,
        name: &str,
        content: &[u8],
    ) -> Result<()>;

    /// What is left of the jobs launched with this `executor_id` (live processes, containers,
    /// Kubernetes Jobs): one description each; empty when nothing survives.
    async fn leftovers(&self, executor_id: &str) -> Result<Vec<String>>;
}

/// What a backend can run, for the cases to build their jobs from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TestPrograms {
    /// argv that starts a POSIX shell (without `-c`): `["/bin/sh"]`, or
    /// `["/bin/busybox", "sh"]` in the busybox image.
    pub sh: Vec<String>,
    /// Prefix put before external utilities inside scripts: `""` (found in PATH on the host) or
    /// `"/bin/busybox "` (applets of the busybox image).
    pub tools: String,
    /// argv that prints the environment one `NAME=value` per line, without a shell:
    /// `["/usr/bin/env"]` or `["/bin/busybox", "env"]`.
    pub env: Vec<String>,
    /// An existing path that cannot be executed (a directory or a non-executable file), if any.
    pub not_executable: Option<String>,
    /// The image jobs run in (container executors).
    pub image: Option<String>,
    /// Variables the engine itself puts into every job (Docker: `HOSTNAME`; Podman also `TERM`,
    /// `container`): not the daemon's, so not a leak even when the test process has the same
    /// value.
    pub engine_env: Vec<String>,
    /// The executor id put on every spec of this case; unique per case, so that leftovers and
    /// `reap` are scoped to the case.
    pub executor_id: String,
    /// Host directory under which the cases create per-job work directories.
    pub work_root: PathBuf,
    /// How long a case waits for what should come promptly (start, a line, the end after a kill).
    pub patience: Duration,
    /// Backend hooks.
    pub backend: Arc<dyn TestBackend>,
}

impl TestPrograms {
    /// Programs for a backend that runs host binaries (Debian/Ubuntu layout).
    pub fn host(executor_id: impl Into<String>, backend: Arc<dyn TestBackend>) -> Self {
        let executor_id = executor_id.into();
        Self {
            sh: vec!["/bin/sh".into()],
            tools: String::new(),
            env: vec!["/usr/bin/env".into()],
            not_executable: Some("/etc/passwd".into()),
            image: None,
            engine_env: Vec::new(),
            work_root: std::env::temp_dir().join(format!("multiflexi-conformance-{executor_id}")),
            executor_id,
            patience: Duration::from_secs(30),
            backend,
        }
    }

    /// Programs for a container backend running `image` built from busybox-static
    /// (`/bin/busybox` and nothing else).
    pub fn busybox(
        image: impl Into<String>,
        executor_id: impl Into<String>,
        backend: Arc<dyn TestBackend>,
    ) -> Self {
        let executor_id = executor_id.into();
        Self {
            sh: vec!["/bin/busybox".into(), "sh".into()],
            tools: "/bin/busybox ".into(),
            env: vec!["/bin/busybox".into(), "env".into()],
            not_executable: Some("/bin".into()),
            image: Some(image.into()),
            engine_env: vec!["HOSTNAME".into()],
            work_root: std::env::temp_dir().join(format!("multiflexi-conformance-{executor_id}")),
            executor_id,
            patience: Duration::from_secs(60),
            backend,
        }
    }

    /// A spec for `program args` with a fresh work directory, a unique job id, this case's
    /// executor id and image, and the marker variable `MULTIFLEXI_CONFORMANCE_RUN=<executor_id>`.
    pub fn spec(&self, program: &str, args: &[&str]) -> LaunchSpec {
        static NEXT: AtomicI64 = AtomicI64::new(1);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        // Unique across concurrently running test binaries too: pid in the high digits.
        let job_id = i64::from(std::process::id()) * 100_000 + n;
        let work_dir = self.work_root.join(format!("job-{job_id}"));
        let mut spec = LaunchSpec::new(
            program,
            args.iter().map(|a| (*a).to_owned()).collect(),
            work_dir,
        );
        spec.job_id = JobId(job_id);
        spec.lease_token = 7;
        spec.executor_id = self.executor_id.clone();
        spec.image = self.image.clone();
        spec.env = vec![(MARKER_VAR.into(), self.executor_id.clone())];
        spec
    }

    /// A spec running `script` with the shell; `{t}` in it becomes [`TestPrograms::tools`] and
    /// `{sh}` the shell's argv joined by spaces.
    pub fn script(&self, script: &str) -> LaunchSpec {
        let script = self.expand(script);
        let mut args: Vec<&str> = self.sh[1..].iter().map(String::as_str).collect();
        args.push("-c");
        args.push(&script);
        self.spec(&self.sh[0], &args)
    }

    /// Replaces `{t}` and `{sh}` in `script`.
    pub fn expand(&self, script: &str) -> String {
        script
            .replace("{t}", &self.tools)
            .replace("{sh}", &self.sh.join(" "))
    }
}

/// The variable every conformance job gets (`<executor_id>`), by which leftovers of a case can
/// be found (Native scans `/proc/*/environ` for it).
pub const MARKER_VAR: &str = "MULTIFLEXI_CONFORMANCE_RUN";

/// The variable the suite puts into the test process's own environment (the "daemon"), which no
/// job may see.
pub const DAEMON_SECRET_VAR: &str = "MULTIFLEXI_CONFORMANCE_DAEMON_SECRET";

/// The longest any single launch may take before the case fails instead of hanging.
pub const LAUNCH_LIMIT: Duration = Duration::from_secs(180);

#[allow(unsafe_code)]
fn set_daemon_secret() -> String {
    static ONCE: std::sync::Once = std::sync::Once::new();
    let value = format!("daemon-secret-{}", std::process::id());
    ONCE.call_once(|| {
        // SAFETY: set once per process (guarded by `Once`), before this case launches anything.
        // Every environment access of the test binary goes through std's env lock (std::env,
        // std::process::Command); no foreign code reads `environ` concurrently in these tests.
        unsafe { std::env::set_var(DAEMON_SECRET_VAR, &value) };
    });
    value
}

/// Prints why a case is skipped and returns true when `exec` lacks one of `caps`.
pub fn lacks(exec: &dyn Executor, case: &str, caps: &[Capability]) -> bool {
    let have = exec.capabilities();
    let missing: Vec<Capability> = caps.iter().copied().filter(|c| !have.has(*c)).collect();
    if missing.is_empty() {
        false
    } else {
        println!(
            "skipping {case}: executor {} lacks {missing:?} (it declares {have:?})",
            exec.kind()
        );
        true
    }
}

/// Launches `spec`, failing the test (instead of hanging) after [`LAUNCH_LIMIT`]. Every report
/// carries the job's resource usage or the reason it is unknown ([`assert_usage_shape`]).
pub async fn launch(
    exec: &dyn Executor,
    spec: &LaunchSpec,
    io: &RecordingIo,
    cancel: CancellationToken,
) -> Result<ExitReport> {
    match tokio::time::timeout(LAUNCH_LIMIT, exec.launch(spec, io, cancel)).await {
        Ok(r) => r.inspect(|report| assert_usage_shape(report, &spec.program)),
        Err(_) => panic!("launch of {spec:?} did not return within {LAUNCH_LIMIT:?}"),
    }
}

/// Launches `spec` and expects a report (not an error).
pub async fn run(exec: &dyn Executor, spec: &LaunchSpec, io: &RecordingIo) -> ExitReport {
    launch(exec, spec, io, CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("launch of {:?} failed: {e}", spec.program))
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_started_once(rec: &Recorded, case: &str) {
    assert_eq!(
        rec.started.len(),
        1,
        "{case}: `started` must be reported exactly once, got {:?}",
        rec.started
    );
    let h = &rec.started[0];
    assert!(
        h.pid.is_some() || h.external_id.is_some(),
        "{case}: the started handle names neither a pid nor an external id: {h:?}"
    );
    assert!(
        !rec.output_before_started,
        "{case}: output arrived before `started`"
    );
}

fn assert_exit(report: &ExitReport, code: i32, rec: &Recorded, case: &str) {
    assert_eq!(
        report.exitcode(),
        code,
        "{case}: report {report:?}\nstdout: {}\nstderr: {}",
        show(&rec.stdout()),
        show(&rec.stderr())
    );
    assert!(
        !report.timed_out && !report.cancelled && !report.oom,
        "{case}: {report:?}"
    );
}

/// After a case: nothing of it may be left (processes, containers). Retries briefly, since a
/// killed process may take a moment to go.
pub async fn finish(programs: &TestPrograms) {
    let deadline = Instant::now() + programs.patience;
    loop {
        let left = programs
            .backend
            .leftovers(&programs.executor_id)
            .await
            .unwrap_or_else(|e| panic!("listing leftovers failed: {e}"));
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "left behind by executor id {}: {left:?}",
            programs.executor_id
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = tokio::fs::remove_dir_all(&programs.work_root).await;
}

/// `exit 0`: started once, exit code 0, outcome success; resource usage exactly when declared
/// (else the reason).
pub async fn exit_zero(exec: &dyn Executor, programs: &TestPrograms) {
    let io = RecordingIo::new();
    let spec = programs.script("exit 0");
    let report = run(exec, &spec, &io).await;
    let rec = io.snapshot();
    assert_started_once(&rec, "exit_zero");
    assert_exit(&report, 0, &rec, "exit_zero");
    assert_eq!(report.termination, Termination::Exited(0));
    assert_eq!(report.outcome(), Outcome::Success);
    assert_measured(exec, &report, "exit_zero");
}

/// `exit 3`: a non-zero exit is a report (outcome failed), not an error.
pub async fn exit_three(exec: &dyn Executor, programs: &TestPrograms) {
    let io = RecordingIo::new();
    let report = run(exec, &programs.script("exit 3"), &io).await;
    let rec = io.snapshot();
    assert_started_once(&rec, "exit_three");
    assert_exit(&report, 3, &rec, "exit_three");
    assert_eq!(report.termination, Termination::Exited(3));
    assert_eq!(report.outcome(), Outcome::Failed);
    assert_measured(exec, &report, "exit_three");
}

/// A program that does not exist ends with 127 and the reason on stderr (absolute path and a
/// bare name looked up in PATH alike).
pub async fn missing_binary_127(exec: &dyn Executor, programs: &TestPrograms) {
    for program in [
        "/nonexistent/multiflexi-conformance-missing",
        "multiflexi-conformance-missing",
    ] {
        let io = RecordingIo::new();
        let report = run(exec, &programs.spec(program, &["arg"]), &io).await;
        let rec = io.snapshot();
        assert_exit(&report, 127, &rec, "missing_binary_127");
        assert_eq!(report.outcome(), Outcome::NotFound);
        assert!(
            !rec.stderr().is_empty(),
            "missing_binary_127: the reason must be on stderr ({program})"
        );
        assert!(rec.started.len() <= 1, "{:?}", rec.started);
    }
}

/// A path that exists but cannot be executed ends with 126 and the reason on stderr.
pub async fn not_executable_126(exec: &dyn Executor, programs: &TestPrograms) {
    let Some(path) = &programs.not_executable else {
        println!("skipping not_executable_126: the backend names no non-executable path");
        return;
    };
    let io = RecordingIo::new();
    let report = run(exec, &programs.spec(path, &[]), &io).await;
    let rec = io.snapshot();
    assert_exit(&report, 126, &rec, "not_executable_126");
    assert_eq!(report.outcome(), Outcome::NotExecutable);
    assert!(
        !rec.stderr().is_empty(),
        "not_executable_126: no reason on stderr"
    );
}

/// The job sees PATH, HOME, LANG, TZ and its own variables; nothing of the daemon's environment.
pub async fn env_isolated(exec: &dyn Executor, programs: &TestPrograms) {
    if lacks(exec, "env_isolated", &[Capability::EnvIsolation]) {
        return;
    }
    let secret = set_daemon_secret();
    let io = RecordingIo::new();
    let args: Vec<&str> = programs.env[1..].iter().map(String::as_str).collect();
    let mut spec = programs.spec(&programs.env[0], &args);
    spec.timezone = "Europe/Prague".into();
    spec.env.push((
        "MULTIFLEXI_JOB_VISIBLE".into(),
        "a value with spaces = and ; and 'quotes'".into(),
    ));
    spec.env.push(("LANG".into(), "cs_CZ.UTF-8".into()));
    let report = run(exec, &spec, &io).await;
    let rec = io.snapshot();
    assert_started_once(&rec, "env_isolated");
    assert_exit(&report, 0, &rec, "env_isolated");
    let out = show(&rec.stdout());
    let job_env: Vec<(&str, &str)> = out.lines().filter_map(|l| l.split_once('=')).collect();
    let get = |k: &str| job_env.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
    assert_eq!(
        get("MULTIFLEXI_JOB_VISIBLE"),
        Some("a value with spaces = and ; and 'quotes'"),
        "{out}"
    );
    assert_eq!(
        get(MARKER_VAR),
        Some(programs.executor_id.as_str()),
        "{out}"
    );
    let base = LaunchSpec::new("", vec![], "").process_env("");
    let default_path = base
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str());
    assert_eq!(get("PATH"), default_path, "{out}");
    assert_eq!(get("LANG"), Some("cs_CZ.UTF-8"), "job env wins: {out}");
    assert_eq!(get("TZ"), Some("Europe/Prague"), "{out}");
    assert!(get("HOME").is_some_and(|h| !h.is_empty()), "{out}");
    assert_eq!(
        get(DAEMON_SECRET_VAR),
        None,
        "the daemon's variable leaked: {out}"
    );
    assert!(!out.contains(&secret), "the daemon's secret leaked: {out}");
    let own: Vec<String> = spec.process_env("").into_iter().map(|(k, _)| k).collect();
    for (k, v) in std::env::vars() {
        if own.contains(&k) || programs.engine_env.contains(&k) || v.is_empty() {
            continue;
        }
        assert!(
            get(&k) != Some(v.as_str()),
            "the daemon's {k}={v} leaked into the job: {out}"
        );
    }
}

/// An argument with spaces, quotes, `$`, backticks and `; rm -rf /` arrives as one literal argument.
pub async fn argument_is_literal(exec: &dyn Executor, programs: &TestPrograms) {
    let weird = r#"two  spaces 'single' "double" $HOME `id` $(id) * ; rm -rf / && echo pwned | é"#;
    let io = RecordingIo::new();
    let script = "printf '[%s]' \"$@\"; printf '<%d>' $#";
    let mut args: Vec<&str> = programs.sh[1..].iter().map(String::as_str).collect();
    args.extend(["-c", script, "argv0", weird]);
    let report = run(exec, &programs.spec(&programs.sh[0], &args), &io).await;
    let rec = io.snapshot();
    assert_started_once(&rec, "argument_is_literal");
    assert_exit(&report, 0, &rec, "argument_is_literal");
    assert_eq!(show(&rec.stdout()), format!("[{weird}]<1>"));
}

/// stdout and stderr arrive on their own streams, each in order.
pub async fn streams_separate_and_ordered(exec: &dyn Executor, programs: &TestPrograms) {
    let io = RecordingIo::new();
    let spec = programs.script(
        "echo out-1; echo err-1 >&2; echo out-2; {t}sleep 0.2; echo err-2 >&2; echo out-3; exit 0",
    );
    let report = run(exec, &spec, &io).await;
    let rec = io.snapshot();
    assert_started_once(&rec, "streams_separate_and_ordered");
    assert_exit(&report, 0, &rec, "streams_separate_and_ordered");
    if exec.capabilities().has(Capability::SeparateStreams) {
        assert_eq!(show(&rec.stdout()), "out-1\nout-2\nout-3\n");
        assert_eq!(show(&rec.stderr()), "err-1\nerr-2\n");
    } else {
        let all = show(&rec.stdout()) + &show(&rec.stderr());
        for line in ["out-1", "out-2", "out-3", "err-1", "err-2"] {
            assert!(all.contains(line), "{line} missing from {all}");
        }
    }
}

/// The job prints a line and then blocks until the test has seen that line through `JobIo` (the
/// test then puts a file into the job's work directory, which the job waits for). An executor
/// that buffers output until the end fails this case (the job gives up and exits 9).
pub async fn streaming(exec: &dyn Executor, programs: &TestPrograms) {
    if lacks(exec, "streaming", &[Capability::Streaming]) {
        return;
    }
    let io = RecordingIo::new();
    let spec = programs.script(
        "echo first-line; i=0; while [ ! -f release ]; do i=$((i+1)); \
         if [ $i -gt 600 ]; then echo 'never released' >&2; exit 9; fi; {t}sleep 0.1; done; \
         echo second-line",
    );
    let drive = async {
        assert!(
            io.wait_for_stdout(programs.patience, b"first-line\n").await,
            "streaming: the first line did not arrive while the job ran: {:?}",
            io.snapshot()
        );
        let handle = io.snapshot().started.first().cloned().expect("started");
        let seen_lines = show(&io.snapshot().stdout());
        assert!(
            !seen_lines.contains("second-line"),
            "job ran past its block"
        );
        programs
            .backend
            .put_file(&spec, &handle, "release", b"go\n")
            .await
            .unwrap_or_else(|e| panic!("putting the release file failed: {e}"));
    };
    let (report, ()) = tokio::join!(run(exec, &spec, &io), drive);
    let rec = io.snapshot();
    assert_started_once(&rec, "streaming");
    assert_exit(&report, 0, &rec, "streaming");
    assert_eq!(show(&rec.stdout()), "first-line\nsecond-line\n");
}

/// 50 MiB on stdout: every byte arrives, in bounded chunks (the recording side only counts).
/// Without [`Capability::SeparateStreams`] (Kubernetes) both streams arrive merged. Needs
/// [`Capability::LosslessOutput`] (Azure's log API keeps only the last 4 MB).
pub async fn large_output_bounded(exec: &dyn Executor, programs: &TestPrograms) {
    if lacks(exec, "large_output_bounded", &[Capability::LosslessOutput]) {
        return;
    }
    const SIZE: u64 = 50 * 1024 * 1024;
    let io = RecordingIo::counting();
    let spec = programs.script(&format!(
        "{{t}}head -c {SIZE} /dev/zero; echo done-on-stderr >&2"
    ));
    let report = run(exec, &spec, &io).await;
    let rec = io.snapshot();
    assert_started_once(&rec, "large_output_bounded");
    assert_exit(&report, 0, &rec, "large_output_bounded");
    let err_len = "done-on-stderr\n".len() as u64;
    if exec.capabilities().has(Capability::SeparateStreams) {
        assert_eq!(rec.stdout_bytes, SIZE, "every byte of stdout must arrive");
        assert_eq!(rec.stderr_bytes, err_len);
    } else {
        assert_eq!(
            rec.stdout_bytes + rec.stderr_bytes,
            SIZE + err_len,
            "every byte of the merged output must arrive"
        );
    }
    assert!(
        rec.max_chunk <= 4 * 1024 * 1024,
        "output must be pushed in bounded chunks as it arrives; largest chunk was {} bytes",
        rec.max_chunk
    );
    assert!(rec.output_calls >= 13, "{} output calls", rec.output_calls);
}

/// A timeout stops the job, including a grandchild that ignores SIGTERM; reported as timed out,
/// and nothing of the job survives.
pub async fn timeout_kills_process_group(exec: &dyn Executor, programs: &TestPrograms) {
    if lacks(exec, "timeout_kills_process_group", &[Capability::Timeout]) {
        return;
    }
    let io = RecordingIo::new();
    let mut spec = programs.script(
        "{sh} -c \"trap '' TERM; echo grandchild-ready; {t}sleep 1000\" & \
         echo parent-ready; wait; echo parent-after-wait; {t}sleep 1000",
    );
    spec.timeout = Some(Duration::from_secs(2));
    let began = Instant::now();
    let report = run(exec, &spec, &io).await;
    let took = began.elapsed();
    let rec = io.snapshot();
    assert_started_once(&rec, "timeout_kills_process_group");
    assert!(report.timed_out, "{report:?}");
    assert!(!report.cancelled, "{report:?}");
    assert_eq!(report.outcome(), Outcome::Timeout);
    assert_ne!(report.exitcode(), 0, "{report:?}");
    assert!(
        took < Duration::from_secs(2) + programs.patience,
        "took {took:?} to time out"
    );
    assert!(show(&rec.stdout()).contains("parent-ready"), "{rec:?}");
    assert_measured(exec, &report, "timeout_kills_process_group");
    // `finish` (run by the generated test after every case) asserts that nothing survives.
}

/// Cancellation stops a running job promptly; reported as cancelled.
pub async fn cancel_stops_job(exec: &dyn Executor, programs: &TestPrograms) {
    if lacks(exec, "cancel_stops_job", &[Capability::Cancel]) {
        return;
    }
    let io = RecordingIo::new();
    let spec = programs.script("echo ready; {t}sleep 1000");
    let cancel = CancellationToken::new();
    let drive = async {
        assert!(
            io.wait_for_stdout(programs.patience, b"ready\n").await,
            "cancel_stops_job: job never got ready: {:?}",
            io.snapshot()
        );
        cancel.cancel();
        Instant::now()
    };
    let (report, cancelled_at) = tokio::join!(launch(exec, &spec, &io, cancel.clone()), drive);
    let report = report.expect("cancel is a report, not an error");
    let took = cancelled_at.elapsed();
    assert!(report.cancelled, "{report:?}");
    assert!(!report.timed_out, "{report:?}");
    assert_eq!(report.outcome(), Outcome::Cancelled);
    assert!(took < programs.patience, "took {took:?} after cancel");
    assert_started_once(&io.snapshot(), "cancel_stops_job");
    assert_measured(exec, &report, "cancel_stops_job");
}

/// Files matching the artifact patterns and the `RESULT_FILE` are handed over with their relative
/// names and exact bytes; other files are not.
pub async fn result_files_collected(exec: &dyn Executor, programs: &TestPrograms) {
    if lacks(exec, "result_files_collected", &[Capability::ResultFiles]) {
        return;
    }
    let io = RecordingIo::new();
    let mut spec = programs.script(
        "printf '{\"ok\":true}\\n' > report.json; {t}mkdir -p reports deep/er; \
         printf 'a,b\\n1,2\\n' > reports/r.csv; printf 'no' > deep/er/x.csv; \
         printf 'ignored' > notes.txt; printf 'bin\\000\\377\\001' > result.bin",
    );
    spec.artifacts = vec!["*.json".into(), "reports/*.csv".into()];
    spec.env.push(("RESULT_FILE".into(), "result.bin".into()));
    let report = run(exec, &spec, &io).await;
    let rec = io.snapshot();
    assert_started_once(&rec, "result_files_collected");
    assert_exit(&report, 0, &rec, "result_files_collected");
    let mut files = rec.result_files.clone();
    files.sort();
    let expected: Vec<(String, Vec<u8>)> = vec![
        ("report.json".into(), b"{\"ok\":true}\n".to_vec()),
        ("reports/r.csv".into(), b"a,b\n1,2\n".to_vec()),
        ("result.bin".into(), b"bin\x00\xff\x01".to_vec()),
    ];
    assert_eq!(files, expected);
}

/// NUL and invalid UTF-8 bytes pass through untouched, on both streams. Needs
/// [`Capability::LosslessOutput`] (Azure's log API answers text).
pub async fn binary_output_passthrough(exec: &dyn Executor, programs: &TestPrograms) {
    if lacks(
        exec,
        "binary_output_passthrough",
        &[Capability::LosslessOutput],
    ) {
        return;
    }
    let io = RecordingIo::new();
    let spec =
        programs.script("printf 'a\\000b\\377\\376\\nc\\200\\300end'; printf '\\000\\377x\\n' >&2");
    let report = run(exec, &spec, &io).await;
    let rec = io.snapshot();
    assert_started_once(&rec, "binary_output_passthrough");
    assert_exit(&report, 0, &rec, "binary_output_passthrough");
    if exec.capabilities().has(Capability::SeparateStreams) {
        assert_eq!(rec.stdout(), b"a\x00b\xff\xfe\nc\x80\xc0end".to_vec());
        assert_eq!(rec.stderr(), b"\x00\xffx\n".to_vec());
    } else {
        // Merged (Kubernetes): the two writes in the order they were made.
        assert_eq!(
            [rec.stdout(), rec.stderr()].concat(),
            b"a\x00b\xff\xfe\nc\x80\xc0end\x00\xffx\n".to_vec()
        );
    }
}

/// An executor dies while its job runs (its launch future is leaked: no cleanup code runs);
/// `reap` with its executor id removes what it left behind.
pub async fn reap_after_executor_death(exec: &dyn Executor, programs: &TestPrograms) {
    if lacks(exec, "reap_after_executor_death", &[Capability::Reap]) {
        return;
    }
    let io = RecordingIo::new();
    let spec = programs.script("echo alive; {t}sleep 1000");
    let mut fut = exec.launch(&spec, &io, CancellationToken::new());
    tokio::select! {
        r = &mut fut => panic!("the job ended before the executor died: {r:?}"),
        seen = io.wait_for_stdout(programs.patience, b"alive\n") => {
            assert!(seen, "the job never printed: {:?}", io.snapshot());
        }
    }
    // The executor "dies": none of its cleanup (drop guards included) runs.
    std::mem::forget(fut);
    let left = programs
        .backend
        .leftovers(&programs.executor_id)
        .await
        .expect("leftovers");
    assert!(
        !left.is_empty(),
        "a dead executor's job should still be there"
    );
    let removed = exec.reap(&programs.executor_id).await.expect("reap");
    assert!(removed >= 1, "reap removed {removed}");
    assert_eq!(
        exec.reap("multiflexi-conformance-nobody")
            .await
            .expect("reap"),
        0,
        "reap of an executor id with nothing left removes nothing"
    );
    // `finish` asserts that nothing is left.
}

/// A job above its memory limit is killed and reported as oom (the limit was hit), with a peak
/// near the limit where the executor reports usage.
pub async fn memory_limit_oom(exec: &dyn Executor, programs: &TestPrograms) {
    if lacks(exec, "memory_limit_oom", &[Capability::MemoryLimit]) {
        return;
    }
    let io = RecordingIo::new();
    let mut spec = programs
        .script("x=$({t}head -c 536870912 /dev/zero | {t}tr '\\000' a); echo survived ${#x}");
    spec.memory_limit_mb = Some(32);
    let report = run(exec, &spec, &io).await;
    let rec = io.snapshot();
    assert_started_once(&rec, "memory_limit_oom");
    assert!(
        report.oom,
        "{report:?}\nstdout: {}\nstderr: {}",
        show(&rec.stdout()),
        show(&rec.stderr())
    );
    assert_eq!(report.outcome(), Outcome::Oom);
    assert!(!show(&rec.stdout()).contains("survived"));
    assert_peak_at_limit(exec, &report, 32 << 20);
}

/// A job that starts more processes than `pids_max` allows is refused the extra forks (EAGAIN:
/// the shell reports it cannot fork) while the processes it already has keep running.
pub async fn pids_limit_refuses_fork(exec: &dyn Executor, programs: &TestPrograms) {
    if lacks(exec, "pids_limit_refuses_fork", &[Capability::PidsLimit]) {
        return;
    }
    let io = RecordingIo::new();
    // Each background sleep is one more process; the eighth cannot be forked with 6 allowed.
    let mut spec = programs.script(
        "i=0; while [ $i -lt 8 ]; do {t}sleep 30 & i=$((i+1)); echo started $i; done; echo all started",
    );
    spec.pids_max = Some(6);
    spec.timeout = Some(programs.patience);
    let report = run(exec, &spec, &io).await;
    let rec = io.snapshot();
    assert_started_once(&rec, "pids_limit_refuses_fork");
    let (out, err) = (show(&rec.stdout()), show(&rec.stderr()));
    assert!(
        !out.contains("all started"),
        "{report:?}\nstdout: {out}\nstderr: {err}"
    );
    assert!(
        out.contains("started 1"),
        "the first forks succeed: {out}\nstderr: {err}"
    );
    assert!(
        err.to_ascii_lowercase().contains("fork")
            || err.contains("Resource temporarily unavailable"),
        "the shell says why: {err}"
    );
    assert!(!report.timed_out, "{report:?}");
}

/// A job that uses up its CPU-time budget is killed and reported as `cpu_limit`.
pub async fn cpu_limit_kills(exec: &dyn Executor, programs: &TestPrograms) {
    if lacks(exec, "cpu_limit_kills", &[Capability::CpuTimeLimit]) {
        return;
    }
    let io = RecordingIo::new();
    let mut spec = programs.script("echo spinning; while :; do :; done");
    spec.cpu_limit = Some(Duration::from_secs(1));
    spec.timeout = Some(programs.patience);
    let report = run(exec, &spec, &io).await;
    let rec = io.snapshot();
    assert_started_once(&rec, "cpu_limit_kills");
    assert!(show(&rec.stdout()).contains("spinning"));
    assert!(report.cpu_limited && !report.timed_out, "{report:?}");
    assert_eq!(report.outcome(), Outcome::CpuLimit);
    let used = report.cpu_time.unwrap_or_default();
    assert!(
        used >= Duration::from_millis(900),
        "killed before its budget: {used:?}"
    );
}

/// Expands every executor conformance case into a named `#[tokio::test]`.
///
/// `$harness` is a path to `async fn(case: &'static str) -> Option<(Arc<dyn Executor>, TestPrograms)>`;
/// it returns `None` (after printing why) to skip, e.g. when the engine is not configured. Each
/// generated test runs the case, then [`finish`] asserts that nothing of it is left.
#[macro_export]
macro_rules! executor_conformance_tests {
    ($harness:path) => {
        $crate::executor_conformance_tests!(@cases $harness;
            exit_zero,
            exit_three,
            missing_binary_127,
            not_executable_126,
            env_isolated,
            argument_is_literal,
            streams_separate_and_ordered,
            streaming,
            large_output_bounded,
            timeout_kills_process_group,
            cancel_stops_job,
            result_files_collected,
            binary_output_passthrough,
            reap_after_executor_death,
            memory_limit_oom,
            peak_memory_reported,
            pids_limit_refuses_fork,
            cpu_limit_kills,
        );
    };
    (@cases $harness:path; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let ::std::option::Option::Some((executor, programs)) =
                    $harness(::std::stringify!($case)).await
                else {
                    return;
                };
                $crate::conformance::executor::$case(&*executor, &programs).await;
                $crate::conformance::executor::finish(&programs).await;
            }
        )*
    };
}
