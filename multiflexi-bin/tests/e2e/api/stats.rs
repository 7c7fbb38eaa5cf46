//! `GET /runtemplate/{id}/stats` and `GET /app/{id}/stats` (issue 25): the counts are the
//! jobs' own, a company token sees only its own template and its own company's jobs of a shared
//! app, and bad queries are 400 naming the parameter.

use super::{Api, Outcome, StatusCode};
use multiflexi_core::JobId;
use multiflexi_core::store::JobQueue;

#[tokio::test]
async fn stats_count_the_jobs_per_tenant_and_refuse_bad_queries() {
    let api = Api::start().await;
    let (app, a, ta) = api.fixture("Stats A").await;
    let b = api.company("Stats B").await;
    let tb = api.template(app, b, "B runs the same app").await;
    for (t, outcome, code) in [
        (ta, Outcome::Success, 0),
        (ta, Outcome::Failed, 3),
        (tb, Outcome::Success, 0),
    ] {
        api.job(t).await;
        let leases = api.run_due().await;
        assert_eq!(leases.len(), 1);
        api.finish(leases[0], outcome, code, b"out\n").await;
    }

    let r = api
        .get(&format!("/runtemplate/{ta}/stats?days=7&last=5"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let s = &r.json;
    assert_eq!(s["runtemplate_id"], ta, "{s}");
    assert_eq!(s["jobs"], 2, "{s}");
    assert_eq!(s["by_outcome"]["success"], 1, "{s}");
    assert_eq!(s["by_outcome"]["failed"], 1, "{s}");
    assert_eq!(s["by_exitcode"]["3"], 1, "{s}");
    let last = s["last"].as_array().unwrap();
    assert_eq!(last.len(), 2, "{s}");
    for p in last {
        let job = api
            .srv
            .store
            .get_job(JobId(p["id"].as_i64().unwrap()))
            .await
            .unwrap();
        let run = (job.end.unwrap() - job.begin.unwrap())
            .num_microseconds()
            .unwrap() as f64
            / 1e6;
        assert!(
            (p["duration_seconds"].as_f64().unwrap() - run).abs() < 1e-6,
            "{p}"
        );
        assert_eq!(p["exitcode"], job.exitcode.unwrap(), "{p}");
    }

    // The app: every company's jobs for the admin, its own for a company token.
    let r = api.get(&format!("/app/{app}/stats")).await;
    assert_eq!(
        (r.status, &r.json["jobs"]),
        (StatusCode::OK, &serde_json::json!(3)),
        "{}",
        r.json
    );
    let token = api.company_token(a, "stats-a").await;
    let r = api.get_as(&token, &format!("/app/{app}/stats")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["jobs"], 2, "{}", r.json);
    assert_eq!(r.json["company_id"], a, "{}", r.json);
    let r = api
        .get_as(&token, &format!("/runtemplate/{ta}/stats"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let r = api
        .get_as(&token, &format!("/runtemplate/{tb}/stats"))
        .await;
    r.assert_error(StatusCode::NOT_FOUND, None);

    // Bad input.
    for (query, field) in [
        ("?days=0", "days"),
        ("?days=367", "days"),
        ("?days=x", "days"),
        ("?last=1001", "last"),
        ("?colour=red", "colour"),
    ] {
        let r = api.get(&format!("/runtemplate/{ta}/stats{query}")).await;
        r.assert_error(StatusCode::BAD_REQUEST, Some(field));
    }
    api.get("/runtemplate/abc/stats")
        .await
        .assert_error(StatusCode::BAD_REQUEST, None);
    api.get("/runtemplate/999999/stats")
        .await
        .assert_error(StatusCode::NOT_FOUND, None);
    api.get("/app/999999/stats")
        .await
        .assert_error(StatusCode::NOT_FOUND, None);
    let r = api
        .send(
            reqwest::Method::GET,
            &format!("/runtemplate/{ta}/stats"),
            None,
            None,
            &[],
        )
        .await;
    r.assert_error(StatusCode::UNAUTHORIZED, None);
}
