//! Taking a job's work directory back once every process of the job's user is gone.
//!
//! A job with its own uid owns its work directory (0700). The daemon reads its result files and
//! removes the directory afterwards; as root it could do so through any mode, but a daemon with
//! only `CAP_CHOWN` (of the four capabilities switching users needs) can neither enter the
//! job's directories nor read its files. So the daemon takes back what the job owned: each
//! directory and file owned by the job's uid becomes the daemon's (`lchown`, links never
//! followed), directories mode 0700, files 0600; a directory is taken before it is listed, so
//! nothing the job left running could swap an entry afterwards.
//!
//! What the job left there that it did not own (a hard link to someone else's file, such as the
//! key file) is not taken: [`Reclaimed::owned`] answers only for the files that were the job's,
//! and only those are read as result files. Root and capability-only daemons take the same path.

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// The files a reclaimed work directory held that were the job's own.
#[derive(Debug, Default)]
pub(crate) struct Reclaimed {
    files: HashSet<(u64, u64)>,
}

impl Reclaimed {
    /// Whether the file with this metadata was the job's own when its directory was taken back.
    pub(crate) fn owned(&self, meta: &fs::Metadata) -> bool {
        self.files.contains(&(meta.dev(), meta.ino()))
    }
}

/// Takes `work_dir` back from `job_uid` for this process's effective user (see the module
/// docs). Errors are logged and leave the entry as it was (its result files unread, the
/// directory perhaps not removable); they do not fail the job.
pub(crate) fn reclaim(work_dir: &Path, job_uid: u32) -> Reclaimed {
    let me = (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    );
    let mut out = Reclaimed::default();
    take_dir(work_dir, job_uid, me, &mut out, 0);
    out
}

fn take_dir(dir: &Path, job_uid: u32, me: (u32, u32), out: &mut Reclaimed, depth: usize) {
    if depth > 64 {
        tracing::warn!(dir = %dir.display(), "work directory nested too deep; not taken back");
        return;
    }
    let Ok(meta) = fs::symlink_metadata(dir) else {
        return;
    };
    if !meta.is_dir() || meta.uid() != job_uid {
        return;
    }
    if let Err(e) = take(dir, me, 0o700) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot take back a job's directory");
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        // DirEntry::metadata does not follow a symbolic link.
        let Ok(meta) = entry.metadata() else { continue };
        if meta.uid() != job_uid {
            continue;
        }
        if meta.is_dir() {
            take_dir(&path, job_uid, me, out, depth + 1);
        } else if meta.is_file() {
            match take(&path, me, 0o600) {
                Ok(()) => {
                    out.files.insert((meta.dev(), meta.ino()));
                }
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "cannot take back a job's file");
                }
            }
        } else if let Err(e) = std::os::unix::fs::lchown(&path, Some(me.0), Some(me.1)) {
            tracing::warn!(file = %path.display(), error = %e, "cannot take back a job's link");
        }
    }
}

/// Gives `path` (a directory or regular file, checked by the caller without following links;
/// no process of the job is left to swap it) to `me` with `mode`.
fn take(path: &Path, me: (u32, u32), mode: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(path, Some(me.0), Some(me.1))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}
