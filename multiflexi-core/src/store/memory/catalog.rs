//! [`Catalog`] for [`InMemoryStore`].

use super::InMemoryStore;
use super::state::{State, next_id};
use crate::clock::to_micros;
use crate::ids::{AppId, CompanyId, CredentialId, JobId, RunTemplateId};
use crate::model::{App, Company, Credential, RunTemplate};
use crate::schedule::IntervalCode;
use crate::store::{Catalog, RunTemplateFilter, SchedulableTemplate};
use crate::{Error, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

fn exists(entity: &'static str, key: impl Into<String>) -> Error {
    Error::AlreadyExists {
        entity,
        key: key.into(),
    }
}

impl State {
    /// Checks a company's name and slug: present and unique (case-sensitive) among the others.
    fn check_company(&self, c: &Company) -> Result<()> {
        if c.name.is_empty() {
            return Err(Error::invalid("name", "a company needs a name"));
        }
        if c.slug.is_empty() {
            return Err(Error::invalid(
                "slug",
                "a company needs a slug (lower-case letters, digits and '-')",
            ));
        }
        for other in self.companies.values().filter(|o| o.id != c.id) {
            if other.name == c.name {
                return Err(exists(CompanyId::ENTITY, format!("name {:?}", c.name)));
            }
            if other.slug == c.slug {
                return Err(exists(CompanyId::ENTITY, format!("slug {:?}", c.slug)));
            }
        }
        Ok(())
    }

    /// Checks a template's references and schedule.
    fn check_template(&self, t: &RunTemplate) -> Result<()> {
        if !self.apps.contains_key(&t.app_id) {
            return Err(Error::not_found(AppId::ENTITY, t.app_id));
        }
        if !self.companies.contains_key(&t.company_id) {
            return Err(Error::not_found(CompanyId::ENTITY, t.company_id));
        }
        if let Some(c) = t
            .credentials
            .iter()
            .find(|c| !self.credentials.contains_key(c))
        {
            return Err(Error::not_found(CredentialId::ENTITY, c));
        }
        t.schedule()?;
        Ok(())
    }
}

/// A template with its timestamps truncated to microseconds.
fn normalise(mut t: RunTemplate) -> RunTemplate {
    t.next_schedule = t.next_schedule.map(to_micros);
    t.last_schedule = t.last_schedule.map(to_micros);
    t
}

#[async_trait]
impl Catalog for InMemoryStore {
    async fn put_app(&self, app: &App) -> Result<App> {
        let mut st = self.lock();
        let now = self.now();
        let existing = if app.id.0 != 0 {
            Some(
                st.apps
                    .get(&app.id)
                    .ok_or_else(|| Error::not_found(AppId::ENTITY, app.id))?
                    .clone(),
            )
        } else if let Some(uuid) = &app.uuid {
            st.apps
                .values()
                .find(|a| a.uuid.as_ref() == Some(uuid))
                .cloned()
        } else {
            st.apps
                .values()
                .find(|a| a.name.text() == app.name.text())
                .cloned()
        };
        let mut stored = app.clone();
        match existing {
            Some(old) => {
                stored.id = old.id;
                stored.created = old.created;
                if app.id.0 == 0 {
                    // An import: the container settings are the operator's, not the file's.
                    stored.container = old.container;
                }
            }
            None => {
                stored.id = AppId(next_id(&mut st.last_id.app));
                stored.created = Some(now);
            }
        }
        if let Some(uuid) = &stored.uuid
            && st
                .apps
                .values()
                .any(|a| a.id != stored.id && a.uuid.as_ref() == Some(uuid))
        {
            return Err(exists(AppId::ENTITY, format!("uuid {uuid:?}")));
        }
        stored.updated = Some(now);
        st.apps.insert(stored.id, stored.clone());
        Ok(stored)
    }

    async fn get_app(&self, id: AppId) -> Result<App> {
        self.lock()
            .apps
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::not_found(AppId::ENTITY, id))
    }

    async fn list_apps(&self) -> Result<Vec<App>> {
        Ok(self.lock().apps.values().cloned().collect())
    }

    async fn delete_app(&self, id: AppId) -> Result<()> {
        let mut st = self.lock();
        if !st.apps.contains_key(&id) {
            return Err(Error::not_found(AppId::ENTITY, id));
        }
        let users: Vec<String> = st
            .templates
            .values()
            .filter(|t| t.app_id == id)
            .map(|t| t.id.to_string())
            .collect();
        if !users.is_empty() {
            return Err(Error::conflict(format!(
                "app {id} is used by run templates {}",
                users.join(", ")
            )));
        }
        st.apps.remove(&id);
        Ok(())
    }

    async fn create_company(&self, company: &Company) -> Result<Company> {
        let mut st = self.lock();
        let now = self.now();
        let mut c = company.clone();
        c.id = CompanyId(0);
        st.check_company(&c)?;
        c.id = CompanyId(next_id(&mut st.last_id.company));
        c.created = Some(now);
        c.updated = Some(now);
        st.companies.insert(c.id, c.clone());
        Ok(c)
    }

    async fn update_company(&self, company: &Company) -> Result<Company> {
        let mut st = self.lock();
        let now = self.now();
        let old = st
            .companies
            .get(&company.id)
            .ok_or_else(|| Error::not_found(CompanyId::ENTITY, company.id))?;
        let mut c = company.clone();
        c.created = old.created;
        c.updated = Some(now);
        st.check_company(&c)?;
        st.companies.insert(c.id, c.clone());
        Ok(c)
    }

    async fn get_company(&self, id: CompanyId) -> Result<Company> {
        self.lock()
            .companies
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::not_found(CompanyId::ENTITY, id))
    }

    async fn list_companies(&self) -> Result<Vec<Company>> {
        Ok(self.lock().companies.values().cloned().collect())
    }

    async fn delete_company(&self, id: CompanyId) -> Result<()> {
        let mut st = self.lock();
        if !st.companies.contains_key(&id) {
            return Err(Error::not_found(CompanyId::ENTITY, id));
        }
        if st.templates.values().any(|t| t.company_id == id) {
            return Err(Error::conflict(format!(
                "company {id} still has run templates"
            )));
        }
        if st.credentials.values().any(|c| c.company_id == id) {
            return Err(Error::conflict(format!(
                "company {id} still has credentials"
            )));
        }
        st.companies.remove(&id);
        Ok(())
    }

    async fn create_credential(&self, credential: &Credential) -> Result<Credential> {
        let mut st = self.lock();
        if !st.companies.contains_key(&credential.company_id) {
            return Err(Error::not_found(CompanyId::ENTITY, credential.company_id));
        }
        if credential.name.is_empty() {
            return Err(Error::invalid("name", "a credential needs a name"));
        }
        if st
            .credentials
            .values()
            .any(|c| c.company_id == credential.company_id && c.name == credential.name)
        {
            return Err(exists(
                CredentialId::ENTITY,
                format!(
                    "company {} name {:?}",
                    credential.company_id, credential.name
                ),
            ));
        }
        let mut c = credential.clone();
        c.id = CredentialId(next_id(&mut st.last_id.credential));
        st.credentials.insert(c.id, c.clone());
        Ok(c)
    }

    async fn update_credential(&self, credential: &Credential) -> Result<Credential> {
        let mut st = self.lock();
        let stored = st
            .credentials
            .get(&credential.id)
            .ok_or_else(|| Error::not_found(CredentialId::ENTITY, credential.id))?;
        if stored.company_id != credential.company_id {
            return Err(Error::invalid(
                "company_id",
                format!(
                    "credential {} belongs to company {}; a credential stays with its company",
                    credential.id, stored.company_id
                ),
            ));
        }
        if credential.name.is_empty() {
            return Err(Error::invalid("name", "a credential needs a name"));
        }
        if st.credentials.values().any(|c| {
            c.company_id == credential.company_id
                && c.name == credential.name
                && c.id != credential.id
        }) {
            return Err(exists(
                CredentialId::ENTITY,
                format!(
                    "company {} name {:?}",
                    credential.company_id, credential.name
                ),
            ));
        }
        st.credentials.insert(credential.id, credential.clone());
        Ok(credential.clone())
    }

    async fn get_credential(&self, id: CredentialId) -> Result<Credential> {
        self.lock()
            .credentials
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::not_found(CredentialId::ENTITY, id))
    }

    async fn list_credentials(&self, company_id: Option<CompanyId>) -> Result<Vec<Credential>> {
        Ok(self
            .lock()
            .credentials
            .values()
            .filter(|c| company_id.is_none_or(|id| c.company_id == id))
            .cloned()
            .collect())
    }

    async fn delete_credential(&self, id: CredentialId) -> Result<()> {
        let mut st = self.lock();
        if !st.credentials.contains_key(&id) {
            return Err(Error::not_found(CredentialId::ENTITY, id));
        }
        if st.templates.values().any(|t| t.credentials.contains(&id)) {
            return Err(Error::conflict(format!(
                "credential {id} is used by run templates"
            )));
        }
        st.credentials.remove(&id);
        Ok(())
    }

    async fn create_runtemplate(&self, template: &RunTemplate) -> Result<RunTemplate> {
        let mut st = self.lock();
        let now = self.now();
        st.check_template(template)?;
        let mut t = normalise(template.clone());
        t.id = RunTemplateId(next_id(&mut st.last_id.template));
        t.created = Some(now);
        t.updated = Some(now);
        st.templates.insert(t.id, t.clone());
        Ok(t)
    }

    async fn update_runtemplate(&self, template: &RunTemplate) -> Result<RunTemplate> {
        let mut st = self.lock();
        let now = self.now();
        let old = st
            .templates
            .get(&template.id)
            .ok_or_else(|| Error::not_found(RunTemplateId::ENTITY, template.id))?
            .clone();
        st.check_template(template)?;
        let mut t = template.clone();
        t.successfull_jobs_count = old.successfull_jobs_count;
        t.failed_jobs_count = old.failed_jobs_count;
        t.last_schedule = old.last_schedule;
        t.created = old.created;
        t.updated = Some(now);
        t.next_schedule = if st.outstanding(t.id).is_empty() {
            None
        } else {
            old.next_schedule
        };
        st.templates.insert(t.id, t.clone());
        Ok(t)
    }

    async fn get_runtemplate(&self, id: RunTemplateId) -> Result<RunTemplate> {
        self.lock()
            .templates
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::not_found(RunTemplateId::ENTITY, id))
    }

    async fn list_runtemplates(&self, filter: &RunTemplateFilter) -> Result<Vec<RunTemplate>> {
        Ok(self
            .lock()
            .templates
            .values()
            .filter(|t| filter.company_id.is_none_or(|c| t.company_id == c))
            .filter(|t| filter.app_id.is_none_or(|a| t.app_id == a))
            .filter(|t| filter.active.is_none_or(|a| t.active == a))
            .cloned()
            .collect())
    }

    async fn delete_runtemplate(&self, id: RunTemplateId) -> Result<()> {
        let mut st = self.lock();
        if !st.templates.contains_key(&id) {
            return Err(Error::not_found(RunTemplateId::ENTITY, id));
        }
        let busy: Vec<String> = st
            .jobs
            .values()
            .filter(|j| j.runtemplate_id == id && !j.phase.is_finished())
            .map(|j| j.id.to_string())
            .collect();
        if !busy.is_empty() {
            return Err(Error::conflict(format!(
                "run template {id} has unfinished jobs {}",
                busy.join(", ")
            )));
        }
        st.templates.remove(&id);
        Ok(())
    }

    async fn fold_template_counts(&self) -> Result<u64> {
        // Counters are updated in place here: nothing to fold.
        Ok(0)
    }

    async fn set_next_schedule(
        &self,
        id: RunTemplateId,
        expected: Option<DateTime<Utc>>,
        new: Option<DateTime<Utc>>,
    ) -> Result<bool> {
        let mut st = self.lock();
        let t = st
            .templates
            .get_mut(&id)
            .ok_or_else(|| Error::not_found(RunTemplateId::ENTITY, id))?;
        if t.next_schedule != expected.map(to_micros) {
            return Ok(false);
        }
        t.next_schedule = new.map(to_micros);
        Ok(true)
    }

    async fn schedulable_runtemplates(&self) -> Result<Vec<SchedulableTemplate>> {
        let st = self.lock();
        // one pass over the jobs (ids ascending = oldest first)
        let mut outstanding: HashMap<RunTemplateId, Vec<JobId>> = HashMap::new();
        for j in st.jobs.values() {
            if j.slot.is_some() && !j.phase.is_finished() {
                outstanding.entry(j.runtemplate_id).or_default().push(j.id);
            }
        }
        Ok(st
            .templates
            .values()
            .filter(|t| t.active && t.interv != IntervalCode::Disabled)
            .map(|t| SchedulableTemplate {
                template: t.clone(),
                outstanding: outstanding.remove(&t.id).unwrap_or_default(),
            })
            .collect())
    }
}
