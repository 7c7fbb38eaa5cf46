//! [`ZabbixTelemetry`]: phase events as Zabbix trapper items, sent with the Zabbix sender
//! protocol ([`protocol`]) from a background task.
//!
//! Items (the seed's, plus upstream MultiFlexi's low-level discovery item):
//!
//! | phase event | items |
//! |---|---|
//! | Scheduled (the seed's `prepared`: the job row with its frozen environment and its schedule row exist) | `multiflexi.job.lld` = `[{"{#JOB_ID}":…,"{#APP_ID}":…,"{#APP_NAME}":…,"{#COMPANY_ID}":…,"{#COMPANY_NAME}":…,"{#RUNTEMPLATE_ID}":…,"{#RUNTEMPLATE_NAME}":…}]`, `multiflexi.job.phase[<job_id>]` = `prepared` |
//! | Running | `multiflexi.job.phase[<job_id>]` = `running` |
//! | Completed | `multiflexi.job.phase[<job_id>]` = `completed`, `multiflexi.job.exitcode[<job_id>]` = the exit code, `multiflexi.job.duration[<job_id>]` = run time in seconds (when it began) |
//!
//! Created (always in the same transaction as Scheduled), Queued and Preserved send nothing.
//! Each item is stamped (`clock`, `ns`) with the event's time. The host is the company's
//! `zabbix_host` ([`CatalogNames`]), else [`ZabbixConfig::default_host`] (`ZABBIX_HOST`, else this
//! machine's host name). The LLD record is sent with the first phase item so the discovery rule
//! creates the job's items; values that arrive before the server has them are refused and sent
//! again ([`resend`]), bounded in count and time. The template for Zabbix 6.0 is
//! `deploy/zabbix/template_app_multiflexi.yaml`.

pub mod protocol;
pub mod resend;
mod worker;

use super::queue::{QueuedTelemetry, SinkStats};
use super::{CatalogNames, PhaseEvent, Telemetry, host_name};
use crate::lifecycle::Phase;
use chrono::Utc;
use protocol::{SenderReply, SenderRequest, ZabbixItem, read_frame};
pub use resend::ResendLimits;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// The default Zabbix trapper port.
pub const DEFAULT_PORT: u16 = 10051;
/// The low-level discovery item key.
pub const LLD_KEY: &str = "multiflexi.job.lld";

/// Where and how to send.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ZabbixConfig {
    /// Server or proxy host name or address.
    pub server: String,
    /// Its trapper port (default 10051).
    pub port: u16,
    /// The host items are reported for when the company has no `zabbix_host`.
    pub default_host: String,
    /// TCP connect timeout (default 3 s).
    pub connect_timeout: Duration,
    /// Timeout for writing a request and reading the reply (default 10 s).
    pub io_timeout: Duration,
    /// Events queued at most before new ones are dropped (default 10,000).
    pub queue_capacity: usize,
    /// Events per request at most (default 100, up to 4 items each).
    pub max_batch: usize,
    /// How refused values of new jobs are sent again ([`resend`]).
    pub resend: ResendLimits,
}

impl ZabbixConfig {
    /// Sends to `server` (`host`, `host:port`, `[v6]:port`), reporting for `default_host`.
    pub fn new(server: &str, default_host: impl Into<String>) -> crate::Result<Self> {
        let (server, port) = split_host_port(server.trim(), DEFAULT_PORT)?;
        Ok(Self {
            server,
            port,
            default_host: default_host.into(),
            connect_timeout: Duration::from_secs(3),
            io_timeout: Duration::from_secs(10),
            queue_capacity: 10_000,
            max_batch: 100,
            resend: ResendLimits::default(),
        })
    }

    /// From `ZABBIX_SERVER` (host[:port]; none: Zabbix is off), `ZABBIX_PORT` (upstream's, used
    /// when the server has no port) and `ZABBIX_HOST` (else the host name).
    pub fn from_env() -> crate::Result<Option<Self>> {
        let var = |k: &str| std::env::var(k).ok();
        Self::from_vars(
            var("ZABBIX_SERVER").as_deref(),
            var("ZABBIX_PORT").as_deref(),
            var("ZABBIX_HOST").as_deref(),
        )
    }

    /// [`from_env`](Self::from_env) with the values given.
    pub fn from_vars(
        server: Option<&str>,
        port: Option<&str>,
        host: Option<&str>,
    ) -> crate::Result<Option<Self>> {
        let Some(server) = server.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let default_port = match port.map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => p.parse().map_err(|_| {
                crate::Error::invalid("ZABBIX_PORT", format!("{p:?} is not a port"))
            })?,
            None => DEFAULT_PORT,
        };
        let (server, port) = split_host_port(server, default_port)?;
        let default_host = host
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map_or_else(host_name, str::to_string);
        let mut c = Self::new(&server, default_host)?;
        c.port = port;
        Ok(Some(c))
    }

    /// `server:port` as written for a connection.
    pub fn address(&self) -> String {
        if self.server.contains(':') {
            format!("[{}]:{}", self.server, self.port)
        } else {
            format!("{}:{}", self.server, self.port)
        }
    }
}

fn split_host_port(s: &str, default_port: u16) -> crate::Result<(String, u16)> {
    let bad = || crate::Error::invalid("ZABBIX_SERVER", format!("{s:?} is not host[:port]"));
    if s.is_empty() {
        return Err(bad());
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if after.is_empty() => default_port,
            None => return Err(bad()),
        };
        return Ok((host.to_string(), port));
    }
    match s.rsplit_once(':') {
        // More than one colon: a bare IPv6 address.
        Some((host, _)) if host.contains(':') => Ok((s.to_string(), default_port)),
        Some((host, port)) => Ok((host.to_string(), port.parse().map_err(|_| bad())?)),
        None => Ok((s.to_string(), default_port)),
    }
}

/// Why a send failed.
#[derive(Debug)]
pub enum SendError {
    /// Connecting, writing or reading failed.
    Io(std::io::Error),
    /// No answer within the timeout.
    Timeout(&'static str),
    /// The server answered something other than `success`.
    Refused(SenderReply),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Io(e) => write!(f, "{e}"),
            SendError::Timeout(what) => write!(f, "timed out {what}"),
            SendError::Refused(r) => write!(f, "server answered {:?}: {}", r.response, r.info),
        }
    }
}

impl std::error::Error for SendError {}

/// Sends one request and reads the reply (one connection per request, as `zabbix_sender`).
pub async fn send(config: &ZabbixConfig, items: Vec<ZabbixItem>) -> Result<SenderReply, SendError> {
    let addr = config.address();
    let mut stream = tokio::time::timeout(config.connect_timeout, TcpStream::connect(&addr))
        .await
        .map_err(|_| SendError::Timeout("connecting"))?
        .map_err(SendError::Io)?;
    let bytes = SenderRequest::new(items, Utc::now()).encode();
    let exchange = async {
        stream.write_all(&bytes).await?;
        stream.flush().await?;
        let payload = read_frame(&mut stream).await?;
        SenderReply::decode(&payload)
    };
    let reply = tokio::time::timeout(config.io_timeout, exchange)
        .await
        .map_err(|_| SendError::Timeout("waiting for the reply"))?
        .map_err(SendError::Io)?;
    if reply.is_success() {
        Ok(reply)
    } else {
        Err(SendError::Refused(reply))
    }
}

/// The items for one phase event (see the module docs), for the company's host or
/// `default_host`.
pub fn items_for(event: &PhaseEvent, names: &CatalogNames, default_host: &str) -> Vec<ZabbixItem> {
    let host = names
        .zabbix_host(event.company_id)
        .unwrap_or_else(|| default_host.to_string());
    let id = event.job_id;
    let item = |key: String, value: String| ZabbixItem::new(host.clone(), key, value, event.at);
    let phase = |v: &str| item(format!("multiflexi.job.phase[{id}]"), v.to_string());
    match event.phase {
        Phase::Scheduled => vec![
            item(LLD_KEY.into(), lld_value(event, names)),
            phase("prepared"),
        ],
        Phase::Running => vec![phase("running")],
        Phase::Completed => {
            let mut items = vec![phase("completed")];
            if let Some(code) = event.exitcode {
                items.push(item(
                    format!("multiflexi.job.exitcode[{id}]"),
                    code.to_string(),
                ));
            }
            if let Some(ms) = event.duration_ms.filter(|_| event.begin.is_some()) {
                items.push(item(
                    format!("multiflexi.job.duration[{id}]"),
                    format!("{:.3}", ms.max(0) as f64 / 1000.0),
                ));
            }
            items
        }
        Phase::Created | Phase::Queued | Phase::Preserved => Vec::new(),
    }
}

/// The LLD record of upstream MultiFlexi's `multiflexi.job.lld`: a JSON array with one object
/// of macros (names from the catalog, else the id).
pub fn lld_value(event: &PhaseEvent, names: &CatalogNames) -> String {
    let company = names.company(event.company_id);
    let record = serde_json::json!([{
        "{#JOB_ID}": event.job_id.to_string(),
        "{#APP_ID}": event.app_id.to_string(),
        "{#APP_NAME}": names.app_name(event.app_id).unwrap_or_else(|| event.app_id.to_string()),
        "{#COMPANY_ID}": event.company_id.to_string(),
        "{#COMPANY_NAME}": company.map_or_else(|| event.company_id.to_string(), |c| c.name),
        "{#RUNTEMPLATE_ID}": event.runtemplate_id.to_string(),
        "{#RUNTEMPLATE_NAME}": names
            .runtemplate_name(event.runtemplate_id)
            .unwrap_or_else(|| event.runtemplate_id.to_string()),
    }]);
    record.to_string()
}

/// Sends phase events to a Zabbix server or proxy (see the module docs). `event` only queues;
/// a background task batches the items of queued events into requests. A dead, slow or silent
/// server fills the queue, and further events are dropped and counted
/// ([`stats`](Self::stats)`.dropped()`); values refused because a new job's items do not exist
/// yet are sent again ([`resend`]); values finally refused and failed requests are counted
/// (`failed`) and logged (the first, then every 100th, and when sending recovers).
pub struct ZabbixTelemetry {
    queued: QueuedTelemetry,
    config: ZabbixConfig,
}

impl fmt::Debug for ZabbixTelemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZabbixTelemetry")
            .field("server", &self.config.address())
            .field("queue", &self.queued)
            .finish()
    }
}

impl ZabbixTelemetry {
    /// Starts the sender task.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn spawn(config: ZabbixConfig, names: Arc<CatalogNames>) -> Self {
        let stats = SinkStats::new("zabbix");
        let worker = worker::Worker::new(config.clone(), names, stats.clone());
        let queued = QueuedTelemetry::spawn(stats, config.queue_capacity, config.max_batch, worker);
        Self { queued, config }
    }

    /// Its configuration.
    pub fn config(&self) -> &ZabbixConfig {
        &self.config
    }

    /// Its counters.
    pub fn stats(&self) -> &Arc<SinkStats> {
        self.queued.stats()
    }

    /// Waits until everything queued so far was sent (or failed); bound it with a timeout.
    pub async fn flush(&self) -> bool {
        self.queued.flush().await
    }

    /// Sends what is queued and stops, waiting at most `timeout`.
    pub async fn shutdown(&self, timeout: Duration) -> bool {
        self.queued.shutdown(timeout).await
    }
}

impl Telemetry for ZabbixTelemetry {
    fn event(&self, event: &PhaseEvent) {
        if matches!(
            event.phase,
            Phase::Scheduled | Phase::Running | Phase::Completed
        ) {
            self.queued.event(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_server_addresses() {
        let c = ZabbixConfig::new("zabbix.example", "h").unwrap();
        assert_eq!((c.server.as_str(), c.port), ("zabbix.example", 10051));
        assert_eq!(c.address(), "zabbix.example:10051");
        let c = ZabbixConfig::new("10.0.0.1:10052", "h").unwrap();
        assert_eq!(c.address(), "10.0.0.1:10052");
        let c = ZabbixConfig::new("[::1]:10055", "h").unwrap();
        assert_eq!((c.server.as_str(), c.port), ("::1", 10055));
        assert_eq!(c.address(), "[::1]:10055");
        let c = ZabbixConfig::new("::1", "h").unwrap();
        assert_eq!(c.port, 10051);
        assert!(ZabbixConfig::new("host:port", "h").is_err());
        assert!(ZabbixConfig::new("", "h").is_err());
    }

    #[test]
    fn reads_the_environment_values() {
        assert_eq!(ZabbixConfig::from_vars(None, None, None).unwrap(), None);
        assert_eq!(
            ZabbixConfig::from_vars(Some(" "), None, None).unwrap(),
            None
        );
        let c = ZabbixConfig::from_vars(Some("z"), Some("10099"), Some("web1"))
            .unwrap()
            .unwrap();
        assert_eq!((c.port, c.default_host.as_str()), (10099, "web1"));
        let c = ZabbixConfig::from_vars(Some("z:1"), Some("10099"), None)
            .unwrap()
            .unwrap();
        assert_eq!(c.port, 1);
        assert!(!c.default_host.is_empty());
        assert!(ZabbixConfig::from_vars(Some("z"), Some("x"), None).is_err());
    }
}
