//! [`SqlStore`]: connection, options, time, transactions, wake-ups.

use crate::crypto::{Keyring, MasterKey};
use crate::error::{Kind, backend_name, classify, is_transient, map_db};
use crate::migration::{Migrator, SCHEMA_VERSION};
use crate::url::{detect_backend, redact_url, sqlite_path};
use chrono::{DateTime, Utc};
use multiflexi_core::artifact::DEFAULT_ARTIFACT_CAP;
use multiflexi_core::{Clock, Error, Result, to_micros};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::{MigratorTrait, SchemaManager};
use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The PostgreSQL channel scheduling notifies and dispatchers listen on.
pub const NOTIFY_CHANNEL: &str = "multiflexi_work";

/// The pool size of a [`SqlStoreOptions::one_shot`] store: one connection for a transaction and
/// one for a read beside it.
pub const ONE_SHOT_CONNECTIONS: u32 = 2;

/// How a [`SqlStore`] is set up.
#[derive(Clone)]
#[non_exhaustive]
pub struct SqlStoreOptions {
    /// Key that seals secrets (credential values, secret environment values, job environments).
    pub master_key: Option<MasterKey>,
    /// Earlier keys, still accepted for reading (key rotation).
    pub old_keys: Vec<MasterKey>,
    /// Injected clock (tests use `ManualClock`). When absent the database's clock decides.
    pub clock: Option<Arc<dyn Clock>>,
    /// Size cap of one artifact; content past it is dropped and the note says so. On
    /// MySQL/MariaDB the store lowers it at connect to fit one artifact into one statement
    /// under the server's `max_allowed_packet` (less an eighth, at least 64 KiB, of headroom);
    /// [`SqlStore::artifact_cap`] says what applies. Raise `max_allowed_packet` on the server
    /// to store larger artifacts there.
    pub artifact_cap: u64,
    /// Connection pool size (default: 10; 1 for an in-memory SQLite database).
    pub max_connections: Option<u32>,
    /// How long to wait for a pooled connection before a retryable error.
    pub acquire_timeout: Duration,
    /// Run pending migrations on connect (default true). When false, a database that is not
    /// migrated to [`SCHEMA_VERSION`] is refused.
    pub migrate: bool,
    /// On a SQLite file: give writes a dedicated connection, and run the job queue's claim,
    /// begin and finish batches on the rusqlite writer thread with a checkpointer thread beside
    /// it (default true: what a daemon wants). When false, every write goes through the pool on
    /// the generic SeaORM path, as for an in-memory database: what a one-shot command wants
    /// (see [`SqlStoreOptions::one_shot`]). No effect on other backends.
    pub sqlite_writer: bool,
}

impl Default for SqlStoreOptions {
    fn default() -> Self {
        Self {
            master_key: None,
            old_keys: Vec::new(),
            clock: None,
            artifact_cap: DEFAULT_ARTIFACT_CAP,
            max_connections: None,
            acquire_timeout: Duration::from_secs(30),
            migrate: true,
            sqlite_writer: true,
        }
    }
}

impl fmt::Debug for SqlStoreOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStoreOptions")
            .field("master_key", &self.master_key)
            .field("old_keys", &self.old_keys)
            .field("clock", &self.clock)
            .field("artifact_cap", &self.artifact_cap)
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("migrate", &self.migrate)
            .field("sqlite_writer", &self.sqlite_writer)
            .finish()
    }
}

impl SqlStoreOptions {
    /// Options with the master key from `MULTIFLEXI_MASTER_KEY` (when set).
    pub fn from_env() -> Result<Self> {
        Ok(Self {
            master_key: MasterKey::from_env()?,
            ..Self::default()
        })
    }
    /// Builder: master key.
    pub fn with_master_key(mut self, key: MasterKey) -> Self {
        self.master_key = Some(key);
        self
    }
    /// Builder: an older key still accepted for reading.
    pub fn with_old_key(mut self, key: MasterKey) -> Self {
        self.old_keys.push(key);
        self
    }
    /// Builder: injected clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }
    /// Builder: artifact size cap.
    pub fn with_artifact_cap(mut self, cap: u64) -> Self {
        self.artifact_cap = cap;
        self
    }
    /// Builder: pool size.
    pub fn with_max_connections(mut self, n: u32) -> Self {
        self.max_connections = Some(n);
        self
    }
    /// Builder: how long to wait for a connection (connect and pool) before a retryable error.
    pub fn with_acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }
    /// Builder: run migrations on connect or not.
    pub fn with_migrate(mut self, migrate: bool) -> Self {
        self.migrate = migrate;
        self
    }
    /// Builder: the SQLite writer thread, its checkpointer and the dedicated write connection
    /// on or off (see [`SqlStoreOptions::sqlite_writer`]).
    pub fn with_sqlite_writer(mut self, on: bool) -> Self {
        self.sqlite_writer = on;
        self
    }
    /// Builder: a store for a process that runs one command and exits (`multiflexi-cli`): no
    /// SQLite writer thread, no checkpointer, no dedicated write connection, and a pool of at
    /// most [`ONE_SHOT_CONNECTIONS`] connections (opened as they are needed). It reads and
    /// writes everything a daemon's store does, through the generic SeaORM path.
    pub fn one_shot(self) -> Self {
        self.with_sqlite_writer(false)
            .with_max_connections(ONE_SHOT_CONNECTIONS)
    }
}

/// Where "now" comes from.
enum TimeSource {
    Injected(Arc<dyn Clock>),
    /// The database's clock, as an offset to the local clock re-measured every minute.
    Database {
        offset_us: AtomicI64,
        measured: Mutex<Option<Instant>>,
    },
    /// SQLite: the database is a file on this host, its clock is ours.
    Local,
}

pub(crate) struct Inner {
    pub(crate) db: DatabaseConnection,
    pub(crate) backend: DbBackend,
    pub(crate) name: &'static str,
    pub(crate) keys: Keyring,
    pub(crate) artifact_cap: u64,
    /// Whether `FOR UPDATE SKIP LOCKED` is available (PostgreSQL, MySQL 8, MariaDB ≥ 10.6).
    pub(crate) skip_locked: bool,
    /// Whether `INSERT … RETURNING` is available (PostgreSQL, SQLite, MariaDB ≥ 10.5; not
    /// MySQL): set-wise creates insert all rows in one statement, else one row per statement.
    pub(crate) returning: bool,
    /// What this store's job queue and artifact sink both declare (one per connected store).
    pub(crate) domain: multiflexi_core::store::WriteDomain,
    time: TimeSource,
    signal: watch::Sender<u64>,
    listener: Option<tokio::task::JoinHandle<()>>,
    /// SQLite has one writer: this process's write transactions take turns here instead of
    /// colliding on the file lock (whose busy handler sleeps in steps of up to 100 ms).
    write_gate: Option<tokio::sync::Mutex<()>>,
    /// SQLite file: the one connection write transactions use.
    writer: Option<DatabaseConnection>,
    /// SQLite file: the job queue's batch steps run here, one hand-off per transaction.
    #[cfg(feature = "sqlite")]
    pub(crate) sqlite_writer: Option<crate::sqlite_writer::SqliteWriter>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(h) = self.listener.take() {
            h.abort();
        }
    }
}

/// The SeaORM-backed [`Store`](multiflexi_core::Store) and
/// [`ArtifactSink`](multiflexi_core::ArtifactSink) for SQLite, PostgreSQL and MySQL/MariaDB.
///
/// Cloning is cheap (one shared pool).
#[derive(Clone)]
pub struct SqlStore {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.inner.name)
            .field("artifact_cap", &self.inner.artifact_cap)
            .finish_non_exhaustive()
    }
}

impl SqlStore {
    /// Connects to `url` (`sqlite://path?mode=rwc`, `sqlite::memory:`, `postgres://…`,
    /// `mysql://…` / `mariadb://…`), runs pending migrations (unless disabled) and refuses a
    /// database whose schema is newer than this code knows.
    pub async fn connect(url: &str, options: SqlStoreOptions) -> Result<Self> {
        let (backend, url) = detect_backend(url)?;
        let name = backend_name(backend);
        let sqlite_file = if backend == DbBackend::Sqlite {
            sqlite_path(&url)
        } else {
            None
        };
        let memory = backend == DbBackend::Sqlite && sqlite_file.is_none();
        // The dedicated write connection and the rusqlite writer thread (a daemon's SQLite file).
        let writer_file = sqlite_file.filter(|_| options.sqlite_writer);
        let connect = |max: u32, pinned: bool| {
            let mut co = ConnectOptions::new(url.clone());
            co.max_connections(max)
                .min_connections(if pinned { max } else { 0 })
                // Bounds connecting too: SeaORM hands both its connect and acquire timeouts
                // to the pool's one acquire timeout.
                .acquire_timeout(options.acquire_timeout)
                .sqlx_logging(false)
                // A connection in steady use is not pinged before every transaction (one round
                // trip each); one idle for a while (a restarted server) still is.
                .test_before_acquire_if_idle_for(Duration::from_secs(10));
            if pinned {
                // Kept open for the store's life: an in-memory database lives as long as its
                // one connection; the SQLite writer keeps its page cache warm.
                co.idle_timeout(Duration::from_secs(u32::MAX as u64))
                    .max_lifetime(Duration::from_secs(u32::MAX as u64));
            }
            #[cfg(feature = "sqlite")]
            if backend == DbBackend::Sqlite {
                co.map_sqlx_sqlite_opts(move |o| {
                    use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
                    let o = o
                        .busy_timeout(Duration::from_secs(60))
                        .foreign_keys(true)
                        .synchronous(SqliteSynchronous::Normal);
                    if memory {
                        o
                    } else {
                        // Pages read through a memory map: a connection whose cache another
                        // connection's commit invalidated re-reads without copying.
                        o.journal_mode(SqliteJournalMode::Wal)
                            .pragma("mmap_size", "268435456")
                    }
                });
            }
            #[cfg(feature = "postgres")]
            if backend == DbBackend::Postgres {
                // The claim reads `ORDER BY "after", job_id LIMIT n` along ix_schedule_claim.
                // Right after a burst of enqueues the table has no statistics yet, and the
                // planner then estimates a handful of due rows and picks a bitmap scan plus a
                // sort of EVERY due row (7–10 ms per claim at 20,000 due jobs instead of
                // 0.1 ms). Our statements are key lookups and ordered index ranges, which never
                // need bitmap scans: turned off for this pool's sessions (a startup parameter,
                // no extra round trip).
                co.map_sqlx_postgres_opts(|o| o.options([("enable_bitmapscan", "off")]));
            }
            #[cfg(feature = "mysql")]
            if backend == DbBackend::MySql {
                co.map_sqlx_mysql_opts(|o| {
                    o.timezone(Some("+00:00".to_string())).charset("utf8mb4")
                });
                co.map_sqlx_mysql_pool_opts(|po| {
                    po.after_connect(|conn, _meta| {
                        Box::pin(async move {
                            use sea_orm::sqlx::Executor;
                            // Claims lock only the rows they take (no gap locks).
                            conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                                .await?;
                            Ok(())
                        })
                    })
                });
            }
            co
        };
        let connect_err = |e: DbErr| {
            let retryable = matches!(classify(&e), Kind::Unavailable | Kind::Transient);
            Error::backend(
                name,
                retryable,
                format!("cannot connect to {}: {e}", redact_url(&url)),
            )
        };
        let db = Database::connect(if memory {
            connect(1, true)
        } else {
            connect(options.max_connections.unwrap_or(10), false)
        })
        .await
        .map_err(connect_err)?;

        check_schema(&db, name, options.migrate).await?;
        if options.migrate {
            Migrator::up(&db, None).await.map_err(|e| {
                Error::backend(name, false, format!("migrating the database failed: {e}"))
            })?;
            write_schema_version(&db, name).await?;
        }

        // SQLite has one writer at a time (the write gate): give it one dedicated connection, so
        // its page cache stays valid between transactions instead of being dropped whenever the
        // pool hands out a connection another one's commits made stale.
        let writer = if writer_file.is_some() {
            Some(
                Database::connect(connect(1, true))
                    .await
                    .map_err(connect_err)?,
            )
        } else {
            None
        };

        #[cfg(feature = "sqlite")]
        let sqlite_writer = match &writer_file {
            Some(path) => Some(crate::sqlite_writer::SqliteWriter::open(path)?),
            None => None,
        };

        let time = match (&options.clock, backend) {
            (Some(c), _) => TimeSource::Injected(c.clone()),
            (None, DbBackend::Sqlite) => TimeSource::Local,
            (None, _) => TimeSource::Database {
                offset_us: AtomicI64::new(0),
                measured: Mutex::new(None),
            },
        };
        let (skip_locked, returning) = match backend {
            DbBackend::MySql => mysql_features(&db, name).await?,
            _ => (true, true),
        };
        let artifact_cap = match backend {
            DbBackend::MySql => {
                let packet = crate::packet::mysql_max_packet(&db, name).await?;
                let cap = crate::packet::fitting_cap(options.artifact_cap, packet);
                if cap < options.artifact_cap {
                    tracing::info!(
                        max_allowed_packet = packet,
                        artifact_cap = cap,
                        configured = options.artifact_cap,
                        "artifacts are capped to fit the server's max_allowed_packet"
                    );
                }
                cap
            }
            _ => options.artifact_cap,
        };
        let (signal, _) = watch::channel(0u64);
        #[allow(unused_mut)]
        let mut listener = None;
        #[cfg(feature = "postgres")]
        if backend == DbBackend::Postgres {
            let pool = db.get_postgres_connection_pool().clone();
            listener = Some(tokio::spawn(crate::notify::listen(pool, signal.clone())));
        }
        let store = SqlStore {
            inner: Arc::new(Inner {
                db,
                backend,
                name,
                keys: Keyring::new(options.master_key, options.old_keys),
                artifact_cap,
                skip_locked,
                returning,
                domain: multiflexi_core::store::WriteDomain::unique(),
                time,
                signal,
                listener,
                write_gate: (backend == DbBackend::Sqlite).then(|| tokio::sync::Mutex::new(())),
                writer,
                #[cfg(feature = "sqlite")]
                sqlite_writer,
            }),
        };
        store.now().await?;
        Ok(store)
    }

    /// Whether this store runs the SQLite writer thread (and its checkpointer): a daemon's store
    /// on a SQLite file does, a [`SqlStoreOptions::one_shot`] store and other backends do not.
    pub fn runs_writer_thread(&self) -> bool {
        #[cfg(feature = "sqlite")]
        return self.inner.sqlite_writer.is_some();
        #[cfg(not(feature = "sqlite"))]
        return false;
    }

    /// Which backend: `sqlite`, `postgres` or `mysql`.
    pub fn backend_name(&self) -> &'static str {
        self.inner.name
    }

    /// The size cap of one artifact that applies: [`SqlStoreOptions::artifact_cap`], lowered on
    /// MySQL/MariaDB to fit under the server's `max_allowed_packet`.
    pub fn artifact_cap(&self) -> u64 {
        self.inner.artifact_cap
    }

    /// The SeaORM connection (for tools and tests).
    pub fn connection(&self) -> &DatabaseConnection {
        &self.inner.db
    }

    /// The durability settings a commit runs with, as `name=value` pairs read from the server
    /// on one of this store's connections (so per-role and per-database settings count):
    /// PostgreSQL `synchronous_commit`, MySQL/MariaDB `innodb_flush_log_at_trx_commit`, SQLite
    /// `journal_mode` and `synchronous` (1 = NORMAL, 2 = FULL). The load benchmark records it
    /// and refuses a PostgreSQL whose commits do not wait for their WAL flush.
    pub async fn durability(&self) -> Result<Vec<(String, String)>> {
        let queries: &[(&str, &str)] = match self.inner.backend {
            DbBackend::Postgres => &[("synchronous_commit", "SHOW synchronous_commit")],
            DbBackend::MySql => &[(
                "innodb_flush_log_at_trx_commit",
                "SELECT CAST(@@innodb_flush_log_at_trx_commit AS CHAR)",
            )],
            _ => &[
                ("journal_mode", "PRAGMA journal_mode"),
                ("synchronous", "PRAGMA synchronous"),
            ],
        };
        let mut out = Vec::with_capacity(queries.len());
        for (name, sql) in queries {
            let row = self
                .inner
                .db
                .query_one_raw(Statement::from_string(self.inner.backend, *sql))
                .await
                .map_err(|e| self.dberr(e))?
                .ok_or_else(|| Error::backend(self.inner.name, false, format!("{sql}: no row")))?;
            let value = row
                .try_get_by_index::<String>(0)
                .or_else(|_| row.try_get_by_index::<i64>(0).map(|v| v.to_string()))
                .map_err(|e| self.dberr(e))?;
            out.push(((*name).to_string(), value));
        }
        Ok(out)
    }

    /// Closes the pool.
    pub async fn close(self) -> Result<()> {
        match Arc::try_unwrap(self.inner) {
            Ok(mut inner) => {
                if let Some(h) = inner.listener.take() {
                    h.abort();
                }
                let db = inner.db.clone();
                let writer = inner.writer.take();
                drop(inner);
                if let Some(w) = writer {
                    w.close()
                        .await
                        .map_err(|e| Error::backend("sql", false, e))?;
                }
                db.close()
                    .await
                    .map_err(|e| Error::backend("sql", false, e))
            }
            Err(_) => Ok(()),
        }
    }

    pub(crate) fn db(&self) -> &DatabaseConnection {
        &self.inner.db
    }

    pub(crate) fn backend(&self) -> DbBackend {
        self.inner.backend
    }

    /// Maps a database error (unique violations name `entity` / `key`).
    pub(crate) fn err(&self, entity: &'static str, key: &str, e: DbErr) -> Error {
        map_db(self.inner.name, entity, key, e)
    }

    /// Maps a database error that has no entity of its own.
    pub(crate) fn dberr(&self, e: DbErr) -> Error {
        map_db(self.inner.name, "row", "", e)
    }

    /// The store's current instant (µs precision).
    pub(crate) async fn now(&self) -> Result<DateTime<Utc>> {
        match &self.inner.time {
            TimeSource::Injected(c) => Ok(to_micros(c.now())),
            TimeSource::Local => Ok(to_micros(Utc::now())),
            TimeSource::Database {
                offset_us,
                measured,
            } => {
                let stale = measured
                    .lock()
                    .expect("clock lock")
                    .is_none_or(|at| at.elapsed() > Duration::from_secs(60));
                if stale {
                    let offset = self.measure_db_offset().await?;
                    offset_us.store(offset, Ordering::Relaxed);
                    *measured.lock().expect("clock lock") = Some(Instant::now());
                }
                let off = chrono::Duration::microseconds(offset_us.load(Ordering::Relaxed));
                Ok(to_micros(Utc::now() + off))
            }
        }
    }

    /// The store's now when it can be read without the database: the injected clock, or this
    /// host's for SQLite. `None` when the database's clock decides (PostgreSQL, MySQL).
    pub(crate) fn local_now(&self) -> Option<DateTime<Utc>> {
        self.local_clock().map(|c| to_micros(c.now()))
    }

    /// The clock [`SqlStore::local_now`] reads, to read it on another thread (the SQLite
    /// writer's) inside its transaction.
    pub(crate) fn local_clock(&self) -> Option<Arc<dyn Clock>> {
        match &self.inner.time {
            TimeSource::Injected(c) => Some(c.clone()),
            TimeSource::Local => Some(Arc::new(multiflexi_core::SystemClock)),
            TimeSource::Database { .. } => None,
        }
    }

    /// Database clock minus local clock, in µs (half the round trip corrected).
    async fn measure_db_offset(&self) -> Result<i64> {
        let sql = match self.backend() {
            DbBackend::Postgres => {
                "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)"
            }
            _ => "SELECT CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED)",
        };
        let before = Utc::now();
        let row = self
            .db()
            .query_one_raw(Statement::from_string(self.backend(), sql))
            .await
            .map_err(|e| self.dberr(e))?
            .ok_or_else(|| {
                Error::backend(self.inner.name, false, "the clock query returned no row")
            })?;
        let after = Utc::now();
        let db_us: i64 = row.try_get_by_index(0).map_err(|e| self.dberr(e))?;
        let mid = before + (after - before) / 2;
        Ok(db_us - mid.timestamp_micros())
    }

    /// On SQLite, this process's turn to write (held for the whole transaction).
    pub(crate) async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.inner.write_gate {
            Some(gate) => Some(gate.lock().await),
            None => None,
        }
    }

    /// Starts a transaction: `BEGIN IMMEDIATE` on SQLite (the single-writer path).
    pub(crate) async fn begin(&self) -> Result<DatabaseTransaction> {
        let mut opts = TransactionOptions::default();
        if self.backend() == DbBackend::Sqlite {
            opts.sqlite_transaction_mode = Some(SqliteTransactionMode::Immediate);
        }
        self.inner
            .writer
            .as_ref()
            .unwrap_or(&self.inner.db)
            .begin_with_options(opts)
            .await
            .map_err(|e| self.dberr(e))
    }

    /// Commits, mapping errors.
    pub(crate) async fn commit(&self, txn: DatabaseTransaction) -> Result<()> {
        txn.commit().await.map_err(|e| self.dberr(e))
    }

    /// Tells local waiters that a job may have become claimable.
    pub(crate) fn wake(&self) {
        self.inner.signal.send_modify(|v| *v = v.wrapping_add(1));
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.signal.subscribe()
    }
}

/// Waits a little before retrying a transient conflict (grows with the attempt, jittered).
pub(crate) async fn backoff(attempt: u32) {
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    let jitter = u64::from(u16::from_le_bytes(b)) % 5;
    let ms = (1u64 << attempt.min(6)) + jitter;
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// Whether a failed transaction may be retried.
pub(crate) fn retry_tx(e: &Error, attempt: u32) -> bool {
    is_transient(e) && attempt < 12
}

/// Runs `$body` (an expression using the transaction `$txn`) in one transaction, committing on
/// `Ok`, and retries the whole transaction on transient conflicts (deadlock, serialization
/// failure, SQLite busy).
macro_rules! in_tx {
    ($store:expr, |$txn:ident| $body:expr) => {{
        let mut attempt: u32 = 0;
        loop {
            let r = async {
                let _turn = $store.write_turn().await;
                let $txn = $store.begin().await?;
                match $body {
                    Ok(v) => {
                        $store.commit($txn).await?;
                        Ok(v)
                    }
                    Err(e) => {
                        let _ = $txn.rollback().await;
                        Err(e)
                    }
                }
            }
            .await;
            match r {
                Err(e) if $crate::store::retry_tx(&e, attempt) => {
                    attempt += 1;
                    $crate::store::backoff(attempt).await;
                }
                other => break other,
            }
        }
    }};
}
pub(crate) use in_tx;

/// What this MySQL or MariaDB server knows: (`SKIP LOCKED`, `INSERT … RETURNING`).
///
/// MySQL ≥ 8.0 and MariaDB ≥ 10.6 know `SKIP LOCKED`; older servers claim with plain
/// `FOR UPDATE` (correct, but claimers then queue behind each other). MariaDB ≥ 10.5 knows
/// `INSERT … RETURNING`; MySQL does not (set-wise creates then insert one row per statement).
async fn mysql_features(db: &DatabaseConnection, name: &'static str) -> Result<(bool, bool)> {
    let version: String = db
        .query_one_raw(Statement::from_string(DbBackend::MySql, "SELECT VERSION()"))
        .await
        .map_err(|e| map_db(name, "version", "", e))?
        .and_then(|r| r.try_get_by_index::<String>(0).ok())
        .unwrap_or_default();
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    let mariadb = version.to_ascii_lowercase().contains("mariadb");
    let ok = if mariadb {
        (major, minor) >= (10, 6)
    } else {
        major >= 8
    };
    if !ok {
        tracing::warn!(%version, "this server has no SKIP LOCKED: claims use FOR UPDATE and wait for each other");
    }
    Ok((ok, mariadb && (major, minor) >= (10, 5)))
}

async fn check_schema(db: &DatabaseConnection, name: &'static str, migrate: bool) -> Result<()> {
    let manager = SchemaManager::new(db);
    let has = manager
        .has_table("schema_version")
        .await
        .map_err(|e| map_db(name, "schema_version", "", e))?;
    let version = if has {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT MAX(version) FROM schema_version",
            ))
            .await
            .map_err(|e| map_db(name, "schema_version", "", e))?;
        row.and_then(|r| r.try_get_by_index::<Option<i32>>(0).ok().flatten())
    } else {
        None
    };
    match version {
        Some(v) if v > SCHEMA_VERSION => Err(Error::Unsupported {
            message: format!(
                "the database schema is version {v}, newer than this multiflexi knows (up to {SCHEMA_VERSION}); upgrade multiflexi or point it at another database"
            ),
        }),
        Some(v) if v < SCHEMA_VERSION && !migrate => Err(Error::Unsupported {
            message: format!(
                "the database schema is version {v}; this multiflexi needs {SCHEMA_VERSION}: run the migrations"
            ),
        }),
        None if !migrate => Err(Error::Unsupported {
            message: "the database has no multiflexi schema: run the migrations".into(),
        }),
        _ => Ok(()),
    }
}

async fn write_schema_version(db: &DatabaseConnection, name: &'static str) -> Result<()> {
    use crate::entity::schema_version as sv;
    use sea_orm::{ActiveModelTrait, EntityTrait, Set};
    let now = to_micros(Utc::now());
    let existing = sv::Entity::find_by_id(1)
        .one(db)
        .await
        .map_err(|e| map_db(name, "schema_version", "1", e))?;
    match existing {
        Some(row) if row.version >= SCHEMA_VERSION => Ok(()),
        Some(row) => {
            let mut am: sv::ActiveModel = row.into();
            am.version = Set(SCHEMA_VERSION);
            am.updated = Set(crate::entity::ts(now));
            am.update(db)
                .await
                .map(|_| ())
                .map_err(|e| map_db(name, "schema_version", "1", e))
        }
        None => {
            let am = sv::ActiveModel {
                id: Set(1),
                version: Set(SCHEMA_VERSION),
                updated: Set(crate::entity::ts(now)),
            };
            match sv::Entity::insert(am).exec(db).await {
                Ok(_) => Ok(()),
                // another process wrote it first
                Err(e) if classify(&e) == Kind::Unique => Ok(()),
                Err(e) => Err(map_db(name, "schema_version", "1", e)),
            }
        }
    }
}
