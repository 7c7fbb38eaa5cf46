//! Micro-benchmarks of the pure lifecycle pieces and the in-memory store's hot path.
//!
//! `cargo bench -p multiflexi-benches --bench core`

use chrono::{TimeZone, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use multiflexi_core::environment::{EnvSources, assemble};
use multiflexi_core::lifecycle::Outcome;
use multiflexi_core::model::{EnvFieldDef, EnvFieldType, JobSpec, NewJob};
use multiflexi_core::schedule::{IntervalCode, Schedule};
use multiflexi_core::store::{Begin, Catalog, ClaimOptions, Completion, JobQueue, LeaseRef};
use multiflexi_core::{
    App, Company, Credential, Environment, Event, ExecutorKind, InMemoryStore, Phase, RunTemplate,
    Trigger,
};
use std::hint::black_box;
use std::sync::Arc;

fn phase_apply(c: &mut Criterion) {
    c.bench_function("Phase::apply straight line", |b| {
        b.iter(|| {
            let mut p = Phase::Created;
            for e in [
                Event::Schedule,
                Event::Claim,
                Event::Start,
                Event::Complete(Outcome::Success),
                Event::Preserve,
            ] {
                p = black_box(p).apply(black_box(e)).unwrap().to;
            }
            p
        })
    });
}

fn next_slot(c: &mut Criterion) {
    let from = Utc.with_ymd_and_hms(2026, 10, 24, 12, 0, 0).unwrap();
    for (name, interv, cron, tz) in [
        ("interval h UTC", IntervalCode::Hourly, None, "UTC"),
        (
            "interval d Prague",
            IntervalCode::Daily,
            None,
            "Europe/Prague",
        ),
        (
            "cron 30 2 * * * Prague",
            IntervalCode::Custom,
            Some("30 2 * * *"),
            "Europe/Prague",
        ),
        (
            "cron */15 9-17 * * 1-5 New_York",
            IntervalCode::Custom,
            Some("*/15 9-17 * * 1-5"),
            "America/New_York",
        ),
    ] {
        let schedule = Schedule::new(interv, cron, tz, 0).unwrap();
        c.bench_function(&format!("next_after 100x: {name}"), |b| {
            b.iter(|| {
                let mut t = from;
                for _ in 0..100 {
                    t = schedule.next_after(black_box(t)).unwrap();
                }
                t
            })
        });
    }
}

fn env_assembly(c: &mut Criterion) {
    let mut app = App::new("fifty", "/usr/bin/fifty");
    for i in 0..50 {
        let kind = if i % 10 == 0 {
            EnvFieldType::Password
        } else {
            EnvFieldType::String
        };
        app = app.with_field(
            EnvFieldDef::new(format!("FIELD_{i:02}"), kind).with_default(format!("default-{i}")),
        );
    }
    let mut company = Company::new("Bench Co");
    for i in 0..10 {
        company
            .environment
            .set(format!("FIELD_{i:02}"), format!("company-{i}"));
    }
    let credentials: Vec<Credential> = Vec::new();
    let mut template = RunTemplate::new(app.id, company.id, "bench");
    for i in 10..20 {
        template
            .config
            .set(format!("FIELD_{i:02}"), format!("template-{i}"));
    }
    let one_off = Environment::new().with("FIELD_49", "one-off");
    c.bench_function("environment::assemble 50 fields", |b| {
        b.iter(|| {
            assemble(black_box(&EnvSources::new(
                &app,
                &company,
                &credentials,
                &template,
                &one_off,
            )))
            .unwrap()
        })
    });
}

fn memory_claim_complete(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for batch in [1usize, 16, 100] {
        c.bench_function(
            &format!("InMemoryStore create+claim+begin+complete+preserve batch {batch}"),
            |b| {
                b.to_async(&rt).iter_batched(
                    || {
                        let store = Arc::new(InMemoryStore::new());
                        let spec = JobSpec::new("/bin/true", vec![]);
                        (store, spec)
                    },
                    |(store, spec)| async move {
                        let app = store.put_app(&App::new("a", "/bin/true")).await.unwrap();
                        let company = store.create_company(&Company::new("c")).await.unwrap();
                        let t = store
                            .create_runtemplate(&RunTemplate::new(app.id, company.id, "t"))
                            .await
                            .unwrap();
                        let now = Utc::now();
                        for _ in 0..batch {
                            let job = NewJob::new(
                                t.id,
                                company.id,
                                app.id,
                                ExecutorKind::Native,
                                spec.clone(),
                                Trigger::Api,
                                now,
                            );
                            store.create_and_schedule(&job).await.unwrap();
                        }
                        let jobs = store
                            .claim(&ClaimOptions::new(
                                "bench",
                                vec![ExecutorKind::Native],
                                batch,
                            ))
                            .await
                            .unwrap();
                        let begins: Vec<Begin> = jobs
                            .iter()
                            .map(|j| Begin::new(LeaseRef::of(j), None, None))
                            .collect();
                        store.begin_many(&begins).await.unwrap();
                        let completions: Vec<Completion> = jobs
                            .iter()
                            .map(|j| Completion::new(LeaseRef::of(j), Outcome::Success, 0))
                            .collect();
                        store.complete_many(&completions).await.unwrap();
                        for j in &jobs {
                            store.mark_preserved(LeaseRef::of(j)).await.unwrap();
                        }
                        black_box(jobs.len())
                    },
                    BatchSize::SmallInput,
                )
            },
        );
    }
}

criterion_group!(
    benches,
    phase_apply,
    next_slot,
    env_assembly,
    memory_claim_complete
);
criterion_main!(benches);
