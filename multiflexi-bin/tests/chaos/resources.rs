//! Broken resources under an executor: a full work disk, a stopped Docker engine, result files
//! over the limits.

use crate::dockerd;
use crate::harness::{ExecutorCfg, Scenario, TemplateCfg, secs};
use crate::ledger::Expect;
use crate::postgres::Backend;

/// Defect 5. Executor A's work directory is a tmpfs with no space and no inodes left, so no
/// job can get its work directory; executor B, healthy, joins 5 s later. Required: A's failed
/// launches are the platform's fault, not the jobs': each job goes back to the queue (its
/// `launch_failures` counted) instead of ending `platform_error`, A backs off, and B runs
/// every job to success.
///
/// Fixed in: f125416 (a launch that fails before the program started goes back to the queue,
/// launch_failures bounded; circuit breaker). Fails at its parent 9943be6.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "chaos suite: run with scripts/chaos.sh"]
async fn full_work_disk() {
    const TTL: u64 = 8;
    let s = Scenario::new("full_work_disk", Backend::Postgres).await;
    let full = s.full_tmpfs("work-full");
    let rt = s.template(TemplateCfg::new("disk jobs").retries(2)).await;
    for i in 0..6 {
        s.job(rt, &format!("w{i}"), &[("CHAOS_SECS", "2".into())])
            .await;
    }
    let _a = s.executor(ExecutorCfg::new("exec-a", TTL).parallel(2).work_dir(full));
    tokio::time::sleep(secs(5)).await;
    let early: Vec<String> = s
        .jobs()
        .await
        .iter()
        .filter(|j| j.outcome.as_deref() == Some("platform_error"))
        .map(|j| j.line())
        .collect();
    s.check(
        early.is_empty(),
        format!(
            "QUEUE DRAINED: with a full work disk exec-a turned jobs into platform_error: {early:?}"
        ),
    );
    match s
        .db
        .query("SELECT COALESCE(MAX(launch_failures), 0)::bigint FROM job")
        .await
    {
        Ok(rows) => {
            let most: i64 = rows
                .first()
                .and_then(|r| r.try_get_by_index(0).ok())
                .unwrap_or(0);
            s.check(
                most >= 1,
                "no job counts a launch failure (job.launch_failures) after exec-a failed to launch",
            );
        }
        Err(e) => s.violation(format!("job.launch_failures cannot be read: {e}")),
    }
    let _b = s.executor(ExecutorCfg::new("exec-b", TTL).parallel(3));
    s.finish(
        Expect {
            short_faults: true,
            all_slots_succeed: true,
        },
        secs(60),
    )
    .await;
}

/// Defects 5 and 4. The suite's own Docker engine is stopped while Docker jobs are queued.
/// Required: the jobs are not drained into `platform_error`; the executor's circuit breaker
/// opens (`multiflexi_executor_breaker_open{executor="Docker"} 1`) and it stops claiming;
/// once the engine is back every job succeeds, the breaker closes, and no container is left.
///
/// Fixed in: f125416 (release + per-kind circuit breaker, metric) and c89ff11 (containers reaped
/// by label). Fails at f125416's parent 9943be6.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "chaos suite: run with scripts/chaos.sh"]
async fn docker_engine_stopped() {
    const TTL: u64 = 8;
    const BREAKER: &str = "multiflexi_executor_breaker_open{executor=\"Docker\"}";
    let s = Scenario::new("docker_engine_stopped", Backend::Postgres).await;
    let rt = s
        .template(TemplateCfg::new("container jobs").docker().retries(2))
        .await;
    let metrics = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let _d = s.executor(
        ExecutorCfg::new("exec-docker", TTL)
            .kinds("Docker")
            .parallel(2)
            .env("MULTIFLEXI_METRICS_ADDR", &metrics),
    );
    // A first job proves the path works before the engine goes away.
    let first = s.job(rt, "c0", &[("CHAOS_SECS", "1".into())]).await;
    s.must("the first container job to succeed", secs(60), || async {
        s.job_row(first).await.phase == "preserved"
    })
    .await;
    dockerd::stop().await;
    s.note("Docker engine stopped");
    for i in 1..=4 {
        s.job(rt, &format!("c{i}"), &[("CHAOS_SECS", "1".into())])
            .await;
    }
    tokio::time::sleep(secs(8)).await;
    let drained: Vec<String> = s
        .jobs()
        .await
        .iter()
        .filter(|j| j.id != first && j.ended())
        .map(|j| j.line())
        .collect();
    s.check(
        drained.is_empty(),
        format!("QUEUE DRAINED: jobs ended while the engine was down: {drained:?}"),
    );
    let open = s.metric(&metrics, BREAKER).await;
    s.check(
        open == Some(1.0),
        format!("BREAKER: {BREAKER} is {open:?} while the engine is down, expected 1"),
    );
    dockerd::start().await;
    s.note("Docker engine started again");
    s.wait("every job to end", secs(60), || async {
        s.jobs().await.iter().all(|j| j.ended())
    })
    .await;
    let closed = s.metric(&metrics, BREAKER).await;
    s.check(
        closed == Some(0.0),
        format!("BREAKER: {BREAKER} is {closed:?} after the engine came back, expected 0"),
    );
    s.finish(
        Expect {
            short_faults: true,
            all_slots_succeed: true,
        },
        secs(30),
    )
    .await;
}

/// Defect 10. A job writes five 2 MiB result files under limits of 3 files and 3 MiB
/// (`MULTIFLEXI_RESULT_FILES_MAX`, `MULTIFLEXI_RESULT_BYTES_MAX`). Required: the job is
/// recorded `success` (never `platform_error`), at most 3 result artifacts totalling at most
/// 3 MiB are kept, and what was truncated or skipped says so in an artifact's note.
///
/// Fixed in: f125416 (per-job result-file count and byte limits) and cc2eb12 (the cut is noted on
/// the artifact itself). Fails at f125416's parent 9943be6.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "chaos suite: run with scripts/chaos.sh"]
async fn big_result_files() {
    const TTL: u64 = 8;
    let s = Scenario::new("big_result_files", Backend::Postgres).await;
    let rt = s.template(TemplateCfg::new("big results").retries(1)).await;
    let job = s
        .job(
            rt,
            "b1",
            &[
                ("CHAOS_SECS", "1".into()),
                ("CHAOS_MODE", "results".into()),
                ("CHAOS_FILES", "5".into()),
                ("CHAOS_FILE_KIB", "2048".into()),
            ],
        )
        .await;
    let _a = s.executor(
        ExecutorCfg::new("exec-a", TTL)
            .env("MULTIFLEXI_RESULT_FILES_MAX", 3)
            .env("MULTIFLEXI_RESULT_BYTES_MAX", 3),
    );
    s.wait("the job to end", secs(60), || async {
        s.job_row(job).await.ended()
    })
    .await;
    let artifacts = s.artifacts().await;
    let results: Vec<_> = artifacts
        .iter()
        .filter(|a| a.job_id == job && a.filename.starts_with("result-"))
        .collect();
    let bytes: i64 = results.iter().map(|a| a.size).sum();
    s.note(&format!(
        "{} result artifacts, {bytes} bytes",
        results.len()
    ));
    s.check(
        results.len() <= 3,
        format!("LIMIT: {} result files kept, the limit is 3", results.len()),
    );
    s.check(
        bytes <= 3 << 20,
        format!("LIMIT: {bytes} bytes of result files kept, the limit is 3 MiB"),
    );
    s.check(
        artifacts
            .iter()
            .any(|a| a.job_id == job && a.note.as_deref().is_some_and(|n| !n.trim().is_empty())),
        "LIMIT: no artifact of the job notes what was truncated or skipped",
    );
    s.finish(
        Expect {
            short_faults: true,
            all_slots_succeed: true,
        },
        secs(30),
    )
    .await;
}
