//! The Native executor's job supervisor program (`multiflexi-job-supervisor`, a binary of
//! multiflexi-executors) next to the binaries under test.
//!
//! `cargo test -p multiflexi-bin` builds this package's binaries only, so the first test that
//! needs the supervisor builds it once per run, into the target directory and profile this
//! test binary runs from (cargo does nothing when it is fresh; `cargo test --workspace` has
//! built it already). The daemons find it next to themselves, the in-process executors are
//! given its path.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Builds the supervisor (once per test run) and returns its path.
pub(crate) fn path() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(build)
}

fn build() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/e2e-HASH
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary runs from target/<profile>/deps");
    let target_dir = profile_dir.parent().expect("target/<profile>");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev".to_string(),
        Some(other) => other.to_string(),
        None => panic!("no profile directory in {}", exe.display()),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "multiflexi-executors",
            "--bin",
            multiflexi_executors::JOB_SUPERVISOR_FILE_NAME,
            "--profile",
            &profile,
        ])
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(
        status.success(),
        "building {} failed",
        multiflexi_executors::JOB_SUPERVISOR_FILE_NAME
    );
    let built = profile_dir.join(multiflexi_executors::JOB_SUPERVISOR_FILE_NAME);
    assert!(built.is_file(), "{} was not built", built.display());
    built
}
