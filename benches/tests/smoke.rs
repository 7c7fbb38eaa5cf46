//! The load benchmark end to end with a small N on a SQLite file: correctness only (every job
//! Preserved with stdout.txt and stderr.txt, the report's keys exactly as documented), no timing.

use multiflexi_benches::load::{CleanupLoad, ExecutorChoice, LoadConfig, prefill_cleanup, run};
use multiflexi_core::store::{AuditFilter, AuditLog, JobFilter, JobQueue};
use multiflexi_core::{ArtifactSink, Outcome, Phase};
use multiflexi_store::{SqlStore, SqlStoreOptions};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadbench_smoke_sqlite_file() {
    let dir =
        std::env::temp_dir().join(format!("multiflexi-loadbench-smoke-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("smoke.db");
    let _ = std::fs::remove_file(&path);
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let store = Arc::new(
        SqlStore::connect(&url, SqlStoreOptions::default())
            .await
            .unwrap(),
    );
    let (n, samples) = (50, 3);
    // A company whose 120 finished jobs a retention run deletes (batches of 50) while pickups
    // are sampled a second time.
    let cleanup_jobs = 120;
    let cleanup_company = prefill_cleanup(&*store, &*store, cleanup_jobs)
        .await
        .unwrap();
    let config = LoadConfig {
        store: url.clone(),
        executor: ExecutorChoice::Noop,
        n,
        enqueue_batch: 7,
        parallel: 4,
        writes_in_flight: Some(2),
        templates: 4,
        pickup_samples: samples,
        history: 0,
        cleanup: Some(CleanupLoad {
            company: cleanup_company,
            jobs: cleanup_jobs,
            batch: 50,
            pause: std::time::Duration::from_millis(5),
        }),
    };
    let report = run(
        &config,
        store.clone(),
        store.clone(),
        store.backend_name(),
        true,
    )
    .await
    .unwrap();

    let json = report.to_json();
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "cleanup_jobs_deleted",
            "cleanup_pickup_max_ms",
            "cleanup_pickup_p50_ms",
            "cleanup_pickup_p99_ms",
            "cleanup_pickup_samples",
            "cleanup_s",
            "enqueue_batch",
            "enqueue_jobs_per_s",
            "executor",
            "n",
            "parallel",
            "peak_rss_mb",
            "pickup_max_ms",
            "pickup_p50_ms",
            "pickup_p95_ms",
            "pickup_p99_ms",
            "store",
            "worked_jobs_per_s",
        ]
    );
    assert_eq!(json["store"], "sqlite");
    assert_eq!(json["executor"], "noop");
    assert_eq!(json["n"], n);
    assert_eq!(json["parallel"], 4);
    assert_eq!(json["cleanup_jobs_deleted"], cleanup_jobs);
    let cleanup_samples = json["cleanup_pickup_samples"].as_u64().unwrap() as usize;
    assert!(cleanup_samples >= 1, "{json}");

    // The retention run deleted the cleanup company's jobs, said so once in the audit log, and
    // left every other job alone.
    let mut gone = JobFilter::default();
    gone.company_id = Some(cleanup_company);
    assert!(store.list_jobs(&gone).await.unwrap().is_empty());
    let runs = store
        .list_audit(&AuditFilter::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.action == "retention:run")
        .collect::<Vec<_>>();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(
        runs[0].detail.contains(&format!("{cleanup_jobs} job(s)")),
        "{}",
        runs[0].detail
    );

    // From the store: every job (throughput run and both pickup samplings) Preserved, with its
    // output.
    let samples = samples + cleanup_samples;
    let mut filter = JobFilter::default();
    filter.limit = Some(10_000);
    let jobs = store.list_jobs(&filter).await.unwrap();
    assert_eq!(jobs.len(), n + samples);
    let templates: std::collections::HashSet<_> = jobs.iter().map(|j| j.runtemplate_id).collect();
    assert!(templates.len() >= 4, "jobs spread over the templates");
    for job in &jobs {
        assert_eq!(job.phase, Phase::Preserved, "job {}", job.id);
        assert_eq!(job.outcome, Some(Outcome::Success), "job {}", job.id);
        assert!(job.begin.is_some() && job.end.is_some() && job.preserved.is_some());
        let mut names: Vec<String> = ArtifactSink::list(&*store, job.id)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.filename)
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["stderr.txt", "stdout.txt"], "job {}", job.id);
    }
    let overview = store.queue_overview().await.unwrap();
    assert_eq!(overview.preserved, (n + samples) as u64);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The bulk `--history` pre-fill: N Preserved jobs, each with stdout.txt / stderr.txt and the
/// lifecycle's audit rows, copied from one job that went through the lifecycle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_bulk_prefill_sqlite_file() {
    let dir = std::env::temp_dir().join(format!(
        "multiflexi-loadbench-history-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("history.db");
    let _ = std::fs::remove_file(&path);
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let store = SqlStore::connect(&url, SqlStoreOptions::default())
        .await
        .unwrap();
    let n = 1234;
    multiflexi_benches::load::prefill_history_bulk(&store, n)
        .await
        .unwrap();
    let mut filter = JobFilter::default();
    filter.limit = Some(10_000);
    let jobs = store.list_jobs(&filter).await.unwrap();
    assert_eq!(jobs.len(), n);
    let audit_rows = |id| {
        let store = &store;
        async move {
            let rows = store.list_audit(&AuditFilter::job(id)).await.unwrap();
            rows.into_iter().map(|r| r.action).collect::<Vec<_>>()
        }
    };
    let first_audit = audit_rows(jobs[0].id).await;
    assert!(
        first_audit.iter().any(|a| a == "phase:preserved"),
        "{first_audit:?}"
    );
    for job in &jobs {
        assert_eq!(job.phase, Phase::Preserved, "job {}", job.id);
        assert_eq!(job.outcome, Some(Outcome::Success), "job {}", job.id);
        let mut names: Vec<String> = ArtifactSink::list(&store, job.id)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.filename)
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["stderr.txt", "stdout.txt"], "job {}", job.id);
    }
    let last_audit = audit_rows(jobs[jobs.len() - 1].id).await;
    assert_eq!(first_audit, last_audit, "copies keep the audit rows");
    assert_eq!(store.queue_overview().await.unwrap().preserved, n as u64);
    let _ = std::fs::remove_dir_all(&dir);
}
