//! Upstream's spellings: the global flags `--verbose` / `--no-interaction`, option aliases
//! (`--company_id`, `--company-id`, `--app_id`, `--app_uuid`, `--runtemplate_id`, `--job_id`,
//! `--scheduled`, `--id`) and lookups by `--name` / `--slug` / `--uuid` on `get` commands.

use super::{ECHO_APP, Env, contains_all};

#[test]
fn upstream_flags_aliases_and_lookups() {
    let env = Env::new();
    let app = env.import_app("echo.app.json", ECHO_APP);
    // Global flags anywhere on the line; --verbose raises the log level (stderr only).
    let company = env.json(&[
        "--no-interaction",
        "company:create",
        "--name",
        "Acme s.r.o.",
        "--slug",
        "acme",
        "--verbose",
    ]);
    let company = company["id"].as_i64().unwrap();
    let r = env.run(&["company:list", "-v", "-n", "--format", "json"]);
    assert_eq!(r.code, 0, "{r:#?}");
    serde_json::from_str::<serde_json::Value>(&r.stdout).expect("stdout stays JSON with -v");
    // Lookups.
    for args in [
        vec!["company:get", "--slug", "acme"],
        vec!["company:get", "--name", "Acme s.r.o."],
        vec!["company:get", "--id", &company.to_string()],
    ] {
        assert_eq!(env.json(&args)["id"], company, "{args:?}");
    }
    let uuid = "0f4a1c9e-8e53-4c2f-9a34-5f2b9d0c7e11";
    assert_eq!(env.json(&["application:get", "--uuid", uuid])["id"], app);
    assert_eq!(
        env.json(&["application:get", "--name", "CLI test echo"])["id"],
        app
    );
    // Upstream's option spellings.
    let t = env.json(&[
        "run-template:create",
        "--name",
        "greet",
        "--app_uuid",
        uuid,
        "--company-id",
        &company.to_string(),
    ]);
    assert_eq!(t["app_id"], app);
    assert_eq!(t["company_id"], company);
    let t = t["id"].as_i64().unwrap().to_string();
    let job = env.json(&[
        "job:create",
        "--runtemplate_id",
        &t,
        "--scheduled",
        "2030-01-02T03:04:05Z",
        "--env",
        "GREETING=hi",
    ]);
    assert_eq!(job["after"], "2030-01-02T03:04:05Z", "{job}");
    // The Ansible module's job create: --app_id is checked, --schedule_type accepted.
    env.json(&[
        "job:create",
        "--app_id",
        &app.to_string(),
        "--runtemplate_id",
        &t,
        "--scheduled",
        "now",
        "--executor",
        "Native",
        "--schedule_type",
        "adhoc",
        "--env",
        "GREETING=hi",
    ]);
    contains_all(
        &env.fails(&["job:create", "--app_id", "999", "--runtemplate_id", &t]),
        &["app_id", "runs app"],
    );
    let jobs = env.json(&["job:list", "--company_id", &company.to_string()]);
    assert_eq!(jobs.as_array().unwrap().len(), 2);
    let job_id = job["id"].as_i64().unwrap().to_string();
    assert!(env.json(&["artifact:list", "--job_id", &job_id]).is_array());
    let listed = env.json(&["run-template:list", "--app_id", &app.to_string()]);
    assert_eq!(listed.as_array().unwrap().len(), 1);

    // Bad input: one clear line each.
    let line = env.fails(&["company:get", "--slug", "nobody"]);
    contains_all(&line, &["company", "\"nobody\"", "company:list"]);
    let line = env.fails(&["company:get", "--ic", "12345678"]);
    contains_all(&line, &["ic", "--slug"]);
    let line = env.fails(&["application:get", "--uuid", "no-such-uuid"]);
    contains_all(&line, &["app", "no-such-uuid"]);
    let line = env.fails(&[
        "job:create",
        "--runtemplate_id",
        &t,
        "--scheduled",
        "next tuesday",
        "--env",
        "GREETING=hi",
    ]);
    contains_all(&line, &["scheduled", "next tuesday"]);
    let r = env.run(&["company:get", "1", "--slug", "acme"]);
    assert_eq!(r.code, 2, "one key only: {r:#?}");
}
