//! The audit log of operator actions: one row per use case, written after the change committed.
//! A failure to write it is logged, never returned (the action itself has happened).

use super::{Caller, UseCases};
use multiflexi_core::JobId;
use multiflexi_core::store::AuditEntry;

/// Every action the application layer audits, with the name written to the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// `company:create`
    CompanyCreate,
    /// `company:update`
    CompanyUpdate,
    /// `company:delete`
    CompanyDelete,
    /// `company:env-set`
    CompanyEnvSet,
    /// `company:env-unset`
    CompanyEnvUnset,
    /// `token:create`
    TokenCreate,
    /// `token:revoke`
    TokenRevoke,
    /// `token:update` (renamed or given a new secret)
    TokenUpdate,
    /// `app:import`
    AppImport,
    /// `app:update`
    AppUpdate,
    /// `app:delete`
    AppDelete,
    /// `credential:create`
    CredentialCreate,
    /// `credential:delete`
    CredentialDelete,
    /// `credential:update`
    CredentialUpdate,
    /// `retention:set`
    RetentionSet,
    /// `retention:unset`
    RetentionUnset,
    /// `company:erase`
    CompanyErase,
    /// `runtemplate:create`
    TemplateCreate,
    /// `runtemplate:update`
    TemplateUpdate,
    /// `runtemplate:delete`
    TemplateDelete,
    /// `runtemplate:schedule`
    TemplateSchedule,
    /// `job:create`
    JobCreate,
    /// `job:cancel`
    JobCancel,
    /// `job:update` (a waiting job made due at another time)
    JobUpdate,
    /// `job:retry`
    JobRetry,
    /// `job:cleanup`
    JobCleanup,
    /// `job:delete`
    JobDelete,
    /// `queue:truncate`
    QueueTruncate,
    /// `prune --jobs`
    Prune,
    /// `queue:fix`
    QueueFix,
}

impl Action {
    /// The action's name in the audit log.
    pub fn name(self) -> &'static str {
        match self {
            Action::CompanyCreate => "company:create",
            Action::CompanyUpdate => "company:update",
            Action::CompanyDelete => "company:delete",
            Action::CompanyEnvSet => "company:env-set",
            Action::CompanyEnvUnset => "company:env-unset",
            Action::TokenCreate => "token:create",
            Action::TokenRevoke => "token:revoke",
            Action::TokenUpdate => "token:update",
            Action::AppImport => "app:import",
            Action::AppUpdate => "app:update",
            Action::AppDelete => "app:delete",
            Action::CredentialCreate => "credential:create",
            Action::CredentialDelete => "credential:delete",
            Action::CredentialUpdate => "credential:update",
            Action::RetentionSet => "retention:set",
            Action::RetentionUnset => "retention:unset",
            Action::CompanyErase => "company:erase",
            Action::TemplateCreate => "runtemplate:create",
            Action::TemplateUpdate => "runtemplate:update",
            Action::TemplateDelete => "runtemplate:delete",
            Action::TemplateSchedule => "runtemplate:schedule",
            Action::JobCreate => "job:create",
            Action::JobCancel => "job:cancel",
            Action::JobUpdate => "job:update",
            Action::JobRetry => "job:retry",
            Action::JobCleanup => "job:cleanup",
            Action::JobDelete => "job:delete",
            Action::QueueTruncate => "queue:truncate",
            Action::Prune => "prune",
            Action::QueueFix => "queue:fix",
        }
    }
}

impl UseCases {
    /// Appends the audit row of `action` by `caller` (about `job`, if any).
    pub(crate) async fn audit(
        &self,
        caller: &Caller,
        job: Option<JobId>,
        action: Action,
        detail: String,
    ) {
        let entry = AuditEntry::new(job, caller.actor.clone(), action.name(), detail);
        if let Err(e) = self.store.append_audit(&entry).await {
            tracing::warn!(action = action.name(), "could not write the audit log: {e}");
        }
    }
}
