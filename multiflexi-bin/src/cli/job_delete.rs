//! `job:delete`: one finished job goes, with its output, artifacts and actions (audited);
//! a job that has not finished is refused (cancel it first).

use super::Ctx;
use super::args::IdArg;
use super::output::Report;
use multiflexi_core::JobId;
use serde_json::json;

/// `job:delete`.
pub async fn delete(ctx: &Ctx, a: &IdArg) -> anyhow::Result<Report> {
    let id: JobId = a.get()?;
    let (job, report) = ctx.usecases().await?.delete_job(&ctx.caller(), id).await?;
    Ok(Report::new(
        format!(
            "deleted job {id} of run template {} ({}; {} artifacts, {} output chunks)",
            job.runtemplate_id,
            job.status(),
            report.artifacts,
            report.output_chunks
        ),
        json!({
            "deleted": true,
            "job_id": id,
            "runtemplate_id": job.runtemplate_id,
            "artifacts": report.artifacts,
            "output_chunks": report.output_chunks,
        }),
    ))
}
