//! `multiflexi serve --demo`: the example apps of `examples/apps/`, a demo company and two run
//! templates, so that a new user sees jobs pass through every phase within a minute.
//!
//! Idempotent: apps are matched by uuid, the company by name, templates by name within the
//! company; running it again changes nothing but the one manual job it starts.

use multiflexi_core::app_json::parse_app;
use multiflexi_core::engine::{JobRequest, create_job};
use multiflexi_core::schedule::IntervalCode;
use multiflexi_core::store::RunTemplateFilter;
use multiflexi_core::{App, Clock, Company, Job, RunTemplate, Store, Telemetry, Trigger};

/// The demo apps, compiled in so that `serve --demo` works from any directory.
pub const APPS: [(&str, &str); 2] = [
    (
        "current-date.multiflexi.app.json",
        include_str!("../../../examples/apps/current-date.multiflexi.app.json"),
    ),
    (
        "system-report.multiflexi.app.json",
        include_str!("../../../examples/apps/system-report.multiflexi.app.json"),
    ),
];

/// The demo company's name.
pub const COMPANY: &str = "Demo company";
/// The template that runs every minute.
pub const EVERY_MINUTE: &str = "Demo: date every minute";
/// The template without a schedule, run once at start.
pub const AT_ONCE: &str = "Demo: system report";

/// What the demo set up.
#[derive(Debug)]
pub struct Demo {
    /// The imported apps.
    pub apps: Vec<App>,
    /// The demo company.
    pub company: Company,
    /// The every-minute template.
    pub every_minute: RunTemplate,
    /// The run-at-once template.
    pub at_once: RunTemplate,
    /// The manual job started now (`None` when the template refused it, e.g. deactivated).
    pub job: Option<Job>,
}

/// Imports the apps, creates (or finds) the company and templates, and starts one manual job of
/// the run-at-once template. New templates get `timezone`.
pub async fn setup(
    store: &dyn Store,
    clock: &dyn Clock,
    telemetry: &dyn Telemetry,
    timezone: &str,
) -> anyhow::Result<Demo> {
    let mut apps = Vec::new();
    for (file, text) in APPS {
        let imported =
            parse_app(text.as_bytes()).map_err(|e| anyhow::anyhow!("examples/apps/{file}: {e}"))?;
        for w in &imported.warnings {
            tracing::warn!("examples/apps/{file}: {w}");
        }
        apps.push(store.put_app(&imported.app).await?);
    }
    let company = match store
        .list_companies()
        .await?
        .into_iter()
        .find(|c| c.name == COMPANY)
    {
        Some(c) => c,
        None => {
            let mut c = Company::new(COMPANY);
            c.slug = "demo".into();
            store.create_company(&c).await?
        }
    };
    let every_minute = template(
        store,
        &company,
        &apps[0],
        EVERY_MINUTE,
        IntervalCode::Minutely,
        timezone,
    )
    .await?;
    let at_once = template(
        store,
        &company,
        &apps[1],
        AT_ONCE,
        IntervalCode::Disabled,
        timezone,
    )
    .await?;
    let job = create_job(
        store,
        clock,
        telemetry,
        JobRequest::ad_hoc(at_once.id, Trigger::Manual).launched_by("multiflexi serve --demo"),
    )
    .await
    .map_err(|e| tracing::warn!("demo: no job of {AT_ONCE:?} started: {e}"))
    .ok();
    Ok(Demo {
        apps,
        company,
        every_minute,
        at_once,
        job,
    })
}

async fn template(
    store: &dyn Store,
    company: &Company,
    app: &App,
    name: &str,
    interv: IntervalCode,
    timezone: &str,
) -> anyhow::Result<RunTemplate> {
    let mut filter = RunTemplateFilter::default();
    filter.company_id = Some(company.id);
    if let Some(t) = store
        .list_runtemplates(&filter)
        .await?
        .into_iter()
        .find(|t| t.name == name)
    {
        return Ok(t);
    }
    let t = RunTemplate::new(app.id, company.id, name)
        .with_interval(interv)
        .with_timezone(timezone);
    Ok(store.create_runtemplate(&t).await?)
}
