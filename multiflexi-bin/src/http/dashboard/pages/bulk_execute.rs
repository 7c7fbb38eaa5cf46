//! "Execute now" for the templates selected in the list: at once (`POST /runtemplates/execute`
//! with `t.ID=on` per ticked template), or first through one overrides form with a section per
//! template (`POST /runtemplates/execute-form`), whose fields (`t.ID.env.NAME`,
//! `t.ID.schedule_time`, `t.ID.executor`) are read by the one-template form's own rule
//! ([`order_with_overrides`]).

use super::super::DashState;
use super::super::csrf::Checked;
use super::super::error::{PageError, PageResult};
use super::super::layout::{self, Nav};
use super::super::scope;
use super::super::session::Session;
use super::templates::{FieldsForm, order_with_overrides, override_fields, parse_id};
use crate::usecase::jobs::JobOrder;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::html;
use multiflexi_core::{RunTemplateId, Trigger};
use std::collections::BTreeMap;

/// The selected templates in form order, each with its own fields (names without `t.ID.`).
type Selection<'a> = BTreeMap<RunTemplateId, Vec<(&'a str, &'a str)>>;

/// Reads `t.ID=on` (selected) and `t.ID.FIELD=value` (that template's overrides); anything
/// else, fields of a template not selected, or nothing selected is a bad request.
fn selection<'a>(form: &'a FieldsForm, session: &Session) -> Result<Selection<'a>, Response> {
    let bad = |why: String| PageError::bad_request(why).for_session(session);
    let mut selected: Selection<'a> = BTreeMap::new();
    let mut fields: Vec<(RunTemplateId, &str, &str, &str)> = Vec::new();
    for (key, value) in &form.fields {
        let Some(rest) = key.strip_prefix("t.") else {
            return Err(bad(format!(
                "Unknown form field {key:?}; reload the page and try again."
            )));
        };
        let (id, field) = match rest.split_once('.') {
            Some((id, field)) => (id, Some(field)),
            None => (rest, None),
        };
        let id = parse_id(id).map_err(|e| e.for_session(session))?;
        match field {
            None => {
                selected.entry(id).or_default();
            }
            Some(f) => fields.push((id, key.as_str(), f, value.as_str())),
        }
    }
    for (id, key, field, value) in fields {
        let Some(own) = selected.get_mut(&id) else {
            return Err(bad(format!(
                "{key}: run template {id} is not selected; tick it or leave its fields out."
            )));
        };
        own.push((field, value));
    }
    if selected.is_empty() {
        return Err(bad(
            "No run template selected: tick at least one and try again.".into(),
        ));
    }
    Ok(selected)
}

/// `POST /runtemplates/execute-form`: one overrides section per selected template (its
/// declared fields prefilled, secrets empty, when, and for admins the executor), sent to
/// `POST /runtemplates/execute`. Nothing is executed here.
pub(crate) async fn form(
    State(state): State<DashState>,
    Checked { session, form }: Checked<FieldsForm>,
) -> PageResult {
    let selected = selection(&form, &session)?;
    let store = &*state.http.store;
    let mut sections = Vec::new();
    for id in selected.keys() {
        let t = scope::template(store, &session, *id)
            .await
            .map_err(|e| e.for_session(&session))?;
        let app = store
            .get_app(t.app_id)
            .await
            .map_err(|e| PageError::from(e).for_session(&session))?;
        sections.push((t, app));
    }
    let body = html! {
        h1 { "Execute selected with overrides" }
        form #bulk-overrides method="post" action="/runtemplates/execute" {
            (layout::csrf_field(&session))
            @for (t, app) in &sections {
                fieldset data-template-id=(t.id) {
                    legend { "Run template " (t.id) ": " (t.name) " (" (app.display_name()) ")" }
                    input type="hidden" name={ "t." (t.id) } value="on";
                    @if !t.active {
                        p.alert.alert-warning { "It is inactive: it will not be executed." }
                    }
                    (override_fields(&session, t, app, &format!("t.{}.", t.id), &format!("t{}-", t.id)))
                }
            }
            button.btn.btn-primary type="submit" data-bulk-execute-with { "Execute these now" }
        }
        p { a href="/runtemplates" { "Back to run templates" } }
    };
    Ok(layout::page(&session, "Execute selected", Nav::Templates, body).into_response())
}

/// `POST /runtemplates/execute`: a job (trigger `manual`) for each selected template, with the
/// overrides its section of the form gave; shows the jobs made and, per template, why one was
/// not. A field that is not accepted refuses the whole form before any job is made.
pub(crate) async fn execute(
    State(state): State<DashState>,
    Checked { session, form }: Checked<FieldsForm>,
) -> PageResult {
    let selected = selection(&form, &session)?;
    let store = &*state.http.store;
    // Every template's fields are read before any job is made.
    let mut orders: Vec<(RunTemplateId, Result<JobOrder, String>)> = Vec::new();
    for (id, fields) in &selected {
        if fields.is_empty() {
            orders.push((*id, Ok(JobOrder::new(*id, Trigger::Manual))));
            continue;
        }
        let t = match scope::template(store, &session, *id).await {
            Ok(t) => t,
            Err(e) => {
                orders.push((*id, Err(e.message().to_string())));
                continue;
            }
        };
        let app = store
            .get_app(t.app_id)
            .await
            .map_err(|e| PageError::from(e).for_session(&session))?;
        let order = order_with_overrides(&t, &app, &format!("t.{id}."), fields.iter().copied())
            .map_err(|why| PageError::bad_request(why).for_session(&session))?;
        orders.push((*id, Ok(order)));
    }
    let mut results = Vec::new();
    for (id, order) in orders {
        let r = match order {
            Ok(order) => state
                .http
                .usecases()
                .create_job(&session.caller(), order)
                .await
                .map(|c| c.job.id)
                .map_err(|e| e.to_string()),
            Err(why) => Err(why),
        };
        if let Ok(job) = &r {
            tracing::info!(job_id = job.get(), runtemplate_id = id.get(), token = %session.token.name, "dashboard: execute selected");
        }
        results.push((id, r));
    }
    let body = html! {
        h1 { "Executed" }
        ul #executed {
            @for (id, r) in &results {
                @match r {
                    Ok(job) => li data-template-id=(id) data-job-id=(job) {
                        "Run template " (id) ": " a href={ "/jobs/" (job) } { "job " (job) } }
                    Err(e) => li.alert.alert-warning data-template-id=(id) {
                        "Run template " (id) ": not executed: " (e) }
                }
            }
        }
        p { a href="/runtemplates" { "Back to run templates" } }
    };
    Ok(layout::page(&session, "Executed", Nav::Templates, body).into_response())
}
