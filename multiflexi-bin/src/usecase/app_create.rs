//! An app made from a few fields (upstream's `application:create`): written as an app
//! definition and imported, so the importer's rules are the only rules.

use super::apps::ImportedApp;
use super::{Caller, UseCases};
use multiflexi_core::{Error, Result};
use serde_json::json;

/// What `application:create` is given.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct NewApp {
    /// Its name.
    pub name: String,
    /// The program (a path or a name on PATH); spaces split as the importer does.
    pub executable: String,
    /// Its uuid, if it has one.
    pub uuid: Option<String>,
    /// What it does.
    pub description: Option<String>,
    /// Its tags.
    pub tags: Vec<String>,
    /// Created disabled: run templates may not use it until it is enabled.
    pub disabled: bool,
}

impl NewApp {
    /// An app named `name` running `executable`.
    pub fn new(name: impl Into<String>, executable: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            executable: executable.into(),
            ..Self::default()
        }
    }
}

impl UseCases {
    /// Creates an app (admin only), enabled unless `disabled`; an app with the same uuid or
    /// name already is a Conflict (application:update changes one).
    pub async fn create_app(&self, caller: &Caller, new: NewApp) -> Result<ImportedApp> {
        caller.require_admin("creating apps")?;
        let apps = self.store.list_apps().await?;
        if let Some(a) = apps.iter().find(|a| {
            a.name.0.values().any(|n| *n == new.name)
                || (new.uuid.is_some() && a.uuid.as_deref() == new.uuid.as_deref())
        }) {
            return Err(Error::conflict(format!(
                "app {} \"{}\" has this name or uuid already; application:import-json changes an \
                 app",
                a.id,
                a.display_name()
            )));
        }
        let mut definition = json!({
            "name": new.name,
            "description": new.description.unwrap_or_default(),
            "executable": new.executable,
            "tags": new.tags,
        });
        if let Some(uuid) = new.uuid {
            definition["uuid"] = json!(uuid);
        }
        let bytes = serde_json::to_vec(&definition)
            .map_err(|e| Error::invalid("application", e.to_string()))?;
        let mut imported = self
            .import_app(caller, &bytes, "application:create")
            .await?;
        if new.disabled {
            imported.app.enabled = false;
            imported.app = self.store.put_app(&imported.app).await?;
        }
        Ok(imported)
    }
}
