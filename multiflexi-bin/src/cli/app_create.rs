//! `application:create`: an app from a few fields, as upstream's.

use super::Ctx;
use super::app::app_json;
use super::output::Report;
use crate::usecase::app_create::NewApp;
use clap::Args;
use serde_json::Value;

/// `application:create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Its name (unique).
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// The program to run: a path, or a name on PATH.
    #[arg(long, value_name = "PROGRAM")]
    pub executable: String,
    /// Its uuid (unique).
    #[arg(long, value_name = "UUID")]
    pub uuid: Option<String>,
    /// What it does.
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// Its tags, comma-separated.
    #[arg(long, visible_alias = "tags", value_name = "A,B")]
    pub topics: Option<String>,
    /// Whether run templates may use it: enabled (the default) or disabled.
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,
}

/// `application:create --name N --executable E [--uuid U] [--description D] [--topics A,B]
/// [--status enabled|disabled]`.
pub async fn create(ctx: &Ctx, a: &CreateArgs) -> anyhow::Result<Report> {
    let mut new = NewApp::new(a.name.clone(), a.executable.clone());
    new.uuid = a.uuid.clone();
    new.description = a.description.clone();
    new.disabled = !a
        .status
        .as_deref()
        .map(super::args::app_status)
        .transpose()?
        .unwrap_or(true);
    new.tags = a
        .topics
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let imported = ctx.usecases().await?.create_app(&ctx.caller(), new).await?;
    let mut text = String::new();
    for w in &imported.warnings {
        text.push_str(&format!("warning: {w}\n"));
    }
    text.push_str(&format!(
        "created app {} \"{}\"",
        imported.app.id,
        imported.app.display_name()
    ));
    let mut json = app_json(&imported.app);
    if let Value::Object(m) = &mut json {
        m.insert(
            "warnings".into(),
            Value::Array(
                imported
                    .warnings
                    .iter()
                    .map(|w| serde_json::json!({ "path": w.path, "kind": w.kind.as_str(), "message": w.message }))
                    .collect(),
            ),
        );
    }
    Ok(Report::new(text, json))
}
