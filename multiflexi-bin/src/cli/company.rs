//! `company:*`: companies and their environment.

use super::Ctx;
use super::args::{self, IdArg};
use super::output::{Report, fields, opt_ts, or_dash, table};
use crate::usecase::companies::{CompanyChange, EnvChange, NewCompany};
use clap::Args;
use multiflexi_core::CompanyId;
use multiflexi_core::model::{Company, Environment};
use multiflexi_core::store::Catalog as _;
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

/// `company:erase`.
#[derive(Debug, Args)]
pub struct EraseArgs {
    #[command(flatten)]
    pub id: IdArg,
    /// Confirm: everything stored under this company id is deleted for good.
    #[arg(long)]
    pub yes: bool,
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
    let mut new = NewCompany::named(&a.name);
    new.slug.clone_from(&a.slug);
    new.email.clone_from(&a.email);
    new.zabbix_host.clone_from(&a.zabbix_host);
    new.enabled = a
        .enabled
        .as_deref()
        .map(|e| args::boolean(e, "enabled"))
        .transpose()?;
    let c = ctx
        .usecases()
        .await?
        .create_company(&ctx.caller(), new)
        .await?;
    Ok(Report::new(
        format!("created company {} \"{}\" (slug {})", c.id, c.name, c.slug),
        company_json(&c),
    ))
}

/// `company:update`.
pub async fn update(ctx: &Ctx, a: &UpdateArgs) -> anyhow::Result<Report> {
    let id: CompanyId = a.id.get()?;
    let mut change = CompanyChange::default();
    change.name.clone_from(&a.name);
    change.slug.clone_from(&a.slug);
    change.email.clone_from(&a.email);
    change.zabbix_host.clone_from(&a.zabbix_host);
    change.enabled = a
        .enabled
        .as_deref()
        .map(|e| args::boolean(e, "enabled"))
        .transpose()?;
    let c = ctx
        .usecases()
        .await?
        .update_company(&ctx.caller(), id, change)
        .await?;
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
pub async fn get(ctx: &Ctx, a: &super::lookup::CompanyLookup) -> anyhow::Result<Report> {
    let c = a.find(&*ctx.store().await?).await?;
    Ok(Report::new(company_text(&c), company_json(&c)))
}

/// `company:delete`.
pub async fn delete(ctx: &Ctx, a: &IdArg) -> anyhow::Result<Report> {
    let id: CompanyId = a.get()?;
    let c = ctx
        .usecases()
        .await?
        .delete_company(&ctx.caller(), id)
        .await?;
    Ok(Report::new(
        format!("deleted company {id} \"{}\"", c.name),
        json!({ "deleted": { "company_id": id } }),
    ))
}

/// `company:env-set`.
pub async fn env_set(ctx: &Ctx, a: &EnvSetArgs) -> anyhow::Result<Report> {
    let id: CompanyId = args::id(&a.id)?;
    let values = args::pairs(&a.values, "environment")?;
    let keys: Vec<String> = values.iter().map(|(k, _)| k.clone()).collect();
    let change = EnvChange::Set {
        values,
        secret: a.secret,
    };
    let c = ctx
        .usecases()
        .await?
        .change_company_env(&ctx.caller(), id, change)
        .await?;
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
    let c = ctx
        .usecases()
        .await?
        .change_company_env(&ctx.caller(), id, EnvChange::Unset(a.keys.clone()))
        .await?;
    Ok(Report::new(
        format!("company {id}: removed {}", a.keys.join(", ")),
        company_json(&c),
    ))
}

/// `company:erase`.
pub async fn erase(ctx: &Ctx, a: &EraseArgs) -> anyhow::Result<Report> {
    let id: CompanyId = a.id.get()?;
    if !a.yes {
        anyhow::bail!(
            "company:erase deletes every job, artifact, output, template and credential of \
             company {id} and the company itself, for good; give --yes to confirm"
        );
    }
    let e = ctx
        .usecases()
        .await?
        .erase_company(&ctx.caller(), id)
        .await?;
    Ok(Report::new(
        format!(
            "erased company {id}: {} job(s), {} artifact(s), {} output chunk(s), {} template(s), \
             {} credential(s){}\n",
            e.jobs,
            e.artifacts,
            e.output_chunks,
            e.templates,
            e.credentials,
            if e.company {
                ", the company"
            } else {
                " (the company row was already gone)"
            }
        ),
        json!({
            "erased": {
                "company_id": id,
                "jobs": e.jobs,
                "artifacts": e.artifacts,
                "output_chunks": e.output_chunks,
                "templates": e.templates,
                "credentials": e.credentials,
                "company": e.company,
            }
        }),
    ))
}
