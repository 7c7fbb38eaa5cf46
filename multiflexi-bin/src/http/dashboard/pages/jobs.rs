//! `GET /jobs`: the job list with the API's filters (status, company, template, since) and
//! newest-first paging.

use super::super::DashState;
use super::super::error::{OrPage, PageResult};
use super::super::layout::{self, Nav};
use super::super::session::Session;
use super::{Names, jobs_table};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use maud::html;
use multiflexi_core::store::JobFilter;
use multiflexi_core::{CompanyId, JobId, RunTemplateId};
use serde::Deserialize;

/// Jobs per page.
const PAGE: u64 = 50;

/// The status words a job can have ([`Job::status`](multiflexi_core::Job::status)).
pub(crate) const STATUSES: [&str; 15] = [
    "pending",
    "scheduled",
    "queued",
    "running",
    "success",
    "warning",
    "failed",
    "not_executable",
    "not_found",
    "timeout",
    "oom",
    "cpu_limit",
    "cancelled",
    "lost",
    "platform_error",
];

/// The filters, as typed (empty fields mean "any").
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    status: Option<String>,
    company: Option<String>,
    template: Option<String>,
    since: Option<String>,
    before: Option<String>,
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// `2026-11-05`, `2026-11-05T12:30` (a `datetime-local` field) or RFC 3339; UTC unless given.
fn parse_since(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// The store filter for the query, or what is wrong with it.
fn to_filter(q: &ListQuery, session: &Session) -> Result<JobFilter, String> {
    let mut f = JobFilter::default();
    if let Some(s) = non_empty(&q.status) {
        if !STATUSES.contains(&s) {
            return Err(format!(
                "Unknown status {s:?}; choose one of {}.",
                STATUSES.join(", ")
            ));
        }
        f.status = Some(s.to_string());
    }
    if let Some(c) = non_empty(&q.company) {
        f.company_id = Some(
            c.parse::<CompanyId>()
                .map_err(|_| format!("Company {c:?} is not a company id."))?,
        );
    }
    if let Some(t) = non_empty(&q.template) {
        f.runtemplate_id = Some(
            t.parse::<RunTemplateId>()
                .map_err(|_| format!("Run template {t:?} is not a run template id."))?,
        );
    }
    if let Some(s) = non_empty(&q.since) {
        f.since = Some(parse_since(s).ok_or_else(|| {
            format!("Since {s:?} is not a date; give 2026-11-05, 2026-11-05T12:30 or RFC 3339.")
        })?);
    }
    if let Some(b) = non_empty(&q.before) {
        f.before_id = Some(
            b.parse::<JobId>()
                .map_err(|_| format!("Before {b:?} is not a job id."))?,
        );
    }
    if let Some(own) = session.scope().company() {
        match f.company_id {
            // Another company's jobs do not exist for this token: an empty list.
            Some(c) if c != own => f.company_id = Some(CompanyId(-1)),
            _ => f.company_id = Some(own),
        }
    }
    f.limit = Some(PAGE + 1);
    Ok(f)
}

/// The query string of the current filters plus `before`.
fn page_link(q: &ListQuery, before: Option<JobId>) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for (k, v) in [
        ("status", &q.status),
        ("company", &q.company),
        ("template", &q.template),
        ("since", &q.since),
    ] {
        if let Some(v) = non_empty(v) {
            pairs.push((k, v.to_string()));
        }
    }
    if let Some(b) = before {
        pairs.push(("before", b.to_string()));
    }
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect();
    if query.is_empty() {
        "/jobs".into()
    } else {
        format!("/jobs?{}", query.join("&"))
    }
}

/// `GET /jobs`.
pub(crate) async fn page(
    State(state): State<DashState>,
    session: Session,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let store = &*state.http.store;
    let names = Names::load(store, &session).await.or_page(&session)?;
    let companies = store
        .list_companies()
        .await
        .or_page(&session)?
        .into_iter()
        .filter(|c| session.sees(c.id))
        .collect::<Vec<_>>();
    let templates = super::super::scope::templates(store, &session)
        .await
        .or_page(&session)?;

    let (mut jobs, error) = match to_filter(&q, &session) {
        Ok(f) => (store.list_jobs(&f).await.or_page(&session)?, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let more = jobs.len() as u64 > PAGE;
    jobs.truncate(PAGE as usize);
    let selected = |v: &Option<String>, x: &str| non_empty(v) == Some(x);

    let body = html! {
        h1 { "Jobs" }
        form.filters method="get" action="/jobs" role="search" aria-label="Filter jobs" {
            div.field {
                label for="f-status" { "Status" }
                select #f-status name="status" {
                    option value="" { "any" }
                    @for s in STATUSES {
                        option value=(s) selected[selected(&q.status, s)] { (s.replace('_', " ")) }
                    }
                }
            }
            div.field {
                label for="f-company" { "Company" }
                select #f-company name="company" {
                    option value="" { "any" }
                    @for c in &companies {
                        option value=(c.id) selected[selected(&q.company, &c.id.to_string())] { (c.name) }
                    }
                }
            }
            div.field {
                label for="f-template" { "Run template" }
                select #f-template name="template" {
                    option value="" { "any" }
                    @for t in &templates {
                        option value=(t.id) selected[selected(&q.template, &t.id.to_string())] { (t.name) }
                    }
                }
            }
            div.field {
                label for="f-since" { "Created since (UTC)" }
                input #f-since type="datetime-local" name="since" value=(non_empty(&q.since).unwrap_or(""));
            }
            button.btn.btn-primary type="submit" { "Filter" }
            a.btn href="/jobs" { "Clear" }
        }
        @if let Some(e) = &error {
            p.alert.alert-danger role="alert" { (e) }
        }
        (jobs_table(&jobs, &names, "Jobs, newest first"))
        nav.pager aria-label="Pages" {
            @if non_empty(&q.before).is_some() {
                a href=(page_link(&q, None)) { "← Newest" }
            }
            @if let (true, Some(last)) = (more, jobs.last()) {
                a href=(page_link(&q, Some(last.id))) rel="next" { "Older jobs →" }
            }
        }
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok((status, layout::page(&session, "Jobs", Nav::Jobs, body)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_formats() {
        let t = parse_since("2026-11-05T12:30").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-05T12:30:00+00:00");
        assert_eq!(
            parse_since("2026-11-05").unwrap().to_rfc3339(),
            "2026-11-05T00:00:00+00:00"
        );
        assert_eq!(
            parse_since("2026-11-05T12:30:00+01:00")
                .unwrap()
                .to_rfc3339(),
            "2026-11-05T11:30:00+00:00"
        );
        assert!(parse_since("yesterday").is_none());
    }
}
