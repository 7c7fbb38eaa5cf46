//! `run-template:clone`: a copy of a run template, inactive, as upstream's.

use super::Ctx;
use super::args::IdArg;
use super::output::Report;
use super::runtemplate::template_json;
use clap::Args;
use multiflexi_core::RunTemplateId;
use serde_json::{Value, json};

/// `run-template:clone`.
#[derive(Debug, Args)]
pub struct CloneArgs {
    #[command(flatten)]
    pub id: IdArg,
    /// The clone's name (default `<its name> Clone`).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

/// `run-template:clone --id ID [--name NAME]`.
pub async fn clone(ctx: &Ctx, a: &CloneArgs) -> anyhow::Result<Report> {
    let id: RunTemplateId = a.id.get()?;
    let saved = ctx
        .usecases()
        .await?
        .clone_template(&ctx.caller(), id, a.name.as_deref())
        .await?;
    let t = &saved.template;
    let mut j = template_json(t);
    if let Value::Object(m) = &mut j {
        m.insert("runtemplate_id".into(), json!(t.id));
        m.insert("cloned_from".into(), json!(id));
    }
    Ok(Report::new(
        format!(
            "cloned run template {id} as {} \"{}\" (inactive: review it, then run-template:update \
             --id {} --active true)",
            t.id, t.name, t.id
        ),
        j,
    ))
}
