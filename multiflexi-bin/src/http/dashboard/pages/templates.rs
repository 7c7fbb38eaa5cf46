//! Run templates: the list, one template (schedule in words, next slots, configuration with
//! secrets redacted, recent jobs), "Execute now" (with overrides) and activate / deactivate.
//! Executing the templates selected in the list is [`super::bulk_execute`].

use super::super::DashState;
use super::super::csrf::{Checked, CsrfForm};
use super::super::error::{OrPage, PageError, PageResult};
use super::super::layout::{self, Nav};
use super::super::scope;
use super::super::session::{Session, see_other};
use super::trends::{self, TrendsQuery};
use super::{Names, jobs_table};
use crate::usecase::jobs::JobOrder;
use crate::usecase::templates::TemplateChange;
use crate::usecase::variables::Variable;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use multiflexi_core::model::{App, ExecutorKind};
use multiflexi_core::store::{JobFilter, StatsSubject};
use multiflexi_core::{RunTemplate, RunTemplateId, Trigger};
use serde::Deserialize;
use std::collections::BTreeMap;

/// How many upcoming runs a template's page lists.
const NEXT_RUNS: usize = 5;

pub(super) fn parse_id(id: &str) -> Result<RunTemplateId, PageError> {
    id.parse::<RunTemplateId>()
        .map_err(|_| PageError::not_found(format!("Run template {id:?}")))
}

/// The schedule in words, or why it cannot be read.
fn schedule_words(t: &RunTemplate) -> String {
    match t.schedule() {
        Ok(s) => s.describe(),
        Err(e) => format!("invalid schedule: {e}"),
    }
}

/// The next runs (slot + delay) after `now`, in the template's timezone.
fn next_runs(t: &RunTemplate, now: DateTime<Utc>) -> Vec<(DateTime<Utc>, String)> {
    let Ok(s) = t.schedule() else {
        return Vec::new();
    };
    let tz = s.timezone();
    s.iter_after(now)
        .take(NEXT_RUNS)
        .map(|slot| {
            let due = s.due_at(slot);
            (
                due,
                due.with_timezone(&tz)
                    .format("%Y-%m-%d %H:%M %:z")
                    .to_string(),
            )
        })
        .collect()
}

fn active_badge(t: &RunTemplate) -> Markup {
    html! {
        @if t.active { span.badge.bg-success { "active" } } @else { span.badge.bg-secondary { "inactive" } }
    }
}

/// The "Execute now" button (a POST form).
fn execute_form(session: &Session, t: &RunTemplate) -> Markup {
    html! {
        form method="post" action={ "/runtemplates/" (t.id) "/execute" } {
            (layout::csrf_field(session))
            button.btn.btn-primary.btn-small type="submit" data-execute=(t.id) disabled[!t.active]
                title=(if t.active { "Run it now" } else { "Activate the template first" }) {
                "Execute now" span.sr-only { ": " (t.name) }
            }
        }
    }
}

fn active_form(session: &Session, t: &RunTemplate) -> Markup {
    html! {
        form method="post" action={ "/runtemplates/" (t.id) "/active" } {
            (layout::csrf_field(session))
            input type="hidden" name="active" value=(if t.active { "false" } else { "true" });
            button.btn type="submit" data-toggle-active=(t.id) {
                @if t.active { "Deactivate" } @else { "Activate" }
            }
        }
    }
}

/// `GET /runtemplates`.
pub(crate) async fn list(State(state): State<DashState>, session: Session) -> PageResult {
    let store = &*state.http.store;
    let templates = scope::templates(store, &session).await.or_page(&session)?;
    let names = Names::load(store, &session).await.or_page(&session)?;
    let body = html! {
        h1 { "Run templates" }
        @if templates.is_empty() {
            p.muted { "No run templates yet. Create one with "
                code { "multiflexi-cli run-template:create" } " or the API." }
        } @else {
            form #bulk-execute method="post" action="/runtemplates/execute" {
                (layout::csrf_field(&session))
                button.btn.btn-primary type="submit" data-bulk-execute { "Execute selected now" }
                " "
                button.btn type="submit" formaction="/runtemplates/execute-form" data-bulk-overrides {
                    "Execute selected with overrides…"
                }
            }
            table #templates {
                caption.sr-only { "Run templates" }
                thead { tr {
                    th scope="col" { span.sr-only { "Select" } }
                    th scope="col" { "Name" }
                    th scope="col" { "App" }
                    th scope="col" { "Company" }
                    th scope="col" { "Schedule" }
                    th scope="col" { "State" }
                    th scope="col" { "Succeeded / failed" }
                    th scope="col" { span.sr-only { "Actions" } }
                } }
                tbody {
                    @for t in &templates {
                        tr data-template-id=(t.id) {
                            td { label {
                                input type="checkbox" form="bulk-execute" name={ "t." (t.id) } value="on"
                                    disabled[!t.active];
                                span.sr-only { "Select " (t.name) }
                            } }
                            td { a href={ "/runtemplates/" (t.id) } { (t.name) } }
                            td { a href={ "/apps/" (t.app_id) } { (names.app(t.app_id)) } }
                            td { (names.company(t.company_id)) }
                            td { (schedule_words(t)) }
                            td { (active_badge(t)) }
                            td { (t.successfull_jobs_count) " / " (t.failed_jobs_count) }
                            td { (execute_form(&session, t)) }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(&session, "Run templates", Nav::Templates, body).into_response())
}

/// `GET /runtemplates/{id}`.
pub(crate) async fn detail(
    State(state): State<DashState>,
    session: Session,
    Path(id): Path<String>,
    Query(trend): Query<TrendsQuery>,
) -> PageResult {
    let store = &*state.http.store;
    let id = parse_id(&id).or_page(&session)?;
    let t = scope::template(store, &session, id)
        .await
        .or_page(&session)?;
    let names = Names::load(store, &session).await.or_page(&session)?;
    let app = store.get_app(t.app_id).await.or_page(&session)?;
    let now = state.http.clock.now();
    let runs = next_runs(&t, now);
    let mut f = JobFilter::default();
    f.runtemplate_id = Some(t.id);
    f.limit = Some(10);
    let jobs = store.list_jobs(&f).await.or_page(&session)?;
    let expression = t
        .schedule()
        .ok()
        .and_then(|s| s.expression().map(str::to_string));
    let stats = state
        .http
        .usecases()
        .job_stats(
            &session.caller(),
            StatsSubject::Template(t.id),
            trend.days(),
            trends::LAST_JOBS,
        )
        .await
        .or_page(&session)?;

    let body = html! {
        h1 { (t.name) " " (active_badge(&t)) }
        div.actions {
            (execute_form(&session, &t))
            (active_form(&session, &t))
            a.btn href={ "/jobs?template=" (t.id) } { "All jobs of this template" }
        }
        dl.facts #template {
            dt { "App" } dd { a href={ "/apps/" (t.app_id) } { (names.app(t.app_id)) } }
            dt { "Company" } dd { (names.company(t.company_id)) }
            dt { "Schedule" } dd #schedule-words { (schedule_words(&t)) }
            dt { "Interval code" } dd { code { (t.interv.code()) } }
            @if let Some(e) = &expression { dt { "Cron expression" } dd { code { (e) } } }
            dt { "Timezone" } dd { (t.timezone) }
            dt { "Executor" } dd { (t.executor) }
            dt { "Next scheduled slot" } dd { (layout::opt_ts(t.next_schedule)) }
            dt { "Last scheduled" } dd { (layout::opt_ts(t.last_schedule)) }
            dt { "Succeeded / failed" } dd { (t.successfull_jobs_count) " / " (t.failed_jobs_count) }
            dt { "Retries" } dd { (t.retry.max_retries) }
            dt { "Timeout" } dd { @match t.timeout { Some(s) => { (s) " s" } None => { "none" } } }
            dt { "Limits per job" } dd {
                "memory " @match t.memory_limit_mb { Some(m) => { (m) " MiB" } None => { "unlimited" } }
                ", processes " @match t.pids_max { Some(n) => { (n) } None => { "unlimited" } }
                ", CPU time " @match t.cpu_seconds { Some(s) => { (s) " s" } None => { "unlimited" } }
            }
            dt { "Concurrency" } dd { (t.concurrency_policy) }
            dt { "On success" } dd #on-success { (actions_text(&t.on_success)) }
            dt { "On failure" } dd #on-failure { (actions_text(&t.on_failure)) }
        }
        h2 { "Execute now with overrides" }
        (overrides_form(&session, &t, &app))
        h2 { "Actions after completion" }
        (actions_form(&session, &t))
        h2 { "Next runs" }
        @if !t.active {
            p.alert.alert-warning { "It is inactive: the scheduler does not run it and it cannot be executed. Activate it first." }
        }
        @if runs.is_empty() {
            p.muted { "It never runs on its own (on demand only)." }
        } @else {
            ol #next-runs {
                @for (at, local) in &runs {
                    li { time datetime=(at.to_rfc3339()) { (local) } " (" (at.format("%Y-%m-%d %H:%M UTC")) ")" }
                }
            }
        }
        h2 { "Configuration" }
        @if t.config.is_empty() {
            p.muted { "No overrides." }
        } @else {
            table {
                caption.sr-only { "Configuration overrides; secret values are not shown" }
                thead { tr { th scope="col" { "Variable" } th scope="col" { "Value" } } }
                tbody {
                    @for (name, v) in &t.config.0 {
                        tr { td { code { (name) } } td { @if v.secret { span.muted { "*** (secret)" } } @else { code { (v.value) } } } }
                    }
                }
            }
        }
        h2 { "Recent jobs" }
        (jobs_table(&jobs, &names, "Recent jobs of this template"))
        (trends::section(&stats, &format!("/runtemplates/{}", t.id), now))
    };
    Ok(layout::page(&session, &t.name, Nav::Templates, body).into_response())
}

/// A form with nothing but its CSRF token.
#[derive(Debug, Deserialize)]
pub(crate) struct EmptyForm {
    #[serde(default)]
    csrf: String,
}

impl CsrfForm for EmptyForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /runtemplates/{id}/execute`: creates a job with trigger `manual` (as "Execute now" in
/// MultiFlexi) and shows it.
pub(crate) async fn execute(
    State(state): State<DashState>,
    Path(id): Path<String>,
    Checked { session, .. }: Checked<EmptyForm>,
) -> PageResult {
    let id = parse_id(&id).or_page(&session)?;
    let job = state
        .http
        .usecases()
        .create_job(&session.caller(), JobOrder::new(id, Trigger::Manual))
        .await
        .or_page(&session)?
        .job;
    tracing::info!(job_id = job.id.get(), runtemplate_id = id.get(), token = %session.token.name, "dashboard: execute now");
    Ok(see_other(&format!("/jobs/{}", job.id)))
}

/// The activate / deactivate form.
#[derive(Debug, Deserialize)]
pub(crate) struct ActiveForm {
    #[serde(default)]
    csrf: String,
    active: String,
}

impl CsrfForm for ActiveForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /runtemplates/{id}/active`.
pub(crate) async fn set_active(
    State(state): State<DashState>,
    Path(id): Path<String>,
    Checked { session, form }: Checked<ActiveForm>,
) -> PageResult {
    let id = parse_id(&id).or_page(&session)?;
    let active = match form.active.as_str() {
        "true" => true,
        "false" => false,
        other => {
            return Err(PageError::bad_request(format!(
                "active must be true or false, not {other:?}."
            ))
            .for_session(&session));
        }
    };
    let mut change = TemplateChange::default();
    change.settings.active = Some(active);
    state
        .http
        .usecases()
        .update_template(&session.caller(), id, change)
        .await
        .or_page(&session)?;
    Ok(see_other(&format!("/runtemplates/{}", id)))
}

/// The form changing a template's actions: a JSON array each (webhook secrets shown as `***`,
/// which keeps them).
fn actions_form(session: &Session, t: &RunTemplate) -> Markup {
    let pretty = |list: &[multiflexi_core::model::Action]| {
        serde_json::to_string_pretty(&crate::usecase::templates::actions_view(list))
            .unwrap_or_default()
    };
    html! {
        form #actions-form method="post" action={ "/runtemplates/" (t.id) "/actions" } {
            (layout::csrf_field(session))
            p.muted { "A JSON array each; kinds: webhook {url, secret?, timeout_s?, include_stdout?}, \
                launch {template_id}, retry_later {after_s}, deactivate, zabbix {key, value?}. \
                *** keeps a stored webhook secret." }
            label for="on_success" { "On success" }
            textarea #on_success name="on_success" rows="4" cols="80" { (pretty(&t.on_success)) }
            label for="on_failure" { "On failure (any other outcome)" }
            textarea #on_failure name="on_failure" rows="4" cols="80" { (pretty(&t.on_failure)) }
            button.btn type="submit" data-save-actions=(t.id) { "Save actions" }
        }
    }
}

/// The actions form's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct ActionsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    on_success: String,
    #[serde(default)]
    on_failure: String,
}

impl CsrfForm for ActionsForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /runtemplates/{id}/actions`: replaces both lists (an empty field clears one).
pub(crate) async fn set_actions(
    State(state): State<DashState>,
    Path(id): Path<String>,
    Checked { session, form }: Checked<ActionsForm>,
) -> PageResult {
    let id = parse_id(&id).or_page(&session)?;
    let parse = |field: &str, text: &str| -> Result<serde_json::Value, axum::response::Response> {
        let text = if text.trim().is_empty() { "[]" } else { text };
        serde_json::from_str(text).map_err(|e| {
            PageError::bad_request(format!(
                "{field}: not JSON ({e}); give an array of actions."
            ))
            .for_session(&session)
        })
    };
    let mut change = TemplateChange::default();
    change.settings.on_success = Some(parse("on_success", &form.on_success)?);
    change.settings.on_failure = Some(parse("on_failure", &form.on_failure)?);
    state
        .http
        .usecases()
        .update_template(&session.caller(), id, change)
        .await
        .or_page(&session)?;
    Ok(see_other(&format!("/runtemplates/{}", id)))
}

/// A template's actions after completion in one line each (webhook secrets `***`); change them
/// with the form below, `multiflexi-cli run-template:update --on-success/--on-failure` or the API.
fn actions_text(list: &[multiflexi_core::model::Action]) -> Markup {
    let view = crate::usecase::templates::actions_view(list);
    html! {
        @if list.is_empty() { "none" } @else {
            ul.actions-list {
                @for a in view.as_array().into_iter().flatten() {
                    li { code { (a.to_string()) } }
                }
            }
        }
    }
}

/// A declared field's value as the template runs it: the template's own, else the app's
/// default; `None` for a secret (never shown) and for a field with neither.
fn shown_value(t: &RunTemplate, app: &App, name: &str) -> Option<String> {
    if is_secret(t, app, name) {
        return None;
    }
    t.config
        .get(name)
        .map(str::to_string)
        .or_else(|| app.field(name).and_then(|f| f.default.clone()))
}

fn is_secret(t: &RunTemplate, app: &App, name: &str) -> bool {
    app.config_is_secret(name) || t.config.0.get(name).is_some_and(|v| v.secret)
}

/// "Execute now with overrides": the app's declared fields prefilled from the template (secret
/// fields empty: left empty they keep the stored value), when, and for admins the executor.
fn overrides_form(session: &Session, t: &RunTemplate, app: &App) -> Markup {
    html! {
        form #overrides-form method="post" action={ "/runtemplates/" (t.id) "/execute-with" } {
            (layout::csrf_field(session))
            (override_fields(session, t, app, "", ""))
            button.btn.btn-primary type="submit" data-execute-with=(t.id) disabled[!t.active] {
                "Execute with these values"
            }
        }
    }
}

/// The fields of "Execute now with overrides" for one template: `{name}env.NAME` per declared
/// field, `{name}schedule_time`, and for admins `{name}executor`; element ids start with `id`.
/// The one-template form uses no prefix, the selected templates' form `t.ID.` each.
pub(super) fn override_fields(
    session: &Session,
    t: &RunTemplate,
    app: &App,
    name: &str,
    id: &str,
) -> Markup {
    html! {
        @if app.environment.is_empty() {
            p.muted { "The app declares no configuration fields." }
        }
        @for f in &app.environment {
            @let field_id = format!("{id}env-{}", f.name);
            label for=(field_id) { code { (f.name) } @if f.required { " (required)" } }
            @if is_secret(t, app, &f.name) {
                input type="password" id=(field_id) name={ (name) "env." (f.name) } value="" autocomplete="off"
                    placeholder="*** (stored; leave empty to keep)";
            } @else {
                input type="text" id=(field_id) name={ (name) "env." (f.name) }
                    value=(shown_value(t, app, &f.name).unwrap_or_default());
            }
        }
        label for={ (id) "schedule_time" } { "When: now, an RFC 3339 instant, or Y-m-d H:i:s (server timezone)" }
        input id={ (id) "schedule_time" } type="text" name={ (name) "schedule_time" } value="now";
        @if session.is_admin() {
            label for={ (id) "executor" } { "Executor" }
            select id={ (id) "executor" } name={ (name) "executor" } {
                option value="" selected { "the template's (" (t.executor) ")" }
                @for k in ExecutorKind::ALL {
                    option value=(k.as_str()) { (k.as_str()) }
                }
            }
        }
    }
}

/// The job "Execute now with overrides" makes of one template's form fields (`fields`: names
/// without their prefix, which `prefix` puts back in messages): the changed fields become its
/// one-off environment (a secret field left empty keeps its stored value; an unchanged field is
/// not an override), `schedule_time` says when (default now), `executor` where. Err: why a
/// field is not accepted, naming it.
pub(super) fn order_with_overrides<'a>(
    t: &RunTemplate,
    app: &App,
    prefix: &str,
    fields: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<JobOrder, String> {
    let mut order = JobOrder::new(t.id, Trigger::Manual);
    order.scheduled = Some("now".into());
    for (key, value) in fields {
        match key {
            "schedule_time" => order.scheduled = Some(value.to_string()),
            "executor" => {
                order.executor = Some(value.to_string()).filter(|e| !e.trim().is_empty());
            }
            _ => {
                let Some(name) = key.strip_prefix("env.") else {
                    return Err(format!(
                        "Unknown form field {:?}; reload the page and try again.",
                        format!("{prefix}{key}")
                    ));
                };
                if app.field(name).is_none() {
                    return Err(format!(
                        "{prefix}env.{name}: app {} declares no field {name:?}; reload the page.",
                        app.id
                    ));
                }
                let secret = is_secret(t, app, name);
                let keep = if secret {
                    value.is_empty()
                } else {
                    shown_value(t, app, name).unwrap_or_default() == value
                };
                if !keep {
                    let mut v = Variable::plain(name.to_string(), value.to_string());
                    v.secret = secret;
                    order.env.push(v);
                }
            }
        }
    }
    Ok(order)
}

/// A form of named fields besides its CSRF token: the overrides form (`env.NAME` per declared
/// field, `schedule_time`, `executor`) and the templates list's selection (`t.ID=on` per
/// checked template, with `t.ID.env.NAME`, `t.ID.schedule_time`, `t.ID.executor` when the
/// selected templates' overrides form sends it).
#[derive(Debug, Deserialize)]
pub(crate) struct FieldsForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    pub(super) fields: BTreeMap<String, String>,
}

impl CsrfForm for FieldsForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /runtemplates/{id}/execute-with`: creates a job (trigger `manual`) with the changed
/// fields as its one-off environment, through the same use case as `run-template:schedule`. A
/// secret field left empty keeps its stored value; an unchanged field is not an override.
pub(crate) async fn execute_with(
    State(state): State<DashState>,
    Path(id): Path<String>,
    Checked { session, form }: Checked<FieldsForm>,
) -> PageResult {
    let store = &*state.http.store;
    let id = parse_id(&id).or_page(&session)?;
    let t = scope::template(store, &session, id)
        .await
        .or_page(&session)?;
    let app = store.get_app(t.app_id).await.or_page(&session)?;
    let order = order_with_overrides(
        &t,
        &app,
        "",
        form.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )
    .map_err(|why| PageError::bad_request(why).for_session(&session))?;
    let job = state
        .http
        .usecases()
        .create_job(&session.caller(), order)
        .await
        .or_page(&session)?
        .job;
    tracing::info!(job_id = job.id.get(), runtemplate_id = id.get(), token = %session.token.name, "dashboard: execute with overrides");
    Ok(see_other(&format!("/jobs/{}", job.id)))
}
