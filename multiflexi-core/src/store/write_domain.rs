//! Which store's transactions a write can join.

use std::sync::atomic::{AtomicU64, Ordering};

/// The transactions a write can join. A store that is also an artifact sink gives itself a
/// domain and declares it as the sink's
/// [`ArtifactSink::write_domain`](crate::ArtifactSink::write_domain); its
/// [`JobQueue::finish_many`](super::JobQueue::finish_many), handed a sink of its own domain,
/// writes each job's output in the same transaction as its phase change. A declared
/// capability, not an identity test: a clone of the store keeps the domain, and a wrapper
/// around the store (or its sink) forwards the calls and the domain, so it keeps that path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WriteDomain(u64);

impl WriteDomain {
    /// A domain no other call returns (one per store instance, shared by its clones).
    pub fn unique() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::WriteDomain;

    #[test]
    fn unique_domains_differ() {
        let a = WriteDomain::unique();
        let b = WriteDomain::unique();
        assert_ne!(a, b);
    }
}
