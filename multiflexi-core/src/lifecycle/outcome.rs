use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How a Completed job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Exit code 0.
    Success,
    /// Exit code 1: minor issues, check logs.
    Warning,
    /// Any other non-zero exit code.
    Failed,
    /// Exit code 126: permission denied / not executable.
    NotExecutable,
    /// Exit code 127: command or binary not found.
    NotFound,
    /// Killed because it ran past its timeout.
    Timeout,
    /// Cancelled by an operator (or replaced).
    Cancelled,
    /// Killed for exceeding its memory limit.
    Oom,
    /// Killed for using up its CPU-time limit (`cpu_seconds`).
    CpuLimit,
    /// Its lease expired: the executor running it died or lost contact.
    Lost,
    /// The platform failed (engine or API unreachable, image missing…).
    PlatformError,
}

impl Outcome {
    /// Every outcome, in declaration order.
    pub const ALL: [Outcome; 11] = [
        Outcome::Success,
        Outcome::Warning,
        Outcome::Failed,
        Outcome::NotExecutable,
        Outcome::NotFound,
        Outcome::Timeout,
        Outcome::Cancelled,
        Outcome::Oom,
        Outcome::CpuLimit,
        Outcome::Lost,
        Outcome::PlatformError,
    ];

    /// The outcome of a process that exited with `code` (§9 of the architecture).
    pub fn from_exit_code(code: i32) -> Outcome {
        match code {
            0 => Outcome::Success,
            1 => Outcome::Warning,
            126 => Outcome::NotExecutable,
            127 => Outcome::NotFound,
            -1 => Outcome::PlatformError,
            _ => Outcome::Failed,
        }
    }

    /// The stable lower-case name used in storage, JSON and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Warning => "warning",
            Outcome::Failed => "failed",
            Outcome::NotExecutable => "not_executable",
            Outcome::NotFound => "not_found",
            Outcome::Timeout => "timeout",
            Outcome::Cancelled => "cancelled",
            Outcome::Oom => "oom",
            Outcome::CpuLimit => "cpu_limit",
            Outcome::Lost => "lost",
            Outcome::PlatformError => "platform_error",
        }
    }

    /// Whether the template's success counter (rather than the failure counter) is incremented.
    pub fn counts_as_success(self) -> bool {
        self == Outcome::Success
    }

    /// Outcomes that carry exit code -1 (the seed's "Retry" class).
    pub fn is_platform_class(self) -> bool {
        matches!(self, Outcome::Lost | Outcome::PlatformError)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Outcome {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| {
                crate::Error::invalid(
                    "outcome",
                    format!(
                        "{s:?} is not an outcome; allowed: {}",
                        Outcome::ALL.map(|o| o.as_str()).join(", ")
                    ),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_map_to_outcomes() {
        assert_eq!(Outcome::from_exit_code(0), Outcome::Success);
        assert_eq!(Outcome::from_exit_code(1), Outcome::Warning);
        assert_eq!(Outcome::from_exit_code(2), Outcome::Failed);
        assert_eq!(Outcome::from_exit_code(255), Outcome::Failed);
        assert_eq!(Outcome::from_exit_code(126), Outcome::NotExecutable);
        assert_eq!(Outcome::from_exit_code(127), Outcome::NotFound);
        assert_eq!(Outcome::from_exit_code(-1), Outcome::PlatformError);
    }

    #[test]
    fn names_round_trip() {
        for o in Outcome::ALL {
            assert_eq!(o.as_str().parse::<Outcome>().unwrap(), o);
            assert_eq!(
                serde_json::to_string(&o).unwrap(),
                format!("\"{}\"", o.as_str())
            );
        }
        let err = "weird".parse::<Outcome>().unwrap_err().to_string();
        assert!(err.contains("allowed: success, warning"), "{err}");
    }
}
