//! Actions after completion through the real dispatcher and [`ActionRunner`]: a failed job's
//! `launch`, `retry_later`, `deactivate` and `webhook` actions, each taking effect once even
//! when carried out again; a webhook answered 500 is tried again.

use super::{options, run_one_with, seed_templates};
use crate::engine::{
    ActionRunner, ActionRunnerOptions, DELIVERY_HEADER, SIGNATURE_HEADER, WebhookPoster,
    webhook_signature,
};
use crate::executor::{FakeExecutor, FakeRun};
use crate::lifecycle::{Outcome, Trigger};
use crate::model::{Action, ActionState, App, ExecutorKind};
use crate::store::{JobFilter, Store};
use crate::{ArtifactSink, Clock, ManualClock};
use async_trait::async_trait;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One POST as received: its headers and body.
type Post = (Vec<(String, String)>, Vec<u8>);

/// Records every POST; answers the queued status codes, then 200.
#[derive(Debug, Default)]
struct Receiver {
    answers: Mutex<Vec<u16>>,
    got: Mutex<Vec<Post>>,
}

#[async_trait]
impl WebhookPoster for Receiver {
    async fn post(
        &self,
        _url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
        _timeout: Duration,
    ) -> Result<u16, String> {
        self.got.lock().unwrap().push((headers.to_vec(), body));
        let mut a = self.answers.lock().unwrap();
        Ok(if a.is_empty() { 200 } else { a.remove(0) })
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// See the module docs.
pub async fn failure_actions_take_effect_once(
    store: Arc<dyn Store>,
    artifacts: Arc<dyn ArtifactSink>,
    clock: Arc<ManualClock>,
) {
    let mut templates = seed_templates(&*store, App::new("engine-actions", "/bin/fake"), 2).await;
    let next = templates.remove(1);
    let mut t = templates.remove(0);
    t.on_failure = vec![
        Action::Launch {
            template_id: next.id,
        },
        Action::RetryLater { after_s: 60 },
        Action::Webhook {
            url: "http://receiver.test/hook".into(),
            timeout_s: 5,
            secret: Some("shh".into()),
            include_stdout: true,
        },
        Action::Deactivate,
    ];
    let t = store.update_runtemplate(&t).await.expect("update");
    let fake = FakeExecutor::new(ExecutorKind::Native, |_| FakeRun::exit(3).print("bad\n"));
    let job = run_one_with(
        &store,
        &artifacts,
        Arc::new(fake),
        t.id,
        options(1),
        clock.clone(),
    )
    .await;
    assert_eq!(job.outcome, Some(Outcome::Failed));

    let receiver = Arc::new(Receiver::default());
    receiver.answers.lock().unwrap().push(500);
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let metrics = crate::telemetry::JobMetrics::new();
    let runner = ActionRunner::new(
        store.clone(),
        dyn_clock,
        metrics.clone(),
        Some(receiver.clone()),
        ActionRunnerOptions::new("runner-1"),
    );
    let pass = runner.run_once().await.expect("pass");
    assert_eq!(
        (pass.claimed, pass.done, pass.failed),
        (4, 3, 1),
        "{pass:?}"
    );
    let rows = store.job_actions(job.id).await.expect("rows");
    assert_eq!(
        rows[2].state,
        ActionState::Pending,
        "the 500 is tried again"
    );
    assert_eq!(
        rows[2].last_error.as_deref(),
        Some("http://receiver.test/hook answered HTTP 500")
    );
    assert!(
        rows.iter()
            .enumerate()
            .all(|(i, r)| i == 2 || r.state == ActionState::Done)
    );
    assert!(
        runner.run_once().await.unwrap().claimed == 0,
        "not before its back-off"
    );
    clock.advance(chrono::Duration::seconds(5));
    let pass = runner.run_once().await.expect("pass");
    assert_eq!((pass.claimed, pass.done), (1, 1));

    // Replays change nothing: one chained job, one retry, still inactive.
    for r in store.job_actions(job.id).await.unwrap() {
        runner.perform(&r).await.expect("replay");
    }
    let chained = store
        .list_jobs(&JobFilter {
            runtemplate_id: Some(next.id),
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(chained.len(), 1, "{chained:?}");
    let c = &chained[0];
    assert_eq!(c.trigger, Trigger::Chained);
    let env = |k: &str| c.spec.env.get(k).map(str::to_string);
    assert_eq!(env("MULTIFLEXI_PARENT_JOB_ID"), Some(job.id.0.to_string()));
    assert_eq!(env("MULTIFLEXI_PARENT_OUTCOME").as_deref(), Some("failed"));
    assert_eq!(env("MULTIFLEXI_PARENT_EXITCODE").as_deref(), Some("3"));
    let own = store
        .list_jobs(&JobFilter {
            runtemplate_id: Some(t.id),
            ..JobFilter::default()
        })
        .await
        .unwrap();
    let retries: Vec<_> = own.iter().filter(|j| j.retry_of == Some(job.id)).collect();
    assert_eq!(retries.len(), 1, "{own:?}");
    assert_eq!(retries[0].trigger, Trigger::Retry);
    assert_eq!(retries[0].attempt, job.attempt + 1);
    assert!(!store.get_runtemplate(t.id).await.unwrap().active);

    // Every delivery of the webhook: the same id, a valid signature, the summary.
    let got = receiver.got.lock().unwrap().clone();
    assert_eq!(got.len(), 3, "500, then 200, then the replay");
    let ids: Vec<&str> = got
        .iter()
        .map(|(h, _)| header(h, DELIVERY_HEADER).expect("delivery id"))
        .collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    for (h, body) in &got {
        assert_eq!(
            header(h, SIGNATURE_HEADER),
            Some(webhook_signature("shh", body).as_str())
        );
        let v: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["job_id"], job.id.0);
        assert_eq!(v["outcome"], "failed");
        assert_eq!(v["exitcode"], 3);
        assert_eq!(v["stdout"], "bad\n");
    }
    let text = metrics.render_prometheus();
    for line in [
        "multiflexi_job_actions_total{kind=\"webhook\",result=\"retry\"} 1",
        "multiflexi_job_actions_total{kind=\"webhook\",result=\"done\"} 1",
        "multiflexi_job_actions_total{kind=\"launch\",result=\"done\"} 1",
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
    let job_after = store.get_job(job.id).await.unwrap();
    assert_eq!(
        job_after.outcome,
        Some(Outcome::Failed),
        "the job's outcome is untouched"
    );
}
