//! A live server on a fresh SQLite file, with an admin token.

#![allow(dead_code)]

use multiflexi_bin::http::{self, HttpState};
use multiflexi_core::store::{AccessTokens, TokenScope};
use multiflexi_core::{ArtifactSink, Store};
use multiflexi_store::{MasterKey, SqlStore, SqlStoreOptions};
use std::sync::Arc;
use tokio::sync::oneshot;

/// A running server; stops when dropped.
pub struct TestServer {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub base: String,
    /// An admin token's secret.
    pub admin_token: String,
    /// The store behind the server.
    pub store: Arc<SqlStore>,
    /// Holds the database file.
    pub dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts a server over a fresh SQLite file.
pub async fn start() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("multiflexi.sqlite").display()
    );
    let store = Arc::new(
        SqlStore::connect(
            &url,
            SqlStoreOptions::default().with_master_key(MasterKey::generate()),
        )
        .await
        .unwrap(),
    );
    start_on(store, dir).await
}

/// Starts a server over `store` (kept alive by `dir`).
pub async fn start_on(store: Arc<SqlStore>, dir: tempfile::TempDir) -> TestServer {
    let admin = store
        .create_token("test-admin", TokenScope::Admin)
        .await
        .unwrap();
    let state = HttpState::new(
        store.clone() as Arc<dyn Store>,
        store.clone() as Arc<dyn ArtifactSink>,
    )
    .with_database(store.backend_name());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        http::serve(listener, state, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    TestServer {
        base,
        admin_token: admin.secret,
        store,
        dir,
        stop: Some(stop),
    }
}

/// Starts a server over a fresh SQLite file with non-default settings (e.g. `Secure` cookies).
pub async fn start_with_options(options: http::HttpOptions) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("multiflexi.sqlite").display()
    );
    let store = Arc::new(
        SqlStore::connect(&url, SqlStoreOptions::default())
            .await
            .unwrap(),
    );
    let admin = store
        .create_token("test-admin", TokenScope::Admin)
        .await
        .unwrap();
    let state = HttpState::new(
        store.clone() as Arc<dyn Store>,
        store.clone() as Arc<dyn ArtifactSink>,
    )
    .with_options(options);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        http::serve(listener, state, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    TestServer {
        base,
        admin_token: admin.secret,
        store,
        dir,
        stop: Some(stop),
    }
}

/// A Dispatcher with the NativeExecutor running the server's jobs in process (as
/// `multiflexi serve` does); drains when dropped.
pub struct Engine {
    shutdown: multiflexi_core::engine::Shutdown,
    _running: tokio::task::JoinHandle<()>,
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shutdown.drain();
    }
}

/// Starts a server over a fresh SQLite file plus a Dispatcher + NativeExecutor on the same
/// store, so jobs created through the server really run to Preserved.
pub async fn start_with_engine() -> (TestServer, Engine) {
    use multiflexi_core::engine::{Dispatcher, DispatcherOptions, Shutdown};
    use multiflexi_core::telemetry::NoopTelemetry;
    use multiflexi_executors::{NativeConfig, NativeExecutor};
    use std::time::Duration;

    let server = start().await;
    let root = server.dir.path();
    let native = NativeExecutor::new(
        NativeConfig::default()
            .with_state_dir(root.join("native"))
            .with_job_supervisor(crate::job_supervisor::path()),
    );
    let mut options = DispatcherOptions::new("http-test", 4);
    options.work_root = root.join("jobs");
    options.poll_interval = Duration::from_millis(200);
    let dispatcher = Dispatcher::new(
        server.store.clone(),
        server.store.clone(),
        vec![Arc::new(native)],
        Arc::new(NoopTelemetry),
        Arc::new(multiflexi_core::SystemClock),
        options,
    );
    let shutdown = Shutdown::new();
    let running = {
        let (d, s) = (dispatcher.clone(), shutdown.clone());
        tokio::spawn(async move {
            if let Err(e) = d.run(s).await {
                eprintln!("dispatcher stopped: {e}");
            }
        })
    };
    (
        server,
        Engine {
            shutdown,
            _running: running,
        },
    )
}

/// A reqwest client builder for the tests' plain-HTTP requests. With the Azure executor in the
/// build, reqwest has rustls without a crypto provider; ring's is installed first (once).
pub fn http_client() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}
