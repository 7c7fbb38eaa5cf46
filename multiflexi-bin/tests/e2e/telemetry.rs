//! The binaries' telemetry: OTLP export into an in-test OTLP/HTTP receiver (protobuf decoded with
//! opentelemetry-proto), one trace per job spanning a "scheduler" and an "executor" process, the
//! metrics, the Prometheus endpoint, `telemetry:test`, and failure isolation against a black-hole
//! collector and a silent Zabbix server.

use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use multiflexi_bin::telemetry::{
    MetricsServer, OtlpConfig, TelemetryConfig, TelemetryStack, current_traceparent, test_sinks,
};
use multiflexi_core::engine::{Dispatcher, DispatcherOptions, JobRequest, Shutdown, create_job};
use multiflexi_core::executor::FakeRun;
use multiflexi_core::lifecycle::{Phase, Trigger};
use multiflexi_core::model::{JobSpec, NewJob};
use multiflexi_core::store::{Catalog as _, JobQueue as _};
use multiflexi_core::telemetry::zabbix::protocol::{SenderReply, SenderRequest, read_frame};
use multiflexi_core::telemetry::{
    JobMetrics, JobTrace, PhaseEvent, Telemetry, TraceContext, ZabbixConfig, child_trace_context,
    new_trace_context,
};
use multiflexi_core::{
    App, Clock, Company, ExecutorKind, FakeExecutor, InMemoryStore, Job, JobId, RunTemplate,
    SystemClock,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

// ---------------------------------------------------------------------------------------------
// An OTLP/HTTP receiver

#[derive(Clone, Default)]
struct Received {
    traces: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
    metrics: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
}

async fn collector() -> (SocketAddr, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Received::default();
    let r = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let r = r.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let r = r.clone();
                    async move {
                        let path = req.uri().path().to_string();
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let reply = match path.as_str() {
                            "/v1/traces" => {
                                let m = ExportTraceServiceRequest::decode(body).unwrap();
                                r.traces.lock().unwrap().push(m);
                                ExportTraceServiceResponse::default().encode_to_vec()
                            }
                            "/v1/metrics" => {
                                let m = ExportMetricsServiceRequest::decode(body).unwrap();
                                r.metrics.lock().unwrap().push(m);
                                ExportMetricsServiceResponse::default().encode_to_vec()
                            }
                            _ => {
                                let mut resp = Response::new(Full::new(Bytes::new()));
                                *resp.status_mut() = StatusCode::NOT_FOUND;
                                return Ok::<_, Infallible>(resp);
                            }
                        };
                        let mut resp = Response::new(Full::new(Bytes::from(reply)));
                        resp.headers_mut()
                            .insert("content-type", "application/x-protobuf".parse().unwrap());
                        Ok(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, received)
}

/// A TCP listener that accepts and never answers.
async fn black_hole() -> (SocketAddr, Arc<std::sync::atomic::AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let a = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            a.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            held.push(s);
        }
    });
    (addr, accepted)
}

/// A Zabbix trapper answering `processed: N; failed: 0`.
async fn trapper() -> (SocketAddr, Arc<Mutex<Vec<SenderRequest>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let reqs = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let reqs = reqs.clone();
            tokio::spawn(async move {
                let payload = read_frame(&mut s).await.unwrap();
                let req = SenderRequest::decode(&payload).unwrap();
                let reply = SenderReply::success(req.data.len() as u64, 0);
                reqs.lock().unwrap().push(req);
                let _ = s.write_all(&reply.encode()).await;
            });
        }
    });
    (addr, requests)
}

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

async fn world() -> World {
    let store = Arc::new(InMemoryStore::new());
    let app = store
        .put_app(&App::new("otlp-app", "/bin/fake"))
        .await
        .unwrap();
    let company = store
        .create_company(&Company::new("OTLP Co"))
        .await
        .unwrap();
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
    async fn create(&self, t: &RunTemplate, telemetry: &dyn Telemetry) -> Job {
        create_job(
            &*self.store,
            &*self.clock,
            telemetry,
            JobRequest::ad_hoc(t.id, Trigger::Cli),
        )
        .await
        .unwrap()
    }

    /// A job with a fresh stored trace context, Created + Scheduled emitted as the engine does.
    async fn create_traced(&self, t: &RunTemplate, telemetry: &dyn Telemetry) -> Job {
        let mut new = NewJob::new(
            t.id,
            t.company_id,
            t.app_id,
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

    async fn run(&self, ids: &[JobId], telemetry: Arc<dyn Telemetry>, parallel: usize) -> Vec<Job> {
        let failing = self.failing.id;
        let fake = FakeExecutor::new(ExecutorKind::Native, move |spec| {
            FakeRun::exit(if spec.runtemplate_id == failing { 3 } else { 0 })
        });
        let mut o = DispatcherOptions::new("otlp-executor", parallel);
        o.poll_interval = Duration::from_millis(20);
        o.work_root =
            std::env::temp_dir().join(format!("multiflexi-telemetry-bin-{}", std::process::id()));
        let d = Dispatcher::new(
            self.store.clone(),
            self.store.clone(),
            vec![Arc::new(fake)],
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
            assert!(tokio::time::Instant::now() < deadline, "jobs not preserved");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        shutdown.drain();
        handle.await.unwrap().unwrap();
        jobs
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding helpers

fn value(v: &Option<AnyValue>) -> Option<String> {
    match v.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        any_value::Value::BoolValue(b) => Some(b.to_string()),
        any_value::Value::DoubleValue(d) => Some(d.to_string()),
        other => Some(format!("{other:?}")),
    }
}

fn attrs(kvs: &[KeyValue]) -> BTreeMap<String, String> {
    kvs.iter()
        .filter_map(|kv| Some((kv.key.clone(), value(&kv.value)?)))
        .collect()
}

/// Every exported span with its process's `service.name`.
fn spans(r: &Received) -> Vec<(String, Span)> {
    let mut out = Vec::new();
    for req in r.traces.lock().unwrap().iter() {
        for rs in &req.resource_spans {
            let service = rs
                .resource
                .as_ref()
                .map(|r| attrs(&r.attributes))
                .and_then(|a| a.get("service.name").cloned())
                .unwrap_or_default();
            for ss in &rs.scope_spans {
                for s in &ss.spans {
                    out.push((service.clone(), s.clone()));
                }
            }
        }
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn nanos(t: chrono::DateTime<chrono::Utc>) -> u64 {
    t.timestamp_nanos_opt().unwrap() as u64
}

fn stack(service: &str, otlp: OtlpConfig) -> TelemetryStack {
    let mut c = TelemetryConfig::new(service);
    c.otlp = Some(otlp);
    TelemetryStack::start(c).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_one_trace_per_job_spanning_scheduler_and_executor() {
    let (addr, received) = collector().await;
    let base = format!("http://{addr}");
    let scheduler = stack("multiflexi-scheduler", OtlpConfig::http(&base));
    let executor = stack("multiflexi-executor", OtlpConfig::http(&base));
    let w = world().await;
    let a = w.create(&w.ok, &*scheduler.telemetry()).await;
    let b = w.create(&w.failing, &*scheduler.telemetry()).await;
    let c = w.create_traced(&w.ok, &*scheduler.telemetry()).await;
    let jobs = w.run(&[a.id, b.id, c.id], executor.telemetry(), 2).await;
    scheduler.shutdown(Duration::from_secs(30)).await;
    executor.shutdown(Duration::from_secs(30)).await;

    let all = spans(&received);
    assert!(!all.is_empty(), "the receiver got no spans");
    for job in &jobs {
        let ids = JobTrace::of(&PhaseEvent::of(job, job.created));
        let trace = format!("{:032x}", ids.trace_id);
        let mine: Vec<&(String, Span)> = all
            .iter()
            .filter(|(_, s)| attrs(&s.attributes).get("job_id") == Some(&job.id.to_string()))
            .collect();
        // One trace, spanning both processes.
        assert!(
            mine.iter().all(|(_, s)| hex(&s.trace_id) == trace),
            "job {}",
            job.id
        );
        let services: std::collections::BTreeSet<_> =
            mine.iter().map(|(svc, _)| svc.as_str()).collect();
        assert_eq!(
            services.into_iter().collect::<Vec<_>>(),
            ["multiflexi-executor", "multiflexi-scheduler"]
        );
        let by_name = |n: &str| -> Vec<&(String, Span)> {
            mine.iter().copied().filter(|(_, s)| s.name == n).collect()
        };
        let (create, run, exe) = (
            by_name("job.create"),
            by_name("job.run"),
            by_name("job.execute"),
        );
        assert_eq!(
            (create.len(), run.len(), exe.len()),
            (1, 1, 1),
            "job {}",
            job.id
        );
        assert_eq!(create[0].0, "multiflexi-scheduler");
        assert_eq!(run[0].0, "multiflexi-executor");
        assert_eq!(exe[0].0, "multiflexi-executor");
        let exe = &exe[0].1;
        assert_eq!(hex(&exe.span_id), format!("{:016x}", ids.span_id));
        assert!(exe.parent_span_id.is_empty());
        assert_eq!(create[0].1.parent_span_id, exe.span_id);
        assert_eq!(run[0].1.parent_span_id, exe.span_id);
        // The attributes.
        let a = attrs(&exe.attributes);
        assert_eq!(a["job_id"], job.id.to_string());
        assert_eq!(a["runtemplate_id"], job.runtemplate_id.to_string());
        assert_eq!(a["company_id"], w.company.id.to_string());
        assert_eq!(a["app_id"], w.app.id.to_string());
        assert_eq!(a["executor"], "Native");
        assert_eq!(a["attempt"], "0");
        assert_eq!(a["trigger"], job.trigger.as_str());
        assert_eq!(a["outcome"], job.outcome.unwrap().as_str());
        assert_eq!(a["exitcode"], job.exitcode.unwrap().to_string());
        // One event per phase, at the stored times.
        let events: Vec<(&str, u64)> = exe
            .events
            .iter()
            .map(|e| (e.name.as_str(), e.time_unix_nano))
            .collect();
        assert_eq!(
            events,
            [
                ("created", nanos(job.created)),
                ("scheduled", nanos(job.created)),
                ("queued", nanos(job.queued.unwrap())),
                ("running", nanos(job.begin.unwrap())),
                ("completed", nanos(job.end.unwrap())),
                ("preserved", nanos(job.preserved.unwrap())),
            ]
        );
        let done = attrs(&exe.events[4].attributes);
        assert_eq!(done["outcome"], job.outcome.unwrap().as_str());
        assert_eq!(done["exitcode"], job.exitcode.unwrap().to_string());
        assert_eq!(
            (exe.start_time_unix_nano, exe.end_time_unix_nano),
            (nanos(job.created), nanos(job.preserved.unwrap()))
        );
        // A failed job's span has an error status.
        let status = exe.status.as_ref().map(|s| s.code).unwrap_or_default();
        assert_eq!(
            status == 2,
            job.id == b.id,
            "status {status} of job {}",
            job.id
        );
    }
    // The stored context is continued.
    let stored: TraceContext = c.trace_context.as_deref().unwrap().parse().unwrap();
    assert!(all.iter().any(|(_, s)| s.name == "job.execute"
        && hex(&s.trace_id) == stored.trace_id_hex()
        && hex(&s.span_id) == stored.span_id_hex()));

    // Metrics: the executor's final export.
    let metrics = received.metrics.lock().unwrap().clone();
    let exported: Vec<(String, metric::Data, BTreeMap<String, String>)> = metrics
        .iter()
        .flat_map(|m| &m.resource_metrics)
        .filter(|rm| {
            rm.resource
                .as_ref()
                .map(|r| attrs(&r.attributes))
                .unwrap_or_default()
                .get("service.name")
                .map(String::as_str)
                == Some("multiflexi-executor")
        })
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .map(|m| (m.name.clone(), m.data.clone().unwrap(), BTreeMap::new()))
        .collect();
    let last = |name: &str| -> metric::Data {
        exported
            .iter()
            .rev()
            .find(|(n, _, _)| n == name)
            .unwrap_or_else(|| panic!("{name} not exported"))
            .1
            .clone()
    };
    let sum_of = |d: metric::Data| -> (i64, Vec<BTreeMap<String, String>>) {
        let metric::Data::Sum(s) = d else {
            panic!("not a sum: {d:?}")
        };
        let total = s
            .data_points
            .iter()
            .map(|p| match p.value {
                Some(number_data_point::Value::AsInt(i)) => i,
                Some(number_data_point::Value::AsDouble(f)) => f as i64,
                None => 0,
            })
            .sum();
        (
            total,
            s.data_points.iter().map(|p| attrs(&p.attributes)).collect(),
        )
    };
    let (total, points) = sum_of(last("multiflexi.jobs.total"));
    assert_eq!(total, 3);
    for p in &points {
        assert_eq!(p["app"], w.app.id.to_string());
        assert_eq!(p["company"], w.company.id.to_string());
        assert_eq!(p["executor"], "Native");
        assert!(["success", "failed"].contains(&p["outcome"].as_str()));
    }
    assert_eq!(sum_of(last("multiflexi.jobs.success")).0, 2);
    assert_eq!(sum_of(last("multiflexi.jobs.failed")).0, 1);
    let (_, dropped) = sum_of(last("multiflexi.telemetry.dropped"));
    assert!(dropped.iter().any(|p| p["sink"] == "otlp-traces"));
    for h in ["multiflexi.job.duration", "multiflexi.job.queue_wait"] {
        let metric::Data::Histogram(hist) = last(h) else {
            panic!("{h} is not a histogram")
        };
        assert_eq!(
            hist.data_points.iter().map(|p| p.count).sum::<u64>(),
            3,
            "{h}"
        );
    }
    let metric::Data::Gauge(g) = last("multiflexi.jobs.running") else {
        panic!("running is not a gauge")
    };
    assert!(
        g.data_points
            .iter()
            .all(|p| p.value == Some(number_data_point::Value::AsInt(0)))
    );
}

/// The daemon's own `tracing` spans are exported through the layer; the job target is not
/// (the job sink exports those with their cross-process ids).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tracing_layer_exports_daemon_spans_but_not_job_spans() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let (addr, received) = collector().await;
    let s = stack(
        "multiflexi-api",
        OtlpConfig::http(&format!("http://{addr}")),
    );
    let w = world().await;
    let job = w
        .create(&w.ok, &multiflexi_core::telemetry::NoopTelemetry)
        .await;
    let subscriber = tracing_subscriber::registry().with(s.otel_layer().unwrap());
    assert_eq!(current_traceparent(), None);
    let parent = tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("http.request", path = "/api/job").in_scope(|| {
            s.telemetry().event(&PhaseEvent::of(&job, job.created));
            current_traceparent()
        })
    });
    let parent: TraceContext = parent.expect("inside a span").parse().unwrap();
    // What the API stores on a job it creates: the request's trace, a fresh span id.
    let child: TraceContext = child_trace_context(&parent.to_string()).parse().unwrap();
    assert_eq!(child.trace_id, parent.trace_id);
    s.shutdown(Duration::from_secs(30)).await;
    let all = spans(&received);
    let req = all
        .iter()
        .find(|(_, s)| s.name == "http.request")
        .expect("the daemon span is exported");
    assert_eq!(req.0, "multiflexi-api");
    assert_eq!(hex(&req.1.trace_id), parent.trace_id_hex());
    assert_eq!(hex(&req.1.span_id), parent.span_id_hex());
    assert_eq!(attrs(&req.1.attributes)["path"], "/api/job");
    // TracingTelemetry's span (with a `traceparent` field) is filtered out of the layer.
    assert!(
        all.iter()
            .all(|(_, s)| !attrs(&s.attributes).contains_key("traceparent"))
    );
    // The job sink's own segment span is there.
    assert!(all.iter().any(|(_, s)| s.name == "job.create"));
}

async fn get(addr: SocketAddr, request: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn prometheus_endpoint_serves_the_metrics() {
    let w = world().await;
    let metrics = JobMetrics::new();
    let jobs = [
        w.create(&w.ok, &*metrics).await.id,
        w.create(&w.failing, &*metrics).await.id,
    ];
    w.run(&jobs, metrics.clone(), 2).await;
    let server = MetricsServer::bind("127.0.0.1:0".parse().unwrap(), metrics.clone())
        .await
        .unwrap();
    let r = get(
        server.local_addr,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let (head, body) = r.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "{head}"
    );
    let (app, co) = (w.app.id, w.company.id);
    for line in [
        format!(
            "multiflexi_jobs_total{{app=\"{app}\",company=\"{co}\",executor=\"Native\",outcome=\"success\"}} 1"
        ),
        format!(
            "multiflexi_jobs_failed_total{{app=\"{app}\",company=\"{co}\",executor=\"Native\",outcome=\"failed\"}} 1"
        ),
        "multiflexi_jobs_running{executor=\"Native\"} 0".into(),
        "# TYPE multiflexi_telemetry_dropped_total counter".into(),
    ] {
        assert!(
            body.lines().any(|l| l == line),
            "missing {line:?} in\n{body}"
        );
    }
    let r = get(
        server.local_addr,
        "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 404"), "{r}");
    let r = get(
        server.local_addr,
        "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 405"), "{r}");
    server.handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_test_reports_what_each_sink_answered() {
    let (otlp, received) = collector().await;
    let (zbx, requests) = trapper().await;
    let server = MetricsServer::bind("127.0.0.1:0".parse().unwrap(), JobMetrics::new())
        .await
        .unwrap();
    let mut c = TelemetryConfig::new("multiflexi-cli");
    c.otlp = Some(OtlpConfig::http(&format!("http://{otlp}")));
    c.zabbix = Some(ZabbixConfig::new(&zbx.to_string(), "cli-host").unwrap());
    c.metrics_addr = Some(server.local_addr);
    let reports = test_sinks(&c).await;
    let sinks: Vec<_> = reports.iter().map(|r| (r.sink, r.ok)).collect();
    assert_eq!(
        sinks,
        [
            ("zabbix", true),
            ("otlp-traces", true),
            ("otlp-metrics", true),
            ("prometheus", true)
        ],
        "{reports:#?}"
    );
    assert!(
        reports[0].detail.contains("processed: 1; failed: 0"),
        "{}",
        reports[0]
    );
    let item = requests.lock().unwrap()[0].data[0].clone();
    assert_eq!(
        (item.host.as_str(), item.key.as_str(), item.value.as_str()),
        ("cli-host", "multiflexi.job.phase[0]", "test")
    );
    assert!(
        spans(&received)
            .iter()
            .any(|(svc, s)| s.name == "multiflexi.telemetry.test" && svc == "multiflexi-cli")
    );
    assert!(!received.metrics.lock().unwrap().is_empty());

    // Nothing listening: each check fails with a reason, none hangs.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut o = OtlpConfig::http(&format!("http://{closed}"));
    o.timeout = Duration::from_secs(2);
    c.otlp = Some(o);
    c.zabbix = Some(ZabbixConfig::new(&closed.to_string(), "cli-host").unwrap());
    c.metrics_addr = Some(closed);
    let reports = test_sinks(&c).await;
    assert_eq!(reports.len(), 4);
    assert!(
        reports.iter().all(|r| !r.ok && !r.detail.is_empty()),
        "{reports:#?}"
    );
    assert!(test_sinks(&TelemetryConfig::new("x")).await.is_empty());
    server.handle.abort();
}

/// A black-holed collector (accepts, never answers) and a silent Zabbix server: 1,000 jobs all
/// complete, and the dropped-event counters are non-zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn black_holes_never_hold_up_jobs() {
    let (otlp_hole, otlp_accepted) = black_hole().await;
    let (zbx_hole, _) = black_hole().await;
    let mut c = TelemetryConfig::new("multiflexi");
    let mut o = OtlpConfig::http(&format!("http://{otlp_hole}"));
    o.timeout = Duration::from_secs(3600);
    o.queue_capacity = 64;
    o.max_batch = 16;
    c.otlp = Some(o);
    let mut z = ZabbixConfig::new(&zbx_hole.to_string(), "h").unwrap();
    z.io_timeout = Duration::from_secs(3600);
    z.queue_capacity = 32;
    z.max_batch = 8;
    c.zabbix = Some(z);
    c.log_phases = false;
    let s = TelemetryStack::start(c).unwrap();
    let w = world().await;
    let mut ids = Vec::with_capacity(1000);
    for i in 0..1000 {
        let t = if i % 4 == 0 { &w.failing } else { &w.ok };
        ids.push(w.create(t, &*s.telemetry()).await.id);
    }
    let jobs = w.run(&ids, s.telemetry(), 16).await;
    assert!(jobs.iter().all(|j| j.phase == Phase::Preserved));
    assert_eq!(s.metrics().jobs_total(), 1000);
    assert!(otlp_accepted.load(std::sync::atomic::Ordering::Relaxed) >= 1);
    let dropped: BTreeMap<String, u64> = s
        .metrics()
        .sinks()
        .iter()
        .map(|x| (x.name().to_string(), x.dropped()))
        .collect();
    assert!(dropped["otlp-traces"] > 0, "{dropped:?}");
    assert!(dropped["zabbix"] > 0, "{dropped:?}");
    let text = s.metrics().render_prometheus();
    let line = format!(
        "multiflexi_telemetry_dropped_total{{sink=\"otlp-traces\"}} {}",
        dropped["otlp-traces"]
    );
    assert!(text.lines().any(|l| l == line), "{text}");
    // Shutdown is bounded even with both peers silent.
    s.shutdown(Duration::from_millis(200)).await;
}

/// gRPC configuration builds and exports into a black hole without holding up events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_export_into_a_black_hole_is_isolated_too() {
    let (hole, _) = black_hole().await;
    let mut o = OtlpConfig::grpc(&format!("http://{hole}"));
    o.timeout = Duration::from_secs(3600);
    o.queue_capacity = 8;
    o.max_batch = 2;
    let s = stack("multiflexi-executor", o);
    let w = world().await;
    let rec = Arc::new(multiflexi_core::telemetry::RecordingTelemetry::new());
    let job = w.create(&w.ok, &*rec).await;
    w.run(&[job.id], rec.clone(), 1).await;
    // Replay the job's events many times over: every call returns at once.
    for _ in 0..200 {
        for e in rec.events() {
            s.telemetry().event(&e);
        }
    }
    let traces = s.otlp().unwrap().traces_stats();
    assert!(traces.dropped() > 0);
    s.shutdown(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn https_collectors_are_refused_with_a_reason() {
    let mut c = TelemetryConfig::new("multiflexi");
    c.otlp = Some(OtlpConfig::http("https://collector.example:4318"));
    let e = TelemetryStack::start(c).unwrap_err();
    assert!(format!("{e:#}").contains("TLS"), "{e:#}");
}
