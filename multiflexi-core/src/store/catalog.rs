use crate::Result;
use crate::ids::{AppId, CompanyId, CredentialId, JobId, RunTemplateId};
use crate::model::{App, Company, Credential, RunTemplate};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::fmt::Debug;

/// Which run templates to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunTemplateFilter {
    /// Only this company's.
    pub company_id: Option<CompanyId>,
    /// Only this app's.
    pub app_id: Option<AppId>,
    /// Only active (true) or inactive (false) ones.
    pub active: Option<bool>,
}

/// An active, scheduled template with the scheduled jobs it still has outstanding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulableTemplate {
    /// The template.
    pub template: RunTemplate,
    /// Its jobs with a slot (scheduled or retries) that are not yet Completed, oldest first.
    pub outstanding: Vec<JobId>,
}

/// Apps, companies, credentials and run templates.
///
/// Names are case-sensitive everywhere: `Acme` and `acme` are two companies.
#[async_trait]
pub trait Catalog: Send + Sync + Debug + 'static {
    /// Stores an app. With `id == 0` it is matched by `uuid` (when it has one), else by its name:
    /// a match is updated in place (keeping its id and its `container` settings, which are the
    /// operator's and which an application file cannot carry), otherwise the app is inserted.
    /// With an id, the app is stored as given.
    async fn put_app(&self, app: &App) -> Result<App>;
    /// One app.
    async fn get_app(&self, id: AppId) -> Result<App>;
    /// All apps, by id.
    async fn list_apps(&self) -> Result<Vec<App>>;
    /// Deletes an app; Conflict while run templates use it.
    async fn delete_app(&self, id: AppId) -> Result<()>;

    /// Inserts a company (name and slug unique).
    async fn create_company(&self, company: &Company) -> Result<Company>;
    /// Updates a company.
    async fn update_company(&self, company: &Company) -> Result<Company>;
    /// One company.
    async fn get_company(&self, id: CompanyId) -> Result<Company>;
    /// All companies, by id.
    async fn list_companies(&self) -> Result<Vec<Company>>;
    /// Deletes a company; Conflict while run templates or credentials belong to it.
    async fn delete_company(&self, id: CompanyId) -> Result<()>;

    /// Inserts a credential (name unique per company).
    async fn create_credential(&self, credential: &Credential) -> Result<Credential>;
    /// One credential (secret values included: callers redact).
    async fn get_credential(&self, id: CredentialId) -> Result<Credential>;
    /// Credentials, of one company or all.
    async fn list_credentials(&self, company_id: Option<CompanyId>) -> Result<Vec<Credential>>;
    /// Deletes a credential; Conflict while run templates use it.
    async fn delete_credential(&self, id: CredentialId) -> Result<()>;
    /// Replaces a credential's name, type and values (by its id; secret values sealed as on
    /// insert). NotFound when unknown; InvalidInput when its company differs from the stored
    /// one (a credential stays with its company); AlreadyExists when another credential of the
    /// company has the name.
    async fn update_credential(&self, credential: &Credential) -> Result<Credential>;

    /// Inserts a run template. `next_schedule` is left as given (normally NULL: the scheduler computes it).
    async fn create_runtemplate(&self, template: &RunTemplate) -> Result<RunTemplate>;
    /// Updates the operator-editable fields of a template. Counters and `last_schedule` are kept;
    /// `next_schedule` is reset to NULL (the scheduler recomputes it) unless a job is outstanding.
    async fn update_runtemplate(&self, template: &RunTemplate) -> Result<RunTemplate>;
    /// One template.
    async fn get_runtemplate(&self, id: RunTemplateId) -> Result<RunTemplate>;
    /// Templates matching the filter, by id.
    async fn list_runtemplates(&self, filter: &RunTemplateFilter) -> Result<Vec<RunTemplate>>;
    /// Deletes a template; Conflict while it has jobs that are not finished.
    async fn delete_runtemplate(&self, id: RunTemplateId) -> Result<()>;
    /// Folds the templates' counter deltas into their rows (housekeeping, called by each
    /// retention run): a store that counts a finish as an insert-only delta, so finishes
    /// never wait on a template's row lock, keeps its delta table short with it; the
    /// counters read the same before and after. Returns the deltas folded (0 for a store
    /// that updates counters in place).
    async fn fold_template_counts(&self) -> Result<u64>;
    /// Compare-and-swap of `next_schedule`: sets `new` iff the stored value equals `expected`.
    /// Returns whether it was set.
    async fn set_next_schedule(
        &self,
        id: RunTemplateId,
        expected: Option<DateTime<Utc>>,
        new: Option<DateTime<Utc>>,
    ) -> Result<bool>;
    /// Active templates whose interval is not `n`, with their outstanding scheduled jobs.
    async fn schedulable_runtemplates(&self) -> Result<Vec<SchedulableTemplate>>;
}
