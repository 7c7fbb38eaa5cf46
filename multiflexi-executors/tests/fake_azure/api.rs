//! The fake's HTTP side: the token endpoints and the documented ACI operations of ARM
//! (`api-version` 2023-05-01), answering in their documented JSON shapes.

use super::state::{Fault, Group, Inner, Operation};
use super::{API_VERSION, CLIENT_ID, CLIENT_SECRET, TENANT, TOKEN};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The router: `POST /{tenant}/oauth2/v2.0/token`, `GET /msi/token`, and ARM under
/// `/subscriptions/…`.
pub fn router(inner: Arc<Inner>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/msi/token", get(msi_token))
        .fallback(arm)
        .with_state(inner)
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = json!({"error": {"code": code, "message": message.into()}});
    (status, axum::Json(body)).into_response()
}

fn issue(inner: &Inner) -> Response {
    inner.state.lock().unwrap().tokens_issued += 1;
    axum::Json(json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": TOKEN}))
        .into_response()
}

/// The client-credentials grant of Microsoft Entra ID.
async fn token(
    State(inner): State<Arc<Inner>>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let scope = format!("{}/.default", inner.url);
    if tenant != TENANT
        || field("grant_type") != "client_credentials"
        || field("client_id") != CLIENT_ID
        || field("client_secret") != CLIENT_SECRET
        || field("scope") != scope
    {
        let body = json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."});
        return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    }
    issue(&inner)
}

/// The instance metadata service's token endpoint (`Metadata: true`; `expires_in` a string).
async fn msi_token(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let resource = format!("{}/", inner.url);
    if headers.get("metadata").and_then(|v| v.to_str().ok()) != Some("true")
        || q.get("api-version").map(String::as_str) != Some("2018-02-01")
        || q.get("resource") != Some(&resource)
    {
        let body = json!({"error": "invalid_request", "error_description": "Required metadata header not specified"});
        return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    }
    inner.state.lock().unwrap().tokens_issued += 1;
    axum::Json(json!({"access_token": TOKEN, "expires_in": "3599", "token_type": "Bearer", "resource": resource}))
        .into_response()
}

fn group_json(g: &Group, sub: &str, rg: &str) -> Value {
    let mut containers = g.body["properties"]["containers"].clone();
    if let Some(cs) = containers.as_array_mut() {
        for c in cs {
            // Secure values are never returned.
            if let Some(env) = c["properties"]["environmentVariables"].as_array_mut() {
                for e in env {
                    if let Some(o) = e.as_object_mut() {
                        o.remove("secureValue");
                    }
                }
            }
            let cur = &g.container;
            let mut current = json!({"detailStatus": cur.detail});
            if let Some(s) = cur.state {
                current["state"] = json!(s);
            }
            if let Some(t) = &cur.start_time {
                current["startTime"] = json!(t);
            }
            if let Some(code) = cur.exit_code {
                current["exitCode"] = json!(code);
            }
            if let Some(t) = &cur.finish_time {
                current["finishTime"] = json!(t);
            }
            c["properties"]["instanceView"] =
                json!({"restartCount": 0, "currentState": current, "events": g.events});
        }
    }
    json!({
        "id": format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/{}", g.name),
        "name": g.name,
        "type": "Microsoft.ContainerInstance/containerGroups",
        "location": g.location,
        "tags": g.tags,
        "properties": {
            "provisioningState": g.provisioning,
            "osType": g.body["properties"]["osType"],
            "restartPolicy": g.body["properties"]["restartPolicy"],
            "sku": "Standard",
            "containers": containers,
            "instanceView": {"state": g.group_state, "events": []},
        },
    })
}

/// What is wrong with a PUT body, if anything (the fields ACI requires, the shapes it takes).
fn invalid_body(v: &Value) -> Option<String> {
    let p = &v["properties"];
    if !v["location"].is_string() {
        return Some("location is required".into());
    }
    if p["osType"] != "Linux" && p["osType"] != "Windows" {
        return Some("properties.osType must be Linux or Windows".into());
    }
    if !matches!(
        p["restartPolicy"].as_str(),
        Some("Always" | "OnFailure" | "Never")
    ) {
        return Some("properties.restartPolicy must be Always, OnFailure or Never".into());
    }
    let cs = p["containers"].as_array()?;
    if cs.is_empty() {
        return Some("properties.containers is empty".into());
    }
    for c in cs {
        let cp = &c["properties"];
        if !c["name"].is_string() || !cp["image"].is_string() {
            return Some("a container needs a name and an image".into());
        }
        let req = &cp["resources"]["requests"];
        if !req["cpu"].is_number() || !req["memoryInGB"].is_number() {
            return Some("resources.requests.cpu and memoryInGB are required".into());
        }
        if cp["command"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| !x.is_string()))
        {
            return Some("command must be an array of strings".into());
        }
        for e in cp["environmentVariables"].as_array().into_iter().flatten() {
            let one = e["value"].is_string() ^ e["secureValue"].is_string();
            if !e["name"].is_string() || !one {
                return Some(format!(
                    "environment variable {e}: a name and one of value / secureValue"
                ));
            }
        }
    }
    if let Some(tags) = v["tags"].as_object()
        && tags
            .values()
            .any(|t| t.as_str().is_none_or(|s| s.len() > 256))
    {
        return Some("tag values are strings of at most 256 characters".into());
    }
    None
}

fn operation_response(
    inner: &Inner,
    sub: &str,
    loc: &str,
    status: StatusCode,
    body: Option<Value>,
    location_header: bool,
) -> (Response, String) {
    let id = {
        let mut st = inner.state.lock().unwrap();
        st.next_operation += 1;
        let id = format!("op-{}", st.next_operation);
        st.operations.insert(
            id.clone(),
            Operation {
                status: "InProgress",
                error: None,
            },
        );
        id
    };
    let mut resp = match body {
        Some(b) => (status, axum::Json(b)).into_response(),
        None => status.into_response(),
    };
    let base = format!(
        "{}/subscriptions/{sub}/providers/Microsoft.ContainerInstance/locations/{loc}",
        inner.url
    );
    let (name, url) = if location_header {
        (
            "location",
            format!("{base}/operationResults/{id}?api-version={API_VERSION}"),
        )
    } else {
        (
            "azure-asyncoperation",
            format!("{base}/operations/{id}?api-version={API_VERSION}"),
        )
    };
    resp.headers_mut()
        .insert(name, HeaderValue::from_str(&url).expect("header"));
    (resp, id)
}

/// Every ARM request: the checks every request gets (bearer token, api-version, injected
/// faults, `Retry-After` honoured), then the operation.
async fn arm(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let seen = format!("{method} {path}");
    {
        let mut st = inner.state.lock().unwrap();
        st.requests.push(seen.clone());
        if st.not_before.is_some_and(|t| Instant::now() < t) {
            st.violations
                .push(format!("{seen}: came before the Retry-After of a 429"));
        }
        st.not_before = None;
    }
    let bearer = format!("Bearer {TOKEN}");
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(bearer.as_str()) {
        inner
            .state
            .lock()
            .unwrap()
            .violations
            .push(format!("{seen}: no valid bearer token"));
        return error(
            StatusCode::UNAUTHORIZED,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
        );
    }
    if q.get("api-version").map(String::as_str) != Some(API_VERSION) {
        inner
            .state
            .lock()
            .unwrap()
            .violations
            .push(format!("{seen}: api-version {:?}", q.get("api-version")));
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersionParameter",
            format!("The api-version '{:?}' is invalid.", q.get("api-version")),
        );
    }
    if inner.down.load(Ordering::SeqCst) {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "The service is unavailable.",
        );
    }
    let fault = inner.state.lock().unwrap().faults.pop_front();
    if let Some(fault) = fault {
        let mut st = inner.state.lock().unwrap();
        st.faults_served.push(fault);
        match fault {
            Fault::Throttle(secs) => {
                st.not_before = Some(Instant::now() + Duration::from_secs(secs));
                drop(st);
                let mut r = error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TooManyRequests",
                    "Too many requests. Please retry after some time.",
                );
                r.headers_mut()
                    .insert("retry-after", HeaderValue::from(secs));
                return r;
            }
            Fault::Server(code) => {
                drop(st);
                let status =
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return error(
                    status,
                    "InternalServerError",
                    "Encountered internal server error.",
                );
            }
        }
    }
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method.clone(), parts.as_slice()) {
        (
            m,
            [
                "subscriptions",
                sub,
                "resourceGroups",
                rg,
                "providers",
                "Microsoft.ContainerInstance",
                "containerGroups",
                rest @ ..,
            ],
        ) => container_groups(&inner, m, sub, rg, rest, &q, &body),
        (
            Method::GET,
            [
                "subscriptions",
                _,
                "providers",
                "Microsoft.ContainerInstance",
                "locations",
                _,
                kind @ ("operations" | "operationResults"),
                id,
            ],
        ) => {
            let op = inner.state.lock().unwrap().operations.get(*id).cloned();
            match (op, *kind) {
                (None, _) => error(
                    StatusCode::NOT_FOUND,
                    "OperationNotFound",
                    "no such operation",
                ),
                (Some(op), "operations") => {
                    let mut v = json!({"id": id, "name": id, "status": op.status});
                    if let Some(e) = op.error {
                        v["error"] = e;
                    }
                    axum::Json(v).into_response()
                }
                (Some(op), _) => {
                    if op.status == "InProgress" {
                        StatusCode::ACCEPTED.into_response()
                    } else {
                        StatusCode::OK.into_response()
                    }
                }
            }
        }
        _ => {
            inner.state.lock().unwrap().unimplemented.push(seen);
            error(
                StatusCode::NOT_FOUND,
                "NotImplementedByTheFake",
                "not implemented by the fake",
            )
        }
    }
}

fn container_groups(
    inner: &Arc<Inner>,
    method: Method,
    sub: &str,
    rg: &str,
    rest: &[&str],
    q: &HashMap<String, String>,
    body: &Bytes,
) -> Response {
    match (method, rest) {
        (Method::GET, []) => {
            let st = inner.state.lock().unwrap();
            let value: Vec<Value> = st.groups.values().map(|g| group_json(g, sub, rg)).collect();
            axum::Json(json!({"value": value})).into_response()
        }
        (Method::PUT, [name]) => {
            let Ok(v) = serde_json::from_slice::<Value>(body) else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequestContent",
                    "the body is not JSON",
                );
            };
            if let Some(why) = invalid_body(&v) {
                inner
                    .state
                    .lock()
                    .unwrap()
                    .violations
                    .push(format!("PUT {name}: {why}"));
                return error(StatusCode::BAD_REQUEST, "InvalidRequestContent", why);
            }
            let location = v["location"].as_str().unwrap_or_default().to_owned();
            {
                let mut st = inner.state.lock().unwrap();
                st.created.push(v.clone());
                if st.groups.contains_key(*name) {
                    return error(
                        StatusCode::CONFLICT,
                        "ContainerGroupUpdateNotSupported",
                        "the fake does not update container groups",
                    );
                }
                st.groups.insert(
                    (*name).to_owned(),
                    Group {
                        name: (*name).to_owned(),
                        location: location.clone(),
                        tags: v["tags"].clone(),
                        body: v,
                        provisioning: "Pending",
                        group_state: "Pending",
                        container: Default::default(),
                        events: Vec::new(),
                        runtime: None,
                        deleting: false,
                    },
                );
            }
            let json = {
                let st = inner.state.lock().unwrap();
                group_json(&st.groups[*name], sub, rg)
            };
            let (resp, op) = operation_response(
                inner,
                sub,
                &location,
                StatusCode::CREATED,
                Some(json),
                false,
            );
            tokio::spawn(super::aci::run_group(inner.clone(), (*name).to_owned(), op));
            resp
        }
        (Method::GET, [name]) => {
            let st = inner.state.lock().unwrap();
            match st.groups.get(*name) {
                Some(g) => axum::Json(group_json(g, sub, rg)).into_response(),
                None => error(
                    StatusCode::NOT_FOUND,
                    "ResourceNotFound",
                    format!(
                        "The Resource 'Microsoft.ContainerInstance/containerGroups/{name}' under resource group '{rg}' was not found."
                    ),
                ),
            }
        }
        (Method::DELETE, [name]) => {
            let location = {
                let mut st = inner.state.lock().unwrap();
                match st.groups.get_mut(*name) {
                    None => return StatusCode::NO_CONTENT.into_response(),
                    Some(g) if g.deleting => None,
                    Some(g) => {
                        g.deleting = true;
                        Some(g.location.clone())
                    }
                }
            };
            let location = location.unwrap_or_else(|| "westeurope".into());
            let (resp, op) =
                operation_response(inner, sub, &location, StatusCode::ACCEPTED, None, true);
            tokio::spawn(super::aci::delete_group(
                inner.clone(),
                (*name).to_owned(),
                op,
            ));
            resp
        }
        (Method::GET, [name, "containers", container, "logs"]) => {
            let st = inner.state.lock().unwrap();
            let Some(g) = st.groups.get(*name) else {
                return error(
                    StatusCode::NOT_FOUND,
                    "ResourceNotFound",
                    "container group not found",
                );
            };
            if g.body["properties"]["containers"][0]["name"] != *container {
                return error(
                    StatusCode::NOT_FOUND,
                    "ContainerNotFound",
                    format!("container {container} not found"),
                );
            }
            let log = g
                .runtime
                .as_ref()
                .map(|r| r.log.lock().unwrap().clone())
                .unwrap_or_default();
            // Up to the last 4 MB, as text.
            let window = &log[log.len().saturating_sub(super::LOG_WINDOW)..];
            let mut content = String::from_utf8_lossy(window).into_owned();
            if let Some(n) = q.get("tail").and_then(|t| t.parse::<usize>().ok()) {
                let lines: Vec<&str> = content.split_inclusive('\n').collect();
                content = lines[lines.len().saturating_sub(n)..].concat();
            }
            axum::Json(json!({"content": content})).into_response()
        }
        (m, r) => {
            inner
                .state
                .lock()
                .unwrap()
                .unimplemented
                .push(format!("{m} containerGroups/{}", r.join("/")));
            error(
                StatusCode::NOT_FOUND,
                "NotImplementedByTheFake",
                "not implemented by the fake",
            )
        }
    }
}
