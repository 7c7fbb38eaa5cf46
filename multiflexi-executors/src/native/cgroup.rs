//! Per-job cgroups for native jobs: where this process may create them, each job gets its own,
//! which carries the job's limits and finds every process of the job when it must die.
//!
//! | limit | cgroup v2 | cgroup v1 | without a cgroup |
//! |---|---|---|---|
//! | `memory_limit_mb` | `memory.max` (+ `memory.swap.max` 0) | `memory.limit_in_bytes` (+ `memsw`) | `RLIMIT_AS` per process: best effort, address space not resident memory, failing allocations rather than a kill (not reported as oom) |
//! | `pids_max` | `pids.max` | `pids.max` (pids controller) | `RLIMIT_NPROC` when the job has its own uid (the count is per uid, so per job; not for root), else not limited |
//! | `cpu_seconds` | `cpu.stat` `usage_usec`, watched; the cgroup is killed at the limit | `cpuacct.usage`, watched likewise | `RLIMIT_CPU` per process (SIGXCPU, then SIGKILL): a job that forks gets the budget per process |
//!
//! cgroup v1 mounts each controller on its own hierarchy (these VMs: a hybrid layout with
//! `memory`, `pids` and `cpuacct` under `/sys/fs/cgroup/<controller>`); the job then gets one
//! directory per controller, and its processes join all of them before the program runs.
//!
//! Resource usage: the job's cgroup measures every process of the job, forked children that
//! nobody waited for included: peak memory from `memory.peak` (v2, kernel 5.19 and later) or
//! `memory.max_usage_in_bytes` (v1), both counting the page cache the job's processes caused;
//! CPU time from `cpu.stat` `usage_usec` (v2) or `cpuacct.usage` (v1). They are read after the
//! job ended and before the cgroup is removed.
//!
//! OOM detection: the job's cgroup counts OOM kills (`oom_kill` in `memory.events` on v2, in
//! `memory.oom_control` on v1; `memory.failcnt` on old v1 kernels). A job that did not exit 0
//! and whose cgroup saw an OOM kill is reported as `oom`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A cgroup v1 controller a job cgroup is made in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Controller {
    /// Memory limit and OOM accounting.
    Memory,
    /// Number of processes and threads.
    Pids,
    /// CPU time accounting.
    Cpuacct,
}

impl Controller {
    const ALL: [Controller; 3] = [Controller::Memory, Controller::Pids, Controller::Cpuacct];

    fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Cpuacct => "cpuacct",
        }
    }
}

/// How the native executor makes per-job cgroups on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupBackend {
    /// cgroup v2: job cgroups are created under `base`; `pids` says whether the pids controller
    /// could be enabled for them (memory always is, or this backend is not chosen).
    V2 {
        /// The parent of every job cgroup.
        base: PathBuf,
        /// Whether `pids.max` can be set.
        pids: bool,
    },
    /// cgroup v1: one parent directory per usable controller.
    V1(Vec<(Controller, PathBuf)>),
    /// No cgroup can be made here: rlimits only.
    None,
}

impl CgroupBackend {
    /// Whether jobs get a cgroup at all (which also finds their processes when they must die).
    pub fn is_cgroup(&self) -> bool {
        match self {
            CgroupBackend::V2 { .. } => true,
            CgroupBackend::V1(dirs) => !dirs.is_empty(),
            CgroupBackend::None => false,
        }
    }

    /// Whether memory limits are enforced (and OOM kills detected) by the cgroup.
    pub fn limits_memory(&self) -> bool {
        self.has(Controller::Memory)
    }

    /// Whether `pids_max` is enforced by the cgroup.
    pub fn limits_pids(&self) -> bool {
        self.has(Controller::Pids)
    }

    /// Whether the job's CPU time (all of its processes) is measured by the cgroup.
    pub fn counts_cpu(&self) -> bool {
        self.has(Controller::Cpuacct)
    }

    fn has(&self, c: Controller) -> bool {
        match self {
            CgroupBackend::V2 { pids, .. } => c != Controller::Pids || *pids,
            CgroupBackend::V1(dirs) => dirs.iter().any(|(d, _)| *d == c),
            CgroupBackend::None => false,
        }
    }

    /// One line for logs and `doctor`: which mechanism enforces which limit.
    pub fn describe(&self) -> String {
        let by = |ok: bool, cgroup: &str, fallback: &str| {
            if ok {
                cgroup.to_owned()
            } else {
                fallback.to_owned()
            }
        };
        let kind = match self {
            CgroupBackend::V2 { .. } => "cgroup v2",
            CgroupBackend::V1(_) => "cgroup v1",
            CgroupBackend::None => "no cgroup",
        };
        format!(
            "memory by {}, pids by {}, CPU time by {}",
            by(self.limits_memory(), kind, "RLIMIT_AS (best effort)"),
            by(
                self.limits_pids(),
                kind,
                "RLIMIT_NPROC (only for jobs with their own uid)"
            ),
            by(self.counts_cpu(), kind, "RLIMIT_CPU (per process)"),
        )
    }

    /// Probes the machine: cgroup v2 where a job cgroup with a memory limit can be made, else
    /// every cgroup v1 controller that can, else [`CgroupBackend::None`].
    pub fn detect() -> CgroupBackend {
        let Ok(own) = fs::read_to_string("/proc/self/cgroup") else {
            return CgroupBackend::None;
        };
        let Ok(mountinfo) = fs::read_to_string("/proc/self/mountinfo") else {
            return CgroupBackend::None;
        };
        let mounts = Mounts::parse(&mountinfo, &own);
        for base in &mounts.v2 {
            if let Ok(pids) = probe_v2(base) {
                return CgroupBackend::V2 {
                    base: base.clone(),
                    pids,
                };
            }
        }
        let usable: Vec<(Controller, PathBuf)> = mounts
            .v1
            .into_iter()
            .filter(|(c, dir)| probe_v1(*c, dir).is_ok())
            .collect();
        if usable.is_empty() {
            CgroupBackend::None
        } else {
            CgroupBackend::V1(usable)
        }
    }
}

const SUBDIR: &str = "multiflexi-native";

/// Candidate parent directories for job cgroups, read from mountinfo and our own cgroup.
struct Mounts {
    v2: Vec<PathBuf>,
    v1: Vec<(Controller, PathBuf)>,
}

impl Mounts {
    fn parse(mountinfo: &str, own: &str) -> Mounts {
        let mut out = Mounts {
            v2: Vec::new(),
            v1: Vec::new(),
        };
        for line in mountinfo.lines() {
            // <id> <parent> <maj:min> <root> <mount point> <opts> [optional...] - <fstype> <source> <super opts>
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let mount_point = Path::new(left.split(' ').nth(4).unwrap_or_default());
            let mut r = right.split(' ');
            let fstype = r.next().unwrap_or_default();
            let super_opts = r.nth(1).unwrap_or_default();
            if fstype == "cgroup2" {
                if let Some(path) = own.lines().find_map(|l| l.strip_prefix("0::")) {
                    // Our own cgroup usually holds processes (so it cannot delegate
                    // controllers); try the root of the hierarchy as well.
                    out.v2.push(mount_point.join(SUBDIR));
                    out.v2
                        .push(mount_point.join(path.trim_start_matches('/')).join(SUBDIR));
                }
            } else if fstype == "cgroup" {
                for c in Controller::ALL {
                    if !super_opts.split(',').any(|o| o == c.name()) {
                        continue;
                    }
                    let path = own.lines().find_map(|l| {
                        let mut f = l.splitn(3, ':');
                        let (_, ctrls, p) = (f.next()?, f.next()?, f.next()?);
                        ctrls.split(',').any(|x| x == c.name()).then_some(p)
                    });
                    if let Some(path) = path
                        && !out.v1.iter().any(|(d, _)| *d == c)
                    {
                        out.v1.push((
                            c,
                            mount_point.join(path.trim_start_matches('/')).join(SUBDIR),
                        ));
                    }
                }
            }
        }
        out
    }
}

/// Makes `base` a parent of job cgroups with the memory controller (required) and the pids
/// controller (optional, the answer). A probe child is created, limited and removed.
fn probe_v2(base: &Path) -> io::Result<bool> {
    if let Some(parent) = base.parent() {
        // Delegate the controllers to our directory's children.
        let _ = fs::write(parent.join("cgroup.subtree_control"), "+memory");
        let _ = fs::write(parent.join("cgroup.subtree_control"), "+pids");
    }
    fs::create_dir_all(base)?;
    fs::write(base.join("cgroup.subtree_control"), "+memory")?;
    let pids = fs::write(base.join("cgroup.subtree_control"), "+pids").is_ok();
    let probe = base.join(format!("probe-{}", std::process::id()));
    let _ = fs::create_dir(&probe);
    let result = (|| {
        fs::write(probe.join("memory.max"), (64u64 << 20).to_string())?;
        let pids = pids && fs::write(probe.join("pids.max"), "64").is_ok();
        fs::OpenOptions::new()
            .write(true)
            .open(probe.join("cgroup.procs"))
            .map(|_| pids)
    })();
    let _ = fs::remove_dir(&probe);
    result
}

/// Whether a job cgroup of controller `c` can be made and limited under `base`.
fn probe_v1(c: Controller, base: &Path) -> io::Result<()> {
    fs::create_dir_all(base)?;
    let probe = base.join(format!("probe-{}", std::process::id()));
    let _ = fs::create_dir(&probe);
    let result = (|| {
        match c {
            Controller::Memory => fs::write(
                probe.join("memory.limit_in_bytes"),
                (64u64 << 20).to_string(),
            )?,
            Controller::Pids => fs::write(probe.join("pids.max"), "64")?,
            Controller::Cpuacct => {
                fs::read_to_string(probe.join("cpuacct.usage"))?;
            }
        }
        fs::OpenOptions::new()
            .write(true)
            .open(probe.join("cgroup.procs"))
            .map(drop)
    })();
    let _ = fs::remove_dir(&probe);
    result
}

/// The limits a job cgroup is made with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CgroupLimits {
    /// Memory, bytes (no swap where that can be set).
    pub memory: Option<u64>,
    /// Processes and threads alive at once.
    pub pids: Option<u32>,
}

/// One job's cgroup (one directory on v2, one per controller on v1).
#[derive(Debug)]
pub(crate) struct JobCgroup {
    /// Every directory of the job, with its controller (`None`: the v2 directory).
    dirs: Vec<(Option<Controller>, PathBuf)>,
    v2: bool,
}

impl JobCgroup {
    /// Creates the job's cgroup with `limits`; without limits the cgroup still tracks the job's
    /// processes, so that one that left the process group is still found and killed.
    pub(crate) fn create(
        backend: &CgroupBackend,
        name: &str,
        limits: CgroupLimits,
    ) -> io::Result<Self> {
        let (dirs, v2): (Vec<(Option<Controller>, PathBuf)>, bool) = match backend {
            CgroupBackend::V2 { base, .. } => (vec![(None, base.join(name))], true),
            CgroupBackend::V1(parents) => (
                parents
                    .iter()
                    .map(|(c, base)| (Some(*c), base.join(name)))
                    .collect(),
                false,
            ),
            CgroupBackend::None => return Err(io::Error::other("no cgroup backend")),
        };
        let mut made = JobCgroup {
            dirs: Vec::new(),
            v2,
        };
        for (c, dir) in dirs {
            match fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    made.remove_dirs();
                    return Err(e);
                }
            }
            made.dirs.push((c, dir.clone()));
            let setup = || -> io::Result<()> {
                let memory = matches!(c, None | Some(Controller::Memory));
                let pids = match (c, backend) {
                    (Some(Controller::Pids), _) => true,
                    (None, CgroupBackend::V2 { pids, .. }) => *pids,
                    _ => false,
                };
                if let (true, Some(limit)) = (memory, limits.memory) {
                    if v2 {
                        fs::write(dir.join("memory.max"), limit.to_string())?;
                        let _ = fs::write(dir.join("memory.swap.max"), "0");
                    } else {
                        fs::write(dir.join("memory.limit_in_bytes"), limit.to_string())?;
                        let _ =
                            fs::write(dir.join("memory.memsw.limit_in_bytes"), limit.to_string());
                    }
                }
                if let (true, Some(max)) = (pids, limits.pids) {
                    fs::write(dir.join("pids.max"), max.max(1).to_string())?;
                }
                // The supervisor joins it later with the same rights: fail here, as a platform
                // error, where it could not.
                fs::OpenOptions::new()
                    .write(true)
                    .open(dir.join("cgroup.procs"))?;
                Ok(())
            };
            match setup() {
                Ok(()) => {}
                Err(e) => {
                    made.remove_dirs();
                    return Err(e);
                }
            }
        }
        Ok(made)
    }

    fn remove_dirs(&self) {
        for (_, dir) in &self.dirs {
            let _ = fs::remove_dir(dir);
        }
    }

    fn dir(&self, c: Controller) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|(d, _)| d.is_none() || *d == Some(c))
            .map(|(_, p)| p.as_path())
    }

    /// Every `cgroup.procs` (one per directory), for the supervisor to write `0` into (joining
    /// the cgroups before it forks the job); the first one is the list the supervisor reads to
    /// kill the job's processes.
    pub(crate) fn procs_paths(&self) -> Vec<PathBuf> {
        self.dirs
            .iter()
            .map(|(_, dir)| dir.join("cgroup.procs"))
            .collect()
    }

    /// Pids still in the cgroup (in any of its directories).
    pub(crate) fn pids(&self) -> Vec<i32> {
        let mut out: Vec<i32> = Vec::new();
        for (_, dir) in &self.dirs {
            for pid in fs::read_to_string(dir.join("cgroup.procs"))
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.trim().parse().ok())
            {
                if !out.contains(&pid) {
                    out.push(pid);
                }
            }
        }
        out
    }

    /// Sends `signal` to every process in the cgroup (catches processes that left the job's
    /// process group).
    pub(crate) fn signal_all(&self, signal: nix::sys::signal::Signal) {
        for pid in self.pids() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
        }
    }

    /// CPU time (user + system) used so far by every process of the job, ended ones included,
    /// where the cgroup counts it.
    pub(crate) fn cpu_used(&self) -> Option<Duration> {
        let dir = self.dir(Controller::Cpuacct)?;
        if self.v2 {
            let stat = fs::read_to_string(dir.join("cpu.stat")).ok()?;
            stat.lines()
                .find_map(|l| l.strip_prefix("usage_usec "))
                .and_then(|v| v.trim().parse().ok())
                .map(Duration::from_micros)
        } else {
            fs::read_to_string(dir.join("cpuacct.usage"))
                .ok()?
                .trim()
                .parse()
                .ok()
                .map(Duration::from_nanos)
        }
    }

    /// The highest memory use of the job's processes together (page cache included) since the
    /// cgroup was made, where the cgroup measures it.
    pub(crate) fn peak_memory(&self) -> Option<u64> {
        let dir = self.dir(Controller::Memory)?;
        let file = if self.v2 {
            "memory.peak"
        } else {
            "memory.max_usage_in_bytes"
        };
        fs::read_to_string(dir.join(file)).ok()?.trim().parse().ok()
    }

    /// Whether the kernel OOM-killed a process of this cgroup.
    pub(crate) fn oom_killed(&self) -> bool {
        let Some(dir) = self.dir(Controller::Memory) else {
            return false;
        };
        let counter = |file: &str, key: &str| -> Option<u64> {
            fs::read_to_string(dir.join(file))
                .ok()?
                .lines()
                .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
        };
        if self.v2 {
            counter("memory.events", "oom_kill ").is_some_and(|n| n > 0)
        } else {
            match counter("memory.oom_control", "oom_kill ") {
                Some(n) => n > 0,
                None => fs::read_to_string(dir.join("memory.failcnt"))
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
        for (_, dir) in &self.dirs {
            if let Err(e) = fs::remove_dir(dir) {
                tracing::warn!(cgroup = %dir.display(), error = %e, "could not remove a job cgroup");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_MOUNTINFO: &str = "\
30 23 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
35 30 0:31 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
36 30 0:32 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,pids
37 30 0:33 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,cpu,cpuacct
";
    const HYBRID_OWN: &str =
        "8:pids:/\n4:memory:/process_api/f7\n2:cpu,cpuacct:/user.slice\n0::/\n";

    #[test]
    fn v1_controllers_are_found_on_their_own_hierarchies() {
        let m = Mounts::parse(HYBRID_MOUNTINFO, HYBRID_OWN);
        assert_eq!(
            m.v1,
            vec![
                (
                    Controller::Memory,
                    PathBuf::from("/sys/fs/cgroup/memory/process_api/f7/multiflexi-native")
                ),
                (
                    Controller::Pids,
                    PathBuf::from("/sys/fs/cgroup/pids/multiflexi-native")
                ),
                (
                    Controller::Cpuacct,
                    PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/user.slice/multiflexi-native")
                ),
            ]
        );
        assert_eq!(
            m.v2,
            vec![
                PathBuf::from("/sys/fs/cgroup/unified/multiflexi-native"),
                PathBuf::from("/sys/fs/cgroup/unified/multiflexi-native"),
            ]
        );
    }

    #[test]
    fn describe_names_each_mechanism() {
        let v1 = CgroupBackend::V1(vec![(Controller::Pids, PathBuf::from("/x"))]);
        assert!(!v1.limits_memory() && v1.limits_pids() && !v1.counts_cpu());
        assert_eq!(
            v1.describe(),
            "memory by RLIMIT_AS (best effort), pids by cgroup v1, CPU time by RLIMIT_CPU (per process)"
        );
        assert_eq!(
            CgroupBackend::V2 {
                base: PathBuf::from("/x"),
                pids: true
            }
            .describe(),
            "memory by cgroup v2, pids by cgroup v2, CPU time by cgroup v2"
        );
    }
}
