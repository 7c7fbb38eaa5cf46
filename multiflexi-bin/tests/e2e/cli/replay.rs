//! The replay test of issue 22: every argv that the multiflexi-ansible-collection's modules
//! build, as written down in `tests/upstream_cli_calls.txt`, runs verbatim (placeholders
//! filled) against one database set up like `serve --demo`, and ends as the file says: JSON,
//! plain success, "not supported" for the families this project does not have, a refusal by
//! design (saying why), or a refusal for what is still missing.

use super::{Env, run_job_in_process, setup_echo};
use std::collections::BTreeMap;

const CALLS: &str = include_str!("../../upstream_cli_calls.txt");

const SPARE_APP: &str = r#"{
    "name": "Spare",
    "uuid": "5e0c8d7a-3f7e-4b61-9d1c-2a9f0b6e4d21",
    "description": "An app nothing uses",
    "executable": "/bin/true"
}"#;

/// Deleted by its uuid.
const SPARE_APP_BY_UUID: &str = r#"{
    "name": "Spare two",
    "uuid": "5e0c8d7a-3f7e-4b61-9d1c-2a9f0b6e4d22",
    "executable": "/bin/true"
}"#;

/// Deleted by its name.
const SPARE_APP_BY_NAME: &str = r#"{ "name": "Spare three", "executable": "/bin/true" }"#;

/// The set-up database's ids and names, by placeholder.
fn set_up(env: &Env) -> BTreeMap<&'static str, String> {
    let (app, company, template) = setup_echo(env);
    // Jobs the modules create without overrides need the app's required field.
    env.json(&[
        "run-template:update",
        "--id",
        &template.to_string(),
        "--config",
        "GREETING=hello",
    ]);
    let spare_app = env.import_app("spare.app.json", SPARE_APP);
    env.import_app("spare2.app.json", SPARE_APP_BY_UUID);
    env.import_app("spare3.app.json", SPARE_APP_BY_NAME);
    let spare_company =
        env.json(&["company:create", "--name", "Spare Co", "--slug", "spare"])["id"]
            .as_i64()
            .unwrap();
    let spare_template = env.json(&[
        "run-template:create",
        "--name",
        "spare",
        "--app",
        &app.to_string(),
        "--company",
        &company.to_string(),
    ])["id"]
        .as_i64()
        .unwrap();
    let job = env.json(&[
        "job:create",
        "--template",
        &template.to_string(),
        "--env",
        "GREETING=hi",
    ])["id"]
        .as_i64()
        .unwrap();
    run_job_in_process(env, job, 0, b"hi\n");
    let waiting = env.json(&[
        "job:create",
        "--template",
        &template.to_string(),
        "--env",
        "GREETING=later",
        "--scheduled",
        "2030-01-01T00:00:00Z",
    ])["id"]
        .as_i64()
        .unwrap();
    let artifact = env.json(&["artifact:list", "--job", &job.to_string()])[0]["id"]
        .as_i64()
        .unwrap();
    let credential = env.json(&[
        "credential:create",
        "--company",
        &company.to_string(),
        "--name",
        "abraflexi",
        "--type",
        "AbraFlexi",
        "ABRAFLEXI_URL=https://demo.example",
    ])["id"]
        .as_i64()
        .unwrap();
    let token = env.json(&["token:create", "--name", "ansible", "--admin"])["id"]
        .as_i64()
        .unwrap();
    let company_json = env.json(&["company:get", "--id", &company.to_string()]);
    let app_json = env.json(&["application:get", "--id", &app.to_string()]);
    BTreeMap::from([
        ("<APP>", app.to_string()),
        ("<APP_UUID>", app_json["uuid"].as_str().unwrap().to_owned()),
        ("<APP_NAME>", app_json["name"].as_str().unwrap().to_owned()),
        ("<COMPANY>", company.to_string()),
        (
            "<COMPANY_SLUG>",
            company_json["slug"].as_str().unwrap().to_owned(),
        ),
        (
            "<COMPANY_NAME>",
            company_json["name"].as_str().unwrap().to_owned(),
        ),
        ("<TEMPLATE>", template.to_string()),
        ("<JOB>", job.to_string()),
        ("<WAITING_JOB>", waiting.to_string()),
        ("<ARTIFACT>", artifact.to_string()),
        ("<CREDENTIAL>", credential.to_string()),
        ("<TOKEN>", token.to_string()),
        ("<SPARE_APP>", spare_app.to_string()),
        (
            "<SPARE_APP_UUID>",
            "5e0c8d7a-3f7e-4b61-9d1c-2a9f0b6e4d22".to_owned(),
        ),
        ("<SPARE_APP_NAME>", "Spare three".to_owned()),
        ("<SPARE_COMPANY>", spare_company.to_string()),
        ("<SPARE_TEMPLATE>", spare_template.to_string()),
        ("<N>", "5".to_owned()),
        ("<TIME>", "now".to_owned()),
        ("<KIND>", "Native".to_owned()),
        ("<TYPE>", "adhoc".to_owned()),
        (
            "<FILE>",
            env.path("saved-artifact.txt").display().to_string(),
        ),
    ])
}

#[test]
fn every_ansible_module_call_ends_as_written_down() {
    let env = Env::new();
    let values = set_up(&env);
    let mut seen = BTreeMap::<&str, usize>::new();
    for (i, line) in CALLS
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .enumerate()
    {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 3, "module, expect, argv: {line:?}");
        let (module, expect, argv) = (cols[0], cols[1], cols[2]);
        assert!(module.contains(".py@"), "{line}");
        *seen.entry(expect).or_default() += 1;
        let fresh = format!("new-{i}");
        let args: Vec<String> = argv
            .split_whitespace()
            .map(|word| {
                // A value with spaces (a name) stays one argument, as in the module's list.
                let mut w = word.replace("<NEW>", &fresh);
                for (k, v) in &values {
                    w = w.replace(k, v);
                }
                w
            })
            .collect();
        assert!(
            !args.iter().any(|a| a.contains('<')),
            "unfilled placeholder: {args:?}"
        );
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = env.run(&refs);
        let context = format!("{module}: {argv}\n{r:#?}");
        match expect {
            "json" => {
                assert_eq!(r.code, 0, "{context}");
                serde_json::from_str::<serde_json::Value>(&r.stdout)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {context}"));
            }
            "ok" => assert_eq!(r.code, 0, "{context}"),
            "unsupported" => {
                assert_eq!(r.code, 1, "{context}");
                assert!(
                    r.stderr.contains("is not supported by multiflexi-rs"),
                    "{context}"
                );
            }
            "refused" => {
                assert_eq!(r.code, 1, "{context}");
                assert!(
                    r.stderr.lines().any(|l| l.contains("error")),
                    "one error line says why: {context}"
                );
            }
            "missing" => assert!(
                (r.code == 1 || r.code == 2) && !r.stderr.trim().is_empty(),
                "{context}"
            ),
            other => panic!("unknown expectation {other:?} in {line:?}"),
        }
    }
    assert!(seen["json"] >= 30, "{seen:?}");
    assert!(seen["unsupported"] >= 10, "{seen:?}");
    assert!(seen["refused"] >= 4, "{seen:?}");
}
