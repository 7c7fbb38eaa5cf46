//! The HTTP side: exactly the endpoints the executor uses (plus pod get/delete, for tests that
//! play an operator), request bodies deserialized into k8s-openapi types, responses shaped like
//! the API server's (objects with resourceVersion, lists, `Status` objects for errors, watch
//! event streams, a followed log).

// The `Err` of the helpers is the HTTP response the handler returns as it is.
#![allow(clippy::result_large_err)]

use super::Inner;
use super::kubelet;
use super::selector::Selector;
use super::state::{Key, now};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{DeleteOptions, LabelSelector, ObjectMeta};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

type Q = Query<HashMap<String, String>>;

pub fn router(inner: Arc<Inner>) -> Router {
    Router::new()
        .route(
            "/api/v1/namespaces/{ns}/secrets",
            get(list_secrets).post(create_secret),
        )
        .route(
            "/api/v1/namespaces/{ns}/secrets/{name}",
            get(get_secret).delete(delete_secret),
        )
        .route(
            "/apis/batch/v1/namespaces/{ns}/jobs",
            get(list_jobs).post(create_job),
        )
        .route(
            "/apis/batch/v1/namespaces/{ns}/jobs/{name}",
            get(get_job).delete(delete_job),
        )
        .route("/api/v1/namespaces/{ns}/pods", get(list_or_watch_pods))
        .route(
            "/api/v1/namespaces/{ns}/pods/{name}",
            get(get_pod).delete(delete_pod),
        )
        .route("/api/v1/namespaces/{ns}/pods/{name}/log", get(pod_log))
        .route("/apis/metrics.k8s.io/v1beta1", get(metrics_api))
        .fallback(unimplemented)
        .layer(axum::middleware::from_fn_with_state(
            inner.clone(),
            down_guard,
        ))
        .with_state(inner)
}

async fn down_guard(
    State(inner): State<Arc<Inner>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if inner.down.load(Ordering::SeqCst) {
        return status(
            503,
            "ServiceUnavailable",
            "the server is currently unable to handle the request".into(),
            json!({}),
        );
    }
    next.run(req).await
}

fn json_response(code: StatusCode, body: &impl serde::Serialize) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(body).expect("serializable"),
    )
        .into_response()
}

/// A `Status` object (`kind: Status`), as the API server answers errors and some deletions.
fn status(code: u16, reason: &str, message: String, details: Value) -> Response {
    let body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": if code < 300 { "Success" } else { "Failure" },
        "message": message,
        "reason": reason,
        "details": details,
        "code": code,
    });
    json_response(
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &body,
    )
}

fn not_found(resource: &str, name: &str) -> Response {
    status(
        404,
        "NotFound",
        format!("{resource} \"{name}\" not found"),
        json!({ "name": name, "kind": resource.split('.').next().unwrap_or(resource) }),
    )
}

fn invalid(kind: &str, name: &str, causes: Vec<String>) -> Response {
    status(
        422,
        "Invalid",
        format!("{kind} \"{name}\" is invalid: [{}]", causes.join(", ")),
        json!({ "name": name, "kind": kind, "causes": causes.iter().map(|c| json!({"message": c})).collect::<Vec<_>>() }),
    )
}

/// The metrics API's discovery document where the options serve it (as metrics-server
/// registers it), else the API server's 404 for a group it does not know.
async fn metrics_api(State(inner): State<Arc<Inner>>) -> Response {
    if !inner.options.metrics_api {
        return status(
            404,
            "NotFound",
            "the server could not find the requested resource".into(),
            json!({}),
        );
    }
    let resource = |name: &str, kind: &str, namespaced: bool| {
        json!({"name": name, "singularName": "", "namespaced": namespaced, "kind": kind,
               "verbs": ["get", "list"]})
    };
    json_response(
        StatusCode::OK,
        &json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": "metrics.k8s.io/v1beta1",
            "resources": [
                resource("nodes", "NodeMetrics", false),
                resource("pods", "PodMetrics", true),
            ],
        }),
    )
}

fn bad_request(message: String) -> Response {
    status(400, "BadRequest", message, json!({}))
}

async fn unimplemented(State(inner): State<Arc<Inner>>, method: Method, uri: Uri) -> Response {
    inner
        .state
        .lock()
        .unwrap()
        .unimplemented
        .push(format!("{method} {uri}"));
    status(
        404,
        "NotFound",
        "the server could not find the requested resource".into(),
        json!({}),
    )
}

// ---- validation ------------------------------------------------------------------------------

fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn label_errors(path: &str, labels: Option<&BTreeMap<String, String>>) -> Vec<String> {
    let mut errs = Vec::new();
    for (k, v) in labels.into_iter().flatten() {
        let name = match k.split_once('/') {
            Some((prefix, name)) => {
                if !is_dns_subdomain(prefix) {
                    errs.push(format!(
                        "{path}: Invalid value: {k:?}: prefix part must be a DNS subdomain"
                    ));
                }
                name
            }
            None => k.as_str(),
        };
        if !is_label_name(name) {
            errs.push(format!("{path}: Invalid value: {k:?}: name part must consist of alphanumeric characters, '-', '_' or '.'"));
        }
        if !(v.is_empty() || is_label_name(v)) {
            errs.push(format!("{path}: Invalid value: {v:?}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"));
        }
    }
    errs
}

/// Checks the metadata of a new object; `Err` is the response.
fn check_meta(meta: &ObjectMeta, ns: &str, kind: &str) -> Result<String, Response> {
    if meta.namespace.as_deref().is_some_and(|n| n != ns) {
        return Err(bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
                .into(),
        ));
    }
    let Some(name) = meta.name.clone().filter(|n| !n.is_empty()) else {
        return Err(invalid(
            kind,
            "",
            vec!["metadata.name: Required value: name or generateName is required".into()],
        ));
    };
    let mut errs = label_errors("metadata.labels", meta.labels.as_ref());
    if !is_dns_subdomain(&name) {
        errs.push(format!("metadata.name: Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'"));
    }
    if errs.is_empty() {
        Ok(name)
    } else {
        Err(invalid(kind, &name, errs))
    }
}

fn job_errors(job: &Job, name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name.len() > 63 {
        errs.push(format!(
            "metadata.name: Invalid value: {name:?}: must be no more than 63 characters"
        ));
    }
    let Some(spec) = &job.spec else {
        errs.push("spec: Required value".into());
        return errs;
    };
    if spec.backoff_limit.is_some_and(|b| b < 0) {
        errs.push("spec.backoffLimit: Invalid value: must be greater than or equal to 0".into());
    }
    if spec.active_deadline_seconds.is_some_and(|d| d <= 0) {
        errs.push("spec.activeDeadlineSeconds: Invalid value: must be greater than 0".into());
    }
    if spec.ttl_seconds_after_finished.is_some_and(|t| t < 0) {
        errs.push(
            "spec.ttlSecondsAfterFinished: Invalid value: must be greater than or equal to 0"
                .into(),
        );
    }
    errs.extend(label_errors(
        "spec.template.metadata.labels",
        spec.template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.as_ref()),
    ));
    let Some(pod) = &spec.template.spec else {
        errs.push("spec.template.spec: Required value".into());
        return errs;
    };
    if !matches!(pod.restart_policy.as_deref(), Some("Never" | "OnFailure")) {
        errs.push("spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"".into());
    }
    if pod.containers.is_empty() {
        errs.push("spec.template.spec.containers: Required value".into());
    }
    let volumes: Vec<&str> = pod
        .volumes
        .iter()
        .flatten()
        .map(|v| v.name.as_str())
        .collect();
    for (i, v) in volumes.iter().enumerate() {
        if volumes[..i].contains(v) {
            errs.push(format!(
                "spec.template.spec.volumes[{i}].name: Duplicate value: {v:?}"
            ));
        }
    }
    if let Some(psc) = &pod.security_context {
        let path = "spec.template.spec.securityContext";
        for (field, id) in [
            ("runAsUser", psc.run_as_user),
            ("runAsGroup", psc.run_as_group),
            ("fsGroup", psc.fs_group),
        ] {
            errs.extend(id_error(path, field, id));
        }
        errs.extend(seccomp_errors(path, psc.seccomp_profile.as_ref()));
    }
    for (i, c) in pod.containers.iter().enumerate() {
        let path = format!("spec.template.spec.containers[{i}]");
        if let Some(sc) = &c.security_context {
            errs.extend(container_security_errors(
                &format!("{path}.securityContext"),
                sc,
            ));
        }
        let mounts: Vec<&str> = c
            .volume_mounts
            .iter()
            .flatten()
            .map(|m| m.mount_path.as_str())
            .collect();
        for (j, m) in mounts.iter().enumerate() {
            if mounts[..j].contains(m) {
                errs.push(format!(
                    "{path}.volumeMounts[{j}].mountPath: Invalid value: {m:?}: must be unique"
                ));
            }
        }
        if !is_dns_label(&c.name) {
            errs.push(format!("{path}.name: Invalid value: {:?}", c.name));
        }
        if c.image.as_deref().is_none_or(|i| i.trim().is_empty()) {
            errs.push(format!("{path}.image: Required value"));
        }
        for (j, m) in c.volume_mounts.iter().flatten().enumerate() {
            if !volumes.contains(&m.name.as_str()) {
                errs.push(format!(
                    "{path}.volumeMounts[{j}].name: Not found: {:?}",
                    m.name
                ));
            }
        }
        for (j, f) in c.env_from.iter().flatten().enumerate() {
            if f.secret_ref.as_ref().is_some_and(|s| s.name.is_empty()) {
                errs.push(format!(
                    "{path}.envFrom[{j}].secretRef.name: Required value"
                ));
            }
        }
        if let Some(policy) = &c.image_pull_policy
            && !matches!(policy.as_str(), "Always" | "IfNotPresent" | "Never")
        {
            errs.push(format!(
                "{path}.imagePullPolicy: Unsupported value: {policy:?}"
            ));
        }
        let quantities = c
            .resources
            .iter()
            .flat_map(|r| r.limits.iter().chain(r.requests.iter()))
            .flatten();
        for (res, q) in quantities {
            if res == "memory" && kubelet::quantity_bytes(&q.0).is_none() {
                errs.push(format!("{path}.resources: Invalid value: {:?}: quantities must match the regular expression", q.0));
            }
        }
    }
    errs
}

/// A uid or gid field: the API server's range check.
fn id_error(path: &str, field: &str, id: Option<i64>) -> Option<String> {
    let id = id?;
    (!(0..=i64::from(i32::MAX)).contains(&id)).then(|| {
        format!("{path}.{field}: Invalid value: {id}: must be between 0 and 2147483647, inclusive")
    })
}

fn seccomp_errors(
    path: &str,
    profile: Option<&k8s_openapi::api::core::v1::SeccompProfile>,
) -> Vec<String> {
    let Some(p) = profile else {
        return Vec::new();
    };
    let mut errs = Vec::new();
    match (p.type_.as_str(), &p.localhost_profile) {
        ("RuntimeDefault" | "Unconfined", None) | ("Localhost", Some(_)) => {}
        ("RuntimeDefault" | "Unconfined", Some(_)) => errs.push(format!(
            "{path}.seccompProfile.localhostProfile: Invalid value: can only be set if type is \
             Localhost"
        )),
        ("Localhost", None) => errs.push(format!(
            "{path}.seccompProfile.localhostProfile: Required value: must be set when seccomp \
             type is Localhost"
        )),
        (other, _) => errs.push(format!(
            "{path}.seccompProfile.type: Unsupported value: {other:?}: supported values: \
             \"Localhost\", \"RuntimeDefault\", \"Unconfined\""
        )),
    }
    errs
}

/// The API server's checks of a container's securityContext (`ValidateSecurityContext`).
fn container_security_errors(
    path: &str,
    sc: &k8s_openapi::api::core::v1::SecurityContext,
) -> Vec<String> {
    let mut errs: Vec<String> = [
        ("runAsUser", sc.run_as_user),
        ("runAsGroup", sc.run_as_group),
    ]
    .into_iter()
    .filter_map(|(field, id)| id_error(path, field, id))
    .collect();
    errs.extend(seccomp_errors(path, sc.seccomp_profile.as_ref()));
    if sc.allow_privilege_escalation == Some(false) {
        if sc.privileged == Some(true) {
            errs.push(format!(
                "{path}: Invalid value: cannot set `allowPrivilegeEscalation` to false and \
                 `privileged` to true"
            ));
        }
        let adds = sc.capabilities.iter().flat_map(|c| c.add.iter().flatten());
        for cap in adds {
            if cap == "CAP_SYS_ADMIN" {
                errs.push(format!(
                    "{path}: Invalid value: cannot set `allowPrivilegeEscalation` to false and \
                     `capabilities.Add` CAP_SYS_ADMIN"
                ));
            }
        }
    }
    errs
}

// ---- secrets ---------------------------------------------------------------------------------

async fn create_secret(
    State(inner): State<Arc<Inner>>,
    Path(ns): Path<String>,
    body: Bytes,
) -> Response {
    let mut secret: Secret = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => {
            return bad_request(format!(
                "the body of the request was in an unknown format: {e}"
            ));
        }
    };
    let name = match check_meta(&secret.metadata, &ns, "Secret") {
        Ok(n) => n,
        Err(r) => return r,
    };
    // stringData is write-only: merged into data.
    let string_data = secret.string_data.take().unwrap_or_default();
    let data = secret.data.get_or_insert_with(BTreeMap::new);
    for (k, v) in string_data {
        data.insert(k, k8s_openapi::ByteString(v.into_bytes()));
    }
    let bad_keys: Vec<String> = data
        .keys()
        .filter(|k| {
            k.is_empty()
                || !k
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        })
        .map(|k| format!("data[{k}]: Invalid value: {k:?}: a valid config key must consist of alphanumeric characters, '-', '_' or '.'"))
        .collect();
    if !bad_keys.is_empty() {
        return invalid("Secret", &name, bad_keys);
    }
    let mut st = inner.state.lock().unwrap();
    st.created_secrets.push(secret.clone());
    let key = (ns.clone(), name.clone());
    if st.secrets.contains_key(&key) {
        return status(
            409,
            "AlreadyExists",
            format!("secrets \"{name}\" already exists"),
            json!({"name": name, "kind": "secrets"}),
        );
    }
    secret.metadata.namespace = Some(ns);
    secret.type_.get_or_insert_with(|| "Opaque".into());
    st.stamp_new(&mut secret.metadata);
    secret.metadata.generation = None;
    st.secrets.insert(key, secret.clone());
    json_response(StatusCode::CREATED, &secret)
}

async fn get_secret(
    State(inner): State<Arc<Inner>>,
    Path((ns, name)): Path<(String, String)>,
) -> Response {
    match inner.state.lock().unwrap().secrets.get(&(ns, name.clone())) {
        Some(s) => json_response(StatusCode::OK, s),
        None => not_found("secrets", &name),
    }
}

async fn delete_secret(
    State(inner): State<Arc<Inner>>,
    Path((ns, name)): Path<(String, String)>,
) -> Response {
    let removed = {
        let mut st = inner.state.lock().unwrap();
        let r = st.secrets.remove(&(ns, name.clone()));
        st.bump();
        r
    };
    match removed {
        Some(s) => status(
            200,
            "",
            String::new(),
            json!({"name": name, "kind": "secrets", "uid": s.metadata.uid}),
        ),
        None => not_found("secrets", &name),
    }
}

fn selector(q: &HashMap<String, String>) -> Result<Selector, Response> {
    Selector::parse(q.get("labelSelector").map_or("", String::as_str)).map_err(bad_request)
}

fn list<T: serde::Serialize>(kind: &str, api_version: &str, rv: u64, items: Vec<T>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "apiVersion": api_version,
            "kind": kind,
            "metadata": { "resourceVersion": rv.to_string() },
            "items": items,
        }),
    )
}

async fn list_secrets(
    State(inner): State<Arc<Inner>>,
    Path(ns): Path<String>,
    Query(q): Q,
) -> Response {
    let sel = match selector(&q) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let st = inner.state.lock().unwrap();
    let items: Vec<&Secret> = st
        .secrets
        .iter()
        .filter(|((n, _), s)| *n == ns && sel.matches(s.metadata.labels.as_ref()))
        .map(|(_, s)| s)
        .collect();
    list("SecretList", "v1", st.rv(), items)
}

// ---- jobs ------------------------------------------------------------------------------------

async fn create_job(
    State(inner): State<Arc<Inner>>,
    Path(ns): Path<String>,
    body: Bytes,
) -> Response {
    let mut job: Job = match serde_json::from_slice(&body) {
        Ok(j) => j,
        Err(e) => {
            return bad_request(format!(
                "the body of the request was in an unknown format: {e}"
            ));
        }
    };
    let name = match check_meta(&job.metadata, &ns, "Job.batch") {
        Ok(n) => n,
        Err(r) => return r,
    };
    let errs = job_errors(&job, &name);
    if !errs.is_empty() {
        return invalid("Job.batch", &name, errs);
    }
    let key: Key = (ns.clone(), name.clone());
    {
        let mut st = inner.state.lock().unwrap();
        st.created_jobs.push(job.clone());
        if st.jobs.contains_key(&key) {
            return status(
                409,
                "AlreadyExists",
                format!("jobs.batch \"{name}\" already exists"),
                json!({"name": name, "group": "batch", "kind": "jobs"}),
            );
        }
        job.metadata.namespace = Some(ns);
        st.stamp_new(&mut job.metadata);
        // Defaulting as the API server does: the controller's labels on the template and the
        // selector.
        let uid = job.metadata.uid.clone().unwrap_or_default();
        let controller_labels = BTreeMap::from([
            ("batch.kubernetes.io/controller-uid".to_owned(), uid.clone()),
            ("batch.kubernetes.io/job-name".to_owned(), name.clone()),
            ("controller-uid".to_owned(), uid.clone()),
            ("job-name".to_owned(), name.clone()),
        ]);
        if let Some(spec) = job.spec.as_mut() {
            let meta = spec
                .template
                .metadata
                .get_or_insert_with(ObjectMeta::default);
            meta.labels
                .get_or_insert_with(BTreeMap::new)
                .extend(controller_labels);
            spec.selector = Some(LabelSelector {
                match_labels: Some(BTreeMap::from([(
                    "batch.kubernetes.io/controller-uid".to_owned(),
                    uid,
                )])),
                ..Default::default()
            });
            spec.completions.get_or_insert(1);
            spec.parallelism.get_or_insert(1);
            spec.backoff_limit.get_or_insert(6);
            spec.suspend.get_or_insert(false);
        }
        job.status = Some(Default::default());
        st.jobs.insert(key.clone(), job.clone());
    }
    tokio::spawn(kubelet::run_job(inner.clone(), key));
    json_response(StatusCode::CREATED, &job)
}

async fn get_job(
    State(inner): State<Arc<Inner>>,
    Path((ns, name)): Path<(String, String)>,
) -> Response {
    match inner.state.lock().unwrap().jobs.get(&(ns, name.clone())) {
        Some(j) => json_response(StatusCode::OK, j),
        None => not_found("jobs.batch", &name),
    }
}

async fn list_jobs(
    State(inner): State<Arc<Inner>>,
    Path(ns): Path<String>,
    Query(q): Q,
) -> Response {
    let sel = match selector(&q) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let st = inner.state.lock().unwrap();
    let items: Vec<&Job> = st
        .jobs
        .iter()
        .filter(|((n, _), j)| *n == ns && sel.matches(j.metadata.labels.as_ref()))
        .map(|(_, j)| j)
        .collect();
    list("JobList", "batch/v1", st.rv(), items)
}

fn delete_options(body: &Bytes) -> Result<DeleteOptions, Response> {
    if body.is_empty() {
        return Ok(DeleteOptions::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        bad_request(format!(
            "the body of the request was in an unknown format: {e}"
        ))
    })
}

async fn delete_job(
    State(inner): State<Arc<Inner>>,
    Path((ns, name)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let opts = match delete_options(&body) {
        Ok(o) => o,
        Err(r) => return r,
    };
    // batch/v1 Jobs orphan their pods unless told otherwise (kubectl asks for Background).
    let policy = match (opts.propagation_policy.as_deref(), opts.orphan_dependents) {
        (Some(p @ ("Foreground" | "Background" | "Orphan")), _) => p.to_owned(),
        (Some(other), _) => {
            return invalid(
                "Job.batch",
                &name,
                vec![format!("propagationPolicy: Unsupported value: {other:?}")],
            );
        }
        (None, Some(false)) => "Background".to_owned(),
        (None, _) => "Orphan".to_owned(),
    };
    let key: Key = (ns, name.clone());
    let mut st = inner.state.lock().unwrap();
    let Some(job) = st.jobs.get(&key).cloned() else {
        return not_found("jobs.batch", &name);
    };
    if job.metadata.deletion_timestamp.is_some() {
        return json_response(StatusCode::OK, &job);
    }
    match policy.as_str() {
        "Foreground" => {
            st.update_job(&key, |j| {
                j.metadata.deletion_timestamp = Some(now());
                j.metadata.deletion_grace_period_seconds = Some(0);
                j.metadata.finalizers = Some(vec!["foregroundDeletion".into()]);
            });
            let job = st.jobs.get(&key).cloned().expect("present");
            drop(st);
            tokio::spawn(kubelet::delete_job_pods(inner.clone(), job.clone(), true));
            json_response(StatusCode::OK, &job)
        }
        _ => {
            st.jobs.remove(&key);
            st.bump();
            let uid = job.metadata.uid.clone().unwrap_or_default();
            if policy == "Orphan" {
                for pk in st.pods_of(&uid) {
                    if let Some(rec) = st.pods.get_mut(&pk) {
                        rec.pod.metadata.owner_references = None;
                    }
                    st.pod_event("MODIFIED", &pk);
                }
                drop(st);
            } else {
                drop(st);
                tokio::spawn(kubelet::delete_job_pods(inner.clone(), job.clone(), false));
            }
            inner.notify();
            status(
                200,
                "",
                String::new(),
                json!({"name": name, "group": "batch", "kind": "jobs", "uid": uid}),
            )
        }
    }
}

// ---- pods ------------------------------------------------------------------------------------

async fn get_pod(
    State(inner): State<Arc<Inner>>,
    Path((ns, name)): Path<(String, String)>,
) -> Response {
    match inner.state.lock().unwrap().pods.get(&(ns, name.clone())) {
        Some(r) => json_response(StatusCode::OK, &r.pod),
        None => not_found("pods", &name),
    }
}

async fn delete_pod(
    State(inner): State<Arc<Inner>>,
    Path((ns, name)): Path<(String, String)>,
) -> Response {
    let key: Key = (ns, name.clone());
    let pod = inner
        .state
        .lock()
        .unwrap()
        .pods
        .get(&key)
        .map(|r| r.pod.clone());
    match pod {
        Some(pod) => {
            tokio::spawn(kubelet::delete_pod(inner.clone(), key));
            json_response(StatusCode::OK, &pod)
        }
        None => not_found("pods", &name),
    }
}

async fn list_or_watch_pods(
    State(inner): State<Arc<Inner>>,
    Path(ns): Path<String>,
    Query(q): Q,
) -> Response {
    let sel = match selector(&q) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if matches!(q.get("watch").map(String::as_str), Some("true" | "1")) {
        return watch_pods(inner, ns, sel, &q);
    }
    let st = inner.state.lock().unwrap();
    let items: Vec<&Pod> = st
        .pods
        .iter()
        .filter(|((n, _), r)| *n == ns && sel.matches(r.pod.metadata.labels.as_ref()))
        .map(|(_, r)| &r.pod)
        .collect();
    list("PodList", "v1", st.rv(), items)
}

fn event_line(kind: &str, pod: &Pod) -> Bytes {
    let mut line = serde_json::to_vec(&json!({ "type": kind, "object": pod })).expect("json");
    line.push(b'\n');
    Bytes::from(line)
}

struct WatchCursor {
    inner: Arc<Inner>,
    ns: String,
    sel: Selector,
    since: u64,
    index: usize,
    pending: VecDeque<Bytes>,
    deadline: tokio::time::Instant,
    rx: tokio::sync::watch::Receiver<u64>,
}

/// A watch: every pod event after `resourceVersion` (or, without one, ADDED for what exists
/// now), one JSON object per line, until `timeoutSeconds`.
fn watch_pods(
    inner: Arc<Inner>,
    ns: String,
    sel: Selector,
    q: &HashMap<String, String>,
) -> Response {
    let since: u64 = q
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1800u64);
    let rx = inner.changed.subscribe();
    let mut pending = VecDeque::new();
    let index = {
        let st = inner.state.lock().unwrap();
        if since == 0 {
            for ((n, _), r) in &st.pods {
                if *n == ns && sel.matches(r.pod.metadata.labels.as_ref()) {
                    pending.push_back(event_line("ADDED", &r.pod));
                }
            }
            st.pod_events.len()
        } else {
            st.pod_events.partition_point(|e| e.rv <= since)
        }
    };
    let cursor = WatchCursor {
        inner,
        ns,
        sel,
        since,
        index,
        pending,
        deadline: tokio::time::Instant::now() + Duration::from_secs(timeout),
        rx,
    };
    let stream = futures::stream::unfold(cursor, |mut c| async move {
        loop {
            if c.inner.down.load(Ordering::SeqCst) {
                return None;
            }
            if let Some(line) = c.pending.pop_front() {
                return Some((Ok::<_, std::io::Error>(line), c));
            }
            c.rx.borrow_and_update();
            {
                let st = c.inner.state.lock().unwrap();
                for e in &st.pod_events[c.index..] {
                    if e.rv > c.since
                        && e.namespace == c.ns
                        && c.sel.matches(e.pod.metadata.labels.as_ref())
                    {
                        c.pending.push_back(event_line(e.kind, &e.pod));
                    }
                }
                c.index = st.pod_events.len();
            }
            if !c.pending.is_empty() {
                continue;
            }
            tokio::select! {
                r = c.rx.changed() => if r.is_err() { return None; },
                _ = tokio::time::sleep_until(c.deadline) => return None,
            }
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .expect("response")
}

/// The container's log (stdout and stderr interleaved, as the kubelet serves it); with
/// `follow=true` the stream stays open until the container ends.
async fn pod_log(
    State(inner): State<Arc<Inner>>,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Q,
) -> Response {
    let follow = matches!(q.get("follow").map(String::as_str), Some("true" | "1"));
    let (runtime, container, state_reason) = {
        let st = inner.state.lock().unwrap();
        let Some(rec) = st.pods.get(&(ns, name.clone())) else {
            return not_found("pods", &name);
        };
        let container = rec
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.containers.first())
            .map(|c| c.name.clone())
            .unwrap_or_default();
        let state = rec
            .pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|c| c.first())
            .and_then(|c| c.state.clone());
        let reason = match &state {
            Some(s) if s.terminated.is_some() => None,
            Some(s) => s
                .waiting
                .as_ref()
                .map(|w| w.reason.clone().unwrap_or_default()),
            None => Some("ContainerCreating".into()),
        };
        (rec.runtime.clone(), container, reason)
    };
    if let Some(c) = q.get("container")
        && *c != container
    {
        return bad_request(format!("container {c} is not valid for pod {name}"));
    }
    let Some(rt) = runtime else {
        return match state_reason {
            // Terminated without ever running (StartError): an empty log.
            None => (StatusCode::OK, "").into_response(),
            Some(reason) => bad_request(format!(
                "container \"{container}\" in pod \"{name}\" is waiting to start: {reason}"
            )),
        };
    };
    let rx = rt.log_changed.subscribe();
    let down = inner.clone();
    let stream = futures::stream::unfold((rt, 0usize, rx), move |(rt, offset, mut rx)| {
        let down = down.clone();
        async move {
            loop {
                if down.down.load(Ordering::SeqCst) {
                    return None;
                }
                rx.borrow_and_update();
                let done = rt.log_done.load(Ordering::SeqCst);
                let chunk = {
                    let log = rt.log.lock().unwrap();
                    (offset < log.len()).then(|| {
                        Bytes::copy_from_slice(&log[offset..log.len().min(offset + 32 * 1024)])
                    })
                };
                if let Some(chunk) = chunk {
                    let next = offset + chunk.len();
                    return Some((Ok::<_, std::io::Error>(chunk), (rt, next, rx)));
                }
                if done || !follow {
                    return None;
                }
                if rx.changed().await.is_err() {
                    return None;
                }
            }
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from_stream(stream))
        .expect("response")
}
