//! `company:*`: companies and their environment.

use super::args::{self, IdArg};
use super::output::{Report, fields, opt_ts, or_dash, table};
use super::{Ctx, audit};
use clap::Args;
use multiflexi_core::model::{Company, Environment};
use multiflexi_core::store::Catalog as _;
use multiflexi_core::store::TokenScope;
use multiflexi_core::tenancy::check_company_env;
use multiflexi_core::{CompanyId, Error};
use serde_json::{Value, json};

/// `company:create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Its name (unique, case-sensitive).
    #[arg(long)]
    pub name: String,
    /// URL-safe short name (unique); derived from the name when absent.
    #[arg(long)]
    pub slug: Option<String>,
    /// Contact e-mail.
    #[arg(long)]
    pub email: Option<String>,
    /// The Zabbix host its jobs report under.
    #[arg(long)]
    pub zabbix_host: Option<String>,
    /// Whether its templates run (true/false; default true).
    #[arg(long, value_name = "BOOL")]
    pub enabled: Option<String>,
}

/// `company:update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub id: IdArg,
    /// New name.
    #[arg(long)]
    pub name: Option<String>,
    /// New slug.
    #[arg(long)]
    pub slug: Option<String>,
    /// New e-mail (empty to clear).
    #[arg(long)]
    pub email: Option<String>,
    /// New Zabbix host (empty to clear).
    #[arg(long)]
    pub zabbix_host: Option<String>,
    /// Whether its templates run (true/false).
    #[arg(long, value_name = "BOOL")]
    pub enabled: Option<String>,
}

/// `company:env-set`.
#[derive(Debug, Args)]
pub struct EnvSetArgs {
    /// The company.
    #[arg(long, value_name = "ID")]
    pub id: String,
    /// Values to set, as KEY=VALUE.
    #[arg(value_name = "KEY=VALUE", required = true)]
    pub values: Vec<String>,
    /// Store these values as secrets (encrypted at rest, never printed).
    #[arg(long)]
    pub secret: bool,
}

/// `company:env-unset`.
#[derive(Debug, Args)]
pub struct EnvUnsetArgs {
    /// The company.
    #[arg(long, value_name = "ID")]
    pub id: String,
    /// Variables to remove.
    #[arg(value_name = "KEY", required = true)]
    pub keys: Vec<String>,
}

fn check_slug(slug: &str) -> anyhow::Result<String> {
    let s = slug.trim();
    if s.is_empty()
        || !s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Err(Error::invalid(
            "slug",
            format!("{slug:?} is not a slug; use lower-case letters, digits, - and _"),
        )
        .into());
    }
    Ok(s.to_string())
}

fn check_name(name: &str) -> anyhow::Result<String> {
    let n = name.trim();
    if n.is_empty() {
        return Err(Error::invalid("name", "the company name is empty; give a name").into());
    }
    Ok(n.to_string())
}

fn empty_to_none(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

/// The environment as JSON, secret values redacted.
pub fn env_json(env: &Environment) -> Value {
    serde_json::to_value(env.redacted()).unwrap_or(Value::Null)
}

/// The environment as text lines, secret values redacted.
pub fn env_text(env: &Environment, indent: &str) -> String {
    env.0
        .iter()
        .map(|(k, v)| {
            if v.secret {
                format!("{indent}{k}=*** (secret)\n")
            } else {
                format!("{indent}{k}={}\n", v.value)
            }
        })
        .collect()
}

/// The company as JSON (secrets redacted).
pub fn company_json(c: &Company) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "slug": c.slug,
        "email": c.email,
        "zabbix_host": c.zabbix_host,
        "enabled": c.enabled,
        "environment": env_json(&c.environment),
        "created": c.created,
        "updated": c.updated,
    })
}

fn company_text(c: &Company) -> String {
    let mut text = fields(&[
        ("id", c.id.to_string()),
        ("name", c.name.clone()),
        ("slug", c.slug.clone()),
        ("email", or_dash(c.email.as_deref())),
        ("zabbix host", or_dash(c.zabbix_host.as_deref())),
        ("enabled", c.enabled.to_string()),
        ("created", opt_ts(c.created)),
        ("updated", opt_ts(c.updated)),
    ]);
    if c.environment.is_empty() {
        text.push_str("environment: (none)\n");
    } else {
        text.push_str("environment:\n");
        text.push_str(&env_text(&c.environment, "  "));
    }
    text
}

/// `company:create`.
pub async fn create(ctx: &Ctx, a: &CreateArgs) -> anyhow::Result<Report> {
    let mut company = Company::new(check_name(&a.name)?);
    if let Some(slug) = &a.slug {
        company.slug = check_slug(slug)?;
    }
    if company.slug.is_empty() {
        return Err(Error::invalid(
            "slug",
            format!(
                "no slug can be derived from {:?}; give one with --slug",
                company.name
            ),
        )
        .into());
    }
    company.email = a.email.as_deref().and_then(empty_to_none);
    company.zabbix_host = a.zabbix_host.as_deref().and_then(empty_to_none);
    if let Some(e) = &a.enabled {
        company.enabled = args::boolean(e, "enabled")?;
    }
    let store = ctx.store().await?;
    let c = store.create_company(&company).await?;
    audit(
        &*store,
        "company:create",
        format!("company {} \"{}\"", c.id, c.name),
    )
    .await;
    Ok(Report::new(
        format!("created company {} \"{}\" (slug {})", c.id, c.name, c.slug),
        company_json(&c),
    ))
}

/// `company:update`.
pub async fn update(ctx: &Ctx, a: &UpdateArgs) -> anyhow::Result<Report> {
    let id: CompanyId = a.id.get()?;
    let store = ctx.store().await?;
    let mut c = store.get_company(id).await?;
    if let Some(n) = &a.name {
        c.name = check_name(n)?;
    }
    if let Some(s) = &a.slug {
        c.slug = check_slug(s)?;
    }
    if let Some(e) = &a.email {
        c.email = empty_to_none(e);
    }
    if let Some(z) = &a.zabbix_host {
        c.zabbix_host = empty_to_none(z);
    }
    if let Some(e) = &a.enabled {
        c.enabled = args::boolean(e, "enabled")?;
    }
    let c = store.update_company(&c).await?;
    audit(
        &*store,
        "company:update",
        format!("company {} \"{}\"", c.id, c.name),
    )
    .await;
    Ok(Report::new(
        format!("updated company {} \"{}\"", c.id, c.name),
        company_json(&c),
    ))
}

/// `company:list`.
pub async fn list(ctx: &Ctx) -> anyhow::Result<Report> {
    let companies = ctx.store().await?.list_companies().await?;
    let rows: Vec<Vec<String>> = companies
        .iter()
        .map(|c| {
            vec![
                c.id.to_string(),
                c.name.clone(),
                c.slug.clone(),
                or_dash(c.email.as_deref()),
                c.enabled.to_string(),
                c.environment.len().to_string(),
            ]
        })
        .collect();
    Ok(Report::new(
        table(&["ID", "NAME", "SLUG", "EMAIL", "ENABLED", "ENV"], &rows),
        Value::Array(companies.iter().map(company_json).collect()),
    ))
}

/// `company:get`.
pub async fn get(ctx: &Ctx, a: &IdArg) -> anyhow::Result<Report> {
    let id: CompanyId = a.get()?;
    let c = ctx.store().await?.get_company(id).await?;
    Ok(Report::new(company_text(&c), company_json(&c)))
}

/// `company:delete`.
pub async fn delete(ctx: &Ctx, a: &IdArg) -> anyhow::Result<Report> {
    let id: CompanyId = a.get()?;
    let store = ctx.store().await?;
    let c = store.get_company(id).await?;
    store.delete_company(id).await?;
    audit(
        &*store,
        "company:delete",
        format!("company {id} \"{}\"", c.name),
    )
    .await;
    Ok(Report::new(
        format!("deleted company {id} \"{}\"", c.name),
        json!({ "deleted": { "company_id": id } }),
    ))
}

/// `company:env-set`.
pub async fn env_set(ctx: &Ctx, a: &EnvSetArgs) -> anyhow::Result<Report> {
    let id: CompanyId = args::id(&a.id)?;
    let pairs = args::pairs(&a.values, "environment")?;
    check_company_env(TokenScope::Admin, pairs.iter().map(|(k, _)| k.as_str()))?;
    let store = ctx.store().await?;
    let mut c = store.get_company(id).await?;
    for (k, v) in &pairs {
        if a.secret {
            c.environment.set_secret(k, v);
        } else {
            c.environment.set(k, v);
        }
    }
    let c = store.update_company(&c).await?;
    let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    audit(
        &*store,
        "company:env-set",
        format!("company {id}: {}", keys.join(", ")),
    )
    .await;
    Ok(Report::new(
        format!(
            "company {id}: set {}{}",
            keys.join(", "),
            if a.secret { " (secret)" } else { "" }
        ),
        company_json(&c),
    ))
}

/// `company:env-unset`.
pub async fn env_unset(ctx: &Ctx, a: &EnvUnsetArgs) -> anyhow::Result<Report> {
    let id: CompanyId = args::id(&a.id)?;
    let store = ctx.store().await?;
    let mut c = store.get_company(id).await?;
    let missing: Vec<&str> = a
        .keys
        .iter()
        .map(String::as_str)
        .filter(|k| c.environment.get(k).is_none())
        .collect();
    if !missing.is_empty() {
        let have: Vec<&str> = c.environment.0.keys().map(String::as_str).collect();
        return Err(Error::invalid(
            "environment",
            format!(
                "company {id} has no variable {}; it has: {}",
                missing.join(", "),
                if have.is_empty() {
                    "none".to_string()
                } else {
                    have.join(", ")
                }
            ),
        )
        .into());
    }
    for k in &a.keys {
        c.environment.remove(k);
    }
    let c = store.update_company(&c).await?;
    audit(
        &*store,
        "company:env-unset",
        format!("company {id}: {}", a.keys.join(", ")),
    )
    .await;
    Ok(Report::new(
        format!("company {id}: removed {}", a.keys.join(", ")),
        company_json(&c),
    ))
}
