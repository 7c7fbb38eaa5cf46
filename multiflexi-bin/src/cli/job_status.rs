//! `job:status`: job statistics, as upstream's (`successful_jobs`, `failed_jobs`,
//! `incomplete_jobs`, `total_applications`, `repeated_jobs`, `total_jobs`, `queue_length`).
//! Counted here: successful = exit code 0, failed = any other exit code, incomplete = no exit
//! code yet, repeated = jobs the scheduler created (trigger `schedule`), queue length = jobs
//! scheduled (due or waiting). Reads every job in pages of 1000.

use super::Ctx;
use super::output::{Report, fields};
use multiflexi_core::store::{JobFilter, JobQueue as _};
use multiflexi_core::{JobId, Trigger};
use serde_json::json;
use std::collections::BTreeSet;

const PAGE: u64 = 1000;

/// `job:status`.
pub async fn status(ctx: &Ctx) -> anyhow::Result<Report> {
    let store = ctx.store().await?;
    let (mut total, mut ok, mut failed, mut incomplete, mut repeated) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut apps = BTreeSet::new();
    let mut before: Option<JobId> = None;
    loop {
        let mut f = JobFilter::default();
        f.before_id = before;
        f.limit = Some(PAGE);
        let page = store.list_jobs(&f).await?;
        for j in &page {
            total += 1;
            match j.exitcode {
                Some(0) => ok += 1,
                Some(_) => failed += 1,
                None => incomplete += 1,
            }
            if j.trigger == Trigger::Schedule {
                repeated += 1;
            }
            apps.insert(j.app_id);
        }
        before = page.last().map(|j| j.id);
        if (page.len() as u64) < PAGE {
            break;
        }
    }
    let o = store.queue_overview().await?;
    let queue = o.due + o.waiting;
    Ok(Report::new(
        fields(&[
            ("successful jobs", ok.to_string()),
            ("failed jobs", failed.to_string()),
            ("incomplete jobs", incomplete.to_string()),
            ("total applications", apps.len().to_string()),
            ("repeated jobs", repeated.to_string()),
            ("total jobs", total.to_string()),
            ("queue length", queue.to_string()),
        ]),
        json!({
            "successful_jobs": ok,
            "failed_jobs": failed,
            "incomplete_jobs": incomplete,
            "total_applications": apps.len(),
            "repeated_jobs": repeated,
            "total_jobs": total,
            "queue_length": queue,
        }),
    ))
}
