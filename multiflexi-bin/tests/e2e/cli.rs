//! `multiflexi-cli` end to end: the real binary on a temporary SQLite database.
//!
//! Each test gets its own database (`Env`). Apps come from MultiFlexi's real files in the shared
//! fixtures folder (read in place, skipped with a message when the folder is absent) and from the
//! core's own fixtures. The executor is not part of this binary: [`run_job_in_process`] stands in
//! for one by driving a job through the store's lifecycle calls (claim, begin, complete, store
//! stdout.txt, preserve); a test with the real executor daemon can replace it.

use multiflexi_core::lifecycle::Outcome;
use multiflexi_core::model::ExecutorKind;
use multiflexi_core::model::{JobSpec, NewJob};
use multiflexi_core::store::{Begin, Catalog as _, ClaimOptions, Completion, JobQueue, LeaseRef};
use multiflexi_core::{AppId, ArtifactSink, CompanyId, Environment, JobId, RunTemplateId, Trigger};
use multiflexi_store::{MasterKey, SqlStore, SqlStoreOptions};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod new_commands;
mod replay;
mod schedule;
mod spellings;
mod stats;
mod update_commands;
mod upstream_commands;
mod wait;

const CLI: &str = env!("CARGO_BIN_EXE_multiflexi-cli");
const MASTER_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

// ---------------------------------------------------------------------------------------------
// Harness

/// A temporary folder with its own SQLite database.
struct Env {
    dir: tempfile::TempDir,
    url: String,
}

/// What one run of the binary did.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stdout_bytes: Vec<u8>,
    stderr: String,
}

impl Env {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("mf.sqlite").display()
        );
        Self { dir, url }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The binary with this database, nothing else of the caller's configuration.
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(CLI);
        c.args(args).current_dir(self.dir.path());
        for var in [
            "DB_CONNECTION",
            "DB_HOST",
            "DB_PORT",
            "DB_DATABASE",
            "DB_USERNAME",
            "DB_PASSWORD",
            "MULTIFLEXI_TIMEZONE",
            "RUST_LOG",
        ] {
            c.env_remove(var);
        }
        c.env("DATABASE_URL", &self.url)
            .env("MULTIFLEXI_MASTER_KEY", MASTER_KEY)
            .env("USER", "tester");
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        run_command(self.command(args))
    }

    /// Runs and expects exit code 0; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(r.code, 0, "{args:?} failed: {r:#?}");
        assert_clean(&r.stderr);
        r.stdout
    }

    /// Runs with `--format json`, expects exit code 0 and one JSON document on stdout.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        let out = self.ok(&all);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}"))
    }

    /// Runs and expects exit code 1 with ONE clear line on stderr; returns that line.
    fn fails(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(r.code, 1, "{args:?} should fail with exit code 1: {r:#?}");
        one_error_line(&r.stderr, args)
    }

    /// Like [`Env::fails`] with `--format json`: stderr is `{"error": "…"}`.
    fn fails_json(&self, args: &[&str]) -> String {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        let r = self.run(&all);
        assert_eq!(r.code, 1, "{args:?} should fail: {r:#?}");
        assert_clean(&r.stderr);
        let lines: Vec<&str> = r.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: one line on stderr: {}", r.stderr);
        let v: Value = serde_json::from_str(lines[0]).unwrap();
        v["error"].as_str().expect("an error string").to_string()
    }

    /// Imports an app from JSON text written to a file; returns its id.
    fn import_app(&self, file: &str, json: &str) -> i64 {
        let path = self.path(file);
        std::fs::write(&path, json).unwrap();
        let v = self.json(&["application:import-json", "--file", path.to_str().unwrap()]);
        v["files"][0]["app_id"].as_i64().unwrap()
    }

    fn count(&self, list_command: &[&str]) -> usize {
        self.json(list_command).as_array().unwrap().len()
    }
}

fn run_command(mut c: Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = c.output().expect("the binary runs");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stdout_bytes: stdout,
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// No panic, no Rust Debug dump.
fn assert_clean(stderr: &str) {
    for bad in [
        "panicked",
        "RUST_BACKTRACE",
        "NotFound {",
        "InvalidInput {",
        "Backend {",
        "Error {",
    ] {
        assert!(!stderr.contains(bad), "stderr shows {bad:?}: {stderr}");
    }
}

fn one_error_line(stderr: &str, args: &[&str]) -> String {
    assert_clean(stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "{args:?}: ONE line on stderr, got: {stderr}"
    );
    let line = lines[0];
    assert!(line.starts_with("error: "), "{args:?}: {line}");
    line.to_string()
}

fn contains_all(line: &str, parts: &[&str]) {
    for p in parts {
        assert!(line.contains(p), "{line:?} should contain {p:?}");
    }
}

/// `shared/fixtures/multiflexi/apps`, found by walking up from the crate (CI has `../shared`
/// beside the workspace; a worktree has it further up); `MULTIFLEXI_FIXTURES` (the `multiflexi`
/// folder) overrides.
fn shared_apps() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("MULTIFLEXI_FIXTURES") {
        return Some(PathBuf::from(dir).join("apps")).filter(|p| p.is_dir());
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("shared/fixtures/multiflexi/apps"))
        .find(|p| p.is_dir())
}

/// The core's own hand-written fixtures.
fn own_apps() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../multiflexi-core/tests/fixtures/apps")
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// id → name of every app.
fn app_ids(env: &Env) -> Vec<(i64, String)> {
    env.json(&["application:list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["id"].as_i64().unwrap(),
                a["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// An app of our own: `/bin/echo {GREETING}`, GREETING required without a default, TOKEN a
/// password.
const ECHO_APP: &str = r#"{
    "name": "CLI test echo",
    "uuid": "0f4a1c9e-8e53-4c2f-9a34-5f2b9d0c7e11",
    "description": "Prints a greeting",
    "executable": "/bin/echo",
    "cmdparams": "{GREETING}",
    "environment": {
        "GREETING": { "type": "string", "description": "What to print", "required": true },
        "TOKEN": { "type": "password", "description": "A secret" }
    }
}"#;

/// The same app with a container image.
const ECHO_IMAGE_APP: &str = r#"{
    "name": "CLI test echo in a box",
    "executable": "/bin/echo",
    "ociimage": "docker.io/library/busybox:latest",
    "cmdparams": "hello",
    "environment": {}
}"#;

/// A company and an echo template (id of each: app, company, template).
fn setup_echo(env: &Env) -> (i64, i64, i64) {
    let app = env.import_app("echo.app.json", ECHO_APP);
    let company = env.json(&[
        "company:create",
        "--name",
        "Acme s.r.o.",
        "--email",
        "ops@acme.test",
    ]);
    let company = company["id"].as_i64().unwrap();
    let t = env.json(&[
        "run-template:create",
        "--name",
        "greet",
        "--app",
        &app.to_string(),
        "--company",
        &company.to_string(),
        "--cron",
        "30 2 * * *",
        "--timezone",
        "Europe/Prague",
        "--config",
        "TOKEN=tok-SECRET-42",
    ]);
    (app, company, t["id"].as_i64().unwrap())
}

/// Stands in for the executor daemon: claims the job, starts it, completes it with `exit` and
/// `stdout`, stores `stdout.txt` and `stderr.txt`, and marks it preserved — the store calls an
/// executor makes, in order.
fn run_job_in_process(env: &Env, job: i64, exit: i32, stdout: &[u8]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let options =
            SqlStoreOptions::default().with_master_key(MasterKey::parse(MASTER_KEY).unwrap());
        let store = SqlStore::connect(&env.url, options).await.unwrap();
        let claimed = store
            .claim(&ClaimOptions::new(
                "test-executor",
                vec![ExecutorKind::Native],
                1,
            ))
            .await
            .unwrap();
        let claimed = claimed
            .into_iter()
            .find(|j| j.id == JobId(job))
            .expect("the job is claimable");
        let lease = LeaseRef::of(&claimed);
        store
            .begin_many(&[Begin::new(lease, Some(4242), None)])
            .await
            .unwrap()[0]
            .as_ref()
            .unwrap();
        let mut completion = Completion::new(lease, Outcome::from_exit_code(exit), exit);
        completion.stdout = String::from_utf8_lossy(stdout).into_owned();
        store.complete_many(&[completion]).await.unwrap()[0]
            .as_ref()
            .unwrap();
        let mut out = stdout;
        ArtifactSink::put(&store, lease, "stdout.txt", "text/plain", &mut out)
            .await
            .unwrap();
        let mut err: &[u8] = b"";
        ArtifactSink::put(&store, lease, "stderr.txt", "text/plain", &mut err)
            .await
            .unwrap();
        store.mark_preserved(lease).await.unwrap();
        store.close().await.unwrap();
    });
}

// ---------------------------------------------------------------------------------------------
// Help and command names

const COMMANDS: &[&str] = &[
    "application:import-json",
    "application:validate-json",
    "application:export-json",
    "application:list",
    "application:get",
    "application:delete",
    "application:show-config",
    "application:create",
    "application:update",
    "company:create",
    "company:update",
    "company:list",
    "company:get",
    "company:delete",
    "company:env-set",
    "company:env-unset",
    "credential:create",
    "credential:list",
    "credential:get",
    "credential:delete",
    "credential:update",
    "run-template:create",
    "run-template:update",
    "run-template:list",
    "run-template:get",
    "run-template:delete",
    "run-template:list-credentials",
    "run-template:assign-credential",
    "run-template:unassign-credential",
    "run-template:schedule",
    "run-template:next-schedule",
    "run-template:stale",
    "run-template:clone",
    "job:create",
    "job:wait",
    "job:cancel",
    "job:update",
    "job:list",
    "job:status",
    "job:stats",
    "job:delete",
    "job:get",
    "job:retry",
    "job:cleanup",
    "artifact:list",
    "artifact:get",
    "schedule:preview",
    "queue:overview",
    "queue:list",
    "queue:truncate",
    "queue:fix",
    "prune",
    "describe",
    "status",
    "encryption:status",
    "encryption:init",
    "migrate",
    "doctor",
    "audit:list",
    "telemetry:test",
    "token:create",
    "token:list",
    "token:get",
    "token:revoke",
    "token:generate",
    "token:update",
];

#[test]
fn every_command_has_help_and_format() {
    let env = Env::new();
    let top = env.ok(&["--help"]);
    for var in [
        "DATABASE_URL",
        "DB_CONNECTION",
        "MULTIFLEXI_MASTER_KEY",
        "MULTIFLEXI_TIMEZONE",
    ] {
        assert!(top.contains(var), "--help lists {var}");
    }
    for cmd in COMMANDS {
        assert!(top.contains(cmd), "--help lists {cmd}");
        let help = env.ok(&[cmd, "--help"]);
        assert!(
            help.contains(&format!("Usage: multiflexi-cli {cmd}")),
            "{cmd} --help: {help}"
        );
        assert!(
            help.contains("--format <FORMAT>"),
            "{cmd} --help has --format"
        );
    }
    // A command line clap cannot parse: exit 2; as JSON when JSON was asked for.
    let r = env.run(&["job:list", "--bogus"]);
    assert_eq!(r.code, 2, "{r:#?}");
    let r = env.run(&["job:list", "--bogus", "--format", "json"]);
    assert_eq!(r.code, 2, "{r:#?}");
    let v: Value = serde_json::from_str(r.stderr.trim()).unwrap();
    assert!(v["error"].as_str().unwrap().contains("--bogus"), "{v}");
    let r = env.run(&[]);
    assert_eq!(r.code, 2, "no command is a usage error");
}

// ---------------------------------------------------------------------------------------------
// Application import

#[test]
fn shared_fixture_apps_import_idempotently_and_reminder_is_rejected() {
    let Some(dir) = shared_apps() else {
        eprintln!(
            "skipped: shared/fixtures/multiflexi/apps not found beside the workspace \
             (set MULTIFLEXI_FIXTURES to run this test)"
        );
        return;
    };
    let env = Env::new();
    let files = json_files(&dir);
    let reminder = "abraflexi-reminder.abraflexi-reminder.multiflexi.app.json";
    assert!(files.iter().any(|f| f.ends_with(reminder)));
    let dir_arg = dir.to_str().unwrap();

    // The whole folder: every other file imported, the reminder rejected with line and column.
    let r = env.run(&["application:import-json", "--file", dir_arg]);
    assert_eq!(r.code, 1, "a rejected file makes the command fail: {r:#?}");
    let err = one_error_line(&r.stderr, &["application:import-json"]);
    contains_all(&err, &[reminder, "not valid JSON", "line 256, column 3"]);
    for f in &files {
        let name = f.display().to_string();
        let line = r
            .stdout
            .lines()
            .find(|l| {
                l.starts_with(&format!("{name}: imported"))
                    || l.starts_with(&format!("{name}: rejected"))
            })
            .unwrap_or_else(|| panic!("no line for {name}: {}", r.stdout));
        if name.ends_with(reminder) {
            contains_all(line, &["rejected", "trailing comma at line 256, column 3"]);
        } else {
            assert!(line.contains("(created)"), "{line}");
        }
    }
    // Importer warnings are printed, one line each, with their JSON path.
    assert!(r.stdout.contains(": warning: /topics: "), "{}", r.stdout);
    let first = app_ids(&env);
    assert_eq!(
        first.len(),
        files.len() - 1,
        "nothing written for the rejected file"
    );

    // Again: same ids, updated in place.
    let r = env.run(&["application:import-json", "--file", dir_arg]);
    assert_eq!(r.code, 1);
    assert!(!r.stdout.contains("(created)"), "{}", r.stdout);
    assert_eq!(app_ids(&env), first, "re-import is idempotent");

    // One file on its own, as JSON: same id, warnings with path and kind.
    let bench = dir.join("AbraFlexi-Tools.abraflexi_benchmark.multiflexi.app.json");
    let v = env.json(&["application:import-json", "--file", bench.to_str().unwrap()]);
    assert_eq!(v["imported"], 1);
    assert_eq!(v["files"][0]["action"], "updated");
    let warnings = v["files"][0]["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w["path"] == "/topics" && w["kind"] == "key-alias"),
        "{v}"
    );
    assert_eq!(app_ids(&env), first);

    // The reminder alone: one line naming the file, line and column; nothing written.
    let line = env.fails(&[
        "application:import-json",
        "--file",
        dir.join(reminder).to_str().unwrap(),
    ]);
    contains_all(
        &line,
        &[reminder, "line 256, column 3", "nothing was imported"],
    );
    assert_eq!(app_ids(&env), first);

    // validate-json: every violation with its JSON path; non-zero when there are any.
    let r = env.run(&[
        "application:validate-json",
        "--file",
        bench.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "{r:#?}");
    for path in [
        "/$schema",
        "/environment/ABRAFLEXI_BENCHMARK_DELAY/type",
        "/requirements",
    ] {
        assert!(
            r.stdout.contains(&format!(": {path}: ")),
            "{path} in {}",
            r.stdout
        );
    }
    contains_all(
        &one_error_line(&r.stderr, &["validate-json"]),
        &["violation"],
    );
    let valid = dir.join("MultiFlexi.sleep.multiflexi.app.json");
    let v = env.json(&[
        "application:validate-json",
        "--file",
        valid.to_str().unwrap(),
    ]);
    assert_eq!(v["violations"], 0, "{v}");

    // A key written twice with different values: schema-valid, but the first value is lost.
    let balance = dir.join("raiffeisenbank-statement-tools.rb_balance.multiflexi.app.json");
    let r = env.run(&[
        "application:validate-json",
        "--file",
        balance.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "{r:#?}");
    contains_all(
        &r.stdout,
        &[
            ": /exitCodes/0: duplicate key: key \"0\" appears 2 times with different values",
            "the others are lost",
        ],
    );
    contains_all(
        &one_error_line(&r.stderr, &["validate-json"]),
        &["rb_balance", "1 duplicate key that loses data"],
    );

    // The regular-expression artifact of a real file is kept and its braces noted at import.
    let pohoda =
        dir.join("pohoda-raiffeisenbank.pohodasql_raiffeisenbank_sharepoint.multiflexi.app.json");
    let v = env.json(&[
        "application:import-json",
        "--file",
        pohoda.to_str().unwrap(),
    ]);
    let warnings = v["files"][0]["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| w["path"] == "/artifacts/0/path"
            && w["message"]
                .as_str()
                .unwrap()
                .contains("read as a regular expression")),
        "{v}"
    );
}

#[test]
fn merge_conflict_markers_are_named_by_import_and_validate() {
    let env = Env::new();
    let file = own_apps().join("rejected/merge_conflict.app.json");
    let f = file.to_str().unwrap();
    contains_all(
        &env.fails(&["application:import-json", "--file", f]),
        &[
            "merge_conflict.app.json",
            "unresolved merge-conflict markers (\"<<<<<<<\" at line 3)",
            "nothing was imported",
        ],
    );
    let r = env.run(&["application:validate-json", "--file", f]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(
        r.stdout.contains(": /: unresolved merge-conflict markers"),
        "{}",
        r.stdout
    );
    // An artifact pattern that can match nothing is imported with a never-matches warning.
    let v = env.json(&[
        "application:import-json",
        "--file",
        own_apps()
            .join("artifact_notations.app.json")
            .to_str()
            .unwrap(),
    ]);
    let kinds: Vec<&str> = v["files"][0]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["converted", "never-matches", "never-matches", "ignored"],
        "{v}"
    );
}

#[test]
fn own_fixture_apps_import_and_rejected_ones_write_nothing() {
    let env = Env::new();
    let dir = own_apps();
    let files = json_files(&dir);
    assert!(files.len() >= 10, "own fixtures present");
    let v = env.json(&["application:import-json", "--file", dir.to_str().unwrap()]);
    assert_eq!(v["rejected"], 0, "{v}");
    assert_eq!(v["imported"].as_u64().unwrap() as usize, files.len());
    let apps = app_ids(&env);
    let again = env.json(&["application:import-json", "--file", dir.to_str().unwrap()]);
    assert!(
        again["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["action"] == "updated"),
        "{again}"
    );
    assert_eq!(app_ids(&env), apps, "re-import keeps ids");

    for file in json_files(&dir.join("rejected")) {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let line = env.fails(&["application:import-json", "--file", file.to_str().unwrap()]);
        assert!(line.contains(&name), "{line}");
        assert!(
            [
                "not valid JSON",
                "no application name",
                "no executable",
                "must be a JSON object",
                "unresolved merge-conflict markers"
            ]
            .iter()
            .any(|m| line.contains(m)),
            "{line}"
        );
        if name == "trailing_comma.app.json" {
            contains_all(&line, &["line 6", "column"]);
        }
    }
    assert_eq!(app_ids(&env), apps, "rejected files wrote nothing");

    // Export then import round-trips: same id, same definition.
    let (id, _) = apps[0].clone();
    let out = env.path("exported.app.json");
    env.ok(&[
        "application:export-json",
        "--id",
        &id.to_string(),
        "--file",
        out.to_str().unwrap(),
    ]);
    let first = std::fs::read_to_string(&out).unwrap();
    let stdout = env.ok(&["application:export-json", &id.to_string()]);
    assert_eq!(stdout, first, "stdout and --file agree");
    let v = env.json(&["application:import-json", "--file", out.to_str().unwrap()]);
    assert_eq!(v["files"][0]["app_id"].as_i64(), Some(id));
    assert_eq!(env.ok(&["application:export-json", &id.to_string()]), first);
    let ok = env.json(&["application:validate-json", "--file", out.to_str().unwrap()]);
    assert_eq!(ok["violations"], 0, "an export is schema-valid: {ok}");

    // get / delete.
    let app = env.json(&["application:get", &id.to_string()]);
    assert_eq!(app["id"].as_i64(), Some(id));
    assert!(app["$schema"].is_string(), "{app}");
    env.ok(&["application:delete", "--id", &id.to_string()]);
    assert_eq!(app_ids(&env).len(), apps.len() - 1);
    contains_all(
        &env.fails(&["application:get", &id.to_string()]),
        &[&format!("app {id} not found"), "application:list"],
    );
}

// ---------------------------------------------------------------------------------------------
// Companies, credentials, run templates

#[test]
fn companies_credentials_and_templates() {
    let env = Env::new();
    let c = env.json(&["company:create", "--name", "Acme s.r.o."]);
    assert_eq!(c["slug"], "acme-s-r-o");
    let id = c["id"].as_i64().unwrap().to_string();
    env.ok(&[
        "company:update",
        &id,
        "--email",
        "ops@acme.test",
        "--zabbix-host",
        "acme",
    ]);
    env.ok(&[
        "company:env-set",
        "--id",
        &id,
        "PLAIN=1",
        "URL=https://x?a=b",
    ]);
    env.ok(&[
        "company:env-set",
        "--id",
        &id,
        "PASSWORD=pw-SECRET-1",
        "--secret",
    ]);
    let got = env.json(&["company:get", &id]);
    assert_eq!(got["email"], "ops@acme.test");
    assert_eq!(got["environment"]["URL"]["value"], "https://x?a=b");
    assert_eq!(got["environment"]["PASSWORD"]["value"], "***");
    let text = env.ok(&["company:get", &id]);
    assert!(
        !text.contains("pw-SECRET-1") && text.contains("PASSWORD=***"),
        "{text}"
    );
    contains_all(
        &env.fails(&["company:env-unset", "--id", &id, "NOPE"]),
        &["NOPE", "PASSWORD, PLAIN, URL"],
    );
    env.ok(&["company:env-unset", "--id", &id, "PLAIN"]);
    assert!(env.json(&["company:get", &id])["environment"]["PLAIN"].is_null());
    assert_eq!(env.count(&["company:list"]), 1);
    contains_all(
        &env.fails(&["company:create", "--name", "Acme s.r.o."]),
        &["already exists"],
    );

    // Credentials: secret values never printed.
    let cred = env.json(&[
        "credential:create",
        "--company",
        &id,
        "--name",
        "api",
        "--type",
        "AbraFlexi",
        "ABRAFLEXI_URL=https://demo.flexibee.eu",
        "ABRAFLEXI_PASSWORD=cred-SECRET-2",
        "--secret",
        "ABRAFLEXI_PASSWORD",
    ]);
    let cred_id = cred["id"].as_i64().unwrap().to_string();
    for out in [
        env.ok(&["credential:get", &cred_id]),
        env.ok(&["credential:get", &cred_id, "--format", "json"]),
        env.ok(&["credential:list"]),
        env.ok(&["credential:list", "--company", &id, "--format", "json"]),
    ] {
        assert!(!out.contains("cred-SECRET-2"), "{out}");
    }
    let got = env.json(&["credential:get", &cred_id]);
    assert_eq!(got["fields"][1]["value"], "***");
    assert_eq!(got["fields"][0]["value"], "https://demo.flexibee.eu");
    contains_all(
        &env.fails(&[
            "credential:create",
            "--company",
            &id,
            "--name",
            "x",
            "--type",
            "T",
            "A=1",
            "--secret",
            "B",
        ]),
        &["--secret names B", "given keys: A"],
    );

    // Templates.
    let app = env.import_app("echo.app.json", ECHO_APP).to_string();
    let t = env.json(&[
        "run-template:create",
        "--name",
        "greet",
        "--app",
        &app,
        "--company",
        &id,
        "--interv",
        "d",
        "--delay",
        "30",
        "--config",
        "GREETING=hello",
        "--config",
        "TOKEN=tok-SECRET-3",
        "--credential",
        &cred_id,
        "--max-retries",
        "2",
        "--retry-delay",
        "60",
        "--retry-on-exit-codes",
        "2,75",
        "--timeout",
        "300",
        "--active",
        "true",
    ]);
    let tid = t["id"].as_i64().unwrap().to_string();
    assert_eq!(
        t["timezone"], "UTC",
        "default timezone without MULTIFLEXI_TIMEZONE"
    );
    assert_eq!(
        t["config"]["TOKEN"]["value"], "***",
        "a password field is stored as secret"
    );
    assert_eq!(t["retry_on_exit_codes"], serde_json::json!([2, 75]));
    assert_eq!(
        t["credentials"],
        serde_json::json!([cred_id.parse::<i64>().unwrap()])
    );
    let t = env.json(&[
        "run-template:update",
        &tid,
        "--cron",
        "*/15 * * * *",
        "--timezone",
        "Europe/Prague",
    ]);
    assert_eq!(
        (t["interv"].as_str(), t["cron"].as_str()),
        (Some("c"), Some("*/15 * * * *"))
    );
    let t = env.json(&[
        "run-template:update",
        &tid,
        "--interv",
        "h",
        "--unset-config",
        "GREETING",
    ]);
    assert!(
        t["cron"].is_null() && t["config"]["GREETING"].is_null(),
        "{t}"
    );
    assert_eq!(
        env.json(&["run-template:get", &tid])["timezone"],
        "Europe/Prague"
    );
    assert!(!env.ok(&["run-template:get", &tid]).contains("tok-SECRET-3"));
    assert_eq!(env.count(&["run-template:list", "--company", &id]), 1);
    assert_eq!(env.count(&["run-template:list", "--active", "false"]), 0);

    // MULTIFLEXI_TIMEZONE is the default timezone.
    let mut c = env.command(&[
        "run-template:create",
        "--name",
        "tz",
        "--app",
        &app,
        "--company",
        &id,
        "--format",
        "json",
    ]);
    c.env("MULTIFLEXI_TIMEZONE", "America/New_York");
    let r = run_command(c);
    assert_eq!(r.code, 0, "{r:#?}");
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["timezone"], "America/New_York");
    env.ok(&[
        "run-template:delete",
        &v["id"].as_i64().unwrap().to_string(),
    ]);

    // run-template:next-schedule sets next_schedule.
    let t = env.json(&[
        "run-template:next-schedule",
        "--id",
        &tid,
        "--when",
        "2030-01-02T03:04:05+01:00",
    ]);
    assert_eq!(t["next_schedule"], "2030-01-02T02:04:05Z");

    // In use: deletes are refused and write nothing.
    env.fails(&["company:delete", &id]);
    env.fails(&["credential:delete", &cred_id]);
    env.fails(&["application:delete", &app]);
    env.ok(&["run-template:delete", &tid]);
    env.ok(&["credential:delete", &cred_id]);
    env.ok(&["company:delete", &id]);
    assert_eq!(env.count(&["company:list"]), 0);
}

// ---------------------------------------------------------------------------------------------
// Jobs and artifacts

/// A job sealed with another master key is listed as unreadable (with why), every other job
/// still shows, and `job:get` says why too.
#[test]
fn unreadable_job_is_listed_with_why() {
    let env = Env::new();
    let (_app, _company, template) = setup_echo(&env);
    let t = template.to_string();
    let create = || {
        env.json(&["job:create", "--template", &t, "--env", "GREETING=hi"])["id"]
            .as_i64()
            .unwrap()
    };
    let first = create();
    let template_of = env.json(&["job:get", &first.to_string()]);
    // The second job is written by a process with another master key.
    let other_key = MasterKey::generate();
    let second = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let options = SqlStoreOptions::default().with_master_key(other_key.clone());
            let store = SqlStore::connect(&env.url, options).await.unwrap();
            let mut spec = JobSpec::new("/bin/echo", vec!["hi".into()]);
            spec.env = Environment::new().with_secret("TOKEN", "sealed-with-the-other-key");
            let new = NewJob::new(
                RunTemplateId(template_of["runtemplate_id"].as_i64().unwrap()),
                CompanyId(template_of["company_id"].as_i64().unwrap()),
                AppId(template_of["app_id"].as_i64().unwrap()),
                ExecutorKind::Native,
                spec,
                Trigger::Cli,
                chrono::Utc::now(),
            );
            let id = store.create_and_schedule(&new).await.unwrap().id.get();
            store.close().await.unwrap();
            id
        });

    let list = env.ok(&["job:list"]);
    contains_all(
        &list,
        &[
            "scheduled (unreadable)",
            &format!("job {second} unreadable:"),
            other_key.id(),
        ],
    );
    assert_eq!(list.matches("(unreadable)").count(), 1, "{list}");
    assert!(list.contains(&first.to_string()), "{list}");
    let json = env.json(&["job:list"]);
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .any(|j| j["id"] == first && j["unreadable"].is_null())
    );
    assert!(
        rows.iter()
            .any(|j| j["id"] == second && j["unreadable"].is_string())
    );
    contains_all(
        &env.ok(&["job:get", &second.to_string()]),
        &["unreadable", other_key.id()],
    );
}

#[test]
fn jobs_from_create_to_cleanup() {
    let env = Env::new();
    let (_app, company, template) = setup_echo(&env);
    let t = template.to_string();

    // Missing required field: one line naming it, no job written.
    contains_all(
        &env.fails(&["job:create", "--template", &t]),
        &["GREETING", "missing required value"],
    );
    assert_eq!(env.count(&["job:list"]), 0, "nothing written");

    // job:create with overrides (alias --runtemplate_id), trigger cli.
    let job = env.json(&[
        "job:create",
        "--runtemplate_id",
        &t,
        "--env",
        "GREETING=hello world",
    ]);
    let job_id = job["id"].as_i64().unwrap();
    assert_eq!(job["trigger"], "cli");
    assert_eq!(job["status"], "scheduled");
    assert_eq!(job["command"], "/bin/echo 'hello world'");

    // Idempotency key: the second call returns the first job.
    let a = env.json(&[
        "job:create",
        "--template",
        &t,
        "--env",
        "GREETING=x",
        "--idempotency-key",
        "k1",
    ]);
    let b = env.json(&[
        "job:create",
        "--template",
        &t,
        "--env",
        "GREETING=x",
        "--idempotency-key",
        "k1",
    ]);
    assert_eq!(a["id"], b["id"]);
    assert_eq!(
        (a["existing"].as_bool(), b["existing"].as_bool()),
        (Some(false), Some(true))
    );
    let cancel_me = a["id"].as_i64().unwrap().to_string();

    // job:get: environment with secrets redacted, no secret anywhere.
    let got = env.json(&["job:get", &job_id.to_string()]);
    assert_eq!(got["env"]["TOKEN"]["value"], "***");
    assert_eq!(got["env"]["GREETING"]["value"], "hello world");
    assert_eq!(
        got["env"]["MULTIFLEXI_COMPANY_ID"]["value"],
        company.to_string()
    );
    assert_eq!(got["history"][0]["action"], "phase:scheduled");
    assert!(got["exit"].is_null());
    let text = env.ok(&["job:get", &job_id.to_string()]);
    assert!(!text.contains("tok-SECRET-42"), "{text}");
    assert!(text.contains("TOKEN=*** (secret)"), "{text}");

    // One job run to completion (see run_job_in_process), then job:get and artifacts.
    let stdout: &[u8] = b"hello world\n\x00\xff binary tail";
    run_job_in_process(&env, job_id, 0, stdout);
    let got = env.json(&["job:get", &job_id.to_string()]);
    assert_eq!(got["phase"], "preserved");
    assert_eq!(got["exitcode"], 0);
    assert_eq!(got["exit"]["status"], "success");
    assert_eq!(got["exit"]["meaning"], "completed successfully");
    assert!(got["timings"]["run_seconds"].is_number(), "{got}");
    for ts in ["created", "queued", "begin", "end", "preserved"] {
        assert!(got["timestamps"][ts].is_string(), "{ts} in {got}");
    }
    let phases: Vec<&str> = got["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    for p in [
        "phase:scheduled",
        "phase:queued",
        "phase:running",
        "phase:completed",
        "phase:preserved",
    ] {
        assert!(phases.contains(&p), "{p} in {phases:?}");
    }
    let text = env.ok(&["job:get", &job_id.to_string()]);
    assert!(
        text.contains("0 (success: completed successfully)"),
        "{text}"
    );
    let arts = env.json(&["artifact:list", "--job", &job_id.to_string()]);
    let arts = arts.as_array().unwrap();
    let names: Vec<&str> = arts
        .iter()
        .map(|a| a["filename"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"stdout.txt") && names.contains(&"stderr.txt"),
        "{names:?}"
    );
    let stdout_id = arts.iter().find(|a| a["filename"] == "stdout.txt").unwrap()["id"]
        .as_i64()
        .unwrap()
        .to_string();
    assert_eq!(got["artifacts"].as_array().unwrap().len(), 2);

    // artifact:get is byte-exact, to a file and to stdout.
    let out = env.path("stdout.txt");
    env.ok(&[
        "artifact:get",
        &stdout_id,
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(&out).unwrap(), stdout);
    let r = env.run(&["artifact:get", &stdout_id, "--output", "-"]);
    assert_eq!(r.code, 0, "{r:#?}");
    assert_eq!(r.stdout_bytes, stdout);
    contains_all(
        &env.fails(&["artifact:get", "999", "--output", out.to_str().unwrap()]),
        &["artifact 999 not found"],
    );
    assert_eq!(
        std::fs::read(&out).unwrap(),
        stdout,
        "a failed get leaves the file alone"
    );
    contains_all(
        &env.fails(&["artifact:list", "--job", "999"]),
        &["job 999 not found"],
    );

    // job:cancel of a scheduled job, job:list by status.
    let c = env.json(&["job:cancel", &cancel_me]);
    assert_eq!(
        (c["cancel"].as_str(), c["status"].as_str()),
        (Some("cancelled"), Some("cancelled"))
    );
    assert!(
        env.ok(&["job:cancel", &cancel_me])
            .contains("already finished")
    );
    let cancelled = env.json(&["job:list", "--status", "cancelled"]);
    assert_eq!(cancelled.as_array().unwrap().len(), 1);
    assert_eq!(env.count(&["job:list", "--status", "success"]), 1);
    assert_eq!(env.count(&["job:list", "--limit", "1"]), 1);
    assert_eq!(env.count(&["job:list", "--template", &t]), 2);

    // job:retry: a manual copy of a finished job.
    let retry = env.json(&["job:retry", &job_id.to_string()]);
    assert_eq!(retry["trigger"], "manual");
    assert_eq!(retry["retry_of"].as_i64(), Some(job_id));
    assert_eq!(retry["command"], "/bin/echo 'hello world'");
    let retry_id = retry["id"].as_i64().unwrap().to_string();
    contains_all(&env.fails(&["job:retry", &retry_id]), &["not finished"]);

    let q = env.json(&["queue:overview"]);
    assert_eq!(q["due"], 1, "{q}");
    assert_eq!(q["preserved"], 1, "{q}");
    let s = env.json(&["status"]);
    assert_eq!(s["counts"]["jobs"], 3, "{s}");
    assert_eq!(s["schema_version"], s["supported_schema_version"]);

    // job:cleanup: dry run counts, the real one deletes finished jobs only.
    let dry = env.json(&["job:cleanup", "--days", "0", "--dry-run"]);
    assert_eq!(dry["jobs"], 2, "{dry}");
    assert_eq!(env.count(&["job:list"]), 3, "a dry run deletes nothing");
    let done = env.json(&["job:cleanup", "--days", "0"]);
    assert_eq!(
        (done["jobs"].as_u64(), done["artifacts"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(env.count(&["job:list"]), 1);
    contains_all(
        &env.fails(&["job:get", &job_id.to_string()]),
        &["not found", "job:list"],
    );
    let later = env.json(&["job:cleanup", "--days", "30"]);
    assert_eq!(later["jobs"], 0);
}

// ---------------------------------------------------------------------------------------------
// Schedules

fn preview(env: &Env, cron: &str, from: &str, count: &str) -> Vec<String> {
    env.ok(&[
        "schedule:preview",
        "--cron",
        cron,
        "--timezone",
        "Europe/Prague",
        "--from",
        from,
        "--count",
        count,
    ])
    .lines()
    .map(str::to_string)
    .collect()
}

#[test]
fn schedule_preview_follows_the_dst_rules() {
    let env = Env::new();
    // Fall back, Europe/Prague 2026-10-25: a fixed-time job runs once, on the first pass.
    assert_eq!(
        preview(&env, "30 2 * * *", "2026-10-25T00:00:00+02:00", "2"),
        ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]
    );
    // …an hourly one in both passes.
    assert_eq!(
        preview(&env, "0 * * * *", "2026-10-25T00:30:00+02:00", "4"),
        [
            "2026-10-25T01:00:00+02:00",
            "2026-10-25T02:00:00+02:00",
            "2026-10-25T02:00:00+01:00",
            "2026-10-25T03:00:00+01:00"
        ]
    );
    // Spring forward, 2026-03-29: a slot in the gap runs at the first instant after it.
    assert_eq!(
        preview(&env, "30 2 * * *", "2026-03-29T00:00:00+01:00", "1"),
        ["2026-03-29T03:00:00+02:00"]
    );
    assert_eq!(
        preview(&env, "30 * * * *", "2026-03-29T01:00:00+01:00", "2"),
        ["2026-03-29T01:30:00+01:00", "2026-03-29T03:30:00+02:00"]
    );
    // Interval codes, delay, JSON.
    let v = env.json(&[
        "schedule:preview",
        "--interv",
        "h",
        "--delay",
        "90",
        "--from",
        "2026-01-01T00:00:00Z",
        "--count",
        "2",
    ]);
    assert_eq!(
        v["runs"],
        serde_json::json!(["2026-01-01T01:01:30+00:00", "2026-01-01T02:01:30+00:00"])
    );
    assert_eq!(v["timezone"], "UTC");
    // MULTIFLEXI_TIMEZONE is the default timezone.
    let mut c = env.command(&[
        "schedule:preview",
        "--interv",
        "d",
        "--from",
        "2026-07-01T12:00:00Z",
        "--count",
        "1",
    ]);
    c.env("MULTIFLEXI_TIMEZONE", "Europe/Prague");
    let r = run_command(c);
    assert_eq!(r.stdout.trim(), "2026-07-02T00:00:00+02:00", "{r:#?}");
}

// ---------------------------------------------------------------------------------------------
// Bad input

#[test]
fn bad_input_gets_one_clear_line_and_writes_nothing() {
    let env = Env::new();
    let (app, company, template) = setup_echo(&env);
    let (app, company, template) = (app.to_string(), company.to_string(), template.to_string());
    let create = |extra: &[&str]| {
        let mut a = vec![
            "run-template:create",
            "--name",
            "bad",
            "--app",
            &app,
            "--company",
            &company,
        ];
        a.extend_from_slice(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let fails = |args: Vec<String>| env.fails(&args.iter().map(String::as_str).collect::<Vec<_>>());

    // Unknown ids.
    for (args, what) in [
        (vec!["application:get", "999"], "app 999 not found"),
        (vec!["company:get", "999"], "company 999 not found"),
        (vec!["credential:get", "999"], "credential 999 not found"),
        (vec!["run-template:get", "999"], "runtemplate 999 not found"),
        (vec!["job:get", "999"], "job 999 not found"),
        (vec!["job:cancel", "999"], "job 999 not found"),
        (vec!["job:retry", "999"], "job 999 not found"),
        (
            vec!["job:create", "--template", "999"],
            "runtemplate 999 not found",
        ),
        (
            vec!["application:export-json", "--id", "999"],
            "app 999 not found",
        ),
    ] {
        contains_all(&env.fails(&args), &[what, "list"]);
    }
    contains_all(
        &env.fails(&["job:get", "abc"]),
        &["job id", "\"abc\" is not a number"],
    );
    contains_all(
        &env.fails(&[
            "run-template:create",
            "--name",
            "x",
            "--app",
            "999",
            "--company",
            &company,
        ]),
        &["app 999 not found"],
    );

    // Malformed cron, unknown timezone, unknown executor, missing image: named, with what is allowed.
    contains_all(
        &fails(create(&["--cron", "61 * * * *"])),
        &["invalid cron", "minute", "0-59"],
    );
    contains_all(
        &env.fails(&["schedule:preview", "--cron", "* * *"]),
        &["invalid cron", "5 fields"],
    );
    contains_all(
        &fails(create(&["--interv", "d", "--timezone", "Mars/Olympus"])),
        &["invalid timezone", "Mars/Olympus", "Europe/Prague"],
    );
    contains_all(
        &env.fails(&[
            "schedule:preview",
            "--interv",
            "d",
            "--timezone",
            "europe/prague",
        ]),
        &["did you mean Europe/Prague"],
    );
    contains_all(
        &fails(create(&["--executor", "lambda"])),
        &[
            "invalid executor",
            "lambda",
            "allowed: Native, Docker, Podman, Kubernetes",
        ],
    );
    contains_all(
        &env.fails(&[
            "job:create",
            "--template",
            &template,
            "--env",
            "GREETING=x",
            "--executor",
            "zz",
        ]),
        &["invalid executor", "allowed"],
    );
    contains_all(
        &fails(create(&["--executor", "Docker"])),
        &["ociimage", "CLI test echo", "Docker"],
    );
    contains_all(
        &fails(create(&["--interv", "q"])),
        &["invalid interv", "allowed: i (minutely)"],
    );
    contains_all(
        &fails(create(&["--interv", "d", "--cron", "0 1 * * *"])),
        &["invalid interv", "a cron expression needs interval c"],
    );
    contains_all(&fails(create(&["--config", "not-a-pair"])), &["KEY=VALUE"]);
    contains_all(
        &env.fails(&["job:list", "--status", "done"]),
        &["invalid status", "allowed: pending, scheduled"],
    );
    contains_all(
        &env.fails(&[
            "run-template:next-schedule",
            &template,
            "--when",
            "tomorrow",
        ]),
        &["RFC 3339"],
    );
    // With an image, a container executor is fine.
    let boxed = env.import_app("box.app.json", ECHO_IMAGE_APP).to_string();
    env.ok(&[
        "run-template:create",
        "--name",
        "boxed",
        "--app",
        &boxed,
        "--company",
        &company,
        "--executor",
        "docker",
    ]);
    // Nothing of the refused templates was written.
    let names: Vec<String> = env
        .json(&["run-template:list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["greet", "boxed"]);

    // Missing required env field.
    contains_all(
        &env.fails(&["job:create", "--template", &template]),
        &["missing required value for GREETING"],
    );
    assert_eq!(env.count(&["job:list"]), 0);

    // Unreadable and invalid JSON files.
    let missing = env.path("missing.app.json");
    contains_all(
        &env.fails(&[
            "application:import-json",
            "--file",
            missing.to_str().unwrap(),
        ]),
        &["cannot read", "missing.app.json"],
    );
    let broken = env.path("broken.app.json");
    std::fs::write(
        &broken,
        "{\n  \"name\": \"Broken\",\n  \"executable\": \"x\",\n}\n",
    )
    .unwrap();
    contains_all(
        &env.fails(&[
            "application:import-json",
            "--file",
            broken.to_str().unwrap(),
        ]),
        &["broken.app.json", "not valid JSON", "line 4, column 1"],
    );
    contains_all(
        &env.fails(&[
            "application:validate-json",
            "--file",
            broken.to_str().unwrap(),
        ]),
        &["broken.app.json", "1 schema violation"],
    );
    let empty_dir = env.path("empty");
    std::fs::create_dir(&empty_dir).unwrap();
    contains_all(
        &env.fails(&[
            "application:import-json",
            "--file",
            empty_dir.to_str().unwrap(),
        ]),
        &["no *.json files"],
    );
    assert_eq!(env.count(&["application:list"]), 2, "nothing imported");

    // JSON format: errors are {"error": …} on stderr.
    let e = env.fails_json(&["company:get", "999"]);
    assert!(e.contains("company 999 not found"), "{e}");
    let e = env.fails_json(&[
        "run-template:create",
        "--name",
        "x",
        "--app",
        &app,
        "--company",
        &company,
        "--cron",
        "bad",
    ]);
    assert!(e.contains("invalid cron"), "{e}");

    // Unreachable databases.
    let mut c = env.command(&["company:list"]);
    c.env(
        "DATABASE_URL",
        "sqlite:///nonexistent-folder/x/mf.sqlite?mode=rwc",
    );
    let r = run_command(c);
    assert_eq!(r.code, 1);
    contains_all(
        &one_error_line(&r.stderr, &["company:list"]),
        &[
            "cannot open the database",
            "/nonexistent-folder/x",
            "does not exist",
        ],
    );
    let mut c = env.command(&["company:list"]);
    c.env(
        "DATABASE_URL",
        "postgres://multiflexi:pw-SECRET-9@127.0.0.1:1/multiflexi",
    );
    let r = run_command(c);
    assert_eq!(r.code, 1);
    let line = one_error_line(&r.stderr, &["company:list"]);
    contains_all(
        &line,
        &[
            "cannot reach the database",
            "127.0.0.1:1",
            "multiflexi:***@",
        ],
    );
    assert!(!line.contains("pw-SECRET-9"), "{line}");
    let mut c = env.command(&["status", "--format", "json"]);
    c.env("DATABASE_URL", "oracle://db/x");
    let r = run_command(c);
    assert_eq!(r.code, 1);
    let v: Value = serde_json::from_str(r.stderr.trim()).unwrap();
    contains_all(
        v["error"].as_str().unwrap(),
        &["not a database URL", "sqlite://"],
    );
    let mut c = env.command(&["company:list"]);
    c.env("MULTIFLEXI_MASTER_KEY", "too-short");
    let r = run_command(c);
    assert_eq!(r.code, 1);
    contains_all(
        &one_error_line(&r.stderr, &["company:list"]),
        &["MULTIFLEXI_MASTER_KEY is malformed"],
    );
}

#[test]
fn key_file_is_created_beside_the_database_when_no_key_is_set() {
    let env = Env::new();
    let mut c = env.command(&["migrate"]);
    c.env_remove("MULTIFLEXI_MASTER_KEY");
    let r = run_command(c);
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(r.stderr.contains("created the key file"), "{}", r.stderr);
    let key = env.path("multiflexi.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // Later runs use it silently; secrets can be written and read back.
    let mut c = env.command(&["company:create", "--name", "K"]);
    c.env_remove("MULTIFLEXI_MASTER_KEY");
    assert_eq!(run_command(c).code, 0);
    let mut c = env.command(&["company:env-set", "--id", "1", "S=v", "--secret"]);
    c.env_remove("MULTIFLEXI_MASTER_KEY");
    let r = run_command(c);
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    let mut c = env.command(&["status", "--format", "json"]);
    c.env_remove("MULTIFLEXI_MASTER_KEY");
    let r = run_command(c);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(
        v["master_key"].as_str().unwrap().contains("multiflexi.key"),
        "{v}"
    );
}

#[test]
fn audit_list_shows_phase_rows_and_telemetry_test_reports_a_dead_sink() {
    let env = Env::new();
    let (_, _, template) = setup_echo(&env);
    let job = env.json(&[
        "job:create",
        "--template",
        &template.to_string(),
        "--env",
        "GREETING=hello",
    ]);
    let job = job["id"].as_i64().unwrap();
    let rows = env.json(&["audit:list", "--job", &job.to_string()]);
    let actions: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"phase:scheduled"), "{actions:?}");

    // Nothing configured: a clear note, exit 0.
    let out = env.ok(&["telemetry:test"]);
    assert!(out.contains("no telemetry sink is configured"), "{out}");
    // A Zabbix server that is not there: the report names the sink and the command fails.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut c = env.command(&["telemetry:test"]);
    c.env("ZABBIX_SERVER", format!("127.0.0.1:{port}"));
    let run = run_command(c);
    assert_ne!(run.code, 0, "stdout: {} stderr: {}", run.stdout, run.stderr);
    assert!(
        format!("{}{}", run.stdout, run.stderr).contains("zabbix"),
        "stdout: {} stderr: {}",
        run.stdout,
        run.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// API tokens

#[test]
fn tokens_are_shown_once_scoped_and_revocable() {
    let env = Env::new();
    let company = env.json(&["company:create", "--name", "Acme"]);
    let company = company["id"].as_i64().unwrap().to_string();

    // The secret is printed once, at creation.
    let admin = env.json(&["token:create", "--name", "ops", "--admin"]);
    let secret = admin["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("mfx_") && secret.len() == 68, "{admin}");
    assert_eq!(admin["scope"], "admin");
    assert_eq!(admin["company_id"], Value::Null);
    let text = env.ok(&["token:create", "--name", "acme-bot", "--company", &company]);
    assert!(text.contains("Secret (shown only now"), "{text}");
    let bot_secret = text.lines().last().unwrap().trim().to_string();
    assert!(bot_secret.starts_with("mfx_"), "{text}");

    // Listing never shows a secret.
    let list = env.json(&["token:list"]);
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["scope"], "company");
    assert_eq!(rows[1]["company_id"].as_i64().unwrap().to_string(), company);
    let shown = format!("{list}{}", env.ok(&["token:list"]));
    assert!(
        !shown.contains(&secret[4..]) && !shown.contains(&bot_secret[4..]),
        "{shown}"
    );
    // Nor does the database file hold one.
    let db = std::fs::read(env.path("mf.sqlite")).unwrap();
    let needle = secret.as_bytes();
    assert!(!db.windows(needle.len()).any(|w| w == needle));

    // Bad input: one line naming what is wrong, nothing written.
    let e = env.fails(&["token:create", "--name", "ops", "--admin"]);
    assert!(e.contains("already exists"), "{e}");
    let e = env.fails(&["token:create", "--name", " ", "--admin"]);
    assert!(e.contains("invalid name: a token name"), "{e}");
    let e = env.fails(&["token:create", "--name", "x", "--company", "999"]);
    assert!(e.contains("company 999 not found"), "{e}");
    let e = env.fails(&["token:create", "--name", "x", "--company", "acme"]);
    assert!(e.contains("acme"), "{e}");
    let r = env.run(&["token:create", "--name", "x"]);
    assert_eq!(r.code, 2, "a scope is required: {r:#?}");
    let r = env.run(&[
        "token:create",
        "--name",
        "x",
        "--admin",
        "--company",
        &company,
    ]);
    assert_eq!(r.code, 2, "one scope only: {r:#?}");
    assert_eq!(env.json(&["token:list"]).as_array().unwrap().len(), 2);

    // Revoke: recorded, idempotent, audited; unknown ids are a clear error.
    let id = admin["id"].as_i64().unwrap().to_string();
    let revoked = env.json(&["token:revoke", &id]);
    assert!(revoked["revoked"].is_string(), "{revoked}");
    let again = env.json(&["token:revoke", &id]);
    assert_eq!(again["revoked"], revoked["revoked"]);
    let e = env.fails(&["token:revoke", "77"]);
    assert!(
        e.contains("token 77 not found") && e.contains("token:list"),
        "{e}"
    );
    let e = env.fails(&["token:revoke", "x"]);
    assert!(e.contains("not a token id"), "{e}");
    let audit = env.json(&["audit:list"]);
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "token:create").count(),
        2,
        "{actions:?}"
    );
    assert!(actions.contains(&"token:revoke"), "{actions:?}");
    assert!(!format!("{audit}").contains(&secret[4..]));
}

/// Issue 15's rules on the command line: a loader variable is refused in a template's config, a
/// company's environment and a credential (the message names it, nothing is written); values
/// stored before the rule keep working and `doctor` reports them (exit 1), as it reports a
/// container app run on the host.
#[test]
fn loader_variables_refused_and_stored_ones_reported_by_doctor() {
    let env = Env::new();
    let (_app, company, template) = setup_echo(&env);
    let (t, c) = (template.to_string(), company.to_string());
    let clean = env.json(&["doctor"]);
    assert_eq!(clean["findings"], serde_json::json!([]), "{clean}");

    let line = env.fails(&[
        "run-template:update",
        &t,
        "--config",
        "LD_PRELOAD=/tmp/x.so",
    ]);
    contains_all(&line, &["config.LD_PRELOAD", "dynamic linker"]);
    let line = env.fails(&["company:env-set", "--id", &c, "BASH_ENV=/tmp/rc"]);
    contains_all(&line, &["environment.BASH_ENV", "shell"]);
    let line = env.fails(&[
        "credential:create",
        "--company",
        &c,
        "--name",
        "bank",
        "--type",
        "Bank",
        "NODE_OPTIONS=--require=/tmp/x.js",
    ]);
    contains_all(&line, &["fields.NODE_OPTIONS", "Node.js"]);
    assert!(
        env.json(&["run-template:get", &t])["config"]
            .get("LD_PRELOAD")
            .is_none()
    );
    assert_eq!(env.count(&["credential:list"]), 0);

    // Written before the rule existed: straight into the store.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let options =
                SqlStoreOptions::default().with_master_key(MasterKey::parse(MASTER_KEY).unwrap());
            let store = SqlStore::connect(&env.url, options).await.unwrap();
            let mut rt = store
                .get_runtemplate(RunTemplateId(template))
                .await
                .unwrap();
            rt.config.set("PYTHONSTARTUP", "/tmp/evil.py");
            store.update_runtemplate(&rt).await.unwrap();
            store.close().await.unwrap();
        });
    let r = env.run(&["doctor"]);
    assert_eq!(r.code, 1, "{r:#?}");
    contains_all(
        &r.stdout,
        &[
            &format!("run template {t} config"),
            "PYTHONSTARTUP",
            "Python",
        ],
    );
    // It keeps working: another change of the template is not refused for it.
    env.ok(&["run-template:update", &t, "--config", "GREETING=hi"]);
    env.json(&["job:create", "--template", &t]);
}

/// A Zabbix trapper on a thread: every item it is sent, answered `processed: N; failed: 0`.
fn zabbix_trapper() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<multiflexi_core::telemetry::zabbix::protocol::ZabbixItem>>>,
) {
    use multiflexi_core::telemetry::zabbix::protocol::{SenderReply, SenderRequest};
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let items = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = items.clone();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            // `ZBXD`, flags, 4-byte little-endian length, 4 reserved bytes, then the payload.
            let mut head = [0u8; 13];
            if s.read_exact(&mut head).is_err() {
                continue;
            }
            let len = u32::from_le_bytes([head[5], head[6], head[7], head[8]]) as usize;
            let mut payload = vec![0u8; len];
            if s.read_exact(&mut payload).is_err() {
                continue;
            }
            let req = SenderRequest::decode(&payload).unwrap();
            let n = req.data.len() as u64;
            seen.lock().unwrap().extend(req.data);
            let _ = s.write_all(&SenderReply::success(n, 0).encode());
        }
    });
    (addr, items)
}

/// A job the CLI creates emits its phase events to the telemetry the environment configures
/// (here Zabbix), sent before the command exits; without any, nothing is started.
#[test]
fn job_create_reports_to_the_configured_telemetry() {
    let env = Env::new();
    let (_, _, template) = setup_echo(&env);
    let (addr, items) = zabbix_trapper();
    let mut c = env.command(&[
        "job:create",
        "--template",
        &template.to_string(),
        "--env",
        "GREETING=hi",
        "--format",
        "json",
    ]);
    c.env("ZABBIX_SERVER", addr.to_string())
        .env("ZABBIX_HOST", "cli-host");
    let r = run_command(c);
    assert_eq!(r.code, 0, "{r:#?}");
    assert_clean(&r.stderr);
    let id = serde_json::from_str::<Value>(&r.stdout).unwrap()["id"]
        .as_i64()
        .unwrap();
    let items = items.lock().unwrap().clone();
    assert!(
        items
            .iter()
            .any(|i| i.key == format!("multiflexi.job.phase[{id}]") && i.value == "prepared"),
        "the Scheduled event of job {id} was sent: {items:?}"
    );
    assert!(
        items
            .iter()
            .any(|i| i.key == "multiflexi.job.lld" && i.value.contains("greet")),
        "the discovery item names the template: {items:?}"
    );
}

/// Retention policies through the CLI, and a company exported (secrets `***`) and erased.
#[test]
fn retention_policies_and_a_company_exported_then_erased() {
    let env = Env::new();
    let c = env.json(&["company:create", "--name", "Gone s.r.o."]);
    let id = c["id"].as_i64().unwrap().to_string();
    env.ok(&["company:env-set", "--id", &id, "--secret", "TOKEN=hunter2"]);
    env.ok(&[
        "credential:create",
        "--company",
        &id,
        "--name",
        "bank",
        "--type",
        "Bank",
        "USER=u",
        "PASS=hunter3",
        "--secret",
        "PASS",
    ]);

    assert!(
        env.ok(&["retention:list"])
            .contains("nothing is ever deleted automatically")
    );
    let set = env.json(&[
        "retention:set",
        "--company",
        &id,
        "--days",
        "30",
        "--artifacts-only",
        "--grace",
        "2",
    ]);
    assert_eq!(set["scope"], format!("company:{id}"));
    assert_eq!(set["grace_days"], 2);
    contains_all(
        &env.fails(&["retention:set", "--days", "0"]),
        &["invalid days", "1 to 36500"],
    );
    let run = env.json(&["retention:run", "--dry-run"]);
    assert_eq!(run["dry_run"], true);
    assert_eq!(run["policies"][0]["applied"], false);

    let tar = env.path("gone.tar");
    let out = env.json(&["company:export", &id, "--output", tar.to_str().unwrap()]);
    assert_eq!(
        (out["company"].as_bool(), out["credentials"].as_i64()),
        (Some(true), Some(1))
    );
    let bytes = std::fs::read(&tar).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    for name in ["company.json", "templates.json", "credentials.json"] {
        assert!(text.contains(name), "{name} in the archive");
    }
    assert!(
        !text.contains("hunter2") && !text.contains("hunter3"),
        "no secret value in the export"
    );
    assert!(text.contains("***"));

    contains_all(&env.fails(&["company:erase", &id]), &["--yes"]);
    let erased = env.json(&["company:erase", &id, "--yes"]);
    assert_eq!(erased["erased"]["credentials"], 1);
    assert_eq!(erased["erased"]["company"], true);
    contains_all(&env.fails(&["company:get", &id]), &["not found"]);
    let audit = env.ok(&["audit:list"]);
    contains_all(&audit, &["retention:set", "company:erase"]);
}
