//! One user per running native job: two companies' jobs never share a uid, so neither can read
//! the other's files or `/proc`, nor signal the other's processes.
//!
//! Each running job gets a uid (and the gid of the same number) from a range
//! ([`JobUsers::Range`], `MULTIFLEXI_JOB_UIDS`, default 61000–61999), released when the job
//! ends. A uid is taken with an exclusive `flock` on `<lock dir>/<uid>` (default
//! `/run/multiflexi/job-uids`), so executor processes on one host never hand out the same uid
//! twice, and a uid that still owns a process (a leftover) is skipped. When a job ends, every
//! process still running as its uid is killed before the uid is released.
//!
//! Switching users needs root or the four capabilities `CAP_SETUID`, `CAP_SETGID`, `CAP_KILL`,
//! `CAP_CHOWN` (the systemd unit's `AmbientCapabilities=`); the job keeps none of them
//! (`super::privileges`), and the daemon takes the job's work directory back when it ends
//! (`super::reclaim`). Without them [`JobUsers::detect`] answers [`JobUsers::Daemon`]: jobs run
//! as the daemon's own user, and the daemon says so at start.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::ops::RangeInclusive;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// The default range of job uids.
pub const DEFAULT_JOB_UIDS: RangeInclusive<u32> = 61000..=61999;
/// The default directory of the uid locks (a tmpfs: cleared at boot, like the processes).
pub const DEFAULT_LOCK_DIR: &str = "/run/multiflexi/job-uids";

/// The capabilities switching users needs (bit numbers of `linux/capability.h`).
const NEEDED: [(u32, &str); 4] = [
    (0, "CAP_CHOWN"),
    (5, "CAP_KILL"),
    (6, "CAP_SETGID"),
    (7, "CAP_SETUID"),
];

/// Which user native jobs run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobUsers {
    /// Each job as its own uid from this range; locks in `lock_dir`.
    Range {
        /// The uids (and gids of the same number) handed out.
        uids: RangeInclusive<u32>,
        /// Where the per-uid locks live.
        lock_dir: PathBuf,
    },
    /// Every job as the daemon's own user (no privilege to switch, or isolation turned off);
    /// `why` says which.
    Daemon {
        /// Why jobs are not separated.
        why: String,
    },
}

impl JobUsers {
    /// One uid per job from `uids` when this process may switch users, else
    /// [`JobUsers::Daemon`] with the missing capabilities named. Root (uid 0) is never in the
    /// range: it is refused here, so a job never runs as root through it.
    pub fn detect(uids: RangeInclusive<u32>) -> JobUsers {
        if uids.contains(&0) || uids.is_empty() {
            return JobUsers::Daemon {
                why: format!(
                    "the job uid range {}-{} is empty or contains root",
                    uids.start(),
                    uids.end()
                ),
            };
        }
        let missing = missing_capabilities();
        if !missing.is_empty() {
            return JobUsers::Daemon {
                why: format!(
                    "this process lacks {} (run it as root or give the systemd unit \
                     AmbientCapabilities=CAP_SETUID CAP_SETGID CAP_KILL CAP_CHOWN)",
                    missing.join(", ")
                ),
            };
        }
        JobUsers::Range {
            uids,
            lock_dir: PathBuf::from(DEFAULT_LOCK_DIR),
        }
    }

    /// The setting `MULTIFLEXI_JOB_UIDS` names: `off` (jobs as the daemon's user), else a
    /// range for [`JobUsers::detect`].
    pub fn from_setting(text: &str) -> Result<JobUsers, String> {
        if text.trim().eq_ignore_ascii_case("off") {
            return Ok(JobUsers::Daemon {
                why: "MULTIFLEXI_JOB_UIDS=off".into(),
            });
        }
        parse_uid_range(text).map(JobUsers::detect)
    }

    /// Builder: the lock directory (tests; several hosts' worth of executors on one machine).
    pub fn with_lock_dir(self, dir: impl Into<PathBuf>) -> JobUsers {
        match self {
            JobUsers::Range { uids, .. } => JobUsers::Range {
                uids,
                lock_dir: dir.into(),
            },
            other => other,
        }
    }

    /// Whether each job runs as its own user.
    pub fn separates(&self) -> bool {
        matches!(self, JobUsers::Range { .. })
    }

    /// One line for the daemon's start-up log and `doctor`.
    pub fn describe(&self) -> String {
        match self {
            JobUsers::Range { uids, .. } => format!(
                "each native job runs as its own user (uids {}-{}; {})",
                uids.start(),
                uids.end(),
                if super::privileges::effective_root() {
                    "the daemon is root"
                } else {
                    "the daemon holds CAP_SETUID, CAP_SETGID, CAP_KILL and CAP_CHOWN; jobs keep none"
                }
            ),
            JobUsers::Daemon { why } => {
                format!("native jobs run as the daemon's own user: {why}")
            }
        }
    }

    /// Makes `root` (where job work directories go) usable by the job users: created, mode
    /// 0711 (enter, not list), and every directory above it enterable by others. Refuses with
    /// the directory to fix when one above is not (jobs could not reach their work directory),
    /// and when the uid lock directory cannot be made.
    pub fn prepare_work_root(&self, root: &Path) -> Result<(), String> {
        use std::os::unix::fs::PermissionsExt;
        let JobUsers::Range { lock_dir, .. } = self else {
            return Ok(());
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(lock_dir)
            .map_err(|e| {
                format!(
                    "cannot make the job uid lock directory {}: {e} (give the daemon a writable \
                     /run/multiflexi, e.g. the systemd unit's RuntimeDirectory=multiflexi, or set \
                     MULTIFLEXI_JOB_UID_LOCKS)",
                    lock_dir.display()
                )
            })?;
        let fail = |what: &str, e: io::Error| format!("{what} {}: {e}", root.display());
        fs::create_dir_all(root).map_err(|e| fail("creating", e))?;
        fs::set_permissions(root, fs::Permissions::from_mode(0o711))
            .map_err(|e| fail("setting mode 0711 on", e))?;
        let root = fs::canonicalize(root).map_err(|e| fail("resolving", e))?;
        for dir in root.ancestors().skip(1) {
            let mode = fs::metadata(dir)
                .map_err(|e| fail("reading", e))?
                .permissions()
                .mode();
            if mode & 0o001 == 0 {
                return Err(format!(
                    "the job users cannot reach the work directory {}: {} is mode {:o}, without                      o+x; give it o+x (chmod o+x {}), choose another MULTIFLEXI_WORK_DIR, or set                      MULTIFLEXI_JOB_UIDS=off to run jobs as this daemon's user",
                    root.display(),
                    dir.display(),
                    mode & 0o7777,
                    dir.display()
                ));
            }
        }
        Ok(())
    }

    /// Takes a free uid for one job (`None` when jobs run as the daemon's user).
    pub(crate) fn acquire(&self) -> io::Result<Option<JobUser>> {
        let JobUsers::Range { uids, lock_dir } = self else {
            return Ok(None);
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(lock_dir)?;
        let (first, last) = (*uids.start(), *uids.end());
        let span = last - first + 1;
        // Start after the last uid handed out, so a released uid rests before its reuse.
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let start = NEXT.fetch_add(1, Ordering::Relaxed) % span;
        let busy = uids_with_processes();
        for i in 0..span {
            let uid = first + (start + i) % span;
            if busy.contains(&uid) {
                continue;
            }
            let lock = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o600)
                .open(lock_dir.join(uid.to_string()))?;
            // SAFETY: flock on a descriptor we own.
            #[allow(unsafe_code)]
            let taken =
                unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
            if taken {
                NEXT.store(start + i + 1, Ordering::Relaxed);
                return Ok(Some(JobUser { uid, _lock: lock }));
            }
        }
        Err(io::Error::other(format!(
            "every job uid of {first}-{last} is in use; widen MULTIFLEXI_JOB_UIDS or run fewer \
             jobs at once"
        )))
    }
}

/// A uid held by one running job (released on drop, after [`JobUser::kill_all`]).
#[derive(Debug)]
pub(crate) struct JobUser {
    pub(crate) uid: u32,
    _lock: File,
}

impl JobUser {
    /// Hands `work_dir` (the job's fresh work directory) to the job's user, mode 0700, with a
    /// private temporary directory inside (returned, for `TMPDIR`); makes the work root above
    /// it enterable (not listable) by others when it is not yet.
    pub(crate) fn take_work_dir(&self, work_dir: &Path) -> io::Result<PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        let tmp = work_dir.join(".tmp");
        fs::create_dir_all(&tmp)?;
        for dir in [&tmp, work_dir] {
            // Mode first: once the job's user owns it, only root could change it.
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
            std::os::unix::fs::chown(dir, Some(self.uid), Some(self.uid))?;
        }
        if let Some(root) = work_dir.parent() {
            let mode = fs::metadata(root)?.permissions().mode();
            if mode & 0o001 == 0 {
                fs::set_permissions(root, fs::Permissions::from_mode((mode & 0o7777) | 0o001))?;
            }
        }
        Ok(tmp)
    }

    /// Takes the job's work directory back for the daemon (after [`JobUser::kill_all`]): see
    /// `super::reclaim`.
    pub(crate) async fn reclaim(&self, work_dir: &Path) -> super::reclaim::Reclaimed {
        let (dir, uid) = (work_dir.to_path_buf(), self.uid);
        tokio::task::spawn_blocking(move || super::reclaim::reclaim(&dir, uid))
            .await
            .unwrap_or_default()
    }

    /// Kills every process still running as this job's uid (whatever escaped its process
    /// group and cgroup): nothing of a job outlives it, and the next job of this uid finds
    /// none of it.
    pub(crate) async fn kill_all(&self) {
        for _ in 0..20 {
            let pids = processes_of(self.uid);
            if pids.is_empty() {
                return;
            }
            for pid in pids {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

/// The real uid of every process, from `/proc/<pid>/status`.
fn all_processes() -> Vec<(i32, u32)> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let pid: i32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let uid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()?;
        Some((pid, uid))
    })
    .collect()
}

fn uids_with_processes() -> std::collections::HashSet<u32> {
    all_processes().into_iter().map(|(_, uid)| uid).collect()
}

fn processes_of(uid: u32) -> Vec<i32> {
    all_processes()
        .into_iter()
        .filter(|(_, u)| *u == uid)
        .map(|(pid, _)| pid)
        .collect()
}

/// The needed capabilities this process lacks in its effective set.
fn missing_capabilities() -> Vec<&'static str> {
    let effective = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(0);
    NEEDED
        .iter()
        .filter(|(bit, _)| effective & (1u64 << bit) == 0)
        .map(|(_, name)| *name)
        .collect()
}

/// Parses `MULTIFLEXI_JOB_UIDS` (`61000-61999`).
pub fn parse_uid_range(text: &str) -> Result<RangeInclusive<u32>, String> {
    let bad = || {
        format!(
            "invalid job uid range {text:?}: give FIRST-LAST, e.g. 61000-61999 (not containing \
             0, FIRST <= LAST)"
        )
    };
    let (a, b) = text.trim().split_once('-').ok_or_else(bad)?;
    let (a, b): (u32, u32) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if a == 0 || a > b {
        return Err(bad());
    }
    Ok(a..=b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_refuse_root() {
        assert_eq!(parse_uid_range("61000-61999").unwrap(), 61000..=61999);
        assert_eq!(parse_uid_range(" 5 - 5 ").unwrap(), 5..=5);
        for bad in ["", "61000", "0-10", "10-5", "a-b", "-1-5"] {
            assert!(parse_uid_range(bad).is_err(), "{bad}");
        }
        assert!(!JobUsers::detect(0..=10).separates());
    }

    #[test]
    fn uids_are_exclusive_while_held() {
        if !missing_capabilities().is_empty() {
            assert!(
                std::env::var_os("MULTIFLEXI_REQUIRE_INTEGRATION").is_none(),
                "switching users needs root (or CAP_SETUID, CAP_SETGID, CAP_KILL, CAP_CHOWN)"
            );
            eprintln!("skipped: not privileged");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let users = JobUsers::detect(62990..=62991).with_lock_dir(dir.path());
        let a = users.acquire().unwrap().unwrap();
        let b = users.acquire().unwrap().unwrap();
        assert_ne!(a.uid, b.uid);
        assert!(
            users.acquire().is_err(),
            "a two-uid range is full with two jobs"
        );
        let held = a.uid;
        drop(a);
        // Another test's fork (before its exec) may still share the lock for a moment.
        let mut again = users.acquire();
        for _ in 0..100 {
            if again.is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            again = users.acquire();
        }
        assert_eq!(again.unwrap().unwrap().uid, held);
    }
}
