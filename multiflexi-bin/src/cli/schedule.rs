//! `schedule:preview`: the next runs of an interval code or cron expression, in its timezone,
//! with the DST rules of the core. Needs no database.

use super::args;
use super::output::{Report, local_ts};
use clap::{ArgGroup, Args};
use multiflexi_core::Error;
use multiflexi_core::schedule::{IntervalCode, Schedule};
use serde_json::json;

/// `schedule:preview`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("expr").required(true).args(["interv", "cron"])))]
pub struct PreviewArgs {
    /// Interval code: i h d w m y (n never fires).
    #[arg(long, value_name = "CODE")]
    pub interv: Option<String>,
    /// Cron expression (5 fields: minute hour day-of-month month day-of-week).
    #[arg(long, value_name = "EXPR")]
    pub cron: Option<String>,
    /// IANA timezone (default MULTIFLEXI_TIMEZONE, else UTC).
    #[arg(long, value_name = "TZ")]
    pub timezone: Option<String>,
    /// Seconds added to each slot.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub delay: u32,
    /// Start after this instant (RFC 3339; default now).
    #[arg(long, value_name = "RFC3339")]
    pub from: Option<String>,
    /// How many runs to show.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub count: usize,
}

/// `schedule:preview`.
pub fn preview(a: &PreviewArgs) -> anyhow::Result<Report> {
    let (interv, cron) = match (&a.interv, &a.cron) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid("cron", "give either --interv or --cron, not both").into());
        }
        (Some(i), None) => (i.parse::<IntervalCode>()?, None),
        (None, Some(c)) => (IntervalCode::Custom, Some(c.as_str())),
        (None, None) => {
            return Err(Error::invalid("interv", "give --interv CODE or --cron EXPR").into());
        }
    };
    let tz = a.timezone.clone().unwrap_or_else(|| {
        std::env::var("MULTIFLEXI_TIMEZONE")
            .ok()
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| "UTC".into())
    });
    let schedule = Schedule::new(interv, cron, &tz, a.delay)?;
    let from = match &a.from {
        Some(f) => args::instant(f, "from")?,
        None => chrono::Utc::now(),
    };
    let zone = schedule.timezone();
    let runs: Vec<String> = schedule
        .iter_after(from)
        .take(a.count)
        .map(|slot| local_ts(schedule.due_at(slot), &zone))
        .collect();
    let mut text = String::new();
    for r in &runs {
        text.push_str(r);
        text.push('\n');
    }
    if runs.is_empty() && interv == IntervalCode::Disabled {
        text.push_str("(interval n never fires: the template runs on demand only)\n");
    }
    Ok(Report::new(
        text,
        json!({
            "schedule": schedule.describe(),
            "expression": schedule.expression(),
            "timezone": zone.name(),
            "delay": a.delay,
            "from": local_ts(from, &zone),
            "runs": runs,
        }),
    ))
}
