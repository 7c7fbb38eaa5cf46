//! `retention:*`: how long finished jobs and the audit log are kept, and a run now.

use super::Ctx;
use super::args;
use super::output::{Report, opt_ts, table};
use clap::Args;
use multiflexi_core::engine::RetentionReport;
use multiflexi_core::model::{RetentionPolicy, RetentionScope};
use multiflexi_core::{AppId, CompanyId};
use serde_json::{Value, json};

/// Which policy: a company's, an app's, both (that company's jobs of that app), the audit
/// log's, or, with none of them, the default.
#[derive(Debug, Args)]
pub struct ScopeArgs {
    /// A company's jobs.
    #[arg(long, visible_aliases = ["company_id", "company-id"], value_name = "ID")]
    pub company: Option<String>,
    /// An app's jobs (with --company: that company's jobs of that app).
    #[arg(long, visible_alias = "app_id", value_name = "ID")]
    pub app: Option<String>,
    /// The audit log's rows.
    #[arg(long, conflicts_with_all = ["company", "app"])]
    pub audit: bool,
}

impl ScopeArgs {
    fn scope(&self) -> anyhow::Result<RetentionScope> {
        let company = self
            .company
            .as_deref()
            .map(args::id::<CompanyId>)
            .transpose()?;
        let app = self.app.as_deref().map(args::id::<AppId>).transpose()?;
        Ok(RetentionScope::of(company, app, self.audit)?)
    }
}

/// `retention:set`.
#[derive(Debug, Args)]
pub struct SetArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Delete finished jobs (or audit rows) older than this many days.
    #[arg(long, value_name = "N")]
    pub days: u32,
    /// Delete only the jobs' output and artifacts; keep the job rows and their outcomes.
    #[arg(long)]
    pub artifacts_only: bool,
    /// Days after setting it before the policy deletes anything (check with
    /// `retention:run --dry-run` meanwhile).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub grace: u32,
}

/// `retention:run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Count what the policies would delete; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// A policy as JSON.
pub fn policy_json(p: &RetentionPolicy) -> Value {
    json!({
        "scope": p.scope.key(),
        "days": p.days,
        "artifacts_only": p.artifacts_only,
        "grace_days": p.grace_days,
        "updated": p.updated,
        "effective_from": p.effective_from(),
    })
}

/// `retention:list`.
pub async fn list(ctx: &Ctx) -> anyhow::Result<Report> {
    let policies = ctx
        .usecases()
        .await?
        .retention_policies(&ctx.caller())
        .await?;
    if policies.is_empty() {
        return Ok(Report::new(
            "no retention policy: nothing is ever deleted automatically\n",
            json!([]),
        ));
    }
    let rows: Vec<Vec<String>> = policies
        .iter()
        .map(|p| {
            vec![
                p.scope.key(),
                p.days.to_string(),
                if p.artifacts_only {
                    "output and artifacts".into()
                } else if p.scope == RetentionScope::Audit {
                    "audit rows".into()
                } else {
                    "jobs".into()
                },
                p.grace_days.to_string(),
                opt_ts(p.effective_from()),
            ]
        })
        .collect();
    Ok(Report::new(
        table(&["SCOPE", "DAYS", "DELETES", "GRACE", "FROM"], &rows),
        Value::Array(policies.iter().map(policy_json).collect()),
    ))
}

/// `retention:set`.
pub async fn set(ctx: &Ctx, a: &SetArgs) -> anyhow::Result<Report> {
    let mut policy = RetentionPolicy::new(a.scope.scope()?, a.days);
    policy.artifacts_only = a.artifacts_only;
    policy.grace_days = a.grace;
    let p = ctx
        .usecases()
        .await?
        .set_retention(&ctx.caller(), policy)
        .await?;
    Ok(Report::new(
        format!("set {}\n", p.describe()),
        policy_json(&p),
    ))
}

/// `retention:unset`.
pub async fn unset(ctx: &Ctx, a: &ScopeArgs) -> anyhow::Result<Report> {
    let p = ctx
        .usecases()
        .await?
        .unset_retention(&ctx.caller(), a.scope()?)
        .await?;
    Ok(Report::new(
        format!("removed the policy of {}\n", p.scope),
        json!({ "removed": policy_json(&p) }),
    ))
}

/// The report of a run as JSON.
pub fn report_json(r: &RetentionReport, dry_run: bool) -> Value {
    json!({
        "dry_run": dry_run,
        "policies": r.policies.iter().map(|p| json!({
            "policy": policy_json(&p.policy),
            "applied": p.applied,
            "jobs": p.counts.jobs,
            "artifacts": p.counts.artifacts,
            "output_chunks": p.counts.output_chunks,
        })).collect::<Vec<_>>(),
        "deleted": {
            "jobs": r.deleted().jobs,
            "artifacts": r.deleted().artifacts,
            "output_chunks": r.deleted().output_chunks,
            "audit_rows": r.audit_rows_deleted(),
        },
    })
}

/// `retention:run`.
pub async fn run(ctx: &Ctx, a: &RunArgs) -> anyhow::Result<Report> {
    let r = ctx
        .usecases()
        .await?
        .run_retention(&ctx.caller(), a.dry_run)
        .await?;
    let rows: Vec<Vec<String>> = r
        .policies
        .iter()
        .map(|p| {
            vec![
                p.policy.scope.key(),
                if p.applied {
                    "deleted".into()
                } else if a.dry_run {
                    "would delete".into()
                } else {
                    "in grace: would delete".into()
                },
                p.counts.jobs.to_string(),
                p.counts.artifacts.to_string(),
                p.counts.output_chunks.to_string(),
            ]
        })
        .collect();
    let text = if rows.is_empty() {
        "no retention policy: nothing to do\n".to_string()
    } else {
        let mut t = table(
            &["SCOPE", "WHAT", "JOBS/ROWS", "ARTIFACTS", "OUTPUT CHUNKS"],
            &rows,
        );
        if !a.dry_run {
            t.push_str(&format!("{}\n", r.summary()));
        }
        t
    };
    Ok(Report::new(text, report_json(&r, a.dry_run)))
}
