//! `GET /openapi.json`: the OpenAPI 3.1 document, generated from the handlers and types.

use super::{
    apps, artifacts, audit, companies, credentials, env, error, job_view, jobs, output, retention,
    stats, system, templates,
};
use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Server, ServerBuilder};
use utoipa::{Modify, OpenApi};

/// The API's OpenAPI document.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "MultiFlexi API",
        description = "Run templates, jobs and their artifacts. Every endpoint but /ping and \
            /openapi.json needs `Authorization: Bearer <token>` (or HTTP Basic with the token as \
            the password); upstream MultiFlexi's `.json` paths are served beside these (see \
            /index.json); a company token sees its own \
            company only. Errors are `{error, detail, field?}`.",
        license(name = "MIT"),
    ),
    paths(
        system::ping, system::status,
        apps::list, apps::get, apps::import, apps::update, apps::delete,
        companies::list, companies::get, companies::create, companies::delete,
        credentials::list, credentials::get, credentials::create, credentials::delete,
        templates::list, templates::get, templates::create, templates::update, templates::delete,
        jobs::create, jobs::list, jobs::get, jobs::cancel, jobs::retry,
        output::output,
        artifacts::list, artifacts::get,
        audit::list,
        stats::template_stats, stats::app_stats,
        retention::list, retention::set, retention::unset, retention::run,
        openapi_json,
    ),
    components(schemas(
        error::ErrorBody, env::EnvInput, env::EnvValueInput, env::EnvVarView,
        output::OutputEvent, output::EndEvent,
        job_view::JobSummaryView, job_view::JobView, job_view::ArtifactView,
        job_view::JobActionView,
        job_view::PhaseStamp, job_view::ExitView, job_view::UsageView,
    )),
    modifiers(&Security),
    security(("bearer" = []), ("basic" = [])),
    tags(
        (name = "system", description = "Liveness and status"),
        (name = "apps", description = "Applications"),
        (name = "companies", description = "Companies"),
        (name = "credentials", description = "Credentials (secret values never returned)"),
        (name = "runtemplates", description = "Run templates"),
        (name = "jobs", description = "Jobs"),
        (name = "artifacts", description = "Job artifacts"),
        (name = "audit", description = "The audit log"),
        (name = "retention", description = "Retention policies (admin)"),
    ),
)]
pub struct ApiDoc;

/// Adds the bearer security scheme and the server base path.
#[derive(Debug)]
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.description = Some("A token made with `multiflexi-cli token:create`".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(http));
        let mut basic = Http::new(HttpAuthScheme::Basic);
        basic.description = Some(
            "The same token as the password (upstream MultiFlexi's clients send this); the user name is ignored".into(),
        );
        components.add_security_scheme("basic", SecurityScheme::Http(basic));
        let server: Server = ServerBuilder::new()
            .url(super::BASE_PATH)
            .description(Some("This server"))
            .build();
        openapi.servers = Some(vec![server]);
        openapi.info.version = env!("CARGO_PKG_VERSION").to_string();
    }
}

/// The OpenAPI document (needs no token).
#[utoipa::path(get, path = "/openapi.json", tag = "system", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
