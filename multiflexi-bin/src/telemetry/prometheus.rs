//! The Prometheus endpoint: `GET /metrics` returns [`JobMetrics::render_prometheus`].

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use multiflexi_core::telemetry::JobMetrics;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The content type of the text exposition format.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A running `/metrics` server.
#[derive(Debug)]
pub struct MetricsServer {
    /// The address it listens on (the real port when 0 was asked for).
    pub local_addr: SocketAddr,
    /// Its accept loop; abort it to stop.
    pub handle: JoinHandle<()>,
}

impl MetricsServer {
    /// Binds `addr` and serves `metrics` on it.
    ///
    /// # Errors
    /// The address cannot be bound.
    pub async fn bind(addr: SocketAddr, metrics: Arc<JobMetrics>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let handle = tokio::spawn(accept_loop(listener, metrics));
        tracing::info!("metrics: serving Prometheus text on http://{local_addr}/metrics");
        Ok(Self { local_addr, handle })
    }
}

/// Serves `/metrics` on `addr` (what the binaries call when `MULTIFLEXI_METRICS_ADDR` is set).
/// Binding happens in the task; a failure is logged and ends it.
///
/// # Panics
/// Outside a Tokio runtime.
pub fn serve_metrics(addr: SocketAddr, metrics: Arc<JobMetrics>) -> JoinHandle<()> {
    tokio::spawn(async move {
        match MetricsServer::bind(addr, metrics).await {
            Ok(server) => {
                let _ = server.handle.await;
            }
            Err(e) => tracing::error!("metrics: cannot listen on {addr}: {e}"),
        }
    })
}

async fn accept_loop(listener: TcpListener, metrics: Arc<JobMetrics>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("metrics: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let metrics = metrics.clone();
                async move { Ok::<_, Infallible>(respond(&req, &metrics)) }
            });
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10));
            if let Err(e) = http.serve_connection(TokioIo::new(stream), service).await {
                tracing::debug!("metrics: connection ended: {e}");
            }
        });
    }
}

fn respond(req: &Request<Incoming>, metrics: &JobMetrics) -> Response<Full<Bytes>> {
    let text = |status: StatusCode, body: String| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_TEXT));
        r
    };
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => text(StatusCode::OK, metrics.render_prometheus()),
        (&Method::HEAD, "/metrics") => text(StatusCode::OK, String::new()),
        (&Method::GET, "/") => text(
            StatusCode::OK,
            "multiflexi metrics: see /metrics\n".to_string(),
        ),
        (_, "/metrics") => {
            let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "use GET\n".into());
            r.headers_mut()
                .insert("allow", HeaderValue::from_static("GET, HEAD"));
            r
        }
        _ => text(StatusCode::NOT_FOUND, "not found; see /metrics\n".into()),
    }
}
