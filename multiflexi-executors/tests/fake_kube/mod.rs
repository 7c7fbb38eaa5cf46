//! A fake Kubernetes API server for the KubernetesExecutor's tests: in-process (axum), on
//! 127.0.0.1 with a random port, serving exactly the endpoints the executor uses (create / get /
//! delete / list Jobs and Secrets, list + watch Pods by label selector, a Pod's log with
//! `follow=true`, deletion with propagation), with request bodies deserialized into k8s-openapi
//! types and responses shaped like a real API server's.
//!
//! It plays the Job controller and the kubelet for real (see [`kubelet`]): a Job's container
//! command runs as a local process (Debian's busybox-static `/bin/busybox` stands in for the
//! test image), with the env taken from the Secret, its merged output served as the pod log and
//! its exit status as the container's terminated state. It is a simulation: no scheduler, no
//! image registry, no namespaces' quotas, `ttlSecondsAfterFinished` stored but not acted on, the
//! pod's security context validated and `runAsNonRoot` checked but not applied to the process.

pub mod api;
pub mod kubelet;
pub mod selector;
pub mod state;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use state::State;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// The image the fake "has": its commands run on the host.
pub const IMAGE: &str = "multiflexi-test/busybox:local";
/// An image whose container cannot be created (`CreateContainerError`).
pub const BROKEN_IMAGE: &str = "multiflexi-test/busybox:broken-rootfs";

/// What the fake knows.
#[derive(Debug, Clone)]
pub struct FakeOptions {
    /// Images that can be "pulled" (anything else: `ErrImagePull`).
    pub images: Vec<String>,
    /// Images whose containers cannot be created.
    pub create_error_images: Vec<String>,
    /// How much earlier than `activeDeadlineSeconds` the Job controller acts (a cluster whose
    /// clock runs ahead of the executor's).
    pub deadline_early: std::time::Duration,
    /// Whether it serves the metrics API (`metrics.k8s.io/v1beta1`, as metrics-server adds it);
    /// without, that path answers 404 as an API server without metrics-server does.
    pub metrics_api: bool,
}

impl Default for FakeOptions {
    fn default() -> Self {
        Self {
            images: vec![IMAGE.into(), BROKEN_IMAGE.into()],
            create_error_images: vec![BROKEN_IMAGE.into()],
            deadline_early: std::time::Duration::ZERO,
            metrics_api: false,
        }
    }
}

/// Shared by the HTTP handlers and the kubelet.
#[derive(Debug)]
pub struct Inner {
    pub state: Mutex<State>,
    /// Bumped after every change watches may care about.
    pub changed: watch::Sender<u64>,
    pub options: FakeOptions,
    /// Where pods' work directories live.
    pub root: PathBuf,
    /// The server "went away": every request answers 503, open streams end.
    pub down: AtomicBool,
}

impl Inner {
    pub fn notify(&self) {
        self.changed.send_modify(|v| *v += 1);
    }
}

/// A running fake API server.
#[derive(Debug)]
pub struct FakeKube {
    inner: Arc<Inner>,
    addr: SocketAddr,
    server: Mutex<tokio::task::JoinHandle<()>>,
    _root: tempfile::TempDir,
}

impl FakeKube {
    /// Starts a fake with the default images.
    pub async fn start() -> Self {
        Self::start_with(FakeOptions::default()).await
    }

    /// Starts a fake.
    pub async fn start_with(options: FakeOptions) -> Self {
        let root = tempfile::Builder::new()
            .prefix("multiflexi-fake-kubelet-")
            .tempdir()
            .expect("temp dir");
        let inner = Arc::new(Inner {
            state: Mutex::new(State::default()),
            changed: watch::channel(0).0,
            options,
            root: root.path().to_owned(),
            down: AtomicBool::new(false),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = Self::serve(&inner, listener);
        Self {
            inner,
            addr,
            server: Mutex::new(server),
            _root: root,
        }
    }

    fn serve(inner: &Arc<Inner>, listener: tokio::net::TcpListener) -> tokio::task::JoinHandle<()> {
        let app = api::router(inner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kube client config for this server, default namespace `ns`.
    pub fn client_config(&self, ns: &str) -> kube::Config {
        let mut cfg = kube::Config::new(self.url().parse().expect("url"));
        cfg.default_namespace = ns.to_owned();
        cfg
    }

    /// The Jobs stored now.
    pub fn jobs(&self) -> Vec<Job> {
        self.inner
            .state
            .lock()
            .unwrap()
            .jobs
            .values()
            .cloned()
            .collect()
    }

    /// The Pods stored now.
    pub fn pods(&self) -> Vec<Pod> {
        let st = self.inner.state.lock().unwrap();
        st.pods.values().map(|r| r.pod.clone()).collect()
    }

    /// Every Job as the client sent it.
    pub fn created_jobs(&self) -> Vec<Job> {
        self.inner.state.lock().unwrap().created_jobs.clone()
    }

    /// Every Secret as the client sent it.
    pub fn created_secrets(&self) -> Vec<Secret> {
        self.inner.state.lock().unwrap().created_secrets.clone()
    }

    /// Requests the fake does not implement (the executor should send none).
    pub fn unimplemented(&self) -> Vec<String> {
        self.inner.state.lock().unwrap().unimplemented.clone()
    }

    /// What exists: Jobs, Secrets, Pods and live container processes; only those labelled with
    /// this executor label when given.
    pub fn objects(&self, executor_label: Option<&str>) -> Vec<String> {
        let key = "io.multiflexi.executor_id";
        let ours = |labels: Option<&std::collections::BTreeMap<String, String>>| {
            executor_label
                .is_none_or(|l| labels.and_then(|m| m.get(key)).map(String::as_str) == Some(l))
        };
        let st = self.inner.state.lock().unwrap();
        let mut out = Vec::new();
        for ((ns, name), j) in &st.jobs {
            if ours(j.metadata.labels.as_ref()) {
                out.push(format!("job {ns}/{name}"));
            }
        }
        for ((ns, name), s) in &st.secrets {
            if ours(s.metadata.labels.as_ref()) {
                out.push(format!("secret {ns}/{name}"));
            }
        }
        for ((ns, name), r) in &st.pods {
            if ours(r.pod.metadata.labels.as_ref()) {
                out.push(format!("pod {ns}/{name}"));
            }
        }
        for rt in &st.runtimes {
            if !rt.exited.load(Ordering::SeqCst)
                && executor_label.is_none_or(|l| rt.executor_label == l)
            {
                out.push(format!("process group {} in {}", rt.pgid, rt.dir.display()));
            }
        }
        out
    }

    /// The API server goes away: no new connections, open watches and logs end, requests on
    /// kept-alive connections answer 503.
    pub fn go_down(&self) {
        self.inner.down.store(true, Ordering::SeqCst);
        self.server.lock().unwrap().abort();
        self.inner.notify();
        for rt in &self.inner.state.lock().unwrap().runtimes {
            rt.log_changed.send_modify(|v| *v += 1);
        }
    }

    /// The API server is back, at the same address.
    pub async fn come_back(&self) {
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .expect("bind the same address again");
        *self.server.lock().unwrap() = Self::serve(&self.inner, listener);
        self.inner.down.store(false, Ordering::SeqCst);
    }

    /// Writes `name` into the work directory of pod `pod`'s container.
    pub fn put_file(&self, pod: &str, name: &str, content: &[u8]) -> std::io::Result<()> {
        let dir = {
            let st = self.inner.state.lock().unwrap();
            st.pods
                .iter()
                .find(|((_, n), _)| n == pod)
                .and_then(|(_, r)| r.runtime.as_ref().map(|rt| rt.dir.clone()))
        };
        let dir = dir.ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no running pod {pod}"),
            )
        })?;
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, content)?;
        std::fs::rename(tmp, dir.join(name))
    }
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        if let Ok(server) = self.server.lock() {
            server.abort();
        }
        if let Ok(st) = self.inner.state.lock() {
            for rt in &st.runtimes {
                if !rt.exited.load(Ordering::SeqCst) {
                    rt.signal(nix::sys::signal::Signal::SIGKILL);
                }
            }
        }
    }
}
