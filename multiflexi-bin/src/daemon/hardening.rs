//! What every daemon does to itself before it starts work: it becomes non-dumpable, so that
//! its `/proc/<pid>/environ`, memory and file descriptors (database URL, master key, tokens)
//! cannot be read by the jobs it runs, even as the same user, nor by a job's `$PPID` (each
//! native job's supervisor is a fork of the daemon and inherits the flag).

/// Makes this process non-dumpable (`PR_SET_DUMPABLE 0`); says so on stderr if it cannot.
pub fn harden(name: &str) {
    if let Err(e) = nix::sys::prctl::set_dumpable(false) {
        eprintln!(
            "{name}: warning: cannot make the process non-dumpable ({e}); jobs running as this \
             user could read its environment through /proc"
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_process_becomes_non_dumpable() {
        super::harden("test");
        assert!(!nix::sys::prctl::get_dumpable().unwrap());
        // Reading our own /proc files still works (same thread group).
        assert!(std::fs::read("/proc/self/environ").is_ok());
    }
}
