//! What a command hands back, and how it is printed: `--format text` (aligned tables, `key: value`
//! lines) or `--format json` (one JSON document on stdout; errors as `{"error": …}` on stderr).

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use clap::ValueEnum;
use serde_json::Value;
use std::io::Write;

/// Output format (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// Human-readable text.
    #[default]
    Text,
    /// One JSON document on stdout; errors as `{"error": …}` on stderr.
    Json,
}

/// What a command produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The text form (printed as is, a newline added when missing).
    pub text: String,
    /// The JSON form.
    pub json: Value,
    /// Printed verbatim in both formats instead of `text` / `json` (an export, raw bytes already
    /// written elsewhere: then empty).
    pub raw: Option<String>,
    /// When set, the command failed after reporting: this line goes to stderr and the exit code
    /// is non-zero.
    pub failure: Option<String>,
    /// The process's exit status when it is not the usual 0 (success) / 1 (failure): a wait for
    /// a job ends with the job's own ([`multiflexi_core::exit_status`]).
    pub exit: Option<u8>,
}

impl Report {
    /// A report with both forms.
    pub fn new(text: impl Into<String>, json: Value) -> Self {
        Self {
            text: text.into(),
            json,
            raw: None,
            failure: None,
            exit: None,
        }
    }

    /// Output that is the same in both formats (or nothing, for an empty string).
    pub fn raw(text: impl Into<String>) -> Self {
        Self {
            text: String::new(),
            json: Value::Null,
            raw: Some(text.into()),
            failure: None,
            exit: None,
        }
    }

    /// Marks the command failed (after its report is printed).
    pub fn failed(mut self, message: impl Into<String>) -> Self {
        self.failure = Some(message.into());
        self
    }

    /// Sets the process's exit status (printed failure or not).
    pub fn with_exit(mut self, status: u8) -> Self {
        self.exit = Some(status);
        self
    }

    /// Prints the report on stdout in `format`.
    pub fn print(&self, format: Format) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        if let Some(raw) = &self.raw {
            out.write_all(raw.as_bytes())?;
            return out.flush();
        }
        match format {
            Format::Text => {
                if !self.text.is_empty() {
                    out.write_all(self.text.as_bytes())?;
                    if !self.text.ends_with('\n') {
                        out.write_all(b"\n")?;
                    }
                }
            }
            Format::Json => {
                let text =
                    serde_json::to_string_pretty(&self.json).unwrap_or_else(|_| "null".to_string());
                writeln!(out, "{text}")?;
            }
        }
        out.flush()
    }
}

/// Prints one error line on stderr: `error: …` in text, `{"error": "…"}` in JSON.
pub fn print_error(format: Format, message: &str) {
    let line = one_line(message);
    match format {
        Format::Text => eprintln!("error: {line}"),
        Format::Json => eprintln!("{}", serde_json::json!({ "error": line })),
    }
}

/// Prints one warning line on stderr (text format only: JSON output keeps stderr for errors).
pub fn print_warning(format: Format, message: &str) {
    if format == Format::Text {
        eprintln!("warning: {}", one_line(message));
    }
}

/// The message with line breaks folded into spaces.
pub fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An aligned table: a header line, then one line per row.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            s.push_str(cell);
            if i + 1 < widths.len() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                s.extend(std::iter::repeat_n(' ', pad));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(&mut headers.iter().copied());
    out.push('\n');
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
        out.push('\n');
    }
    out
}

/// `key: value` lines, the values aligned.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.len() + 1).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in pairs {
        out.push_str(&format!("{:width$}  {v}\n", format!("{k}:")));
    }
    out
}

/// RFC 3339 with microseconds trimmed to what is there, in UTC.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// [`ts`] or `-`.
pub fn opt_ts(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "-".to_string(), ts)
}

/// RFC 3339 with the offset of `tz` (seconds precision): `2026-10-25T02:30:00+02:00`.
pub fn local_ts<Tz: TimeZone>(t: DateTime<Utc>, tz: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    t.with_timezone(tz)
        .to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// A value or `-`.
pub fn or_dash<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// A duration as `1h 2m 3.4s`.
pub fn human_duration(d: chrono::Duration) -> String {
    let total_ms = d.num_milliseconds();
    let negative = total_ms < 0;
    let ms = total_ms.unsigned_abs();
    let (h, m, s, frac) = (
        ms / 3_600_000,
        (ms / 60_000) % 60,
        (ms / 1000) % 60,
        ms % 1000,
    );
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if h > 0 {
        out.push_str(&format!("{h}h "));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m "));
    }
    if frac == 0 {
        out.push_str(&format!("{s}s"));
    } else {
        let digits = format!("{frac:03}");
        out.push_str(&format!("{s}.{}s", digits.trim_end_matches('0')));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align() {
        let t = table(
            &["ID", "NAME"],
            &[vec!["1".into(), "a".into()], vec!["10".into(), "bb".into()]],
        );
        assert_eq!(t, "ID  NAME\n1   a\n10  bb\n");
    }

    #[test]
    fn durations() {
        assert_eq!(human_duration(chrono::Duration::milliseconds(1500)), "1.5s");
        assert_eq!(human_duration(chrono::Duration::seconds(61)), "1m 1s");
        assert_eq!(human_duration(chrono::Duration::seconds(3600)), "1h 0m 0s");
        assert_eq!(human_duration(chrono::Duration::milliseconds(20)), "0.02s");
    }

    #[test]
    fn one_line_folds() {
        assert_eq!(one_line("a\n  b\tc"), "a b c");
    }
}
