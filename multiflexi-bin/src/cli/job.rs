//! `job:*`: create, cancel, list, show, retry and clean up jobs.

use super::Ctx;
use super::args::{self, IdArg};
use super::company::{env_json, env_text};
use super::output::{Report, fields, human_duration, opt_ts, or_dash, table, ts};
use crate::http::api::job_view::{JobActionView, UsageView};
use crate::usecase::cleanup::JobCleanup;
use crate::usecase::jobs::JobOrder;
use crate::usecase::variables::Variable;
use clap::Args;
use multiflexi_core::exit_code;
use multiflexi_core::model::{App, ArtifactMeta, Job};
use multiflexi_core::store::{ActionQueue as _, AuditLog as _, Catalog as _, JobQueue as _};
use multiflexi_core::store::{AuditEntry, AuditFilter, CancelResult, JobFilter};
use multiflexi_core::{ArtifactSink, CompanyId, JobId, RunTemplateId, Trigger};
use serde_json::{Value, json};

/// `job:create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The run template to run.
    #[arg(long = "template", visible_alias = "runtemplate_id", value_name = "ID")]
    pub template: String,
    /// One-off environment override KEY=VALUE (repeat); highest precedence.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Run on another executor than the template's: Native, Docker, Podman, Kubernetes, Azure.
    #[arg(long, value_name = "KIND")]
    pub executor: Option<String>,
    /// A key that makes the request idempotent: a second job:create with the same key returns
    /// the first job.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    /// When it becomes due: now (default), an RFC 3339 instant, or Y-m-d H:i:s in
    /// MULTIFLEXI_TIMEZONE (upstream's spelling).
    #[arg(long, value_name = "WHEN")]
    pub scheduled: Option<String>,
    /// Upstream's: the app the template runs (checked; another app is refused).
    #[arg(long = "app_id", value_name = "ID")]
    pub app_id: Option<String>,
    /// Upstream's schedule type (adhoc, cli, …): accepted and not stored; the job's trigger is
    /// cli.
    #[arg(long = "schedule_type", value_name = "TYPE")]
    pub schedule_type: Option<String>,
    #[command(flatten)]
    pub wait: super::wait::WaitArgs,
}

/// `job:list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only jobs with this status: pending, scheduled, queued, running, success, warning, failed,
    /// not_executable, not_found, timeout, cancelled, oom, lost, platform_error.
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,
    /// Only this run template's.
    #[arg(long = "template", visible_alias = "runtemplate_id", value_name = "ID")]
    pub template: Option<String>,
    /// Only this company's.
    #[arg(long, visible_aliases = ["company_id", "company-id"], value_name = "ID")]
    pub company: Option<String>,
    /// At most this many, newest first.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub limit: u64,
}

/// `job:cleanup`.
#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// Delete finished jobs that ended more than this many days ago.
    #[arg(long, value_name = "N")]
    pub days: u32,
    /// Only this company's.
    #[arg(long, visible_aliases = ["company_id", "company-id"], value_name = "ID")]
    pub company: Option<String>,
    /// Count what would be deleted; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
}

fn job_summary(j: &Job) -> Value {
    json!({
        "id": j.id,
        "runtemplate_id": j.runtemplate_id,
        "company_id": j.company_id,
        "app_id": j.app_id,
        "executor": j.executor.as_str(),
        "phase": j.phase.as_str(),
        "status": j.status(),
        "outcome": j.outcome.map(|o| o.as_str()),
        "exitcode": j.exitcode,
        "trigger": j.trigger.as_str(),
        "attempt": j.attempt,
        "retry_of": j.retry_of,
        "slot": j.slot,
        "after": j.after,
        "created": j.created,
        "begin": j.begin,
        "end": j.end,
        "launched_by": j.launched_by,
        "unreadable": j.unreadable,
    })
}

fn secs(d: chrono::Duration) -> f64 {
    d.num_microseconds()
        .map_or(d.num_seconds() as f64, |us| us as f64 / 1e6)
}

/// The full job as JSON: phase timestamps, exit code with its meaning, timings, artifacts,
/// environment with secrets redacted, history.
fn job_json(
    j: &Job,
    app: Option<&App>,
    artifacts: &[ArtifactMeta],
    history: &[AuditEntry],
) -> Value {
    let mut v = job_summary(j);
    let exit = j.outcome.map(|o| {
        let d = exit_code::describe(o, j.exitcode, app, "en");
        json!({
            "code": j.exitcode,
            "status": d.class.status,
            "meaning": d.class.meaning,
            "colour": d.class.colour,
            "app_description": d.app_description,
            "app_severity": d.app_severity,
            "retry_hint": d.retry_hint,
        })
    });
    if let Value::Object(m) = &mut v {
        m.insert("exit".into(), exit.unwrap_or(Value::Null));
        m.insert(
            "timestamps".into(),
            json!({
                "created": j.created,
                "scheduled": j.created,
                "after": j.after,
                "queued": j.queued,
                "begin": j.begin,
                "end": j.end,
                "preserved": j.preserved,
            }),
        );
        m.insert(
            "timings".into(),
            json!({
                "waited_seconds": j.begin.map(|b| secs(b - j.after.max(j.created))),
                "run_seconds": j.duration().map(secs),
                "total_seconds": j.end.map(|e| secs(e - j.created)),
            }),
        );
        m.insert("command".into(), json!(j.command));
        m.insert("image".into(), json!(j.spec.image));
        m.insert("timeout".into(), json!(j.spec.timeout));
        m.insert("memory_limit_mb".into(), json!(j.spec.memory_limit_mb));
        m.insert("pids_max".into(), json!(j.spec.pids_max));
        m.insert("cpu_seconds".into(), json!(j.spec.cpu_seconds));
        m.insert("container".into(), json!(j.spec.container));
        m.insert("timezone".into(), json!(j.spec.timezone));
        m.insert("env".into(), env_json(&j.spec.env));
        m.insert("usage".into(), json!(UsageView::of(j)));
        m.insert("pid".into(), json!(j.pid));
        m.insert("external_id".into(), json!(j.external_id));
        m.insert("lease_owner".into(), json!(j.lease_owner));
        m.insert("lease_expires".into(), json!(j.lease_expires));
        m.insert("cancel_requested".into(), json!(j.cancel_requested));
        m.insert("idempotency_key".into(), json!(j.idempotency_key));
        m.insert("stdout".into(), json!(j.stdout));
        m.insert("stderr".into(), json!(j.stderr));
        m.insert(
            "artifacts".into(),
            Value::Array(artifacts.iter().map(artifact_json).collect()),
        );
        m.insert(
            "history".into(),
            Value::Array(
                history
                    .iter()
                    .map(|h| json!({ "at": h.at, "action": h.action, "actor": h.actor, "detail": h.detail }))
                    .collect(),
            ),
        );
    }
    v
}

/// An artifact's metadata as JSON.
pub fn artifact_json(a: &ArtifactMeta) -> Value {
    json!({
        "id": a.id,
        "job_id": a.job_id,
        "filename": a.filename,
        "content_type": a.content_type,
        "size": a.size,
        "note": a.note,
        "created": a.created,
    })
}

fn job_text(
    j: &Job,
    app: Option<&App>,
    artifacts: &[ArtifactMeta],
    history: &[AuditEntry],
) -> String {
    let exit = match (j.outcome, j.exitcode) {
        (Some(o), code) => {
            let d = exit_code::describe(o, code, app, "en");
            let mut s = format!(
                "{} ({}: {})",
                or_dash(code),
                d.class.status,
                d.class.meaning
            );
            if let Some(desc) = &d.app_description {
                s.push_str(&format!("; app says: {desc}"));
            }
            if d.retry_hint {
                s.push_str("; a retry may help");
            }
            s
        }
        (None, code) => or_dash(code),
    };
    let mut pairs = vec![
        ("id", j.id.to_string()),
        ("run template", j.runtemplate_id.to_string()),
        ("company", j.company_id.to_string()),
        (
            "app",
            match app {
                Some(a) => format!("{} \"{}\"", j.app_id, a.display_name()),
                None => j.app_id.to_string(),
            },
        ),
        ("executor", j.executor.to_string()),
        ("phase", j.phase.to_string()),
        ("status", j.status().to_string()),
    ];
    if let Some(why) = &j.unreadable {
        pairs.push(("unreadable", why.clone()));
    }
    pairs.extend([
        ("exit code", exit),
        ("trigger", j.trigger.to_string()),
        ("attempt", j.attempt.to_string()),
        ("retry of", or_dash(j.retry_of)),
        ("launched by", or_dash(j.launched_by.as_deref())),
        ("slot", opt_ts(j.slot)),
        ("due", ts(j.after)),
        ("created", ts(j.created)),
        ("queued", opt_ts(j.queued)),
        ("begin", opt_ts(j.begin)),
        ("end", opt_ts(j.end)),
        ("preserved", opt_ts(j.preserved)),
    ]);
    if let Some(b) = j.begin {
        pairs.push(("waited", human_duration(b - j.after.max(j.created))));
    }
    if let Some(d) = j.duration() {
        pairs.push(("run time", human_duration(d)));
    }
    if let Some(e) = j.end {
        pairs.push(("total", human_duration(e - j.created)));
    }
    if !j.usage.is_empty() {
        pairs.push(("resource usage", j.usage.describe()));
    }
    pairs.extend([
        ("command", j.command.clone()),
        ("image", or_dash(j.spec.image.as_deref())),
        ("timeout", or_dash(j.spec.timeout.map(|t| format!("{t} s")))),
        ("pid", or_dash(j.pid)),
        ("external id", or_dash(j.external_id.as_deref())),
        ("lease owner", or_dash(j.lease_owner.as_deref())),
        ("cancel requested", j.cancel_requested.to_string()),
    ]);
    let mut text = fields(&pairs);
    text.push_str("environment:\n");
    text.push_str(&env_text(&j.spec.env, "  "));
    if artifacts.is_empty() {
        text.push_str("artifacts: (none)\n");
    } else {
        text.push_str("artifacts:\n");
        for a in artifacts {
            text.push_str(&format!(
                "  {}  {}  {} bytes  {}{}\n",
                a.id,
                a.filename,
                a.size,
                a.content_type,
                a.note
                    .as_deref()
                    .map(|n| format!("  ({n})"))
                    .unwrap_or_default()
            ));
        }
    }
    if !history.is_empty() {
        text.push_str("history:\n");
        for h in history {
            text.push_str(&format!(
                "  {}  {}  {}{}\n",
                ts(h.at),
                h.action,
                h.actor,
                if h.detail.is_empty() {
                    String::new()
                } else {
                    format!("  {}", h.detail)
                }
            ));
        }
    }
    for (name, out) in [("stdout", &j.stdout), ("stderr", &j.stderr)] {
        if !out.is_empty() {
            text.push_str(&format!("--- {name} ---\n{out}"));
            if !out.ends_with('\n') {
                text.push('\n');
            }
        }
    }
    text
}

fn created_text(j: &Job, replay: bool) -> String {
    let mut s = if replay {
        format!(
            "job {} already exists for this idempotency key (status {})",
            j.id,
            j.status()
        )
    } else {
        format!(
            "created job {} of run template {} (executor {}, status {}, due {})",
            j.id,
            j.runtemplate_id,
            j.executor,
            j.status(),
            ts(j.after)
        )
    };
    s.push_str(&format!("\ncommand: {}", j.command));
    s
}

/// `job:create`.
pub async fn create(ctx: &Ctx, a: &CreateArgs) -> anyhow::Result<Report> {
    let mut order = JobOrder::new(args::id(&a.template)?, Trigger::Cli);
    order.env = args::pairs(&a.env, "env")?
        .into_iter()
        .map(|(k, v)| Variable::plain(k, v))
        .collect();
    order.executor = a.executor.clone();
    order.idempotency_key = a.idempotency_key.clone();
    order.scheduled = a.scheduled.clone();
    order.app = a.app_id.as_deref().map(args::id).transpose()?;
    let created = ctx
        .usecases()
        .await?
        .create_job(&ctx.caller(), order)
        .await?;
    let (job, replay) = (created.job, created.replayed);
    if a.wait.wait {
        if ctx.format == super::output::Format::Text {
            eprintln!("{}", created_text(&job, replay));
        }
        return super::wait::wait(ctx, job.id, a.wait.timeout).await;
    }
    let mut json = job_summary(&job);
    if let Value::Object(m) = &mut json {
        m.insert("command".into(), json!(job.command));
        m.insert("existing".into(), json!(replay));
    }
    Ok(Report::new(created_text(&job, replay), json))
}

/// `job:cancel`.
pub async fn cancel(ctx: &Ctx, a: &IdArg) -> anyhow::Result<Report> {
    let id: JobId = a.get()?;
    let result = ctx.usecases().await?.cancel_job(&ctx.caller(), id).await?;
    let (what, job, text) = match &result {
        CancelResult::Cancelled(j) => (
            "cancelled",
            j,
            format!("job {id} cancelled (it had not started)"),
        ),
        CancelResult::Requested(j) => (
            "requested",
            j,
            format!(
                "job {id} is {}: cancellation requested; its executor will stop it",
                j.phase
            ),
        ),
        CancelResult::AlreadyFinished(j) => (
            "already_finished",
            j,
            format!(
                "job {id} had already finished ({}); nothing changed",
                j.status()
            ),
        ),
    };
    let mut json = job_summary(job);
    if let Value::Object(m) = &mut json {
        m.insert("cancel".into(), json!(what));
    }
    Ok(Report::new(text, json))
}

/// `job:list`.
pub async fn list(ctx: &Ctx, a: &ListArgs) -> anyhow::Result<Report> {
    let mut filter = JobFilter::default();
    if let Some(s) = &a.status {
        filter.status = Some(Job::check_status_word(s)?);
    }
    filter.runtemplate_id = a
        .template
        .as_deref()
        .map(args::id::<RunTemplateId>)
        .transpose()?;
    filter.company_id = a
        .company
        .as_deref()
        .map(args::id::<CompanyId>)
        .transpose()?;
    filter.limit = Some(a.limit.max(1));
    let jobs = ctx.store().await?.list_jobs(&filter).await?;
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            vec![
                j.id.to_string(),
                j.runtemplate_id.to_string(),
                j.company_id.to_string(),
                j.app_id.to_string(),
                j.executor.to_string(),
                match &j.unreadable {
                    Some(_) => format!("{} (unreadable)", j.status()),
                    None => j.status().to_string(),
                },
                or_dash(j.exitcode),
                j.trigger.to_string(),
                j.attempt.to_string(),
                ts(j.created),
                or_dash(j.duration().map(human_duration)),
            ]
        })
        .collect();
    let mut text = table(
        &[
            "ID", "TEMPLATE", "COMPANY", "APP", "EXECUTOR", "STATUS", "EXIT", "TRIGGER", "ATTEMPT",
            "CREATED", "DURATION",
        ],
        &rows,
    );
    for j in &jobs {
        if let Some(why) = &j.unreadable {
            text.push_str(&format!("job {} unreadable: {why}\n", j.id));
        }
    }
    Ok(Report::new(
        text,
        Value::Array(jobs.iter().map(job_summary).collect()),
    ))
}

/// `job:get`.
pub async fn get(ctx: &Ctx, a: &IdArg) -> anyhow::Result<Report> {
    let id: JobId = a.get()?;
    let store = ctx.store().await?;
    let job = store.get_job(id).await?;
    let app = store.get_app(job.app_id).await.ok();
    let artifacts = ArtifactSink::list(&*store, id).await?;
    let history = store.list_audit(&AuditFilter::job(id)).await?;
    let actions = store.job_actions(id).await?;
    let mut text = job_text(&job, app.as_ref(), &artifacts, &history);
    let mut json = job_json(&job, app.as_ref(), &artifacts, &history);
    let views: Vec<JobActionView> = actions.iter().map(JobActionView::of).collect();
    if !views.is_empty() {
        text.push_str("actions after completion:\n");
        for a in &views {
            text.push_str(&format!(
                "  #{} {} {} (attempts {}){}\n",
                a.index,
                a.kind,
                a.state,
                a.attempts,
                a.last_error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ));
        }
    }
    if let Value::Object(m) = &mut json {
        m.insert("actions".into(), json!(views));
    }
    Ok(Report::new(text, json))
}

/// `job:retry`: a manual copy of a finished job (same frozen command and environment, trigger
/// manual, not counted against the template's retries).
pub async fn retry(ctx: &Ctx, a: &IdArg) -> anyhow::Result<Report> {
    let id: JobId = a.get()?;
    let job = ctx.usecases().await?.retry_job(&ctx.caller(), id).await?;
    let mut json = job_summary(&job);
    if let Value::Object(m) = &mut json {
        m.insert("command".into(), json!(job.command));
    }
    Ok(Report::new(
        format!(
            "created job {} retrying job {id} (executor {}, status {})\ncommand: {}",
            job.id,
            job.executor,
            job.status(),
            job.command
        ),
        json,
    ))
}

/// `job:cleanup`.
pub async fn cleanup(ctx: &Ctx, a: &CleanupArgs) -> anyhow::Result<Report> {
    let mut request = JobCleanup::older_than(a.days);
    request.dry_run = a.dry_run;
    request.company = a
        .company
        .as_deref()
        .map(args::id::<CompanyId>)
        .transpose()?;
    let done = ctx
        .usecases()
        .await?
        .clean_up_jobs(&ctx.caller(), request)
        .await?;
    let (r, cutoff) = (done.report, done.ended_before);
    let verb = if a.dry_run { "would delete" } else { "deleted" };
    Ok(Report::new(
        format!(
            "{verb} {} finished job{} that ended before {} ({} artifacts, {} output chunks)",
            r.jobs,
            if r.jobs == 1 { "" } else { "s" },
            ts(cutoff),
            r.artifacts,
            r.output_chunks
        ),
        json!({
            "dry_run": a.dry_run,
            "ended_before": cutoff,
            "jobs": r.jobs,
            "artifacts": r.artifacts,
            "output_chunks": r.output_chunks,
        }),
    ))
}
