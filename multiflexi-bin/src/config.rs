//! Configuration shared by every binary, from flags or the environment variables MultiFlexi uses.
//!
//! `--help` of each binary lists every variable with its default (clap's `env` support).

use clap::Args;
use multiflexi_core::ExecutorKind;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use std::time::Duration;

/// The embedded SQLite default.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://multiflexi.sqlite?mode=rwc";

/// Where the durable record lives.
#[derive(Debug, Clone, Args)]
pub struct DatabaseConfig {
    /// Database URL (sqlite://PATH?mode=rwc, postgres://…, mysql://…); wins over DB_*.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Legacy MultiFlexi setting: mysql, pgsql (postgres) or sqlite; used with the DB_* below
    /// when DATABASE_URL is unset.
    #[arg(long, env = "DB_CONNECTION")]
    pub db_connection: Option<String>,
    /// Database host (with DB_CONNECTION).
    #[arg(long, env = "DB_HOST", default_value = "127.0.0.1")]
    pub db_host: String,
    /// Database port (with DB_CONNECTION; default per engine).
    #[arg(long, env = "DB_PORT")]
    pub db_port: Option<u16>,
    /// Database name, or the SQLite file (with DB_CONNECTION).
    #[arg(long, env = "DB_DATABASE", default_value = "multiflexi")]
    pub db_database: String,
    /// Database user (with DB_CONNECTION).
    #[arg(long, env = "DB_USERNAME")]
    pub db_username: Option<String>,
    /// Database password (with DB_CONNECTION).
    #[arg(long, env = "DB_PASSWORD", hide_env_values = true)]
    pub db_password: Option<String>,
    /// Key that encrypts secrets at rest (32 bytes, base64 or hex). `multiflexi serve` creates a
    /// key file beside the SQLite database when it is unset.
    #[arg(long, env = "MULTIFLEXI_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
}

impl DatabaseConfig {
    /// The URL to connect to: DATABASE_URL, else one built from DB_*, else the SQLite default.
    pub fn url(&self) -> anyhow::Result<String> {
        if let Some(url) = self
            .database_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
        {
            return Ok(url.trim().to_string());
        }
        let Some(kind) = self.db_connection.as_deref() else {
            return Ok(DEFAULT_DATABASE_URL.to_string());
        };
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let auth = match (&self.db_username, &self.db_password) {
            (Some(u), Some(p)) => format!("{}:{}@", enc(u), enc(p)),
            (Some(u), None) => format!("{}@", enc(u)),
            _ => String::new(),
        };
        let (scheme, default_port) = match kind.to_ascii_lowercase().as_str() {
            "mysql" | "mariadb" => ("mysql", 3306),
            "pgsql" | "postgres" | "postgresql" => ("postgres", 5432),
            "sqlite" => return Ok(format!("sqlite://{}?mode=rwc", self.db_database)),
            other => anyhow::bail!(
                "DB_CONNECTION={other:?} is not supported; allowed: mysql, pgsql (or postgres), sqlite; or set DATABASE_URL"
            ),
        };
        Ok(format!(
            "{scheme}://{auth}{}:{}/{}",
            self.db_host,
            self.db_port.unwrap_or(default_port),
            enc(&self.db_database)
        ))
    }
}

/// How a daemon runs its loops.
#[derive(Debug, Clone, Args)]
pub struct EngineConfig {
    /// Seconds between scheduler passes and dispatcher polls (also the missed-slot grace, at least 60 s).
    #[arg(long, env = "MULTIFLEXI_CYCLE_PAUSE", default_value_t = 10)]
    pub cycle_pause: u64,
    /// Jobs one executor runs at once.
    #[arg(long, env = "MULTIFLEXI_MAX_PARALLEL", default_value_t = 4)]
    pub max_parallel: usize,
    /// Stop taking new jobs while this process's RSS is above this many MiB (0 = no limit).
    #[arg(long, env = "MULTIFLEXI_MEMORY_LIMIT_MB", default_value_t = 0)]
    pub memory_limit_mb: u64,
    /// Timezone for templates created without one.
    #[arg(long, env = "MULTIFLEXI_TIMEZONE", default_value = "UTC")]
    pub timezone: String,
    /// Seconds a job's lease lasts without a heartbeat.
    #[arg(long, env = "MULTIFLEXI_LEASE_TTL", default_value_t = 30)]
    pub lease_ttl: u64,
    /// Stable name of this executor (lease owner, container labels); default the host name.
    #[arg(long, env = "MULTIFLEXI_EXECUTOR_ID")]
    pub executor_id: Option<String>,
    /// Executor kinds this daemon runs (comma separated: Native, Docker, Podman, Kubernetes,
    /// Azure);
    /// default those it can reach.
    #[arg(long, env = "MULTIFLEXI_EXECUTORS", value_delimiter = ',')]
    pub executors: Vec<String>,
}

impl EngineConfig {
    /// The cycle pause.
    pub fn cycle_pause(&self) -> Duration {
        Duration::from_secs(self.cycle_pause.max(1))
    }

    /// The lease TTL.
    pub fn lease_ttl(&self) -> Duration {
        Duration::from_secs(self.lease_ttl.max(3))
    }

    /// The daemon memory throttle, when set.
    pub fn memory_limit(&self) -> Option<u64> {
        (self.memory_limit_mb > 0).then_some(self.memory_limit_mb)
    }

    /// The executor id: the flag, else the host name.
    pub fn executor_id(&self) -> String {
        self.executor_id.clone().unwrap_or_else(host_name)
    }

    /// The requested executor kinds (empty: decide by what is reachable).
    pub fn executor_kinds(&self) -> anyhow::Result<Vec<ExecutorKind>> {
        self.executors
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.parse::<ExecutorKind>().map_err(anyhow::Error::from))
            .collect()
    }
}

/// This machine's host name (`/etc/hostname`, `HOSTNAME`), or `multiflexi-executor`.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "multiflexi-executor".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> DatabaseConfig {
        DatabaseConfig {
            database_url: None,
            db_connection: None,
            db_host: "127.0.0.1".into(),
            db_port: None,
            db_database: "multiflexi".into(),
            db_username: None,
            db_password: None,
            master_key: None,
        }
    }

    #[test]
    fn database_url_wins_then_db_vars_then_default() {
        assert_eq!(db().url().unwrap(), DEFAULT_DATABASE_URL);
        let mut c = db();
        c.db_connection = Some("pgsql".into());
        c.db_username = Some("multi flexi".into());
        c.db_password = Some("p@ss:w/rd".into());
        assert_eq!(
            c.url().unwrap(),
            "postgres://multi%20flexi:p%40ss%3Aw%2Frd@127.0.0.1:5432/multiflexi"
        );
        c.db_connection = Some("mysql".into());
        c.db_port = Some(3307);
        assert!(c.url().unwrap().starts_with("mysql://"));
        assert!(c.url().unwrap().contains(":3307/"));
        c.database_url = Some("sqlite::memory:".into());
        assert_eq!(c.url().unwrap(), "sqlite::memory:");
        let mut bad = db();
        bad.db_connection = Some("oracle".into());
        let err = bad.url().unwrap_err().to_string();
        assert!(err.contains("allowed: mysql, pgsql"), "{err}");
    }
}
