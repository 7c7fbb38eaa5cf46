//! Fresh databases per test on every backend.
//!
//! PostgreSQL and MariaDB come from `MULTIFLEXI_TEST_POSTGRES_URL` / `MULTIFLEXI_TEST_MYSQL_URL`
//! (printed by `scripts/services/databases.sh`). Each test creates its own database
//! `mf_test_<pid>_<n>_<random>` and drops it when it ends; databases of test processes that
//! died are dropped by the next run. When a URL is missing the test is skipped with a message,
//! unless `MULTIFLEXI_REQUIRE_INTEGRATION=1`, when it fails.

#![allow(dead_code)]

use multiflexi_core::{Clock, ManualClock};
use multiflexi_store::{MasterKey, SqlStore, SqlStoreOptions};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    SqliteMemory,
    SqliteFile,
    /// A SQLite file opened as a one-shot command opens it: no writer thread, a pool of two.
    SqliteFileOneShot,
    Postgres,
    Mariadb,
}

/// A fresh, empty database and how to open stores on it.
pub struct Ctx {
    pub backend: Backend,
    pub url: String,
    pub key: MasterKey,
    pub clock: Arc<ManualClock>,
    pub dir: Option<tempfile::TempDir>,
    admin: Option<(String, String)>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn require() -> bool {
    std::env::var("MULTIFLEXI_REQUIRE_INTEGRATION").is_ok_and(|v| v == "1")
}

fn server_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v.trim().to_string()),
        _ => {
            if require() {
                panic!(
                    "{var} is not set and MULTIFLEXI_REQUIRE_INTEGRATION=1: start the servers with `eval \"$(scripts/services/databases.sh)\"`"
                );
            }
            eprintln!(
                "SKIPPED: {var} is not set (start the servers with `eval \"$(scripts/services/databases.sh)\"`)"
            );
            None
        }
    }
}

/// `url` with its database path replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
    let (authority, query) = match rest.split_once('/') {
        Some((a, path)) => (a, path.split_once('?').map(|(_, q)| q)),
        None => (rest, None),
    };
    match query {
        Some(q) => format!("{scheme}://{authority}/{db}?{q}"),
        None => format!("{scheme}://{authority}/{db}"),
    }
}

fn unique_name() -> String {
    let mut r = [0u8; 3];
    getrandom_fill(&mut r);
    format!(
        "mf_test_{}_{}_{:02x}{:02x}{:02x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        r[0],
        r[1],
        r[2]
    )
}

fn getrandom_fill(buf: &mut [u8]) {
    use std::time::{SystemTime, UNIX_EPOCH};
    let mut x = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        ^ u64::from(std::process::id()).rotate_left(17);
    for b in buf {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
}

/// Whether the process that created test database `name` is gone.
fn orphaned(name: &str) -> bool {
    let pid = name
        .strip_prefix("mf_test_")
        .and_then(|r| r.split('_').next())
        .and_then(|p| p.parse::<u32>().ok());
    match pid {
        Some(pid) if pid == std::process::id() => false,
        Some(pid) => !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        None => false,
    }
}

static REAPED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

async fn reap(admin: &DatabaseConnection, backend: Backend) {
    let sql = match backend {
        Backend::Postgres => "SELECT datname FROM pg_database WHERE datname LIKE 'mf\\_test\\_%'",
        _ => {
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'mf\\_test\\_%'"
        }
    };
    let Ok(rows) = admin
        .query_all_raw(sea_orm::Statement::from_string(
            admin.get_database_backend(),
            sql,
        ))
        .await
    else {
        return;
    };
    for r in rows {
        if let Ok(name) = r.try_get_by_index::<String>(0)
            && orphaned(&name)
        {
            let _ = admin.execute_unprepared(&drop_sql(backend, &name)).await;
        }
    }
}

fn drop_sql(backend: Backend, name: &str) -> String {
    match backend {
        Backend::Postgres => format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        _ => format!("DROP DATABASE IF EXISTS `{name}`"),
    }
}

impl Ctx {
    /// A fresh database, or `None` when the backend's server is not configured (skipped).
    pub async fn new(backend: Backend) -> Option<Ctx> {
        let key = MasterKey::generate();
        let clock = Arc::new(ManualClock::new(
            chrono::DateTime::parse_from_rfc3339("2026-01-05T10:00:00Z")
                .unwrap()
                .to_utc(),
        ));
        let (url, dir, admin) = match backend {
            Backend::SqliteMemory => ("sqlite::memory:".to_string(), None, None),
            Backend::SqliteFile | Backend::SqliteFileOneShot => {
                let dir = tempfile::tempdir().expect("a temp dir");
                let path = dir.path().join("multiflexi.sqlite");
                (
                    format!("sqlite://{}?mode=rwc", path.display()),
                    Some(dir),
                    None,
                )
            }
            Backend::Postgres | Backend::Mariadb => {
                let var = if backend == Backend::Postgres {
                    "MULTIFLEXI_TEST_POSTGRES_URL"
                } else {
                    "MULTIFLEXI_TEST_MYSQL_URL"
                };
                let base = server_url(var)?;
                let admin = Database::connect(base.clone())
                    .await
                    .unwrap_or_else(|e| panic!("cannot connect to {var}: {e}"));
                REAPED.get_or_init(|| reap(&admin, backend)).await;
                let name = unique_name();
                let create = match backend {
                    Backend::Postgres => format!("CREATE DATABASE \"{name}\""),
                    _ => format!(
                        "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
                    ),
                };
                admin
                    .execute_unprepared(&create)
                    .await
                    .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
                let _ = admin.close().await;
                (with_database(&base, &name), None, Some((base, name)))
            }
        };
        Some(Ctx {
            backend,
            url,
            key,
            clock,
            dir,
            admin,
        })
    }

    /// Options with the test's master key and manual clock.
    pub fn options(&self) -> SqlStoreOptions {
        self.base_options()
            .with_master_key(self.key.clone())
            .with_clock(self.clock.clone() as Arc<dyn Clock>)
    }

    /// Options with the master key and the database's clock.
    pub fn options_db_clock(&self) -> SqlStoreOptions {
        self.base_options().with_master_key(self.key.clone())
    }

    /// The backend's store options without key or clock.
    fn base_options(&self) -> SqlStoreOptions {
        match self.backend {
            Backend::SqliteFileOneShot => SqlStoreOptions::default().one_shot(),
            _ => SqlStoreOptions::default(),
        }
    }

    /// A store with [`Ctx::options`].
    pub async fn store(&self) -> SqlStore {
        self.store_with(self.options()).await
    }

    pub async fn store_with(&self, options: SqlStoreOptions) -> SqlStore {
        SqlStore::connect(&self.url, options)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "connect to {}: {e}",
                    multiflexi_store::redact_url(&self.url)
                )
            })
    }

    /// Drops the database.
    pub async fn finish(self) {
        if let Some((base, name)) = &self.admin
            && let Ok(admin) = Database::connect(base.clone()).await
        {
            let _ = admin
                .execute_unprepared(&drop_sql(self.backend, name))
                .await;
            let _ = admin.close().await;
        }
    }
}

/// Runs `case` on a fresh database of `backend` (skipping when the server is not configured).
pub async fn run<F, Fut>(backend: Backend, case: F)
where
    F: FnOnce(&'static Ctx) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some(ctx) = Ctx::new(backend).await else {
        return;
    };
    let ctx: &'static Ctx = Box::leak(Box::new(ctx));
    case(ctx).await;
    if let Some(d) = &ctx.dir {
        let _ = std::fs::remove_dir_all(d.path());
    }
    if let Some((base, name)) = &ctx.admin
        && let Ok(admin) = Database::connect(base.clone()).await
    {
        let _ = admin.execute_unprepared(&drop_sql(backend, name)).await;
        let _ = admin.close().await;
    }
}

/// Drops a test database when the last handle to it goes away.
#[derive(Debug)]
pub struct DbGuard {
    backend: Backend,
    admin: Option<(String, String)>,
    dir: Option<tempfile::TempDir>,
}

impl Drop for DbGuard {
    fn drop(&mut self) {
        let Some((base, name)) = self.admin.take() else {
            return;
        };
        let backend = self.backend;
        // Drop runs inside the test's runtime: do the async work on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async {
                if let Ok(admin) = Database::connect(base).await {
                    let _ = admin.execute_unprepared(&drop_sql(backend, &name)).await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

/// The store as the artifact sink, holding the database guard: the harness drops the database
/// when the case ends.
#[derive(Debug)]
pub struct GuardedSink {
    store: SqlStore,
    _guard: DbGuard,
}

#[async_trait::async_trait]
impl multiflexi_core::ArtifactSink for GuardedSink {
    /// Forwarded, as any wrapper of a store should: the store's finishes then write this
    /// sink's output in their own transaction, the path the daemons take.
    fn write_domain(&self) -> Option<multiflexi_core::store::WriteDomain> {
        multiflexi_core::ArtifactSink::write_domain(&self.store)
    }

    async fn put_limited(
        &self,
        lease: multiflexi_core::store::LeaseRef,
        name: &str,
        content_type: &str,
        content: &mut (dyn tokio::io::AsyncRead + Send + Unpin),
        limit: Option<&multiflexi_core::artifact::ArtifactLimit>,
    ) -> multiflexi_core::Result<multiflexi_core::ArtifactId> {
        self.store
            .put_limited(lease, name, content_type, content, limit)
            .await
    }
    async fn list(
        &self,
        job_id: multiflexi_core::JobId,
    ) -> multiflexi_core::Result<Vec<multiflexi_core::model::ArtifactMeta>> {
        self.store.list(job_id).await
    }
    async fn get(
        &self,
        id: multiflexi_core::ArtifactId,
    ) -> multiflexi_core::Result<multiflexi_core::model::Artifact> {
        self.store.get(id).await
    }
}

/// A conformance harness on a fresh database of `backend` (the suite's manual clock).
pub async fn harness(backend: Backend) -> multiflexi_core::conformance::store::StoreHarness {
    let mut ctx = Ctx::new(backend).await.unwrap_or_else(|| {
        panic!("{backend:?} is not configured (the build saw it, this run does not)")
    });
    let clock = multiflexi_core::conformance::store::manual_clock();
    ctx.clock = clock.clone();
    let store = ctx.store().await;
    let guard = DbGuard {
        backend,
        admin: ctx.admin.take(),
        dir: ctx.dir.take(),
    };
    let sink = GuardedSink {
        store: store.clone(),
        _guard: guard,
    };
    multiflexi_core::conformance::store::StoreHarness::new(Arc::new(store), Arc::new(sink), clock)
}

/// The test standing in for a backend whose server is not configured.
pub fn missing(var: &str) {
    if require() {
        panic!(
            "{var} is not set and MULTIFLEXI_REQUIRE_INTEGRATION=1: start the servers with `eval \"$(scripts/services/databases.sh)\"` (and rebuild: the suite is compiled per configured server)"
        );
    }
    eprintln!(
        "SKIPPED: {var} is not set, the tests of this backend did not run (start the servers with `eval \"$(scripts/services/databases.sh)\"`)"
    );
}
