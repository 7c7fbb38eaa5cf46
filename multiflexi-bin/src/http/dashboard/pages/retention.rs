//! `GET /retention`: the retention policies, read-only (admin tokens; set them with
//! `multiflexi-cli retention:set` or `PUT /retention`).

use super::super::DashState;
use super::super::error::{OrPage, PageResult};
use super::super::layout::{self, Nav};
use super::super::session::Session;
use axum::extract::State;
use axum::response::IntoResponse;
use maud::html;
use multiflexi_core::model::RetentionScope;

fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map_or_else(
        || "—".into(),
        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

/// `GET /retention`.
pub(crate) async fn page(State(state): State<DashState>, session: Session) -> PageResult {
    let policies = state
        .http
        .usecases()
        .retention_policies(&session.caller())
        .await
        .or_page(&session)?;
    let body = html! {
        h1 { "Retention" }
        p.muted { "How long finished jobs and the audit log are kept. The most specific policy "
            "judges each job: company and app, then company, then app, then the default. "
            "Change them with " code { "multiflexi-cli retention:set" } " or "
            code { "PUT /retention" } "; the daemons apply them every hour." }
        @if policies.is_empty() {
            p #no-retention { "No policy: nothing is ever deleted automatically." }
        } @else {
            table #retention {
                caption.sr-only { "Retention policies" }
                thead { tr {
                    th scope="col" { "Scope" }
                    th scope="col" { "Deletes" }
                    th scope="col" { "After" }
                    th scope="col" { "In effect from" }
                } }
                tbody {
                    @for p in &policies {
                        tr {
                            td { code { (p.scope.key()) } }
                            td { @if p.scope == RetentionScope::Audit { "audit rows" }
                                 @else if p.artifacts_only { "output and artifacts (the jobs stay)" }
                                 @else { "jobs with their output and artifacts" } }
                            td { (p.days) " days" }
                            td { (when(p.effective_from())) }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(&session, "Retention", Nav::Retention, body).into_response())
}
