//! Environment assembly and command building (ARCHITECTURE §7).
//!
//! A job's environment is assembled from five layers, low to high precedence:
//!
//! | layer | source | secret when |
//! |---|---|---|
//! | 1 | app field defaults ([`EnvFieldDef::default`](crate::model::EnvFieldDef)) | the field is secret or a password |
//! | 2 | company environment, then the template's credentials (only those listed in [`RunTemplate::credentials`], in that order) | the value is marked secret |
//! | 3 | the run template's [`config`](RunTemplate::config) | the value is marked secret |
//! | 4 | injected `MULTIFLEXI_*` variables ([`INJECTED_VARIABLES`]) | never (unless a field says so) |
//! | 5 | one-off overrides ("Execute now", API, CLI) | the value is marked secret |
//!
//! Secrecy is sticky: a variable is secret if *any* layer that set it, or the app's field
//! definition of that name, says so. A later plain layer never un-secrets a password.
//!
//! `MULTIFLEXI_JOB_ID` ([`JOB_ID_VARIABLE`]) is not known when a job is created; the engine adds it
//! at launch.
//!
//! The command is built by [`build_command`]: `cmdparams` is split into argv with `shell-words`
//! first, then macros are substituted inside each argument — never through a shell. See
//! [`build_command`] for the macro spellings and the rules for unknown macros and secrets.
//!
//! [`prepare_spec`] does both and fills in the rest of a [`JobSpec`](crate::model::JobSpec).
//!
//! ```
//! use multiflexi_core::environment::{EnvSources, prepare_spec};
//! use multiflexi_core::model::{App, Company, EnvFieldDef, EnvFieldType, Environment, RunTemplate};
//!
//! let app = App::new("report", "/usr/bin/report")
//!     .with_cmdparams("--format {FORMAT} --out '{{ OUT_FILE }}'")
//!     .with_field(EnvFieldDef::new("FORMAT", EnvFieldType::String).with_default("pdf"))
//!     .with_field(EnvFieldDef::new("OUT_FILE", EnvFieldType::FilePath).required());
//! let company = Company::new("Acme");
//! let mut template = RunTemplate::new(app.id, company.id, "monthly");
//! template.config.set("OUT_FILE", "my report.pdf");
//! let one_off = Environment::new();
//!
//! let prepared = prepare_spec(&EnvSources::new(&app, &company, &[], &template, &one_off)).unwrap();
//! assert_eq!(prepared.spec.args, ["--format", "pdf", "--out", "my report.pdf"]);
//! assert_eq!(prepared.spec.env.get("MULTIFLEXI_COMPANY"), Some("Acme"));
//! ```

mod assemble;
mod command;
mod macros;
mod spec;

pub use assemble::{INJECTED_VARIABLES, JOB_ID_VARIABLE, assemble};
pub use command::{Command, build_command};
pub use spec::{PreparedSpec, prepare_spec};

use crate::model::{App, Company, Credential, Environment, RunTemplate};

/// Everything a job's environment is assembled from.
///
/// `credentials` may hold more credentials than the template uses (for example all of the
/// company's); only those listed in [`RunTemplate::credentials`] are applied, in that order.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct EnvSources<'a> {
    /// The app the template runs (layer 1: field defaults; field definitions decide secrecy).
    pub app: &'a App,
    /// The company the template runs for (layer 2: its environment).
    pub company: &'a Company,
    /// Credentials to pick the template's credentials from (layer 2, after the company).
    pub credentials: &'a [Credential],
    /// The run template (layer 3: its `config`; also ids, executor, limits).
    pub template: &'a RunTemplate,
    /// One-off overrides given at "Execute now" / API / CLI (layer 5).
    pub one_off: &'a Environment,
}

impl<'a> EnvSources<'a> {
    /// Bundles the sources of one job's environment.
    pub fn new(
        app: &'a App,
        company: &'a Company,
        credentials: &'a [Credential],
        template: &'a RunTemplate,
        one_off: &'a Environment,
    ) -> Self {
        Self {
            app,
            company,
            credentials,
            template,
            one_off,
        }
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use crate::ids::{AppId, CompanyId, RunTemplateId};
    use crate::model::{App, Company, RunTemplate};

    /// An app, company and template with distinct, saved-looking ids.
    pub(crate) fn fixture(cmdparams: &str) -> (App, Company, RunTemplate) {
        let mut app =
            App::new("Invoice Sender", "/usr/bin/send-invoices").with_cmdparams(cmdparams);
        app.id = AppId(7);
        let mut company = Company::new("Acme s.r.o.");
        company.id = CompanyId(3);
        let mut template = RunTemplate::new(app.id, company.id, "nightly send");
        template.id = RunTemplateId(11);
        (app, company, template)
    }
}
