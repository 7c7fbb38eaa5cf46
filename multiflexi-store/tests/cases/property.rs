//! Round trip: any valid App / RunTemplate / Job written and read back is equal.

use crate::support::Ctx;
use chrono::{DateTime, Utc};
use multiflexi_core::lifecycle::{RetryBackoff, RetryPolicy};
use multiflexi_core::model::{
    ArtifactPattern, CatchupPolicy, Company, ConcurrencyPolicy, EnvFieldDef, EnvFieldType,
    Environment, ExitCodeInfo, JobSpec, LocalizedText, NewJob,
};
use multiflexi_core::schedule::IntervalCode;
use multiflexi_core::store::{Catalog, JobQueue};
use multiflexi_core::{App, ExecutorKind, RunTemplate, Trigger, to_micros};
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

/// Printable text in any script (no control characters: PostgreSQL text cannot hold NUL).
fn text() -> impl Strategy<Value = String> {
    "\\PC{0,12}( )?"
}

fn name() -> impl Strategy<Value = String> {
    "\\PC{1,12}( )?"
}

fn localized() -> impl Strategy<Value = LocalizedText> {
    btree_map("(en|cs|de|)", text(), 0..3).prop_map(LocalizedText)
}

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (946_684_800_000_000i64..4_102_444_800_000_000i64)
        .prop_map(|us| DateTime::from_timestamp_micros(us).unwrap())
}

fn env() -> impl Strategy<Value = Environment> {
    btree_map("[A-Za-z_][A-Za-z0-9_]{0,10}", (text(), any::<bool>()), 0..5).prop_map(|m| {
        let mut e = Environment::new();
        for (k, (v, secret)) in m {
            if secret {
                e.set_secret(k, v);
            } else {
                e.set(k, v);
            }
        }
        e
    })
}

fn field() -> impl Strategy<Value = EnvFieldDef> {
    (
        name(),
        proptest::sample::select(EnvFieldType::ALL.to_vec()),
        option::of(text()),
        any::<bool>(),
        any::<bool>(),
        localized(),
        localized(),
        vec((text(), text()), 0..3),
    )
        .prop_map(
            |(n, kind, default, required, secret, description, hint, options)| {
                let mut f = EnvFieldDef::new(n, kind);
                f.default = default;
                f.required = required;
                f.secret = secret;
                f.description = description;
                f.hint = hint;
                f.options = options;
                f
            },
        )
}

fn app() -> impl Strategy<Value = App> {
    (
        (localized(), localized(), option::of(text()), name(), text()),
        (option::of(text()), option::of(text()), option::of(text())),
        (vec(text(), 0..3), vec(text(), 0..3), vec(field(), 0..4)),
        vec((text(), text(), localized()), 0..3),
        btree_map(
            -1i32..300,
            (text(), option::of(text()), any::<bool>()),
            0..4,
        ),
        any::<bool>(),
    )
        .prop_map(
            |(
                (n, description, version, executable, cmdparams),
                (image, setup, homepage),
                (tags, requirements, environment),
                artifacts,
                codes,
                enabled,
            )| {
                let mut a = App::new("", executable);
                a.name = n;
                a.description = description;
                a.version = version;
                a.cmdparams = cmdparams;
                a.ociimage = image;
                a.setup = setup;
                a.homepage = homepage;
                a.tags = tags;
                a.requirements = requirements;
                a.environment = environment;
                a.artifacts = artifacts
                    .into_iter()
                    .map(|(path, kind, description)| {
                        let mut p = ArtifactPattern::new(path, kind);
                        p.description = description;
                        p
                    })
                    .collect();
                a.exit_codes = codes
                    .into_iter()
                    .map(|(code, (d, severity, retry))| {
                        let mut i = ExitCodeInfo::new(d, retry);
                        i.severity = severity;
                        (code, i)
                    })
                    .collect();
                a.enabled = enabled;
                a
            },
        )
}

fn template_parts() -> impl Strategy<Value = RunTemplate> {
    let interv = prop_oneof![
        proptest::sample::select(
            IntervalCode::ALL
                .into_iter()
                .filter(|c| *c != IntervalCode::Custom)
                .collect::<Vec<_>>()
        )
        .prop_map(|c| (c, None)),
        proptest::sample::select(vec!["*/5 * * * *", "30 2 * * *", "0 0 1 * *"])
            .prop_map(|c| (IntervalCode::Custom, Some(c.to_string()))),
    ];
    (
        (
            name(),
            interv,
            proptest::sample::select(vec!["UTC", "Europe/Prague", "America/New_York"]),
        ),
        (
            0u32..86_400,
            proptest::sample::select(ExecutorKind::ALL.to_vec()),
            any::<bool>(),
        ),
        (
            option::of(instant()),
            option::of(instant()),
            0u64..1_000_000_000_000,
            0u64..1_000_000_000_000,
        ),
        env(),
        (0u32..10, 0u32..3600, any::<bool>(), vec(-1i32..256, 0..4)),
        (option::of(1u32..100_000), option::of(1u32..100_000)),
        (
            proptest::sample::select(vec![
                ConcurrencyPolicy::Forbid,
                ConcurrencyPolicy::Allow,
                ConcurrencyPolicy::Replace,
            ]),
            proptest::sample::select(vec![CatchupPolicy::Skip, CatchupPolicy::Once]),
        ),
    )
        .prop_map(
            |(
                (n, (interv, cron), tz),
                (delay, executor, active),
                (next, last, ok, failed),
                config,
                (max, delay_s, expo, codes),
                (timeout, mem),
                (cp, cu),
            )| {
                let mut t =
                    RunTemplate::new(multiflexi_core::AppId(0), multiflexi_core::CompanyId(0), n);
                t.interv = interv;
                t.cron = cron;
                t.timezone = tz.to_string();
                t.delay = delay;
                t.executor = executor;
                t.active = active;
                t.next_schedule = next;
                t.last_schedule = last;
                t.successfull_jobs_count = ok;
                t.failed_jobs_count = failed;
                t.config = config;
                let mut r = RetryPolicy::new(max, delay_s);
                r.retry_backoff = if expo {
                    RetryBackoff::Exponential
                } else {
                    RetryBackoff::Fixed
                };
                r.retry_on_exit_codes = codes;
                t.retry = r;
                t.timeout = timeout;
                t.memory_limit_mb = mem;
                t.concurrency_policy = cp;
                t.catchup = cu;
                t
            },
        )
}

fn spec() -> impl Strategy<Value = JobSpec> {
    (
        name(),
        vec(text(), 0..5),
        env(),
        option::of(text()),
        option::of(1u32..100_000),
        option::of(1u32..100_000),
        vec(text(), 0..3),
        text(),
    )
        .prop_map(|(program, args, env, image, timeout, mem, artifacts, tz)| {
            let mut s = JobSpec::new(program, args);
            s.env = env;
            s.image = image;
            s.timeout = timeout;
            s.memory_limit_mb = mem;
            s.artifacts = artifacts;
            s.timezone = tz;
            s
        })
}

fn job_parts() -> impl Strategy<
    Value = (
        JobSpec,
        Trigger,
        Option<String>,
        Option<String>,
        DateTime<Utc>,
        ExecutorKind,
    ),
> {
    (
        spec(),
        proptest::sample::select(vec![Trigger::Manual, Trigger::Api, Trigger::Cli]),
        option::of(text()),
        option::of(text()),
        instant(),
        proptest::sample::select(ExecutorKind::ALL.to_vec()),
    )
}

fn sample<S: Strategy>(runner: &mut TestRunner, s: &S) -> S::Value {
    s.new_tree(runner).expect("a value").current()
}

pub async fn round_trip_property(ctx: &Ctx) {
    let cases: usize = std::env::var("MULTIFLEXI_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let s = ctx.store().await;
    let company = s.create_company(&Company::new("Prop")).await.unwrap();
    let mut runner = TestRunner::deterministic();
    let (apps, templates, jobs) = (app(), template_parts(), job_parts());
    for i in 0..cases {
        // App
        let mut a = sample(&mut runner, &apps);
        a.uuid = Some(format!("uuid-{i}"));
        let stored = s.put_app(&a).await.unwrap();
        let back = s.get_app(stored.id).await.unwrap();
        assert_eq!(back, stored, "app read back differs");
        let mut expected = a.clone();
        expected.id = stored.id;
        expected.created = stored.created;
        expected.updated = stored.updated;
        assert_eq!(stored, expected, "stored app differs from the input");

        // RunTemplate
        let mut t = sample(&mut runner, &templates);
        t.app_id = stored.id;
        t.company_id = company.id;
        let created = s.create_runtemplate(&t).await.unwrap();
        let back = s.get_runtemplate(created.id).await.unwrap();
        assert_eq!(back, created, "template read back differs");
        let mut expected = t.clone();
        expected.id = created.id;
        expected.created = created.created;
        expected.updated = created.updated;
        assert_eq!(created, expected, "stored template differs from the input");

        // Job
        let (spec, trigger, launched_by, key, after, executor) = sample(&mut runner, &jobs);
        let mut n = NewJob::new(
            created.id,
            company.id,
            stored.id,
            executor,
            spec.clone(),
            trigger,
            after,
        );
        n.launched_by = launched_by.clone();
        n.idempotency_key = key.map(|k| format!("{i}-{k}"));
        n.trace_context = Some(format!("00-{i}-01"));
        let job = s.create_and_schedule(&n).await.unwrap();
        let back = s.get_job(job.id).await.unwrap();
        assert_eq!(back, job, "job read back differs");
        assert_eq!(job.spec, spec);
        assert_eq!(job.after, to_micros(after));
        assert_eq!(
            (
                job.trigger,
                job.launched_by.clone(),
                job.idempotency_key.clone(),
                job.executor
            ),
            (trigger, launched_by, n.idempotency_key.clone(), executor)
        );
    }
}
