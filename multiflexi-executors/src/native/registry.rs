//! Records of running native jobs, so that `reap` can kill what a dead executor left behind.
//!
//! Each running job has a file `<state dir>/<executor id>/job-<job id>-<pid>` holding its process
//! group id and the leader's start time (field 22 of `/proc/<pid>/stat`), then the pid and start
//! time of the executor process that owns it; written when the job starts and removed when it
//! ends. A record survives only when its executor died; `reap` then kills the group if its leader
//! is still the same process (the start time guards against pid reuse) and removes the record.
//! A record whose owner is another process that is still alive is left alone: two live
//! processes that were given the same executor id and state directory never kill each other's
//! jobs. (Within one process the caller decides: the dispatcher reaps only at start-up.)

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
    /// Records job `job_id` (leased under `lease_token`) whose process group is led by `pid`.
    pub(crate) fn write(
        state_dir: &Path,
        executor_id: &str,
        job_id: i64,
        lease_token: i64,
        pid: i32,
    ) -> io::Result<Self> {
        let dir = dir(state_dir, executor_id);
        fs::create_dir_all(&dir)?;
        let start = start_time(pid).unwrap_or(0);
        let owner = std::process::id() as i32;
        let owner_start = start_time(owner).unwrap_or(0);
        let path = dir.join(format!("job-{job_id}-{pid}"));
        fs::write(
            &path,
            format!("{pid} {start} {owner} {owner_start} {lease_token}\n"),
        )?;
        Ok(Self { path })
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Whether the process `pid` that started at `start` still runs.
fn alive(pid: i32, start: u64) -> bool {
    pid > 0 && start_time(pid) == Some(start)
}

/// One record whose owner (the executor process that ran the job) is gone, or is this process
/// (the dispatcher skips the jobs it holds: the record carries the lease token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Orphan {
    /// The record's file.
    pub path: PathBuf,
    /// The executor id (the record's directory name).
    pub executor_id: String,
    /// The job.
    pub job_id: i64,
    /// The job's lease token when it started (-1 in records of older versions).
    pub lease_token: i64,
}

/// Records, of every executor id under `state_dir`, whose owner process is gone or is this
/// process.
pub(crate) fn orphans(state_dir: &Path) -> io::Result<Vec<Orphan>> {
    let executors = match fs::read_dir(state_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for executor in executors.flatten() {
        let executor_id = executor.file_name().to_string_lossy().into_owned();
        let Ok(records) = fs::read_dir(executor.path()) else {
            continue;
        };
        for record in records.flatten() {
            let path = record.path();
            let name = record.file_name().to_string_lossy().into_owned();
            let Some(job_id) = name
                .strip_prefix("job-")
                .and_then(|r| r.split('-').next())
                .and_then(|j| j.parse().ok())
            else {
                continue;
            };
            let Ok(content) = fs::read_to_string(&path) else {
                continue;
            };
            let fields: Vec<&str> = content.split_whitespace().collect();
            let owner: Option<i32> = fields.get(2).and_then(|f| f.parse().ok());
            let owner_start: Option<u64> = fields.get(3).and_then(|f| f.parse().ok());
            if let (Some(owner), Some(owner_start)) = (owner, owner_start)
                && owner != std::process::id() as i32
                && alive(owner, owner_start)
            {
                continue;
            }
            let lease_token = fields.get(4).and_then(|f| f.parse().ok()).unwrap_or(-1);
            out.push(Orphan {
                path,
                executor_id: executor_id.clone(),
                job_id,
                lease_token,
            });
        }
    }
    Ok(out)
}

/// Kills the process group a record names (if its leader is still the same process) and
/// removes the record; whether a group was killed.
pub(crate) fn kill_recorded(path: &Path) -> io::Result<bool> {
    let content = match fs::read_to_string(path) {
        Ok(c) => c,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let mut fields = content.split_whitespace();
    let pid: Option<i32> = fields.next().and_then(|f| f.parse().ok());
    let start: Option<u64> = fields.next().and_then(|f| f.parse().ok());
    let mut killed = false;
    if let (Some(pid), Some(start)) = (pid, start)
        && pid > 1
        && alive(pid, start)
    {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        killed = true;
    }
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(killed),
    }
}

/// Kills the process groups recorded for `executor_id` by processes that are gone, whose leaders
/// still run; removes those records and returns how many groups were killed.
#[cfg(test)]
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
        let owner: Option<i32> = fields.next().and_then(|f| f.parse().ok());
        let owner_start: Option<u64> = fields.next().and_then(|f| f.parse().ok());
        if let (Some(owner), Some(owner_start)) = (owner, owner_start)
            && owner != std::process::id() as i32
            && alive(owner, owner_start)
        {
            // Its executor still runs (another process with the same id): not ours to reap.
            continue;
        }
        if let (Some(pid), Some(start)) = (pid, start)
            && pid > 1
            && alive(pid, start)
        {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            killed += 1;
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
        let rec = Record::write(state.path(), "x", 1, 1, std::process::id() as i32).unwrap();
        std::mem::forget(rec);
        let path = dir(state.path(), "x");
        let file = fs::read_dir(&path).unwrap().next().unwrap().unwrap().path();
        fs::write(&file, "999999999 1\n").unwrap();
        assert_eq!(reap(state.path(), "x").unwrap(), 0);
        assert!(fs::read_dir(&path).unwrap().next().is_none());
        assert_eq!(reap(state.path(), "nobody").unwrap(), 0);
    }

    #[test]
    fn jobs_of_another_live_owner_are_left_alone_and_of_a_dead_one_killed() {
        use std::os::unix::process::CommandExt;
        let state = tempfile::tempdir().unwrap();
        let sleep = || {
            std::process::Command::new("sleep")
                .arg("60")
                .process_group(0)
                .spawn()
                .unwrap()
        };
        let mut job = sleep();
        let mut owner = sleep();
        let pid = job.id() as i32;
        let rec = Record::write(state.path(), "shared-id", 7, 1, pid).unwrap();
        std::mem::forget(rec);
        let path = dir(state.path(), "shared-id").join(format!("job-7-{pid}"));
        let content = fs::read_to_string(&path).unwrap();
        let fields: Vec<&str> = content.split_whitespace().collect();
        assert_eq!(fields.len(), 5, "{content}");
        assert_eq!(fields[2], std::process::id().to_string());
        // Owned by another process that is alive: reap leaves job and record alone.
        let other = owner.id() as i32;
        let other_start = start_time(other).unwrap();
        fs::write(
            &path,
            format!("{} {} {other} {other_start}\n", fields[0], fields[1]),
        )
        .unwrap();
        assert_eq!(reap(state.path(), "shared-id").unwrap(), 0);
        assert!(job.try_wait().unwrap().is_none(), "the job must still run");
        assert!(path.exists());
        // That owner is gone: the group is killed and the record removed.
        owner.kill().unwrap();
        owner.wait().unwrap();
        assert_eq!(reap(state.path(), "shared-id").unwrap(), 1);
        let status = job.wait().unwrap();
        assert!(!status.success(), "killed: {status:?}");
        assert!(!path.exists());
    }
}
