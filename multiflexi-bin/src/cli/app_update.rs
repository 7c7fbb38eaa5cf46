//! `application:update`: upstream's options (name, description, version, executable, uuid, image,
//! homepage, tags, requirements) and ours (what the app needs from a container sandbox). The app
//! is found by its id or `--uuid`; `--name` is the new name, as upstream's.

use super::Ctx;
use super::app::app_json;
use super::lookup::app_by_uuid;
use super::output::Report;
use crate::usecase::app_edit::AppEdit;
use crate::usecase::apps::AppChange;
use clap::Args;
use multiflexi_core::store::Catalog as _;
use multiflexi_core::{AppId, Error};
use serde_json::{Value, json};

/// `application:update`.
#[derive(Debug, Args)]
#[group(id = "app_key", required = true, multiple = true)]
pub struct UpdateArgs {
    /// The app's id.
    #[arg(value_name = "ID", group = "app_key")]
    pub pos: Option<String>,
    /// The app's id (same as the positional form).
    #[arg(long = "id", value_name = "ID", group = "app_key")]
    pub id: Option<String>,
    /// Find the app by its uuid (with --id too, both must name the same app; --new-uuid
    /// changes it).
    #[arg(long = "uuid", value_name = "UUID", group = "app_key")]
    pub find_uuid: Option<String>,
    /// Its new name (unique; replaces every language's).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// What it does (replaces every language's).
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// Its version (empty clears it).
    #[arg(long, value_name = "VERSION")]
    pub appversion: Option<String>,
    /// The program: a path or a name on PATH (`python3 src/main.py` is split into the program
    /// and leading arguments, with a warning).
    #[arg(long, value_name = "PROGRAM")]
    pub executable: Option<String>,
    /// Its new uuid (unique; empty clears it).
    #[arg(long = "new-uuid", value_name = "UUID")]
    pub new_uuid: Option<String>,
    /// Its container image (empty clears it).
    #[arg(long, value_name = "IMAGE")]
    pub ociimage: Option<String>,
    /// Its homepage (empty clears it).
    #[arg(long, value_name = "URL")]
    pub homepage: Option<String>,
    /// Its tags, comma-separated (replace the list; empty clears it).
    #[arg(long, visible_alias = "topics", value_name = "A,B")]
    pub tags: Option<String>,
    /// The credential types it needs, comma-separated (replace the list; empty clears it).
    #[arg(long, value_name = "A,B")]
    pub requirements: Option<String>,
    /// Whether run templates may use it: enabled or disabled (upstream's module sends it).
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,
    /// A Linux capability its containers keep (NET_BIND_SERVICE, with or without CAP_);
    /// repeatable; replaces the list. All others are dropped.
    #[arg(long = "capability", value_name = "CAP")]
    pub capabilities: Vec<String>,
    /// Drop every capability (clears the list).
    #[arg(long, conflicts_with = "capabilities")]
    pub no_capabilities: bool,
    /// Whether its containers' root file system may be read-only: true or false.
    #[arg(long, value_name = "BOOL")]
    pub read_only_root: Option<String>,
}

fn comma_list(raw: &Option<String>) -> Option<Vec<String>> {
    raw.as_deref().map(|r| {
        r.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect()
    })
}

impl UpdateArgs {
    fn edit(&self) -> anyhow::Result<AppEdit> {
        let enabled = self
            .status
            .as_deref()
            .map(super::args::app_status)
            .transpose()?;
        Ok(AppEdit {
            name: self.name.clone(),
            description: self.description.clone(),
            version: self.appversion.clone(),
            executable: self.executable.clone(),
            uuid: self.new_uuid.clone(),
            ociimage: self.ociimage.clone(),
            homepage: self.homepage.clone(),
            tags: comma_list(&self.tags),
            requirements: comma_list(&self.requirements),
            enabled,
        })
    }

    fn container(&self) -> anyhow::Result<Option<AppChange>> {
        let read_only = self
            .read_only_root
            .as_deref()
            .map(|r| super::args::boolean(r, "read-only-root"))
            .transpose()?;
        let caps = if self.no_capabilities {
            Some(Vec::new())
        } else {
            Some(self.capabilities.clone()).filter(|c| !c.is_empty())
        };
        if caps.is_none() && read_only.is_none() {
            return Ok(None);
        }
        Ok(Some(AppChange {
            capabilities: caps,
            read_only_root_fs: read_only,
        }))
    }
}

/// `application:update (ID | --id ID | --uuid UUID) [--name …] [--executable …] …`.
pub async fn update(ctx: &Ctx, a: &UpdateArgs) -> anyhow::Result<Report> {
    let store = ctx.store().await?;
    let by_id = match a.id.as_deref().or(a.pos.as_deref()) {
        Some(raw) => Some(store.get_app(raw.parse::<AppId>()?).await?.id),
        None => None,
    };
    let by_uuid = match &a.find_uuid {
        Some(uuid) => Some(app_by_uuid(&*store, uuid).await?.id),
        None => None,
    };
    let id: AppId = match (by_id, by_uuid) {
        (Some(i), Some(u)) if i != u => {
            return Err(Error::invalid(
                "uuid",
                format!(
                    "--id {i} and --uuid name different apps (the uuid is app {u}'s); give one \
                     of them, and --new-uuid to change an app's uuid"
                ),
            )
            .into());
        }
        (Some(i), _) | (None, Some(i)) => i,
        (None, None) => {
            return Err(Error::invalid("id", "give the app's id, --id or --uuid").into());
        }
    };
    let usecases = ctx.usecases().await?;
    let caller = ctx.caller();
    let edit = a.edit()?;
    let container = a.container()?;
    let mut text = String::new();
    let mut warnings = Vec::new();
    let mut app = None;
    // Only the container settings given: the fields edit has nothing to do (its "nothing to
    // change" names every option).
    if container.is_none() || !edit_is_empty(a) {
        let edited = usecases.edit_app(&caller, id, edit).await?;
        for w in &edited.warnings {
            text.push_str(&format!("warning: {w}\n"));
            warnings.push(json!({ "path": w.path, "kind": w.kind.as_str(), "message": w.message }));
        }
        app = Some(edited.app);
    }
    if let Some(change) = container {
        app = Some(usecases.update_app(&caller, id, change).await?);
    }
    let app = app.ok_or_else(|| anyhow::anyhow!("nothing was changed"))?;
    text.push_str(&format!(
        "updated app {id} \"{}\" ({})",
        app.display_name(),
        app.container.describe()
    ));
    let mut json = app_json(&app);
    if let Value::Object(m) = &mut json {
        m.insert("application_id".into(), json!(id));
        m.insert("warnings".into(), Value::Array(warnings));
    }
    Ok(Report::new(text, json))
}

fn edit_is_empty(a: &UpdateArgs) -> bool {
    [
        &a.name,
        &a.description,
        &a.appversion,
        &a.executable,
        &a.new_uuid,
        &a.ociimage,
        &a.homepage,
        &a.tags,
        &a.requirements,
        &a.status,
    ]
    .iter()
    .all(|o| o.is_none())
}
