//! The SQLite file's hot-path writer: one rusqlite connection on its own thread that runs a
//! whole write transaction per hand-off.
//!
//! Through sqlx every statement (and every row it returns) is a message to the connection's
//! worker thread and back, so a transaction of eight statements costs sixteen thread wake-ups;
//! profiles of the load benchmark showed futex hand-offs, not SQL, as the largest cost. Here the
//! job queue's batch steps (claim, begin, finish) send one closure and get one reply. It is the
//! same database file and the same schema; this process's writes still take turns at the store's
//! write gate, and other processes are waited for by SQLite's busy timeout.

use crate::entity::{Ts, job};
use crate::error::TRANSIENT;
use chrono::{DateTime, FixedOffset, NaiveDateTime, SecondsFormat, Utc};
use multiflexi_core::{Error, Result};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;
use tokio::sync::oneshot;

type Work = Box<dyn FnOnce(&mut Connection) + Send>;

/// A dedicated write connection to a SQLite file (see the module docs).
#[derive(Debug)]
pub(crate) struct SqliteWriter {
    tx: mpsc::Sender<Work>,
    path: PathBuf,
    /// Dropped with the writer: the checkpointer thread ends.
    _checkpointer: mpsc::Sender<()>,
}

/// How often the checkpointer copies committed WAL pages back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

impl SqliteWriter {
    /// Opens `path` (which the migrations already created) with the store's pragmas and starts
    /// the writer thread and its checkpointer. Both end when the writer is dropped.
    ///
    /// The checkpointer is a second connection that copies committed WAL pages back into the
    /// database file every [`CHECKPOINT_EVERY`] (a `PASSIVE` checkpoint, beside the writer,
    /// not blocking it). The writer's own automatic checkpoint (every 1,000 pages) then finds
    /// little left to copy, and it is still what lets the WAL restart from its beginning, so
    /// the file stays a few MB instead of growing while writes never pause.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let conn = Self::connect(path)?;
        let checkpoints = Self::connect(path)?;
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("multiflexi-sqlite-checkpoint".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_EVERY)
                {
                    if let Err(e) =
                        checkpoints.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!("SQLite checkpoint failed: {e}");
                    }
                }
            })
            .map_err(|e| Error::backend("sqlite", false, format!("checkpoint thread: {e}")))?;
        conn.set_prepared_statement_cache_capacity(64);
        let (tx, rx) = mpsc::channel::<Work>();
        std::thread::Builder::new()
            .name("multiflexi-sqlite-writer".into())
            .spawn(move || {
                let mut conn = conn;
                while let Ok(work) = rx.recv() {
                    work(&mut conn);
                }
            })
            .map_err(|e| Error::backend("sqlite", false, format!("writer thread: {e}")))?;
        Ok(Self {
            tx,
            path: path.to_path_buf(),
            _checkpointer: stop,
        })
    }

    /// A connection with the store's pragmas.
    fn connect(path: &Path) -> Result<Connection> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| Error::backend("sqlite", false, format!("{}: {e}", path.display())))?;
        conn.busy_timeout(Duration::from_secs(60))
            .and_then(|()| {
                conn.execute_batch(
                    "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; \
                     PRAGMA mmap_size = 268435456;",
                )
            })
            .map_err(|e| map_sqlite(&e))?;
        Ok(conn)
    }

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction on the writer thread: committed when it
    /// returns `Ok`, rolled back otherwise.
    pub(crate) async fn transaction<T, F>(&self, body: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let work: Work = Box::new(move |conn: &mut Connection| {
            let r = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| map_sqlite(&e))
                .and_then(|txn| {
                    let v = body(&txn)?;
                    txn.commit().map_err(|e| map_sqlite(&e))?;
                    Ok(v)
                });
            let _ = reply.send(r);
        });
        let stopped = || {
            Error::backend(
                "sqlite",
                false,
                format!("the writer thread of {} stopped", self.path.display()),
            )
        };
        self.tx.send(work).map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

/// Maps a rusqlite error the way [`crate::error::map_db`] maps sqlx's: busy / locked are
/// transient conflicts (retried by the caller).
pub(crate) fn map_sqlite(e: &rusqlite::Error) -> Error {
    use rusqlite::ErrorCode as C;
    match e.sqlite_error_code() {
        Some(C::DatabaseBusy | C::DatabaseLocked) => {
            Error::conflict(format!("{TRANSIENT}sqlite: {e}"))
        }
        Some(C::ConstraintViolation) if e.to_string().contains("UNIQUE") => Error::conflict(
            format!("{TRANSIENT}sqlite: a row was stored concurrently: {e}"),
        ),
        _ => Error::backend("sqlite", false, e.to_string()),
    }
}

/// A timestamp as sqlx stores it in SQLite (RFC 3339, so text order is time order).
pub(crate) fn ts_text(t: DateTime<Utc>) -> String {
    t.fixed_offset()
        .to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// Reads a timestamp column written by sqlx (RFC 3339) or by SQLite itself (`YYYY-MM-DD
/// HH:MM:SS`, UTC).
fn parse_ts(s: &str) -> Option<Ts> {
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%F %T%.f%:z"))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%F %T%.f")
                .ok()
                .map(|n| n.and_utc().fixed_offset())
        })
}

fn ts_col(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Option<Ts>> {
    match row.get_ref(idx)? {
        rusqlite::types::ValueRef::Null => Ok(None),
        v => {
            let s = v.as_str()?;
            parse_ts(s).map(Some).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    idx,
                    rusqlite::types::Type::Text,
                    format!("{s:?} is not a timestamp").into(),
                )
            })
        }
    }
}

fn ts_req(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Ts> {
    ts_col(row, idx)?.ok_or_else(|| {
        rusqlite::Error::InvalidColumnType(idx, "timestamp".into(), rusqlite::types::Type::Null)
    })
}

/// The `job` columns in [`job::Model`] order, for `SELECT` / `RETURNING` read by [`job_model`]:
/// made from the entity, so a new column cannot be missed here.
pub(crate) static JOB_COLUMNS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    use sea_orm::{IdenStatic, Iterable};
    job::Column::iter()
        .map(|c| format!("\"{}\"", c.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
});

/// A whole `job` row selected as [`JOB_COLUMNS`], read by position.
pub(crate) fn job_model(row: &rusqlite::Row<'_>) -> rusqlite::Result<job::Model> {
    Ok(job::Model {
        id: row.get(0)?,
        runtemplate_id: row.get(1)?,
        company_id: row.get(2)?,
        app_id: row.get(3)?,
        executor: row.get(4)?,
        program: row.get(5)?,
        image: row.get(6)?,
        timeout: row.get(7)?,
        memory_limit_mb: row.get(8)?,
        artifact_patterns: row.get(9)?,
        timezone: row.get(10)?,
        env: row.get(11)?,
        command: row.get(12)?,
        launched_by: row.get(13)?,
        phase: row.get(14)?,
        status: row.get(15)?,
        outcome: row.get(16)?,
        trigger: row.get(17)?,
        slot: ts_col(row, 18)?,
        attempt: row.get(19)?,
        retry_of: row.get(20)?,
        after: ts_req(row, 21)?,
        exitcode: row.get(22)?,
        pid: row.get(23)?,
        external_id: row.get(24)?,
        lease_owner: row.get(25)?,
        lease_expires: ts_col(row, 26)?,
        lease_token: row.get(27)?,
        cancel_requested: row.get(28)?,
        idempotency_key: row.get(29)?,
        trace_context: row.get(30)?,
        stdout: row.get(31)?,
        stderr: row.get(32)?,
        created: ts_req(row, 33)?,
        scheduled: ts_col(row, 34)?,
        queued: ts_col(row, 35)?,
        begin: ts_col(row, 36)?,
        end: ts_col(row, 37)?,
        preserved: ts_col(row, 38)?,
        launch_failures: row.get(39)?,
        pids_max: row.get(40)?,
        cpu_seconds: row.get(41)?,
        container: row.get(42)?,
        peak_memory_bytes: row.get(43)?,
        cpu_time_ms: row.get(44)?,
        memory_limit_hit: row.get(45)?,
        usage_note: row.get(46)?,
    })
}

/// Reads one job row by id inside a writer transaction.
pub(crate) fn job_by_id(txn: &rusqlite::Transaction<'_>, id: i64) -> Result<Option<job::Model>> {
    let mut stmt = txn
        .prepare_cached(&format!("SELECT {} FROM job WHERE id = ?1", *JOB_COLUMNS))
        .map_err(|e| map_sqlite(&e))?;
    let mut rows = stmt.query([id]).map_err(|e| map_sqlite(&e))?;
    match rows.next().map_err(|e| map_sqlite(&e))? {
        Some(row) => Ok(Some(job_model(row).map_err(|e| map_sqlite(&e))?)),
        None => Ok(None),
    }
}

/// Appends one audit row (the same columns as the SeaORM path writes).
pub(crate) fn insert_audit(
    txn: &rusqlite::Transaction<'_>,
    at: &str,
    job_id: i64,
    action: &str,
    actor: &str,
    detail: &str,
) -> Result<()> {
    txn.prepare_cached(
        "INSERT INTO audit_log (at, job_id, actor, action, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| s.execute(rusqlite::params![at, job_id, actor, action, detail]))
    .map_err(|e| map_sqlite(&e))?;
    Ok(())
}

/// Parses a timestamp read as text elsewhere (e.g. a `RETURNING "after"`).
pub(crate) fn ts_from_text(s: &str) -> Result<DateTime<FixedOffset>> {
    parse_ts(s).ok_or_else(|| Error::backend("sqlite", false, format!("{s:?} is not a timestamp")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_in_sqlx_format() {
        let t = DateTime::parse_from_rfc3339("2026-03-29T01:30:00.123456Z")
            .unwrap()
            .to_utc();
        let s = ts_text(t);
        assert_eq!(s, "2026-03-29T01:30:00.123456+00:00");
        assert_eq!(parse_ts(&s).unwrap().to_utc(), t);
        assert_eq!(
            parse_ts("2026-03-29 01:30:00").unwrap().to_utc(),
            DateTime::parse_from_rfc3339("2026-03-29T01:30:00Z").unwrap()
        );
        assert!(parse_ts("yesterday").is_none());
    }

    #[test]
    fn job_columns_are_the_entitys_in_the_order_job_model_reads() {
        let cols: Vec<&str> = JOB_COLUMNS.split(", ").collect();
        assert_eq!(
            cols.len(),
            43,
            "job_model reads 43 columns by position: update it with the entity"
        );
        assert_eq!(cols[0], "\"id\"");
        assert_eq!(cols[14], "\"phase\"");
        assert_eq!(cols[27], "\"lease_token\"");
        assert_eq!(cols[42], "\"container\"");
    }
}
