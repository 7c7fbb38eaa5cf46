//! The per-job supervisor: a native job dies with its executor, even when that executor never
//! comes back.
//!
//! The process the executor forks is not the job's program but a small supervisor (the same
//! forked image, before `exec`), which forks the job and waits for it:
//!
//! ```text
//! executor (spawner thread) ──fork──► supervisor S ──fork──► job J ──exec──► the program
//!   pid / process group = S           PR_SET_PDEATHSIG       PR_SET_PDEATHSIG = SIGKILL
//! ```
//!
//! - S asks the kernel for a signal when the thread that forked it dies
//!   (`PR_SET_PDEATHSIG`). The executor forks every job from one thread that lives as long
//!   as the process ([`super::spawner`]), so the signal comes exactly when the executor process
//!   dies, for whatever reason (`kill -9` included).
//! - On that signal S kills every process of the job's cgroup (which catches a `setsid()`
//!   child that left the process group) and then the job's process group, itself included.
//! - While the executor lives, S is transparent: it ignores SIGTERM/SIGINT/SIGHUP (the job in
//!   its process group gets them directly from the executor's `killpg`), and when J ends it ends
//!   the same way (the same exit code, or the same signal), so the executor's `wait4` sees J's
//!   status, and J's resource usage (S waited for it, so its usage is counted in S's).
//! - S closes every file descriptor, so the job's output pipes close when the job's own
//!   processes are gone and std's exec-error pipe reports J's `exec` (a program that cannot
//!   be started still fails `spawn` with its `errno`).
//!
//! Everything S runs between `fork` and `_exit` is a raw system call on memory prepared before
//! the fork: no allocation, no locks.

use std::ffi::CString;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// The signal the kernel sends the supervisor when the executor dies.
const DEATH_SIGNAL: libc::c_int = libc::SIGUSR1;

/// Makes `cmd` start its program under a supervisor that kills the job when the executor
/// process (`executor_pid`) dies. `cgroup_procs` is the job cgroup's `cgroup.procs` file, if
/// the job has a cgroup. Register this after any `pre_exec` that must affect both processes
/// (joining the cgroup) and before any that must affect only the job.
#[allow(unsafe_code)]
pub(crate) fn install(cmd: &mut Command, executor_pid: i32, cgroup_procs: Option<CString>) {
    // SAFETY: the closure runs in the forked child before exec. It performs only raw system
    // calls (prctl, getppid, sigprocmask, fork, close_range/close, sigwaitinfo, waitpid, open,
    // read, kill, sigaction, _exit) on memory that was allocated before the fork (the captured
    // CString) or lives on the stack; it allocates nothing and takes no locks.
    unsafe {
        cmd.pre_exec(move || supervise(executor_pid, cgroup_procs.as_ref()));
    }
}

/// Runs in the forked child. Returns only in the job's process (which then executes the
/// program); the supervisor never returns.
#[allow(unsafe_code)]
fn supervise(executor_pid: i32, cgroup_procs: Option<&CString>) -> io::Result<()> {
    // SAFETY (whole function): raw syscalls on stack memory and on `cgroup_procs`, which was
    // allocated before the fork; see `install`.
    unsafe {
        if libc::prctl(
            libc::PR_SET_PDEATHSIG,
            DEATH_SIGNAL as libc::c_ulong,
            0,
            0,
            0,
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
        if libc::getppid() != executor_pid {
            // The executor died between fork and prctl: run nothing.
            libc::_exit(137);
        }
        let mut waited: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut waited);
        for sig in [
            libc::SIGCHLD,
            DEATH_SIGNAL,
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGHUP,
        ] {
            libc::sigaddset(&mut waited, sig);
        }
        let mut before: libc::sigset_t = std::mem::zeroed();
        if libc::sigprocmask(libc::SIG_BLOCK, &waited, &mut before) != 0 {
            return Err(io::Error::last_os_error());
        }
        let supervisor = libc::getpid();
        let job = libc::fork();
        if job < 0 {
            return Err(io::Error::last_os_error());
        }
        if job == 0 {
            // The job: dies with its supervisor (which only ever dies by SIGKILL, taking the
            // job's process group with it anyway), and starts with the mask std gave it.
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            );
            if libc::getppid() != supervisor {
                libc::_exit(137);
            }
            libc::sigprocmask(libc::SIG_SETMASK, &before, std::ptr::null_mut());
            return Ok(());
        }
        close_all_fds();
        loop {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let sig = libc::sigwaitinfo(&waited, &mut info);
            if sig == DEATH_SIGNAL {
                kill_job(supervisor, cgroup_procs);
            } else if sig == libc::SIGCHLD {
                let mut status = 0;
                if libc::waitpid(job, &mut status, libc::WNOHANG) == job {
                    end_like(status);
                }
            }
            // SIGTERM / SIGINT / SIGHUP: meant for the job, which got them too.
        }
    }
}

/// Closes every file descriptor of the supervisor (the job keeps its own copies).
#[allow(unsafe_code)]
fn close_all_fds() {
    // SAFETY: plain system calls without pointers.
    unsafe {
        if libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32) != 0 {
            for fd in 0..4096 {
                libc::close(fd);
            }
        }
    }
}

/// Ends the supervisor the way the job ended: its exit code, or the signal that killed it.
#[allow(unsafe_code)]
fn end_like(status: libc::c_int) -> ! {
    // SAFETY: signal disposition and mask changes and kill/_exit on our own process.
    unsafe {
        if libc::WIFSIGNALED(status) {
            let sig = libc::WTERMSIG(status);
            libc::signal(sig, libc::SIG_DFL);
            let mut only: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut only);
            libc::sigaddset(&mut only, sig);
            libc::sigprocmask(libc::SIG_UNBLOCK, &only, std::ptr::null_mut());
            libc::kill(libc::getpid(), sig);
            libc::_exit(128 + sig);
        }
        libc::_exit(libc::WEXITSTATUS(status))
    }
}

/// The executor died: kill every process of the job's cgroup, then the job's process group
/// (the supervisor leads it, so this ends the supervisor too).
#[allow(unsafe_code)]
fn kill_job(supervisor: libc::pid_t, cgroup_procs: Option<&CString>) -> ! {
    // SAFETY: open/read into a stack buffer, kill, _exit.
    unsafe {
        if let Some(path) = cgroup_procs {
            // New processes may be forked while we kill: repeat until only we are left.
            for _ in 0..32 {
                if kill_listed(path, supervisor) == 0 {
                    break;
                }
            }
        }
        libc::kill(-supervisor, libc::SIGKILL);
        libc::_exit(137)
    }
}

/// Sends SIGKILL to every pid listed in `path` but `own`; returns how many it signalled.
#[allow(unsafe_code)]
fn kill_listed(path: &CString, own: libc::pid_t) -> usize {
    // SAFETY: open/read/close with a stack buffer; kill.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return 0;
        }
        let mut buf = [0u8; 4096];
        let mut signalled = 0;
        let mut pid: libc::pid_t = 0;
        let mut in_number = false;
        loop {
            let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
            if n <= 0 {
                break;
            }
            for &b in &buf[..n as usize] {
                if b.is_ascii_digit() {
                    pid = pid
                        .saturating_mul(10)
                        .saturating_add(libc::pid_t::from(b - b'0'));
                    in_number = true;
                } else if in_number {
                    if pid > 1 && pid != own {
                        libc::kill(pid, libc::SIGKILL);
                        signalled += 1;
                    }
                    pid = 0;
                    in_number = false;
                }
            }
        }
        if in_number && pid > 1 && pid != own {
            libc::kill(pid, libc::SIGKILL);
            signalled += 1;
        }
        libc::close(fd);
        signalled
    }
}
