//! The isolation suite (issue 15) for native jobs: a hostile tenant's job runs on the real
//! `multiflexi serve` beside another company's job and tries to read the daemon's environment
//! and memory, the key file, the admin token and the database, another company's work
//! directory, to list the work root, to write outside its work directory, to signal the daemon
//! and to fork past its template's `pids_max`; another allocates past its memory limit. Each
//! attempt prints `DENIED <errno>` or `LEAKED` (`isolation/probe.py`), and the test asserts the
//! errno, so an attempt that failed
//! for the wrong reason (a bad path: ENOENT) does not pass. A control run of the same probes
//! with isolation turned off (`MULTIFLEXI_JOB_UIDS=off`, jobs as the daemon's user, root here,
//! and no `pids_max`) must print `LEAKED`, proving the probes can see a leak.
//!
//! Another company's artifacts live in the database: the `database` attempt covers them (the
//! API and dashboard scope them by token, tested in `api` and `dashboard`).

use super::daemons::{Daemon, command, open_store, wait_for};
use multiflexi_core::engine::{JobRequest, create_job};
use multiflexi_core::model::ArtifactPattern;
use multiflexi_core::store::{Catalog, JobQueue};
use multiflexi_core::telemetry::NoopTelemetry;
use multiflexi_core::{
    App, ArtifactSink, Company, Job, JobId, Outcome, Phase, RunTemplate, SystemClock, Trigger,
};
use multiflexi_store::{MasterKey, SqlStore};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const MULTIFLEXI: &str = env!("CARGO_BIN_EXE_multiflexi");
const PYTHON: &str = "/usr/bin/python3";
const EACCES: &str = "DENIED 13";
const EPERM: &str = "DENIED 1";
const EAGAIN: &str = "DENIED 11";

/// The daemon's uid in the capability-only run (no passwd entry needed).
const DAEMON_UID: u32 = 60990;
/// The job uids of the capability-only run (apart from the root runs' range, whose locks live
/// elsewhere).
const CAPS_JOB_UIDS: std::ops::RangeInclusive<u32> = 62000..=62099;

/// Every attempt of `probe.py escape` with what isolation must answer.
const EXPECTED: [(&str, &str); 13] = [
    ("supervisor_environ", EACCES),
    ("daemon_environ", EACCES),
    ("daemon_memory", EACCES),
    ("key_file", EACCES),
    ("admin_token", EACCES),
    ("database", EACCES),
    ("other_work_dir", EACCES),
    ("list_work_root", EACCES),
    ("write_outside", EACCES),
    ("signal_daemon", EPERM),
    // The escape template's pids_max (16) through the job's cgroup: fork 64 children.
    ("fork_past_pids", EAGAIN),
    // The job holds no capability (CapInh/CapPrm/CapEff/CapAmb all zero)...
    ("keep_capabilities", EPERM),
    // ...so setuid(0) fails.
    ("become_root", EPERM),
];

/// Every attempt of [`EXPECTED`] was answered with its errno.
fn assert_denied_as_expected(site: &Site, seen: &BTreeMap<String, String>) {
    for (attempt, want) in EXPECTED {
        assert_eq!(
            seen.get(attempt).map(String::as_str),
            Some(want),
            "{attempt}: {seen:?}\n{}",
            site.serve.context()
        );
    }
}

fn privileged() -> bool {
    // The effective uid: the second field of /proc/self/status's Uid line.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1))
        == Some("0");
    if !root {
        assert!(
            std::env::var_os("MULTIFLEXI_REQUIRE_INTEGRATION").is_none(),
            "the isolation suite needs root (it switches users)"
        );
        eprintln!("skipped: the isolation suite needs root");
    }
    root
}

/// One `multiflexi serve` in a fresh directory, with two companies: the victim (a job that
/// holds a file in its work directory) and the tenant (the probes).
struct Site {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    serve: Daemon,
    store: SqlStore,
    probe: PathBuf,
    victim: RunTemplate,
    tenant: Company,
    /// The escape template's `pids_max`: 16, or none for the control run.
    pids_max: Option<u32>,
}

impl Site {
    /// `serve` as root.
    async fn start(job_uids: &str) -> Site {
        Site::start_as(job_uids, None).await
    }

    /// `serve` as root, or (`as_uid`) as that uid holding only CAP_SETUID, CAP_SETGID, CAP_KILL
    /// and CAP_CHOWN, ambient, as the systemd unit's `AmbientCapabilities=` gives them.
    async fn start_as(job_uids: &str, as_uid: Option<u32>) -> Site {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        // Probes live where every job user can read them.
        let probes = dir.join("probes");
        std::fs::create_dir(&probes).unwrap();
        std::fs::set_permissions(&probes, std::fs::Permissions::from_mode(0o755)).unwrap();
        let probe = probes.join("probe.py");
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/isolation/probe.py"),
            &probe,
        )
        .unwrap();
        std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut cmd = match as_uid {
            None => command(MULTIFLEXI, &dir),
            Some(uid) => {
                std::os::unix::fs::chown(&dir, Some(uid), Some(uid)).unwrap();
                let caps = "+chown,+kill,+setgid,+setuid";
                let mut cmd = command("/usr/bin/setpriv", &dir);
                cmd.arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={uid}"))
                    .arg("--clear-groups")
                    .arg(format!("--inh-caps={caps}"))
                    .arg(format!("--ambient-caps={caps}"))
                    .arg("--")
                    .arg(MULTIFLEXI)
                    .env("MULTIFLEXI_JOB_UID_LOCKS", dir.join("uid-locks"));
                cmd
            }
        };
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--work-dir"])
            .arg(dir.join("jobs"))
            .env("MULTIFLEXI_EXECUTORS", "Native")
            .env("MULTIFLEXI_JOB_UIDS", job_uids)
            .env("MULTIFLEXI_CYCLE_PAUSE", "1")
            .env("ISOLATION_CANARY", "the daemon's own secret")
            .env(
                "MULTIFLEXI_EXECUTOR_ID",
                format!("isolation-{}-{job_uids}", std::process::id()),
            );
        let serve = Daemon::spawn("multiflexi", cmd, &dir);
        wait_for(
            "the start-up banner",
            || serve.context(),
            || async { serve.stdout().contains("Running:").then_some(()) },
        )
        .await;
        let key = MasterKey::parse(&std::fs::read_to_string(dir.join("multiflexi.key")).unwrap())
            .unwrap();
        let store = open_store(&dir.join("multiflexi.sqlite"), key).await;
        let victim_co = store.create_company(&Company::new("Victim")).await.unwrap();
        let tenant = store.create_company(&Company::new("Tenant")).await.unwrap();
        let holder = store
            .put_app(
                &App::new("holder", PYTHON).with_cmdparams(format!("{} hold 60", probe.display())),
            )
            .await
            .unwrap();
        let victim = store
            .create_runtemplate(&RunTemplate::new(holder.id, victim_co.id, "victim"))
            .await
            .unwrap();
        Site {
            _tmp: tmp,
            dir,
            serve,
            store,
            probe,
            victim,
            tenant,
            pids_max: (job_uids != "off").then_some(16),
        }
    }

    async fn template(
        &self,
        name: &str,
        args: &str,
        memory_mb: Option<u32>,
        pids_max: Option<u32>,
    ) -> RunTemplate {
        let app = self
            .store
            .put_app(
                &App::new(name, PYTHON).with_cmdparams(format!("{} {args}", self.probe.display())),
            )
            .await
            .unwrap();
        let mut t = RunTemplate::new(app.id, self.tenant.id, name);
        t.memory_limit_mb = memory_mb;
        t.pids_max = pids_max;
        self.store.create_runtemplate(&t).await.unwrap()
    }

    async fn run(&self, t: &RunTemplate, env: &[(&str, String)]) -> Job {
        let mut one_off = multiflexi_core::Environment::new();
        for (k, v) in env {
            one_off.set(*k, v.clone());
        }
        create_job(
            &self.store,
            &SystemClock,
            &NoopTelemetry,
            JobRequest::ad_hoc(t.id, Trigger::Cli).with_env(one_off),
        )
        .await
        .unwrap()
    }

    async fn wait_phase(&self, id: JobId, phase: Phase) -> Job {
        wait_for(
            &format!("job {id} to reach {phase}"),
            || self.serve.context(),
            || async {
                let j = self.store.get_job(id).await.unwrap();
                (j.phase == phase).then_some(j)
            },
        )
        .await
    }

    async fn stdout(&self, id: JobId) -> String {
        let meta = self
            .store
            .list(id)
            .await
            .unwrap()
            .into_iter()
            .find(|a| a.filename == "stdout.txt")
            .expect("stdout.txt");
        String::from_utf8(self.store.get(meta.id).await.unwrap().content).unwrap()
    }

    /// Runs the victim, then the escape probes beside it; returns each attempt's answer.
    async fn escape(&self) -> BTreeMap<String, String> {
        let victim = self.run(&self.victim, &[]).await;
        self.wait_phase(victim.id, Phase::Running).await;
        let jobs = self.dir.join("jobs");
        let victim_file = wait_for(
            "the victim's file",
            || self.serve.context(),
            || async {
                std::fs::read_dir(&jobs)
                    .ok()?
                    .flatten()
                    .map(|e| e.path().join("secret.txt"))
                    .find(|p| p.exists())
            },
        )
        .await;
        let probe = self.template("escape", "escape", None, self.pids_max).await;
        let env = [
            ("PROBE_KEY_FILE", self.dir.join("multiflexi.key")),
            ("PROBE_TOKEN_FILE", self.dir.join("multiflexi.admin-token")),
            ("PROBE_DATABASE", self.dir.join("multiflexi.sqlite")),
            ("PROBE_VICTIM_FILE", victim_file),
            ("PROBE_WORK_ROOT", jobs),
            ("PROBE_OUTSIDE", self.dir.join("escaped.txt")),
        ]
        .map(|(k, p)| (k, p.display().to_string()));
        let job = self.run(&probe, &env).await;
        let done = self.wait_phase(job.id, Phase::Preserved).await;
        let out = self.stdout(job.id).await;
        assert_eq!(done.outcome, Some(Outcome::Success), "{done:?}\n{out}");
        self.store
            .request_cancel(victim.id, "isolation-test")
            .await
            .unwrap();
        out.lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_jobs_cannot_reach_the_host_the_key_or_another_company() {
    if !privileged() {
        return;
    }
    let site = Site::start("61000-61999").await;
    assert!(
        !site.serve.stderr().contains("run as the daemon's own user"),
        "{}",
        site.serve.context()
    );
    let seen = site.escape().await;
    assert_denied_as_expected(&site, &seen);
    assert!(!site.dir.join("escaped.txt").exists());
    // Past the template's memory limit the job is killed by its cgroup and recorded oom.
    let hog = site.template("hog", "alloc 256", Some(48), None).await;
    let job = site.run(&hog, &[]).await;
    let done = site.wait_phase(job.id, Phase::Preserved).await;
    assert_eq!(done.outcome, Some(Outcome::Oom), "{done:?}");
}

/// The control run: the same probes with isolation off leak, so the suite can see a leak.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_isolation_off_the_same_probes_leak() {
    if !privileged() {
        return;
    }
    let site = Site::start("off").await;
    assert!(
        site.serve.stderr().contains("run as the daemon's own user"),
        "{}",
        site.serve.context()
    );
    let seen = site.escape().await;
    for (attempt, _) in EXPECTED {
        assert_eq!(
            seen.get(attempt).map(String::as_str),
            Some("LEAKED"),
            "{attempt}: {seen:?}"
        );
    }
}

/// A daemon that is not root but holds the four capabilities switching users needs (the
/// shipped executor unit's `AmbientCapabilities=`) separates jobs as root does; its jobs hold
/// none of them (without the child clearing them, `keep_capabilities` and `become_root` leak:
/// a non-root `setuid` keeps capabilities and ambient ones survive `exec`). It still reads a
/// job's own result files (0600 in a 0700 directory of the job's uid) and removes every work
/// directory afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_with_capabilities_only_separates_jobs_that_keep_none() {
    if !privileged() {
        return;
    }
    let range = format!("{}-{}", CAPS_JOB_UIDS.start(), CAPS_JOB_UIDS.end());
    let site = Site::start_as(&range, Some(DAEMON_UID)).await;
    assert!(
        site.serve
            .stdout()
            .contains("the daemon holds CAP_SETUID, CAP_SETGID, CAP_KILL and CAP_CHOWN"),
        "{}",
        site.serve.context()
    );
    let seen = site.escape().await;
    assert_denied_as_expected(&site, &seen);
    let uid: u32 = seen["uid"].parse().unwrap();
    assert!(CAPS_JOB_UIDS.contains(&uid), "job uid {uid}");
    assert!(!site.dir.join("escaped.txt").exists());

    // A result file only the job's user could read is preserved.
    let app = site
        .store
        .put_app(
            &App::new("result", PYTHON)
                .with_cmdparams(format!("{} result", site.probe.display()))
                .with_artifact(ArtifactPattern::new("out/*.txt", "text")),
        )
        .await
        .unwrap();
    let t = site
        .store
        .create_runtemplate(&RunTemplate::new(app.id, site.tenant.id, "result"))
        .await
        .unwrap();
    let job = site.run(&t, &[]).await;
    let done = site.wait_phase(job.id, Phase::Preserved).await;
    assert_eq!(done.outcome, Some(Outcome::Success), "{done:?}");
    let report = site
        .store
        .list(job.id)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.filename.ends_with("report.txt"))
        .unwrap_or_else(|| panic!("report.txt preserved\n{}", site.serve.context()));
    let content = String::from_utf8(site.store.get(report.id).await.unwrap().content).unwrap();
    assert!(content.starts_with("result of uid 620"), "{content}");

    // Every work directory (the victim's, cancelled; the probes') is removed.
    let jobs = site.dir.join("jobs");
    wait_for(
        "the work directories to be removed",
        || site.serve.context(),
        || async {
            let left: Vec<_> = std::fs::read_dir(&jobs).ok()?.flatten().collect();
            left.is_empty().then_some(())
        },
    )
    .await;
}
