//! Test cases run on every backend (see `sql.rs` for the per-backend modules).

#![allow(dead_code)]

pub mod db_clock;
pub mod one_shot;
pub mod packet;
pub mod property;
pub mod race;
pub mod unreadable;

use crate::support::{Backend, Ctx};
use chrono::{DateTime, Duration as Cd, Utc};
use multiflexi_core::lifecycle::RetryPolicy;
use multiflexi_core::model::{Company, Credential, Environment, JobSpec, NewJob, ScheduleCas};
use multiflexi_core::schedule::IntervalCode;
use multiflexi_core::store::AccessTokens as _;
use multiflexi_core::store::{
    AuditFilter, AuditLog, Begin, CancelResult, Catalog, ClaimOptions, CleanupOptions, Completion,
    HeartbeatStatus, JobFilter, JobQueue, LeaseRef, OutputChunk, OutputLog, Stream,
};
use multiflexi_core::{
    App, ArtifactSink, Clock, Error, ExecutorKind, Outcome, Phase, RunTemplate, Trigger,
};
use multiflexi_store::{MasterKey, SqlStore, SqlStoreOptions};
use sea_orm::ConnectionTrait;
use std::time::Duration;

/// An app, a company and an active hourly template using them.
pub struct Fx {
    pub app: App,
    pub company: Company,
    pub template: RunTemplate,
}

pub async fn fixture(s: &SqlStore) -> Fx {
    let app = s
        .put_app(&App::new("Hello", "/bin/echo").with_cmdparams("hello {NAME}"))
        .await
        .unwrap();
    let company = s
        .create_company(&Company::new("Acme s.r.o."))
        .await
        .unwrap();
    let template = s
        .create_runtemplate(
            &RunTemplate::new(app.id, company.id, "hello hourly")
                .with_interval(IntervalCode::Hourly)
                .with_retry(RetryPolicy::new(2, 10)),
        )
        .await
        .unwrap();
    Fx {
        app,
        company,
        template,
    }
}

pub fn spec() -> JobSpec {
    let mut spec = JobSpec::new("/bin/echo", vec!["hello".into(), "s3cr3t-arg".into()]);
    spec.env = Environment::new()
        .with("NAME", "world")
        .with_secret("TOKEN", "s3cr3t-token");
    spec
}

pub fn manual(fx: &Fx, after: DateTime<Utc>) -> NewJob {
    NewJob::new(
        fx.template.id,
        fx.company.id,
        fx.app.id,
        ExecutorKind::Native,
        spec(),
        Trigger::Manual,
        after,
    )
}

pub fn scheduled(fx: &Fx, slot: DateTime<Utc>) -> NewJob {
    let mut n = manual(fx, slot);
    n.trigger = Trigger::Schedule;
    n.slot = Some(slot);
    n
}

fn claim(owner: &str, limit: usize) -> ClaimOptions {
    ClaimOptions::new(owner, vec![ExecutorKind::Native], limit)
        .with_lease_ttl(Duration::from_secs(30))
}

async fn phase_actions(s: &SqlStore, job: multiflexi_core::JobId) -> Vec<(String, String)> {
    s.list_audit(&AuditFilter::job(job))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("phase:"))
        .map(|e| (e.action, e.actor))
        .collect()
}

// ------------------------------------------------------------------ schema

pub async fn migrations_twice_and_newer_schema_refused(ctx: &Ctx) {
    let a = ctx.store().await;
    let fx = fixture(&a).await;
    // second connect: migrations run again and change nothing
    let b = if ctx.backend == Backend::SqliteMemory {
        a.clone() // every connect is a new database
    } else {
        ctx.store().await
    };
    assert_eq!(b.get_app(fx.app.id).await.unwrap(), fx.app);
    let n = b
        .connection()
        .query_one_raw(sea_orm::Statement::from_string(
            b.connection().get_database_backend(),
            "SELECT COUNT(*) FROM seaql_migrations",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap();
    {
        use sea_orm_migration::MigratorTrait;
        let all = multiflexi_store::migration::Migrator::migrations().len();
        assert_eq!(
            n,
            i64::try_from(all).unwrap(),
            "each migration recorded once"
        );
    }
    if ctx.backend == Backend::SqliteMemory {
        return;
    }
    // A database of schema 1 (before access tokens) is upgraded on connect, its data kept.
    for sql in [
        "DROP TABLE access_token",
        "DELETE FROM seaql_migrations WHERE version = 'm0002_access_tokens'",
        "UPDATE schema_version SET version = 1",
    ] {
        b.connection().execute_unprepared(sql).await.unwrap();
    }
    let upgraded = ctx.store().await;
    assert_eq!(upgraded.get_app(fx.app.id).await.unwrap(), fx.app);
    let issued = upgraded
        .create_token("after-upgrade", multiflexi_core::store::TokenScope::Admin)
        .await
        .unwrap();
    assert!(
        upgraded
            .authenticate(&issued.secret)
            .await
            .unwrap()
            .is_some()
    );
    let version = upgraded
        .connection()
        .query_one_raw(sea_orm::Statement::from_string(
            upgraded.connection().get_database_backend(),
            "SELECT version FROM schema_version",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i32>(0)
        .unwrap();
    assert_eq!(version, multiflexi_store::SCHEMA_VERSION);
    b.connection()
        .execute_unprepared("UPDATE schema_version SET version = 999")
        .await
        .unwrap();
    let err = SqlStore::connect(&ctx.url, ctx.options())
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    assert!(msg.contains("999") && msg.contains("newer"), "{msg}");
}

// ------------------------------------------------------------------ lifecycle

pub async fn lifecycle_fenced_and_audited(ctx: &Ctx) {
    let s = ctx.store().await;
    let fx = fixture(&s).await;
    let now = ctx.clock.now();
    let mut rx = s.work_signal().expect("a work signal");
    rx.borrow_and_update();
    let job = s.create_and_schedule(&manual(&fx, now)).await.unwrap();
    assert!(rx.has_changed().unwrap(), "creating a job signals");
    assert_eq!(job.phase, Phase::Scheduled);
    assert_eq!(job.spec, spec());
    assert_eq!(job.created, now);
    assert!(!job.command.contains("s3cr3t-token"));

    // other executor kinds do not see it
    let none = s
        .claim(&ClaimOptions::new("d1", vec![ExecutorKind::Docker], 10))
        .await
        .unwrap();
    assert!(none.is_empty());
    let claimed = s.claim(&claim("exec-1", 10)).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let q = &claimed[0];
    assert_eq!((q.phase, q.lease_token), (Phase::Queued, 1));
    assert_eq!(q.lease_owner.as_deref(), Some("exec-1"));
    assert_eq!(q.lease_expires, Some(now + Cd::seconds(30)));
    assert!(s.claim(&claim("exec-2", 10)).await.unwrap().is_empty());

    // stale token: Conflict; wrong event in the phase: InvalidTransition
    let stale = LeaseRef {
        job_id: q.id,
        lease_token: 7,
    };
    let r = s
        .begin_many(&[Begin::new(stale, Some(1), None)])
        .await
        .unwrap();
    assert!(matches!(r[0], Err(Error::Conflict { .. })), "{r:?}");
    let lease = LeaseRef::of(q);
    let r = s.mark_preserved(lease).await.unwrap_err();
    assert!(matches!(r, Error::InvalidTransition { .. }), "{r:?}");

    ctx.clock.advance(Cd::milliseconds(1));
    let r = s
        .begin_many(&[
            Begin::new(lease, Some(4242), None),
            Begin::new(stale, None, None),
        ])
        .await
        .unwrap();
    let running = r[0].as_ref().unwrap();
    assert!(r[1].is_err());
    assert_eq!(running.phase, Phase::Running);
    assert_eq!(running.pid, Some(4242));
    let hb = s
        .heartbeat(&[lease, stale], Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(hb, vec![HeartbeatStatus::Ok, HeartbeatStatus::Lost]);
    assert_eq!(
        s.get_job(q.id).await.unwrap().lease_expires,
        Some(ctx.clock.now() + Cd::seconds(60))
    );

    ctx.clock.advance(Cd::microseconds(1));
    let mut c = Completion::new(lease, Outcome::Success, 0);
    c.stdout = "hello\n".into();
    let done = s.complete_many(&[c.clone()]).await.unwrap();
    let done = done[0].as_ref().unwrap();
    assert_eq!(done.job.phase, Phase::Completed);
    assert_eq!(done.job.outcome, Some(Outcome::Success));
    assert_eq!(done.job.exitcode, Some(0));
    assert_eq!(done.job.stdout, "hello\n");
    assert_eq!(done.job.lease_expires, None);
    assert_eq!(done.job.lease_owner.as_deref(), Some("exec-1"));
    assert!(done.retry.is_none());
    // completing twice: the token matches, the event is illegal in Completed
    let again = s.complete_many(&[c]).await.unwrap();
    assert!(
        matches!(again[0], Err(Error::InvalidTransition { .. })),
        "{again:?}"
    );
    let t = s.get_runtemplate(fx.template.id).await.unwrap();
    assert_eq!((t.successfull_jobs_count, t.failed_jobs_count), (1, 0));

    let preserved = s.mark_preserved(lease).await.unwrap();
    assert_eq!(preserved.phase, Phase::Preserved);
    assert_eq!(preserved.status(), "success");

    let rows = phase_actions(&s, q.id).await;
    let expected: Vec<(String, String)> = [
        ("phase:scheduled", "scheduler"),
        ("phase:queued", "exec-1"),
        ("phase:running", "exec-1"),
        ("phase:completed", "exec-1"),
        ("phase:preserved", "exec-1"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(rows, expected);
    // microsecond timestamps survive the round trip in order
    let at: Vec<DateTime<Utc>> = s
        .list_audit(&AuditFilter::job(q.id))
        .await
        .unwrap()
        .iter()
        .map(|e| e.at)
        .collect();
    assert!(at.windows(2).all(|w| w[0] <= w[1]), "{at:?}");
    assert!(
        at.contains(&(now + Cd::milliseconds(1) + Cd::microseconds(1))),
        "{at:?}"
    );

    let listed = s
        .list_jobs(&{
            let mut f = JobFilter::default();
            f.status = Some("success".into());
            f
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    let o = s.queue_overview().await.unwrap();
    assert_eq!((o.due, o.preserved), (0, 1));
}

pub async fn scheduler_cas_and_unique_slot(ctx: &Ctx) {
    let s = ctx.store().await;
    let fx = fixture(&s).await;
    let slot = ctx.clock.now();
    let next = slot + Cd::hours(1);
    assert!(
        s.set_next_schedule(fx.template.id, None, Some(slot))
            .await
            .unwrap()
    );
    assert!(
        !s.set_next_schedule(fx.template.id, None, Some(slot))
            .await
            .unwrap()
    );
    let mut n = scheduled(&fx, slot);
    n.cas = Some(ScheduleCas {
        expected_next: Some(slot + Cd::microseconds(1)),
        set_next: None,
    });
    let err = s.create_and_schedule(&n).await.unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    n.cas = Some(ScheduleCas {
        expected_next: Some(slot),
        set_next: None,
    });
    let job = s.create_and_schedule(&n).await.unwrap();
    assert_eq!(job.slot, Some(slot));
    let t = s.get_runtemplate(fx.template.id).await.unwrap();
    assert_eq!((t.next_schedule, t.last_schedule), (None, Some(slot)));
    assert_eq!(
        s.schedulable_runtemplates().await.unwrap()[0].outstanding,
        vec![job.id]
    );
    // the same slot again: AlreadyExists (even without a CAS)
    let mut dup = scheduled(&fx, slot);
    dup.cas = None;
    let err = s.create_and_schedule(&dup).await.unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");
    // ad-hoc jobs with a slot are invalid
    let mut bad = manual(&fx, slot);
    bad.slot = Some(slot);
    assert!(matches!(
        s.create_and_schedule(&bad).await.unwrap_err(),
        Error::InvalidInput { .. }
    ));
    // idempotency key: the second create returns the first job
    let mut k = manual(&fx, slot);
    k.idempotency_key = Some("req-1".into());
    let a = s.create_and_schedule(&k).await.unwrap();
    let b = s.create_and_schedule(&k).await.unwrap();
    assert_eq!(a.id, b.id);

    // completing the scheduled job sets next_schedule to the next slot
    let c = s.claim(&claim("e", 1)).await.unwrap();
    assert_eq!(c[0].id, job.id);
    let lease = LeaseRef::of(&c[0]);
    s.begin_many(&[Begin::new(lease, None, None)])
        .await
        .unwrap();
    s.complete_many(&[Completion::new(lease, Outcome::Success, 0)])
        .await
        .unwrap();
    let t = s.get_runtemplate(fx.template.id).await.unwrap();
    assert_eq!(t.next_schedule, Some(next));
}

pub async fn recovery_retry_and_cancel(ctx: &Ctx) {
    let s = ctx.store().await;
    let fx = fixture(&s).await;
    let now = ctx.clock.now();
    let a = s.create_and_schedule(&scheduled(&fx, now)).await.unwrap();
    let b = s
        .create_and_schedule(&manual(&fx, now + Cd::seconds(1)))
        .await
        .unwrap();
    ctx.clock.advance(Cd::seconds(1));
    let claimed = s.claim(&claim("dead", 10)).await.unwrap();
    assert_eq!(
        claimed.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![a.id, b.id],
        "oldest after first"
    );
    let la = LeaseRef::of(&claimed[0]);
    s.begin_many(&[Begin::new(la, Some(1), None)])
        .await
        .unwrap();
    // output while it runs (cleanup removes it below)
    s.append_output(
        la,
        &[OutputChunk {
            job_id: a.id,
            seq: 1,
            stream: Stream::Stdout,
            bytes: b"x".to_vec(),
        }],
    )
    .await
    .unwrap();
    // b stays Queued; both leases run out (expired when lease_expires <= now)
    ctx.clock.advance(Cd::seconds(30));
    let rec = s.recover_expired().await.unwrap();
    assert_eq!(rec.requeued, vec![b.id]);
    assert_eq!(rec.lost.len(), 1);
    assert_eq!(rec.lost[0].outcome, Some(Outcome::Lost));
    assert_eq!(rec.lost[0].exitcode, Some(-1));
    assert_eq!(rec.retries.len(), 1);
    let retry = &rec.retries[0];
    assert_eq!(
        (retry.trigger, retry.attempt, retry.retry_of, retry.slot),
        (Trigger::Retry, 1, Some(a.id), Some(now))
    );
    assert_eq!(retry.after, ctx.clock.now() + Cd::seconds(10));
    assert_eq!(retry.spec, a.spec);
    let requeued = s.get_job(b.id).await.unwrap();
    assert_eq!(
        (
            requeued.phase,
            requeued.lease_owner.clone(),
            requeued.lease_token
        ),
        (Phase::Scheduled, None, 1)
    );
    // the lost lease's holder learns it
    assert_eq!(
        s.heartbeat(&[la], Duration::from_secs(30)).await.unwrap(),
        vec![HeartbeatStatus::Lost]
    );
    // the re-queued job is claimable again with a new token
    let again = s.claim(&claim("live", 10)).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].lease_token, 2);
    // cancel: Queued → requested; heartbeat says so
    match s.request_cancel(b.id, "operator").await.unwrap() {
        CancelResult::Requested(j) => assert!(j.cancel_requested),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        s.heartbeat(&[LeaseRef::of(&again[0])], Duration::from_secs(30))
            .await
            .unwrap(),
        vec![HeartbeatStatus::CancelRequested]
    );
    // cancel the scheduled retry: Completed(cancelled), no exit code
    match s.request_cancel(retry.id, "operator").await.unwrap() {
        CancelResult::Cancelled(j) => {
            assert_eq!(
                (j.phase, j.outcome, j.exitcode),
                (Phase::Completed, Some(Outcome::Cancelled), None)
            );
            assert!(j.cancel_requested);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.request_cancel(retry.id, "operator").await.unwrap(),
        CancelResult::AlreadyFinished(_)
    ));
    let t = s.get_runtemplate(fx.template.id).await.unwrap();
    assert_eq!((t.successfull_jobs_count, t.failed_jobs_count), (0, 2));
    // the chain ended with the cancel: next_schedule advanced past the slot
    assert_eq!(t.next_schedule, Some(now + Cd::hours(1)));

    // cleanup removes finished jobs with their output and artifacts
    let dry = s
        .cleanup(&{
            let mut o = CleanupOptions::before(ctx.clock.now() + Cd::seconds(1));
            o.dry_run = true;
            o
        })
        .await
        .unwrap();
    assert_eq!((dry.jobs, dry.output_chunks), (2, 1));
    let done = s
        .cleanup(&CleanupOptions::before(ctx.clock.now() + Cd::seconds(1)))
        .await
        .unwrap();
    assert_eq!(done, dry);
    assert!(matches!(
        s.get_job(a.id).await.unwrap_err(),
        Error::NotFound { .. }
    ));
    assert!(s.get_job(b.id).await.is_ok());
}

// ------------------------------------------------------------------ data

pub async fn artifacts_and_output_byte_exact(ctx: &Ctx) {
    let opts = ctx.options().with_artifact_cap(300 * 1024);
    let s = ctx.store_with(opts).await;
    let fx = fixture(&s).await;
    s.create_and_schedule(&manual(&fx, ctx.clock.now()))
        .await
        .unwrap();
    // artifacts and output are written under the claim's lease
    let job = s.claim(&claim("executor-1", 1)).await.unwrap().remove(0);
    let lease = LeaseRef::of(&job);
    let mut big: Vec<u8> = (0..200 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    big.extend_from_slice(&[0, 0xff, 0xfe, 0xc3, 0x28, 0, b'\n']);
    let weird = b"\0\xff\xfe not utf-8 \xc3\x28 \0".to_vec();
    let id1 = s
        .put(
            lease,
            "result.bin",
            "application/octet-stream",
            &mut &big[..],
        )
        .await
        .unwrap();
    let id2 = s
        .put(lease, "stdout.txt", "text/plain", &mut &weird[..])
        .await
        .unwrap();
    assert_eq!(s.get(id1).await.unwrap().content, big);
    assert_eq!(s.get(id2).await.unwrap().content, weird);
    // idempotent per (job, name): same id, new content
    let id1b = s
        .put(
            lease,
            "result.bin",
            "application/octet-stream",
            &mut &b"v2"[..],
        )
        .await
        .unwrap();
    assert_eq!(id1, id1b);
    assert_eq!(s.get(id1).await.unwrap().content, b"v2");
    // names differing in case are two artifacts
    let id3 = s
        .put(lease, "STDOUT.txt", "text/plain", &mut &b"upper"[..])
        .await
        .unwrap();
    assert_ne!(id3, id2);
    // size cap: truncated with a note
    let huge = vec![7u8; 300 * 1024 + 5];
    let id4 = s.put(lease, "huge.bin", "", &mut &huge[..]).await.unwrap();
    let a4 = s.get(id4).await.unwrap();
    assert_eq!(a4.content.len(), 300 * 1024);
    assert!(a4.meta.note.as_deref().unwrap().contains("truncated"));
    let metas = s.list(job.id).await.unwrap();
    assert_eq!(metas.len(), 4);
    assert_eq!(metas[0].size, 2);
    assert!(matches!(
        s.put(lease, "../etc/passwd", "", &mut &b""[..])
            .await
            .unwrap_err(),
        Error::InvalidInput { .. }
    ));

    // output: batches larger than one INSERT, read back in order and paged
    let chunks: Vec<OutputChunk> = (1..=1200u64)
        .map(|seq| OutputChunk {
            job_id: job.id,
            seq,
            stream: if seq % 3 == 0 {
                Stream::Stderr
            } else {
                Stream::Stdout
            },
            bytes: vec![(seq % 256) as u8, 0, 0xff],
        })
        .collect();
    s.append_output(lease, &chunks[..700]).await.unwrap();
    s.append_output(lease, &chunks[700..]).await.unwrap();
    let back = s.read_output(job.id, None, 5000).await.unwrap();
    assert_eq!(back, chunks);
    let page = s.read_output(job.id, Some(1000), 10).await.unwrap();
    assert_eq!(page, chunks[1000..1010].to_vec());
    let dup = s.append_output(lease, &chunks[..1]).await.unwrap_err();
    assert!(matches!(dup, Error::AlreadyExists { .. }), "{dup:?}");
}

pub async fn names_are_case_sensitive(ctx: &Ctx) {
    let s = ctx.store().await;
    let a = s.create_company(&Company::new("Acme")).await.unwrap();
    let mut lower = Company::new("acme");
    lower.slug = "acme-lower".into();
    let b = s.create_company(&lower).await.unwrap();
    assert_ne!(a.id, b.id);
    let mut spaced = Company::new("acme ");
    spaced.slug = "acme-spaced".into();
    s.create_company(&spaced).await.unwrap();
    let err = s.create_company(&Company::new("Acme")).await.unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");
    let x = s.put_app(&App::new("Tool", "/bin/true")).await.unwrap();
    let y = s.put_app(&App::new("tool", "/bin/true")).await.unwrap();
    assert_ne!(x.id, y.id);
    let x2 = s.put_app(&App::new("Tool", "/bin/false")).await.unwrap();
    assert_eq!(x2.id, x.id, "matched by its name");
    assert_eq!(x2.executable, "/bin/false");
    let c1 = s
        .create_credential(&Credential::new(a.id, "Bank", "RaiffeisenBank"))
        .await
        .unwrap();
    s.create_credential(&Credential::new(a.id, "bank", "RaiffeisenBank"))
        .await
        .unwrap();
    assert!(matches!(
        s.create_credential(&Credential::new(a.id, "Bank", "x"))
            .await
            .unwrap_err(),
        Error::AlreadyExists { .. }
    ));
    // deleting what is referenced is a Conflict
    let t = s
        .create_runtemplate(&{
            let mut t = RunTemplate::new(x.id, a.id, "t");
            t.credentials = vec![c1.id];
            t
        })
        .await
        .unwrap();
    assert_eq!(t.credentials, vec![c1.id]);
    for err in [
        s.delete_app(x.id).await.unwrap_err(),
        s.delete_company(a.id).await.unwrap_err(),
        s.delete_credential(c1.id).await.unwrap_err(),
    ] {
        assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    }
    s.delete_runtemplate(t.id).await.unwrap();
    s.delete_credential(c1.id).await.unwrap();
    assert!(matches!(
        s.get_credential(c1.id).await.unwrap_err(),
        Error::NotFound { .. }
    ));
}

pub async fn secrets_sealed_and_wrong_key_is_clear(ctx: &Ctx) {
    let s = ctx.store().await;
    let fx = fixture(&s).await;
    let mut co = fx.company.clone();
    co.environment = Environment::new()
        .with("PLAIN", "visible")
        .with_secret("DB_PASS", "company-secret-value");
    let co = s.update_company(&co).await.unwrap();
    assert_eq!(co.environment.get("DB_PASS"), Some("company-secret-value"));
    let cred = s
        .create_credential(
            &Credential::new(co.id, "abra", "AbraFlexi")
                .with_field("ABRAFLEXI_LOGIN", "admin", false)
                .with_field("ABRAFLEXI_PASSWORD", "credential-secret-value", true),
        )
        .await
        .unwrap();
    let mut t = fx.template.clone();
    t.config = Environment::new().with_secret("API_KEY", "template-secret-value");
    t.credentials = vec![cred.id];
    t.on_failure = vec![webhook_with_secret("webhook-secret-value")];
    let t = s.update_runtemplate(&t).await.unwrap();
    assert_eq!(t.config.get("API_KEY"), Some("template-secret-value"));
    assert_eq!(
        t.on_failure,
        vec![webhook_with_secret("webhook-secret-value")]
    );
    let job = s
        .create_and_schedule(&manual(&fx, ctx.clock.now()))
        .await
        .unwrap();
    assert_eq!(s.get_credential(cred.id).await.unwrap(), cred);

    // the raw rows hold no secret
    let raw = s
        .connection()
        .query_all_raw(sea_orm::Statement::from_string(
            s.connection().get_database_backend(),
            "SELECT value FROM credential_values UNION ALL SELECT value FROM company_env UNION ALL SELECT value FROM runtemplate_config UNION ALL SELECT on_failure FROM runtemplate WHERE on_failure IS NOT NULL",
        ))
        .await
        .unwrap();
    let values: Vec<String> = raw
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect();
    assert!(values.iter().any(|v| v == "admin" || v == "visible"));
    assert!(
        values.iter().all(|v| !v.contains("secret-value")),
        "{values:?}"
    );
    assert!(values.iter().any(|v| v.starts_with("mfenc1:")));

    // a store with another key cannot read them, and says why
    let other = ctx
        .store_with(ctx.options().with_master_key(MasterKey::generate()))
        .await;
    if ctx.backend != Backend::SqliteMemory {
        let err = other.get_credential(cred.id).await.unwrap_err().to_string();
        assert!(
            err.contains("not configured") && err.contains(ctx.key.id()),
            "{err}"
        );
        // the job is still there, marked unreadable (it is never run)
        let unreadable = other.get_job(job.id).await.unwrap();
        let why = unreadable.unreadable.expect("marked unreadable");
        assert!(
            why.contains(&format!("job {}", job.id)) && why.contains(ctx.key.id()),
            "{why}"
        );
        assert!(unreadable.spec.env.is_empty() && unreadable.spec.args.is_empty());
        // key rotation: the new key with the old one kept for reading
        let rotated = ctx
            .store_with(
                ctx.options()
                    .with_master_key(MasterKey::generate())
                    .with_old_key(ctx.key.clone()),
            )
            .await;
        assert_eq!(rotated.get_job(job.id).await.unwrap().spec, spec());
        // without any key
        let none = ctx
            .store_with(SqlStoreOptions::default().with_clock(ctx.clock.clone()))
            .await;
        let err = none.get_company(co.id).await.unwrap_err().to_string();
        assert!(err.contains("MULTIFLEXI_MASTER_KEY"), "{err}");
        let err = none
            .create_and_schedule(&manual(&fx, ctx.clock.now()))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("MULTIFLEXI_MASTER_KEY"), "{err}");
    }
}

/// SQLite file only: a secret written through the store is nowhere in the database files.
pub async fn secret_not_in_sqlite_file(ctx: &Ctx) {
    let s = ctx.store().await;
    let fx = fixture(&s).await;
    let marker = "TOPSECRET-7f3a9c";
    let mut co = fx.company.clone();
    co.environment = Environment::new().with_secret("PASS", format!("{marker}-company"));
    s.update_company(&co).await.unwrap();
    s.create_credential(&Credential::new(co.id, "c", "k").with_field(
        "P",
        format!("{marker}-credential"),
        true,
    ))
    .await
    .unwrap();
    let mut t = fx.template.clone();
    t.config = Environment::new().with_secret("K", format!("{marker}-template"));
    t.on_failure = vec![webhook_with_secret(&format!("{marker}-webhook"))];
    s.update_runtemplate(&t).await.unwrap();
    // a failed job: its webhook action (with the secret) becomes a job_action row
    s.create_and_schedule(&manual(&fx, ctx.clock.now()))
        .await
        .unwrap();
    let claimed = s.claim(&claim("secret", 1)).await.unwrap();
    let done = s
        .complete_many(&[Completion::new(
            LeaseRef::of(&claimed[0]),
            Outcome::Cancelled,
            137,
        )])
        .await
        .unwrap();
    assert!(done[0].is_ok(), "{done:?}");
    use multiflexi_core::store::ActionQueue as _;
    let rows = s.job_actions(claimed[0].id).await.unwrap();
    assert_eq!(
        rows[0].action,
        webhook_with_secret(&format!("{marker}-webhook"))
    );
    let mut n = manual(&fx, ctx.clock.now());
    n.spec
        .env
        .set_secret("JOBSECRET", format!("{marker}-jobenv"));
    // a secret used in argv (allowed, warned about): the command copy is redacted, argv sealed
    n.spec.args.push(format!("--password={marker}-jobenv"));
    s.create_and_schedule(&n).await.unwrap();
    // plain values are there (so the grep would find secrets if they were)
    s.create_credential(&Credential::new(co.id, "plain", "k").with_field(
        "P",
        "PLAINMARKER-1",
        false,
    ))
    .await
    .unwrap();
    s.close().await.unwrap();
    let dir = ctx.dir.as_ref().unwrap().path();
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        all.extend(std::fs::read(&path).unwrap());
    }
    let hay = String::from_utf8_lossy(&all);
    assert!(hay.contains("PLAINMARKER-1"), "the grep sees plain values");
    let leaks: Vec<&str> = hay
        .match_indices(marker)
        .map(|(i, _)| &hay[i..(i + marker.len() + 12).min(hay.len())])
        .collect();
    assert!(leaks.is_empty(), "secrets stored in clear text: {leaks:?}");
}

/// A webhook action with `secret`.
fn webhook_with_secret(secret: &str) -> multiflexi_core::model::Action {
    serde_json::from_value(serde_json::json!({
        "kind": "webhook", "url": "https://hooks.example/x", "secret": secret
    }))
    .unwrap()
}

pub async fn down_database_is_retryable() {
    for url in [
        "postgres://u:p@127.0.0.1:1/db",
        "mysql://u:p@127.0.0.1:1/db",
    ] {
        let opts = SqlStoreOptions::default().with_acquire_timeout(Duration::from_secs(2));
        let err = SqlStore::connect(url, opts).await.unwrap_err();
        assert!(err.is_retryable(), "{url}: {err:?}");
        assert!(!err.to_string().contains(":p@"), "password leaked: {err}");
    }
    let err = SqlStore::connect("oracle://x", SqlStoreOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }));
}
