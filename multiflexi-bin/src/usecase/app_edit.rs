//! Changing an app's catalog fields (upstream's `application:update`): the app is written out as
//! its definition, the given fields are replaced, and the importer reads it back, so the
//! importer's rules (`app_json::parse_app`) stay the only rules of what an app may hold. The id,
//! the container settings, whether it is enabled and when it was created are kept.

use super::apps::ImportedApp;
use super::audit::Action;
use super::{Caller, UseCases};
use multiflexi_core::app_json::{export_app, parse_app};
use multiflexi_core::{AppId, Error, Result};
use serde_json::{Value, json};

/// The fields `application:update` may change; `None` keeps a field as it is. An empty text
/// clears an optional field (`version`, `uuid`, `ociimage`, `homepage`), as in a definition file.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct AppEdit {
    /// Its name (replaces every language's).
    pub name: Option<String>,
    /// What it does (replaces every language's).
    pub description: Option<String>,
    /// Its version.
    pub version: Option<String>,
    /// The program (spaces split into program and leading arguments, as the importer does).
    pub executable: Option<String>,
    /// Its uuid (unique).
    pub uuid: Option<String>,
    /// Its container image.
    pub ociimage: Option<String>,
    /// Its homepage.
    pub homepage: Option<String>,
    /// Its tags (replace the list).
    pub tags: Option<Vec<String>>,
    /// The credential types it needs (replace the list).
    pub requirements: Option<Vec<String>>,
    /// Whether run templates may use it.
    pub enabled: Option<bool>,
}

impl AppEdit {
    /// The definition keys this edit sets, with their new values.
    fn entries(&self) -> Vec<(&'static str, Value)> {
        let text = [
            ("name", &self.name),
            ("description", &self.description),
            ("version", &self.version),
            ("executable", &self.executable),
            ("uuid", &self.uuid),
            ("ociimage", &self.ociimage),
            ("homepage", &self.homepage),
        ];
        let lists = [("tags", &self.tags), ("requirements", &self.requirements)];
        text.into_iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k, json!(v.trim()))))
            .chain(
                lists
                    .into_iter()
                    .filter_map(|(k, v)| v.as_ref().map(|v| (k, json!(v)))),
            )
            .collect()
    }
}

impl UseCases {
    /// Changes an app's name, description, version, executable, uuid, image, homepage, tags or
    /// requirements (admin only). A name or uuid another app has is a Conflict; what the
    /// importer reinterprets comes back as warnings; one audit row names the changed fields.
    pub async fn edit_app(&self, caller: &Caller, id: AppId, edit: AppEdit) -> Result<ImportedApp> {
        caller.require_admin("changing apps")?;
        let entries = edit.entries();
        if entries.is_empty() && edit.enabled.is_none() {
            return Err(Error::invalid(
                "app",
                "nothing to change: give a new --name, --description, --appversion, \
                 --executable, --new-uuid, --ociimage, --homepage, --tags, --requirements or \
                 --status, or the container settings (--capability, --no-capabilities, \
                 --read-only-root)",
            ));
        }
        let current = self.store.get_app(id).await?;
        let others = self.store.list_apps().await?;
        for other in others.iter().filter(|a| a.id != id) {
            if let Some(name) = edit.name.as_deref().map(str::trim)
                && other.name.0.values().any(|n| n == name)
            {
                return Err(Error::conflict(format!(
                    "app {} is named \"{name}\" already; app names are unique",
                    other.id
                )));
            }
            if let Some(uuid) = edit
                .uuid
                .as_deref()
                .map(str::trim)
                .filter(|u| !u.is_empty())
                && other
                    .uuid
                    .as_deref()
                    .is_some_and(|u| u.eq_ignore_ascii_case(uuid))
            {
                return Err(Error::conflict(format!(
                    "app {} \"{}\" has the uuid {uuid} already; uuids are unique",
                    other.id,
                    other.display_name()
                )));
            }
        }
        let mut definition = export_app(&current);
        if let Value::Object(map) = &mut definition {
            for (key, value) in &entries {
                map.insert((*key).to_string(), value.clone());
            }
        }
        let bytes = serde_json::to_vec(&definition)
            .map_err(|e| Error::invalid("application", e.to_string()))?;
        let parsed = parse_app(&bytes)?;
        let mut app = parsed.app;
        app.id = current.id;
        app.container = current.container.clone();
        app.enabled = edit.enabled.unwrap_or(current.enabled);
        app.created = current.created;
        let app = self.store.put_app(&app).await?;
        let mut changed: Vec<&str> = entries.iter().map(|(k, _)| *k).collect();
        if let Some(enabled) = edit.enabled {
            changed.push(if enabled { "enabled" } else { "disabled" });
        }
        self.audit(
            caller,
            None,
            Action::AppUpdate,
            format!(
                "app {id} \"{}\": changed {}",
                app.display_name(),
                changed.join(", ")
            ),
        )
        .await;
        Ok(ImportedApp {
            app,
            created: false,
            warnings: parsed.warnings,
        })
    }
}
