//! Changing a credential (upstream's `credential:update`): its name, type and values. Secret
//! values stay secret (a value set again under a secret name is secret whether or not the
//! caller says so) and sealed by the store; no value is ever audited.

use super::audit::Action;
use super::credentials::required_text;
use super::{Caller, UseCases};
use multiflexi_core::model::{Credential, CredentialField, Environment};
use multiflexi_core::tenancy::check_credential;
use multiflexi_core::{CompanyId, CredentialId, Error, Result};

/// What `credential:update` is given; `None` and empty lists leave a part alone.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CredentialChange {
    /// A new name (unique per company).
    pub name: Option<String>,
    /// A new type.
    pub kind: Option<String>,
    /// Its company as the caller believes it (only its own: a credential stays with its company).
    pub company_id: Option<CompanyId>,
    /// Values to set: name, value, whether secret. A name it has is replaced in place (a secret
    /// stays secret); a new one is appended.
    pub set: Vec<(String, String, bool)>,
    /// Names of values to remove.
    pub unset: Vec<String>,
}

impl UseCases {
    /// Changes a credential (one audit row naming what changed, never a value). Another
    /// company's credential is NotFound; another company is InvalidInput (`company_id`); a name
    /// another credential of the company has is AlreadyExists; value names follow the tenant
    /// rules as on create.
    pub async fn update_credential(
        &self,
        caller: &Caller,
        id: CredentialId,
        change: CredentialChange,
    ) -> Result<Credential> {
        let mut c = self.store.get_credential(id).await?;
        caller.check_sees(c.company_id, "credential", id)?;
        if let Some(company) = change.company_id.filter(|co| *co != c.company_id) {
            return Err(Error::invalid(
                "company_id",
                format!(
                    "credential {id} belongs to company {}, not {company}; a credential stays \
                     with its company (credential:create --company {company} makes one there)",
                    c.company_id
                ),
            ));
        }
        if change.name.is_none()
            && change.kind.is_none()
            && change.set.is_empty()
            && change.unset.is_empty()
        {
            return Err(Error::invalid(
                "credential",
                "nothing to change: give a new --name, --type, values as KEY=VALUE (--secret KEY \
                 for secret ones) or --unset KEY",
            ));
        }
        let mut changed = Vec::new();
        if let Some(name) = &change.name {
            c.name = required_text("name", name, "")?;
            changed.push("name".to_string());
        }
        if let Some(kind) = &change.kind {
            c.kind = required_text("type", kind, " like AbraFlexi")?;
            changed.push("type".to_string());
        }
        for (i, key) in change.unset.iter().enumerate() {
            let before = c.fields.len();
            c.fields.retain(|f| f.name != *key);
            if c.fields.len() == before {
                let names: Vec<&str> = c.fields.iter().map(|f| f.name.as_str()).collect();
                return Err(Error::invalid(
                    format!("unset[{i}]"),
                    format!(
                        "credential {id} has no value {key:?}; its values: {}",
                        if names.is_empty() {
                            "none".to_string()
                        } else {
                            names.join(", ")
                        }
                    ),
                ));
            }
            changed.push(format!("removed {key}"));
        }
        for (i, (k, v, secret)) in change.set.iter().enumerate() {
            let field = format!("fields[{i}].name");
            Environment::check_variable(&field, k, v)?;
            if change.set[..i].iter().any(|(other, _, _)| other == k) {
                return Err(Error::invalid(field, format!("{k:?} is given twice")));
            }
            match c.fields.iter_mut().find(|f| f.name == *k) {
                Some(f) => {
                    f.value.clone_from(v);
                    f.secret |= *secret;
                    changed.push(format!("set {k}"));
                }
                None => {
                    c.fields.push(CredentialField {
                        name: k.clone(),
                        value: v.clone(),
                        secret: *secret,
                    });
                    changed.push(format!("added {k}"));
                }
            }
        }
        check_credential(caller.scope, &c)?;
        let c = self.store.update_credential(&c).await?;
        self.audit(
            caller,
            None,
            Action::CredentialUpdate,
            format!(
                "credential {id} \"{}\" ({}) of company {}: {}",
                c.name,
                c.kind,
                c.company_id,
                changed.join(", ")
            ),
        )
        .await;
        Ok(c)
    }
}
