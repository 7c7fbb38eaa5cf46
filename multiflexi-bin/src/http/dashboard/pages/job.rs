//! `GET /jobs/{id}`: one job — phase timeline, outcome with the app's own exit-code
//! description, output (live while it runs, whole once it ended), artifacts, environment with
//! secrets redacted, audit trail; "Cancel" while it is not finished, "Run again" once it is.
//! Plus the live tail's JSON endpoint and artifact downloads.

use super::super::DashState;
use super::super::csrf::Checked;
use super::super::error::{OrPage, PageError, PageResult};
use super::super::layout::{self, Nav};
use super::super::scope;
use super::super::session::{Session, see_other};
use super::templates::EmptyForm;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderValue;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use multiflexi_core::exit_code::describe;
use multiflexi_core::model::ArtifactMeta;
use multiflexi_core::store::{AuditFilter, CancelResult, OutputChunk, Stream};
use multiflexi_core::{ArtifactId, Job, JobId, Outcome, Phase};
use serde::Deserialize;
use serde_json::json;

/// Output chunks shown on a running job's page, at most.
const LIVE_CHUNKS: usize = 20_000;
/// Chunks one poll of the live tail returns, at most.
const POLL_CHUNKS: usize = 2_000;
/// Bytes of a finished job's stdout / stderr shown inline; the download has everything.
const INLINE_BYTES: usize = 2 * 1024 * 1024;

fn parse_job_id(id: &str) -> Result<JobId, PageError> {
    id.parse::<JobId>()
        .map_err(|_| PageError::not_found(format!("Job {id:?}")))
}

/// The phases in order, with when each was reached and a note.
fn timeline(job: &Job) -> Markup {
    let reached = |p: Phase| job.phase >= p;
    let rows: [(Phase, Option<DateTime<Utc>>, String); 6] = [
        (
            Phase::Created,
            Some(job.created),
            format!("trigger {}", job.trigger),
        ),
        (
            Phase::Scheduled,
            Some(job.created),
            format!("due {}", job.after.format("%Y-%m-%d %H:%M:%S UTC")),
        ),
        (
            Phase::Queued,
            job.queued,
            job.lease_owner
                .as_deref()
                .map(|o| format!("claimed by {o}"))
                .unwrap_or_default(),
        ),
        (
            Phase::Running,
            job.begin,
            match (&job.pid, &job.external_id) {
                (Some(pid), _) => format!("pid {pid}"),
                (None, Some(x)) => x.clone(),
                _ => String::new(),
            },
        ),
        (
            Phase::Completed,
            job.end,
            job.outcome.map(|o| o.to_string()).unwrap_or_default(),
        ),
        (Phase::Preserved, job.preserved, String::new()),
    ];
    html! {
        ol.timeline #timeline {
            @for (phase, at, note) in rows {
                @let current = phase == job.phase && phase != Phase::Preserved;
                @let class = if current { "current" } else if reached(phase) { "done" } else { "pending" };
                li class=(class) data-phase=(phase.as_str()) {
                    span.phase { (phase.as_str()) }
                    span.state { @if current { "current phase" } @else if reached(phase) { "done" } @else { "not yet" } }
                    @if reached(phase) { (layout::opt_ts(at)) } @else { span.muted { "—" } }
                    @if !note.is_empty() && reached(phase) { br; span.muted { (note) } }
                }
            }
        }
    }
}

/// "Cancel" while the job is not finished, "Run again" once it is (POST forms).
fn action_form(session: &Session, job: &Job) -> Markup {
    html! {
        @if layout::finished(job) {
            form method="post" action={ "/jobs/" (job.id) "/retry" } {
                (layout::csrf_field(session))
                button.btn.btn-primary type="submit" data-retry=(job.id)
                    title="A new job with the same command and environment" { "Run again" }
            }
        } @else {
            form method="post" action={ "/jobs/" (job.id) "/cancel" } {
                (layout::csrf_field(session))
                button.btn type="submit" data-cancel=(job.id) disabled[job.cancel_requested]
                    title=(if job.cancel_requested { "Cancel already requested" } else { "Stop this job" }) {
                    @if job.cancel_requested { "Cancel requested" } @else { "Cancel" }
                }
            }
        }
    }
}

/// Output chunks as spans (stderr marked), for the live view. Consecutive chunks of one stream
/// are joined before decoding, so a character split between chunks is shown whole.
fn chunks_markup(chunks: &[OutputChunk]) -> Markup {
    let mut runs: Vec<(Stream, Vec<u8>)> = Vec::new();
    for c in chunks {
        match runs.last_mut() {
            Some((stream, bytes)) if *stream == c.stream => bytes.extend_from_slice(&c.bytes),
            _ => runs.push((c.stream, c.bytes.clone())),
        }
    }
    html! {
        @for (stream, bytes) in &runs {
            @if *stream == Stream::Stderr {
                span.stderr { (layout::lossy(bytes)) }
            } @else {
                span { (layout::lossy(bytes)) }
            }
        }
    }
}

async fn stored_text(
    state: &DashState,
    metas: &[ArtifactMeta],
    name: &str,
    fallback: &str,
) -> (String, bool) {
    let Some(meta) = metas.iter().find(|m| m.filename == name) else {
        return (fallback.to_string(), false);
    };
    match state.http.artifacts.get(meta.id).await {
        Ok(a) => {
            let cut = a.content.len() > INLINE_BYTES;
            let shown = &a.content[..a.content.len().min(INLINE_BYTES)];
            (layout::lossy(shown), cut)
        }
        Err(_) => (fallback.to_string(), false),
    }
}

/// `GET /jobs/{id}`.
pub(crate) async fn page(
    State(state): State<DashState>,
    session: Session,
    Path(id): Path<String>,
) -> PageResult {
    let store = &*state.http.store;
    let id = parse_job_id(&id).or_page(&session)?;
    let job = scope::job(store, &session, id).await.or_page(&session)?;
    let app = store.get_app(job.app_id).await.ok();
    let template = store.get_runtemplate(job.runtemplate_id).await.ok();
    let company = store.get_company(job.company_id).await.ok();
    let finished = layout::finished(&job);
    let metas = if finished {
        state.http.artifacts.list(job.id).await.or_page(&session)?
    } else {
        Vec::new()
    };
    let live = if finished {
        Vec::new()
    } else {
        store
            .read_output(job.id, None, LIVE_CHUNKS)
            .await
            .or_page(&session)?
    };
    let (stdout, stdout_cut) = stored_text(&state, &metas, "stdout.txt", &job.stdout).await;
    let (stderr, stderr_cut) = stored_text(&state, &metas, "stderr.txt", &job.stderr).await;
    let audit = store
        .list_audit(&AuditFilter::job(job.id))
        .await
        .unwrap_or_default();
    let env = job.spec.env.redacted();
    let actions = store.job_actions(job.id).await.unwrap_or_default();
    // Completed, artifacts not yet stored (a lost job stays Completed: nothing to wait for).
    let awaiting_artifacts = job.phase == Phase::Completed && job.outcome != Some(Outcome::Lost);

    let body = html! {
        article #job data-job-id=(job.id) data-phase=(job.phase.as_str())
            data-refresh=[awaiting_artifacts.then_some(3)] {
            h1 { "Job " (job.id) " " (layout::job_badge(&job)) }
            @if let Some(why) = &job.unreadable {
                p.alert.alert-danger #unreadable role="alert" {
                    "This job's stored environment cannot be read: " (why)
                }
            }
            div.actions {
                (action_form(&session, &job))
                @if let Some(t) = &template {
                    a.btn href={ "/runtemplates/" (t.id) } { "Run template: " (t.name) }
                }
                a.btn href={ "/jobs?template=" (job.runtemplate_id) } { "Other jobs of this template" }
            }
            h2 { "Outcome" }
            @if let (true, Some(outcome)) = (finished, job.outcome) {
                @let d = describe(outcome, job.exitcode, app.as_ref(), "en");
                dl.facts #outcome {
                    dt { "Status" } dd { (layout::job_badge(&job)) }
                    dt { "Exit code" } dd { @match job.exitcode { Some(c) => { code { (c) } } None => { "—" } } }
                    dt { "Meaning" } dd { (d.class.meaning) }
                    @if let Some(text) = &d.app_description {
                        dt { "The app says" } dd #app-exit-description { (text)
                            @if let Some(sev) = &d.app_severity { " (" (sev) ")" } }
                    }
                    dt { "Retry recommended" } dd { @if d.retry_hint { "yes" } @else { "no" } }
                    @if let Some(dur) = job.duration() {
                        dt { "Run time" } dd { (layout::duration(dur)) }
                    }
                    @if !job.usage.is_empty() {
                        dt { "Resource usage" } dd #resource-usage { (job.usage.describe()) }
                    }
                }
            } @else {
                p.panel { "Not finished yet: the job is " strong { (job.phase.as_str()) } "." }
            }
            h2 { "Phases" }
            (timeline(&job))
            h2 { "Output" }
            @if finished {
                h3 { "stdout" }
                @if stdout.is_empty() { p.muted #stdout-empty { "(empty)" } } @else { pre.output #stdout tabindex="0" aria-label="Standard output" { (stdout) } }
                @if stdout_cut { p.muted { "Only the first 2 MiB are shown; download stdout.txt for the rest." } }
                h3 { "stderr" }
                @if stderr.is_empty() { p.muted #stderr-empty { "(empty)" } } @else { pre.output #stderr tabindex="0" aria-label="Standard error" { (stderr) } }
                @if stderr_cut { p.muted { "Only the first 2 MiB are shown; download stderr.txt for the rest." } }
            } @else {
                p.live #live-status role="status" aria-live="polite" {
                    "Output so far (stderr in red). Reload the page for more; with scripts enabled it follows the job live."
                }
                pre.output #live-output tabindex="0" aria-label="Output so far" data-job=(job.id)
                    data-after=[live.last().map(|c| c.seq)] { (chunks_markup(&live)) }
            }
            h2 { "Artifacts" }
            @if metas.is_empty() {
                p.muted { @if finished { "No artifacts were stored." } @else { "Artifacts are stored when the job ends." } }
            } @else {
                table #artifacts {
                    caption.sr-only { "Artifacts of this job" }
                    thead { tr { th scope="col" { "File" } th scope="col" { "Type" } th scope="col" { "Size" } th scope="col" { "Note" } th scope="col" { span.sr-only { "Download" } } } }
                    tbody {
                        @for m in &metas {
                            tr {
                                td { code { (m.filename) } }
                                td { (m.content_type) }
                                td { (layout::size(m.size)) }
                                td { (m.note.as_deref().unwrap_or("")) }
                                td { a.btn.btn-small href={ "/jobs/" (job.id) "/artifacts/" (m.id) }
                                    download=(m.filename) data-artifact=(m.filename) { "Download " span.sr-only { (m.filename) } } }
                            }
                        }
                    }
                }
            }
            @if !actions.is_empty() {
                h2 { "Actions after completion" }
                table #job-actions {
                    caption.sr-only { "Actions after this job's completion" }
                    thead { tr { th scope="col" { "#" } th scope="col" { "Kind" } th scope="col" { "State" } th scope="col" { "Attempts" } th scope="col" { "Last error" } } }
                    tbody {
                        @for a in &actions {
                            tr data-action-state=(a.state.as_str()) {
                                td { (a.idx) }
                                td { code { (a.action.kind()) } }
                                td { (a.state.as_str()) }
                                td { (a.attempts) }
                                td { (a.last_error.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
            h2 { "Details" }
            dl.facts {
                dt { "Run template" } dd { @match &template { Some(t) => { a href={ "/runtemplates/" (t.id) } { (t.name) } } None => { (job.runtemplate_id) } } }
                dt { "Company" } dd { @match &company { Some(c) => { (c.name) } None => { (job.company_id) } } }
                dt { "App" } dd { @match &app { Some(a) => { a href={ "/apps/" (a.id) } { (a.display_name()) } } None => { (job.app_id) } } }
                dt { "Executor" } dd { (job.executor) }
                dt { "Command" } dd { code { (job.command) } }
                dt { "Trigger" } dd { (job.trigger) }
                dt { "Launched by" } dd { (job.launched_by.as_deref().unwrap_or("—")) }
                dt { "Attempt" } dd { (job.attempt + 1)
                    @if let Some(r) = job.retry_of { " (retry of " a href={ "/jobs/" (r) } { "job " (r) } ")" } }
                @if let Some(slot) = job.slot { dt { "Schedule slot" } dd { (layout::ts(slot)) } }
                @if job.cancel_requested { dt { "Cancel" } dd { "requested" } }
            }
            h2 { "Environment" }
            @if env.is_empty() {
                p.muted { "No variables." }
            } @else {
                table #environment {
                    caption.sr-only { "Environment of this job; secret values are not shown" }
                    thead { tr { th scope="col" { "Variable" } th scope="col" { "Value" } } }
                    tbody {
                        @for (name, v) in &env.0 {
                            tr {
                                td { code { (name) } }
                                td { @if v.secret { span.muted { "*** (secret)" } } @else { code { (v.value) } } }
                            }
                        }
                    }
                }
            }
            @if !audit.is_empty() {
                h2 { "Audit trail" }
                table #audit {
                    caption.sr-only { "Audit trail of this job" }
                    thead { tr { th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "What" } th scope="col" { "Detail" } } }
                    tbody {
                        @for a in &audit {
                            tr { td { (layout::ts(a.at)) } td { (a.actor) } td { code { (a.action) } } td { (a.detail) } }
                        }
                    }
                }
            }
        }
    };
    let title = format!("Job {}", job.id);
    Ok(layout::page(&session, &title, Nav::Jobs, body).into_response())
}

/// `POST /jobs/{id}/cancel`: a job that has not started yet completes as cancelled at once; a
/// queued or running one gets the cancel flag and its executor stops it. Back to the job.
pub(crate) async fn cancel(
    State(state): State<DashState>,
    Path(id): Path<String>,
    Checked { session, .. }: Checked<EmptyForm>,
) -> PageResult {
    let id = parse_job_id(&id).or_page(&session)?;
    let result = state
        .http
        .usecases()
        .cancel_job(&session.caller(), id)
        .await
        .or_page(&session)?;
    let word = match result {
        CancelResult::Cancelled(_) => "cancelled",
        CancelResult::Requested(_) => "requested",
        CancelResult::AlreadyFinished(_) => "already finished",
    };
    tracing::info!(job_id = id.get(), result = word, token = %session.token.name, "dashboard: cancel");
    Ok(see_other(&format!("/jobs/{id}")))
}

/// `POST /jobs/{id}/retry`: a finished job again (same frozen command and environment, trigger
/// `manual`, `retry_of` this job); shows the new job.
pub(crate) async fn retry(
    State(state): State<DashState>,
    Path(id): Path<String>,
    Checked { session, .. }: Checked<EmptyForm>,
) -> PageResult {
    let id = parse_job_id(&id).or_page(&session)?;
    let job = state
        .http
        .usecases()
        .retry_job(&session.caller(), id)
        .await
        .or_page(&session)?;
    tracing::info!(job_id = job.id.get(), retry_of = id.get(), token = %session.token.name, "dashboard: run again");
    Ok(see_other(&format!("/jobs/{}", job.id)))
}

/// `?after=SEQ` of the live tail.
#[derive(Debug, Deserialize)]
pub(crate) struct OutputQuery {
    after: Option<u64>,
}

/// `GET /jobs/{id}/output?after=SEQ`: new output chunks as JSON
/// `{chunks: [{seq, stream, text}], phase, finished}` for the live tail.
pub(crate) async fn output(
    State(state): State<DashState>,
    session: Session,
    Path(id): Path<String>,
    Query(q): Query<OutputQuery>,
) -> PageResult {
    let store = &*state.http.store;
    let id = parse_job_id(&id).or_page(&session)?;
    let job = scope::job(store, &session, id).await.or_page(&session)?;
    let chunks = store
        .read_output(job.id, q.after, POLL_CHUNKS)
        .await
        .or_page(&session)?;
    let chunks: Vec<_> = chunks
        .iter()
        .map(|c| json!({ "seq": c.seq, "stream": c.stream.as_str(), "text": layout::lossy(&c.bytes) }))
        .collect();
    Ok(Json(json!({
        "chunks": chunks,
        "phase": job.phase.as_str(),
        "finished": layout::finished(&job),
    }))
    .into_response())
}

/// `filename` for `Content-Disposition`: printable ASCII without quotes or backslashes.
fn ascii_filename(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `Content-Disposition: attachment` with an ASCII fallback and the exact UTF-8 name (RFC 6266).
pub(crate) fn content_disposition(name: &str) -> HeaderValue {
    let encoded =
        percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string();
    let value = format!(
        "attachment; filename=\"{}\"; filename*=UTF-8''{encoded}",
        ascii_filename(name)
    );
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("attachment"))
}

/// `GET /jobs/{id}/artifacts/{artifact}`: the stored bytes exactly, with the stored content
/// type and the original file name. `{artifact}` is the artifact's id or its file name.
pub(crate) async fn download(
    State(state): State<DashState>,
    session: Session,
    Path((id, artifact)): Path<(String, String)>,
) -> PageResult {
    let store = &*state.http.store;
    let id = parse_job_id(&id).or_page(&session)?;
    let job = scope::job(store, &session, id).await.or_page(&session)?;
    let missing = || PageError::not_found(format!("Artifact {artifact:?} of job {}", job.id));
    let metas = state.http.artifacts.list(job.id).await.or_page(&session)?;
    let meta = match artifact.parse::<i64>() {
        Ok(n) => metas.iter().find(|m| m.id == ArtifactId(n)),
        Err(_) => None,
    }
    .or_else(|| metas.iter().find(|m| m.filename == artifact))
    .ok_or_else(missing)
    .or_page(&session)?;
    let stored = state.http.artifacts.get(meta.id).await.or_page(&session)?;
    let content_type = HeaderValue::from_str(&stored.meta.content_type)
        .ok()
        .filter(|_| stored.meta.content_type.contains('/'))
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Ok((
        [
            (CONTENT_TYPE, content_type),
            (
                CONTENT_DISPOSITION,
                content_disposition(&stored.meta.filename),
            ),
            (CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox")),
        ],
        stored.content,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions() {
        assert_eq!(
            content_disposition("stdout.txt"),
            "attachment; filename=\"stdout.txt\"; filename*=UTF-8''stdout%2Etxt"
        );
        assert_eq!(
            content_disposition("výpis \"1\".csv"),
            "attachment; filename=\"v_pis _1_.csv\"; filename*=UTF-8''v%C3%BDpis%20%221%22%2Ecsv"
        );
    }
}
