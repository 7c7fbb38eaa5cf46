//! How a dispatcher runs: its options and their defaults.

use std::path::PathBuf;
use std::time::Duration;

/// How a dispatcher runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DispatcherOptions {
    /// This executor daemon's stable id (lease owner, container labels).
    pub executor_id: String,
    /// At most this many jobs at once (`MULTIFLEXI_MAX_PARALLEL`).
    pub max_parallel: usize,
    /// Lease time to live (`MULTIFLEXI_LEASE_TTL`); heartbeats every third of it.
    pub lease_ttl: Duration,
    /// Poll at least this often even without wake-ups (`MULTIFLEXI_CYCLE_PAUSE`).
    pub poll_interval: Duration,
    /// Per-job work directories are created below this.
    pub work_root: PathBuf,
    /// Per-stream output cap in bytes (head and tail kept).
    pub output_cap: usize,
    /// Bytes of each stream copied into the job row.
    pub text_copy: usize,
    /// Flush the live output log at least this often while a job prints.
    pub flush_interval: Duration,
    /// Or when this many bytes are pending.
    pub flush_bytes: usize,
    /// Stop claiming while this process's RSS is above this (`MULTIFLEXI_MEMORY_LIMIT_MB`).
    pub memory_limit_mb: Option<u64>,
    /// Claimed jobs kept ready beyond `max_parallel`: Queued and leased (heartbeats cover them),
    /// started in claim order as slots free, so a freed slot never waits for a claim round trip
    /// and claims overlap the begin / finish writes of running jobs. `None` = `max_parallel`;
    /// `Some(0)` claims only for free slots. Such a job waits at most for the jobs ahead of it
    /// here, and another executor daemon cannot take it meanwhile: with long jobs and several
    /// daemons sharing a queue, a small value spreads work more evenly. On drain they run like
    /// the running jobs; on abort (or a cancel request) they end `cancelled` without starting.
    ///
    /// `None` (the default) adapts: `max_parallel` while jobs hold their slots for a while, and
    /// [`SHORT_JOB_AHEAD`] × `max_parallel` while the recent jobs held them under
    /// [`SHORT_JOB`] on average (they start within milliseconds, so claiming deeper keeps
    /// nothing from other daemons and makes fewer, fuller claims).
    pub claim_ahead: Option<usize>,
    /// The lease margin: the dispatcher stops a job (and never launches one) once TTL −
    /// margin has passed since the claim or the last heartbeat that succeeded was sent. `None`
    /// = TTL/5; at most TTL/2. See the module docs of the lease rule.
    pub lease_margin: Option<Duration>,
    /// Where a job's end waits when the store cannot take it (survives a restart: replayed at
    /// start-up). `None`: in memory only.
    pub spool_dir: Option<PathBuf>,
    /// Bytes the spool may hold; output past it is cut with a marker.
    pub spool_max_bytes: u64,
    /// Launches that fail before the program started before the job ends `platform_error`
    /// (each failure puts the job back in the queue).
    pub max_launch_failures: u32,
    /// Result files stored per job (later ones are skipped with a note on stderr).
    pub result_files_max: usize,
    /// Result-file bytes stored per job (a file past it is cut, later ones skipped, with a note).
    pub result_bytes_max: u64,
    /// How often what no live lease covers (containers, Kubernetes Jobs, native processes of
    /// dead executors) is looked for and removed. `None` = the poll interval.
    pub reap_interval: Option<Duration>,
    /// Batches of job starts and finishes written at once, each its own transaction
    /// (`MULTIFLEXI_WRITES_IN_FLIGHT`). `None` = the store's
    /// [`JobQueue::parallel_writes`](crate::store::JobQueue::parallel_writes) (1 on SQLite,
    /// 4 on a server database, where a batch's round trips and commit overlap the next one's).
    pub writes_in_flight: Option<usize>,
}

/// The default of [`DispatcherOptions::max_launch_failures`].
pub const DEFAULT_MAX_LAUNCH_FAILURES: u32 = 5;

impl Default for DispatcherOptions {
    fn default() -> Self {
        Self {
            executor_id: "multiflexi-executor".into(),
            max_parallel: 4,
            lease_ttl: Duration::from_secs(30),
            poll_interval: Duration::from_secs(10),
            work_root: std::env::temp_dir().join("multiflexi-jobs"),
            output_cap: 8 * 1024 * 1024,
            text_copy: 64 * 1024,
            flush_interval: Duration::from_millis(250),
            flush_bytes: 64 * 1024,
            memory_limit_mb: None,
            claim_ahead: None,
            lease_margin: None,
            spool_dir: None,
            spool_max_bytes: 1 << 30,
            max_launch_failures: DEFAULT_MAX_LAUNCH_FAILURES,
            result_files_max: 100,
            result_bytes_max: 256 << 20,
            reap_interval: None,
            writes_in_flight: None,
        }
    }
}

impl DispatcherOptions {
    /// Defaults with an executor id and a parallel limit.
    pub fn new(executor_id: impl Into<String>, max_parallel: usize) -> Self {
        Self {
            executor_id: executor_id.into(),
            max_parallel: max_parallel.max(1),
            ..Self::default()
        }
    }

    /// The lease margin in effect (see [`DispatcherOptions::lease_margin`]).
    pub fn margin(&self) -> Duration {
        self.lease_margin
            .unwrap_or(self.lease_ttl / 5)
            .min(self.lease_ttl / 2)
    }

    /// The claim-ahead depth in effect (see [`DispatcherOptions::claim_ahead`]), given the
    /// recent average slot time in µs (`None` = no job finished yet).
    pub(crate) fn ahead(&self, slot_time_us: Option<u64>) -> usize {
        match (self.claim_ahead, slot_time_us) {
            (Some(n), _) => n,
            (None, Some(us)) if us < SHORT_JOB.as_micros() as u64 => {
                SHORT_JOB_AHEAD * self.max_parallel
            }
            (None, _) => self.max_parallel,
        }
    }
}

/// Jobs holding their slot for less than this on average are short (see
/// [`DispatcherOptions::claim_ahead`]).
pub const SHORT_JOB: Duration = Duration::from_millis(5);

/// How many times `max_parallel` the default claim-ahead depth grows to for short jobs.
pub const SHORT_JOB_AHEAD: usize = 4;
