//! `GET /`: running jobs, queue depth, the success rate of the last 24 hours, recent jobs.

use super::super::DashState;
use super::super::error::{OrPage, PageError, PageResult};
use super::super::layout::{self, Nav};
use super::super::session::Session;
use super::{Names, jobs_table, trends};
use axum::extract::State;
use axum::response::IntoResponse;
use maud::html;
use multiflexi_core::store::{JobFilter, QueueOverview};
use multiflexi_core::{Outcome, Phase, Store};

/// How many jobs the 24-hour statistics look at, at most.
const WINDOW_LIMIT: u64 = 10_000;

fn filter(session: &Session) -> JobFilter {
    let mut f = JobFilter::default();
    f.company_id = session.scope().company();
    f
}

/// Queue depth as the session may see it: the store's counts for admins, the company's own
/// jobs for a company token.
async fn queue(
    store: &dyn Store,
    session: &Session,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<QueueOverview, PageError> {
    if session.is_admin() {
        return Ok(store.queue_overview().await?);
    }
    let mut q = QueueOverview::default();
    for status in ["scheduled", "queued", "running"] {
        let mut f = filter(session);
        f.status = Some(status.into());
        f.limit = Some(WINDOW_LIMIT);
        for j in store.list_jobs(&f).await? {
            match j.phase {
                Phase::Scheduled if j.after <= now => q.due += 1,
                Phase::Scheduled => q.waiting += 1,
                Phase::Queued => q.queued += 1,
                Phase::Running => q.running += 1,
                _ => {}
            }
        }
    }
    Ok(q)
}

/// `GET /`.
pub(crate) async fn page(State(state): State<DashState>, session: Session) -> PageResult {
    let store = &*state.http.store;
    let now = state.http.clock.now();
    let q = queue(store, &session, now).await.or_page(&session)?;

    let mut running = filter(&session);
    running.status = Some("running".into());
    running.limit = Some(50);
    let running = store.list_jobs(&running).await.or_page(&session)?;

    let cutoff = now - chrono::Duration::hours(24);
    let mut window = filter(&session);
    window.since = Some(cutoff);
    window.limit = Some(WINDOW_LIMIT);
    let window = store.list_jobs(&window).await.or_page(&session)?;
    let ended: Vec<Outcome> = window
        .iter()
        .filter(|j| layout::finished(j) && j.end.is_some_and(|e| e >= cutoff))
        .filter_map(|j| j.outcome)
        .collect();
    let succeeded = ended.iter().filter(|o| **o == Outcome::Success).count();
    let warnings = ended.iter().filter(|o| **o == Outcome::Warning).count();
    let rate = (!ended.is_empty()).then(|| succeeded as f64 * 100.0 / ended.len() as f64);

    let mut recent = filter(&session);
    recent.limit = Some(20);
    let recent = store.list_jobs(&recent).await.or_page(&session)?;
    let names = Names::load(store, &session).await.or_page(&session)?;
    let hourly = state
        .http
        .usecases()
        .hourly_outcomes(&session.caller(), 24)
        .await
        .or_page(&session)?;

    let depth = q.due + q.waiting + q.queued;
    let body = html! {
        div data-refresh="10" {
            h1 { "Overview" }
            section.cards aria-label="Summary" {
                div.card {
                    p.label { "Running jobs" }
                    p.value #running-count { (q.running) }
                    p.sub { a href="/jobs?status=running" { "Show running jobs" } }
                }
                div.card {
                    p.label { "Queue depth" }
                    p.value #queue-depth { (depth) }
                    p.sub { (q.due) " due now, " (q.waiting) " waiting, " (q.queued) " claimed" }
                }
                div.card {
                    p.label { "Success rate, last 24 hours" }
                    p.value #success-rate {
                        @match rate {
                            Some(r) => { (format!("{r:.0}")) " %" }
                            None => { "—" }
                        }
                    }
                    p.sub { (succeeded) " of " (ended.len()) " finished jobs succeeded"
                        @if warnings > 0 { ", " (warnings) " with warnings" } }
                }
                div.card {
                    p.label { "Failed, last 24 hours" }
                    p.value #failed-count { (ended.len() - succeeded - warnings) }
                    p.sub { a href="/jobs?status=failed" { "Show failed jobs" } }
                }
            }
            (trends::hourly(&hourly, now))
            h2 #running { "Running now" }
            (jobs_table(&running, &names, "Jobs running now"))
            h2 #recent { "Recent jobs" }
            (jobs_table(&recent, &names, "The most recent jobs"))
            p { a href="/jobs" { "All jobs" } }
            p.muted.live { "Times are UTC. This page refreshes every 10 seconds when scripts are enabled." }
        }
    };
    Ok(layout::page(&session, "Overview", Nav::Overview, body).into_response())
}
