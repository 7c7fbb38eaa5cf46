use super::{Action, Environment, ExecutorKind};
use crate::ids::{AppId, CompanyId, CredentialId, RunTemplateId};
use crate::lifecycle::RetryPolicy;
use crate::schedule::IntervalCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What happens when a template's slot is due while an earlier scheduled job is outstanding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConcurrencyPolicy {
    /// At most one outstanding scheduled job; the due slot waits (MultiFlexi's behaviour).
    #[default]
    Forbid,
    /// Start the new one anyway.
    Allow,
    /// Cancel the outstanding one, then start the new one.
    Replace,
}

/// What happens to slots missed while no scheduler ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchupPolicy {
    /// Skip them: only the next future slot runs.
    #[default]
    Skip,
    /// Run one missed slot now (the latest), then resume.
    Once,
}

macro_rules! str_enum {
    ($ty:ident, $field:literal, $($variant:ident => $name:literal),+) => {
        impl $ty {
            /// Stable lower-case name.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $ty {
            type Err = crate::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok($ty::$variant),)+
                    _ => Err(crate::Error::invalid(
                        $field,
                        format!("{s:?} is not allowed; allowed: {}", [$($name),+].join(", ")),
                    )),
                }
            }
        }
    };
}
str_enum!(ConcurrencyPolicy, "concurrency_policy", Forbid => "forbid", Allow => "allow", Replace => "replace");
str_enum!(CatchupPolicy, "catchup", Skip => "skip", Once => "once");

/// Which app runs for which company, how often, with what configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunTemplate {
    /// Database id (`RunTemplateId(0)` before it is stored).
    pub id: RunTemplateId,
    /// The app it runs.
    pub app_id: AppId,
    /// The company it runs for.
    pub company_id: CompanyId,
    /// Its name.
    pub name: String,
    /// MultiFlexi interval code (`i h d w m y n c`).
    pub interv: IntervalCode,
    /// Cron expression when `interv` is `c`.
    pub cron: Option<String>,
    /// IANA timezone its schedule is evaluated in (resolved at creation).
    pub timezone: String,
    /// Seconds added to each slot.
    pub delay: u32,
    /// Which executor runs its jobs.
    pub executor: ExecutorKind,
    /// Whether the scheduler considers it.
    pub active: bool,
    /// The next slot the scheduler will fire (NULL while a scheduled job is outstanding).
    pub next_schedule: Option<DateTime<Utc>>,
    /// When the scheduler last created a job for it.
    pub last_schedule: Option<DateTime<Utc>>,
    /// Completed jobs that succeeded (the seed's spelling).
    pub successfull_jobs_count: u64,
    /// Completed jobs that did not.
    pub failed_jobs_count: u64,
    /// Configuration overrides (layer 3 of the precedence).
    pub config: Environment,
    /// Credentials whose values it uses (layer 2, after the company environment).
    pub credentials: Vec<CredentialId>,
    /// Retry settings.
    pub retry: RetryPolicy,
    /// Seconds a job may run before it is killed (None: no limit).
    pub timeout: Option<u32>,
    /// Per-job memory limit in MiB.
    pub memory_limit_mb: Option<u32>,
    /// Per-job limit on processes and threads alive at once (a fork past it fails with EAGAIN).
    #[serde(default)]
    pub pids_max: Option<u32>,
    /// Per-job CPU time (user + system, all of the job's processes) before it is killed.
    #[serde(default)]
    pub cpu_seconds: Option<u32>,
    /// Outstanding-job policy.
    pub concurrency_policy: ConcurrencyPolicy,
    /// Missed-slot policy.
    pub catchup: CatchupPolicy,
    /// Actions after a job of it succeeds.
    #[serde(default)]
    pub on_success: Vec<Action>,
    /// Actions after a job of it ends with any other outcome.
    #[serde(default)]
    pub on_failure: Vec<Action>,
    /// When it was created.
    pub created: Option<DateTime<Utc>>,
    /// When it was last changed.
    pub updated: Option<DateTime<Utc>>,
}

impl RunTemplate {
    /// A new, unsaved, active template with interval `n` (disabled schedule), UTC, Native executor.
    pub fn new(app_id: AppId, company_id: CompanyId, name: impl Into<String>) -> Self {
        Self {
            id: RunTemplateId(0),
            app_id,
            company_id,
            name: name.into(),
            interv: IntervalCode::Disabled,
            cron: None,
            timezone: "UTC".into(),
            delay: 0,
            executor: ExecutorKind::Native,
            active: true,
            next_schedule: None,
            last_schedule: None,
            successfull_jobs_count: 0,
            failed_jobs_count: 0,
            config: Environment::new(),
            credentials: Vec::new(),
            retry: RetryPolicy::default(),
            timeout: None,
            memory_limit_mb: None,
            pids_max: None,
            cpu_seconds: None,
            concurrency_policy: ConcurrencyPolicy::Forbid,
            catchup: CatchupPolicy::Skip,
            on_success: Vec::new(),
            on_failure: Vec::new(),
            created: None,
            updated: None,
        }
    }

    /// Builder: interval code.
    pub fn with_interval(mut self, interv: IntervalCode) -> Self {
        self.interv = interv;
        self
    }

    /// Builder: custom cron (sets `interv` to `c`).
    pub fn with_cron(mut self, cron: impl Into<String>) -> Self {
        self.interv = IntervalCode::Custom;
        self.cron = Some(cron.into());
        self
    }

    /// Builder: timezone.
    pub fn with_timezone(mut self, tz: impl Into<String>) -> Self {
        self.timezone = tz.into();
        self
    }

    /// Builder: executor.
    pub fn with_executor(mut self, executor: ExecutorKind) -> Self {
        self.executor = executor;
        self
    }

    /// Builder: retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The parsed schedule (interval or cron in the template's timezone, plus delay).
    pub fn schedule(&self) -> crate::Result<crate::schedule::Schedule> {
        crate::schedule::Schedule::new(
            self.interv,
            self.cron.as_deref(),
            &self.timezone,
            self.delay,
        )
    }
}
