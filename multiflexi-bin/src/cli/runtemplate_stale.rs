//! `run-template:stale`: active, scheduled templates whose next slot is stuck in the past.

use super::Ctx;
use super::output::{Report, opt_ts, table};
use clap::Args;
use serde_json::json;

/// `run-template:stale`.
#[derive(Debug, Args)]
pub struct StaleArgs {
    /// How many hours a next slot may lie in the past before the template is reported.
    #[arg(
        long = "tolerance-hours",
        value_name = "HOURS",
        default_value_t = 6.0,
        allow_negative_numbers = true
    )]
    pub tolerance_hours: f64,
}

/// `run-template:stale [--tolerance-hours H]`.
pub async fn stale(ctx: &Ctx, a: &StaleArgs) -> anyhow::Result<Report> {
    let stale = ctx
        .usecases()
        .await?
        .stale_templates(&ctx.caller(), a.tolerance_hours)
        .await?;
    let rows: Vec<Vec<String>> = stale
        .iter()
        .map(|t| {
            vec![
                t.id.to_string(),
                t.name.clone(),
                t.company_id.to_string(),
                opt_ts(t.next_schedule),
                opt_ts(t.last_schedule),
            ]
        })
        .collect();
    let text = if stale.is_empty() {
        "No stale run templates.".to_string()
    } else {
        table(
            &["ID", "NAME", "COMPANY", "NEXT_SCHEDULE", "LAST_SCHEDULE"],
            &rows,
        )
    };
    let items: Vec<_> = stale
        .iter()
        .map(|t| {
            json!({
                "id": t.id,
                "name": t.name,
                "company_id": t.company_id,
                "next_schedule": t.next_schedule,
                "last_schedule": t.last_schedule,
            })
        })
        .collect();
    Ok(Report::new(
        text,
        json!({ "count": items.len(), "stale": items }),
    ))
}
