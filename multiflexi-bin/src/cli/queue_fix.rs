//! `queue:fix`: recover expired executor leases now.

use super::Ctx;
use super::output::Report;
use serde_json::json;

/// `queue:fix`.
pub async fn fix(ctx: &Ctx) -> anyhow::Result<Report> {
    let r = ctx.usecases().await?.fix_queue(&ctx.caller()).await?;
    let ids = |jobs: &[multiflexi_core::model::Job]| jobs.iter().map(|j| j.id).collect::<Vec<_>>();
    Ok(Report::new(
        format!(
            "expired leases: {} jobs back in the queue, {} lost ({} retries made), {} cancelled; \
             there is no schedule table apart from the jobs, so nothing else to fix",
            r.requeued.len(),
            r.lost.len(),
            r.retries.len(),
            r.cancelled.len()
        ),
        json!({
            "requeued": r.requeued,
            "lost": ids(&r.lost),
            "retries": ids(&r.retries),
            "cancelled": ids(&r.cancelled),
        }),
    ))
}
