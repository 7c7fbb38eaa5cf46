//! The machine's cgroup file systems, from `/proc/self/mountinfo`: each hierarchy's mount point
//! and what it carries (a cgroup v1 hierarchy its controllers, the v2 hierarchy all of them).

use std::path::PathBuf;

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CgroupMount {
    /// Where it is mounted.
    pub path: PathBuf,
    /// cgroup v2 (the unified hierarchy).
    pub v2: bool,
    /// The v1 controllers it carries (`memory`, `cpuacct`, `name=systemd`…); empty for v2.
    pub controllers: Vec<String>,
}

impl CgroupMount {
    /// Whether this v1 hierarchy carries `controller`.
    pub fn carries(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// Every cgroup hierarchy mounted here (read from `/proc/self/mountinfo`; none when it cannot
/// be read).
pub(crate) fn cgroup_mounts() -> Vec<CgroupMount> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|m| parse(&m))
        .unwrap_or_default()
}

/// The cgroup hierarchies of a mountinfo text, each mount point once (the first mount wins).
pub(crate) fn parse(mountinfo: &str) -> Vec<CgroupMount> {
    let mut out: Vec<CgroupMount> = Vec::new();
    for line in mountinfo.lines() {
        // <id> <parent> <maj:min> <root> <mount point> <opts> [optional...] - <fstype> <source> <super opts>
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let path = PathBuf::from(left.split(' ').nth(4).unwrap_or_default());
        let mut r = right.split(' ');
        let fstype = r.next().unwrap_or_default();
        let super_opts = r.nth(1).unwrap_or_default();
        let mount = match fstype {
            "cgroup2" => CgroupMount {
                path,
                v2: true,
                controllers: Vec::new(),
            },
            "cgroup" => CgroupMount {
                path,
                v2: false,
                controllers: super_opts
                    .split(',')
                    .filter(|o| !matches!(*o, "rw" | "ro") && !o.starts_with("relatime"))
                    .map(str::to_owned)
                    .collect(),
            },
            _ => continue,
        };
        if !out.iter().any(|m| m.path == mount.path) {
            out.push(mount);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn hybrid_layout_lists_each_hierarchy_with_its_controllers() {
        let mountinfo = "\
30 23 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
35 30 0:31 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
37 30 0:33 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,cpu,cpuacct
38 30 0:34 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
";
        let m = parse(mountinfo);
        assert_eq!(m.len(), 4, "{m:?}");
        assert!(m[0].v2 && m[0].path == Path::new("/sys/fs/cgroup/unified"));
        assert!(m[1].carries("memory") && !m[1].carries("cpuacct"));
        assert!(m[2].carries("cpu") && m[2].carries("cpuacct"));
        assert_eq!(m[3].controllers, vec!["name=systemd".to_owned()]);
    }
}
