//! The JSON API over real HTTP: every endpoint, its bad-input and auth cases, idempotency,
//! pagination, the live output tail, artifacts byte for byte, and schemathesis against the
//! OpenAPI document.

mod stats;

use crate::server::{self, TestServer};
use futures::StreamExt;
use multiflexi_core::lifecycle::Outcome;
use multiflexi_core::model::ExecutorKind;
use multiflexi_core::store::{
    AccessTokens, Begin, Catalog, ClaimOptions, Completion, Finish, JobQueue, LeaseRef,
    OutputChunk, OutputLog, Stream, TokenScope,
};
use multiflexi_core::{ArtifactSink, JobId};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

const BASE: &str = "/api/VitexSoftware/MultiFlexi/1.0.0";

/// A test server and a client.
struct Api {
    srv: TestServer,
    http: reqwest::Client,
}

/// A response: status, headers, body as JSON (Null when it is not JSON) and as bytes.
struct Res {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
    bytes: Vec<u8>,
}

impl Res {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts a JSON error with `status`, `error` code and (when given) `field`.
    fn assert_error(&self, status: StatusCode, field: Option<&str>) {
        assert_eq!(self.status, status, "body: {}", self.json);
        assert!(
            self.header("content-type").starts_with("application/json"),
            "error without JSON body: {:?}",
            self.headers
        );
        assert!(self.json["error"].is_string(), "{}", self.json);
        assert!(
            !self.json["detail"].as_str().unwrap_or("").is_empty(),
            "{}",
            self.json
        );
        if let Some(f) = field {
            assert_eq!(self.json["field"], json!(f), "{}", self.json);
        }
    }
}

impl Api {
    async fn start() -> Self {
        Self {
            srv: server::start().await,
            http: super::server::http_client().build().unwrap(),
        }
    }

    fn url(&self, rest: &str) -> String {
        format!("{}{BASE}{rest}", self.srv.base)
    }

    async fn send(
        &self,
        method: Method,
        rest: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Res {
        let mut req = self.http.request(method, self.url(rest));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.unwrap().to_vec();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Res {
            status,
            headers,
            json,
            bytes,
        }
    }

    async fn get(&self, rest: &str) -> Res {
        self.send(Method::GET, rest, Some(&self.srv.admin_token), None, &[])
            .await
    }

    async fn get_as(&self, token: &str, rest: &str) -> Res {
        self.send(Method::GET, rest, Some(token), None, &[]).await
    }

    async fn post(&self, rest: &str, body: Value) -> Res {
        self.send(
            Method::POST,
            rest,
            Some(&self.srv.admin_token),
            Some(body),
            &[],
        )
        .await
    }

    async fn post_as(&self, token: &str, rest: &str, body: Value) -> Res {
        self.send(Method::POST, rest, Some(token), Some(body), &[])
            .await
    }

    async fn delete(&self, rest: &str) -> Res {
        self.send(Method::DELETE, rest, Some(&self.srv.admin_token), None, &[])
            .await
    }

    /// Sends raw bytes with a content type.
    async fn raw(&self, method: Method, rest: &str, content_type: &str, body: Vec<u8>) -> Res {
        let r = self
            .http
            .request(method, self.url(rest))
            .bearer_auth(&self.srv.admin_token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.unwrap().to_vec();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Res {
            status,
            headers,
            json,
            bytes,
        }
    }

    /// Imports a small app running /bin/echo; returns its id.
    async fn app(&self, name: &str) -> i64 {
        let r = self
            .post(
                "/apps",
                json!({
                    "name": name,
                    "executable": "/bin/echo",
                    "cmdparams": "{GREETING}",
                    "environment": {
                        "GREETING": {"type": "string", "defval": "hello"},
                        "API_PASSWORD": {"type": "password", "defval": "app-default-secret"}
                    },
                    "exitCodes": {"3": {"description": "bank API rate limit", "retry": true}}
                }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
        r.json["app"]["id"].as_i64().unwrap()
    }

    async fn company(&self, name: &str) -> i64 {
        let r = self.post("/companies", json!({ "name": name })).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
        r.json["id"].as_i64().unwrap()
    }

    async fn template(&self, app: i64, company: i64, name: &str) -> i64 {
        let r = self
            .post(
                "/runtemplates",
                json!({ "name": name, "app_id": app, "company_id": company }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
        r.json["id"].as_i64().unwrap()
    }

    async fn job(&self, template: i64) -> i64 {
        let r = self
            .post("/job/", json!({ "runtemplate_id": template }))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
        r.json["id"].as_i64().unwrap()
    }

    /// App, company and template; returns (app, company, template).
    async fn fixture(&self, company: &str) -> (i64, i64, i64) {
        let app = self.app(&format!("echo for {company}")).await;
        let c = self.company(company).await;
        let t = self.template(app, c, &format!("{company} nightly")).await;
        (app, c, t)
    }

    async fn company_token(&self, company: i64, name: &str) -> String {
        self.srv
            .store
            .create_token(
                name,
                TokenScope::Company(multiflexi_core::CompanyId(company)),
            )
            .await
            .unwrap()
            .secret
    }

    /// Claims every due job as `exec-1` and starts it; returns the leases.
    async fn run_due(&self) -> Vec<LeaseRef> {
        let store = &self.srv.store;
        let claimed = store
            .claim(&ClaimOptions::new(
                "exec-1",
                vec![ExecutorKind::Native],
                100,
            ))
            .await
            .unwrap();
        let starts: Vec<Begin> = claimed
            .iter()
            .map(|j| Begin::new(LeaseRef::of(j), Some(4242), None))
            .collect();
        for r in store.begin_many(&starts).await.unwrap() {
            r.unwrap();
        }
        claimed.iter().map(LeaseRef::of).collect()
    }

    /// Completes and preserves a running job with this output.
    async fn finish(&self, lease: LeaseRef, outcome: Outcome, code: i32, stdout: &[u8]) {
        let store = &self.srv.store;
        let f = Finish::new(
            Completion::new(lease, outcome, code),
            stdout.to_vec(),
            b"warn\n".to_vec(),
        );
        let done = store
            .finish_many(&[f], &*store.clone() as &dyn ArtifactSink)
            .await
            .unwrap();
        for r in done {
            r.unwrap().preserved.unwrap();
        }
    }
}

fn chunk(job: i64, seq: u64, stream: Stream, bytes: &[u8]) -> OutputChunk {
    OutputChunk {
        job_id: JobId(job),
        seq,
        stream,
        bytes: bytes.to_vec(),
    }
}

#[tokio::test]
async fn ping_status_and_openapi() {
    let api = Api::start().await;
    let r = api.send(Method::GET, "/ping", None, None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["ping"], "pong");

    let r = api.send(Method::GET, "/status", None, None, &[]).await;
    r.assert_error(StatusCode::UNAUTHORIZED, Some("Authorization"));

    let (_, _, t) = api.fixture("Acme").await;
    api.job(t).await;
    api.job(t).await;
    let r = api.get("/status").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["database"], "sqlite");
    assert_eq!(r.json["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(r.json["queue_depth"], 2, "{}", r.json);
    assert_eq!(r.json["executors"], json!([]));
    let leases = api.run_due().await;
    assert_eq!(leases.len(), 2);
    let r = api.get("/status").await;
    assert_eq!(r.json["queue_depth"], 0, "{}", r.json);
    assert_eq!(r.json["queue"]["running"], 2, "{}", r.json);
    let ex = r.json["executors"].as_array().unwrap();
    assert_eq!(ex.len(), 1, "{}", r.json);
    assert_eq!(ex[0]["id"], "exec-1");
    assert_eq!(ex[0]["active_jobs"], 2);

    let r = api
        .send(Method::GET, "/openapi.json", None, None, &[])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = &r.json;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    for path in [
        "/ping",
        "/status",
        "/apps",
        "/app/{id}",
        "/companies",
        "/company/{id}",
        "/credentials",
        "/credential/{id}",
        "/runtemplates",
        "/runtemplate/{id}",
        "/job/",
        "/jobs",
        "/job/{id}",
        "/job/{id}/cancel",
        "/job/{id}/retry",
        "/job/{id}/output",
        "/job/{id}/artifacts",
        "/artifact/{id}",
        "/audit",
        "/openapi.json",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the document"
        );
    }
    assert_eq!(doc["servers"][0]["url"], BASE);
}

#[tokio::test]
async fn auth_missing_bad_revoked_and_company_scope() {
    let api = Api::start().await;
    let (_, acme, acme_t) = api.fixture("Acme").await;
    let (_, beta, beta_t) = api.fixture("Beta").await;
    let acme_job = api.job(acme_t).await;
    let beta_job = api.job(beta_t).await;

    // Missing, malformed, unknown and revoked tokens: 401 with WWW-Authenticate.
    let r = api.send(Method::GET, "/jobs", None, None, &[]).await;
    r.assert_error(StatusCode::UNAUTHORIZED, Some("Authorization"));
    assert!(r.header("www-authenticate").starts_with("Bearer"));
    for auth in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer mfx_nope", "mfx_x"] {
        let r = api
            .send(Method::GET, "/jobs", None, None, &[("authorization", auth)])
            .await;
        r.assert_error(StatusCode::UNAUTHORIZED, Some("Authorization"));
    }
    let gone = api
        .srv
        .store
        .create_token("gone", TokenScope::Admin)
        .await
        .unwrap();
    api.srv.store.revoke_token(gone.token.id).await.unwrap();
    api.get_as(&gone.secret, "/jobs")
        .await
        .assert_error(StatusCode::UNAUTHORIZED, None);

    // A company token sees its own company only.
    let tok = api.company_token(acme, "acme-ci").await;
    let r = api.get_as(&tok, "/companies").await;
    let ids: Vec<i64> = r
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [acme]);
    assert_eq!(
        api.get_as(&tok, &format!("/company/{acme}")).await.status,
        StatusCode::OK
    );
    for path in [
        format!("/company/{beta}"),
        format!("/runtemplate/{beta_t}"),
        format!("/job/{beta_job}"),
        format!("/job/{beta_job}/artifacts"),
        format!("/job/{beta_job}/output"),
    ] {
        let r = api.get_as(&tok, &path).await;
        r.assert_error(StatusCode::NOT_FOUND, None);
        assert!(!r.json["detail"].as_str().unwrap().contains("Beta"));
    }
    // Same answer as an id that does not exist at all.
    let missing = api.get_as(&tok, "/job/999999").await;
    let other = api.get_as(&tok, &format!("/job/{beta_job}")).await;
    assert_eq!(
        missing.json["detail"]
            .as_str()
            .unwrap()
            .replace("999999", "N"),
        other.json["detail"]
            .as_str()
            .unwrap()
            .replace(&beta_job.to_string(), "N")
    );
    for path in [
        format!("/job/{beta_job}/cancel"),
        format!("/job/{beta_job}/retry"),
    ] {
        api.post_as(&tok, &path, json!({}))
            .await
            .assert_error(StatusCode::NOT_FOUND, None);
    }
    api.post_as(&tok, "/job/", json!({ "runtemplate_id": beta_t }))
        .await
        .assert_error(StatusCode::NOT_FOUND, None);
    // Lists are filtered, even when asked for another company.
    let r = api.get_as(&tok, "/jobs").await;
    let ids: Vec<i64> = r.json["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [acme_job]);
    let r = api.get_as(&tok, &format!("/jobs?company_id={beta}")).await;
    assert_eq!(r.json["jobs"], json!([]));
    let r = api.get_as(&tok, "/runtemplates").await;
    assert_eq!(r.json.as_array().unwrap().len(), 1);
    assert_eq!(r.json[0]["id"], acme_t);
    // Its own company's things work.
    let r = api
        .post_as(&tok, "/job/", json!({ "runtemplate_id": acme_t }))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(r.json["launched_by"], "acme-ci");
    // Admin-only actions: 403.
    api.post_as(
        &tok,
        "/apps",
        json!({"name": "x", "executable": "/bin/true"}),
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, None);
    api.post_as(&tok, "/companies", json!({"name": "Gamma"}))
        .await
        .assert_error(StatusCode::FORBIDDEN, None);
    api.get_as(&tok, "/audit")
        .await
        .assert_error(StatusCode::FORBIDDEN, None);
    api.send(
        Method::DELETE,
        &format!("/company/{acme}"),
        Some(&tok),
        None,
        &[],
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, None);
    // Nothing was created by the refused requests.
    assert_eq!(
        api.get("/companies").await.json.as_array().unwrap().len(),
        2
    );
}

#[tokio::test]
async fn apps_import_get_list_delete() {
    let api = Api::start().await;
    // A legacy file: `topics`, type `int`, `required` as text: imported with warnings.
    let legacy = json!({
        "name": "Benchmark",
        "description": "Server benchmark",
        "executable": "benchmark",
        "cmdparams": "-c {CYCLES}",
        "topics": "Server, Benchmark",
        "environment": {
            "CYCLES": {"type": "int", "defval": "10", "required": "True"},
            "TOKEN": {"type": "password", "defval": "s3cr3t-default"}
        }
    });
    let r = api.post("/apps", legacy.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(r.json["action"], "created");
    let warnings = r.json["warnings"].as_array().unwrap();
    assert!(warnings.len() >= 3, "{}", r.json);
    assert!(
        warnings
            .iter()
            .all(|w| w["path"].is_string() && w["message"].is_string())
    );
    let id = r.json["app"]["id"].as_i64().unwrap();
    assert_eq!(r.json["app"]["tags"], json!(["Server", "Benchmark"]));
    assert!(!String::from_utf8_lossy(&r.bytes).contains("s3cr3t-default"));

    // The same file again updates it in place.
    let r = api.post("/apps", legacy).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["action"], "updated");
    assert_eq!(r.json["app"]["id"], id);

    let r = api.get(&format!("/app/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["name"], "Benchmark");
    let token = r.json["environment"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "TOKEN")
        .unwrap()
        .clone();
    assert_eq!(token["default"], "***");
    assert_eq!(
        r.json["definition"]["environment"]["TOKEN"]["defval"],
        "***"
    );
    assert!(!String::from_utf8_lossy(&r.bytes).contains("s3cr3t-default"));
    assert_eq!(api.get("/apps").await.json.as_array().unwrap().len(), 1);

    // Not an app: 400 naming the path; not JSON: 400; not an object: 400.
    api.post("/apps", json!({"name": "no exe"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, Some("/executable"));
    api.raw(
        Method::POST,
        "/apps",
        "application/json",
        b"{\"name\": ".to_vec(),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, None);
    api.post("/apps", json!([1, 2]))
        .await
        .assert_error(StatusCode::BAD_REQUEST, None);
    assert_eq!(api.get("/apps").await.json.as_array().unwrap().len(), 1);

    // In use: 409; then deleted: 204 and gone.
    let c = api.company("Acme").await;
    let t = api.template(id, c, "bench").await;
    api.delete(&format!("/app/{id}"))
        .await
        .assert_error(StatusCode::CONFLICT, None);
    assert_eq!(
        api.delete(&format!("/runtemplate/{t}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.delete(&format!("/app/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    api.get(&format!("/app/{id}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, None);
    api.get("/app/abc")
        .await
        .assert_error(StatusCode::BAD_REQUEST, Some("id"));
}

#[tokio::test]
async fn companies_and_credentials() {
    let api = Api::start().await;
    let r = api
        .post(
            "/companies",
            json!({
                "name": "Acme s.r.o.",
                "email": "ops@acme.example",
                "environment": {"REGION": "eu", "BANK_PIN": {"value": "company-pin-1234", "secret": true}}
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let id = r.json["id"].as_i64().unwrap();
    assert_eq!(r.header("location"), format!("{BASE}/company/{id}"));
    assert_eq!(r.json["slug"], "acme-s-r-o");
    assert_eq!(
        r.json["environment"]["REGION"],
        json!({"value": "eu", "secret": false})
    );
    assert_eq!(
        r.json["environment"]["BANK_PIN"],
        json!({"value": "***", "secret": true})
    );
    assert!(!String::from_utf8_lossy(&r.bytes).contains("company-pin-1234"));
    let r = api.get(&format!("/company/{id}")).await;
    assert_eq!(r.json["name"], "Acme s.r.o.");
    assert!(!String::from_utf8_lossy(&r.bytes).contains("company-pin-1234"));

    // Bad input, each naming its field; nothing is written.
    api.post("/companies", json!({"name": "Acme s.r.o."}))
        .await
        .assert_error(StatusCode::CONFLICT, None);
    api.post("/companies", json!({"name": "X", "nmae": "typo"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, Some("nmae"));
    api.post("/companies", json!({"name": 5}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, Some("name"));
    api.post("/companies", json!({"email": "a@b.c"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, Some("name"));
    api.post("/companies", json!({"name": "   "}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, Some("name"));
    api.post("/companies", json!({"name": "Y", "slug": "Not A Slug"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, Some("slug"));
    api.post(
        "/companies",
        json!({"name": "Y", "environment": {"1BAD": "x"}}),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, Some("environment.1BAD"));
    api.post("/companies", json!({"name": "Y", "enabled": "yes"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, Some("enabled"));
    assert_eq!(
        api.get("/companies").await.json.as_array().unwrap().len(),
        1
    );

    // Credentials: secret values never come back.
    let r = api
        .post(
            "/credentials",
            json!({
                "company_id": id, "name": "bank", "type": "RaiffeisenBank",
                "fields": [
                    {"name": "BANK_USER", "value": "acme"},
                    {"name": "BANK_PASSWORD", "value": "hunter2-secret", "secret": true}
                ]
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let cred = r.json["id"].as_i64().unwrap();
    assert_eq!(
        r.json["fields"][1],
        json!({"name": "BANK_PASSWORD", "value": "***", "secret": true})
    );
    for path in [
        "/credentials".to_string(),
        format!("/credential/{cred}"),
        format!("/credentials?company_id={id}"),
    ] {
        let r = api.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        let text = String::from_utf8_lossy(&r.bytes);
        assert!(
            text.contains("BANK_PASSWORD") && !text.contains("hunter2-secret"),
            "{path}: {text}"
        );
    }
    api.post(
        "/credentials",
        json!({"company_id": 4040, "name": "x", "type": "y"}),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, None);
    api.post(
        "/credentials",
        json!({"company_id": id, "name": "x", "type": "y", "fields": [{"name": "A"}]}),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, Some("fields[0].value"));
    api.get("/credentials?company=1")
        .await
        .assert_error(StatusCode::BAD_REQUEST, Some("company"));
    // A company token cannot see another company's credential.
    let other = api.company("Other").await;
    let tok = api.company_token(other, "other-token").await;
    api.get_as(&tok, &format!("/credential/{cred}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, None);
    assert_eq!(api.get_as(&tok, "/credentials").await.json, json!([]));
    // In use by nothing: deletes; the company then deletes too.
    api.delete(&format!("/company/{id}"))
        .await
        .assert_error(StatusCode::CONFLICT, None);
    assert_eq!(
        api.delete(&format!("/credential/{cred}")).await.status,
        StatusCode::NO_CONTENT
    );
    api.get(&format!("/credential/{cred}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, None);
    assert_eq!(
        api.delete(&format!("/company/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    api.get(&format!("/company/{id}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, None);

    // The audit log names the token, never a secret.
    let r = api.get("/audit?limit=1000").await;
    assert_eq!(r.status, StatusCode::OK);
    let rows = r.json.as_array().unwrap();
    for action in [
        "company:create",
        "credential:create",
        "credential:delete",
        "company:delete",
    ] {
        let row = rows
            .iter()
            .find(|a| a["action"] == action)
            .unwrap_or_else(|| panic!("{action} not audited: {}", r.json));
        assert_eq!(row["actor"], "test-admin");
    }
    let text = String::from_utf8_lossy(&r.bytes);
    assert!(!text.contains("hunter2-secret") && !text.contains("company-pin-1234"));
    api.get("/audit?limit=0")
        .await
        .assert_error(StatusCode::BAD_REQUEST, Some("limit"));
}

#[tokio::test]
async fn runtemplates_create_update_slots_delete() {
    let api = Api::start().await;
    let app = api.app("echo").await;
    let c = api.company("Acme").await;
    let r = api
        .post(
            "/runtemplates",
            json!({
                "name": "nightly", "app_id": app, "company_id": c,
                "cron": "30 2 * * *", "timezone": "Europe/Prague",
                "config": {"GREETING": "ahoj", "API_PASSWORD": "tmpl-secret-777"},
                "max_retries": 2, "retry_backoff": "exponential", "retry_on_exit_codes": [3]
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let id = r.json["id"].as_i64().unwrap();
    assert_eq!(r.header("location"), format!("{BASE}/runtemplate/{id}"));
    assert_eq!(r.json["interv"], "c");
    assert_eq!(r.json["timezone"], "Europe/Prague");
    // API_PASSWORD is a password field of the app: stored as a secret, shown redacted.
    assert_eq!(
        r.json["config"]["API_PASSWORD"],
        json!({"value": "***", "secret": true})
    );
    assert_eq!(
        r.json["config"]["GREETING"],
        json!({"value": "ahoj", "secret": false})
    );
    assert!(!String::from_utf8_lossy(&r.bytes).contains("tmpl-secret-777"));
    let slots = r.json["next_slots"].as_array().unwrap();
    assert_eq!(slots.len(), 5, "{}", r.json);
    for s in slots {
        let s = s.as_str().unwrap();
        let t = chrono::DateTime::parse_from_rfc3339(s).unwrap();
        assert_eq!(t.format("%H:%M").to_string(), "02:30", "{s}");
        assert!(s.ends_with("+01:00") || s.ends_with("+02:00"), "{s}");
    }

    // Update: only the fields given; `***` keeps the stored secret; null removes.
    let r = api
        .send(
            Method::PATCH,
            &format!("/runtemplate/{id}"),
            Some(&api.srv.admin_token),
            Some(json!({"active": false, "interv": "h", "config": {"API_PASSWORD": "***", "GREETING": null}})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["active"], false);
    assert_eq!(r.json["interv"], "h");
    assert_eq!(r.json["cron"], Value::Null);
    assert_eq!(r.json["name"], "nightly");
    assert_eq!(
        r.json["config"],
        json!({"API_PASSWORD": {"value": "***", "secret": true}})
    );
    assert_eq!(r.json["next_slots"].as_array().unwrap().len(), 5);
    // The secret survived the `***` round trip: a job gets the real value (redacted in the view).
    let tmpl = api
        .srv
        .store
        .get_runtemplate(multiflexi_core::RunTemplateId(id))
        .await
        .unwrap();
    assert_eq!(tmpl.config.get("API_PASSWORD"), Some("tmpl-secret-777"));

    // Inactive: POST /job/ is 409; unknown: 404.
    api.post("/job/", json!({"runtemplate_id": id}))
        .await
        .assert_error(StatusCode::CONFLICT, None);
    api.post("/job/", json!({"runtemplate_id": 987654}))
        .await
        .assert_error(StatusCode::NOT_FOUND, None);

    // Bad input names the field and writes nothing.
    let base = json!({"name": "t2", "app_id": app, "company_id": c});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    for (body, field) in [
        (with("cron", json!("61 * * * *")), "cron"),
        (with("timezone", json!("Mars/Olympus")), "timezone"),
        (with("interv", json!("q")), "interv"),
        (with("executor", json!("Docker")), "ociimage"),
        (with("delay", json!(-1)), "delay"),
        (with("credentials", json!([4242])), "credentials"),
        (with("catchup", json!("sometimes")), "catchup"),
        (with("bogus", json!(1)), "bogus"),
        (with("config", json!({"A": 1})), "config.A"),
    ] {
        let r = api.post("/runtemplates", body.clone()).await;
        r.assert_error(StatusCode::BAD_REQUEST, Some(field));
    }
    api.post("/runtemplates", with("app_id", json!(999)))
        .await
        .assert_error(StatusCode::NOT_FOUND, None);
    assert_eq!(
        api.get("/runtemplates")
            .await
            .json
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = api
        .send(
            Method::PATCH,
            &format!("/runtemplate/{id}"),
            Some(&api.srv.admin_token),
            Some(json!({"timezone": "Nowhere/Here"})),
            &[],
        )
        .await;
    r.assert_error(StatusCode::BAD_REQUEST, Some("timezone"));
    assert_eq!(
        api.get(&format!("/runtemplate/{id}")).await.json["timezone"],
        "Europe/Prague"
    );

    // List filters; delete.
    assert_eq!(
        api.get("/runtemplates?active=false")
            .await
            .json
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(api.get("/runtemplates?active=true").await.json, json!([]));
    api.get("/runtemplates?active=maybe")
        .await
        .assert_error(StatusCode::BAD_REQUEST, Some("active"));
    assert_eq!(
        api.delete(&format!("/runtemplate/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    api.get(&format!("/runtemplate/{id}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, None);
}

#[tokio::test]
async fn job_create_idempotency_get_cancel_retry() {
    let api = Api::start().await;
    let (_, _, t) = api.fixture("Acme").await;
    let (_, _, t2) = api.fixture("Beta").await;
    let later = "2031-01-02T03:04:05Z";
    let r = api
        .post(
            "/job/",
            json!({"runtemplate_id": t, "scheduled": later, "executor": "native",
                   "env": {"GREETING": "hi", "ONE_OFF": {"value": "oneoff-secret-42", "secret": true}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let id = r.json["id"].as_i64().unwrap();
    assert_eq!(r.header("location"), format!("{BASE}/job/{id}"));
    assert_eq!(r.json["trigger"], "api");
    assert_eq!(r.json["launched_by"], "test-admin");
    assert_eq!(r.json["after"], "2031-01-02T03:04:05Z");
    assert_eq!(
        r.json["env"]["ONE_OFF"],
        json!({"value": "***", "secret": true})
    );
    assert_eq!(r.json["env"]["GREETING"]["value"], "hi");
    assert_eq!(r.json["env"]["API_PASSWORD"]["value"], "***");
    assert!(!String::from_utf8_lossy(&r.bytes).contains("oneoff-secret-42"));
    assert!(!String::from_utf8_lossy(&r.bytes).contains("app-default-secret"));
    let got = api.get(r.header("location").trim_start_matches(BASE)).await;
    assert_eq!(got.json["id"], id);
    let phases: Vec<&str> = got.json["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["created", "scheduled"]);

    // Idempotency-Key: the retry returns the first job, once.
    let key = [("idempotency-key", "order-17")];
    let send = |tmpl: i64| {
        api.send(
            Method::POST,
            "/job/",
            Some(&api.srv.admin_token),
            Some(json!({"runtemplate_id": tmpl})),
            &key,
        )
    };
    let first = send(t).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.json);
    let again = send(t).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.json);
    assert_eq!(again.json["id"], first.json["id"]);
    assert_eq!(again.header("idempotent-replayed"), "true");
    assert_eq!(again.header("location"), first.header("location"));
    send(t2)
        .await
        .assert_error(StatusCode::CONFLICT, Some("Idempotency-Key"));
    let r = api.get(&format!("/jobs?runtemplate_id={t}")).await;
    assert_eq!(r.json["jobs"].as_array().unwrap().len(), 2);
    // Keys belong to their token: another token's same key makes its own job.
    let other = api
        .srv
        .store
        .create_token("second-admin", TokenScope::Admin)
        .await
        .unwrap()
        .secret;
    let theirs = api
        .send(
            Method::POST,
            "/job/",
            Some(&other),
            Some(json!({"runtemplate_id": t2})),
            &key,
        )
        .await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.json);
    assert_ne!(theirs.json["id"], first.json["id"]);

    // A caller's traceparent: the job continues the caller's trace.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traced = api
        .send(
            Method::POST,
            "/job/",
            Some(&api.srv.admin_token),
            Some(json!({"runtemplate_id": t})),
            &[("traceparent", &format!("00-{trace_id}-00f067aa0ba902b7-01"))],
        )
        .await;
    assert_eq!(traced.status, StatusCode::CREATED, "{}", traced.json);
    let job = api
        .srv
        .store
        .get_job(JobId(traced.json["id"].as_i64().unwrap()))
        .await
        .unwrap();
    let ctx = job.trace_context.unwrap();
    assert!(ctx.starts_with(&format!("00-{trace_id}-")), "{ctx}");
    assert!(!ctx.contains("00f067aa0ba902b7"), "a child span: {ctx}");
    // An invalid one is ignored (a fresh trace).
    let fresh = api
        .send(
            Method::POST,
            "/job/",
            Some(&api.srv.admin_token),
            Some(json!({"runtemplate_id": t})),
            &[("traceparent", "garbage")],
        )
        .await;
    assert_eq!(fresh.status, StatusCode::CREATED, "{}", fresh.json);
    api.send(
        Method::POST,
        "/job/",
        Some(&api.srv.admin_token),
        Some(json!({"runtemplate_id": t})),
        &[("idempotency-key", " ")],
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, Some("Idempotency-Key"));

    // Bad bodies.
    for (body, field) in [
        (json!({}), "runtemplate_id"),
        (json!({"runtemplate_id": "one"}), "runtemplate_id"),
        (
            json!({"runtemplate_id": t, "scheduled": "tomorrow"}),
            "scheduled",
        ),
        (
            json!({"runtemplate_id": t, "executor": "Mainframe"}),
            "executor",
        ),
        (json!({"runtemplate_id": t, "env": {"A=B": "x"}}), "env.A=B"),
        (json!({"runtemplate_id": t, "priority": 1}), "priority"),
    ] {
        api.post("/job/", body)
            .await
            .assert_error(StatusCode::BAD_REQUEST, Some(field));
    }

    // Cancel a scheduled job: cancelled at once; again: already finished.
    let r = api.post(&format!("/job/{id}/cancel"), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["result"], "cancelled");
    assert_eq!(r.json["job"]["status"], "cancelled");
    let r = api.post(&format!("/job/{id}/cancel"), json!({})).await;
    assert_eq!(r.json["result"], "already_finished");

    // Retry: only finished jobs; the copy keeps the frozen env and points back.
    let r = api.post(&format!("/job/{id}/retry"), json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let copy = r.json["id"].as_i64().unwrap();
    assert_eq!(r.json["retry_of"], id);
    assert_eq!(r.json["trigger"], "manual");
    assert_eq!(r.json["env"]["ONE_OFF"]["secret"], true);
    api.post(&format!("/job/{copy}/retry"), json!({}))
        .await
        .assert_error(StatusCode::CONFLICT, None);
    let audit = api.get(&format!("/audit?job_id={copy}")).await;
    assert!(
        audit
            .json
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "job:retry" && a["actor"] == "test-admin"),
        "{}",
        audit.json
    );
    api.post("/job/77777/cancel", json!({}))
        .await
        .assert_error(StatusCode::NOT_FOUND, None);
    api.get("/job/x1")
        .await
        .assert_error(StatusCode::BAD_REQUEST, Some("id"));
}

#[tokio::test]
async fn job_list_filters_and_cursor_pagination() {
    let api = Api::start().await;
    let (_, c, t) = api.fixture("Acme").await;
    let (_, _, t2) = api.fixture("Beta").await;
    let mut made = Vec::new();
    for _ in 0..5 {
        made.push(api.job(t).await);
    }
    let other = api.job(t2).await;
    // Pages of 2, newest first, following `next` to the end.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = match &cursor {
            Some(c) => format!("/jobs?runtemplate_id={t}&limit=2&cursor={c}"),
            None => format!("/jobs?runtemplate_id={t}&limit=2"),
        };
        let r = api.get(&q).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        pages += 1;
        seen.extend(
            r.json["jobs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|j| j["id"].as_i64().unwrap()),
        );
        match r.json["next"].as_str() {
            Some(n) => cursor = Some(n.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    made.reverse();
    assert_eq!(seen, made);
    // Filters.
    let all = api.get("/jobs").await;
    assert_eq!(all.json["jobs"].as_array().unwrap().len(), 6);
    assert_eq!(all.json["next"], Value::Null);
    let r = api.get(&format!("/jobs?company_id={c}")).await;
    assert!(
        !r.json["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["id"] == other)
    );
    assert_eq!(r.json["jobs"].as_array().unwrap().len(), 5);
    api.post(&format!("/job/{}/cancel", made[0]), json!({}))
        .await;
    let r = api.get("/jobs?status=cancelled").await;
    assert_eq!(r.json["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(r.json["jobs"][0]["id"], made[0]);
    assert_eq!(
        api.get("/jobs?status=scheduled").await.json["jobs"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        api.get("/jobs?since=2100-01-01T00:00:00Z").await.json["jobs"],
        json!([])
    );
    assert_eq!(
        api.get("/jobs?since=2000-01-01T00:00:00Z").await.json["jobs"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    for (q, field) in [
        ("status=sleeping", "status"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("since=yesterday", "since"),
        ("cursor=abc", "cursor"),
        ("company_id=1&company_id=2", "company_id"),
        ("colour=red", "colour"),
    ] {
        api.get(&format!("/jobs?{q}"))
            .await
            .assert_error(StatusCode::BAD_REQUEST, Some(field));
    }
}

/// Reads SSE events (name, data) from a response until `until` says stop.
async fn read_events<B: AsRef<[u8]>>(
    stream: &mut (impl futures::Stream<Item = reqwest::Result<B>> + Unpin),
    buf: &mut String,
    until: impl Fn(&str, &Value) -> bool,
) -> Vec<(String, Value)> {
    let mut events = Vec::new();
    loop {
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut name = String::from("message");
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.strip_prefix(' ').unwrap_or(v));
                }
            }
            if data.is_empty() {
                continue; // keep-alive comment
            }
            let value: Value = serde_json::from_str(&data).unwrap_or(Value::String(data));
            let stop = until(&name, &value);
            events.push((name, value));
            if stop {
                return events;
            }
        }
        let next = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .expect("no SSE event within 20 s")
            .expect("the event stream ended early")
            .unwrap();
        buf.push_str(std::str::from_utf8(next.as_ref()).unwrap());
    }
}

#[tokio::test]
async fn output_live_tail_over_sse_then_plain_text() {
    let api = Api::start().await;
    let (_, _, t) = api.fixture("Acme").await;
    let id = api.job(t).await;
    let lease = api.run_due().await[0];
    let store = api.srv.store.clone();
    store
        .append_output(lease, &[chunk(id, 1, Stream::Stdout, b"hello\n")])
        .await
        .unwrap();

    // Without asking for events: the output so far, as text.
    let r = api.get(&format!("/job/{id}/output")).await;
    assert!(
        r.header("content-type").starts_with("text/plain"),
        "{:?}",
        r.headers
    );
    assert_eq!(r.bytes, b"hello\n");
    let res = api
        .http
        .get(api.url(&format!("/job/{id}/output")))
        .bearer_auth(&api.srv.admin_token)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut stream = res.bytes_stream();
    let mut buf = String::new();
    // What was written before we connected.
    let first = read_events(&mut stream, &mut buf, |n, _| n == "output").await;
    assert_eq!(first[0].1["text"], "hello\n");
    assert_eq!(first[0].1["stream"], "stdout");
    assert_eq!(first[0].1["seq"], 1);
    // Live: written after we connected; "č" split across two chunks arrives whole.
    let c = "č".as_bytes();
    store
        .append_output(
            lease,
            &[
                chunk(id, 2, Stream::Stderr, b"oops\n"),
                chunk(id, 3, Stream::Stdout, &[b'a', c[0]]),
            ],
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    store
        .append_output(lease, &[chunk(id, 4, Stream::Stdout, &[c[1], b'\n'])])
        .await
        .unwrap();
    let live = read_events(&mut stream, &mut buf, |_, v| v["seq"] == 4).await;
    let texts: Vec<(&str, &str)> = live
        .iter()
        .map(|(_, v)| (v["stream"].as_str().unwrap(), v["text"].as_str().unwrap()))
        .collect();
    assert_eq!(
        texts,
        [("stderr", "oops\n"), ("stdout", "a"), ("stdout", "č\n")]
    );
    // Completion ends the stream with `end`.
    api.finish(lease, Outcome::Failed, 3, "hello\nač\n".as_bytes())
        .await;
    let end = read_events(&mut stream, &mut buf, |n, _| n == "end").await;
    let (name, data) = end.last().unwrap();
    assert_eq!(name, "end");
    assert_eq!(data["status"], "failed");
    assert_eq!(data["exitcode"], 3);
    let rest = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .unwrap();
    assert!(rest.is_none(), "the stream goes on after end");

    // Finished: plain text, every chunk in order.
    let r = api.get(&format!("/job/{id}/output")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("content-type").starts_with("text/plain"));
    assert_eq!(r.bytes, "hello\noops\nač\n".as_bytes());

    // The job view: phases, exit code with the app's meaning.
    let r = api.get(&format!("/job/{id}")).await;
    let phases: Vec<&str> = r.json["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert_eq!(
        phases,
        [
            "created",
            "scheduled",
            "queued",
            "running",
            "completed",
            "preserved"
        ]
    );
    assert_eq!(r.json["exit"]["code"], 3);
    assert_eq!(r.json["exit"]["status"], "failed");
    assert_eq!(r.json["exit"]["meaning"], "job failed");
    assert_eq!(r.json["exit"]["colour"], "bg-danger");
    assert_eq!(r.json["exit"]["app_description"], "bank API rate limit");
    assert_eq!(r.json["exit"]["retry_hint"], true);
    assert_eq!(r.json["pid"], 4242);
    assert_eq!(r.json["lease_owner"], "exec-1");
}

#[tokio::test]
async fn artifacts_are_byte_exact_with_headers() {
    let api = Api::start().await;
    let (_, acme, t) = api.fixture("Acme").await;
    let id = api.job(t).await;
    let lease = api.run_due().await[0];
    // A result file, stored while the job runs (under its lease), then the output at the end.
    let odd = vec![0u8, 159, 146, 150, 255, 10, 13];
    let store = api.srv.store.clone();
    ArtifactSink::put(
        &*store,
        lease,
        "out/r\u{e9}port \"q\".bin",
        "application/x-custom",
        &mut odd.as_slice(),
    )
    .await
    .unwrap();
    let stdout = b"bin\x00ary \xff\xfe output\n".to_vec();
    api.finish(lease, Outcome::Success, 0, &stdout).await;

    let r = api.get(&format!("/job/{id}/artifacts")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let list = r.json.as_array().unwrap();
    let names: Vec<&str> = list
        .iter()
        .map(|a| a["filename"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["out/r\u{e9}port \"q\".bin", "stdout.txt", "stderr.txt"]
    );
    let (result_file, stdout_txt) = (&list[0], &list[1]);
    let url = |a: &Value| {
        a["url"]
            .as_str()
            .unwrap()
            .trim_start_matches(BASE)
            .to_string()
    };

    let r = api.get(&url(stdout_txt)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.bytes, stdout);
    assert_eq!(r.header("content-type"), "text/plain");
    assert_eq!(
        r.header("content-disposition"),
        "attachment; filename=\"stdout.txt\"; filename*=UTF-8''stdout.txt"
    );
    assert_eq!(r.header("x-content-type-options"), "nosniff");
    assert_eq!(stdout_txt["size"], stdout.len());

    let r = api.get(&url(result_file)).await;
    assert_eq!(r.bytes, odd);
    assert_eq!(r.header("content-type"), "application/x-custom");
    assert_eq!(
        r.header("content-disposition"),
        "attachment; filename=\"r_port _q_.bin\"; filename*=UTF-8''r%C3%A9port%20%22q%22.bin"
    );

    // Another company's token: the artifact does not exist for it.
    let beta = api.company("Beta").await;
    assert_ne!(beta, acme);
    let tok = api.company_token(beta, "beta").await;
    api.get_as(&tok, &url(stdout_txt))
        .await
        .assert_error(StatusCode::NOT_FOUND, None);
    api.get("/artifact/99999")
        .await
        .assert_error(StatusCode::NOT_FOUND, None);
    api.get("/job/99999/artifacts")
        .await
        .assert_error(StatusCode::NOT_FOUND, None);
}

#[tokio::test]
async fn bad_requests_get_json_errors() {
    let api = Api::start().await;
    // Malformed JSON, wrong content type, oversized body, wrong method, unknown path.
    api.raw(
        Method::POST,
        "/companies",
        "application/json",
        b"{\"name\": \"x\",}".to_vec(),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, None);
    api.raw(
        Method::POST,
        "/companies",
        "text/plain",
        b"{\"name\": \"x\"}".to_vec(),
    )
    .await
    .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("Content-Type"));
    api.raw(
        Method::POST,
        "/companies",
        "application/json",
        b"{\"name\": \"x\"} trailing".to_vec(),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, None);
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    api.raw(
        Method::POST,
        "/companies",
        "application/json",
        big.into_bytes(),
    )
    .await
    .assert_error(StatusCode::PAYLOAD_TOO_LARGE, None);
    let big_app = format!(
        "{{\"name\": \"a\", \"executable\": \"/bin/true\", \"description\": \"{}\"}}",
        "y".repeat(2 * 1024 * 1024)
    );
    api.raw(
        Method::POST,
        "/apps",
        "application/json",
        big_app.into_bytes(),
    )
    .await
    .assert_error(StatusCode::PAYLOAD_TOO_LARGE, None);
    let r = api
        .send(
            Method::DELETE,
            "/jobs",
            Some(&api.srv.admin_token),
            None,
            &[],
        )
        .await;
    r.assert_error(StatusCode::METHOD_NOT_ALLOWED, None);
    assert!(r.header("allow").contains("GET"), "{:?}", r.headers);
    api.send(Method::PUT, "/ping", None, None, &[])
        .await
        .assert_error(StatusCode::METHOD_NOT_ALLOWED, None);
    api.get("/no/such/thing")
        .await
        .assert_error(StatusCode::NOT_FOUND, None);
    // Nothing was written by any of them.
    assert_eq!(api.get("/companies").await.json, json!([]));
    assert_eq!(api.get("/apps").await.json, json!([]));
}

/// Schemathesis (PyPI) against the live server's OpenAPI document: every documented operation
/// with generated valid and invalid input, checking statuses, content types and response schemas.
#[tokio::test]
async fn schemathesis_finds_no_failures() {
    let st = match std::env::var("MULTIFLEXI_TEST_SCHEMATHESIS") {
        Ok(p) if !p.trim().is_empty() => p,
        _ => {
            if std::env::var("MULTIFLEXI_REQUIRE_INTEGRATION").is_ok_and(|v| v == "1") {
                panic!(
                    "MULTIFLEXI_TEST_SCHEMATHESIS is not set and MULTIFLEXI_REQUIRE_INTEGRATION=1: install it with `eval \"$(scripts/services/schemathesis.sh | sed 's/^/export /')\"`"
                );
            }
            eprintln!(
                "SKIPPED: MULTIFLEXI_TEST_SCHEMATHESIS is not set (install with scripts/services/schemathesis.sh)"
            );
            return;
        }
    };
    let api = Api::start().await;
    // Some data, so that generated ids sometimes hit real objects.
    let (_, _, t) = api.fixture("Acme").await;
    let id = api.job(t).await;
    let lease = api.run_due().await[0];
    api.finish(lease, Outcome::Success, 0, b"done\n").await;
    api.job(t).await;
    let _ = id;

    let mut cmd = tokio::process::Command::new(&st);
    cmd.arg("run")
        .arg(api.url("/openapi.json"))
        .arg("--url")
        .arg(api.url(""))
        .arg("--header")
        .arg(format!("Authorization: Bearer {}", api.srv.admin_token))
        // Every check but positive_data_acceptance: the schema cannot say what the server
        // rightly refuses (cron syntax, IANA zone names, variable names, "interval c needs a
        // cron"), which that check would report as schema-valid requests rejected.
        .args(["--checks", "all"])
        .args(["--exclude-checks", "positive_data_acceptance"])
        // The stateful phase is left out: schemathesis 4 infers a broken link from
        // POST /job/{id}/retry to GET /runtemplates and stops with an error.
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", "40"])
        .args(["--workers", "1"])
        .arg("--seed=1")
        .arg("--no-color")
        // A loaded CI machine (2 cores, parallel test binaries) must not fail the run.
        .args(["--request-timeout", "30"])
        .args(["--suppress-health-check", "too_slow"])
        .env("SCHEMATHESIS_HOOKS", "")
        .env("HOME", api.srv.dir.path())
        .current_dir(api.srv.dir.path())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(300), cmd.output())
        .await
        .expect("schemathesis ran for more than 5 minutes")
        .expect("schemathesis could not be started");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // Its summary (phases, timings, warnings) for the test log.
    eprintln!("{stdout}");
}

/// Issue 15: a company token cannot choose the executor (per job or per template) nor set
/// environment names beyond the app's and its credentials' fields; loader variables are
/// refused for everyone unless the app declares them. Each refusal is 403 with the field and
/// writes nothing.
#[tokio::test]
async fn company_token_cannot_choose_executor_or_loader_env() {
    let api = Api::start().await;
    let (_, c, t) = api.fixture("Tenant").await;
    let token = api.company_token(c, "tenant").await;
    let jobs_before = api.get("/jobs?limit=500").await.json["jobs"]
        .as_array()
        .unwrap()
        .len();

    // Per job: another executor than the template's (Native) is the operator's call.
    let r = api
        .post_as(
            &token,
            "/job/",
            json!({ "runtemplate_id": t, "executor": "Docker" }),
        )
        .await;
    r.assert_error(StatusCode::FORBIDDEN, Some("executor"));
    assert!(
        r.json["detail"].as_str().unwrap().contains("company token"),
        "{}",
        r.json
    );
    // Naming the template's own executor is not an override.
    let r = api
        .post_as(
            &token,
            "/job/",
            json!({ "runtemplate_id": t, "executor": "Native", "env": {"GREETING": "hi"} }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);

    // One-off env: only the app's fields; loader variables for nobody.
    for (name, who) in [
        ("EXTRA", "tenant"),
        ("LD_PRELOAD", "tenant"),
        ("PATH", "tenant"),
    ] {
        let r = api
            .post_as(
                &token,
                "/job/",
                json!({ "runtemplate_id": t, "env": {name: "x"} }),
            )
            .await;
        r.assert_error(StatusCode::FORBIDDEN, Some(&format!("env.{name}")));
        assert!(
            r.json["detail"].as_str().unwrap().contains(name),
            "{who}: {}",
            r.json
        );
    }
    for name in ["LD_PRELOAD", "NODE_OPTIONS", "BASH_ENV", "GIT_SSH_COMMAND"] {
        let r = api
            .post("/job/", json!({ "runtemplate_id": t, "env": {name: "x"} }))
            .await;
        r.assert_error(StatusCode::FORBIDDEN, Some(&format!("env.{name}")));
    }
    // The operator may add other names.
    let r = api
        .post(
            "/job/",
            json!({ "runtemplate_id": t, "env": {"EXTRA": "x"} }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let jobs_after = api.get("/jobs?limit=500").await.json["jobs"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(jobs_after, jobs_before + 2, "a refused request wrote a job");

    // Per template: a company token may not move it to another executor.
    let r = api
        .send(
            Method::PATCH,
            &format!("/runtemplate/{t}"),
            Some(&token),
            Some(json!({ "executor": "Docker" })),
            &[],
        )
        .await;
    r.assert_error(StatusCode::FORBIDDEN, Some("executor"));
    assert_eq!(
        api.get(&format!("/runtemplate/{t}")).await.json["executor"],
        "Native"
    );
    let r = api
        .send(
            Method::PATCH,
            &format!("/runtemplate/{t}"),
            Some(&token),
            Some(json!({ "config": {"PYTHONSTARTUP": "/tmp/x.py"} })),
            &[],
        )
        .await;
    r.assert_error(StatusCode::FORBIDDEN, Some("config.PYTHONSTARTUP"));
    assert!(
        api.get(&format!("/runtemplate/{t}")).await.json["config"]
            .get("PYTHONSTARTUP")
            .is_none()
    );
    // A company token may create a template on the default executor, not another one.
    let app = api.app("echo two").await;
    let r = api
        .post_as(
            &token,
            "/runtemplates",
            json!({ "name": "mine", "app_id": app, "company_id": c, "executor": "Docker" }),
        )
        .await;
    r.assert_error(StatusCode::FORBIDDEN, Some("executor"));
    // Credentials and company environments refuse loader variables too.
    let r = api
        .post_as(
            &token,
            "/credentials",
            json!({ "company_id": c, "name": "bank", "type": "Bank",
                    "fields": [{"name": "LD_LIBRARY_PATH", "value": "/tmp"}] }),
        )
        .await;
    r.assert_error(StatusCode::FORBIDDEN, Some("fields.LD_LIBRARY_PATH"));
    let r = api
        .post(
            "/companies",
            json!({ "name": "Other", "environment": {"PERL5OPT": "-Mx"} }),
        )
        .await;
    r.assert_error(StatusCode::FORBIDDEN, Some("environment.PERL5OPT"));
}

/// The per-job limits are template fields (0 clears one) and reach the job; an app's container
/// settings are the operator's: admin only, checked, audited, and kept by a re-import.
#[tokio::test]
async fn job_limits_and_app_container_settings() {
    let api = Api::start().await;
    let (app, c, t) = api.fixture("Limits").await;
    let r = api
        .send(
            Method::PATCH,
            &format!("/runtemplate/{t}"),
            Some(&api.srv.admin_token),
            Some(json!({ "pids_max": 40, "cpu_seconds": 120, "memory_limit_mb": 64 })),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        (&r.json["pids_max"], &r.json["cpu_seconds"]),
        (&json!(40), &json!(120))
    );

    let token = api.company_token(c, "limits-tenant").await;
    let body = json!({ "capabilities": ["cap_net_bind_service"], "read_only_root_fs": true });
    let r = api
        .send(
            Method::PATCH,
            &format!("/app/{app}"),
            Some(&token),
            Some(body.clone()),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.json);
    let r = api
        .send(
            Method::PATCH,
            &format!("/app/{app}"),
            Some(&api.srv.admin_token),
            Some(json!({ "capabilities": ["ALL"] })),
            &[],
        )
        .await;
    r.assert_error(StatusCode::BAD_REQUEST, Some("capabilities"));
    let r = api
        .send(
            Method::PATCH,
            &format!("/app/{app}"),
            Some(&api.srv.admin_token),
            Some(body),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["capabilities"], json!(["NET_BIND_SERVICE"]));
    assert_eq!(r.json["read_only_root_fs"], json!(true));
    // A re-import of the same definition keeps them.
    let r = api
        .post(
            "/apps",
            json!({ "name": "echo for Limits", "executable": "/bin/echo" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["app"]["id"], json!(app));
    assert_eq!(
        r.json["app"]["capabilities"],
        json!(["NET_BIND_SERVICE"]),
        "{}",
        r.json
    );

    let job = api.job(t).await;
    let r = api.get(&format!("/job/{job}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        (
            &r.json["pids_max"],
            &r.json["cpu_seconds"],
            &r.json["memory_limit_mb"]
        ),
        (&json!(40), &json!(120), &json!(64))
    );
    assert_eq!(r.json["capabilities"], json!(["NET_BIND_SERVICE"]));
    assert_eq!(r.json["read_only_root_fs"], json!(true));
    let audit = api.get("/audit?limit=1000").await;
    assert!(
        audit
            .json
            .to_string()
            .contains("capabilities NET_BIND_SERVICE; read-only root"),
        "{}",
        audit.json
    );
}

#[tokio::test]
async fn retention_policies_set_list_run_unset() {
    let api = Api::start().await;
    let (app, c, _t) = api.fixture("Kept").await;
    let admin = Some(api.srv.admin_token.clone());
    let r = api.get("/retention").await;
    assert_eq!((r.status, &r.json), (StatusCode::OK, &json!([])));
    let r = api
        .send(
            Method::PUT,
            "/retention",
            admin.as_deref(),
            Some(json!({ "company_id": c, "app_id": app, "days": 7, "artifacts_only": true, "grace_days": 1 })),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["scope"], json!(format!("company:{c}/app:{app}")));
    assert_eq!(r.json["grace_days"], json!(1));
    for (body, field) in [
        (json!({ "days": 0 }), "days"),
        (
            json!({ "audit": true, "company_id": c, "days": 5 }),
            "audit",
        ),
        (json!({ "days": 5, "keep": true }), "keep"),
    ] {
        let r = api
            .send(Method::PUT, "/retention", admin.as_deref(), Some(body), &[])
            .await;
        r.assert_error(StatusCode::BAD_REQUEST, Some(field));
    }
    let r = api
        .send(
            Method::PUT,
            "/retention",
            admin.as_deref(),
            Some(json!({ "company_id": 9999, "days": 5 })),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.json);

    let token = api.company_token(c, "kept-tenant").await;
    for (method, path) in [
        (Method::GET, "/retention"),
        (Method::POST, "/retention/run?dry_run=true"),
    ] {
        let r = api.send(method, path, Some(&token), None, &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.json);
    }

    let r = api
        .send(
            Method::POST,
            "/retention/run?dry_run=true",
            admin.as_deref(),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["dry_run"], json!(true));
    assert_eq!(r.json["policies"][0]["applied"], json!(false));

    let path = format!("/retention?company_id={c}&app_id={app}");
    let r = api
        .send(Method::DELETE, &path, admin.as_deref(), None, &[])
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = api
        .send(Method::DELETE, &path, admin.as_deref(), None, &[])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.json);
    let r = api.get("/audit").await;
    let actions: Vec<&str> = r
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|a| a.starts_with("retention:"))
        .collect();
    assert_eq!(actions, ["retention:set", "retention:unset"]);
}
