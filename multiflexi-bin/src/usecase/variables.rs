//! Environment variables as callers give them (a job's one-off environment, a run template's
//! configuration): the name and value rule every front end shares.

use multiflexi_core::Result;

/// What responses show of a secret value; given back for a stored secret, it keeps it.
pub const REDACTED: &str = "***";

/// One variable as a caller gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: String,
    /// Whether the caller marked it secret (the app's secret fields are secrets anyway).
    pub secret: bool,
}

impl Variable {
    /// A variable the caller did not mark secret.
    pub fn plain(name: impl Into<String>, value: impl Into<String>) -> Variable {
        Variable {
            name: name.into(),
            value: value.into(),
            secret: false,
        }
    }
}

/// Checks a variable of `field` (`env`, `config`): the name is `[A-Za-z_][A-Za-z0-9_]*` and the
/// value holds no NUL character. The refusal names the variable as `field.NAME`.
pub fn check_variable(field: &str, name: &str, value: &str) -> Result<()> {
    // The rule itself lives beside the environment in the core model.
    multiflexi_core::model::Environment::check_variable(&format!("{field}.{name}"), name, value)
}
