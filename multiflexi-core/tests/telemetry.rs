//! Telemetry sinks of core, driven by the real engine (Dispatcher + FakeExecutor on
//! InMemoryStore): the job spans across two "processes", the metrics, and Zabbix against an
//! in-test trapper — and the real `zabbix_sender` (MULTIFLEXI_TEST_ZABBIX_SENDER, from
//! `scripts/services/zabbix.sh`) against the same trapper.

use multiflexi_core::engine::{Dispatcher, DispatcherOptions, JobRequest, Shutdown, create_job};
use multiflexi_core::executor::FakeRun;
use multiflexi_core::lifecycle::{Outcome, Phase, Trigger};
use multiflexi_core::model::{JobSpec, NewJob};
use multiflexi_core::store::{Catalog as _, JobQueue as _};
use multiflexi_core::telemetry::zabbix::protocol::{
    SenderReply, SenderRequest, ZabbixItem, read_frame,
};
use multiflexi_core::telemetry::zabbix::{items_for, send};
use multiflexi_core::telemetry::{
    AttrValue, CatalogNames, CompanyNames, FanoutTelemetry, JobMetrics, JobSpans, JobSpansOptions,
    JobTrace, PhaseEvent, RecordingTelemetry, SpanRecord, Telemetry, TraceContext, ZabbixConfig,
    ZabbixTelemetry, new_trace_context,
};
use multiflexi_core::{
    App, Clock, Company, ExecutorKind, FakeExecutor, InMemoryStore, Job, JobId, RunTemplate,
    SystemClock,
};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

// ---------------------------------------------------------------------------------------------
// Engine harness

struct World {
    store: Arc<InMemoryStore>,
    clock: Arc<dyn Clock>,
    app: App,
    company: Company,
    ok: RunTemplate,
    failing: RunTemplate,
}

async fn world(zabbix_host: Option<&str>) -> World {
    let store = Arc::new(InMemoryStore::new());
    let app = store
        .put_app(&App::new("telemetry-app", "/bin/fake"))
        .await
        .unwrap();
    let mut c = Company::new("Telemetry Co");
    c.zabbix_host = zabbix_host.map(str::to_string);
    let company = store.create_company(&c).await.unwrap();
    let ok = store
        .create_runtemplate(&RunTemplate::new(app.id, company.id, "succeeds"))
        .await
        .unwrap();
    let failing = store
        .create_runtemplate(&RunTemplate::new(app.id, company.id, "exits 3"))
        .await
        .unwrap();
    World {
        store,
        clock: Arc::new(SystemClock),
        app,
        company,
        ok,
        failing,
    }
}

impl World {
    /// A FakeExecutor: the failing template's jobs exit 3, others 0.
    fn executor(&self) -> FakeExecutor {
        let failing = self.failing.id;
        FakeExecutor::new(ExecutorKind::Native, move |spec| {
            let run = FakeRun::exit(if spec.runtemplate_id == failing { 3 } else { 0 })
                .print(format!("job {}\n", spec.job_id));
            if spec.runtemplate_id == failing {
                run
            } else {
                // 5 MiB peak, 250 ms of CPU: the usage histograms count these jobs only.
                run.using(5 << 20, std::time::Duration::from_millis(250))
            }
        })
    }

    async fn create(&self, template: &RunTemplate, telemetry: &dyn Telemetry) -> Job {
        create_job(
            &*self.store,
            &*self.clock,
            telemetry,
            JobRequest::ad_hoc(template.id, Trigger::Cli),
        )
        .await
        .unwrap()
    }

    /// Creates a job carrying a fresh stored trace context (what the job factory will do),
    /// emitting Created and Scheduled as the engine does.
    async fn create_traced(&self, template: &RunTemplate, telemetry: &dyn Telemetry) -> Job {
        let mut new = NewJob::new(
            template.id,
            template.company_id,
            template.app_id,
            ExecutorKind::Native,
            JobSpec::new("/bin/fake", Vec::new()),
            Trigger::Api,
            self.clock.now(),
        );
        new.trace_context = Some(new_trace_context());
        let job = self.store.create_and_schedule(&new).await.unwrap();
        telemetry.event(&PhaseEvent::of(&job, job.created).with_phase(Phase::Created));
        telemetry.event(&PhaseEvent::of(&job, job.created));
        job
    }

    /// Runs a dispatcher until every job in `ids` is Preserved.
    async fn run(&self, ids: &[JobId], telemetry: Arc<dyn Telemetry>, parallel: usize) -> Vec<Job> {
        let mut o = DispatcherOptions::new("telemetry-executor", parallel);
        o.poll_interval = Duration::from_millis(20);
        o.work_root =
            std::env::temp_dir().join(format!("multiflexi-telemetry-core-{}", std::process::id()));
        let d = Dispatcher::new(
            self.store.clone(),
            self.store.clone(),
            vec![Arc::new(self.executor())],
            telemetry,
            self.clock.clone(),
            o,
        );
        let shutdown = Shutdown::new();
        let handle = tokio::spawn({
            let (d, s) = (d.clone(), shutdown.clone());
            async move { d.run(s).await }
        });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
        let jobs = loop {
            let mut jobs = Vec::with_capacity(ids.len());
            for id in ids {
                jobs.push(self.store.get_job(*id).await.unwrap());
            }
            if jobs.iter().all(|j| j.phase == Phase::Preserved) {
                break jobs;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "jobs not preserved: {:?}",
                jobs.iter()
                    .filter(|j| j.phase != Phase::Preserved)
                    .map(|j| (j.id, j.phase))
                    .take(5)
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        shutdown.drain();
        handle.await.unwrap().unwrap();
        jobs
    }
}

// ---------------------------------------------------------------------------------------------
// Spans

/// One process's span pipeline without an exporter: JobSpans collecting records.
#[derive(Debug, Default)]
struct SpanSink {
    spans: Mutex<JobSpans>,
    out: Mutex<Vec<SpanRecord>>,
}

impl Telemetry for SpanSink {
    fn event(&self, e: &PhaseEvent) {
        let mut out = Vec::new();
        self.spans
            .lock()
            .unwrap()
            .on_event(e, Instant::now(), &mut out);
        self.out.lock().unwrap().extend(out);
    }
}

impl SpanSink {
    fn records(&self) -> Vec<SpanRecord> {
        self.out.lock().unwrap().clone()
    }
}

fn int(r: &SpanRecord, k: &str) -> i64 {
    match r.attribute(k) {
        Some(AttrValue::Int(i)) => *i,
        other => panic!("{k}: {other:?} on {}", r.name),
    }
}

fn string(r: &SpanRecord, k: &str) -> String {
    match r.attribute(k) {
        Some(AttrValue::Str(s)) => s.clone(),
        other => panic!("{k}: {other:?} on {}", r.name),
    }
}

#[tokio::test]
async fn one_trace_per_job_across_scheduler_and_executor() {
    let w = world(None).await;
    let scheduler = SpanSink::default();
    let executor = Arc::new(SpanSink::default());
    let a = w.create(&w.ok, &scheduler).await;
    let b = w.create(&w.failing, &scheduler).await;
    let c = w.create_traced(&w.ok, &scheduler).await;
    let jobs = w.run(&[a.id, b.id, c.id], executor.clone(), 2).await;
    assert_eq!(
        executor.spans.lock().unwrap().open_segments(),
        0,
        "nothing held after Preserved"
    );
    let sched = scheduler.records();
    let exec = executor.records();
    let stored: TraceContext = c.trace_context.as_deref().unwrap().parse().unwrap();

    for job in &jobs {
        let ids = JobTrace::of(&PhaseEvent::of(job, job.created));
        let mine = |rs: &[SpanRecord]| -> Vec<SpanRecord> {
            rs.iter()
                .filter(|r| matches!(r.attribute("job_id"), Some(AttrValue::Int(i)) if *i == job.id.get()))
                .cloned()
                .collect()
        };
        let (s, e) = (mine(&sched), mine(&exec));
        // One trace: every span of the job, from both processes, carries its trace id.
        assert!(s.iter().chain(&e).all(|r| r.trace_id == ids.trace_id));
        // The scheduler process reports its segment, the executor its segment and job.execute.
        assert_eq!(s.iter().map(|r| r.name).collect::<Vec<_>>(), ["job.create"]);
        let mut names: Vec<_> = e.iter().map(|r| r.name).collect();
        names.sort();
        assert_eq!(names, ["job.execute", "job.run"]);
        let exe = e.iter().find(|r| r.name == "job.execute").unwrap();
        let run = e.iter().find(|r| r.name == "job.run").unwrap();
        assert_eq!(exe.span_id, ids.span_id);
        assert_eq!(exe.parent_span_id, None);
        assert_eq!(s[0].parent_span_id, Some(exe.span_id));
        assert_eq!(run.parent_span_id, Some(exe.span_id));
        assert_eq!(string(&s[0], "phases"), "created,scheduled");
        assert_eq!(string(run, "phases"), "queued,running,completed,preserved");
        // Attributes.
        assert_eq!(int(exe, "job_id"), job.id.get());
        assert_eq!(int(exe, "runtemplate_id"), job.runtemplate_id.get());
        assert_eq!(int(exe, "company_id"), w.company.id.get());
        assert_eq!(int(exe, "app_id"), w.app.id.get());
        assert_eq!(string(exe, "executor"), "Native");
        assert_eq!(int(exe, "attempt"), 0);
        assert_eq!(string(exe, "trigger"), job.trigger.as_str());
        // One event per phase, at the stored timestamps.
        let events: Vec<_> = exe.events.iter().map(|e| (e.name, e.at)).collect();
        assert_eq!(
            events,
            [
                ("created", job.created),
                ("scheduled", job.created),
                ("queued", job.queued.unwrap()),
                ("running", job.begin.unwrap()),
                ("completed", job.end.unwrap()),
                ("preserved", job.preserved.unwrap()),
            ]
        );
        assert_eq!((exe.start, exe.end), (job.created, job.preserved.unwrap()));
        let done = &exe.events[4];
        let attr = |k: &str| {
            done.attributes
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            attr("outcome"),
            Some(AttrValue::Str(job.outcome.unwrap().as_str().into()))
        );
        assert_eq!(
            attr("exitcode"),
            Some(AttrValue::Int(job.exitcode.unwrap().into()))
        );
        if job.id == b.id {
            assert_eq!(job.exitcode, Some(3));
            assert_eq!(exe.error.as_deref(), Some("job failed"));
        } else {
            assert_eq!(exe.error, None);
        }
    }
    // The stored context is continued: job.execute has the stored ids.
    let exe_c = exec
        .iter()
        .find(|r| r.name == "job.execute" && int(r, "job_id") == c.id.get())
        .unwrap();
    assert_eq!(
        (exe_c.trace_id, exe_c.span_id),
        (stored.trace_id, stored.span_id)
    );
    // Distinct jobs, distinct traces.
    let mut traces: Vec<_> = exec
        .iter()
        .filter(|r| r.name == "job.execute")
        .map(|r| r.trace_id)
        .collect();
    traces.dedup();
    assert_eq!(traces.len(), 3);
}

#[tokio::test]
async fn completed_without_preserved_is_held_then_reported_and_lost_at_once() {
    let w = world(None).await;
    let rec = Arc::new(RecordingTelemetry::new());
    let job = w.create(&w.ok, &*rec).await;
    w.run(&[job.id], rec.clone(), 1).await;
    let events = rec.events();
    let completed = events
        .iter()
        .find(|e| e.phase == Phase::Completed)
        .unwrap()
        .clone();

    // An executor process that sees Queued..Completed but no Preserved.
    let mut spans = JobSpans::new(JobSpansOptions::default());
    let now = Instant::now();
    let mut out = Vec::new();
    for e in events
        .iter()
        .filter(|e| matches!(e.phase, Phase::Queued | Phase::Running))
    {
        spans.on_event(e, now, &mut out);
    }
    spans.on_event(&completed, now, &mut out);
    assert!(out.is_empty(), "held: {out:?}");
    spans.expire(now + Duration::from_secs(1), &mut out);
    assert!(out.is_empty());
    spans.expire(now + Duration::from_secs(61), &mut out);
    let names: Vec<_> = out.iter().map(|r| r.name).collect();
    assert_eq!(names, ["job.run", "job.execute"]);
    let exe = &out[1];
    assert_eq!(
        exe.events.iter().map(|e| e.name).collect::<Vec<_>>(),
        ["created", "scheduled", "queued", "running", "completed"]
    );

    // A process (lease recovery) that only reports Completed(lost): reported at once.
    let mut lost = completed.clone();
    lost.outcome = Some(Outcome::Lost);
    lost.exitcode = Some(-1);
    let mut other = JobSpans::new(JobSpansOptions::default());
    let mut out = Vec::new();
    other.on_event(&lost, now, &mut out);
    let names: Vec<_> = out.iter().map(|r| r.name).collect();
    assert_eq!(names, ["job.complete", "job.execute"]);
    assert_eq!(out[1].error.as_deref(), Some("job lost"));
    // A late Preserved does not report job.execute twice.
    let preserved = events.iter().find(|e| e.phase == Phase::Preserved).unwrap();
    let mut late = Vec::new();
    other.on_event(preserved, now, &mut late);
    assert_eq!(
        late.iter().map(|r| r.name).collect::<Vec<_>>(),
        ["job.preserve"]
    );
}

#[tokio::test]
async fn retries_share_the_first_attempts_trace() {
    let w = world(None).await;
    let job = w
        .create_traced(&w.ok, &multiflexi_core::telemetry::NoopTelemetry)
        .await;
    let first = PhaseEvent::of(&job, job.created);
    let mut retry = first.clone();
    retry.job_id = JobId::from(job.id.get() + 1000);
    retry.attempt = 1;
    retry.trigger = Trigger::Retry;
    let (a, b) = (JobTrace::of(&first), JobTrace::of(&retry));
    assert_eq!(a.trace_id, b.trace_id);
    assert_eq!(b.parent_span_id, Some(a.span_id));
    assert_ne!(a.span_id, b.span_id);
}

// ---------------------------------------------------------------------------------------------
// Metrics

#[tokio::test]
async fn metrics_count_what_the_engine_did() {
    let w = world(None).await;
    let metrics = JobMetrics::new();
    let mut ids = Vec::new();
    for i in 0..10 {
        let t = if i % 3 == 0 { &w.failing } else { &w.ok };
        ids.push(w.create(t, &*metrics).await.id);
    }
    w.run(&ids, metrics.clone(), 4).await;
    assert_eq!(metrics.jobs_total(), 10);
    assert_eq!(metrics.jobs_with_outcome(Outcome::Success), 6);
    assert_eq!(metrics.jobs_with_outcome(Outcome::Failed), 4);
    assert_eq!(metrics.running(), [("Native", 0)]);
    let text = metrics.render_prometheus();
    let (app, co) = (w.app.id, w.company.id);
    for line in [
        format!(
            "multiflexi_jobs_total{{app=\"{app}\",company=\"{co}\",executor=\"Native\",outcome=\"success\"}} 6"
        ),
        format!(
            "multiflexi_jobs_total{{app=\"{app}\",company=\"{co}\",executor=\"Native\",outcome=\"failed\"}} 4"
        ),
        format!(
            "multiflexi_jobs_success_total{{app=\"{app}\",company=\"{co}\",executor=\"Native\"}} 6"
        ),
        format!(
            "multiflexi_jobs_failed_total{{app=\"{app}\",company=\"{co}\",executor=\"Native\",outcome=\"failed\"}} 4"
        ),
        format!(
            "multiflexi_job_duration_seconds_count{{app=\"{app}\",company=\"{co}\",executor=\"Native\",outcome=\"success\"}} 6"
        ),
        format!(
            "multiflexi_job_duration_seconds_bucket{{app=\"{app}\",company=\"{co}\",executor=\"Native\",outcome=\"failed\",le=\"+Inf\"}} 4"
        ),
        format!(
            "multiflexi_job_queue_wait_seconds_count{{app=\"{app}\",company=\"{co}\",executor=\"Native\"}} 10"
        ),
        format!(
            "multiflexi_job_memory_peak_bytes_bucket{{app=\"{app}\",company=\"{co}\",executor=\"Native\",outcome=\"success\",le=\"4194304\"}} 0"
        ),
        format!(
            "multiflexi_job_memory_peak_bytes_bucket{{app=\"{app}\",company=\"{co}\",executor=\"Native\",outcome=\"success\",le=\"16777216\"}} 6"
        ),
        format!(
            "multiflexi_job_cpu_time_seconds_sum{{app=\"{app}\",company=\"{co}\",executor=\"Native\",outcome=\"success\"}} 1.5"
        ),
        "multiflexi_jobs_running{executor=\"Native\"} 0".to_string(),
        "# TYPE multiflexi_job_duration_seconds histogram".to_string(),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Zabbix

#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// `processed: N; failed: M` where failed are the items whose key ends in `[0]`.
    Normally,
    /// Accepts, never reads, never answers.
    Never,
}

struct Trapper {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<SenderRequest>>>,
    accepted: Arc<std::sync::atomic::AtomicU64>,
}

async fn trapper(answer: Answer) -> Trapper {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let accepted = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (reqs, acc) = (requests.clone(), accepted.clone());
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            acc.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if answer == Answer::Never {
                held.push(stream);
                continue;
            }
            let reqs = reqs.clone();
            tokio::spawn(async move {
                let Ok(payload) = read_frame(&mut stream).await else {
                    return;
                };
                let req = SenderRequest::decode(&payload).expect("a sender data request");
                let failed = req.data.iter().filter(|i| i.key.ends_with("[0]")).count() as u64;
                let reply = SenderReply::success(req.data.len() as u64 - failed, failed);
                reqs.lock().unwrap().push(req);
                let _ = stream.write_all(&reply.encode()).await;
            });
        }
    });
    Trapper {
        addr,
        requests,
        accepted,
    }
}

impl Trapper {
    fn items(&self) -> Vec<ZabbixItem> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| r.data.clone())
            .collect()
    }

    fn config(&self) -> ZabbixConfig {
        ZabbixConfig::new(&self.addr.to_string(), "multiflexi-test-host").unwrap()
    }
}

fn names_of(w: &World) -> Arc<CatalogNames> {
    let names = CatalogNames::new();
    names.set_company(
        w.company.id,
        CompanyNames {
            name: w.company.name.clone(),
            zabbix_host: w.company.zabbix_host.clone(),
        },
    );
    names.set_app(w.app.id, "telemetry-app");
    names.set_runtemplate(w.ok.id, "succeeds");
    names.set_runtemplate(w.failing.id, "exits 3");
    names
}

#[tokio::test]
async fn zabbix_items_reach_a_trapper() {
    let w = world(Some("acme-zbx")).await;
    let trap = trapper(Answer::Normally).await;
    let names = CatalogNames::new();
    names.refresh(&*w.store).await.unwrap();
    assert_eq!(names.zabbix_host(w.company.id).as_deref(), Some("acme-zbx"));
    let zabbix = Arc::new(ZabbixTelemetry::spawn(trap.config(), names));
    let rec = Arc::new(RecordingTelemetry::new());
    let both = Arc::new(FanoutTelemetry::new(vec![zabbix.clone(), rec.clone()]));
    let a = w.create(&w.ok, &*both).await;
    let b = w.create(&w.failing, &*both).await;
    let jobs = w.run(&[a.id, b.id], both.clone(), 2).await;
    assert!(
        tokio::time::timeout(Duration::from_secs(30), zabbix.flush())
            .await
            .unwrap()
    );

    let items = trap.items();
    for job in &jobs {
        let id = job.id;
        let at = |p: Phase| {
            rec.events()
                .into_iter()
                .find(|e| e.job_id == id && e.phase == p)
                .unwrap()
                .at
        };
        let find = |key: String| -> Vec<ZabbixItem> {
            items.iter().filter(|i| i.key == key).cloned().collect()
        };
        let phases = find(format!("multiflexi.job.phase[{id}]"));
        let values: Vec<_> = phases.iter().map(|i| i.value.as_str()).collect();
        assert_eq!(values, ["prepared", "running", "completed"]);
        let stamps: Vec<_> = phases.iter().map(|i| (i.clock, i.ns)).collect();
        let stamp = |t: chrono::DateTime<chrono::Utc>| {
            (
                Some(t.timestamp()),
                Some(i64::from(t.timestamp_subsec_nanos())),
            )
        };
        assert_eq!(
            stamps,
            [
                stamp(at(Phase::Scheduled)),
                stamp(at(Phase::Running)),
                stamp(at(Phase::Completed))
            ]
        );
        assert!(phases.iter().all(|i| i.host == "acme-zbx"));
        let exit = find(format!("multiflexi.job.exitcode[{id}]"));
        assert_eq!(exit.len(), 1);
        assert_eq!(exit[0].value, job.exitcode.unwrap().to_string());
        let dur = find(format!("multiflexi.job.duration[{id}]"));
        assert_eq!(dur.len(), 1);
        let secs: f64 = dur[0].value.parse().unwrap();
        let expected = (job.end.unwrap() - job.begin.unwrap()).num_milliseconds() as f64 / 1000.0;
        assert!((secs - expected).abs() < 0.0011, "{secs} vs {expected}");
        let lld: Vec<_> = items
            .iter()
            .filter(|i| {
                i.key == "multiflexi.job.lld"
                    && serde_json::from_str::<serde_json::Value>(&i.value).unwrap()[0]["{#JOB_ID}"]
                        == id.to_string()
            })
            .collect();
        assert_eq!(lld.len(), 1);
        let macros: serde_json::Value = serde_json::from_str(&lld[0].value).unwrap();
        let m = &macros[0];
        assert_eq!(m["{#JOB_ID}"], id.to_string());
        assert_eq!(m["{#APP_ID}"], w.app.id.to_string());
        assert_eq!(m["{#APP_NAME}"], "telemetry-app");
        assert_eq!(m["{#COMPANY_ID}"], w.company.id.to_string());
        assert_eq!(m["{#COMPANY_NAME}"], "Telemetry Co");
        assert_eq!(m["{#RUNTEMPLATE_ID}"], job.runtemplate_id.to_string());
        let tname = if job.runtemplate_id == w.ok.id {
            "succeeds"
        } else {
            "exits 3"
        };
        assert_eq!(m["{#RUNTEMPLATE_NAME}"], tname);
    }
    // 2 jobs × (lld + 3 phases + exit code + duration).
    assert_eq!(items.len(), 12);
    assert_eq!(zabbix.stats().sent(), 12);
    assert_eq!((zabbix.stats().failed(), zabbix.stats().dropped()), (0, 0));
    // Refused values are counted.
    let refused = send(
        &trap.config(),
        vec![ZabbixItem::new(
            "h",
            "multiflexi.job.phase[0]",
            "test",
            chrono::Utc::now(),
        )],
    )
    .await
    .unwrap();
    assert_eq!(refused.counts().failed, 1);
    assert!(zabbix.shutdown(Duration::from_secs(10)).await);
}

#[tokio::test]
async fn zabbix_host_falls_back_to_the_default() {
    let w = world(None).await;
    let names = names_of(&w);
    let rec = RecordingTelemetry::new();
    let job = w.create(&w.ok, &rec).await;
    let scheduled = rec
        .events()
        .into_iter()
        .find(|e| e.phase == Phase::Scheduled)
        .unwrap();
    let items = items_for(&scheduled, &names, "fallback-host");
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|i| i.host == "fallback-host"));
    assert_eq!(items[1].key, format!("multiflexi.job.phase[{}]", job.id));
    // Created, Queued and Preserved send nothing.
    let created = rec
        .events()
        .into_iter()
        .find(|e| e.phase == Phase::Created)
        .unwrap();
    assert!(items_for(&created, &names, "h").is_empty());
}

/// The same items sent by our sender and by the real `zabbix_sender` decode to the same
/// request, field by field (the request's own clock aside).
#[tokio::test]
async fn zabbix_sender_agrees_with_ours() {
    let Some(sender) = std::env::var_os("MULTIFLEXI_TEST_ZABBIX_SENDER") else {
        assert!(
            std::env::var("MULTIFLEXI_REQUIRE_INTEGRATION").as_deref() != Ok("1"),
            "MULTIFLEXI_TEST_ZABBIX_SENDER is not set (run scripts/services/zabbix.sh)"
        );
        eprintln!("skipped: MULTIFLEXI_TEST_ZABBIX_SENDER is not set (scripts/services/zabbix.sh)");
        return;
    };
    let w = world(Some("acme-zbx")).await;
    let names = names_of(&w);
    let rec = Arc::new(RecordingTelemetry::new());
    let a = w.create(&w.failing, &*rec).await;
    w.run(&[a.id], rec.clone(), 1).await;
    let items: Vec<ZabbixItem> = rec
        .events()
        .iter()
        .flat_map(|e| items_for(e, &names, "multiflexi-test-host"))
        .collect();
    assert_eq!(items.len(), 6);

    let ours = trapper(Answer::Normally).await;
    let reply = send(&ours.config(), items.clone()).await.unwrap();
    assert_eq!(reply.counts().processed, 6);

    let theirs = trapper(Answer::Normally).await;
    let dir = std::env::temp_dir().join(format!("multiflexi-zbx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("items.txt");
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let lines: String = items
        .iter()
        .map(|i| {
            format!(
                "{} {} {} {} {}\n",
                quote(&i.host),
                quote(&i.key),
                i.clock.unwrap(),
                i.ns.unwrap(),
                quote(&i.value)
            )
        })
        .collect();
    std::fs::write(&input, lines).unwrap();
    let out = tokio::process::Command::new(&sender)
        .args([
            "-z",
            "127.0.0.1",
            "-p",
            &theirs.addr.port().to_string(),
            "-T",
            "-N",
            "-i",
        ])
        .arg(&input)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "zabbix_sender failed: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("processed: 6; failed: 0"), "{stdout}");

    let (mine, real) = (
        ours.requests.lock().unwrap().clone(),
        theirs.requests.lock().unwrap().clone(),
    );
    assert_eq!((mine.len(), real.len()), (1, 1));
    let (mine, real) = (&mine[0], &real[0]);
    assert_eq!(mine.request, real.request);
    assert_eq!(mine.data, real.data, "items differ field by field");
    assert!(mine.clock.is_some() && real.clock.is_some());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A trapper that behaves like a Zabbix server with the shipped template: a job's items
/// (`…[<job id>]`) exist only once its discovery record arrived in an earlier request and
/// `discovery` has passed since (the server's LLD and configuration sync); values for items that
/// do not exist are refused, and the reply only counts them.
struct DiscoveringTrapper {
    addr: SocketAddr,
    /// Accepted values, in the order they were accepted.
    accepted: Arc<Mutex<Vec<ZabbixItem>>>,
    /// Values refused.
    refused: Arc<std::sync::atomic::AtomicU64>,
}

async fn discovering_trapper(discovery: Duration) -> DiscoveringTrapper {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let refused = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let discovered: Arc<Mutex<std::collections::HashMap<String, Instant>>> = Arc::default();
    let (acc, refs) = (accepted.clone(), refused.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let Ok(payload) = read_frame(&mut stream).await else {
                continue;
            };
            let req = SenderRequest::decode(&payload).expect("a sender data request");
            let now = Instant::now();
            let mut failed = 0u64;
            {
                let mut found = discovered.lock().unwrap();
                for item in &req.data {
                    let exists = match item.key.strip_suffix(']').and_then(|k| k.split_once('[')) {
                        None => true,
                        Some((_, id)) => found
                            .get(id)
                            .is_some_and(|at| now.duration_since(*at) >= discovery),
                    };
                    if exists {
                        acc.lock().unwrap().push(item.clone());
                    } else {
                        failed += 1;
                    }
                }
                for item in req.data.iter().filter(|i| i.key == "multiflexi.job.lld") {
                    let record: serde_json::Value = serde_json::from_str(&item.value).unwrap();
                    let id = record[0]["{#JOB_ID}"].as_str().unwrap().to_string();
                    found.entry(id).or_insert(now);
                }
            }
            refs.fetch_add(failed, std::sync::atomic::Ordering::Relaxed);
            let reply = SenderReply::success(req.data.len() as u64 - failed, failed);
            let _ = stream.write_all(&reply.encode()).await;
        }
    });
    DiscoveringTrapper {
        addr,
        accepted,
        refused,
    }
}

/// The first values of every job arrive before the server has created the job's items from its
/// discovery record: they are refused, held and sent again with the job's later values, so
/// nothing is lost and nothing is sent twice; values of a host the server does not know are
/// given up within the limits and counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_refused_before_discovery_are_sent_again() {
    let w = world(Some("acme-zbx")).await;
    let trap = discovering_trapper(Duration::from_millis(1500)).await;
    let config = ZabbixConfig::new(&trap.addr.to_string(), "multiflexi-test-host").unwrap();
    let zabbix = Arc::new(ZabbixTelemetry::spawn(config, names_of(&w)));
    let rec = Arc::new(RecordingTelemetry::new());
    let both = Arc::new(FanoutTelemetry::new(vec![zabbix.clone(), rec.clone()]));
    let a = w.create(&w.ok, &*both).await;
    let b = w.create(&w.failing, &*both).await;
    let jobs = w.run(&[a.id, b.id], both.clone(), 2).await;
    // 2 jobs × (lld + 3 phases + exit code + duration) accepted in the end.
    let deadline = Instant::now() + Duration::from_secs(60);
    while zabbix.stats().sent() < 12 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        trap.refused.load(std::sync::atomic::Ordering::Relaxed) >= 2,
        "the first values were refused"
    );
    let accepted = trap.accepted.lock().unwrap().clone();
    for job in &jobs {
        let id = job.id;
        let values = |key: String| -> Vec<String> {
            accepted
                .iter()
                .filter(|i| i.key == key)
                .map(|i| i.value.clone())
                .collect()
        };
        assert_eq!(
            values(format!("multiflexi.job.phase[{id}]")),
            ["prepared", "running", "completed"]
        );
        assert_eq!(
            values(format!("multiflexi.job.exitcode[{id}]")),
            [job.exitcode.unwrap().to_string()]
        );
        assert_eq!(values(format!("multiflexi.job.duration[{id}]")).len(), 1);
        // Stamped with the events' times, not the resend's.
        let prepared = accepted
            .iter()
            .find(|i| i.key == format!("multiflexi.job.phase[{id}]"))
            .unwrap();
        let scheduled = rec
            .events()
            .into_iter()
            .find(|e| e.job_id == id && e.phase == Phase::Scheduled)
            .unwrap();
        assert_eq!(
            (prepared.clock, prepared.ns),
            (
                Some(scheduled.at.timestamp()),
                Some(i64::from(scheduled.at.timestamp_subsec_nanos()))
            )
        );
    }
    assert_eq!(accepted.len(), 12);
    assert_eq!(zabbix.stats().sent(), 12);
    assert_eq!((zabbix.stats().failed(), zabbix.stats().dropped()), (0, 0));
    assert!(zabbix.shutdown(Duration::from_secs(10)).await);

    // A job whose items never appear (no discovery record reaches this trapper): its values are
    // sent again at most `attempts` times, then given up and counted.
    let trap = discovering_trapper(Duration::from_millis(0)).await;
    let mut config = ZabbixConfig::new(&trap.addr.to_string(), "multiflexi-test-host").unwrap();
    config.resend.attempts = 2;
    let zabbix = Arc::new(ZabbixTelemetry::spawn(config, names_of(&w)));
    let rec = RecordingTelemetry::new();
    let c = w.create(&w.ok, &rec).await;
    let running = rec
        .events()
        .into_iter()
        .find(|e| e.job_id == c.id && e.phase == Phase::Scheduled)
        .unwrap()
        .with_phase(Phase::Running);
    zabbix.event(&running);
    let deadline = Instant::now() + Duration::from_secs(60);
    while zabbix.stats().failed() < 1 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(zabbix.stats().failed(), 1);
    assert_eq!(trap.refused.load(std::sync::atomic::Ordering::Relaxed), 2);
    assert!(trap.accepted.lock().unwrap().is_empty());
    assert!(zabbix.shutdown(Duration::from_secs(10)).await);
}

/// A trapper that accepts and never answers: 1,000 jobs still complete, the Zabbix queue
/// overflows, and the overflow is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_zabbix_server_never_holds_up_jobs() {
    let w = world(Some("acme-zbx")).await;
    let trap = trapper(Answer::Never).await;
    let mut config = trap.config();
    config.queue_capacity = 32;
    config.max_batch = 8;
    config.io_timeout = Duration::from_secs(3600);
    let zabbix = Arc::new(ZabbixTelemetry::spawn(config, names_of(&w)));
    let metrics = JobMetrics::new();
    metrics.register_sink(zabbix.stats().clone());
    let both: Arc<dyn Telemetry> =
        Arc::new(FanoutTelemetry::new(vec![zabbix.clone(), metrics.clone()]));
    let mut ids = Vec::with_capacity(1000);
    for i in 0..1000 {
        let t = if i % 2 == 0 { &w.ok } else { &w.failing };
        ids.push(w.create(t, &*both).await.id);
    }
    let jobs = w.run(&ids, both.clone(), 16).await;
    assert!(jobs.iter().all(|j| j.phase == Phase::Preserved));
    assert_eq!(metrics.jobs_total(), 1000);
    assert!(trap.accepted.load(std::sync::atomic::Ordering::Relaxed) >= 1);
    assert!(zabbix.stats().dropped() > 0);
    assert_eq!(zabbix.stats().sent(), 0);
    let text = metrics.render_prometheus();
    let dropped = format!(
        "multiflexi_telemetry_dropped_total{{sink=\"zabbix\"}} {}",
        zabbix.stats().dropped()
    );
    assert!(text.lines().any(|l| l == dropped), "{text}");
    // Shutting down does not wait for the silent server past its bound.
    assert!(!zabbix.shutdown(Duration::from_millis(100)).await);
}

/// An executor that lost a job's lease stops following it: the running gauge and the open
/// segment are released (the engine calls `Telemetry::lease_lost`).
#[tokio::test]
async fn lease_lost_releases_what_the_sinks_hold() {
    let w = world(None).await;
    let rec = Arc::new(RecordingTelemetry::new());
    let job = w.create(&w.ok, &*rec).await;
    w.run(&[job.id], rec.clone(), 1).await;
    let started: Vec<PhaseEvent> = rec
        .events()
        .into_iter()
        .filter(|e| matches!(e.phase, Phase::Queued | Phase::Running))
        .collect();
    let metrics = JobMetrics::new();
    let spans = Arc::new(SpanSink::default());
    let sinks = FanoutTelemetry::new(vec![metrics.clone(), spans.clone()]);
    for e in &started {
        sinks.event(e);
    }
    assert_eq!(metrics.running(), [("Native", 1)]);
    sinks.lease_lost(job.id);
    assert_eq!(metrics.running(), [("Native", 0)]);
    // The SpanSink of this test does not override lease_lost; JobSpans::abandon does the work.
    let mut out = Vec::new();
    spans.spans.lock().unwrap().abandon(job.id, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].name, out[0].attribute("incomplete")),
        ("job.run", Some(&AttrValue::Bool(true)))
    );
}
