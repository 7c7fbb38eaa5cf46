//! Run templates: create, update, delete.

use super::UseCases;
use multiflexi_core::Result;
use multiflexi_core::model::{App, RunTemplate};

impl UseCases {
    /// Checks what the store does not (the rules beside the template in the core model): the
    /// schedule, that `app` has what the executor needs, and that every credential belongs to
    /// the template's company.
    pub(crate) async fn check_template(&self, t: &RunTemplate, app: &App) -> Result<()> {
        t.check_runs(app)?;
        let mut credentials = Vec::with_capacity(t.credentials.len());
        for id in &t.credentials {
            credentials.push(self.store.get_credential(*id).await?);
        }
        t.check_credentials(&credentials)
    }
}
