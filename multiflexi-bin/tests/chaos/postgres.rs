//! The suite's own PostgreSQL cluster (15/chaos on port 5440, made by `scripts/chaos.sh`), a fresh
//! database per scenario, restarts under load, and the scenario database as the suite reads it:
//! job rows and artifacts through plain SQL (the suite checks what is recorded, not what the
//! store's API says), plus the fault triggers some scenarios install.
//!
//! The cluster is never the machine's main one: restarting it leaves the other suites alone.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, QueryResult};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// PostgreSQL major version and cluster name (`pg_ctlcluster 15 chaos …`).
pub const PG_VERSION: &str = "15";
/// The cluster's name.
pub const PG_CLUSTER: &str = "chaos";

/// The cluster's maintenance URL with the suite's role (CREATEDB, password): from
/// `MULTIFLEXI_CHAOS_PG_URL` (printed by `scripts/chaos.sh`), else the script's default.
pub fn admin_url() -> String {
    std::env::var("MULTIFLEXI_CHAOS_PG_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| {
            "postgres://multiflexi_chaos:multiflexi_chaos@127.0.0.1:5440/postgres".into()
        })
}

/// `url` with its database replaced.
fn with_database(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
    let authority = rest.split_once('/').map_or(rest, |(a, _)| a);
    format!("{scheme}://{authority}/{db}")
}

/// Host and port of the cluster (what the TCP proxy forwards to).
pub fn server_addr() -> std::net::SocketAddr {
    let url = admin_url();
    let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
    let authority = rest.split_once('/').map_or(rest, |(a, _)| a);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = host_port.rsplit_once(':').unwrap_or((host_port, "5432"));
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    format!("{host}:{port}")
        .parse()
        .expect("the chaos cluster's host:port")
}

async fn connect(url: &str) -> Result<DatabaseConnection, String> {
    let mut options = ConnectOptions::new(url.to_string());
    options
        .max_connections(1)
        .min_connections(0)
        .connect_timeout(Duration::from_secs(3))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    Database::connect(options).await.map_err(|e| e.to_string())
}

/// Fails (never skips) when the cluster does not answer: the suite needs it.
pub async fn require_cluster() {
    let url = admin_url();
    let started = Instant::now();
    loop {
        match connect(&url).await {
            Ok(c) => {
                let _ = c.close().await;
                return;
            }
            Err(e) if started.elapsed() > Duration::from_secs(20) => panic!(
                "the chaos PostgreSQL cluster does not answer at {url}: {e}\n\
                 run the suite with scripts/chaos.sh, which creates and starts it \
                 (pg_createcluster {PG_VERSION} {PG_CLUSTER} -p 5440 --start)"
            ),
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

async fn pg_ctl(action: &str) {
    let out = tokio::process::Command::new("pg_ctlcluster")
        .args([PG_VERSION, PG_CLUSTER, action])
        .args(if action == "stop" {
            &["-m", "fast"][..]
        } else {
            &[][..]
        })
        .output()
        .await
        .unwrap_or_else(|e| panic!("pg_ctlcluster {action}: {e}"));
    assert!(
        out.status.success(),
        "pg_ctlcluster {PG_VERSION} {PG_CLUSTER} {action} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Stops the cluster (fast: open sessions are cut, as in a crash of the network path).
pub async fn stop() {
    pg_ctl("stop").await;
}

/// Starts the cluster and waits until it answers.
pub async fn start() {
    pg_ctl("start").await;
    require_cluster().await;
}

/// Stops the cluster, waits `pause`, starts it; returns how long it did not answer.
pub async fn outage(pause: Duration) -> Duration {
    let t = Instant::now();
    stop().await;
    tokio::time::sleep(pause).await;
    start().await;
    t.elapsed()
}

/// Which database a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh database in the chaos cluster.
    Postgres,
    /// A fresh SQLite file in the scenario's directory.
    Sqlite,
}

/// One scenario's database.
#[derive(Debug, Clone)]
pub enum Db {
    /// `name` in the chaos cluster.
    Postgres {
        /// Database name.
        name: String,
    },
    /// A file.
    Sqlite {
        /// Its path.
        path: PathBuf,
    },
}

/// A job row as the suite reads it.
#[derive(Debug, Clone)]
pub struct JobRow {
    pub id: i64,
    pub runtemplate_id: i64,
    pub phase: String,
    pub outcome: Option<String>,
    pub exitcode: Option<i64>,
    pub trigger: String,
    pub attempt: i64,
    pub retry_of: Option<i64>,
    pub slot: Option<DateTime<Utc>>,
    pub lease_owner: Option<String>,
    pub lease_expires: Option<DateTime<Utc>>,
    pub cancel_requested: bool,
    pub executor: String,
}

impl JobRow {
    /// Completed or Preserved.
    pub fn ended(&self) -> bool {
        self.phase == "completed" || self.phase == "preserved"
    }

    /// One line for failure messages.
    pub fn line(&self) -> String {
        format!(
            "job {} rt {} {} {} {} {} exit {} attempt {} retry_of {} slot {} lease {}@{}{}",
            self.id,
            self.runtemplate_id,
            self.executor,
            self.trigger,
            self.phase,
            self.outcome.as_deref().unwrap_or("-"),
            self.exitcode.map_or("-".into(), |c| c.to_string()),
            self.attempt,
            self.retry_of.map_or("-".into(), |c| c.to_string()),
            self.slot.map_or("-".into(), |s| s.to_rfc3339()),
            self.lease_owner.as_deref().unwrap_or("-"),
            self.lease_expires.map_or("-".into(), |s| s.to_rfc3339()),
            if self.cancel_requested {
                " cancel_requested"
            } else {
                ""
            }
        )
    }
}

/// An artifact row (without its content).
#[derive(Debug, Clone)]
pub struct ArtifactRow {
    pub job_id: i64,
    pub filename: String,
    pub size: i64,
    pub note: Option<String>,
}

impl Db {
    /// A fresh database for `marker`.
    pub async fn create(backend: Backend, marker: &str, dir: &std::path::Path) -> Db {
        match backend {
            Backend::Sqlite => Db::Sqlite {
                path: dir.join("multiflexi.sqlite"),
            },
            Backend::Postgres => {
                require_cluster().await;
                let name = marker.replace('-', "_");
                let admin = connect(&admin_url()).await.expect("chaos cluster");
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await
                    .expect("drop old scenario database");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .unwrap_or_else(|e| panic!("create database {name}: {e}"));
                let _ = admin.close().await;
                Db::Postgres { name }
            }
        }
    }

    /// The URL the daemons and the CLI use (directly, not through a proxy).
    pub fn url(&self) -> String {
        match self {
            Db::Postgres { name } => with_database(&admin_url(), name),
            Db::Sqlite { path } => format!("sqlite://{}?mode=rwc", path.display()),
        }
    }

    /// The URL through a proxy listening on `port` (PostgreSQL only).
    pub fn url_via(&self, port: u16) -> String {
        match self {
            Db::Postgres { name } => {
                let url = with_database(&admin_url(), name);
                let addr = server_addr();
                url.replace(&addr.to_string(), &format!("127.0.0.1:{port}"))
            }
            Db::Sqlite { .. } => panic!("a proxy needs a network database"),
        }
    }

    /// Drops the database (synchronously: called from `Drop`).
    pub fn drop_now(&self) {
        match self {
            Db::Postgres { name } => {
                let _ = std::process::Command::new("psql")
                    .arg(admin_url())
                    .args([
                        "-q",
                        "-c",
                        &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                    ])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status();
            }
            Db::Sqlite { .. } => {}
        }
    }

    /// Runs `sql` and returns its rows; retries connection failures for up to 20 s (the
    /// cluster may be restarting).
    pub async fn query(&self, sql: &str) -> Result<Vec<QueryResult>, String> {
        let started = Instant::now();
        loop {
            let result = async {
                let c = connect(&self.url()).await?;
                let rows = c
                    .query_all_raw(sea_orm::Statement::from_string(
                        c.get_database_backend(),
                        sql.to_string(),
                    ))
                    .await
                    .map_err(|e| e.to_string());
                let _ = c.close().await;
                rows
            }
            .await;
            match result {
                Ok(rows) => return Ok(rows),
                Err(e) if started.elapsed() > Duration::from_secs(20) => {
                    return Err(format!("{e}\nSQL: {sql}"));
                }
                Err(e) if is_sql_error(&e) => return Err(format!("{e}\nSQL: {sql}")),
                Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
            }
        }
    }

    /// Runs statements (no rows).
    pub async fn execute(&self, sql: &str) -> Result<(), String> {
        let c = connect(&self.url()).await?;
        let r = c
            .execute_unprepared(sql)
            .await
            .map(|_| ())
            .map_err(|e| format!("{e}\nSQL: {sql}"));
        let _ = c.close().await;
        r
    }

    fn ts(&self, column: &str) -> String {
        match self {
            Db::Postgres { .. } => format!(
                "to_char(\"{column}\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
            ),
            Db::Sqlite { .. } => format!("\"{column}\""),
        }
    }

    /// Every job row.
    pub async fn jobs(&self) -> Result<Vec<JobRow>, String> {
        let sql = format!(
            "SELECT id, runtemplate_id, phase, outcome, exitcode, \"trigger\", attempt, \
             retry_of, {slot}, lease_owner, {lease}, \
             CASE WHEN cancel_requested THEN 1 ELSE 0 END, executor FROM job ORDER BY id",
            slot = self.ts("slot"),
            lease = self.ts("lease_expires"),
        );
        let rows = self.query(&sql).await?;
        rows.iter()
            .map(|r| {
                let e = |e: sea_orm::DbErr| e.to_string();
                let ts = |i: usize| -> Result<Option<DateTime<Utc>>, String> {
                    let raw: Option<String> = r.try_get_by_index(i).map_err(e)?;
                    Ok(raw.and_then(|s| parse_ts(&s)))
                };
                Ok(JobRow {
                    id: r.try_get_by_index(0).map_err(e)?,
                    runtemplate_id: r.try_get_by_index(1).map_err(e)?,
                    phase: r.try_get_by_index(2).map_err(e)?,
                    outcome: r.try_get_by_index(3).map_err(e)?,
                    exitcode: r.try_get_by_index(4).map_err(e)?,
                    trigger: r.try_get_by_index(5).map_err(e)?,
                    attempt: r.try_get_by_index(6).map_err(e)?,
                    retry_of: r.try_get_by_index(7).map_err(e)?,
                    slot: ts(8)?,
                    lease_owner: r.try_get_by_index(9).map_err(e)?,
                    lease_expires: ts(10)?,
                    cancel_requested: r.try_get_by_index::<i32>(11).map_err(e)? != 0,
                    executor: r.try_get_by_index(12).map_err(e)?,
                })
            })
            .collect()
    }

    /// Every artifact row (without content).
    pub async fn artifacts(&self) -> Result<Vec<ArtifactRow>, String> {
        let rows = self
            .query("SELECT job_id, filename, size, note FROM artifacts ORDER BY job_id, id")
            .await?;
        rows.iter()
            .map(|r| {
                let e = |e: sea_orm::DbErr| e.to_string();
                Ok(ArtifactRow {
                    job_id: r.try_get_by_index(0).map_err(e)?,
                    filename: r.try_get_by_index(1).map_err(e)?,
                    size: r.try_get_by_index(2).map_err(e)?,
                    note: r.try_get_by_index(3).map_err(e)?,
                })
            })
            .collect()
    }

    /// The content of one artifact.
    pub async fn artifact_content(&self, job: i64, filename: &str) -> Result<Vec<u8>, String> {
        let rows = self
            .query(&format!(
                "SELECT content FROM artifacts WHERE job_id = {job} AND filename = '{filename}'"
            ))
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| format!("job {job} has no {filename}"))?;
        row.try_get_by_index::<Vec<u8>>(0)
            .map_err(|e| e.to_string())
    }
}

/// Errors that retrying does not fix (the statement itself is wrong).
fn is_sql_error(e: &str) -> bool {
    e.contains("syntax error") || e.contains("does not exist") || e.contains("no such")
}

/// Parses the RFC 3339 text both backends give back (see [`Db::ts`]).
pub fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// PL/pgSQL write faults, installed only in a scenario's own database.
///
/// "Once" survives the rollback the fault causes: a sequence (`nextval` is not transactional)
/// counts the refusals; `chaos_fault` (the side table) names the job each fault applies to.
pub mod faults {
    /// The side table and its sequences.
    pub const SETUP: &str = "
        CREATE TABLE IF NOT EXISTS chaos_fault (name TEXT PRIMARY KEY, job_id BIGINT NOT NULL);
        CREATE SEQUENCE IF NOT EXISTS chaos_fault_finish_seq;
        CREATE SEQUENCE IF NOT EXISTS chaos_fault_output_seq;";

    /// Refuses, once, the write that moves the chosen job to Completed / Preserved
    /// (`chaos_fault` row `finish`).
    pub const REFUSE_FINISH_ONCE: &str = "
        CREATE OR REPLACE FUNCTION chaos_refuse_finish() RETURNS trigger AS $$
        BEGIN
          IF NEW.phase IN ('completed', 'preserved')
             AND OLD.phase NOT IN ('completed', 'preserved') THEN
            IF EXISTS (SELECT 1 FROM chaos_fault WHERE name = 'finish' AND job_id = NEW.id) THEN
              IF nextval('chaos_fault_finish_seq') = 1 THEN
                RAISE EXCEPTION 'chaos: the finish of job % is refused (once)', NEW.id;
              END IF;
            END IF;
          END IF;
          RETURN NEW;
        END $$ LANGUAGE plpgsql;
        DROP TRIGGER IF EXISTS chaos_refuse_finish ON job;
        CREATE TRIGGER chaos_refuse_finish BEFORE UPDATE ON job
          FOR EACH ROW EXECUTE FUNCTION chaos_refuse_finish();";

    /// Refuses, once, an output append of the chosen job (`chaos_fault` row `output`).
    pub const REFUSE_OUTPUT_ONCE: &str = "
        CREATE OR REPLACE FUNCTION chaos_refuse_output() RETURNS trigger AS $$
        BEGIN
          IF EXISTS (SELECT 1 FROM chaos_fault WHERE name = 'output' AND job_id = NEW.job_id) THEN
            IF nextval('chaos_fault_output_seq') = 1 THEN
              RAISE EXCEPTION 'chaos: an output append of job % is refused (once)', NEW.job_id;
            END IF;
          END IF;
          RETURN NEW;
        END $$ LANGUAGE plpgsql;
        DROP TRIGGER IF EXISTS chaos_refuse_output ON job_output;
        CREATE TRIGGER chaos_refuse_output BEFORE INSERT ON job_output
          FOR EACH ROW EXECUTE FUNCTION chaos_refuse_output();";

    /// Records how much lease is left (by the database's clock) whenever a write sets one.
    pub const LEASE_PROBE: &str = "
        CREATE TABLE IF NOT EXISTS chaos_lease_probe (
          id BIGSERIAL PRIMARY KEY, job_id BIGINT NOT NULL, phase TEXT NOT NULL,
          remaining_ms DOUBLE PRECISION NOT NULL, at TIMESTAMPTZ NOT NULL);
        CREATE OR REPLACE FUNCTION chaos_lease_probe() RETURNS trigger AS $$
        BEGIN
          IF NEW.lease_expires IS NOT NULL
             AND NEW.lease_expires IS DISTINCT FROM OLD.lease_expires THEN
            INSERT INTO chaos_lease_probe (job_id, phase, remaining_ms, at)
            VALUES (NEW.id, NEW.phase,
                    EXTRACT(EPOCH FROM (NEW.lease_expires - clock_timestamp())) * 1000,
                    clock_timestamp());
          END IF;
          RETURN NEW;
        END $$ LANGUAGE plpgsql;
        DROP TRIGGER IF EXISTS chaos_lease_probe ON job;
        CREATE TRIGGER chaos_lease_probe AFTER UPDATE ON job
          FOR EACH ROW EXECUTE FUNCTION chaos_lease_probe();";

    /// Names the job a fault applies to.
    pub fn target(name: &str, job: i64) -> String {
        format!(
            "INSERT INTO chaos_fault (name, job_id) VALUES ('{name}', {job}) \
             ON CONFLICT (name) DO UPDATE SET job_id = EXCLUDED.job_id"
        )
    }
}
