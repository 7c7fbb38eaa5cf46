//! Which files of a job's work directory are result files.

use multiflexi_core::artifact::PathPattern;
use multiflexi_core::executor::LaunchSpec;
use multiflexi_core::{Error, Result};
use std::path::{Component, Path, PathBuf};

/// The environment variable by which an app names its result file.
pub const RESULT_FILE_VAR: &str = "RESULT_FILE";

/// Matches relative paths in a work directory against the app's artifact patterns and the
/// `RESULT_FILE` it names.
///
/// Patterns are globs, regular expressions or macros, told apart as
/// [`multiflexi_core::artifact::classify`] says: globs are relative to the work directory and
/// `*` does not cross `/` (use `**/*.json` for any depth); regular expressions are searched
/// for in the relative path; a macro (`${VAR}`) names the file the job's variable VAR holds.
/// `RESULT_FILE` and macro files may be relative to the work directory or absolute inside it;
/// a path outside the work directory is ignored (the executor never hands over files from
/// elsewhere).
#[derive(Debug, Clone)]
pub(crate) struct ResultMatcher {
    patterns: Vec<(PathPattern, Option<String>)>,
    result_file: Option<String>,
}

impl ResultMatcher {
    /// Builds the matcher for `spec`; `work_dir` is where the job runs (host or container path).
    pub(crate) fn new(spec: &LaunchSpec, work_dir: &Path) -> Result<Self> {
        let var = |name: &str| {
            spec.env
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| relative_inside(work_dir, Path::new(v)))
        };
        let mut patterns = Vec::new();
        for raw in &spec.artifacts {
            let pattern = PathPattern::new(raw).map_err(|e| Error::invalid("artifacts", e))?;
            let resolved = pattern.variable().and_then(var);
            patterns.push((pattern, resolved));
        }
        let result_file = var(RESULT_FILE_VAR);
        Ok(Self {
            patterns,
            result_file,
        })
    }

    /// Whether nothing can match (no patterns, no `RESULT_FILE`).
    pub(crate) fn is_empty(&self) -> bool {
        self.patterns.is_empty() && self.result_file.is_none()
    }

    /// Whether `rel` (a `/`-separated path relative to the work directory) is a result file.
    pub(crate) fn matches(&self, rel: &str) -> bool {
        self.result_file.as_deref() == Some(rel)
            || self
                .patterns
                .iter()
                .any(|(p, resolved)| p.matches(rel, resolved.as_deref()))
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
    fn regexes_and_macros_as_real_app_files_write_them() {
        let mut s = spec(&["bank_import_report_{\\d+}.json$", "${REPORT}"], None);
        s.env.push(("REPORT".into(), "/w/out/report.html".into()));
        let m = ResultMatcher::new(&s, Path::new("/w")).unwrap();
        assert!(m.matches("bank_import_report_2024.json"));
        assert!(!m.matches("bank_import_report_x.json"));
        assert!(m.matches("out/report.html"));
        assert!(!m.matches("report.html"));
        // A macro whose variable is unset or points outside matches nothing.
        let mut s = spec(&["${REPORT}"], None);
        s.env.push(("REPORT".into(), "/etc/passwd".into()));
        let m = ResultMatcher::new(&s, Path::new("/w")).unwrap();
        assert!(!m.matches("etc/passwd") && !m.matches("passwd"));
    }

    #[test]
    fn bad_pattern_is_invalid_input() {
        let e = ResultMatcher::new(&spec(&["a[b"], None), Path::new("/w")).unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
    }
}
