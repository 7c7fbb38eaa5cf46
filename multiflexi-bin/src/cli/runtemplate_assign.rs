//! `run-template:assign-credential` and `run-template:unassign-credential`, as upstream's
//! (`--runtemplate_id`, `--credential_id`), through the application layer.

use super::Ctx;
use super::args;
use super::output::Report;
use clap::Args;
use multiflexi_core::{CredentialId, RunTemplateId};
use serde_json::json;

/// The template and the credential.
#[derive(Debug, Args)]
pub struct AssignArgs {
    /// The run template.
    #[arg(long = "runtemplate_id", visible_aliases = ["template", "id"], value_name = "ID")]
    pub template: String,
    /// The credential (of the template's company).
    #[arg(
        long = "credential_id",
        visible_alias = "credential",
        value_name = "ID"
    )]
    pub credential: String,
}

/// `run-template:assign-credential` (`assign`) or `unassign-credential`.
pub async fn assign(ctx: &Ctx, a: &AssignArgs, assign: bool) -> anyhow::Result<Report> {
    let template: RunTemplateId = args::id(&a.template)?;
    let credential: CredentialId = args::id(&a.credential)?;
    let saved = ctx
        .usecases()
        .await?
        .assign_credential(&ctx.caller(), template, credential, assign)
        .await?;
    let t = saved.template;
    let verb = if assign {
        "assigned to"
    } else {
        "unassigned from"
    };
    Ok(Report::new(
        format!(
            "credential {credential} {verb} run template {template} \"{}\"",
            t.name
        ),
        json!({
            "status": "ok",
            "runtemplate_id": template,
            "credential_id": credential,
            "assigned": assign,
            "credentials": t.credentials,
        }),
    ))
}
