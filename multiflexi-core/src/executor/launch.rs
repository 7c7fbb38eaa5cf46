use crate::ids::{AppId, CompanyId, JobId, RunTemplateId};
use crate::lifecycle::Outcome;
use crate::model::ContainerSecurity;
use std::path::PathBuf;
use std::time::Duration;

/// The PATH every job gets (the system default, never the daemon's).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Everything an executor needs to run one job. Built by the engine from the job row.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LaunchSpec {
    /// The job.
    pub job_id: JobId,
    /// Its fencing token (put on containers' labels).
    pub lease_token: i64,
    /// Its template.
    pub runtemplate_id: RunTemplateId,
    /// Its company.
    pub company_id: CompanyId,
    /// Its app.
    pub app_id: AppId,
    /// The executor daemon's id (put on containers' labels for `reap`).
    pub executor_id: String,
    /// The program.
    pub program: String,
    /// Its arguments (never a shell string).
    pub args: Vec<String>,
    /// The job's assembled environment (without the base variables; see [`LaunchSpec::process_env`]).
    pub env: Vec<(String, String)>,
    /// A fresh, empty per-job work directory on the executor's host.
    pub work_dir: PathBuf,
    /// Container image.
    pub image: Option<String>,
    /// Kill after this long.
    pub timeout: Option<Duration>,
    /// Memory limit in MiB.
    pub memory_limit_mb: Option<u32>,
    /// Limit on the job's processes and threads alive at once.
    pub pids_max: Option<u32>,
    /// CPU time (user + system) the job may use before it is killed.
    pub cpu_limit: Option<Duration>,
    /// What the app needs from a container sandbox.
    pub container: ContainerSecurity,
    /// Result-file glob patterns, relative to the work directory.
    pub artifacts: Vec<String>,
    /// IANA timezone for `TZ`.
    pub timezone: String,
    /// The job this one retries: a container executor removes what is left of that job
    /// before it starts this one, so two runs of one slot never overlap.
    pub retry_of: Option<JobId>,
}

impl LaunchSpec {
    /// A spec for `program args` in `work_dir` with default ids (tests and embedding).
    pub fn new(
        program: impl Into<String>,
        args: Vec<String>,
        work_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            job_id: JobId(0),
            lease_token: 0,
            runtemplate_id: RunTemplateId(0),
            company_id: CompanyId(0),
            app_id: AppId(0),
            executor_id: String::new(),
            program: program.into(),
            args,
            env: Vec::new(),
            work_dir: work_dir.into(),
            image: None,
            timeout: None,
            memory_limit_mb: None,
            pids_max: None,
            cpu_limit: None,
            container: ContainerSecurity::default(),
            artifacts: Vec::new(),
            timezone: "UTC".into(),
            retry_of: None,
        }
    }

    /// The complete environment a job process gets: PATH (system default), HOME (`home`),
    /// LANG=C.UTF-8, TZ, then the job's own variables (which win). Nothing from the daemon.
    pub fn process_env(&self, home: &str) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = vec![
            ("PATH".into(), DEFAULT_PATH.into()),
            ("HOME".into(), home.into()),
            ("LANG".into(), "C.UTF-8".into()),
            ("TZ".into(), self.timezone.clone()),
        ];
        for (k, v) in &self.env {
            if let Some(slot) = env.iter_mut().find(|(name, _)| name == k) {
                slot.1 = v.clone();
            } else {
                env.push((k.clone(), v.clone()));
            }
        }
        env
    }
}

/// What the executor knows of the started job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunHandle {
    /// Process id (native).
    pub pid: Option<i64>,
    /// Container id or pod name.
    pub external_id: Option<String>,
}

/// How the process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    /// It exited with this code.
    Exited(i32),
    /// It was killed by this signal.
    Signaled(i32),
}

/// How a job ended, as facts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExitReport {
    /// Exit code or signal.
    pub termination: Termination,
    /// Killed because it ran past its timeout.
    pub timed_out: bool,
    /// Stopped because cancellation was requested.
    pub cancelled: bool,
    /// Killed for exceeding its memory limit (the limit was hit).
    pub oom: bool,
    /// Killed for using up its CPU-time limit.
    pub cpu_limited: bool,
    /// Peak memory of the job, bytes: of its cgroup (every process, page cache included) where
    /// the executor measures one, else of its largest process (rusage). `None` exactly when
    /// [`ExitReport::usage_unknown`] says why.
    pub peak_rss_bytes: Option<u64>,
    /// User + system CPU time of the job. `None` exactly when [`ExitReport::usage_unknown`]
    /// says why.
    pub cpu_time: Option<Duration>,
    /// Why the executor cannot tell the job's resource usage (`peak_rss_bytes`, `cpu_time`);
    /// `None` when it reported figures. Set through [`ExitReport::set_usage`] and
    /// [`ExitReport::set_usage_unknown`], which keep the two consistent.
    pub usage_unknown: Option<String>,
}

impl ExitReport {
    /// A plain exit.
    pub fn exited(code: i32) -> Self {
        Self {
            termination: Termination::Exited(code),
            timed_out: false,
            cancelled: false,
            oom: false,
            cpu_limited: false,
            peak_rss_bytes: None,
            cpu_time: None,
            usage_unknown: None,
        }
    }

    /// Records the job's measured usage: peak memory (bytes) and CPU time (user + system).
    pub fn set_usage(&mut self, peak_bytes: u64, cpu_time: Duration) {
        self.peak_rss_bytes = Some(peak_bytes);
        self.cpu_time = Some(cpu_time);
        self.usage_unknown = None;
    }

    /// Records why the job's usage cannot be told (and drops any figures).
    pub fn set_usage_unknown(&mut self, why: impl Into<String>) {
        self.peak_rss_bytes = None;
        self.cpu_time = None;
        self.usage_unknown = Some(why.into());
    }

    /// Killed by a signal.
    pub fn signaled(signal: i32) -> Self {
        Self {
            termination: Termination::Signaled(signal),
            ..Self::exited(0)
        }
    }

    /// The exit code as stored: the code, or 128+N for signal N.
    pub fn exitcode(&self) -> i32 {
        match self.termination {
            Termination::Exited(c) => c,
            Termination::Signaled(s) => 128 + s,
        }
    }

    /// The outcome: cancelled, timeout, oom, cpu limit win over the exit code.
    pub fn outcome(&self) -> Outcome {
        if self.cancelled {
            Outcome::Cancelled
        } else if self.timed_out {
            Outcome::Timeout
        } else if self.oom {
            Outcome::Oom
        } else if self.cpu_limited {
            Outcome::CpuLimit
        } else {
            Outcome::from_exit_code(self.exitcode())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_env_has_base_and_job_wins() {
        let mut spec = LaunchSpec::new("/bin/true", vec![], "/tmp/w");
        spec.env = vec![
            ("FOO".into(), "bar".into()),
            ("LANG".into(), "cs_CZ.UTF-8".into()),
        ];
        spec.timezone = "Europe/Prague".into();
        let env = spec.process_env("/tmp/w");
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("PATH"), Some(DEFAULT_PATH));
        assert_eq!(get("HOME"), Some("/tmp/w"));
        assert_eq!(get("LANG"), Some("cs_CZ.UTF-8"));
        assert_eq!(get("TZ"), Some("Europe/Prague"));
        assert_eq!(get("FOO"), Some("bar"));
        assert_eq!(env.len(), 5);
    }

    #[test]
    fn signals_map_to_128_plus_n() {
        assert_eq!(ExitReport::signaled(9).exitcode(), 137);
        assert_eq!(ExitReport::signaled(9).outcome(), Outcome::Failed);
        let mut r = ExitReport::signaled(15);
        r.timed_out = true;
        assert_eq!(r.outcome(), Outcome::Timeout);
        r.cancelled = true;
        assert_eq!(r.outcome(), Outcome::Cancelled);
    }

    #[test]
    fn usage_is_figures_or_a_reason() {
        let mut r = ExitReport::exited(0);
        r.set_usage_unknown("no cgroup");
        assert_eq!(
            (r.peak_rss_bytes, r.cpu_time, r.usage_unknown.as_deref()),
            (None, None, Some("no cgroup"))
        );
        r.set_usage(4096, Duration::from_millis(20));
        assert_eq!(
            (r.peak_rss_bytes, r.cpu_time, r.usage_unknown.clone()),
            (Some(4096), Some(Duration::from_millis(20)), None)
        );
        r.set_usage_unknown("gone");
        assert_eq!((r.peak_rss_bytes, r.cpu_time), (None, None));
    }
}
