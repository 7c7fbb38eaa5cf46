//! One module per page (or group of pages).

pub(crate) mod apps;
pub(crate) mod bulk_execute;
pub(crate) mod companies;
pub(crate) mod job;
pub(crate) mod jobs;
pub(crate) mod overview;
pub(crate) mod retention;
pub(crate) mod templates;
pub(crate) mod trends;

use super::layout;
use maud::{Markup, html};
use multiflexi_core::{App, AppId, Company, CompanyId, Job, RunTemplate, RunTemplateId};
use std::collections::HashMap;

/// Names of templates, companies and apps, for tables of jobs.
#[derive(Debug, Default)]
pub(crate) struct Names {
    templates: HashMap<RunTemplateId, String>,
    companies: HashMap<CompanyId, String>,
    apps: HashMap<AppId, String>,
}

impl Names {
    pub(crate) fn new(templates: &[RunTemplate], companies: &[Company], apps: &[App]) -> Self {
        Self {
            templates: templates.iter().map(|t| (t.id, t.name.clone())).collect(),
            companies: companies.iter().map(|c| (c.id, c.name.clone())).collect(),
            apps: apps
                .iter()
                .map(|a| (a.id, a.display_name().to_string()))
                .collect(),
        }
    }

    /// Loads the names the session may see.
    pub(crate) async fn load(
        store: &dyn multiflexi_core::Store,
        session: &super::session::Session,
    ) -> Result<Self, super::error::PageError> {
        let templates = super::scope::templates(store, session).await?;
        let companies: Vec<Company> = store
            .list_companies()
            .await?
            .into_iter()
            .filter(|c| session.sees(c.id))
            .collect();
        let apps = super::scope::apps(store, session).await?;
        Ok(Self::new(&templates, &companies, &apps))
    }

    pub(crate) fn template(&self, id: RunTemplateId) -> String {
        self.templates
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("template {id}"))
    }

    pub(crate) fn company(&self, id: CompanyId) -> String {
        self.companies
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("company {id}"))
    }

    pub(crate) fn app(&self, id: AppId) -> String {
        self.apps
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("app {id}"))
    }
}

/// A table of jobs (newest first), each row carrying `data-job-id`.
pub(crate) fn jobs_table(jobs: &[Job], names: &Names, caption: &str) -> Markup {
    html! {
        @if jobs.is_empty() {
            p.muted { "No jobs." }
        } @else {
            table {
                caption.sr-only { (caption) }
                thead { tr {
                    th scope="col" { "Job" }
                    th scope="col" { "Status" }
                    th scope="col" { "Run template" }
                    th scope="col" { "Company" }
                    th scope="col" { "Trigger" }
                    th scope="col" { "Created" }
                    th scope="col" { "Duration" }
                } }
                tbody {
                    @for j in jobs {
                        tr data-job-id=(j.id) {
                            td { a href={ "/jobs/" (j.id) } { "#" (j.id) } }
                            td {
                                (layout::job_badge(j))
                                @if let Some(why) = &j.unreadable {
                                    " " span.badge.bg-secondary data-unreadable title=(why) { "unreadable" }
                                }
                            }
                            td { a href={ "/runtemplates/" (j.runtemplate_id) } { (names.template(j.runtemplate_id)) } }
                            td { (names.company(j.company_id)) }
                            td { (j.trigger.as_str()) }
                            td { (layout::ts(j.created)) }
                            td { @match j.duration() {
                                Some(d) => { (layout::duration(d)) }
                                None => { span.muted { "—" } }
                            } }
                        }
                    }
                }
            }
        }
    }
}
