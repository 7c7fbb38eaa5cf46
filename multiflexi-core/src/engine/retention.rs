//! Applying the retention policies: [`apply_retention`] runs every policy's cleanup in small
//! batches (each its own short transaction, with a pause between them, so heartbeats and claims
//! of running jobs never wait long for the write lock), prunes the audit log by its own policy,
//! and writes one audit row with the counts of a run that deleted something. Unfinished jobs
//! are never touched (`cleanup` takes only Completed and Preserved jobs).
//!
//! The scheduler daemon (and `multiflexi serve`) call it periodically; `retention:run` calls it
//! once (or, `--dry-run`, only counts).

use crate::Clock;
use crate::Result;
use crate::model::{RetentionPolicy, RetentionScope};
use crate::store::{AuditEntry, CleanupReport, Store, retention_passes};
use std::time::Duration;

/// How a retention run goes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RetentionOptions {
    /// Jobs (or audit rows) deleted per transaction.
    pub batch: u64,
    /// Pause between two batches.
    pub pause: Duration,
    /// Count only; delete nothing (and write no audit row).
    pub dry_run: bool,
    /// Who runs it, for the audit row (`scheduler`, a user name, a token's name).
    pub actor: String,
}

impl RetentionOptions {
    /// Batches of 50 with a 20 ms pause, deleting, as `actor` (measured with `multiflexi-loadbench
    /// --cleanup`: batches of 500 tripled the pickup p99 on SQLite, whose writes take the whole
    /// database; 50 keeps it within about 40 % of an idle queue's).
    pub fn new(actor: impl Into<String>) -> Self {
        Self {
            batch: 50,
            pause: Duration::from_millis(20),
            dry_run: false,
            actor: actor.into(),
        }
    }
}

/// What one policy deleted (or, in a dry run or within its grace, would delete).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyReport {
    /// The policy.
    pub policy: RetentionPolicy,
    /// Jobs (or, for `artifacts_only`, jobs pruned), their artifacts and output chunks; for the
    /// audit log's policy, `jobs` counts audit rows.
    pub counts: CleanupReport,
    /// Whether it deleted (false: dry run, or the policy is within its grace).
    pub applied: bool,
}

/// What a retention run did, policy by policy (the most specific first, the audit log's last).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// One entry per policy.
    pub policies: Vec<PolicyReport>,
}

impl RetentionReport {
    /// The counts of what was deleted (not what a dry run or a policy in grace would delete).
    pub fn deleted(&self) -> CleanupReport {
        let mut total = CleanupReport::default();
        for p in self.policies.iter().filter(|p| p.applied) {
            if p.policy.scope == RetentionScope::Audit {
                continue;
            }
            total.jobs += p.counts.jobs;
            total.artifacts += p.counts.artifacts;
            total.output_chunks += p.counts.output_chunks;
        }
        total
    }

    /// Audit rows deleted.
    pub fn audit_rows_deleted(&self) -> u64 {
        self.policies
            .iter()
            .filter(|p| p.applied && p.policy.scope == RetentionScope::Audit)
            .map(|p| p.counts.jobs)
            .sum()
    }

    /// One line with the totals, as the audit row says it.
    pub fn summary(&self) -> String {
        let d = self.deleted();
        format!(
            "retention: {} job(s) deleted or pruned, {} artifact(s), {} output chunk(s), {} audit \
             row(s) by {} policy(ies)",
            d.jobs,
            d.artifacts,
            d.output_chunks,
            self.audit_rows_deleted(),
            self.policies.iter().filter(|p| p.applied).count()
        )
    }
}

/// Applies every stored retention policy at the clock's now (see the module docs).
pub async fn apply_retention(
    store: &dyn Store,
    clock: &dyn Clock,
    options: &RetentionOptions,
) -> Result<RetentionReport> {
    if !options.dry_run {
        let folded = store.fold_template_counts().await?;
        if folded > 0 {
            tracing::debug!("folded {folded} template counter deltas");
        }
    }
    let policies = store.list_retention_policies().await?;
    let now = clock.now();
    let batch = options.batch.max(1);
    let mut report = RetentionReport::default();
    for pass in retention_passes(&policies, now) {
        let deletes = pass.in_effect && !options.dry_run;
        let mut cleanup = pass.options.clone();
        let mut counts = CleanupReport::default();
        if deletes {
            cleanup.limit = Some(batch);
            loop {
                let r = store.cleanup(&cleanup).await?;
                counts.jobs += r.jobs;
                counts.artifacts += r.artifacts;
                counts.output_chunks += r.output_chunks;
                if r.jobs < batch {
                    break;
                }
                tokio::time::sleep(options.pause).await;
            }
        } else {
            cleanup.dry_run = true;
            counts = store.cleanup(&cleanup).await?;
        }
        report.policies.push(PolicyReport {
            policy: pass.policy,
            counts,
            applied: deletes,
        });
    }
    if let Some(audit) = policies.iter().find(|p| p.scope == RetentionScope::Audit) {
        let deletes = audit.in_effect(now) && !options.dry_run;
        let before = audit.cutoff(now);
        let mut rows = 0;
        if deletes {
            loop {
                let n = store.prune_audit(before, batch, false).await?;
                rows += n;
                if n < batch {
                    break;
                }
                tokio::time::sleep(options.pause).await;
            }
        } else {
            rows = store.prune_audit(before, u64::MAX, true).await?;
        }
        report.policies.push(PolicyReport {
            policy: audit.clone(),
            counts: CleanupReport {
                jobs: rows,
                ..CleanupReport::default()
            },
            applied: deletes,
        });
    }
    let d = report.deleted();
    if d.jobs + d.artifacts + d.output_chunks + report.audit_rows_deleted() > 0 {
        let entry = AuditEntry::new(
            None,
            options.actor.clone(),
            "retention:run",
            report.summary(),
        );
        if let Err(e) = store.append_audit(&entry).await {
            tracing::warn!("could not write the audit log: {e}");
        }
    }
    Ok(report)
}

/// Applies the retention policies every `interval` (the first time one interval after the
/// start) until `shutdown` drains. A failed run is logged and tried again at the next
/// interval; it never stops the daemon.
pub async fn apply_retention_periodically(
    store: std::sync::Arc<dyn Store>,
    clock: std::sync::Arc<dyn Clock>,
    options: RetentionOptions,
    interval: Duration,
    shutdown: super::Shutdown,
) {
    loop {
        tokio::select! {
            () = shutdown.draining() => return,
            () = tokio::time::sleep(interval) => {}
        }
        match apply_retention(&*store, &*clock, &options).await {
            Ok(report) => {
                let d = report.deleted();
                if d.jobs + report.audit_rows_deleted() > 0 {
                    tracing::info!("{}", report.summary());
                }
            }
            Err(e) => tracing::warn!("retention run failed (tried again in {interval:?}): {e}"),
        }
    }
}
