//! The browser test of the trends (issue 25): a run template with twelve days of jobs shows
//! its charts, and the numbers in the table views equal the jobs' own records; the overview
//! charts jobs per hour. Screenshots: `trends-template.png`, `trends-overview.png`.

use super::{browser_paths, company, save_screenshot, start_chromedriver};
use crate::server;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use fantoccini::{ClientBuilder, Locator};
use multiflexi_core::engine::{JobRequest, create_job};
use multiflexi_core::model::ResourceUsage;
use multiflexi_core::store::{
    Begin, Catalog, ClaimOptions, Completion, JobFilter, JobQueue, LeaseRef,
};
use multiflexi_core::telemetry::NoopTelemetry;
use multiflexi_core::{App, Job, JobId, ManualClock, Outcome, RunTemplate, Trigger};
use multiflexi_store::{MasterKey, SqlStore, SqlStoreOptions};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One job through the lifecycle on the store's manual clock: waits `wait_ms`, runs `run_ms`.
async fn run_job(
    store: &SqlStore,
    clock: &ManualClock,
    t: &RunTemplate,
    wait_ms: i64,
    run_ms: i64,
    (exit, memory): (i32, u64),
) -> JobId {
    let job = create_job(
        store,
        clock,
        &NoopTelemetry,
        JobRequest::ad_hoc(t.id, Trigger::Cli),
    )
    .await
    .unwrap();
    clock.advance(Duration::milliseconds(wait_ms));
    let claimed = store
        .claim(&ClaimOptions::new("exec-1", vec![job.executor], 1))
        .await
        .unwrap();
    assert_eq!(claimed[0].id, job.id);
    let lease = LeaseRef::of(&claimed[0]);
    store
        .begin_many(&[Begin::new(lease, Some(4242), None)])
        .await
        .unwrap()[0]
        .as_ref()
        .unwrap();
    clock.advance(Duration::milliseconds(run_ms));
    let outcome = match exit {
        137 => Outcome::Timeout,
        code => Outcome::from_exit_code(code),
    };
    let mut done = Completion::new(lease, outcome, exit);
    done.usage = ResourceUsage::measured(Some(memory), Some(run_ms as u64 / 2), false);
    store.complete_many(&[done]).await.unwrap()[0]
        .as_ref()
        .unwrap();
    job.id
}

const MIB: f64 = 1024.0 * 1024.0;

fn secs(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap() as f64 / 1e6
}

/// PostgreSQL's percentile_cont, for the check.
fn pct(sorted: &[f64], p: f64) -> f64 {
    let pos = p * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - pos.floor())
}

/// Checks a table cell `p50 / p90 / p99` against the percentiles of `v`: each shown number is
/// the exact one rounded to `decimals` (within half a unit of the last digit).
fn expect_spread(shown: &str, mut v: Vec<f64>, decimals: i32, what: &str) {
    v.sort_by(f64::total_cmp);
    let got: Vec<f64> = shown
        .split(" / ")
        .map(|x| {
            x.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{what}: {shown:?}"))
        })
        .collect();
    let want = [pct(&v, 0.5), pct(&v, 0.9), pct(&v, 0.99)];
    assert_eq!(got.len(), 3, "{what}: {shown:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= 0.5 * 10f64.powi(-decimals) + 1e-9,
            "{what}: shown {shown:?}, the jobs say {want:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_template_trends_equal_the_jobs_records() {
    let Some((driver_path, chromium)) = browser_paths() else {
        return;
    };
    // Twelve days of history, ending a few minutes ago (the pages' windows are real time).
    let now = Utc::now();
    let clock = Arc::new(ManualClock::new(now - Duration::days(12)));
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("multiflexi.sqlite").display()
    );
    let store = Arc::new(
        SqlStore::connect(
            &url,
            SqlStoreOptions::default()
                .with_master_key(MasterKey::generate())
                .with_clock(clock.clone()),
        )
        .await
        .unwrap(),
    );
    let srv = server::start_on(store.clone(), dir).await;
    let acme = company(&store, "Acme s.r.o.").await;
    let app = store
        .put_app(&App::new("Bank statements import", "/usr/bin/true"))
        .await
        .unwrap();
    let mut t = RunTemplate::new(app.id, acme.id, "Nightly import");
    t.timeout = Some(120);
    t.memory_limit_mb = Some(256);
    let t = store.create_runtemplate(&t).await.unwrap();
    let exits = [0, 0, 0, 1, 0, 2, 0, 0, 127, 0, 137, 0];
    let mut k = 0i64;
    for day in 0..12 {
        clock.set(now - Duration::days(12 - day) + Duration::hours(2));
        for _ in 0..(2 + day % 3) {
            let run_ms = 20_000 + (k * 7_919) % 60_000 + day * 2_500;
            let wait_ms = 300 + (k * 3_571) % 9_000;
            let memory = ((90 + (k * 37) % 120 + day * 4) as u64) << 20;
            let end = (exits[(k % 12) as usize], memory);
            run_job(&store, &clock, &t, wait_ms, run_ms, end).await;
            clock.advance(Duration::minutes(47));
            k += 1;
        }
    }
    // A few in the last hours, for the overview's jobs per hour.
    clock.set(now - Duration::hours(5));
    for exit in [0, 0, 1, 0, 2, 0] {
        let end = (exit, (150 + k as u64) << 20);
        run_job(&store, &clock, &t, 1_200, 30_000 + k * 100, end).await;
        clock.advance(Duration::minutes(40));
        k += 1;
    }
    clock.set(now);

    let mut f = JobFilter::default();
    f.runtemplate_id = Some(t.id);
    f.limit = Some(1000);
    let jobs: Vec<Job> = store.list_jobs(&f).await.unwrap();
    let by_id: BTreeMap<JobId, &Job> = jobs.iter().map(|j| (j.id, j)).collect();

    let work = tempfile::tempdir().unwrap();
    let driver = start_chromedriver(&driver_path, &work.path().join("chromedriver.log")).await;
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,1000", "--hide-scrollbars",
                format!("--user-data-dir={}", work.path().join("profile").display()),
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let browser = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .unwrap_or_else(|e| panic!("cannot start a Chromium session: {e}"));

    let outcome = async {
        browser.goto(&format!("{}/login", srv.base)).await?;
        browser
            .find(Locator::Css("#token"))
            .await?
            .send_keys(&srv.admin_token)
            .await?;
        browser
            .find(Locator::Css("form[action='/login'] button[type=submit]"))
            .await?
            .click()
            .await?;
        browser.wait().for_element(Locator::Css("#recent")).await?;
        // The overview: jobs per hour, 24 columns, the last hours' jobs in them.
        let hourly = browser.find(Locator::Css("svg#chart-hourly")).await?;
        assert_eq!(hourly.attr("role").await?.as_deref(), Some("img"));
        let columns = browser
            .find_all(Locator::Css("svg#chart-hourly g[data-column]"))
            .await?;
        assert_eq!(columns.len(), 24);
        let mut charted = 0u64;
        for c in &columns {
            charted += c.attr("data-total").await?.unwrap().parse::<u64>().unwrap();
        }
        let day_ago = now - Duration::hours(24);
        let recent = jobs
            .iter()
            .filter(|j| j.end.is_some_and(|e| e >= day_ago))
            .count();
        assert_eq!(
            charted, recent as u64,
            "jobs per hour add up to the last day's jobs"
        );
        browser
            .execute("document.getElementById('hourly').scrollIntoView()", vec![])
            .await?;
        save_screenshot("trends-overview.png", &browser.screenshot().await?);

        // The template's page: every chart, titled.
        browser
            .goto(&format!("{}/runtemplates/{}", srv.base, t.id))
            .await?;
        browser.wait().for_element(Locator::Css("#trends")).await?;
        for (id, title) in [
            ("chart-last-duration", "Run time of the last jobs"),
            ("chart-last-wait", "Queue wait of the last jobs"),
            ("chart-last-memory", "Peak memory of the last jobs"),
            ("chart-day-outcomes", "Jobs per day by exit-code class"),
            ("chart-day-duration", "Run time per day"),
            ("chart-day-wait", "Queue wait per day"),
            ("chart-day-memory", "Peak memory per day"),
        ] {
            let svg = browser.find(Locator::Css(&format!("svg#{id}"))).await?;
            assert_eq!(
                svg.attr("aria-labelledby").await?.unwrap_or_default(),
                format!("{id}-title {id}-desc")
            );
            let shown = browser
                .find(Locator::Css(&format!("svg#{id} title#{id}-title")))
                .await?
                .prop("textContent")
                .await?;
            assert_eq!(shown.as_deref(), Some(title));
        }
        // The template's limits are drawn in.
        browser
            .find(Locator::Css(
                "svg#chart-last-duration .limit[data-limit='120']",
            ))
            .await?;
        browser
            .find(Locator::Css(
                "svg#chart-day-memory .limit[data-limit='256']",
            ))
            .await?;

        // The last jobs' table: each row is the job's own record; one bar per row.
        let rows = browser
            .find_all(Locator::Css("#trend-last tbody tr"))
            .await?;
        assert_eq!(rows.len(), 30);
        for chart in [
            "chart-last-duration",
            "chart-last-wait",
            "chart-last-memory",
        ] {
            let bars = browser
                .find_all(Locator::Css(&format!("svg#{chart} rect")))
                .await?;
            assert_eq!(bars.len(), rows.len(), "{chart}: one bar per job");
        }
        let mut newest: Vec<&Job> = jobs.iter().collect();
        newest.sort_by_key(|j| std::cmp::Reverse((j.end, j.id)));
        for (row, want) in rows.iter().zip(&newest) {
            let id: i64 = row.attr("data-job-id").await?.unwrap().parse().unwrap();
            assert_eq!(JobId(id), want.id, "newest first");
            let j = by_id[&JobId(id)];
            let cell = |c: &'static str| async move {
                row.find(Locator::Css(c))
                    .await?
                    .prop("textContent")
                    .await
                    .map(|t| t.unwrap_or_default())
            };
            assert_eq!(cell("td.exitcode").await?, j.exitcode.unwrap().to_string());
            assert_eq!(
                cell("td.duration").await?,
                format!("{:.3}", secs(j.begin.unwrap(), j.end.unwrap())),
                "job {id}"
            );
            assert_eq!(
                cell("td.memory").await?,
                format!("{:.1}", j.usage.peak_memory_bytes.unwrap() as f64 / MIB),
                "job {id}"
            );
            assert_eq!(
                cell("td.wait").await?,
                format!("{:.3}", secs(j.after.max(j.created), j.begin.unwrap())),
                "job {id}"
            );
        }

        // The per-day table: counts and percentiles from the jobs of that day.
        let mut days: BTreeMap<NaiveDate, Vec<&Job>> = BTreeMap::new();
        for j in &jobs {
            days.entry(j.end.unwrap().date_naive()).or_default().push(j);
        }
        let rows = browser
            .find_all(Locator::Css("#trend-days tbody tr"))
            .await?;
        assert_eq!(rows.len(), days.len());
        for row in &rows {
            let day: NaiveDate = row.attr("data-day").await?.unwrap().parse().unwrap();
            let of_day = &days[&day];
            let text = |c: &'static str| async move {
                row.find(Locator::Css(c))
                    .await?
                    .prop("textContent")
                    .await
                    .map(|t| t.unwrap_or_default())
            };
            assert_eq!(text("td.jobs").await?, of_day.len().to_string(), "{day}");
            let runs = of_day
                .iter()
                .map(|j| secs(j.begin.unwrap(), j.end.unwrap()))
                .collect();
            expect_spread(
                &text("td.duration").await?,
                runs,
                3,
                &format!("run time on {day}"),
            );
            let waits = of_day
                .iter()
                .map(|j| secs(j.after.max(j.created), j.begin.unwrap()))
                .collect();
            expect_spread(
                &text("td.wait").await?,
                waits,
                3,
                &format!("queue wait on {day}"),
            );
            let memory = of_day
                .iter()
                .map(|j| j.usage.peak_memory_bytes.unwrap() as f64 / MIB)
                .collect();
            expect_spread(
                &text("td.memory").await?,
                memory,
                1,
                &format!("peak memory on {day}"),
            );
        }
        // The outcome columns add up to the jobs of each day.
        let columns = browser
            .find_all(Locator::Css("svg#chart-day-outcomes g[data-column]"))
            .await?;
        let mut total = 0u64;
        for c in &columns {
            total += c.attr("data-total").await?.unwrap().parse::<u64>().unwrap();
        }
        assert_eq!(total, jobs.len() as u64);

        browser.set_window_size(1280, 1500).await?;
        browser
            .execute("document.getElementById('trends').scrollIntoView()", vec![])
            .await?;
        save_screenshot("trends-template.png", &browser.screenshot().await?);
        Ok::<(), fantoccini::error::CmdError>(())
    }
    .await;
    let _ = browser.close().await;
    drop(driver);
    if let Err(e) = outcome {
        panic!("browser test failed: {e}");
    }
}
