//! What every daemon does to itself before it starts work: it becomes non-dumpable, so that
//! its `/proc/<pid>/environ`, memory and file descriptors (database URL, master key, tokens)
//! cannot be read by the jobs it runs, even as the same user, nor by a job's `$PPID` (each
//! native job's supervisor is a fork of the daemon and inherits the flag); and it sets its
//! umask to 077, so every file it creates (the SQLite database and its journal, the key and
//! admin-token files, the spool and the job registry) is its own alone (0600, 0700).

/// Makes this process non-dumpable (`PR_SET_DUMPABLE 0`) with umask 077; says so on stderr
/// if it cannot.
pub fn harden(name: &str) {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
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
