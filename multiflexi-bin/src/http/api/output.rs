//! `GET /job/{id}/output`: Server-Sent Events while the job has not finished (the live tail from
//! the output log, ending when the job completes), plain text once it has.

use super::auth::Caller;
use super::error::{ApiResult, ErrorBody};
use super::extract::path_id;
use super::jobs::visible_job;
use crate::http::HttpState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, Stream};
use multiflexi_core::store::{OutputChunk, Stream as OutStream};
use multiflexi_core::{JobId, Store};
use serde::Serialize;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use utoipa::ToSchema;

/// How often the tail looks for new output.
pub const POLL: Duration = Duration::from_millis(200);
/// Chunks read per round trip.
const PAGE: usize = 500;

/// An `output` event's data.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutputEvent {
    /// Sequence number (also the event id: send it back as `Last-Event-ID` to resume).
    pub seq: u64,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// The text (invalid UTF-8 shown as U+FFFD; a character split across chunks is kept whole).
    pub text: String,
}

/// The `end` event's data: how the job ended.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EndEvent {
    /// Its phase (`completed` or `preserved`).
    pub phase: String,
    /// Its status (the outcome).
    pub status: String,
    /// Its exit code.
    pub exitcode: Option<i32>,
}

/// A job's output: with `Accept: text/event-stream` (as `EventSource` sends) and while it has not
/// finished, the live tail as Server-Sent Events (events `output`, then one `end` when it
/// completes); otherwise `text/plain`: stdout and stderr interleaved as they arrived (so far).
#[utoipa::path(get, path = "/job/{id}/output", tag = "jobs",
    params(
        ("id" = i64, Path, description = "Job id"),
        ("Last-Event-ID" = Option<String>, Header, description = "Resume the live tail after this event id (seq)"),
    ),
    responses(
        (status = 200, description = "The output: an event stream while the job runs (events `output` with OutputEvent data and a final `end` with EndEvent data), plain text after",
            content((String = "text/plain"), (String = "text/event-stream"))),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such job (or not this token's)", body = ErrorBody),
    ))]
pub async fn output(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id: JobId = path_id(&id)?;
    let job = visible_job(&state, &caller, id).await?;
    let wants_events = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/event-stream"));
    if job.phase.is_finished() || !wants_events {
        return plain(&state, id).await;
    }
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let sse = Sse::new(tail(state.store.clone(), id, after)).keep_alive(KeepAlive::default());
    let mut response = sse.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// The whole output as text: the output log's chunks in order, else (when the log was cleaned
/// up) the stored stdout.txt then stderr.txt.
async fn plain(state: &HttpState, id: JobId) -> ApiResult<Response> {
    let mut bytes = Vec::new();
    let mut after = None;
    loop {
        let chunks = state.store.read_output(id, after, PAGE).await?;
        let Some(last) = chunks.last() else { break };
        after = Some(last.seq);
        for c in &chunks {
            bytes.extend_from_slice(&c.bytes);
        }
    }
    if after.is_none() {
        let artifacts = state.artifacts.list(id).await?;
        for name in ["stdout.txt", "stderr.txt"] {
            if let Some(meta) = artifacts.iter().find(|a| a.filename == name) {
                bytes.extend(state.artifacts.get(meta.id).await?.content);
            }
        }
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        Body::from(bytes),
    )
        .into_response())
}

/// Where the tail is.
struct Tail {
    store: Arc<dyn Store>,
    job: JobId,
    after: Option<u64>,
    pending: VecDeque<Event>,
    carry: [Vec<u8>; 2],
    finished: bool,
    done: bool,
}

/// The live tail: `output` events as chunks arrive, then `end` once the job has finished and
/// every chunk was sent. A store error ends the stream with an `error` event.
fn tail(
    store: Arc<dyn Store>,
    job: JobId,
    after: Option<u64>,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    let start = Tail {
        store,
        job,
        after,
        pending: VecDeque::new(),
        carry: [Vec::new(), Vec::new()],
        finished: false,
        done: false,
    };
    stream::unfold(start, |mut t| async move {
        loop {
            if let Some(e) = t.pending.pop_front() {
                return Some((Ok(e), t));
            }
            if t.done {
                return None;
            }
            if let Err(e) = step(&mut t).await {
                tracing::warn!(job_id = t.job.get(), "output tail stopped: {e}");
                t.pending.push_back(
                    Event::default()
                        .event("error")
                        .data("the output could not be read; reload to resume"),
                );
                t.done = true;
            }
        }
    })
}

/// One round: new chunks become events; when there are none, look at the job.
async fn step(t: &mut Tail) -> multiflexi_core::Result<()> {
    let chunks = t.store.read_output(t.job, t.after, PAGE).await?;
    if !chunks.is_empty() {
        for c in &chunks {
            t.after = Some(c.seq);
            if let Some(e) = chunk_event(&mut t.carry, c) {
                t.pending.push_back(e);
            }
        }
        return Ok(());
    }
    if t.finished {
        // Every chunk written before the completion has been sent.
        for (i, stream) in [OutStream::Stdout, OutStream::Stderr]
            .into_iter()
            .enumerate()
        {
            if !t.carry[i].is_empty() {
                let text = String::from_utf8_lossy(&std::mem::take(&mut t.carry[i])).into_owned();
                t.pending
                    .push_back(output_event(t.after.unwrap_or(0), stream, text));
            }
        }
        let job = t.store.get_job(t.job).await?;
        let end = EndEvent {
            phase: job.phase.as_str().to_string(),
            status: job.status().to_string(),
            exitcode: job.exitcode,
        };
        t.pending.push_back(
            Event::default()
                .event("end")
                .json_data(&end)
                .unwrap_or_else(|_| Event::default().event("end")),
        );
        t.done = true;
        return Ok(());
    }
    let job = t.store.get_job(t.job).await?;
    if job.phase.is_finished() {
        // Read once more: chunks appended just before the completion.
        t.finished = true;
    } else {
        tokio::time::sleep(POLL).await;
    }
    Ok(())
}

fn output_event(seq: u64, stream: OutStream, text: String) -> Event {
    let data = OutputEvent {
        seq,
        stream: stream.as_str().to_string(),
        text,
    };
    Event::default()
        .event("output")
        .id(seq.to_string())
        .json_data(&data)
        .unwrap_or_else(|_| Event::default().event("output"))
}

/// The event of one chunk, keeping an incomplete UTF-8 sequence at its end for the next chunk of
/// the same stream. `None` when the chunk held only such a fragment.
fn chunk_event(carry: &mut [Vec<u8>; 2], c: &OutputChunk) -> Option<Event> {
    let i = match c.stream {
        OutStream::Stdout => 0,
        OutStream::Stderr => 1,
    };
    let mut buf = std::mem::take(&mut carry[i]);
    buf.extend_from_slice(&c.bytes);
    let split = incomplete_tail(&buf);
    carry[i] = buf.split_off(split);
    if buf.is_empty() {
        return None;
    }
    Some(output_event(
        c.seq,
        c.stream,
        String::from_utf8_lossy(&buf).into_owned(),
    ))
}

/// Where an incomplete UTF-8 sequence at the end of `b` starts (`b.len()` when there is none).
fn incomplete_tail(b: &[u8]) -> usize {
    let n = b.len();
    for back in 1..=3.min(n) {
        let byte = b[n - back];
        if byte & 0b1100_0000 == 0b1000_0000 {
            continue; // a continuation byte: look further back for the lead
        }
        let need = match byte {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => return n,
        };
        return if back < need { n - back } else { n };
    }
    n
}

#[cfg(test)]
mod tests {
    use super::incomplete_tail;

    #[test]
    fn keeps_split_characters_whole() {
        let s = "aé€😀".as_bytes();
        assert_eq!(incomplete_tail(s), s.len());
        // "😀" is 4 bytes: cut after 1, 2 and 3 of them.
        let full = s.len();
        for cut in 1..4 {
            assert_eq!(incomplete_tail(&s[..full - cut]), full - 4);
        }
        assert_eq!(incomplete_tail(b"ab\xff"), 3);
        assert_eq!(incomplete_tail(b""), 0);
    }
}
