use super::Environment;
use crate::ids::CompanyId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A company (tenant) whose run templates run apps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Company {
    /// Database id (`CompanyId(0)` before it is stored).
    pub id: CompanyId,
    /// Name (case-sensitive, unique).
    pub name: String,
    /// URL-safe short name (unique).
    pub slug: String,
    /// Contact e-mail.
    pub email: Option<String>,
    /// The Zabbix host its jobs report under.
    pub zabbix_host: Option<String>,
    /// Whether its templates run.
    pub enabled: bool,
    /// Company-wide environment (layer 2 of the precedence).
    pub environment: Environment,
    /// When it was created.
    pub created: Option<DateTime<Utc>>,
    /// When it was last changed.
    pub updated: Option<DateTime<Utc>>,
}

impl Company {
    /// A new, unsaved company; the slug is derived from the name.
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        Self {
            id: CompanyId(0),
            slug: slugify(&name),
            name,
            email: None,
            zabbix_host: None,
            enabled: true,
            environment: Environment::new(),
            created: None,
            updated: None,
        }
    }
}

/// Lower-case ASCII letters and digits, other runs replaced by `-`.
pub(crate) fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn slugs() {
        assert_eq!(super::slugify("Acme s.r.o."), "acme-s-r-o");
        assert_eq!(super::slugify("  Big  Co  "), "big-co");
    }
}
