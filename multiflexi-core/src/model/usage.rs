//! What a job used while it ran (issue 25): peak memory, CPU time, whether its memory limit was
//! hit — or why the executor could not tell.

use serde::{Deserialize, Serialize};

/// A finished job's resource usage, as its executor measured it.
///
/// Every field is `None` for a job that has not finished, and for one whose executor cannot
/// measure it; [`ResourceUsage::unknown_reason`] then says why (for example "the Azure executor
/// has no access to the container's cgroup").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResourceUsage {
    /// Peak memory, bytes (the job's cgroup `memory.peak`, or its process tree's peak RSS).
    #[serde(default)]
    pub peak_memory_bytes: Option<u64>,
    /// CPU time used, user + system, milliseconds.
    #[serde(default)]
    pub cpu_time_ms: Option<u64>,
    /// Whether the job was killed for exceeding its memory limit.
    #[serde(default)]
    pub memory_limit_hit: Option<bool>,
    /// Why the figures above are missing, when they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_reason: Option<String>,
}

impl ResourceUsage {
    /// Measured figures.
    pub fn measured(
        peak_memory_bytes: Option<u64>,
        cpu_time_ms: Option<u64>,
        memory_limit_hit: bool,
    ) -> Self {
        Self {
            peak_memory_bytes,
            cpu_time_ms,
            memory_limit_hit: Some(memory_limit_hit),
            unknown_reason: None,
        }
    }

    /// No figures, and why.
    pub fn unknown(reason: impl Into<String>) -> Self {
        Self {
            unknown_reason: Some(reason.into()),
            ..Self::default()
        }
    }

    /// Nothing recorded (a job that has not finished, or ended before it ran).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// One line for people: `peak memory 41.0 MiB, CPU time 1.234 s, memory limit not hit`, or
    /// `not measured: <reason>`; empty when nothing was recorded.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(b) = self.peak_memory_bytes {
            parts.push(format!(
                "peak memory {:.1} MiB",
                b as f64 / (1024.0 * 1024.0)
            ));
        }
        if let Some(ms) = self.cpu_time_ms {
            parts.push(format!("CPU time {:.3} s", ms as f64 / 1000.0));
        }
        match self.memory_limit_hit {
            Some(true) => parts.push("memory limit hit".into()),
            Some(false) => parts.push("memory limit not hit".into()),
            None => {}
        }
        match (&self.unknown_reason, parts.is_empty()) {
            (Some(why), true) => format!("not measured: {why}"),
            (Some(why), false) => format!("{} ({why})", parts.join(", ")),
            (None, _) => parts.join(", "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_figures_or_the_reason() {
        let used = ResourceUsage::measured(Some(43_008 * 1024), Some(1_234), false);
        assert_eq!(
            used.describe(),
            "peak memory 42.0 MiB, CPU time 1.234 s, memory limit not hit"
        );
        assert_eq!(
            ResourceUsage::unknown("no metrics API").describe(),
            "not measured: no metrics API"
        );
        assert_eq!(ResourceUsage::default().describe(), "");
    }
}
