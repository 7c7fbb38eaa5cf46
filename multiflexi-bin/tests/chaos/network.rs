//! Faults between an executor and PostgreSQL, through the test's TCP proxy: a partition longer
//! than the lease, a short one under latency, and the lease a heartbeat really grants.

use crate::harness::{ExecutorCfg, Scenario, TemplateCfg, secs};
use crate::ledger::Expect;
use crate::postgres::{self, Backend, faults};
use crate::proxy::Proxy;
use std::time::Duration;

/// Defects 1 and 7. Executor A runs two 20-second jobs and holds a third claimed ahead when
/// the proxy cuts it off from PostgreSQL (sockets stay open, nothing passes) for three lease
/// TTLs; executor B, started at the cut, recovers the leases and runs the retries and the
/// re-queued job. Required: A kills its running jobs before its local lease deadline (last
/// successful heartbeat + TTL - margin) and never launches the claimed-ahead job past it, so
/// no slot runs twice at once and each slot ends with exactly one success.
///
/// Fixed in: f125416 (local lease deadline: never launch past it, kill before it) and 58b990b
/// (fenced writes, merged in 9943be6). Fails at f125416's parent 9943be6.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "chaos suite: run with scripts/chaos.sh"]
async fn partition_longer_than_lease() {
    const TTL: u64 = 6;
    let s = Scenario::new("partition_longer_than_lease", Backend::Postgres).await;
    let proxy = Proxy::start(postgres::server_addr()).await;
    let rt = s.template(TemplateCfg::new("long jobs").retries(2)).await;
    for slot in ["p1", "p2", "p3"] {
        s.job(rt, slot, &[("CHAOS_SECS", "20".into())]).await;
    }
    let _a = s.executor(
        ExecutorCfg::new("exec-a", TTL)
            .margin(2)
            .parallel(2)
            .ahead(1)
            .via(s.db.url_via(proxy.port())),
    );
    s.must(
        "two jobs running and one claimed ahead on exec-a",
        secs(30),
        || async {
            let rows = s.jobs().await;
            let on_a = |phase: &str| {
                rows.iter()
                    .filter(|j| j.phase == phase && j.lease_owner.as_deref() == Some("exec-a"))
                    .count()
            };
            on_a("running") == 2 && on_a("queued") == 1
        },
    )
    .await;
    // Which two run is the dispatcher's choice: read it back.
    let running: Vec<i64> = s
        .jobs()
        .await
        .iter()
        .filter(|j| j.phase == "running")
        .map(|j| j.id)
        .collect();
    s.must_run(&running, secs(10)).await;
    // Let the start writes' transactions finish: a transaction frozen by the partition would
    // hold its rows locked, and recovery (SKIP LOCKED) would skip them until it heals.
    tokio::time::sleep(secs(1)).await;
    proxy.partition(true);
    s.note("exec-a is cut off from PostgreSQL");
    let _b = s.executor(ExecutorCfg::new("exec-b", TTL).margin(2).parallel(3));
    tokio::time::sleep(secs(3 * TTL)).await;
    proxy.partition(false);
    s.note("partition healed");
    s.finish(
        Expect {
            short_faults: false,
            all_slots_succeed: true,
        },
        secs(60),
    )
    .await;
}

/// Defects 1 and 3. A partition shorter than the lease TTL minus the margin (4 s against
/// 15 - 3), under 100 ms of latency each way, while eight jobs print and end with exit codes
/// 0, 1, 2 and 3: zero `lost`, zero `platform_error`, every exit code recorded as returned.
/// So "kill everything at the first failed heartbeat" does not pass.
///
/// Fixed in: guard, passed before the fixes; it keeps "kill everything at the first failed
/// heartbeat" (a wrong fix of defect 1) from passing: f125416 heartbeats every TTL/5 and retries
/// every 0.5 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "chaos suite: run with scripts/chaos.sh"]
async fn short_partition_under_latency() {
    const TTL: u64 = 15;
    let s = Scenario::new("short_partition_under_latency", Backend::Postgres).await;
    let proxy = Proxy::start(postgres::server_addr()).await;
    proxy.set_latency(Duration::from_millis(100));
    let rt = s
        .template(TemplateCfg::new("printing jobs").retries(2))
        .await;
    let codes = [0, 1, 3, 0, 0, 2, 0, 1];
    let mut jobs = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        let env = [
            ("CHAOS_SECS", "8".to_string()),
            ("CHAOS_EXIT", code.to_string()),
        ];
        jobs.push(s.job(rt, &format!("s{i}"), &env).await);
    }
    let _a = s.executor(
        ExecutorCfg::new("exec-a", TTL)
            .margin(3)
            .parallel(6)
            .via(s.db.url_via(proxy.port())),
    );
    s.must_run(&jobs[..6], secs(30)).await;
    let _b = s.executor(ExecutorCfg::new("exec-b", TTL).margin(3).parallel(2));
    tokio::time::sleep(secs(2)).await;
    proxy.partition(true);
    s.note("exec-a is cut off from PostgreSQL for 4 s");
    tokio::time::sleep(secs(4)).await;
    proxy.partition(false);
    s.note("partition healed");
    s.finish(
        Expect {
            short_faults: true,
            all_slots_succeed: false,
        },
        secs(60),
    )
    .await;
}

/// Defect 8. A trigger records, whenever a write sets a job's `lease_expires`, how much lease
/// is left by the database's clock at that moment; the executor talks to PostgreSQL through
/// 150 ms of latency each way. Every claim and heartbeat must grant the full TTL (less a few
/// ms): an expiry computed before the round trip (or before waiting for a connection) arrives
/// already shortened.
///
/// Fixed in: 58b990b (expiry from the database clock, merged in 9943be6), 6118da4 (heartbeats
/// never abandoned, one statement) and 259c1dd (every row locked before any lease is written).
/// Fails at 259c1dd's parent 92e2ca7 (a lease written, then aged while the statement waited on
/// another row's lock).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "chaos suite: run with scripts/chaos.sh"]
async fn heartbeat_grants_full_lease() {
    const TTL: u64 = 6;
    /// What the server's own work between computing the expiry and the probe trigger may cost
    /// (one claim statement over three jobs). 20 ms was exceeded once (25 ms, at the claim) while
    /// two builds ran beside the suite on two cores; an expiry computed before the round trip
    /// would be short by at least the proxy's 150 ms latency, so 50 ms still tells them apart.
    const TOLERANCE_MS: f64 = 50.0;
    let s = Scenario::new("heartbeat_grants_full_lease", Backend::Postgres).await;
    s.db.execute(faults::LEASE_PROBE).await.unwrap();
    let proxy = Proxy::start(postgres::server_addr()).await;
    proxy.set_latency(Duration::from_millis(150));
    let rt = s.template(TemplateCfg::new("probed jobs")).await;
    for slot in ["h1", "h2", "h3"] {
        s.job(rt, slot, &[("CHAOS_SECS", "8".into())]).await;
    }
    let _a = s.executor(
        ExecutorCfg::new("exec-a", TTL)
            .parallel(3)
            .via(s.db.url_via(proxy.port())),
    );
    s.wait("every job to end", secs(60), || async {
        s.jobs().await.iter().all(|j| j.ended())
    })
    .await;
    let rows =
        s.db.query("SELECT job_id, phase, remaining_ms FROM chaos_lease_probe ORDER BY id")
            .await
            .unwrap();
    let probes: Vec<(i64, String, f64)> = rows
        .iter()
        .map(|r| {
            (
                r.try_get_by_index(0).unwrap(),
                r.try_get_by_index(1).unwrap(),
                r.try_get_by_index(2).unwrap(),
            )
        })
        .collect();
    s.note(&format!(
        "{} lease writes; least remaining {:.1} ms of {} ms",
        probes.len(),
        probes.iter().map(|p| p.2).fold(f64::INFINITY, f64::min),
        TTL * 1000
    ));
    s.check(
        probes.len() >= 6,
        format!(
            "expected claims and heartbeats in the probe, saw {}",
            probes.len()
        ),
    );
    let mut short: Vec<&(i64, String, f64)> = probes
        .iter()
        .filter(|p| p.2 < (TTL * 1000) as f64 - TOLERANCE_MS)
        .collect();
    short.sort_by(|a, b| a.2.total_cmp(&b.2));
    s.check(
        short.is_empty(),
        format!(
            "SHORT LEASE: {} of {} lease writes left less than {} ms - {TOLERANCE_MS} ms; the shortest: {}",
            short.len(),
            probes.len(),
            TTL * 1000,
            short
                .iter()
                .take(5)
                .map(|(job, phase, ms)| format!("job {job} ({phase}) {ms:.1} ms"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
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
