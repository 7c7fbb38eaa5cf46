//! A TCP proxy inside the test between one daemon and PostgreSQL, which can partition (stop
//! forwarding while keeping every socket open: a black hole, as a dead switch or a
//! stuck NAT entry looks to both ends — TCP neither fails nor delivers) and add latency (each
//! chunk is delivered `latency` after it was read, in order, without serialising throughput).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;
use tokio::time::Instant;

#[derive(Debug)]
struct State {
    blocked: watch::Sender<bool>,
    latency_us: AtomicU64,
    tasks: Mutex<Vec<AbortHandle>>,
}

impl State {
    async fn open(&self) {
        let mut rx = self.blocked.subscribe();
        while *rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    fn latency(&self) -> Duration {
        Duration::from_micros(self.latency_us.load(Ordering::Relaxed))
    }

    fn track(&self, handle: AbortHandle) {
        let mut tasks = self.tasks.lock().unwrap();
        tasks.retain(|t| !t.is_finished());
        tasks.push(handle);
    }
}

/// A running proxy; everything it holds is closed when it is dropped.
#[derive(Debug)]
pub struct Proxy {
    port: u16,
    state: Arc<State>,
}

impl Proxy {
    /// Listens on 127.0.0.1 (a free port) and forwards every connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
        let port = listener.local_addr().unwrap().port();
        let (blocked, _) = watch::channel(false);
        let state = Arc::new(State {
            blocked,
            latency_us: AtomicU64::new(0),
            tasks: Mutex::new(Vec::new()),
        });
        let accept = {
            let state = state.clone();
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    let state2 = state.clone();
                    let conn = tokio::spawn(async move {
                        let _ = client.set_nodelay(true);
                        // A partition also holds new connections.
                        state2.open().await;
                        let Ok(server) = TcpStream::connect(upstream).await else {
                            return;
                        };
                        let _ = server.set_nodelay(true);
                        let (cr, cw) = client.into_split();
                        let (sr, sw) = server.into_split();
                        let up = tokio::spawn(pump(cr, sw, state2.clone()));
                        let down = tokio::spawn(pump(sr, cw, state2.clone()));
                        state2.track(up.abort_handle());
                        state2.track(down.abort_handle());
                        let _ = tokio::join!(up, down);
                    });
                    state.track(conn.abort_handle());
                }
            })
        };
        state.track(accept.abort_handle());
        Proxy { port, state }
    }

    /// The port daemons connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Starts (`true`) or ends (`false`) a partition.
    pub fn partition(&self, on: bool) {
        self.state.blocked.send_replace(on);
    }

    /// Latency added to every chunk in each direction.
    pub fn set_latency(&self, latency: Duration) {
        self.state
            .latency_us
            .store(latency.as_micros() as u64, Ordering::Relaxed);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.blocked.send_replace(false);
        for t in self.state.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

/// Copies one direction: a reader that stops reading while partitioned, and a writer that
/// delivers each chunk at its due time (and not while partitioned).
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    state: Arc<State>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = {
        let state = state.clone();
        async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                state.open().await;
                match from.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let due = Instant::now() + state.latency();
                        if tx.send((due, buf[..n].to_vec())).is_err() {
                            break;
                        }
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some((due, bytes)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            state.open().await;
            if to.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}
