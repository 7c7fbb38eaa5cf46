//! Job statistics of a run template or an app (`job:stats`, `GET /api/…/stats`, the
//! dashboard's charts): the window is checked here (1 to 366 days, at most 1,000 jobs listed
//! one by one), and a company token sees only its own company's templates, and only its own
//! company's jobs of an app (apps are shared). The numbers come from the store's aggregate
//! queries ([`JobStatistics`](multiflexi_core::store::JobStatistics)).

use super::{Caller, UseCases};
use chrono::{DateTime, Duration, Utc};
use multiflexi_core::store::{HourCount, JobStats, RunTemplateFilter, StatsQuery, StatsSubject};
use multiflexi_core::{AppId, Error, Result};

/// The longest window, days.
pub const MAX_DAYS: u32 = 366;
/// The most jobs listed one by one.
pub const MAX_LAST: u32 = 1000;
/// The default window, days.
pub const DEFAULT_DAYS: u32 = 30;

/// The limits a subject's jobs run under, drawn on its charts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Limits {
    /// Seconds a job may run.
    pub timeout: Option<u32>,
    /// Per-job memory limit, MiB.
    pub memory_limit_mb: Option<u32>,
}

/// A subject's statistics and what they were taken over.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SubjectStats {
    /// Whose jobs.
    pub subject: StatsSubject,
    /// The template's or the app's name.
    pub name: String,
    /// Jobs that ended at or after this instant are counted.
    pub since: DateTime<Utc>,
    /// The window, days.
    pub days: u32,
    /// Only this company's jobs (a company token's view of an app).
    pub company_id: Option<multiflexi_core::CompanyId>,
    /// The limits drawn on the charts: the template's, or an app's only template's.
    pub limits: Limits,
    /// Whose limits the charts draw, or why they draw none (an app's page).
    pub limits_note: Option<String>,
    /// The numbers.
    pub stats: JobStats,
}

/// Checks a window of `days` days and `last` jobs.
pub fn check_window(days: u32, last: u32) -> Result<()> {
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(Error::invalid(
            "days",
            format!("{days} is not a window; give 1 to {MAX_DAYS} days"),
        ));
    }
    if last > MAX_LAST {
        return Err(Error::invalid(
            "last",
            format!("{last} jobs is too many to list; give 0 to {MAX_LAST}"),
        ));
    }
    Ok(())
}

impl UseCases {
    /// The statistics of `subject` over the last `days` days, with its last `last` jobs.
    pub async fn job_stats(
        &self,
        caller: &Caller,
        subject: StatsSubject,
        days: u32,
        last: u32,
    ) -> Result<SubjectStats> {
        check_window(days, last)?;
        let mut limits_note = None;
        let (name, limits) = match subject {
            StatsSubject::Template(id) => {
                let t = self.visible_template(caller, id).await?;
                (
                    t.name,
                    Limits {
                        timeout: t.timeout,
                        memory_limit_mb: t.memory_limit_mb,
                    },
                )
            }
            StatsSubject::App(id) => {
                let name = self.store.get_app(id).await?.display_name().to_string();
                let (limits, note) = self.app_limits(caller, id).await?;
                limits_note = Some(note);
                (name, limits)
            }
        };
        let since = self.clock.now() - Duration::days(i64::from(days));
        let mut q = StatsQuery::new(subject, since);
        q.company_id = caller.scope.company();
        q.last = last;
        let stats = self.store.job_stats(&q).await?;
        Ok(SubjectStats {
            subject,
            name,
            since,
            days,
            company_id: q.company_id,
            limits,
            limits_note,
            stats,
        })
    }

    /// The limits an app's charts draw: its only template's (of those the caller sees), since
    /// apps declare none; with several templates none, and the note says why.
    async fn app_limits(&self, caller: &Caller, app: AppId) -> Result<(Limits, String)> {
        let mut filter = RunTemplateFilter::default();
        filter.company_id = caller.scope.company();
        filter.app_id = Some(app);
        let templates = self.store.list_runtemplates(&filter).await?;
        Ok(match templates.as_slice() {
            [t] => (
                Limits {
                    timeout: t.timeout,
                    memory_limit_mb: t.memory_limit_mb,
                },
                format!(
                    "Limit lines: those of the app's only run template, {:?}.",
                    t.name
                ),
            ),
            [] => (
                Limits::default(),
                "No limit lines: no run template runs this app.".into(),
            ),
            many => (
                Limits::default(),
                format!(
                    "No limit lines: {} run templates run this app, each with its own limits.",
                    many.len()
                ),
            ),
        })
    }

    /// Jobs per hour by outcome over the last `hours` hours (1 to 168) that the caller may see.
    pub async fn hourly_outcomes(&self, caller: &Caller, hours: u32) -> Result<Vec<HourCount>> {
        if !(1..=168).contains(&hours) {
            return Err(Error::invalid(
                "hours",
                format!("{hours} is not a window; give 1 to 168 hours"),
            ));
        }
        let since = self.clock.now() - Duration::hours(i64::from(hours));
        self.store
            .hourly_outcomes(since, caller.scope.company())
            .await
    }
}
