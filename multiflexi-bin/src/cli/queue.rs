//! `queue:list`: the jobs waiting for their time or an executor (phase Scheduled), with their
//! template, app and company, as upstream's (`--limit`, `--order`, `--direction`);
//! `queue:truncate`: cancel them all (`--dry-run` counts).

use super::Ctx;
use super::output::{Report, table, ts};
use clap::Args;
use multiflexi_core::Error;
use multiflexi_core::model::Job;
use multiflexi_core::store::{Catalog as _, JobFilter, JobQueue as _};
use multiflexi_core::{AppId, CompanyId, JobId, RunTemplateId};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

/// Fields `--order` takes.
const ORDERS: &[&str] = &[
    "after",
    "id",
    "job",
    "schedule_type",
    "runtemplate_id",
    "runtemplate_name",
    "app_id",
    "app_name",
    "company_id",
    "company_name",
];

/// Jobs read per query.
const PAGE: u64 = 1000;

/// `queue:list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// At most this many (after ordering).
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Sort by: after (default), id, job, schedule_type, runtemplate_id, runtemplate_name,
    /// app_id, app_name, company_id, company_name.
    #[arg(long, value_name = "FIELD", default_value = "after")]
    pub order: String,
    /// ASC (default) or DESC.
    #[arg(long, value_name = "DIR", default_value = "ASC")]
    pub direction: String,
}

/// Every scheduled job, newest first, read in pages.
async fn scheduled_jobs(ctx: &Ctx) -> anyhow::Result<Vec<Job>> {
    let store = ctx.store().await?;
    let mut all = Vec::new();
    let mut before: Option<JobId> = None;
    loop {
        let mut f = JobFilter::default();
        f.status = Some("scheduled".into());
        f.before_id = before;
        f.limit = Some(PAGE);
        let page = store.list_jobs(&f).await?;
        let n = page.len() as u64;
        before = page.last().map(|j| j.id);
        all.extend(page);
        if n < PAGE {
            return Ok(all);
        }
    }
}

/// `queue:list`.
pub async fn list(ctx: &Ctx, a: &ListArgs) -> anyhow::Result<Report> {
    let order = a.order.trim().to_ascii_lowercase();
    if !ORDERS.contains(&order.as_str()) {
        return Err(Error::invalid(
            "order",
            format!(
                "{:?} is not a field to sort by; allowed: {}",
                a.order,
                ORDERS.join(", ")
            ),
        )
        .into());
    }
    let descending = match a.direction.trim().to_ascii_uppercase().as_str() {
        "ASC" | "A" => false,
        "DESC" | "D" => true,
        _ => {
            return Err(Error::invalid(
                "direction",
                format!("{:?} is not a direction; allowed: ASC, DESC", a.direction),
            )
            .into());
        }
    };
    let store = ctx.store().await?;
    let jobs = scheduled_jobs(ctx).await?;
    let mut templates = BTreeMap::<RunTemplateId, (String, String)>::new();
    let mut apps = BTreeMap::<AppId, String>::new();
    let mut companies = BTreeMap::<CompanyId, String>::new();
    let mut rows: Vec<Value> = Vec::with_capacity(jobs.len());
    for j in &jobs {
        if let Entry::Vacant(e) = templates.entry(j.runtemplate_id) {
            let t = store.get_runtemplate(j.runtemplate_id).await.ok();
            e.insert(
                t.map(|t| (t.name, t.interv.describe().to_string()))
                    .unwrap_or_default(),
            );
        }
        if let Entry::Vacant(e) = apps.entry(j.app_id) {
            let app = store.get_app(j.app_id).await.ok();
            e.insert(
                app.map(|a| a.display_name().to_string())
                    .unwrap_or_default(),
            );
        }
        if let Entry::Vacant(e) = companies.entry(j.company_id) {
            let name = store.get_company(j.company_id).await.ok().map(|c| c.name);
            e.insert(name.unwrap_or_default());
        }
        let (t_name, schedule_type) = &templates[&j.runtemplate_id];
        rows.push(json!({
            "id": j.id,
            "job": j.id,
            "schedule_type": schedule_type,
            "runtemplate_id": j.runtemplate_id,
            "runtemplate_name": t_name,
            "app_id": j.app_id,
            "app_name": apps[&j.app_id],
            "company_id": j.company_id,
            "company_name": companies[&j.company_id],
            "after": ts(j.after),
            "trigger": j.trigger.as_str(),
            "executor": j.executor.as_str(),
        }));
    }
    rows.sort_by(|x, y| {
        let (a, b) = (&x[order.as_str()], &y[order.as_str()]);
        let o = match (a.as_i64(), b.as_i64()) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => a
                .as_str()
                .unwrap_or("")
                .to_lowercase()
                .cmp(&b.as_str().unwrap_or("").to_lowercase()),
        }
        .then_with(|| x["id"].as_i64().cmp(&y["id"].as_i64()));
        if descending { o.reverse() } else { o }
    });
    if let Some(n) = a.limit {
        rows.truncate(usize::try_from(n).unwrap_or(usize::MAX));
    }
    let text = if rows.is_empty() {
        "No jobs in queue.".to_string()
    } else {
        let cell = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let cols = [
            "job",
            "after",
            "runtemplate_id",
            "runtemplate_name",
            "app_name",
            "company_name",
            "executor",
            "trigger",
        ];
        let table_rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| cols.iter().map(|c| cell(&r[*c])).collect())
            .collect();
        table(
            &[
                "JOB",
                "AFTER",
                "TEMPLATE",
                "TEMPLATE NAME",
                "APP",
                "COMPANY",
                "EXECUTOR",
                "TRIGGER",
            ],
            &table_rows,
        )
    };
    Ok(Report::new(text, Value::Array(rows)))
}

/// `queue:truncate`.
#[derive(Debug, Args)]
pub struct TruncateArgs {
    /// Count the waiting jobs; cancel nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `queue:truncate`: cancels every job waiting in the queue.
pub async fn truncate(ctx: &Ctx, a: &TruncateArgs) -> anyhow::Result<Report> {
    let done = ctx
        .usecases()
        .await?
        .truncate_queue(&ctx.caller(), a.dry_run)
        .await?;
    let text = if a.dry_run {
        format!(
            "{} jobs waiting; --dry-run: nothing cancelled",
            done.waiting
        )
    } else {
        format!(
            "jobs waiting before truncate: {}; cancelled: {}",
            done.waiting,
            done.cancelled.len()
        )
    };
    Ok(Report::new(
        text,
        json!({
            "dry_run": a.dry_run,
            "waiting": done.waiting,
            "cancelled": done.cancelled,
        }),
    ))
}
