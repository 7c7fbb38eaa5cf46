//! What import and validation hand back: the imported app, warnings, violations and errors.

use crate::model::App;
use std::fmt;

/// An app read from a file, with one warning per deviation the importer tolerated.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportedApp {
    /// The app, unsaved (`id` 0, no timestamps, enabled).
    pub app: App,
    /// What the importer reinterpreted, converted or left out: repeated keys first, then in
    /// reading order.
    pub warnings: Vec<ImportWarning>,
}

/// What kind of deviation an [`ImportWarning`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WarningKind {
    /// An object key appeared more than once; the last occurrence was used.
    DuplicateKey,
    /// A key was read in place of another (`topics` for `tags`, `cmdparamsTemplate` for
    /// `cmdparams`).
    KeyAlias,
    /// An environment field type outside the schema's enum was mapped to the nearest one.
    TypeMapped,
    /// A value of another JSON type or shape was converted (`"True"` → `true`, `"a, b"` → a list).
    Converted,
    /// A value that could not be used was left out.
    Ignored,
    /// An artifact path pattern that no file of a job's work directory can match.
    NeverMatches,
}

impl WarningKind {
    /// A short, stable name (`duplicate-key`, `key-alias`, …) for machine-readable output.
    pub fn as_str(self) -> &'static str {
        match self {
            WarningKind::DuplicateKey => "duplicate-key",
            WarningKind::KeyAlias => "key-alias",
            WarningKind::TypeMapped => "type-mapped",
            WarningKind::Converted => "converted",
            WarningKind::Ignored => "ignored",
            WarningKind::NeverMatches => "never-matches",
        }
    }
}

impl fmt::Display for WarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One tolerated deviation: where (a JSON Pointer such as `/environment/DEBUG/type`) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportWarning {
    /// JSON Pointer of the value concerned (`""` is the whole document).
    pub path: String,
    /// Which kind of deviation.
    pub kind: WarningKind,
    /// One line saying what was found and what the importer did.
    pub message: String,
}

impl fmt::Display for ImportWarning {
    /// `path: message`, with `/` standing for the whole document.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", display_path(&self.path), self.message)
    }
}

/// One breach of the application schema's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Violation {
    /// JSON Pointer of the offending (or missing) value; `""` is the whole document.
    pub path: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for Violation {
    /// `path: message`, with `/` standing for the whole document.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", display_path(&self.path), self.message)
    }
}

fn display_path(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

/// Why a file cannot be imported at all. Import is pure: nothing has been written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The bytes are not JSON.
    #[error("not valid JSON: {message} at line {line}, column {column}")]
    NotJson {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem (0 when the input ended early).
        column: usize,
        /// What the parser found wrong (`trailing comma`, `EOF while parsing an object`, …).
        message: String,
    },
    /// The document is JSON but not an object.
    #[error("an application definition must be a JSON object, found {found}")]
    NotAnObject {
        /// The JSON type found (`array`, `string`, …).
        found: &'static str,
    },
    /// No usable `name`.
    #[error("no application name: {reason}")]
    NoName {
        /// What was found instead (missing, empty, wrong type).
        reason: String,
    },
    /// The file still holds a merge conflict (`<<<<<<<`, `=======`, `>>>>>>>` lines).
    #[error(
        "unresolved merge-conflict markers (\"{marker}\" at line {line}): the file was committed \
         in the middle of a merge; keep one side, remove the marker lines and import it again"
    )]
    MergeConflict {
        /// 1-based line of the first marker.
        line: usize,
        /// The marker found (`<<<<<<<`, `=======` or `>>>>>>>`).
        marker: &'static str,
    },
    /// No usable `executable`.
    #[error("no executable: {reason}")]
    NoExecutable {
        /// What was found instead (missing, empty, wrong type).
        reason: String,
    },
}

impl ImportError {
    /// JSON Pointer of the offending value (`""` when it is the whole document).
    pub fn path(&self) -> &'static str {
        match self {
            ImportError::NotJson { .. }
            | ImportError::NotAnObject { .. }
            | ImportError::MergeConflict { .. } => "",
            ImportError::NoName { .. } => "/name",
            ImportError::NoExecutable { .. } => "/executable",
        }
    }
}

impl From<ImportError> for crate::Error {
    /// An [`Error::InvalidInput`](crate::Error::InvalidInput) naming the JSON path (or the file).
    fn from(e: ImportError) -> Self {
        let field = match e.path() {
            "" => "application file",
            p => p,
        };
        crate::Error::invalid(field, e.to_string())
    }
}
