//! `prune --jobs --keep N`: upstream's pruning, counted in jobs.

use super::Ctx;
use super::output::Report;
use clap::Args;
use serde_json::json;

/// `prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Delete finished jobs (with their output and artifacts) past the newest --keep.
    #[arg(long)]
    pub jobs: bool,
    /// Upstream's log table: there is none here (a job's output goes with its job, audit rows
    /// follow `retention:set --scope audit`); accepted, prunes nothing, and says so.
    #[arg(long)]
    pub logs: bool,
    /// How many of the newest finished jobs stay.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub keep: u64,
    /// Count what would go, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `prune --jobs [--keep N] [--dry-run]`.
pub async fn prune(ctx: &Ctx, a: &PruneArgs) -> anyhow::Result<Report> {
    const NO_LOGS: &str = "there is no log table here: a job's output is kept and deleted with \
                           its job (prune --jobs, job:cleanup); audit rows follow \
                           `retention:set --scope audit`";
    if !a.jobs && !a.logs {
        anyhow::bail!("prune needs --jobs (what to prune); e.g. prune --jobs --keep 1000");
    }
    if !a.jobs {
        return Ok(Report::new(
            format!("logs: nothing pruned; {NO_LOGS}"),
            json!({ "kept": null, "deleted": 0, "logs": NO_LOGS, "dry_run": a.dry_run }),
        ));
    }
    let pruned = ctx
        .usecases()
        .await?
        .prune_jobs(&ctx.caller(), a.keep, a.dry_run)
        .await?;
    let verb = if a.dry_run { "would delete" } else { "deleted" };
    let logs_note = if a.logs {
        format!("\nlogs: nothing pruned; {NO_LOGS}")
    } else {
        String::new()
    };
    Ok(Report::new(
        format!(
            "kept the {} newest finished jobs; {verb} {} older ones ({} artifacts, {} output \
             chunks){logs_note}",
            pruned.kept,
            pruned.deleted.len(),
            pruned.report.artifacts,
            pruned.report.output_chunks
        ),
        json!({
            "kept": pruned.kept,
            "deleted": pruned.deleted.len(),
            "job_ids": pruned.deleted,
            "artifacts": pruned.report.artifacts,
            "output_chunks": pruned.report.output_chunks,
            "logs": a.logs.then_some(NO_LOGS),
            "dry_run": a.dry_run,
        }),
    ))
}
