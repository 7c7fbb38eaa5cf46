//! Records of running native jobs, so that `reap` can kill what a dead executor left behind.
//!
//! Each running job has a file `<state dir>/<executor id>/job-<job id>-<pid>` holding its process
//! group id and the leader's start time (field 22 of `/proc/<pid>/stat`), written when the job
//! starts and removed when it ends. A record survives only when its executor died; `reap` then
//! kills the group if its leader is still the same process (the start time guards against pid
//! reuse) and removes the record.

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The directory of `executor_id`'s records under `state_dir`.
pub(crate) fn dir(state_dir: &Path, executor_id: &str) -> PathBuf {
    let safe: String = executor_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = if safe.is_empty() || safe.starts_with('.') {
        format!("_{safe}")
    } else {
        safe
    };
    state_dir.join(safe)
}

/// The start time of process `pid` in clock ticks since boot, if it exists.
fn start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(") ")?;
    // `rest` starts at field 3 (state); the start time is field 22.
    rest.split(' ').nth(19)?.parse().ok()
}

/// A running job's record; removed on drop.
#[derive(Debug)]
pub(crate) struct Record {
    path: PathBuf,
}

impl Record {
    /// Records job `job_id` whose process group is led by `pid`.
    pub(crate) fn write(
        state_dir: &Path,
        executor_id: &str,
        job_id: i64,
        pid: i32,
    ) -> io::Result<Self> {
        let dir = dir(state_dir, executor_id);
        fs::create_dir_all(&dir)?;
        let start = start_time(pid).unwrap_or(0);
        let path = dir.join(format!("job-{job_id}-{pid}"));
        fs::write(&path, format!("{pid} {start}\n"))?;
        Ok(Self { path })
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Kills the process groups recorded for `executor_id` whose leaders still run, removes the
/// records, and returns how many groups were killed.
pub(crate) fn reap(state_dir: &Path, executor_id: &str) -> io::Result<u64> {
    let dir = dir(state_dir, executor_id);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut killed = 0;
    for entry in entries {
        let path = entry?.path();
        let Ok(content) = fs::read_to_string(&path) else {
            continue;
        };
        let mut fields = content.split_whitespace();
        let pid: Option<i32> = fields.next().and_then(|f| f.parse().ok());
        let start: Option<u64> = fields.next().and_then(|f| f.parse().ok());
        if let (Some(pid), Some(start)) = (pid, start) {
            if pid > 1 && start_time(pid) == Some(start) {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
                killed += 1;
            }
        }
        let _ = fs::remove_file(&path);
    }
    Ok(killed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executor_ids_become_safe_directory_names() {
        let root = Path::new("/s");
        assert_eq!(dir(root, "host-1.example"), Path::new("/s/host-1.example"));
        assert_eq!(dir(root, "../etc"), Path::new("/s/_.._etc"));
        assert_eq!(dir(root, ""), Path::new("/s/_"));
        assert_eq!(dir(root, "a/b c"), Path::new("/s/a_b_c"));
    }

    #[test]
    fn own_start_time_is_readable() {
        assert!(start_time(std::process::id() as i32).is_some());
        let state = tempfile::tempdir().unwrap();
        // A record of a process that is gone is removed without killing anything.
        let rec = Record::write(state.path(), "x", 1, std::process::id() as i32).unwrap();
        std::mem::forget(rec);
        let path = dir(state.path(), "x");
        let file = fs::read_dir(&path).unwrap().next().unwrap().unwrap().path();
        fs::write(&file, "999999999 1\n").unwrap();
        assert_eq!(reap(state.path(), "x").unwrap(), 0);
        assert!(fs::read_dir(&path).unwrap().next().is_none());
        assert_eq!(reap(state.path(), "nobody").unwrap(), 0);
    }
}
