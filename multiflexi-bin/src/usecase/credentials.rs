//! Credentials: a company's named set of values (some secret) that run templates use.

use super::audit::Action;
use super::{Caller, UseCases};
use multiflexi_core::model::{Credential, Environment};
use multiflexi_core::tenancy::check_credential;
use multiflexi_core::{CompanyId, CredentialId, Error, Result};

/// A new credential.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewCredential {
    /// The company that owns it.
    pub company_id: CompanyId,
    /// Its name (unique per company).
    pub name: String,
    /// Its type (`AbraFlexi`, `RaiffeisenBank`, …).
    pub kind: String,
    /// Its values in order: name, value, whether secret.
    pub fields: Vec<(String, String, bool)>,
}

impl NewCredential {
    /// A credential of `company` with no values yet.
    pub fn new(company_id: CompanyId, name: impl Into<String>, kind: impl Into<String>) -> Self {
        NewCredential {
            company_id,
            name: name.into(),
            kind: kind.into(),
            fields: Vec::new(),
        }
    }
}

pub(super) fn required_text(field: &str, value: &str, example: &str) -> Result<String> {
    let t = value.trim();
    if t.is_empty() || t.contains('\0') {
        return Err(Error::invalid(
            field,
            format!("the credential {field} is empty or holds a NUL character; give one{example}"),
        ));
    }
    Ok(t.to_string())
}

impl UseCases {
    /// Creates a credential: a name and a type, values with variable names given once each,
    /// names a company token may set (the tenant rules). Another company is NotFound for a
    /// company token.
    pub async fn create_credential(
        &self,
        caller: &Caller,
        new: NewCredential,
    ) -> Result<Credential> {
        let company = new.company_id;
        caller.check_sees(company, "company", company)?;
        let name = required_text("name", &new.name, "")?;
        let kind = required_text("type", &new.kind, " like AbraFlexi")?;
        let mut credential = Credential::new(company, name, kind);
        for (i, (k, v, secret)) in new.fields.iter().enumerate() {
            let field = format!("fields[{i}].name");
            Environment::check_variable(&field, k, v)?;
            if credential.fields.iter().any(|f| &f.name == k) {
                return Err(Error::invalid(field, format!("{k:?} is given twice")));
            }
            credential = credential.with_field(k, v, *secret);
        }
        check_credential(caller.scope, &credential)?;
        self.store.get_company(company).await?;
        let c = self.store.create_credential(&credential).await?;
        self.audit(
            caller,
            None,
            Action::CredentialCreate,
            format!(
                "credential {} \"{}\" ({}) of company {}",
                c.id, c.name, c.kind, c.company_id
            ),
        )
        .await;
        Ok(c)
    }

    /// Deletes a credential (refused while run templates use it).
    pub async fn delete_credential(&self, caller: &Caller, id: CredentialId) -> Result<Credential> {
        let c = self.store.get_credential(id).await?;
        caller.check_sees(c.company_id, "credential", id)?;
        self.store.delete_credential(id).await?;
        self.audit(
            caller,
            None,
            Action::CredentialDelete,
            format!("credential {id} \"{}\" of company {}", c.name, c.company_id),
        )
        .await;
        Ok(c)
    }
}
