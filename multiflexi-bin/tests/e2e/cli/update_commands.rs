//! Upstream's change commands, the last part of issue 22: `application:update` / `delete` by
//! uuid or name, `credential:update`, `token:generate` / `update`, `encryption:init`,
//! `job:update`. Each: success, and bad input refused with one line naming what was wrong.

use super::{ECHO_APP, Env, MASTER_KEY, contains_all, run_command, run_job_in_process, setup_echo};
use multiflexi_core::store::AccessTokens as _;
use multiflexi_store::{MasterKey, SqlStore, SqlStoreOptions};
use serde_json::Value;

const SPARE_APP: &str = r#"{
    "name": "Spare by uuid",
    "uuid": "7d0c8d7a-3f7e-4b61-9d1c-2a9f0b6e4d22",
    "executable": "/bin/true"
}"#;

const OTHER_APP: &str = r#"{ "name": "Spare by name", "executable": "/bin/false" }"#;

/// The audit rows with this action, as JSON.
fn audit(env: &Env, action: &str) -> Vec<Value> {
    env.json(&["audit:list"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == action)
        .cloned()
        .collect()
}

#[test]
fn application_update_takes_upstreams_fields_and_delete_finds_by_uuid_or_name() {
    let env = Env::new();
    let app = env.import_app("echo.app.json", ECHO_APP);
    let id = app.to_string();
    let spare = env.import_app("spare.app.json", SPARE_APP);
    let other = env.import_app("other.app.json", OTHER_APP);

    let v = env.json(&[
        "application:update",
        "--uuid",
        "0f4a1c9e-8e53-4c2f-9a34-5f2b9d0c7e11",
        "--appversion",
        "1.2.0",
        "--executable",
        "python3 src/main.py",
        "--tags",
        "Bank, Sync",
        "--homepage",
        "https://example.test/echo",
        "--ociimage",
        "docker.io/library/python:3",
    ]);
    assert_eq!(v["application_id"], app, "{v}");
    assert_eq!(v["version"], "1.2.0", "{v}");
    assert_eq!(v["executable"], "python3", "{v}");
    assert!(
        v["cmdparams"].as_str().unwrap().starts_with("src/main.py"),
        "the importer's rule splits the executable: {v}"
    );
    assert!(
        v["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["path"] == "/executable"),
        "{v}"
    );
    assert_eq!(v["tags"], serde_json::json!(["Bank", "Sync"]), "{v}");
    // Stored: read back; the declared fields and the uuid are kept.
    let got = env.json(&["application:get", "--id", &id]);
    assert_eq!(got["homepage"], "https://example.test/echo", "{got}");
    assert_eq!(got["ociimage"], "docker.io/library/python:3", "{got}");
    assert_eq!(got["uuid"], "0f4a1c9e-8e53-4c2f-9a34-5f2b9d0c7e11", "{got}");
    assert!(got["environment"]["GREETING"].is_object(), "{got}");
    // Upstream's module sends --id and --uuid together, with --status and --topics.
    let v = env.json(&[
        "application:update",
        "--id",
        &id,
        "--uuid",
        "0f4a1c9e-8e53-4c2f-9a34-5f2b9d0c7e11",
        "--name",
        "Echo renamed",
        "--status",
        "disabled",
        "--topics",
        "a,b",
        "--read-only-root",
        "true",
    ]);
    assert_eq!(v["name"], "Echo renamed", "{v}");
    assert_eq!(v["enabled"], false, "{v}");
    assert_eq!(v["container"]["read_only_root_fs"], true, "{v}");
    assert_eq!(v["version"], "1.2.0", "earlier changes kept: {v}");
    let rows = audit(&env, "app:update");
    assert!(
        rows.iter().any(|r| r["detail"]
            .as_str()
            .unwrap()
            .contains("changed name, tags, disabled")),
        "{rows:?}"
    );

    // Bad input: nothing to change, another app's name or uuid, --id and --uuid of two apps,
    // a status that is none, an unknown app.
    contains_all(
        &env.fails(&["application:update", "--id", &id]),
        &["nothing to change", "--executable", "--capability"],
    );
    contains_all(
        &env.fails(&["application:update", &id, "--name", "Spare by name"]),
        &[&format!("app {other} is named \"Spare by name\" already")],
    );
    contains_all(
        &env.fails(&[
            "application:update",
            &id,
            "--new-uuid",
            "7D0C8D7A-3F7E-4B61-9D1C-2A9F0B6E4D22",
        ]),
        &["uuids are unique"],
    );
    contains_all(
        &env.fails(&[
            "application:update",
            "--id",
            &id,
            "--uuid",
            "7d0c8d7a-3f7e-4b61-9d1c-2a9f0b6e4d22",
            "--name",
            "x",
        ]),
        &["name different apps", &format!("app {spare}")],
    );
    contains_all(
        &env.fails(&["application:update", &id, "--status", "maybe"]),
        &["\"maybe\" is not a status"],
    );
    contains_all(
        &env.fails(&["application:update", "--id", "999", "--name", "x"]),
        &["app", "999"],
    );
    assert_eq!(env.json(&["application:get", &id])["name"], "Echo renamed");

    // Delete by uuid and by name (upstream's module), and by id; an unknown name is named.
    let gone = env.json(&[
        "application:delete",
        "--uuid",
        "7d0c8d7a-3f7e-4b61-9d1c-2a9f0b6e4d22",
    ]);
    assert_eq!(gone["application_id"], spare, "{gone}");
    let gone = env.json(&["application:delete", "--name", "Spare by name"]);
    assert_eq!(gone["application_id"], other, "{gone}");
    contains_all(
        &env.fails(&["application:delete", "--name", "Spare by name"]),
        &["app", "name \"Spare by name\"", "application:list"],
    );
    let left: Vec<i64> = env
        .json(&["application:list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    assert_eq!(left, [app]);
    // application:create takes upstream's --status too.
    let off = env.json(&[
        "application:create",
        "--name",
        "Off",
        "--executable",
        "/bin/true",
        "--status",
        "disabled",
    ]);
    assert_eq!(off["enabled"], false, "{off}");
    assert_eq!(
        env.json(&["application:get", "--name", "Off"])["enabled"],
        false
    );
    contains_all(
        &env.fails(&[
            "application:create",
            "--name",
            "On",
            "--executable",
            "/bin/true",
            "--status",
            "x",
        ]),
        &["\"x\" is not a status"],
    );
}

#[test]
fn credential_update_keeps_secrets_secret_and_its_company() {
    let env = Env::new();
    let (_, company, _) = setup_echo(&env);
    let other = env.json(&["company:create", "--name", "Other"])["id"]
        .as_i64()
        .unwrap();
    let c = env.json(&[
        "credential:create",
        "--company",
        &company.to_string(),
        "--name",
        "bank",
        "--type",
        "RaiffeisenBank",
        "A=1",
        "PASS=old-s3cret",
        "--secret",
        "PASS",
    ]);
    let id = c["id"].as_i64().unwrap().to_string();

    // Upstream's spelling (--id, --name, --company-id) plus values; PASS set again without
    // --secret stays secret.
    let r = env.run(&[
        "credential:update",
        "--id",
        &id,
        "--name",
        "main bank",
        "--company-id",
        &company.to_string(),
        "--type",
        "Fio",
        "PASS=n3w-Secret",
        "TOKEN=t0k",
        "--secret",
        "TOKEN",
        "--unset",
        "A",
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(
        !r.stdout.contains("n3w-Secret") && !r.stdout.contains("t0k"),
        "{r:#?}"
    );
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["credential_id"], c["id"], "{v}");
    assert_eq!(v["name"], "main bank", "{v}");
    assert_eq!(v["type"], "Fio", "{v}");
    let fields: Vec<(String, String, bool)> = v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["value"].as_str().unwrap().to_owned(),
                f["secret"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("PASS".to_owned(), "***".to_owned(), true),
            ("TOKEN".to_owned(), "***".to_owned(), true)
        ]
    );
    let shown = env.ok(&["credential:get", &id]);
    assert!(
        shown.contains("PASS=*** (secret)") && !shown.contains("n3w"),
        "{shown}"
    );
    // The new value is what the store holds (read with the key), sealed at rest.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stored = rt.block_on(async {
        use multiflexi_core::store::Catalog as _;
        let options =
            SqlStoreOptions::default().with_master_key(MasterKey::parse(MASTER_KEY).unwrap());
        let store = SqlStore::connect(&env.url, options).await.unwrap();
        store
            .get_credential(multiflexi_core::CredentialId(c["id"].as_i64().unwrap()))
            .await
            .unwrap()
    });
    assert_eq!(stored.fields[0].value, "n3w-Secret");
    // The database file and its write-ahead log hold it sealed only.
    for file in ["mf.sqlite", "mf.sqlite-wal"] {
        let raw = std::fs::read(env.path(file)).unwrap_or_default();
        assert!(
            !raw.windows(10).any(|w| w == b"n3w-Secret"),
            "the secret is sealed in {file}"
        );
    }
    let rows = audit(&env, "credential:update");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let detail = rows[0]["detail"].as_str().unwrap();
    contains_all(
        detail,
        &["name", "type", "removed A", "set PASS", "added TOKEN"],
    );
    assert!(
        !detail.contains("n3w") && !detail.contains("t0k"),
        "{detail}"
    );

    // Bad input, each named; nothing changed by them.
    contains_all(
        &env.fails(&[
            "credential:update",
            "--id",
            &id,
            "--company-id",
            &other.to_string(),
        ]),
        &[
            "a credential stays with its company",
            &format!("credential:create --company {other}"),
        ],
    );
    contains_all(
        &env.fails(&[
            "credential:update",
            "--id",
            &id,
            "--credential-type-id",
            "3",
        ]),
        &[
            "credential types",
            "not supported by multiflexi-rs",
            "--type",
        ],
    );
    contains_all(
        &env.fails(&["credential:update", "--id", &id]),
        &["nothing to change"],
    );
    contains_all(
        &env.fails(&["credential:update", "--id", &id, "--unset", "NOPE"]),
        &["no value \"NOPE\"", "PASS, TOKEN"],
    );
    contains_all(
        &env.fails(&["credential:update", "--id", &id, "X=1", "--secret", "Y"]),
        &["--secret names Y"],
    );
    contains_all(
        &env.fails(&["credential:update", "--id", "999", "--name", "x"]),
        &["credential", "999", "credential:list"],
    );
    assert_eq!(env.json(&["credential:get", &id])["name"], "main bank");
}

#[test]
fn token_generate_and_update_show_a_secret_once_and_refuse_chosen_ones() {
    let env = Env::new();
    let company = env.json(&["company:create", "--name", "Acme"])["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let g = env.json(&["token:generate", "--company", &company, "--name", "acme-ci"]);
    let id = g["token_id"].as_i64().unwrap().to_string();
    let first = g["token"].as_str().unwrap().to_owned();
    assert!(first.starts_with("mfx_"), "{g}");
    assert_eq!(g["scope"], "company", "{g}");
    assert!(!env.ok(&["token:get", &id]).contains(&first));
    let unnamed = env.json(&["token:generate", "--admin"]);
    assert!(
        unnamed["name"].as_str().unwrap().starts_with("generated-"),
        "{unnamed}"
    );

    let renamed = env.json(&["token:update", "--id", &id, "--name", "acme-runner"]);
    assert_eq!(renamed["name"], "acme-runner", "{renamed}");
    assert!(renamed.get("secret").is_none(), "no new secret: {renamed}");
    let again = env.json(&["token:update", "--id", &id, "--regenerate"]);
    let second = again["secret"].as_str().unwrap().to_owned();
    assert!(second.starts_with("mfx_") && second != first, "{again}");
    // Only the new secret authenticates, as the same token.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (old, new) = rt.block_on(async {
        let store = SqlStore::connect(&env.url, SqlStoreOptions::default())
            .await
            .unwrap();
        (
            store.authenticate(&first).await.unwrap(),
            store.authenticate(&second).await.unwrap(),
        )
    });
    assert!(old.is_none());
    assert_eq!(new.map(|t| t.name), Some("acme-runner".to_owned()));
    let rows = audit(&env, "token:update");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows.iter()
            .all(|r| !r["detail"].as_str().unwrap().contains(&second))
    );

    // Upstream's per-user and chosen-secret forms are refused, saying why.
    contains_all(
        &env.fails(&["token:generate", "--user", "3"]),
        &[
            "--user 3",
            "tokens are not per user",
            "--admin or --company",
        ],
    );
    contains_all(
        &env.fails(&["token:generate", "--admin", "--ttl", "+90 days"]),
        &["do not expire", "token:revoke"],
    );
    contains_all(
        &env.fails(&["token:generate"]),
        &["--admin (everything) or --company ID"],
    );
    contains_all(
        &env.fails(&["token:update", "--id", &id, "--token", "secret"]),
        &["never chosen by the caller", "--regenerate"],
    );
    contains_all(
        &env.fails(&["token:update", "--id", &id]),
        &["nothing to change"],
    );
    env.ok(&["token:revoke", &id]);
    contains_all(
        &env.fails(&["token:update", "--id", &id, "--regenerate"]),
        &["is revoked", "token:create"],
    );
}

#[test]
fn encryption_init_creates_keeps_and_only_with_force_replaces_the_key_file() {
    let env = Env::new();
    let init = |args: &[&str], with_variable: bool| {
        let mut all = vec!["encryption:init"];
        all.extend(args);
        let mut c = env.command(&all);
        if !with_variable {
            c.env_remove("MULTIFLEXI_MASTER_KEY");
        }
        run_command(c)
    };
    let json = |r: &super::Run| -> Value {
        assert_eq!(r.code, 0, "{r:#?}");
        serde_json::from_str(&r.stdout).unwrap()
    };
    let key_file = env.path("multiflexi.key");
    let v = json(&init(&["--format", "json"], false));
    assert_eq!(
        (v["initialized"].as_bool(), v["rotated"].as_bool()),
        (Some(true), Some(false)),
        "{v}"
    );
    let key = std::fs::read_to_string(&key_file).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert!(key.contains(v["key_name"].as_str().unwrap()), "{v} {key}");
    // Again: left as it is, exit 0, said so.
    let r = init(&[], false);
    assert_eq!(r.code, 0, "{r:#?}");
    contains_all(&r.stdout, &["is there already", "left as it is", "--force"]);
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), key);
    // A secret sealed with it.
    let mut c = env.command(&["company:create", "--name", "K"]);
    c.env_remove("MULTIFLEXI_MASTER_KEY");
    assert_eq!(run_command(c).code, 0);
    // --force: a new key, the old file kept, the warning says what happens to secrets.
    let v = json(&init(&["--force", "--format", "json"], false));
    assert_eq!(v["rotated"], true, "{v}");
    let old = std::path::PathBuf::from(v["previous_key_file"].as_str().unwrap());
    assert_eq!(std::fs::read_to_string(&old).unwrap(), key);
    assert_ne!(std::fs::read_to_string(&key_file).unwrap(), key);
    contains_all(
        v["warning"].as_str().unwrap(),
        &["cannot be read with the new one"],
    );

    // With MULTIFLEXI_MASTER_KEY: nothing to write; --force refused.
    let v = json(&init(&["--format", "json"], true));
    assert_eq!(
        (v["initialized"].as_bool(), v["source"].as_str()),
        (Some(false), Some("MULTIFLEXI_MASTER_KEY")),
        "{v}"
    );
    let r = init(&["--force"], true);
    assert_eq!(r.code, 1, "{r:#?}");
    contains_all(
        &r.stderr,
        &["MULTIFLEXI_MASTER_KEY", "replaces only a key file"],
    );
    // A server database keeps no key file: say what to set.
    let mut c = env.command(&["encryption:init"]);
    c.env_remove("MULTIFLEXI_MASTER_KEY")
        .env("DATABASE_URL", "postgres://u:p@127.0.0.1:1/none");
    let r = run_command(c);
    assert_eq!(r.code, 1, "{r:#?}");
    contains_all(
        &r.stderr,
        &["keeps no key file", "set MULTIFLEXI_MASTER_KEY"],
    );
}

#[test]
fn job_update_moves_a_waiting_job_and_refuses_what_a_job_keeps() {
    let env = Env::new();
    let (app, _, template) = setup_echo(&env);
    let t = template.to_string();
    let job = env.json(&[
        "job:create",
        "--template",
        &t,
        "--env",
        "GREETING=hi",
        "--scheduled",
        "2030-01-01T00:00:00Z",
    ])["id"]
        .as_i64()
        .unwrap();
    let j = job.to_string();
    // As upstream's module sends it: its own template, app and executor, a schedule type.
    let v = env.json(&[
        "job:update",
        "--id",
        &j,
        "--scheduled",
        "2031-05-01 10:00:00",
        "--runtemplate_id",
        &t,
        "--app_id",
        &app.to_string(),
        "--executor",
        "Native",
        "--schedule_type",
        "adhoc",
    ]);
    assert_eq!(v["updated"], true, "{v}");
    assert_eq!(v["scheduled"], "2031-05-01T10:00:00Z", "{v}");
    let q = env.json(&["queue:list"]);
    assert_eq!(q[0]["job"], job, "{q}");
    assert!(
        q[0]["after"]
            .as_str()
            .unwrap()
            .starts_with("2031-05-01T10:00:00"),
        "{q}"
    );
    let rows = audit(&env, "job:update");
    assert_eq!(rows.len(), 1, "{rows:?}");
    contains_all(
        rows[0]["detail"].as_str().unwrap(),
        &["due at 2031-05-01T10:00:00", "was 2030-01-01T00:00:00"],
    );

    // What a job keeps, each refused with the way out.
    contains_all(
        &env.fails(&["job:update", "--id", &j, "--executor", "Docker"]),
        &["runs on Native", "frozen", &format!("job:cancel {job}")],
    );
    contains_all(
        &env.fails(&[
            "job:update",
            "--id",
            &j,
            "--runtemplate_id",
            "999",
            "--scheduled",
            "now",
        ]),
        &[&format!("run template {template}, not 999")],
    );
    contains_all(
        &env.fails(&[
            "job:update",
            "--id",
            &j,
            "--app_id",
            "999",
            "--scheduled",
            "now",
        ]),
        &["not 999", "keeps its app"],
    );
    contains_all(
        &env.fails(&["job:update", "--id", &j]),
        &["nothing to change", "--scheduled"],
    );
    contains_all(
        &env.fails(&["job:update", "--id", &j, "--scheduled", "tomorrow"]),
        &["\"tomorrow\" is not a time"],
    );
    // Moved to now, it is due: an executor runs it; a finished job cannot be moved.
    env.json(&["job:update", &j, "--scheduled", "now"]);
    run_job_in_process(&env, job, 0, b"hi\n");
    contains_all(
        &env.fails(&["job:update", "--id", &j, "--scheduled", "now"]),
        &["only a job still waiting in the queue"],
    );
    contains_all(
        &env.fails(&["job:update", "--id", "999", "--scheduled", "now"]),
        &["job", "999", "job:list"],
    );
}

#[test]
fn artifact_list_keeps_the_fields_asked_for() {
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
    run_job_in_process(&env, job, 0, b"hi\n");
    let j = job.to_string();
    let all = env.json(&["artifact:list", "--job_id", &j]);
    assert!(all[0]["content_type"].is_string(), "{all}");
    let some = env.json(&["artifact:list", "--job_id", &j, "--fields", "filename, id"]);
    let rows = some.as_array().unwrap();
    assert_eq!(rows.len(), all.as_array().unwrap().len());
    for (row, full) in rows.iter().zip(all.as_array().unwrap()) {
        let keys: Vec<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), 2, "{row}");
        assert_eq!(
            (&row["id"], &row["filename"]),
            (&full["id"], &full["filename"])
        );
    }
    let text = env.ok(&["artifact:list", "--job", &j, "--fields", "filename"]);
    assert!(
        text.contains("FILENAME") && !text.contains("SIZE"),
        "{text}"
    );
    assert!(text.contains("stdout.txt"), "{text}");
    // Upstream's --order and --limit, by id.
    let ids = |v: &Value| -> Vec<i64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect()
    };
    let mut want = ids(&all);
    want.sort_unstable();
    want.reverse();
    want.truncate(1);
    let last = env.json(&["artifact:list", "--job", &j, "--order", "D", "--limit", "1"]);
    assert_eq!(ids(&last), want, "{last}");
    contains_all(
        &env.fails(&["artifact:list", "--job", &j, "--order", "sideways"]),
        &["is not an order", "A (ascending) or D (descending)"],
    );
    contains_all(
        &env.fails(&["artifact:list", "--job", &j, "--limit", "0"]),
        &["\"0\" is not a count"],
    );
    contains_all(
        &env.fails(&["artifact:list", "--job", &j, "--fields", "id,colour"]),
        &[
            "\"colour\" is not a field of an artifact",
            "filename, content_type",
        ],
    );
}

#[test]
fn run_template_clone_copies_everything_but_activity() {
    let env = Env::new();
    let (_, _, template) = setup_echo(&env);
    let t = template.to_string();
    env.json(&[
        "run-template:update",
        "--id",
        &t,
        "--config",
        "GREETING=hello",
    ]);
    let source = env.json(&["run-template:get", &t]);
    let c = env.json(&["run-template:clone", "--id", &t]);
    let clone = c["runtemplate_id"].as_i64().unwrap();
    assert_ne!(clone, template);
    assert_eq!(c["name"], "greet Clone", "{c}");
    assert_eq!(c["active"], false, "{c}");
    assert_eq!(c["cloned_from"], template, "{c}");
    let got = env.json(&["run-template:get", &clone.to_string()]);
    for key in [
        "app_id",
        "company_id",
        "cron",
        "timezone",
        "executor",
        "config",
    ] {
        assert_eq!(got[key], source[key], "{key}: {got} vs {source}");
    }
    // The secret configuration value is copied (a job of the clone gets it), never shown.
    env.json(&[
        "run-template:update",
        "--id",
        &clone.to_string(),
        "--active",
        "true",
    ]);
    let job = env.json(&["job:create", "--template", &clone.to_string()])["id"]
        .as_i64()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let spec = rt.block_on(async {
        use multiflexi_core::store::JobQueue as _;
        let options =
            SqlStoreOptions::default().with_master_key(MasterKey::parse(MASTER_KEY).unwrap());
        let store = SqlStore::connect(&env.url, options).await.unwrap();
        store
            .get_job(multiflexi_core::JobId(job))
            .await
            .unwrap()
            .spec
    });
    assert_eq!(spec.env.get("TOKEN"), Some("tok-SECRET-42"));
    assert_eq!(spec.env.get("GREETING"), Some("hello"));
    let named = env.json(&["run-template:clone", &t, "--name", "greet (test)"]);
    assert_eq!(named["name"], "greet (test)", "{named}");
    assert!(audit(&env, "runtemplate:create").iter().any(|r| {
        r["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("cloned from run template {t}"))
    }),);
    // Bad input: an unknown template, an empty name.
    contains_all(
        &env.fails(&["run-template:clone", "--id", "999"]),
        &["runtemplate", "999", "run-template:list"],
    );
    contains_all(
        &env.fails(&["run-template:clone", "--id", &t, "--name", " "]),
        &["name"],
    );
}
