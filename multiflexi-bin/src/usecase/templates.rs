//! Run templates: create, update, delete, and moving the scheduler's next firing.
//!
//! One set of rules for every front end: the name is plain text; a cron expression implies
//! interval `c` and is never empty; the timezone is an IANA name (default
//! `MULTIFLEXI_TIMEZONE`, else UTC); configuration names are variable names, the app's secret
//! fields are stored as secrets, `***` for a stored secret keeps it, and only values that are
//! there can be removed; credentials must exist, be visible to the caller and belong to the
//! template's company; the schedule and executor must suit the app (the rules beside
//! [`RunTemplate`] in the core); who may choose the executor or set which configuration name is
//! [`check_template_write`]. Actions after completion (`on_success`, `on_failure`) are JSON
//! arrays checked by the core model; `***` as a webhook secret keeps the stored one; a `launch`
//! names a template the caller can see.

use super::audit::Action;
use super::variables::{REDACTED, check_variable};
use super::{Caller, UseCases};
use chrono::{DateTime, Utc};
use multiflexi_core::lifecycle::RetryBackoff;
use multiflexi_core::model::{
    Action as AfterAction, App, CatchupPolicy, ConcurrencyPolicy, ExecutorKind, RunTemplate,
    actions_from_value,
};
use multiflexi_core::schedule::{IntervalCode, parse_timezone};
use multiflexi_core::tenancy::check_template_write;
use multiflexi_core::{AppId, CompanyId, CredentialId, Error, Result, RunTemplateId};
use std::str::FromStr;

/// One change to a template's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigChange {
    /// Set the value (a secret when `secret` or when the app declares the field secret).
    Set {
        /// The value (`***` for a stored secret keeps it).
        value: String,
        /// Whether the caller marked it secret.
        secret: bool,
    },
    /// Remove the value (it must be there).
    Remove,
}

/// The settings a create or an update gives; absent ones keep their value (a new template's
/// defaults). Texts are parsed here, so every front end gets the same messages.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct TemplateSettings {
    /// Interval code (`i h d w m y n c` or their words).
    pub interv: Option<String>,
    /// Cron expression (implies interval `c`).
    pub cron: Option<String>,
    /// IANA timezone.
    pub timezone: Option<String>,
    /// Seconds added to each slot.
    pub delay: Option<u32>,
    /// Executor kind.
    pub executor: Option<String>,
    /// Whether the scheduler considers it.
    pub active: Option<bool>,
    /// Configuration changes, in order.
    pub config: Vec<(String, ConfigChange)>,
    /// Credentials (replace the list).
    pub credentials: Option<Vec<CredentialId>>,
    /// Retries after a failed attempt.
    pub max_retries: Option<u32>,
    /// Seconds between an attempt's end and its retry.
    pub retry_delay: Option<u32>,
    /// `fixed` or `exponential`.
    pub retry_backoff: Option<String>,
    /// Exit codes that are retried.
    pub retry_on_exit_codes: Option<Vec<i32>>,
    /// Seconds a job may run (0: no limit).
    pub timeout: Option<u32>,
    /// Per-job memory limit in MiB (0: none).
    pub memory_limit_mb: Option<u32>,
    /// Per-job limit on processes and threads (0: none).
    pub pids_max: Option<u32>,
    /// Per-job CPU seconds (0: none).
    pub cpu_seconds: Option<u32>,
    /// `forbid`, `allow` or `replace`.
    pub concurrency_policy: Option<String>,
    /// `skip` or `once`.
    pub catchup: Option<String>,
    /// Actions after a successful job: a JSON array (replaces the list; `[]` clears it).
    pub on_success: Option<serde_json::Value>,
    /// Actions after any other outcome: a JSON array (replaces the list; `[]` clears it).
    pub on_failure: Option<serde_json::Value>,
}

/// A new run template.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewTemplate {
    /// Its name.
    pub name: String,
    /// The app it runs.
    pub app_id: AppId,
    /// The company it runs for.
    pub company_id: CompanyId,
    /// Everything else.
    pub settings: TemplateSettings,
}

impl NewTemplate {
    /// A template of this name, app and company, everything else by default.
    pub fn new(name: impl Into<String>, app_id: AppId, company_id: CompanyId) -> NewTemplate {
        NewTemplate {
            name: name.into(),
            app_id,
            company_id,
            settings: TemplateSettings::default(),
        }
    }
}

/// A change to a run template: only what is given changes.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct TemplateChange {
    /// New name.
    pub name: Option<String>,
    /// Another app.
    pub app_id: Option<AppId>,
    /// Another company.
    pub company_id: Option<CompanyId>,
    /// The other settings.
    pub settings: TemplateSettings,
}

/// A template as written, with the notes the caller may want to see (a configuration name the
/// app does not declare).
#[derive(Debug, Clone)]
pub struct SavedTemplate {
    /// The template as stored.
    pub template: RunTemplate,
    /// Non-fatal notes.
    pub warnings: Vec<String>,
}

/// `value` parsed as a `T`, a refusal naming `field`.
fn parse_as<T: FromStr<Err = Error>>(field: &str, value: &str) -> Result<T> {
    value.trim().parse::<T>().map_err(|e| match e {
        Error::InvalidInput { message, .. } => Error::invalid(field, message),
        e => e,
    })
}

/// The template name rule: trimmed, not empty, no NUL character.
pub fn check_name(name: &str) -> Result<String> {
    let n = name.trim();
    if n.is_empty() || n.contains('\0') {
        return Err(Error::invalid(
            "name",
            "the template name is empty or holds a NUL character; give a name of plain text",
        ));
    }
    Ok(n.to_string())
}

/// The timezone of a new template given none: `MULTIFLEXI_TIMEZONE`, else UTC. A default that is
/// not a timezone is refused (give one explicitly) rather than silently replaced.
fn default_timezone() -> Result<String> {
    match std::env::var("MULTIFLEXI_TIMEZONE") {
        Ok(v) if !v.trim().is_empty() => match parse_timezone(&v) {
            Ok(tz) => Ok(tz.name().to_string()),
            Err(e) => Err(Error::invalid(
                "timezone",
                format!(
                    "no timezone was given and the default, MULTIFLEXI_TIMEZONE={v:?}, is not \
                     one ({e}); give a timezone or fix MULTIFLEXI_TIMEZONE"
                ),
            )),
        },
        _ => Ok("UTC".to_string()),
    }
}

/// Applies `s` onto `t` (whose app is `app`); notes go to `warnings`.
fn apply(
    t: &mut RunTemplate,
    s: &TemplateSettings,
    app: &App,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let interv = s
        .interv
        .as_deref()
        .map(|i| parse_as::<IntervalCode>("interv", i))
        .transpose()?;
    match (s.cron.as_deref().map(str::trim), interv) {
        (Some(""), _) => {
            return Err(Error::invalid(
                "cron",
                "the expression is empty; give 5 fields like \"30 2 * * *\"",
            ));
        }
        (Some(cron), i) => {
            if let Some(i) = i.filter(|i| *i != IntervalCode::Custom) {
                return Err(Error::invalid(
                    "interv",
                    format!(
                        "a cron expression needs interval c (custom), not {i}; give no interval \
                         or c"
                    ),
                ));
            }
            t.interv = IntervalCode::Custom;
            t.cron = Some(cron.to_string());
        }
        (None, Some(i)) => {
            t.interv = i;
            if i != IntervalCode::Custom {
                t.cron = None;
            }
        }
        (None, None) => {}
    }
    if let Some(tz) = &s.timezone {
        t.timezone = parse_timezone(tz)?.name().to_string();
    }
    if let Some(d) = s.delay {
        t.delay = d;
    }
    if let Some(e) = &s.executor {
        t.executor = parse_as::<ExecutorKind>("executor", e)?;
    }
    if let Some(a) = s.active {
        t.active = a;
    }
    for (k, change) in &s.config {
        match change {
            ConfigChange::Remove => {
                if t.config.remove(k).is_none() {
                    let have: Vec<&str> = t.config.0.keys().map(String::as_str).collect();
                    return Err(Error::invalid(
                        format!("config.{k}"),
                        format!(
                            "there is no config value {k} to remove; it has: {}",
                            if have.is_empty() {
                                "none".to_string()
                            } else {
                                have.join(", ")
                            }
                        ),
                    ));
                }
            }
            ConfigChange::Set { value, secret } => {
                let stored = t.config.0.get(k).filter(|old| old.secret).cloned();
                if let (Some(old), true) = (stored, value == REDACTED) {
                    // `***` is what responses show for a secret: keep the stored one.
                    t.config.0.insert(k.clone(), old);
                    continue;
                }
                check_variable("config", k, value)?;
                if app.field(k).is_none() {
                    warnings.push(format!(
                        "app {} \"{}\" has no field {k}; it is passed to the job as it is",
                        app.id,
                        app.display_name()
                    ));
                }
                if *secret || app.config_is_secret(k) {
                    t.config.set_secret(k.clone(), value.clone());
                } else {
                    t.config.set(k.clone(), value.clone());
                }
            }
        }
    }
    if let Some(c) = &s.credentials {
        t.credentials = c.clone();
    }
    if let Some(n) = s.max_retries {
        t.retry.max_retries = n;
    }
    if let Some(d) = s.retry_delay {
        t.retry.retry_delay = d;
    }
    if let Some(b) = &s.retry_backoff {
        t.retry.retry_backoff = parse_as::<RetryBackoff>("retry_backoff", b)?;
    }
    if let Some(codes) = &s.retry_on_exit_codes {
        t.retry.retry_on_exit_codes = codes.clone();
    }
    if let Some(x) = s.timeout {
        t.timeout = Some(x).filter(|x| *x > 0);
    }
    if let Some(x) = s.memory_limit_mb {
        t.memory_limit_mb = Some(x).filter(|x| *x > 0);
    }
    if let Some(x) = s.pids_max {
        t.pids_max = Some(x).filter(|x| *x > 0);
    }
    if let Some(x) = s.cpu_seconds {
        t.cpu_seconds = Some(x).filter(|x| *x > 0);
    }
    if let Some(p) = &s.concurrency_policy {
        t.concurrency_policy = parse_as::<ConcurrencyPolicy>("concurrency_policy", p)?;
    }
    if let Some(p) = &s.catchup {
        t.catchup = parse_as::<CatchupPolicy>("catchup", p)?;
    }
    if let Some(v) = &s.on_success {
        t.on_success = keep_secrets(actions_from_value("on_success", v.clone())?, &t.on_success);
    }
    if let Some(v) = &s.on_failure {
        t.on_failure = keep_secrets(actions_from_value("on_failure", v.clone())?, &t.on_failure);
    }
    Ok(())
}

/// `***` (what views show) as the secret of webhook `i` keeps the stored secret of webhook `i`.
fn keep_secrets(mut new: Vec<AfterAction>, old: &[AfterAction]) -> Vec<AfterAction> {
    for (i, a) in new.iter_mut().enumerate() {
        if let AfterAction::Webhook {
            secret: secret @ Some(_),
            ..
        } = a
            && secret.as_deref() == Some(REDACTED)
        {
            *secret = match old.get(i) {
                Some(AfterAction::Webhook { secret: kept, .. }) => kept.clone(),
                _ => None,
            };
        }
    }
    new
}

/// A template's actions as views show them (webhook secrets as `***`).
pub fn actions_view(list: &[AfterAction]) -> serde_json::Value {
    serde_json::to_value(
        list.iter()
            .map(|a| a.redacted(REDACTED))
            .collect::<Vec<_>>(),
    )
    .unwrap_or_default()
}

/// Whether an update touches what [`UseCases::check_template`] checks (the app, the company,
/// the schedule, the executor, the credentials) or activates the template. Other changes
/// (deactivating, renaming, limits, configuration) are not refused for a problem the stored
/// template already had.
fn what_it_runs_changed(before: &RunTemplate, after: &RunTemplate) -> bool {
    (after.active && !before.active)
        || before.app_id != after.app_id
        || before.company_id != after.company_id
        || (&before.interv, &before.cron, &before.timezone, before.delay)
            != (&after.interv, &after.cron, &after.timezone, after.delay)
        || before.executor != after.executor
        || before.credentials != after.credentials
}

/// What changed between two versions of a template, in words (for the audit log; never a
/// configuration value).
fn changes(before: &RunTemplate, after: &RunTemplate) -> Vec<String> {
    let mut out = Vec::new();
    if before.name != after.name {
        out.push("name".to_string());
    }
    if before.app_id != after.app_id {
        out.push(format!("app {}", after.app_id));
    }
    if before.company_id != after.company_id {
        out.push(format!("company {}", after.company_id));
    }
    if (&before.interv, &before.cron, &before.timezone, before.delay)
        != (&after.interv, &after.cron, &after.timezone, after.delay)
    {
        out.push("schedule".to_string());
    }
    if before.executor != after.executor {
        out.push(format!("executor {}", after.executor));
    }
    if before.active != after.active {
        out.push(
            if after.active {
                "activated"
            } else {
                "deactivated"
            }
            .to_string(),
        );
    }
    let names = |t: &RunTemplate| t.config.0.keys().cloned().collect::<Vec<_>>();
    let changed: Vec<String> = names(before)
        .into_iter()
        .chain(names(after))
        .filter(|k| before.config.0.get(k) != after.config.0.get(k))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !changed.is_empty() {
        out.push(format!("config {}", changed.join(", ")));
    }
    if before.credentials != after.credentials {
        out.push("credentials".to_string());
    }
    if before.retry != after.retry {
        out.push("retry".to_string());
    }
    if (
        before.timeout,
        before.memory_limit_mb,
        before.pids_max,
        before.cpu_seconds,
    ) != (
        after.timeout,
        after.memory_limit_mb,
        after.pids_max,
        after.cpu_seconds,
    ) {
        out.push("limits".to_string());
    }
    if (before.concurrency_policy, before.catchup) != (after.concurrency_policy, after.catchup) {
        out.push("policies".to_string());
    }
    if before.on_success != after.on_success {
        out.push("on_success".to_string());
    }
    if before.on_failure != after.on_failure {
        out.push("on_failure".to_string());
    }
    out
}

impl UseCases {
    /// Checks what the store does not (the rules beside the template in the core model): every
    /// credential exists and is the caller's to see (else the `credentials` field is refused)
    /// and belongs to the template's company, the schedule is valid, and `app` has what the
    /// executor needs.
    pub(crate) async fn check_template(
        &self,
        caller: &Caller,
        t: &RunTemplate,
        app: &App,
    ) -> Result<()> {
        let mut credentials = Vec::with_capacity(t.credentials.len());
        for id in &t.credentials {
            let found = match self.store.get_credential(*id).await {
                Ok(c) if caller.sees(c.company_id) => Some(c),
                Ok(_) | Err(Error::NotFound { .. }) => None,
                Err(e) => return Err(e),
            };
            let Some(c) = found else {
                return Err(Error::invalid(
                    "credentials",
                    format!("credential {id} not found"),
                ));
            };
            credentials.push(c);
        }
        t.check_runs(app)?;
        t.check_credentials(&credentials).map_err(|e| match e {
            Error::InvalidInput { message, .. } => Error::invalid("credentials", message),
            e => e,
        })
    }

    /// Every `launch` action names a template the caller can see.
    pub(crate) async fn check_launch_targets(
        &self,
        caller: &Caller,
        t: &RunTemplate,
    ) -> Result<()> {
        for (field, list) in [("on_success", &t.on_success), ("on_failure", &t.on_failure)] {
            for (i, a) in list.iter().enumerate() {
                if let AfterAction::Launch { template_id } = a {
                    let found = match self.store.get_runtemplate(*template_id).await {
                        Ok(target) => caller.sees(target.company_id),
                        Err(Error::NotFound { .. }) => false,
                        Err(e) => return Err(e),
                    };
                    if !found {
                        return Err(Error::invalid(
                            format!("{field}[{i}].template_id"),
                            format!("run template {template_id} not found"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// A run template the caller may see (another company's is NotFound).
    pub(super) async fn visible_template(
        &self,
        caller: &Caller,
        id: RunTemplateId,
    ) -> Result<RunTemplate> {
        let t = self.store.get_runtemplate(id).await?;
        caller.check_sees(t.company_id, "runtemplate", id)?;
        Ok(t)
    }

    /// Creates a run template.
    pub async fn create_template(
        &self,
        caller: &Caller,
        new: NewTemplate,
    ) -> Result<SavedTemplate> {
        let name = check_name(&new.name)?;
        caller.check_sees(new.company_id, "company", new.company_id)?;
        let app = self.store.get_app(new.app_id).await?;
        self.store.get_company(new.company_id).await?;
        let mut t = RunTemplate::new(app.id, new.company_id, name);
        if new.settings.timezone.is_none() {
            t.timezone = default_timezone()?;
        }
        let mut warnings = Vec::new();
        apply(&mut t, &new.settings, &app, &mut warnings)?;
        check_template_write(caller.scope, None, &t, &app)?;
        self.check_template(caller, &t, &app).await?;
        self.check_launch_targets(caller, &t).await?;
        let t = self.store.create_runtemplate(&t).await?;
        self.audit(
            caller,
            None,
            Action::TemplateCreate,
            format!(
                "run template {} \"{}\" (app {}, company {}, executor {})",
                t.id, t.name, t.app_id, t.company_id, t.executor
            ),
        )
        .await;
        Ok(SavedTemplate {
            template: t,
            warnings,
        })
    }

    /// Changes a run template (checked like a new one when it changes what the template runs
    /// or activates it). A change that changes nothing writes nothing.
    pub async fn update_template(
        &self,
        caller: &Caller,
        id: RunTemplateId,
        change: TemplateChange,
    ) -> Result<SavedTemplate> {
        let mut t = self.visible_template(caller, id).await?;
        let before = t.clone();
        if let Some(n) = &change.name {
            t.name = check_name(n)?;
        }
        if let Some(c) = change.company_id {
            caller.check_sees(c, "company", c)?;
            self.store.get_company(c).await?;
            t.company_id = c;
        }
        if let Some(a) = change.app_id {
            t.app_id = a;
        }
        let app = self.store.get_app(t.app_id).await?;
        let mut warnings = Vec::new();
        apply(&mut t, &change.settings, &app, &mut warnings)?;
        check_template_write(caller.scope, Some(&before), &t, &app)?;
        if what_it_runs_changed(&before, &t) {
            self.check_template(caller, &t, &app).await?;
        }
        if (&before.on_success, &before.on_failure) != (&t.on_success, &t.on_failure) {
            self.check_launch_targets(caller, &t).await?;
        }
        let changed = changes(&before, &t);
        if changed.is_empty() {
            return Ok(SavedTemplate {
                template: before,
                warnings,
            });
        }
        let t = self.store.update_runtemplate(&t).await?;
        self.audit(
            caller,
            None,
            Action::TemplateUpdate,
            format!(
                "run template {} \"{}\": {}",
                t.id,
                t.name,
                changed.join("; ")
            ),
        )
        .await;
        Ok(SavedTemplate {
            template: t,
            warnings,
        })
    }

    /// Deletes a run template (Conflict while it has unfinished jobs).
    pub async fn delete_template(&self, caller: &Caller, id: RunTemplateId) -> Result<RunTemplate> {
        let t = self.visible_template(caller, id).await?;
        self.store.delete_runtemplate(id).await?;
        self.audit(
            caller,
            None,
            Action::TemplateDelete,
            format!("run template {id} \"{}\"", t.name),
        )
        .await;
        Ok(t)
    }

    /// Sets when the scheduler fires a run template next (`None`: now). Refused for a template
    /// the scheduler never fires (interval `n`, inactive); Conflict when it was changed
    /// meanwhile.
    pub async fn schedule_template(
        &self,
        caller: &Caller,
        id: RunTemplateId,
        when: Option<DateTime<Utc>>,
    ) -> Result<RunTemplate> {
        let when = when.unwrap_or_else(|| self.clock.now());
        let t = self.visible_template(caller, id).await?;
        if t.interv == IntervalCode::Disabled {
            return Err(Error::invalid(
                "interv",
                format!(
                    "run template {id} has interval n (disabled), which the scheduler never \
                     fires; run it now as a job, or give it an interval or a cron expression"
                ),
            ));
        }
        if !t.active {
            return Err(Error::invalid(
                "active",
                format!(
                    "run template {id} is inactive, which the scheduler skips; activate it first"
                ),
            ));
        }
        if !self
            .store
            .set_next_schedule(id, t.next_schedule, Some(when))
            .await?
        {
            return Err(Error::conflict(format!(
                "run template {id} was changed by someone else meanwhile; try again"
            )));
        }
        self.audit(
            caller,
            None,
            Action::TemplateSchedule,
            format!(
                "run template {id}: next schedule {}",
                when.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            ),
        )
        .await;
        self.store.get_runtemplate(id).await
    }
}
