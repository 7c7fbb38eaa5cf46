//! `company:export`: everything stored about a company as one tar archive, for a data-subject
//! request: `company.json`, `templates.json`, `credentials.json` (secret values `***`), and per
//! job `jobs/<id>/job.json` (environment redacted) with its artifacts under
//! `jobs/<id>/artifacts/`.

use super::Ctx;
use super::args::IdArg;
use super::output::Report;
use anyhow::Context;
use clap::Args;
use multiflexi_core::{ArtifactSink as _, CompanyId};
use serde_json::json;
use std::path::PathBuf;

/// `company:export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub id: IdArg,
    /// The archive to write (tar); written through a temporary file beside it.
    #[arg(long, value_name = "FILE")]
    pub output: PathBuf,
}

fn append(tar: &mut tar::Builder<std::fs::File>, path: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o600);
    header.set_mtime(0);
    header.set_cksum();
    tar.append_data(&mut header, path, bytes)
        .with_context(|| format!("writing {path} into the archive"))
}

/// `company:export`.
pub async fn export(ctx: &Ctx, a: &ExportArgs) -> anyhow::Result<Report> {
    let id: CompanyId = a.id.get()?;
    let store = ctx.store().await?;
    let export = ctx
        .usecases()
        .await?
        .export_company(&ctx.caller(), id, &*store)
        .await?;
    let dir = a
        .output
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    let tmp = dir.join(format!(".company-{id}.{}.tar.tmp", std::process::id()));
    let written = async {
        let file = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        let mut tar = tar::Builder::new(file);
        append(
            &mut tar,
            "company.json",
            &serde_json::to_vec_pretty(&export.company)?,
        )?;
        append(
            &mut tar,
            "templates.json",
            &serde_json::to_vec_pretty(&export.templates)?,
        )?;
        append(
            &mut tar,
            "credentials.json",
            &serde_json::to_vec_pretty(&export.credentials)?,
        )?;
        let mut artifacts = 0u64;
        for (job, metas) in &export.jobs {
            append(
                &mut tar,
                &format!("jobs/{}/job.json", job.id),
                &serde_json::to_vec_pretty(job)?,
            )?;
            for meta in metas {
                let artifact = store.get(meta.id).await?;
                append(
                    &mut tar,
                    &format!("jobs/{}/artifacts/{}", job.id, meta.filename),
                    &artifact.content,
                )?;
                artifacts += 1;
            }
        }
        tar.into_inner()?.sync_all()?;
        std::fs::rename(&tmp, &a.output)
            .with_context(|| format!("cannot write {}", a.output.display()))?;
        anyhow::Ok(artifacts)
    }
    .await;
    let artifacts = match written {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    Ok(Report::new(
        format!(
            "wrote {}: company {id}{}, {} template(s), {} credential(s) (secret values ***), {} \
             job(s), {artifacts} artifact(s)\n",
            a.output.display(),
            if export.company.is_some() {
                ""
            } else {
                " (its row is gone)"
            },
            export.templates.len(),
            export.credentials.len(),
            export.jobs.len()
        ),
        json!({
            "file": a.output,
            "company_id": id,
            "company": export.company.is_some(),
            "templates": export.templates.len(),
            "credentials": export.credentials.len(),
            "jobs": export.jobs.len(),
            "artifacts": artifacts,
        }),
    ))
}
