//! MultiFlexi application definitions (`*.app.json`): import, schema validation and export.
//!
//! - [`parse_app`] reads a file into an unsaved [`App`](crate::App), tolerating the legacy
//!   shapes real files use and reporting each deviation as an [`ImportWarning`] with its JSON
//!   path; what cannot be interpreted is an [`ImportError`].
//! - [`validate`] lists every breach of the application schema's rules (MultiFlexi App
//!   Definition 3.4.0) as a [`Violation`] with its JSON path; [`lost_duplicates`] lists keys
//!   written twice with different values (the schema cannot see them).
//! - [`export_app`] / [`export_app_pretty`] write an app back in the schema's modern shape;
//!   `parse_app` reads that back to an equal app.
//!
//! All three are pure: no files, no store. Paths are JSON Pointers (`/environment/FOO/type`).
//!
//! ```
//! use multiflexi_core::app_json::{parse_app, validate, WarningKind};
//! use multiflexi_core::model::EnvFieldType;
//!
//! let file = br#"{
//!     "name": "Benchmark",
//!     "description": "Server benchmark",
//!     "executable": "benchmark",
//!     "cmdparams": "-c {CYCLES}",
//!     "topics": "Server, Benchmark",
//!     "environment": { "CYCLES": { "type": "int", "defval": "10", "required": "True" } }
//! }"#;
//! let imported = parse_app(file).unwrap();
//! assert_eq!(imported.app.tags, ["Server", "Benchmark"]);
//! let cycles = imported.app.field("CYCLES").unwrap();
//! assert_eq!((cycles.kind, cycles.required), (EnvFieldType::Integer, true));
//! assert_eq!(cycles.default.as_deref(), Some("10"));
//! let kinds: Vec<_> = imported.warnings.iter().map(|w| w.kind).collect();
//! assert_eq!(kinds, [WarningKind::KeyAlias, WarningKind::TypeMapped, WarningKind::Converted]);
//!
//! // The same file breaks the schema's rules: no `$schema`, type `int`, `required` as text.
//! assert_eq!(validate(file).len(), 3);
//! ```

mod export;
mod field_type;
mod import;
mod lenient;
mod report;
mod tree;
mod validate;
mod vocab;

pub use export::{export_app, export_app_pretty};
pub use import::parse_app;
pub use report::{ImportError, ImportWarning, ImportedApp, Violation, WarningKind};
pub use validate::{lost_duplicates, validate};
