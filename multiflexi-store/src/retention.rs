//! [`RetentionPolicies`] for [`SqlStore`]: the `retention_policy` table (one row per scope) and
//! the audit log's pruning in small batches.

use crate::entity::{audit_log, retention_policy, ts, utc};
use crate::store::{SqlStore, in_tx};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use multiflexi_core::model::{RetentionPolicy, RetentionScope};
use multiflexi_core::store::RetentionPolicies;
use multiflexi_core::{Result, to_micros};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, NotSet, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

fn policy_from_model(m: retention_policy::Model) -> Result<RetentionPolicy> {
    let mut p = RetentionPolicy::new(
        RetentionScope::from_key(&m.scope)?,
        u32::try_from(m.days).unwrap_or(0),
    );
    p.artifacts_only = m.artifacts_only;
    p.grace_days = u32::try_from(m.grace_days).unwrap_or(0);
    p.updated = Some(utc(m.updated));
    Ok(p)
}

fn ids_of(scope: RetentionScope) -> (Option<i64>, Option<i64>) {
    match scope {
        RetentionScope::Company { company_id } => (Some(company_id.0), None),
        RetentionScope::App { app_id } => (None, Some(app_id.0)),
        RetentionScope::CompanyApp { company_id, app_id } => (Some(company_id.0), Some(app_id.0)),
        RetentionScope::Default | RetentionScope::Audit => (None, None),
    }
}

#[async_trait]
impl RetentionPolicies for SqlStore {
    async fn put_retention_policy(&self, policy: &RetentionPolicy) -> Result<RetentionPolicy> {
        policy.check()?;
        let now = self.now().await?;
        let key = policy.scope.key();
        let (company_id, app_id) = ids_of(policy.scope);
        in_tx!(self, |txn| async {
            let existing = retention_policy::Entity::find()
                .filter(retention_policy::Column::Scope.eq(key.clone()))
                .one(&txn)
                .await
                .map_err(|e| self.dberr(e))?;
            let mut am = retention_policy::ActiveModel {
                id: NotSet,
                scope: Set(key.clone()),
                company_id: Set(company_id),
                app_id: Set(app_id),
                days: Set(i32::try_from(policy.days).unwrap_or(i32::MAX)),
                artifacts_only: Set(policy.artifacts_only),
                grace_days: Set(i32::try_from(policy.grace_days).unwrap_or(i32::MAX)),
                updated: Set(ts(now)),
            };
            let m = match existing {
                Some(row) => {
                    am.id = Set(row.id);
                    am.update(&txn).await
                }
                None => am.insert(&txn).await,
            }
            .map_err(|e| self.err("retention policy", &key, e))?;
            policy_from_model(m)
        }
        .await)
    }

    async fn list_retention_policies(&self) -> Result<Vec<RetentionPolicy>> {
        let mut policies = retention_policy::Entity::find()
            .all(self.db())
            .await
            .map_err(|e| self.dberr(e))?
            .into_iter()
            .map(policy_from_model)
            .collect::<Result<Vec<_>>>()?;
        policies.sort_by_key(|p| p.scope);
        Ok(policies)
    }

    async fn delete_retention_policy(
        &self,
        scope: RetentionScope,
    ) -> Result<Option<RetentionPolicy>> {
        let key = scope.key();
        in_tx!(self, |txn| async {
            let Some(row) = retention_policy::Entity::find()
                .filter(retention_policy::Column::Scope.eq(key.clone()))
                .one(&txn)
                .await
                .map_err(|e| self.dberr(e))?
            else {
                return Ok(None);
            };
            retention_policy::Entity::delete_by_id(row.id)
                .exec(&txn)
                .await
                .map_err(|e| self.dberr(e))?;
            policy_from_model(row).map(Some)
        }
        .await)
    }

    async fn prune_audit(&self, before: DateTime<Utc>, limit: u64, dry_run: bool) -> Result<u64> {
        let before = ts(to_micros(before));
        if dry_run {
            let n = audit_log::Entity::find()
                .filter(audit_log::Column::At.lt(before))
                .count(self.db())
                .await
                .map_err(|e| self.dberr(e))?;
            return Ok(n.min(limit));
        }
        in_tx!(self, |txn| async {
            let ids: Vec<i64> = audit_log::Entity::find()
                .filter(audit_log::Column::At.lt(before))
                .order_by_asc(audit_log::Column::At)
                .order_by_asc(audit_log::Column::Id)
                .limit(limit)
                .select_only()
                .column(audit_log::Column::Id)
                .into_tuple::<i64>()
                .all(&txn)
                .await
                .map_err(|e| self.dberr(e))?;
            if !ids.is_empty() {
                audit_log::Entity::delete_many()
                    .filter(audit_log::Column::Id.is_in(ids.clone()))
                    .exec(&txn)
                    .await
                    .map_err(|e| self.dberr(e))?;
            }
            Ok(ids.len() as u64)
        }
        .await)
    }
}
