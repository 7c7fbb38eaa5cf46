//! Output chunks and artifacts are fenced by the lease that writes them.

use super::StoreHarness;
use super::fixtures::*;
use crate::lifecycle::{Outcome, RetryPolicy};
use crate::model::Job;
use crate::store::{LeaseRef, OutputChunk, Stream};
use crate::{ArtifactId, Result, Trigger};

fn chunk(job: &Job, seq: u64, bytes: &[u8]) -> OutputChunk {
    OutputChunk {
        job_id: job.id,
        seq,
        stream: Stream::Stdout,
        bytes: bytes.to_vec(),
    }
}

async fn put(h: &StoreHarness, lease: LeaseRef, name: &str, bytes: &[u8]) -> Result<ArtifactId> {
    let mut reader = bytes;
    h.artifacts
        .put(lease, name, "text/plain", &mut reader)
        .await
}

/// A lease with another token.
fn stale(job: &Job, token: i64) -> LeaseRef {
    LeaseRef {
        job_id: job.id,
        lease_token: token,
    }
}

/// Output is accepted from the lease holder while the job is Queued or Running, and refused
/// (Conflict, nothing stored) for a stale token — the holder an expired lease was taken from —
/// and once the job completed; a chunk of another job is InvalidInput.
pub async fn output_is_fenced_by_the_lease(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "fenced-output", |t| t).await;
    let other = running(h, &adhoc(&fx, Trigger::Manual, t0), "executor-b").await;
    s.create_and_schedule(&adhoc(&fx, Trigger::Manual, t0))
        .await
        .unwrap();
    let first = claim_one(h, "executor-a").await;
    let old = LeaseRef::of(&first);
    s.append_output(old, &[chunk(&first, 1, b"queued\n")])
        .await
        .expect("a Queued job takes output");

    // The lease expires before the job started; another executor claims it (token 2).
    advance(h, secs(30));
    s.recover_expired().await.unwrap();
    let second = claim_one(h, "executor-c").await;
    assert_eq!((second.id, second.lease_token), (first.id, 2));
    let new = LeaseRef::of(&second);
    expect_err(
        s.append_output(old, &[chunk(&first, 2, b"from the old holder")])
            .await,
        "Conflict",
        "output under a lease that was taken over",
    );
    let r = begin(h, &second).await;
    s.append_output(new, &[chunk(&r, 2, b"running\n")])
        .await
        .expect("the new holder writes");
    expect_err(
        s.append_output(new, &[chunk(&r, 3, b"mine"), chunk(&other, 3, b"not mine")])
            .await,
        "InvalidInput",
        "a chunk of another job",
    );
    expect_err(
        s.append_output(stale(&r, 7), &[chunk(&r, 3, b"future token")])
            .await,
        "Conflict",
        "a token the job never had",
    );
    assert_eq!(
        s.read_output(r.id, None, 10)
            .await
            .unwrap()
            .iter()
            .map(|c| c.bytes.as_slice())
            .collect::<Vec<_>>(),
        vec![&b"queued\n"[..], b"running\n"],
        "refused batches stored nothing"
    );
    assert!(s.read_output(other.id, None, 10).await.unwrap().is_empty());

    let done = complete(h, &r, Outcome::Success, 0).await.job;
    expect_err(
        s.append_output(new, &[chunk(&done, 3, b"late")]).await,
        "Conflict",
        "output after the completion",
    );
    s.append_output(old, &[])
        .await
        .expect("an empty batch writes nothing");
}

/// Artifacts are accepted from the lease holder while the job is Queued or Running and after
/// the holder completed it (stdout.txt / stderr.txt are stored after the completion); refused
/// (Conflict) for a stale token, for a job recovery closed as `lost`, and once Preserved.
pub async fn artifacts_are_fenced_by_the_lease(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "fenced-artifacts", with_retry(RetryPolicy::new(1, 0))).await;

    let q = {
        s.create_and_schedule(&adhoc(&fx, Trigger::Manual, t0))
            .await
            .unwrap();
        claim_one(h, "executor-a").await
    };
    put(h, LeaseRef::of(&q), "early.txt", b"queued")
        .await
        .expect("a Queued job takes artifacts");
    let r = begin(h, &q).await;
    put(h, LeaseRef::of(&r), "result.json", b"{}")
        .await
        .expect("a Running job takes artifacts");
    expect_err(
        put(h, stale(&r, 0), "result.json", b"stale").await,
        "Conflict",
        "an artifact under a stale token",
    );
    let done = complete(h, &r, Outcome::Failed, 3).await.job;
    put(h, LeaseRef::of(&done), "stdout.txt", b"out")
        .await
        .expect("the holder stores stdout.txt after its completion");
    s.mark_preserved(LeaseRef::of(&done)).await.unwrap();
    expect_err(
        put(h, LeaseRef::of(&done), "late.txt", b"late").await,
        "Conflict",
        "an artifact of a Preserved job",
    );
    let names: Vec<String> = h
        .artifacts
        .list(done.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.filename)
        .collect();
    assert_eq!(names, ["early.txt", "result.json", "stdout.txt"]);

    // A Running job whose holder vanished is closed as `lost` by recovery: its old holder
    // attaches nothing to it afterwards.
    let gone = running(h, &adhoc(&fx, Trigger::Manual, now(h)), "executor-b").await;
    advance(h, secs(30));
    let rec = s.recover_expired().await.unwrap();
    assert_eq!(rec.lost.len(), 1);
    expect_err(
        put(h, LeaseRef::of(&gone), "stdout.txt", b"too late").await,
        "Conflict",
        "an artifact of a job recovery closed as lost",
    );
    expect_err(
        s.append_output(LeaseRef::of(&gone), &[chunk(&gone, 1, b"too late")])
            .await,
        "Conflict",
        "output of a lost job",
    );
    assert!(h.artifacts.list(gone.id).await.unwrap().is_empty());
}

/// A limit tighter than the sink's cap (the engine's per-job result-file limit) keeps at most
/// that many bytes, and the artifact's note says it was cut and why; content within the limit
/// is stored whole, without a note.
pub async fn limited_put_cuts_with_a_note(h: &StoreHarness) {
    let t0 = start(h);
    let fx = seed(h, "limited-put", |t| t).await;
    let job = running(h, &adhoc(&fx, Trigger::Manual, t0), "executor-a").await;
    let lease = LeaseRef::of(&job);
    let limit = crate::artifact::ArtifactLimit {
        bytes: 4,
        why: "the job's result files reached their limit".into(),
    };
    let mut long: &[u8] = b"0123456789";
    let cut = h
        .artifacts
        .put_limited(lease, "cut.txt", "text/plain", &mut long, Some(&limit))
        .await
        .unwrap();
    let mut short: &[u8] = b"012";
    let whole = h
        .artifacts
        .put_limited(lease, "whole.txt", "text/plain", &mut short, Some(&limit))
        .await
        .unwrap();
    let cut = h.artifacts.get(cut).await.unwrap();
    assert_eq!(cut.content, b"0123");
    let note = cut.meta.note.expect("a note on the cut artifact");
    assert!(
        note.contains("10 bytes") && note.contains("result files reached their limit"),
        "{note}"
    );
    let whole = h.artifacts.get(whole).await.unwrap();
    assert_eq!(whole.content, b"012");
    assert_eq!(whole.meta.note, None);
}
