//! A container job's resource usage, from a parent cgroup the executor makes for it.
//!
//! The engine removes a container's own cgroup as the container ends, and its stats API answers
//! nothing for a container that ended (on cgroup v1 `memory_stats.max_usage` is the peak, but
//! only while the container runs: a short job ends before any sample). So, where the engine
//! runs on this host with the `cgroupfs` cgroup driver, the executor makes an empty cgroup
//! `/multiflexi-containers/<container name>-<pid>-<n>` in the memory and CPU hierarchies and
//! names it as the container's `CgroupParent`: the engine makes the container's cgroup inside
//! it, every charge of the container also lands on it, and it outlives the container. After
//! the container is removed the executor reads the job's peak memory (`memory.max_usage_in_bytes`
//! on cgroup v1, `memory.peak` on v2: every process of the container, page cache included) and
//! CPU time (`cpuacct.usage`, `cpu.stat` `usage_usec`), then removes the cgroup in every
//! hierarchy. The same holds for Podman when its `conmon` stays out of the container's cgroup
//! parent (`cgroups = "no-conmon"` in its containers.conf); otherwise conmon's own memory and
//! CPU, and its clean-up process's, would count as the job's, and the report says so instead.

use crate::cgroup_mounts::CgroupMount;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The cgroup (in each hierarchy) under which every job's parent cgroup is made.
pub const ROOT: &str = "/multiflexi-containers";

/// The subdirectory Podman puts `conmon` in, under a container's cgroup parent.
const CONMON: &str = "conmon";

static NEXT: AtomicU64 = AtomicU64::new(0);

/// How an executor measures its jobs, decided once from the engine and this host.
#[derive(Debug, Clone)]
pub(crate) enum Measuring {
    /// Each job gets a parent cgroup in these hierarchies.
    Cgroups(Arc<Hierarchies>),
    /// Why jobs' usage cannot be told.
    Cannot(String),
}

/// Where the job parents are made and read.
#[derive(Debug)]
pub(crate) struct Hierarchies {
    v2: bool,
    /// The hierarchy with the memory controller (v2: the unified one).
    memory: PathBuf,
    /// The hierarchy with CPU accounting (v1 `cpuacct`; v2: the unified one).
    cpu: PathBuf,
    /// Every cgroup hierarchy: the engine makes the job's cgroup in each.
    all: Vec<PathBuf>,
}

impl Measuring {
    /// Decides from the engine's socket URL, its cgroup driver and version (`/info`) and this
    /// host's cgroup mounts.
    pub(crate) fn decide(
        host: &str,
        driver: &str,
        version: &str,
        mounts: &[CgroupMount],
    ) -> Measuring {
        if !host.starts_with("unix://") && !host.starts_with('/') {
            return Measuring::Cannot(format!(
                "the engine is reached over the network ({host}): its containers' cgroups are \
                 on another host"
            ));
        }
        if driver != "cgroupfs" {
            return Measuring::Cannot(format!(
                "the engine uses the {driver:?} cgroup driver: the executor measures a \
                 container through a parent cgroup of its own, which the engine takes only \
                 with the cgroupfs driver"
            ));
        }
        let all: Vec<PathBuf> = mounts.iter().map(|m| m.path.clone()).collect();
        let find = |want: &dyn Fn(&CgroupMount) -> bool, what: &str| {
            mounts
                .iter()
                .find(|m| want(m))
                .map(|m| m.path.clone())
                .ok_or_else(|| {
                    format!(
                        "the engine uses cgroup v{version} but no {what} hierarchy is mounted \
                         here: the executor does not run on the engine's host"
                    )
                })
        };
        let found = if version == "2" {
            find(&|m: &CgroupMount| m.v2, "cgroup v2").map(|p| (p.clone(), p))
        } else {
            find(&|m: &CgroupMount| m.carries("memory"), "memory").and_then(|memory| {
                find(&|m: &CgroupMount| m.carries("cpuacct"), "cpuacct").map(|cpu| (memory, cpu))
            })
        };
        match found {
            Ok((memory, cpu)) => Measuring::Cgroups(Arc::new(Hierarchies {
                v2: version == "2",
                memory,
                cpu,
                all,
            })),
            Err(why) => Measuring::Cannot(why),
        }
    }
}

/// One job's parent cgroup.
#[derive(Debug)]
pub(crate) struct JobParent {
    /// Its path in every hierarchy (absolute, as the engine takes it).
    path: String,
    hierarchies: Arc<Hierarchies>,
}

impl JobParent {
    /// Makes the parent cgroup of container `name`; `Err` says why it cannot.
    pub(crate) fn create(hierarchies: &Arc<Hierarchies>, name: &str) -> Result<JobParent, String> {
        let path = format!(
            "{ROOT}/{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let parent = JobParent {
            path,
            hierarchies: hierarchies.clone(),
        };
        for base in [&hierarchies.memory, &hierarchies.cpu] {
            let dir = parent.dir(base);
            if let Err(e) = fs::create_dir_all(&dir) {
                parent.remove();
                return Err(format!(
                    "the executor cannot make the job's cgroup {}: {e} (it must run on the \
                     engine's host, with write access to its cgroup file system)",
                    dir.display()
                ));
            }
        }
        Ok(parent)
    }

    /// The parent cgroup `path` of a container this executor made (what a leftover's
    /// `CgroupParent` names), for removal; `None` when it is not one of the executor's.
    pub(crate) fn existing(hierarchies: &Arc<Hierarchies>, path: &str) -> Option<JobParent> {
        let name = path.strip_prefix(ROOT)?.strip_prefix('/')?;
        (!name.is_empty() && !name.contains('/') && name != "." && name != "..").then(|| {
            JobParent {
                path: path.to_owned(),
                hierarchies: hierarchies.clone(),
            }
        })
    }

    /// The path to give the engine as the container's `CgroupParent`.
    pub(crate) fn cgroup_parent(&self) -> &str {
        &self.path
    }

    fn dir(&self, base: &Path) -> PathBuf {
        base.join(self.path.trim_start_matches('/'))
    }

    /// The job's peak memory (bytes) and CPU time, once its container is gone; `Err` says why
    /// they cannot be told.
    pub(crate) fn usage(&self) -> Result<(u64, Duration), String> {
        let h = &self.hierarchies;
        let memory = self.dir(&h.memory);
        if memory.join(CONMON).is_dir() {
            return Err(
                "Podman put its conmon process in the job's cgroup, so conmon's memory and CPU \
                 would count as the job's: set `cgroups = \"no-conmon\"` under [containers] in \
                 the engine's containers.conf"
                    .into(),
            );
        }
        let read = |path: PathBuf| {
            fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))
        };
        let number = |text: String, path: &str| {
            text.trim()
                .parse::<u64>()
                .map_err(|e| format!("reading {path}: {e}"))
        };
        let cpu_dir = self.dir(&h.cpu);
        let (peak, cpu) = if h.v2 {
            let peak = number(read(memory.join("memory.peak"))?, "memory.peak")?;
            let stat = read(cpu_dir.join("cpu.stat"))?;
            let usec = stat
                .lines()
                .find_map(|l| l.strip_prefix("usage_usec ")?.trim().parse().ok())
                .ok_or("cpu.stat has no usage_usec")?;
            (peak, Duration::from_micros(usec))
        } else {
            let peak = number(
                read(memory.join("memory.max_usage_in_bytes"))?,
                "memory.max_usage_in_bytes",
            )?;
            let nanos = number(read(cpu_dir.join("cpuacct.usage"))?, "cpuacct.usage")?;
            (peak, Duration::from_nanos(nanos))
        };
        if peak == 0 {
            return Err(format!(
                "the engine did not put the container in the cgroup the executor made ({}): \
                 the engine runs on another host or in another cgroup namespace",
                self.path
            ));
        }
        Ok((peak, cpu))
    }

    /// Removes the parent cgroup (and what the engine left inside it) from every hierarchy.
    pub(crate) fn remove(&self) {
        for base in &self.hierarchies.all {
            let dir = self.dir(base);
            if dir.is_dir()
                && let Err(e) = remove_cgroup(&dir)
            {
                tracing::warn!(cgroup = %dir.display(), error = %e, "could not remove a container job's parent cgroup");
            }
        }
    }
}

/// Removes an empty cgroup and its empty children, deepest first (a cgroup directory is removed
/// with `rmdir`, its control files and all).
fn remove_cgroup(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)?.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_cgroup(&entry.path())?;
        }
    }
    fs::remove_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1_mounts() -> Vec<CgroupMount> {
        crate::cgroup_mounts::parse(
            "35 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
             37 30 0:33 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct\n",
        )
    }

    #[test]
    fn measures_only_a_local_cgroupfs_engine_whose_hierarchies_are_here() {
        let local = "unix:///var/run/docker.sock";
        match Measuring::decide(local, "cgroupfs", "1", &v1_mounts()) {
            Measuring::Cgroups(h) => {
                assert!(!h.v2);
                assert_eq!(h.memory, PathBuf::from("/sys/fs/cgroup/memory"));
                assert_eq!(h.cpu, PathBuf::from("/sys/fs/cgroup/cpuacct"));
                assert_eq!(h.all.len(), 2);
            }
            Measuring::Cannot(why) => panic!("{why}"),
        }
        let cannot = |m: Measuring| match m {
            Measuring::Cannot(why) => why,
            Measuring::Cgroups(h) => panic!("measures with {h:?}"),
        };
        assert!(
            cannot(Measuring::decide(
                "tcp://10.0.0.1:2375",
                "cgroupfs",
                "1",
                &v1_mounts()
            ))
            .contains("over the network")
        );
        assert!(
            cannot(Measuring::decide(local, "systemd", "2", &v1_mounts()))
                .contains("\"systemd\" cgroup driver")
        );
        assert!(
            cannot(Measuring::decide(local, "cgroupfs", "2", &v1_mounts()))
                .contains("no cgroup v2 hierarchy")
        );
    }
}
