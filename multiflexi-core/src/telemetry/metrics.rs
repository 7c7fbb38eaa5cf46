//! [`JobMetrics`]: the job metrics, aggregated in memory from phase events, as Prometheus text.

use super::{PhaseEvent, SinkStats, Telemetry};
use crate::ids::JobId;
use crate::lifecycle::{Outcome, Phase};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

/// Bucket bounds (seconds) of `multiflexi.job.duration`.
pub const DURATION_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0,
];

/// Bucket bounds (seconds) of `multiflexi.job.queue_wait`.
pub const QUEUE_WAIT_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

/// Bucket bounds (bytes) of `multiflexi.job.memory_peak`: 1 MiB to 16 GiB.
pub const MEMORY_PEAK_BUCKETS: &[f64] = &[
    1_048_576.0,
    4_194_304.0,
    16_777_216.0,
    67_108_864.0,
    134_217_728.0,
    268_435_456.0,
    536_870_912.0,
    1_073_741_824.0,
    2_147_483_648.0,
    4_294_967_296.0,
    17_179_869_184.0,
];

/// Bucket bounds (seconds) of `multiflexi.job.cpu_time`.
pub const CPU_TIME_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

/// Whether an outcome counts in `multiflexi.jobs.failed`: every outcome but `success` and
/// `warning` (exit code 1, "minor issues"), which count in neither failed nor success but in
/// `multiflexi.jobs.total` with their outcome.
pub fn is_failure(outcome: Outcome) -> bool {
    !matches!(outcome, Outcome::Success | Outcome::Warning)
}

/// Labels of a job series: ids from the catalog and enum names only (bounded cardinality).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Key {
    app: i64,
    company: i64,
    executor: &'static str,
    outcome: Option<&'static str>,
}

impl Key {
    fn of(e: &PhaseEvent, with_outcome: bool) -> Self {
        Self {
            app: e.app_id.get(),
            company: e.company_id.get(),
            executor: e.executor.as_str(),
            outcome: if with_outcome {
                e.outcome.map(Outcome::as_str)
            } else {
                None
            },
        }
    }

    fn labels(&self) -> String {
        let mut s = format!(
            "app=\"{}\",company=\"{}\",executor=\"{}\"",
            self.app, self.company, self.executor
        );
        if let Some(o) = self.outcome {
            let _ = write!(s, ",outcome=\"{o}\"");
        }
        s
    }
}

#[derive(Debug, Clone)]
struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, v: f64) {
        for (i, b) in self.bounds.iter().enumerate() {
            if v <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }
}

#[derive(Debug, Default)]
struct State {
    total: BTreeMap<Key, u64>,
    success: BTreeMap<Key, u64>,
    failed: BTreeMap<Key, u64>,
    duration: BTreeMap<Key, Histogram>,
    queue_wait: BTreeMap<Key, Histogram>,
    memory_peak: BTreeMap<Key, Histogram>,
    cpu_time: BTreeMap<Key, Histogram>,
    running: HashMap<JobId, &'static str>,
    executors: BTreeSet<&'static str>,
    breakers: BTreeMap<&'static str, bool>,
    /// Attempts of actions after completion by (kind, result).
    actions: BTreeMap<(&'static str, &'static str), u64>,
}

/// The job metrics of this process, from its phase events (a [`Telemetry`] sink: in-memory, no
/// I/O), plus the counters of the I/O sinks registered with [`register_sink`](Self::register_sink).
///
/// | metric (OpenTelemetry) | Prometheus | kind | labels |
/// |---|---|---|---|
/// | `multiflexi.jobs.total` | `multiflexi_jobs_total` | counter, at Completed | app, company, executor, outcome |
/// | `multiflexi.jobs.success` | `multiflexi_jobs_success_total` | counter (outcome `success`) | app, company, executor |
/// | `multiflexi.jobs.failed` | `multiflexi_jobs_failed_total` | counter ([`is_failure`]) | app, company, executor, outcome |
/// | `multiflexi.job.duration` | `multiflexi_job_duration_seconds` | histogram, begin → end | app, company, executor, outcome |
/// | `multiflexi.job.queue_wait` | `multiflexi_job_queue_wait_seconds` | histogram, due → claimed | app, company, executor |
/// | `multiflexi.job.memory_peak` | `multiflexi_job_memory_peak_bytes` | histogram, at Completed (jobs whose executor measured it) | app, company, executor, outcome |
/// | `multiflexi.job.cpu_time` | `multiflexi_job_cpu_time_seconds` | histogram, user + system, at Completed (measured jobs) | app, company, executor, outcome |
/// | `multiflexi.jobs.running` | `multiflexi_jobs_running` | gauge: jobs this process saw start and not end | executor |
/// | – | `multiflexi_executor_breaker_open` | gauge: 1 while the executor kind's circuit breaker is open (no job of it claimed) | executor |
/// | – | `multiflexi_job_actions_total` | counter: attempts of actions after completion this process made | kind, result (`done`, `retry`, `failed`) |
/// | `multiflexi.telemetry.dropped` | `multiflexi_telemetry_dropped_total` | counter | sink |
///
/// `app` and `company` are catalog ids; `executor` and `outcome` are the stable enum names.
/// The gauge is per process: sum it over the executor daemons.
#[derive(Debug, Default)]
pub struct JobMetrics {
    state: Mutex<State>,
    sinks: Mutex<Vec<Arc<SinkStats>>>,
}

impl JobMetrics {
    /// Empty metrics.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Exposes an I/O sink's counters (dropped, sent, failed).
    pub fn register_sink(&self, stats: Arc<SinkStats>) {
        let mut sinks = self.sinks.lock().unwrap();
        if !sinks.iter().any(|s| Arc::ptr_eq(s, &stats)) {
            sinks.push(stats);
        }
    }

    /// The registered sinks' counters.
    pub fn sinks(&self) -> Vec<Arc<SinkStats>> {
        self.sinks.lock().unwrap().clone()
    }

    /// Events dropped by all registered sinks.
    pub fn dropped_total(&self) -> u64 {
        self.sinks.lock().unwrap().iter().map(|s| s.dropped()).sum()
    }

    /// Jobs completed (all outcomes).
    pub fn jobs_total(&self) -> u64 {
        self.state.lock().unwrap().total.values().sum()
    }

    /// Jobs completed with `outcome`.
    pub fn jobs_with_outcome(&self, outcome: Outcome) -> u64 {
        self.state
            .lock()
            .unwrap()
            .total
            .iter()
            .filter(|(k, _)| k.outcome == Some(outcome.as_str()))
            .map(|(_, v)| v)
            .sum()
    }

    /// Jobs running now, per executor kind (every kind seen so far, zeros included).
    pub fn running(&self) -> Vec<(&'static str, u64)> {
        let st = self.state.lock().unwrap();
        st.executors
            .iter()
            .map(|ex| (*ex, st.running.values().filter(|e| *e == ex).count() as u64))
            .collect()
    }

    /// The Prometheus text exposition (format 0.0.4) of every metric.
    pub fn render_prometheus(&self) -> String {
        let st = self.state.lock().unwrap();
        let mut out = String::with_capacity(4096);
        counter(
            &mut out,
            "multiflexi_jobs_total",
            "Jobs completed, by outcome.",
            &st.total,
        );
        counter(
            &mut out,
            "multiflexi_jobs_success_total",
            "Jobs completed with outcome success.",
            &st.success,
        );
        counter(
            &mut out,
            "multiflexi_jobs_failed_total",
            "Jobs completed with a failing outcome (not success, not warning).",
            &st.failed,
        );
        histogram(
            &mut out,
            "multiflexi_job_duration_seconds",
            "Run time of completed jobs (begin to end), seconds.",
            &st.duration,
        );
        histogram(
            &mut out,
            "multiflexi_job_queue_wait_seconds",
            "Time from due to claimed by an executor, seconds.",
            &st.queue_wait,
        );
        histogram(
            &mut out,
            "multiflexi_job_memory_peak_bytes",
            "Peak memory of completed jobs whose executor measured it, bytes.",
            &st.memory_peak,
        );
        histogram(
            &mut out,
            "multiflexi_job_cpu_time_seconds",
            "CPU time (user + system) of completed jobs whose executor measured it, seconds.",
            &st.cpu_time,
        );
        let _ = writeln!(
            out,
            "# HELP multiflexi_jobs_running Jobs running now that this process started.\n# TYPE multiflexi_jobs_running gauge"
        );
        for ex in &st.executors {
            let n = st.running.values().filter(|e| *e == ex).count();
            let _ = writeln!(out, "multiflexi_jobs_running{{executor=\"{ex}\"}} {n}");
        }
        if !st.breakers.is_empty() {
            let _ = writeln!(
                out,
                "# HELP multiflexi_executor_breaker_open 1 while launches of this executor kind keep failing before their program starts and no job of it is claimed.\n# TYPE multiflexi_executor_breaker_open gauge"
            );
            for (ex, open) in &st.breakers {
                let _ = writeln!(
                    out,
                    "multiflexi_executor_breaker_open{{executor=\"{ex}\"}} {}",
                    u8::from(*open)
                );
            }
        }
        if !st.actions.is_empty() {
            let _ = writeln!(
                out,
                "# HELP multiflexi_job_actions_total Attempts of actions after completion, by kind and result (done, retry, failed).\n# TYPE multiflexi_job_actions_total counter"
            );
            for ((kind, result), n) in &st.actions {
                let _ = writeln!(
                    out,
                    "multiflexi_job_actions_total{{kind=\"{kind}\",result=\"{result}\"}} {n}"
                );
            }
        }
        drop(st);
        let sinks = self.sinks.lock().unwrap();
        for (name, help, get) in [
            (
                "multiflexi_telemetry_dropped_total",
                "Telemetry items dropped because a sink's queue was full.",
                SinkStats::dropped as fn(&SinkStats) -> u64,
            ),
            (
                "multiflexi_telemetry_sent_total",
                "Telemetry items a sink delivered.",
                SinkStats::sent,
            ),
            (
                "multiflexi_telemetry_failed_total",
                "Telemetry items a sink failed to deliver or its peer refused.",
                SinkStats::failed,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for s in sinks.iter() {
                let _ = writeln!(out, "{name}{{sink=\"{}\"}} {}", escape(s.name()), get(s));
            }
        }
        out
    }
}

impl Telemetry for JobMetrics {
    fn event(&self, e: &PhaseEvent) {
        let mut st = self.state.lock().unwrap();
        st.executors.insert(e.executor.as_str());
        match e.phase {
            Phase::Queued => {
                if let Some(wait) = e.queue_wait() {
                    st.queue_wait
                        .entry(Key::of(e, false))
                        .or_insert_with(|| Histogram::new(QUEUE_WAIT_BUCKETS))
                        .observe(seconds(wait.num_milliseconds()));
                }
            }
            Phase::Running => {
                st.running.insert(e.job_id, e.executor.as_str());
            }
            Phase::Completed => {
                st.running.remove(&e.job_id);
                let Some(outcome) = e.outcome else { return };
                *st.total.entry(Key::of(e, true)).or_default() += 1;
                if outcome == Outcome::Success {
                    *st.success.entry(Key::of(e, false)).or_default() += 1;
                }
                if is_failure(outcome) {
                    *st.failed.entry(Key::of(e, true)).or_default() += 1;
                }
                if let Some(ms) = e.duration_ms.filter(|_| e.begin.is_some()) {
                    st.duration
                        .entry(Key::of(e, true))
                        .or_insert_with(|| Histogram::new(DURATION_BUCKETS))
                        .observe(seconds(ms));
                }
                if let Some(bytes) = e.usage.peak_memory_bytes {
                    st.memory_peak
                        .entry(Key::of(e, true))
                        .or_insert_with(|| Histogram::new(MEMORY_PEAK_BUCKETS))
                        .observe(bytes as f64);
                }
                if let Some(ms) = e.usage.cpu_time_ms {
                    st.cpu_time
                        .entry(Key::of(e, true))
                        .or_insert_with(|| Histogram::new(CPU_TIME_BUCKETS))
                        .observe(ms as f64 / 1000.0);
                }
            }
            Phase::Preserved => {
                st.running.remove(&e.job_id);
            }
            Phase::Created | Phase::Scheduled => {}
        }
    }

    fn lease_lost(&self, job_id: JobId) {
        self.state.lock().unwrap().running.remove(&job_id);
    }

    fn action_attempt(&self, kind: &'static str, result: &'static str) {
        *self
            .state
            .lock()
            .unwrap()
            .actions
            .entry((kind, result))
            .or_default() += 1;
    }

    fn executor_breaker(&self, executor: crate::model::ExecutorKind, open: bool) {
        self.state
            .lock()
            .unwrap()
            .breakers
            .insert(executor.as_str(), open);
    }
}

fn seconds(ms: i64) -> f64 {
    ms.max(0) as f64 / 1000.0
}

fn counter(out: &mut String, name: &str, help: &str, series: &BTreeMap<Key, u64>) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (k, v) in series {
        let _ = writeln!(out, "{name}{{{}}} {v}", k.labels());
    }
}

fn histogram(out: &mut String, name: &str, help: &str, series: &BTreeMap<Key, Histogram>) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    for (k, h) in series {
        let labels = k.labels();
        for (b, c) in h.bounds.iter().zip(&h.counts) {
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {c}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count);
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
