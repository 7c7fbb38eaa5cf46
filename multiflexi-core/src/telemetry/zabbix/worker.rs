//! The sender task of [`ZabbixTelemetry`](super::ZabbixTelemetry): turns batches of phase events
//! into requests, and sends refused values of new jobs again ([`resend`](super::resend)).
//!
//! A batch goes out as one request for the discovery records and the values of jobs whose items
//! are known to exist, then one request per other job (so that a refusal, which the server only
//! counts, is known to be that job's). After a connection failure or a timeout the rest of the
//! batch is not tried (counted as failed): the server is away.

use super::resend::{JobRef, KnownJobs, Outcome, Resend, job_of};
use super::{ZabbixConfig, items_for, send};
use crate::telemetry::queue::{BatchSink, SinkStats};
use crate::telemetry::{CatalogNames, PhaseEvent};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::protocol::ZabbixItem;

/// How long closing down goes on sending held values again (the daemons give a sink 5 s).
const CLOSE_RESEND: Duration = Duration::from_secs(3);

/// What one request came to.
enum Answer {
    /// Everything accepted.
    Accepted,
    /// Everything refused.
    Refused,
    /// Some of it accepted (which ones the server does not say).
    Partly,
    /// Not delivered (connection, timeout, an answer other than success).
    Failed,
}

pub(super) struct Worker {
    config: ZabbixConfig,
    names: Arc<CatalogNames>,
    stats: Arc<SinkStats>,
    failing: u64,
    resend: Resend,
    known: KnownJobs,
}

impl Worker {
    pub(super) fn new(
        config: ZabbixConfig,
        names: Arc<CatalogNames>,
        stats: Arc<SinkStats>,
    ) -> Self {
        let resend = Resend::new(config.resend);
        Self {
            known: KnownJobs::new(config.resend.values.max(1000)),
            config,
            names,
            stats,
            failing: 0,
            resend,
        }
    }

    fn failed(&mut self, n: u64, why: &dyn fmt::Display) {
        if n == 0 {
            return;
        }
        self.stats.add_failed(n);
        if self.failing.is_multiple_of(100) {
            tracing::warn!(
                server = %self.config.address(),
                "zabbix: {n} value(s) not delivered: {why} ({} failure(s) in a row)",
                self.failing + 1
            );
        }
        self.failing += 1;
    }

    fn recovered(&mut self) {
        if self.failing > 0 {
            tracing::info!(server = %self.config.address(), "zabbix: sending recovered");
        }
        self.failing = 0;
    }

    /// Sends one request, counting what was accepted, and what failed when it was not a refusal
    /// (refused values are the caller's).
    async fn request(&mut self, items: Vec<ZabbixItem>) -> Answer {
        let n = items.len() as u64;
        match send(&self.config, items).await {
            Ok(reply) => {
                let c = reply.counts();
                self.stats.add_sent(c.processed);
                match (c.processed, c.failed) {
                    (_, 0) => {
                        self.recovered();
                        Answer::Accepted
                    }
                    (0, _) => Answer::Refused,
                    _ => {
                        self.failed(c.failed, &format_args!("server: {}", reply.info));
                        Answer::Partly
                    }
                }
            }
            Err(e) => {
                self.failed(n, &e);
                Answer::Failed
            }
        }
    }

    /// Sends one job's values whose items are not known to exist; refused ones are held.
    /// Returns false when the server could not be reached.
    async fn send_job(&mut self, job: JobRef, items: Vec<ZabbixItem>) -> bool {
        match self.request(items.clone()).await {
            Answer::Accepted | Answer::Partly => {
                self.resend.forget(&job);
                self.known.insert(job);
                true
            }
            Answer::Refused => {
                if let Outcome::GivenUp(n) = self.resend.refused(job.clone(), items, Instant::now())
                {
                    self.give_up(&job, n);
                }
                true
            }
            Answer::Failed => {
                self.resend.forget(&job);
                false
            }
        }
    }

    fn give_up(&mut self, job: &JobRef, n: usize) {
        self.failed(
            n as u64,
            &format_args!(
                "refused by the server and not accepted within the resend limits (host {:?}: no \
                 such host, template not linked, or job {}'s items not discovered in time)",
                job.0, job.1
            ),
        );
    }

    /// Sends again the held values that are due.
    async fn resend_due(&mut self) {
        let mut due = self.resend.take_due(Instant::now()).into_iter();
        for (job, items) in due.by_ref() {
            if !self.send_job(job, items).await {
                break;
            }
        }
        for (job, items) in due {
            self.resend.forget(&job);
            self.failed(
                items.len() as u64,
                &"not sent after the previous request failed",
            );
        }
    }
}

#[async_trait]
impl BatchSink<PhaseEvent> for Worker {
    async fn handle(&mut self, batch: Vec<PhaseEvent>) {
        let mut known = Vec::new();
        let mut new: BTreeMap<JobRef, Vec<ZabbixItem>> = BTreeMap::new();
        let items: Vec<ZabbixItem> = batch
            .iter()
            .flat_map(|e| items_for(e, &self.names, &self.config.default_host))
            .collect();
        for item in items {
            match job_of(&item) {
                Some(job) if self.resend.holds(&job) => {
                    if let Some(Outcome::GivenUp(n)) = self.resend.join(&job, vec![item]) {
                        self.give_up(&job, n);
                    }
                }
                Some(job) if !self.known.contains(&job) => new.entry(job).or_default().push(item),
                _ => known.push(item),
            }
        }
        let mut reachable = true;
        if !known.is_empty() {
            let n = known.len() as u64;
            match self.request(known).await {
                // Known items refused: a host or item removed since; counted, not held.
                Answer::Refused => self.failed(n, &"refused by the server"),
                Answer::Failed => reachable = false,
                Answer::Accepted | Answer::Partly => {}
            }
        }
        let mut jobs = new.into_iter();
        while reachable && let Some((job, items)) = jobs.next() {
            reachable = self.send_job(job, items).await;
        }
        let rest: u64 = jobs.map(|(_, items)| items.len() as u64).sum();
        self.failed(rest, &"not sent after the previous request failed");
        if reachable {
            self.resend_due().await;
        }
    }

    fn tick_interval(&self) -> Option<Duration> {
        Some(Duration::from_millis(500))
    }

    async fn tick(&mut self) {
        if !self.resend.is_empty() {
            self.resend_due().await;
        }
    }

    async fn close(&mut self) {
        let deadline = Instant::now() + CLOSE_RESEND;
        while let Some(next) = self.resend.next_due() {
            if next > deadline {
                break;
            }
            tokio::time::sleep_until(next.into()).await;
            self.resend_due().await;
        }
        for (job, items) in self.resend.drain() {
            self.give_up(&job, items.len());
        }
    }
}
