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
    /// Only these fields, comma-separated (upstream's): id, job_id, filename, content_type,
    /// size, note, created.
    #[arg(long, value_name = "A,B")]
    pub fields: Option<String>,
    /// By id: A (ascending, the default) or D (descending), as upstream's.
    #[arg(long, value_name = "A|D")]
    pub order: Option<String>,
    /// At most this many (after ordering).
    #[arg(long, value_name = "N")]
    pub limit: Option<String>,
}

/// The fields `artifact:list --fields` may name, with their table headings.
const FIELDS: [(&str, &str); 7] = [
    ("id", "ID"),
    ("job_id", "JOB"),
    ("filename", "FILENAME"),
    ("content_type", "TYPE"),
    ("size", "SIZE"),
    ("created", "CREATED"),
    ("note", "NOTE"),
];

/// The fields asked for, in the order given; every field without `--fields`.
fn chosen_fields(raw: Option<&str>) -> anyhow::Result<Vec<&'static str>> {
    let Some(raw) = raw else {
        return Ok(FIELDS
            .iter()
            .map(|(f, _)| *f)
            .filter(|f| *f != "job_id")
            .collect());
    };
    let mut out = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let Some((f, _)) = FIELDS.iter().find(|(f, _)| *f == name) else {
            let allowed: Vec<&str> = FIELDS.iter().map(|(f, _)| *f).collect();
            return Err(multiflexi_core::Error::invalid(
                "fields",
                format!(
                    "{name:?} is not a field of an artifact; choose from {}",
                    allowed.join(", ")
                ),
            )
            .into());
        };
        if !out.contains(f) {
            out.push(*f);
        }
    }
    if out.is_empty() {
        return Err(multiflexi_core::Error::invalid(
            "fields",
            "no field named; give a comma-separated list like id,filename",
        )
        .into());
    }
    Ok(out)
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
    let chosen = chosen_fields(a.fields.as_deref())?;
    let descending = match a.order.as_deref().map(|o| o.trim().to_ascii_uppercase()) {
        None => false,
        Some(o) if o == "A" || o == "ASC" => false,
        Some(o) if o == "D" || o == "DESC" => true,
        Some(o) => {
            return Err(multiflexi_core::Error::invalid(
                "order",
                format!("{o:?} is not an order; give A (ascending) or D (descending)"),
            )
            .into());
        }
    };
    let limit = a
        .limit
        .as_deref()
        .map(|l| {
            l.trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    multiflexi_core::Error::invalid(
                        "limit",
                        format!("{l:?} is not a count; give a whole number above 0"),
                    )
                })
        })
        .transpose()?;
    let mut artifacts = ArtifactSink::list(&*store, job).await?;
    artifacts.sort_by_key(|x| x.id);
    if descending {
        artifacts.reverse();
    }
    if let Some(n) = limit {
        artifacts.truncate(n);
    }
    let cell = |a: &multiflexi_core::model::ArtifactMeta, f: &str| match f {
        "id" => a.id.to_string(),
        "job_id" => a.job_id.to_string(),
        "filename" => a.filename.clone(),
        "content_type" => a.content_type.clone(),
        "size" => a.size.to_string(),
        "created" => ts(a.created),
        _ => a.note.clone().unwrap_or_default(),
    };
    let rows: Vec<Vec<String>> = artifacts
        .iter()
        .map(|a| chosen.iter().map(|f| cell(a, f)).collect())
        .collect();
    let headings: Vec<&str> = chosen
        .iter()
        .filter_map(|c| FIELDS.iter().find(|(f, _)| f == c).map(|(_, h)| *h))
        .collect();
    let only_chosen = a.fields.is_some();
    let json: Vec<Value> = artifacts
        .iter()
        .map(|art| match artifact_json(art) {
            Value::Object(m) if only_chosen => Value::Object(
                m.into_iter()
                    .filter(|(k, _)| chosen.contains(&k.as_str()))
                    .collect(),
            ),
            full => full,
        })
        .collect();
    Ok(Report::new(table(&headings, &rows), Value::Array(json)))
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
