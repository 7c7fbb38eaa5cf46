//! The end-to-end load benchmark: real `Dispatcher` and `Store` code paths, jobs spread over run
//! templates as users create them, stdout.txt / stderr.txt preserved for every job.

use crate::noop::NoopExecutor;
use anyhow::{Context, bail};
use multiflexi_core::engine::{
    Dispatcher, DispatcherOptions, RetentionOptions, Shutdown, apply_retention,
};
use multiflexi_core::environment::{EnvSources, prepare_spec};
use multiflexi_core::model::{JobSpec, NewJob, RetentionPolicy, RetentionScope};
use multiflexi_core::store::{Begin, ClaimOptions, Completion, JobFilter, LeaseRef};
use multiflexi_core::telemetry::NoopTelemetry;
use multiflexi_core::{
    App, ArtifactSink, Clock, Company, Environment, Executor, ExecutorKind, JobId, ManualClock,
    Outcome, Phase, RunTemplate, RunTemplateId, Store, SystemClock, Trigger,
};
use multiflexi_executors::{NativeConfig, NativeExecutor};
use multiflexi_store::SqlStore;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which executor the benchmark runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutorChoice {
    /// In-process, does nothing: pure lifecycle overhead.
    Noop,
    /// `NativeExecutor` running `/bin/true`.
    Native,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Store URL.
    pub store: String,
    /// Executor.
    pub executor: ExecutorChoice,
    /// Jobs in the throughput run.
    pub n: usize,
    /// Jobs per `create_many` call when the throughput run's jobs are enqueued (1: one
    /// `create_and_schedule` call, one transaction, per job).
    pub enqueue_batch: usize,
    /// Dispatcher parallel limit.
    pub parallel: usize,
    /// Batches of starts and finishes written at once (`DispatcherOptions::writes_in_flight`;
    /// `None`: the store's default).
    pub writes_in_flight: Option<usize>,
    /// Run templates the jobs are spread over (at least `parallel`).
    pub templates: usize,
    /// Jobs enqueued one at a time, 20 ms apart, for the pickup latency.
    pub pickup_samples: usize,
    /// Finished jobs (with artifacts) put in the database before measuring.
    pub history: usize,
    /// A large retention cleanup run while pickup latency is measured a second time.
    pub cleanup: Option<CleanupLoad>,
}

/// The finished jobs of one company that a retention policy deletes while the second pickup
/// measurement runs ([`prefill_cleanup`] or [`prefill_history_bulk`] put them there).
#[derive(Debug, Clone)]
pub struct CleanupLoad {
    /// The company whose finished jobs go (a company policy of 1 day, applied 2 days ahead).
    pub company: multiflexi_core::CompanyId,
    /// How many finished jobs it has (all must go).
    pub jobs: usize,
    /// Jobs per retention batch (MULTIFLEXI_RETENTION_BATCH).
    pub batch: u64,
    /// Pause between batches (MULTIFLEXI_RETENTION_PAUSE_MS).
    pub pause: Duration,
}

/// The one JSON line the benchmark prints.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    /// Store backend name.
    pub store: String,
    /// `noop` or `native`.
    pub executor: &'static str,
    /// Jobs in the throughput run.
    pub n: usize,
    /// Parallel limit.
    pub parallel: usize,
    /// Jobs per `create_many` call while enqueuing.
    pub enqueue_batch: usize,
    /// Jobs enqueued per second.
    pub enqueue_jobs_per_s: f64,
    /// Jobs taken to Preserved per second.
    pub worked_jobs_per_s: f64,
    /// `/bin/true` spawn+reap rate at the same parallelism (native only).
    pub spawn_bound_jobs_per_s: Option<f64>,
    /// Pickup latency percentiles, ms (due → Running).
    pub pickup_p50_ms: f64,
    /// 95th percentile.
    pub pickup_p95_ms: f64,
    /// 99th percentile.
    pub pickup_p99_ms: f64,
    /// Maximum.
    pub pickup_max_ms: f64,
    /// Peak resident memory of the process, MiB.
    pub peak_rss_mb: f64,
    /// The pickup latency measured again while a retention run deletes [`CleanupLoad::jobs`].
    pub during_cleanup: Option<CleanupPickups>,
}

/// Pickup latency while a retention run deletes a large history, and how long the run took.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanupPickups {
    /// Jobs the retention run deleted.
    pub jobs_deleted: u64,
    /// Seconds it took.
    pub seconds: f64,
    /// Pickup samples taken meanwhile.
    pub samples: usize,
    /// Pickup latency percentiles meanwhile, ms.
    pub pickup_p50_ms: f64,
    /// 99th percentile.
    pub pickup_p99_ms: f64,
    /// Maximum.
    pub pickup_max_ms: f64,
}

impl LoadReport {
    /// The JSON object, keys exactly as documented.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "store": self.store,
            "executor": self.executor,
            "n": self.n,
            "parallel": self.parallel,
            "enqueue_batch": self.enqueue_batch,
            "enqueue_jobs_per_s": round(self.enqueue_jobs_per_s),
            "worked_jobs_per_s": round(self.worked_jobs_per_s),
            "pickup_p50_ms": round(self.pickup_p50_ms),
            "pickup_p95_ms": round(self.pickup_p95_ms),
            "pickup_p99_ms": round(self.pickup_p99_ms),
            "pickup_max_ms": round(self.pickup_max_ms),
            "peak_rss_mb": round(self.peak_rss_mb),
        });
        if let Some(bound) = self.spawn_bound_jobs_per_s {
            v["spawn_bound_jobs_per_s"] = serde_json::json!(round(bound));
        }
        if let Some(c) = &self.during_cleanup {
            v["cleanup_jobs_deleted"] = serde_json::json!(c.jobs_deleted);
            v["cleanup_s"] = serde_json::json!(round(c.seconds));
            v["cleanup_pickup_samples"] = serde_json::json!(c.samples);
            v["cleanup_pickup_p50_ms"] = serde_json::json!(round(c.pickup_p50_ms));
            v["cleanup_pickup_p99_ms"] = serde_json::json!(round(c.pickup_p99_ms));
            v["cleanup_pickup_max_ms"] = serde_json::json!(round(c.pickup_max_ms));
        }
        v
    }
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

struct Fixture {
    templates: Vec<(
        RunTemplateId,
        multiflexi_core::CompanyId,
        multiflexi_core::AppId,
        JobSpec,
    )>,
}

async fn seed(store: &dyn Store, templates: usize, program: &str) -> anyhow::Result<Fixture> {
    let stamp = chrono::Utc::now().timestamp_micros();
    let app = store
        .put_app(&App::new(format!("loadbench-{stamp}"), program))
        .await?;
    let company = store
        .create_company(&Company::new(format!("Loadbench {stamp}")))
        .await?;
    let mut out = Vec::with_capacity(templates);
    for i in 0..templates {
        let t = store
            .create_runtemplate(&RunTemplate::new(app.id, company.id, format!("load {i}")))
            .await?;
        let spec = prepare_spec(&EnvSources::new(
            &app,
            &company,
            &[],
            &t,
            &Environment::new(),
        ))?
        .spec;
        out.push((t.id, company.id, app.id, spec));
    }
    Ok(Fixture { templates: out })
}

fn new_job(f: &Fixture, i: usize, now: chrono::DateTime<chrono::Utc>) -> NewJob {
    let (t, c, a, spec) = &f.templates[i % f.templates.len()];
    NewJob::new(
        *t,
        *c,
        *a,
        ExecutorKind::Native,
        spec.clone(),
        Trigger::Api,
        now,
    )
}

/// Puts `n` finished jobs with stdout.txt / stderr.txt in the store (the "history").
async fn prefill_history(
    store: &dyn Store,
    artifacts: &dyn ArtifactSink,
    f: &Fixture,
    n: usize,
    clock: &dyn Clock,
) -> anyhow::Result<Option<JobId>> {
    let batch = 500;
    let mut done = 0;
    let mut last = None;
    let started = Instant::now();
    while done < n {
        let k = batch.min(n - done);
        for i in 0..k {
            store
                .create_and_schedule(&new_job(f, done + i, clock.now()))
                .await?;
        }
        let jobs = store
            .claim(&ClaimOptions::new("history", vec![ExecutorKind::Native], k))
            .await?;
        let leases: Vec<LeaseRef> = jobs.iter().map(LeaseRef::of).collect();
        let begins: Vec<Begin> = leases.iter().map(|l| Begin::new(*l, None, None)).collect();
        for r in store.begin_many(&begins).await? {
            r?;
        }
        let completions: Vec<Completion> = leases
            .iter()
            .map(|l| {
                let mut c = Completion::new(*l, Outcome::Success, 0);
                c.stdout = "history\n".into();
                c
            })
            .collect();
        for r in store.complete_many(&completions).await? {
            r?;
        }
        for l in &leases {
            artifacts
                .put(*l, "stdout.txt", "text/plain", &mut &b"history\n"[..])
                .await?;
            artifacts
                .put(*l, "stderr.txt", "text/plain", &mut &b""[..])
                .await?;
            store.mark_preserved(*l).await?;
            last = Some(l.job_id);
        }
        done += k;
        if done % 50_000 < batch {
            eprintln!(
                "loadbench: history {done}/{n} ({:.0} jobs/s)",
                done as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(last)
}

/// Puts `n` finished jobs in a SQL store quickly, before anything is measured: one job goes
/// through the lifecycle (as [`prefill_history`] does it), then
/// [`SqlStore::clone_finished_job`] copies it with its stdout.txt / stderr.txt and audit rows in
/// multi-row INSERTs. The copies belong to a template of their own.
pub async fn prefill_history_bulk(
    store: &SqlStore,
    n: usize,
) -> anyhow::Result<Option<multiflexi_core::CompanyId>> {
    if n == 0 {
        return Ok(None);
    }
    let started = Instant::now();
    let fixture = seed(store, 1, "/bin/true").await?;
    let first = prefill_history(store, store, &fixture, 1, &SystemClock)
        .await?
        .context("no history job")?;
    store.clone_finished_job(first, n - 1).await?;
    eprintln!(
        "loadbench: history of {n} finished jobs pre-filled in {:.1} s (bulk copies, not measured)",
        started.elapsed().as_secs_f64()
    );
    Ok(Some(fixture.templates[0].1))
}

/// Puts `n` finished jobs of a company of their own through the lifecycle (any store; slow, for
/// small `n`) and returns the company, for [`CleanupLoad`].
pub async fn prefill_cleanup(
    store: &dyn Store,
    artifacts: &dyn ArtifactSink,
    n: usize,
) -> anyhow::Result<multiflexi_core::CompanyId> {
    let fixture = seed(store, 1, "/bin/true").await?;
    prefill_history(store, artifacts, &fixture, n, &SystemClock).await?;
    Ok(fixture.templates[0].1)
}

fn executor(choice: ExecutorChoice) -> Arc<dyn Executor> {
    match choice {
        ExecutorChoice::Noop => Arc::new(NoopExecutor),
        ExecutorChoice::Native => Arc::new(NativeExecutor::new(NativeConfig::default())),
    }
}

fn dispatcher(
    store: Arc<dyn Store>,
    artifacts: Arc<dyn ArtifactSink>,
    config: &LoadConfig,
    clock: Arc<dyn Clock>,
) -> Dispatcher {
    let mut options =
        DispatcherOptions::new(format!("loadbench-{}", std::process::id()), config.parallel);
    options.writes_in_flight = config.writes_in_flight;
    options.poll_interval = Duration::from_secs(1);
    options.work_root =
        std::env::temp_dir().join(format!("multiflexi-loadbench-{}", std::process::id()));
    Dispatcher::new(
        store,
        artifacts,
        vec![executor(config.executor)],
        Arc::new(NoopTelemetry),
        clock,
        options,
    )
}

/// Waits until the store shows every job of the run Preserved. The dispatcher's own count of
/// jobs it finished (in memory, free) says when to start asking the store, so the benchmark's
/// waiting does not compete with the dispatcher for the database.
async fn wait_all_preserved(
    store: &dyn Store,
    dispatcher: &Dispatcher,
    ids: &[JobId],
) -> anyhow::Result<()> {
    let last = *ids.iter().max().context("no jobs")?;
    loop {
        if dispatcher.stats().completed < ids.len() as u64 {
            tokio::time::sleep(Duration::from_millis(2)).await;
            continue;
        }
        let overview = store.queue_overview().await?;
        if overview.due + overview.waiting + overview.queued + overview.running + overview.completed
            == 0
        {
            let job = store.get_job(last).await?;
            if job.phase == Phase::Preserved {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs the benchmark and returns its report. Asserts from the store that every job is
/// Preserved with stdout.txt and stderr.txt (checking all jobs when `verify_all`, else a sample).
pub async fn run(
    config: &LoadConfig,
    store: Arc<dyn Store>,
    artifacts: Arc<dyn ArtifactSink>,
    backend: &str,
    verify_all: bool,
) -> anyhow::Result<LoadReport> {
    if config.n == 0 || config.parallel == 0 || config.enqueue_batch == 0 {
        bail!("--n, --parallel and --enqueue-batch must be at least 1");
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // The app runs /bin/true (the noop executor never starts it).
    let fixture = seed(&*store, config.templates.max(config.parallel), "/bin/true").await?;
    if config.history > 0 {
        prefill_history(&*store, &*artifacts, &fixture, config.history, &*clock).await?;
    }

    // Throughput: enqueue N due jobs, then work them off.
    let started = Instant::now();
    let mut ids = Vec::with_capacity(config.n);
    let batch = config.enqueue_batch.max(1);
    for first in (0..config.n).step_by(batch) {
        let news: Vec<NewJob> = (first..config.n.min(first + batch))
            .map(|i| new_job(&fixture, i, clock.now()))
            .collect();
        for created in store.create_many(&news).await? {
            ids.push(created?.id);
        }
    }
    let enqueue_s = started.elapsed().as_secs_f64();
    let d = dispatcher(store.clone(), artifacts.clone(), config, clock.clone());
    let shutdown = Shutdown::new();
    let started = Instant::now();
    let handle = tokio::spawn({
        let (d, s) = (d.clone(), shutdown.clone());
        async move { d.run(s).await }
    });
    wait_all_preserved(&*store, &d, &ids).await?;
    let worked_s = started.elapsed().as_secs_f64();
    shutdown.drain();
    handle.await??;
    let stats = d.stats();
    eprintln!(
        "loadbench: {} claims took {} jobs ({:.1} per claim)",
        stats.claims,
        stats.claimed,
        stats.claimed as f64 / stats.claims.max(1) as f64
    );
    verify(&*store, &*artifacts, &ids, verify_all).await?;

    // Pickup latency: one job at a time, 20 ms apart, into an idle dispatcher.
    let d = dispatcher(store.clone(), artifacts.clone(), config, clock.clone());
    let shutdown = Shutdown::new();
    let handle = tokio::spawn({
        let (d, s) = (d.clone(), shutdown.clone());
        async move { d.run(s).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let pickups =
        sample_pickups(&*store, &d, &fixture, &*clock, config.pickup_samples, None).await?;
    let during_cleanup = match &config.cleanup {
        Some(cleanup) => Some(pickup_during_cleanup(&store, &d, &fixture, cleanup).await?),
        None => None,
    };
    shutdown.drain();
    handle.await??;

    let spawn_bound = match config.executor {
        ExecutorChoice::Native => Some(spawn_bound(config.n.min(5000), config.parallel).await?),
        ExecutorChoice::Noop => None,
    };
    Ok(LoadReport {
        store: backend.to_string(),
        executor: match config.executor {
            ExecutorChoice::Noop => "noop",
            ExecutorChoice::Native => "native",
        },
        n: config.n,
        parallel: config.parallel,
        enqueue_batch: config.enqueue_batch,
        enqueue_jobs_per_s: config.n as f64 / enqueue_s,
        worked_jobs_per_s: config.n as f64 / worked_s,
        spawn_bound_jobs_per_s: spawn_bound,
        pickup_p50_ms: percentile(&pickups, 0.50),
        pickup_p95_ms: percentile(&pickups, 0.95),
        pickup_p99_ms: percentile(&pickups, 0.99),
        pickup_max_ms: pickups.last().copied().unwrap_or(0.0),
        peak_rss_mb: peak_rss_mb(),
        during_cleanup,
    })
}

/// Enqueues one job at a time, 20 ms apart, into the idle dispatcher `d` — `samples` of them,
/// and when `until` is given, on until it has finished too — waits for them to be Preserved and
/// returns their pickup latencies (due → Running), ms, sorted.
async fn sample_pickups(
    store: &dyn Store,
    d: &Dispatcher,
    fixture: &Fixture,
    clock: &dyn Clock,
    samples: usize,
    until: Option<&tokio::task::JoinHandle<anyhow::Result<(u64, f64)>>>,
) -> anyhow::Result<Vec<f64>> {
    let mut ids = Vec::with_capacity(samples);
    let mut i = 0;
    while i < samples || until.is_some_and(|h| !h.is_finished()) {
        let job = store
            .create_and_schedule(&new_job(fixture, i, clock.now()))
            .await?;
        d.notify();
        ids.push(job.id);
        i += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if !ids.is_empty() {
        wait_all_preserved(store, d, &ids).await?;
    }
    let mut pickups = Vec::with_capacity(ids.len());
    for id in &ids {
        let job = store.get_job(*id).await?;
        let begin = job.begin.context("preserved job without begin")?;
        pickups.push((begin - job.after).num_microseconds().unwrap_or(0) as f64 / 1000.0);
    }
    pickups.sort_by(f64::total_cmp);
    Ok(pickups)
}

/// Sets a 1-day retention policy for the cleanup company and applies it as the scheduler
/// daemon does (`engine::apply_retention`, the given batch and pause) on a clock two days
/// ahead, while pickups are sampled; checks that every one of its jobs went.
async fn pickup_during_cleanup(
    store: &Arc<dyn Store>,
    d: &Dispatcher,
    fixture: &Fixture,
    cleanup: &CleanupLoad,
) -> anyhow::Result<CleanupPickups> {
    let scope = RetentionScope::Company {
        company_id: cleanup.company,
    };
    store
        .put_retention_policy(&RetentionPolicy::new(scope, 1))
        .await?;
    let mut options = RetentionOptions::new("loadbench");
    options.batch = cleanup.batch;
    options.pause = cleanup.pause;
    let run = tokio::spawn({
        let store = store.clone();
        async move {
            let ahead = ManualClock::new(chrono::Utc::now() + chrono::Duration::days(2));
            let started = Instant::now();
            let report = apply_retention(&*store, &ahead, &options).await?;
            anyhow::Ok((report.deleted().jobs, started.elapsed().as_secs_f64()))
        }
    });
    let pickups = sample_pickups(&**store, d, fixture, &SystemClock, 1, Some(&run)).await?;
    let (jobs_deleted, seconds) = run.await??;
    if jobs_deleted != cleanup.jobs as u64 {
        bail!(
            "the retention run deleted {jobs_deleted} jobs, not the {} of company {}",
            cleanup.jobs,
            cleanup.company
        );
    }
    let mut left = JobFilter::default();
    left.company_id = Some(cleanup.company);
    left.limit = Some(1);
    if !store.list_jobs(&left).await?.is_empty() {
        bail!(
            "company {} still has jobs after the retention run",
            cleanup.company
        );
    }
    eprintln!(
        "loadbench: retention deleted {jobs_deleted} jobs in {seconds:.1} s ({} pickups meanwhile)",
        pickups.len()
    );
    Ok(CleanupPickups {
        jobs_deleted,
        seconds,
        samples: pickups.len(),
        pickup_p50_ms: percentile(&pickups, 0.50),
        pickup_p99_ms: percentile(&pickups, 0.99),
        pickup_max_ms: pickups.last().copied().unwrap_or(0.0),
    })
}

async fn verify(
    store: &dyn Store,
    artifacts: &dyn ArtifactSink,
    ids: &[JobId],
    all: bool,
) -> anyhow::Result<()> {
    let step = if all { 1 } else { (ids.len() / 200).max(1) };
    for id in ids.iter().step_by(step) {
        let job = store.get_job(*id).await?;
        if job.phase != Phase::Preserved || job.outcome != Some(Outcome::Success) {
            bail!("job {id} ended {} / {:?}", job.phase, job.outcome);
        }
        let names: Vec<String> = artifacts
            .list(*id)
            .await?
            .into_iter()
            .map(|a| a.filename)
            .collect();
        if !(names.iter().any(|n| n == "stdout.txt") && names.iter().any(|n| n == "stderr.txt")) {
            bail!("job {id} lacks stdout.txt / stderr.txt: {names:?}");
        }
    }
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// How fast this machine starts and reaps `/bin/true` as a Native job, `parallel` at a time:
/// the native run's own executor (the same configuration, so the same isolation: the job
/// supervisor, a cgroup per job, the job's user where configured, a work directory per job),
/// launched directly, without the store and the dispatcher.
async fn spawn_bound(n: usize, parallel: usize) -> anyhow::Result<f64> {
    use multiflexi_core::executor::{JobIo, LaunchSpec, RunHandle, Termination};

    /// Drops the job's output, as `/bin/true` has none.
    struct Discard;

    #[async_trait::async_trait]
    impl JobIo for Discard {
        async fn started(&self, _: RunHandle) -> multiflexi_core::Result<()> {
            Ok(())
        }
        async fn stdout(&self, _: &[u8]) -> multiflexi_core::Result<()> {
            Ok(())
        }
        async fn stderr(&self, _: &[u8]) -> multiflexi_core::Result<()> {
            Ok(())
        }
        async fn result_file(
            &self,
            _: &str,
            _: &mut (dyn tokio::io::AsyncRead + Send + Unpin),
        ) -> multiflexi_core::Result<()> {
            Ok(())
        }
    }

    let native = executor(ExecutorChoice::Native);
    let root = std::env::temp_dir().join(format!("multiflexi-spawn-bound-{}", std::process::id()));
    let semaphore = Arc::new(tokio::sync::Semaphore::new(parallel));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let permit = semaphore.clone().acquire_owned().await?;
        let native = native.clone();
        let work_dir = root.join(i.to_string());
        tasks.spawn(async move {
            let mut spec = LaunchSpec::new("/bin/true", vec![], work_dir.clone());
            spec.job_id = JobId(i as i64 + 1);
            spec.executor_id = "spawn-bound".into();
            let report = native
                .launch(&spec, &Discard, tokio_util::sync::CancellationToken::new())
                .await;
            let _ = tokio::fs::remove_dir_all(&work_dir).await;
            drop(permit);
            let report = report?;
            anyhow::ensure!(
                report.termination == Termination::Exited(0),
                "/bin/true ended {:?}",
                report.termination
            );
            Ok(())
        });
    }
    let mut result = Ok(());
    while let Some(r) = tasks.join_next().await {
        if let Err(e) = r.map_err(anyhow::Error::from).and_then(|done| done) {
            result = Err(e);
        }
    }
    let elapsed = started.elapsed();
    let _ = std::fs::remove_dir_all(&root);
    result?;
    Ok(n as f64 / elapsed.as_secs_f64())
}

/// Peak resident set size of this process (VmHWM), MiB.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}
