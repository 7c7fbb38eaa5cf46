//! `job:update`: upstream's options, the part that fits this lifecycle. A job still waiting in
//! the queue can be made due at another time (`--scheduled`); its template, app and executor are
//! the ones it was made with (the same values are accepted, others refused with the way out:
//! cancel it and create another). `--schedule_type` is accepted and not stored, as on job:create.

use super::Ctx;
use super::args::{self, IdArg};
use super::output::{Report, ts};
use crate::usecase::job_update::JobChange;
use clap::Args;
use multiflexi_core::JobId;
use serde_json::{Value, json};

/// `job:update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub id: IdArg,
    /// When the waiting job becomes due: now, an RFC 3339 instant, or Y-m-d H:i:s in
    /// MULTIFLEXI_TIMEZONE.
    #[arg(long, visible_alias = "schedule_time", value_name = "WHEN")]
    pub scheduled: Option<String>,
    /// Its executor: only its own (Native, Docker, Podman, Kubernetes, Azure).
    #[arg(long, value_name = "KIND")]
    pub executor: Option<String>,
    /// Its run template: only its own.
    #[arg(long = "template", visible_alias = "runtemplate_id", value_name = "ID")]
    pub template: Option<String>,
    /// Its app: only its own.
    #[arg(long = "app", visible_alias = "app_id", value_name = "ID")]
    pub app: Option<String>,
    /// Upstream's schedule type: accepted and not stored.
    #[arg(long = "schedule_type", value_name = "TYPE")]
    pub schedule_type: Option<String>,
}

/// `job:update --id ID --scheduled WHEN [--executor KIND] [--runtemplate_id ID] [--app_id ID]`.
pub async fn update(ctx: &Ctx, a: &UpdateArgs) -> anyhow::Result<Report> {
    let id: JobId = a.id.get()?;
    let change = JobChange {
        scheduled: a.scheduled.clone(),
        executor: a.executor.clone(),
        runtemplate_id: a.template.as_deref().map(args::id).transpose()?,
        app_id: a.app.as_deref().map(args::id).transpose()?,
    };
    let job = ctx
        .usecases()
        .await?
        .update_job(&ctx.caller(), id, change)
        .await?;
    let mut json = super::job::job_summary(&job);
    if let Value::Object(m) = &mut json {
        m.insert("updated".into(), json!(true));
        m.insert("job_id".into(), json!(job.id));
        m.insert("scheduled".into(), json!(job.after));
    }
    Ok(Report::new(
        format!("job {id} is due at {} ({})", ts(job.after), job.status()),
        json,
    ))
}
