//! Apps: list, get, import (`POST /apps` with a MultiFlexi app JSON body, lenient with warnings,
//! as `multiflexi-cli application:import-json`), delete.

use super::auth::Caller;
use super::env::REDACTED;
use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, JsonBytes, path_id};
use crate::http::HttpState;
use crate::usecase::apps::AppChange;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use multiflexi_core::AppId;
use multiflexi_core::app_json::export_app;
use multiflexi_core::model::App;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A configuration field of an app.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AppFieldView {
    /// Variable name.
    pub name: String,
    /// Field type (`string`, `password`, `integer`, `bool`, `set`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Default value (`***` for secret fields).
    pub default: Option<String>,
    /// Whether a job cannot run without it.
    pub required: bool,
    /// Whether it is a secret.
    pub secret: bool,
    /// What it means.
    pub description: String,
}

/// What an app says about one exit code.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AppExitCodeView {
    /// What the code means for this app.
    pub description: String,
    /// `success`, `warning`, `error`, `critical`, as the file gives it.
    pub severity: Option<String>,
    /// Whether a job ending with it is retried.
    pub retry: bool,
}

/// An application.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AppView {
    /// Its id.
    pub id: i64,
    /// Stable identity across imports.
    pub uuid: Option<String>,
    /// Display name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Version.
    pub version: Option<String>,
    /// The program.
    pub executable: String,
    /// Argument template.
    pub cmdparams: String,
    /// Container image.
    pub ociimage: Option<String>,
    /// Project homepage.
    pub homepage: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Credential types it needs.
    pub requirements: Vec<String>,
    /// Configuration fields.
    pub environment: Vec<AppFieldView>,
    /// Result-file patterns.
    pub artifacts: Vec<String>,
    /// Its own exit-code descriptions, by code.
    pub exit_codes: BTreeMap<String, AppExitCodeView>,
    /// Whether run templates may use it.
    pub enabled: bool,
    /// Linux capabilities its containers keep (all others are dropped).
    pub capabilities: Vec<String>,
    /// Whether its containers' root file system is read-only.
    pub read_only_root_fs: bool,
    /// When it was first stored.
    pub created: Option<DateTime<Utc>>,
    /// When it was last changed.
    pub updated: Option<DateTime<Utc>>,
    /// The definition in MultiFlexi's app JSON shape (secret defaults `***`).
    #[schema(value_type = Object)]
    pub definition: Value,
}

impl AppView {
    /// The view of `app`.
    pub fn of(app: &App) -> Self {
        let mut definition = export_app(app);
        if let Some(env) = definition
            .get_mut("environment")
            .and_then(Value::as_object_mut)
        {
            for f in app.environment.iter().filter(|f| f.secret) {
                if let Some(Value::Object(field)) = env.get_mut(&f.name)
                    && field.contains_key("defval")
                {
                    field.insert("defval".into(), Value::String(REDACTED.into()));
                }
            }
        }
        Self {
            id: app.id.get(),
            uuid: app.uuid.clone(),
            name: app.display_name().to_string(),
            description: app.description.text().to_string(),
            version: app.version.clone(),
            executable: app.executable.clone(),
            cmdparams: app.cmdparams.clone(),
            ociimage: app.ociimage.clone().filter(|i| !i.trim().is_empty()),
            homepage: app.homepage.clone(),
            tags: app.tags.clone(),
            requirements: app.requirements.clone(),
            environment: app
                .environment
                .iter()
                .map(|f| AppFieldView {
                    name: f.name.clone(),
                    kind: f.kind.as_str().to_string(),
                    default: f
                        .default
                        .as_ref()
                        .map(|d| if f.secret { REDACTED.into() } else { d.clone() }),
                    required: f.required,
                    secret: f.secret,
                    description: f.description.text().to_string(),
                })
                .collect(),
            artifacts: app.artifacts.iter().map(|a| a.path.clone()).collect(),
            exit_codes: app
                .exit_codes
                .iter()
                .map(|(code, i)| {
                    (
                        code.to_string(),
                        AppExitCodeView {
                            description: i.description.text().to_string(),
                            severity: i.severity.clone(),
                            retry: i.retry,
                        },
                    )
                })
                .collect(),
            enabled: app.enabled,
            capabilities: app.container.capabilities.clone(),
            read_only_root_fs: app.container.read_only_root_fs,
            created: app.created,
            updated: app.updated,
            definition,
        }
    }
}

/// One thing the importer reinterpreted or left out.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportWarningView {
    /// JSON Pointer of the value concerned (`""`: the whole document).
    pub path: String,
    /// Kind of deviation (`duplicate-key`, `key-alias`, `type-mapped`, …).
    pub kind: String,
    /// What was found and what the importer did.
    pub message: String,
}

/// The body of `POST /apps`: a MultiFlexi application definition (app JSON, schema 3.4.0; legacy
/// shapes are accepted with warnings). Only the members every definition needs are listed here.
#[derive(Debug, Clone, ToSchema)]
#[allow(dead_code)]
pub struct AppDefinition {
    /// Display name: text, or `{"en": …, "cs": …}` (other types are converted with a warning).
    name: Value,
    /// The program to run.
    #[schema(pattern = "\\S")]
    executable: String,
}

/// What `POST /apps` did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AppImportView {
    /// `created`, or `updated` when an app with the same uuid (or name) existed.
    pub action: String,
    /// The stored app.
    pub app: AppView,
    /// Deviations from the schema the importer tolerated.
    pub warnings: Vec<ImportWarningView>,
}

/// Every app, by id.
#[utoipa::path(get, path = "/apps", tag = "apps",
    responses(
        (status = 200, description = "Apps", body = [AppView]),
        (status = 401, description = "No or bad token", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<HttpState>,
    _caller: Caller,
) -> ApiResult<Json<Vec<AppView>>> {
    let apps = state.store.list_apps().await?;
    Ok(Json(apps.iter().map(AppView::of).collect()))
}

/// One app.
#[utoipa::path(get, path = "/app/{id}", tag = "apps",
    params(("id" = i64, Path, description = "App id")),
    responses(
        (status = 200, description = "The app", body = AppView),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such app", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<HttpState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<AppView>> {
    let id: AppId = path_id(&id)?;
    Ok(Json(AppView::of(&state.store.get_app(id).await?)))
}

/// Imports an app definition (MultiFlexi app JSON, legacy shapes tolerated with warnings); an
/// app with the same uuid (else name) is updated in place. Admin only.
#[utoipa::path(post, path = "/apps", tag = "apps",
    request_body(content = AppDefinition, description = "A MultiFlexi application definition (app JSON)", content_type = "application/json"),
    responses(
        (status = 201, description = "Imported as a new app", body = AppImportView),
        (status = 200, description = "Updated an existing app", body = AppImportView),
        (status = 400, description = "Not an app definition", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Not an admin token", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
    ))]
pub async fn import(
    State(state): State<HttpState>,
    caller: Caller,
    JsonBytes(body): JsonBytes,
) -> ApiResult<(StatusCode, Json<AppImportView>)> {
    let imported = state
        .usecases()
        .import_app(&caller.as_caller(), &body, "the API")
        .await?;
    let created = imported.created;
    let action = imported.action();
    let app = imported.app;
    let view = AppImportView {
        action: action.into(),
        app: AppView::of(&app),
        warnings: imported
            .warnings
            .iter()
            .map(|w| ImportWarningView {
                path: w.path.clone(),
                kind: w.kind.as_str().to_string(),
                message: w.message.clone(),
            })
            .collect(),
    };
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)))
}

/// `PATCH /app/{id}`: what the app needs from a container sandbox (upstream's application JSON
/// has no place for it, so an import keeps what was set here).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppUpdate {
    /// Linux capabilities its containers keep, without `CAP_` (replaces the list; `[]`: none).
    pub capabilities: Option<Vec<String>>,
    /// Whether its containers' root file system may be read-only.
    pub read_only_root_fs: Option<bool>,
}

/// Changes an app's container settings. Admin only.
#[utoipa::path(patch, path = "/app/{id}", tag = "apps",
    params(("id" = i64, Path, description = "App id")),
    request_body = AppUpdate,
    responses(
        (status = 200, description = "Updated", body = AppView),
        (status = 400, description = "Bad input (an unknown capability)", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Not an admin token", body = ErrorBody),
        (status = 404, description = "No such app", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AppUpdate>,
) -> ApiResult<Json<AppView>> {
    let id: AppId = path_id(&id)?;
    let change = AppChange {
        capabilities: body.capabilities,
        read_only_root_fs: body.read_only_root_fs,
    };
    let app = state
        .usecases()
        .update_app(&caller.as_caller(), id, change)
        .await?;
    Ok(Json(AppView::of(&app)))
}

/// Deletes an app (409 while run templates use it). Admin only.
#[utoipa::path(delete, path = "/app/{id}", tag = "apps",
    params(("id" = i64, Path, description = "App id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Not an admin token", body = ErrorBody),
        (status = 404, description = "No such app", body = ErrorBody),
        (status = 409, description = "Run templates use it", body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: AppId = path_id(&id)?;
    state.usecases().delete_app(&caller.as_caller(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
