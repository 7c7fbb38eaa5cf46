//! Artifact path patterns as app authors write them: globs, regular expressions and macros.
//!
//! An app's `artifacts[].path` says which files of the job's work directory are its results.
//! Real app files use three notations, told apart by this rule (first match wins):
//!
//! 1. **Macro**: the whole path is one variable reference, `${NAME}`, `{NAME}` or
//!    `{{ NAME }}` (NAME: letters, digits and `_`, not starting with a digit). It names the
//!    file that the job's variable NAME holds at run time (relative to the work directory, or
//!    absolute inside it), e.g. `${RESULT_FILE}`.
//! 2. **Regular expression**: it starts with `^`, ends with `$`, or holds `\`, `.*`, `.+`,
//!    `(`, `)` or `|` (none of which a glob needs). It is searched for in the file's path
//!    relative to the work directory, `/`-separated, as PHP's `preg_match` does: unanchored
//!    unless it says `^`/`$`. Braces that are not a repetition count (`{\d+}` in
//!    `report_{\d+}.json$`) group what they enclose, which is what their authors mean;
//!    PCRE would read them as literal braces.
//! 3. **Glob** otherwise (`*.json`, `out/**/*.csv`): relative to the work directory, `*` does
//!    not cross `/`, a leading `./` is ignored.
//!
//! [`PathPattern::never_matches`] says when a pattern can match no file at all (it leaves the
//! work directory, or a `$` sits in the middle of an expression); the importer warns about it.

use globset::{GlobBuilder, GlobMatcher};
use regex::Regex;
use std::fmt;

/// Which notation a pattern is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatternKind {
    /// A glob (`*.json`).
    Glob,
    /// A regular expression (`.*\.json$`).
    Regex,
    /// One variable naming the file (`${RESULT_FILE}`).
    Macro,
}

impl PatternKind {
    /// `glob`, `regex` or `macro`.
    pub fn as_str(self) -> &'static str {
        match self {
            PatternKind::Glob => "glob",
            PatternKind::Regex => "regex",
            PatternKind::Macro => "macro",
        }
    }
}

impl fmt::Display for PatternKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A compiled artifact path pattern.
#[derive(Debug, Clone)]
pub struct PathPattern {
    raw: String,
    matcher: Matcher,
    /// The braces that were read as a group (`{\d+}`), for the importer's note.
    regrouped: bool,
}

#[derive(Debug, Clone)]
enum Matcher {
    Glob(GlobMatcher),
    Regex(Regex),
    Macro(String),
}

/// The notation of `raw`, by the rule in the module documentation.
pub fn classify(raw: &str) -> PatternKind {
    let s = raw.trim();
    if macro_name(s).is_some() {
        return PatternKind::Macro;
    }
    let regex_only = ["\\", ".*", ".+", "(", ")", "|"];
    if s.starts_with('^') || s.ends_with('$') || regex_only.iter().any(|m| s.contains(m)) {
        PatternKind::Regex
    } else {
        PatternKind::Glob
    }
}

/// The variable of a whole-path macro: `${NAME}`, `{NAME}` or `{{ NAME }}`.
fn macro_name(s: &str) -> Option<&str> {
    let inner = s
        .strip_prefix("${")
        .and_then(|r| r.strip_suffix('}'))
        .or_else(|| {
            s.strip_prefix("{{")
                .and_then(|r| r.strip_suffix("}}"))
                .map(str::trim)
        })
        .or_else(|| s.strip_prefix('{').and_then(|r| r.strip_suffix('}')))?;
    let mut chars = inner.chars();
    let first = chars.next()?;
    ((first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_'))
    .then_some(inner)
}

impl PathPattern {
    /// Compiles `raw` in the notation [`classify`] finds.
    ///
    /// # Errors
    ///
    /// Why it is not a valid glob or regular expression, naming the notation it was read in.
    pub fn new(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        let kind = classify(s);
        let mut regrouped = false;
        let matcher = match kind {
            PatternKind::Macro => Matcher::Macro(macro_name(s).unwrap_or_default().to_owned()),
            PatternKind::Glob => {
                let glob = s.trim_start_matches("./");
                Matcher::Glob(
                    GlobBuilder::new(glob)
                        .literal_separator(true)
                        .build()
                        .map_err(|e| format!("{raw:?} is read as a glob and is not valid: {e}"))?
                        .compile_matcher(),
                )
            }
            PatternKind::Regex => {
                let (source, changed) = group_loose_braces(s);
                regrouped = changed;
                Matcher::Regex(Regex::new(&source).map_err(|e| {
                    let first = e.to_string();
                    let first = first.lines().last().unwrap_or_default().trim().to_owned();
                    format!("{raw:?} is read as a regular expression and is not valid: {first}")
                })?)
            }
        };
        Ok(Self {
            raw: raw.to_owned(),
            matcher,
            regrouped,
        })
    }

    /// The pattern as written.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Its notation.
    pub fn kind(&self) -> PatternKind {
        match self.matcher {
            Matcher::Glob(_) => PatternKind::Glob,
            Matcher::Regex(_) => PatternKind::Regex,
            Matcher::Macro(_) => PatternKind::Macro,
        }
    }

    /// The variable a macro names.
    pub fn variable(&self) -> Option<&str> {
        match &self.matcher {
            Matcher::Macro(v) => Some(v),
            _ => None,
        }
    }

    /// Whether braces that are not a repetition count were read as a group.
    pub fn regrouped_braces(&self) -> bool {
        self.regrouped
    }

    /// Whether `rel` (a `/`-separated path relative to the work directory) matches. A macro
    /// matches `resolved`, the path its variable names (already made relative), if any.
    pub fn matches(&self, rel: &str, resolved: Option<&str>) -> bool {
        match &self.matcher {
            Matcher::Glob(g) => g.is_match(rel),
            Matcher::Regex(r) => r.is_match(rel),
            Matcher::Macro(_) => resolved == Some(rel),
        }
    }

    /// Why no file of a work directory can ever match, if that is so.
    pub fn never_matches(&self) -> Option<String> {
        let s = self.raw.trim();
        match self.kind() {
            PatternKind::Macro => None,
            PatternKind::Glob if s.starts_with('/') => Some(format!(
                "{s:?} is an absolute path; result files are looked for only inside the job's \
                 work directory, relative to it"
            )),
            PatternKind::Regex if s.starts_with("^/") => Some(format!(
                "{s:?} matches only absolute paths; result files are matched by their path \
                 relative to the job's work directory"
            )),
            _ if s.split('/').any(|part| part == "..") => Some(format!(
                "{s:?} climbs out with \"..\"; result files are looked for only inside the \
                 job's work directory"
            )),
            PatternKind::Regex if has_inner_dollar(s) => Some(format!(
                "{s:?} has \"$\" (end of the path) before its end, so no path can match; \
                 write \\$ for a literal dollar"
            )),
            _ => None,
        }
    }
}

/// `$` (unescaped, outside a class) somewhere before the last character.
fn has_inner_dollar(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    let mut escaped = false;
    let mut in_class = false;
    for (i, &c) in chars.iter().enumerate() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '[' => in_class = true,
            ']' => in_class = false,
            '$' if !in_class && i + 1 < chars.len() => return true,
            _ => {}
        }
    }
    false
}

/// Rewrites `{…}` that is not a repetition count (`{2}`, `{2,}`, `{2,5}`) into a group
/// `(?:…)`; says whether anything changed.
fn group_loose_braces(s: &str) -> (String, bool) {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + 8);
    let mut changed = false;
    let mut escaped = false;
    let mut in_class = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if escaped {
            escaped = false;
            out.push(c);
        } else if c == '\\' {
            escaped = true;
            out.push(c);
        } else if in_class {
            in_class = c != ']';
            out.push(c);
        } else if c == '[' {
            in_class = true;
            out.push(c);
        } else if c == '{'
            && let Some(close) = chars[i + 1..].iter().position(|&x| x == '}')
        {
            let inner: String = chars[i + 1..i + 1 + close].iter().collect();
            if is_repetition(&inner) {
                out.push('{');
                out.push_str(&inner);
                out.push('}');
            } else {
                out.push_str("(?:");
                out.push_str(&inner);
                out.push(')');
                changed = true;
            }
            i += close + 2;
            continue;
        } else {
            out.push(c);
        }
        i += 1;
    }
    (out, changed)
}

fn is_repetition(inner: &str) -> bool {
    let digits = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
    match inner.split_once(',') {
        None => digits(inner),
        Some((a, b)) => digits(a) && (b.is_empty() || digits(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PathPattern {
        PathPattern::new(s).unwrap()
    }

    #[test]
    fn notations_are_told_apart() {
        for (s, kind) in [
            ("*.json", PatternKind::Glob),
            ("out/**/*.csv", PatternKind::Glob),
            ("report-?.pdf", PatternKind::Glob),
            ("{a,b}.txt", PatternKind::Glob),
            (".*\\.json$", PatternKind::Regex),
            ("bank_import_report_{\\d+}.json$", PatternKind::Regex),
            ("^out/", PatternKind::Regex),
            ("(a|b).txt", PatternKind::Regex),
            ("${RESULT_FILE}", PatternKind::Macro),
            ("{RESULT_FILE}", PatternKind::Macro),
            ("{{ RESULT_FILE }}", PatternKind::Macro),
        ] {
            assert_eq!(classify(s), kind, "{s}");
            assert_eq!(p(s).kind(), kind, "{s}");
        }
        assert_eq!(p("${RESULT_FILE}").variable(), Some("RESULT_FILE"));
    }

    #[test]
    fn regexes_search_the_relative_path() {
        let json = p(".*\\.json$");
        assert!(json.matches("a.json", None));
        assert!(json.matches("sub/a.json", None));
        assert!(!json.matches("a.json.bak", None));
        let anchored = p("^out/[a-z]+\\.csv$");
        assert!(anchored.matches("out/x.csv", None));
        assert!(!anchored.matches("in/out/x.csv", None));
    }

    #[test]
    fn loose_braces_group_and_counts_stay_counts() {
        let report = p("bank_import_report_{\\d+}.json$");
        assert!(report.regrouped_braces());
        assert!(report.matches("bank_import_report_2024.json", None));
        assert!(!report.matches("bank_import_report_.json", None));
        let count = p("^r\\d{4}\\.txt$");
        assert!(!count.regrouped_braces());
        assert!(count.matches("r2024.txt", None));
        assert!(!count.matches("r24.txt", None));
    }

    #[test]
    fn macros_match_what_their_variable_names() {
        let m = p("${RESULT_FILE}");
        assert!(m.matches("out.html", Some("out.html")));
        assert!(!m.matches("out.html", None));
        assert!(!m.matches("other.html", Some("out.html")));
    }

    #[test]
    fn invalid_patterns_say_how_they_were_read() {
        let e = PathPattern::new("a(b").unwrap_err();
        assert!(e.contains("regular expression"), "{e}");
        let e = PathPattern::new("a[b").unwrap_err();
        assert!(e.contains("glob"), "{e}");
    }

    #[test]
    fn dead_patterns_are_named() {
        for s in ["/tmp/*.json", "^/var/.*", "../*.json", "a$b\\.txt"] {
            assert!(p(s).never_matches().is_some(), "{s}");
        }
        for s in ["*.json", ".*\\.json$", "${RESULT_FILE}", "[$]x\\.txt"] {
            assert_eq!(p(s).never_matches(), None, "{s}");
        }
    }
}
