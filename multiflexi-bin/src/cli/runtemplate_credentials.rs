//! `run-template:list-credentials`: the credentials a run template's jobs get, as upstream's
//! (`--runtemplate_id`), secret values never shown.

use super::Ctx;
use super::credential::credential_json;
use super::output::{Report, table};
use clap::Args;
use multiflexi_core::RunTemplateId;
use multiflexi_core::store::Catalog as _;
use serde_json::Value;

/// `run-template:list-credentials`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The run template.
    #[arg(value_name = "ID", required_unless_present = "template")]
    pub pos: Option<String>,
    /// The run template (same as the positional form).
    #[arg(
        long = "runtemplate_id",
        visible_aliases = ["id", "template"],
        value_name = "ID",
        conflicts_with = "pos"
    )]
    pub template: Option<String>,
}

/// `run-template:list-credentials`.
pub async fn list(ctx: &Ctx, a: &ListArgs) -> anyhow::Result<Report> {
    let raw = a.template.as_deref().or(a.pos.as_deref()).unwrap_or("");
    let id: RunTemplateId = raw.parse()?;
    let store = ctx.store().await?;
    let t = store.get_runtemplate(id).await?;
    let mut creds = Vec::with_capacity(t.credentials.len());
    for c in &t.credentials {
        creds.push(store.get_credential(*c).await?);
    }
    let rows: Vec<Vec<String>> = creds
        .iter()
        .map(|c| {
            vec![
                c.id.to_string(),
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
    let text = if rows.is_empty() {
        format!("run template {id} \"{}\" has no credentials", t.name)
    } else {
        table(&["ID", "NAME", "TYPE", "KEYS"], &rows)
    };
    Ok(Report::new(
        text,
        Value::Array(creds.iter().map(credential_json).collect()),
    ))
}
