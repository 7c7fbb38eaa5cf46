//! A fake Azure Resource Manager for the AzureExecutor's tests: in-process (axum), on
//! 127.0.0.1 with a random port, serving the Microsoft Entra token endpoint (client
//! credentials), a managed-identity token endpoint (the metadata service's shape), and only
//! documented Azure Container Instances operations of `api-version` 2023-05-01: create
//! (`PUT`, 201 with `Azure-AsyncOperation`), get, list, delete (202 with `Location`) container
//! groups, a container's logs (`{"content": …}`, up to the last 4 MB, text), and the
//! long-running operations' status. Every ARM request must carry the issued bearer token and
//! the api-version (else a violation is recorded and the request refused); faults can be
//! injected (429 with `Retry-After`, 5xx, a whole outage), and a request that comes before a
//! 429's `Retry-After` is recorded as a violation.
//!
//! It plays ACI by running a group's container command as a local process (Debian's
//! busybox-static `/bin/busybox` stands in for the test image): environment variables exactly
//! as given (values and secure values), stdout and stderr merged into the log, the exit status
//! as the container's terminated state. It is a simulation: no image registry (an unknown
//! image fails provisioning with `InaccessibleImage`), no quotas, no resource limits applied,
//! no networking, no `stop`/`restart`/`exec` (requests it does not implement are recorded).

pub mod aci;
pub mod api;
pub mod state;

pub use state::Fault;
use state::{Inner, State};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The api-version the fake serves.
pub const API_VERSION: &str = "2023-05-01";
/// The image the fake "has": its commands run on the host.
pub const IMAGE: &str = "multiflexi-test/busybox:local";
/// The tenant, client id and secret of the service principal the fake knows.
pub const TENANT: &str = "00000000-0000-0000-0000-0000000000aa";
pub const CLIENT_ID: &str = "00000000-0000-0000-0000-0000000000bb";
pub const CLIENT_SECRET: &str = "fake-client-secret";
/// The bearer token it issues.
pub const TOKEN: &str = "fake-arm-token";
/// The subscription and resource group of the tests.
pub const SUBSCRIPTION: &str = "00000000-0000-0000-0000-0000000000cc";
pub const RESOURCE_GROUP: &str = "multiflexi-jobs";
/// The most log content one answer carries (the documented "up to 4 MB").
pub const LOG_WINDOW: usize = 4 * 1024 * 1024;

/// What the fake knows.
#[derive(Debug, Clone)]
pub struct FakeOptions {
    /// Images that can be "pulled".
    pub images: Vec<String>,
    /// How long provisioning takes before the container starts.
    pub provisioning: Duration,
    /// How long a deletion takes after the container's processes are gone.
    pub deletion: Duration,
}

impl Default for FakeOptions {
    fn default() -> Self {
        Self {
            images: vec![IMAGE.into()],
            provisioning: Duration::from_millis(100),
            deletion: Duration::from_millis(100),
        }
    }
}

/// A running fake ARM server.
#[derive(Debug)]
pub struct FakeAzure {
    inner: Arc<Inner>,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
    _root: tempfile::TempDir,
}

impl FakeAzure {
    /// Starts a fake.
    pub async fn start_with(options: FakeOptions) -> Self {
        let root = tempfile::Builder::new()
            .prefix("multiflexi-fake-aci-")
            .tempdir()
            .expect("temp dir");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let inner = Arc::new(Inner {
            state: Mutex::new(State::default()),
            options,
            root: root.path().to_owned(),
            down: Default::default(),
            url: format!("http://{addr}"),
        });
        let app = api::router(inner.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            inner,
            addr,
            server,
            _root: root,
        }
    }

    /// `http://127.0.0.1:<port>`: the ARM endpoint and the authority host.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The managed-identity token endpoint.
    pub fn identity_endpoint(&self) -> String {
        format!("{}/msi/token", self.url())
    }

    /// The next ARM requests get these faults, in order.
    pub fn inject(&self, faults: &[Fault]) {
        self.inner.state.lock().unwrap().faults.extend(faults);
    }

    /// Faults served so far.
    pub fn faults_served(&self) -> Vec<Fault> {
        self.inner.state.lock().unwrap().faults_served.clone()
    }

    /// Every ARM request answers 503 (`true`) or is served again (`false`).
    pub fn set_down(&self, down: bool) {
        self.inner.down.store(down, Ordering::SeqCst);
    }

    /// Every PUT body, as sent.
    pub fn created(&self) -> Vec<serde_json::Value> {
        self.inner.state.lock().unwrap().created.clone()
    }

    /// Names of the container groups deleted, in order.
    pub fn deleted(&self) -> Vec<String> {
        self.inner.state.lock().unwrap().deleted.clone()
    }

    /// ARM requests served, as `METHOD path`.
    pub fn requests(&self) -> Vec<String> {
        self.inner.state.lock().unwrap().requests.clone()
    }

    /// Tokens issued.
    pub fn tokens_issued(&self) -> u32 {
        self.inner.state.lock().unwrap().tokens_issued
    }

    /// Requests it does not implement, and requests that broke a rule.
    pub fn problems(&self) -> Vec<String> {
        let st = self.inner.state.lock().unwrap();
        st.unimplemented
            .iter()
            .map(|r| format!("unimplemented request {r}"))
            .chain(st.violations.iter().map(|v| format!("violation: {v}")))
            .collect()
    }

    /// What exists: container groups (tagged with this executor id when given) and live
    /// container processes.
    pub fn objects(&self, executor_id: Option<&str>) -> Vec<String> {
        let st = self.inner.state.lock().unwrap();
        let mut out = Vec::new();
        for (name, g) in &st.groups {
            let tag = g.tags["io.multiflexi.executor_id"].as_str();
            if executor_id.is_none_or(|e| tag == Some(e)) {
                out.push(format!("container group {name}"));
            }
        }
        for (name, g) in &st.groups {
            if let Some(rt) = &g.runtime {
                let tag = g.tags["io.multiflexi.executor_id"].as_str();
                if rt.alive() && executor_id.is_none_or(|e| tag == Some(e)) {
                    out.push(format!("process group {} of {name}", rt.pgid));
                }
            }
        }
        out
    }

    /// Live processes of any container group, deleted ones included.
    pub fn live_processes(&self) -> Vec<i32> {
        let st = self.inner.state.lock().unwrap();
        st.runtimes
            .iter()
            .filter(|r| r.alive())
            .map(|r| r.pgid)
            .collect()
    }

    /// Writes `name` into the working directory of group `group`'s container.
    pub fn put_file(&self, group: &str, name: &str, content: &[u8]) -> std::io::Result<()> {
        let dir = {
            let st = self.inner.state.lock().unwrap();
            st.groups
                .get(group)
                .and_then(|g| g.runtime.as_ref().map(|r| r.dir.clone()))
        };
        let dir = dir.ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no running container group {group}"),
            )
        })?;
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, content)?;
        std::fs::rename(tmp, dir.join(name))
    }
}

impl Drop for FakeAzure {
    fn drop(&mut self) {
        self.server.abort();
        if let Ok(st) = self.inner.state.lock() {
            for rt in &st.runtimes {
                rt.kill();
            }
        }
    }
}
