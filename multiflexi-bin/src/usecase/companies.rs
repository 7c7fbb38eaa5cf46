//! Companies: create, update, delete, and their environment.

use super::audit::Action;
use super::text::optional_text;
use super::{Caller, UseCases};
use multiflexi_core::model::{Company, Environment};
use multiflexi_core::tenancy::check_company_env;
use multiflexi_core::{CompanyId, Error, Result};

/// A new company.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct NewCompany {
    /// Its name (unique).
    pub name: String,
    /// Its slug (unique); derived from the name when absent.
    pub slug: Option<String>,
    /// Contact e-mail (empty: none).
    pub email: Option<String>,
    /// The Zabbix host its jobs report under (empty: none).
    pub zabbix_host: Option<String>,
    /// Whether its templates run (default true).
    pub enabled: Option<bool>,
    /// Its environment.
    pub environment: Option<Environment>,
}

impl NewCompany {
    /// A company of this name, everything else by default.
    pub fn named(name: impl Into<String>) -> NewCompany {
        NewCompany {
            name: name.into(),
            ..NewCompany::default()
        }
    }
}

/// A change to a company: only what is given changes; an empty e-mail or Zabbix host clears it.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CompanyChange {
    /// New name.
    pub name: Option<String>,
    /// New slug.
    pub slug: Option<String>,
    /// New e-mail.
    pub email: Option<String>,
    /// New Zabbix host.
    pub zabbix_host: Option<String>,
    /// Whether its templates run.
    pub enabled: Option<bool>,
}

/// How to change a company's environment.
#[derive(Debug, Clone)]
pub enum EnvChange {
    /// Set these values (as secrets when `secret`).
    Set {
        /// Name and value pairs.
        values: Vec<(String, String)>,
        /// Store them encrypted, never shown.
        secret: bool,
    },
    /// Remove these variables (each must exist).
    Unset(Vec<String>),
}

impl UseCases {
    /// Creates a company (admin only).
    pub async fn create_company(&self, caller: &Caller, new: NewCompany) -> Result<Company> {
        caller.require_admin("creating companies")?;
        let mut c = Company::named(&new.name, new.slug.as_deref())?;
        c.email = new
            .email
            .as_deref()
            .map(|e| optional_text("email", e))
            .transpose()?
            .flatten();
        c.zabbix_host = new
            .zabbix_host
            .as_deref()
            .map(|z| optional_text("zabbix_host", z))
            .transpose()?
            .flatten();
        c.enabled = new.enabled.unwrap_or(true);
        if let Some(env) = new.environment {
            check_company_env(caller.scope, env.iter().map(|(k, _)| k))?;
            c.environment = env;
        }
        let c = self.store.create_company(&c).await?;
        self.audit(
            caller,
            None,
            Action::CompanyCreate,
            format!("company {} \"{}\" (slug {})", c.id, c.name, c.slug),
        )
        .await;
        Ok(c)
    }

    /// Changes a company (admin only).
    pub async fn update_company(
        &self,
        caller: &Caller,
        id: CompanyId,
        change: CompanyChange,
    ) -> Result<Company> {
        caller.check_sees(id, "company", id)?;
        caller.require_admin("changing companies")?;
        let mut c = self.store.get_company(id).await?;
        if let Some(n) = &change.name {
            c.name = Company::check_name(n)?;
        }
        if let Some(s) = &change.slug {
            c.slug = Company::check_slug(s)?;
        }
        if let Some(e) = &change.email {
            c.email = optional_text("email", e)?;
        }
        if let Some(z) = &change.zabbix_host {
            c.zabbix_host = optional_text("zabbix_host", z)?;
        }
        if let Some(e) = change.enabled {
            c.enabled = e;
        }
        let c = self.store.update_company(&c).await?;
        self.audit(
            caller,
            None,
            Action::CompanyUpdate,
            format!("company {} \"{}\"", c.id, c.name),
        )
        .await;
        Ok(c)
    }

    /// Deletes a company (admin only; refused while templates or credentials belong to it).
    pub async fn delete_company(&self, caller: &Caller, id: CompanyId) -> Result<Company> {
        caller.check_sees(id, "company", id)?;
        caller.require_admin("deleting companies")?;
        let c = self.store.get_company(id).await?;
        self.store.delete_company(id).await?;
        self.audit(
            caller,
            None,
            Action::CompanyDelete,
            format!("company {id} \"{}\"", c.name),
        )
        .await;
        Ok(c)
    }

    /// Sets or removes variables of a company's environment (admin only).
    pub async fn change_company_env(
        &self,
        caller: &Caller,
        id: CompanyId,
        change: EnvChange,
    ) -> Result<Company> {
        caller.check_sees(id, "company", id)?;
        caller.require_admin("changing a company's environment")?;
        let mut c = self.store.get_company(id).await?;
        let (action, keys) = match &change {
            EnvChange::Set { values, secret } => {
                if values.is_empty() {
                    return Err(Error::invalid(
                        "environment",
                        "no variable given; give KEY=VALUE pairs",
                    ));
                }
                check_company_env(caller.scope, values.iter().map(|(k, _)| k.as_str()))?;
                for (k, v) in values {
                    if *secret {
                        c.environment.set_secret(k, v);
                    } else {
                        c.environment.set(k, v);
                    }
                }
                let keys: Vec<&str> = values.iter().map(|(k, _)| k.as_str()).collect();
                (Action::CompanyEnvSet, keys.join(", "))
            }
            EnvChange::Unset(keys) => {
                let missing: Vec<&str> = keys
                    .iter()
                    .map(String::as_str)
                    .filter(|k| c.environment.get(k).is_none())
                    .collect();
                if keys.is_empty() || !missing.is_empty() {
                    let have: Vec<&str> = c.environment.0.keys().map(String::as_str).collect();
                    return Err(Error::invalid(
                        "environment",
                        format!(
                            "company {id} has no variable {}; it has: {}",
                            if missing.is_empty() {
                                "(none given)".to_string()
                            } else {
                                missing.join(", ")
                            },
                            if have.is_empty() {
                                "none".to_string()
                            } else {
                                have.join(", ")
                            }
                        ),
                    ));
                }
                for k in keys {
                    c.environment.remove(k);
                }
                (Action::CompanyEnvUnset, keys.join(", "))
            }
        };
        let c = self.store.update_company(&c).await?;
        self.audit(caller, None, action, format!("company {id}: {keys}"))
            .await;
        Ok(c)
    }
}
