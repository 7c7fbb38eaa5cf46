//! Retention policies in the store, and the cleanup passes that apply them.

use crate::Result;
use crate::model::{RetentionPolicy, RetentionScope};
use crate::store::CleanupOptions;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::fmt::Debug;

/// Where retention policies are kept (one per scope), and the audit log's own pruning.
#[async_trait]
pub trait RetentionPolicies: Send + Sync + Debug {
    /// Sets the policy of its scope (replacing any), with `updated` from the store's clock;
    /// returns it as stored.
    async fn put_retention_policy(&self, policy: &RetentionPolicy) -> Result<RetentionPolicy>;
    /// Every policy, the default first, then by scope.
    async fn list_retention_policies(&self) -> Result<Vec<RetentionPolicy>>;
    /// Removes the policy of `scope`; returns it, or `None` when there was none.
    async fn delete_retention_policy(
        &self,
        scope: RetentionScope,
    ) -> Result<Option<RetentionPolicy>>;
    /// Deletes (or, `dry_run`, counts) at most `limit` audit rows older than `before`, the
    /// oldest first; returns how many.
    async fn prune_audit(&self, before: DateTime<Utc>, limit: u64, dry_run: bool) -> Result<u64>;
}

/// One policy's cleanup at one instant: which jobs it may delete, and whether it deletes yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPass {
    /// The policy.
    pub policy: RetentionPolicy,
    /// What it deletes (its scope, minus the jobs more specific policies decide).
    pub options: CleanupOptions,
    /// Whether it is past its grace (else a run only shows what it would delete).
    pub in_effect: bool,
}

/// The cleanup passes of the job policies among `policies` at `now`, the most specific
/// first, each leaving out the jobs a more specific policy decides (so every finished job
/// is judged by exactly one policy). The audit log's policy is not among them.
pub fn retention_passes(policies: &[RetentionPolicy], now: DateTime<Utc>) -> Vec<RetentionPass> {
    let mut jobs: Vec<&RetentionPolicy> = policies
        .iter()
        .filter(|p| p.scope != RetentionScope::Audit)
        .collect();
    jobs.sort_by_key(|p| (std::cmp::Reverse(p.scope.specificity()), p.scope));
    jobs.iter()
        .map(|p| {
            let mut options = CleanupOptions::before(p.cutoff(now));
            options.artifacts_only = p.artifacts_only;
            // Every more specific policy's pattern, as far as it overlaps this scope.
            options.except = jobs
                .iter()
                .filter(|q| q.scope.specificity() > p.scope.specificity())
                .filter_map(|q| overlap(p.scope, q.scope))
                .collect();
            match p.scope {
                RetentionScope::CompanyApp { company_id, app_id } => {
                    options.company_id = Some(company_id);
                    options.app_id = Some(app_id);
                }
                RetentionScope::Company { company_id } => options.company_id = Some(company_id),
                RetentionScope::App { app_id } => options.app_id = Some(app_id),
                RetentionScope::Default | RetentionScope::Audit => {}
            }
            RetentionPass {
                policy: (*p).clone(),
                options,
                in_effect: p.in_effect(now),
            }
        })
        .collect()
}

/// The pattern of `inner` (more specific) within `outer`, or `None` when they cannot overlap.
fn overlap(
    outer: RetentionScope,
    inner: RetentionScope,
) -> Option<(Option<crate::CompanyId>, Option<crate::AppId>)> {
    let (ic, ia) = pattern(inner);
    let (oc, oa) = pattern(outer);
    let disjoint = matches!((oc, ic), (Some(a), Some(b)) if a != b)
        || matches!((oa, ia), (Some(a), Some(b)) if a != b);
    (!disjoint).then_some((ic, ia))
}

fn pattern(scope: RetentionScope) -> (Option<crate::CompanyId>, Option<crate::AppId>) {
    match scope {
        RetentionScope::CompanyApp { company_id, app_id } => (Some(company_id), Some(app_id)),
        RetentionScope::Company { company_id } => (Some(company_id), None),
        RetentionScope::App { app_id } => (None, Some(app_id)),
        RetentionScope::Default | RetentionScope::Audit => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AppId, CompanyId};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// Every finished job is judged by exactly the most specific policy that covers it.
    #[test]
    fn each_job_is_judged_by_its_most_specific_policy() {
        let now = at("2026-12-06T00:00:00Z");
        let set = |scope, days| {
            let mut p = RetentionPolicy::new(scope, days);
            p.updated = Some(now);
            p
        };
        let (c1, c2, a1, a2) = (CompanyId(1), CompanyId(2), AppId(1), AppId(2));
        let policies = vec![
            set(RetentionScope::Default, 90),
            set(RetentionScope::App { app_id: a1 }, 60),
            set(RetentionScope::Company { company_id: c1 }, 30),
            set(
                RetentionScope::CompanyApp {
                    company_id: c1,
                    app_id: a1,
                },
                7,
            ),
            set(RetentionScope::Audit, 365),
        ];
        let passes = retention_passes(&policies, now);
        assert_eq!(passes.len(), 4, "the audit policy is not a job pass");
        let judge = |company, app| -> Vec<u32> {
            passes
                .iter()
                .filter(|p| p.options.covers(company, app))
                .map(|p| p.policy.days)
                .collect()
        };
        assert_eq!(judge(c1, a1), [7]);
        assert_eq!(judge(c1, a2), [30]);
        assert_eq!(judge(c2, a1), [60]);
        assert_eq!(judge(c2, a2), [90]);
        assert!(passes.iter().all(|p| p.in_effect));
        assert_eq!(
            passes[0].options.ended_before,
            now - chrono::Duration::days(7)
        );
    }

    #[test]
    fn without_a_default_other_jobs_are_kept() {
        let now = at("2026-12-06T00:00:00Z");
        let mut p = RetentionPolicy::new(RetentionScope::App { app_id: AppId(1) }, 10);
        p.updated = Some(now);
        p.grace_days = 3;
        let passes = retention_passes(&[p], now);
        assert_eq!(passes.len(), 1);
        assert!(!passes[0].in_effect, "within its grace");
        assert!(!passes[0].options.covers(CompanyId(1), AppId(2)));
    }
}
