//! Faults of the processes: an executor killed with -9 (with and without a cancel on the
//! way), SIGTERM then a second SIGTERM, a job that floods its output, a job whose child keeps
//! stdout open.

use crate::harness::{ExecutorCfg, Scenario, TemplateCfg, poll, secs};
use crate::ledger::Expect;
use crate::postgres::{self, Backend};
use crate::proxy::Proxy;

/// Defects 4 and 1. Executor A runs two 20-second jobs — one prints nothing, the other
/// started a `setsid` child that holds the slot's lock —; A is killed with -9 and never comes back (its id is not
/// reused). Required: every process of its jobs dies with it (within a few seconds, well
/// before the lease expires), so executor B's retries never overlap them and nothing is
/// left behind.
///
/// Fixed in: b795489 (per-job supervisor, PR_SET_PDEATHSIG, cgroup) and c89ff11 (leftovers reaped
/// by any executor). Fails at b795489's parent 3387d14.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "chaos suite: run with scripts/chaos.sh"]
async fn kill9_executor_not_restarted() {
    kill9_executor(Scenario::new("kill9_executor_not_restarted", Backend::Postgres).await).await;
}

/// [`kill9_executor_not_restarted`] on SQLite. Defects 4 and 1.
///
/// Fixed in: b795489 and c89ff11, as above. Fails at 3387d14.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "chaos suite: run with scripts/chaos.sh"]
async fn kill9_executor_not_restarted_sqlite() {
    kill9_executor(Scenario::new("kill9_executor_not_restarted_sqlite", Backend::Sqlite).await)
        .await;
}

async fn kill9_executor(s: Scenario) {
    let s = &s;
    const TTL: u64 = 6;
    let rt = s.template(TemplateCfg::new("long jobs").retries(2)).await;
    let jobs = [
        // Quiet: a job that prints would die of SIGPIPE once its reader is gone; one that
        // does not shows whether the executor really takes its jobs down with it.
        s.job(
            rt,
            "k1",
            &[("CHAOS_SECS", "20".into()), ("CHAOS_MODE", "quiet".into())],
        )
        .await,
        s.job(
            rt,
            "k2",
            &[
                ("CHAOS_SECS", "20".into()),
                ("CHAOS_MODE", "setsid".into()),
                ("CHAOS_CHILD_SECS", "40".into()),
            ],
        )
        .await,
    ];
    let a = s.executor(ExecutorCfg::new("exec-a", TTL).margin(2).parallel(2));
    s.must_run(&jobs, secs(30)).await;
    tokio::time::sleep(secs(1)).await;
    s.kill9(a);
    let _b = s.executor(ExecutorCfg::new("exec-b", TTL).margin(2).parallel(2));
    // B cannot start a retry before the leases expire: until then every marked process is
    // one of A's.
    let mut left = Vec::new();
    let gone = poll(secs(TTL - 2), || {
        left = s.marker_processes();
        let empty = left.is_empty();
        async move { empty }
    })
    .await;
    s.check(
        gone,
        format!(
            "SURVIVED KILL -9: processes of exec-a's jobs still run {} s after it died: {left:?}",
            TTL - 2
        ),
    );
    s.finish(
        Expect {
            short_faults: false,
            all_slots_succeed: true,
        },
        secs(60),
    )
    .await;
}

/// Defects 6 and 4. A quiet job (no output a broken pipe could stop) runs on executor A; A is
/// cut off from PostgreSQL (so it cannot learn of the cancel), `job:cancel` is recorded, and
/// A is killed with -9. Required: when its lease expires the job is recorded `cancelled`, not
/// `lost`, and no retry is created; its process died with A.
///
/// Fixed in: 0df5b43/58b990b (recovery ends a Running job with a cancel request `cancelled`,
/// merged in 9943be6) and b795489 (its process dies with the executor). Fails at b795489's parent
/// 3387d14.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "chaos suite: run with scripts/chaos.sh"]
async fn cancel_then_kill9() {
    const TTL: u64 = 6;
    let s = Scenario::new("cancel_then_kill9", Backend::Postgres).await;
    let proxy = Proxy::start(postgres::server_addr()).await;
    let rt = s
        .template(TemplateCfg::new("cancelled job").retries(2))
        .await;
    let job = s
        .job(
            rt,
            "c1",
            &[("CHAOS_SECS", "15".into()), ("CHAOS_MODE", "quiet".into())],
        )
        .await;
    let a = s.executor(
        ExecutorCfg::new("exec-a", TTL)
            .margin(2)
            .parallel(1)
            .via(s.db.url_via(proxy.port())),
    );
    s.must_run(&[job], secs(30)).await;
    s.must("the job to be recorded running", secs(10), || async {
        s.job_row(job).await.phase == "running"
    })
    .await;
    tokio::time::sleep(secs(1)).await;
    proxy.partition(true);
    let answer = s.cli_ok(&["job:cancel", &job.to_string()]).await;
    s.note(&format!("job:cancel answered {}", answer["cancel"]));
    s.kill9(a);
    let _b = s.executor(ExecutorCfg::new("exec-b", TTL).margin(2).parallel(1));
    s.wait("the cancelled job to end", secs(4 * TTL), || async {
        s.job_row(job).await.ended()
    })
    .await;
    let row = s.job_row(job).await;
    s.check(
        row.outcome.as_deref() == Some("cancelled"),
        format!(
            "CANCEL LOST: job {job} was cancelled, then its executor died; it is recorded {}",
            row.outcome.as_deref().unwrap_or(&row.phase)
        ),
    );
    let retries: Vec<i64> = s
        .jobs()
        .await
        .iter()
        .filter(|j| j.retry_of == Some(job))
        .map(|j| j.id)
        .collect();
    s.check(
        retries.is_empty(),
        format!("CANCELLED JOB RETRIED: job {job} got retries {retries:?}"),
    );
    s.finish(
        Expect {
            short_faults: false,
            all_slots_succeed: false,
        },
        secs(40),
    )
    .await;
}

/// Defect 9. Executor A runs two 12-second jobs and holds two more claimed ahead. At the
/// first SIGTERM the claimed jobs that never started go back to the queue at once (Scheduled,
/// no lease, not `cancelled`) while the running ones go on; at the second SIGTERM the running
/// jobs are recorded `cancelled` with exit 128+15 and A exits. Executor B then runs the two
/// re-queued jobs.
///
/// Fixed in: f125416 (drain releases unstarted jobs with Event::Release from 0df5b43). Fails at
/// its parent 9943be6.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "chaos suite: run with scripts/chaos.sh"]
async fn sigterm_drain_then_second_sigterm() {
    drain(Scenario::new("sigterm_drain_then_second_sigterm", Backend::Postgres).await).await;
}

/// [`sigterm_drain_then_second_sigterm`] on SQLite. Defect 9.
///
/// Fixed in: f125416, as above. Fails at 9943be6.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "chaos suite: run with scripts/chaos.sh"]
async fn sigterm_drain_then_second_sigterm_sqlite() {
    drain(Scenario::new("sigterm_drain_then_second_sigterm_sqlite", Backend::Sqlite).await).await;
}

async fn drain(s: Scenario) {
    let s = &s;
    const TTL: u64 = 10;
    let rt = s
        .template(TemplateCfg::new("drained jobs").retries(1))
        .await;
    for slot in ["d1", "d2", "d3", "d4"] {
        s.job(rt, slot, &[("CHAOS_SECS", "12".into())]).await;
    }
    let a = s.executor(ExecutorCfg::new("exec-a", TTL).parallel(2).ahead(2));
    // Which two run and which two wait is the dispatcher's choice: read it back.
    let mut running = Vec::new();
    let mut ahead = Vec::new();
    s.must(
        "two jobs running and two claimed ahead on exec-a",
        secs(30),
        || async {
            let rows = s.jobs().await;
            let on_a = |phase: &str| -> Vec<i64> {
                rows.iter()
                    .filter(|j| j.phase == phase && j.lease_owner.as_deref() == Some("exec-a"))
                    .map(|j| j.id)
                    .collect()
            };
            on_a("running").len() == 2 && on_a("queued").len() == 2
        },
    )
    .await;
    for j in s.jobs().await {
        match j.phase.as_str() {
            "running" => running.push(j.id),
            "queued" => ahead.push(j.id),
            _ => {}
        }
    }
    s.must_run(&running, secs(10)).await;
    s.note(&format!("running {running:?}, claimed ahead {ahead:?}"));
    s.sigterm(a, false);
    let requeued = s
        .wait(
            "the claimed-ahead jobs to go back to the queue after the first SIGTERM",
            secs(3),
            || async {
                let rows = s.jobs().await;
                ahead.iter().all(|id| {
                    rows.iter()
                        .any(|j| j.id == *id && j.phase == "scheduled" && j.lease_owner.is_none())
                })
            },
        )
        .await;
    if !requeued {
        for id in &ahead {
            s.violation(format!(
                "DRAIN: claimed-ahead job is {} after the first SIGTERM",
                s.job_row(*id).await.line()
            ));
        }
    }
    for id in &running {
        let row = s.job_row(*id).await;
        s.check(
            row.phase == "running",
            format!(
                "DRAIN: a running job was stopped by the first SIGTERM: {}",
                row.line()
            ),
        );
    }
    s.sigterm(a, true);
    let exited = poll(secs(15), || async { !s.alive(a) }).await;
    s.check(exited, "exec-a did not exit after the second SIGTERM");
    s.wait("the running jobs to be recorded", secs(10), || async {
        let rows = s.jobs().await;
        running
            .iter()
            .all(|id| rows.iter().any(|j| j.id == *id && j.ended()))
    })
    .await;
    for id in &running {
        let row = s.job_row(*id).await;
        s.check(
            row.outcome.as_deref() == Some("cancelled") && row.exitcode == Some(143),
            format!(
                "ABORT: a running job is not recorded cancelled with exit 143 after the second SIGTERM: {}",
                row.line()
            ),
        );
    }
    let _b = s.executor(ExecutorCfg::new("exec-b", TTL).parallel(2));
    s.wait("the claimed-ahead jobs to end", secs(30), || async {
        let rows = s.jobs().await;
        ahead
            .iter()
            .all(|id| rows.iter().any(|j| j.id == *id && j.ended()))
    })
    .await;
    for id in &ahead {
        let row = s.job_row(*id).await;
        s.check(
            row.outcome.as_deref() == Some("success"),
            format!(
                "DRAIN: a claimed-ahead job did not run to success after the drain: {}",
                row.line()
            ),
        );
    }
    s.finish(
        Expect {
            short_faults: true,
            all_slots_succeed: false,
        },
        secs(30),
    )
    .await;
}

/// Defect 4. Each job leaves a `setsid` child behind that keeps its stdout, stderr and lock
/// open for 40 s, and exits 0 after a second. Required: the job ends when its program does
/// (recorded `success`, exit 0), and the child dies with the job (no orphan).
///
/// Fixed in: b795489 (every job in its own cgroup, killed as a whole when the job ends). Fails at
/// its parent 3387d14.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "chaos suite: run with scripts/chaos.sh"]
async fn child_keeps_stdout_open() {
    stdout_held(Scenario::new("child_keeps_stdout_open", Backend::Postgres).await).await;
}

/// [`child_keeps_stdout_open`] on SQLite. Defect 4.
///
/// Fixed in: b795489, as above. Fails at 3387d14.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "chaos suite: run with scripts/chaos.sh"]
async fn child_keeps_stdout_open_sqlite() {
    stdout_held(Scenario::new("child_keeps_stdout_open_sqlite", Backend::Sqlite).await).await;
}

async fn stdout_held(s: Scenario) {
    let s = &s;
    const TTL: u64 = 8;
    let rt = s.template(TemplateCfg::new("leaky jobs").retries(1)).await;
    let env = [
        ("CHAOS_SECS", "1".to_string()),
        ("CHAOS_MODE", "setsid".to_string()),
        ("CHAOS_CHILD_SECS", "40".to_string()),
    ];
    let jobs = [s.job(rt, "l1", &env).await, s.job(rt, "l2", &env).await];
    let _a = s.executor(ExecutorCfg::new("exec-a", TTL).parallel(2));
    s.must_run(&jobs, secs(30)).await;
    s.wait(
        "the jobs to end within 15 s of their program's exit",
        secs(16),
        || async {
            let rows = s.jobs().await;
            jobs.iter()
                .all(|id| rows.iter().any(|j| j.id == *id && j.ended()))
        },
    )
    .await;
    s.finish(
        Expect {
            short_faults: true,
            all_slots_succeed: true,
        },
        secs(10),
    )
    .await;
}

/// Defects 2 and 3. Two jobs print 64 MiB to stdout (and 1 MiB to stderr) as fast as they
/// can, beside an ordinary job. Required: all succeed, stdout.txt is capped (head and tail
/// with a marker), the executor lives on.
///
/// Fixed in: guard, passed before the fixes; since f125416 live output is written in the
/// background and spooled, so the flood also exercises the spool's cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "chaos suite: run with scripts/chaos.sh"]
async fn output_flood() {
    const TTL: u64 = 8;
    let s = Scenario::new("output_flood", Backend::Postgres).await;
    let rt = s.template(TemplateCfg::new("loud jobs").retries(1)).await;
    let flood = [
        ("CHAOS_SECS", "1".to_string()),
        ("CHAOS_MODE", "flood".into()),
    ];
    let jobs = [
        s.job(rt, "x1", &flood).await,
        s.job(rt, "x2", &flood).await,
        s.job(rt, "x3", &[("CHAOS_SECS", "2".into())]).await,
    ];
    let _a = s.executor(ExecutorCfg::new("exec-a", TTL).parallel(3));
    s.wait("every job to end", secs(90), || async {
        s.jobs().await.iter().all(|j| j.ended())
    })
    .await;
    for id in &jobs[..2] {
        let size = s
            .artifacts()
            .await
            .iter()
            .find(|a| a.job_id == *id && a.filename == "stdout.txt")
            .map(|a| a.size);
        s.check(
            size.is_some_and(|n| (1 << 20..=16 << 20).contains(&n)),
            format!(
                "stdout.txt of flooding job {id} should be capped (1–16 MiB), is {size:?} bytes"
            ),
        );
    }
    s.finish(
        Expect {
            short_faults: true,
            all_slots_succeed: true,
        },
        secs(30),
    )
    .await;
}
