//! [`NativeExecutor`]: runs a job as a local process.

mod cgroup;
mod job_plan;
mod job_process;
mod job_users;
mod launch_channel;
mod privileges;
mod reclaim;
mod registry;
mod spawner;
mod supervisor;
mod supervisor_binary;

pub use cgroup::{CgroupBackend, Controller};
/// The default directory of the job uid locks.
pub use job_users::DEFAULT_LOCK_DIR as DEFAULT_JOB_UID_LOCKS;
pub use job_users::{DEFAULT_JOB_UIDS, JobUsers, parse_uid_range};
#[doc(hidden)]
pub use supervisor::run as job_supervisor_main;
/// The environment variable naming the job supervisor program (see [`NativeConfig::job_supervisor`]).
pub use supervisor_binary::ENV_VAR as JOB_SUPERVISOR_ENV;
/// The job supervisor program's file name.
pub use supervisor_binary::FILE_NAME as JOB_SUPERVISOR_FILE_NAME;

use crate::results::ResultMatcher;
use async_trait::async_trait;
use cgroup::{CgroupLimits, JobCgroup};
use job_plan::{JobPlan, Limit};
use launch_channel::JobUsage;
use multiflexi_core::artifact::sanitize_name;
use multiflexi_core::executor::{
    Capabilities, Capability, ExitReport, JobIo, LaunchSpec, Leftover, RunHandle, Termination,
};
use multiflexi_core::{Error, Executor, ExecutorKind, JobId, Result};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::ffi::OsString;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::sync::CancellationToken;

const BACKEND: &str = "native";

/// Settings of a [`NativeExecutor`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NativeConfig {
    /// After SIGTERM (timeout, cancel), how long the job gets before SIGKILL. Default 5 s.
    pub kill_grace: Duration,
    /// Size of one read from the job's stdout / stderr; bounds the executor's memory per job.
    /// Default 64 KiB.
    pub read_chunk: usize,
    /// How per-job cgroups are made; `None` probes the machine ([`CgroupBackend::detect`]).
    pub cgroups: Option<CgroupBackend>,
    /// Where running jobs are recorded (per executor id) so that `reap` can kill what a dead
    /// executor left behind. Default `<temp dir>/multiflexi-native`.
    pub state_dir: PathBuf,
    /// Which user jobs run as. Default: the embedding process's own user (the daemons set
    /// [`JobUsers::detect`]: one uid per job where they may switch users).
    pub job_users: JobUsers,
    /// The job supervisor program (`multiflexi-job-supervisor`, which starts every job: see
    /// `supervisor.rs`). `None`: the environment variable `MULTIFLEXI_JOB_SUPERVISOR`, else the
    /// program of that name next to the running one (in development also one directory up from
    /// a test program in `target/<profile>/deps`). When it is missing every launch fails with
    /// an error naming where it was looked for.
    pub job_supervisor: Option<PathBuf>,
}

impl Default for NativeConfig {
    fn default() -> Self {
        Self {
            kill_grace: Duration::from_secs(5),
            read_chunk: 64 * 1024,
            cgroups: None,
            state_dir: std::env::temp_dir().join("multiflexi-native"),
            job_users: JobUsers::Daemon {
                why: "not configured (NativeConfig::job_users)".into(),
            },
            job_supervisor: None,
        }
    }
}

impl NativeConfig {
    /// Builder: the grace between SIGTERM and SIGKILL.
    pub fn with_kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace;
        self
    }

    /// Builder: where running jobs are recorded for `reap`.
    pub fn with_state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = dir.into();
        self
    }

    /// Builder: which user jobs run as.
    pub fn with_job_users(mut self, users: JobUsers) -> Self {
        self.job_users = users;
        self
    }

    /// Builder: the job supervisor program (instead of looking for it).
    pub fn with_job_supervisor(mut self, path: impl Into<PathBuf>) -> Self {
        self.job_supervisor = Some(path.into());
        self
    }

    /// Builder: how per-job cgroups are made (instead of probing).
    pub fn with_cgroups(mut self, backend: CgroupBackend) -> Self {
        self.cgroups = Some(backend);
        self
    }
}

/// Runs jobs as local processes (`ExecutorKind::Native`).
///
/// - argv is executed directly (never through a shell); the environment is cleared and only
///   [`LaunchSpec::process_env`] (PATH, HOME = the work directory, LANG, TZ, the job's own
///   variables) is set; the working directory is `spec.work_dir` (created if missing); stdin is
///   `/dev/null`.
/// - The job runs in its own process group, and in its own cgroup where the machine allows one
///   ([`CgroupBackend`]), which carries its memory, pids and CPU-time limits (rlimits where no
///   cgroup controller can: see the table in `cgroup.rs`). A timeout or cancel sends SIGTERM to the group, then SIGKILL after
///   [`NativeConfig::kill_grace`]; whatever is left of the group and of the cgroup when the main
///   process ends is killed too, so nothing of a job outlives it.
/// - A job dies with its executor process, even when that executor never comes back: a
///   per-job supervisor process, told by the kernel when the executor dies, kills the job's
///   cgroup and process group (`supervisor.rs`). Without a cgroup (no permission to make
///   one) a child that called `setsid()` escapes that kill.
/// - stdout and stderr are read concurrently in chunks of at most [`NativeConfig::read_chunk`]
///   bytes and pushed to [`JobIo`] as they arrive, untouched.
/// - A program that cannot be started ends with 127 (not found) or 126 (not executable,
///   permission denied) and the OS error on stderr, after `started` with no pid.
/// - Result files: regular files (not symlinks) under the work directory matching
///   `spec.artifacts`, plus the `RESULT_FILE` the job's env names (if inside the work directory).
/// - Resource usage (peak memory, CPU time) comes from the job's cgroup where it measures them
///   (`cgroup.rs`): every process of the job, forked children included, read before the cgroup
///   is removed. Where no cgroup could be made (or it lacks the memory or CPU controller), that
///   figure comes from `wait4`'s rusage instead: the peak is then the largest single process's
///   resident set (not the sum of processes running at once), and both figures miss forked
///   children that no process of the job waited for (a daemonised or orphaned child).
///   Limits: see [`CgroupBackend`]. `pids_max` counts the job's processes and threads; the
///   per-job supervisor is not counted against it.
/// - `cpu_limit`: the cgroup's CPU counter is read every 100 ms, and the job is killed (SIGKILL,
///   no grace) once it reaches the limit: outcome `cpu_limit`.
/// - Each running job is recorded under [`NativeConfig::state_dir`] by executor id; `reap` kills
///   the process groups a dead executor's records name (when their leaders still run).
#[derive(Debug)]
pub struct NativeExecutor {
    config: NativeConfig,
    cgroups: CgroupBackend,
    /// The job supervisor program, or why it cannot be found.
    supervisor: std::result::Result<PathBuf, String>,
}

impl Default for NativeExecutor {
    fn default() -> Self {
        Self::new(NativeConfig::default())
    }
}

impl NativeExecutor {
    /// A native executor; probes for cgroups unless the config names a backend.
    pub fn new(config: NativeConfig) -> Self {
        let cgroups = config.cgroups.clone().unwrap_or_else(CgroupBackend::detect);
        let supervisor = supervisor_binary::locate(config.job_supervisor.as_deref());
        Self {
            config,
            cgroups,
            supervisor,
        }
    }

    /// The job supervisor program this executor starts jobs with, or why it has none.
    pub fn job_supervisor(&self) -> std::result::Result<&Path, &str> {
        self.supervisor.as_deref().map_err(String::as_str)
    }

    /// How per-job cgroups are made, so how each limit is enforced on this machine.
    pub fn cgroup_backend(&self) -> &CgroupBackend {
        &self.cgroups
    }
}

static NONCE: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Timeout,
    Cancel,
    CpuLimit,
}

/// Kills the job's process group if `launch` is dropped before the job ended.
struct GroupGuard {
    pgid: Pid,
    armed: bool,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = killpg(self.pgid, Signal::SIGKILL);
        }
    }
}

#[async_trait]
impl Executor for NativeExecutor {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Native
    }

    fn capabilities(&self) -> Capabilities {
        let memory = if self.cgroups.limits_memory() {
            Capability::MemoryLimit
        } else {
            Capability::MemoryLimitBestEffort
        };
        let mut caps = Capabilities::new([
            Capability::SeparateStreams,
            Capability::LosslessOutput,
            Capability::Streaming,
            Capability::Timeout,
            Capability::Cancel,
            Capability::ResultFiles,
            memory,
            Capability::EnvIsolation,
            Capability::ResourceUsage,
            Capability::Reap,
            Capability::HostPrograms,
            Capability::WorkDir,
        ]);
        if self.cgroups.limits_pids() {
            caps.insert(Capability::PidsLimit);
        }
        if self.cgroups.counts_cpu() {
            caps.insert(Capability::CpuTimeLimit);
        }
        caps
    }

    async fn launch(
        &self,
        spec: &LaunchSpec,
        io: &dyn JobIo,
        cancel: CancellationToken,
    ) -> Result<ExitReport> {
        let supervisor_path = self.supervisor.as_deref().map_err(|why| {
            platform(
                "starting the job",
                io::Error::new(io::ErrorKind::NotFound, why.clone()),
            )
        })?;
        let matcher = ResultMatcher::new(spec, &spec.work_dir)?;
        // The dispatcher made it already: one stat, no blocking-pool round trip.
        std::fs::create_dir_all(&spec.work_dir)
            .map_err(|e| platform(format!("creating {}", spec.work_dir.display()), e))?;
        let work_dir = std::fs::canonicalize(&spec.work_dir)
            .map_err(|e| platform(format!("resolving {}", spec.work_dir.display()), e))?;
        let home = work_dir.to_string_lossy().into_owned();
        // Its own user where the daemon may switch users: the work directory becomes the
        // job's (0700), its temporary files go in a private directory inside it.
        let user = self
            .config
            .job_users
            .acquire()
            .map_err(|e| platform("taking a user for the job", e))?;
        let tmp = match user
            .as_ref()
            .map(|u| u.take_work_dir(&work_dir))
            .transpose()
        {
            Ok(tmp) => tmp,
            Err(e) => {
                if let Some(u) = &user {
                    u.reclaim(&work_dir).await;
                }
                return Err(platform(
                    format!("handing {} to the job's user", work_dir.display()),
                    e,
                ));
            }
        };

        // Every job gets a cgroup where this machine allows one: it carries the limits, and it
        // finds the job's processes that left its process group (setsid) when the job must die.
        // A limit no cgroup controller here can carry falls back to an rlimit.
        let limits = CgroupLimits {
            memory: spec.memory_limit_mb.map(|mb| u64::from(mb) << 20),
            // The supervisor (one process) lives in the cgroup too.
            pids: spec.pids_max.map(|n| n.saturating_add(1)),
        };
        let cgroup = if self.cgroups.is_cgroup() {
            let name = format!(
                "job-{}-{}-{}",
                spec.job_id,
                std::process::id(),
                NONCE.fetch_add(1, Ordering::Relaxed)
            );
            let made = JobCgroup::create(&self.cgroups, &name, limits);
            match made {
                Ok(cg) => Some(cg),
                Err(e) => {
                    abandon(None, user.as_ref(), &work_dir).await;
                    return Err(platform("creating the job's cgroup", e));
                }
            }
        } else {
            None
        };
        let mut rlimits = Vec::new();
        if let (false, Some(bytes)) = (self.cgroups.limits_memory(), limits.memory) {
            rlimits.push((Limit::AddressSpace, bytes, bytes));
        }
        // RLIMIT_NPROC counts every process of the uid: a limit per job only when the job has
        // a uid of its own.
        if let (false, Some(n), Some(_)) = (self.cgroups.limits_pids(), limits.pids, &user) {
            rlimits.push((Limit::Processes, u64::from(n), u64::from(n)));
        }
        if let (false, Some(cpu)) = (self.cgroups.counts_cpu(), spec.cpu_limit) {
            let soft = cpu.as_secs().max(1);
            rlimits.push((Limit::CpuSeconds, soft, soft + 1));
        }
        let mut env: Vec<(OsString, OsString)> = spec
            .process_env(&home)
            .into_iter()
            .filter(|(k, _)| !(tmp.is_some() && k == "TMPDIR"))
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        if let Some(tmp) = &tmp {
            env.push(("TMPDIR".into(), tmp.clone().into_os_string()));
        }
        let plan = JobPlan {
            executor_pid: std::process::id() as i32,
            cgroup_procs: cgroup
                .as_ref()
                .map(JobCgroup::procs_paths)
                .unwrap_or_default(),
            // The supervisor keeps the daemon's rights (it joins the cgroup and kills the
            // job); the job becomes its user and holds no capability: a daemon that is not
            // root keeps its capabilities across setuid, and ambient ones across exec. A root
            // daemon told to run jobs as itself (MULTIFLEXI_JOB_UIDS=off) keeps root for them.
            uid: user.as_ref().map(|u| u.uid),
            work_dir: work_dir.clone(),
            rlimits,
            drop_capabilities: user.is_some() || !privileges::effective_root(),
            env,
            program: spec.program.clone().into(),
            args: spec.args.iter().map(OsString::from).collect(),
        };
        let encoded = plan.encode();
        let channel = encoded.and_then(|bytes| Ok((bytes, launch_channel::pair()?)));
        let (plan, (channel, supervisor_end)) = match channel {
            Ok(made) => made,
            Err(e) => {
                abandon(cgroup, user.as_ref(), &work_dir).await;
                return Err(platform("preparing the job's launch", e));
            }
        };
        // No pre_exec hook, uid, gid or groups: std starts it with posix_spawn, without a copy
        // of this process (supervisor.rs).
        let mut cmd = std::process::Command::new(supervisor_path);
        cmd.env_clear()
            .stdin(Stdio::from(supervisor_end))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);

        let mut child = match spawner::spawn(cmd).await {
            Ok(child) => child,
            Err(e) => {
                abandon(cgroup, user.as_ref(), &work_dir).await;
                return Err(platform(
                    format!("starting the job supervisor {}", supervisor_path.display()),
                    e,
                ));
            }
        };
        let pid = Pid::from_raw(child.id() as i32);
        let mut guard = GroupGuard {
            pgid: pid,
            armed: true,
        };
        // One blocking task per job: the plan and the launch report first (the report ends
        // when the program runs), then the wait for the supervisor.
        let (reported, launched) = tokio::sync::oneshot::channel();
        let mut waiter = tokio::task::spawn_blocking(move || {
            let mut channel = channel;
            let _ = reported.send(launch_channel::start(&mut channel, &plan));
            let job_usage = launch_channel::job_usage(&mut channel);
            wait4(pid.as_raw()).map(|(status, rusage)| (status, rusage, job_usage))
        });
        let failure = match launched.await {
            Ok(Ok(None)) => None,
            Ok(Ok(Some(failure))) => Some(Ok(failure)),
            Ok(Err(e)) => Some(Err(e)),
            Err(_) => Some(Err(io::Error::other("the launch report was dropped"))),
        };
        if let Some(failure) = failure {
            let _ = killpg(pid, Signal::SIGKILL);
            let _ = (&mut waiter).await;
            guard.armed = false;
            drop(child);
            abandon(cgroup, user.as_ref(), &work_dir).await;
            return match failure {
                Ok(failure) => {
                    tracing::debug!(stage = ?failure.stage, error = %failure.error, "a job could not be started");
                    spawn_failure(spec, io, failure.error).await
                }
                Err(e) => Err(platform("reading the job's launch report", e)),
            };
        }
        let record = registry::Record::write(
            &self.config.state_dir,
            &spec.executor_id,
            spec.job_id.get(),
            spec.lease_token,
            pid.as_raw(),
        );
        if let Err(e) = &record {
            tracing::warn!(error = %e, "cannot record a running job; reap will not find it");
        }
        let stdout = child
            .stdout
            .take()
            .map(tokio::process::ChildStdout::from_std);
        let stderr = child
            .stderr
            .take()
            .map(tokio::process::ChildStderr::from_std);
        drop(child);

        let result = self
            .supervise(
                spec,
                io,
                cancel,
                pid,
                waiter,
                stdout,
                stderr,
                cgroup.as_ref(),
            )
            .await;
        // The main process is gone: nothing of the job may outlive it.
        let _ = killpg(pid, Signal::SIGKILL);
        guard.armed = false;
        drop(record);
        let oom = cgroup.as_ref().is_some_and(JobCgroup::oom_killed);
        if let Some(cg) = cgroup {
            cg.destroy().await;
        }
        // Nothing of the job's user is left running: its work directory comes back to the
        // daemon, which then reads only what the job itself owned.
        let reclaimed = match &user {
            Some(u) => {
                u.kill_all().await;
                Some(u.reclaim(&work_dir).await)
            }
            None => None,
        };
        drop(user);
        let mut report = result?;
        report.oom = oom && report.termination != Termination::Exited(0);

        if !matcher.is_empty() {
            collect_result_files(&work_dir, &matcher, reclaimed.as_ref(), io).await?;
        }
        Ok(report)
    }

    async fn leftovers(&self) -> Result<Vec<Leftover>> {
        let state_dir = self.config.state_dir.clone();
        let orphans = tokio::task::spawn_blocking(move || registry::orphans(&state_dir))
            .await
            .map_err(|e| platform("listing job records", io::Error::other(e)))?
            .map_err(|e| platform("listing job records", e))?;
        Ok(orphans
            .into_iter()
            .map(|o| {
                Leftover::new(
                    JobId(o.job_id),
                    o.lease_token,
                    o.executor_id,
                    o.path.to_string_lossy().into_owned(),
                )
            })
            .collect())
    }

    async fn remove(&self, leftover: &Leftover) -> Result<()> {
        let path = PathBuf::from(&leftover.handle);
        if !path.starts_with(&self.config.state_dir) {
            return Err(Error::invalid(
                "leftover",
                format!("{} is not a record of this executor", leftover.handle),
            ));
        }
        tokio::task::spawn_blocking(move || registry::kill_recorded(&path))
            .await
            .map_err(|e| platform("reaping", io::Error::other(e)))?
            .map_err(|e| platform("reaping", e))
            .map(drop)
    }
}

impl NativeExecutor {
    #[allow(clippy::too_many_arguments)]
    async fn supervise(
        &self,
        spec: &LaunchSpec,
        io: &dyn JobIo,
        cancel: CancellationToken,
        pid: Pid,
        mut waiter: tokio::task::JoinHandle<io::Result<(i32, libc::rusage, Option<JobUsage>)>>,
        stdout: Option<io::Result<tokio::process::ChildStdout>>,
        stderr: Option<io::Result<tokio::process::ChildStderr>>,
        cgroup: Option<&JobCgroup>,
    ) -> Result<ExitReport> {
        io.started(RunHandle {
            pid: Some(i64::from(pid.as_raw())),
            external_id: None,
        })
        .await
        .inspect_err(|_| {
            let _ = killpg(pid, Signal::SIGKILL);
        })?;

        let chunk = self.config.read_chunk.max(1);
        let out_pump = pump(stdout, chunk, io, OutStream::Stdout);
        let err_pump = pump(stderr, chunk, io, OutStream::Stderr);
        let pumps = async { tokio::join!(out_pump, err_pump) };
        tokio::pin!(pumps);

        let grace = self.config.kill_grace;
        let deadline = spec.timeout.map(|t| tokio::time::Instant::now() + t);
        // The CPU-time budget, where the cgroup counts the job's CPU time.
        let cpu_watch = spec
            .cpu_limit
            .zip(cgroup.filter(|cg| cg.cpu_used().is_some()));
        let mut cpu_tick = tokio::time::interval(Duration::from_millis(100));
        cpu_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let signal_job = |sig: Signal| {
            let _ = killpg(pid, sig);
            if let Some(cg) = cgroup {
                cg.signal_all(sig);
            }
        };

        let mut pumped: Option<(Result<()>, Result<()>)> = None;
        let mut stop: Option<Stop> = None;
        let mut kill_at: Option<tokio::time::Instant> = None;
        let waited = loop {
            let sleep_until = match (stop, kill_at, deadline) {
                (Some(_), Some(k), _) => Some(k),
                (None, _, Some(d)) => Some(d),
                _ => None,
            };
            tokio::select! {
                w = &mut waiter => break w,
                r = &mut pumps, if pumped.is_none() => pumped = Some(r),
                _ = cancel.cancelled(), if stop.is_none() => {
                    stop = Some(Stop::Cancel);
                    if io.stop_now() {
                        signal_job(Signal::SIGKILL);
                    } else {
                        signal_job(Signal::SIGTERM);
                        kill_at = Some(tokio::time::Instant::now() + grace);
                    }
                }
                _ = cpu_tick.tick(), if cpu_watch.is_some() && stop.is_none() => {
                    if let Some((limit, cg)) = cpu_watch
                        && cg.cpu_used().is_some_and(|used| used >= limit)
                    {
                        stop = Some(Stop::CpuLimit);
                        signal_job(Signal::SIGKILL);
                    }
                }
                _ = sleep_opt(sleep_until) => {
                    if stop.is_none() {
                        stop = Some(Stop::Timeout);
                        signal_job(Signal::SIGTERM);
                        kill_at = Some(tokio::time::Instant::now() + grace);
                    } else {
                        signal_job(Signal::SIGKILL);
                        kill_at = None;
                    }
                }
            }
        };
        // Stragglers (a grandchild that ignores SIGTERM, background processes) die with the job.
        signal_job(Signal::SIGKILL);

        // Remaining output: the pipes close once every process holding them is gone; a process
        // that escaped the group could hold them forever, so the drain is bounded.
        if pumped.is_none() {
            match tokio::time::timeout(grace.max(Duration::from_secs(1)), &mut pumps).await {
                Ok(r) => pumped = Some(r),
                Err(_) => tracing::warn!(
                    job_id = %spec.job_id,
                    "output pipes stayed open after the job ended (a process escaped its group)"
                ),
            }
        }

        let (status, rusage, job_usage) = waited
            .map_err(|e| platform("waiting for the job", io::Error::other(e)))?
            .map_err(|e| platform("waiting for the job", e))?;
        if let Some((out, err)) = pumped {
            out?;
            err?;
        }

        let termination = if libc::WIFSIGNALED(status) {
            Termination::Signaled(libc::WTERMSIG(status))
        } else {
            Termination::Exited(libc::WEXITSTATUS(status))
        };
        let mut report = match termination {
            Termination::Exited(c) => ExitReport::exited(c),
            Termination::Signaled(s) => ExitReport::signaled(s),
        };
        report.timed_out = stop == Some(Stop::Timeout);
        report.cancelled = stop == Some(Stop::Cancel);
        let (peak, cpu_time) = usage(&rusage, job_usage, cgroup);
        report.set_usage(peak, cpu_time);
        // Killed by the watch above, or by RLIMIT_CPU (SIGXCPU at the soft limit, SIGKILL at
        // the hard one) where no cgroup counts CPU time.
        report.cpu_limited = stop == Some(Stop::CpuLimit)
            || (stop.is_none()
                && spec.cpu_limit.is_some_and(|limit| {
                    termination == Termination::Signaled(libc::SIGXCPU)
                        || (termination == Termination::Signaled(libc::SIGKILL)
                            && cpu_time >= limit)
                }));
        Ok(report)
    }
}

async fn sleep_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The job's peak memory and CPU time: from its cgroup where it measures them (every process of
/// the job, also those the supervisor could not wait for: a job killed by its limits takes the
/// supervisor with it), else from rusage: the job process's own and that of the children it
/// waited for, as its supervisor reported it (the peak being the largest single process's), or
/// the supervisor's (killed before it could report), whose peak also counts the executor's
/// memory it was started from.
fn usage(
    rusage: &libc::rusage,
    job: Option<JobUsage>,
    cgroup: Option<&JobCgroup>,
) -> (u64, Duration) {
    let (rusage_peak, rusage_cpu) = match job {
        Some(job) => (job.peak_rss_bytes, job.cpu),
        None => (
            u64::try_from(rusage.ru_maxrss).unwrap_or(0) * 1024,
            timeval(rusage.ru_utime) + timeval(rusage.ru_stime),
        ),
    };
    let peak = cgroup
        .and_then(JobCgroup::peak_memory)
        .filter(|p| *p > 0)
        .unwrap_or(rusage_peak);
    let cpu = rusage_cpu.max(cgroup.and_then(JobCgroup::cpu_used).unwrap_or_default());
    (peak, cpu)
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(tv.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(tv.tv_usec).unwrap_or(0))
}

#[derive(Debug, Clone, Copy)]
enum OutStream {
    Stdout,
    Stderr,
}

/// Reads `pipe` in chunks of at most `chunk` bytes and hands each to `io` as it arrives. After a
/// `JobIo` error it keeps draining (so the job never blocks on a full pipe) and returns the error.
async fn pump<R: AsyncRead + Unpin>(
    pipe: Option<io::Result<R>>,
    chunk: usize,
    io: &dyn JobIo,
    stream: OutStream,
) -> Result<()> {
    let mut pipe = match pipe {
        None => return Ok(()),
        Some(Ok(p)) => p,
        Some(Err(e)) => return Err(platform("reading the job's output", e)),
    };
    let mut buf = vec![0u8; chunk];
    let mut failed: Option<Error> = None;
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                if failed.is_none() {
                    let pushed = match stream {
                        OutStream::Stdout => io.stdout(&buf[..n]).await,
                        OutStream::Stderr => io.stderr(&buf[..n]).await,
                    };
                    if let Err(e) = pushed {
                        failed = Some(e);
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(platform("reading the job's output", e)),
        }
    }
    failed.map_or(Ok(()), Err)
}

/// A platform failure (retryable): the machine, not the job, failed.
fn platform(what: impl Into<String>, e: io::Error) -> Error {
    let what = what.into();
    Error::backend(
        BACKEND,
        true,
        io::Error::new(e.kind(), format!("{what}: {e}")),
    )
}

/// The program could not be started: 127 (not found) or 126 (not executable), the reason on
/// stderr. Other spawn failures (resource exhaustion) are retryable platform errors.
async fn spawn_failure(spec: &LaunchSpec, io: &dyn JobIo, e: io::Error) -> Result<ExitReport> {
    let code = match (e.kind(), e.raw_os_error()) {
        (io::ErrorKind::NotFound, _) => 127,
        (io::ErrorKind::PermissionDenied, _) => 126,
        (_, Some(libc::ENOEXEC | libc::EISDIR | libc::ENOTDIR | libc::E2BIG | libc::ELOOP)) => 126,
        (_, Some(libc::ENAMETOOLONG)) => 127,
        _ => return Err(platform(format!("starting {:?}", spec.program), e)),
    };
    // The attempt happened: report it started (no process), then how it ended.
    io.started(RunHandle::default()).await?;
    io.stderr(format!("multiflexi: cannot execute {:?}: {e}\n", spec.program).as_bytes())
        .await?;
    let mut report = ExitReport::exited(code);
    report.set_usage_unknown(format!("the program was never started ({e})"));
    Ok(report)
}

/// Hands every result file under `work_dir` to `io`.
/// With `reclaimed` (the job ran as its own uid), a file that was not the job's own when its
/// directory was taken back (a hard link to someone else's file) is skipped: the executor reads
/// result files with more rights than the job had. Links are never followed (every process of
/// the job is gone by now).
async fn collect_result_files(
    work_dir: &Path,
    matcher: &ResultMatcher,
    reclaimed: Option<&reclaim::Reclaimed>,
    io: &dyn JobIo,
) -> Result<()> {
    let root = work_dir.to_path_buf();
    let matcher2 = matcher.clone();
    let found = tokio::task::spawn_blocking(move || {
        let mut found = Vec::new();
        walk(&root, &root, &matcher2, &mut found, 0);
        found.sort();
        found
    })
    .await
    .map_err(|e| platform("listing result files", io::Error::other(e)))?;
    for (rel, path) in found {
        let name = match sanitize_name(&rel) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(file = %rel, error = %e, "skipping a result file with a bad name");
                continue;
            }
        };
        let opened = tokio::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .await;
        let mut file = match opened {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot open a result file");
                continue;
            }
        };
        if let Some(reclaimed) = reclaimed {
            let theirs = file.metadata().await.is_ok_and(|m| reclaimed.owned(&m));
            if !theirs {
                tracing::warn!(file = %path.display(), "skipping a result file the job's user does not own");
                continue;
            }
        }
        io.result_file(&name, &mut file).await?;
    }
    Ok(())
}

fn walk(
    root: &Path,
    dir: &Path,
    matcher: &ResultMatcher,
    found: &mut Vec<(String, PathBuf)>,
    depth: usize,
) {
    if depth > 32 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(ft) = entry.file_type() else { continue };
        let path = entry.path();
        if ft.is_dir() {
            walk(root, &path, matcher, found, depth + 1);
        } else if ft.is_file() {
            let Ok(rel) = path.strip_prefix(root) else {
                continue;
            };
            let Some(rel) = rel.to_str().map(|s| s.replace('\\', "/")) else {
                continue;
            };
            if matcher.matches(&rel) {
                found.push((rel, path));
            }
        }
    }
}

/// `wait4` on `pid`: its wait status and resource usage (peak RSS, CPU time).
#[allow(unsafe_code)]
fn wait4(pid: i32) -> io::Result<(i32, libc::rusage)> {
    let mut status: i32 = 0;
    // SAFETY: `rusage` is a plain C struct for which all-zero bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers point to live, writable locals of the right types for the call.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            return Ok((status, usage));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// A launch that got no further than setting up: the job's cgroup removed (its supervisor, if
/// one was started, has been waited for) and the work directory given back to the daemon.
async fn abandon(cgroup: Option<JobCgroup>, user: Option<&job_users::JobUser>, work_dir: &Path) {
    if let Some(cg) = cgroup {
        cg.destroy().await;
    }
    if let Some(u) = user {
        let _ = u.reclaim(work_dir).await;
    }
}
