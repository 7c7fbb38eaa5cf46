//! The bodies as upstream's published client (`multiflexi-client` 1.1.0 on PyPI) parses them:
//! its field names (`DatCreate`, `exitCodes`), types (`env` a string, `requirements` comma-joined)
//! and limits (a company name of at most 32 characters). Where the client and upstream's OpenAPI
//! document disagree, the client wins. Extra fields are ours; the client ignores them.
//! Secrets are `***` here as everywhere in the API.

use crate::http::api::env::{REDACTED, env_view};
use chrono::{DateTime, Utc};
use multiflexi_core::model::{App, Company, Credential, Job, RunTemplate};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// `s` cut to at most `max` characters (the client refuses longer text), ending with `…` when cut.
pub fn fit(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// A job, as the client's `Job`.
#[derive(Debug, Clone, Serialize)]
pub struct UpJob {
    pub id: i64,
    pub app_id: i64,
    pub begin: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub company_id: i64,
    pub exitcode: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub launched_by: Option<String>,
    /// The frozen environment as JSON text (`{"NAME": "value"}`), secret values `***`.
    pub env: String,
    pub command: String,
    /// When it is (was) due, RFC 3339.
    pub schedule: String,
    pub executor: String,
    pub runtemplate_id: i64,
    pub app_version: String,
    /// Ours: `scheduled`, `queued`, `running`, or the outcome.
    pub status: String,
    /// Ours: where it is in its lifecycle.
    pub phase: String,
}

impl UpJob {
    /// The upstream view of `j` (`app` gives `app_version`).
    pub fn of(j: &Job, app: Option<&App>) -> Self {
        let env: BTreeMap<String, String> = env_view(&j.spec.env)
            .into_iter()
            .map(|(k, v)| (k, v.value))
            .collect();
        Self {
            id: j.id.get(),
            app_id: j.app_id.get(),
            begin: j.begin,
            end: j.end,
            company_id: j.company_id.get(),
            exitcode: j.exitcode,
            stdout: j.stdout.clone(),
            stderr: j.stderr.clone(),
            launched_by: j.launched_by.clone(),
            env: serde_json::to_string(&env).unwrap_or_else(|_| "{}".into()),
            command: j.command.clone(),
            schedule: j.after.to_rfc3339(),
            executor: j.executor.as_str().to_string(),
            runtemplate_id: j.runtemplate_id.get(),
            app_version: app
                .and_then(|a| a.version.clone())
                .unwrap_or_else(|| "n/a".into()),
            status: j.status().to_string(),
            phase: j.phase.as_str().to_string(),
        }
    }
}

/// An environment field type the client knows (`text string password file-path bool integer
/// set`); ours that it does not know (`float`, `email`, `url`) are `string`.
fn field_type(kind: &str) -> &str {
    match kind {
        "text" | "string" | "password" | "file-path" | "bool" | "integer" | "set" => kind,
        _ => "string",
    }
}

/// An exit-code severity the client knows (`success error warning info`); `critical` is `error`.
fn severity(s: Option<&str>) -> Option<&'static str> {
    match s?.to_ascii_lowercase().as_str() {
        "success" => Some("success"),
        "warning" => Some("warning"),
        "info" => Some("info"),
        "error" | "critical" | "fatal" => Some("error"),
        _ => None,
    }
}

/// An app, as the client's `App`.
pub fn app(a: &App) -> Value {
    let mut environment = Map::new();
    for f in &a.environment {
        let defval = f.default.as_ref().map(|d| {
            if f.secret {
                REDACTED.to_string()
            } else {
                d.clone()
            }
        });
        environment.insert(
            f.name.clone(),
            json!({
                "type": field_type(f.kind.as_str()),
                "description": f.description.text(),
                "defval": defval,
                "required": f.required,
            }),
        );
    }
    let exit_codes: Vec<Value> = a
        .exit_codes
        .iter()
        .map(|(code, info)| {
            json!({
                "code": code,
                "severity": severity(info.severity.as_deref()),
                "retry": info.retry,
                "description": info.description.0,
            })
        })
        .collect();
    let tags: Vec<Value> = a
        .tags
        .iter()
        .map(|t| json!({"id": null, "name": t}))
        .collect();
    json!({
        "id": a.id.get(),
        "enabled": a.enabled,
        "image": null,
        "name": a.display_name(),
        "description": a.description.text(),
        "executable": a.executable,
        "DatCreate": a.created,
        "DatUpdate": a.updated,
        "setup": a.setup,
        "cmdparams": a.cmdparams,
        "deploy": null,
        "homepage": a.homepage,
        "requirements": a.requirements.join(","),
        "ociimage": a.ociimage.clone().filter(|i| !i.trim().is_empty()),
        "version": a.version,
        "code": null,
        "uuid": a.uuid,
        "topics": a.tags.join(","),
        "resultfile": null,
        "artifacts": a.artifacts.iter().map(|p| p.path.as_str()).collect::<Vec<_>>().join(","),
        "environment": environment,
        "exitCodes": exit_codes,
        "tags": tags,
        "status": null,
    })
}

/// A company, as the client's `Company` (name cut to 32 characters, `code` — our slug — to 10;
/// an e-mail longer than the client's 64 characters is left out rather than cut).
pub fn company(c: &Company) -> Value {
    json!({
        "id": c.id.get(),
        "enabled": c.enabled,
        "settings": null,
        "logo": null,
        "name": fit(&c.name, 32),
        "code": fit(&c.slug, 10),
        "ic": null,
        "DatCreate": c.created,
        "DatUpdate": c.updated,
        "customer": null,
        "email": c.email.as_ref().filter(|e| e.chars().count() <= 64),
        "slug": c.slug,
        "zabbix_host": c.zabbix_host,
    })
}

/// A run template, as the client's `RunTemplate`.
pub fn runtemplate(t: &RunTemplate) -> Value {
    json!({
        "id": t.id.get(),
        "app_id": t.app_id.get(),
        "company_id": t.company_id.get(),
        "interv": t.interv.to_string(),
        "prepared": null,
        "success": null,
        "fail": null,
        "name": fit(&t.name, 250),
        "delay": t.delay,
        "executor": t.executor.as_str(),
        "active": t.active,
        "cron": t.cron.as_deref().map(|c| fit(c, 64)),
        "last_schedule": t.last_schedule,
        "next_schedule": t.next_schedule,
        "note": null,
        "DatCreate": t.created,
        "DatSave": t.updated,
        "successfull_jobs_count": t.successfull_jobs_count,
        "failed_jobs_count": t.failed_jobs_count,
        "timezone": t.timezone,
    })
}

/// A credential, as the client's `Credential`: `type` is one of the client's words (`password`,
/// `token`, `certificate`) when ours is one, else null (ours is in `kind`); `value` is null
/// (a credential holds several values: `fields`, secret ones `***`).
pub fn credential(c: &Credential) -> Value {
    let kind = c.kind.to_ascii_lowercase();
    let client_type = ["password", "token", "certificate"]
        .contains(&kind.as_str())
        .then_some(kind);
    let fields: Vec<Value> = c
        .fields
        .iter()
        .map(|f| {
            json!({
                "name": f.name,
                "value": if f.secret { REDACTED } else { f.value.as_str() },
                "secret": f.secret,
            })
        })
        .collect();
    json!({
        "id": c.id.get(),
        "company_id": c.company_id.get(),
        "name": fit(&c.name, 32),
        "type": client_type,
        "value": null,
        "DatCreate": null,
        "DatUpdate": null,
        "kind": c.kind,
        "fields": fields,
    })
}

#[cfg(test)]
mod tests {
    use super::{field_type, fit, severity};

    #[test]
    fn fits_text_to_the_clients_limits() {
        assert_eq!(fit("short", 10), "short");
        assert_eq!(fit("0123456789", 10), "0123456789");
        let cut = fit("01234567890", 10);
        assert_eq!(cut.chars().count(), 10);
        assert!(cut.ends_with('…'));
        assert_eq!(fit("čččččččččččč", 4), "ččč…");
    }

    #[test]
    fn maps_words_to_the_clients_enums() {
        assert_eq!(field_type("email"), "string");
        assert_eq!(field_type("file-path"), "file-path");
        assert_eq!(severity(Some("critical")), Some("error"));
        assert_eq!(severity(Some("Warning")), Some("warning"));
        assert_eq!(severity(Some("odd")), None);
    }
}
