//! `credential:update`: upstream's options (`--id`, `--name`, `--company-id`) and ours (`--type`,
//! values as KEY=VALUE, `--secret KEY`, `--unset KEY`). Secret values are sealed by the store
//! and printed as `***`.

use super::Ctx;
use super::args;
use super::credential::credential_json;
use super::output::Report;
use crate::usecase::credential_update::CredentialChange;
use clap::Args;
use multiflexi_core::{CompanyId, CredentialId, Error};
use serde_json::{Value, json};

/// `credential:update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The credential's id (credential:list shows them).
    #[arg(long, value_name = "ID")]
    pub id: String,
    /// A new name (unique per company).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// A new type (`AbraFlexi`, `RaiffeisenBank`, …).
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
    /// Its company, as upstream's scripts send it: only its own is accepted (a credential
    /// stays with its company).
    #[arg(long, visible_aliases = ["company_id", "company-id"], value_name = "ID")]
    pub company: Option<String>,
    /// Upstream's credential type id: refused (credentials here carry a --type word).
    #[arg(
        long = "credential-type-id",
        visible_alias = "credential_type_id",
        value_name = "ID"
    )]
    pub credential_type_id: Option<String>,
    /// Values to set, as KEY=VALUE (a key it has is replaced; a secret one stays secret).
    #[arg(value_name = "KEY=VALUE")]
    pub values: Vec<String>,
    /// Keys among the values given whose values are secret (repeat, or separate with commas).
    #[arg(long, value_name = "KEY", value_delimiter = ',')]
    pub secret: Vec<String>,
    /// Keys of values to remove (repeat, or separate with commas).
    #[arg(long, value_name = "KEY", value_delimiter = ',')]
    pub unset: Vec<String>,
}

/// `credential:update --id ID [--name N] [--type T] [KEY=VALUE…] [--secret KEY] [--unset KEY]`.
pub async fn update(ctx: &Ctx, a: &UpdateArgs) -> anyhow::Result<Report> {
    let id: CredentialId = args::id(&a.id)?;
    if let Some(t) = &a.credential_type_id {
        return Err(Error::invalid(
            "credential-type-id",
            format!(
                "credential types ({t}) are not supported by multiflexi-rs: a credential \
                 carries a type word; give --type WORD (like AbraFlexi)"
            ),
        )
        .into());
    }
    let pairs = args::pairs(&a.values, "credential value")?;
    let secret: Vec<String> = a
        .secret
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(unknown) = secret.iter().find(|s| !pairs.iter().any(|(k, _)| k == *s)) {
        return Err(Error::invalid(
            "secret",
            format!(
                "--secret names {unknown} but no {unknown}=VALUE is given; --secret marks a \
                 value given here as secret"
            ),
        )
        .into());
    }
    let change = CredentialChange {
        name: a.name.clone(),
        kind: a.kind.clone(),
        company_id: a
            .company
            .as_deref()
            .map(args::id::<CompanyId>)
            .transpose()?,
        set: pairs
            .into_iter()
            .map(|(k, v)| {
                let s = secret.contains(&k);
                (k, v, s)
            })
            .collect(),
        unset: a
            .unset
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    };
    let c = ctx
        .usecases()
        .await?
        .update_credential(&ctx.caller(), id, change)
        .await?;
    let mut j = credential_json(&c);
    if let Value::Object(m) = &mut j {
        m.insert("credential_id".into(), json!(c.id));
        m.insert("updated".into(), json!(true));
    }
    Ok(Report::new(
        format!(
            "updated credential {} \"{}\" ({}) of company {}",
            c.id, c.name, c.kind, c.company_id
        ),
        j,
    ))
}
