//! What a run template must satisfy beyond what the store checks, for every door that writes one
//! (CLI, HTTP API, dashboard).

use crate::model::{App, EnvFieldType, RunTemplate};
use crate::store::Store;
use crate::{Error, Result};

/// Whether configuration value `key` of a template running `app` is a secret: the app declares
/// it as a secret or password field.
pub fn config_is_secret(app: &App, key: &str) -> bool {
    app.field(key)
        .is_some_and(|f| f.secret || f.kind == EnvFieldType::Password)
}

/// Checks what the store does not: the schedule (interval, cron, timezone), that `app` has what
/// the template's executor needs (a container image, or an executable for Native), and that
/// every credential exists and belongs to the template's company. InvalidInput names the field.
pub async fn check_runtemplate(store: &dyn Store, t: &RunTemplate, app: &App) -> Result<()> {
    t.schedule()?;
    let has_image = app
        .ociimage
        .as_deref()
        .is_some_and(|i| !i.trim().is_empty());
    if t.executor.needs_image() && !has_image {
        return Err(Error::invalid(
            "ociimage",
            format!(
                "app {} \"{}\" has no container image (its ociimage field is empty), which the {} \
                 executor needs; give the app an ociimage or use the Native executor",
                app.id,
                app.display_name(),
                t.executor
            ),
        ));
    }
    if !t.executor.needs_image() && app.executable.trim().is_empty() {
        return Err(Error::invalid(
            "executable",
            format!(
                "app {} \"{}\" has no executable, which the Native executor needs; use a container executor with its ociimage",
                app.id,
                app.display_name()
            ),
        ));
    }
    for id in &t.credentials {
        let c = store.get_credential(*id).await?;
        if c.company_id != t.company_id {
            return Err(Error::invalid(
                "credential",
                format!(
                    "credential {id} \"{}\" belongs to company {}, not to company {}; use one of the template's company",
                    c.name, c.company_id, t.company_id
                ),
            ));
        }
    }
    Ok(())
}
