//! One thread starts every native job's supervisor (`posix_spawn`), so that the kernel's
//! parent-death signal (which follows the thread that started the child, not the process)
//! fires exactly when the executor process dies: a thread of tokio's blocking pool could exit
//! after a while idle and take the job with it.

use std::io;
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::sync::mpsc;
use tokio::sync::oneshot;

type Request = (Command, oneshot::Sender<io::Result<Child>>);

static SPAWNER: OnceLock<Option<mpsc::Sender<Request>>> = OnceLock::new();

/// Spawns `cmd` from the process's spawner thread (started on first use; it lives as long as
/// the process).
pub(crate) async fn spawn(cmd: Command) -> io::Result<Child> {
    let sender = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("multiflexi-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .ok()
            .map(|_| tx)
    });
    let Some(sender) = sender else {
        return Err(io::Error::other(
            "the job spawner thread could not be started",
        ));
    };
    let (reply, answer) = oneshot::channel();
    sender
        .send((cmd, reply))
        .map_err(|_| io::Error::other("the job spawner thread is gone"))?;
    answer
        .await
        .map_err(|_| io::Error::other("the job spawner thread dropped a request"))?
}
