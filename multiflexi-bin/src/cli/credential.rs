//! `credential:*`: named sets of values (API logins, tokens) belonging to a company. Secret values
//! are never printed: they show as `***`.

use super::Ctx;
use super::args::{self, IdArg};
use super::output::{Report, fields, table};
use crate::usecase::credentials::NewCredential;
use clap::Args;
use multiflexi_core::model::Credential;
use multiflexi_core::store::Catalog as _;
use multiflexi_core::{CompanyId, CredentialId, Error};
use serde_json::{Value, json};

/// `credential:create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The company that owns it.
    #[arg(long, visible_aliases = ["company_id", "company-id"], value_name = "ID")]
    pub company: String,
    /// Its name (unique per company).
    #[arg(long)]
    pub name: String,
    /// The credential type (`AbraFlexi`, `RaiffeisenBank`, …).
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: String,
    /// Its values, as KEY=VALUE.
    #[arg(value_name = "KEY=VALUE")]
    pub values: Vec<String>,
    /// Keys whose values are secret (repeat, or separate with commas).
    #[arg(long, value_name = "KEY", value_delimiter = ',')]
    pub secret: Vec<String>,
}

/// `credential:list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this company's.
    #[arg(long, visible_aliases = ["company_id", "company-id"], value_name = "ID")]
    pub company: Option<String>,
}

/// The credential as JSON, secret values as `***`.
pub fn credential_json(c: &Credential) -> Value {
    json!({
        "id": c.id,
        "company_id": c.company_id,
        "name": c.name,
        "type": c.kind,
        "fields": c.fields.iter().map(|f| json!({
            "name": f.name,
            "value": if f.secret { "***" } else { f.value.as_str() },
            "secret": f.secret,
        })).collect::<Vec<_>>(),
    })
}

fn credential_text(c: &Credential) -> String {
    let mut text = fields(&[
        ("id", c.id.to_string()),
        ("company", c.company_id.to_string()),
        ("name", c.name.clone()),
        ("type", c.kind.clone()),
    ]);
    if c.fields.is_empty() {
        text.push_str("values: (none)\n");
    } else {
        text.push_str("values:\n");
        for f in &c.fields {
            if f.secret {
                text.push_str(&format!("  {}=*** (secret)\n", f.name));
            } else {
                text.push_str(&format!("  {}={}\n", f.name, f.value));
            }
        }
    }
    text
}

/// `credential:create`.
pub async fn create(ctx: &Ctx, a: &CreateArgs) -> anyhow::Result<Report> {
    let company: CompanyId = args::id(&a.company)?;
    let pairs = args::pairs(&a.values, "credential value")?;
    let secret: Vec<String> = a
        .secret
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let unknown: Vec<&str> = secret
        .iter()
        .map(String::as_str)
        .filter(|s| !pairs.iter().any(|(k, _)| k == s))
        .collect();
    if !unknown.is_empty() {
        let given: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        return Err(Error::invalid(
            "secret",
            format!(
                "--secret names {} but no such KEY=VALUE is given; given keys: {}",
                unknown.join(", "),
                if given.is_empty() {
                    "none".to_string()
                } else {
                    given.join(", ")
                }
            ),
        )
        .into());
    }
    let mut new = NewCredential::new(company, &a.name, &a.kind);
    new.fields = pairs
        .into_iter()
        .map(|(k, v)| {
            let secret = secret.contains(&k);
            (k, v, secret)
        })
        .collect();
    let c = ctx
        .usecases()
        .await?
        .create_credential(&ctx.caller(), new)
        .await?;
    Ok(Report::new(
        format!(
            "created credential {} \"{}\" ({}) for company {}",
            c.id, c.name, c.kind, c.company_id
        ),
        credential_json(&c),
    ))
}

/// `credential:list`.
pub async fn list(ctx: &Ctx, a: &ListArgs) -> anyhow::Result<Report> {
    let company: Option<CompanyId> = a.company.as_deref().map(args::id).transpose()?;
    let store = ctx.store().await?;
    if let Some(c) = company {
        store.get_company(c).await?;
    }
    let creds = store.list_credentials(company).await?;
    let rows: Vec<Vec<String>> = creds
        .iter()
        .map(|c| {
            vec![
                c.id.to_string(),
                c.company_id.to_string(),
                c.name.clone(),
                c.kind.clone(),
                c.fields
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    Ok(Report::new(
        table(&["ID", "COMPANY", "NAME", "TYPE", "KEYS"], &rows),
        Value::Array(creds.iter().map(credential_json).collect()),
    ))
}

/// `credential:get`.
pub async fn get(ctx: &Ctx, a: &IdArg) -> anyhow::Result<Report> {
    let id: CredentialId = a.get()?;
    let c = ctx.store().await?.get_credential(id).await?;
    Ok(Report::new(credential_text(&c), credential_json(&c)))
}

/// `credential:delete`.
pub async fn delete(ctx: &Ctx, a: &IdArg) -> anyhow::Result<Report> {
    let id: CredentialId = a.get()?;
    let c = ctx
        .usecases()
        .await?
        .delete_credential(&ctx.caller(), id)
        .await?;
    Ok(Report::new(
        format!("deleted credential {id} \"{}\"", c.name),
        json!({ "deleted": { "credential_id": id } }),
    ))
}
