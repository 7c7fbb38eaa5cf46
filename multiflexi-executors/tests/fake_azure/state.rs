//! What the fake ARM server holds: container groups, long-running operations, faults to
//! inject and what it saw (requests it does not implement, rule violations).

use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// A fault the next ARM request gets instead of its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After: <seconds>`.
    Throttle(u64),
    /// This 5xx status.
    Server(u16),
}

/// The job container's `currentState`.
#[derive(Debug, Clone, Default)]
pub struct ContainerView {
    pub state: Option<&'static str>,
    pub exit_code: Option<i32>,
    pub start_time: Option<String>,
    pub finish_time: Option<String>,
    pub detail: String,
}

/// A container's process (the fake's stand-in for a container).
#[derive(Debug)]
pub struct Runtime {
    pub pgid: i32,
    pub dir: PathBuf,
    /// Merged stdout and stderr, as bytes.
    pub log: Mutex<Vec<u8>>,
    /// The group leader has been waited for.
    pub exited: AtomicBool,
}

impl Runtime {
    /// Whether any process of the container's process group is alive.
    pub fn alive(&self) -> bool {
        !self.exited.load(Ordering::SeqCst)
            || nix::sys::signal::killpg(nix::unistd::Pid::from_raw(self.pgid), None).is_ok()
    }

    /// Kills the whole process group.
    pub fn kill(&self) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(self.pgid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// A container group.
#[derive(Debug)]
pub struct Group {
    pub name: String,
    pub location: String,
    pub tags: Value,
    /// The body as PUT (secure values included: only the tests read it).
    pub body: Value,
    pub provisioning: &'static str,
    pub group_state: &'static str,
    pub container: ContainerView,
    pub events: Vec<Value>,
    pub runtime: Option<std::sync::Arc<Runtime>>,
    pub deleting: bool,
}

/// A long-running operation.
#[derive(Debug, Clone)]
pub struct Operation {
    pub status: &'static str,
    pub error: Option<Value>,
}

/// Everything.
#[derive(Debug, Default)]
pub struct State {
    pub groups: BTreeMap<String, Group>,
    pub operations: HashMap<String, Operation>,
    pub next_operation: u64,
    /// Every PUT body, in order.
    pub created: Vec<Value>,
    /// Every container group deleted, in order.
    pub deleted: Vec<String>,
    /// Every process the fake started.
    pub runtimes: Vec<std::sync::Arc<Runtime>>,
    /// Requests the fake does not implement.
    pub unimplemented: Vec<String>,
    /// Requests that broke a rule (no bearer token, wrong api-version, a retry before
    /// `Retry-After`, an invalid body).
    pub violations: Vec<String>,
    /// Faults for the next ARM requests, in order.
    pub faults: VecDeque<Fault>,
    /// Faults served so far.
    pub faults_served: Vec<Fault>,
    /// No request may come before this (a 429's `Retry-After`).
    pub not_before: Option<Instant>,
    /// Tokens issued (service principal and managed identity).
    pub tokens_issued: u32,
    /// ARM requests served, as `METHOD path`.
    pub requests: Vec<String>,
}

/// Shared by the handlers and the container tasks.
#[derive(Debug)]
pub struct Inner {
    pub state: Mutex<State>,
    pub options: super::FakeOptions,
    pub root: PathBuf,
    /// Every ARM request answers 503 (an outage).
    pub down: AtomicBool,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

/// Now as RFC 3339 (UTC, seconds), as ARM writes times.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}
