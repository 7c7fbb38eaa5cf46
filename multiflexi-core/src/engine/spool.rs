//! The engine's spool: a job's end waits here, on the daemon's own disk, while the store cannot
//! take it, so that a finished job's output survives a lost connection and a restart of the
//! executor daemon.
//!
//! One file per job, `<spool dir>/job-<id>-<token>.finish`: a magic line, one JSON line (the
//! lease, outcome, exit code, text copies and the two output lengths), then the raw stdout and
//! stderr bytes. Written to a temporary name, synced, then renamed, so a file that is there is
//! whole. The dispatcher replays what it finds at start-up (fenced like any finish: a job
//! another executor recovered meanwhile refuses it, and the file goes).
//!
//! The spool is bounded (`max_bytes`): a finish that does not fit is spooled with its output
//! cut to what fits and a marker saying so — never a job failure.

use crate::ids::JobId;
use crate::lifecycle::Outcome;
use crate::model::ResourceUsage;
use crate::store::{Completion, Finish, LeaseRef};
use serde::{Deserialize, Serialize};
use std::io::Write as _;
use std::path::{Path, PathBuf};

const MAGIC: &str = "multiflexi-spool 1";

/// The header line of a spooled finish.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    job_id: i64,
    lease_token: i64,
    outcome: String,
    exitcode: i32,
    stdout_copy: String,
    stderr_copy: String,
    /// Absent in files spooled before resource usage was recorded.
    #[serde(default)]
    usage: ResourceUsage,
    stdout_len: usize,
    stderr_len: usize,
}

/// Where a dispatcher spools job ends.
#[derive(Debug, Clone)]
pub(crate) struct Spool {
    dir: Option<PathBuf>,
    max_bytes: u64,
}

/// A spooled finish on disk.
#[derive(Debug)]
pub(crate) struct Spooled {
    path: PathBuf,
}

impl Spooled {
    /// Removes the file (the finish landed, or its lease is gone).
    pub(crate) fn remove(self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(file = %self.path.display(), "could not remove a spooled finish: {e}");
        }
    }
}

impl Spool {
    /// A spool in `dir` (created when first needed) holding at most `max_bytes`; `None`:
    /// ends wait in memory only.
    pub(crate) fn new(dir: Option<PathBuf>, max_bytes: u64) -> Self {
        Self { dir, max_bytes }
    }

    fn path(dir: &Path, lease: LeaseRef) -> PathBuf {
        dir.join(format!("job-{}-{}.finish", lease.job_id, lease.lease_token))
    }

    /// Bytes the spool holds now.
    fn used(dir: &Path) -> u64 {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum()
    }

    /// Writes `finish` to the spool; `None` when there is no spool or it cannot be written
    /// (the finish then waits in memory only).
    pub(crate) fn put(&self, finish: &Finish) -> Option<Spooled> {
        let dir = self.dir.as_ref()?;
        if let Err(e) = std::fs::create_dir_all(dir) {
            tracing::warn!(dir = %dir.display(), "cannot create the spool: {e}");
            return None;
        }
        let room = self.max_bytes.saturating_sub(Self::used(dir));
        let path = Self::path(dir, finish.completion.lease);
        let tmp = path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(&encode(finish, room))?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        match write() {
            Ok(()) => Some(Spooled { path }),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                tracing::warn!(file = %path.display(), "cannot spool a job's end (it waits in memory): {e}");
                None
            }
        }
    }

    /// Every finish waiting in the spool, with its file. Unreadable files are logged and
    /// left for the operator.
    pub(crate) fn pending(&self) -> Vec<(Finish, Spooled)> {
        let Some(dir) = &self.dir else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            match path.extension().and_then(|e| e.to_str()) {
                Some("finish") => {}
                Some("tmp") => {
                    // Never renamed: the write did not complete (its job was not acknowledged).
                    let _ = std::fs::remove_file(&path);
                    continue;
                }
                _ => continue,
            }
            match std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| decode(&b))
            {
                Ok(finish) => out.push((finish, Spooled { path })),
                Err(e) => {
                    tracing::warn!(file = %path.display(), "cannot read a spooled finish: {e}")
                }
            }
        }
        out
    }
}

/// The marker that ends output the spool had no room for.
fn truncated_marker(omitted: usize) -> Vec<u8> {
    format!("\n[multiflexi: {omitted} bytes not kept: the executor's spool was full]\n")
        .into_bytes()
}

/// Keeps what fits of `bytes` in `room` (marker included).
fn fit(bytes: &[u8], room: usize) -> Vec<u8> {
    if bytes.len() <= room {
        return bytes.to_vec();
    }
    let marker = truncated_marker(bytes.len());
    let keep = room.saturating_sub(marker.len() + 20);
    let mut out = bytes[..keep].to_vec();
    out.extend_from_slice(&truncated_marker(bytes.len() - keep));
    out
}

fn encode(finish: &Finish, room: u64) -> Vec<u8> {
    let c = &finish.completion;
    let fixed = 4096 + c.stdout.len() + c.stderr.len();
    let room = usize::try_from(room)
        .unwrap_or(usize::MAX)
        .saturating_sub(fixed);
    let (stdout, stderr) = if finish.stdout.len() + finish.stderr.len() <= room {
        (finish.stdout.clone(), finish.stderr.clone())
    } else {
        (fit(&finish.stdout, room / 2), fit(&finish.stderr, room / 2))
    };
    let header = Header {
        job_id: c.lease.job_id.get(),
        lease_token: c.lease.lease_token,
        outcome: c.outcome.as_str().to_string(),
        exitcode: c.exitcode,
        stdout_copy: c.stdout.clone(),
        stderr_copy: c.stderr.clone(),
        usage: c.usage.clone(),
        stdout_len: stdout.len(),
        stderr_len: stderr.len(),
    };
    let mut out = format!("{MAGIC}\n").into_bytes();
    out.extend_from_slice(&serde_json::to_vec(&header).unwrap_or_default());
    out.push(b'\n');
    out.extend_from_slice(&stdout);
    out.extend_from_slice(&stderr);
    out
}

fn decode(bytes: &[u8]) -> Result<Finish, String> {
    let rest = bytes
        .strip_prefix(format!("{MAGIC}\n").as_bytes())
        .ok_or("not a spool file")?;
    let end = rest.iter().position(|&b| b == b'\n').ok_or("no header")?;
    let header: Header = serde_json::from_slice(&rest[..end]).map_err(|e| e.to_string())?;
    let body = &rest[end + 1..];
    if body.len() != header.stdout_len + header.stderr_len {
        return Err(format!(
            "{} output bytes, the header says {}",
            body.len(),
            header.stdout_len + header.stderr_len
        ));
    }
    let outcome: Outcome = header.outcome.parse().map_err(|e| format!("{e}"))?;
    let lease = LeaseRef {
        job_id: JobId(header.job_id),
        lease_token: header.lease_token,
    };
    let mut completion = Completion::new(lease, outcome, header.exitcode);
    completion.stdout = header.stdout_copy;
    completion.stderr = header.stderr_copy;
    completion.usage = header.usage;
    let (stdout, stderr) = body.split_at(header.stdout_len);
    Ok(Finish::new(completion, stdout.to_vec(), stderr.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finish(stdout: &[u8]) -> Finish {
        let lease = LeaseRef {
            job_id: JobId(7),
            lease_token: 3,
        };
        let mut c = Completion::new(lease, Outcome::Success, 0);
        c.stdout = "copy".into();
        Finish::new(c, stdout.to_vec(), b"err\0\xff".to_vec())
    }

    #[test]
    fn a_spooled_finish_reads_back_byte_exact_and_goes_when_removed() {
        let dir = tempfile_dir();
        let spool = Spool::new(Some(dir.clone()), 1 << 20);
        let f = finish(b"out\n\0bytes");
        let spooled = spool.put(&f).expect("spooled");
        let pending = spool.pending();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].0, f);
        spooled.remove();
        drop(pending);
        assert!(spool.pending().is_empty());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_full_spool_keeps_what_fits_with_a_marker() {
        let dir = tempfile_dir();
        let spool = Spool::new(Some(dir.clone()), 4096 + 1000);
        let big = vec![b'x'; 100_000];
        spool.put(&finish(&big)).expect("spooled");
        let (back, _) = spool.pending().pop().unwrap();
        assert!(back.stdout.len() < 1000, "{}", back.stdout.len());
        let text = String::from_utf8_lossy(&back.stdout);
        assert!(text.contains("the executor's spool was full"), "{text}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn no_spool_dir_means_memory_only() {
        let spool = Spool::new(None, 1 << 20);
        assert!(spool.put(&finish(b"x")).is_none());
        assert!(spool.pending().is_empty());
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "multiflexi-spool-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
