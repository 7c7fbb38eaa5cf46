//! The data model (ARCHITECTURE §5): apps, companies, credentials, run templates, jobs, artifacts.

mod action;
mod app;
mod artifact;
mod company;
mod container;
mod credential;
mod environment;
mod executor_kind;
mod job;
mod localized;
mod retention;
mod runtemplate;
mod runtemplate_rules;
mod usage;

pub use action::{
    ACTION_KINDS, Action, ActionState, JobAction, MAX_ACTIONS, actions_from_value, check_actions,
    delivery_id, parse_actions,
};
pub use app::{App, ArtifactPattern, EnvFieldDef, EnvFieldType, ExitCodeInfo};
pub use artifact::{Artifact, ArtifactMeta};
pub use company::Company;
pub use container::{ContainerSecurity, LINUX_CAPABILITIES};
pub use credential::{Credential, CredentialField};
pub use environment::{EnvValue, Environment};
pub use executor_kind::ExecutorKind;
pub use job::{Job, JobSpec, NewJob, ScheduleCas};
pub use localized::LocalizedText;
pub use retention::{MAX_RETENTION_DAYS, RetentionPolicy, RetentionScope};
pub use runtemplate::{CatchupPolicy, ConcurrencyPolicy, RunTemplate};
pub use usage::ResourceUsage;
