use tokio_util::sync::CancellationToken;

/// Two-stage stop: `drain` stops taking new work and lets running jobs finish; `abort` cancels
/// the running jobs too (they are recorded as `cancelled`). SIGTERM once = drain, twice = abort.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    drain: CancellationToken,
    abort: CancellationToken,
}

impl Shutdown {
    /// A shutdown that has not been requested.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stop claiming; finish what runs.
    pub fn drain(&self) {
        self.drain.cancel();
    }

    /// Stop claiming and cancel what runs.
    pub fn abort(&self) {
        self.drain.cancel();
        self.abort.cancel();
    }

    /// Whether a drain (or abort) was requested.
    pub fn is_draining(&self) -> bool {
        self.drain.is_cancelled()
    }

    /// Resolves when a drain (or abort) is requested.
    pub async fn draining(&self) {
        self.drain.cancelled().await
    }

    /// Resolves when an abort is requested.
    pub async fn aborting(&self) {
        self.abort.cancelled().await
    }

    /// Whether an abort was requested.
    pub fn is_aborting(&self) -> bool {
        self.abort.is_cancelled()
    }
}
