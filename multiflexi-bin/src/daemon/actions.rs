//! Actions after completion in the daemons: the [`ActionRunner`] every executor daemon (and
//! `multiflexi serve`) runs beside its dispatcher, with webhooks sent over reqwest.

use crate::config::EngineConfig;
use async_trait::async_trait;
use multiflexi_core::engine::{ActionRunner, ActionRunnerOptions, Shutdown, WebhookPoster};
use multiflexi_core::telemetry::ZabbixConfig;
use multiflexi_core::{Clock, Store, Telemetry};
use std::sync::Arc;
use std::time::Duration;

/// Webhooks over reqwest (http and https; redirects not followed).
#[derive(Debug, Clone)]
pub struct ReqwestPoster {
    client: reqwest::Client,
}

impl ReqwestPoster {
    /// A client with no redirects and the process's rustls provider (ring).
    pub fn new() -> anyhow::Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("multiflexi/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client })
    }
}

#[async_trait]
impl WebhookPoster for ReqwestPoster {
    async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<u16, String> {
        let mut req = self.client.post(url).timeout(timeout).body(body);
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        req.send().await.map(|r| r.status().as_u16()).map_err(|e| {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(": ");
                msg.push_str(&s.to_string());
                src = s.source();
            }
            msg
        })
    }
}

/// Starts the action runner of a daemon (owner: its executor id, lease: `MULTIFLEXI_LEASE_TTL`,
/// at most 2 s between passes); it stops when `shutdown` drains.
pub fn spawn(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    telemetry: Arc<dyn Telemetry>,
    engine: &EngineConfig,
    zabbix: Option<ZabbixConfig>,
    shutdown: Shutdown,
) -> tokio::task::JoinHandle<()> {
    let poster: Option<Arc<dyn WebhookPoster>> = match ReqwestPoster::new() {
        Ok(p) => Some(Arc::new(p)),
        Err(e) => {
            tracing::warn!("webhooks cannot be sent (no HTTP client: {e})");
            None
        }
    };
    let options = ActionRunnerOptions::new(engine.executor_id())
        .with_lease_ttl(engine.lease_ttl().max(Duration::from_secs(10)))
        .with_poll(engine.cycle_pause().min(Duration::from_secs(2)))
        .with_zabbix(zabbix);
    let runner = ActionRunner::new(store, clock, telemetry, poster, options);
    tokio::spawn(async move { runner.run(shutdown).await })
}
