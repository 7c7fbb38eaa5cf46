//! Exit-code classes for the dashboard, CLI and API (ARCHITECTURE §9).
//!
//! | outcome | exit code | status | colour (dashboard) | meaning | retry hint |
//! |---|---|---|---|---|---|
//! | success | 0 | `success` | green `bg-success` | completed successfully | no |
//! | warning | 1 | `warning` | yellow `bg-warning` | minor issues, check logs | app's `exitCodes` |
//! | not_executable | 126 | `not_executable` | red `bg-danger` | permission denied / not executable | app's `exitCodes` |
//! | not_found | 127 | `not_found` | blue `bg-primary` | command or binary not found | app's `exitCodes` |
//! | failed | 255 and other non-zero | `failed` | red `bg-danger` | job failed | app's `exitCodes` |
//! | lost | -1 | `lost` | cyan `bg-info` | transient platform error, retry recommended | yes |
//! | platform_error | -1 | `platform_error` | cyan `bg-info` | transient platform error, retry recommended | yes |
//! | timeout | 128+signal | `timeout` | red `bg-danger` | killed after running past its time limit | app's `exitCodes` |
//! | oom | 128+signal | `oom` | red `bg-danger` | killed for exceeding its memory limit | app's `exitCodes` |
//! | cpu_limit | 128+signal | `cpu_limit` | red `bg-danger` | killed for using up its CPU-time limit | app's `exitCodes` |
//! | cancelled | 128+signal | `cancelled` | grey `bg-secondary` | cancelled by an operator or replaced by a newer run | no |
//!
//! The class follows the job's [`Outcome`] — the stored verdict — so a badge never disagrees with
//! the job's status; the exit code selects the app's own description ([`describe`]).
//! The retry hint mirrors [`retry_at`](crate::lifecycle::retry_at) as far as the app can tell:
//! the run template's `retry_on_exit_codes` and retry budget are not considered here.

use crate::Outcome;
use crate::model::App;
use serde::Serialize;

/// The standard class of a finished job: what the dashboard shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct ExitClass {
    /// Status word (the outcome's name: `success`, `not_found`, `platform_error`, …).
    pub status: &'static str,
    /// Bootstrap badge class (`bg-success`, `bg-warning`, `bg-danger`, `bg-primary`, `bg-info`,
    /// `bg-secondary`).
    pub colour: &'static str,
    /// What it means, in English.
    pub meaning: &'static str,
}

const PLATFORM: &str = "transient platform error, retry recommended";

/// The standard class of a job that ended with `outcome` (see the [module table](self)).
///
/// `exitcode` does not change the class: a job's outcome is derived from its exit code when the
/// process exited normally ([`Outcome::from_exit_code`]), and for timeouts, cancellations, OOM
/// kills and platform failures the outcome is what matters. It is taken so that a job's
/// `(outcome, exitcode)` pair can be passed as it is stored.
pub fn classify(outcome: Outcome, exitcode: Option<i32>) -> ExitClass {
    let _ = exitcode;
    let (colour, meaning) = match outcome {
        Outcome::Success => ("bg-success", "completed successfully"),
        Outcome::Warning => ("bg-warning", "minor issues, check logs"),
        Outcome::NotExecutable => ("bg-danger", "permission denied / not executable"),
        Outcome::NotFound => ("bg-primary", "command or binary not found"),
        Outcome::Failed => ("bg-danger", "job failed"),
        Outcome::Lost | Outcome::PlatformError => ("bg-info", PLATFORM),
        Outcome::Timeout => ("bg-danger", "killed after running past its time limit"),
        Outcome::Oom => ("bg-danger", "killed for exceeding its memory limit"),
        Outcome::CpuLimit => ("bg-danger", "killed for using up its CPU-time limit"),
        Outcome::Cancelled => (
            "bg-secondary",
            "cancelled by an operator or replaced by a newer run",
        ),
    };
    ExitClass {
        status: outcome.as_str(),
        colour,
        meaning,
    }
}

/// The standard class plus what the app itself says about the exit code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ExitDescription {
    /// The standard class ([`classify`]).
    pub class: ExitClass,
    /// The app's description of this exit code (`exitCodes[code].description`) in the requested
    /// language (else English, else any), when it has a non-empty one.
    pub app_description: Option<String>,
    /// The app's severity for this exit code (`success`, `warning`, `error`, `critical`), as given.
    pub app_severity: Option<String>,
    /// Whether a retry is worth it: always for `lost` / `platform_error`, never for `success` /
    /// `cancelled`, otherwise when the app marks this exit code `retry`.
    pub retry_hint: bool,
}

/// Describes how a job ended: the standard class with the app's own `exitCodes` entry layered on
/// top (looked up by `exitcode`, texts in `lang`).
///
/// ```
/// use multiflexi_core::Outcome;
/// use multiflexi_core::exit_code::describe;
/// use multiflexi_core::model::{App, ExitCodeInfo};
///
/// let mut app = App::new("bank import", "/usr/bin/import");
/// app.exit_codes.insert(3, ExitCodeInfo::new("bank API rate limit", true));
/// let d = describe(Outcome::Failed, Some(3), Some(&app), "en");
/// assert_eq!(d.class.status, "failed");
/// assert_eq!(d.class.colour, "bg-danger");
/// assert_eq!(d.app_description.as_deref(), Some("bank API rate limit"));
/// assert!(d.retry_hint);
/// ```
pub fn describe(
    outcome: Outcome,
    exitcode: Option<i32>,
    app: Option<&App>,
    lang: &str,
) -> ExitDescription {
    let info = app
        .zip(exitcode)
        .and_then(|(app, code)| app.exit_codes.get(&code));
    let retry_hint = match outcome {
        Outcome::Success | Outcome::Cancelled => false,
        Outcome::Lost | Outcome::PlatformError => true,
        _ => info.is_some_and(|i| i.retry),
    };
    ExitDescription {
        class: classify(outcome, exitcode),
        app_description: info
            .and_then(|i| i.description.get(lang))
            .filter(|d| !d.trim().is_empty())
            .map(str::to_string),
        app_severity: info
            .and_then(|i| i.severity.clone())
            .filter(|s| !s.trim().is_empty()),
        retry_hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ExitCodeInfo, LocalizedText};

    /// The module table, row by row: (outcome, a representative code, status, colour, meaning,
    /// retry hint without app information).
    const TABLE: [(Outcome, i32, &str, &str, &str, bool); 11] = [
        (
            Outcome::Success,
            0,
            "success",
            "bg-success",
            "completed successfully",
            false,
        ),
        (
            Outcome::Warning,
            1,
            "warning",
            "bg-warning",
            "minor issues, check logs",
            false,
        ),
        (
            Outcome::NotExecutable,
            126,
            "not_executable",
            "bg-danger",
            "permission denied / not executable",
            false,
        ),
        (
            Outcome::NotFound,
            127,
            "not_found",
            "bg-primary",
            "command or binary not found",
            false,
        ),
        (
            Outcome::Failed,
            255,
            "failed",
            "bg-danger",
            "job failed",
            false,
        ),
        (Outcome::Lost, -1, "lost", "bg-info", PLATFORM, true),
        (
            Outcome::PlatformError,
            -1,
            "platform_error",
            "bg-info",
            PLATFORM,
            true,
        ),
        (
            Outcome::Timeout,
            137,
            "timeout",
            "bg-danger",
            "killed after running past its time limit",
            false,
        ),
        (
            Outcome::Cancelled,
            143,
            "cancelled",
            "bg-secondary",
            "cancelled by an operator or replaced by a newer run",
            false,
        ),
        (
            Outcome::Oom,
            137,
            "oom",
            "bg-danger",
            "killed for exceeding its memory limit",
            false,
        ),
        (
            Outcome::CpuLimit,
            137,
            "cpu_limit",
            "bg-danger",
            "killed for using up its CPU-time limit",
            false,
        ),
    ];

    #[test]
    fn table_is_exhaustive_and_exact() {
        for outcome in Outcome::ALL {
            let rows: Vec<_> = TABLE.iter().filter(|r| r.0 == outcome).collect();
            assert_eq!(rows.len(), 1, "{outcome} must have exactly one row");
            let (_, code, status, colour, meaning, retry) = *rows[0];
            for exitcode in [Some(code), None] {
                let class = classify(outcome, exitcode);
                assert_eq!(
                    class,
                    ExitClass {
                        status,
                        colour,
                        meaning
                    },
                    "{outcome} {exitcode:?}"
                );
                assert_eq!(class.status, outcome.as_str());
                let d = describe(outcome, exitcode, None, "en");
                assert_eq!(d.class, class);
                assert_eq!(d.retry_hint, retry, "{outcome}");
                assert_eq!(d.app_description, None);
                assert_eq!(d.app_severity, None);
            }
        }
    }

    #[test]
    fn exit_codes_of_the_table_map_through_outcomes() {
        let by_code = [
            (0, "success", "bg-success"),
            (1, "warning", "bg-warning"),
            (126, "not_executable", "bg-danger"),
            (127, "not_found", "bg-primary"),
            (2, "failed", "bg-danger"),
            (255, "failed", "bg-danger"),
            (-1, "platform_error", "bg-info"),
        ];
        for (code, status, colour) in by_code {
            let class = classify(Outcome::from_exit_code(code), Some(code));
            assert_eq!((class.status, class.colour), (status, colour), "{code}");
        }
    }

    fn app() -> App {
        let mut app = App::new("importer", "/bin/importer");
        let mut localized = ExitCodeInfo::new("", true);
        localized.description = LocalizedText(
            [
                ("en".to_string(), "no statements to import".to_string()),
                ("cs".to_string(), "žádné výpisy k importu".to_string()),
            ]
            .into(),
        );
        localized.severity = Some("warning".into());
        app.exit_codes.insert(1, localized);
        app.exit_codes
            .insert(2, ExitCodeInfo::new("bad credentials", false));
        app.exit_codes.insert(0, ExitCodeInfo::new("   ", false));
        app.exit_codes
            .insert(137, ExitCodeInfo::new("killed", true));
        app.exit_codes.insert(-1, ExitCodeInfo::new("n/a", false));
        app
    }

    #[test]
    fn app_descriptions_are_layered_on_top() {
        let app = app();
        let d = describe(Outcome::Warning, Some(1), Some(&app), "cs");
        assert_eq!(d.class, classify(Outcome::Warning, Some(1)));
        assert_eq!(d.app_description.as_deref(), Some("žádné výpisy k importu"));
        assert_eq!(d.app_severity.as_deref(), Some("warning"));
        assert!(d.retry_hint);

        let d = describe(Outcome::Warning, Some(1), Some(&app), "de");
        assert_eq!(
            d.app_description.as_deref(),
            Some("no statements to import")
        );

        let d = describe(Outcome::Failed, Some(2), Some(&app), "cs");
        assert_eq!(d.app_description.as_deref(), Some("bad credentials"));
        assert_eq!(d.app_severity, None);
        assert!(!d.retry_hint);

        // Blank descriptions are no descriptions; unknown codes have none.
        let d = describe(Outcome::Success, Some(0), Some(&app), "en");
        assert_eq!(d.app_description, None);
        let d = describe(Outcome::Failed, Some(42), Some(&app), "en");
        assert_eq!((d.app_description, d.retry_hint), (None, false));
        let d = describe(Outcome::Failed, None, Some(&app), "en");
        assert_eq!(d.app_description, None);
    }

    #[test]
    fn retry_hint_follows_the_retry_rule() {
        let app = app();
        // The app may ask for retries of a killed job…
        assert!(describe(Outcome::Timeout, Some(137), Some(&app), "en").retry_hint);
        assert!(describe(Outcome::Oom, Some(137), Some(&app), "en").retry_hint);
        // …but never of a cancelled one, and platform errors always retry.
        assert!(!describe(Outcome::Cancelled, Some(137), Some(&app), "en").retry_hint);
        assert!(describe(Outcome::PlatformError, Some(-1), Some(&app), "en").retry_hint);
        assert!(describe(Outcome::Lost, Some(-1), None, "en").retry_hint);
        // The app's own text is still shown beside the class.
        let d = describe(Outcome::Lost, Some(-1), Some(&app), "en");
        assert_eq!(d.app_description.as_deref(), Some("n/a"));
        assert_eq!(d.class.colour, "bg-info");
    }

    #[test]
    fn serializes_for_the_api() {
        let d = describe(Outcome::NotFound, Some(127), None, "en");
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["class"]["status"], "not_found");
        assert_eq!(json["class"]["colour"], "bg-primary");
        assert_eq!(json["retry_hint"], false);
    }
}
