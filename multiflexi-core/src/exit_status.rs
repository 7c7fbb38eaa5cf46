//! The exit status of a command that waited for a job (`multiflexi-cli job:wait`,
//! `job:create --wait`), so that cron and CI can call it like the application itself.
//!
//! | the job ended | exit status |
//! |---|---|
//! | with its own exit code 0–255 (success, warning, failed, not_executable, not_found, oom, cpu_limit) | that code |
//! | `lost` or `platform_error` | 75 (`EX_TEMPFAIL`: try again later) |
//! | `timeout` (its own time limit) | 124 (as `timeout(1)`) |
//! | `cancelled` | 130 (as a shell's Ctrl-C) |
//! | with a code outside 0–255, or none | 1 |
//! | the wait's own time limit was reached first (the job goes on) | [`WAIT_TIMED_OUT`] = 3 |

use crate::Outcome;

/// The exit status when the wait's own time limit is reached before the job ends.
pub const WAIT_TIMED_OUT: u8 = 3;
/// The exit status of a `lost` or `platform_error` job.
pub const PLATFORM: u8 = 75;
/// The exit status of a job killed at its time limit.
pub const TIMEOUT: u8 = 124;
/// The exit status of a cancelled job.
pub const CANCELLED: u8 = 130;

/// The exit status of a wait for a job that ended with `outcome` and `exitcode` (see the
/// [module table](self)).
///
/// ```
/// use multiflexi_core::Outcome;
/// use multiflexi_core::exit_status::of_job;
/// assert_eq!(of_job(Outcome::Failed, Some(3)), 3);
/// assert_eq!(of_job(Outcome::Lost, Some(-1)), 75);
/// assert_eq!(of_job(Outcome::Cancelled, Some(143)), 130);
/// ```
pub fn of_job(outcome: Outcome, exitcode: Option<i32>) -> u8 {
    match outcome {
        Outcome::Lost | Outcome::PlatformError => PLATFORM,
        Outcome::Timeout => TIMEOUT,
        Outcome::Cancelled => CANCELLED,
        _ => exitcode.and_then(|c| u8::try_from(c).ok()).unwrap_or(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_has_its_status() {
        for o in Outcome::ALL {
            let got = of_job(o, Some(137));
            let want = match o {
                Outcome::Lost | Outcome::PlatformError => 75,
                Outcome::Timeout => 124,
                Outcome::Cancelled => 130,
                _ => 137,
            };
            assert_eq!(got, want, "{o:?}");
        }
        assert_eq!(of_job(Outcome::Success, Some(0)), 0);
        assert_eq!(of_job(Outcome::Warning, Some(1)), 1);
        assert_eq!(of_job(Outcome::Failed, Some(255)), 255);
        assert_eq!(of_job(Outcome::Failed, Some(256)), 1);
        assert_eq!(of_job(Outcome::Failed, Some(-5)), 1);
        assert_eq!(of_job(Outcome::Failed, None), 1);
        assert_eq!(of_job(Outcome::Lost, Some(-1)), 75);
    }
}
