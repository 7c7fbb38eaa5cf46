//! The dashboard: HTTP-level tests of sign-in, redirects, CSRF, scoping and downloads (reqwest,
//! no redirects followed, cookies handled by hand), and the browser test: headless Chromium
//! driven over WebDriver (fantoccini + chromedriver) signs in, clicks "Execute now", follows the
//! job to Preserved with a real Dispatcher + NativeExecutor, downloads stdout.txt and compares it
//! byte for byte, checks the status colours and takes screenshots.
//!
//! The browser test needs `MULTIFLEXI_TEST_CHROMEDRIVER` (and `MULTIFLEXI_TEST_CHROMIUM`), as
//! printed by `scripts/services/chromium.sh`; without it the test is skipped with a message,
//! unless `MULTIFLEXI_REQUIRE_INTEGRATION=1`, when it fails.

mod trends;

use super::server::{self, TestServer};
use multiflexi_bin::http::HttpOptions;
use multiflexi_core::engine::{JobRequest, create_job};
use multiflexi_core::store::{
    AccessTokens, AuditFilter, AuditLog, Catalog, ClaimOptions, JobFilter, JobQueue, LeaseRef,
    TokenScope,
};
use multiflexi_core::telemetry::NoopTelemetry;
use multiflexi_core::{
    App, ArtifactSink, Company, Job, JobId, Outcome, Phase, RunTemplate, SystemClock, Trigger,
};
use multiflexi_store::SqlStore;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use std::future::Future;
use std::time::{Duration, Instant};

/// Upper bound of every wait.
const LIMIT: Duration = Duration::from_secs(90);

fn client() -> reqwest::Client {
    server::http_client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn session_cookie(secret: &str) -> String {
    format!("mfx_session={secret}")
}

fn form_body(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

async fn get(srv: &TestServer, path: &str, secret: Option<&str>) -> reqwest::Response {
    let mut req = client().get(format!("{}{path}", srv.base));
    if let Some(s) = secret {
        req = req.header(COOKIE, session_cookie(s));
    }
    req.send().await.unwrap()
}

async fn get_ok(srv: &TestServer, path: &str, secret: &str) -> String {
    let r = get(srv, path, Some(secret)).await;
    let status = r.status();
    let body = r.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

/// POSTs a form as a browser on this server would (same Origin) unless `origin` says otherwise.
async fn post(
    srv: &TestServer,
    path: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
    pairs: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = client()
        .post(format!("{}{path}", srv.base))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("origin", origin.unwrap_or(&srv.base))
        .body(form_body(pairs));
    if let Some(c) = cookie {
        req = req.header(COOKIE, c);
    }
    req.send().await.unwrap()
}

/// The value of the first `name="csrf"` hidden field of a page.
fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no csrf field in {html}"));
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

fn set_cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

async fn company(store: &SqlStore, name: &str) -> Company {
    store.create_company(&Company::new(name)).await.unwrap()
}

async fn template(store: &SqlStore, company: &Company, app: App, name: &str) -> RunTemplate {
    let app = store.put_app(&app).await.unwrap();
    store
        .create_runtemplate(&RunTemplate::new(app.id, company.id, name))
        .await
        .unwrap()
}

async fn job_of(store: &SqlStore, t: &RunTemplate) -> Job {
    create_job(
        store,
        &SystemClock,
        &NoopTelemetry,
        JobRequest::ad_hoc(t.id, Trigger::Cli),
    )
    .await
    .unwrap()
}

/// Claims the due jobs of `job`'s executor kind (an executor would) and returns `job`'s lease:
/// output and artifacts are written under it.
async fn lease_of(store: &SqlStore, job: &Job) -> LeaseRef {
    let claimed = store
        .claim(&ClaimOptions::new("exec-1", vec![job.executor], 100))
        .await
        .unwrap();
    let mine = claimed
        .iter()
        .find(|j| j.id == job.id)
        .expect("the job is due");
    LeaseRef::of(mine)
}

/// Two companies, Acme and Beta, each with one run template and one scheduled job of it:
/// (acme, beta, acme's template, beta's template, acme's job, beta's job).
async fn two_companies(store: &SqlStore) -> (Company, Company, RunTemplate, RunTemplate, Job, Job) {
    let acme = company(store, "Acme").await;
    let beta = company(store, "Beta").await;
    let ta = template(store, &acme, App::new("acme app", "/bin/echo"), "acme run").await;
    let tb = template(store, &beta, App::new("beta app", "/bin/true"), "beta run").await;
    let ja = job_of(store, &ta).await;
    let jb = job_of(store, &tb).await;
    (acme, beta, ta, tb, ja, jb)
}

async fn wait_for<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(started.elapsed() < LIMIT, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn pages_redirect_to_login_without_a_valid_session() {
    let srv = server::start().await;
    for path in [
        "/",
        "/jobs?status=failed",
        "/jobs/1",
        "/runtemplates",
        "/apps",
        "/companies",
    ] {
        let r = get(&srv, path, None).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        let to = location(&r);
        assert!(to.starts_with("/login?next="), "{path} → {to}");
        // A made-up or malformed cookie is no session either.
        for bad in ["mfx_0000", "x;y", ""] {
            let r = get(&srv, path, Some(bad)).await;
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path} with {bad:?}");
        }
    }
    let r = get(&srv, "/jobs?status=failed", None).await;
    assert_eq!(location(&r), "/login?next=%2Fjobs%3Fstatus%3Dfailed");
    // Assets and the sign-in page need no session.
    assert_eq!(get(&srv, "/login", None).await.status(), StatusCode::OK);
    let css = get(&srv, "/assets/dashboard.css", None).await;
    assert_eq!(css.status(), StatusCode::OK);
    assert!(css.text().await.unwrap().contains(".bg-success"));
}

#[tokio::test]
async fn login_sets_a_strict_httponly_cookie_and_logout_clears_it() {
    let srv = server::start().await;
    let page = get(&srv, "/login?next=/jobs", None).await;
    let nonce = set_cookies(&page)
        .into_iter()
        .find(|c| c.starts_with("mfx_login="))
        .expect("a sign-in nonce cookie");
    let nonce = nonce.split(';').next().unwrap().to_string();
    let html = page.text().await.unwrap();
    assert!(html.contains("<html lang=\"en\">"), "{html}");
    assert!(html.contains("<label for=\"token\">"), "{html}");
    let csrf = csrf_of(&html);

    // A wrong token: 401, no session cookie.
    let r = post(
        &srv,
        "/login",
        Some(&nonce),
        None,
        &[("csrf", &csrf), ("token", "mfx_wrong"), ("next", "/jobs")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        !set_cookies(&r)
            .iter()
            .any(|c| c.starts_with("mfx_session=mfx"))
    );
    assert!(r.text().await.unwrap().contains("not valid"));

    // Without the form's token (or from another site): refused.
    let r = post(
        &srv,
        "/login",
        Some(&nonce),
        None,
        &[("token", &srv.admin_token)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post(
        &srv,
        "/login",
        Some(&nonce),
        Some("http://evil.example"),
        &[("csrf", &csrf), ("token", &srv.admin_token)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // The right token: a cookie, then back to where the user wanted to go.
    let r = post(
        &srv,
        "/login",
        Some(&nonce),
        None,
        &[
            ("csrf", &csrf),
            ("token", &format!("  {}\n", srv.admin_token)),
            ("next", "/jobs"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/jobs");
    let cookie = set_cookies(&r)
        .into_iter()
        .find(|c| c.starts_with("mfx_session="))
        .expect("a session cookie");
    assert_eq!(
        cookie,
        format!(
            "mfx_session={}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200",
            srv.admin_token
        )
    );
    let page = get_ok(&srv, "/", &srv.admin_token).await;
    assert!(page.contains("<h1>Overview</h1>"), "{page}");
    assert!(page.contains("test-admin"), "{page}");

    // An open redirect is not possible.
    let r = post(
        &srv,
        "/login",
        Some(&nonce),
        None,
        &[
            ("csrf", &csrf),
            ("token", &srv.admin_token),
            ("next", "//evil.example/"),
        ],
    )
    .await;
    assert_eq!(location(&r), "/");

    // Sign-out needs the session's form token, then clears the cookie.
    let session = session_cookie(&srv.admin_token);
    let r = post(&srv, "/logout", Some(&session), None, &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let csrf = csrf_of(&page);
    let r = post(&srv, "/logout", Some(&session), None, &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login");
    assert!(
        set_cookies(&r)
            .iter()
            .any(|c| c.starts_with("mfx_session=;") && c.contains("Max-Age=0")),
        "{:?}",
        set_cookies(&r)
    );

    // A revoked token signs out at once.
    let id = srv
        .store
        .list_tokens()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.name == "test-admin")
        .unwrap()
        .id;
    srv.store.revoke_token(id).await.unwrap();
    assert_eq!(
        get(&srv, "/", Some(&srv.admin_token)).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn secure_cookies_when_configured() {
    let mut options = HttpOptions::default();
    options.secure_cookies = true;
    let srv = server::start_with_options(options).await;
    let page = get(&srv, "/login", None).await;
    let nonce = set_cookies(&page)
        .into_iter()
        .find(|c| c.starts_with("mfx_login="))
        .unwrap();
    assert!(nonce.ends_with("; Secure"), "{nonce}");
    let nonce = nonce.split(';').next().unwrap().to_string();
    let csrf = csrf_of(&page.text().await.unwrap());
    let r = post(
        &srv,
        "/login",
        Some(&nonce),
        None,
        &[("csrf", &csrf), ("token", &srv.admin_token)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = set_cookies(&r)
        .into_iter()
        .find(|c| c.starts_with("mfx_session=mfx"))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly; SameSite=Strict; Path=/") && cookie.ends_with("; Secure"),
        "{cookie}"
    );
}

#[tokio::test]
async fn every_post_form_needs_the_csrf_token_and_the_same_origin() {
    let srv = server::start().await;
    let acme = company(&srv.store, "Acme").await;
    let t = template(&srv.store, &acme, App::new("echo", "/bin/echo"), "echo").await;
    let session = session_cookie(&srv.admin_token);
    let page = get_ok(&srv, &format!("/runtemplates/{}", t.id), &srv.admin_token).await;
    assert!(page.contains("Execute now"), "{page}");
    let csrf = csrf_of(&page);
    let jobs = |srv: &TestServer| {
        let store = srv.store.clone();
        async move { store.list_jobs(&JobFilter::default()).await.unwrap().len() }
    };
    // A job for the job page's forms (Cancel while unfinished, Run again once finished).
    let existing = job_of(&srv.store, &t).await;
    let job_page = get_ok(&srv, &format!("/jobs/{}", existing.id), &srv.admin_token).await;
    assert!(job_page.contains("data-cancel="), "{job_page}");
    assert!(!job_page.contains("data-retry="), "{job_page}");

    let bulk = format!("t.{}", t.id);
    let posts: [(String, Vec<(&str, &str)>); 11] = [
        (format!("/runtemplates/{}/execute", t.id), vec![]),
        (
            "/runtemplates/execute-form".into(),
            vec![(bulk.as_str(), "on")],
        ),
        (
            format!("/runtemplates/{}/execute-with", t.id),
            vec![("schedule_time", "now")],
        ),
        ("/runtemplates/execute".into(), vec![(bulk.as_str(), "on")]),
        (
            format!("/runtemplates/{}/actions", t.id),
            vec![("on_failure", r#"[{"kind":"deactivate"}]"#)],
        ),
        (format!("/jobs/{}/cancel", existing.id), vec![]),
        (format!("/jobs/{}/retry", existing.id), vec![]),
        (
            format!("/runtemplates/{}/active", t.id),
            vec![("active", "false")],
        ),
        ("/companies".into(), vec![("name", "Evil Corp")]),
        (
            "/apps/import".into(),
            vec![("json", r#"{"name":"x","executable":"/bin/x"}"#)],
        ),
        ("/logout".into(), vec![]),
    ];
    for (path, fields) in &posts {
        // No token.
        let r = post(&srv, path, Some(&session), None, fields).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path} without a token");
        // A wrong token.
        let mut with_wrong = fields.clone();
        with_wrong.push(("csrf", "00"));
        let r = post(&srv, path, Some(&session), None, &with_wrong).await;
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "{path} with a wrong token"
        );
        // The right token from another origin.
        let mut with_token = fields.clone();
        with_token.push(("csrf", &csrf));
        let r = post(
            &srv,
            path,
            Some(&session),
            Some("http://evil.example"),
            &with_token,
        )
        .await;
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "{path} from another origin"
        );
        // Without a session: to the sign-in page.
        let r = post(&srv, path, None, None, &with_token).await;
        assert_eq!(
            r.status(),
            StatusCode::SEE_OTHER,
            "{path} without a session"
        );
    }
    assert_eq!(jobs(&srv).await, 1, "nothing was created");
    let still = srv.store.get_job(existing.id).await.unwrap();
    assert_eq!(still.phase, Phase::Scheduled, "nothing was cancelled");
    assert!(!still.cancel_requested);
    assert!(srv.store.get_runtemplate(t.id).await.unwrap().active);
    assert!(
        srv.store
            .get_runtemplate(t.id)
            .await
            .unwrap()
            .on_failure
            .is_empty(),
        "no actions were set"
    );
    assert_eq!(srv.store.list_companies().await.unwrap().len(), 1);
    assert_eq!(srv.store.list_apps().await.unwrap().len(), 1);

    // With the token and the same origin, each one acts.
    let r = post(
        &srv,
        &format!("/runtemplates/{}/execute", t.id),
        Some(&session),
        None,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = location(&r);
    let job: Vec<Job> = srv
        .store
        .list_jobs(&JobFilter::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.id != existing.id)
        .collect();
    assert_eq!(job.len(), 1);
    assert_eq!(to, format!("/jobs/{}", job[0].id));
    assert_eq!(job[0].trigger, Trigger::Manual);
    assert_eq!(job[0].launched_by.as_deref(), Some("dashboard:test-admin"));

    let r = post(
        &srv,
        &format!("/runtemplates/{}/active", t.id),
        Some(&session),
        None,
        &[("csrf", &csrf), ("active", "false")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(!srv.store.get_runtemplate(t.id).await.unwrap().active);
    // An inactive template cannot be executed: 409 with the reason.
    let r = post(
        &srv,
        &format!("/runtemplates/{}/execute", t.id),
        Some(&session),
        None,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("inactive"));

    let r = post(
        &srv,
        "/companies",
        Some(&session),
        None,
        &[("csrf", &csrf), ("name", "<b>Beta</b> & Co"), ("email", "")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = get_ok(&srv, &location(&r), &srv.admin_token).await;
    assert!(page.contains("&lt;b&gt;Beta&lt;/b&gt; &amp; Co"), "{page}");
    assert!(!page.contains("<b>Beta</b>"), "{page}");
    // The same name again is a conflict shown on the page.
    let r = post(
        &srv,
        "/companies",
        Some(&session),
        None,
        &[("csrf", &csrf), ("name", "<b>Beta</b> & Co")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn app_import_is_lenient_and_shows_warnings() {
    let srv = server::start().await;
    let session = session_cookie(&srv.admin_token);
    let csrf = csrf_of(&get_ok(&srv, "/apps", &srv.admin_token).await);
    // `topics` for `tags` and a string boolean: imported with warnings, as the CLI does.
    let json = r#"{"name": "Bank import", "executable": "/usr/bin/bank-import",
        "topics": "bank, import", "environment": {"DEBUG": {"type": "checkbox", "defval": "True"}}}"#;
    let r = post(
        &srv,
        "/apps/import",
        Some(&session),
        None,
        &[("csrf", &csrf), ("json", json)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("Imported as"), "{page}");
    assert!(page.contains("(created)"), "{page}");
    assert!(page.contains("import-warnings"), "{page}");
    let apps = srv.store.list_apps().await.unwrap();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0].display_name(), "Bank import");
    let detail = get_ok(&srv, &format!("/apps/{}", apps[0].id), &srv.admin_token).await;
    assert!(detail.contains("/usr/bin/bank-import"), "{detail}");

    // Not JSON: rejected with the parser's position, the text kept in the form.
    let r = post(
        &srv,
        "/apps/import",
        Some(&session),
        None,
        &[("csrf", &csrf), ("json", "{\"name\": ")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let page = r.text().await.unwrap();
    assert!(page.contains("Rejected: not valid JSON"), "{page}");
    assert_eq!(srv.store.list_apps().await.unwrap().len(), 1);
}

async fn audit_actions(srv: &TestServer, id: JobId) -> Vec<(String, String)> {
    srv.store
        .list_audit(&AuditFilter::job(id))
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.actor, a.action))
        .collect()
}

#[tokio::test]
async fn cancel_and_run_again_from_the_job_page() {
    let srv = server::start().await;
    let (acme, _beta, ta, _tb, ja, jb) = two_companies(&srv.store).await;
    assert_eq!(ja.phase, Phase::Scheduled);
    let session = session_cookie(&srv.admin_token);
    let cancel_path = format!("/jobs/{}/cancel", ja.id);
    let retry_path = format!("/jobs/{}/retry", ja.id);

    // Not finished: "Cancel", no "Run again".
    let page = get_ok(&srv, &format!("/jobs/{}", ja.id), &srv.admin_token).await;
    assert!(
        page.contains(&format!("action=\"{cancel_path}\"")),
        "{page}"
    );
    assert!(
        !page.contains(&format!("action=\"{retry_path}\"")),
        "{page}"
    );
    let csrf = csrf_of(&page);

    // Without the CSRF token: refused, nothing changes.
    let r = post(&srv, &cancel_path, Some(&session), None, &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        srv.store.get_job(ja.id).await.unwrap().phase,
        Phase::Scheduled
    );

    // Cancel a scheduled job: it completes as cancelled at once; back to its page.
    let r = post(&srv, &cancel_path, Some(&session), None, &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("/jobs/{}", ja.id));
    let cancelled = srv.store.get_job(ja.id).await.unwrap();
    assert_eq!(cancelled.phase, Phase::Completed);
    assert_eq!(cancelled.outcome, Some(Outcome::Cancelled));
    assert!(cancelled.cancel_requested);
    let audit = audit_actions(&srv, ja.id).await;
    assert!(
        audit.contains(&("dashboard:test-admin".into(), "job:cancel".into())),
        "{audit:?}"
    );

    // Finished: "Run again", no "Cancel".
    let page = get_ok(&srv, &format!("/jobs/{}", ja.id), &srv.admin_token).await;
    assert!(page.contains(&format!("action=\"{retry_path}\"")), "{page}");
    assert!(
        !page.contains(&format!("action=\"{cancel_path}\"")),
        "{page}"
    );
    assert!(page.contains("Run again"), "{page}");

    // Run again without the CSRF token: refused, no new job.
    let before = srv
        .store
        .list_jobs(&JobFilter::default())
        .await
        .unwrap()
        .len();
    let r = post(&srv, &retry_path, Some(&session), None, &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        srv.store
            .list_jobs(&JobFilter::default())
            .await
            .unwrap()
            .len(),
        before
    );

    // Run again: a new job, retry_of the old one, launched by this dashboard user; to its page.
    let r = post(&srv, &retry_path, Some(&session), None, &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = location(&r);
    let new_id: JobId = to
        .strip_prefix("/jobs/")
        .unwrap_or_else(|| panic!("redirect to {to:?}"))
        .parse()
        .unwrap();
    assert_ne!(new_id, ja.id);
    let new = srv.store.get_job(new_id).await.unwrap();
    assert_eq!(new.retry_of, Some(ja.id));
    assert_eq!(new.launched_by.as_deref(), Some("dashboard:test-admin"));
    assert_eq!(new.trigger, Trigger::Manual);
    assert_eq!(new.runtemplate_id, ta.id);
    assert_eq!(new.command, ja.command);
    assert!(!new.phase.is_finished());
    let audit = audit_actions(&srv, new.id).await;
    assert!(
        audit.contains(&("dashboard:test-admin".into(), "job:retry".into())),
        "{audit:?}"
    );
    let page = get_ok(&srv, &to, &srv.admin_token).await;
    assert!(page.contains(&format!("/jobs/{}", ja.id)), "{page}");
    // The new job is not finished: running it again is a conflict.
    let r = post(
        &srv,
        &format!("/jobs/{}/retry", new.id),
        Some(&session),
        None,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // A company token: another company's job is 404 for both, and nothing changes.
    let acme_token = srv
        .store
        .create_token("acme-ops", TokenScope::Company(acme.id))
        .await
        .unwrap()
        .secret;
    let cookie = session_cookie(&acme_token);
    let csrf = csrf_of(&get_ok(&srv, &format!("/jobs/{}", ja.id), &acme_token).await);
    let r = post(
        &srv,
        &format!("/jobs/{}/cancel", jb.id),
        Some(&cookie),
        None,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body = r.text().await.unwrap();
    assert!(!body.contains("beta run"), "{body}");
    assert_eq!(
        srv.store.get_job(jb.id).await.unwrap().phase,
        Phase::Scheduled
    );
    srv.store.request_cancel(jb.id, "test").await.unwrap();
    let before = srv
        .store
        .list_jobs(&JobFilter::default())
        .await
        .unwrap()
        .len();
    let r = post(
        &srv,
        &format!("/jobs/{}/retry", jb.id),
        Some(&cookie),
        None,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        srv.store
            .list_jobs(&JobFilter::default())
            .await
            .unwrap()
            .len(),
        before
    );
    // Its own company's job: allowed.
    let r = post(
        &srv,
        &format!("/jobs/{}/cancel", new.id),
        Some(&cookie),
        None,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let new = srv.store.get_job(new.id).await.unwrap();
    assert_eq!(new.outcome, Some(Outcome::Cancelled));
}

#[tokio::test]
async fn a_company_token_sees_only_its_company() {
    let srv = server::start().await;
    let (acme, beta, ta, tb, ja, jb) = two_companies(&srv.store).await;
    let lease = lease_of(&srv.store, &jb).await;
    srv.store
        .put(lease, "secret.csv", "text/csv", &mut &b"a,b\n"[..])
        .await
        .unwrap();
    let acme_token = srv
        .store
        .create_token("acme-ops", TokenScope::Company(acme.id))
        .await
        .unwrap()
        .secret;

    // Own things: visible.
    get_ok(&srv, &format!("/jobs/{}", ja.id), &acme_token).await;
    get_ok(&srv, &format!("/runtemplates/{}", ta.id), &acme_token).await;
    get_ok(&srv, &format!("/apps/{}", ta.app_id), &acme_token).await;
    // Another company's: 404, as if they did not exist.
    for path in [
        format!("/jobs/{}", jb.id),
        format!("/jobs/{}/output", jb.id),
        format!("/jobs/{}/artifacts/secret.csv", jb.id),
        format!("/runtemplates/{}", tb.id),
        format!("/apps/{}", tb.app_id),
        "/jobs/999999".to_string(),
        "/jobs/not-a-number".to_string(),
    ] {
        let r = get(&srv, &path, Some(&acme_token)).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        let body = r.text().await.unwrap();
        assert!(!body.contains("beta run"), "{path}: {body}");
    }
    let list = get_ok(&srv, "/jobs", &acme_token).await;
    assert!(
        list.contains(&format!("data-job-id=\"{}\"", ja.id)),
        "{list}"
    );
    assert!(
        !list.contains(&format!("data-job-id=\"{}\"", jb.id)),
        "{list}"
    );
    let list = get_ok(&srv, &format!("/jobs?company={}", beta.id), &acme_token).await;
    assert!(
        !list.contains(&format!("data-job-id=\"{}\"", jb.id)),
        "{list}"
    );
    for path in ["/", "/runtemplates", "/companies", "/apps"] {
        let page = get_ok(&srv, path, &acme_token).await;
        assert!(!page.contains("beta run"), "{path}: {page}");
        assert!(!page.contains("Beta"), "{path}: {page}");
        assert!(!page.contains("beta app"), "{path}: {page}");
    }
    // Executing another company's template is 404 too; creating companies is for admins.
    let page = get_ok(&srv, "/", &acme_token).await;
    let csrf = csrf_of(&page);
    let cookie = session_cookie(&acme_token);
    let r = post(
        &srv,
        &format!("/runtemplates/{}/execute", tb.id),
        Some(&cookie),
        None,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // So is executing it with overrides, or among selected templates; no job is made.
    let before = srv
        .store
        .list_jobs(&JobFilter::default())
        .await
        .unwrap()
        .len();
    let r = post(
        &srv,
        &format!("/runtemplates/{}/execute-with", tb.id),
        Some(&cookie),
        None,
        &[("csrf", &csrf), ("schedule_time", "now")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let other = format!("t.{}", tb.id);
    let r = post(
        &srv,
        "/runtemplates/execute",
        Some(&cookie),
        None,
        &[("csrf", &csrf), (other.as_str(), "on")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.text().await.unwrap();
    assert!(body.contains("not executed"), "{body}");
    assert!(!body.contains("beta run"), "{body}");
    // Its overrides form is not shown, and its overrides execute nothing.
    let r = post(
        &srv,
        "/runtemplates/execute-form",
        Some(&cookie),
        None,
        &[("csrf", &csrf), (other.as_str(), "on")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let other_env = format!("t.{}.env.X", tb.id);
    let r = post(
        &srv,
        "/runtemplates/execute",
        Some(&cookie),
        None,
        &[
            ("csrf", &csrf),
            (other.as_str(), "on"),
            (other_env.as_str(), "1"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.text().await.unwrap();
    assert!(body.contains("not executed"), "{body}");
    assert!(!body.contains("beta run"), "{body}");
    // A company token is not offered the executor, and may not choose one.
    let page = get_ok(&srv, &format!("/runtemplates/{}", ta.id), &acme_token).await;
    assert!(page.contains("id=\"overrides-form\""), "{page}");
    assert!(!page.contains("name=\"executor\""), "{page}");
    let r = post(
        &srv,
        &format!("/runtemplates/{}/execute-with", ta.id),
        Some(&cookie),
        None,
        &[("csrf", &csrf), ("executor", "Docker")],
    )
    .await;
    assert!(r.status().is_client_error(), "{}", r.status());
    assert_eq!(
        srv.store
            .list_jobs(&JobFilter::default())
            .await
            .unwrap()
            .len(),
        before
    );
    let r = post(
        &srv,
        "/companies",
        Some(&cookie),
        None,
        &[("csrf", &csrf), ("name", "Gamma")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The admin sees both.
    let list = get_ok(&srv, "/jobs", &srv.admin_token).await;
    assert!(
        list.contains(&format!("data-job-id=\"{}\"", jb.id)),
        "{list}"
    );
}

#[tokio::test]
async fn artifacts_download_byte_exact_with_type_and_name() {
    let srv = server::start().await;
    let acme = company(&srv.store, "Acme").await;
    let t = template(&srv.store, &acme, App::new("maker", "/bin/true"), "maker").await;
    let job = job_of(&srv.store, &t).await;
    let other = job_of(&srv.store, &t).await;
    let lease = lease_of(&srv.store, &job).await;
    let binary: Vec<u8> = (0u8..=255).chain([0, 0, 0xff, b'\n']).collect();
    let bin_id = srv
        .store
        .put(
            lease,
            "data.bin",
            "application/octet-stream",
            &mut binary.as_slice(),
        )
        .await
        .unwrap();
    srv.store
        .put(
            lease,
            "výpis \"1\".csv",
            "text/csv",
            &mut "a;b\nč;ř\n".as_bytes(),
        )
        .await
        .unwrap();
    let metas = srv.store.list(job.id).await.unwrap();
    let csv = metas.iter().find(|m| m.filename.ends_with(".csv")).unwrap();

    let r = get(
        &srv,
        &format!("/jobs/{}/artifacts/{}", job.id, bin_id),
        Some(&srv.admin_token),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers().clone();
    assert_eq!(h[CONTENT_TYPE], "application/octet-stream");
    assert_eq!(
        h["content-disposition"],
        "attachment; filename=\"data.bin\"; filename*=UTF-8''data%2Ebin"
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-length"], binary.len().to_string().as_str());
    assert_eq!(r.bytes().await.unwrap().as_ref(), binary.as_slice());

    let r = get(
        &srv,
        &format!("/jobs/{}/artifacts/{}", job.id, csv.id),
        Some(&srv.admin_token),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[CONTENT_TYPE], "text/csv");
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.contains("filename*=UTF-8''v%C3%BDpis%20%221%22%2Ecsv"),
        "{disposition}"
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), "a;b\nč;ř\n".as_bytes());

    // By file name too; not through another job's path; unknown ones are 404.
    let r = get(
        &srv,
        &format!("/jobs/{}/artifacts/data.bin", job.id),
        Some(&srv.admin_token),
    )
    .await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), binary.as_slice());
    for path in [
        format!("/jobs/{}/artifacts/{}", other.id, bin_id),
        format!("/jobs/{}/artifacts/nope.txt", job.id),
        format!("/jobs/{}/artifacts/99999", job.id),
    ] {
        assert_eq!(
            get(&srv, &path, Some(&srv.admin_token)).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[tokio::test]
async fn job_list_filters_and_bad_filters() {
    let srv = server::start().await;
    let acme = company(&srv.store, "Acme").await;
    let t = template(&srv.store, &acme, App::new("lister", "/bin/true"), "lister").await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(job_of(&srv.store, &t).await.id);
    }
    let page = get_ok(
        &srv,
        &format!("/jobs?status=scheduled&template={}", t.id),
        &srv.admin_token,
    )
    .await;
    for id in &ids {
        assert!(page.contains(&format!("data-job-id=\"{id}\"")), "{page}");
    }
    let page = get_ok(&srv, "/jobs?status=running", &srv.admin_token).await;
    assert!(page.contains("No jobs."), "{page}");
    let page = get_ok(&srv, "/jobs?since=2999-01-01T00:00", &srv.admin_token).await;
    assert!(page.contains("No jobs."), "{page}");
    let page = get_ok(&srv, &format!("/jobs?before={}", ids[2]), &srv.admin_token).await;
    assert!(
        !page.contains(&format!("data-job-id=\"{}\"", ids[2])),
        "{page}"
    );
    assert!(
        page.contains(&format!("data-job-id=\"{}\"", ids[1])),
        "{page}"
    );
    for bad in [
        "status=exploded",
        "since=yesterday",
        "company=abc",
        "template=%3Cscript%3E",
    ] {
        let r = get(&srv, &format!("/jobs?{bad}"), Some(&srv.admin_token)).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body = r.text().await.unwrap();
        assert!(!body.contains("<script>"), "{body}");
    }
    // The job page of a scheduled job shows the live view; the output endpoint answers JSON.
    let page = get_ok(&srv, &format!("/jobs/{}", ids[0]), &srv.admin_token).await;
    assert!(page.contains("id=\"live-output\""), "{page}");
    let r = get(
        &srv,
        &format!("/jobs/{}/output", ids[0]),
        Some(&srv.admin_token),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["phase"], "scheduled");
    assert_eq!(v["finished"], false);
    assert_eq!(v["chunks"], serde_json::json!([]));
}

#[tokio::test]
async fn template_page_shows_the_schedule_in_words_and_next_runs() {
    // A store with a master key, so that the template can hold a secret.
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("multiflexi.sqlite").display()
    );
    let options = multiflexi_store::SqlStoreOptions::default()
        .with_master_key(multiflexi_store::MasterKey::generate());
    let store = std::sync::Arc::new(SqlStore::connect(&url, options).await.unwrap());
    let srv = server::start_on(store, dir).await;
    let acme = company(&srv.store, "Acme").await;
    let app = srv
        .store
        .put_app(&App::new("reporter", "/bin/true"))
        .await
        .unwrap();
    let mut t = RunTemplate::new(app.id, acme.id, "weekday report")
        .with_cron("30 2 * * 1-5")
        .with_timezone("Europe/Prague");
    t.config.set("REPORT_KIND", "daily");
    t.config.set_secret("API_PASSWORD", "hunter2-secret");
    let t = srv.store.create_runtemplate(&t).await.unwrap();
    let page = get_ok(&srv, &format!("/runtemplates/{}", t.id), &srv.admin_token).await;
    let words = t.schedule().unwrap().describe();
    assert!(page.contains(&words), "{words} in {page}");
    assert_eq!(page.matches("<li><time datetime=").count(), 5, "{page}");
    assert!(
        page.contains("REPORT_KIND") && page.contains("daily"),
        "{page}"
    );
    assert!(page.contains("API_PASSWORD"), "{page}");
    assert!(!page.contains("hunter2-secret"), "{page}");
    let list = get_ok(&srv, "/runtemplates", &srv.admin_token).await;
    assert!(list.contains(&words), "{list}");
}

#[tokio::test]
async fn live_output_of_an_unfinished_job() {
    use multiflexi_core::store::{OutputChunk, OutputLog, Stream};
    let srv = server::start().await;
    let acme = company(&srv.store, "Acme").await;
    let t = template(&srv.store, &acme, App::new("talker", "/bin/true"), "talker").await;
    let job = job_of(&srv.store, &t).await;
    let chunk = |seq, stream, bytes: &[u8]| OutputChunk {
        job_id: job.id,
        seq,
        stream,
        bytes: bytes.to_vec(),
    };
    // "ž" split across two chunks, and markup that must be escaped.
    let lease = lease_of(&srv.store, &job).await;
    srv.store
        .append_output(
            lease,
            &[
                chunk(1, Stream::Stdout, b"<i>one</i> \xc5"),
                chunk(2, Stream::Stdout, b"\xbe\n"),
                chunk(3, Stream::Stderr, b"oops\n"),
            ],
        )
        .await
        .unwrap();
    let page = get_ok(&srv, &format!("/jobs/{}", job.id), &srv.admin_token).await;
    assert!(page.contains("data-after=\"3\""), "{page}");
    assert!(page.contains("&lt;i&gt;one&lt;/i&gt; ž\n"), "{page}");
    assert!(
        page.contains("<span class=\"stderr\">oops\n</span>"),
        "{page}"
    );
    let r = get(
        &srv,
        &format!("/jobs/{}/output?after=2", job.id),
        Some(&srv.admin_token),
    )
    .await;
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        v["chunks"],
        serde_json::json!([{ "seq": 3, "stream": "stderr", "text": "oops\n" }])
    );
}

// ---------------------------------------------------------------------------------------------
// The browser test.

fn integration_required() -> bool {
    std::env::var("MULTIFLEXI_REQUIRE_INTEGRATION").as_deref() == Ok("1")
}

/// chromedriver and chromium from the environment; `None` (skip) when unset, a failure when
/// integration tests are required.
fn browser_paths() -> Option<(String, String)> {
    match std::env::var("MULTIFLEXI_TEST_CHROMEDRIVER") {
        Ok(driver) if !driver.is_empty() => {
            let chromium = std::env::var("MULTIFLEXI_TEST_CHROMIUM")
                .ok()
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| "/usr/bin/chromium".into());
            Some((driver, chromium))
        }
        _ => {
            assert!(
                !integration_required(),
                "MULTIFLEXI_TEST_CHROMEDRIVER is not set and MULTIFLEXI_REQUIRE_INTEGRATION=1: \
                 run scripts/services/chromium.sh and export what it prints"
            );
            println!(
                "skipping the browser test: MULTIFLEXI_TEST_CHROMEDRIVER is not set \
                 (run scripts/services/chromium.sh)"
            );
            None
        }
    }
}

/// chromedriver on a free port; killed when dropped.
struct Chromedriver {
    child: std::process::Child,
    port: u16,
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_chromedriver(path: &str, log: &std::path::Path) -> Chromedriver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(path)
        .arg(format!("--port={port}"))
        .arg(format!("--log-path={}", log.display()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {path}: {e}"));
    let driver = Chromedriver { child, port };
    wait_for("chromedriver to listen", || async move {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
            .map(|_| ())
    })
    .await;
    driver
}

/// What the "Execute now" job prints: bytes the page must escape, and UTF-8.
const HELLO: &str =
    "hello from the dashboard test\n<b>not bold</b> & \"quoted\"\nžluťoučký kůň ✓\n";

fn screenshot_dir() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("screenshots")
}

fn save_screenshot(name: &str, png: &[u8]) {
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, png).unwrap();
    println!("screenshot: {}", path.display());
    // Refreshes the README's pictures (overview and job) on request.
    if [
        "overview.png",
        "job.png",
        "trends-template.png",
        "trends-overview.png",
    ]
    .contains(&name)
        && std::env::var("MULTIFLEXI_UPDATE_SCREENSHOTS").as_deref() == Ok("1")
    {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::copy(&path, docs.join(name)).unwrap();
        println!("copied to {}", docs.join(name).display());
    }
}

async fn wait_job(store: &SqlStore, id: JobId, phase: Phase) -> Job {
    wait_for(&format!("job {id} to reach {phase}"), || async move {
        let j = store.get_job(id).await.unwrap();
        (j.phase == phase).then_some(j)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_executes_a_template_and_downloads_stdout() {
    use fantoccini::{ClientBuilder, Locator};

    let Some((driver_path, chromium)) = browser_paths() else {
        return;
    };
    let (srv, _engine) = server::start_with_engine().await;
    let store = &srv.store;
    let acme = company(store, "Acme s.r.o.").await;
    let hello_app = App::new("Hello printer", "/usr/bin/printf")
        .with_cmdparams(format!("'%s' '{}'", HELLO.replace('\'', "'\\''")));
    let hello = template(store, &acme, hello_app, "Say hello").await;
    let mut warn_app = App::new("Warner", "/usr/bin/false");
    warn_app.exit_codes.insert(
        1,
        multiflexi_core::model::ExitCodeInfo::new("nothing new to import", false),
    );
    let warn = template(store, &acme, warn_app, "Import statements").await;
    let failing = template(
        store,
        &acme,
        App::new("Lister", "/bin/ls").with_cmdparams("/nonexistent-multiflexi-path"),
        "List a missing folder",
    )
    .await;
    let missing = template(
        store,
        &acme,
        App::new("Ghost", "/nonexistent/multiflexi-ghost"),
        "Run a missing program",
    )
    .await;
    let slow = template(
        store,
        &acme,
        App::new("Slow printer", "/usr/bin/perl").with_cmdparams(
            "-e '$|=1; print qq(first line\\n); sleep 3; print qq(second line\\n)'",
        ),
        "Print slowly",
    )
    .await;
    let mut hourly = RunTemplate::new(hello.app_id, acme.id, "Hourly hello")
        .with_cron("15 * * * *")
        .with_timezone("Europe/Prague");
    hourly.active = false;
    let hourly = store.create_runtemplate(&hourly).await.unwrap();
    // A template whose app declares a plain field and a secret one, for "Execute now with
    // overrides".
    use multiflexi_core::model::{EnvFieldDef, EnvFieldType};
    let greeter = store
        .put_app(
            &App::new("Greeter", "/bin/true")
                .with_field(EnvFieldDef::new("GREETING", EnvFieldType::String).with_default("hi"))
                .with_field(EnvFieldDef::new("API_TOKEN", EnvFieldType::Password))
                .with_field(EnvFieldDef::new("LANG_CODE", EnvFieldType::String)),
        )
        .await
        .unwrap();
    let mut greet = RunTemplate::new(greeter.id, acme.id, "Greet with overrides");
    greet.config.set("GREETING", "from the template");
    greet.config.set_secret("API_TOKEN", "stored-TOKEN-value");
    let greet = store.create_runtemplate(&greet).await.unwrap();
    let greet_again = store
        .create_runtemplate(&RunTemplate::new(greeter.id, acme.id, "Greet again"))
        .await
        .unwrap();
    // Jobs with other outcomes, for the overview's colours.
    let mut expected: Vec<(JobId, &str, &str)> = Vec::new();
    for (t, status, colour) in [
        (&warn, "warning", "bg-warning"),
        (&failing, "failed", "bg-danger"),
        (&missing, "not_found", "bg-primary"),
    ] {
        let j = job_of(store, t).await;
        expected.push((j.id, status, colour));
    }
    for (id, status, _) in &expected {
        let j = wait_job(store, *id, Phase::Preserved).await;
        assert_eq!(j.status(), *status, "{j:?}");
    }

    let work = tempfile::tempdir().unwrap();
    let driver = start_chromedriver(&driver_path, &work.path().join("chromedriver.log")).await;
    let profile = work.path().join("profile");
    let downloads = work.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,1000", "--hide-scrollbars",
                format!("--user-data-dir={}", profile.display()),
            ],
            "prefs": {
                "download.default_directory": downloads.display().to_string(),
                "download.prompt_for_download": false,
            },
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let browser = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .unwrap_or_else(|e| panic!("cannot start a Chromium session: {e}"));

    let outcome = async {
        // Not signed in: the sign-in page.
        browser.goto(&format!("{}/", srv.base)).await?;
        let url = browser.current_url().await?;
        assert_eq!(url.path(), "/login", "{url}");
        browser
            .find(Locator::Css("#token"))
            .await?
            .send_keys(&srv.admin_token)
            .await?;
        browser
            .find(Locator::Css("form[action='/login'] button[type=submit]"))
            .await?
            .click()
            .await?;
        // Wait for an element only the overview has: the sign-in page's own h1 would be found
        // before the navigation and then go stale.
        browser.wait().for_element(Locator::Css("#recent")).await?;
        let h1 = browser.find(Locator::Css("h1")).await?;
        assert_eq!(h1.text().await?, "Overview");
        assert_eq!(browser.current_url().await?.path(), "/");
        for (id, status, colour) in &expected {
            let badge = browser
                .find(Locator::Css(&format!(
                    "#recent + table tr[data-job-id='{id}'] .badge"
                )))
                .await?;
            let class = badge.attr("class").await?.unwrap_or_default();
            assert!(class.split(' ').any(|c| c == *colour), "job {id}: {class}");
            assert!(badge.text().await?.starts_with(&status.replace('_', " ")));
        }

        // Execute now with overrides, from the template's page: the fields are prefilled, the
        // secret is not on the page; override one field, leave the secret empty.
        browser
            .goto(&format!("{}/runtemplates/{}", srv.base, greet.id))
            .await?;
        let greeting = browser
            .wait()
            .for_element(Locator::Css("#overrides-form input[name='env.GREETING']"))
            .await?;
        assert_eq!(
            greeting.prop("value").await?.as_deref(),
            Some("from the template")
        );
        let token = browser
            .find(Locator::Css("#overrides-form input[name='env.API_TOKEN']"))
            .await?;
        assert_eq!(token.attr("type").await?.as_deref(), Some("password"));
        assert_eq!(token.prop("value").await?.as_deref(), Some(""));
        assert!(!browser.source().await?.contains("stored-TOKEN-value"));
        // Admins choose the executor.
        browser
            .find(Locator::Css("#overrides-form select[name='executor']"))
            .await?;
        greeting.clear().await?;
        greeting.send_keys("from the dashboard").await?;
        browser
            .find(Locator::Css(&format!(
                "button[data-execute-with='{}']",
                greet.id
            )))
            .await?
            .click()
            .await?;
        let greet_job: i64 = wait_for("the overridden job's page", || async {
            browser
                .find(Locator::Css("article#job"))
                .await
                .ok()?
                .attr("data-job-id")
                .await
                .ok()??
                .parse()
                .ok()
        })
        .await;
        let job = store.get_job(JobId(greet_job)).await.unwrap();
        assert_eq!(job.runtemplate_id, greet.id);
        assert_eq!(job.spec.env.get("GREETING"), Some("from the dashboard"));
        assert_eq!(job.spec.env.get("API_TOKEN"), Some("stored-TOKEN-value"));
        assert!(
            job.spec.env.0["API_TOKEN"].secret,
            "the secret stays secret"
        );
        assert!(
            !browser.source().await?.contains("stored-TOKEN-value"),
            "the job page masks the secret"
        );

        // Several templates at once from the list: tick two, one button.
        browser.goto(&format!("{}/runtemplates", srv.base)).await?;
        for t in [&greet, &greet_again] {
            browser
                .wait()
                .for_element(Locator::Css(&format!(
                    "input[type=checkbox][name='t.{}']",
                    t.id
                )))
                .await?
                .click()
                .await?;
        }
        browser
            .find(Locator::Css("button[data-bulk-execute]"))
            .await?
            .click()
            .await?;
        browser
            .wait()
            .for_element(Locator::Css("#executed"))
            .await?;
        for t in [&greet, &greet_again] {
            let li = browser
                .find(Locator::Css(&format!(
                    "#executed li[data-template-id='{}']",
                    t.id
                )))
                .await?;
            let id: i64 = li
                .attr("data-job-id")
                .await?
                .unwrap_or_default()
                .parse()
                .unwrap();
            assert_eq!(store.get_job(JobId(id)).await.unwrap().runtemplate_id, t.id);
        }

        // Several templates at once with overrides of their own: tick two, "with overrides",
        // one section per template (prefilled, the secret not on the page), one button.
        browser.goto(&format!("{}/runtemplates", srv.base)).await?;
        for t in [&greet, &greet_again] {
            browser
                .wait()
                .for_element(Locator::Css(&format!(
                    "input[type=checkbox][name='t.{}']",
                    t.id
                )))
                .await?
                .click()
                .await?;
        }
        browser
            .find(Locator::Css("button[data-bulk-overrides]"))
            .await?
            .click()
            .await?;
        let field =
            |t: &RunTemplate, name: &str| format!("#bulk-overrides [name='t.{}.{name}']", t.id);
        let greeting = browser
            .wait()
            .for_element(Locator::Css(&field(&greet, "env.GREETING")))
            .await?;
        assert_eq!(
            greeting.prop("value").await?.as_deref(),
            Some("from the template")
        );
        let token = browser
            .find(Locator::Css(&field(&greet, "env.API_TOKEN")))
            .await?;
        assert_eq!(token.attr("type").await?.as_deref(), Some("password"));
        assert_eq!(token.prop("value").await?.as_deref(), Some(""));
        assert!(!browser.source().await?.contains("stored-TOKEN-value"));
        assert_eq!(
            browser
                .find(Locator::Css(&field(&greet_again, "env.GREETING")))
                .await?
                .prop("value")
                .await?
                .as_deref(),
            Some("hi"),
            "the app's default"
        );
        greeting.clear().await?;
        greeting.send_keys("bulk hello").await?;
        browser
            .find(Locator::Css(&field(&greet_again, "env.LANG_CODE")))
            .await?
            .send_keys("cs")
            .await?;
        let when = browser
            .find(Locator::Css(&field(&greet_again, "schedule_time")))
            .await?;
        when.clear().await?;
        when.send_keys("2031-01-02T03:04:05Z").await?;
        browser
            .find(Locator::Css("button[data-bulk-execute-with]"))
            .await?
            .click()
            .await?;
        browser
            .wait()
            .for_element(Locator::Css("#executed"))
            .await?;
        let mut made = Vec::new();
        for t in [&greet, &greet_again] {
            let id: i64 = browser
                .find(Locator::Css(&format!(
                    "#executed li[data-template-id='{}']",
                    t.id
                )))
                .await?
                .attr("data-job-id")
                .await?
                .unwrap_or_default()
                .parse()
                .unwrap();
            made.push(store.get_job(JobId(id)).await.unwrap());
        }
        assert_eq!(made[0].runtemplate_id, greet.id);
        assert_eq!(made[0].spec.env.get("GREETING"), Some("bulk hello"));
        assert_eq!(
            made[0].spec.env.get("API_TOKEN"),
            Some("stored-TOKEN-value")
        );
        assert!(made[0].spec.env.0["API_TOKEN"].secret);
        assert_eq!(made[1].runtemplate_id, greet_again.id);
        assert_eq!(made[1].spec.env.get("LANG_CODE"), Some("cs"));
        assert_eq!(made[1].spec.env.get("GREETING"), Some("hi"));
        assert_eq!(made[1].after.to_rfc3339(), "2031-01-02T03:04:05+00:00");

        // Execute now from the run templates page.
        browser
            .find(Locator::Css("nav a[href='/runtemplates']"))
            .await?
            .click()
            .await?;
        let execute = browser
            .wait()
            .for_element(Locator::Css(&format!(
                "button[data-execute='{}']",
                hello.id
            )))
            .await?;
        save_screenshot("templates.png", &browser.screenshot().await?);
        execute.click().await?;
        // The job page reloads itself when the job ends, which can happen between finding the
        // article and reading it: read until one read succeeds.
        let job_id: i64 = wait_for("the new job's page", || async {
            browser
                .find(Locator::Css("article#job"))
                .await
                .ok()?
                .attr("data-job-id")
                .await
                .ok()??
                .parse()
                .ok()
        })
        .await;
        assert_eq!(
            browser.current_url().await?.path(),
            format!("/jobs/{job_id}")
        );

        // Follow it to Preserved on its page (the script reloads it when the job ends).
        let started = Instant::now();
        let mut last_refresh = Instant::now();
        loop {
            // The page's script may reload it between finding the element and reading it (a
            // stale element): that read just counts as "not yet".
            let phase = match browser.find(Locator::Css("article#job")).await {
                Ok(article) => article
                    .attr("data-phase")
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
                Err(_) => String::new(),
            };
            if phase == "preserved" {
                break;
            }
            assert!(started.elapsed() < LIMIT, "job {job_id} stuck in {phase}");
            if last_refresh.elapsed() > Duration::from_secs(10) {
                browser.refresh().await?;
                last_refresh = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let job = store.get_job(JobId(job_id)).await.unwrap();
        assert_eq!(job.trigger, Trigger::Manual);
        assert_eq!(job.phase, Phase::Preserved);
        let badge = browser.find(Locator::Css("#job h1 .badge")).await?;
        let class = badge.attr("class").await?.unwrap_or_default();
        assert!(class.split(' ').any(|c| c == "bg-success"), "{class}");
        assert_eq!(badge.text().await?, "success (0)");
        let timeline = browser
            .find_all(Locator::Css("#timeline li.done, #timeline li.current"))
            .await?;
        assert_eq!(timeline.len(), 6, "all six phases reached");
        let shown = browser
            .find(Locator::Css("pre#stdout"))
            .await?
            .text()
            .await?;
        assert_eq!(shown.trim_end(), HELLO.trim_end());
        // Tall enough to show the artifacts with their download buttons.
        browser.set_window_size(1280, 1450).await?;
        let png = browser.screenshot().await?;
        save_screenshot("job.png", &png);
        browser.set_window_size(1280, 1000).await?;

        // Download stdout.txt with the browser's own session cookie: byte-exact.
        let link = browser
            .find(Locator::Css("a[data-artifact='stdout.txt']"))
            .await?;
        let href = link.prop("href").await?.unwrap_or_default();
        let cookie = browser.get_named_cookie("mfx_session").await?;
        assert_eq!(cookie.http_only(), Some(true));
        let r = client()
            .get(&href)
            .header(COOKIE, format!("mfx_session={}", cookie.value()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[CONTENT_TYPE], "text/plain");
        assert!(
            r.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment; filename=\"stdout.txt\"")
        );
        assert_eq!(r.bytes().await.unwrap().as_ref(), HELLO.as_bytes());
        // And through the download button, into Chromium's download folder.
        link.click().await?;
        let saved = downloads.join("stdout.txt");
        let bytes = wait_for("stdout.txt in the download folder", || {
            let saved = saved.clone();
            async move { std::fs::read(&saved).ok().filter(|b| !b.is_empty()) }
        })
        .await;
        assert_eq!(bytes, HELLO.as_bytes());

        // The overview again, with the new job at the top, for the README.
        browser.goto(&format!("{}/", srv.base)).await?;
        let badge = browser
            .find(Locator::Css(&format!(
                "#recent + table tr[data-job-id='{job_id}'] .badge"
            )))
            .await?;
        assert!(
            badge
                .attr("class")
                .await?
                .unwrap_or_default()
                .contains("bg-success")
        );
        let png = browser.screenshot().await?;
        save_screenshot("overview.png", &png);

        // A job that prints, waits, then prints again: its page follows the output live.
        browser
            .goto(&format!("{}/runtemplates/{}", srv.base, slow.id))
            .await?;
        browser
            .find(Locator::Css(&format!("button[data-execute='{}']", slow.id)))
            .await?
            .click()
            .await?;
        browser
            .wait()
            .for_element(Locator::Css("article#job"))
            .await?;
        let live = wait_for("the first line in the live tail", || async {
            let text = browser
                .find(Locator::Css("#live-output"))
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            text.contains("first line").then_some(text)
        })
        .await;
        assert!(!live.contains("second line"), "{live}");
        let stdout = wait_for("the slow job's page to show it preserved", || async {
            let phase = browser
                .find(Locator::Css("article#job"))
                .await
                .ok()?
                .attr("data-phase")
                .await
                .ok()??;
            if phase != "preserved" {
                return None;
            }
            browser
                .find(Locator::Css("pre#stdout"))
                .await
                .ok()?
                .text()
                .await
                .ok()
        })
        .await;
        assert_eq!(stdout, "first line\nsecond line");

        // Every page: a heading, and every form field has a label.
        let pages = [
            "/".to_string(),
            "/jobs".to_string(),
            "/runtemplates".to_string(),
            format!("/runtemplates/{}", hourly.id),
            format!("/runtemplates/{}", greet.id),
            "/apps".to_string(),
            format!("/apps/{}", hello.app_id),
            "/companies".to_string(),
            format!("/jobs/{job_id}"),
        ];
        for (i, path) in pages.iter().enumerate() {
            browser.goto(&format!("{}{path}", srv.base)).await?;
            let unlabelled = browser
                .execute(
                    "return Array.from(document.querySelectorAll(\
                     'input:not([type=hidden]), select, textarea'))\
                     .filter(e => e.labels.length === 0).map(e => e.name);",
                    vec![],
                )
                .await?;
            assert_eq!(unlabelled, serde_json::json!([]), "{path}");
            assert_eq!(
                browser.find_all(Locator::Css("h1")).await?.len(),
                1,
                "{path}"
            );
            assert_eq!(
                browser
                    .find(Locator::Css("html"))
                    .await?
                    .attr("lang")
                    .await?
                    .as_deref(),
                Some("en")
            );
            save_screenshot(&format!("review-{i}.png"), &browser.screenshot().await?);
        }

        // Sign out: back to the sign-in page, and pages redirect there again.
        browser
            .find(Locator::Css("form[action='/logout'] button"))
            .await?
            .click()
            .await?;
        browser.wait().for_element(Locator::Css("#token")).await?;
        browser.goto(&format!("{}/jobs", srv.base)).await?;
        assert_eq!(browser.current_url().await?.path(), "/login");
        Ok::<(), fantoccini::error::CmdError>(())
    }
    .await;
    let _ = browser.close().await;
    drop(driver);
    if let Err(e) = outcome {
        panic!(
            "browser test failed: {e}\nchromedriver log:\n{}",
            std::fs::read_to_string(work.path().join("chromedriver.log"))
                .unwrap_or_default()
                .lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[tokio::test]
async fn retention_page_shows_the_policies_to_admins_only() {
    use multiflexi_core::model::{RetentionPolicy, RetentionScope};
    use multiflexi_core::store::RetentionPolicies as _;
    let srv = server::start().await;
    let acme = company(&srv.store, "Acme").await;
    let page = get_ok(&srv, "/retention", &srv.admin_token).await;
    assert!(
        page.contains("nothing is ever deleted automatically"),
        "{page}"
    );
    let mut p = RetentionPolicy::new(
        RetentionScope::Company {
            company_id: acme.id,
        },
        14,
    );
    p.artifacts_only = true;
    srv.store.put_retention_policy(&p).await.unwrap();
    let page = get_ok(&srv, "/retention", &srv.admin_token).await;
    assert!(page.contains(&format!("company:{}", acme.id)), "{page}");
    assert!(
        page.contains("14 days") && page.contains("output and artifacts"),
        "{page}"
    );
    assert!(
        page.contains(r#"href="/retention""#),
        "admins see the entry"
    );

    let token = srv
        .store
        .create_token("acme-ops", TokenScope::Company(acme.id))
        .await
        .unwrap()
        .secret;
    let r = get(&srv, "/retention", Some(&token)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let overview = get_ok(&srv, "/", &token).await;
    assert!(
        !overview.contains(r#"href="/retention""#),
        "no entry for a company token"
    );
}

/// The template page's actions form: sets both lists (the webhook secret shown as `***` after,
/// and `***` sent back keeps it); bad JSON and a bad action are refused with the field named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_page_sets_actions_after_completion() {
    let srv = server::start().await;
    let acme = company(&srv.store, "Acme").await;
    let t = template(&srv.store, &acme, App::new("echo", "/bin/echo"), "echo").await;
    let session = session_cookie(&srv.admin_token);
    let page = get_ok(&srv, &format!("/runtemplates/{}", t.id), &srv.admin_token).await;
    assert!(page.contains("id=\"actions-form\""), "{page}");
    let csrf = csrf_of(&page);
    let path = format!("/runtemplates/{}/actions", t.id);
    let hook = r#"[{"kind":"webhook","url":"https://hooks.example/h","secret":"dash-SECRET"}]"#;
    let r = post(
        &srv,
        &path,
        Some(&session),
        None,
        &[("csrf", &csrf), ("on_success", ""), ("on_failure", hook)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let stored = srv.store.get_runtemplate(t.id).await.unwrap();
    assert_eq!(stored.on_failure.len(), 1);
    let page = get_ok(&srv, &format!("/runtemplates/{}", t.id), &srv.admin_token).await;
    assert!(!page.contains("dash-SECRET"), "the secret is not shown");
    assert!(page.contains("hooks.example"), "{page}");
    // Saving the form as shown keeps the secret.
    let shown = r#"[{"kind":"webhook","url":"https://hooks.example/h","secret":"***"}]"#;
    let r = post(
        &srv,
        &path,
        Some(&session),
        None,
        &[("csrf", &csrf), ("on_success", "[]"), ("on_failure", shown)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(srv.store.get_runtemplate(t.id).await.unwrap(), stored);
    for (bad, says) in [
        ("{nope", "on_failure"),
        (r#"[{"kind":"webhook","url":"x"}]"#, "on_failure[0].url"),
    ] {
        let r = post(
            &srv,
            &path,
            Some(&session),
            None,
            &[("csrf", &csrf), ("on_success", "[]"), ("on_failure", bad)],
        )
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body = r.text().await.unwrap();
        assert!(body.contains(says), "{bad}: {body}");
    }
}

#[tokio::test]
async fn execute_with_overrides_refuses_bad_input_naming_the_field() {
    use multiflexi_core::model::{EnvFieldDef, EnvFieldType};
    let srv = server::start().await;
    let acme = company(&srv.store, "Acme").await;
    let mut app = App::new("echo", "/bin/echo")
        .with_field(EnvFieldDef::new("GREETING", EnvFieldType::String).with_default("hi"));
    app.ociimage = Some("multiflexi-test/busybox:local".into());
    let t = template(&srv.store, &acme, app, "echo").await;
    let session = session_cookie(&srv.admin_token);
    let page = get_ok(&srv, &format!("/runtemplates/{}", t.id), &srv.admin_token).await;
    assert!(page.contains("name=\"env.GREETING\""), "{page}");
    assert!(
        page.contains("value=\"hi\""),
        "the app's default prefilled: {page}"
    );
    let csrf = csrf_of(&page);
    let path = format!("/runtemplates/{}/execute-with", t.id);
    for (fields, says) in [
        (vec![("env.NOPE", "x")], "env.NOPE"),
        (vec![("schedule_time", "tomorrow-ish")], "tomorrow-ish"),
        (vec![("executor", "Teleport")], "executor"),
        (vec![("colour", "red")], "colour"),
    ] {
        let mut with = fields.clone();
        with.push(("csrf", &csrf));
        let r = post(&srv, &path, Some(&session), None, &with).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{fields:?}");
        let body = r.text().await.unwrap();
        assert!(body.contains(says), "{fields:?}: {body}");
    }
    assert!(
        srv.store
            .list_jobs(&JobFilter::default())
            .await
            .unwrap()
            .is_empty(),
        "no job for bad input"
    );
    // Nothing ticked in the list.
    let r = post(
        &srv,
        "/runtemplates/execute",
        Some(&session),
        None,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("No run template selected"));
    // The selected templates' overrides form: one section per template, prefilled; bad fields
    // refuse the whole form, naming the field; nothing is executed by them.
    let sel = format!("t.{}", t.id);
    let r = post(
        &srv,
        "/runtemplates/execute-form",
        Some(&session),
        None,
        &[("csrf", &csrf), (sel.as_str(), "on")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let form = r.text().await.unwrap();
    assert!(
        form.contains(&format!("name=\"t.{}.env.GREETING\" value=\"hi\"", t.id)),
        "{form}"
    );
    assert!(
        form.contains(&format!("name=\"t.{}.executor\"", t.id)),
        "{form}"
    );
    let nope = format!("t.{}.env.NOPE", t.id);
    let colour = format!("t.{}.colour", t.id);
    let unselected = format!("t.{}.env.GREETING", t.id.0 + 1000);
    let when = format!("t.{}.schedule_time", t.id);
    for (fields, says) in [
        (
            vec![(sel.as_str(), "on"), (nope.as_str(), "x")],
            nope.as_str(),
        ),
        (
            vec![(sel.as_str(), "on"), (colour.as_str(), "red")],
            colour.as_str(),
        ),
        (
            vec![(sel.as_str(), "on"), (unselected.as_str(), "x")],
            "is not selected",
        ),
        (
            vec![(sel.as_str(), "on"), (when.as_str(), "tomorrow-ish")],
            "tomorrow-ish",
        ),
    ] {
        let mut with = fields.clone();
        with.push(("csrf", &csrf));
        let r = post(&srv, "/runtemplates/execute", Some(&session), None, &with).await;
        let status = r.status();
        let body = r.text().await.unwrap();
        assert!(body.contains(says), "{fields:?}: {body}");
        if says != "tomorrow-ish" {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{fields:?}");
        }
    }
    assert!(
        srv.store
            .list_jobs(&JobFilter::default())
            .await
            .unwrap()
            .is_empty(),
        "no job for bad input"
    );
    // A time the use case refuses is that template's "not executed" line; a good one runs.
    let greeting = format!("t.{}.env.GREETING", t.id);
    let r = post(
        &srv,
        "/runtemplates/execute",
        Some(&session),
        None,
        &[
            ("csrf", &csrf),
            (sel.as_str(), "on"),
            (greeting.as_str(), "bulk"),
            (when.as_str(), "2031-01-02T03:04:05Z"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.text().await.unwrap();
    assert!(body.contains("data-job-id"), "{body}");
    let jobs = srv.store.list_jobs(&JobFilter::default()).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].spec.env.get("GREETING"), Some("bulk"));
    assert_eq!(jobs[0].after.to_rfc3339(), "2031-01-02T03:04:05+00:00");
    let bulk_job = jobs[0].id;
    // An admin chooses the executor and the time; unchanged fields are not overrides.
    let r = post(
        &srv,
        &path,
        Some(&session),
        None,
        &[
            ("csrf", &csrf),
            ("env.GREETING", "hi"),
            ("executor", "Docker"),
            ("schedule_time", "2031-01-02T03:04:05Z"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let jobs = srv.store.list_jobs(&JobFilter::default()).await.unwrap();
    assert_eq!(jobs.len(), 2);
    let job = jobs.iter().find(|j| j.id != bulk_job).unwrap();
    assert_eq!(job.executor.as_str(), "Docker");
    assert_eq!(job.after.to_rfc3339(), "2031-01-02T03:04:05+00:00");
    assert_eq!(job.spec.env.get("GREETING"), Some("hi"));
}
