//! Native limits where no cgroup can be made (`CgroupBackend::None`): the rlimit fallbacks of
//! `cgroup.rs`'s table. RLIMIT_CPU is per process: a job using up its budget is killed with
//! SIGXCPU and reported as `cpu_limit`; RLIMIT_AS makes allocations past the limit fail.

use multiflexi_core::Outcome;
use multiflexi_core::conformance::executor::{RecordingIo, run};
use multiflexi_core::executor::{Capability, Executor, LaunchSpec};
use multiflexi_executors::{CgroupBackend, NativeConfig, NativeExecutor};
use std::time::Duration;

fn executor() -> NativeExecutor {
    NativeExecutor::new(
        NativeConfig::default()
            .with_kill_grace(Duration::from_millis(500))
            .with_cgroups(CgroupBackend::None),
    )
}

fn script(work: &std::path::Path, body: &str) -> LaunchSpec {
    let mut spec = LaunchSpec::new("/bin/sh", vec!["-c".into(), body.into()], work);
    spec.timeout = Some(Duration::from_secs(30));
    spec
}

#[tokio::test]
async fn without_a_cgroup_the_limits_fall_back_to_rlimits() {
    let exec = executor();
    let caps = exec.capabilities();
    assert!(caps.has(Capability::MemoryLimitBestEffort));
    assert!(!caps.has(Capability::MemoryLimit));
    assert!(!caps.has(Capability::PidsLimit) && !caps.has(Capability::CpuTimeLimit));
    assert_eq!(
        exec.cgroup_backend().describe(),
        "memory by RLIMIT_AS (best effort), pids by RLIMIT_NPROC (only for jobs with their own \
         uid), CPU time by RLIMIT_CPU (per process)"
    );
    let work = tempfile::tempdir().unwrap();

    // CPU: the shell spins until RLIMIT_CPU's SIGXCPU.
    let mut spec = script(work.path(), "while :; do :; done");
    spec.cpu_limit = Some(Duration::from_secs(1));
    let io = RecordingIo::new();
    let report = run(&exec, &spec, &io).await;
    assert!(report.cpu_limited && !report.timed_out, "{report:?}");
    assert_eq!(report.outcome(), Outcome::CpuLimit);

    // Memory: the allocation fails inside the job (no kill, so not oom).
    let mut spec = script(
        work.path(),
        "x=$(head -c 536870912 /dev/zero | tr '\\000' a); echo survived ${#x}",
    );
    spec.memory_limit_mb = Some(32);
    let io = RecordingIo::new();
    let report = run(&exec, &spec, &io).await;
    let out = String::from_utf8_lossy(&io.snapshot().stdout()).into_owned();
    assert!(!out.contains("survived 536870912"), "{report:?} {out}");
    assert!(!report.oom, "{report:?}");
}
