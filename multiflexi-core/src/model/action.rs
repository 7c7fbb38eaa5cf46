//! Actions after completion: what a template asks for when one of its jobs succeeds
//! (`on_success`) or does not (`on_failure`), and the durable `job_action` row each becomes.

use crate::ids::{JobId, RunTemplateId};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The longest webhook timeout, in seconds.
pub const MAX_WEBHOOK_TIMEOUT_S: u32 = 300;
/// The longest `retry_later` delay, in seconds (one week).
pub const MAX_RETRY_LATER_S: u32 = 7 * 24 * 3600;
/// How many actions one list may hold.
pub const MAX_ACTIONS: usize = 16;

/// One action after completion, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Action {
    /// POST a JSON summary of the job to `url`.
    Webhook {
        /// `http://` or `https://` URL.
        url: String,
        /// Seconds to wait for the receiver (default 10, at most [`MAX_WEBHOOK_TIMEOUT_S`]).
        #[serde(default = "default_timeout")]
        timeout_s: u32,
        /// Key of the `X-MultiFlexi-Signature: sha256=<hex HMAC-SHA256 of the body>` header;
        /// a secret: encrypted at rest, redacted in every view.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret: Option<String>,
        /// Whether the summary carries the job's stdout.
        #[serde(default)]
        include_stdout: bool,
    },
    /// Create a job of another template (trigger `chained`).
    Launch {
        /// The template to launch.
        template_id: RunTemplateId,
    },
    /// Create a new attempt of this job after `after_s` seconds, whatever the retry policy says.
    RetryLater {
        /// Seconds after the action runs.
        after_s: u32,
    },
    /// Make the template inactive.
    Deactivate,
    /// Send one item to Zabbix through the daemon's Zabbix sender.
    Zabbix {
        /// The item key.
        key: String,
        /// The value; `{outcome}`, `{exitcode}`, `{job_id}` and `{runtemplate_id}` are
        /// substituted (default `{outcome}`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<String>,
    },
}

fn default_timeout() -> u32 {
    10
}

/// The `kind` names, in the order the docs list them.
pub const ACTION_KINDS: [&str; 5] = ["webhook", "launch", "retry_later", "deactivate", "zabbix"];

impl Action {
    /// Stable `kind` name.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Webhook { .. } => "webhook",
            Action::Launch { .. } => "launch",
            Action::RetryLater { .. } => "retry_later",
            Action::Deactivate => "deactivate",
            Action::Zabbix { .. } => "zabbix",
        }
    }

    /// Checks the settings; InvalidInput names `field` (e.g. `on_success[0].url`) and what is
    /// allowed.
    pub fn check(&self, field: &str) -> Result<()> {
        match self {
            Action::Webhook { url, timeout_s, .. } => {
                let ok = ["http://", "https://"]
                    .iter()
                    .any(|p| url.starts_with(p) && url.len() > p.len());
                if !ok || url.chars().any(char::is_whitespace) {
                    return Err(Error::invalid(
                        format!("{field}.url"),
                        format!("{url:?} is not allowed; give an http:// or https:// URL"),
                    ));
                }
                if *timeout_s == 0 || *timeout_s > MAX_WEBHOOK_TIMEOUT_S {
                    return Err(Error::invalid(
                        format!("{field}.timeout_s"),
                        format!("{timeout_s} is not allowed; allowed: 1..={MAX_WEBHOOK_TIMEOUT_S}"),
                    ));
                }
            }
            Action::Launch { template_id } if template_id.0 <= 0 => {
                return Err(Error::invalid(
                    format!("{field}.template_id"),
                    format!("{template_id} is not allowed; give a run template id"),
                ));
            }
            Action::RetryLater { after_s } if *after_s > MAX_RETRY_LATER_S => {
                return Err(Error::invalid(
                    format!("{field}.after_s"),
                    format!("{after_s} is not allowed; allowed: 0..={MAX_RETRY_LATER_S}"),
                ));
            }
            Action::Zabbix { key, .. } if key.trim().is_empty() => {
                return Err(Error::invalid(
                    format!("{field}.key"),
                    "an empty item key is not allowed",
                ));
            }
            _ => {}
        }
        Ok(())
    }

    /// This action with its secret replaced by `mask` (for every view: API, CLI, dashboard).
    pub fn redacted(&self, mask: &str) -> Action {
        match self {
            Action::Webhook {
                url,
                timeout_s,
                secret: Some(_),
                include_stdout,
            } => Action::Webhook {
                url: url.clone(),
                timeout_s: *timeout_s,
                secret: Some(mask.to_string()),
                include_stdout: *include_stdout,
            },
            other => other.clone(),
        }
    }
}

/// Parses a JSON array of actions (the CLI's and the API's form) and checks each;
/// InvalidInput names `field[index]` and what is allowed.
pub fn parse_actions(field: &str, json: &str) -> Result<Vec<Action>> {
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| {
        Error::invalid(
            field,
            format!("not JSON ({e}); give an array like [{{\"kind\":\"deactivate\"}}]"),
        )
    })?;
    actions_from_value(field, value)
}

/// [`parse_actions`] for a JSON value already parsed.
pub fn actions_from_value(field: &str, value: serde_json::Value) -> Result<Vec<Action>> {
    let serde_json::Value::Array(items) = value else {
        return Err(Error::invalid(
            field,
            "not a JSON array; give an array of actions, each with a \"kind\"",
        ));
    };
    let actions = items
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            serde_json::from_value::<Action>(v).map_err(|e| {
                Error::invalid(
                    format!("{field}[{i}]"),
                    format!("{e}; allowed kinds: {}", ACTION_KINDS.join(", ")),
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    check_actions(field, &actions)?;
    Ok(actions)
}

/// Checks a list of actions (length and each action's settings).
pub fn check_actions(field: &str, actions: &[Action]) -> Result<()> {
    if actions.len() > MAX_ACTIONS {
        return Err(Error::invalid(
            field,
            format!(
                "{} actions are not allowed; at most {MAX_ACTIONS}",
                actions.len()
            ),
        ));
    }
    for (i, a) in actions.iter().enumerate() {
        a.check(&format!("{field}[{i}]"))?;
    }
    Ok(())
}

/// Where a `job_action` row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionState {
    /// Waiting to be carried out (or leased to a runner right now).
    Pending,
    /// Carried out.
    Done,
    /// Gave up after its last attempt.
    Failed,
}

impl ActionState {
    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionState::Pending => "pending",
            ActionState::Done => "done",
            ActionState::Failed => "failed",
        }
    }

    /// Parses [`ActionState::as_str`].
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "pending" => Ok(ActionState::Pending),
            "done" => Ok(ActionState::Done),
            "failed" => Ok(ActionState::Failed),
            _ => Err(Error::invalid(
                "state",
                format!("{s:?} is not allowed; allowed: pending, done, failed"),
            )),
        }
    }
}

impl fmt::Display for ActionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One action of one job, as stored (`job_action`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JobAction {
    /// Row id.
    pub id: i64,
    /// The job it follows.
    pub job_id: JobId,
    /// Its position in the template's list.
    pub idx: u32,
    /// What to do.
    pub action: Action,
    /// pending / done / failed.
    pub state: ActionState,
    /// Attempts so far (each claim counts one).
    pub attempts: u32,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// Not claimable before this instant.
    pub next_attempt_at: DateTime<Utc>,
    /// Who holds the lease.
    pub lease_owner: Option<String>,
    /// Fencing token, +1 on every claim.
    pub lease_token: i64,
    /// The lease ends here.
    pub lease_expires: Option<DateTime<Utc>>,
    /// When it was written (the job's completion).
    pub created: DateTime<Utc>,
    /// When it reached done or failed.
    pub finished: Option<DateTime<Utc>>,
}

impl JobAction {
    /// A pending row of `action` at position `idx` of `job`'s list, due at `now`.
    pub fn planned(job_id: JobId, idx: u32, action: Action, now: DateTime<Utc>) -> Self {
        Self {
            id: 0,
            job_id,
            idx,
            action,
            state: ActionState::Pending,
            attempts: 0,
            last_error: None,
            next_attempt_at: now,
            lease_owner: None,
            lease_token: 0,
            lease_expires: None,
            created: now,
            finished: None,
        }
    }

    /// The stable delivery id of this job and action (`X-MultiFlexi-Delivery`, the idempotency
    /// key of what it creates): the same on every attempt and every executor.
    pub fn delivery_id(&self) -> String {
        delivery_id(self.job_id, self.idx)
    }
}

/// The stable delivery id of action `idx` of job `job_id`.
pub fn delivery_id(job_id: JobId, idx: u32) -> String {
    format!("job-{}-action-{idx}", job_id.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_and_names_bad_fields() {
        let a = parse_actions(
            "on_failure",
            r#"[{"kind":"webhook","url":"http://x/h","secret":"s"},{"kind":"launch","template_id":3},
                {"kind":"retry_later","after_s":60},{"kind":"deactivate"},{"kind":"zabbix","key":"k"}]"#,
        )
        .unwrap();
        assert_eq!(
            a.iter().map(Action::kind).collect::<Vec<_>>(),
            ACTION_KINDS.to_vec()
        );
        let e = parse_actions(
            "on_failure",
            r#"[{"kind":"deactivate"},{"kind":"webhook","url":"ftp://x"}]"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("on_failure[1].url"), "{e}");
        let e = parse_actions("on_success", r#"[{"kind":"nope"}]"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("on_success[0]") && e.contains("allowed kinds"),
            "{e}"
        );
        let e = parse_actions("on_success", "{}").unwrap_err().to_string();
        assert!(e.contains("not a JSON array"), "{e}");
    }

    #[test]
    fn redacts_the_secret() {
        let a = parse_actions(
            "x",
            r#"[{"kind":"webhook","url":"http://x/h","secret":"s3"}]"#,
        )
        .unwrap();
        let shown = serde_json::to_string(&a[0].redacted("********")).unwrap();
        assert!(
            !shown.contains("s3") && shown.contains("********"),
            "{shown}"
        );
    }
}
