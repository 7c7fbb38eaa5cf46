//! The trends of a run template's or an app's page (its last jobs, and per day over 30 or 90
//! days: run time, queue wait, peak memory, outcomes stacked by exit-code class, the
//! template's limits drawn in) and the overview's jobs per hour: charts ([`super::super::charts`])
//! with a table of the same numbers beside each.

use super::super::charts::{
    Bar, Column, Limit, Meta, Part, Spread, bar_chart, spread_chart, stacked_chart,
};
use super::super::layout;
use crate::usecase::stats::SubjectStats;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use maud::{Markup, html};
use multiflexi_core::Outcome;
use multiflexi_core::exit_code::classify;
use multiflexi_core::store::log_histogram::RELATIVE_ERROR;
use multiflexi_core::store::{
    Aggregate, EXACT_PERCENTILES_UP_TO, HourCount, JobPoint, Percentiles, hour_of,
};
use serde::Deserialize;

/// The windows a page offers, days.
pub(crate) const WINDOWS: [u32; 2] = [30, 90];
/// Jobs charted one by one.
pub(crate) const LAST_JOBS: u32 = 30;

const MIB: f64 = 1024.0 * 1024.0;

/// `?days=` of a template's or an app's page.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct TrendsQuery {
    #[serde(default)]
    days: Option<String>,
}

impl TrendsQuery {
    /// The window asked for: 30 or 90 days (anything else: 30).
    pub(crate) fn days(&self) -> u32 {
        self.days
            .as_deref()
            .and_then(|d| d.parse().ok())
            .filter(|d| WINDOWS.contains(d))
            .unwrap_or(WINDOWS[0])
    }
}

/// The exit-code classes in stacking order: (badge colour, name).
const CLASSES: [(&str, &str); 6] = [
    ("bg-success", "success"),
    ("bg-warning", "warning"),
    ("bg-danger", "failed"),
    ("bg-primary", "not found"),
    ("bg-info", "platform error or lost"),
    ("bg-secondary", "cancelled"),
];

fn colour(o: Outcome) -> &'static str {
    classify(o, None).colour
}

/// Jobs per exit-code class, in [`CLASSES`] order.
fn by_class(counts: impl IntoIterator<Item = (Outcome, u64)>) -> [u64; 6] {
    let mut out = [0; 6];
    for (o, n) in counts {
        if let Some(i) = CLASSES.iter().position(|(c, _)| *c == colour(o)) {
            out[i] += n;
        }
    }
    out
}

fn column(label: String, counts: [u64; 6]) -> Column {
    Column {
        label,
        parts: CLASSES
            .iter()
            .zip(counts)
            .map(|((class, name), count)| Part {
                class,
                name: (*name).to_string(),
                count,
            })
            .collect(),
    }
}

fn secs(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.3}"))
}

fn mib(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{:.1}", v / MIB))
}

/// p50 / p90 / p99, each marked "≈" when `approximate`.
fn pct(p: Option<Percentiles>, f: fn(Option<f64>) -> String, approximate: bool) -> Markup {
    let mark = if approximate { "≈" } else { "" };
    html! {
        @match p {
            Some(p) => { (mark) (f(Some(p.p50))) " / " (mark) (f(Some(p.p90))) " / " (mark) (f(Some(p.p99))) }
            None => { "—" }
        }
    }
}

fn meta<'a>(id: &'a str, title: &'a str, desc: &'a str, unit: &'a str) -> Meta<'a> {
    Meta {
        id,
        title,
        desc,
        unit,
    }
}

fn limits(s: &SubjectStats) -> (Option<Limit>, Option<Limit>) {
    (
        s.limits.timeout.filter(|t| *t > 0).map(|t| Limit {
            value: f64::from(t),
            label: format!("timeout {t} s"),
        }),
        s.limits.memory_limit_mb.filter(|m| *m > 0).map(|m| Limit {
            value: f64::from(m),
            label: format!("memory limit {m} MiB"),
        }),
    )
}

fn bars(last: &[&JobPoint], value: impl Fn(&JobPoint) -> Option<f64>) -> Vec<Bar> {
    last.iter()
        .map(|p| Bar {
            label: format!("#{}", p.id),
            value: value(p),
            class: colour(p.outcome),
            note: p.outcome.as_str().replace('_', " "),
        })
        .collect()
}

/// The last jobs: three charts and their table.
fn last_jobs(s: &SubjectStats) -> Markup {
    let (timeout, memory) = limits(s);
    // Oldest first, left to right.
    let last: Vec<&JobPoint> = s.stats.last.iter().rev().collect();
    let measured = last.iter().any(|p| p.peak_memory.is_some());
    html! {
        h3 { "The last " (last.len()) " jobs" }
        @if last.is_empty() {
            p.muted { "No finished jobs yet." }
        } @else {
            div.charts {
                figure {
                    (bar_chart(meta("chart-last-duration", "Run time of the last jobs",
                        "One bar per job, oldest on the left, coloured by its exit-code class; the dashed line is the template's timeout.", "s"),
                        &bars(&last, |p| p.duration), timeout.as_ref()))
                    figcaption { "Run time (s)" }
                }
                figure {
                    (bar_chart(meta("chart-last-wait", "Queue wait of the last jobs",
                        "One bar per job, oldest on the left: from when it was due until it started.", "s"),
                        &bars(&last, |p| p.queue_wait), None))
                    figcaption { "Queue wait (s)" }
                }
                figure {
                    (bar_chart(meta("chart-last-memory", "Peak memory of the last jobs",
                        "One bar per job, oldest on the left; the dashed line is the template's memory limit.", "MiB"),
                        &bars(&last, |p| p.peak_memory.map(|b| b as f64 / MIB)), memory.as_ref()))
                    figcaption { "Peak memory (MiB)"
                        @if !measured { " — no executor measured these jobs' memory" } }
                }
            }
            details.table-view {
                summary { "Table view: the last " (last.len()) " jobs" }
                table #trend-last {
                    caption.sr-only { "The last jobs, newest first" }
                    thead { tr {
                        th scope="col" { "Job" } th scope="col" { "Ended" } th scope="col" { "Outcome" }
                        th scope="col" { "Exit code" } th scope="col" { "Run time (s)" }
                        th scope="col" { "Queue wait (s)" } th scope="col" { "Peak memory (MiB)" }
                    } }
                    tbody {
                        @for p in &s.stats.last {
                            tr data-job-id=(p.id) {
                                td { a href={ "/jobs/" (p.id) } { "#" (p.id) } }
                                td { (layout::ts(p.end)) }
                                td { span class={ "badge " (colour(p.outcome)) } { (p.outcome.as_str().replace('_', " ")) } }
                                td.exitcode { (p.exitcode.map_or("—".into(), |c| c.to_string())) }
                                td.duration { (secs(p.duration)) }
                                td.wait { (secs(p.queue_wait)) }
                                td.memory { (mib(p.peak_memory.map(|b| b as f64))) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Every day of the window, oldest first, with its aggregate when it had jobs.
fn window_days(s: &SubjectStats, today: NaiveDate) -> Vec<(NaiveDate, Option<&Aggregate>)> {
    let first = s.since.date_naive();
    first
        .iter_days()
        .take_while(|d| *d <= today)
        .map(|d| {
            (
                d,
                s.stats.days.iter().find(|x| x.day == d).map(|x| &x.stats),
            )
        })
        .collect()
}

/// Per day: four charts and their table.
fn per_day(s: &SubjectStats, now: DateTime<Utc>) -> Markup {
    let (timeout, memory) = limits(s);
    let days = window_days(s, now.date_naive());
    let label = |d: NaiveDate| d.format("%m-%d").to_string();
    let columns: Vec<Column> = days
        .iter()
        .map(|(d, a)| {
            column(
                label(*d),
                by_class(a.map(|a| a.by_outcome()).unwrap_or_default()),
            )
        })
        .collect();
    let spreads = |f: fn(&Aggregate) -> Option<Percentiles>, scale: f64| -> Vec<Spread> {
        days.iter()
            .map(|(d, a)| Spread {
                label: label(*d),
                p: a.and_then(f).map(|p| p.scaled(scale)),
            })
            .collect()
    };
    html! {
        h3 { "Per day, the last " (s.days) " days (UTC)" }
        div.charts {
            figure {
                (stacked_chart(meta("chart-day-outcomes", "Jobs per day by exit-code class",
                    "One column per day, stacked by exit-code class in the badges' colours: success, warning, failed, not found, platform error or lost, cancelled.", "jobs"),
                    &columns))
                figcaption { "Outcomes "
                    @for (class, name) in CLASSES { span class={ "badge " (class) } { (name) } " " } }
            }
            figure {
                (spread_chart(meta("chart-day-duration", "Run time per day",
                    "Per day: the bar reaches the median, the tick marks the 90th percentile, the line reaches the 99th; the dashed line is the template's timeout.", "s"),
                    &spreads(|a| a.duration, 1.0), timeout.as_ref()))
                figcaption { "Run time (s): p50 bar, p90 tick, p99 line" }
            }
            figure {
                (spread_chart(meta("chart-day-wait", "Queue wait per day",
                    "Per day: the bar reaches the median, the tick marks the 90th percentile, the line reaches the 99th.", "s"),
                    &spreads(|a| a.queue_wait, 1.0), None))
                figcaption { "Queue wait (s)" }
            }
            figure {
                (spread_chart(meta("chart-day-memory", "Peak memory per day",
                    "Per day: the bar reaches the median, the tick marks the 90th percentile, the line reaches the 99th; the dashed line is the template's memory limit.", "MiB"),
                    &spreads(|a| a.peak_memory, 1.0 / MIB), memory.as_ref()))
                figcaption { "Peak memory (MiB)" }
            }
        }
        details.table-view {
            summary { "Table view: per day" }
            table #trend-days {
                caption.sr-only { "Jobs per day (days with jobs)" }
                thead { tr {
                    th scope="col" { "Day" } th scope="col" { "Jobs" }
                    @for (_, name) in CLASSES { th scope="col" { (name) } }
                    th scope="col" { "Run time p50 / p90 / p99 (s)" }
                    th scope="col" { "Queue wait p50 / p90 / p99 (s)" }
                    th scope="col" { "Peak memory p50 / p90 / p99 (MiB)" }
                } }
                tbody {
                    @for d in &s.stats.days {
                        tr data-day=(d.day) {
                            td { (d.day) }
                            td.jobs { (d.stats.jobs()) }
                            @for n in by_class(d.stats.by_outcome()) { td { (n) } }
                            td.duration { (pct(d.stats.duration, secs, s.stats.approximate)) }
                            td.wait { (pct(d.stats.queue_wait, secs, s.stats.approximate)) }
                            td.memory { (pct(d.stats.peak_memory, mib, s.stats.approximate)) }
                        }
                    }
                }
            }
        }
    }
}

/// The trends section of a template's or an app's page; `href` is the page's own path.
pub(crate) fn section(s: &SubjectStats, href: &str, now: DateTime<Utc>) -> Markup {
    html! {
        section #trends aria-labelledby="trends-heading" {
            h2 #trends-heading { "Trends" }
            p.muted {
                (s.stats.total.jobs()) " jobs ended in the last " (s.days) " days. Window: "
                @for d in WINDOWS {
                    @if d == s.days { strong { (d) " days" } } @else { a href={ (href) "?days=" (d) "#trends" } { (d) " days" } }
                    " "
                }
            }
            @if s.stats.approximate {
                p.muted.approximate {
                    "≈ Percentiles of more than " (EXACT_PERCENTILES_UP_TO) " jobs come from per-hour histograms, within "
                    (RELATIVE_ERROR * 100.0) " % of the exact values; the counts are exact."
                }
            }
            @if let Some(note) = &s.limits_note { p.muted.limits-note { (note) } }
            (last_jobs(s))
            (per_day(s, now))
        }
    }
}

/// The overview's jobs per hour by outcome over the last 24 hours.
pub(crate) fn hourly(counts: &[HourCount], now: DateTime<Utc>) -> Markup {
    let first = hour_of(now) - Duration::hours(23);
    let hours: Vec<DateTime<Utc>> = (0..24).map(|i| first + Duration::hours(i)).collect();
    let of = |h: DateTime<Utc>| {
        by_class(
            counts
                .iter()
                .filter(|c| c.hour == h)
                .map(|c| (c.outcome, c.jobs)),
        )
    };
    let columns: Vec<Column> = hours
        .iter()
        .map(|h| column(h.format("%H:00").to_string(), of(*h)))
        .collect();
    let meta = Meta {
        id: "chart-hourly",
        title: "Jobs per hour, the last 24 hours",
        desc: "One column per hour (UTC), stacked by exit-code class in the badges' colours.",
        unit: "jobs",
    };
    html! {
        section #hourly aria-labelledby="hourly-heading" {
            h2 #hourly-heading { "Jobs per hour, the last 24 hours" }
            figure {
                (stacked_chart(meta, &columns))
                figcaption { "Finished jobs per hour (UTC) "
                    @for (class, name) in CLASSES { span class={ "badge " (class) } { (name) } " " } }
            }
            details.table-view {
                summary { "Table view: jobs per hour" }
                table #trend-hours {
                    caption.sr-only { "Finished jobs per hour (hours with jobs)" }
                    thead { tr { th scope="col" { "Hour (UTC)" } th scope="col" { "Jobs" }
                        @for (_, name) in CLASSES { th scope="col" { (name) } } } }
                    tbody {
                        @for h in &hours {
                            @let n = of(*h);
                            @if n.iter().sum::<u64>() > 0 {
                                tr { td { (h.format("%Y-%m-%d %H:00")) } td { (n.iter().sum::<u64>()) }
                                    @for k in n { td { (k) } } }
                            }
                        }
                    }
                }
            }
        }
    }
}
