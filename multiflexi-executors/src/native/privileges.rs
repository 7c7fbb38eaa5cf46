//! What a native job keeps of the daemon's powers: nothing.
//!
//! The daemon may hold capabilities without being root (the systemd unit's
//! `AmbientCapabilities=CAP_SETUID CAP_SETGID CAP_KILL CAP_CHOWN`). A non-root process keeps
//! its capabilities across `setuid()` to another non-root uid, and ambient capabilities survive
//! `execve()`, so a job forked from it would inherit them (`CAP_SETUID` alone makes it root).
//! The job process (forked by its supervisor, which keeps the daemon's rights to join cgroups and
//! to kill the job) therefore switches to the job's user itself ([`become_user`]: supplementary
//! groups cleared, real, effective and saved gid and uid set) and then clears every capability
//! set it can ([`drop_capabilities`]: ambient cleared, permitted, effective and inheritable set
//! to zero) before it executes the job's program. The bounding set is left as it
//! is (lowering it needs `CAP_SETPCAP`); with empty permitted and inheritable sets it only
//! matters to programs with file capabilities, as for any other user.

use std::ffi::CStr;
use std::io;

/// `_LINUX_CAPABILITY_VERSION_3` of `linux/capability.h`.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Makes the calling process (the job, forked by its supervisor) run as `uid` (and the gid of
/// the same number) with no supplementary groups, in `work_dir` (entered as the job's user: a
/// daemon with capabilities only cannot enter the job's 0700 directory itself).
/// Call it after the steps that need the daemon's own rights and before [`drop_capabilities`].
/// Only raw system calls on the caller's memory: safe between `fork` and `exec`.
#[allow(unsafe_code)]
pub(crate) fn become_user(uid: u32, work_dir: &CStr) -> io::Result<()> {
    // SAFETY: the raw system calls setgroups, setresgid, setresuid, getresuid, getresgid and
    // chdir on stack memory and on `work_dir`, a live NUL-terminated string.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0
            || libc::setresgid(uid, uid, uid) != 0
            || libc::setresuid(uid, uid, uid) != 0
        {
            return Err(io::Error::last_os_error());
        }
        let (mut r, mut e, mut s) = (0, 0, 0);
        let (mut gr, mut ge, mut gs) = (0, 0, 0);
        libc::getresuid(&mut r, &mut e, &mut s);
        libc::getresgid(&mut gr, &mut ge, &mut gs);
        if [r, e, s, gr, ge, gs].iter().any(|id| *id != uid) {
            return Err(io::Error::from_raw_os_error(libc::EPERM));
        }
        if libc::chdir(work_dir.as_ptr()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Makes the calling process (the job) give up every capability before its program runs:
/// ambient cleared, then permitted, effective and inheritable set to zero. Lowering is always
/// allowed, so this never fails for want of a right; a kernel without ambient capabilities
/// (before 4.3) has none to clear. Only raw system calls: safe between `fork` and `exec`.
#[allow(unsafe_code)]
pub(crate) fn drop_capabilities() -> io::Result<()> {
    // SAFETY: the raw system calls prctl and capset on stack memory.
    unsafe {
        if libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        ) != 0
            && *libc::__errno_location() != libc::EINVAL
        {
            return Err(io::Error::last_os_error());
        }
        let header = CapHeader {
            version: CAPABILITY_VERSION_3,
            pid: 0,
        };
        let data = [CapData::default(); 2];
        if libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Whether this process runs as root (effective uid 0).
pub(crate) fn effective_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    /// Capability sets of a process's status: (CapInh, CapPrm, CapEff, CapAmb).
    fn caps_of(status: &str) -> Vec<(String, u64)> {
        status
            .lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(':')?;
                let k = k.trim();
                ["CapInh", "CapPrm", "CapEff", "CapAmb"]
                    .contains(&k)
                    .then(|| (k.to_string(), u64::from_str_radix(v.trim(), 16).unwrap()))
            })
            .collect()
    }

    /// The child as the hooks leave it (a root test run also switches users: a root process
    /// regains every capability at exec; the isolation suite covers a daemon holding ambient
    /// capabilities without root).
    #[test]
    #[allow(unsafe_code)]
    fn a_child_keeps_no_capability() {
        let mut cmd = Command::new("/bin/cat");
        cmd.arg("/proc/self/status");
        let root = effective_root();
        let dir = CString::new("/").unwrap();
        // SAFETY: the hook runs in the forked child before exec and makes only the raw system
        // calls of `become_user` and `drop_capabilities`, on memory allocated before the fork.
        unsafe {
            cmd.pre_exec(move || {
                if root {
                    become_user(62999, &dir)?;
                }
                drop_capabilities()
            });
        }
        let out = cmd.output().expect("cat runs");
        assert!(out.status.success(), "{out:?}");
        let status = String::from_utf8_lossy(&out.stdout);
        if root {
            let uid = status.lines().find_map(|l| l.strip_prefix("Uid:")).unwrap();
            let gid = status.lines().find_map(|l| l.strip_prefix("Gid:")).unwrap();
            let groups = status
                .lines()
                .find_map(|l| l.strip_prefix("Groups:"))
                .unwrap();
            assert_eq!(uid.split_whitespace().collect::<Vec<_>>(), ["62999"; 4]);
            assert_eq!(gid.split_whitespace().collect::<Vec<_>>(), ["62999"; 4]);
            assert_eq!(groups.trim(), "");
        }
        let caps = caps_of(&status);
        assert_eq!(caps.len(), 4, "{caps:?}");
        for (name, bits) in caps {
            assert_eq!(bits, 0, "{name} of the child");
        }
    }
}
