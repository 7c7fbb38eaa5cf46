//! Companies: the list and the create form (admin tokens only). A company token sees its own.

use super::super::DashState;
use super::super::csrf::{Checked, CsrfForm};
use super::super::error::{OrPage, PageError, PageResult};
use super::super::layout::{self, Nav};
use super::super::session::{Session, see_other};
use crate::usecase::companies::NewCompany;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use maud::{Markup, html};
use multiflexi_core::store::RunTemplateFilter;
use multiflexi_core::{Company, CompanyId};
use serde::Deserialize;

/// `?created=ID` after a company was made.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    created: Option<String>,
}

async fn list_page(
    state: &DashState,
    session: &Session,
    notice: Option<Markup>,
    form: &CreateForm,
    status: StatusCode,
) -> PageResult {
    let store = &*state.http.store;
    let companies: Vec<Company> = store
        .list_companies()
        .await
        .or_page(session)?
        .into_iter()
        .filter(|c| session.sees(c.id))
        .collect();
    let mut filter = RunTemplateFilter::default();
    filter.company_id = session.scope().company();
    let templates = store.list_runtemplates(&filter).await.or_page(session)?;
    let body = html! {
        h1 { "Companies" }
        @if let Some(n) = notice { (n) }
        @if companies.is_empty() {
            p.muted { "No companies yet." }
        } @else {
            table #companies {
                caption.sr-only { "Companies" }
                thead { tr {
                    th scope="col" { "Name" }
                    th scope="col" { "Slug" }
                    th scope="col" { "E-mail" }
                    th scope="col" { "Run templates" }
                    th scope="col" { "Environment" }
                    th scope="col" { "State" }
                    th scope="col" { span.sr-only { "Links" } }
                } }
                tbody {
                    @for c in &companies {
                        tr #{ "company-" (c.id) } data-company-id=(c.id) {
                            td { (c.name) }
                            td { code { (c.slug) } }
                            td { (c.email.as_deref().unwrap_or("—")) }
                            td { (templates.iter().filter(|t| t.company_id == c.id).count()) }
                            td { @if c.environment.is_empty() { span.muted { "—" } } @else {
                                @for (i, (name, v)) in c.environment.0.iter().enumerate() {
                                    @if i > 0 { ", " }
                                    code { (name) } @if v.secret { " (secret)" }
                                }
                            } }
                            td { @if c.enabled { "enabled" } @else { "disabled" } }
                            td { a href={ "/jobs?company=" (c.id) } { "Jobs" span.sr-only { " of " (c.name) } } }
                        }
                    }
                }
            }
        }
        @if session.is_admin() {
            section.panel aria-labelledby="create-heading" {
                h2 #create-heading { "New company" }
                form method="post" action="/companies" {
                    (layout::csrf_field(session))
                    div.field {
                        label for="company-name" { "Name" }
                        input #company-name type="text" name="name" required maxlength="200" value=(form.name);
                    }
                    div.field {
                        label for="company-email" { "E-mail (optional)" }
                        input #company-email type="email" name="email" maxlength="200" value=(form.email);
                    }
                    button.btn.btn-primary type="submit" { "Create company" }
                }
            }
        }
    };
    Ok((
        status,
        layout::page(session, "Companies", Nav::Companies, body),
    )
        .into_response())
}

/// `GET /companies`.
pub(crate) async fn list(
    State(state): State<DashState>,
    session: Session,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let store = &*state.http.store;
    let notice = match q
        .created
        .as_deref()
        .and_then(|c| c.parse::<CompanyId>().ok())
    {
        Some(id) if session.sees(id) => match store.get_company(id).await {
            Ok(c) => Some(html! {
                p.alert.alert-success role="status" { "Company “" (c.name) "” was created." }
            }),
            Err(_) => None,
        },
        _ => None,
    };
    list_page(
        &state,
        &session,
        notice,
        &CreateForm::default(),
        StatusCode::OK,
    )
    .await
}

/// The create form.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
}

impl CsrfForm for CreateForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /companies` (admin tokens only).
pub(crate) async fn create(
    State(state): State<DashState>,
    Checked { session, form }: Checked<CreateForm>,
) -> PageResult {
    if !session.is_admin() {
        return Err(
            PageError::forbidden("Only an admin token can create companies.").for_session(&session),
        );
    }
    let refuse = |message: String| {
        let notice = html! { p.alert.alert-danger role="alert" #company-error { (message) } };
        Some(notice)
    };
    let mut new = NewCompany::named(form.name.clone());
    new.email = Some(form.email.clone());
    match state
        .http
        .usecases()
        .create_company(&session.caller(), new)
        .await
    {
        Ok(c) => Ok(see_other(&format!("/companies?created={}", c.id))),
        Err(e) => {
            let status = match e {
                multiflexi_core::Error::AlreadyExists { .. } => StatusCode::CONFLICT,
                multiflexi_core::Error::Forbidden { .. } => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_REQUEST,
            };
            let notice = refuse(format!("Not created: {e}."));
            list_page(&state, &session, notice, &form, status).await
        }
    }
}
