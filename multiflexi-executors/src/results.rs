//! Which files of a job's work directory are result files.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use multiflexi_core::executor::LaunchSpec;
use multiflexi_core::{Error, Result};
use std::path::{Component, Path, PathBuf};

/// The environment variable by which an app names its result file.
pub const RESULT_FILE_VAR: &str = "RESULT_FILE";

/// Matches relative paths in a work directory against the app's artifact patterns and the
/// `RESULT_FILE` it names.
///
/// Patterns are globs relative to the work directory; `*` does not cross `/` (use `**/*.json` for
/// any depth). `RESULT_FILE` may be relative to the work directory or absolute inside it; a path
/// outside the work directory is ignored (the executor never hands over files from elsewhere).
#[derive(Debug, Clone)]
pub(crate) struct ResultMatcher {
    globs: GlobSet,
    result_file: Option<String>,
}

impl ResultMatcher {
    /// Builds the matcher for `spec`; `work_dir` is where the job runs (host or container path).
    pub(crate) fn new(spec: &LaunchSpec, work_dir: &Path) -> Result<Self> {
        let mut builder = GlobSetBuilder::new();
        for pattern in &spec.artifacts {
            let pattern = pattern.trim_start_matches("./");
            let glob = GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
                .map_err(|e| Error::invalid("artifacts", format!("{pattern:?}: {e}")))?;
            builder.add(glob);
        }
        let globs = builder
            .build()
            .map_err(|e| Error::invalid("artifacts", e.to_string()))?;
        let result_file = spec
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == RESULT_FILE_VAR)
            .and_then(|(_, v)| relative_inside(work_dir, Path::new(v)));
        Ok(Self { globs, result_file })
    }

    /// Whether nothing can match (no patterns, no `RESULT_FILE`).
    pub(crate) fn is_empty(&self) -> bool {
        self.globs.is_empty() && self.result_file.is_none()
    }

    /// Whether `rel` (a `/`-separated path relative to the work directory) is a result file.
    pub(crate) fn matches(&self, rel: &str) -> bool {
        self.result_file.as_deref() == Some(rel) || self.globs.is_match(rel)
    }
}

/// `path` (absolute, or relative to `work_dir`) as a normalised `/`-separated path relative to
/// `work_dir`, or `None` when it leaves the work directory.
pub(crate) fn relative_inside(work_dir: &Path, path: &Path) -> Option<String> {
    let rel: PathBuf = if path.is_absolute() {
        path.strip_prefix(work_dir).ok()?.to_path_buf()
    } else {
        path.to_path_buf()
    };
    let mut parts: Vec<String> = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str()?.to_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(patterns: &[&str], result_file: Option<&str>) -> LaunchSpec {
        let mut s = LaunchSpec::new("/bin/true", vec![], "/w");
        s.artifacts = patterns.iter().map(|p| (*p).to_owned()).collect();
        if let Some(r) = result_file {
            s.env.push((RESULT_FILE_VAR.into(), r.into()));
        }
        s
    }

    #[test]
    fn globs_do_not_cross_directories() {
        let m =
            ResultMatcher::new(&spec(&["*.json", "out/**/*.csv"], None), Path::new("/w")).unwrap();
        assert!(m.matches("a.json"));
        assert!(!m.matches("sub/a.json"));
        assert!(m.matches("out/x.csv"));
        assert!(m.matches("out/a/b/x.csv"));
        assert!(!m.matches("x.csv"));
    }

    #[test]
    fn result_file_relative_or_absolute_inside_only() {
        let w = Path::new("/w");
        assert!(
            ResultMatcher::new(&spec(&[], Some("r.bin")), w)
                .unwrap()
                .matches("r.bin")
        );
        assert!(
            ResultMatcher::new(&spec(&[], Some("/w/./d/r.bin")), w)
                .unwrap()
                .matches("d/r.bin")
        );
        assert!(
            ResultMatcher::new(&spec(&[], Some("/etc/shadow")), w)
                .unwrap()
                .is_empty()
        );
        assert!(
            ResultMatcher::new(&spec(&[], Some("../x")), w)
                .unwrap()
                .is_empty()
        );
        assert!(ResultMatcher::new(&spec(&[], None), w).unwrap().is_empty());
    }

    #[test]
    fn bad_pattern_is_invalid_input() {
        let e = ResultMatcher::new(&spec(&["a[b"], None), Path::new("/w")).unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
    }
}
