//! Where the Native executor finds the job supervisor program (`multiflexi-job-supervisor`).
//!
//! In this order: [`NativeConfig::job_supervisor`](super::NativeConfig::job_supervisor), the
//! environment variable [`ENV_VAR`], then next to the running program (`/usr/bin` of the
//! package; `target/debug` or `target/release` in development, where a test program runs
//! from `target/<profile>/deps` and its parent directory is looked at too). A program that is
//! missing fails every launch with an error naming the places looked at; there is no fallback.

use std::path::{Path, PathBuf};

/// The environment variable naming the supervisor program.
pub const ENV_VAR: &str = "MULTIFLEXI_JOB_SUPERVISOR";

/// The supervisor program's file name.
pub const FILE_NAME: &str = "multiflexi-job-supervisor";

/// The supervisor program to start, or why there is none.
pub(crate) fn locate(configured: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(path) = configured {
        return existing(path, "NativeConfig::job_supervisor");
    }
    if let Some(path) = std::env::var_os(ENV_VAR).filter(|p| !p.is_empty()) {
        return existing(Path::new(&path), ENV_VAR);
    }
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot find the job supervisor {FILE_NAME}: no path of the running program ({e}); set {ENV_VAR}"))?;
    let dir = exe.parent().unwrap_or(Path::new("/"));
    let mut candidates = vec![dir.join(FILE_NAME)];
    if dir.file_name().is_some_and(|n| n == "deps")
        && let Some(profile) = dir.parent()
    {
        candidates.push(profile.join(FILE_NAME));
    }
    if let Some(found) = candidates.iter().find(|c| c.is_file()) {
        return Ok(found.clone());
    }
    let looked: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
    Err(format!(
        "the job supervisor program {FILE_NAME} is missing (looked at {}); install it next to {} \
         (cargo build -p multiflexi-executors --bin {FILE_NAME}) or name it with {ENV_VAR} or \
         NativeConfig::with_job_supervisor",
        looked.join(", "),
        exe.display()
    ))
}

/// `path`, made absolute, if it is a file.
fn existing(path: &Path, source: &str) -> Result<PathBuf, String> {
    let absolute = std::path::absolute(path)
        .map_err(|e| format!("the job supervisor {} (from {source}): {e}", path.display()))?;
    if absolute.is_file() {
        Ok(absolute)
    } else {
        Err(format!(
            "the job supervisor program {} (from {source}) is missing",
            absolute.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_path_wins_and_a_missing_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sup");
        std::fs::write(&file, b"").unwrap();
        assert_eq!(locate(Some(&file)), Ok(file.clone()));
        let missing = dir.path().join("nope");
        let err = locate(Some(&missing)).unwrap_err();
        assert!(err.contains(&missing.display().to_string()), "{err}");
        assert!(err.contains("NativeConfig::job_supervisor"), "{err}");
    }
}
