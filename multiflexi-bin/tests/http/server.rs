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
