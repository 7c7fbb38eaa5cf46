//! Retention policies: set, unset, list, and a run now (or a dry run). Admin only: a policy
//! deletes data, and the default one spans every company.

use super::audit::Action;
use super::{Caller, UseCases};
use multiflexi_core::engine::{RetentionOptions, RetentionReport, apply_retention};
use multiflexi_core::model::{RetentionPolicy, RetentionScope};
use multiflexi_core::{Error, Result};

impl UseCases {
    /// Every policy (the default first).
    pub async fn retention_policies(&self, caller: &Caller) -> Result<Vec<RetentionPolicy>> {
        caller.require_admin("reading the retention policies")?;
        self.store.list_retention_policies().await
    }

    /// Sets the policy of its scope (replacing any): checked, its company and app must exist.
    pub async fn set_retention(
        &self,
        caller: &Caller,
        policy: RetentionPolicy,
    ) -> Result<RetentionPolicy> {
        caller.require_admin("setting retention policies")?;
        policy.check()?;
        match policy.scope {
            RetentionScope::Company { company_id } => {
                self.store.get_company(company_id).await?;
            }
            RetentionScope::App { app_id } => {
                self.store.get_app(app_id).await?;
            }
            RetentionScope::CompanyApp { company_id, app_id } => {
                self.store.get_company(company_id).await?;
                self.store.get_app(app_id).await?;
            }
            RetentionScope::Default | RetentionScope::Audit => {}
        }
        let stored = self.store.put_retention_policy(&policy).await?;
        self.audit(caller, None, Action::RetentionSet, stored.describe())
            .await;
        Ok(stored)
    }

    /// Removes the policy of `scope` (NotFound when there is none).
    pub async fn unset_retention(
        &self,
        caller: &Caller,
        scope: RetentionScope,
    ) -> Result<RetentionPolicy> {
        caller.require_admin("removing retention policies")?;
        let removed = self
            .store
            .delete_retention_policy(scope)
            .await?
            .ok_or_else(|| Error::not_found("retention policy", scope))?;
        self.audit(
            caller,
            None,
            Action::RetentionUnset,
            format!("{} removed (was: {})", scope, removed.describe()),
        )
        .await;
        Ok(removed)
    }

    /// Applies the policies now (or, `dry_run`, counts what they would delete). A run that
    /// deleted something writes one audit row with its counts.
    pub async fn run_retention(&self, caller: &Caller, dry_run: bool) -> Result<RetentionReport> {
        caller.require_admin("running the retention policies")?;
        let mut options = RetentionOptions::new(caller.actor.clone());
        options.dry_run = dry_run;
        apply_retention(&*self.store, &*self.clock, &options).await
    }
}
