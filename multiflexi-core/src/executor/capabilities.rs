use std::collections::BTreeSet;
use std::fmt;

/// One thing an executor can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Capability {
    /// stdout and stderr arrive separately (Kubernetes merges them).
    SeparateStreams,
    /// Output arrives while the job runs.
    Streaming,
    /// Every byte of output arrives unchanged, however much: binary (NUL, invalid UTF-8) and
    /// beyond any window. Azure Container Instances lacks it: its log API answers text (JSON)
    /// and only the last 4 MB.
    LosslessOutput,
    /// A timeout kills the job and its children.
    Timeout,
    /// Cancellation stops the job.
    Cancel,
    /// Result files are collected from the work directory.
    ResultFiles,
    /// Memory limits are enforced (cgroup / container).
    MemoryLimit,
    /// Memory limits are best effort (RLIMIT_AS).
    MemoryLimitBestEffort,
    /// `pids_max` is enforced for the whole job (a fork past it fails with EAGAIN).
    PidsLimit,
    /// A CPU-time budget (`cpu_limit`) kills the job when used up (outcome `cpu_limit`).
    CpuTimeLimit,
    /// The job sees only its own environment, never the daemon's.
    EnvIsolation,
    /// Peak memory and CPU time are reported.
    ResourceUsage,
    /// `reap` removes what a dead executor left behind.
    Reap,
    /// Runs host binaries (rather than images).
    HostPrograms,
    /// Runs OCI images.
    Images,
    /// Its jobs use the host directory `LaunchSpec::work_dir` (a process's working directory,
    /// its result files). The dispatcher creates the directory before `launch` and removes it
    /// after only for an executor with this capability; one that runs jobs elsewhere (a
    /// container, a pod, a cloud) or runs no program leaves it out.
    WorkDir,
}

/// The set of capabilities of an executor.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Capabilities(BTreeSet<Capability>);

impl Capabilities {
    /// A set of capabilities.
    pub fn new(caps: impl IntoIterator<Item = Capability>) -> Self {
        Self(caps.into_iter().collect())
    }

    /// Adds `cap`.
    pub fn insert(&mut self, cap: Capability) {
        self.0.insert(cap);
    }

    /// Whether it has `cap`.
    pub fn has(&self, cap: Capability) -> bool {
        self.0.contains(&cap)
    }

    /// All of them, in order.
    pub fn iter(&self) -> impl Iterator<Item = Capability> + '_ {
        self.0.iter().copied()
    }
}

impl fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.iter()).finish()
    }
}
