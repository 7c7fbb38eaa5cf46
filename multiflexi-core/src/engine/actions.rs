//! [`ActionRunner`]: carries out the `job_action` rows a completion wrote — claimed with a lease
//! like jobs, so any executor (or the one that comes back after a crash) does them.
//!
//! - `webhook`: POST a JSON summary of the job through the [`WebhookPoster`] the binary gives
//!   (core has no HTTP client), with `X-MultiFlexi-Delivery` (the same on every attempt) and,
//!   with a secret, `X-MultiFlexi-Signature: sha256=<hex HMAC-SHA256 of the body>`; a non-2xx
//!   answer is a failed attempt (at least once: a receiver drops duplicates by delivery id);
//! - `launch`: a job of another template through the one create path, trigger `chained`, its
//!   environment extended with `MULTIFLEXI_PARENT_JOB_ID`, `MULTIFLEXI_PARENT_OUTCOME`,
//!   `MULTIFLEXI_PARENT_EXITCODE`, idempotency key = the delivery id (a replay creates nothing);
//! - `retry_later`: a new attempt of the job (trigger `retry`, no slot) after N seconds, with the
//!   same kind of idempotency key;
//! - `deactivate`: the template made inactive (audited as `runtemplate:deactivate`);
//! - `zabbix`: one item through the Zabbix sender (`ZABBIX_SERVER`).
//!
//! A failure never changes the job: it is the action row's `last_error`, tried again with
//! back-off ([`ActionResult::failed`]) and logged.

use super::shutdown::Shutdown;
use crate::ids::JobId;
use crate::lifecycle::Trigger;
use crate::model::{Action, Environment, Job, JobAction, NewJob};
use crate::store::{ActionResult, AuditEntry, Store};
use crate::telemetry::Telemetry;
use crate::telemetry::zabbix::{self, ZabbixConfig, protocol::ZabbixItem};
use crate::{Clock, Error, Result};
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

/// The header naming a delivery (stable per job and action).
pub const DELIVERY_HEADER: &str = "X-MultiFlexi-Delivery";
/// The header carrying `sha256=<hex HMAC-SHA256 of the body>` when the webhook has a secret.
pub const SIGNATURE_HEADER: &str = "X-MultiFlexi-Signature";
/// How much stdout a webhook summary carries at most.
pub const WEBHOOK_STDOUT_CAP: usize = 64 * 1024;

/// Sends an HTTP POST (implemented by the binary over its HTTP client).
#[async_trait]
pub trait WebhookPoster: Send + Sync + Debug {
    /// POSTs `body` (JSON) to `url` with `headers`; the answer's status code, or why there was
    /// none (connection refused, timeout…).
    async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> std::result::Result<u16, String>;
}

/// HMAC-SHA256 (RFC 2104) of `msg` under `key`.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// The signature header's value for `body` under `secret`.
pub fn webhook_signature(secret: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(hmac_sha256(secret.as_bytes(), body))
    )
}

/// Settings of an [`ActionRunner`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ActionRunnerOptions {
    /// Lease owner (the executor id).
    pub owner: String,
    /// Actions claimed per pass.
    pub batch: usize,
    /// Lease of a claimed action; a webhook's timeout is cut to leave 5 s of it.
    pub lease_ttl: Duration,
    /// Pause between passes that found nothing.
    pub poll: Duration,
    /// The Zabbix sender's settings (`zabbix` actions fail without them).
    pub zabbix: Option<ZabbixConfig>,
    /// Base of the artifact link in a webhook summary (e.g. `http://host:8080`); a relative
    /// link when None.
    pub public_url: Option<String>,
}

impl ActionRunnerOptions {
    /// Defaults for `owner`: 16 per pass, 60 s lease, 2 s poll, no Zabbix.
    pub fn new(owner: impl Into<String>) -> Self {
        Self {
            owner: owner.into(),
            batch: 16,
            lease_ttl: Duration::from_secs(60),
            poll: Duration::from_secs(2),
            zabbix: None,
            public_url: None,
        }
    }

    /// Builder: poll interval.
    pub fn with_poll(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// Builder: lease.
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// Builder: Zabbix sender settings.
    pub fn with_zabbix(mut self, zabbix: Option<ZabbixConfig>) -> Self {
        self.zabbix = zabbix;
        self
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ActionPass {
    /// Actions claimed.
    pub claimed: usize,
    /// Carried out.
    pub done: usize,
    /// Failed (to be tried again, or given up).
    pub failed: usize,
}

/// Claims due actions and carries them out.
#[derive(Debug, Clone)]
pub struct ActionRunner {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    telemetry: Arc<dyn Telemetry>,
    webhook: Option<Arc<dyn WebhookPoster>>,
    options: ActionRunnerOptions,
}

/// An attempt's failure: why, and whether trying again can help.
struct Failure {
    error: String,
    permanent: bool,
}

impl Failure {
    fn retry(error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            permanent: false,
        }
    }
    fn permanent(error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            permanent: true,
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let permanent = matches!(e, Error::NotFound { .. } | Error::InvalidInput { .. });
        Self {
            error: e.to_string(),
            permanent,
        }
    }
}

impl ActionRunner {
    /// A runner over `store`; `webhook` sends webhooks (they fail without one).
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        telemetry: Arc<dyn Telemetry>,
        webhook: Option<Arc<dyn WebhookPoster>>,
        options: ActionRunnerOptions,
    ) -> Self {
        Self {
            store,
            clock,
            telemetry,
            webhook,
            options,
        }
    }

    /// Runs passes until `shutdown` drains, pausing `poll` after a pass that found nothing.
    pub async fn run(&self, shutdown: Shutdown) {
        loop {
            if shutdown.is_draining() {
                return;
            }
            let found = match self.run_once().await {
                Ok(p) => p.claimed,
                Err(e) => {
                    tracing::warn!("actions after completion: claim failed: {e}");
                    0
                }
            };
            if found == 0 {
                tokio::select! {
                    () = tokio::time::sleep(self.options.poll) => {}
                    () = shutdown.draining() => return,
                }
            }
        }
    }

    /// One pass: claims up to a batch of due actions and carries each out, recording its result.
    pub async fn run_once(&self) -> Result<ActionPass> {
        let claimed = self
            .store
            .claim_actions(
                &self.options.owner,
                self.options.batch,
                self.options.lease_ttl,
            )
            .await?;
        let mut pass = ActionPass {
            claimed: claimed.len(),
            ..ActionPass::default()
        };
        for a in claimed {
            let result = match self.carry_out(&a).await {
                Ok(()) => {
                    tracing::info!(
                        job_id = a.job_id.0,
                        action = a.action.kind(),
                        index = a.idx,
                        attempt = a.attempts,
                        "action after completion done"
                    );
                    ActionResult::Done
                }
                Err(f) => {
                    let r = if f.permanent {
                        ActionResult::Failed {
                            error: f.error.clone(),
                            retry_in: None,
                        }
                    } else {
                        ActionResult::failed(f.error.clone(), a.attempts)
                    };
                    let gives_up = matches!(r, ActionResult::Failed { retry_in: None, .. });
                    tracing::warn!(
                        job_id = a.job_id.0,
                        action = a.action.kind(),
                        index = a.idx,
                        attempt = a.attempts,
                        gives_up,
                        "action after completion failed: {}",
                        f.error
                    );
                    r
                }
            };
            match &result {
                ActionResult::Done => pass.done += 1,
                _ => pass.failed += 1,
            }
            let outcome = match result.state() {
                crate::model::ActionState::Done => "done",
                crate::model::ActionState::Pending => "retry",
                crate::model::ActionState::Failed => "failed",
            };
            self.telemetry.action_attempt(a.action.kind(), outcome);
            if let Err(e) = self.store.finish_action(a.lease(), &result).await {
                // Lease lost (another runner took it over) or the store is gone: the row
                // stays pending and is carried out again (at least once).
                tracing::warn!(
                    job_id = a.job_id.0,
                    action = a.action.kind(),
                    "could not record the action's result: {e}"
                );
            }
        }
        Ok(pass)
    }

    async fn carry_out(&self, a: &JobAction) -> std::result::Result<(), Failure> {
        let job = self.store.get_job(a.job_id).await?;
        match &a.action {
            Action::Webhook {
                url,
                timeout_s,
                secret,
                include_stdout,
            } => {
                let poster = self
                    .webhook
                    .as_ref()
                    .ok_or_else(|| Failure::permanent("this daemon cannot send webhooks"))?;
                let body = self.summary(&job, a, *include_stdout).await;
                let mut headers = vec![
                    ("Content-Type".to_string(), "application/json".to_string()),
                    (DELIVERY_HEADER.to_string(), a.delivery_id()),
                ];
                if let Some(secret) = secret {
                    headers.push((
                        SIGNATURE_HEADER.to_string(),
                        webhook_signature(secret, &body),
                    ));
                }
                let timeout = Duration::from_secs(u64::from(*timeout_s)).min(
                    self.options
                        .lease_ttl
                        .saturating_sub(Duration::from_secs(5))
                        .max(Duration::from_secs(1)),
                );
                match poster.post(url, &headers, body, timeout).await {
                    Ok(code) if (200..300).contains(&code) => Ok(()),
                    Ok(code) => Err(Failure::retry(format!("{url} answered HTTP {code}"))),
                    Err(e) => Err(Failure::retry(format!("POST {url}: {e}"))),
                }
            }
            Action::Launch { template_id } => {
                let env = Environment::new()
                    .with("MULTIFLEXI_PARENT_JOB_ID", job.id.0.to_string())
                    .with(
                        "MULTIFLEXI_PARENT_OUTCOME",
                        job.outcome.map(|o| o.as_str()).unwrap_or("lost"),
                    )
                    .with(
                        "MULTIFLEXI_PARENT_EXITCODE",
                        job.exitcode.unwrap_or(-1).to_string(),
                    );
                let request = super::JobRequest::ad_hoc(*template_id, Trigger::Chained)
                    .with_env(env)
                    .with_idempotency_key(format!("action:{}", a.delivery_id()))
                    .launched_by(format!("action:job {}", job.id));
                let created = super::create_job_or_replay(
                    self.store.as_ref(),
                    self.clock.as_ref(),
                    self.telemetry.as_ref(),
                    request,
                )
                .await?;
                tracing::info!(
                    parent = job.id.0,
                    job_id = created.job.id.0,
                    replayed = created.replayed,
                    "launch action: chained job"
                );
                Ok(())
            }
            Action::RetryLater { after_s } => {
                if job.unreadable.is_some() {
                    return Err(Failure::permanent(format!(
                        "job {} cannot be copied: its stored environment is unreadable",
                        job.id
                    )));
                }
                let after = self.clock.now() + chrono::Duration::seconds(i64::from(*after_s));
                let mut new = NewJob::new(
                    job.runtemplate_id,
                    job.company_id,
                    job.app_id,
                    job.executor,
                    job.spec.clone(),
                    Trigger::Retry,
                    after,
                );
                new.attempt = job.attempt + 1;
                new.retry_of = Some(job.id);
                new.launched_by = Some(format!("action:job {}", job.id));
                new.idempotency_key = Some(format!("action:{}", a.delivery_id()));
                new.trace_context = job.trace_context.clone();
                let created = self.store.create_and_schedule(&new).await?;
                super::job_factory::emit_created(self.telemetry.as_ref(), &created);
                Ok(())
            }
            Action::Deactivate => {
                let mut t = self.store.get_runtemplate(job.runtemplate_id).await?;
                if t.active {
                    t.active = false;
                    self.store.update_runtemplate(&t).await?;
                    let entry = AuditEntry::new(
                        Some(job.id),
                        format!("action:job {}", job.id),
                        "runtemplate:deactivate",
                        format!(
                            "run template {} deactivated by action {} after job {} ended {}",
                            t.id,
                            a.idx,
                            job.id,
                            job.outcome.map(|o| o.as_str()).unwrap_or("-")
                        ),
                    );
                    if let Err(e) = self.store.append_audit(&entry).await {
                        tracing::warn!("could not write the audit log: {e}");
                    }
                }
                Ok(())
            }
            Action::Zabbix { key, value } => {
                let config = self.options.zabbix.as_ref().ok_or_else(|| {
                    Failure::permanent("no Zabbix server configured (ZABBIX_SERVER)")
                })?;
                let host = match self.store.get_company(job.company_id).await {
                    Ok(c) => c.zabbix_host.unwrap_or_else(|| config.default_host.clone()),
                    Err(_) => config.default_host.clone(),
                };
                let value = expand(value.as_deref().unwrap_or("{outcome}"), &job);
                let item = ZabbixItem::new(host, key.clone(), value, self.clock.now());
                zabbix::send(config, vec![item])
                    .await
                    .map(|_| ())
                    .map_err(|e| Failure::retry(format!("Zabbix: {e}")))
            }
        }
    }

    /// Carries out `a` once more without claiming or recording anything: what a runner does
    /// again when it died after the effect and before the result was stored (tests use it to
    /// prove that a replay changes nothing). The error text on failure.
    pub async fn perform(&self, a: &JobAction) -> std::result::Result<(), String> {
        self.carry_out(a).await.map_err(|f| f.error)
    }

    /// The webhook's JSON body.
    async fn summary(&self, job: &Job, a: &JobAction, include_stdout: bool) -> Vec<u8> {
        let template = self
            .store
            .get_runtemplate(job.runtemplate_id)
            .await
            .ok()
            .map(|t| t.name);
        let base = self.options.public_url.as_deref().unwrap_or("");
        let artifacts_url = format!("{base}{}", job_artifacts_path(job.id));
        let duration = job.duration().map(|d| d.num_milliseconds() as f64 / 1000.0);
        let mut body = serde_json::json!({
            "delivery": a.delivery_id(),
            "action_index": a.idx,
            "job_id": job.id.0,
            "runtemplate_id": job.runtemplate_id.0,
            "runtemplate": template,
            "company_id": job.company_id.0,
            "app_id": job.app_id.0,
            "executor": job.executor.as_str(),
            "trigger": job.trigger.as_str(),
            "attempt": job.attempt,
            "outcome": job.outcome.map(|o| o.as_str()),
            "exitcode": job.exitcode,
            "begin": job.begin,
            "end": job.end,
            "duration_s": duration,
            "artifacts_url": artifacts_url,
        });
        if include_stdout {
            let mut out = job.stdout.clone();
            if out.len() > WEBHOOK_STDOUT_CAP {
                let mut cut = WEBHOOK_STDOUT_CAP;
                while !out.is_char_boundary(cut) {
                    cut -= 1;
                }
                out.truncate(cut);
            }
            body["stdout"] = serde_json::Value::String(out);
        }
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

/// The API path listing a job's artifacts (stdout.txt, stderr.txt, result files), each with
/// its download link.
fn job_artifacts_path(job: JobId) -> String {
    format!(
        "/api/VitexSoftware/MultiFlexi/1.0.0/job/{}/artifacts",
        job.0
    )
}

/// `{outcome}`, `{exitcode}`, `{job_id}`, `{runtemplate_id}` in a Zabbix value.
fn expand(template: &str, job: &Job) -> String {
    template
        .replace("{outcome}", job.outcome.map(|o| o.as_str()).unwrap_or("-"))
        .replace(
            "{exitcode}",
            &job.exitcode.map_or_else(|| "-".into(), |c| c.to_string()),
        )
        .replace("{job_id}", &job.id.0.to_string())
        .replace("{runtemplate_id}", &job.runtemplate_id.0.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let long_key = [0xaa_u8; 131];
        assert_eq!(
            hex::encode(hmac_sha256(
                &long_key,
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
