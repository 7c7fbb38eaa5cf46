//! `doctor`: what the isolation rules (issue 15) would refuse today in what is already stored,
//! and how this installation keeps companies apart. Stored values keep working; the operator
//! decides what to change. Exits non-zero when it finds something to act on.

use super::Ctx;
use super::output::{Report, table};
use multiflexi_core::model::App;
use multiflexi_core::store::{Catalog as _, RunTemplateFilter};
use multiflexi_core::tenancy::stored_env_findings;
use serde_json::{Value, json};
use std::collections::HashMap;

/// One finding: where, what, why.
struct Finding {
    place: String,
    name: String,
    why: String,
}

/// `doctor`.
pub async fn doctor(ctx: &Ctx) -> anyhow::Result<Report> {
    let store = ctx.store().await?;
    let apps: HashMap<_, App> = store
        .list_apps()
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    let mut findings = Vec::new();
    let refused = |place: String, names: Vec<(String, &'static str)>, out: &mut Vec<Finding>| {
        for (name, what) in names {
            out.push(Finding {
                place: place.clone(),
                name,
                why: format!("changes {what}; a new write of it would be refused"),
            });
        }
    };
    for c in store.list_companies().await? {
        let names = stored_env_findings(None, c.environment.0.keys().map(String::as_str));
        refused(
            format!("company {} environment", c.id),
            names,
            &mut findings,
        );
    }
    for c in store.list_credentials(None).await? {
        let names = stored_env_findings(None, c.fields.iter().map(|f| f.name.as_str()));
        refused(format!("credential {}", c.id), names, &mut findings);
    }
    for t in store
        .list_runtemplates(&RunTemplateFilter::default())
        .await?
    {
        let app = apps.get(&t.app_id);
        let names = stored_env_findings(app, t.config.0.keys().map(String::as_str));
        refused(
            format!("run template {} config", t.id),
            names,
            &mut findings,
        );
        let has_image = app
            .and_then(|a| a.ociimage.as_deref())
            .is_some_and(|i| !i.trim().is_empty());
        if has_image && !t.executor.needs_image() {
            findings.push(Finding {
                place: format!("run template {}", t.id),
                name: "executor".into(),
                why: format!(
                    "runs a container app on {} (on the host, not in its image); only the \
                     operator may choose this, a company token cannot",
                    t.executor
                ),
            });
        }
    }
    // How a native executor started here with this environment would run jobs.
    let uids = std::env::var("MULTIFLEXI_JOB_UIDS").unwrap_or_else(|_| "61000-61999".into());
    let native = match multiflexi_executors::JobUsers::from_setting(&uids) {
        Ok(users) => users.describe(),
        Err(e) => format!("MULTIFLEXI_JOB_UIDS: {e}"),
    };
    let limits = multiflexi_executors::CgroupBackend::detect().describe();
    let how = format!("{native}\nnative job limits: {limits}");
    let rows: Vec<Vec<String>> = findings
        .iter()
        .map(|f| vec![f.place.clone(), f.name.clone(), f.why.clone()])
        .collect();
    let json = json!({
        "native_job_users": native,
        "native_job_limits": limits,
        "findings": findings.iter().map(|f| json!({
            "place": f.place, "name": f.name, "why": f.why,
        })).collect::<Vec<Value>>(),
    });
    if findings.is_empty() {
        return Ok(Report::new(
            format!(
                "{how}\ndoctor: nothing to act on: no stored loader variable, no container app \
                 on the host"
            ),
            json,
        ));
    }
    let text = format!(
        "{how}\ndoctor: {} finding(s); they keep working, and only the operator can write them again\n{}",
        findings.len(),
        table(&["WHERE", "NAME", "WHY"], &rows)
    );
    let n = findings.len();
    Ok(Report::new(text, json).failed(format!("{n} finding(s) to review")))
}
