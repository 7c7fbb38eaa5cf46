//! `run-template:schedule` as upstream's (creates a job) and `run-template:next-schedule`
//! (its former meaning).

use super::{Env, contains_all, setup_echo};

#[test]
fn schedule_creates_a_job_like_upstreams() {
    let env = Env::new();
    let (_, _, template) = setup_echo(&env);
    let t = template.to_string();
    let v = env.json(&[
        "run-template:schedule",
        "--id",
        &t,
        "--schedule_time",
        "now",
        "--executor",
        "Native",
        "--config",
        "GREETING=hello",
        "--no-interaction",
        "--verbose",
    ]);
    assert_eq!(v["runtemplate_id"], template, "{v}");
    assert_eq!(v["executor"], "Native", "{v}");
    assert!(v["scheduled"].is_string(), "{v}");
    let job = v["job_id"].as_i64().expect("job_id");
    let got = env.json(&["job:get", &job.to_string()]);
    assert_eq!(got["runtemplate_id"], template);
    assert_eq!(
        got["env"]["GREETING"]["value"], "hello",
        "the --config value: {got}"
    );
    assert_eq!(got["phase"], "scheduled");
    // A later time.
    let v = env.json(&[
        "run-template:schedule",
        &t,
        "--schedule_time",
        "2030-01-02T03:04:05Z",
        "--config",
        "GREETING=later",
    ]);
    assert_eq!(v["scheduled"], "2030-01-02T03:04:05Z", "{v}");
    // --wait: nothing runs it here, so the wait's own timeout ends it (3); the job goes on.
    let r = env.run(&[
        "run-template:schedule",
        "--id",
        &t,
        "--config",
        "GREETING=x",
        "--wait",
        "--timeout",
        "1",
    ]);
    assert_eq!(r.code, 3, "{r:#?}");
    contains_all(&r.stderr, &["scheduled for execution", "goes on"]);
    assert_eq!(env.count(&["job:list"]), 3);

    // The former meaning, under its new name.
    let v = env.json(&[
        "run-template:next-schedule",
        &t,
        "--when",
        "2030-01-02T03:04:05+01:00",
    ]);
    assert_eq!(v["next_schedule"], "2030-01-02T02:04:05Z");

    // Bad input: one clear line each, nothing created.
    contains_all(
        &env.fails(&[
            "run-template:schedule",
            &t,
            "--when",
            "2030-01-02T03:04:05Z",
        ]),
        &["run-template:next-schedule"],
    );
    contains_all(
        &env.fails(&["run-template:schedule", &t, "--config", "nope"]),
        &["config", "KEY=VALUE"],
    );
    contains_all(
        &env.fails(&["run-template:schedule", &t, "--schedule_time", "soon"]),
        &["\"soon\"", "now"],
    );
    env.ok(&["run-template:update", &t, "--active", "false"]);
    contains_all(
        &env.fails(&[
            "run-template:schedule",
            "--id",
            &t,
            "--config",
            "GREETING=x",
        ]),
        &["inactive"],
    );
    assert_eq!(env.count(&["job:list"]), 3, "nothing created by a refusal");
}
