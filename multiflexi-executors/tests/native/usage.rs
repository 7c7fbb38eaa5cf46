//! Native resource usage: the job's cgroup counts every process of the job together, forked
//! children nobody waited for included; rusage (where no cgroup could be made) sees only the
//! largest single process that was waited for. Needs cgroups here (root, as in CI); without
//! them the cgroup half is skipped with a message unless `MULTIFLEXI_REQUIRE_INTEGRATION=1`.

use multiflexi_core::conformance::executor::{ALLOCATED, RecordingIo, run};
use multiflexi_core::executor::{ExitReport, LaunchSpec};
use multiflexi_executors::{CgroupBackend, NativeConfig, NativeExecutor};
use std::time::Duration;

/// Two processes hold [`ALLOCATED`] bytes each at the same time (each `dd` blocks writing its
/// buffer into a pipe nobody reads), and both are waited for.
const TWO_AT_ONCE: &str = "(dd if=/dev/zero bs=41943040 count=1 2>/dev/null | sleep 2) & \
     (dd if=/dev/zero bs=41943040 count=1 2>/dev/null | sleep 2) & wait";

/// A child holding [`ALLOCATED`] bytes that the job leaves behind without waiting for it (it is
/// killed with the job).
const ORPHAN: &str =
    "(dd if=/dev/zero bs=41943040 count=1 2>/dev/null | sleep 30) & sleep 1.5; exit 0";

async fn run_with(backend: CgroupBackend, script: &str) -> ExitReport {
    let exec = NativeExecutor::new(
        NativeConfig::default()
            .with_kill_grace(Duration::from_millis(500))
            .with_cgroups(backend),
    );
    let work = tempfile::tempdir().unwrap();
    let mut spec = LaunchSpec::new("/bin/sh", vec!["-c".into(), script.into()], work.path());
    spec.timeout = Some(Duration::from_secs(60));
    let report = run(&exec, &spec, &RecordingIo::new()).await;
    assert_eq!(report.exitcode(), 0, "{report:?}");
    report
}

fn peak(report: &ExitReport) -> u64 {
    assert!(report.usage_unknown.is_none(), "{report:?}");
    report.peak_rss_bytes.expect("a peak")
}

#[tokio::test]
async fn the_cgroup_counts_every_process_and_rusage_the_largest_waited_one() {
    let detected = CgroupBackend::detect();
    if !detected.limits_memory() {
        assert!(
            std::env::var("MULTIFLEXI_REQUIRE_INTEGRATION").as_deref() != Ok("1"),
            "no memory cgroup can be made here ({})",
            detected.describe()
        );
        println!("skipping: no memory cgroup can be made here");
        return;
    }
    let together = peak(&run_with(detected.clone(), TWO_AT_ONCE).await);
    assert!(
        together >= 2 * ALLOCATED,
        "the cgroup saw {together} bytes of two {ALLOCATED}-byte processes at once"
    );
    let orphan = peak(&run_with(detected, ORPHAN).await);
    assert!(
        orphan >= ALLOCATED,
        "the cgroup saw {orphan} bytes with an unwaited child of {ALLOCATED}"
    );

    let largest = peak(&run_with(CgroupBackend::None, TWO_AT_ONCE).await);
    assert!(
        (ALLOCATED..2 * ALLOCATED).contains(&largest),
        "rusage: {largest} bytes (the largest process, {ALLOCATED}, not the sum)"
    );
    let missed = peak(&run_with(CgroupBackend::None, ORPHAN).await);
    assert!(
        missed < ALLOCATED,
        "rusage counted {missed} bytes: it should miss the child nobody waited for"
    );
}
