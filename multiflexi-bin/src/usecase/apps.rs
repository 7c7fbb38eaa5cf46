//! Apps: import (MultiFlexi's app JSON, legacy shapes tolerated with warnings), container
//! settings, delete. Admin only: an app is shared by every company.

use super::audit::Action;
use super::{Caller, UseCases};
use multiflexi_core::app_json::{ImportWarning, parse_app};
use multiflexi_core::model::App;
use multiflexi_core::{AppId, Result};

/// An imported app: what was stored, whether it was new, and what the importer reinterpreted.
#[derive(Debug, Clone)]
pub struct ImportedApp {
    /// The app as stored.
    pub app: App,
    /// Whether it was created (else an app with the same uuid, or name, was updated).
    pub created: bool,
    /// What the importer reinterpreted, converted or left out.
    pub warnings: Vec<ImportWarning>,
}

impl ImportedApp {
    /// `created` or `updated`.
    pub fn action(&self) -> &'static str {
        if self.created { "created" } else { "updated" }
    }
}

/// A change of an app's container settings (upstream's app JSON has no place for them, so an
/// import keeps what was set here).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct AppChange {
    /// The Linux capabilities its containers keep (replaces the list; empty: none).
    pub capabilities: Option<Vec<String>>,
    /// Whether its containers' root file system may be read-only.
    pub read_only_root_fs: Option<bool>,
}

impl UseCases {
    /// Imports one app definition; `source` says where it came from for the audit log (a file
    /// name, `the API`, `the dashboard`). A definition that is not an app is `InvalidInput`
    /// naming the JSON path (or `application file`), and nothing is written.
    pub async fn import_app(
        &self,
        caller: &Caller,
        definition: &[u8],
        source: &str,
    ) -> Result<ImportedApp> {
        caller.require_admin("importing apps")?;
        let parsed = parse_app(definition)?;
        // The store updates an app with the same uuid (else name) in place.
        let before: std::collections::BTreeSet<AppId> =
            self.store.list_apps().await?.iter().map(|a| a.id).collect();
        let app = self.store.put_app(&parsed.app).await?;
        let imported = ImportedApp {
            created: !before.contains(&app.id),
            app,
            warnings: parsed.warnings,
        };
        self.audit(
            caller,
            None,
            Action::AppImport,
            format!(
                "app {} \"{}\" {} from {source}",
                imported.app.id,
                imported.app.display_name(),
                imported.action()
            ),
        )
        .await;
        Ok(imported)
    }

    /// Changes an app's container settings.
    pub async fn update_app(&self, caller: &Caller, id: AppId, change: AppChange) -> Result<App> {
        caller.require_admin("changing apps")?;
        if change.capabilities.is_none() && change.read_only_root_fs.is_none() {
            return Err(multiflexi_core::Error::invalid(
                "app",
                "nothing to change: give the capabilities (--capability, --no-capabilities; \
                 capabilities) or whether the root file system may be read-only \
                 (--read-only-root; read_only_root_fs)",
            ));
        }
        let mut app = self.store.get_app(id).await?;
        app.container
            .change(change.capabilities.as_deref(), change.read_only_root_fs)?;
        let app = self.store.put_app(&app).await?;
        self.audit(
            caller,
            None,
            Action::AppUpdate,
            format!(
                "app {id} \"{}\": {}",
                app.display_name(),
                app.container.describe()
            ),
        )
        .await;
        Ok(app)
    }

    /// Deletes an app (refused while run templates use it).
    pub async fn delete_app(&self, caller: &Caller, id: AppId) -> Result<App> {
        caller.require_admin("deleting apps")?;
        let app = self.store.get_app(id).await?;
        self.store.delete_app(id).await?;
        self.audit(
            caller,
            None,
            Action::AppDelete,
            format!("app {id} \"{}\"", app.display_name()),
        )
        .await;
        Ok(app)
    }
}
