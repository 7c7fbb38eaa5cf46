use crate::ids::{CompanyId, CredentialId};
use serde::{Deserialize, Serialize};

/// A named set of typed values (API login, bank token…) belonging to a company.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Credential {
    /// Database id (`CredentialId(0)` before it is stored).
    pub id: CredentialId,
    /// The company that owns it.
    pub company_id: CompanyId,
    /// Its name (unique per company, case-sensitive).
    pub name: String,
    /// The credential type (`AbraFlexi`, `RaiffeisenBank`, …).
    pub kind: String,
    /// Its values.
    pub fields: Vec<CredentialField>,
}

/// One value of a credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialField {
    /// Environment variable name it provides.
    pub name: String,
    /// The value (encrypted at rest when secret).
    pub value: String,
    /// Whether it is secret (never printed, redacted, masked).
    pub secret: bool,
}

impl Credential {
    /// A new, unsaved credential.
    pub fn new(company_id: CompanyId, name: impl Into<String>, kind: impl Into<String>) -> Self {
        Self {
            id: CredentialId(0),
            company_id,
            name: name.into(),
            kind: kind.into(),
            fields: Vec::new(),
        }
    }

    /// Builder: adds a value.
    pub fn with_field(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
        secret: bool,
    ) -> Self {
        self.fields.push(CredentialField {
            name: name.into(),
            value: value.into(),
            secret,
        });
        self
    }
}
