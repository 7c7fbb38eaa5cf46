//! The durable record: [`Store`] = [`Catalog`] + [`JobQueue`] + [`OutputLog`] + [`AuditLog`] +
//! [`AccessTokens`].
//!
//! Contracts every backend meets (checked by the conformance suite):
//! - each lifecycle call is ONE transaction: the phase change, its schedule row, counters,
//!   `next_schedule`, a retry job and the audit row commit together or not at all;
//! - every write after a claim is fenced: it names the job's `lease_token` and the phase it
//!   expects, and fails with [`Error::Conflict`](crate::Error::Conflict) when either moved on;
//! - `_many` forms return one result per input, in input order: a conflict on one job does not
//!   fail the others;
//! - claims take a batch in one round trip, only for the requested executor kinds, each job to
//!   exactly one claimer;
//! - lease expiry is decided by the store's clock (the database's, or the injected [`Clock`](crate::Clock)).

mod access_token;
mod audit;
mod catalog;
mod job_queue;
mod memory;
mod output_log;

pub use access_token::{
    AccessToken, AccessTokens, IssuedToken, TOKEN_PREFIX, TokenScope, new_token_secret, token_hash,
};
pub use audit::{AuditEntry, AuditFilter, AuditLog};
pub use catalog::{Catalog, RunTemplateFilter, SchedulableTemplate};
pub use job_queue::{
    Begin, BegunAndFinished, CancelResult, ClaimOptions, CleanupOptions, CleanupReport, Completed,
    Completion, Finish, Finished, HeartbeatStatus, JobFilter, JobQueue, LeaseRef, QueueOverview,
    Recovered, begin_then_finish, fence_conflict, finish_separately,
};
pub use memory::InMemoryStore;
pub use output_log::{OutputChunk, OutputLog, Stream};

/// The whole durable record, used as `Arc<dyn Store>`.
pub trait Store: Catalog + JobQueue + OutputLog + AuditLog + AccessTokens {}

impl<T: Catalog + JobQueue + OutputLog + AuditLog + AccessTokens + ?Sized> Store for T {}
