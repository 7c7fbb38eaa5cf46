//! What a container app needs from its sandbox: [`ContainerSecurity`].

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Linux capability names (without `CAP_`), as `capabilities(7)` lists them.
pub const LINUX_CAPABILITIES: [&str; 41] = [
    "AUDIT_CONTROL",
    "AUDIT_READ",
    "AUDIT_WRITE",
    "BLOCK_SUSPEND",
    "BPF",
    "CHECKPOINT_RESTORE",
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "IPC_LOCK",
    "IPC_OWNER",
    "KILL",
    "LEASE",
    "LINUX_IMMUTABLE",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
    "MKNOD",
    "NET_ADMIN",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_RAW",
    "PERFMON",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYSLOG",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_CHROOT",
    "SYS_MODULE",
    "SYS_NICE",
    "SYS_PACCT",
    "SYS_PTRACE",
    "SYS_RAWIO",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "WAKE_ALARM",
];

/// What a container app needs from its sandbox; everything else is withheld.
///
/// Container executors drop every Linux capability except [`capabilities`](Self::capabilities),
/// forbid privilege escalation (`no-new-privileges`), and make the root file system read-only
/// where [`read_only_root_fs`](Self::read_only_root_fs) says the app allows it. Set by an
/// operator on the app (upstream's application JSON has no place for it, so imports leave the
/// default: no capabilities, writable root file system).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ContainerSecurity {
    /// Capabilities the app needs, by name without `CAP_` (`NET_BIND_SERVICE`).
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// The app writes only to its work directory (and `/tmp`): its root file system may be
    /// mounted read-only.
    #[serde(default)]
    pub read_only_root_fs: bool,
}

impl ContainerSecurity {
    /// No capabilities, writable root file system.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builder: the capabilities (checked by [`ContainerSecurity::capability`]).
    pub fn with_capabilities<I, S>(mut self, names: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut caps = Vec::new();
        for n in names {
            let c = Self::capability(n.as_ref())?;
            if !caps.contains(&c) {
                caps.push(c);
            }
        }
        self.capabilities = caps;
        Ok(self)
    }

    /// Builder: whether the root file system may be read-only.
    pub fn with_read_only_root_fs(mut self, read_only: bool) -> Self {
        self.read_only_root_fs = read_only;
        self
    }

    /// Applies an operator's change: the capabilities replace the list when given (checked by
    /// [`ContainerSecurity::capability`]), the read-only flag when given. Nothing changes on
    /// an error.
    pub fn change(
        &mut self,
        capabilities: Option<&[String]>,
        read_only_root_fs: Option<bool>,
    ) -> Result<()> {
        let mut next = self.clone();
        if let Some(names) = capabilities {
            next = next.with_capabilities(names)?;
        }
        if let Some(ro) = read_only_root_fs {
            next.read_only_root_fs = ro;
        }
        *self = next;
        Ok(())
    }

    /// In words, for listings and the audit log: `capabilities NET_RAW, CHOWN; read-only root`
    /// or `no capabilities; writable root`.
    pub fn describe(&self) -> String {
        let caps = if self.capabilities.is_empty() {
            "no capabilities".to_owned()
        } else {
            format!("capabilities {}", self.capabilities.join(", "))
        };
        let root = if self.read_only_root_fs {
            "read-only root"
        } else {
            "writable root"
        };
        format!("{caps}; {root}")
    }

    /// A capability name in its canonical form (upper case, without `CAP_`), or an error naming
    /// the field `capabilities` and what is allowed.
    pub fn capability(name: &str) -> Result<String> {
        let upper = name.trim().to_ascii_uppercase();
        let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
        if LINUX_CAPABILITIES.contains(&bare) {
            Ok(bare.to_owned())
        } else {
            Err(Error::invalid(
                "capabilities",
                format!(
                    "{name:?} is not a Linux capability; allowed: {} (with or without CAP_)",
                    LINUX_CAPABILITIES.join(", ")
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_names_are_canonical_and_checked() {
        assert_eq!(
            ContainerSecurity::capability("cap_net_bind_service").unwrap(),
            "NET_BIND_SERVICE"
        );
        assert_eq!(ContainerSecurity::capability(" CHOWN ").unwrap(), "CHOWN");
        let e = ContainerSecurity::capability("ALL")
            .unwrap_err()
            .to_string();
        assert!(e.contains("capabilities") && e.contains("NET_RAW"), "{e}");
        let s = ContainerSecurity::new()
            .with_capabilities(["NET_RAW", "cap_net_raw"])
            .unwrap();
        assert_eq!(s.capabilities, ["NET_RAW"]);
        let mut c = s.clone();
        assert!(c.change(Some(&["bogus".to_owned()]), Some(true)).is_err());
        assert_eq!(c, s, "unchanged after an error");
        c.change(Some(&["chown".to_owned()]), Some(true)).unwrap();
        assert_eq!(c.describe(), "capabilities CHOWN; read-only root");
        c.change(Some(&[]), None).unwrap();
        assert_eq!(c.describe(), "no capabilities; read-only root");
    }
}
