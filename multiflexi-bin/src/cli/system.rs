//! `queue:overview`, `status` and `migrate`.

use super::Ctx;
use super::output::{Report, fields};
use crate::database::{self, OpenOptions};
use multiflexi_core::store::RunTemplateFilter;
use multiflexi_core::store::{Catalog as _, JobQueue as _};
use multiflexi_store::{SCHEMA_VERSION, SqlStore};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

/// `queue:overview`.
pub async fn queue_overview(ctx: &Ctx) -> anyhow::Result<Report> {
    let o = ctx.store().await?.queue_overview().await?;
    Ok(Report::new(
        fields(&[
            ("due", o.due.to_string()),
            ("waiting", o.waiting.to_string()),
            ("queued", o.queued.to_string()),
            ("running", o.running.to_string()),
            ("completed", o.completed.to_string()),
            ("preserved", o.preserved.to_string()),
        ]),
        json!({
            "due": o.due,
            "waiting": o.waiting,
            "queued": o.queued,
            "running": o.running,
            "completed": o.completed,
            "preserved": o.preserved,
        }),
    ))
}

async fn schema_version(store: &SqlStore) -> anyhow::Result<Option<i32>> {
    let db = store.connection();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT MAX(version) FROM schema_version",
        ))
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the schema version: {e}"))?;
    Ok(row.and_then(|r| r.try_get_by_index::<Option<i32>>(0).ok().flatten()))
}

/// `status`: where the database is (password hidden), its schema version, what it holds.
pub async fn status(ctx: &Ctx) -> anyhow::Result<Report> {
    let settings = ctx.database_settings().await?;
    let shown = settings.shown_url();
    let store = database::open(
        settings,
        OpenOptions {
            migrate: false,
            ..OpenOptions::default()
        },
    )
    .await
    .map(|opened| opened.store)
    .map_err(|e| {
        let msg = format!("{e:#}");
        if msg.contains("run the migrations") {
            anyhow::anyhow!("{msg} (multiflexi-cli migrate)")
        } else {
            e
        }
    })?;
    let version = schema_version(&store).await?;
    let apps = store.list_apps().await?.len();
    let companies = store.list_companies().await?.len();
    let credentials = store.list_credentials(None).await?.len();
    let templates = store
        .list_runtemplates(&RunTemplateFilter::default())
        .await?
        .len();
    let q = store.queue_overview().await?;
    let jobs = q.due + q.waiting + q.queued + q.running + q.completed + q.preserved;
    let key = settings.describe_key();
    Ok(Report::new(
        fields(&[
            ("database", shown.clone()),
            ("backend", store.backend_name().to_string()),
            (
                "schema version",
                format!(
                    "{} (this multiflexi-cli knows up to {SCHEMA_VERSION})",
                    version.map_or_else(|| "-".to_string(), |v| v.to_string())
                ),
            ),
            ("master key", key.clone()),
            ("apps", apps.to_string()),
            ("companies", companies.to_string()),
            ("credentials", credentials.to_string()),
            ("run templates", templates.to_string()),
            (
                "jobs",
                format!(
                    "{jobs} ({} due, {} waiting, {} queued, {} running, {} completed, {} preserved)",
                    q.due, q.waiting, q.queued, q.running, q.completed, q.preserved
                ),
            ),
        ]),
        json!({
            "database": shown,
            "backend": store.backend_name(),
            "schema_version": version,
            "supported_schema_version": SCHEMA_VERSION,
            "master_key": key,
            "counts": {
                "apps": apps,
                "companies": companies,
                "credentials": credentials,
                "run_templates": templates,
                "jobs": jobs,
            },
            "queue": {
                "due": q.due,
                "waiting": q.waiting,
                "queued": q.queued,
                "running": q.running,
                "completed": q.completed,
                "preserved": q.preserved,
            },
        }),
    ))
}

/// `migrate`: brings the schema up to date.
pub async fn migrate(ctx: &Ctx) -> anyhow::Result<Report> {
    let shown = ctx.database_settings().await?.shown_url();
    let store = ctx.store().await?;
    let version = schema_version(&store).await?;
    Ok(Report::new(
        format!(
            "database {} is at schema version {}",
            shown,
            version.map_or_else(|| "-".to_string(), |v| v.to_string())
        ),
        json!({ "database": shown, "schema_version": version }),
    ))
}
