use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What created a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The scheduler found a slot due.
    Schedule,
    /// "Execute now" in the dashboard, or `job:retry`.
    Manual,
    /// `POST /api/.../job/`.
    Api,
    /// `multiflexi-cli job:create`.
    Cli,
    /// The retry rule after a failed attempt (or a `retry_later` action).
    Retry,
    /// A `launch` action of another job's template.
    Chained,
}

impl Trigger {
    /// Every trigger.
    pub const ALL: [Trigger; 6] = [
        Trigger::Schedule,
        Trigger::Manual,
        Trigger::Api,
        Trigger::Cli,
        Trigger::Retry,
        Trigger::Chained,
    ];

    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
            Trigger::Api => "api",
            Trigger::Cli => "cli",
            Trigger::Retry => "retry",
            Trigger::Chained => "chained",
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Trigger {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Trigger::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                crate::Error::invalid(
                    "trigger",
                    format!("{s:?} is not a trigger; allowed: schedule, manual, api, cli, retry, chained"),
                )
            })
    }
}
