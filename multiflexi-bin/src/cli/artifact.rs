//! `artifact:*`: a job's stored files (stdout.txt, stderr.txt, result files), byte-exact.

use super::Ctx;
use super::args::{self, IdArg};
use super::job::artifact_json;
use super::output::{Report, table, ts};
use clap::Args;
use multiflexi_core::store::JobQueue as _;
use multiflexi_core::{ArtifactId, ArtifactSink, JobId};
use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;

/// `artifact:list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The job.
    #[arg(long, visible_alias = "job_id", value_name = "ID")]
    pub job: String,
}

/// `artifact:get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    #[command(flatten)]
    pub id: IdArg,
    /// Where to write the content, byte for byte (`-` for stdout). Without it: the artifact's
    /// details, with its content when it is text (as upstream's `artifact get --id N`).
    #[arg(long, short = 'o', visible_alias = "file", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `artifact:list --job <id>`.
pub async fn list(ctx: &Ctx, a: &ListArgs) -> anyhow::Result<Report> {
    let job: JobId = args::id(&a.job)?;
    let store = ctx.store().await?;
    store.get_job(job).await?;
    let artifacts = ArtifactSink::list(&*store, job).await?;
    let rows: Vec<Vec<String>> = artifacts
        .iter()
        .map(|a| {
            vec![
                a.id.to_string(),
                a.filename.clone(),
                a.content_type.clone(),
                a.size.to_string(),
                ts(a.created),
                a.note.clone().unwrap_or_default(),
            ]
        })
        .collect();
    Ok(Report::new(
        table(
            &["ID", "FILENAME", "TYPE", "SIZE", "CREATED", "NOTE"],
            &rows,
        ),
        Value::Array(artifacts.iter().map(artifact_json).collect()),
    ))
}

/// `artifact:get <id> --output FILE`.
pub async fn get(ctx: &Ctx, a: &GetArgs) -> anyhow::Result<Report> {
    let id: ArtifactId = a.id.get()?;
    let store = ctx.store().await?;
    let artifact = ArtifactSink::get(&*store, id).await?;
    let Some(output) = &a.output else {
        let meta = &artifact.meta;
        let text = std::str::from_utf8(&artifact.content).ok();
        let mut json = artifact_json(meta);
        if let Value::Object(m) = &mut json {
            m.insert("content".into(), json!(text));
            m.insert("bytes".into(), json!(artifact.content.len()));
        }
        let shown = match text {
            Some(t) => format!(
                "artifact {id} {} of job {} ({} bytes, {}):\n{t}",
                meta.filename,
                meta.job_id,
                artifact.content.len(),
                meta.content_type
            ),
            None => format!(
                "artifact {id} {} of job {} ({} bytes, {}) is binary: write it with --output FILE",
                meta.filename,
                meta.job_id,
                artifact.content.len(),
                meta.content_type
            ),
        };
        return Ok(Report::new(shown, json));
    };
    if output.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(&artifact.content)?;
        out.flush()?;
        return Ok(Report::raw(""));
    }
    super::write_atomically(output, &artifact.content)?;
    let meta = &artifact.meta;
    let mut json = artifact_json(meta);
    if let Value::Object(m) = &mut json {
        m.insert("output".into(), json!(output.display().to_string()));
        m.insert("bytes".into(), json!(artifact.content.len()));
        // Upstream's artifact:save keys.
        m.insert("artifact_id".into(), json!(id));
        m.insert("file".into(), json!(output.display().to_string()));
        m.insert("original_filename".into(), json!(meta.filename));
        m.insert("saved".into(), json!(true));
    }
    Ok(Report::new(
        format!(
            "wrote artifact {id} {} of job {} ({} bytes, {}) to {}",
            meta.filename,
            meta.job_id,
            artifact.content.len(),
            meta.content_type,
            output.display()
        ),
        json,
    ))
}
