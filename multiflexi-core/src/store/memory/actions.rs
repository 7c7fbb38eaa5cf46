use super::InMemoryStore;
use crate::ids::JobId;
use crate::model::{ActionState, JobAction};
use crate::store::backend::action_conflict;
use crate::store::{ActionLease, ActionQueue, ActionResult};
use crate::{Error, Result};
use async_trait::async_trait;
use std::time::Duration;

#[async_trait]
impl ActionQueue for InMemoryStore {
    async fn claim_actions(
        &self,
        owner: &str,
        limit: usize,
        ttl: Duration,
    ) -> Result<Vec<JobAction>> {
        let now = self.now();
        let expires = crate::clock::to_micros(
            now + chrono::Duration::from_std(ttl)
                .map_err(|e| Error::invalid("lease_ttl", e.to_string()))?,
        );
        let mut st = self.lock();
        let mut out = Vec::new();
        for a in st.actions.values_mut() {
            if out.len() >= limit {
                break;
            }
            let free = a.lease_expires.is_none_or(|e| e <= now);
            if a.state == ActionState::Pending && a.next_attempt_at <= now && free {
                a.lease_owner = Some(owner.to_string());
                a.lease_token += 1;
                a.lease_expires = Some(expires);
                a.attempts += 1;
                out.push(a.clone());
            }
        }
        Ok(out)
    }

    async fn finish_action(&self, lease: ActionLease, result: &ActionResult) -> Result<JobAction> {
        let now = self.now();
        let mut st = self.lock();
        let a = st
            .actions
            .get_mut(&lease.id)
            .filter(|a| a.lease_token == lease.lease_token && a.state == ActionState::Pending)
            .ok_or_else(|| action_conflict(lease))?;
        a.state = result.state();
        a.lease_owner = None;
        a.lease_expires = None;
        match result {
            ActionResult::Failed { error, retry_in } => {
                a.last_error = Some(error.clone());
                if let Some(d) = retry_in {
                    a.next_attempt_at = crate::clock::to_micros(
                        now + chrono::Duration::from_std(*d).unwrap_or(chrono::Duration::MAX),
                    );
                }
            }
            ActionResult::Done => {}
        }
        if a.state != ActionState::Pending {
            a.finished = Some(now);
        }
        Ok(a.clone())
    }

    async fn job_actions(&self, job: JobId) -> Result<Vec<JobAction>> {
        let mut v: Vec<JobAction> = self
            .lock()
            .actions
            .values()
            .filter(|a| a.job_id == job)
            .cloned()
            .collect();
        v.sort_by_key(|a| a.idx);
        Ok(v)
    }
}
