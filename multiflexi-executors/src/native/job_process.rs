//! The job process J, forked by its supervisor: from the supervisor's rights to the job's
//! program.
//!
//! In order: its resource limits, the job's user and working directory, no capability left,
//! death with the supervisor (`PR_SET_PDEATHSIG` = SIGKILL, set after the user change, which
//! clears it), the default disposition of every signal and an empty signal mask, then `exec` of
//! the program with exactly the job's environment (the program is looked up in the job's `PATH`
//! when it has no slash). A failure before the program runs is written to the launch report
//! with its `errno`, and J exits with 127.
//!
//! Everything here runs between `fork` and `exec` on memory prepared before the fork
//! ([`Prepared`]): raw system calls only, no allocation.

use super::job_plan::JobPlan;
use super::launch_channel::{self, Stage};
use super::privileges;
use std::ffi::{CString, c_char};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

/// The job's program, arguments and environment as C strings, ready before the fork.
pub(crate) struct Prepared {
    program: CString,
    /// Keeps the strings `argv` points to alive.
    _args: Vec<CString>,
    argv: Vec<*const c_char>,
    _env: Vec<CString>,
    envp: Vec<*const c_char>,
    work_dir: CString,
    uid: Option<u32>,
    rlimits: Vec<(libc::__rlimit_resource_t, u64, u64)>,
    drop_capabilities: bool,
}

impl Prepared {
    /// Fails when a string holds a NUL byte (it cannot be passed to `exec`).
    pub(crate) fn new(plan: &JobPlan) -> io::Result<Prepared> {
        let c = |bytes: &[u8]| {
            CString::new(bytes).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
        };
        let program = c(plan.program.as_bytes())?;
        let mut args = vec![program.clone()];
        for a in &plan.args {
            args.push(c(a.as_bytes())?);
        }
        let mut env = Vec::with_capacity(plan.env.len());
        for (k, v) in &plan.env {
            let mut pair = k.as_bytes().to_vec();
            pair.push(b'=');
            pair.extend_from_slice(v.as_bytes());
            env.push(c(&pair)?);
        }
        let argv = null_terminated(&args);
        let envp = null_terminated(&env);
        Ok(Prepared {
            program,
            _args: args,
            argv,
            _env: env,
            envp,
            work_dir: c(plan.work_dir.as_os_str().as_bytes())?,
            uid: plan.uid,
            rlimits: plan
                .rlimits
                .iter()
                .map(|(l, soft, hard)| (l.resource(), *soft, *hard))
                .collect(),
            drop_capabilities: plan.drop_capabilities,
        })
    }
}

fn null_terminated(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

#[allow(unsafe_code)]
unsafe extern "C" {
    /// The process's environment, as `execvp` reads it (`PATH`) and passes it on.
    static mut environ: *const *const c_char;
}

/// Runs in J right after the fork from `supervisor` (J's parent): never returns.
#[allow(unsafe_code)]
/// `exec_pipe` is J's close-on-exec end of a pipe whose closing tells the supervisor that the
/// program runs (or that J is gone).
pub(crate) fn run(
    job: &Prepared,
    supervisor: libc::pid_t,
    report: &OwnedFd,
    exec_pipe: libc::c_int,
) -> ! {
    let _ = exec_pipe; // closed by the exec, or by J's exit
    if let Err(e) = prepare(job, supervisor) {
        launch_channel::send(report, Stage::Setup, e.raw_os_error().unwrap_or(libc::EIO));
        // SAFETY: ends this process without running anything of the parent's image.
        unsafe { libc::_exit(127) }
    }
    // SAFETY: J is the only thread of a fresh fork; `envp` and `argv` are NULL-terminated
    // arrays of live C strings (kept by `job`). Setting `environ` makes execvp look the
    // program up in the job's PATH and hand the program the job's environment, as std does.
    unsafe {
        environ = job.envp.as_ptr();
        libc::execvp(job.program.as_ptr(), job.argv.as_ptr());
    }
    let errno = io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO);
    launch_channel::send(report, Stage::Exec, errno);
    // SAFETY: as above.
    unsafe { libc::_exit(127) }
}

#[allow(unsafe_code)]
fn prepare(job: &Prepared, supervisor: libc::pid_t) -> io::Result<()> {
    for (resource, soft, hard) in &job.rlimits {
        let limit = libc::rlimit {
            rlim_cur: *soft,
            rlim_max: *hard,
        };
        // SAFETY: setrlimit reads a live stack value.
        if unsafe { libc::setrlimit(*resource, &limit) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    match job.uid {
        Some(uid) => privileges::become_user(uid, &job.work_dir)?,
        // SAFETY: chdir reads a live NUL-terminated string.
        None => {
            if unsafe { libc::chdir(job.work_dir.as_ptr()) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    if job.drop_capabilities {
        privileges::drop_capabilities()?;
    }
    // SAFETY: prctl, getppid, sigaction and sigprocmask on stack memory.
    unsafe {
        // Set after the user change (a change of credentials clears it).
        if libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
        if libc::getppid() != supervisor {
            // The supervisor died before the death signal was armed: run nothing.
            libc::_exit(137);
        }
        // Ignored signals stay ignored across exec (the supervisor, a Rust program, ignores
        // SIGPIPE): every signal gets its default disposition, and none is blocked.
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        for sig in 1..=libc::SIGRTMAX() {
            // SIGKILL, SIGSTOP and the C library's own signals refuse: nothing to reset.
            libc::sigaction(sig, &default, std::ptr::null_mut());
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        if libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
