use super::InMemoryStore;
use crate::Result;
use crate::clock::to_micros;
use crate::model::{RetentionPolicy, RetentionScope};
use crate::store::RetentionPolicies;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[async_trait]
impl RetentionPolicies for InMemoryStore {
    async fn put_retention_policy(&self, policy: &RetentionPolicy) -> Result<RetentionPolicy> {
        policy.check()?;
        let mut p = policy.clone();
        p.updated = Some(self.now());
        self.lock().retention.insert(p.scope, p.clone());
        Ok(p)
    }

    async fn list_retention_policies(&self) -> Result<Vec<RetentionPolicy>> {
        Ok(self.lock().retention.values().cloned().collect())
    }

    async fn delete_retention_policy(
        &self,
        scope: RetentionScope,
    ) -> Result<Option<RetentionPolicy>> {
        Ok(self.lock().retention.remove(&scope))
    }

    async fn prune_audit(&self, before: DateTime<Utc>, limit: u64, dry_run: bool) -> Result<u64> {
        let mut st = self.lock();
        let before = to_micros(before);
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut old: Vec<(DateTime<Utc>, i64)> = st
            .audit
            .iter()
            .filter(|e| e.at < before)
            .map(|e| (e.at, e.id))
            .collect();
        old.sort();
        old.truncate(limit);
        if !dry_run {
            let gone: std::collections::HashSet<i64> = old.iter().map(|(_, id)| *id).collect();
            st.audit.retain(|e| !gone.contains(&e.id));
        }
        Ok(old.len() as u64)
    }
}
