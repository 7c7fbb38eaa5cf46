//! Idempotency, cleanup, output, artifacts, case-sensitive names, microseconds, audit, listing.

use super::StoreHarness;
use super::fixtures::*;
use crate::lifecycle::{Outcome, Phase, PhaseAudit};
use crate::model::{App, Company, Credential, Job};
use crate::store::{
    AuditEntry, AuditFilter, Begin, CleanupOptions, CleanupReport, JobFilter, LeaseRef,
    OutputChunk, QueueOverview, Stream,
};
use crate::{Error, JobId, Trigger};
use chrono::{DateTime, Utc};

/// Stores an artifact from bytes under the job's lease.
async fn put(
    h: &StoreHarness,
    job: &Job,
    name: &str,
    content_type: &str,
    bytes: &[u8],
) -> crate::Result<crate::ArtifactId> {
    let mut reader = bytes;
    h.artifacts
        .put(LeaseRef::of(job), name, content_type, &mut reader)
        .await
}

/// A lease of a job that does not exist.
fn ghost() -> LeaseRef {
    LeaseRef {
        job_id: JobId(987_654_321),
        lease_token: 1,
    }
}

/// (actor, at, job, action, detail) of an audit row.
type AuditView = (String, DateTime<Utc>, Option<JobId>, String, String);

fn chunk(job_id: JobId, seq: u64, stream: Stream, bytes: &[u8]) -> OutputChunk {
    OutputChunk {
        job_id,
        seq,
        stream,
        bytes: bytes.to_vec(),
    }
}

/// A second create with the same idempotency key returns the first job (even with other
/// fields); keys are case-sensitive.
pub async fn idempotency_key_returns_first_job(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "idem", |t| t).await;
    let mut new = adhoc(&fx, Trigger::Api, t0);
    new.idempotency_key = Some("req-7f3a".into());
    let first = s.create_and_schedule(&new).await.unwrap();
    assert_eq!(first.idempotency_key.as_deref(), Some("req-7f3a"));
    advance(h, secs(5));
    let mut again = adhoc(&fx, Trigger::Cli, t0 + secs(60));
    again.idempotency_key = Some("req-7f3a".into());
    again.launched_by = Some("mallory".into());
    assert_eq!(s.create_and_schedule(&again).await.unwrap(), first);
    assert_eq!(s.create_and_schedule(&new).await.unwrap(), first);

    // still the same job after it moved on
    let q = claim_one(h, "executor-1").await;
    assert_eq!(s.create_and_schedule(&new).await.unwrap(), q);

    let mut upper = new.clone();
    upper.idempotency_key = Some("REQ-7F3A".into());
    let other = s.create_and_schedule(&upper).await.unwrap();
    assert_ne!(other.id, first.id, "keys are case-sensitive");
    let plain = s
        .create_and_schedule(&adhoc(&fx, Trigger::Api, t0))
        .await
        .unwrap();
    assert_eq!(plain.idempotency_key, None);
    assert_eq!(s.list_jobs(&JobFilter::default()).await.unwrap().len(), 3);
    assert_eq!(
        phase_rows(h, first.id).await.len(),
        2,
        "a replayed create writes no audit row"
    );
}

/// `cleanup` deletes finished jobs that ended strictly before the cutoff (optionally of one
/// company) with their output and artifacts; a dry run only counts.
pub async fn cleanup_by_age_and_dry_run(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let a = seed(h, "clean-a", |t| t).await;
    let b = seed(h, "clean-b", |t| t).await;
    let hour = secs(3600);

    h.clock.set(t0 + hour);
    let r1 = running(h, &adhoc(&a, Trigger::Manual, now(h)), "executor-1").await;
    s.append_output(
        LeaseRef::of(&r1),
        &[
            chunk(r1.id, 1, Stream::Stdout, b"out"),
            chunk(r1.id, 2, Stream::Stderr, b"err"),
        ],
    )
    .await
    .unwrap();
    let j1 = complete(h, &r1, Outcome::Success, 0).await.job;
    let k1 = finished(h, &adhoc(&b, Trigger::Manual, now(h)), Outcome::Success, 0)
        .await
        .job;
    let j1_art = put(h, &j1, "stdout.txt", "text/plain", b"out")
        .await
        .unwrap();

    h.clock.set(t0 + hour * 2);
    let j2 = finished(h, &adhoc(&a, Trigger::Manual, now(h)), Outcome::Failed, 2)
        .await
        .job;
    put(h, &j2, "stdout.txt", "text/plain", b"").await.unwrap();
    put(h, &j2, "stderr.txt", "text/plain", b"boom")
        .await
        .unwrap();
    s.mark_preserved(LeaseRef::of(&j2)).await.unwrap();

    h.clock.set(t0 + hour * 3);
    let j3 = finished(h, &adhoc(&a, Trigger::Manual, now(h)), Outcome::Success, 0)
        .await
        .job;
    let j4 = running(h, &adhoc(&a, Trigger::Manual, now(h)), "executor-1").await;
    let j5 = s
        .create_and_schedule(&adhoc(&a, Trigger::Manual, t0 + hour * 100))
        .await
        .unwrap();
    h.clock.set(t0 + hour * 200);
    let cutoff = t0 + hour * 3; // j3 ended exactly at the cutoff: kept

    let mut opts = CleanupOptions::before(cutoff);
    opts.company_id = Some(a.company.id);
    opts.dry_run = true;
    let want = CleanupReport {
        jobs: 2,
        artifacts: 3,
        output_chunks: 2,
    };
    assert_eq!(
        s.cleanup(&opts).await.unwrap(),
        want,
        "dry run, one company"
    );
    let mut all = opts.clone();
    all.company_id = None;
    assert_eq!(
        s.cleanup(&all).await.unwrap(),
        CleanupReport { jobs: 3, ..want },
        "dry run, all companies"
    );
    assert_eq!(
        s.list_jobs(&JobFilter::default()).await.unwrap().len(),
        6,
        "dry run deletes nothing"
    );
    assert_eq!(h.artifacts.list(j1.id).await.unwrap().len(), 1);

    opts.dry_run = false;
    assert_eq!(s.cleanup(&opts).await.unwrap(), want);
    for gone in [j1.id, j2.id] {
        expect_err(s.get_job(gone).await, "NotFound", "a cleaned-up job");
        match s.read_output(gone, None, 100).await {
            Ok(chunks) => assert!(chunks.is_empty(), "output of a cleaned-up job"),
            Err(e) => assert!(matches!(e, Error::NotFound { .. }), "{e}"),
        }
    }
    expect_err(
        h.artifacts.get(j1_art).await,
        "NotFound",
        "a cleaned-up artifact",
    );
    for kept in [k1.id, j3.id, j4.id, j5.id] {
        s.get_job(kept).await.unwrap();
    }
    assert_eq!(
        s.cleanup(&opts).await.unwrap(),
        CleanupReport::default(),
        "nothing left"
    );

    all.dry_run = false;
    all.ended_before = cutoff + micros(1);
    assert_eq!(
        s.cleanup(&all).await.unwrap(),
        CleanupReport {
            jobs: 2,
            artifacts: 0,
            output_chunks: 0
        }
    );
    let left: Vec<JobId> = s
        .list_jobs(&JobFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(
        left,
        vec![j5.id, j4.id],
        "unfinished jobs are never cleaned up"
    );
    assert_eq!(counters(h, &a).await, (2, 1), "counters are history: kept");
}

/// Output chunks come back in `seq` order whatever order they were appended in, paged with
/// `after_seq` and `limit`; a taken seq fails the whole batch with AlreadyExists.
pub async fn output_chunks_in_seq_order_with_paging(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "output", |t| t).await;
    let j = running(h, &adhoc(&fx, Trigger::Manual, t0), "executor-1").await;
    let k = running(h, &adhoc(&fx, Trigger::Manual, t0), "executor-1").await;
    let (lj, lk) = (LeaseRef::of(&j), LeaseRef::of(&k));
    s.append_output(
        lj,
        &[
            chunk(j.id, 3, Stream::Stderr, b"three\n"),
            chunk(j.id, 1, Stream::Stdout, b"one\n"),
        ],
    )
    .await
    .unwrap();
    s.append_output(lk, &[chunk(k.id, 1, Stream::Stdout, b"other job")])
        .await
        .unwrap();
    s.append_output(
        lj,
        &[
            chunk(j.id, 2, Stream::Stdout, b"two\n"),
            chunk(j.id, 1_000_000, Stream::Stdout, b"last\n"),
        ],
    )
    .await
    .unwrap();
    s.append_output(lj, &[]).await.unwrap();
    let all = vec![
        chunk(j.id, 1, Stream::Stdout, b"one\n"),
        chunk(j.id, 2, Stream::Stdout, b"two\n"),
        chunk(j.id, 3, Stream::Stderr, b"three\n"),
        chunk(j.id, 1_000_000, Stream::Stdout, b"last\n"),
    ];
    assert_eq!(s.read_output(j.id, None, 100).await.unwrap(), all);
    assert_eq!(
        s.read_output(j.id, None, 2).await.unwrap(),
        all[..2].to_vec()
    );
    assert_eq!(
        s.read_output(j.id, Some(1), 2).await.unwrap(),
        all[1..3].to_vec()
    );
    assert_eq!(
        s.read_output(j.id, Some(3), 10).await.unwrap(),
        all[3..].to_vec()
    );
    assert_eq!(
        s.read_output(j.id, Some(2), 10).await.unwrap(),
        all[2..].to_vec()
    );
    assert!(
        s.read_output(j.id, Some(1_000_000), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.read_output(j.id, None, 0).await.unwrap().is_empty());
    assert_eq!(
        s.read_output(k.id, None, 10).await.unwrap(),
        vec![chunk(k.id, 1, Stream::Stdout, b"other job")]
    );

    expect_err(
        s.append_output(
            lj,
            &[
                chunk(j.id, 4, Stream::Stdout, b"new"),
                chunk(j.id, 2, Stream::Stdout, b"dup"),
            ],
        )
        .await,
        "AlreadyExists",
        "a seq that is taken",
    );
    expect_err(
        s.append_output(
            lj,
            &[
                chunk(j.id, 5, Stream::Stdout, b"a"),
                chunk(j.id, 5, Stream::Stderr, b"b"),
            ],
        )
        .await,
        "AlreadyExists",
        "the same seq twice in one batch",
    );
    assert_eq!(
        s.read_output(j.id, None, 100).await.unwrap(),
        all,
        "a failed batch stores nothing"
    );
    expect_err(
        s.append_output(ghost(), &[chunk(ghost().job_id, 1, Stream::Stdout, b"x")])
            .await,
        "NotFound",
        "output of an unknown job",
    );
}

/// NUL bytes and invalid UTF-8 survive byte-exact in output chunks and artifacts; an artifact
/// over 64 KiB too.
pub async fn binary_output_and_artifacts_byte_exact(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "binary", |t| t).await;
    let r = running(h, &adhoc(&fx, Trigger::Manual, t0), "executor-1").await;
    let raw: &[u8] = b"\x00bin\xffary\x80\xfe\r\n\x00\xc3\x28 end";
    s.append_output(
        LeaseRef::of(&r),
        &[
            chunk(r.id, 1, Stream::Stdout, raw),
            chunk(r.id, 2, Stream::Stderr, b"\xe9\x00"),
            chunk(r.id, 3, Stream::Stdout, b""),
        ],
    )
    .await
    .unwrap();
    let j = complete(h, &r, Outcome::Success, 0).await.job;
    let back = s.read_output(j.id, None, 10).await.unwrap();
    assert_eq!(back[0].bytes, raw);
    assert_eq!(back[1].bytes, b"\xe9\x00");
    assert_eq!(back[2].bytes, b"");

    let big: Vec<u8> = (0..70 * 1024 + 3).map(|i| (i * 7 % 256) as u8).collect();
    let at = advance(h, micros(42));
    let id = put(h, &j, "data.bin", "application/octet-stream", &big)
        .await
        .unwrap();
    let a = h.artifacts.get(id).await.unwrap();
    assert_eq!(a.content.len(), big.len());
    assert!(a.content == big, "a 70 KiB artifact comes back byte-exact");
    assert_eq!(a.meta.id, id);
    assert_eq!(a.meta.job_id, j.id);
    assert_eq!(a.meta.filename, "data.bin");
    assert_eq!(a.meta.content_type, "application/octet-stream");
    assert_eq!(a.meta.size, big.len() as u64);
    assert_eq!(a.meta.note, None);
    assert_eq!(a.meta.created, at);

    let text: &[u8] = b"caf\xe9 \x00 ok\n";
    let out = put(h, &j, "stdout.txt", "text/plain", text).await.unwrap();
    assert_eq!(h.artifacts.get(out).await.unwrap().content, text);
    let empty = put(h, &j, "stderr.txt", "text/plain", b"").await.unwrap();
    let e = h.artifacts.get(empty).await.unwrap();
    assert_eq!((e.content.len(), e.meta.size), (0, 0));
    let metas = h.artifacts.list(j.id).await.unwrap();
    assert_eq!(
        metas
            .iter()
            .map(|m| (m.filename.as_str(), m.size))
            .collect::<Vec<_>>(),
        vec![
            ("data.bin", big.len() as u64),
            ("stdout.txt", text.len() as u64),
            ("stderr.txt", 0)
        ]
    );
}

/// `put` is idempotent per (job, name): the same id, the content replaced; other jobs and other
/// names get their own artifacts.
pub async fn artifact_put_idempotent_per_job_and_name(h: &StoreHarness) {
    let t0 = start(h);
    let fx = seed(h, "artifacts", |t| t).await;
    let j = finished(h, &adhoc(&fx, Trigger::Manual, t0), Outcome::Success, 0)
        .await
        .job;
    let k = finished(h, &adhoc(&fx, Trigger::Manual, t0), Outcome::Success, 0)
        .await
        .job;
    let first_at = advance(h, secs(1));
    let a = put(h, &j, "stdout.txt", "text/plain", b"first")
        .await
        .unwrap();
    advance(h, secs(1));
    let again = put(
        h,
        &j,
        "stdout.txt",
        "text/plain; charset=utf-8",
        b"second, longer",
    )
    .await
    .unwrap();
    assert_eq!(again, a, "same (job, name), same id");
    let got = h.artifacts.get(a).await.unwrap();
    assert_eq!(got.content, b"second, longer");
    assert_eq!(got.meta.size, 14);
    assert_eq!(got.meta.content_type, "text/plain; charset=utf-8");
    assert_eq!(
        got.meta.created, first_at,
        "created stays the first put's time"
    );
    assert_eq!(
        h.artifacts.list(j.id).await.unwrap(),
        vec![got.meta.clone()]
    );

    let other_job = put(h, &k, "stdout.txt", "text/plain", b"k").await.unwrap();
    let other_name = put(h, &j, "stderr.txt", "text/plain", b"e").await.unwrap();
    let nested = put(h, &j, "out/report.json", "application/json", b"{}")
        .await
        .unwrap();
    assert!(other_job != a && other_name != a && nested != a && other_name != nested);
    assert_eq!(
        h.artifacts
            .list(j.id)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect::<Vec<_>>(),
        vec![a, other_name, nested]
    );
    assert_eq!(h.artifacts.get(other_job).await.unwrap().content, b"k");
    expect_err(
        h.artifacts
            .put(ghost(), "stdout.txt", "text/plain", &mut &b"x"[..])
            .await,
        "NotFound",
        "artifact of an unknown job",
    );
    expect_err(
        put(h, &j, "../escape.txt", "text/plain", b"x").await,
        "InvalidInput",
        "an unsanitised name",
    );
    expect_err(
        h.artifacts.get(crate::ArtifactId(987_654_321)).await,
        "NotFound",
        "unknown artifact",
    );
}

/// Names that differ only in case are different: apps, companies, credentials, artifacts,
/// idempotency keys, environment variables.
pub async fn names_differing_only_in_case_are_distinct(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let upper = s.put_app(&App::new("Foo", "/bin/foo")).await.unwrap();
    let lower = s.put_app(&App::new("foo", "/bin/foo2")).await.unwrap();
    assert_ne!(upper.id, lower.id, "apps Foo and foo");
    let upper2 = s.put_app(&App::new("Foo", "/bin/foo3")).await.unwrap();
    assert_eq!(upper2.id, upper.id, "put_app matches Foo by its exact name");
    assert_eq!(s.get_app(lower.id).await.unwrap().executable, "/bin/foo2");
    assert_eq!(s.get_app(upper.id).await.unwrap().executable, "/bin/foo3");
    assert_eq!(s.list_apps().await.unwrap().len(), 2);

    let mut acme = Company::new("Acme");
    acme.slug = "acme-a".into();
    acme.environment.set("Path", "mixed").set("PATH", "upper");
    let mut acme_lower = Company::new("acme");
    acme_lower.slug = "acme-b".into();
    let acme = s.create_company(&acme).await.unwrap();
    let acme_lower = s.create_company(&acme_lower).await.unwrap();
    assert_ne!(acme.id, acme_lower.id, "companies Acme and acme");
    let env = s.get_company(acme.id).await.unwrap().environment;
    assert_eq!(
        (env.get("Path"), env.get("PATH"), env.len()),
        (Some("mixed"), Some("upper"), 2)
    );
    let mut dup = Company::new("Acme");
    dup.slug = "acme-c".into();
    expect_err(
        s.create_company(&dup).await,
        "AlreadyExists",
        "the same name twice",
    );
    let mut dup_slug = Company::new("ACME");
    dup_slug.slug = "acme-a".into();
    expect_err(
        s.create_company(&dup_slug).await,
        "AlreadyExists",
        "the same slug twice",
    );
    let mut slug_case = Company::new("Acme Upper Slug");
    slug_case.slug = "ACME-A".into();
    s.create_company(&slug_case).await.unwrap();

    let bank = s
        .create_credential(&Credential::new(acme.id, "Bank", "RaiffeisenBank"))
        .await
        .unwrap();
    let bank_lower = s
        .create_credential(&Credential::new(acme.id, "bank", "RaiffeisenBank"))
        .await
        .unwrap();
    assert_ne!(bank.id, bank_lower.id);
    expect_err(
        s.create_credential(&Credential::new(acme.id, "Bank", "Other"))
            .await,
        "AlreadyExists",
        "the same credential name twice in one company",
    );
    s.create_credential(&Credential::new(acme_lower.id, "Bank", "RaiffeisenBank"))
        .await
        .unwrap();

    let fx = seed(h, "case", |t| t).await;
    let j = finished(h, &adhoc(&fx, Trigger::Manual, t0), Outcome::Success, 0)
        .await
        .job;
    let r1 = put(h, &j, "Report.txt", "text/plain", b"upper")
        .await
        .unwrap();
    let r2 = put(h, &j, "report.txt", "text/plain", b"lower")
        .await
        .unwrap();
    assert_ne!(r1, r2, "artifacts Report.txt and report.txt");
    assert_eq!(h.artifacts.get(r1).await.unwrap().content, b"upper");
    assert_eq!(h.artifacts.get(r2).await.unwrap().content, b"lower");
}

/// Timestamps keep microseconds on every backend: jobs created 1 µs apart keep their exact
/// values and order; sub-microsecond input is truncated.
pub async fn timestamps_keep_microseconds(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "micros", |t| t).await;
    let t = t0 + micros(123_456);
    h.clock.set(t);
    let mut jobs = Vec::new();
    for i in 0..3i64 {
        // afters 2, 1, 0 µs after t (plus nanoseconds the store drops)
        let after = t + micros(2 - i) + chrono::Duration::nanoseconds(999);
        let j = s
            .create_and_schedule(&adhoc(&fx, Trigger::Manual, after))
            .await
            .unwrap();
        assert_eq!(j.created, t + micros(i));
        assert_eq!(
            j.after,
            t + micros(2 - i),
            "after truncated to microseconds"
        );
        assert_eq!(s.get_job(j.id).await.unwrap(), j);
        jobs.push(j);
        advance(h, micros(1));
    }
    let listed: Vec<(JobId, DateTime<Utc>)> = s
        .list_jobs(&JobFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|j| (j.id, j.created))
        .collect();
    assert_eq!(
        listed,
        jobs.iter()
            .rev()
            .map(|j| (j.id, j.created))
            .collect::<Vec<_>>()
    );
    let since = JobFilter {
        since: Some(t + micros(1)),
        ..JobFilter::default()
    };
    assert_eq!(
        s.list_jobs(&since)
            .await
            .unwrap()
            .into_iter()
            .map(|j| j.id)
            .collect::<Vec<_>>(),
        vec![jobs[2].id, jobs[1].id]
    );

    // claimed by `after`, 1 µs apart
    let claim_at = now(h);
    let claimed = s.claim(&native("executor-1", 10)).await.unwrap();
    assert_eq!(
        claimed.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![jobs[2].id, jobs[1].id, jobs[0].id]
    );
    assert!(
        claimed
            .iter()
            .all(|j| j.queued == Some(claim_at) && j.lease_expires == Some(claim_at + secs(30)))
    );
    let began = advance(h, micros(1));
    let r = begin(h, &claimed[0]).await;
    assert_eq!(r.begin, Some(began));
    let ended = advance(h, micros(1));
    let c = complete(h, &r, Outcome::Success, 0).await.job;
    assert_eq!(c.end, Some(ended));
    assert_eq!(c.duration(), Some(micros(1)));
    let rows = phase_rows(h, r.id).await;
    assert_eq!(
        rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        vec![t + micros(2), claim_at, began, ended]
    );

    // template schedule fields too
    let next = t0 + secs(60) + micros(1) + chrono::Duration::nanoseconds(500);
    assert!(
        s.set_next_schedule(fx.template.id, None, Some(next))
            .await
            .unwrap()
    );
    let stored = template(h, &fx).await.next_schedule;
    assert_eq!(stored, Some(t0 + secs(60) + micros(1)));
    assert!(
        s.set_next_schedule(fx.template.id, stored, None)
            .await
            .unwrap()
    );
}

/// One `phase:<phase>` audit row per transition, in order, with the actor and the store's time;
/// re-queue, loss and cancel included; the claim and start texts are `PhaseAudit`'s on every
/// backend (PostgreSQL formats them in its set-wise statements).
pub async fn audit_one_row_per_transition_in_order(h: &StoreHarness) {
    /// The details of a job's `phase:queued` and `phase:running` rows, oldest first.
    async fn claim_and_start_details(h: &StoreHarness, job: JobId) -> Vec<String> {
        let rows = h.store.list_audit(&AuditFilter::job(job)).await.unwrap();
        rows.into_iter()
            .filter(|e| e.action == "phase:queued" || e.action == "phase:running")
            .map(|e| e.detail)
            .collect()
    }
    fn queued_detail(claimed: &Job) -> String {
        PhaseAudit::Queued {
            lease_token: claimed.lease_token,
            expires: claimed.lease_expires.expect("a claimed job has a lease"),
        }
        .detail()
    }
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(
        h,
        "audit",
        with_retry(crate::lifecycle::RetryPolicy::new(1, 0)),
    )
    .await;
    let row = |a: &str, who: &str, at: DateTime<Utc>| (format!("phase:{a}"), who.to_string(), at);

    // the straight line
    let created = advance(h, micros(1));
    let j = s
        .create_and_schedule(&adhoc(&fx, Trigger::Manual, t0))
        .await
        .unwrap();
    let queued = advance(h, micros(10));
    let q = claim_one(h, "executor-1").await;
    let began = advance(h, micros(10));
    let r = begin(h, &q).await;
    let ended = advance(h, micros(10));
    complete(h, &r, Outcome::Success, 0).await;
    let preserved = advance(h, micros(10));
    s.mark_preserved(LeaseRef::of(&r)).await.unwrap();
    assert_eq!(
        phase_rows(h, j.id).await,
        vec![
            row("scheduled", "alice", created),
            row("queued", "executor-1", queued),
            row("running", "executor-1", began),
            row("completed", "executor-1", ended),
            row("preserved", "executor-1", preserved),
        ]
    );
    let all = s.list_audit(&AuditFilter::job(j.id)).await.unwrap();
    assert!(all.iter().all(|e| e.job_id == Some(j.id)));
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "ids increase");
    assert_eq!(
        claim_and_start_details(h, j.id).await,
        [
            queued_detail(&q),
            PhaseAudit::Running {
                pid: None,
                external_id: None
            }
            .detail()
        ],
        "one text per phase (PhaseAudit), whoever formats it"
    );

    // re-queue, then lost, then the retry
    let c2 = advance(h, secs(1));
    let mut new = adhoc(&fx, Trigger::Api, c2);
    new.launched_by = None;
    let j2 = s.create_and_schedule(&new).await.unwrap();
    let q1 = advance(h, micros(1));
    let first = claim_one(h, "executor-1").await;
    let requeued = advance(h, secs(30));
    s.recover_expired().await.unwrap();
    let q2 = advance(h, micros(1));
    let q = claim_one(h, "executor-2").await;
    let b2 = advance(h, micros(1));
    s.begin_many(&[Begin::new(
        LeaseRef::of(&q),
        Some(4242),
        Some("pod-7".into()),
    )])
    .await
    .unwrap()
    .remove(0)
    .unwrap();
    assert_eq!(
        claim_and_start_details(h, j2.id).await,
        [
            queued_detail(&first),
            queued_detail(&q),
            "pid=4242 external_id=pod-7".to_string()
        ]
    );
    let lost = advance(h, secs(30));
    let rec = s.recover_expired().await.unwrap();
    assert_eq!(
        phase_rows(h, j2.id).await,
        vec![
            row("scheduled", "scheduler", c2),
            row("queued", "executor-1", q1),
            row("scheduled", "scheduler", requeued),
            row("queued", "executor-2", q2),
            row("running", "executor-2", b2),
            row("completed", "scheduler", lost),
        ]
    );
    let retry = rec.retries[0].id;
    assert_eq!(
        phase_rows(h, retry).await,
        vec![row("scheduled", "scheduler", lost)]
    );

    // an operator's cancel of the scheduled retry
    let cancelled = advance(h, micros(3));
    s.request_cancel(retry, "bob").await.unwrap();
    assert_eq!(
        phase_rows(h, retry).await,
        vec![
            row("scheduled", "scheduler", lost),
            row("completed", "bob", cancelled)
        ]
    );
    // all rows, oldest first
    let every = s.list_audit(&AuditFilter::default()).await.unwrap();
    assert!(
        every
            .windows(2)
            .all(|w| (w[0].at, w[0].id) < (w[1].at, w[1].id))
    );
    assert_eq!(
        every
            .iter()
            .filter(|e| e.action.starts_with("phase:"))
            .count(),
        5 + 6 + 2
    );
}

/// `append_audit` assigns ids (and the store's time when `at` is left at the epoch);
/// `list_audit` filters by job, `since` (inclusive) and `limit`, oldest first.
pub async fn audit_append_and_filter(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "auditlog", |t| t).await;
    let j = s
        .create_and_schedule(&adhoc(&fx, Trigger::Manual, t0 + secs(3600)))
        .await
        .unwrap();
    // whatever rows the backend wrote so far (at least the job's creation)
    let base = s.list_audit(&AuditFilter::default()).await.unwrap();
    assert!(base.iter().any(|e| e.action == "phase:scheduled"));

    let at1 = advance(h, micros(5));
    s.append_audit(&AuditEntry::new(
        None,
        "admin",
        "app:import",
        "imported 3 apps",
    ))
    .await
    .unwrap();
    let mut old = AuditEntry::new(Some(j.id), "cli", "job:note", "back-dated");
    old.at = t0 - secs(3600) + chrono::Duration::nanoseconds(1500);
    s.append_audit(&old).await.unwrap();
    let at3 = advance(h, micros(5));
    s.append_audit(&AuditEntry::new(Some(j.id), "bob", "job:cancel", "no"))
        .await
        .unwrap();

    let all = s.list_audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(all.len(), base.len() + 3);
    assert!(
        all.windows(2)
            .all(|w| (w[0].at, w[0].id) < (w[1].at, w[1].id)),
        "oldest first"
    );
    let added: Vec<AuditView> = all
        .iter()
        .filter(|e| !base.iter().any(|b| b.id == e.id))
        .map(|e| {
            (
                e.actor.clone(),
                e.at,
                e.job_id,
                e.action.clone(),
                e.detail.clone(),
            )
        })
        .collect();
    assert_eq!(
        added,
        vec![
            (
                "cli".into(),
                t0 - secs(3600) + micros(1),
                Some(j.id),
                "job:note".into(),
                "back-dated".into()
            ),
            (
                "admin".into(),
                at1,
                None,
                "app:import".into(),
                "imported 3 apps".into()
            ),
            (
                "bob".into(),
                at3,
                Some(j.id),
                "job:cancel".into(),
                "no".into()
            ),
        ],
        "an explicit time is kept (truncated to µs); the epoch means the store's now"
    );
    assert_eq!(all[0].action, "job:note", "the back-dated row sorts first");
    let mut ids: Vec<i64> = all.iter().map(|e| e.id).collect();
    assert!(ids.iter().all(|id| *id > 0));
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "ids are assigned and distinct");

    let of_job = s.list_audit(&AuditFilter::job(j.id)).await.unwrap();
    assert_eq!(
        of_job.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        vec!["job:note", "phase:scheduled", "job:cancel"]
    );
    let since = AuditFilter {
        since: Some(at1),
        ..AuditFilter::default()
    };
    assert_eq!(
        s.list_audit(&since)
            .await
            .unwrap()
            .iter()
            .map(|e| e.at)
            .collect::<Vec<_>>(),
        vec![at1, at3]
    );
    let limited = AuditFilter {
        limit: Some(2),
        ..AuditFilter::default()
    };
    assert_eq!(s.list_audit(&limited).await.unwrap(), all[..2].to_vec());
}

/// `list_jobs`: newest first, filtered by status word, template, company and creation time,
/// paged with `before_id` and `limit`.
pub async fn list_jobs_filters_and_pages(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let a = seed(h, "list-a", |t| t).await;
    let b = seed(h, "list-b", |t| t).await;
    let a1 = finished(h, &adhoc(&a, Trigger::Manual, t0), Outcome::Success, 0)
        .await
        .job;
    advance(h, secs(1));
    let a2 = finished(h, &adhoc(&a, Trigger::Manual, now(h)), Outcome::Failed, 2)
        .await
        .job;
    advance(h, secs(1));
    let a3 = running(h, &adhoc(&a, Trigger::Manual, now(h)), "executor-1").await;
    advance(h, secs(1));
    let b1 = s
        .create_and_schedule(&adhoc(&b, Trigger::Api, t0 + secs(7200)))
        .await
        .unwrap();
    advance(h, secs(1));
    let a4 = s
        .create_and_schedule(&adhoc(&a, Trigger::Cli, t0 + secs(7200)))
        .await
        .unwrap();
    let ids = |v: Vec<crate::model::Job>| v.into_iter().map(|j| j.id).collect::<Vec<_>>();
    let list = |f: JobFilter| async move { ids(s.list_jobs(&f).await.unwrap()) };

    assert_eq!(
        list(JobFilter::default()).await,
        vec![a4.id, b1.id, a3.id, a2.id, a1.id]
    );
    let status = |w: &str| JobFilter {
        status: Some(w.into()),
        ..JobFilter::default()
    };
    assert_eq!(list(status("success")).await, vec![a1.id]);
    assert_eq!(list(status("failed")).await, vec![a2.id]);
    assert_eq!(list(status("running")).await, vec![a3.id]);
    assert_eq!(list(status("scheduled")).await, vec![a4.id, b1.id]);
    assert!(list(status("queued")).await.is_empty());
    assert_eq!(
        list(JobFilter {
            runtemplate_id: Some(b.template.id),
            ..JobFilter::default()
        })
        .await,
        vec![b1.id]
    );
    assert_eq!(
        list(JobFilter {
            company_id: Some(a.company.id),
            ..JobFilter::default()
        })
        .await,
        vec![a4.id, a3.id, a2.id, a1.id]
    );
    assert_eq!(
        list(JobFilter {
            since: Some(a3.created),
            ..JobFilter::default()
        })
        .await,
        vec![a4.id, b1.id, a3.id]
    );
    let page1 = list(JobFilter {
        limit: Some(2),
        ..JobFilter::default()
    })
    .await;
    assert_eq!(page1, vec![a4.id, b1.id]);
    let page2 = list(JobFilter {
        limit: Some(2),
        before_id: Some(page1[1]),
        ..JobFilter::default()
    })
    .await;
    assert_eq!(page2, vec![a3.id, a2.id]);
    let page3 = list(JobFilter {
        limit: Some(2),
        before_id: Some(page2[1]),
        ..JobFilter::default()
    })
    .await;
    assert_eq!(page3, vec![a1.id]);
    assert_eq!(
        list(JobFilter {
            company_id: Some(a.company.id),
            status: Some("scheduled".into()),
            ..JobFilter::default()
        })
        .await,
        vec![a4.id]
    );
}

/// `queue_overview` counts jobs by phase, Scheduled split into due and waiting by the clock.
pub async fn queue_overview_counts_phases(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "overview", |t| t).await;
    assert_eq!(s.queue_overview().await.unwrap(), QueueOverview::default());
    let done = finished(h, &adhoc(&fx, Trigger::Manual, t0), Outcome::Success, 0)
        .await
        .job;
    let kept = finished(h, &adhoc(&fx, Trigger::Manual, t0), Outcome::Failed, 1)
        .await
        .job;
    s.mark_preserved(LeaseRef::of(&done)).await.unwrap();
    running(h, &adhoc(&fx, Trigger::Manual, t0), "executor-1").await;
    s.create_and_schedule(&adhoc(&fx, Trigger::Manual, t0))
        .await
        .unwrap();
    claim_one(h, "executor-1").await;
    for _ in 0..2 {
        s.create_and_schedule(&adhoc(&fx, Trigger::Manual, t0))
            .await
            .unwrap();
    }
    s.create_and_schedule(&adhoc(&fx, Trigger::Manual, t0 + secs(1)))
        .await
        .unwrap();
    assert_eq!(
        s.queue_overview().await.unwrap(),
        QueueOverview {
            due: 2,
            waiting: 1,
            queued: 1,
            running: 1,
            completed: 1,
            preserved: 1,
        }
    );
    advance(h, secs(1));
    let o = s.queue_overview().await.unwrap();
    assert_eq!((o.due, o.waiting), (3, 0));
    assert_eq!(s.get_job(kept.id).await.unwrap().phase, Phase::Completed);
}
