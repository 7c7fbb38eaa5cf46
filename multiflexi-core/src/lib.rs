//! # multiflexi-core
//!
//! The MultiFlexi job lifecycle as a library: the data model, the lifecycle state machine
//! ([`Phase::apply`]), schedules with DST rules ([`schedule`]), environment assembly
//! ([`environment`]), exit-code classification ([`exit_code`]), the four traits ([`Store`],
//! [`Executor`], [`Telemetry`], [`ArtifactSink`]) plus [`Clock`], and the engine
//! ([`engine::Scheduler`], [`engine::Dispatcher`]) that drives jobs through every phase.
//!
//! This crate depends on no backend: SQL stores live in `multiflexi-store`, real executors in
//! `multiflexi-executors`. [`InMemoryStore`] and [`FakeExecutor`] are the reference
//! implementations the conformance suites (feature `conformance`) hold every backend to.
//!
//! ## Lifecycle
//!
//! ```text
//!  Created ──► Scheduled ──► Queued ──► Running ──► Completed ──► Preserved
//! ```
//!
//! See [`Phase::apply`] for the full phase × event table.
//!
//! ## Example
//!
//! ```
//! use multiflexi_core::{Phase, Event, Outcome};
//! let p = Phase::Running.apply(Event::Complete(Outcome::Success)).unwrap();
//! assert_eq!(p.to, Phase::Completed);
//! assert!(Phase::Preserved.apply(Event::Start).is_err());
//! ```

pub mod app_json;
pub mod artifact;
mod clock;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod engine;
pub mod environment;
mod error;
pub mod executor;
pub mod exit_code;
pub mod exit_status;
mod ids;
pub mod lifecycle;
pub mod model;
pub mod output;
pub mod schedule;
pub mod store;
pub mod telemetry;
pub mod tenancy;

pub use artifact::ArtifactSink;
pub use clock::{Clock, ManualClock, SystemClock, to_micros};
pub use error::{Error, Result};
pub use executor::{Executor, FakeExecutor, JobIo};
pub use ids::{AppId, ArtifactId, CompanyId, CredentialId, JobId, RunTemplateId};
pub use lifecycle::{Event, Outcome, Phase, Trigger};
pub use model::{App, Company, Credential, Environment, ExecutorKind, Job, RunTemplate};
pub use store::{InMemoryStore, Store};
pub use telemetry::{PhaseEvent, Telemetry};
