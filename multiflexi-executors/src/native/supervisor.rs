//! The per-job supervisor: a native job dies with its executor, even when that executor never
//! comes back.
//!
//! The process the executor starts is not the job's program but a small supervisor, the
//! program `multiflexi-job-supervisor` (its `main` is [`run`]), which forks the job and waits
//! for it:
//!
//! ```text
//! executor (spawner thread) ──posix_spawn──► supervisor S ──fork──► job J ──exec──► the program
//!   pid / process group = S                  PR_SET_PDEATHSIG        PR_SET_PDEATHSIG = SIGKILL
//! ```
//!
//! The executor never forks its own image: S is a separate small program started with
//! `posix_spawn` (std takes that path for a command without `pre_exec` hooks, uid, gid or
//! groups), so a job costs no copy of the executor's address space and leaves no copy-on-write
//! sharing with it. What S must do ([`super::job_plan`]) comes through its stdin, and whether
//! the job's program could be started goes back the same way ([`super::launch_channel`]).
//!
//! - S asks the kernel for a signal when the thread that started it dies
//!   (`PR_SET_PDEATHSIG`). The executor starts every job from one thread that lives as long
//!   as the process ([`super::spawner`]), so the signal comes exactly when the executor process
//!   dies, for whatever reason (`kill -9` included). If the executor died before S asked, S's
//!   parent is no longer the executor (the pid it was given) and S runs nothing.
//! - S joins the job's cgroup (with the daemon's rights, which it keeps: it must be able to
//!   kill every process of the job), then forks J, which becomes the job's user, sets its
//!   limits, drops every capability and executes the program ([`super::job_process`]).
//! - On the death signal S kills every process of the job's cgroup (which catches a `setsid()`
//!   child that left the process group) and then the job's process group, itself included.
//! - While the executor lives, S is transparent: it ignores SIGTERM/SIGINT/SIGHUP (the job in
//!   its process group gets them directly from the executor's `killpg`), and when J ends it ends
//!   the same way (the same exit code, or the same signal), so the executor's `wait4` sees J's
//!   status, and J's resource usage (S waited for it, so its usage is counted in S's).
//! - S learns that J's `exec` succeeded (J's close-on-exec pipe closes; a failure J reports
//!   itself), then closes every file descriptor but the launch channel, so the job's output
//!   pipes close when the job's own processes are gone, and reports "started". When J ends, S
//!   reports J's own resource usage (S's own is no measure of the job: started from the
//!   executor's memory, its peak counts the executor's) before ending like J.
//! - S runs with an empty environment and no job data on its command line (the job's
//!   environment is part of the plan): it holds the daemon's rights, so no variable of the job
//!   may reach its dynamic loader, and other users cannot read the job's variables in `ps`.

use super::job_plan::JobPlan;
use super::job_process::{self, Prepared};
use super::launch_channel::{self, Stage};
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// The signal the kernel sends the supervisor when the executor dies.
const DEATH_SIGNAL: libc::c_int = libc::SIGUSR1;

/// The supervisor program `multiflexi-job-supervisor`, started by the Native executor only
/// (the plan on stdin). Never returns.
#[doc(hidden)]
#[allow(unsafe_code)]
pub fn run() -> ! {
    // First of all, so that the window in which the executor's death goes unnoticed is as
    // short as it can be (the getppid check below covers it).
    // SAFETY: prctl with plain integer arguments.
    let armed = match unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            DEATH_SIGNAL as libc::c_ulong,
            0,
            0,
            0,
        )
    } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    };
    // Like the daemon: its memory and /proc files (the plan holds the job's environment) are
    // not for the job's processes. Fails only with a bad argument.
    // SAFETY: prctl with plain integer arguments.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    let report = match launch_channel::take_from_stdin() {
        Ok(report) => report,
        Err(e) => {
            eprintln!("multiflexi-job-supervisor: no launch report channel on stdin: {e}");
            std::process::exit(126);
        }
    };
    let plan = match launch_channel::receive(&report)
        .map_err(|e| format!("reading the plan: {e}"))
        .and_then(|bytes| JobPlan::decode(&bytes))
    {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("multiflexi-job-supervisor: {e} (it is started by the Native executor only)");
            fail(&report, libc::EINVAL);
        }
    };
    if let Err(e) = armed {
        fail(&report, e.raw_os_error().unwrap_or(libc::EIO));
    }
    // SAFETY: getppid has no arguments.
    if unsafe { libc::getppid() } != plan.executor_pid {
        // The executor died before the death signal was armed: run nothing.
        std::process::exit(137);
    }
    let kill_list = plan
        .cgroup_procs
        .first()
        .and_then(|p| CString::new(p.as_os_str().as_bytes()).ok());
    if let Err(e) = join_cgroups(&plan) {
        fail(&report, e.raw_os_error().unwrap_or(libc::EIO));
    }
    let job = match Prepared::new(&plan) {
        Ok(job) => job,
        Err(e) => fail(&report, e.raw_os_error().unwrap_or(libc::EINVAL)),
    };
    supervise(&job, &report, kill_list.as_ref())
}

/// A setup failure: reported to the executor, then the supervisor ends.
fn fail(report: &OwnedFd, errno: i32) -> ! {
    launch_channel::send(report, Stage::Setup, errno);
    std::process::exit(126)
}

/// Joins every directory of the job's cgroup (writing `0`, "myself"); J, forked afterwards,
/// is born in it, so nothing of the job escapes the limits.
fn join_cgroups(plan: &JobPlan) -> io::Result<()> {
    for path in &plan.cgroup_procs {
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|mut f| io::Write::write_all(&mut f, b"0"))?;
    }
    Ok(())
}

/// Forks the job and mirrors it: returns only in the job's process (which then runs
/// [`job_process::run`]); the supervisor never returns.
#[allow(unsafe_code)]
fn supervise(job: &Prepared, report: &OwnedFd, cgroup_procs: Option<&CString>) -> ! {
    // SAFETY (whole function): raw system calls on stack memory and on memory prepared before
    // the fork (`job`, `cgroup_procs`); this process has one thread, so the forked job may use
    // it freely.
    unsafe {
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
        if libc::sigprocmask(libc::SIG_BLOCK, &waited, std::ptr::null_mut()) != 0 {
            fail(
                report,
                io::Error::last_os_error()
                    .raw_os_error()
                    .unwrap_or(libc::EIO),
            );
        }
        let mut exec_pipe = [0; 2];
        if libc::pipe2(exec_pipe.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            fail(
                report,
                io::Error::last_os_error()
                    .raw_os_error()
                    .unwrap_or(libc::EIO),
            );
        }
        let [exec_read, exec_write] = exec_pipe;
        let supervisor = libc::getpid();
        let child = libc::fork();
        if child < 0 {
            fail(
                report,
                io::Error::last_os_error()
                    .raw_os_error()
                    .unwrap_or(libc::EIO),
            );
        }
        if child == 0 {
            drop_fd(exec_read);
            job_process::run(job, supervisor, report, exec_write);
        }
        // The job's exec closes its end of the pipe (or it wrote its failure to the report
        // first, and exited): then the report says it started.
        drop_fd(exec_write);
        let mut byte = 0u8;
        while libc::read(exec_read, (&raw mut byte).cast(), 1) < 0
            && *libc::__errno_location() == libc::EINTR
        {}
        close_all_fds_but(report.as_raw_fd());
        launch_channel::send_started(report);
        loop {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let sig = libc::sigwaitinfo(&waited, &mut info);
            if sig == DEATH_SIGNAL {
                kill_job(supervisor, cgroup_procs);
            } else if sig == libc::SIGCHLD {
                let mut status = 0;
                let mut usage: libc::rusage = std::mem::zeroed();
                if libc::wait4(child, &mut status, libc::WNOHANG, &mut usage) == child {
                    // The job's own usage: the supervisor's is no measure of the job (its
                    // peak memory counts the executor's, whose memory it was started from).
                    launch_channel::send_usage(report, &usage);
                    end_like(status);
                }
            }
            // SIGTERM / SIGINT / SIGHUP: meant for the job, which got them too.
        }
    }
}

/// Closes a descriptor this process owns.
#[allow(unsafe_code)]
fn drop_fd(fd: libc::c_int) {
    // SAFETY: close without pointers, on a descriptor nothing else uses.
    unsafe {
        libc::close(fd);
    }
}

/// Closes every file descriptor of the supervisor but the launch channel (the job keeps its
/// own copies of the others).
#[allow(unsafe_code)]
fn close_all_fds_but(keep: libc::c_int) {
    let keep = keep as u32;
    // SAFETY: plain system calls without pointers.
    unsafe {
        let below = keep == 0 || libc::syscall(libc::SYS_close_range, 0u32, keep - 1, 0u32) == 0;
        let above = libc::syscall(libc::SYS_close_range, keep + 1, u32::MAX, 0u32) == 0;
        if !(below && above) {
            for fd in (0..4096).filter(|fd| *fd != keep as libc::c_int) {
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
