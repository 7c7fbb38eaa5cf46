//! Per-job memory limits for native jobs: a memory cgroup (v2 or v1) where this process may create
//! one, else `RLIMIT_AS` (best effort: it limits address space, not resident memory, and a job
//! that hits it sees failing allocations rather than a kill, so it is not reported as oom).
//!
//! OOM detection with a cgroup: the job's cgroup counts OOM kills (`oom_kill` in `memory.events`
//! on v2, in `memory.oom_control` on v1; `memory.failcnt` on old v1 kernels). A job that did not
//! exit 0 and whose cgroup saw an OOM kill is reported as `oom`.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How the native executor enforces `memory_limit_mb`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemoryBackend {
    /// cgroup v2: job cgroups are created under this directory.
    CgroupV2(PathBuf),
    /// cgroup v1 memory controller: job cgroups are created under this directory.
    CgroupV1(PathBuf),
    /// `setrlimit(RLIMIT_AS)` in the child: best effort.
    Rlimit,
}

impl MemoryBackend {
    /// Whether limits are enforced by a cgroup (and OOM kills detected).
    pub fn is_cgroup(&self) -> bool {
        !matches!(self, MemoryBackend::Rlimit)
    }

    /// Probes the machine: the first cgroup location where a job cgroup can be created and
    /// limited, else [`MemoryBackend::Rlimit`].
    pub fn detect() -> MemoryBackend {
        for candidate in candidates() {
            if probe(&candidate).is_ok() {
                return candidate;
            }
        }
        MemoryBackend::Rlimit
    }

    fn base(&self) -> Option<&Path> {
        match self {
            MemoryBackend::CgroupV2(p) | MemoryBackend::CgroupV1(p) => Some(p),
            MemoryBackend::Rlimit => None,
        }
    }
}

const SUBDIR: &str = "multiflexi-native";

fn candidates() -> Vec<MemoryBackend> {
    let mut out = Vec::new();
    let Ok(own) = fs::read_to_string("/proc/self/cgroup") else {
        return out;
    };
    let Ok(mountinfo) = fs::read_to_string("/proc/self/mountinfo") else {
        return out;
    };
    for line in mountinfo.lines() {
        // <id> <parent> <maj:min> <root> <mount point> <opts> [optional...] - <fstype> <source> <super opts>
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mount_point = left.split(' ').nth(4).unwrap_or_default();
        let mut r = right.split(' ');
        let fstype = r.next().unwrap_or_default();
        let super_opts = r.nth(1).unwrap_or_default();
        if fstype == "cgroup2" {
            if let Some(path) = own.lines().find_map(|l| l.strip_prefix("0::")) {
                let mp = Path::new(mount_point);
                // Our own cgroup usually holds processes (so it cannot delegate controllers);
                // try the root of the hierarchy as well.
                out.push(MemoryBackend::CgroupV2(mp.join(SUBDIR)));
                out.push(MemoryBackend::CgroupV2(
                    mp.join(path.trim_start_matches('/')).join(SUBDIR),
                ));
            }
        } else if fstype == "cgroup" && super_opts.split(',').any(|o| o == "memory") {
            let path = own.lines().find_map(|l| {
                let mut f = l.splitn(3, ':');
                let (_, ctrls, p) = (f.next()?, f.next()?, f.next()?);
                ctrls.split(',').any(|c| c == "memory").then_some(p)
            });
            if let Some(path) = path {
                out.push(MemoryBackend::CgroupV1(
                    Path::new(mount_point)
                        .join(path.trim_start_matches('/'))
                        .join(SUBDIR),
                ));
            }
        }
    }
    out
}

fn probe(backend: &MemoryBackend) -> io::Result<()> {
    let base = backend.base().ok_or_else(|| io::Error::other("rlimit"))?;
    if let MemoryBackend::CgroupV2(_) = backend {
        if let Some(parent) = base.parent() {
            // Delegate the memory controller to our directory's children.
            let _ = fs::write(parent.join("cgroup.subtree_control"), "+memory");
        }
    }
    fs::create_dir_all(base)?;
    if let MemoryBackend::CgroupV2(_) = backend {
        fs::write(base.join("cgroup.subtree_control"), "+memory")?;
    }
    let probe = base.join(format!("probe-{}", std::process::id()));
    let _ = fs::create_dir(&probe);
    let result = (|| {
        let limit = match backend {
            MemoryBackend::CgroupV2(_) => "memory.max",
            _ => "memory.limit_in_bytes",
        };
        fs::write(probe.join(limit), (64u64 << 20).to_string())?;
        fs::OpenOptions::new()
            .write(true)
            .open(probe.join("cgroup.procs"))
            .map(drop)
    })();
    let _ = fs::remove_dir(&probe);
    result
}

/// One job's memory cgroup.
#[derive(Debug)]
pub(crate) struct JobCgroup {
    dir: PathBuf,
    v2: bool,
    procs: OwnedFd,
}

impl JobCgroup {
    /// Creates the job's cgroup, with `limit` bytes of memory (no swap where that can be set)
    /// or without a limit (the cgroup then only tracks the job's processes, so that one that
    /// left the process group is still found and killed).
    pub(crate) fn create(
        backend: &MemoryBackend,
        name: &str,
        limit: Option<u64>,
    ) -> io::Result<Self> {
        let (base, v2) = match backend {
            MemoryBackend::CgroupV2(p) => (p, true),
            MemoryBackend::CgroupV1(p) => (p, false),
            MemoryBackend::Rlimit => return Err(io::Error::other("no cgroup backend")),
        };
        let dir = base.join(name);
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        let setup = || -> io::Result<OwnedFd> {
            match (limit, v2) {
                (None, _) => {}
                (Some(limit), true) => {
                    fs::write(dir.join("memory.max"), limit.to_string())?;
                    let _ = fs::write(dir.join("memory.swap.max"), "0");
                }
                (Some(limit), false) => {
                    fs::write(dir.join("memory.limit_in_bytes"), limit.to_string())?;
                    let _ = fs::write(dir.join("memory.memsw.limit_in_bytes"), limit.to_string());
                }
            }
            let file = fs::OpenOptions::new()
                .write(true)
                .open(dir.join("cgroup.procs"))?;
            Ok(OwnedFd::from(file))
        };
        match setup() {
            Ok(procs) => Ok(Self { dir, v2, procs }),
            Err(e) => {
                let _ = fs::remove_dir(&dir);
                Err(e)
            }
        }
    }

    /// The raw fd of `cgroup.procs`, for the child to write `0` into (joining the cgroup
    /// before it executes the job's program).
    pub(crate) fn procs_fd(&self) -> i32 {
        self.procs.as_raw_fd()
    }

    /// The path of `cgroup.procs` (the supervisor reads it to kill the job's processes).
    pub(crate) fn procs_path(&self) -> PathBuf {
        self.dir.join("cgroup.procs")
    }

    /// Pids still in the cgroup.
    pub(crate) fn pids(&self) -> Vec<i32> {
        fs::read_to_string(self.dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Sends `signal` to every process in the cgroup (catches processes that left the job's
    /// process group).
    pub(crate) fn signal_all(&self, signal: nix::sys::signal::Signal) {
        for pid in self.pids() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
        }
    }

    /// Whether the kernel OOM-killed a process of this cgroup.
    pub(crate) fn oom_killed(&self) -> bool {
        let counter = |file: &str, key: &str| -> Option<u64> {
            fs::read_to_string(self.dir.join(file))
                .ok()?
                .lines()
                .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
        };
        if self.v2 {
            counter("memory.events", "oom_kill ").is_some_and(|n| n > 0)
        } else {
            match counter("memory.oom_control", "oom_kill ") {
                Some(n) => n > 0,
                None => fs::read_to_string(self.dir.join("memory.failcnt"))
                    .ok()
                    .and_then(|s| s.trim().parse::<u64>().ok())
                    .is_some_and(|n| n > 0),
            }
        }
    }

    /// Kills whatever is left, then removes the cgroup (waiting briefly for the kills to land).
    pub(crate) async fn destroy(self) {
        for _ in 0..50 {
            if self.pids().is_empty() {
                break;
            }
            self.signal_all(nix::sys::signal::Signal::SIGKILL);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if let Err(e) = fs::remove_dir(&self.dir) {
            tracing::warn!(cgroup = %self.dir.display(), error = %e, "could not remove a job cgroup");
        }
    }
}
