//! Embeds the multiflexi engine with the in-memory store and a scripted executor, and prints
//! every phase change of every job.
//!
//! Run it with `cargo run -p multiflexi-examples --bin embed`.

use multiflexi_core::engine::{Dispatcher, DispatcherOptions, JobRequest, Shutdown, create_job};
use multiflexi_core::executor::FakeRun;
use multiflexi_core::lifecycle::RetryPolicy;
use multiflexi_core::store::{Catalog, JobQueue};
use multiflexi_core::telemetry::PhaseEvent;
use multiflexi_core::{
    App, ArtifactSink, Clock, Company, ExecutorKind, FakeExecutor, InMemoryStore, Phase,
    RunTemplate, Store, SystemClock, Telemetry, Trigger,
};
use std::sync::Arc;
use std::time::Duration;

/// Prints one line per phase change.
#[derive(Debug)]
struct PrintPhases;

impl Telemetry for PrintPhases {
    fn event(&self, e: &PhaseEvent) {
        let outcome = e
            .outcome
            .map(|o| format!(" {o} (exit {})", e.exitcode.unwrap_or_default()))
            .unwrap_or_default();
        println!(
            "job {:>2} template {} attempt {} {:<9}{outcome}",
            e.job_id, e.runtemplate_id, e.attempt, e.phase
        );
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = Arc::new(InMemoryStore::new());
    let app = store
        .put_app(&App::new("greeter", "/usr/bin/greet").with_cmdparams("--name {WHO}"))
        .await?;
    let company = store.create_company(&Company::new("Example Co")).await?;
    let mut template =
        RunTemplate::new(app.id, company.id, "greet the world").with_retry(RetryPolicy::new(1, 0));
    template.config.set("WHO", "world");
    let template = store.create_runtemplate(&template).await?;

    // The scripted executor: the first job prints a greeting, the second fails once with a
    // platform error (and is retried), the third exits 3.
    let executor = FakeExecutor::new(ExecutorKind::Native, |spec| match spec.job_id.get() {
        1 => FakeRun::exit(0).print(format!("hello {}\n", spec.args.join(" "))),
        2 => FakeRun::platform_error(),
        3 => FakeRun::exit(3).eprint("something went wrong\n"),
        _ => FakeRun::exit(0).print("retried fine\n"),
    });

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let telemetry: Arc<dyn Telemetry> = Arc::new(PrintPhases);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let job = create_job(
            &*store,
            &*clock,
            &*telemetry,
            JobRequest::ad_hoc(template.id, Trigger::Manual),
        )
        .await?;
        ids.push(job.id);
    }

    let store_dyn: Arc<dyn Store> = store.clone();
    let artifacts: Arc<dyn ArtifactSink> = store.clone();
    let dispatcher = Dispatcher::new(
        store_dyn.clone(),
        artifacts.clone(),
        vec![Arc::new(executor)],
        telemetry,
        clock,
        DispatcherOptions::new("example", 2),
    );
    let shutdown = Shutdown::new();
    let run = tokio::spawn({
        let (d, s) = (dispatcher.clone(), shutdown.clone());
        async move { d.run(s).await }
    });
    // Wait until the three jobs and the retry are preserved.
    loop {
        let overview = store.queue_overview().await?;
        if overview.preserved >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.drain();
    run.await??;

    for id in ids {
        let job = store.get_job(id).await?;
        assert_eq!(job.phase, Phase::Preserved);
        for meta in artifacts.list(id).await? {
            let content = artifacts.get(meta.id).await?.content;
            println!(
                "job {id} {}: {:?}",
                meta.filename,
                String::from_utf8_lossy(&content)
            );
        }
    }
    Ok(())
}
