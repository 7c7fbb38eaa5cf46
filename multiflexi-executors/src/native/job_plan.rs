//! What the executor asks the job supervisor (`multiflexi-job-supervisor`) to do, and its
//! encoding on the launch channel ([`super::launch_channel`]): a list of NUL-terminated items,
//! flags and their values, then `--`, the program and its arguments (never a shell).
//!
//! The job's environment is part of the plan. The supervisor itself runs with an empty
//! environment and no job data on its command line: it holds the daemon's rights while it
//! prepares the job, so no variable of the job (`LD_PRELOAD`, `GLIBC_TUNABLES`, …) may reach its
//! dynamic loader, and other users must not read the job's variables in `ps`. The job's program
//! gets exactly these variables and no other.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// A resource limit the job process sets on itself (where no cgroup controller carries it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    /// `RLIMIT_AS`: address space, bytes.
    AddressSpace,
    /// `RLIMIT_NPROC`: processes of the job's uid.
    Processes,
    /// `RLIMIT_CPU`: CPU seconds.
    CpuSeconds,
}

impl Limit {
    const ALL: [Limit; 3] = [Limit::AddressSpace, Limit::Processes, Limit::CpuSeconds];

    fn name(self) -> &'static str {
        match self {
            Limit::AddressSpace => "as",
            Limit::Processes => "nproc",
            Limit::CpuSeconds => "cpu",
        }
    }

    /// The `setrlimit(2)` resource.
    pub(crate) fn resource(self) -> libc::__rlimit_resource_t {
        match self {
            Limit::AddressSpace => libc::RLIMIT_AS,
            Limit::Processes => libc::RLIMIT_NPROC,
            Limit::CpuSeconds => libc::RLIMIT_CPU,
        }
    }
}

/// Everything the supervisor needs to start one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JobPlan {
    /// The executor's pid: the supervisor's parent, or the executor is already gone.
    pub executor_pid: i32,
    /// Every `cgroup.procs` of the job's cgroup (the supervisor joins them all; the first one
    /// lists the processes to kill when the executor dies).
    pub cgroup_procs: Vec<PathBuf>,
    /// The job's own user (uid = gid, no supplementary groups), if it has one.
    pub uid: Option<u32>,
    /// The job's working directory, entered as the job's user.
    pub work_dir: PathBuf,
    /// Limits the job sets on itself: (limit, soft, hard).
    pub rlimits: Vec<(Limit, u64, u64)>,
    /// Whether the job gives up every capability before its program runs.
    pub drop_capabilities: bool,
    /// The job's whole environment, in order.
    pub env: Vec<(OsString, OsString)>,
    /// The program (a path, or a name looked up in the job's `PATH`).
    pub program: OsString,
    /// Its arguments (without argv\[0\]).
    pub args: Vec<OsString>,
}

const EXECUTOR_PID: &str = "--executor-pid";
const CGROUP_PROCS: &str = "--cgroup-procs";
const UID: &str = "--uid";
const WORK_DIR: &str = "--work-dir";
const RLIMIT: &str = "--rlimit";
const DROP_CAPABILITIES: &str = "--drop-capabilities";
const ENV: &str = "--env";
/// Ends the flags: the program and its arguments follow.
const PROGRAM: &str = "--";

impl JobPlan {
    /// The plan as sent to the supervisor. Fails on a NUL byte in a value (no program can be
    /// given one in an argument or a variable).
    pub(crate) fn encode(&self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        for item in self.to_args() {
            if item.as_bytes().contains(&0) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("a NUL byte in {item:?}"),
                ));
            }
            out.extend_from_slice(item.as_bytes());
            out.push(0);
        }
        Ok(out)
    }

    /// Reads the plan back in the supervisor.
    pub(crate) fn decode(bytes: &[u8]) -> Result<JobPlan, String> {
        let body = bytes
            .strip_suffix(&[0])
            .ok_or_else(|| "an empty or truncated plan".to_string())?;
        JobPlan::parse(
            body.split(|b| *b == 0)
                .map(|item| OsStr::from_bytes(item).to_os_string()),
        )
    }

    /// The plan as a list of items.
    fn to_args(&self) -> Vec<OsString> {
        let mut out: Vec<OsString> =
            vec![EXECUTOR_PID.into(), self.executor_pid.to_string().into()];
        for path in &self.cgroup_procs {
            out.push(CGROUP_PROCS.into());
            out.push(path.clone().into_os_string());
        }
        if let Some(uid) = self.uid {
            out.push(UID.into());
            out.push(uid.to_string().into());
        }
        out.push(WORK_DIR.into());
        out.push(self.work_dir.clone().into_os_string());
        for (limit, soft, hard) in &self.rlimits {
            out.push(RLIMIT.into());
            out.push(format!("{}={soft}:{hard}", limit.name()).into());
        }
        if self.drop_capabilities {
            out.push(DROP_CAPABILITIES.into());
        }
        for (key, value) in &self.env {
            let mut pair = key.clone();
            pair.push("=");
            pair.push(value);
            out.push(ENV.into());
            out.push(pair);
        }
        out.push(PROGRAM.into());
        out.push(self.program.clone());
        out.extend(self.args.iter().cloned());
        out
    }

    /// Reads the plan back from its list of items.
    fn parse(args: impl IntoIterator<Item = OsString>) -> Result<JobPlan, String> {
        let mut args = args.into_iter();
        let mut executor_pid = None;
        let mut plan = JobPlan {
            executor_pid: 0,
            cgroup_procs: Vec::new(),
            uid: None,
            work_dir: PathBuf::new(),
            rlimits: Vec::new(),
            drop_capabilities: false,
            env: Vec::new(),
            program: OsString::new(),
            args: Vec::new(),
        };
        let mut work_dir = None;
        loop {
            let Some(flag) = args.next() else {
                return Err(format!("missing `{PROGRAM} PROGRAM [ARGS...]`"));
            };
            let flag = flag.to_str().unwrap_or_default().to_string();
            if flag == PROGRAM {
                break;
            }
            if flag == DROP_CAPABILITIES {
                plan.drop_capabilities = true;
                continue;
            }
            let value = args
                .next()
                .ok_or_else(|| format!("`{flag}` needs a value"))?;
            match flag.as_str() {
                EXECUTOR_PID => executor_pid = Some(number(&flag, &value)?),
                CGROUP_PROCS => plan.cgroup_procs.push(PathBuf::from(value)),
                UID => plan.uid = Some(number(&flag, &value)?),
                WORK_DIR => work_dir = Some(PathBuf::from(value)),
                RLIMIT => plan.rlimits.push(rlimit(&value)?),
                ENV => {
                    let bytes = value.as_bytes();
                    let eq = bytes
                        .iter()
                        .position(|b| *b == b'=')
                        .ok_or_else(|| format!("`{ENV}` needs NAME=VALUE"))?;
                    plan.env.push((
                        OsStr::from_bytes(&bytes[..eq]).to_os_string(),
                        OsStr::from_bytes(&bytes[eq + 1..]).to_os_string(),
                    ));
                }
                _ => return Err(format!("unknown argument `{flag}`")),
            }
        }
        plan.executor_pid = executor_pid.ok_or_else(|| format!("missing `{EXECUTOR_PID}`"))?;
        plan.work_dir = work_dir.ok_or_else(|| format!("missing `{WORK_DIR}`"))?;
        plan.program = args
            .next()
            .ok_or_else(|| format!("missing the program after `{PROGRAM}`"))?;
        plan.args = args.collect();
        Ok(plan)
    }
}

fn number<T: std::str::FromStr>(flag: &str, value: &OsStr) -> Result<T, String> {
    value
        .to_str()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("`{flag}` needs a number, not {value:?}"))
}

/// `NAME=SOFT:HARD`.
fn rlimit(value: &OsStr) -> Result<(Limit, u64, u64), String> {
    let bad = || format!("`{RLIMIT}` needs NAME=SOFT:HARD, not {value:?}");
    let text = value.to_str().ok_or_else(bad)?;
    let (name, range) = text.split_once('=').ok_or_else(bad)?;
    let (soft, hard) = range.split_once(':').ok_or_else(bad)?;
    let limit = Limit::ALL
        .into_iter()
        .find(|l| l.name() == name)
        .ok_or_else(bad)?;
    Ok((
        limit,
        soft.parse().map_err(|_| bad())?,
        hard.parse().map_err(|_| bad())?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt;

    fn plan() -> JobPlan {
        JobPlan {
            executor_pid: 4242,
            cgroup_procs: vec![
                "/sys/fs/cgroup/a/cgroup.procs".into(),
                "/b/cgroup.procs".into(),
            ],
            uid: Some(61000),
            work_dir: "/var/lib/multiflexi/jobs/7".into(),
            rlimits: vec![
                (Limit::AddressSpace, 1 << 20, 1 << 20),
                (Limit::CpuSeconds, 2, 3),
            ],
            drop_capabilities: true,
            env: vec![
                ("PATH".into(), "/usr/bin:/bin".into()),
                ("EMPTY".into(), "".into()),
                ("WITH_EQ".into(), "a=b=c".into()),
                ("BYTES".into(), OsString::from_vec(vec![0xff, b'x'])),
            ],
            program: "/bin/sh".into(),
            args: vec!["-c".into(), "--".into(), "--env".into(), "".into()],
        }
    }

    #[test]
    fn a_plan_survives_the_trip_through_the_channel() {
        let p = plan();
        assert_eq!(JobPlan::decode(&p.encode().unwrap()), Ok(p));
    }

    #[test]
    fn a_nul_byte_is_refused_before_anything_is_started() {
        let mut p = plan();
        p.env
            .push(("BAD".into(), OsString::from_vec(vec![b'a', 0, b'b'])));
        assert_eq!(p.encode().unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert!(JobPlan::decode(b"").is_err());
        assert!(JobPlan::decode(b"--executor-pid").is_err());
    }

    #[test]
    fn a_plan_without_user_cgroup_or_limits_survives_too() {
        let p = JobPlan {
            cgroup_procs: vec![],
            uid: None,
            rlimits: vec![],
            drop_capabilities: false,
            env: vec![],
            args: vec![],
            ..plan()
        };
        assert_eq!(JobPlan::decode(&p.encode().unwrap()), Ok(p));
    }

    #[test]
    fn bad_arguments_are_refused_with_a_reason() {
        let parse = |args: &[&str]| JobPlan::parse(args.iter().map(OsString::from));
        assert!(parse(&[]).unwrap_err().contains("missing"));
        assert!(
            parse(&["--work-dir", "/", "--", "x"])
                .unwrap_err()
                .contains("--executor-pid")
        );
        assert!(parse(&["--executor-pid", "x", "--work-dir", "/", "--", "x"]).is_err());
        assert!(
            parse(&["--executor-pid", "1", "--", "x"])
                .unwrap_err()
                .contains("--work-dir")
        );
        assert!(parse(&["--executor-pid", "1", "--work-dir", "/", "--"]).is_err());
        assert!(parse(&["--executor-pid", "1", "--bogus", "1", "--", "x"]).is_err());
        assert!(parse(&["--rlimit", "stack=1:2", "--executor-pid", "1"]).is_err());
        assert!(parse(&["--env", "NOEQUALS", "--executor-pid", "1"]).is_err());
    }
}
