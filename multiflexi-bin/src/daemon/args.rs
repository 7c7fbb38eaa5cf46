//! Flags of the daemons beyond ARCHITECTURE §10 (which `crate::config` holds).

use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// Docker's default API socket.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";
/// Podman's default (rootful) Docker-compatible API socket.
pub const DEFAULT_PODMAN_HOST: &str = "unix:///run/podman/podman.sock";

/// How long to wait for the database at start.
#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    /// Seconds to keep retrying (exponential back-off, capped at 30 s) while the database is
    /// not reachable at start; 0 tries once.
    #[arg(
        long,
        env = "MULTIFLEXI_DB_WAIT",
        default_value_t = 300,
        value_name = "SECS"
    )]
    pub db_wait_secs: u64,
}

impl WaitArgs {
    /// The wait limit.
    pub fn db_wait(&self) -> Duration {
        Duration::from_secs(self.db_wait_secs)
    }
}

/// Flags of the processes that run jobs (`multiflexi serve`, `multiflexi-executor`).
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Directory below which each job gets its own fresh work directory (removed after the job
    /// is preserved). Default: `multiflexi-jobs-<pid>` in the system's temporary directory.
    #[arg(long, env = "MULTIFLEXI_WORK_DIR", value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// After the first SIGTERM / Ctrl-C, seconds to let running jobs finish before they are
    /// cancelled (a second signal cancels at once); 0 waits for them without limit.
    #[arg(
        long,
        env = "MULTIFLEXI_STOP_GRACE",
        default_value_t = 60,
        value_name = "SECS"
    )]
    pub stop_grace_secs: u64,
    /// Jobs claimed ahead beyond the free slots (kept Queued and leased, started in order as
    /// slots free). Default: MULTIFLEXI_MAX_PARALLEL, and 4 × that while recent jobs held their
    /// slots under 5 ms on average. Use a small value when several executor daemons share a
    /// queue of long jobs, so work spreads evenly; 0 claims only for free slots.
    #[arg(long, env = "MULTIFLEXI_CLAIM_AHEAD", value_name = "N")]
    pub claim_ahead: Option<usize>,
    /// Batches of job starts and finishes written to the store at once, each its own
    /// transaction. Default: 1 on SQLite (one writer), 4 on PostgreSQL and MySQL/MariaDB.
    #[arg(long, env = "MULTIFLEXI_WRITES_IN_FLIGHT", value_name = "N", value_parser = clap::value_parser!(u64).range(1..=64))]
    pub writes_in_flight: Option<u64>,
    /// Docker Engine API socket (probed at start unless MULTIFLEXI_EXECUTORS names the kinds).
    #[arg(long, env = "MULTIFLEXI_DOCKER_HOST", default_value = DEFAULT_DOCKER_HOST)]
    pub docker_host: String,
    /// Podman's Docker-compatible API socket (probed likewise).
    #[arg(long, env = "MULTIFLEXI_PODMAN_HOST", default_value = DEFAULT_PODMAN_HOST)]
    pub podman_host: String,
    /// The daemon's own state: the records of running native jobs (so that what a dead
    /// executor left is found) and the spool where a finished job's output waits while the
    /// database cannot take it. Must survive a restart (not a private /tmp). Default:
    /// $STATE_DIRECTORY (set by systemd's StateDirectory=), else ./multiflexi-state.
    #[arg(long, env = "MULTIFLEXI_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Users native jobs run as: FIRST-LAST gives each running job its own uid (and gid) from
    /// that range, released when it ends; `off` runs them as this daemon's own user. One uid
    /// per job needs root or the capabilities CAP_SETUID, CAP_SETGID, CAP_KILL and CAP_CHOWN
    /// (systemd's AmbientCapabilities=; jobs keep none of them); otherwise jobs run as the
    /// daemon's user and the daemon says so at start. Root is never in the range.
    #[arg(
        long,
        env = "MULTIFLEXI_JOB_UIDS",
        default_value = "61000-61999",
        value_name = "FIRST-LAST|off"
    )]
    pub job_uids: String,
    /// Where the host-wide locks of the job uids in use live (one file per uid; every executor
    /// on the host must use the same directory). A tmpfs, so that a reboot frees them.
    #[arg(
        long,
        env = "MULTIFLEXI_JOB_UID_LOCKS",
        default_value = multiflexi_executors::DEFAULT_JOB_UID_LOCKS,
        value_name = "DIR"
    )]
    pub job_uid_locks: PathBuf,
    /// The user container jobs (Docker, Podman) run as: numeric UID:GID (or UID), or `image` for
    /// the image's own USER. The job's work directory is given to that user. Docker makes an
    /// app's declared capabilities effective only for root (0:0).
    #[arg(
        long,
        env = "MULTIFLEXI_CONTAINER_USER",
        default_value = multiflexi_executors::DEFAULT_CONTAINER_USER,
        value_name = "UID:GID|image"
    )]
    pub container_user: String,
    /// Lease margin in seconds: a job whose lease could not be renewed for
    /// MULTIFLEXI_LEASE_TTL minus this is killed (and a claimed job is never started past it),
    /// so that no other executor can run it again while it still runs. Default: a fifth of the
    /// TTL; at most half of it.
    #[arg(long, env = "MULTIFLEXI_LEASE_MARGIN", value_name = "SECS")]
    pub lease_margin_secs: Option<u64>,
    /// Launches that fail before the program started (engine down, image missing, work disk
    /// full) before a job ends platform_error; each earlier one puts the job back in the queue.
    #[arg(
        long,
        env = "MULTIFLEXI_MAX_LAUNCH_FAILURES",
        default_value_t = 5,
        value_name = "N"
    )]
    pub max_launch_failures: u32,
    /// Result files stored per job; later ones are skipped with a note on the job's stderr.
    #[arg(
        long,
        env = "MULTIFLEXI_RESULT_FILES_MAX",
        default_value_t = 100,
        value_name = "N"
    )]
    pub result_files_max: usize,
    /// MiB of result files stored per job; a file past it is cut, later ones skipped, with a
    /// note on the job's stderr.
    #[arg(
        long,
        env = "MULTIFLEXI_RESULT_BYTES_MAX",
        default_value_t = 256,
        value_name = "MIB"
    )]
    pub result_bytes_max_mb: u64,
    /// MiB the output spool may hold; output past it is cut with a marker.
    #[arg(
        long,
        env = "MULTIFLEXI_SPOOL_MAX_MB",
        default_value_t = 1024,
        value_name = "MIB"
    )]
    pub spool_max_mb: u64,
}

impl RunArgs {
    /// Where job work directories go. The default is private to this process: job ids repeat
    /// across databases, so two installations on one host must not share it.
    pub fn work_root(&self) -> PathBuf {
        self.work_dir.clone().unwrap_or_else(|| {
            std::env::temp_dir().join(format!("multiflexi-jobs-{}", std::process::id()))
        })
    }

    /// The state directory (see [`RunArgs::state_dir`]).
    pub fn state_dir(&self) -> PathBuf {
        self.state_dir.clone().unwrap_or_else(|| {
            std::env::var_os("STATE_DIRECTORY")
                .and_then(|d| std::env::split_paths(&d).next())
                .unwrap_or_else(|| PathBuf::from("multiflexi-state"))
        })
    }

    /// The drain grace, when limited.
    pub fn stop_grace(&self) -> Option<Duration> {
        (self.stop_grace_secs > 0).then(|| Duration::from_secs(self.stop_grace_secs))
    }
}
