//! `job:stats`: a run template's or an app's job statistics over the last N days — counts by
//! outcome and exit code, duration, queue-wait and peak-memory percentiles, per UTC day — as
//! text or as JSON (the API's `GET /runtemplate/{id}/stats` shape).

use super::Ctx;
use super::args;
use super::output::{Report, fields, table};
use crate::http::api::stats::stats_json;
use crate::usecase::stats::DEFAULT_DAYS;
use clap::Args;
use multiflexi_core::store::log_histogram::RELATIVE_ERROR;
use multiflexi_core::store::{Aggregate, EXACT_PERCENTILES_UP_TO, Percentiles, StatsSubject};
use multiflexi_core::{AppId, RunTemplateId};

/// `job:stats`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("subject").required(true).args(["template", "app"])))]
pub struct StatsArgs {
    /// The run template whose jobs are counted.
    #[arg(long = "template", visible_alias = "runtemplate_id", value_name = "ID")]
    pub template: Option<String>,
    /// The app whose jobs (under every template) are counted.
    #[arg(long = "app", visible_alias = "app_id", value_name = "ID")]
    pub app: Option<String>,
    /// Jobs that ended in the last N days (1 to 366).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_DAYS)]
    pub days: u32,
    /// List the last N finished jobs one by one too (0 to 1000).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub last: u32,
}

/// "≈" before approximate percentiles (read from histograms), else nothing.
fn mark(approximate: bool) -> &'static str {
    if approximate { "≈" } else { "" }
}

/// p50, p90 and p99 of `p`, each divided by `scale` and shown with three decimals and `unit`,
/// each after `m` ([`mark`]).
fn pcts(p: Option<Percentiles>, scale: f64, unit: &str, m: &str) -> String {
    p.map_or("-".into(), |p| {
        format!(
            "p50 {m}{:.3}{unit}, p90 {m}{:.3}{unit}, p99 {m}{:.3}{unit} ({} job{})",
            p.p50 / scale,
            p.p90 / scale,
            p.p99 / scale,
            p.count,
            if p.count == 1 { "" } else { "s" }
        )
    })
}

/// Bytes in a MiB (peak memory is shown in MiB; `--format json` keeps bytes).
const MIB: f64 = 1024.0 * 1024.0;

fn counts(a: &Aggregate) -> (String, String) {
    let join = |v: Vec<String>| {
        if v.is_empty() {
            "-".into()
        } else {
            v.join(", ")
        }
    };
    (
        join(
            a.by_outcome()
                .iter()
                .map(|(o, n)| format!("{o} {n}"))
                .collect(),
        ),
        join(
            a.by_exitcode()
                .iter()
                .map(|(c, n)| format!("{} {n}", c.map_or("none".into(), |c| c.to_string())))
                .collect(),
        ),
    )
}

/// `job:stats`.
pub async fn stats(ctx: &Ctx, a: &StatsArgs) -> anyhow::Result<Report> {
    let subject = match (&a.template, &a.app) {
        (Some(t), _) => StatsSubject::Template(args::id::<RunTemplateId>(t)?),
        (None, Some(app)) => StatsSubject::App(args::id::<AppId>(app)?),
        (None, None) => anyhow::bail!("give --template ID or --app ID"),
    };
    let s = ctx
        .usecases()
        .await?
        .job_stats(&ctx.caller(), subject, a.days, a.last)
        .await?;
    let total = &s.stats.total;
    let (by_outcome, by_exitcode) = counts(total);
    let m = mark(s.stats.approximate);
    let what = match s.subject {
        StatsSubject::Template(t) => format!("run template {t} \"{}\"", s.name),
        StatsSubject::App(app) => format!("app {app} \"{}\"", s.name),
    };
    let mut text = fields(&[
        ("subject", what),
        (
            "window",
            format!("{} days (jobs that ended since {})", s.days, s.since),
        ),
        ("jobs", total.jobs().to_string()),
        ("by outcome", by_outcome),
        ("by exit code", by_exitcode),
        ("duration", pcts(total.duration, 1.0, " s", m)),
        ("queue wait", pcts(total.queue_wait, 1.0, " s", m)),
        ("peak memory", pcts(total.peak_memory, MIB, " MiB", m)),
    ]);
    if s.stats.approximate {
        text += &format!(
            "(≈: percentiles of more than {EXACT_PERCENTILES_UP_TO} jobs, from per-hour histograms, within {} % of the exact values; counts are exact)\n",
            RELATIVE_ERROR * 100.0
        );
    }
    if !s.stats.days.is_empty() {
        let rows: Vec<Vec<String>> = s
            .stats
            .days
            .iter()
            .map(|d| {
                let (o, _) = counts(&d.stats);
                let p50 =
                    |p: Option<Percentiles>| p.map_or("-".into(), |p| format!("{m}{:.3}", p.p50));
                vec![
                    d.day.to_string(),
                    d.stats.jobs().to_string(),
                    o,
                    p50(d.stats.duration),
                    p50(d.stats.queue_wait),
                ]
            })
            .collect();
        text.push('\n');
        text += &table(
            &["DAY", "JOBS", "OUTCOMES", "DURATION P50 S", "WAIT P50 S"],
            &rows,
        );
    }
    if !s.stats.last.is_empty() {
        let rows: Vec<Vec<String>> = s
            .stats
            .last
            .iter()
            .map(|p| {
                let secs = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.3}"));
                vec![
                    p.id.to_string(),
                    p.end.to_rfc3339(),
                    p.outcome.to_string(),
                    p.exitcode.map_or("-".into(), |c| c.to_string()),
                    secs(p.duration),
                    secs(p.queue_wait),
                ]
            })
            .collect();
        text.push('\n');
        text += &table(
            &["JOB", "END", "OUTCOME", "EXIT", "DURATION S", "WAIT S"],
            &rows,
        );
    }
    Ok(Report::new(text, stats_json(&s)))
}
