//! `application:show-config`: the configuration fields an app declares (its `environment`),
//! with secret defaults masked.

use super::Ctx;
use super::lookup::AppLookup;
use super::output::{Report, table};
use serde_json::{Value, json};

/// `application:show-config --id N | --uuid U | --name N`.
pub async fn show_config(ctx: &Ctx, args: &AppLookup) -> anyhow::Result<Report> {
    let app = args.find(&*ctx.store().await?).await?;
    let masked = |f: &multiflexi_core::model::EnvFieldDef| match (&f.default, f.secret) {
        (Some(_), true) => Some("***".to_string()),
        (d, _) => d.clone(),
    };
    let rows: Vec<Vec<String>> = app
        .environment
        .iter()
        .map(|f| {
            vec![
                f.name.clone(),
                f.kind.as_str().to_string(),
                if f.required { "yes" } else { "no" }.to_string(),
                if f.secret { "yes" } else { "no" }.to_string(),
                masked(f).unwrap_or_else(|| "-".into()),
                f.description.text().to_string(),
            ]
        })
        .collect();
    let text = if rows.is_empty() {
        format!(
            "app {} \"{}\" declares no configuration fields",
            app.id,
            app.display_name()
        )
    } else {
        table(
            &[
                "NAME",
                "TYPE",
                "REQUIRED",
                "SECRET",
                "DEFAULT",
                "DESCRIPTION",
            ],
            &rows,
        )
    };
    let fields: Vec<Value> = app
        .environment
        .iter()
        .map(|f| {
            json!({
                "name": f.name,
                "type": f.kind.as_str(),
                "required": f.required,
                "secret": f.secret,
                "default": masked(f),
                "description": f.description.text(),
                "options": f.options.iter().map(|(v, l)| json!({"value": v, "label": l})).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Report::new(text, Value::Array(fields)))
}
