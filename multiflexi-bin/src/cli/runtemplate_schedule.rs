//! `run-template:schedule`, as upstream's: create a job of a run template, due now or at a given
//! time, on the template's executor or another, with one-off configuration (`--config KEY=VALUE`,
//! repeatable: the job's environment overrides). Refused for an inactive template. `--wait`
//! waits for the job as `job:create --wait` does.
//!
//! What this command did before (move the template's `next_schedule`) is
//! `run-template:next-schedule`.

use super::Ctx;
use super::args::{self, IdArg};
use super::output::{Format, Report, ts};
use super::wait::{self, WaitArgs};
use crate::usecase::jobs::JobOrder;
use crate::usecase::variables::Variable;
use clap::Args;
use multiflexi_core::{Error, RunTemplateId, Trigger};
use serde_json::json;

/// `run-template:schedule`.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    #[command(flatten)]
    pub id: IdArg,
    /// When the job becomes due: now (default), an RFC 3339 instant, or Y-m-d H:i:s in
    /// MULTIFLEXI_TIMEZONE.
    #[arg(
        long = "schedule_time",
        visible_alias = "schedule-time",
        value_name = "WHEN"
    )]
    pub schedule_time: Option<String>,
    /// Run on another executor than the template's: Native, Docker, Podman, Kubernetes, Azure.
    #[arg(long, value_name = "KIND")]
    pub executor: Option<String>,
    /// One-off configuration KEY=VALUE for this job (repeat); highest precedence.
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// The former meaning (move next_schedule) is run-template:next-schedule --when.
    #[arg(long, value_name = "RFC3339", hide = true)]
    pub when: Option<String>,
    #[command(flatten)]
    pub wait: WaitArgs,
}

/// `run-template:schedule`.
pub async fn schedule(ctx: &Ctx, a: &ScheduleArgs) -> anyhow::Result<Report> {
    if a.when.is_some() {
        return Err(Error::invalid(
            "when",
            "run-template:schedule creates a job now (as upstream's: --schedule_time); to move \
             the template's next schedule, use run-template:next-schedule --when",
        )
        .into());
    }
    let id: RunTemplateId = a.id.get()?;
    let mut order = JobOrder::new(id, Trigger::Cli);
    order.env = args::pairs(&a.config, "config")?
        .into_iter()
        .map(|(k, v)| Variable::plain(k, v))
        .collect();
    order.executor = a.executor.clone();
    order.scheduled = Some(a.schedule_time.clone().unwrap_or_else(|| "now".into()));
    let job = ctx
        .usecases()
        .await?
        .create_job(&ctx.caller(), order)
        .await?
        .job;
    let text = format!(
        "run template {id} scheduled for execution at {}\nexecutor: {}\njob id: {}",
        ts(job.after),
        job.executor,
        job.id
    );
    if a.wait.wait {
        if ctx.format == Format::Text {
            eprintln!("{text}");
        }
        return wait::wait(ctx, job.id, a.wait.timeout).await;
    }
    Ok(Report::new(
        text,
        json!({
            "runtemplate_id": job.runtemplate_id,
            "scheduled": job.after,
            "executor": job.executor.as_str(),
            "job_id": job.id,
            "status": job.status(),
        }),
    ))
}
