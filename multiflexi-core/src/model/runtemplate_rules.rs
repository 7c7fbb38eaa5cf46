//! What a run template must satisfy beyond what the store checks, for every door that writes one
//! (the application layer calls these for the CLI, the HTTP API and the dashboard).

use crate::model::{App, Credential, EnvFieldType, RunTemplate};
use crate::{Error, Result};

impl App {
    /// Whether configuration value `key` of a template running this app is a secret: the app
    /// declares it as a secret or password field.
    pub fn config_is_secret(&self, key: &str) -> bool {
        self.field(key)
            .is_some_and(|f| f.secret || f.kind == EnvFieldType::Password)
    }
}

impl RunTemplate {
    /// Checks the schedule (interval, cron, timezone) and that `app` has what the template's
    /// executor needs (a container image, or an executable for Native). InvalidInput names the
    /// field.
    pub fn check_runs(&self, app: &App) -> Result<()> {
        self.schedule()?;
        let has_image = app
            .ociimage
            .as_deref()
            .is_some_and(|i| !i.trim().is_empty());
        if self.executor.needs_image() && !has_image {
            return Err(Error::invalid(
                "ociimage",
                format!(
                    "app {} \"{}\" has no container image (its ociimage field is empty), which the \
                     {} executor needs; give the app an ociimage or use the Native executor",
                    app.id,
                    app.display_name(),
                    self.executor
                ),
            ));
        }
        if !self.executor.needs_image() && app.executable.trim().is_empty() {
            return Err(Error::invalid(
                "executable",
                format!(
                    "app {} \"{}\" has no executable, which the Native executor needs; use a \
                     container executor with its ociimage",
                    app.id,
                    app.display_name()
                ),
            ));
        }
        Ok(())
    }

    /// Checks that every credential (`credentials`: the template's, as stored) belongs to the
    /// template's company.
    pub fn check_credentials(&self, credentials: &[Credential]) -> Result<()> {
        for c in credentials {
            if c.company_id != self.company_id {
                return Err(Error::invalid(
                    "credential",
                    format!(
                        "credential {} \"{}\" belongs to company {}, not to company {}; use one of \
                         the template's company",
                        c.id, c.name, c.company_id, self.company_id
                    ),
                ));
            }
        }
        Ok(())
    }
}
