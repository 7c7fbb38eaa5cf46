//! Who may choose what: the rules that keep a company's token or template from reaching the
//! host, the key or another company. One place for every front end (API, CLI, dashboard):
//!
//! - [`check_executor_choice`]: the executor of a job is its template's; only the operator (an
//!   admin token, the CLI) may override it, per job or per template. Naming the template's own
//!   executor is not an override.
//! - [`check_env_names`]: a name that changes how a program loads code ([`loader_family`]:
//!   `LD_*`, interpreter start-up variables, `PATH`, git hooks, …) is refused for everyone unless
//!   the app declares a field of that name; a company token's one-off environment may set only
//!   the app's declared fields and the fields of the template's credentials.
//!
//! ```
//! use multiflexi_core::model::{App, EnvFieldDef, EnvFieldType, ExecutorKind};
//! use multiflexi_core::store::TokenScope;
//! use multiflexi_core::tenancy::{EnvLayer, check_env_names, check_executor_choice};
//! use multiflexi_core::{CompanyId, Error};
//!
//! let app = App::new("report", "/usr/bin/report")
//!     .with_field(EnvFieldDef::new("FORMAT", EnvFieldType::String));
//! let tenant = TokenScope::Company(CompanyId(7));
//!
//! // The template's own executor is fine, another one is the operator's call.
//! assert!(check_executor_choice(tenant, "executor", ExecutorKind::Docker, Some(ExecutorKind::Docker)).is_ok());
//! let e = check_executor_choice(tenant, "executor", ExecutorKind::Docker, Some(ExecutorKind::Native));
//! assert!(matches!(e, Err(Error::Forbidden { .. })));
//! assert!(check_executor_choice(TokenScope::Admin, "executor", ExecutorKind::Docker, Some(ExecutorKind::Native)).is_ok());
//!
//! // Loader variables are refused for everyone; tenants set only declared fields.
//! assert!(check_env_names(TokenScope::Admin, &app, &[], EnvLayer::OneOff, "env", ["LD_PRELOAD"]).is_err());
//! assert!(check_env_names(tenant, &app, &[], EnvLayer::OneOff, "env", ["FORMAT"]).is_ok());
//! assert!(check_env_names(tenant, &app, &[], EnvLayer::OneOff, "env", ["OTHER"]).is_err());
//! ```

mod loader_variables;
mod rules;

pub use loader_variables::{LOADER_FAMILIES, LoaderFamily, loader_family};
pub use rules::{
    EnvLayer, check_company_env, check_credential, check_env_names, check_executor_choice,
    check_template_write, stored_env_findings,
};
