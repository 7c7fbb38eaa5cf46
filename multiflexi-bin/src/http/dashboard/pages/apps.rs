//! Apps: the list with the JSON import form, one app (fields, exit codes, result files).
//! Import reads a MultiFlexi application definition with the core's lenient importer, as
//! `multiflexi-cli application:import-json` does, and shows its warnings.

use super::super::DashState;
use super::super::csrf::{Checked, CsrfForm};
use super::super::error::{OrPage, PageError, PageResult};
use super::super::layout::{self, Nav};
use super::super::scope;
use super::super::session::Session;
use super::trends::{self, TrendsQuery};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use maud::{Markup, html};
use multiflexi_core::store::StatsSubject;
use multiflexi_core::{App, AppId};
use serde::Deserialize;

fn import_form(session: &Session, text: &str) -> Markup {
    html! {
        section.panel aria-labelledby="import-heading" {
            h2 #import-heading { "Import an application definition" }
            p.muted { "Paste a MultiFlexi " code { "*.multiflexi.app.json" }
                " file. It is read as leniently as " code { "multiflexi-cli application:import-json" }
                " reads it; an app with the same uuid (or name) is updated in place." }
            form method="post" action="/apps/import" {
                (layout::csrf_field(session))
                div.field {
                    label for="app-json" { "Application JSON" }
                    textarea #app-json name="json" required spellcheck="false" { (text) }
                }
                button.btn.btn-primary type="submit" { "Import" }
            }
        }
    }
}

async fn list_page(
    state: &DashState,
    session: &Session,
    notice: Option<Markup>,
    text: &str,
    status: StatusCode,
) -> PageResult {
    let store = &*state.http.store;
    let apps = scope::apps(store, session).await.or_page(session)?;
    let body = html! {
        h1 { "Apps" }
        @if let Some(n) = notice { (n) }
        @if apps.is_empty() {
            p.muted { "No apps yet." }
        } @else {
            table #apps {
                caption.sr-only { "Apps" }
                thead { tr {
                    th scope="col" { "Name" }
                    th scope="col" { "Version" }
                    th scope="col" { "Executable" }
                    th scope="col" { "Image" }
                    th scope="col" { "State" }
                } }
                tbody {
                    @for a in &apps {
                        tr data-app-id=(a.id) {
                            td { a href={ "/apps/" (a.id) } { (a.display_name()) } }
                            td { (a.version.as_deref().unwrap_or("—")) }
                            td { code { (a.executable) } }
                            td { (a.ociimage.as_deref().unwrap_or("—")) }
                            td { @if a.enabled { "enabled" } @else { "disabled" } }
                        }
                    }
                }
            }
        }
        @if session.is_admin() {
            (import_form(session, text))
        }
    };
    Ok((status, layout::page(session, "Apps", Nav::Apps, body)).into_response())
}

/// `GET /apps`.
pub(crate) async fn list(State(state): State<DashState>, session: Session) -> PageResult {
    list_page(&state, &session, None, "", StatusCode::OK).await
}

fn localized(t: &multiflexi_core::model::LocalizedText) -> &str {
    t.text()
}

fn app_markup(app: &App) -> Markup {
    html! {
        h1 { (app.display_name()) }
        @let description = localized(&app.description);
        @if !description.is_empty() { p { (description) } }
        dl.facts {
            dt { "Executable" } dd { code { (app.executable) } }
            dt { "Arguments" } dd { @if app.cmdparams.is_empty() { span.muted { "none" } } @else { code { (app.cmdparams) } } }
            dt { "Container image" } dd { (app.ociimage.as_deref().unwrap_or("—")) }
            dt { "Container sandbox" } dd { (app.container.describe()) }
            dt { "Version" } dd { (app.version.as_deref().unwrap_or("—")) }
            dt { "UUID" } dd { (app.uuid.as_deref().unwrap_or("—")) }
            @if let Some(h) = &app.homepage { dt { "Homepage" } dd { (h) } }
            @if !app.tags.is_empty() { dt { "Tags" } dd { (app.tags.join(", ")) } }
            dt { "State" } dd { @if app.enabled { "enabled" } @else { "disabled" } }
        }
        h2 { "Configuration fields" }
        @if app.environment.is_empty() {
            p.muted { "None." }
        } @else {
            table #fields {
                caption.sr-only { "Configuration fields" }
                thead { tr { th scope="col" { "Name" } th scope="col" { "Type" } th scope="col" { "Required" }
                    th scope="col" { "Default" } th scope="col" { "Description" } } }
                tbody {
                    @for f in &app.environment {
                        tr {
                            td { code { (f.name) } @if f.secret { " " span.badge.bg-secondary { "secret" } } }
                            td { (f.kind) }
                            td { @if f.required { "yes" } @else { "no" } }
                            td { @match (&f.default, f.secret) {
                                (Some(_), true) => { span.muted { "*** (secret)" } }
                                (Some(d), false) => { code { (d) } }
                                (None, _) => { span.muted { "—" } }
                            } }
                            td { (localized(&f.description)) }
                        }
                    }
                }
            }
        }
        h2 { "Exit codes" }
        @if app.exit_codes.is_empty() {
            p.muted { "The app describes none; the standard meanings apply." }
        } @else {
            table #exit-codes {
                caption.sr-only { "The app's exit codes" }
                thead { tr { th scope="col" { "Code" } th scope="col" { "Description" } th scope="col" { "Severity" } th scope="col" { "Retry" } } }
                tbody {
                    @for (code, info) in &app.exit_codes {
                        tr { td { code { (code) } } td { (localized(&info.description)) }
                            td { (info.severity.as_deref().unwrap_or("—")) } td { @if info.retry { "yes" } @else { "no" } } }
                    }
                }
            }
        }
        h2 { "Result files" }
        @if app.artifacts.is_empty() {
            p.muted { "None besides stdout.txt and stderr.txt." }
        } @else {
            ul { @for a in &app.artifacts { li { code { (a.path) } " " (localized(&a.name)) } } }
        }
    }
}

/// `GET /apps/{id}`.
pub(crate) async fn detail(
    State(state): State<DashState>,
    session: Session,
    Path(id): Path<String>,
    Query(trend): Query<TrendsQuery>,
) -> PageResult {
    let id = id
        .parse::<AppId>()
        .map_err(|_| PageError::not_found(format!("App {id:?}")))
        .or_page(&session)?;
    let app = scope::app(&*state.http.store, &session, id)
        .await
        .or_page(&session)?;
    let title = app.display_name().to_string();
    let stats = state
        .http
        .usecases()
        .job_stats(
            &session.caller(),
            StatsSubject::App(app.id),
            trend.days(),
            trends::LAST_JOBS,
        )
        .await
        .or_page(&session)?;
    let now = state.http.clock.now();
    let body = html! {
        (app_markup(&app))
        (trends::section(&stats, &format!("/apps/{}", app.id), now))
    };
    Ok(layout::page(&session, &title, Nav::Apps, body).into_response())
}

/// The import form.
#[derive(Debug, Deserialize)]
pub(crate) struct ImportForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    json: String,
}

impl CsrfForm for ImportForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /apps/import`: imports one application definition (admin tokens only).
pub(crate) async fn import(
    State(state): State<DashState>,
    Checked { session, form }: Checked<ImportForm>,
) -> PageResult {
    if !session.is_admin() {
        return Err(
            PageError::forbidden("Only an admin token can import apps.").for_session(&session)
        );
    }
    let imported = match state
        .http
        .usecases()
        .import_app(&session.caller(), form.json.as_bytes(), "the dashboard")
        .await
    {
        Ok(imported) => imported,
        Err(e) => {
            let notice = html! {
                p.alert.alert-danger role="alert" #import-result {
                    @if let multiflexi_core::Error::InvalidInput { field, message } = &e {
                        "Rejected: " (message) " (at " code { (field) } ")"
                    } @else {
                        "Rejected: " (e)
                    }
                    ". Nothing was imported."
                }
            };
            return list_page(
                &state,
                &session,
                Some(notice),
                &form.json,
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    let (app, action) = (&imported.app, imported.action());
    let notice = html! {
        div.alert.alert-success role="status" #import-result {
            "Imported as " a href={ "/apps/" (app.id) } { "app " (app.id) " “" (app.display_name()) "”" }
            " (" (action) ")."
            @if !imported.warnings.is_empty() {
                " " (imported.warnings.len()) " warning(s):"
                ul #import-warnings {
                    @for w in &imported.warnings { li { (w) } }
                }
            }
        }
    };
    list_page(&state, &session, Some(notice), "", StatusCode::OK).await
}
