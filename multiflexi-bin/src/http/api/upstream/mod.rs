//! The API as upstream MultiFlexi's clients call it (`multiflexi-client` on PyPI, generated from
//! VitexSoftware/multiflexi-api), beside our own routes, which stay as they are: the `.json`
//! suffix paths ([`routes::ROUTES`]; `.xml`, `.yaml`, `.html` are 406), upstream's bodies
//! ([`views`]), `limit`/`offset`/`order` on every list ([`paging`]), and upstream's create and
//! update-by-POST paths ([`writes`]). Authentication is the same token as everywhere, also as
//! HTTP Basic (the token is the password, the user name is ignored).
//!
//! Every handler here is a new caller of the same reads and use cases as our routes, with the
//! same tenant rules: a company token sees its own company only (404 for anything else).

mod paging;
mod reads;
pub mod routes;
mod views;
mod writes;

use super::BASE_PATH;
use super::auth::is_basic;
use super::error::{ApiError, ApiResult};
use crate::http::HttpState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use routes::{Matched, Op};

/// The format suffixes upstream's paths take; only `json` is served (the others are 406).
pub const FORMATS: [&str; 4] = ["json", "xml", "yaml", "html"];

/// Middleware on the API's routes: a request for an upstream path is answered here; any other
/// request goes on to our own routes. `POST /job/` is both ours and upstream's: with HTTP Basic
/// (what upstream's clients send) it is answered in upstream's shape.
pub async fn dispatch(State(state): State<HttpState>, req: Request, next: Next) -> Response {
    let Some(rest) = req.uri().path().strip_prefix(BASE_PATH) else {
        return next.run(req).await;
    };
    // Another method on an upstream path goes to our routes, which answer as they always did
    // (`DELETE /app/1.json` is our `DELETE /app/{id}` with a bad id: 400).
    let Some(matched) = routes::resolve(req.method(), rest) else {
        return next.run(req).await;
    };
    // Upstream's formats only: `/app/0.5` is our `/app/{id}` with a bad id (400), as before.
    let upstream_format = matched
        .suffix
        .as_deref()
        .is_none_or(|s| FORMATS.iter().any(|f| s.eq_ignore_ascii_case(f)));
    if !upstream_format || (matched.route.op == Op::JobCreate && !is_basic(req.headers())) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    handle(state, matched, parts, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn handle(state: HttpState, m: Matched, mut parts: Parts, body: Body) -> ApiResult<Response> {
    if let Some(suffix) = &m.suffix
        && !suffix.eq_ignore_ascii_case("json")
    {
        return Err(ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            format!("the format {suffix:?} is not served here; ask for .json"),
        )
        .with_field("suffix"));
    }
    let p = &mut parts;
    match m.route.op {
        Op::Missing => Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            format!(
                "{} {} is not offered by this server: {}",
                m.route.method, m.route.path, m.route.note
            ),
        )),
        Op::Root => {
            let mut r = StatusCode::MOVED_PERMANENTLY.into_response();
            r.headers_mut().insert(
                header::LOCATION,
                HeaderValue::from_static(concat!(
                    "/api/VitexSoftware/MultiFlexi/1.0.0",
                    "/index.json"
                )),
            );
            Ok(r)
        }
        Op::Index => reads::index(p).await,
        Op::Ping => reads::ping(&state, p).await,
        Op::Status => reads::status(&state, p).await,
        Op::Apps => reads::apps(&state, p).await,
        Op::AppGet => reads::app(&state, p, &m).await,
        Op::Companies => reads::companies(&state, p).await,
        Op::CompanyGet => reads::company(&state, p, &m).await,
        Op::Templates => reads::templates(&state, p).await,
        Op::TemplateGet => reads::template(&state, p, &m).await,
        Op::Credentials => reads::credentials(&state, p).await,
        Op::CredentialGet => reads::credential(&state, p, &m).await,
        Op::Jobs => reads::jobs(&state, p).await,
        Op::JobGet => reads::job(&state, p, &m).await,
        Op::JobsStatus => reads::jobs_status(&state, p).await,
        Op::JobCreate => writes::job(&state, parts, body).await,
        Op::AppSet => writes::app(&state, parts, body).await,
        Op::CompanySet => writes::company(&state, parts, body).await,
        Op::TemplateSet => writes::template(&state, parts, body).await,
        Op::TemplateUpdate => writes::template_update(&state, parts, body, &m).await,
    }
}
