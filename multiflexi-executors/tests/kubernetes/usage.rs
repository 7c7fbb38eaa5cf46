//! The reason a Kubernetes job's usage is unknown follows what the cluster offers: no metrics
//! API, or one that has no peak or total of a finished pod.

use super::setup_full;
use crate::fake_kube::FakeOptions;
use multiflexi_core::conformance::executor::{RecordingIo, run};
use multiflexi_executors::{KUBERNETES_METRICS_API_SAMPLES_ONLY, KUBERNETES_NO_METRICS_API};

async fn reason_with(metrics_api: bool) -> Option<String> {
    let options = FakeOptions {
        metrics_api,
        ..FakeOptions::default()
    };
    let case = if metrics_api {
        "usage_metrics_api"
    } else {
        "usage_no_metrics_api"
    };
    let (exec, _backend, programs) = setup_full(case, options, |c| c).await?;
    let io = RecordingIo::new();
    let report = run(&*exec, &programs.script("echo hi"), &io).await;
    assert_eq!(report.exitcode(), 0, "{report:?}");
    assert_eq!((report.peak_rss_bytes, report.cpu_time), (None, None));
    multiflexi_core::conformance::executor::finish(&programs).await;
    report.usage_unknown
}

#[tokio::test]
async fn usage_unknown_says_the_cluster_has_no_metrics_api() {
    if let Some(reason) = reason_with(false).await {
        assert_eq!(reason, KUBERNETES_NO_METRICS_API);
    }
}

#[tokio::test]
async fn usage_unknown_says_what_the_metrics_api_lacks() {
    if let Some(reason) = reason_with(true).await {
        assert_eq!(reason, KUBERNETES_METRICS_API_SAMPLES_ONLY);
    }
}
