//! The application layer: every use case the CLI, the HTTP API and the dashboard offer for what
//! they create, change and audit. A front end parses its input, makes one call here with the
//! [`Caller`] it authenticated, and presents the result; it holds no validation rule, audit text
//! or telemetry call of its own.
//!
//! Each use case, in one place:
//! - checks its input (errors are [`multiflexi_core::Error`]: `InvalidInput` names the field,
//!   what was wrong and what is allowed; the CLI prints it, the API maps it to 400/403/404/409,
//!   the dashboard shows it beside the field);
//! - applies the tenant rules ([`multiflexi_core::tenancy`]: who may see a company's objects,
//!   choose an executor, set which environment names);
//! - writes one audit row with one text per action ([`audit`]);
//! - emits the same telemetry whoever called it (jobs are created through the engine's job
//!   factory with this layer's [`Telemetry`]).
//!
//! | use case | module | rules it applies, and where they live |
//! |---|---|---|
//! | company create / update / delete, environment set / unset | [`companies`] | name and slug: `Company::check_name` / `check_slug` (core model); environment names: `tenancy::check_company_env` |
//! | token create / revoke | [`tokens`] | token name: [`tokens::check_name`] |
//! | app import / container settings / delete | [`apps`] | the app JSON: `app_json::parse_app` (core); capabilities and read-only root: `ContainerSecurity::change` (core model); admin only |
//! | credential create / delete | [`credentials`] | variable names and values: `Environment::check_variable` (core model); names a company token may set: `tenancy::check_credential` |
//! | free text (e-mail, Zabbix host) | [`text`] | trimmed, empty is none, no NUL |
//! | company erase | [`erasure`] | templates stopped, unstarted jobs cancelled, refused (Conflict) while a job still runs; then everything under the company id deleted in batches; admin only |
//! | company export | [`export`] | every secret value redacted (environments, template configuration, credential values, job environments); admin only |
//! | retention set / unset / list / run | [`retention`] | days, grace, artifacts-only: `RetentionPolicy::check` (core model); which policy judges a job: `store::retention_passes` (core); the run itself and its audit row: `engine::apply_retention` (core); admin only |
//! | run template create / update / delete | [`templates`] | name: [`templates::check_name`]; schedule, timezone, executor, policies parsed in [`templates`] (default timezone `MULTIFLEXI_TIMEZONE`); configuration names and values: `Environment::check_variable` (core model, through [`variables::check_variable`]); schedule and executor against the app: `RunTemplate::check_runs`, credentials of the template's company: `RunTemplate::check_credentials` (core model); executor choice and configuration names: `tenancy::check_template_write` |
//! | run template assign / unassign a credential | [`template_credentials`] | through the template update (its credential rules and audit); unassigning one not assigned is InvalidInput |
//! | run template schedule (move `next_schedule`) | [`templates`] | never for interval `n` or an inactive template; compare-and-swap on `next_schedule` (store) |
//! | job create (idempotent replay) | [`jobs`] | when it is due: [`scheduled::parse_scheduled`] (`now`, RFC 3339, `Y-m-d H:i:s` in `MULTIFLEXI_TIMEZONE`); idempotency key: [`jobs::check_idempotency_key`], a key reused for another template is Conflict; one-off names and values: `Environment::check_variable` (through [`variables::check_variable`]), the app's secret fields stored as secrets; executor override and one-off names: `tenancy::check_executor_choice` / `check_env_names`, applied by `engine::create_job_or_replay` with the caller's scope; inactive template: the engine |
//! | job cancel / retry | [`jobs`] | another company's job is NotFound ([`Caller::check_sees`]); retry of an unfinished job or under an inactive template: `engine::copy_finished_job` |
//! | job cleanup | [`cleanup`] | a company token cleans its own company's jobs only; the cutoff must be a date |
//! | queue truncate | [`queue`] | every waiting job cancelled through the lifecycle (none deleted); a company token's own company only; dry run counts |
//! | job statistics (`job:stats`, the API's and the dashboard's charts) | [`stats`] | window: [`stats::check_window`]; a template of another company is NotFound; a company token counts only its own company's jobs of an app |
//! | job delete (one) | [`cleanup`] | only a finished job (Conflict otherwise); another company's job is NotFound ([`Caller::check_sees`]) |
//!
//! Reads (lists, a single object) stay in the front ends, which scope them with
//! [`Caller::sees`].

pub mod app_create;
pub mod apps;
pub mod audit;
mod caller;
pub mod cleanup;
pub mod companies;
pub mod credentials;
pub mod erasure;
pub mod export;
pub mod jobs;
pub mod prune;
pub mod queue;
pub mod queue_fix;
pub mod retention;
pub mod scheduled;
pub mod stale;
pub mod stats;
pub mod template_credentials;
pub mod templates;
pub mod text;
pub mod tokens;
pub mod variables;

pub use caller::Caller;

use multiflexi_core::{Clock, Store, Telemetry};
use std::sync::Arc;

/// The application layer over one store: what every front end calls to create, change and
/// audit.
#[derive(Debug, Clone)]
pub struct UseCases {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    telemetry: Arc<dyn Telemetry>,
}

impl UseCases {
    /// The use cases over `store`, on `clock`, reporting jobs' phase events to `telemetry`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        telemetry: Arc<dyn Telemetry>,
    ) -> Self {
        Self {
            store,
            clock,
            telemetry,
        }
    }

    /// The store (for the front ends' reads).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Where jobs' phase events go.
    pub fn telemetry(&self) -> &Arc<dyn Telemetry> {
        &self.telemetry
    }
}

#[cfg(test)]
mod tests;
