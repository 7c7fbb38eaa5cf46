//! [`JobSpans`]: phase events → exporter-neutral span records, one trace per job across
//! processes.
//!
//! A job's trace holds:
//!
//! - `job.execute` — the whole lifecycle, from creation to Preserved (or to Completed for a job
//!   that ends there: lost, cancelled before it was claimed). Its ids come from the job's trace
//!   context ([`JobTrace`]), so it is the same span whichever process reports it. It is reported
//!   once, by the process that emits the job's last phase, and carries one event per phase —
//!   `created`, `scheduled`, `queued`, `running`, `completed` (outcome, exit code), `preserved`
//!   — at the timestamps stored on the job row, plus the job's attributes.
//! - one segment span per process that emitted phases of the job, child of `job.execute`:
//!   `job.create` (the scheduler, API or CLI that created it: Created, Scheduled), `job.run`
//!   (the executor that claimed it, from Queued to its last phase), `job.complete` (a process that
//!   only completed it: lease recovery, a cancellation). Its resource (service name) tells which
//!   process did the work.
//!
//! A Completed event of a job this process ran is held until its Preserved event (which follows
//! at once in the dispatcher) so that `job.execute` carries both; after
//! [`JobSpansOptions::hold_completed`] without one it is reported without.

use super::trace_context::random_span_id;
use super::{JobTrace, PhaseEvent, is_failure};
use crate::ids::JobId;
use crate::lifecycle::{Outcome, Phase};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
    /// A boolean.
    Bool(bool),
}

impl From<i64> for AttrValue {
    fn from(v: i64) -> Self {
        AttrValue::Int(v)
    }
}

impl From<&str> for AttrValue {
    fn from(v: &str) -> Self {
        AttrValue::Str(v.to_string())
    }
}

/// An event on a span.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanEventRecord {
    /// The phase name (`created`, `scheduled`, …).
    pub name: &'static str,
    /// When.
    pub at: DateTime<Utc>,
    /// Its attributes (outcome and exit code on `completed`, queue wait on `queued`).
    pub attributes: Vec<(&'static str, AttrValue)>,
}

/// A finished span, ready for an exporter.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRecord {
    /// `job.execute`, `job.create`, `job.run`, `job.complete` or `job.preserve`.
    pub name: &'static str,
    /// The trace.
    pub trace_id: u128,
    /// This span.
    pub span_id: u64,
    /// Its parent, if any.
    pub parent_span_id: Option<u64>,
    /// Start.
    pub start: DateTime<Utc>,
    /// End (never before start).
    pub end: DateTime<Utc>,
    /// Attributes.
    pub attributes: Vec<(&'static str, AttrValue)>,
    /// Events (phases, on `job.execute`).
    pub events: Vec<SpanEventRecord>,
    /// Error status with a description (a failed outcome), else OK/unset.
    pub error: Option<String>,
}

impl SpanRecord {
    /// The attribute `key`.
    pub fn attribute(&self, key: &str) -> Option<&AttrValue> {
        self.attributes
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }
}

/// Limits of [`JobSpans`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct JobSpansOptions {
    /// How long a Completed event waits for its Preserved event (default 60 s).
    pub hold_completed: Duration,
    /// Open segments kept at most; the oldest is reported (marked incomplete) beyond it
    /// (default 10,000).
    pub max_open: usize,
    /// An open segment older than this is reported, marked incomplete (default 24 h: an
    /// executor that lost a job's lease never sees its end).
    pub max_age: Duration,
    /// Jobs whose `job.execute` was reported, remembered so a late Preserved does not report it
    /// twice (default 10,000).
    pub remember_finished: usize,
}

impl Default for JobSpansOptions {
    fn default() -> Self {
        Self {
            hold_completed: Duration::from_secs(60),
            max_open: 10_000,
            max_age: Duration::from_secs(24 * 3600),
            remember_finished: 10_000,
        }
    }
}

#[derive(Debug)]
struct Segment {
    name: &'static str,
    span_id: u64,
    start: DateTime<Utc>,
    last: PhaseEvent,
    phases: Vec<Phase>,
    opened: Instant,
    held_until: Option<Instant>,
}

/// Turns one process's phase events into [`SpanRecord`]s (see the module docs). Not
/// thread-safe by itself: the OTLP sink owns one on its worker task.
#[derive(Debug, Default)]
pub struct JobSpans {
    options: JobSpansOptions,
    open: HashMap<JobId, Segment>,
    finished: HashSet<JobId>,
    finished_order: VecDeque<JobId>,
}

impl JobSpans {
    /// An empty state machine.
    pub fn new(options: JobSpansOptions) -> Self {
        Self {
            options,
            ..Self::default()
        }
    }

    /// How many segments are open (held Completed events included).
    pub fn open_segments(&self) -> usize {
        self.open.len()
    }

    /// Handles one event at `now` (a monotonic instant, for holding), appending finished spans
    /// to `out`.
    pub fn on_event(&mut self, e: &PhaseEvent, now: Instant, out: &mut Vec<SpanRecord>) {
        match e.phase {
            Phase::Created => {
                if let Some(stale) = self.open.remove(&e.job_id) {
                    out.push(segment_record(stale, true));
                }
                self.open_segment(e, "job.create", now, out);
            }
            Phase::Scheduled => {
                let seg = self.take_or_new(e, "job.create", now);
                out.push(segment_record(seg, false));
            }
            Phase::Queued | Phase::Running => {
                let reopen = self
                    .open
                    .get(&e.job_id)
                    .is_some_and(|s| s.name != "job.run" || s.held_until.is_some());
                if reopen && let Some(stale) = self.open.remove(&e.job_id) {
                    out.push(segment_record(stale, true));
                }
                match self.open.get_mut(&e.job_id) {
                    Some(seg) => seg.push(e),
                    None => self.open_segment(e, "job.run", now, out),
                }
            }
            Phase::Completed => {
                let ran_here = self
                    .open
                    .get(&e.job_id)
                    .is_some_and(|s| s.name == "job.run" && s.held_until.is_none());
                if ran_here && e.outcome != Some(Outcome::Lost) {
                    let hold = self.options.hold_completed;
                    let seg = self.open.get_mut(&e.job_id).expect("checked");
                    seg.push(e);
                    seg.held_until = Some(now + hold);
                } else {
                    let seg = self.take_or_new(e, "job.complete", now);
                    out.push(segment_record(seg, false));
                    self.finish(e, out);
                }
            }
            Phase::Preserved => {
                let seg = self.take_or_new(e, "job.preserve", now);
                out.push(segment_record(seg, false));
                self.finish(e, out);
            }
        }
    }

    /// This process stopped following `job_id` (its lease was lost): its open segment is
    /// reported, marked incomplete; `job.execute` is left to the process that records the end.
    pub fn abandon(&mut self, job_id: JobId, out: &mut Vec<SpanRecord>) {
        if let Some(seg) = self.open.remove(&job_id) {
            out.push(segment_record(seg, true));
        }
    }

    /// Reports held Completed events whose hold ran out and segments older than the maximum
    /// age.
    pub fn expire(&mut self, now: Instant, out: &mut Vec<SpanRecord>) {
        let due: Vec<JobId> = self
            .open
            .iter()
            .filter(|(_, s)| match s.held_until {
                Some(until) => until <= now,
                None => now.duration_since(s.opened) >= self.options.max_age,
            })
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            self.report_open(id, out);
        }
    }

    /// Reports everything still open (shutdown): held Completed events with their
    /// `job.execute`, other segments marked incomplete.
    pub fn flush(&mut self, out: &mut Vec<SpanRecord>) {
        let ids: Vec<JobId> = self.open.keys().copied().collect();
        for id in ids {
            self.report_open(id, out);
        }
    }

    fn report_open(&mut self, id: JobId, out: &mut Vec<SpanRecord>) {
        let Some(seg) = self.open.remove(&id) else {
            return;
        };
        let held = seg.held_until.is_some();
        let last = seg.last.clone();
        out.push(segment_record(seg, !held));
        if held {
            self.finish(&last, out);
        }
    }

    fn open_segment(
        &mut self,
        e: &PhaseEvent,
        name: &'static str,
        now: Instant,
        out: &mut Vec<SpanRecord>,
    ) {
        if self.open.len() >= self.options.max_open.max(1)
            && let Some(oldest) = self
                .open
                .iter()
                .min_by_key(|(_, s)| s.opened)
                .map(|(id, _)| *id)
        {
            self.report_open(oldest, out);
        }
        self.open.insert(e.job_id, Segment::new(e, name, now));
    }

    fn take_or_new(&mut self, e: &PhaseEvent, name: &'static str, now: Instant) -> Segment {
        match self.open.remove(&e.job_id) {
            Some(mut seg) => {
                seg.push(e);
                seg
            }
            None => Segment::new(e, name, now),
        }
    }

    fn finish(&mut self, e: &PhaseEvent, out: &mut Vec<SpanRecord>) {
        if !self.finished.insert(e.job_id) {
            return;
        }
        self.finished_order.push_back(e.job_id);
        while self.finished_order.len() > self.options.remember_finished.max(1) {
            if let Some(old) = self.finished_order.pop_front() {
                self.finished.remove(&old);
            }
        }
        out.push(execute_record(e));
    }
}

impl Segment {
    fn new(e: &PhaseEvent, name: &'static str, now: Instant) -> Self {
        Self {
            name,
            span_id: random_span_id(),
            start: e.at,
            last: e.clone(),
            phases: vec![e.phase],
            opened: now,
            held_until: None,
        }
    }

    fn push(&mut self, e: &PhaseEvent) {
        self.last = e.clone();
        self.phases.push(e.phase);
    }
}

fn job_attributes(e: &PhaseEvent) -> Vec<(&'static str, AttrValue)> {
    vec![
        ("job_id", e.job_id.get().into()),
        ("runtemplate_id", e.runtemplate_id.get().into()),
        ("company_id", e.company_id.get().into()),
        ("app_id", e.app_id.get().into()),
        ("executor", e.executor.as_str().into()),
        ("attempt", i64::from(e.attempt).into()),
        ("trigger", e.trigger.as_str().into()),
    ]
}

fn segment_record(seg: Segment, incomplete: bool) -> SpanRecord {
    let ids = JobTrace::of(&seg.last);
    let phases: Vec<&str> = seg.phases.iter().map(|p| p.as_str()).collect();
    let mut attributes = vec![
        ("job_id", seg.last.job_id.get().into()),
        ("attempt", i64::from(seg.last.attempt).into()),
        ("phases", AttrValue::Str(phases.join(","))),
    ];
    if incomplete {
        attributes.push(("incomplete", AttrValue::Bool(true)));
    }
    SpanRecord {
        name: seg.name,
        trace_id: ids.trace_id,
        span_id: seg.span_id,
        parent_span_id: Some(ids.span_id),
        start: seg.start,
        end: seg.last.at.max(seg.start),
        attributes,
        events: Vec::new(),
        error: None,
    }
}

/// The `job.execute` span of the job of `e` (its Completed or Preserved event), rebuilt from the
/// stored timeline.
fn execute_record(e: &PhaseEvent) -> SpanRecord {
    let ids = JobTrace::of(e);
    let event = |name, at, attributes| SpanEventRecord {
        name,
        at,
        attributes,
    };
    let mut events = vec![
        event("created", e.created, Vec::new()),
        event("scheduled", e.created, Vec::new()),
    ];
    if let Some(q) = e.queued {
        let wait = e.queue_wait().map_or(0, |w| w.num_milliseconds());
        events.push(event("queued", q, vec![("queue_wait_ms", wait.into())]));
    }
    if let Some(b) = e.begin {
        events.push(event("running", b, Vec::new()));
    }
    let completed_at = e.end.unwrap_or(e.at);
    let mut done = Vec::new();
    if let Some(o) = e.outcome {
        done.push(("outcome", o.as_str().into()));
    }
    if let Some(c) = e.exitcode {
        done.push(("exitcode", i64::from(c).into()));
    }
    if let Some(d) = e.duration_ms {
        done.push(("duration_ms", d.into()));
    }
    events.push(event("completed", completed_at, done));
    let mut end = completed_at;
    if e.phase == Phase::Preserved {
        let at = e.preserved.unwrap_or(e.at);
        events.push(event("preserved", at, Vec::new()));
        end = at;
    }
    let mut attributes = job_attributes(e);
    if let Some(o) = e.outcome {
        attributes.push(("outcome", o.as_str().into()));
    }
    if let Some(c) = e.exitcode {
        attributes.push(("exitcode", i64::from(c).into()));
    }
    if let Some(b) = e.usage.peak_memory_bytes {
        attributes.push((
            "memory_peak_bytes",
            i64::try_from(b).unwrap_or(i64::MAX).into(),
        ));
    }
    if let Some(ms) = e.usage.cpu_time_ms {
        attributes.push(("cpu_time_ms", i64::try_from(ms).unwrap_or(i64::MAX).into()));
    }
    if let Some(hit) = e.usage.memory_limit_hit {
        attributes.push(("memory_limit_hit", AttrValue::Bool(hit)));
    }
    SpanRecord {
        name: "job.execute",
        trace_id: ids.trace_id,
        span_id: ids.span_id,
        parent_span_id: ids.parent_span_id,
        start: e.created,
        end: end.max(e.created),
        attributes,
        events,
        error: e
            .outcome
            .filter(|o| is_failure(*o))
            .map(|o| format!("job {}", o.as_str())),
    }
}
