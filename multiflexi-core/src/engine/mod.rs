//! The engine: [`Scheduler`] turns due run templates into jobs, [`Dispatcher`] runs them
//! through an [`Executor`](crate::Executor) and owns the output path (masking → cap →
//! [`OutputLog`](crate::store::OutputLog) → stdout.txt / stderr.txt) up to Preserved.
//!
//! Both are generic over the traits (`Arc<dyn Store>`, `Arc<dyn Executor>`, …) and usable from
//! any Rust program; the `multiflexi` binaries are thin wrappers around them.

mod actions;
mod backoff;
mod batcher;
mod breaker;
mod dispatch_state;
mod dispatcher;
mod dispatcher_options;
mod job_factory;
mod job_io;
mod job_runner;
mod job_writes;
mod leases;
mod reaper;
mod recovery;
mod retention;
mod scheduler;
mod shutdown;
mod spool;
mod throttle;

pub use actions::{
    ActionPass, ActionRunner, ActionRunnerOptions, DELIVERY_HEADER, SIGNATURE_HEADER,
    WebhookPoster, hmac_sha256, webhook_signature,
};
pub use breaker::{BreakerState, OPEN_AFTER};
pub use dispatcher::{
    DEFAULT_MAX_LAUNCH_FAILURES, Dispatcher, DispatcherOptions, DispatcherStats, SHORT_JOB,
    SHORT_JOB_AHEAD,
};
pub use job_factory::{
    CreatedJob, JobRequest, copy_finished_job, create_job, create_job_or_replay, create_jobs,
};
pub use recovery::recover_expired_leases;
pub use retention::{
    PolicyReport, RetentionOptions, RetentionReport, apply_retention, apply_retention_periodically,
};
pub use scheduler::{Scheduler, SchedulerOptions, TickReport};
pub use shutdown::Shutdown;
pub use throttle::process_rss_mb;
