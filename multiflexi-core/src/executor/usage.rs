//! An [`ExitReport`]'s measurements as the job's [`ResourceUsage`].

use super::ExitReport;
use crate::model::ResourceUsage;

impl ExitReport {
    /// What the job used, as stored with its completion: the measured figures, or — when the
    /// executor measured nothing — the reason it gave (or that it gave none).
    pub fn resource_usage(&self) -> ResourceUsage {
        if self.peak_rss_bytes.is_none() && self.cpu_time.is_none() {
            return ResourceUsage::unknown(
                self.usage_unknown
                    .as_deref()
                    .unwrap_or("the executor reported no resource usage"),
            );
        }
        ResourceUsage::measured(
            self.peak_rss_bytes,
            self.cpu_time
                .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
            self.oom,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn measured_figures_carry_over_in_bytes_and_milliseconds() {
        let mut report = ExitReport::exited(0);
        report.peak_rss_bytes = Some(40 << 20);
        report.cpu_time = Some(Duration::from_micros(1_234_567));
        report.oom = true;
        let usage = report.resource_usage();
        assert_eq!(usage.peak_memory_bytes, Some(40 << 20));
        assert_eq!(usage.cpu_time_ms, Some(1_234));
        assert_eq!(usage.memory_limit_hit, Some(true));
        assert_eq!(usage.unknown_reason, None);
    }

    #[test]
    fn the_executors_reason_is_kept() {
        let mut report = ExitReport::exited(0);
        report.set_usage_unknown("the cluster has no metrics API");
        assert_eq!(
            report.resource_usage(),
            ResourceUsage::unknown("the cluster has no metrics API")
        );
    }

    #[test]
    fn no_figures_say_so() {
        let usage = ExitReport::exited(0).resource_usage();
        assert_eq!(usage.peak_memory_bytes, None);
        assert_eq!(usage.memory_limit_hit, None);
        assert!(usage.unknown_reason.is_some());
    }
}
