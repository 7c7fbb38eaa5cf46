//! The straight line through every phase, illegal transitions and fencing.

use super::StoreHarness;
use super::fixtures::*;
use crate::lifecycle::{Outcome, Phase};
use crate::model::{ExecutorKind, ResourceUsage};
use crate::store::{Begin, ClaimOptions, Completed, Completion, Finish, HeartbeatStatus, LeaseRef};
use crate::{JobId, Trigger};
use std::time::Duration as StdDuration;

/// Created → Scheduled → Queued → Running → Completed → Preserved, with every persisted field of
/// the job (and the template's schedule fields and counters) checked after each step, both in
/// what the call returns and in what `get_job` reads back.
pub async fn lifecycle_every_field(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "lifecycle", |t| t).await;
    let slot = t0 + secs(60);
    assert!(
        s.set_next_schedule(fx.template.id, None, Some(slot))
            .await
            .unwrap()
    );

    // Scheduled (created in the same step)
    let created = advance(h, secs(60) + micros(250));
    let mut new = slotted(&fx, slot, Some(cas(Some(slot), None)));
    new.idempotency_key = Some("lifecycle-key".into());
    new.trace_context = Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into());
    let job = s.create_and_schedule(&new).await.unwrap();
    let mut want = expected_new(&new, job.id, created);
    assert_eq!(job, want, "scheduled job as returned");
    assert_eq!(
        s.get_job(job.id).await.unwrap(),
        want,
        "scheduled job as read"
    );
    assert_eq!(job.status(), "scheduled");
    assert!(
        !job.command.contains("s3cret-Value"),
        "secrets are redacted in job.command: {}",
        job.command
    );
    let t = template(h, &fx).await;
    assert_eq!(
        t.next_schedule, None,
        "next_schedule is NULL while the job is outstanding"
    );
    assert_eq!(t.last_schedule, Some(created));
    assert_eq!((t.successfull_jobs_count, t.failed_jobs_count), (0, 0));

    // Queued
    let queued = advance(h, secs(1));
    let claimed = s
        .claim(
            &ClaimOptions::new("executor-a", vec![ExecutorKind::Native], 10)
                .with_lease_ttl(StdDuration::from_secs(30)),
        )
        .await
        .unwrap();
    want.phase = Phase::Queued;
    want.lease_owner = Some("executor-a".into());
    want.lease_expires = Some(queued + secs(30));
    want.lease_token = 1;
    want.queued = Some(queued);
    assert_eq!(claimed, vec![want.clone()], "claimed job");
    assert_eq!(s.get_job(job.id).await.unwrap(), want, "queued job as read");
    assert_eq!(claimed[0].status(), "queued");
    let lease = LeaseRef::of(&claimed[0]);

    // Running
    let began = advance(h, secs(2));
    let started = s
        .begin_many(&[Begin::new(
            lease,
            Some(4242),
            Some("container-0123abc".into()),
        )])
        .await
        .unwrap();
    want.phase = Phase::Running;
    want.begin = Some(began);
    want.pid = Some(4242);
    want.external_id = Some("container-0123abc".into());
    assert_eq!(started.len(), 1);
    assert_eq!(
        started[0].as_ref().unwrap(),
        &want,
        "running job as returned"
    );
    assert_eq!(
        s.get_job(job.id).await.unwrap(),
        want,
        "running job as read"
    );
    assert_eq!(want.status(), "running");

    // a heartbeat extends the lease
    let beat = advance(h, secs(10));
    assert_eq!(
        s.heartbeat(&[lease], StdDuration::from_secs(30))
            .await
            .unwrap(),
        vec![HeartbeatStatus::Ok]
    );
    want.lease_expires = Some(beat + secs(30));
    assert_eq!(s.get_job(job.id).await.unwrap(), want, "after a heartbeat");

    // Completed
    let ended = advance(h, secs(3) + micros(7));
    let mut c = Completion::new(lease, Outcome::Success, 0);
    c.stdout = "line 1\nline 2\n".into();
    c.stderr = "warning: ü\n".into();
    c.usage = ResourceUsage::measured(Some(7 << 20), Some(15), true);
    let done = s.complete_many(&[c]).await.unwrap();
    want.phase = Phase::Completed;
    want.outcome = Some(Outcome::Success);
    want.exitcode = Some(0);
    want.end = Some(ended);
    want.lease_expires = None;
    want.stdout = "line 1\nline 2\n".into();
    want.stderr = "warning: ü\n".into();
    want.usage = ResourceUsage::measured(Some(7 << 20), Some(15), true);
    assert_eq!(done.len(), 1);
    assert_eq!(
        done[0].as_ref().unwrap(),
        &Completed {
            job: want.clone(),
            retry: None
        }
    );
    assert_eq!(
        s.get_job(job.id).await.unwrap(),
        want,
        "completed job as read"
    );
    assert_eq!(want.status(), "success");
    assert_eq!(want.duration(), Some(ended - began));
    let t = template(h, &fx).await;
    assert_eq!(
        t.next_schedule,
        Some(slot + secs(60)),
        "next_schedule = the next slot after this job's slot"
    );
    assert_eq!(t.last_schedule, Some(created));
    assert_eq!((t.successfull_jobs_count, t.failed_jobs_count), (1, 0));

    // Preserved
    let preserved = advance(h, secs(1));
    let p = s.mark_preserved(lease).await.unwrap();
    want.phase = Phase::Preserved;
    want.preserved = Some(preserved);
    assert_eq!(p, want, "preserved job as returned");
    assert_eq!(
        s.get_job(job.id).await.unwrap(),
        want,
        "preserved job as read"
    );
    assert_eq!(want.status(), "success");
    let t = template(h, &fx).await;
    assert_eq!((t.successfull_jobs_count, t.failed_jobs_count), (1, 0));
    assert_eq!(t.next_schedule, Some(slot + secs(60)));

    // nothing else was created along the way
    assert_eq!(s.list_jobs(&Default::default()).await.unwrap(), vec![want]);
}

/// Events the lifecycle does not allow are rejected with InvalidTransition (token matching), and a
/// rejected call changes nothing: not the job, not the template, not the audit log.
pub async fn illegal_transitions_rejected(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "illegal", |t| t).await;
    let job = s
        .create_and_schedule(&adhoc(&fx, Trigger::Manual, t0))
        .await
        .unwrap();
    let audit_len = || async { s.list_audit(&Default::default()).await.unwrap().len() };
    let unchanged = |before: crate::model::Job| async move {
        assert_eq!(
            s.get_job(before.id).await.unwrap(),
            before,
            "a rejected call changed the job"
        );
    };
    let begin_r = |lease: LeaseRef| async move {
        s.begin_many(&[Begin::new(lease, Some(1), None)])
            .await
            .unwrap()
            .remove(0)
    };
    let complete_r = |lease: LeaseRef, o: Outcome, code: i32| async move {
        s.complete_many(&[Completion::new(lease, o, code)])
            .await
            .unwrap()
            .remove(0)
    };

    // Scheduled (token 0): begin, preserve and complete(success) are illegal
    let rows = audit_len().await;
    let lease = LeaseRef::of(&job);
    expect_err(
        begin_r(lease).await,
        "InvalidTransition",
        "begin on a Scheduled job",
    );
    expect_err(
        s.mark_preserved(lease).await,
        "InvalidTransition",
        "preserve on a Scheduled job",
    );
    expect_err(
        complete_r(lease, Outcome::Success, 0).await,
        "InvalidTransition",
        "complete(success) on a Scheduled job",
    );
    // legal for an operator's cancel, but not as a fenced executor write
    expect_err(
        complete_r(lease, Outcome::Cancelled, 143).await,
        "Conflict",
        "an executor completing a Scheduled job",
    );
    unchanged(job.clone()).await;
    assert_eq!(audit_len().await, rows);

    // Queued: only start, platform_error, cancelled
    let q = claim_one(h, "executor-1").await;
    let rows = audit_len().await;
    let lease = LeaseRef::of(&q);
    for o in [
        Outcome::Success,
        Outcome::Failed,
        Outcome::Timeout,
        Outcome::Lost,
    ] {
        expect_err(
            complete_r(lease, o, 2).await,
            "InvalidTransition",
            &format!("complete({o}) on a Queued job"),
        );
    }
    expect_err(
        s.mark_preserved(lease).await,
        "InvalidTransition",
        "preserve on a Queued job",
    );
    unchanged(q.clone()).await;
    assert_eq!(audit_len().await, rows);

    // Running: begin again and preserve before complete are illegal
    let r = begin(h, &q).await;
    let rows = audit_len().await;
    expect_err(begin_r(lease).await, "InvalidTransition", "begin twice");
    expect_err(
        s.mark_preserved(lease).await,
        "InvalidTransition",
        "preserve before complete",
    );
    unchanged(r.clone()).await;
    assert_eq!(audit_len().await, rows);

    // Completed: no second completion, no begin
    let c = complete(h, &r, Outcome::Failed, 3).await.job;
    let rows = audit_len().await;
    expect_err(
        complete_r(lease, Outcome::Success, 0).await,
        "InvalidTransition",
        "complete twice",
    );
    expect_err(
        begin_r(lease).await,
        "InvalidTransition",
        "begin on a Completed job",
    );
    unchanged(c.clone()).await;
    assert_eq!(audit_len().await, rows);
    assert_eq!(
        counters(h, &fx).await,
        (0, 1),
        "only the one real completion counted"
    );

    // Preserved: nothing more
    let p = s.mark_preserved(lease).await.unwrap();
    let rows = audit_len().await;
    expect_err(
        s.mark_preserved(lease).await,
        "InvalidTransition",
        "preserve twice",
    );
    expect_err(
        complete_r(lease, Outcome::Success, 0).await,
        "InvalidTransition",
        "complete after preserve",
    );
    unchanged(p).await;
    assert_eq!(audit_len().await, rows);

    // the legal shortcuts from Queued
    for o in [Outcome::PlatformError, Outcome::Cancelled] {
        let j = s
            .create_and_schedule(&adhoc(&fx, Trigger::Api, t0))
            .await
            .unwrap();
        let q = claim_one(h, "executor-1").await;
        assert_eq!(q.id, j.id);
        let code = if o == Outcome::PlatformError { -1 } else { 143 };
        let done = complete(h, &q, o, code).await.job;
        assert_eq!(
            (done.phase, done.outcome, done.begin),
            (Phase::Completed, Some(o), None)
        );
    }

    // an unknown job
    let ghost = LeaseRef {
        job_id: JobId(987_654_321),
        lease_token: 1,
    };
    expect_err(begin_r(ghost).await, "NotFound", "begin on an unknown job");
    expect_err(
        s.mark_preserved(ghost).await,
        "NotFound",
        "preserve on an unknown job",
    );
    expect_err(
        s.get_job(ghost.job_id).await,
        "NotFound",
        "get an unknown job",
    );
}

/// Writes carrying an older (or a never-issued) lease token fail with Conflict and change nothing.
pub async fn stale_fencing_token_rejected(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "fencing", |t| t).await;
    s.create_and_schedule(&adhoc(&fx, Trigger::Manual, t0))
        .await
        .unwrap();
    let ttl = StdDuration::from_secs(10);
    let first = s
        .claim(&native("executor-a", 1).with_lease_ttl(ttl))
        .await
        .unwrap()
        .remove(0);
    advance(h, secs(10));
    assert_eq!(
        s.recover_expired().await.unwrap().requeued,
        vec![first.id],
        "the expired lease was recovered"
    );
    let second = s
        .claim(&native("executor-b", 1).with_lease_ttl(ttl))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(second.id, first.id);
    assert_eq!(
        (first.lease_token, second.lease_token),
        (1, 2),
        "each claim increments the token"
    );
    let stale = LeaseRef::of(&first);
    let future = LeaseRef {
        job_id: first.id,
        lease_token: 3,
    };
    let begin_r = |lease: LeaseRef| async move {
        s.begin_many(&[Begin::new(lease, Some(7), None)])
            .await
            .unwrap()
            .remove(0)
    };
    let complete_r = |lease: LeaseRef| async move {
        s.complete_many(&[Completion::new(lease, Outcome::PlatformError, -1)])
            .await
            .unwrap()
            .remove(0)
    };

    for l in [stale, future] {
        expect_err(begin_r(l).await, "Conflict", "begin with a stale token");
        expect_err(
            complete_r(l).await,
            "Conflict",
            "complete with a stale token",
        );
        assert_eq!(
            s.heartbeat(&[l], ttl).await.unwrap(),
            vec![HeartbeatStatus::Lost]
        );
    }
    assert_eq!(
        s.get_job(first.id).await.unwrap(),
        second,
        "stale writes changed nothing"
    );

    let running = begin(h, &second).await;
    for l in [stale, future] {
        expect_err(
            complete_r(l).await,
            "Conflict",
            "complete a running job with a stale token",
        );
    }
    assert_eq!(s.get_job(first.id).await.unwrap(), running);
    complete(h, &running, Outcome::Success, 0).await;
    for l in [stale, future] {
        expect_err(
            s.mark_preserved(l).await,
            "Conflict",
            "preserve with a stale token",
        );
    }
    let p = s.mark_preserved(LeaseRef::of(&second)).await.unwrap();
    assert_eq!(p.phase, Phase::Preserved);
    assert_eq!(counters(h, &fx).await, (1, 0));
}

/// In `begin_many` / `complete_many`, a stale token (or an unknown job) fails that entry only;
/// the other entries of the batch succeed, in input order.
pub async fn fencing_conflict_in_batch_fails_only_that_job(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "batch", |t| t).await;
    for i in 0..3 {
        s.create_and_schedule(&adhoc(&fx, Trigger::Cli, t0 + micros(i)))
            .await
            .unwrap();
    }
    advance(h, secs(1));
    let ttl = StdDuration::from_secs(10);
    let jobs = s
        .claim(&native("executor-a", 3).with_lease_ttl(ttl))
        .await
        .unwrap();
    assert_eq!(jobs.len(), 3);
    let (j1, j2, j3) = (&jobs[0], &jobs[1], &jobs[2]);
    // j2's lease expires and another executor takes it over
    advance(h, secs(5));
    s.heartbeat(&[LeaseRef::of(j1), LeaseRef::of(j3)], ttl)
        .await
        .unwrap();
    advance(h, secs(5));
    assert_eq!(s.recover_expired().await.unwrap().requeued, vec![j2.id]);
    let j2b = claim_one(h, "executor-b").await;
    assert_eq!((j2b.id, j2b.lease_token), (j2.id, 2));

    let ghost = LeaseRef {
        job_id: JobId(987_654_321),
        lease_token: 1,
    };
    let r = s
        .begin_many(&[
            Begin::new(LeaseRef::of(j1), Some(11), None),
            Begin::new(LeaseRef::of(j2), Some(12), None),
            Begin::new(LeaseRef::of(j3), Some(13), None),
            Begin::new(ghost, Some(14), None),
        ])
        .await
        .unwrap();
    assert_eq!(r.len(), 4);
    assert_eq!(r[0].as_ref().unwrap().pid, Some(11));
    assert_eq!(r[2].as_ref().unwrap().pid, Some(13));
    let mut it = r.into_iter();
    let (a, b, c, d) = (
        it.next().unwrap(),
        it.next().unwrap(),
        it.next().unwrap(),
        it.next().unwrap(),
    );
    assert_eq!(a.unwrap().phase, Phase::Running);
    expect_err(b, "Conflict", "stale token inside begin_many");
    assert_eq!(c.unwrap().phase, Phase::Running);
    expect_err(d, "NotFound", "unknown job inside begin_many");
    assert_eq!(
        s.get_job(j2.id).await.unwrap(),
        j2b,
        "the other executor's job was not touched"
    );

    let r = s
        .complete_many(&[
            Completion::new(LeaseRef::of(j1), Outcome::Success, 0),
            Completion::new(LeaseRef::of(j2), Outcome::PlatformError, -1),
            Completion::new(LeaseRef::of(j3), Outcome::Failed, 2),
        ])
        .await
        .unwrap();
    let mut it = r.into_iter();
    let (a, b, c) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
    assert!(it.next().is_none());
    assert_eq!(a.unwrap().job.outcome, Some(Outcome::Success));
    expect_err(b, "Conflict", "stale token inside complete_many");
    assert_eq!(c.unwrap().job.outcome, Some(Outcome::Failed));
    assert_eq!(s.get_job(j2.id).await.unwrap(), j2b);
    assert_eq!(
        counters(h, &fx).await,
        (1, 1),
        "only the two real completions counted"
    );
}

/// `finish_many` takes each job Completed → output stored → Preserved: every phase with its audit
/// row, stdout.txt / stderr.txt byte-exact (empty output gives empty artifacts), counters as
/// `complete_many`; a stale token fails that job only and writes nothing for it.
pub async fn finish_many_completes_stores_output_and_preserves(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "finish", |t| t).await;
    for i in 0..3 {
        s.create_and_schedule(&adhoc(&fx, Trigger::Cli, t0 + micros(i)))
            .await
            .unwrap();
    }
    advance(h, secs(1));
    let ttl = StdDuration::from_secs(10);
    let jobs = s
        .claim(&native("executor-a", 3).with_lease_ttl(ttl))
        .await
        .unwrap();
    assert_eq!(jobs.len(), 3);
    let (j1, j2, j3) = (&jobs[0], &jobs[1], &jobs[2]);
    let r = s
        .begin_many(&[
            Begin::new(LeaseRef::of(j1), None, None),
            Begin::new(LeaseRef::of(j3), None, None),
        ])
        .await
        .unwrap();
    assert!(r.iter().all(|r| r.is_ok()));
    // j2 (still Queued) loses its lease and another executor takes it over
    advance(h, secs(5));
    s.heartbeat(&[LeaseRef::of(j1), LeaseRef::of(j3)], ttl)
        .await
        .unwrap();
    advance(h, secs(5));
    assert_eq!(s.recover_expired().await.unwrap().requeued, vec![j2.id]);
    let j2b = claim_one(h, "executor-b").await;

    let ended = advance(h, secs(2));
    let mut c1 = Completion::new(LeaseRef::of(j1), Outcome::Success, 0);
    c1.stdout = "out\n".into();
    c1.usage = ResourceUsage::measured(Some(41 << 20), Some(1_234), false);
    let mut c3 = Completion::new(LeaseRef::of(j3), Outcome::Failed, 3);
    c3.usage = ResourceUsage::unknown("this executor cannot see the container's cgroup");
    let binary: Vec<u8> = vec![0, 159, 146, 150, b'\n'];
    let r = s
        .finish_many(
            &[
                Finish::new(c1, b"out\n".to_vec(), binary.clone()),
                Finish::new(
                    Completion::new(LeaseRef::of(j2), Outcome::Success, 0),
                    b"nope".to_vec(),
                    Vec::new(),
                ),
                Finish::new(c3.clone(), Vec::new(), Vec::new()),
            ],
            h.artifacts.as_ref(),
        )
        .await
        .unwrap();
    assert_eq!(r.len(), 3);
    let mut it = r.into_iter();
    let (a, b, c) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
    let a = a.expect("j1 finishes");
    assert_eq!(a.completed.job.phase, Phase::Completed);
    assert_eq!(a.completed.job.outcome, Some(Outcome::Success));
    assert_eq!(a.completed.job.stdout, "out\n");
    assert_eq!(a.completed.job.end, Some(ended));
    assert!(a.completed.retry.is_none());
    let p1 = a.preserved.expect("j1 preserved");
    assert_eq!(p1.phase, Phase::Preserved);
    assert_eq!(p1.preserved, Some(ended));
    assert_eq!(s.get_job(j1.id).await.unwrap(), p1);
    assert_eq!(p1.usage.peak_memory_bytes, Some(41 << 20), "usage stored");
    assert_eq!(p1.usage.cpu_time_ms, Some(1_234));
    assert_eq!(p1.usage.memory_limit_hit, Some(false));
    expect_err(b.map(|_| ()), "Conflict", "stale token inside finish_many");
    let c = c.expect("j3 finishes");
    assert_eq!(c.completed.job.outcome, Some(Outcome::Failed));
    assert_eq!(c.completed.job.exitcode, Some(3));
    assert_eq!(c.completed.job.usage, c3.usage);
    assert_eq!(c.preserved.expect("j3 preserved").phase, Phase::Preserved);
    assert_eq!(
        s.get_job(j3.id).await.unwrap().usage,
        c3.usage,
        "no figures, the reason"
    );

    // the other executor's job was not touched, and got no artifacts
    assert_eq!(s.get_job(j2.id).await.unwrap(), j2b);
    assert!(h.artifacts.list(j2.id).await.unwrap().is_empty());
    assert_eq!(counters(h, &fx).await, (1, 1));

    for (job, out, err) in [
        (j1, b"out\n".to_vec(), binary),
        (j3, Vec::new(), Vec::new()),
    ] {
        let metas = h.artifacts.list(job.id).await.unwrap();
        let mut names: Vec<&str> = metas.iter().map(|m| m.filename.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["stderr.txt", "stdout.txt"], "job {}", job.id);
        for m in &metas {
            let art = h.artifacts.get(m.id).await.unwrap();
            let want = if m.filename == "stdout.txt" {
                &out
            } else {
                &err
            };
            assert_eq!(&art.content, want, "{} of job {}", m.filename, job.id);
            assert_eq!(m.size, want.len() as u64, "{} size", m.filename);
            assert_eq!(m.content_type, "text/plain");
        }
        let phases: Vec<String> = phase_rows(h, job.id)
            .await
            .into_iter()
            .map(|(action, _, _)| action)
            .collect();
        assert_eq!(
            phases,
            [
                "phase:scheduled",
                "phase:queued",
                "phase:running",
                "phase:completed",
                "phase:preserved"
            ],
            "audit of job {}",
            job.id
        );
    }
}

/// `begin_and_finish_many` stores starts and finishes of different jobs exactly as
/// `begin_many` and `finish_many` would: a stale start fails only itself; a success (which needs
/// no template) and a failure (which does: retry rule, counters) both end Preserved with their
/// output, while the starts sent with them are Running.
pub async fn begin_and_finish_many_together(h: &StoreHarness) {
    let t0 = start(h);
    let s = h.store.as_ref();
    let fx = seed(h, "together", |t| t).await;
    for i in 0..3 {
        s.create_and_schedule(&adhoc(&fx, Trigger::Cli, t0 + micros(i)))
            .await
            .unwrap();
    }
    advance(h, secs(1));
    let jobs = s.claim(&native("executor-a", 3)).await.unwrap();
    assert_eq!(jobs.len(), 3);
    let (j1, j2, j3) = (&jobs[0], &jobs[1], &jobs[2]);
    s.begin_many(&[Begin::new(LeaseRef::of(j1), Some(7), None)])
        .await
        .unwrap();

    let ended = advance(h, secs(2));
    let stale = LeaseRef {
        job_id: j3.id,
        lease_token: j3.lease_token + 1,
    };
    let (begun, finished) = s
        .begin_and_finish_many(
            &[
                Begin::new(LeaseRef::of(j2), Some(8), None),
                Begin::new(stale, None, None),
            ],
            &[Finish::new(
                Completion::new(LeaseRef::of(j1), Outcome::Success, 0),
                b"one\n".to_vec(),
                Vec::new(),
            )],
            h.artifacts.as_ref(),
        )
        .await;
    let mut begun = begun.unwrap().into_iter();
    let b2 = begun.next().unwrap().expect("j2 starts");
    assert_eq!(
        (b2.phase, b2.pid, b2.begin),
        (Phase::Running, Some(8), Some(ended))
    );
    expect_err(begun.next().unwrap(), "Conflict", "stale start");
    let f1 = finished
        .unwrap()
        .into_iter()
        .next()
        .unwrap()
        .expect("j1 finishes");
    assert_eq!(f1.completed.job.phase, Phase::Completed);
    assert_eq!(f1.completed.job.outcome, Some(Outcome::Success));
    let p1 = f1.preserved.expect("j1 preserved");
    assert_eq!((p1.phase, p1.preserved), (Phase::Preserved, Some(ended)));
    assert_eq!(s.get_job(j1.id).await.unwrap(), p1);
    assert_eq!(s.get_job(j2.id).await.unwrap(), b2);
    assert_eq!(s.get_job(j3.id).await.unwrap().phase, Phase::Queued);

    let ended = advance(h, secs(1));
    let (begun, finished) = s
        .begin_and_finish_many(
            &[Begin::new(LeaseRef::of(j3), None, Some("c-3".into()))],
            &[Finish::new(
                Completion::new(LeaseRef::of(j2), Outcome::Failed, 3),
                Vec::new(),
                b"two\n".to_vec(),
            )],
            h.artifacts.as_ref(),
        )
        .await;
    let b3 = begun
        .unwrap()
        .into_iter()
        .next()
        .unwrap()
        .expect("j3 starts");
    assert_eq!(b3.external_id.as_deref(), Some("c-3"));
    let f2 = finished
        .unwrap()
        .into_iter()
        .next()
        .unwrap()
        .expect("j2 finishes");
    assert_eq!(f2.completed.job.exitcode, Some(3));
    let p2 = f2.preserved.expect("j2 preserved");
    assert_eq!((p2.phase, p2.preserved), (Phase::Preserved, Some(ended)));
    assert_eq!(s.get_job(j2.id).await.unwrap(), p2);
    assert_eq!(s.get_job(j3.id).await.unwrap(), b3);
    assert_eq!(counters(h, &fx).await, (1, 1));
    for (job, name, want) in [
        (j1, "stdout.txt", &b"one\n"[..]),
        (j2, "stderr.txt", b"two\n"),
    ] {
        let metas = h.artifacts.list(job.id).await.unwrap();
        let meta = metas.iter().find(|m| m.filename == name).expect(name);
        assert_eq!(h.artifacts.get(meta.id).await.unwrap().content, want);
    }
}
