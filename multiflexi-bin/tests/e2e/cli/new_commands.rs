//! Commands added for issue 22's remaining part: `token:get`, `token:delete`, `prune`.

use super::{Env, contains_all, run_job_in_process, setup_echo};

#[test]
fn new_commands_have_an_example_in_their_help() {
    let env = Env::new();
    for cmd in [
        "token:get",
        "token:revoke",
        "prune",
        "queue:fix",
        "run-template:stale",
        "application:show-config",
        "application:create",
        "application:list",
        "application:import-json",
        "application:validate-json",
        "application:update",
        "application:delete",
        "credential:update",
        "token:generate",
        "token:update",
        "encryption:init",
        "job:update",
        "run-template:clone",
        "artifact:list",
    ] {
        let help = env.ok(&[cmd, "--help"]);
        assert!(
            help.contains(&format!("Example: multiflexi-cli {cmd}")),
            "{cmd} --help: {help}"
        );
    }
    // Upstream's name token:delete is the same command.
    assert!(env.ok(&["token:delete", "--help"]).contains("token:revoke"));
}

#[test]
fn token_get_and_delete() {
    let env = Env::new();
    let made = env.json(&["token:create", "--name", "ansible", "--admin"]);
    let id = made["id"].as_i64().unwrap().to_string();
    let secret = made["secret"].as_str().unwrap().to_owned();
    let got = env.json(&["token:get", "--id", &id]);
    assert_eq!(got["name"], "ansible", "{got}");
    assert_eq!(got["scope"], "admin", "{got}");
    assert!(got["revoked"].is_null(), "{got}");
    let shown = env.ok(&["token:get", &id]);
    assert!(!shown.contains(&secret) && !got.to_string().contains(&secret));
    // Upstream's token:delete revokes (the row stays for the audit trail).
    let gone = env.json(&["token:delete", "--id", &id]);
    assert!(!gone["revoked"].is_null(), "{gone}");
    assert!(!env.json(&["token:get", "--id", &id])["revoked"].is_null());
    // Bad input: not an id, and an id no token has.
    contains_all(
        &env.fails(&["token:get", "--id", "abc"]),
        &["\"abc\" is not a token id"],
    );
    contains_all(&env.fails(&["token:get", "--id", "999"]), &["token", "999"]);
}

#[test]
fn prune_keeps_the_newest_finished_jobs() {
    let env = Env::new();
    let (_, _, template) = setup_echo(&env);
    let t = template.to_string();
    let create = || {
        env.json(&["job:create", "--template", &t, "--env", "GREETING=hi"])["id"]
            .as_i64()
            .unwrap()
    };
    let finished: Vec<i64> = (0..3)
        .map(|_| {
            let id = create();
            run_job_in_process(&env, id, 0, b"hi\n");
            id
        })
        .collect();
    let waiting = create();
    let ids = |env: &Env| -> Vec<i64> {
        let mut v: Vec<i64> = env
            .json(&["job:list"])
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_i64().unwrap())
            .collect();
        v.sort_unstable();
        v
    };
    let dry = env.json(&["prune", "--jobs", "--keep", "1", "--dry-run"]);
    assert_eq!(dry["deleted"], 2, "{dry}");
    assert_eq!(ids(&env).len(), 4, "a dry run deletes nothing");

    let done = env.json(&["prune", "--jobs", "--logs", "--keep", "1"]);
    assert_eq!(done["kept"], 1, "{done}");
    assert_eq!(done["deleted"], 2, "{done}");
    assert!(
        done["logs"].as_str().unwrap().contains("no log table"),
        "{done}"
    );
    assert_eq!(
        ids(&env),
        [finished[2], waiting],
        "the newest finished job and the unfinished one stay"
    );
    // Bad input: nothing to keep, nothing named to prune.
    contains_all(
        &env.fails(&["prune", "--jobs", "--keep", "0"]),
        &["--keep 0", "job:cleanup --days N"],
    );
    contains_all(&env.fails(&["prune"]), &["prune needs --jobs"]);
}

#[test]
fn queue_fix_puts_an_expired_claim_back() {
    use multiflexi_core::model::ExecutorKind;
    use multiflexi_core::store::{ClaimOptions, JobQueue};
    use multiflexi_store::{MasterKey, SqlStore, SqlStoreOptions};
    let env = Env::new();
    let (_, _, template) = setup_echo(&env);
    let job = env.json(&[
        "job:create",
        "--template",
        &template.to_string(),
        "--env",
        "GREETING=hi",
    ])["id"]
        .as_i64()
        .unwrap();
    // An executor claims it with a lease that expires at once, then disappears.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let options = SqlStoreOptions::default()
            .with_master_key(MasterKey::parse(super::MASTER_KEY).unwrap());
        let store = SqlStore::connect(&env.url, options).await.unwrap();
        let claimed = store
            .claim(
                &ClaimOptions::new("vanished-executor", vec![ExecutorKind::Native], 1)
                    .with_lease_ttl(std::time::Duration::from_millis(1)),
            )
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        store.close().await.unwrap();
    });
    // Let the 1 ms lease pass (what is asserted is the recovery, not a duration).
    std::thread::sleep(std::time::Duration::from_millis(50));
    let fixed = env.json(&["queue:fix"]);
    assert_eq!(fixed["requeued"], serde_json::json!([job]), "{fixed}");
    let got = env.json(&["job:get", "--id", &job.to_string()]);
    assert_eq!(got["phase"], "scheduled", "{got}");
    // Nothing left to fix; bad input is a usage error with one line.
    assert_eq!(env.json(&["queue:fix"])["requeued"], serde_json::json!([]));
    let r = env.run(&["queue:fix", "--all"]);
    assert_eq!(r.code, 2, "{r:#?}");
}

#[test]
fn run_template_stale_lists_slots_stuck_in_the_past() {
    let env = Env::new();
    let (_, _, template) = setup_echo(&env);
    let t = template.to_string();
    // setup_echo's template runs at 02:30 daily: its next slot is ahead, nothing is stale.
    let none = env.json(&["run-template:stale"]);
    assert_eq!(none["count"], 0, "{none}");
    // Its next slot moved far into the past, as when no scheduler has run since.
    env.ok(&[
        "run-template:next-schedule",
        &t,
        "--when",
        "2020-01-01T00:00:00Z",
    ]);
    let stale = env.json(&["run-template:stale", "--tolerance-hours", "6"]);
    assert_eq!(stale["count"], 1, "{stale}");
    assert_eq!(stale["stale"][0]["id"], template, "{stale}");
    assert_eq!(stale["stale"][0]["name"], "greet", "{stale}");
    let text = env.ok(&["run-template:stale"]);
    assert!(
        text.contains("greet") && text.contains("2020-01-01"),
        "{text}"
    );
    // Bad input: a negative tolerance names the option.
    contains_all(
        &env.fails(&["run-template:stale", "--tolerance-hours", "-1"]),
        &["tolerance-hours", "0 or more"],
    );
}

#[test]
fn application_show_config_lists_fields_with_secrets_masked() {
    let env = Env::new();
    let app = env.import_app(
        "cfg.app.json",
        r#"{
            "name": "Configured",
            "uuid": "7d1f0c2e-1b1a-4c55-9a0e-3c2d1e0f9a88",
            "description": "Has fields",
            "executable": "/bin/true",
            "environment": {
                "URL": { "type": "string", "description": "Where", "defval": "https://x.test", "required": true },
                "PASSWORD": { "type": "password", "description": "Secret", "defval": "hunter2" }
            }
        }"#,
    );
    let fields = env.json(&[
        "application:show-config",
        "--uuid",
        "7d1f0c2e-1b1a-4c55-9a0e-3c2d1e0f9a88",
    ]);
    assert_eq!(fields[0]["name"], "URL", "{fields}");
    assert_eq!(fields[0]["default"], "https://x.test", "{fields}");
    assert_eq!(fields[0]["required"], true, "{fields}");
    assert_eq!(fields[1]["name"], "PASSWORD", "{fields}");
    assert_eq!(fields[1]["default"], "***", "{fields}");
    let text = env.ok(&["application:show-config", "--id", &app.to_string()]);
    assert!(text.contains("URL") && !text.contains("hunter2"), "{text}");
    // Bad input: an app that does not exist.
    contains_all(
        &env.fails(&["application:show-config", "--id", "999"]),
        &["999"],
    );
}

#[test]
fn application_create_makes_an_app_once() {
    let env = Env::new();
    let made = env.json(&[
        "application:create",
        "--name",
        "Bank sync",
        "--executable",
        "python3 sync.py",
        "--topics",
        "Bank, Sync",
    ]);
    let id = made["id"].as_i64().unwrap();
    assert_eq!(made["executable"], "python3", "{made}");
    assert_eq!(made["cmdparams"], "sync.py", "{made}");
    assert_eq!(made["tags"], serde_json::json!(["Bank", "Sync"]), "{made}");
    assert_eq!(made["warnings"][0]["path"], "/executable", "{made}");
    let got = env.json(&["application:get", "--name", "Bank sync"]);
    assert_eq!(got["id"], id);
    // Bad input: the same name again is refused, and nothing is written.
    contains_all(
        &env.fails(&[
            "application:create",
            "--name",
            "Bank sync",
            "--executable",
            "/bin/true",
        ]),
        &["has this name or uuid already", "import-json"],
    );
    assert_eq!(env.json(&["application:list"]).as_array().unwrap().len(), 1);
}
