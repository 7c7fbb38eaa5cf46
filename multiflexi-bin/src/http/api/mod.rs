//! The JSON API under [`BASE_PATH`], as upstream MultiFlexi's: bearer-token auth ([`auth`]),
//! JSON errors `{error, detail, field?}` ([`error`]), and the OpenAPI document at
//! `GET {BASE_PATH}/openapi.json` ([`openapi`]).

pub mod apps;
pub mod artifacts;
pub mod audit;
pub mod auth;
pub mod companies;
pub mod credentials;
pub mod env;
pub mod error;
pub mod extract;
mod fallback;
pub mod job_view;
pub mod jobs;
pub mod openapi;
pub mod output;
pub mod retention;
pub mod stats;
pub mod system;
pub mod templates;
pub mod upstream;

use super::HttpState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post};

/// Where the API lives.
pub const BASE_PATH: &str = "/api/VitexSoftware/MultiFlexi/1.0.0";

/// The API's routes (all under [`BASE_PATH`]).
pub fn router(state: HttpState) -> Router {
    let body_limit = state.options.body_limit;
    let p = |rest: &str| format!("{BASE_PATH}{rest}");
    Router::new()
        .route(&p("/ping"), get(system::ping))
        .route(&p("/status"), get(system::status))
        .route(&p("/openapi.json"), get(openapi::openapi_json))
        .route(&p("/apps"), get(apps::list).post(apps::import))
        .route(&p("/app/{id}/stats"), get(stats::app_stats))
        .route(
            &p("/app/{id}"),
            get(apps::get).patch(apps::update).delete(apps::delete),
        )
        .route(
            &p("/companies"),
            get(companies::list).post(companies::create),
        )
        .route(
            &p("/company/{id}"),
            get(companies::get).delete(companies::delete),
        )
        .route(
            &p("/credentials"),
            get(credentials::list).post(credentials::create),
        )
        .route(
            &p("/credential/{id}"),
            get(credentials::get).delete(credentials::delete),
        )
        .route(
            &p("/runtemplates"),
            get(templates::list).post(templates::create),
        )
        .route(&p("/runtemplate/{id}/stats"), get(stats::template_stats))
        .route(
            &p("/runtemplate/{id}"),
            get(templates::get)
                .patch(templates::update)
                .delete(templates::delete),
        )
        .route(&p("/job/"), post(jobs::create))
        .route(&p("/job"), post(jobs::create))
        .route(&p("/jobs"), get(jobs::list))
        .route(&p("/job/{id}"), get(jobs::get))
        .route(&p("/job/{id}/cancel"), post(jobs::cancel))
        .route(&p("/job/{id}/retry"), post(jobs::retry))
        .route(&p("/job/{id}/output"), get(output::output))
        .route(&p("/job/{id}/artifacts"), get(artifacts::list))
        .route(&p("/artifact/{id}"), get(artifacts::get))
        .route(&p("/audit"), get(audit::list))
        .route(
            &p("/retention"),
            get(retention::list)
                .put(retention::set)
                .delete(retention::unset),
        )
        .route(&p("/retention/run"), post(retention::run))
        .route(BASE_PATH, any(fallback::unknown_path))
        .route(&p("/"), any(fallback::unknown_path))
        .route(&p("/{*rest}"), any(fallback::unknown_path))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            upstream::dispatch,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::map_response(fallback::json_errors))
        .with_state(state)
}
