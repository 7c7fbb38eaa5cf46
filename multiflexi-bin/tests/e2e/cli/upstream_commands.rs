//! Commands upstream has that this CLI gained for issue 22: `job:status`, `queue:list`,
//! `describe`.

use super::{COMMANDS, Env, contains_all, run_job_in_process, setup_echo};
use serde_json::Value;

#[test]
fn job_status_and_queue_list() {
    let env = Env::new();
    let (_, _, template) = setup_echo(&env);
    let t = template.to_string();
    let create = || {
        env.json(&["job:create", "--template", &t, "--env", "GREETING=hi"])["id"]
            .as_i64()
            .unwrap()
    };
    let done = create();
    run_job_in_process(&env, done, 0, b"hi\n");
    let waiting = create();
    let later = env.json(&[
        "job:create",
        "--template",
        &t,
        "--env",
        "GREETING=later",
        "--scheduled",
        "2030-01-01T00:00:00Z",
    ])["id"]
        .as_i64()
        .unwrap();

    let s = env.json(&["job:status"]);
    assert_eq!(s["total_jobs"], 3, "{s}");
    assert_eq!(s["successful_jobs"], 1, "{s}");
    assert_eq!(s["failed_jobs"], 0, "{s}");
    assert_eq!(s["incomplete_jobs"], 2, "{s}");
    assert_eq!(s["total_applications"], 1, "{s}");
    assert_eq!(s["repeated_jobs"], 0, "{s}");
    assert_eq!(s["queue_length"], 2, "{s}");

    let q = env.json(&["queue:list"]);
    let ids: Vec<i64> = q
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["job"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [waiting, later], "ordered by after: {q}");
    let row = &q[0];
    assert_eq!(row["runtemplate_name"], "greet", "{row}");
    assert_eq!(row["app_name"], "CLI test echo", "{row}");
    assert_eq!(row["company_name"], "Acme s.r.o.", "{row}");
    let q = env.json(&[
        "queue:list",
        "--order",
        "after",
        "--direction",
        "DESC",
        "--limit",
        "1",
    ]);
    assert_eq!(q.as_array().unwrap().len(), 1);
    assert_eq!(q[0]["job"], later);
    assert!(env.ok(&["queue:list"]).contains("greet"));

    contains_all(
        &env.fails(&["queue:list", "--order", "colour"]),
        &["order", "\"colour\"", "runtemplate_name"],
    );
    contains_all(
        &env.fails(&["queue:list", "--direction", "sideways"]),
        &["direction", "ASC, DESC"],
    );
    let r = env.run(&["job:status", "--bogus"]);
    assert_eq!(r.code, 2, "{r:#?}");

    // queue:truncate: a dry run counts, then every waiting job is cancelled (none deleted).
    let v = env.json(&["queue:truncate", "--dry-run"]);
    assert_eq!(
        (
            v["waiting"].as_i64(),
            v["cancelled"].as_array().map(Vec::len)
        ),
        (Some(2), Some(0)),
        "{v}"
    );
    assert_eq!(env.count(&["queue:list"]), 2);
    let v = env.json(&["queue:truncate"]);
    assert_eq!(v["cancelled"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(env.count(&["queue:list"]), 0);
    assert_eq!(env.count(&["job:list", "--status", "cancelled"]), 2);
    assert_eq!(env.count(&["job:list"]), 3, "nothing deleted");
    let audit = env.json(&["audit:list"]);
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == "queue:truncate"),
        "audited: {audit}"
    );
    let r = env.run(&["queue:truncate", "--dry-run=maybe"]);
    assert_eq!(r.code, 2, "{r:#?}");
}

#[test]
fn describe_lists_every_command_from_the_parser() {
    let env = Env::new();
    let out = env.ok(&["describe"]);
    let d: Value = serde_json::from_str(&out).expect("describe prints JSON");
    for cmd in COMMANDS {
        if *cmd == "describe" {
            continue;
        }
        assert!(d[*cmd].is_object(), "describe lists {cmd}");
        assert!(
            d[*cmd]["options"]["format"].is_object(),
            "{cmd} has --format in describe"
        );
    }
    let create = &d["job:create"]["options"];
    assert_eq!(
        create["template"]["aliases"][0], "runtemplate_id",
        "{create}"
    );
    assert_eq!(create["env"]["is_repeatable"], true);
    assert_eq!(create["wait"]["is_value_required"], false);
    assert_eq!(create["verbose"]["shortcut"], "v");
    assert_eq!(create["format"]["default"], "text");
    assert_eq!(d["job:get"]["arguments"]["id"]["name"], "id");
    // The same with --format json.
    let j = env.json(&["describe"]);
    assert_eq!(j, d);
    let r = env.run(&["describe", "--bogus"]);
    assert_eq!(r.code, 2, "{r:#?}");
}

#[test]
fn job_delete_removes_one_finished_job() {
    let env = Env::new();
    let (_, _, template) = setup_echo(&env);
    let t = template.to_string();
    let create = || {
        env.json(&["job:create", "--template", &t, "--env", "GREETING=hi"])["id"]
            .as_i64()
            .unwrap()
            .to_string()
    };
    let done = create();
    run_job_in_process(&env, done.parse().unwrap(), 0, b"hi\n");
    let waiting = create();
    assert_eq!(env.count(&["artifact:list", "--job", &done]), 2);
    let v = env.json(&["job:delete", "--id", &done]);
    assert_eq!(v["deleted"], true, "{v}");
    assert_eq!(v["artifacts"], 2, "{v}");
    contains_all(&env.fails(&["job:get", &done]), &["not found"]);
    assert_eq!(env.count(&["job:list"]), 1, "only that job went");
    let audit = env.json(&["audit:list"]);
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == "job:delete"),
        "audited: {audit}"
    );
    // Bad input: an unfinished job, an unknown one.
    contains_all(
        &env.fails(&["job:delete", &waiting]),
        &["scheduled", "job:cancel"],
    );
    contains_all(
        &env.fails(&["job:delete", &done]),
        &["not found", "job:list"],
    );
    assert_eq!(env.count(&["job:list"]), 1);
}

#[test]
fn run_template_list_credentials_hides_secrets() {
    let env = Env::new();
    let (_, company, template) = setup_echo(&env);
    let company = company.to_string();
    let cred = env.json(&[
        "credential:create",
        "--company_id",
        &company,
        "--name",
        "api",
        "--type",
        "AbraFlexi",
        "ABRAFLEXI_URL=https://demo.flexibee.eu",
        "ABRAFLEXI_PASSWORD=cred-SECRET-7",
        "--secret",
        "ABRAFLEXI_PASSWORD",
    ])["id"]
        .as_i64()
        .unwrap();
    let t = template.to_string();
    assert_eq!(
        env.json(&["run-template:list-credentials", "--runtemplate_id", &t]),
        serde_json::json!([]),
        "none yet"
    );
    env.ok(&["run-template:update", &t, "--credential", &cred.to_string()]);
    let listed = env.json(&["run-template:list-credentials", "--runtemplate_id", &t]);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["id"], cred);
    assert_eq!(listed[0]["name"], "api");
    for out in [
        env.ok(&["run-template:list-credentials", &t]),
        env.ok(&[
            "run-template:list-credentials",
            "--id",
            &t,
            "--format",
            "json",
        ]),
    ] {
        assert!(out.contains("api"), "{out}");
        assert!(!out.contains("cred-SECRET-7"), "{out}");
    }
    contains_all(
        &env.fails(&[
            "run-template:list-credentials",
            "--runtemplate_id",
            "424242",
        ]),
        &["424242", "run-template:list"],
    );
}

#[test]
fn encryption_status_names_the_key_never_shows_it() {
    let env = Env::new();
    let v = env.json(&["encryption:status"]);
    assert_eq!(v["master_key"], "configured", "{v}");
    assert_eq!(v["total_keys"], 1);
    assert_eq!(v["keys"][0]["algorithm"], "XChaCha20-Poly1305");
    assert_eq!(v["keys"][0]["source"], "MULTIFLEXI_MASTER_KEY");
    let text = env.ok(&["encryption:status"]);
    assert!(text.contains("configured"), "{text}");
    for out in [&text, &v.to_string()] {
        assert!(!out.contains(super::MASTER_KEY), "never the key: {out}");
    }
    // A bad key: one clear line naming the variable.
    let mut c = env.command(&["encryption:status"]);
    c.env("MULTIFLEXI_MASTER_KEY", "not-a-key");
    let r = super::run_command(c);
    assert_eq!(r.code, 1, "{r:#?}");
    contains_all(&r.stderr, &["MULTIFLEXI_MASTER_KEY"]);
}

#[test]
fn upstream_names_artifact_save_company_and_credential_remove() {
    let env = Env::new();
    let (_, company, template) = setup_echo(&env);
    let job = env.json(&[
        "job:create",
        "--template",
        &template.to_string(),
        "--env",
        "GREETING=hi",
    ])["id"]
        .as_i64()
        .unwrap();
    run_job_in_process(&env, job, 0, b"saved bytes\n");
    let arts = env.json(&["artifact:list", "--job_id", &job.to_string()]);
    let stdout_id = arts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["filename"] == "stdout.txt")
        .unwrap()["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let file = env.path("stdout-copy.txt");
    let v = env.json(&[
        "artifact:save",
        "--id",
        &stdout_id,
        "--file",
        file.to_str().unwrap(),
    ]);
    assert_eq!(v["saved"], true, "{v}");
    assert_eq!(v["artifact_id"].to_string(), stdout_id, "{v}");
    assert_eq!(v["original_filename"], "stdout.txt", "{v}");
    assert_eq!(std::fs::read(&file).unwrap(), b"saved bytes\n");
    contains_all(
        &env.fails(&["artifact:save", "--id", "999999", "--file", "x.txt"]),
        &["999999", "artifact:list"],
    );

    // company:remove / credential:remove are company:delete / credential:delete.
    let cred = env.json(&[
        "credential:create",
        "--company",
        &company.to_string(),
        "--name",
        "spare",
        "--type",
        "T",
        "A=1",
    ])["id"]
        .as_i64()
        .unwrap()
        .to_string();
    env.json(&["credential:remove", "--id", &cred]);
    assert_eq!(env.count(&["credential:list"]), 0);
    contains_all(
        &env.fails(&["company:remove", "--id", &company.to_string()]),
        &["run template"],
    );
    let other = env.json(&["company:create", "--name", "Spare"])["id"]
        .as_i64()
        .unwrap()
        .to_string();
    env.json(&["company:remove", "--id", &other]);
    contains_all(&env.fails(&["company:get", &other]), &["not found"]);
}

#[test]
fn assign_and_unassign_a_credential() {
    let env = Env::new();
    let (_, company, template) = setup_echo(&env);
    let t = template.to_string();
    let cred = env.json(&[
        "credential:create",
        "--company",
        &company.to_string(),
        "--name",
        "api",
        "--type",
        "T",
        "A=1",
    ])["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let v = env.json(&[
        "run-template:assign-credential",
        "--runtemplate_id",
        &t,
        "--credential_id",
        &cred,
    ]);
    assert_eq!(v["status"], "ok", "{v}");
    assert_eq!(v["credentials"].as_array().unwrap().len(), 1, "{v}");
    // Again: nothing changes.
    let v = env.json(&[
        "run-template:assign-credential",
        "--runtemplate_id",
        &t,
        "--credential_id",
        &cred,
    ]);
    assert_eq!(v["credentials"].as_array().unwrap().len(), 1, "{v}");
    let listed = env.json(&["run-template:list-credentials", "--runtemplate_id", &t]);
    assert_eq!(listed[0]["id"].to_string(), cred);
    let v = env.json(&[
        "run-template:unassign-credential",
        "--runtemplate_id",
        &t,
        "--credential_id",
        &cred,
    ]);
    assert_eq!(v["credentials"], serde_json::json!([]), "{v}");
    // Bad input: not assigned; a credential that does not exist.
    contains_all(
        &env.fails(&[
            "run-template:unassign-credential",
            "--runtemplate_id",
            &t,
            "--credential_id",
            &cred,
        ]),
        &["credential_id", "not assigned"],
    );
    contains_all(
        &env.fails(&[
            "run-template:assign-credential",
            "--runtemplate_id",
            &t,
            "--credential_id",
            "777",
        ]),
        &["777", "credential:list"],
    );
}
