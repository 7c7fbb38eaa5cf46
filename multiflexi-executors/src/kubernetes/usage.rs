//! Why a Kubernetes job's resource usage is unknown, by what the cluster offers.
//!
//! The metrics API (`metrics.k8s.io`, served by metrics-server where it is installed) gives a
//! running pod's current working set and its CPU rate averaged over a window, scraped every
//! 15 s or so, and nothing once the pod ended: neither a job's peak memory nor its CPU time.
//! The kubelet's summary (`nodes/{node}/proxy/stats/summary`) has cumulative CPU time but only
//! while the container runs, and reading it needs the `nodes/proxy` permission, which amounts
//! to control of the node. So the executor reports no figures, and says which of these holds.

use super::error::status_code;
use kube::Client;

/// The metrics API's group and version.
pub const METRICS_API: &str = "metrics.k8s.io/v1beta1";

/// The reason when the cluster serves no metrics API.
pub const NO_METRICS_API: &str = "the cluster has no metrics API (metrics.k8s.io): nothing \
    there measures a pod's memory or CPU time";

/// The reason when it serves one.
pub const METRICS_API_SAMPLES_ONLY: &str = "the cluster's metrics API (metrics.k8s.io) gives \
    only a running pod's current working set and CPU rate, sampled every 15 s or so, and \
    nothing once it ended: no peak memory or CPU time of a job";

/// What the cluster offers, as the reason a job's usage is unknown; `Err` (a reason too, not
/// to be kept) when the API server could not be asked.
pub async fn reason(client: &Client) -> Result<&'static str, String> {
    match client.list_api_group_resources(METRICS_API).await {
        Ok(_) => Ok(METRICS_API_SAMPLES_ONLY),
        Err(e) if status_code(&e) == Some(404) => Ok(NO_METRICS_API),
        Err(e) => Err(format!(
            "could not ask the cluster whether it has a metrics API ({METRICS_API}): {e}"
        )),
    }
}
