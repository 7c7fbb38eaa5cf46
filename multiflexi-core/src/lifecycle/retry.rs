use super::Outcome;
use crate::model::ExitCodeInfo;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// How the delay between attempts grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryBackoff {
    /// The same `retry_delay` every time.
    #[default]
    Fixed,
    /// `retry_delay × 2^(attempt-1)` for the retry's attempt number.
    Exponential,
}

impl RetryBackoff {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            RetryBackoff::Fixed => "fixed",
            RetryBackoff::Exponential => "exponential",
        }
    }
}

impl fmt::Display for RetryBackoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RetryBackoff {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fixed" => Ok(RetryBackoff::Fixed),
            "exponential" => Ok(RetryBackoff::Exponential),
            _ => Err(crate::Error::invalid(
                "retry_backoff",
                format!("{s:?} is not a backoff; allowed: fixed, exponential"),
            )),
        }
    }
}

/// A run template's retry settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// How many retries after the first attempt (attempt 0). 0 disables retries.
    pub max_retries: u32,
    /// Seconds between the end of an attempt and the next.
    pub retry_delay: u32,
    /// Fixed or exponential.
    pub retry_backoff: RetryBackoff,
    /// Exit codes that are retried. When empty, the app's `exitCodes[code].retry` decides.
    pub retry_on_exit_codes: Vec<i32>,
}

impl RetryPolicy {
    /// A policy with `max_retries` and `retry_delay` seconds, fixed backoff.
    pub fn new(max_retries: u32, retry_delay: u32) -> Self {
        Self {
            max_retries,
            retry_delay,
            ..Self::default()
        }
    }
}

/// When the retry of a finished attempt is due, or `None` when there is no retry.
///
/// A retry (attempt `attempt + 1`) is created iff `attempt < max_retries` and: the outcome is
/// `lost` or `platform_error`; or the exit code is in `retry_on_exit_codes`; or, when that list is
/// empty, the app's `exitCodes[code].retry` is true. Cancelled and successful jobs are never retried.
/// The retry is due at `end + retry_delay` (× 2^(attempt) when exponential, i.e. ×1 for the first retry).
pub fn retry_at(
    policy: &RetryPolicy,
    attempt: u32,
    outcome: Outcome,
    exitcode: Option<i32>,
    app_exit_codes: &BTreeMap<i32, ExitCodeInfo>,
    end: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if attempt >= policy.max_retries {
        return None;
    }
    let wanted = match outcome {
        Outcome::Success | Outcome::Cancelled => false,
        Outcome::Lost | Outcome::PlatformError => true,
        _ => match exitcode {
            None => false,
            Some(code) if !policy.retry_on_exit_codes.is_empty() => {
                policy.retry_on_exit_codes.contains(&code)
            }
            Some(code) => app_exit_codes.get(&code).is_some_and(|info| info.retry),
        },
    };
    if !wanted {
        return None;
    }
    let factor: i64 = match policy.retry_backoff {
        RetryBackoff::Fixed => 1,
        // attempt of the retry is attempt + 1; factor 2^(attempt+1-1), capped to avoid overflow
        RetryBackoff::Exponential => 1i64 << attempt.min(30),
    };
    Some(end + Duration::seconds(i64::from(policy.retry_delay).saturating_mul(factor)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn end() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
    }

    fn info(retry: bool) -> ExitCodeInfo {
        ExitCodeInfo {
            retry,
            ..ExitCodeInfo::default()
        }
    }

    #[test]
    fn platform_class_retries_until_max() {
        let p = RetryPolicy::new(2, 10);
        let none = BTreeMap::new();
        let at = |attempt| retry_at(&p, attempt, Outcome::Lost, Some(-1), &none, end());
        assert_eq!(at(0), Some(end() + Duration::seconds(10)));
        assert_eq!(at(1), Some(end() + Duration::seconds(10)));
        assert_eq!(at(2), None);
        assert_eq!(
            retry_at(&p, 0, Outcome::PlatformError, Some(-1), &none, end()),
            Some(end() + Duration::seconds(10))
        );
    }

    #[test]
    fn no_retries_configured_means_none() {
        let p = RetryPolicy::default();
        assert_eq!(
            retry_at(&p, 0, Outcome::Lost, Some(-1), &BTreeMap::new(), end()),
            None
        );
    }

    #[test]
    fn exponential_backoff_doubles() {
        let p = RetryPolicy {
            retry_backoff: RetryBackoff::Exponential,
            ..RetryPolicy::new(5, 10)
        };
        let none = BTreeMap::new();
        let delays: Vec<i64> = (0..4)
            .map(|a| {
                (retry_at(&p, a, Outcome::Lost, Some(-1), &none, end()).unwrap() - end())
                    .num_seconds()
            })
            .collect();
        assert_eq!(delays, vec![10, 20, 40, 80]);
    }

    #[test]
    fn template_exit_codes_win_over_app_flags() {
        let app: BTreeMap<i32, ExitCodeInfo> = [(3, info(true)), (4, info(false))].into();
        let by_app = RetryPolicy::new(1, 0);
        assert!(retry_at(&by_app, 0, Outcome::Failed, Some(3), &app, end()).is_some());
        assert!(retry_at(&by_app, 0, Outcome::Failed, Some(4), &app, end()).is_none());
        assert!(retry_at(&by_app, 0, Outcome::Failed, Some(5), &app, end()).is_none());
        let by_template = RetryPolicy {
            retry_on_exit_codes: vec![4],
            ..RetryPolicy::new(1, 0)
        };
        assert!(retry_at(&by_template, 0, Outcome::Failed, Some(4), &app, end()).is_some());
        assert!(retry_at(&by_template, 0, Outcome::Failed, Some(3), &app, end()).is_none());
    }

    #[test]
    fn success_and_cancel_never_retry() {
        let app: BTreeMap<i32, ExitCodeInfo> = [(0, info(true))].into();
        let p = RetryPolicy {
            retry_on_exit_codes: vec![0, 143],
            ..RetryPolicy::new(3, 0)
        };
        assert!(retry_at(&p, 0, Outcome::Success, Some(0), &app, end()).is_none());
        assert!(retry_at(&p, 0, Outcome::Cancelled, Some(143), &app, end()).is_none());
    }
}
