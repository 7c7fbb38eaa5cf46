//! The durable record: [`Store`] = [`Catalog`] + [`JobQueue`] + [`OutputLog`] + [`AuditLog`] +
//! [`AccessTokens`] + [`RetentionPolicies`] + [`ActionQueue`] + [`JobStatistics`].
//!
//! Contracts every backend meets (checked by the conformance suite):
//! - each lifecycle call is ONE transaction: the phase change, its schedule row, counters,
//!   `next_schedule`, a retry job and the audit row commit together or not at all;
//! - every write after a claim is fenced: it names the job's `lease_token` and the phase it
//!   expects, and fails with [`Error::Conflict`](crate::Error::Conflict) when either moved on —
//!   phase changes, heartbeats, releases, output chunks ([`OutputLog::append_output`]) and
//!   artifacts ([`ArtifactSink::put`](crate::ArtifactSink::put)) alike (see [`LeaseWrite`]),
//!   checked in the same transaction as the write;
//! - `_many` forms return one result per input, in input order: a conflict on one job does not
//!   fail the others;
//! - claims take a batch in one round trip, only for the requested executor kinds, each job to
//!   exactly one claimer;
//! - lease expiry is decided by the store's clock (the database's, or the injected [`Clock`](crate::Clock)),
//!   read when the write executes (after any wait for a connection or a lock), so a heartbeat
//!   never sets an expiry that is already in the past;
//! - one row the store cannot decode (its environment sealed with another master key) never
//!   fails a listing: it is returned with [`Job::unreadable`](crate::Job::unreadable) set, and a
//!   claim never hands it out to run.

mod access_token;
mod actions;
mod audit;
pub mod backend;
mod catalog;
mod job_queue;
mod lease_write;
pub mod log_histogram;
mod memory;
mod output_log;
mod release;
mod retention;
mod stats;
mod write_domain;

pub use access_token::{
    AccessToken, AccessTokens, IssuedToken, TOKEN_PREFIX, TokenScope, new_token_secret, token_hash,
};
pub use actions::{
    ACTION_BACKOFF_BASE, ACTION_BACKOFF_CAP, ActionLease, ActionQueue, ActionResult,
    MAX_ACTION_ATTEMPTS,
};
pub use audit::{AuditEntry, AuditFilter, AuditLog};
pub use catalog::{Catalog, RunTemplateFilter, SchedulableTemplate};
pub use job_queue::{
    Begin, BegunAndFinished, CancelResult, ClaimOptions, CleanupOptions, CleanupReport, Completed,
    Completion, Finish, Finished, HeartbeatStatus, JobFilter, JobQueue, LeaseRef, QueueOverview,
    Recovered,
};
pub use lease_write::LeaseWrite;
pub use log_histogram::LogHistogram;
pub use memory::InMemoryStore;
pub use output_log::{OutputChunk, OutputLog, Stream};
pub use release::{Release, ReleasePlan, ReleaseReason, Released};
pub use retention::{RetentionPass, RetentionPolicies, retention_passes};
pub use stats::{
    Aggregate, DayStats, EXACT_PERCENTILES_UP_TO, HourCount, JobPoint, JobStatistics, JobStats,
    OutcomeCount, PERCENTILES, Percentiles, StatsQuery, StatsSubject, hour_of, hourly_of_jobs,
    percentile_cont, percentile_ranks,
};
pub use write_domain::WriteDomain;

/// The whole durable record, used as `Arc<dyn Store>`.
pub trait Store:
    Catalog
    + JobQueue
    + OutputLog
    + AuditLog
    + AccessTokens
    + RetentionPolicies
    + ActionQueue
    + JobStatistics
{
}

impl<
    T: Catalog
        + JobQueue
        + OutputLog
        + AuditLog
        + AccessTokens
        + RetentionPolicies
        + ActionQueue
        + JobStatistics
        + ?Sized,
> Store for T
{
}
