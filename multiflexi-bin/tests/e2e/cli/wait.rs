//! Waiting for a job: `job:create --wait`, `job:wait`, and the exit status each ends with.

use super::{Env, MASTER_KEY, setup_echo};
use multiflexi_core::JobId;
use multiflexi_core::lifecycle::Outcome;
use multiflexi_core::model::ExecutorKind;
use multiflexi_core::store::{
    Begin, ClaimOptions, Completion, JobQueue, LeaseRef, OutputChunk, OutputLog, Stream,
};
use multiflexi_store::{MasterKey, SqlStore, SqlStoreOptions};
use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Stands in for the executor in steps: claim and start a job, write output, then finish it.
struct Runner {
    rt: tokio::runtime::Runtime,
    store: SqlStore,
}

impl Runner {
    fn new(env: &Env) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let options =
            SqlStoreOptions::default().with_master_key(MasterKey::parse(MASTER_KEY).unwrap());
        let store = rt.block_on(SqlStore::connect(&env.url, options)).unwrap();
        Self { rt, store }
    }

    fn start(&self, job: i64) -> LeaseRef {
        self.rt.block_on(async {
            let claimed = self
                .store
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
            self.store
                .begin_many(&[Begin::new(lease, Some(4242), None)])
                .await
                .unwrap()[0]
                .as_ref()
                .unwrap();
            lease
        })
    }

    fn output(&self, lease: LeaseRef, seq: u64, stream: Stream, bytes: &[u8]) {
        let chunk = OutputChunk {
            job_id: lease.job_id,
            seq,
            stream,
            bytes: bytes.to_vec(),
        };
        self.rt
            .block_on(self.store.append_output(lease, &[chunk]))
            .unwrap();
    }

    fn finish(&self, lease: LeaseRef, outcome: Outcome, exit: i32) {
        self.rt.block_on(async {
            self.store
                .complete_many(&[Completion::new(lease, outcome, exit)])
                .await
                .unwrap()[0]
                .as_ref()
                .unwrap();
        });
    }
}

/// The ids of the jobs there are.
fn job_ids(env: &Env) -> Vec<i64> {
    env.json(&["job:list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_i64().unwrap())
        .collect()
}

#[test]
fn create_wait_streams_output_and_exits_with_the_jobs_code() {
    let env = Env::new();
    let (_, _, template) = setup_echo(&env);
    let template = template.to_string();
    let mut child = env
        .command(&[
            "job:create",
            "--runtemplate_id",
            &template,
            "--env",
            "GREETING=hi",
            "--wait",
            "--timeout",
            "60",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Lines of the child's stdout as they come.
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let job = loop {
        if let Some(id) = job_ids(&env).first() {
            break *id;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no job created");
        std::thread::sleep(Duration::from_millis(100));
    };
    let runner = Runner::new(&env);
    let lease = runner.start(job);
    runner.output(lease, 1, Stream::Stdout, b"hello from the job\n");
    runner.output(lease, 2, Stream::Stderr, b"a warning of the job\n");
    // Streamed while the job still runs.
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the job's stdout is streamed before the job ends");
    assert_eq!(line, "hello from the job");
    runner.finish(lease, Outcome::Failed, 3);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let stderr = err_reader.join().unwrap();
    assert_eq!(
        status.code(),
        Some(3),
        "the job's own exit code; stderr: {stderr}"
    );
    for part in [
        format!("created job {job}"),
        format!("job {job}: running"),
        "a warning of the job".to_string(),
        format!("job {job}: completed: failed, exit code 3"),
    ] {
        assert!(stderr.contains(&part), "stderr shows {part:?}: {stderr}");
    }
    assert!(
        rx.try_iter().next().is_none(),
        "stdout holds only the job's output"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn job_wait_exit_statuses_and_its_own_timeout() {
    let env = Env::new();
    let (_, _, template) = setup_echo(&env);
    let template = template.to_string();
    let create = |greeting: &str| {
        env.json(&[
            "job:create",
            "--template",
            &template,
            "--env",
            &format!("GREETING={greeting}"),
        ])["id"]
            .as_i64()
            .unwrap()
    };
    // Not started yet: the wait's own timeout ends it with 3, the job goes on.
    let job = create("one");
    let r = env.run(&["job:wait", &job.to_string(), "--timeout", "1"]);
    assert_eq!(r.code, 3, "{r:#?}");
    assert!(r.stderr.contains("goes on"), "{}", r.stderr);
    let v = env.json(&["job:get", &job.to_string()]);
    assert_eq!(v["phase"], "scheduled", "the job goes on: {v}");
    // Cancelled: 130, in JSON the summary with its exit status.
    env.ok(&["job:cancel", &job.to_string()]);
    let r = env.run(&["job:wait", "--id", &job.to_string(), "--format", "json"]);
    assert_eq!(r.code, 130, "{r:#?}");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["outcome"], "cancelled");
    assert_eq!(v["exit_status"], 130);
    // Lost: 75; success: 0; a job's timeout: 124.
    let runner = Runner::new(&env);
    for (outcome, code, want) in [
        (Outcome::Lost, -1, 75),
        (Outcome::Success, 0, 0),
        (Outcome::Timeout, 137, 124),
    ] {
        let job = create("x");
        let lease = runner.start(job);
        runner.finish(lease, outcome, code);
        let r = env.run(&["job:wait", &job.to_string()]);
        assert_eq!(r.code, want, "{outcome:?}: {r:#?}");
    }
    // Bad input: one clear line, exit 1.
    let line = env.fails(&["job:wait", "999999"]);
    assert!(
        line.contains("999999") && line.contains("job:list"),
        "{line}"
    );
    let line = env.fails(&["job:wait", "seven"]);
    assert!(line.contains("seven"), "{line}");
    let r = env.run(&["job:create", "--template", &template, "--timeout", "5"]);
    assert_eq!(r.code, 2, "--timeout needs --wait: {r:#?}");
}
