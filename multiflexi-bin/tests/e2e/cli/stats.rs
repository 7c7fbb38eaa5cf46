//! `job:stats` (issue 25): a template's and an app's aggregates equal the jobs' own records
//! (`job:get`); bad input gets one clear line.

use super::{Env, contains_all, run_job_in_process, setup_echo};
use serde_json::Value;

fn run_seconds(env: &Env, job: i64) -> f64 {
    let j = env.json(&["job:get", &job.to_string()]);
    j["timings"]["run_seconds"]
        .as_f64()
        .unwrap_or_else(|| panic!("job {job} ran: {j}"))
}

#[test]
fn job_stats_equal_the_jobs_records_and_refuse_bad_input() {
    let env = Env::new();
    let (app, _, template) = setup_echo(&env);
    let t = template.to_string();
    let mut jobs = Vec::new();
    for (exit, out) in [(0, &b"ok\n"[..]), (1, b"meh\n"), (0, b"ok again\n")] {
        let id = env.json(&["job:create", "--template", &t, "--env", "GREETING=hi"])["id"]
            .as_i64()
            .unwrap();
        run_job_in_process(&env, id, exit, out);
        jobs.push(id);
    }
    // Not finished: not counted.
    env.json(&["job:create", "--template", &t, "--env", "GREETING=later"]);

    let s: Value = env.json(&["job:stats", "--template", &t, "--days", "7", "--last", "2"]);
    assert_eq!(s["runtemplate_id"], template, "{s}");
    assert_eq!(s["name"], "greet", "{s}");
    assert_eq!(s["days"], 7, "{s}");
    assert_eq!(s["jobs"], 3, "{s}");
    assert_eq!(s["by_outcome"]["success"], 2, "{s}");
    assert_eq!(s["by_outcome"]["warning"], 1, "{s}");
    assert_eq!(s["by_exitcode"]["0"], 2, "{s}");
    assert_eq!(s["by_exitcode"]["1"], 1, "{s}");
    let mut runs: Vec<f64> = jobs.iter().map(|j| run_seconds(&env, *j)).collect();
    runs.sort_by(f64::total_cmp);
    let d = &s["duration_seconds"];
    assert_eq!(d["count"], 3, "{s}");
    assert!(
        (d["p50"].as_f64().unwrap() - runs[1]).abs() < 1e-6,
        "{s} vs {runs:?}"
    );
    // p90 of three: 0.9·2 = 1.8 → between the 2nd and the 3rd.
    let p90 = runs[1] + (runs[2] - runs[1]) * 0.8;
    assert!(
        (d["p90"].as_f64().unwrap() - p90).abs() < 1e-6,
        "{s} vs {runs:?}"
    );
    assert_eq!(s["queue_wait_seconds"]["count"], 3, "{s}");
    let per_day = s["per_day"].as_array().unwrap();
    let summed: i64 = per_day.iter().map(|d| d["jobs"].as_i64().unwrap()).sum();
    assert_eq!(summed, 3, "{s}");
    let last: Vec<i64> = s["last"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(last, [jobs[2], jobs[1]], "newest first: {s}");

    // The app's view counts the same jobs; the text form names the numbers.
    let a = env.json(&["job:stats", "--app", &app.to_string()]);
    assert_eq!(a["app_id"], app, "{a}");
    assert_eq!(a["jobs"], 3, "{a}");
    let text = env.ok(&["job:stats", "--template", &t]);
    contains_all(&text, &["jobs", "3", "success 2", "warning 1", "p50"]);

    // Bad input: one line naming the field and what is allowed; no subject is a usage error.
    contains_all(
        &env.fails(&["job:stats", "--template", &t, "--days", "0"]),
        &["days", "1 to 366"],
    );
    contains_all(
        &env.fails(&["job:stats", "--template", &t, "--last", "5000"]),
        &["last", "0 to 1000"],
    );
    contains_all(&env.fails(&["job:stats", "--template", "999"]), &["999"]);
    contains_all(&env.fails(&["job:stats", "--template", "x"]), &["x"]);
    assert_eq!(env.run(&["job:stats"]).code, 2);
}
