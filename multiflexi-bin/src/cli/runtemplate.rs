//! `run-template:*`: which app runs for which company, how often, with what configuration.
//!
//! Parsing and presentation only: what a template may be is the run template use cases'
//! ([`crate::usecase::templates`]); their notes (a configuration name the app does not declare)
//! are printed as warnings.

use super::Ctx;
use super::args::{self, IdArg};
use super::company::{env_json, env_text};
use super::output::{Report, fields, opt_ts, or_dash, print_warning, table};
use crate::usecase::templates::{
    ConfigChange, NewTemplate, TemplateChange, TemplateSettings, actions_view,
};
use clap::Args;
use multiflexi_core::model::RunTemplate;
use multiflexi_core::schedule::IntervalCode;
use multiflexi_core::store::Catalog as _;
use multiflexi_core::store::RunTemplateFilter;
use multiflexi_core::{CredentialId, RunTemplateId};
use serde_json::{Value, json};

/// Settings shared by `run-template:create` and `run-template:update`.
#[derive(Debug, Args)]
pub struct Settings {
    /// Interval code: i (minutely), h (hourly), d (daily), w (weekly), m (monthly), y (yearly),
    /// n (disabled: on demand only), c (custom cron). Default n, or c with --cron.
    #[arg(long, value_name = "CODE")]
    pub interv: Option<String>,
    /// Cron expression (5 fields: minute hour day-of-month month day-of-week); implies --interv c.
    #[arg(long, value_name = "EXPR")]
    pub cron: Option<String>,
    /// IANA timezone the schedule is evaluated in (default MULTIFLEXI_TIMEZONE, else UTC).
    #[arg(long, value_name = "TZ")]
    pub timezone: Option<String>,
    /// Seconds added to each slot.
    #[arg(long, value_name = "SECONDS")]
    pub delay: Option<u32>,
    /// Which executor runs its jobs: Native, Docker, Podman, Kubernetes, Azure (default Native).
    #[arg(long, value_name = "KIND")]
    pub executor: Option<String>,
    /// Configuration value KEY=VALUE (repeat); values of the app's secret fields are stored as
    /// secrets.
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// A credential whose values its jobs get (repeat; on update the list is replaced).
    #[arg(long = "credential", value_name = "ID")]
    pub credentials: Vec<String>,
    /// Retries after a failed attempt (0: none).
    #[arg(long, value_name = "N")]
    pub max_retries: Option<u32>,
    /// Seconds between an attempt's end and its retry.
    #[arg(long, value_name = "SECONDS")]
    pub retry_delay: Option<u32>,
    /// fixed or exponential.
    #[arg(long, value_name = "BACKOFF")]
    pub retry_backoff: Option<String>,
    /// Exit codes that are retried, comma separated (empty: the app's exitCodes decide).
    #[arg(long, value_name = "CODES")]
    pub retry_on_exit_codes: Option<String>,
    /// Seconds a job may run before it is killed (0: no limit).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u32>,
    /// Per-job memory limit in MiB (0: none).
    #[arg(long, value_name = "MIB")]
    pub memory_limit: Option<u32>,
    /// Per-job limit on processes and threads alive at once (0: none).
    #[arg(long, value_name = "N")]
    pub pids_max: Option<u32>,
    /// Per-job CPU time (user + system) in seconds before the job is killed (0: none).
    #[arg(long, value_name = "SECONDS")]
    pub cpu_seconds: Option<u32>,
    /// forbid (default), allow or replace.
    #[arg(long, value_name = "POLICY")]
    pub concurrency_policy: Option<String>,
    /// Missed slots after downtime: skip (default) or once.
    #[arg(long, value_name = "POLICY")]
    pub catchup: Option<String>,
    /// Whether the scheduler considers it (true/false; default true).
    #[arg(long, value_name = "BOOL")]
    pub active: Option<String>,
    /// Actions after a successful job: a JSON array, or one JSON action per flag (repeat);
    /// replaces the list, `[]` clears it. Kinds: webhook, launch, retry_later, deactivate,
    /// zabbix, e.g. '{"kind":"launch","template_id":7}'.
    #[arg(long = "on-success", value_name = "JSON")]
    pub on_success: Vec<String>,
    /// Actions after any other outcome (failed, warning, timeout, lost…); as --on-success.
    #[arg(long = "on-failure", value_name = "JSON")]
    pub on_failure: Vec<String>,
}

/// The values of a repeated `--on-success` / `--on-failure` as one JSON array (None when the
/// flag was not given): each value is an array (its items are taken) or one action object.
fn actions_arg(field: &str, values: &[String]) -> anyhow::Result<Option<Value>> {
    if values.is_empty() {
        return Ok(None);
    }
    let mut all = Vec::new();
    for v in values {
        let parsed: Value = serde_json::from_str(v).map_err(|e| {
            multiflexi_core::Error::invalid(
                field,
                format!(
                    "{v:?} is not JSON ({e}); give an array like '[{{\"kind\":\"deactivate\"}}]' \
                     or one action object"
                ),
            )
        })?;
        match parsed {
            Value::Array(items) => all.extend(items),
            other => all.push(other),
        }
    }
    Ok(Some(Value::Array(all)))
}

/// `run-template:create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Its name.
    #[arg(long)]
    pub name: String,
    /// The app it runs.
    #[arg(
        long,
        visible_alias = "app_id",
        value_name = "ID",
        required_unless_present = "app_uuid"
    )]
    pub app: Option<String>,
    /// The app it runs, by its uuid (instead of --app).
    #[arg(
        long = "app_uuid",
        visible_alias = "app-uuid",
        value_name = "UUID",
        conflicts_with = "app"
    )]
    pub app_uuid: Option<String>,
    /// The company it runs for.
    #[arg(long, visible_aliases = ["company_id", "company-id"], value_name = "ID")]
    pub company: String,
    #[command(flatten)]
    pub settings: Settings,
}

/// `run-template:update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub id: IdArg,
    /// New name.
    #[arg(long)]
    pub name: Option<String>,
    /// Another app.
    #[arg(long, visible_alias = "app_id", value_name = "ID")]
    pub app: Option<String>,
    /// Another app, by its uuid (instead of --app).
    #[arg(
        long = "app_uuid",
        visible_alias = "app-uuid",
        value_name = "UUID",
        conflicts_with = "app"
    )]
    pub app_uuid: Option<String>,
    /// Another company.
    #[arg(long, visible_aliases = ["company_id", "company-id"], value_name = "ID")]
    pub company: Option<String>,
    /// Remove a configuration value (repeat).
    #[arg(long = "unset-config", value_name = "KEY")]
    pub unset_config: Vec<String>,
    #[command(flatten)]
    pub settings: Settings,
}

/// `run-template:list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this company's.
    #[arg(long, visible_aliases = ["company_id", "company-id"], value_name = "ID")]
    pub company: Option<String>,
    /// Only this app's.
    #[arg(long, visible_alias = "app_id", value_name = "ID")]
    pub app: Option<String>,
    /// Only active (true) or inactive (false) ones.
    #[arg(long, value_name = "BOOL")]
    pub active: Option<String>,
}

/// `run-template:next-schedule`.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    #[command(flatten)]
    pub id: IdArg,
    /// When the scheduler should fire it (RFC 3339; default now).
    #[arg(long, value_name = "RFC3339")]
    pub when: Option<String>,
}

/// The settings as the use cases take them: each value split and parsed as the command line
/// gives it; the rules are the use case's.
fn settings(s: &Settings, unset_config: &[String]) -> anyhow::Result<TemplateSettings> {
    let mut config: Vec<(String, ConfigChange)> = unset_config
        .iter()
        .map(|k| (k.clone(), ConfigChange::Remove))
        .collect();
    for (k, value) in args::pairs(&s.config, "config")? {
        config.push((
            k,
            ConfigChange::Set {
                value,
                secret: false,
            },
        ));
    }
    let credentials = if s.credentials.is_empty() {
        None
    } else {
        Some(
            s.credentials
                .iter()
                .map(|c| args::id::<CredentialId>(c))
                .collect::<anyhow::Result<_>>()?,
        )
    };
    Ok(TemplateSettings {
        interv: s.interv.clone(),
        cron: s.cron.clone(),
        timezone: s.timezone.clone(),
        delay: s.delay,
        executor: s.executor.clone(),
        active: s
            .active
            .as_deref()
            .map(|a| args::boolean(a, "active"))
            .transpose()?,
        config,
        credentials,
        max_retries: s.max_retries,
        retry_delay: s.retry_delay,
        retry_backoff: s.retry_backoff.clone(),
        retry_on_exit_codes: s
            .retry_on_exit_codes
            .as_deref()
            .map(args::exit_codes)
            .transpose()?,
        timeout: s.timeout,
        memory_limit_mb: s.memory_limit,
        pids_max: s.pids_max,
        cpu_seconds: s.cpu_seconds,
        concurrency_policy: s.concurrency_policy.clone(),
        catchup: s.catchup.clone(),
        on_success: actions_arg("on_success", &s.on_success)?,
        on_failure: actions_arg("on_failure", &s.on_failure)?,
    })
}

fn schedule_words(t: &RunTemplate) -> String {
    t.schedule()
        .map(|s| s.describe())
        .unwrap_or_else(|e| format!("invalid: {e}"))
}

/// The template as JSON (secret configuration values redacted).
pub fn template_json(t: &RunTemplate) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "app_id": t.app_id,
        "company_id": t.company_id,
        "interv": t.interv.to_string(),
        "cron": t.cron,
        "timezone": t.timezone,
        "delay": t.delay,
        "schedule": schedule_words(t),
        "executor": t.executor.as_str(),
        "active": t.active,
        "next_schedule": t.next_schedule,
        "last_schedule": t.last_schedule,
        "successfull_jobs_count": t.successfull_jobs_count,
        "failed_jobs_count": t.failed_jobs_count,
        "config": env_json(&t.config),
        "credentials": t.credentials,
        "max_retries": t.retry.max_retries,
        "retry_delay": t.retry.retry_delay,
        "retry_backoff": t.retry.retry_backoff.as_str(),
        "retry_on_exit_codes": t.retry.retry_on_exit_codes,
        "timeout": t.timeout,
        "memory_limit_mb": t.memory_limit_mb,
        "pids_max": t.pids_max,
        "cpu_seconds": t.cpu_seconds,
        "concurrency_policy": t.concurrency_policy.as_str(),
        "catchup": t.catchup.as_str(),
        "on_success": actions_view(&t.on_success),
        "on_failure": actions_view(&t.on_failure),
        "created": t.created,
        "updated": t.updated,
    })
}

fn template_text(t: &RunTemplate) -> String {
    let codes: Vec<String> = t
        .retry
        .retry_on_exit_codes
        .iter()
        .map(i32::to_string)
        .collect();
    let mut text = fields(&[
        ("id", t.id.to_string()),
        ("name", t.name.clone()),
        ("app", t.app_id.to_string()),
        ("company", t.company_id.to_string()),
        ("interv", t.interv.to_string()),
        ("cron", or_dash(t.cron.as_deref())),
        ("timezone", t.timezone.clone()),
        ("delay", format!("{} s", t.delay)),
        ("schedule", schedule_words(t)),
        ("executor", t.executor.to_string()),
        ("active", t.active.to_string()),
        ("next schedule", opt_ts(t.next_schedule)),
        ("last schedule", opt_ts(t.last_schedule)),
        ("successful jobs", t.successfull_jobs_count.to_string()),
        ("failed jobs", t.failed_jobs_count.to_string()),
        (
            "credentials",
            if t.credentials.is_empty() {
                "-".into()
            } else {
                t.credentials
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        ),
        ("max retries", t.retry.max_retries.to_string()),
        ("retry delay", format!("{} s", t.retry.retry_delay)),
        ("retry backoff", t.retry.retry_backoff.to_string()),
        (
            "retry on exit codes",
            if codes.is_empty() {
                "-".into()
            } else {
                codes.join(",")
            },
        ),
        ("timeout", or_dash(t.timeout.map(|x| format!("{x} s")))),
        (
            "memory limit",
            or_dash(t.memory_limit_mb.map(|x| format!("{x} MiB"))),
        ),
        ("pids max", or_dash(t.pids_max.map(|x| x.to_string()))),
        (
            "cpu time limit",
            or_dash(t.cpu_seconds.map(|x| format!("{x} s"))),
        ),
        ("concurrency policy", t.concurrency_policy.to_string()),
        ("catchup", t.catchup.to_string()),
        ("created", opt_ts(t.created)),
        ("updated", opt_ts(t.updated)),
    ]);
    for (name, list) in [("on success", &t.on_success), ("on failure", &t.on_failure)] {
        if list.is_empty() {
            text.push_str(&format!("{name}: (none)\n"));
        } else {
            text.push_str(&format!("{name}:\n"));
            for a in actions_view(list).as_array().into_iter().flatten() {
                text.push_str(&format!("  {a}\n"));
            }
        }
    }
    if t.config.is_empty() {
        text.push_str("config: (none)\n");
    } else {
        text.push_str("config:\n");
        text.push_str(&env_text(&t.config, "  "));
    }
    text
}

/// The app given as `--app ID` or `--app_uuid UUID`, if either.
async fn app_id(
    ctx: &Ctx,
    id: Option<&str>,
    uuid: Option<&str>,
) -> anyhow::Result<Option<multiflexi_core::AppId>> {
    match (id, uuid) {
        (Some(id), _) => Ok(Some(args::id(id)?)),
        (None, Some(uuid)) => {
            let store = ctx.store().await?;
            Ok(Some(super::lookup::app_by_uuid(&*store, uuid).await?.id))
        }
        (None, None) => Ok(None),
    }
}

/// `run-template:create`.
pub async fn create(ctx: &Ctx, a: &CreateArgs) -> anyhow::Result<Report> {
    let app = app_id(ctx, a.app.as_deref(), a.app_uuid.as_deref())
        .await?
        .ok_or_else(|| {
            multiflexi_core::Error::invalid("app", "give --app ID or --app_uuid UUID")
        })?;
    let mut new = NewTemplate::new(&a.name, app, args::id(&a.company)?);
    new.settings = settings(&a.settings, &[])?;
    let saved = ctx
        .usecases()
        .await?
        .create_template(&ctx.caller(), new)
        .await?;
    for w in &saved.warnings {
        print_warning(ctx.format, w);
    }
    let t = saved.template;
    Ok(Report::new(
        format!(
            "created run template {} \"{}\": app {}, company {}, {}, executor {}",
            t.id,
            t.name,
            t.app_id,
            t.company_id,
            schedule_words(&t),
            t.executor
        ),
        template_json(&t),
    ))
}

/// `run-template:update`.
pub async fn update(ctx: &Ctx, a: &UpdateArgs) -> anyhow::Result<Report> {
    let id: RunTemplateId = a.id.get()?;
    let change = TemplateChange {
        name: a.name.clone(),
        app_id: app_id(ctx, a.app.as_deref(), a.app_uuid.as_deref()).await?,
        company_id: a.company.as_deref().map(args::id).transpose()?,
        settings: settings(&a.settings, &a.unset_config)?,
    };
    let saved = ctx
        .usecases()
        .await?
        .update_template(&ctx.caller(), id, change)
        .await?;
    for w in &saved.warnings {
        print_warning(ctx.format, w);
    }
    let t = saved.template;
    Ok(Report::new(
        format!(
            "updated run template {} \"{}\": {}, executor {}",
            t.id,
            t.name,
            schedule_words(&t),
            t.executor
        ),
        template_json(&t),
    ))
}

/// `run-template:list`.
pub async fn list(ctx: &Ctx, a: &ListArgs) -> anyhow::Result<Report> {
    let mut filter = RunTemplateFilter::default();
    filter.company_id = a.company.as_deref().map(args::id).transpose()?;
    filter.app_id = a.app.as_deref().map(args::id).transpose()?;
    filter.active = a
        .active
        .as_deref()
        .map(|v| args::boolean(v, "active"))
        .transpose()?;
    let templates = ctx.store().await?.list_runtemplates(&filter).await?;
    let rows: Vec<Vec<String>> = templates
        .iter()
        .map(|t| {
            vec![
                t.id.to_string(),
                t.name.clone(),
                t.app_id.to_string(),
                t.company_id.to_string(),
                match &t.cron {
                    Some(c) if t.interv == IntervalCode::Custom => format!("c {c}"),
                    _ => t.interv.to_string(),
                },
                t.timezone.clone(),
                t.executor.to_string(),
                t.active.to_string(),
                opt_ts(t.next_schedule),
            ]
        })
        .collect();
    Ok(Report::new(
        table(
            &[
                "ID", "NAME", "APP", "COMPANY", "INTERV", "TIMEZONE", "EXECUTOR", "ACTIVE", "NEXT",
            ],
            &rows,
        ),
        Value::Array(templates.iter().map(template_json).collect()),
    ))
}

/// `run-template:get`.
pub async fn get(ctx: &Ctx, a: &IdArg) -> anyhow::Result<Report> {
    let id: RunTemplateId = a.get()?;
    let t = ctx.store().await?.get_runtemplate(id).await?;
    Ok(Report::new(template_text(&t), template_json(&t)))
}

/// `run-template:delete`.
pub async fn delete(ctx: &Ctx, a: &IdArg) -> anyhow::Result<Report> {
    let id: RunTemplateId = a.get()?;
    let t = ctx
        .usecases()
        .await?
        .delete_template(&ctx.caller(), id)
        .await?;
    Ok(Report::new(
        format!("deleted run template {id} \"{}\"", t.name),
        json!({ "deleted": { "runtemplate_id": id } }),
    ))
}

/// `run-template:next-schedule`: sets `next_schedule`, so the scheduler fires the template then.
pub async fn schedule(ctx: &Ctx, a: &ScheduleArgs) -> anyhow::Result<Report> {
    let id: RunTemplateId = a.id.get()?;
    let when = a
        .when
        .as_deref()
        .map(|w| args::instant(w, "when"))
        .transpose()?;
    let t = ctx
        .usecases()
        .await?
        .schedule_template(&ctx.caller(), id, when)
        .await?;
    Ok(Report::new(
        format!(
            "run template {id} \"{}\" scheduled at {}",
            t.name,
            opt_ts(t.next_schedule)
        ),
        template_json(&t),
    ))
}
