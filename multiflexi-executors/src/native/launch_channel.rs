//! The channel between the executor and a job's supervisor: the plan goes in, the launch
//! report comes back.
//!
//! It is a socket pair; the supervisor's end is its stdin (the only descriptor besides stdout
//! and stderr that `posix_spawn` hands over without leaking it to other children of the
//! executor). Nothing of the job travels on the supervisor's command line or in its
//! environment, which other users may read (`ps`, `/proc/PID/cmdline`): the job's environment
//! often holds credentials.
//!
//! 1. The executor writes the plan ([`super::job_plan::JobPlan::encode`]) and shuts down its
//!    writing side; the supervisor reads to end of file.
//! 2. The supervisor moves its end off fd 0 to a close-on-exec descriptor and puts `/dev/null`
//!    in its place for the job. Whoever fails before the job's program runs writes one message
//!    (stage and `errno`) and exits; once the job's program runs the supervisor says
//!    "started". The executor waits for that first message (or end of file: the supervisor
//!    ended before it could say, and its exit status tells).
//! 3. When the job ends, the supervisor sends the job's own resource usage, then ends.

use std::io::{self, Read};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// Where starting the job failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Preparing the job's process: its plan, cgroup, limits, user, directory, capabilities.
    Setup = 1,
    /// Executing the job's program.
    Exec = 2,
}

/// A start that failed: where, and the OS error.
#[derive(Debug)]
pub(crate) struct Failure {
    pub stage: Stage,
    pub error: io::Error,
}

/// The job process's own resource usage (and that of the children it waited for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JobUsage {
    /// The largest resident set of one of its processes, bytes.
    pub peak_rss_bytes: u64,
    /// User plus system CPU time.
    pub cpu: Duration,
}

const STARTED: u32 = 3;
const USAGE: u32 = 4;
/// kind (u32), errno (i32), peak RSS in KiB (u64), CPU time in µs (u64); little-endian.
const MESSAGE: usize = 24;

fn message(kind: u32, errno: i32, peak_kib: u64, cpu_us: u64) -> [u8; MESSAGE] {
    let mut m = [0u8; MESSAGE];
    m[..4].copy_from_slice(&kind.to_le_bytes());
    m[4..8].copy_from_slice(&errno.to_le_bytes());
    m[8..16].copy_from_slice(&peak_kib.to_le_bytes());
    m[16..].copy_from_slice(&cpu_us.to_le_bytes());
    m
}

/// The next message, or `None` at end of file.
fn next(channel: &mut UnixStream) -> io::Result<Option<(u32, i32, u64, u64)>> {
    let mut m = [0u8; MESSAGE];
    let mut got = 0;
    while got < MESSAGE {
        match channel.read(&mut m[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => {
                return Err(io::Error::other(
                    "the job supervisor sent a truncated message",
                ));
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let word = |r: std::ops::Range<usize>| {
        let mut b = [0u8; 8];
        b[..r.len()].copy_from_slice(&m[r]);
        u64::from_le_bytes(b)
    };
    Ok(Some((
        word(0..4) as u32,
        word(4..8) as u32 as i32,
        word(8..16),
        word(16..24),
    )))
}

/// A close-on-exec socket pair: (the executor's end, the supervisor's stdin).
pub(crate) fn pair() -> io::Result<(UnixStream, OwnedFd)> {
    let (executor, supervisor) = UnixStream::pair()?;
    Ok((executor, OwnedFd::from(supervisor)))
}

/// In the executor (blocking): sends `plan`, then waits for the launch report: `None` once the
/// job's program runs (or the supervisor ended before it could say: its exit status tells),
/// else where and why it failed.
pub(crate) fn start(channel: &mut UnixStream, plan: &[u8]) -> io::Result<Option<Failure>> {
    let _ = send_all(channel, plan);
    let _ = channel.shutdown(Shutdown::Write);
    let Some((kind, errno, _, _)) = next(channel)? else {
        return Ok(None);
    };
    let stage = match kind {
        STARTED => return Ok(None),
        1 => Stage::Setup,
        2 => Stage::Exec,
        other => {
            return Err(io::Error::other(format!(
                "the job supervisor sent an unknown message {other}"
            )));
        }
    };
    Ok(Some(Failure {
        stage,
        error: io::Error::from_raw_os_error(errno),
    }))
}

/// In the executor (blocking), after [`start`]: the job's own usage, which the supervisor
/// sends when the job ends (`None` if the supervisor was killed first).
pub(crate) fn job_usage(channel: &mut UnixStream) -> Option<JobUsage> {
    while let Ok(Some((kind, _, peak_kib, cpu_us))) = next(channel) {
        if kind == USAGE {
            return Some(JobUsage {
                peak_rss_bytes: peak_kib.saturating_mul(1024),
                cpu: Duration::from_micros(cpu_us),
            });
        }
    }
    None
}

/// Writes all of `bytes`; a supervisor that is gone is an error, never a SIGPIPE.
#[allow(unsafe_code)]
fn send_all(channel: &UnixStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: sends from a live slice of the given length on an open socket.
        let sent = unsafe {
            libc::send(
                channel.as_raw_fd(),
                bytes.as_ptr().cast(),
                bytes.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if sent < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        bytes = &bytes[sent as usize..];
    }
    Ok(())
}

/// In the supervisor, first thing: takes the channel from fd 0 (to a close-on-exec descriptor,
/// which it returns) and opens `/dev/null` as fd 0, the job's stdin.
#[allow(unsafe_code)]
pub(crate) fn take_from_stdin() -> io::Result<OwnedFd> {
    // SAFETY: fcntl, open, dup2 and close on descriptors this process owns; the path is a
    // NUL-terminated literal. The descriptor fcntl returns is new, so owned by nobody else.
    unsafe {
        let fd = libc::fcntl(libc::STDIN_FILENO, libc::F_DUPFD_CLOEXEC, 3);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let channel = OwnedFd::from_raw_fd(fd);
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if null < 0 {
            return Err(io::Error::last_os_error());
        }
        let moved = libc::dup2(null, libc::STDIN_FILENO);
        let err = io::Error::last_os_error();
        libc::close(null);
        if moved < 0 {
            return Err(err);
        }
        Ok(channel)
    }
}

/// In the supervisor: the plan, read to end of file.
pub(crate) fn receive(channel: &OwnedFd) -> io::Result<Vec<u8>> {
    let mut stream = UnixStream::from(channel.try_clone()?);
    let mut plan = Vec::new();
    stream.read_to_end(&mut plan)?;
    Ok(plan)
}

/// Writes one failure to the channel (a raw `send`: safe between `fork` and `exec`).
pub(crate) fn send(channel: &OwnedFd, stage: Stage, errno: i32) {
    send_raw(channel, &message(stage as u32, errno, 0, 0));
}

/// Tells the executor that the job's program runs.
pub(crate) fn send_started(channel: &OwnedFd) {
    send_raw(channel, &message(STARTED, 0, 0, 0));
}

/// Tells the executor the ended job's own usage (`wait4` of the job process).
pub(crate) fn send_usage(channel: &OwnedFd, usage: &libc::rusage) {
    let micros = |tv: libc::timeval| {
        u64::try_from(tv.tv_sec).unwrap_or(0) * 1_000_000 + u64::try_from(tv.tv_usec).unwrap_or(0)
    };
    let cpu = micros(usage.ru_utime) + micros(usage.ru_stime);
    let peak = u64::try_from(usage.ru_maxrss).unwrap_or(0);
    send_raw(channel, &message(USAGE, 0, peak, cpu));
}

#[allow(unsafe_code)]
fn send_raw(channel: &OwnedFd, message: &[u8; MESSAGE]) {
    // SAFETY: sends from a live buffer of the given length on an open descriptor; no SIGPIPE
    // if the executor is gone. A message this small goes whole, or not at all.
    unsafe {
        libc::send(
            channel.as_raw_fd(),
            message.as_ptr().cast(),
            MESSAGE,
            libc::MSG_NOSIGNAL,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_goes_in_and_the_reports_come_back() {
        let (mut executor, supervisor) = pair().unwrap();
        let side = std::thread::spawn(move || {
            let plan = receive(&supervisor).unwrap();
            send(&supervisor, Stage::Exec, libc::ENOENT);
            plan
        });
        let failure = start(&mut executor, b"the plan").unwrap().unwrap();
        assert_eq!(side.join().unwrap(), b"the plan");
        assert_eq!(failure.stage, Stage::Exec);
        assert_eq!(failure.error.raw_os_error(), Some(libc::ENOENT));
        assert_eq!(job_usage(&mut executor), None);

        let (mut executor, supervisor) = pair().unwrap();
        let side = std::thread::spawn(move || {
            let plan = receive(&supervisor).unwrap();
            send_started(&supervisor);
            // SAFETY: all-zero bytes are a valid rusage.
            #[allow(unsafe_code)]
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            usage.ru_maxrss = 2048;
            usage.ru_utime.tv_sec = 1;
            usage.ru_stime.tv_usec = 500;
            send_usage(&supervisor, &usage);
            plan
        });
        assert!(start(&mut executor, b"").unwrap().is_none());
        assert!(side.join().unwrap().is_empty());
        assert_eq!(
            job_usage(&mut executor),
            Some(JobUsage {
                peak_rss_bytes: 2048 * 1024,
                cpu: Duration::from_micros(1_000_500),
            })
        );
    }
}
