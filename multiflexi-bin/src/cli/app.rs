//! `application:*`: import, validate and export MultiFlexi application definitions; list, show and
//! delete apps.

use super::Ctx;
use super::args::IdArg;
use super::output::{Report, fields, opt_ts, or_dash, table};
use anyhow::Context;
use clap::Args;
use multiflexi_core::AppId;
use multiflexi_core::app_json::{export_app, export_app_pretty, lost_duplicates, validate};
use multiflexi_core::model::App;
use multiflexi_core::store::Catalog as _;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// `application:import-json`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// An application definition (`*.json`) or a folder: every `*.json` file in it.
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: PathBuf,
}

/// `application:validate-json`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// An application definition (`*.json`) or a folder: every `*.json` file in it.
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: PathBuf,
}

/// `application:export-json`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub id: IdArg,
    /// Write to this file instead of stdout.
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// The files a `--file` argument stands for: the file itself, or every `*.json` in a folder.
fn json_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot read the folder {}", path.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        anyhow::bail!(
            "the folder {} has no *.json files; give an application definition or a folder of them",
            path.display()
        );
    }
    Ok(files)
}

fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// `application:import-json --file F`.
pub async fn import(ctx: &Ctx, args: &ImportArgs) -> anyhow::Result<Report> {
    let files = json_files(&args.file)?;
    let usecases = ctx.usecases().await?;
    let caller = ctx.caller();
    let mut text = String::new();
    let mut reports = Vec::new();
    let mut rejected: Vec<(String, String)> = Vec::new();
    for path in &files {
        let name = path.display().to_string();
        let outcome = match read_file(path) {
            Ok(bytes) => usecases
                .import_app(&caller, &bytes, &name)
                .await
                .map_err(|e| e.to_string()),
            Err(reason) => Err(reason),
        };
        match outcome {
            Ok(imported) => {
                let warnings: Vec<Value> = imported
                    .warnings
                    .iter()
                    .map(|w| json!({ "path": w.path, "kind": w.kind.as_str(), "message": w.message }))
                    .collect();
                for w in &imported.warnings {
                    text.push_str(&format!("{name}: warning: {w}\n"));
                }
                let app = &imported.app;
                text.push_str(&format!(
                    "{name}: imported as app {} \"{}\" ({})\n",
                    app.id,
                    app.display_name(),
                    imported.action()
                ));
                reports.push(json!({
                    "file": name,
                    "status": "imported",
                    "action": imported.action(),
                    "app_id": app.id,
                    "name": app.display_name(),
                    "uuid": app.uuid,
                    "warnings": warnings,
                }));
            }
            Err(reason) => {
                text.push_str(&format!(
                    "{name}: rejected: {reason}; nothing was imported\n"
                ));
                reports.push(json!({ "file": name, "status": "rejected", "error": reason }));
                rejected.push((name, reason));
            }
        }
    }
    let imported = files.len() - rejected.len();
    if files.len() > 1 {
        text.push_str(&format!(
            "{imported} of {} files imported, {} rejected\n",
            files.len(),
            rejected.len()
        ));
    }
    let report = Report::new(
        text,
        json!({ "files": reports, "imported": imported, "rejected": rejected.len() }),
    );
    Ok(match rejected.as_slice() {
        [] => report,
        [(file, reason)] => {
            report.failed(format!("{file}: {reason}; nothing was imported from it"))
        }
        many => report.failed(format!(
            "{} of {} files rejected ({}); the others were imported",
            many.len(),
            files.len(),
            many.iter()
                .map(|(f, _)| f.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    })
}

/// `application:validate-json --file F`: the schema's violations and the keys written twice
/// with different values (whose earlier values no reader sees); either makes it fail.
pub async fn validate_json(args: &ValidateArgs) -> anyhow::Result<Report> {
    let files = json_files(&args.file)?;
    let mut text = String::new();
    let mut reports = Vec::new();
    let mut bad = Vec::new();
    let (mut total, mut lost_total) = (0usize, 0usize);
    for path in &files {
        let name = path.display().to_string();
        let (violations, lost): (Vec<Finding>, Vec<Finding>) = match read_file(path) {
            Ok(bytes) => (pairs(validate(&bytes)), pairs(lost_duplicates(&bytes))),
            Err(reason) => (vec![(String::new(), reason)], Vec::new()),
        };
        if violations.is_empty() && lost.is_empty() {
            text.push_str(&format!("{name}: valid\n"));
        }
        for (path, message) in &violations {
            text.push_str(&format!("{name}: {}: {message}\n", shown(path)));
        }
        for (path, message) in &lost {
            text.push_str(&format!(
                "{name}: {}: duplicate key: {message}\n",
                shown(path)
            ));
        }
        let as_json = |list: &[(String, String)]| {
            list.iter()
                .map(|(p, m)| json!({ "path": p, "message": m }))
                .collect::<Vec<_>>()
        };
        reports.push(json!({
            "file": name,
            "valid": violations.is_empty() && lost.is_empty(),
            "violations": as_json(&violations),
            "duplicates": as_json(&lost),
        }));
        if !violations.is_empty() || !lost.is_empty() {
            total += violations.len();
            lost_total += lost.len();
            bad.push(name);
        }
    }
    let report = Report::new(
        text,
        json!({ "files": reports, "violations": total, "duplicates": lost_total }),
    );
    let what = problems(total, lost_total);
    Ok(match bad.as_slice() {
        [] => report,
        [one] if files.len() == 1 => report.failed(format!(
            "{one} is not a sound application definition: {what}"
        )),
        many => report.failed(format!(
            "{} of {} files are not sound application definitions ({what}): {}",
            many.len(),
            files.len(),
            many.join(", ")
        )),
    })
}

/// A JSON path and what is wrong there.
type Finding = (String, String);

fn pairs(list: Vec<multiflexi_core::app_json::Violation>) -> Vec<Finding> {
    list.into_iter().map(|v| (v.path, v.message)).collect()
}

fn shown(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

/// "3 schema violations, 1 duplicate key that loses data".
fn problems(violations: usize, lost: usize) -> String {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let mut parts = Vec::new();
    if violations > 0 {
        parts.push(format!(
            "{violations} schema violation{}",
            plural(violations)
        ));
    }
    if lost > 0 {
        parts.push(format!(
            "{lost} duplicate key{} that lose{} data",
            plural(lost),
            if lost == 1 { "s" } else { "" }
        ));
    }
    parts.join(", ")
}

/// `application:export-json --id N [--file F]`.
pub async fn export(ctx: &Ctx, args: &ExportArgs) -> anyhow::Result<Report> {
    let id: AppId = args.id.get()?;
    let app = ctx.store().await?.get_app(id).await?;
    let text = export_app_pretty(&app);
    match &args.file {
        None => Ok(Report::raw(text)),
        Some(path) => {
            super::write_atomically(path, text.as_bytes())?;
            Ok(Report::new(
                format!(
                    "exported app {id} \"{}\" to {}",
                    app.display_name(),
                    path.display()
                ),
                json!({ "app_id": id, "file": path.display().to_string(), "bytes": text.len() }),
            ))
        }
    }
}

fn summary(app: &App) -> Value {
    json!({
        "id": app.id,
        "uuid": app.uuid,
        "name": app.display_name(),
        "version": app.version,
        "executable": app.executable,
        "ociimage": app.ociimage,
        "enabled": app.enabled,
    })
}

/// `application:list`: filters.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only the app with this name (any of its languages, exact).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Only the app with this uuid.
    #[arg(long, value_name = "UUID")]
    pub uuid: Option<String>,
}

/// `application:list [--name N] [--uuid U]`: an empty list when nothing matches.
pub async fn list(ctx: &Ctx, args: &ListArgs) -> anyhow::Result<Report> {
    let mut apps = ctx.store().await?.list_apps().await?;
    if let Some(name) = &args.name {
        apps.retain(|a| a.name.0.values().any(|n| n == name));
    }
    if let Some(uuid) = &args.uuid {
        apps.retain(|a| {
            a.uuid
                .as_deref()
                .is_some_and(|u| u.eq_ignore_ascii_case(uuid))
        });
    }
    let rows: Vec<Vec<String>> = apps
        .iter()
        .map(|a| {
            vec![
                a.id.to_string(),
                a.display_name().to_string(),
                or_dash(a.version.as_deref()),
                a.executable.clone(),
                or_dash(a.ociimage.as_deref().filter(|i| !i.is_empty())),
                or_dash(a.uuid.as_deref()),
            ]
        })
        .collect();
    Ok(Report::new(
        table(
            &["ID", "NAME", "VERSION", "EXECUTABLE", "OCIIMAGE", "UUID"],
            &rows,
        ),
        Value::Array(apps.iter().map(summary).collect()),
    ))
}

/// The app as JSON: its definition in MultiFlexi's shape plus the database fields.
pub fn app_json(app: &App) -> Value {
    let mut v = export_app(app);
    if let Value::Object(map) = &mut v {
        map.insert("id".into(), json!(app.id));
        map.insert("enabled".into(), json!(app.enabled));
        map.insert("created".into(), json!(app.created));
        map.insert("updated".into(), json!(app.updated));
        map.insert("container".into(), json!(app.container));
    }
    v
}

/// `application:get`.
pub async fn get(ctx: &Ctx, args: &super::lookup::AppLookup) -> anyhow::Result<Report> {
    let app = args.find(&*ctx.store().await?).await?;
    let mut text = fields(&[
        ("id", app.id.to_string()),
        ("uuid", or_dash(app.uuid.as_deref())),
        ("name", app.display_name().to_string()),
        ("description", app.description.text().to_string()),
        ("version", or_dash(app.version.as_deref())),
        ("executable", app.executable.clone()),
        ("cmdparams", app.cmdparams.clone()),
        (
            "ociimage",
            or_dash(app.ociimage.as_deref().filter(|i| !i.is_empty())),
        ),
        ("homepage", or_dash(app.homepage.as_deref())),
        ("tags", list_or_dash(&app.tags)),
        ("requirements", list_or_dash(&app.requirements)),
        ("enabled", app.enabled.to_string()),
        ("container", app.container.describe()),
        ("created", opt_ts(app.created)),
        ("updated", opt_ts(app.updated)),
    ]);
    if !app.environment.is_empty() {
        text.push_str("environment:\n");
        for f in &app.environment {
            let mut flags = vec![f.kind.as_str().to_string()];
            if f.required {
                flags.push("required".into());
            }
            if f.secret {
                flags.push("secret".into());
            }
            let default = match (&f.default, f.secret) {
                (Some(_), true) => " default=***".to_string(),
                (Some(d), false) => format!(" default={d:?}"),
                (None, _) => String::new(),
            };
            let description = f.description.text();
            text.push_str(&format!(
                "  {} ({}){default}{}{description}\n",
                f.name,
                flags.join(", "),
                if description.is_empty() { "" } else { ": " }
            ));
        }
    }
    if !app.artifacts.is_empty() {
        text.push_str("artifacts:\n");
        for a in &app.artifacts {
            text.push_str(&format!("  {} ({})\n", a.path, a.kind));
        }
    }
    if !app.exit_codes.is_empty() {
        text.push_str("exit codes:\n");
        for (code, info) in &app.exit_codes {
            text.push_str(&format!(
                "  {code}: {}{}{}\n",
                info.description.text(),
                info.severity
                    .as_deref()
                    .map(|s| format!(" [{s}]"))
                    .unwrap_or_default(),
                if info.retry { " (retry)" } else { "" }
            ));
        }
    }
    Ok(Report::new(text, app_json(&app)))
}

fn list_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_string()
    } else {
        items.join(", ")
    }
}

/// `application:delete`: by id, `--name` or `--uuid`.
pub async fn delete(ctx: &Ctx, args: &super::lookup::AppLookup) -> anyhow::Result<Report> {
    let id = args.find(&*ctx.store().await?).await?.id;
    let app = ctx.usecases().await?.delete_app(&ctx.caller(), id).await?;
    Ok(Report::new(
        format!("deleted app {id} \"{}\"", app.display_name()),
        json!({ "deleted": { "app_id": id }, "application_id": id }),
    ))
}
