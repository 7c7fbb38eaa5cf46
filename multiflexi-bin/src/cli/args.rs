//! Argument pieces shared by the command groups: ids given as `<ID>` or `--id ID`, `KEY=VALUE`
//! pairs, instants. Values are parsed here rather than by clap so that a bad value gives one line
//! naming what is allowed.

use chrono::{DateTime, Utc};
use clap::Args;
use multiflexi_core::Error;
use std::str::FromStr;

/// An id given either as the positional `<ID>` or as `--id ID`.
#[derive(Debug, Clone, Args)]
pub struct IdArg {
    /// The id.
    #[arg(value_name = "ID", required_unless_present = "id")]
    pub pos: Option<String>,
    /// The id (same as the positional form).
    #[arg(long = "id", value_name = "ID", conflicts_with = "pos")]
    pub id: Option<String>,
}

impl IdArg {
    /// The id, parsed as `T` (`AppId`, `JobId`, …).
    pub fn get<T: FromStr<Err = Error>>(&self) -> anyhow::Result<T> {
        let raw = self.id.as_deref().or(self.pos.as_deref()).unwrap_or("");
        Ok(raw.parse::<T>()?)
    }
}

/// Parses one id.
pub fn id<T: FromStr<Err = Error>>(raw: &str) -> anyhow::Result<T> {
    Ok(raw.parse::<T>()?)
}

/// Parses `KEY=VALUE` items (the value may be empty and may hold `=`).
pub fn pairs(items: &[String], what: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(items.len());
    for item in items {
        let Some((k, v)) = item.split_once('=') else {
            return Err(Error::invalid(
                what,
                format!("{item:?} is not KEY=VALUE; give each value as NAME=value"),
            )
            .into());
        };
        let k = k.trim().to_string();
        multiflexi_core::model::Environment::check_variable(what, &k, v)?;
        out.retain(|(existing, _)| existing != &k);
        out.push((k, v.to_string()));
    }
    Ok(out)
}

/// Parses an RFC 3339 instant (`2026-10-25T02:30:00+02:00`, `2026-10-25T00:30:00Z`).
pub fn instant(raw: &str, what: &str) -> anyhow::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            Error::invalid(
                what,
                format!(
                    "{raw:?} is not an RFC 3339 instant ({e}); write it like 2026-10-25T02:30:00+02:00 or 2026-10-25T00:30:00Z"
                ),
            )
            .into()
        })
}

/// Parses a comma-separated list of exit codes (`""` is the empty list).
pub fn exit_codes(raw: &str) -> anyhow::Result<Vec<i32>> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i32>().map_err(|_| {
                Error::invalid(
                    "retry-on-exit-codes",
                    format!("{s:?} is not an exit code; give whole numbers separated by commas, like 2,75"),
                )
                .into()
            })
        })
        .collect()
}

/// Parses `true`/`false` (also `yes`/`no`, `1`/`0`, `on`/`off`).
pub fn boolean(raw: &str, what: &str) -> anyhow::Result<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Ok(true),
        "false" | "no" | "0" | "off" => Ok(false),
        _ => {
            Err(Error::invalid(what, format!("{raw:?} is not a boolean; use true or false")).into())
        }
    }
}

/// Parses upstream's app status: `enabled` / `active` (true), `disabled` / `inactive` (false),
/// or a boolean.
pub fn app_status(raw: &str) -> anyhow::Result<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "enabled" | "active" => Ok(true),
        "disabled" | "inactive" => Ok(false),
        other => boolean(other, "status").map_err(|_| {
            Error::invalid(
                "status",
                format!("{raw:?} is not a status; use enabled or disabled"),
            )
            .into()
        }),
    }
}

/// Who runs the command: the login name, else `cli`.
pub fn actor() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "cli".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_parse() {
        let p = pairs(
            &["A=1".into(), "B=x=y".into(), "A=2".into(), "C=".into()],
            "env",
        )
        .unwrap();
        assert_eq!(
            p,
            [
                ("B".to_string(), "x=y".to_string()),
                ("A".to_string(), "2".to_string()),
                ("C".to_string(), String::new())
            ]
        );
        let e = pairs(&["nope".into()], "env").unwrap_err().to_string();
        assert!(e.contains("not KEY=VALUE"), "{e}");
        let e = pairs(&["1A=x".into()], "env").unwrap_err().to_string();
        assert!(e.contains("not a variable name"), "{e}");
    }

    #[test]
    fn codes_and_instants() {
        assert_eq!(exit_codes("2, 75").unwrap(), [2, 75]);
        assert!(exit_codes("").unwrap().is_empty());
        assert!(exit_codes("x").is_err());
        assert!(instant("2026-10-25T02:30:00+02:00", "when").is_ok());
        assert!(instant("tomorrow", "when").is_err());
    }
}
