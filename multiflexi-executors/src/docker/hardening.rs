//! The container a job runs in, and its sandbox: [`create_body`] builds the create request (a
//! pure function of the settings and the job), [`WorkDirOwner`] says who gets the work
//! directory.
//!
//! Every job container:
//! - runs as [`DockerConfig::user`] (default `65534:65534`, `nobody`), or the image's own `USER`;
//! - has every Linux capability dropped (`CapDrop: ALL`) except those the app declares
//!   ([`ContainerSecurity::capabilities`](multiflexi_core::model::ContainerSecurity), `CapAdd`);
//! - cannot gain privileges (`no-new-privileges`: no setuid or file-capability gains on exec);
//! - has the job's memory limit (swap included), pids limit and CPU-time limit;
//! - has its work directory on an anonymous volume of its own (removed with the container),
//!   owned by the job's user, mode 0700; with a read-only root file system (when the app allows
//!   it) that volume and a tmpfs on `/tmp` are all it can write.

use super::{DockerConfig, DockerExecutor};
use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig, ResourcesUlimits};
use multiflexi_core::executor::LaunchSpec;
use std::collections::HashMap;
use std::time::Duration;

/// The user jobs run as unless configured otherwise: `nobody:nogroup`'s ids, which need no
/// entry in the image's `/etc/passwd`.
pub const DEFAULT_CONTAINER_USER: &str = "65534:65534";

/// The value of `MULTIFLEXI_CONTAINER_USER` that keeps the image's own `USER`.
pub const IMAGE_USER: &str = "image";

/// Parses a container-user setting: numeric `UID` or `UID:GID` (as given, `UID:UID` for a bare
/// uid), or `image` for the image's own `USER` (`None`). Names are refused: a name needs the
/// image's `/etc/passwd`, and the work directory is given to numeric ids.
pub fn parse_container_user(setting: &str) -> Result<Option<String>, String> {
    let s = setting.trim();
    if s.eq_ignore_ascii_case(IMAGE_USER) {
        return Ok(None);
    }
    match numeric_ids(s) {
        Some((uid, gid)) => Ok(Some(format!("{uid}:{gid}"))),
        None => Err(format!(
            "{setting:?} is not a container user; allowed: UID or UID:GID (numbers, e.g. \
             {DEFAULT_CONTAINER_USER}) or \"{IMAGE_USER}\" (the image's own USER)"
        )),
    }
}

/// `(uid, gid)` of a numeric `UID[:GID]` user (gid = uid when absent); `None` for a name.
pub(crate) fn numeric_ids(user: &str) -> Option<(u32, u32)> {
    let (uid, gid) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(uid) || gid.is_some_and(|g| !digits(g)) {
        return None;
    }
    let uid: u32 = uid.parse().ok()?;
    let gid: u32 = match gid {
        Some(g) => g.parse().ok()?,
        None => uid,
    };
    Some((uid, gid))
}

/// Who gets the job's work directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WorkDirOwner {
    /// These numeric ids (written into the archive that creates it).
    Ids(u32, u32),
    /// The container's user by this name, resolved by the engine from the image's
    /// `/etc/passwd` (`copyUIDGID`).
    ContainerUser(String),
}

impl WorkDirOwner {
    /// The owner for the configured user, or (when the image's own user is kept) for the
    /// image's `USER` (`image_user`; empty or absent means root).
    pub(crate) fn of(config_user: Option<&str>, image_user: Option<&str>) -> Self {
        let user = config_user.or(image_user).unwrap_or("").trim();
        if user.is_empty() {
            return WorkDirOwner::Ids(0, 0);
        }
        match numeric_ids(user) {
            Some((uid, gid)) => WorkDirOwner::Ids(uid, gid),
            None => WorkDirOwner::ContainerUser(user.to_owned()),
        }
    }

    /// Whether the job runs as root (uid 0).
    pub(crate) fn is_root(&self) -> bool {
        match self {
            WorkDirOwner::Ids(uid, _) => *uid == 0,
            WorkDirOwner::ContainerUser(user) => user == "root" || user.starts_with("root:"),
        }
    }
}

/// The `RLIMIT_CPU` of a CPU-time budget: whole seconds, rounded up, at least 1.
pub(crate) fn cpu_seconds(limit: Duration) -> i64 {
    let secs = limit.as_secs() + u64::from(limit.subsec_nanos() > 0);
    i64::try_from(secs.max(1)).unwrap_or(i64::MAX)
}

/// The create request of a job's container. `base_ulimits` are the engine's own default
/// ulimits to restate beside `cpu` (see [`DockerExecutor`]'s Podman note); empty for Docker,
/// which merges its defaults itself.
///
/// The CPU-time limit is `RLIMIT_CPU` (soft = hard, so the kernel sends SIGKILL at the limit:
/// the job's program is PID 1 of the container, and PID 1 ignores SIGXCPU). It is per
/// process: each process of the container may use that much CPU time, so a job that spreads
/// its work over many processes is limited only by the pids limit times this.
pub(crate) fn create_body(
    config: &DockerConfig,
    spec: &LaunchSpec,
    image: &str,
    base_ulimits: &[ResourcesUlimits],
) -> ContainerCreateBody {
    let work = &config.container_work_dir;
    let env = spec
        .process_env(work)
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let memory = spec.memory_limit_mb.map(|mb| i64::from(mb) << 20);
    let read_only = spec.container.read_only_root_fs;
    let ulimits = spec.cpu_limit.map(|limit| {
        let secs = cpu_seconds(limit);
        let mut all: Vec<ResourcesUlimits> = base_ulimits
            .iter()
            .filter(|u| u.name.as_deref() != Some("cpu"))
            .cloned()
            .collect();
        all.push(ResourcesUlimits {
            name: Some("cpu".into()),
            soft: Some(secs),
            hard: Some(secs),
        });
        all
    });
    ContainerCreateBody {
        image: Some(image.to_owned()),
        user: config.user.clone(),
        entrypoint: Some(vec![spec.program.clone()]),
        cmd: Some(spec.args.clone()),
        env: Some(env),
        working_dir: Some(work.clone()),
        // The work directory is a volume of the container's own: writable under a read-only
        // root, readable by the archive download after the container stopped, removed with
        // the container (`v=true`).
        volumes: Some(vec![work.clone()]),
        labels: Some(DockerExecutor::labels(spec)),
        attach_stdin: Some(false),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(false),
        open_stdin: Some(false),
        host_config: Some(HostConfig {
            memory,
            memory_swap: memory,
            pids_limit: spec.pids_max.map(i64::from),
            ulimits,
            cap_drop: Some(vec!["ALL".into()]),
            cap_add: (!spec.container.capabilities.is_empty())
                .then(|| spec.container.capabilities.clone()),
            security_opt: Some(vec!["no-new-privileges".into()]),
            readonly_rootfs: read_only.then_some(true),
            tmpfs: read_only.then(|| {
                HashMap::from([("/tmp".to_owned(), "rw,nosuid,nodev,mode=1777".to_owned())])
            }),
            log_config: config.log_driver.as_ref().map(|d| HostConfigLogConfig {
                typ: Some(d.clone()),
                config: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Podman reports a container's ulimits as `RLIMIT_NOFILE`; its create request (like
/// Docker's) takes `nofile`.
pub(crate) fn request_ulimit_name(reported: &str) -> String {
    let lower = reported.to_ascii_lowercase();
    lower
        .strip_prefix("rlimit_")
        .map(str::to_owned)
        .unwrap_or(lower)
}

#[cfg(test)]
mod tests {
    use super::*;
    use multiflexi_core::ExecutorKind;
    use multiflexi_core::model::ContainerSecurity;

    fn spec() -> LaunchSpec {
        let mut s = LaunchSpec::new("/bin/app", vec!["--x".into()], "/tmp/unused");
        s.image = Some("img".into());
        s.env = vec![("SECRET".into(), "s3cret".into())];
        s
    }

    fn host(body: &ContainerCreateBody) -> &HostConfig {
        body.host_config.as_ref().unwrap()
    }

    #[test]
    fn defaults_drop_everything_and_run_as_nobody() {
        let config = DockerConfig::new(ExecutorKind::Docker, "unix:///x");
        let body = create_body(&config, &spec(), "img", &[]);
        assert_eq!(body.user.as_deref(), Some("65534:65534"));
        assert_eq!(body.working_dir.as_deref(), Some("/multiflexi/work"));
        assert_eq!(body.volumes, Some(vec!["/multiflexi/work".to_owned()]));
        assert!(
            body.env
                .as_ref()
                .unwrap()
                .contains(&"SECRET=s3cret".to_owned())
        );
        assert_eq!(body.entrypoint, Some(vec!["/bin/app".to_owned()]));
        assert_eq!(body.cmd, Some(vec!["--x".to_owned()]));
        let h = host(&body);
        assert_eq!(h.cap_drop, Some(vec!["ALL".to_owned()]));
        assert_eq!(h.cap_add, None);
        assert_eq!(h.security_opt, Some(vec!["no-new-privileges".to_owned()]));
        assert_eq!(h.readonly_rootfs, None);
        assert_eq!(h.tmpfs, None);
        assert_eq!(h.pids_limit, None);
        assert_eq!(h.memory, None);
        assert_eq!(h.ulimits, None);
        assert_eq!(h.privileged, None);
        assert_eq!(
            h.log_config.as_ref().and_then(|l| l.typ.as_deref()),
            Some("none")
        );
    }

    #[test]
    fn limits_capabilities_and_read_only_root_come_from_the_job() {
        let config = DockerConfig::new(ExecutorKind::Podman, "unix:///x").with_user(None);
        let mut s = spec();
        s.memory_limit_mb = Some(64);
        s.pids_max = Some(32);
        s.cpu_limit = Some(Duration::from_millis(2500));
        s.container = ContainerSecurity::new()
            .with_capabilities(["net_bind_service", "CAP_CHOWN"])
            .unwrap()
            .with_read_only_root_fs(true);
        let base = [
            ResourcesUlimits {
                name: Some("nofile".into()),
                soft: Some(4096),
                hard: Some(4096),
            },
            ResourcesUlimits {
                name: Some("cpu".into()),
                soft: Some(1),
                hard: Some(1),
            },
        ];
        let body = create_body(&config, &s, "img", &base);
        assert_eq!(body.user, None, "the image's own USER");
        let h = host(&body);
        assert_eq!(h.memory, Some(64 << 20));
        assert_eq!(h.memory_swap, Some(64 << 20));
        assert_eq!(h.pids_limit, Some(32));
        assert_eq!(
            h.cap_add,
            Some(vec!["NET_BIND_SERVICE".to_owned(), "CHOWN".to_owned()])
        );
        assert_eq!(h.cap_drop, Some(vec!["ALL".to_owned()]));
        assert_eq!(h.readonly_rootfs, Some(true));
        assert_eq!(
            h.tmpfs,
            Some(HashMap::from([(
                "/tmp".to_owned(),
                "rw,nosuid,nodev,mode=1777".to_owned()
            )]))
        );
        let ulimits = h.ulimits.as_ref().unwrap();
        assert_eq!(ulimits.len(), 2, "{ulimits:?}");
        assert_eq!(ulimits[0].name.as_deref(), Some("nofile"));
        assert_eq!(
            (ulimits[1].name.as_deref(), ulimits[1].soft, ulimits[1].hard),
            (Some("cpu"), Some(3), Some(3))
        );
    }

    #[test]
    fn cpu_seconds_round_up() {
        assert_eq!(cpu_seconds(Duration::from_secs(5)), 5);
        assert_eq!(cpu_seconds(Duration::from_millis(5001)), 6);
        assert_eq!(cpu_seconds(Duration::ZERO), 1);
    }

    #[test]
    fn container_user_setting() {
        assert_eq!(parse_container_user("image").unwrap(), None);
        assert_eq!(parse_container_user(" IMAGE ").unwrap(), None);
        assert_eq!(
            parse_container_user("65534:65534").unwrap().as_deref(),
            Some("65534:65534")
        );
        assert_eq!(
            parse_container_user("1000").unwrap().as_deref(),
            Some("1000:1000")
        );
        assert_eq!(parse_container_user("0:0").unwrap().as_deref(), Some("0:0"));
        for bad in [
            "nobody",
            "",
            "1000:",
            ":1000",
            "-1",
            "1000:staff",
            "99999999999",
        ] {
            let e = parse_container_user(bad).unwrap_err();
            assert!(e.contains("UID:GID") && e.contains("image"), "{bad}: {e}");
        }
    }

    #[test]
    fn work_dir_owner() {
        assert_eq!(
            WorkDirOwner::of(Some("65534:65534"), Some("app")),
            WorkDirOwner::Ids(65534, 65534)
        );
        assert_eq!(WorkDirOwner::of(None, None), WorkDirOwner::Ids(0, 0));
        assert_eq!(WorkDirOwner::of(None, Some("")), WorkDirOwner::Ids(0, 0));
        assert_eq!(
            WorkDirOwner::of(None, Some("1000")),
            WorkDirOwner::Ids(1000, 1000)
        );
        assert_eq!(
            WorkDirOwner::of(None, Some("app")),
            WorkDirOwner::ContainerUser("app".into())
        );
        assert!(WorkDirOwner::of(None, None).is_root());
        assert!(!WorkDirOwner::of(Some("65534:65534"), None).is_root());
        assert!(WorkDirOwner::of(None, Some("root")).is_root());
        assert!(!WorkDirOwner::of(None, Some("app")).is_root());
    }

    #[test]
    fn reported_ulimit_names_become_request_names() {
        assert_eq!(request_ulimit_name("RLIMIT_NOFILE"), "nofile");
        assert_eq!(request_ulimit_name("nproc"), "nproc");
    }
}
