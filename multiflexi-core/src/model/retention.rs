//! Retention policies: how long finished jobs (and the audit log) are kept.
//!
//! Without a policy nothing is ever deleted automatically. A policy applies to a scope — every
//! job ([`RetentionScope::Default`]), one company's, one app's, or one company's jobs of one
//! app — and the most specific one wins: company + app, then company, then app, then the
//! default. It says after how many days a finished job is deleted with its output and
//! artifacts, or (`artifacts_only`) only its output and artifacts while the job row and its
//! outcome stay. A policy takes effect `grace_days` after it was last set, so that an operator
//! can see what it would delete (`retention:run --dry-run`) before it does. The audit log has
//! its own setting ([`RetentionScope::Audit`]).

use crate::ids::{AppId, CompanyId};
use crate::{Error, Result};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a retention policy applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RetentionScope {
    /// Every finished job no more specific policy covers.
    Default,
    /// One company's jobs.
    Company {
        /// The company.
        company_id: CompanyId,
    },
    /// One app's jobs (of every company).
    App {
        /// The app.
        app_id: AppId,
    },
    /// One company's jobs of one app.
    CompanyApp {
        /// The company.
        company_id: CompanyId,
        /// The app.
        app_id: AppId,
    },
    /// The audit log's rows.
    Audit,
}

impl RetentionScope {
    /// How specific the scope is among job scopes (higher wins); the audit log's is apart.
    pub fn specificity(self) -> u8 {
        match self {
            RetentionScope::CompanyApp { .. } => 3,
            RetentionScope::Company { .. } => 2,
            RetentionScope::App { .. } => 1,
            RetentionScope::Default | RetentionScope::Audit => 0,
        }
    }

    /// The stable key a store keeps one policy per (`default`, `company:3`, `app:5`,
    /// `company:3/app:5`, `audit`).
    pub fn key(self) -> String {
        match self {
            RetentionScope::Default => "default".into(),
            RetentionScope::Company { company_id } => format!("company:{company_id}"),
            RetentionScope::App { app_id } => format!("app:{app_id}"),
            RetentionScope::CompanyApp { company_id, app_id } => {
                format!("company:{company_id}/app:{app_id}")
            }
            RetentionScope::Audit => "audit".into(),
        }
    }

    /// The scope a [`RetentionScope::key`] names.
    pub fn from_key(key: &str) -> Result<RetentionScope> {
        let bad = || {
            Error::invalid(
                "scope",
                format!(
                    "{key:?} is not a retention scope; allowed: default, audit, company:ID, \
                     app:ID, company:ID/app:ID"
                ),
            )
        };
        let id = |s: &str| s.parse::<i64>().ok().filter(|i| *i > 0).ok_or_else(bad);
        match key {
            "default" => Ok(RetentionScope::Default),
            "audit" => Ok(RetentionScope::Audit),
            _ => match key.split_once('/') {
                Some((c, a)) => Ok(RetentionScope::CompanyApp {
                    company_id: CompanyId(id(c.strip_prefix("company:").ok_or_else(bad)?)?),
                    app_id: AppId(id(a.strip_prefix("app:").ok_or_else(bad)?)?),
                }),
                None => {
                    if let Some(c) = key.strip_prefix("company:") {
                        Ok(RetentionScope::Company {
                            company_id: CompanyId(id(c)?),
                        })
                    } else if let Some(a) = key.strip_prefix("app:") {
                        Ok(RetentionScope::App {
                            app_id: AppId(id(a)?),
                        })
                    } else {
                        Err(bad())
                    }
                }
            },
        }
    }

    /// The scope from the front ends' options: a company, an app, both, `audit`, or neither
    /// (the default).
    pub fn of(company: Option<CompanyId>, app: Option<AppId>, audit: bool) -> Result<Self> {
        match (company, app, audit) {
            (None, None, true) => Ok(RetentionScope::Audit),
            (_, _, true) => Err(Error::invalid(
                "audit",
                "the audit log's policy is not per company or app; give it alone",
            )),
            (Some(company_id), Some(app_id), false) => {
                Ok(RetentionScope::CompanyApp { company_id, app_id })
            }
            (Some(company_id), None, false) => Ok(RetentionScope::Company { company_id }),
            (None, Some(app_id), false) => Ok(RetentionScope::App { app_id }),
            (None, None, false) => Ok(RetentionScope::Default),
        }
    }
}

impl fmt::Display for RetentionScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// One retention policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RetentionPolicy {
    /// What it applies to.
    pub scope: RetentionScope,
    /// A finished job (or an audit row) older than this many days goes.
    pub days: u32,
    /// Delete only the job's output and artifacts; keep the job row and its outcome.
    pub artifacts_only: bool,
    /// Days after the policy was set before it deletes anything.
    pub grace_days: u32,
    /// When it was last set (the store's clock; `None` before it is stored).
    pub updated: Option<DateTime<Utc>>,
}

/// The longest retention a policy may name: 100 years.
pub const MAX_RETENTION_DAYS: u32 = 36_500;

impl RetentionPolicy {
    /// A policy deleting jobs of `scope` after `days`, at once.
    pub fn new(scope: RetentionScope, days: u32) -> Self {
        Self {
            scope,
            days,
            artifacts_only: false,
            grace_days: 0,
            updated: None,
        }
    }

    /// The rules a policy meets: 1 to [`MAX_RETENTION_DAYS`] days, a grace of at most as many,
    /// and `artifacts_only` only for jobs (the audit log has no artifacts).
    pub fn check(&self) -> Result<()> {
        if !(1..=MAX_RETENTION_DAYS).contains(&self.days) {
            return Err(Error::invalid(
                "days",
                format!(
                    "{} days is not a retention; give 1 to {MAX_RETENTION_DAYS} (unset the \
                     policy to keep everything)",
                    self.days
                ),
            ));
        }
        if self.grace_days > MAX_RETENTION_DAYS {
            return Err(Error::invalid(
                "grace",
                format!(
                    "a grace of {} days is too long; give 0 to {MAX_RETENTION_DAYS}",
                    self.grace_days
                ),
            ));
        }
        if self.artifacts_only && self.scope == RetentionScope::Audit {
            return Err(Error::invalid(
                "artifacts_only",
                "the audit log has no artifacts; artifacts-only is for job policies",
            ));
        }
        Ok(())
    }

    /// When it starts deleting: `grace_days` after it was set.
    pub fn effective_from(&self) -> Option<DateTime<Utc>> {
        self.updated
            .map(|u| u + Duration::days(i64::from(self.grace_days)))
    }

    /// Whether it deletes at `now` (set, and past its grace).
    pub fn in_effect(&self, now: DateTime<Utc>) -> bool {
        self.effective_from().is_some_and(|t| t <= now)
    }

    /// What is older than this goes, at `now`.
    pub fn cutoff(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - Duration::days(i64::from(self.days))
    }

    /// One line: scope, days, what goes, grace.
    pub fn describe(&self) -> String {
        let what = match (self.scope, self.artifacts_only) {
            (RetentionScope::Audit, _) => "audit rows",
            (_, true) => "output and artifacts of finished jobs (the jobs stay)",
            (_, false) => "finished jobs with their output and artifacts",
        };
        let grace = if self.grace_days == 0 {
            String::new()
        } else {
            format!(", {} days after it was set", self.grace_days)
        };
        format!(
            "{}: {what} older than {} days{grace}",
            self.scope, self.days
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_through_their_keys() {
        for scope in [
            RetentionScope::Default,
            RetentionScope::Audit,
            RetentionScope::Company {
                company_id: CompanyId(3),
            },
            RetentionScope::App { app_id: AppId(5) },
            RetentionScope::CompanyApp {
                company_id: CompanyId(3),
                app_id: AppId(5),
            },
        ] {
            assert_eq!(RetentionScope::from_key(&scope.key()).unwrap(), scope);
        }
        for bad in [
            "",
            "company:",
            "company:0",
            "app:x",
            "company:1/app",
            "tenant:1",
        ] {
            assert!(RetentionScope::from_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn policies_are_checked() {
        let mut p = RetentionPolicy::new(RetentionScope::Default, 30);
        assert!(p.check().is_ok());
        p.days = 0;
        assert!(matches!(p.check(), Err(Error::InvalidInput { field, .. }) if field == "days"));
        let mut audit = RetentionPolicy::new(RetentionScope::Audit, 30);
        audit.artifacts_only = true;
        assert!(
            matches!(audit.check(), Err(Error::InvalidInput { field, .. }) if field == "artifacts_only")
        );
        assert!(RetentionScope::of(Some(CompanyId(1)), None, true).is_err());
    }

    #[test]
    fn grace_delays_the_effect() {
        let set = DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut p = RetentionPolicy::new(RetentionScope::Default, 30);
        assert!(!p.in_effect(set), "not stored yet");
        p.updated = Some(set);
        p.grace_days = 2;
        assert!(!p.in_effect(set + Duration::days(1)));
        assert!(p.in_effect(set + Duration::days(2)));
        assert_eq!(p.cutoff(set), set - Duration::days(30));
    }
}
