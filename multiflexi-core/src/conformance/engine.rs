//! End-to-end engine scenarios: the real [`Dispatcher`] and [`Scheduler`] with a
//! [`FakeExecutor`] on any [`Store`] + [`ArtifactSink`].
//!
//! Each case takes a fresh store and artifact sink (sharing one backend) and the clock the store
//! uses. Expand them into named tests with [`engine_conformance_tests!`](crate::engine_conformance_tests).

use crate::engine::{
    Dispatcher, DispatcherOptions, JobRequest, Scheduler, SchedulerOptions, Shutdown, create_job,
};
use crate::executor::{Executor, FakeExecutor, FakeRun};
use crate::lifecycle::{Outcome, Phase, RetryPolicy, Trigger};
use crate::model::{App, Company, EnvFieldDef, EnvFieldType, ExecutorKind, Job, RunTemplate};
use crate::store::{JobFilter, Store, Stream};
use crate::telemetry::{NoopTelemetry, RecordingTelemetry, Telemetry};
use crate::{ArtifactSink, Clock, JobId, ManualClock, RunTemplateId};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

mod actions_after;
mod dispatch_steps;
pub use actions_after::failure_actions_take_effect_once;
pub use dispatch_steps::{
    failed_running_write_stops_the_job, second_started_report_is_ignored,
    work_dir_only_for_executors_that_use_one,
};

/// Creates an app, a company and `n` templates of that app (Native executor, schedule `n`).
pub async fn seed_templates(store: &dyn Store, app: App, n: usize) -> Vec<RunTemplate> {
    let app = store.put_app(&app).await.expect("put app");
    let company = store
        .create_company(&Company::new(format!("Engine Co {}", app.id)))
        .await
        .expect("create company");
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let t = RunTemplate::new(app.id, company.id, format!("template {i}"));
        out.push(store.create_runtemplate(&t).await.expect("create template"));
    }
    out
}

fn dispatcher(
    store: Arc<dyn Store>,
    artifacts: Arc<dyn ArtifactSink>,
    executor: Arc<dyn Executor>,
    telemetry: Arc<dyn Telemetry>,
    clock: Arc<dyn Clock>,
    options: DispatcherOptions,
) -> Dispatcher {
    Dispatcher::new(store, artifacts, vec![executor], telemetry, clock, options)
}

fn options(parallel: usize) -> DispatcherOptions {
    let mut o = DispatcherOptions::new("conformance-executor", parallel);
    o.poll_interval = Duration::from_millis(200);
    o.lease_ttl = Duration::from_secs(30);
    o.work_root =
        std::env::temp_dir().join(format!("multiflexi-conformance-{}", std::process::id()));
    o
}

/// Waits (polling the store) until every job in `ids` is Preserved; panics after `limit`.
pub async fn wait_preserved(store: &dyn Store, ids: &[JobId], limit: Duration) -> Vec<Job> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let mut jobs = Vec::with_capacity(ids.len());
        for id in ids {
            jobs.push(store.get_job(*id).await.expect("get job"));
        }
        if jobs.iter().all(|j| j.phase == Phase::Preserved) {
            return jobs;
        }
        if tokio::time::Instant::now() > deadline {
            let pending: Vec<String> = jobs
                .iter()
                .filter(|j| j.phase != Phase::Preserved)
                .take(5)
                .map(|j| format!("{}:{}", j.id, j.phase))
                .collect();
            panic!("jobs not preserved in time: {pending:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// 1,000 jobs over 20 templates with parallel limit 16: the high-water mark of concurrent
/// launches is exactly 16, every job is Preserved with stdout.txt and stderr.txt, and each
/// template's success / failure counters are exact (even templates succeed, odd ones exit 3).
pub async fn thousand_jobs_parallel_16(
    store: Arc<dyn Store>,
    artifacts: Arc<dyn ArtifactSink>,
    clock: Arc<ManualClock>,
) {
    const N: usize = 1000;
    const TEMPLATES: usize = 20;
    let templates = seed_templates(&*store, App::new("engine-many", "/bin/fake"), TEMPLATES).await;
    let failing: Vec<RunTemplateId> = templates.iter().skip(1).step_by(2).map(|t| t.id).collect();
    let failing_set = failing.clone();
    let fake = FakeExecutor::new(ExecutorKind::Native, move |spec| {
        let code = if failing_set.contains(&spec.runtemplate_id) {
            3
        } else {
            0
        };
        // 20 ms per run: long enough that a claim of 16 jobs overlaps on a loaded machine
        // (3 ms did not reach 16 on PostgreSQL under CI load), short enough for 1,000 jobs.
        FakeRun::exit(code)
            .print(format!("job {} says hi\n", spec.job_id))
            .lasting(Duration::from_millis(20))
    });
    let clock: Arc<dyn Clock> = clock;
    let mut ids = Vec::with_capacity(N);
    for i in 0..N {
        let t = &templates[i % TEMPLATES];
        let job = create_job(
            &*store,
            &*clock,
            &NoopTelemetry,
            JobRequest::ad_hoc(t.id, Trigger::Cli),
        )
        .await
        .expect("create job");
        ids.push(job.id);
    }
    let d = dispatcher(
        store.clone(),
        artifacts.clone(),
        Arc::new(fake.clone()),
        Arc::new(NoopTelemetry),
        clock,
        options(16),
    );
    let shutdown = Shutdown::new();
    let handle = tokio::spawn({
        let d = d.clone();
        let s = shutdown.clone();
        async move { d.run(s).await }
    });
    let jobs = wait_preserved(&*store, &ids, Duration::from_secs(120)).await;
    shutdown.drain();
    handle.await.expect("join").expect("dispatcher");

    assert_eq!(fake.launches(), N as u64, "every job launched exactly once");
    assert_eq!(
        fake.high_water(),
        16,
        "high-water mark of concurrent launches"
    );
    for job in &jobs {
        let names: Vec<String> = artifacts
            .list(job.id)
            .await
            .expect("list artifacts")
            .into_iter()
            .map(|a| a.filename)
            .collect();
        assert!(
            names.contains(&"stdout.txt".to_string()),
            "job {} artifacts {names:?}",
            job.id
        );
        assert!(
            names.contains(&"stderr.txt".to_string()),
            "job {} artifacts {names:?}",
            job.id
        );
        let expected = if failing.contains(&job.runtemplate_id) {
            3
        } else {
            0
        };
        assert_eq!(job.exitcode, Some(expected));
        assert_eq!(job.stdout, format!("job {} says hi\n", job.id));
    }
    let mut per_template: HashMap<RunTemplateId, usize> = HashMap::new();
    for job in &jobs {
        *per_template.entry(job.runtemplate_id).or_default() += 1;
    }
    for t in &templates {
        let t2 = store.get_runtemplate(t.id).await.expect("template");
        let n = per_template[&t.id] as u64;
        if failing.contains(&t.id) {
            assert_eq!(
                (t2.successfull_jobs_count, t2.failed_jobs_count),
                (0, n),
                "template {}",
                t.id
            );
        } else {
            assert_eq!(
                (t2.successfull_jobs_count, t2.failed_jobs_count),
                (n, 0),
                "template {}",
                t.id
            );
        }
        assert_eq!(
            t2.next_schedule, None,
            "ad-hoc jobs leave next_schedule alone"
        );
    }
}

/// A secret value printed one byte per write is masked in stdout.txt, the live output log and
/// the job row's text copy.
pub async fn secret_printed_bytewise_is_masked(
    store: Arc<dyn Store>,
    artifacts: Arc<dyn ArtifactSink>,
    clock: Arc<ManualClock>,
) {
    const SECRET: &str = "s3cr3t-P4ss!";
    let app = App::new("engine-mask", "/bin/fake")
        .with_field(EnvFieldDef::new("API_PASSWORD", EnvFieldType::Password).with_default("x"));
    let mut templates = seed_templates(&*store, app, 1).await;
    let mut t = templates.remove(0);
    t.config.set("API_PASSWORD", SECRET);
    let t = store.update_runtemplate(&t).await.expect("update template");
    let fake = FakeExecutor::new(ExecutorKind::Native, |spec| {
        let secret = spec
            .env
            .iter()
            .find(|(k, _)| k == "API_PASSWORD")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let mut run = FakeRun::exit(0).print("password=");
        for b in secret.bytes() {
            run = run.print(vec![b]);
        }
        run.print("\nend\n").eprint(format!("err {secret} err\n"))
    });
    let job = run_one(&store, &artifacts, fake, t.id, clock).await;
    let out = artifact_bytes(&*artifacts, job.id, "stdout.txt").await;
    let err = artifact_bytes(&*artifacts, job.id, "stderr.txt").await;
    assert_eq!(out, b"password=***\nend\n");
    assert_eq!(err, b"err *** err\n");
    assert!(!job.stdout.contains(SECRET) && !job.stderr.contains(SECRET));
    let chunks = store
        .read_output(job.id, None, 10_000)
        .await
        .expect("read output");
    let logged: Vec<u8> = chunks
        .iter()
        .filter(|c| c.stream == Stream::Stdout)
        .flat_map(|c| c.bytes.clone())
        .collect();
    assert_eq!(logged, b"password=***\nend\n");
    assert!(
        !job.command.contains(SECRET),
        "command shown to users is redacted: {}",
        job.command
    );
}

/// Output past the cap keeps the head and the tail with an explicit marker.
pub async fn output_past_cap_keeps_head_and_tail(
    store: Arc<dyn Store>,
    artifacts: Arc<dyn ArtifactSink>,
    clock: Arc<ManualClock>,
) {
    let templates = seed_templates(&*store, App::new("engine-cap", "/bin/fake"), 1).await;
    let body: Vec<u8> = (0..10_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let printed = body.clone();
    let fake = FakeExecutor::new(ExecutorKind::Native, move |_| {
        let mut run = FakeRun::exit(0);
        for chunk in printed.chunks(333) {
            run = run.print(chunk.to_vec());
        }
        run
    });
    let mut opts = options(2);
    opts.output_cap = 1024;
    let job = run_one_with(
        &store,
        &artifacts,
        Arc::new(fake),
        templates[0].id,
        opts,
        clock,
    )
    .await;
    let out = artifact_bytes(&*artifacts, job.id, "stdout.txt").await;
    let mut expected = body[..512].to_vec();
    expected
        .extend_from_slice(format!("\n[multiflexi: {} bytes omitted]\n", 10_000 - 1024).as_bytes());
    expected.extend_from_slice(&body[10_000 - 512..]);
    assert_eq!(out, expected);
}

/// A launch that keeps failing before the program starts ends platform_error (-1) once it
/// reached `max_launch_failures` (here 1: the first failure) and is retried per the policy;
/// the retry keeps the template and counts attempts.
pub async fn platform_error_is_retried(
    store: Arc<dyn Store>,
    artifacts: Arc<dyn ArtifactSink>,
    clock: Arc<ManualClock>,
) {
    let mut templates = seed_templates(&*store, App::new("engine-retry", "/bin/fake"), 1).await;
    let mut t = templates.remove(0);
    t.retry = RetryPolicy::new(2, 0);
    let t = store.update_runtemplate(&t).await.expect("update");
    // Every attempt fails: the retries stop at max_retries.
    let fake = FakeExecutor::new(ExecutorKind::Native, |_| FakeRun::platform_error());
    let mut opts = options(2);
    opts.max_launch_failures = 1;
    let first = run_one_with(
        &store,
        &artifacts,
        Arc::new(fake.clone()),
        t.id,
        opts.clone(),
        clock.clone(),
    )
    .await;
    assert_eq!(first.outcome, Some(Outcome::PlatformError));
    assert_eq!(first.exitcode, Some(-1));
    // Run the retries.
    let d = dispatcher(
        store.clone(),
        artifacts.clone(),
        Arc::new(fake),
        Arc::new(NoopTelemetry),
        clock.clone(),
        opts,
    );
    let shutdown = Shutdown::new();
    let h = tokio::spawn({
        let (d, s) = (d.clone(), shutdown.clone());
        async move { d.run(s).await }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let jobs = loop {
        let filter = JobFilter {
            runtemplate_id: Some(t.id),
            ..JobFilter::default()
        };
        let jobs = store.list_jobs(&filter).await.expect("list");
        if jobs.len() == 3 && jobs.iter().all(|j| j.phase == Phase::Preserved) {
            break jobs;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "retries did not finish: {jobs:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    shutdown.drain();
    h.await.expect("join").expect("run");
    let mut attempts: Vec<(u32, Trigger)> = jobs.iter().map(|j| (j.attempt, j.trigger)).collect();
    attempts.sort_by_key(|a| a.0);
    assert_eq!(
        attempts,
        vec![
            (0, Trigger::Manual),
            (1, Trigger::Retry),
            (2, Trigger::Retry)
        ]
    );
    let t2 = store.get_runtemplate(t.id).await.expect("template");
    assert_eq!((t2.successfull_jobs_count, t2.failed_jobs_count), (0, 3));
}

/// A launch that fails before the program started is the platform's fault, not the job's: the
/// job goes back to the queue (counted in `launch_failures`, due again after a back-off on the
/// store's clock), no attempt is counted and no retry job is made; once the engine works again
/// the same job runs to success.
pub async fn launch_failure_goes_back_to_the_queue(
    store: Arc<dyn Store>,
    artifacts: Arc<dyn ArtifactSink>,
    clock: Arc<ManualClock>,
) {
    let templates = seed_templates(&*store, App::new("engine-requeue", "/bin/fake"), 1).await;
    let launches = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let fake = FakeExecutor::new(ExecutorKind::Native, {
        let launches = launches.clone();
        move |_| {
            if launches.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 {
                FakeRun::platform_error()
            } else {
                FakeRun::exit(0).print("ran\n")
            }
        }
    });
    let job = create_job(
        &*store,
        &*clock,
        &NoopTelemetry,
        JobRequest::ad_hoc(templates[0].id, Trigger::Manual),
    )
    .await
    .expect("create job");
    let d = dispatcher(
        store.clone(),
        artifacts.clone(),
        Arc::new(fake),
        Arc::new(NoopTelemetry),
        clock.clone(),
        options(1),
    );
    let shutdown = Shutdown::new();
    let h = tokio::spawn({
        let (d, s) = (d.clone(), shutdown.clone());
        async move { d.run(s).await }
    });
    // The releases are due again seconds later on the store's clock: move it along.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let done = loop {
        let j = store.get_job(job.id).await.expect("job");
        if j.phase == Phase::Preserved {
            break j;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not run again: {j:?}"
        );
        // Only while it waits out its back-off: a claimed or running job's lease runs on the
        // same clock, and a loaded machine must not turn the wait into an expired lease.
        if j.phase == Phase::Scheduled {
            clock.advance(chrono::Duration::seconds(5));
            d.notify();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    shutdown.drain();
    h.await.expect("join").expect("run");
    assert_eq!(done.outcome, Some(Outcome::Success));
    assert_eq!(done.launch_failures, 2);
    assert_eq!(done.attempt, 0, "no attempt counted");
    assert_eq!(launches.load(std::sync::atomic::Ordering::SeqCst), 3);
    assert_eq!(d.stats().released, 2);
    let all = store
        .list_jobs(&JobFilter {
            runtemplate_id: Some(templates[0].id),
            ..JobFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(all.len(), 1, "no retry job: {all:?}");
    assert_eq!(
        artifact_bytes(&*artifacts, done.id, "stdout.txt").await,
        b"ran\n"
    );
    assert!(
        d.breakers().iter().all(|b| !b.open),
        "two failures do not open the breaker"
    );
}

/// A running job whose cancellation is requested ends as cancelled (the heartbeat carries the request).
pub async fn cancel_request_stops_running_job(
    store: Arc<dyn Store>,
    artifacts: Arc<dyn ArtifactSink>,
    clock: Arc<ManualClock>,
) {
    let templates = seed_templates(&*store, App::new("engine-cancel", "/bin/fake"), 1).await;
    let fake = FakeExecutor::new(ExecutorKind::Native, |_| {
        FakeRun::exit(0)
            .print("started\n")
            .lasting(Duration::from_secs(600))
    });
    let clock: Arc<dyn Clock> = clock;
    let job = create_job(
        &*store,
        &*clock,
        &NoopTelemetry,
        JobRequest::ad_hoc(templates[0].id, Trigger::Manual),
    )
    .await
    .expect("create");
    let mut opts = options(1);
    opts.lease_ttl = Duration::from_millis(600);
    let d = dispatcher(
        store.clone(),
        artifacts.clone(),
        Arc::new(fake),
        Arc::new(NoopTelemetry),
        clock,
        opts,
    );
    let shutdown = Shutdown::new();
    let h = tokio::spawn({
        let (d, s) = (d.clone(), shutdown.clone());
        async move { d.run(s).await }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while store.get_job(job.id).await.expect("get").phase != Phase::Running {
        assert!(tokio::time::Instant::now() < deadline, "job never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    store.request_cancel(job.id, "test").await.expect("cancel");
    let done = wait_preserved(&*store, &[job.id], Duration::from_secs(30)).await;
    shutdown.drain();
    h.await.expect("join").expect("run");
    assert_eq!(done[0].outcome, Some(Outcome::Cancelled));
    assert_eq!(
        artifact_bytes(&*artifacts, job.id, "stdout.txt").await,
        b"started\n"
    );
}

/// A job claimed ahead (Queued, waiting for the one slot) whose cancel is requested ends
/// Completed(cancelled) and Preserved without ever launching, with empty stdout.txt and
/// stderr.txt.
pub async fn claimed_ahead_job_cancelled_before_start(
    store: Arc<dyn Store>,
    artifacts: Arc<dyn ArtifactSink>,
    clock: Arc<ManualClock>,
) {
    let templates = seed_templates(&*store, App::new("engine-ahead", "/bin/fake"), 2).await;
    let fake = FakeExecutor::new(ExecutorKind::Native, |_| {
        FakeRun::exit(0)
            .print("started\n")
            .lasting(Duration::from_secs(600))
    });
    let clock: Arc<dyn Clock> = clock;
    let mut ids = Vec::new();
    for t in &templates {
        let job = create_job(
            &*store,
            &*clock,
            &NoopTelemetry,
            JobRequest::ad_hoc(t.id, Trigger::Manual),
        )
        .await
        .expect("create");
        ids.push(job.id);
    }
    let mut opts = options(1);
    opts.claim_ahead = Some(1);
    opts.lease_ttl = Duration::from_millis(600);
    let d = dispatcher(
        store.clone(),
        artifacts.clone(),
        Arc::new(fake.clone()),
        Arc::new(NoopTelemetry),
        clock,
        opts,
    );
    let shutdown = Shutdown::new();
    let h = tokio::spawn({
        let (d, s) = (d.clone(), shutdown.clone());
        async move { d.run(s).await }
    });
    // One runs, the other waits claimed for the slot.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (running, waiting) = loop {
        let a = store.get_job(ids[0]).await.expect("get");
        let b = store.get_job(ids[1]).await.expect("get");
        match (a.phase, b.phase) {
            (Phase::Running, Phase::Queued) => break (a.id, b.id),
            (Phase::Queued, Phase::Running) => break (b.id, a.id),
            _ => {}
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never one Running and one Queued: {} / {}",
            a.phase,
            b.phase
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    store.request_cancel(waiting, "test").await.expect("cancel");
    let done = wait_preserved(&*store, &[waiting], Duration::from_secs(30)).await;
    assert_eq!(done[0].outcome, Some(Outcome::Cancelled));
    assert_eq!(done[0].begin, None, "it never started");
    assert_eq!(fake.launches(), 1, "only the running job was launched");
    assert_eq!(
        artifact_bytes(&*artifacts, waiting, "stdout.txt").await,
        b""
    );
    assert_eq!(
        artifact_bytes(&*artifacts, waiting, "stderr.txt").await,
        b""
    );
    store.request_cancel(running, "test").await.expect("cancel");
    wait_preserved(&*store, &[running], Duration::from_secs(30)).await;
    shutdown.drain();
    h.await.expect("join").expect("run");
    assert_eq!(fake.launches(), 1);
}

/// A dispatcher over a succeeding fake executor with `parallel` slots and a 60 s poll interval
/// (a job that starts sooner was found by a wake-up), running; its shutdown and task.
fn start_idle_dispatcher(
    store: &Arc<dyn Store>,
    artifacts: &Arc<dyn ArtifactSink>,
    clock: &Arc<dyn Clock>,
    parallel: usize,
) -> (
    Dispatcher,
    Shutdown,
    tokio::task::JoinHandle<crate::Result<()>>,
) {
    let mut opts = options(parallel);
    opts.poll_interval = Duration::from_secs(60);
    let d = dispatcher(
        store.clone(),
        artifacts.clone(),
        Arc::new(FakeExecutor::succeeding()),
        Arc::new(NoopTelemetry),
        clock.clone(),
        opts,
    );
    let shutdown = Shutdown::new();
    let h = tokio::spawn({
        let (d, s) = (d.clone(), shutdown.clone());
        async move { d.run(s).await }
    });
    (d, shutdown, h)
}

/// A job created while the dispatcher idles (poll interval 60 s) starts on the store's wake-up
/// signal or the in-process notify: the dispatcher never needed a poll wake-up to find it.
pub async fn idle_dispatcher_wakes_without_polling(
    store: Arc<dyn Store>,
    artifacts: Arc<dyn ArtifactSink>,
    clock: Arc<ManualClock>,
) {
    let templates = seed_templates(&*store, App::new("engine-wake", "/bin/fake"), 1).await;
    let clock: Arc<dyn Clock> = clock;
    let (d, shutdown, h) = start_idle_dispatcher(&store, &artifacts, &clock, 4);
    let mut ids = Vec::new();
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(15)).await;
        let job = create_job(
            &*store,
            &*clock,
            &NoopTelemetry,
            JobRequest::ad_hoc(templates[0].id, Trigger::Api),
        )
        .await
        .expect("create");
        if store.work_signal().is_none() {
            d.notify();
        }
        ids.push(job.id);
    }
    wait_preserved(&*store, &ids, Duration::from_secs(30)).await;
    shutdown.drain();
    h.await.expect("join").expect("run");
    assert_eq!(
        d.stats().poll_wakeups,
        0,
        "no job waited for the poll: {:?}",
        d.stats()
    );
}

/// A job created ahead of its time (due in 2 s; the poll interval is 60 s) starts once it is
/// due: the dispatcher asked the store when the next job is due and woke then, not at a poll.
pub async fn job_due_later_starts_without_polling(
    store: Arc<dyn Store>,
    artifacts: Arc<dyn ArtifactSink>,
    clock: Arc<ManualClock>,
) {
    let templates = seed_templates(&*store, App::new("engine-due", "/bin/fake"), 1).await;
    let manual = clock.clone();
    let clock: Arc<dyn Clock> = clock;
    let (d, shutdown, h) = start_idle_dispatcher(&store, &artifacts, &clock, 2);
    let claims = |d: &Dispatcher| d.stats().claims;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while claims(&d) == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut request = JobRequest::ad_hoc(templates[0].id, Trigger::Api);
    request.after = Some(clock.now() + chrono::Duration::seconds(2));
    let job = create_job(&*store, &*clock, &NoopTelemetry, request)
        .await
        .expect("create");
    if store.work_signal().is_none() {
        d.notify();
    }
    // Once the dispatcher has looked (and found the job not yet due), the store's clock
    // reaches its due time.
    while claims(&d) < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // That claim has read the clock (the dispatcher sleeps 2 s from there).
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        store.get_job(job.id).await.expect("job").phase,
        Phase::Scheduled,
        "not claimed before it is due"
    );
    manual.advance(chrono::Duration::seconds(2));
    wait_preserved(&*store, &[job.id], Duration::from_secs(30)).await;
    shutdown.drain();
    h.await.expect("join").expect("run");
    let stats = d.stats();
    assert_eq!(stats.poll_wakeups, 0, "no poll was needed: {stats:?}");
    assert!(stats.due_wakeups >= 1, "woke when it was due: {stats:?}");
}

/// The scheduler creates a job for a due slot (trigger schedule, slot set, next_schedule NULL
/// while outstanding); after it completes, next_schedule is the next slot and last_schedule is set.
/// Telemetry sees every phase in order.
pub async fn scheduled_slot_runs_and_advances(
    store: Arc<dyn Store>,
    artifacts: Arc<dyn ArtifactSink>,
    clock: Arc<ManualClock>,
) {
    let app = store
        .put_app(&App::new("engine-sched", "/bin/fake"))
        .await
        .expect("app");
    let company = store
        .create_company(&Company::new("Sched Co"))
        .await
        .expect("company");
    let t = store
        .create_runtemplate(
            &RunTemplate::new(app.id, company.id, "every minute").with_cron("* * * * *"),
        )
        .await
        .expect("template");
    let telemetry = Arc::new(RecordingTelemetry::new());
    let scheduler = Scheduler::new(
        store.clone(),
        telemetry.clone(),
        clock.clone(),
        SchedulerOptions::default(),
    );
    let first = scheduler.tick().await.expect("tick");
    assert!(first.created.is_empty());
    let t1 = store.get_runtemplate(t.id).await.expect("template");
    let slot = t1.next_schedule.expect("next_schedule computed");
    assert!(slot > clock.now() && slot <= clock.now() + chrono::Duration::minutes(1));
    clock.set(slot + chrono::Duration::seconds(1));
    let second = scheduler.tick().await.expect("tick");
    assert_eq!(second.created.len(), 1);
    let job = &second.created[0];
    assert_eq!(
        (job.trigger, job.slot, job.attempt),
        (Trigger::Schedule, Some(slot), 0)
    );
    let t2 = store.get_runtemplate(t.id).await.expect("template");
    assert_eq!(t2.next_schedule, None);
    assert_eq!(t2.last_schedule, Some(clock.now()));
    // A second pass (or a second scheduler) creates nothing while it is outstanding.
    assert!(scheduler.tick().await.expect("tick").created.is_empty());

    let d = dispatcher(
        store.clone(),
        artifacts.clone(),
        Arc::new(FakeExecutor::succeeding()),
        telemetry.clone(),
        clock.clone(),
        options(1),
    );
    let shutdown = Shutdown::new();
    let h = tokio::spawn({
        let (d, s) = (d.clone(), shutdown.clone());
        async move { d.run(s).await }
    });
    wait_preserved(&*store, &[job.id], Duration::from_secs(30)).await;
    shutdown.drain();
    h.await.expect("join").expect("run");
    let t3 = store.get_runtemplate(t.id).await.expect("template");
    assert_eq!(t3.next_schedule, Some(slot + chrono::Duration::minutes(1)));
    assert_eq!((t3.successfull_jobs_count, t3.failed_jobs_count), (1, 0));
    assert_eq!(
        telemetry.phases_of(job.id),
        vec![
            Phase::Created,
            Phase::Scheduled,
            Phase::Queued,
            Phase::Running,
            Phase::Completed,
            Phase::Preserved
        ]
    );
}

async fn run_one(
    store: &Arc<dyn Store>,
    artifacts: &Arc<dyn ArtifactSink>,
    fake: FakeExecutor,
    template: RunTemplateId,
    clock: Arc<ManualClock>,
) -> Job {
    run_one_with(
        store,
        artifacts,
        Arc::new(fake),
        template,
        options(2),
        clock,
    )
    .await
}

/// Creates one ad-hoc job of `template`, runs a dispatcher with `executor` until it is
/// Preserved, drains, and returns it.
async fn run_one_with(
    store: &Arc<dyn Store>,
    artifacts: &Arc<dyn ArtifactSink>,
    executor: Arc<dyn Executor>,
    template: RunTemplateId,
    opts: DispatcherOptions,
    clock: Arc<ManualClock>,
) -> Job {
    let clock: Arc<dyn Clock> = clock;
    let job = create_job(
        &**store,
        &*clock,
        &NoopTelemetry,
        JobRequest::ad_hoc(template, Trigger::Manual),
    )
    .await
    .expect("create job");
    let d = dispatcher(
        store.clone(),
        artifacts.clone(),
        executor,
        Arc::new(NoopTelemetry),
        clock,
        opts,
    );
    let shutdown = Shutdown::new();
    let h = tokio::spawn({
        let (d, s) = (d.clone(), shutdown.clone());
        async move { d.run(s).await }
    });
    let done = wait_preserved(&**store, &[job.id], Duration::from_secs(30)).await;
    shutdown.drain();
    h.await.expect("join").expect("run");
    done.into_iter().next().expect("one job")
}

async fn artifact_bytes(artifacts: &dyn ArtifactSink, job: JobId, name: &str) -> Vec<u8> {
    let metas = artifacts.list(job).await.expect("list artifacts");
    let by_name: BTreeMap<String, _> = metas.into_iter().map(|m| (m.filename.clone(), m)).collect();
    let meta = by_name
        .get(name)
        .unwrap_or_else(|| panic!("job {job} has no {name}: {:?}", by_name.keys()));
    artifacts.get(meta.id).await.expect("get artifact").content
}

/// Expands every engine scenario into a named test.
///
/// `$make` is an async expression evaluating to a
/// [`StoreHarness`](crate::conformance::store::StoreHarness) (or the tuple
/// `(Arc<dyn Store>, Arc<dyn ArtifactSink>, Arc<ManualClock>)`) — a fresh backend per test whose
/// store reads that clock; the same expression the store suite takes.
#[macro_export]
macro_rules! engine_conformance_tests {
    ($make:expr $(,)?) => {
        $crate::engine_conformance_tests!(@cases ($make)
            thousand_jobs_parallel_16,
            secret_printed_bytewise_is_masked,
            output_past_cap_keeps_head_and_tail,
            platform_error_is_retried,
            launch_failure_goes_back_to_the_queue,
            cancel_request_stops_running_job,
            claimed_ahead_job_cancelled_before_start,
            idle_dispatcher_wakes_without_polling,
            job_due_later_starts_without_polling,
            scheduled_slot_runs_and_advances,
            failed_running_write_stops_the_job,
            work_dir_only_for_executors_that_use_one,
            second_started_report_is_ignored,
            failure_actions_take_effect_once,
        );
    };
    (@cases ($make:expr) $($case:ident),+ $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::conformance::store::run(async {
                    let h: $crate::conformance::store::StoreHarness =
                        ::core::convert::Into::into($make.await);
                    $crate::conformance::engine::$case(h.store.clone(), h.artifacts.clone(), h.clock.clone()).await;
                });
            }
        )+
    };
}
